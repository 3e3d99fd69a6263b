import Foundation
import SkeinKit
import Synchronization

/// A `CompletionClient` that answers from a script instead of a network: each request goes
/// to the first rule that matches it, and every request is recorded.
///
/// The fake at the engine's I/O boundary, in the manner of ninja's `FakeCommandRunner`: the
/// scheduler, the step runner, the dry run and the dataset runner are tested with it without
/// HTTP, and so can a Swift user's own code that runs pipelines through SkeinKit.
///
/// ```swift
/// let client = ScriptedCompletionClient(rules: [
///     .init(.promptContains("translate"), reply: .text("Bonjour")),
///     .init(.model("broken"), reply: .failure(ProviderError(
///         kind: .modelNotFound, provider: "novita", status: 404, message: "no such model", isRetryable: false))),
/// ], fallback: .echo)
/// let scheduler = Scheduler(graph: graph, client: client, store: nil, options: options)
/// ```
///
/// What the HTTP client does around a request — retries, rate limits, timeouts — is not
/// simulated: a `.failure` is the failure after the retries, as the step runner sees it.
public final class ScriptedCompletionClient: CompletionClient {
    /// What a rule matches.
    public struct Match: Sendable {
        let test: @Sendable (CompletionRequest, ProviderConfiguration) -> Bool

        public init(_ test: @escaping @Sendable (CompletionRequest, ProviderConfiguration) -> Bool) { self.test = test }

        /// Every request.
        public static var any: Match { Match { _, _ in true } }
        /// Requests whose prompt (every message's text, or the legacy prompt) contains `text`.
        public static func promptContains(_ text: String) -> Match {
            Match { request, _ in ScriptedCompletionClient.promptText(of: request).contains(text) }
        }
        /// Requests for this model.
        public static func model(_ name: String) -> Match { Match { request, _ in request.model == name } }
        /// Requests to this provider.
        public static func provider(_ name: String) -> Match { Match { _, provider in provider.name == name } }
    }

    /// How a rule answers.
    public enum Reply: Sendable {
        /// A reply with this text, `finish_reason: stop` and usage counted in words.
        case text(String)
        /// This completion, as it is.
        case completion(Completion)
        /// The prompt text back, prefixed with "echo: ".
        case echo
        /// The request fails for good with this error.
        case failure(ProviderError)
        /// The reply after a pause (for tests of concurrency and ordering).
        indirect case delayed(Duration, Reply)
        /// A reply made from the request.
        case computed(@Sendable (CompletionRequest) throws -> Completion)
    }

    /// A rule: the first one whose match accepts a request answers it.
    public struct Rule: Sendable {
        public var match: Match
        public var reply: Reply

        public init(_ match: Match, reply: Reply) {
            self.match = match
            self.reply = reply
        }
    }

    /// A request the client was asked to complete.
    public struct RecordedRequest: Sendable {
        public var request: CompletionRequest
        public var provider: ProviderConfiguration
        /// The prompt text: every message's text, or the legacy prompt.
        public var prompt: String { ScriptedCompletionClient.promptText(of: request) }
    }

    private let rules: [Rule]
    private let fallback: Reply
    private let state = Mutex(State())
    private let models: [ModelInfo]

    private struct State {
        var requests: [RecordedRequest] = []
        var inFlight = 0
        var mostInFlight = 0
    }

    /// - Parameters:
    ///   - rules: tried in order for each request.
    ///   - fallback: the reply when no rule matches.
    ///   - models: what `listModels` returns.
    public init(rules: [Rule] = [], fallback: Reply = .echo, models: [ModelInfo] = []) {
        self.rules = rules
        self.fallback = fallback
        self.models = models
    }

    /// Every request so far, in the order they arrived.
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// The most requests that were in flight at once.
    public var mostInFlight: Int { state.withLock { $0.mostInFlight } }

    public func complete(
        _ request: CompletionRequest, provider: ProviderConfiguration, retryPolicy: RetryPolicy?, timeout: Duration?,
        events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        state.withLock { state in
            state.requests.append(RecordedRequest(request: request, provider: provider))
            state.inFlight += 1
            state.mostInFlight = max(state.mostInFlight, state.inFlight)
        }
        defer { state.withLock { $0.inFlight -= 1 } }
        let reply = rules.first { $0.match.test(request, provider) }?.reply ?? fallback
        let completion = try await answer(reply, to: request)
        if request.isStreaming {
            if let reasoning = completion.reasoningContent { events?(.reasoningDelta(reasoning)) }
            if !completion.content.isEmpty { events?(.contentDelta(completion.content)) }
        }
        return completion
    }

    public func listModels(provider: ProviderConfiguration) async throws -> [ModelInfo] { models }

    private func answer(_ reply: Reply, to request: CompletionRequest) async throws -> Completion {
        switch reply {
        case .text(let text):
            return Self.completion(text, for: request)
        case .completion(let completion):
            return completion
        case .echo:
            return Self.completion("echo: " + Self.promptText(of: request), for: request)
        case .failure(let error):
            throw error
        case .delayed(let delay, let then):
            try await Task.sleep(for: delay)
            return try await answer(then, to: request)
        case .computed(let make):
            return try make(request)
        }
    }

    static func completion(_ text: String, for request: CompletionRequest) -> Completion {
        let prompt = promptText(of: request).split(whereSeparator: \.isWhitespace).count
        let reply = text.split(whereSeparator: \.isWhitespace).count
        return Completion(
            content: text, finishReason: "stop", model: request.model,
            usage: Completion.Usage(promptTokens: prompt, completionTokens: reply))
    }

    /// Every message's text (parts' text included), one per line, or the legacy prompt.
    public static func promptText(of request: CompletionRequest) -> String {
        if let prompt = request.body["prompt"]?.stringValue { return prompt }
        var lines: [String] = []
        if let system = request.body["system"]?.stringValue { lines.append(system) }
        for message in request.body["messages"]?.arrayValue ?? [] {
            switch message["content"] {
            case .string(let text)?: lines.append(text)
            case .array(let parts)?: lines += parts.compactMap { $0["text"]?.stringValue }
            default: break
            }
        }
        return lines.joined(separator: "\n")
    }
}
