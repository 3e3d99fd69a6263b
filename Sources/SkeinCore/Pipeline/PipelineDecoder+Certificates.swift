import Foundation

extension PipelineDecoder {
    /// Resolves a provider's `ca_file`: `~` expanded, a relative path taken from the pipeline
    /// file's folder. Unlike prompt files it may lie outside the project (a system or a
    /// user's certificate bundle).
    ///
    /// The loader is pure (no TLS stack), so it checks only what text can tell: the file
    /// exists and holds a PEM certificate block, so a wrong file fails at its line rather than
    /// at the first handshake. SkeinKit parses the certificates with the TLS stack that will
    /// use them when it builds the provider (`TrustedCertificates.validate(caFile:)`).
    mutating func resolveCertificateFile(_ written: String, at location: SourceLocation) -> String? {
        let resolved = pathFromPipeline((written as NSString).expandingTildeInPath)
        guard
            requireFile(
                resolved, written: written, what: "'ca_file'", shown: resolved,
                directoryAdvice: "; give a PEM file of certificates", at: location)
        else { return nil }
        guard let contents = FileManager.default.contents(atPath: resolved),
            Self.holdsPEMCertificate(contents)
        else {
            error(
                "'ca_file' '\(written)' holds no PEM certificate (a file of '-----BEGIN CERTIFICATE-----' blocks)",
                at: location)
            return nil
        }
        return resolved
    }

    /// Whether the bytes hold a `BEGIN CERTIFICATE` block with an `END CERTIFICATE` after it.
    static func holdsPEMCertificate(_ contents: Data) -> Bool {
        let begin = Data("-----BEGIN CERTIFICATE-----".utf8)
        let end = Data("-----END CERTIFICATE-----".utf8)
        guard let start = contents.range(of: begin) else { return false }
        return contents.range(of: end, in: start.upperBound..<contents.endIndex) != nil
    }
}
