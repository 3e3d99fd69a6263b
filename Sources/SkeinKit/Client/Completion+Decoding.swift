extension Completion {
    /// Decodes a complete (not streamed) Chat Completions or Completions response.
    /// - Parameters:
    ///   - response: the parsed response body.
    ///   - attempts: the number of HTTP attempts it took.
    /// - Returns: nil when the body has no `choices`, or an empty list of them (a reply
    ///   withheld by a content filter comes so): the caller reports it as a bad response,
    ///   rather than an empty success that the store would keep.
    static func decode(_ response: JSONValue, attempts: Int) -> Completion? {
        // Skein asks for one choice; a provider that ignores that still answers with index 0 first.
        guard let choices = response["choices"]?.arrayValue,
            let choice = choices.first(where: { $0["index"]?.intValue == 0 }) ?? choices.first
        else { return nil }
        let message = choice["message"]
        let fields = ChoiceFields(
            index: choice["index"], hasMessage: message != nil, content: message?["content"],
            reasoningContent: message?["reasoning_content"], reasoning: message?["reasoning"],
            toolCalls: message?["tool_calls"], text: choice["text"], finishReason: choice["finish_reason"])
        return Completion(
            choice: fields, model: response["model"], usage: Usage(decoding: response["usage"]), attempts: attempts)
    }

    /// The fields of one choice that `Completion` reads, kept as the general path sees them.
    struct ChoiceFields {
        var index: JSONValue?
        /// Whether the choice has a `message` (of any type: `null` counts, as a lookup in the
        /// parsed object finds it).
        var hasMessage = false
        var content: JSONValue?
        var reasoningContent: JSONValue?
        var reasoning: JSONValue?
        var toolCalls: JSONValue?
        var text: JSONValue?
        var finishReason: JSONValue?
    }

    /// The completion made of the chosen choice's fields, the response's `model` and its usage.
    init(choice: ChoiceFields, model: JSONValue?, usage: Usage?, attempts: Int) {
        self.init(content: "", attempts: attempts)
        if choice.hasMessage {
            content = Self.text(choice.content) ?? ""
            reasoningContent = Self.reasoning(content: choice.reasoningContent, reasoning: choice.reasoning)
            toolCalls = Self.toolCalls(choice.toolCalls)
        } else if let text = choice.text?.stringValue {
            content = text
        }
        finishReason = choice.finishReason?.stringValue
        self.model = model?.stringValue
        self.usage = usage
    }

    /// `content` is a string, null (a reply that is only tool calls), or, from some
    /// providers, a list of `{type: text, text}` parts.
    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text): return text
        case .array(let parts): return parts.compactMap { $0["text"]?.stringValue }.joined()
        default: return nil
        }
    }

    /// `reasoning_content` (DeepSeek, Novita, vLLM) or `reasoning` (OpenRouter, newer vLLM).
    static func reasoning(content: JSONValue?, reasoning: JSONValue?) -> String? {
        let text = content?.stringValue ?? reasoning?.stringValue
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    /// `tool_calls`: a call without an id gets one from its position.
    static func toolCalls(_ value: JSONValue?) -> [ToolCall] {
        (value?.arrayValue ?? []).enumerated().map { position, call in
            ToolCall(
                id: call["id"]?.stringValue ?? "call_\(position)",
                name: call["function"]?["name"]?.stringValue ?? "",
                arguments: Self.arguments(call["function"]?["arguments"]))
        }
    }

    /// Arguments are JSON text; a few servers send the object itself.
    static func arguments(_ value: JSONValue?) -> String {
        switch value {
        case .string(let text): return text
        case nil, .null?: return ""
        case let other?: return other.serialized(.compact)
        }
    }
}

extension Completion.Usage {
    /// The fields of `usage` that `Usage` reads, kept as the general path sees them.
    struct Fields {
        var promptTokens: JSONValue?
        var completionTokens: JSONValue?
        var totalTokens: JSONValue?
        var inputTokens: JSONValue?
        var outputTokens: JSONValue?
        /// `prompt_tokens_details.cached_tokens`, when `prompt_tokens_details` is an object.
        var promptCachedTokens: JSONValue?
        var inputCachedTokens: JSONValue?
    }

    /// Decodes `usage`; nil when it is missing or null.
    init?(decoding value: JSONValue?) {
        guard let value, let object = value.objectValue else { return nil }
        self.init(
            fields: Fields(
                promptTokens: object["prompt_tokens"], completionTokens: object["completion_tokens"],
                totalTokens: object["total_tokens"], inputTokens: object["input_tokens"],
                outputTokens: object["output_tokens"],
                promptCachedTokens: object["prompt_tokens_details"]?["cached_tokens"],
                inputCachedTokens: object["input_tokens_details"]?["cached_tokens"]))
    }

    /// The counts, with `input_tokens`/`output_tokens` (Anthropic's names) as fallbacks.
    init(fields: Fields) {
        let prompt = fields.promptTokens?.intValue ?? fields.inputTokens?.intValue ?? 0
        let completion = fields.completionTokens?.intValue ?? fields.outputTokens?.intValue ?? 0
        self.init(
            promptTokens: prompt, completionTokens: completion, totalTokens: fields.totalTokens?.intValue,
            cachedTokens: fields.promptCachedTokens?.intValue ?? fields.inputCachedTokens?.intValue)
    }
}
