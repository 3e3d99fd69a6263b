import Logging
import SkeinTesting
import Testing

@testable import SkeinCore
@testable import SkeinKit

/// API keys never appear in errors, events or logs, whatever goes wrong.
@Suite struct ClientSecretTests {
    static let key = "sk-skein-FAKE-KEY-0123456789abcdef"

    @Test func keyAppearsInNoErrorAndNoLogLine() async throws {
        let store = ClientCapturingLogHandler.Store()
        var logger = Logger(label: "skein.test") { _ in ClientCapturingLogHandler(store: store) }
        logger.logLevel = .trace
        let events = ClientEventLog()
        var texts: [String] = []
        let environment = ["TEST_API_KEY": Self.key, "OTHER_KEY": Self.key + "-wrong"]
        try await withClientAndServer(.init(requiredAPIKey: Self.key), environment: environment, logger: logger) {
            server, client in
            var provider = clientTestProvider(server, keyVariable: "TEST_API_KEY")
            // The 429 rule answers every attempt: a short patience ends its retries.
            provider.rateLimitPatience = .milliseconds(20)
            let echo = "Incorrect API key provided: \(Self.key)"
            let rules: [(ReplyRule.Action, Bool)] = [
                (.status(401, message: echo, code: "INVALID_API_KEY"), false),
                (.status(403, message: echo, code: "NOT_ENOUGH_BALANCE", shape: .flat), false),
                (.status(400, message: echo), false),
                (.status(404, message: echo), false),
                (.rateLimited(retryAfter: .milliseconds(1)), false),
                (.status(500, message: echo), false),
                (.raw(status: 502, body: echo), false),
                (.dropConnection(afterChunks: 0), false),
                (.malformedBody, false),
                (.hang(.seconds(5)), false),
                (.streamError(afterChunks: 1, error: ErrorBody(message: echo), style: .errorEvent), true),
                (.streamError(afterChunks: 1, error: ErrorBody(message: echo, type: "invalid_request_error")), true),
                (.dropConnection(afterChunks: 2), true),
                (.malformedSSE, true),
            ]
            for (action, stream) in rules {
                await server.setRules([ReplyRule(action: action)])
                do {
                    _ = try await client.complete(
                        clientChat("hi", stream: stream), provider: provider, retryPolicy: RetryPolicy(maxRetries: 1),
                        // 2 s, not 0.2: with the local model's tests running beside this suite,
                        // replies that carry the echoed key (whose redaction is checked below)
                        // took longer than 0.2 s and ended as timeouts instead.
                        timeout: .seconds(2), events: events.handler)
                    Issue.record("no error for \(action)")
                } catch {
                    texts.append("\(error)")
                    texts.append(String(reflecting: error))
                    if let error = error as? ProviderError { texts.append("\(error.message) \(error.hint ?? "")") }
                }
            }
            // A wrong key from another variable, and a server that is not there.
            await server.removeAllRules()
            let wrong = clientTestProvider(server, keyVariable: "OTHER_KEY")
            let nowhere = ProviderConfiguration(
                name: "nowhere", baseURL: "http://127.0.0.1:9/v1", apiKeyEnvironmentVariable: "TEST_API_KEY")
            for attempt in [wrong, nowhere] {
                do {
                    _ = try await client.complete(clientChat("hi"), provider: attempt, retryPolicy: .never, timeout: nil, events: nil)
                    Issue.record("no error for \(attempt.name)")
                } catch {
                    texts.append("\(error)")
                }
            }
            do {
                _ = try await client.listModels(provider: nowhere)
                Issue.record("no error listing models")
            } catch {
                texts.append("\(error)")
            }
            // The key did reach the server, so the checks above are not vacuous.
            #expect(await server.requests.contains { $0.headers["authorization"] == "Bearer \(Self.key)" })
        }
        for event in events.events { texts.append("\(event)") }
        let logLines = store.text
        #expect(texts.count > 30)
        #expect(logLines.contains { $0.contains("retrying") })
        #expect(texts.contains { $0.contains("[redacted]") })
        for text in texts + logLines {
            #expect(!text.contains(Self.key), "leaked: \(text)")
            #expect(!text.contains("0123456789abcdef"), "leaked: \(text)")
        }
    }
}
