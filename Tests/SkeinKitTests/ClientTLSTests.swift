import AsyncHTTPClient
import Foundation
import SkeinTesting
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// HTTPS with a certificate from a private authority (the test server's self-signed one),
/// trusted through a provider's `ca_file`; HTTP/2 multiplexing over it; and the errors when
/// the certificate is not trusted.
@Suite struct ClientTLSTests {
    /// A TLS test server, and its certificate written to a pipeline's folder.
    static func withTLSServer(
        latency: SkeinTestServer.Latency = .none,
        _ body: (SkeinTestServer, _ folder: URL) async throws -> Void
    ) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skein-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tls = try TestServerTLS.selfSigned(certificateFile: folder.appendingPathComponent("ca.pem").path)
        try await SkeinTestServer.withRunning(.init(latency: latency, tls: tls)) { server in
            try await body(server, folder)
        }
    }

    /// The provider a pipeline in `folder` declares with `ca_file: ca.pem` (read by the
    /// loader, so the relative path is resolved as a user's would be).
    static func pipelineProvider(_ server: SkeinTestServer, folder: URL) throws -> ProviderConfiguration {
        let text = """
            version: 1
            providers:
              private:
                base_url: \(server.baseURL)
                api_key_env: null
                ca_file: ca.pem
            steps:
              a:
                provider: private
                prompt: hello
            """
        let path = folder.appendingPathComponent("pipeline.yaml").path
        let loader = PipelineLoader(configuration: .init(workingDirectory: folder.path))
        let result = loader.load(text: text, path: path)
        #expect(result.diagnostics == [])
        let provider = try #require(result.pipeline?.providers["private"]?.value)
        #expect(provider.caFile == folder.appendingPathComponent("ca.pem").standardizedFileURL.path)
        return provider
    }

    /// 150 requests at once reach the server together, as HTTP/2 streams over one connection
    /// per pool: the server allows 100 streams per connection, so the client's pools of at
    /// most 100 (`shardSize`) are what keeps the 150 from queueing behind 100. (With one
    /// pool the peak is exactly 100.) The server holds each for 3 s, so that all are in
    /// flight together even when the whole suite loads the machine.
    @Test func requestsAreMultiplexedOverHTTP2WithinTheServersStreamLimit() async throws {
        try await Self.withTLSServer(latency: .fixed(.seconds(3))) { server, folder in
            let provider = try Self.pipelineProvider(server, folder: folder)
            try await HTTPCompletionClient.withClient(configuration: .init(connectionsPerHost: 150), environment: [:]) { client in
                #expect(client.poolCount == 2)
                let contents = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<150 {
                        group.addTask { try await client.complete(clientChat("tls \(index)"), provider: provider).content }
                    }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                #expect(contents == Set((0..<150).map { "echo: tls \($0)" }))
            }
            #expect(server.http2Requests == 150)
            #expect(server.connectionsUsed <= 2, "\(server.connectionsUsed) connections for 150 requests")
            let peak = await server.maxConcurrentRequests
            #expect(peak > 100, "peak \(peak) at once over \(server.connectionsUsed) connections")
        }
    }

    /// Without the `ca_file`, the handshake rejects the certificate: one attempt (another
    /// would meet the same certificate), a code of its own, and a hint that names `ca_file`.
    /// The loader only sees that the file has a PEM block (it has no TLS stack); a block that
    /// is not a certificate is refused by SkeinKit before any request, naming the file.
    @Test func aCAFileWhoseBlockIsNotACertificateFailsBeforeAnyRequest() async throws {
        try await Self.withTLSServer { server, folder in
            try "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
                .write(to: folder.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
            let provider = try Self.pipelineProvider(server, folder: folder)
            try await HTTPCompletionClient.withClient(environment: [:]) { client in
                do {
                    _ = try await client.complete(.chat(model: "m", messages: [.user("hi")]), provider: provider)
                    Issue.record("a request went out with an unreadable ca_file")
                } catch let error as ProviderError {
                    #expect(error.code == "TLS_CA_FILE_INVALID")
                    #expect(error.message.contains("ca.pem"))
                }
            }
            #expect(await server.requests.isEmpty)
        }
    }

    @Test func anUntrustedCertificateFailsAtOnceAndNamesTheFix() async throws {
        try await Self.withTLSServer { server, folder in
            var provider = try Self.pipelineProvider(server, folder: folder)
            provider.caFile = nil
            try await HTTPCompletionClient.withClient(environment: [:]) { client in
                let error = try await expectProviderError(client, clientChat("hello"), provider: provider)
                #expect(error.code == "TLS_CERTIFICATE_REJECTED")
                #expect(!error.isRetryable)
                #expect(error.message.contains("CERTIFICATE_VERIFY_FAILED"))
                #expect(!error.message.contains(".swift") && !error.message.contains(".cc:"))
                #expect(error.hint?.contains("ca_file") == true)
            }
            #expect(await server.requests.isEmpty)
        }
    }

    /// An https base URL pointed at a plain-HTTP server: the handshake fails, and the hint
    /// says to use http://.
    @Test func httpsToAPlainServerSaysSo() async throws {
        try await SkeinTestServer.withRunning { server in
            let provider = ProviderConfiguration(
                name: "plain", baseURL: server.baseURL.replacingOccurrences(of: "http://", with: "https://"))
            try await HTTPCompletionClient.withClient(environment: [:]) { client in
                let error = try await expectProviderError(client, clientChat("hello"), provider: provider)
                #expect(error.code == "TLS_HANDSHAKE_FAILED")
                #expect(error.hint?.contains("http://") == true)
            }
        }
    }
}
