import Foundation
import NIOSSL

extension PipelineDecoder {
    /// Resolves a provider's `ca_file`: `~` expanded, a relative path taken from the pipeline
    /// file's folder. Unlike prompt files it may lie outside the project (a system or a
    /// user's certificate bundle). The file must hold at least one PEM certificate, read here
    /// with NIOSSL, the TLS stack that will use it, so a wrong file fails at its line rather
    /// than at the first handshake.
    mutating func resolveCertificateFile(_ written: String, at location: SourceLocation) -> String? {
        let resolved = pathFromPipeline((written as NSString).expandingTildeInPath)
        guard
            requireFile(
                resolved, written: written, what: "'ca_file'", shown: resolved,
                directoryAdvice: "; give a PEM file of certificates", at: location)
        else { return nil }
        let certificates = try? NIOSSLCertificate.fromPEMFile(resolved)
        guard let certificates, !certificates.isEmpty else {
            error(
                "'ca_file' '\(written)' holds no PEM certificate (a file of '-----BEGIN CERTIFICATE-----' blocks)",
                at: location)
            return nil
        }
        return resolved
    }
}
