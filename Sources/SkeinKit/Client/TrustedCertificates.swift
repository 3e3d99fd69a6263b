import NIOSSL
import Synchronization

/// The TLS configurations of providers with a `ca_file`: the system's roots plus the
/// file's certificates, made once per file.
///
/// A request carries its provider's configuration (`HTTPClientRequest.tlsConfiguration`), so
/// the extra trust reaches that provider's connections only; AsyncHTTPClient keeps separate
/// pools per configuration and caches the TLS context it builds from one. ALPN is left to
/// AsyncHTTPClient, which offers `h2` and `http/1.1`. Public for `skein-bench floor --ca-file`,
/// which trusts a test server's certificate the same way.
public enum TrustedCertificates {
    private static let configurations = Mutex<[String: TLSConfiguration]>([:])

    private static let checked = Mutex<Set<String>>([])

    /// Parses the file's certificates with NIOSSL, the TLS stack that will use them, once per
    /// file. The loader (pure, in SkeinCore) only checked that the file holds a PEM block;
    /// a block that is not a certificate fails here, before any request, rather than as a
    /// handshake error.
    /// - Throws: `ProviderError` (`TLS_CA_FILE_INVALID`) naming the file.
    static func check(caFile: String, provider: String) throws(ProviderError) {
        if checked.withLock({ $0.contains(caFile) }) { return }
        let certificates = try? NIOSSLCertificate.fromPEMFile(caFile)
        guard let certificates, !certificates.isEmpty else {
            throw ProviderError(
                kind: .connectionFailed, provider: provider, code: "TLS_CA_FILE_INVALID",
                message: "the ca_file '\(caFile)' holds no certificate the TLS stack can read",
                hint: "Give the provider's ca_file a PEM file of certificates ('-----BEGIN CERTIFICATE-----' blocks).",
                isRetryable: false)
        }
        _ = checked.withLock { $0.insert(caFile) }
    }

    public static func configuration(caFile: String) -> TLSConfiguration {
        configurations.withLock { cache in
            if let known = cache[caFile] { return known }
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.additionalTrustRoots = [.file(caFile)]
            cache[caFile] = configuration
            return configuration
        }
    }
}
