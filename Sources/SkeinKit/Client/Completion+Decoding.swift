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
        var completion = Completion(content: "", attempts: attempts)
        if let message {
            completion.content = Self.text(message["content"]) ?? ""
            completion.reasoningContent = Self.reasoning(in: message)
            completion.toolCalls = (message["tool_calls"]?.arrayValue ?? []).enumerated().map { position, call in
                ToolCall(
                    id: call["id"]?.stringValue ?? "call_\(position)",
                    name: call["function"]?["name"]?.stringValue ?? "",
                    arguments: Self.arguments(call["function"]?["arguments"]))
            }
        } else if let text = choice["text"]?.stringValue {
            completion.content = text
        }
        completion.finishReason = choice["finish_reason"]?.stringValue
        completion.model = response["model"]?.stringValue
        completion.usage = Usage(decoding: response["usage"])
        return completion
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
    static func reasoning(in message: JSONValue) -> String? {
        let text = message["reasoning_content"]?.stringValue ?? message["reasoning"]?.stringValue
        guard let text, !text.isEmpty else { return nil }
        return text
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
    /// Decodes `usage`; nil when it is missing or null.
    init?(decoding value: JSONValue?) {
        guard let value, let object = value.objectValue else { return nil }
        let prompt = object["prompt_tokens"]?.intValue ?? object["input_tokens"]?.intValue ?? 0
        let completion = object["completion_tokens"]?.intValue ?? object["output_tokens"]?.intValue ?? 0
        let cached =
            object["prompt_tokens_details"]?["cached_tokens"]?.intValue
            ?? object["input_tokens_details"]?["cached_tokens"]?.intValue
        self.init(
            promptTokens: prompt, completionTokens: completion, totalTokens: object["total_tokens"]?.intValue,
            cachedTokens: cached)
    }
}
