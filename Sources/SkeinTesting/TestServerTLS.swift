import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The certificate and key a test server serves HTTPS with: a self-signed certificate made
/// at start-up for `127.0.0.1`, `::1` and `localhost`, which a client trusts by reading
/// ``certificatePEM`` (for Skein, a provider's `ca_file`).
///
/// With TLS the server offers HTTP/2 and HTTP/1.1 by ALPN (Hummingbird's
/// `http2Upgrade`), as the hosted APIs do, so a client can multiplex many requests over one
/// connection; each connection allows 100 concurrent streams, NIO's default and the least
/// RFC 9113 (§6.5.2) recommends.
///
/// Made with swift-certificates rather than a committed key pair, so that no private key is
/// in the repository and every server has its own.
public struct TestServerTLS: Sendable {
    /// The certificate, PEM-encoded: what a client adds to its trust roots.
    public let certificatePEM: String
    /// The private key, PEM-encoded.
    public let privateKeyPEM: String

    public init(certificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// A new P-256 key and a certificate for it, valid from an hour ago for 30 days, that is
    /// its own certificate authority.
    public static func selfSigned(commonName: String = "Skein test server") throws -> TestServerTLS {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(30 * 86_400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                KeyUsage(digitalSignature: true, keyCertSign: true)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([
                    .dnsName("localhost"),
                    .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                    .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
                ])
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return TestServerTLS(
            certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// A new self-signed certificate (``selfSigned(commonName:)``), its PEM written to `path`
    /// for a client to trust: what `skein-test-server --tls-certificate-out` does.
    public static func selfSigned(certificateFile path: String) throws -> TestServerTLS {
        let tls = try selfSigned()
        try tls.certificatePEM.write(toFile: path, atomically: true, encoding: .utf8)
        return tls
    }

    /// The server side of the handshake: this certificate and key. Hummingbird's
    /// `http2Upgrade` sets the ALPN protocols (`h2`, `http/1.1`).
    func serverConfiguration() throws -> TLSConfiguration {
        let certificate = try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)
        let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        return TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
    }
}
