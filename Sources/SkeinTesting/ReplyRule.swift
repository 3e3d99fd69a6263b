/// A scripted answer: when a request matches, the server performs the rule's action instead
/// of its default reply.
///
/// Rules are tried in the order they were added; the first one that matches and has firings
/// left wins. A rule limited with `times` falls through to later rules (or the default reply)
/// once used up, which is how a test scripts "fail twice, then succeed":
///
/// ```swift
/// await server.addRule(ReplyRule("flaky", times: 2, action: .status(503, message: "overloaded")))
/// ```
public struct ReplyRule: Sendable {
    /// A name for recordings (``RecordedRequest/Handling/rule(_:)``) and messages.
    public var name: String
    /// Which requests the rule applies to.
    public var match: Match
    /// How many times the rule fires before it falls through; `nil` means always.
    public var times: Int?
    /// Extra time to wait before acting, on top of the configured latency.
    public var delay: Duration
    /// What the server does.
    public var action: Action

    public init(
        _ name: String = "",
        match: Match = .init(),
        times: Int? = nil,
        delay: Duration = .zero,
        action: Action
    ) {
        self.name = name
        self.match = match
        self.times = times
        self.delay = delay
        self.action = action
    }
}

extension ReplyRule {
    /// The conditions a request must meet; each one left `nil` matches anything.
    public struct Match: Sendable {
        /// The endpoint, `/v1/chat/completions`, `/v1/completions` or `/v1/messages` (with or without `/v1`).
        public var endpoint: Endpoint?
        /// The request's `model`, exactly.
        public var model: String?
        /// A substring of the last user message (the `prompt` of a legacy completion; its
        /// `text` blocks for the Messages API).
        public var lastUserMessageContains: String?
        /// A substring of any message (system, user, assistant, tool), of the prompt, or of
        /// the Messages API's top-level `system`.
        public var anyMessageContains: String?
        /// Whether the request asked for a stream.
        public var isStream: Bool?
        /// Fire only on the Nth request (1-based) that meets the other conditions.
        public var nth: Int?

        public init(
            endpoint: Endpoint? = nil,
            model: String? = nil,
            lastUserMessageContains: String? = nil,
            anyMessageContains: String? = nil,
            isStream: Bool? = nil,
            nth: Int? = nil
        ) {
            self.endpoint = endpoint
            self.model = model
            self.lastUserMessageContains = lastUserMessageContains
            self.anyMessageContains = anyMessageContains
            self.isStream = isStream
            self.nth = nth
        }
    }

    /// The completion endpoints a rule can match.
    public enum Endpoint: String, Sendable, Equatable {
        case chatCompletions = "/chat/completions"
        case completions = "/completions"
        /// The Anthropic Messages API (see ``SkeinTestServer`` for how it answers).
        case messages = "/messages"
    }

    /// What the server does for a matched request.
    public enum Action: Sendable {
        /// A successful reply (content, JSON, reasoning, tool calls, usage, finish reason).
        case reply(Reply)
        /// An HTTP error with a JSON error body in either shape, plus any headers. The Messages
        /// endpoint always answers in Anthropic's shape (``ErrorBody/Shape/anthropic``).
        case error(status: Int, error: ErrorBody, headers: [String: String] = [:])
        /// Any status and body, verbatim (an HTML proxy page, an empty 502...).
        case raw(status: Int, body: String, contentType: String = "text/plain", headers: [String: String] = [:])
        /// Streams: send `afterChunks` events, then close the connection before `[DONE]`.
        /// Non-stream requests: close the connection without a response.
        case dropConnection(afterChunks: Int)
        /// HTTP 200 whose JSON body is cut off; for a stream, an event whose data is not JSON
        /// (followed by `[DONE]`).
        case malformedBody
        /// Streams: a body that is not server-sent events at all (lines without `data:`),
        /// ending without `[DONE]`. Non-stream requests get ``malformedBody``.
        case malformedSSE
        /// Streams: send `afterChunks` events, then an error event, then end the stream without
        /// `[DONE]`. Non-stream requests get the error as an HTTP 500 body (for the Messages
        /// endpoint, the status its Anthropic error type stands for: 529 for `overloaded_error`).
        case streamError(afterChunks: Int, error: ErrorBody, style: StreamErrorStyle = .dataLine)
        /// Hold the request without answering for the duration (or until the connection closes
        /// or the server shuts down), then close the connection. A client that times out
        /// usually half-closes, which does not end the hold.
        case hang(Duration)
        /// Non-stream requests: send the status, the headers (with the whole body's length) and
        /// half of the body, then hold the rest back for the duration (or until the connection
        /// closes or the server shuts down) and close the connection. Streams: ``hang``.
        case stallBody(Duration)

        /// A text reply.
        public static func text(_ content: String, finishReason: String? = nil) -> Action {
            .reply(Reply(content: content, finishReason: finishReason))
        }

        /// A reply whose content is the compact serialization of `value`.
        public static func json(_ value: TestJSON) -> Action {
            .reply(Reply(json: value))
        }

        /// An error status with a body in the given shape; `type` and `code` default from the status.
        public static func status(
            _ status: Int,
            message: String = "Injected error",
            type: String? = nil,
            code: String? = nil,
            shape: ErrorBody.Shape = .openAI,
            headers: [String: String] = [:]
        ) -> Action {
            .error(
                status: status,
                error: ErrorBody(status: status, message: message, type: type, code: code, shape: shape),
                headers: headers
            )
        }

        /// HTTP 429 with `Retry-After` (whole seconds), `retry-after-ms`, or neither.
        public static func rateLimited(retryAfter: RetryAfter = .seconds(1), shape: ErrorBody.Shape = .openAI)
            -> Action
        {
            .error(status: 429, error: .rateLimitExceeded(shape: shape), headers: retryAfter.headers)
        }
    }

    /// How ``Action/streamError(afterChunks:error:style:)`` writes the error into the stream.
    public enum StreamErrorStyle: Sendable, Equatable {
        /// `data: {"error":{...}}` — what OpenAI-compatible servers send mid-stream.
        case dataLine
        /// `event: error` followed by `data: {"error":{...}}`.
        case errorEvent
    }

    /// The retry hint sent with a 429.
    public enum RetryAfter: Sendable, Equatable {
        /// `Retry-After: N`.
        case seconds(Int)
        /// `retry-after-ms: N` (OpenAI's finer hint).
        case milliseconds(Int)
        /// No hint at all.
        case none

        var headers: [String: String] {
            switch self {
            case .seconds(let seconds): return ["retry-after": String(seconds)]
            case .milliseconds(let milliseconds): return ["retry-after-ms": String(milliseconds)]
            case .none: return [:]
            }
        }
    }
}
