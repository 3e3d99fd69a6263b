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
