import Foundation
import Logging
import SkeinTesting
import Testing

@testable import SkeinCore
@testable import SkeinKit

/// A clock that never waits: `sleep` records the duration and moves `now` on by it, so
/// retry and throttle waits take no time and can be asserted.
final class ClientRecordingClock: Sendable {
    // Guarded by `lock`: `ClientClock.now` is synchronous, so an actor would not do.
    private let lock = NSLock()
    nonisolated(unsafe) private var offset: Duration = .zero
    nonisolated(unsafe) private var recorded: [Duration] = []

    var sleeps: [Duration] { lock.withLock { recorded } }

    var clock: ClientClock {
        ClientClock(
            now: { self.lock.withLock { self.offset } },
            sleep: { duration in
                try Task.checkCancellation()
                self.lock.withLock {
                    self.recorded.append(duration)
                    self.offset += duration
                }
            })
    }
}

/// Collects the events a request reports.
final class ClientEventLog: Sendable {
    private let lock = NSLock()
    nonisolated(unsafe) private var recorded: [ClientEvent] = []

    var events: [ClientEvent] { lock.withLock { recorded } }
    var handler: @Sendable (ClientEvent) -> Void { { event in self.lock.withLock { self.recorded.append(event) } } }

    /// The text streamed by the last attempt (what a `--stream` display ends up showing).
    var contentOfLastAttempt: String {
        var text = ""
        for event in events {
            switch event {
            case .attemptStarted: text = ""
            case .contentDelta(let delta): text += delta
            default: break
            }
        }
        return text
    }

    var retryDelays: [Duration] {
        events.compactMap { if case .retrying(_, let delay, _) = $0 { return delay } else { return nil } }
    }
}

/// A log handler that keeps every message and its metadata as text, for checking what the
/// client logs (and that keys are not in it).
struct ClientCapturingLogHandler: LogHandler {
    final class Store: Sendable {
        private let lock = NSLock()
        nonisolated(unsafe) private var lines: [String] = []
        func append(_ line: String) { lock.withLock { lines.append(line) } }
        var text: [String] { lock.withLock { lines } }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        store.append("\(event.level) \(event.message) \(merged)")
    }
}

/// The test server as a provider named `test`.
func clientTestProvider(
    _ server: SkeinTestServer, name: String = "test", keyVariable: String? = nil, requestsPerMinute: Int? = nil,
    maxConcurrency: Int? = nil
) -> ProviderConfiguration {
    ProviderConfiguration(
        name: name, baseURL: server.baseURL, apiKeyEnvironmentVariable: keyVariable, maxConcurrency: maxConcurrency,
        requestsPerMinute: requestsPerMinute)
}

/// Runs `body` with a test server and a client whose waits are recorded, not slept.
func withClientAndServer<Result>(
    _ configuration: SkeinTestServer.Configuration = .init(), environment: [String: String] = [:],
    clock: ClientRecordingClock = ClientRecordingClock(), logger: Logger? = nil,
    _ body: (SkeinTestServer, HTTPCompletionClient) async throws -> Result
) async throws -> Result {
    try await SkeinTestServer.withRunning(configuration) { server in
        let client = HTTPCompletionClient(
            configuration: .init(connectionsPerHost: 16), environment: environment, logger: logger,
            clock: clock.clock, random: { 0 })
        do {
            let result = try await body(server, client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

/// A one-message chat request to the test server's model.
func clientChat(_ text: String, stream: Bool = false, maxTokens: Int? = nil) -> CompletionRequest {
    CompletionRequest.chat(
        model: "test-model", messages: [.user(text)], sampling: SamplingParameters(maxTokens: maxTokens), stream: stream)
}

/// Sends `request` and returns the provider error it fails with.
func expectProviderError(
    _ client: HTTPCompletionClient, _ request: CompletionRequest, provider: ProviderConfiguration,
    retryPolicy: RetryPolicy? = nil, timeout: Duration? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation
) async throws -> ProviderError {
    do {
        let completion = try await client.complete(
            request, provider: provider, retryPolicy: retryPolicy, timeout: timeout, events: nil)
        Issue.record("expected an error, got \(completion)", sourceLocation: sourceLocation)
        throw CancellationError()
    } catch let error as ProviderError {
        return error
    }
}
