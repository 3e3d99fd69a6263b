/// A successful reply a rule scripts; every property left `nil` takes the default reply's value.
public struct Reply: Sendable {
    /// The message content (`choices[0].text` for a legacy completion); `nil` means the default
    /// reply (see ``ReplyGenerator``), or no content when ``toolCalls`` is not empty.
    public var content: String?
    /// Sent as `reasoning_content` (streamed as `delta.reasoning_content` before the content).
    public var reasoning: String?
    /// Prefixed to the content as `<think>…</think>`, the way reasoning models without a
    /// separate field answer.
    public var thinking: String?
    /// Tool calls; the finish reason becomes `tool_calls` unless ``finishReason`` says otherwise.
    public var toolCalls: [ToolCall]
    /// The finish reason; default `stop` (`tool_calls` with tool calls).
    public var finishReason: String?
    /// Overrides for the counted usage.
    public var usage: Usage?

    public init(
        content: String? = nil,
        reasoning: String? = nil,
        thinking: String? = nil,
        toolCalls: [ToolCall] = [],
        finishReason: String? = nil,
        usage: Usage? = nil
    ) {
        self.content = content
        self.reasoning = reasoning
        self.thinking = thinking
        self.toolCalls = toolCalls
        self.finishReason = finishReason
        self.usage = usage
    }

    /// A reply whose content is the compact serialization of `json`.
    public init(
        json: TestJSON,
        reasoning: String? = nil,
        thinking: String? = nil,
        finishReason: String? = nil,
        usage: Usage? = nil
    ) {
        self.init(
            content: json.serialized,
            reasoning: reasoning,
            thinking: thinking,
            finishReason: finishReason,
            usage: usage
        )
    }

    /// A function call the assistant makes.
    public struct ToolCall: Sendable, Equatable {
        public var id: String?
        public var name: String
        /// The arguments as the JSON text the model would write (it need not be valid JSON).
        public var arguments: String

        /// - Parameters:
        ///   - id: The call's id; default `call_<index>`.
        public init(id: String? = nil, name: String, arguments: String) {
            self.id = id
            self.name = name
            self.arguments = arguments
        }
    }

    /// Usage numbers; each `nil` keeps the counted value. `cachedTokens` adds
    /// `prompt_tokens_details.cached_tokens`.
    public struct Usage: Sendable, Equatable {
        public var promptTokens: Int?
        public var completionTokens: Int?
        public var cachedTokens: Int?
        public var reasoningTokens: Int?

        public init(
            promptTokens: Int? = nil,
            completionTokens: Int? = nil,
            cachedTokens: Int? = nil,
            reasoningTokens: Int? = nil
        ) {
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.cachedTokens = cachedTokens
            self.reasoningTokens = reasoningTokens
        }
    }
}
