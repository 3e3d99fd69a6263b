/// A finished reply: the same value whether it arrived streamed or in one piece.
public struct Completion: Sendable, Hashable {
    /// A function call the model asked for.
    public struct ToolCall: Sendable, Hashable {
        public var id: String
        public var name: String
        /// The arguments as the model wrote them: JSON text, not yet parsed (it may be invalid).
        public var arguments: String

        public init(id: String, name: String, arguments: String) {
            self.id = id
            self.name = name
            self.arguments = arguments
        }

        /// The arguments parsed as JSON, or nil when the model wrote invalid JSON.
        public var parsedArguments: JSONValue? { try? JSONValue(parsing: arguments) }
    }

    /// Token counts as the provider reported them, or as Skein counted them from a stream
    /// that carried none (``isCountedFromStream``).
    public struct Usage: Sendable, Hashable {
        public var promptTokens: Int
        public var completionTokens: Int
        public var totalTokens: Int
        /// Prompt tokens served from the provider's prompt cache (`prompt_tokens_details.cached_tokens`).
        public var cachedTokens: Int?
        /// The provider reported no usage (llama-cpp-python's server never does in a stream,
        /// even when asked): `completionTokens` is the number of streamed chunks that carried
        /// text (one per token from llama.cpp), and the prompt's count is unknown, so
        /// `promptTokens` is 0 and `totalTokens` the output alone here, both null in the JSON forms.
        public var isCountedFromStream: Bool

        /// Counts are clamped to `0...maximumCount`: a server that reports a negative count or
        /// `Int.max` (a buggy proxy) would otherwise overflow the sums in the run's summary,
        /// which trapped, and kept trapping on every run that read the reply from the store.
        public init(
            promptTokens: Int, completionTokens: Int, totalTokens: Int? = nil, cachedTokens: Int? = nil,
            isCountedFromStream: Bool = false
        ) {
            self.promptTokens = Usage.clamped(promptTokens)
            self.completionTokens = Usage.clamped(completionTokens)
            self.totalTokens = Usage.clamped(totalTokens ?? self.promptTokens + self.completionTokens)
            self.cachedTokens = cachedTokens.map(Usage.clamped)
            self.isCountedFromStream = isCountedFromStream
        }

        /// The usage of a stream that reported none: `chunks` chunks carried text, the prompt's
        /// count is unknown.
        public static func countedFromStream(chunks: Int) -> Usage {
            Usage(promptTokens: 0, completionTokens: chunks, totalTokens: chunks, isCountedFromStream: true)
        }

        /// 2^40 tokens: more than any request can use, and a million rows of it still sum
        /// within an `Int`.
        public static let maximumCount = 1 << 40

        static func clamped(_ count: Int) -> Int { min(max(count, 0), maximumCount) }

        /// Adds two counts from JSON, saturating instead of overflowing.
        static func sum(_ counts: Int...) -> Int { counts.reduce(0) { clamped($0 + clamped($1)) } }

        /// `{"prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"?}`; counted
        /// from a stream: `{"prompt_tokens": null, "completion_tokens", "total_tokens": null,
        /// "counted_from_stream": true}`.
        public var jsonValue: JSONValue {
            var object: JSONValue.JSONObject = [
                "prompt_tokens": isCountedFromStream ? .null : .int(promptTokens),
                "completion_tokens": .int(completionTokens),
                "total_tokens": isCountedFromStream ? .null : .int(totalTokens),
            ]
            if let cachedTokens { object["cached_tokens"] = .int(cachedTokens) }
            if isCountedFromStream { object["counted_from_stream"] = true }
            return .object(object)
        }
    }

    /// The reply text (`message.content`, or `text` for the legacy Completions API).
    public var content: String
    /// The reasoning text a reasoning model sent apart from the reply (`reasoning_content`).
    public var reasoningContent: String?
    public var toolCalls: [ToolCall]
    /// `stop`, `length`, `tool_calls`, `content_filter`, or the provider's own value.
    public var finishReason: String?
    /// The model that answered, as the provider names it.
    public var model: String?
    public var usage: Usage?
    /// The number of HTTP attempts it took, 1 when the first one succeeded.
    public var attempts: Int

    public init(
        content: String, reasoningContent: String? = nil, toolCalls: [ToolCall] = [], finishReason: String? = nil,
        model: String? = nil, usage: Usage? = nil, attempts: Int = 1
    ) {
        self.content = content
        self.reasoningContent = reasoningContent
        self.toolCalls = toolCalls
        self.finishReason = finishReason
        self.model = model
        self.usage = usage
        self.attempts = attempts
    }
}

extension Completion.Usage {
    /// Two usages added (saturating).
    public static func + (lhs: Completion.Usage, rhs: Completion.Usage) -> Completion.Usage {
        Completion.Usage(
            promptTokens: sum(lhs.promptTokens, rhs.promptTokens), completionTokens: sum(lhs.completionTokens, rhs.completionTokens),
            totalTokens: sum(lhs.totalTokens, rhs.totalTokens),
            cachedTokens: (lhs.cachedTokens == nil && rhs.cachedTokens == nil) ? nil : sum(lhs.cachedTokens ?? 0, rhs.cachedTokens ?? 0),
            isCountedFromStream: lhs.isCountedFromStream || rhs.isCountedFromStream)
    }
}
