import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// A pipeline whose provider serves HTTPS with a private certificate authority, through the
/// real `skein` binary: trusted through `ca_file`, streamed and not, over HTTP/2; refused with
/// a located hint without it.
///
/// Serialized for the same reason as `CLITests`.
@Suite(.serialized) struct TLSCLITests {
    static func writePipeline(server: SkeinTestServer, caFile: String?, in directory: URL) throws -> String {
        let text = """
            version: 1
            defaults:
              provider: private
              model: test-model
            providers:
              private:
                base_url: \(server.baseURL)
                api_key_env: null
            \(caFile.map { "    ca_file: \($0)" } ?? "")
            inputs:
              items: {type: array, items: {type: string}, default: [a, b, c]}
            steps:
              each:
                for_each: "{{ inputs.items }}"
                as: item
                prompt: "say {{ item }}"
            outputs:
              all: "{{ steps.each.output | join(',') }}"
            """
        let path = directory.appendingPathComponent("p.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aPrivateAuthorityIsTrustedThroughCAFile() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("certs"), withIntermediateDirectories: true)
        let tls = try TestServerTLS.selfSigned(certificateFile: directory.appendingPathComponent("certs/ca.pem").path)
        try await SkeinTestServer.withRunning(.init(tls: tls)) { server in
            let path = try Self.writePipeline(server: server, caFile: "certs/ca.pem", in: directory)
            for arguments in [[], ["--stream", "each", "--no-cache"]] {
                let result = try await CLI.run(["run", path, "--output", "json"] + arguments, in: directory)
                #expect(result.status == 0, "\(result.stderr)")
                let json = try JSONValue(parsing: result.stdout)
                #expect(json["outputs"]?["all"] == "echo: say a,echo: say b,echo: say c")
            }
            #expect(server.http2Requests == 6)
        }
    }

    @Test func withoutCAFileTheRunFailsAtTheStepWithTheFix() async throws {
        try await SkeinTestServer.withRunning(.init(tls: try TestServerTLS.selfSigned())) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try Self.writePipeline(server: server, caFile: nil, in: directory)
            let result = try await CLI.run(["run", path], in: directory)
            #expect(result.status != 0)
            #expect(result.stderr.contains("p.yaml:"), "\(result.stderr)")
            #expect(result.stderr.contains("TLS certificate is not trusted"), "\(result.stderr)")
            #expect(result.stderr.contains("ca_file"), "\(result.stderr)")
            #expect(await server.requests.isEmpty)
        }
    }
}
