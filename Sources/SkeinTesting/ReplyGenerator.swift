/// The default reply, token counts, and how replies are cut into stream events.
///
/// The default reply is a deterministic function of the request, so that a test can check
/// what flowed into a request by reading what came back:
///
/// | request | default content |
/// | --- | --- |
/// | chat, no `response_format` (or `text`) | `"echo: "` + the last user message's text |
/// | legacy completion | `"echo: "` + the prompt |
/// | `json_schema`, or `json_object` with llama.cpp's `schema` | ``SchemaInstanceGenerator`` instance of the schema, compact JSON |
/// | `json_object` without a schema | `{"echo":"<last user message>"}` |
/// | chat with `tools` and `tool_choice` `required` or naming a function | no content; one call of that (or the first) tool, arguments an instance of its `parameters` schema, finish reason `tool_calls` |
/// | Messages API | as chat: the echo, or with `tool_choice` `{type: any}` or `{type: tool, name}` a call of the tool, arguments an instance of its `input_schema` |
///
/// A message's text is its `content` string, or the `text` of its `text` parts joined by newlines.
/// Text replies are cut to `max_tokens` words (finish reason `length`) only when the server's
/// configuration ``SkeinTestServer/Configuration/honorsMaxTokens`` is on. Tokens are counted as
/// whitespace-separated words: `prompt_tokens` over every message, `completion_tokens` over the
/// content, reasoning and tool-call arguments.
public enum ReplyGenerator {
    /// What a default text reply starts with.
    public static let echoPrefix = "echo: "

    /// The default content the server gives a request body, or `nil` when it answers with a tool call.
    public static func defaultContent(
        forRequestBody body: TestJSON,
        endpoint: ReplyRule.Endpoint = .chatCompletions
    ) -> String? {
        let request = ParsedCompletionRequest(endpoint: endpoint, body: body)
        if endpoint != .completions, request.forcedTool != nil { return nil }
        return defaultContent(for: request)
    }

    /// The number of whitespace-separated words in `text`, the server's stand-in for tokens.
    public static func tokenCount(_ text: String) -> Int {
        var count = 0
        var inWord = false
        for byte in text.utf8 {
            let isSpace = byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D
            if !isSpace && !inWord { count += 1 }
            inWord = !isSpace
        }
        return count
    }

    static func defaultContent(for request: ParsedCompletionRequest) -> String {
        switch request.responseFormat {
        case .jsonSchema(let schema?), .jsonObject(let schema?):
            return SchemaInstanceGenerator.instance(of: schema).serialized
        case .jsonSchema(nil), .jsonObject(nil):
            return TestJSON.object(["echo": .string(request.lastUserMessage)]).serialized
        case .text:
            return echoPrefix + request.lastUserMessage
        }
    }

    /// The reply to send: the rule's ``Reply`` where it says something, the default elsewhere.
    static func generate(for request: ParsedCompletionRequest, reply: Reply?, honorsMaxTokens: Bool) -> GeneratedReply {
        var content = reply?.content
        var toolCalls = reply?.toolCalls ?? []
        var finishReason = reply?.finishReason
        if content == nil && toolCalls.isEmpty {
            if request.endpoint != .completions, let tool = request.forcedTool {
                let parameters = tool.parameters ?? ["type": "object"]
                toolCalls = [
                    Reply.ToolCall(
                        name: tool.name, arguments: SchemaInstanceGenerator.instance(of: parameters).serialized)
                ]
            } else {
                var text = defaultContent(for: request)
                if honorsMaxTokens, request.responseFormat == .text, let limit = request.maxTokens,
                    tokenCount(text) > limit
                {
                    text = wordPieces(text).prefix(max(limit, 0)).joined()
                    finishReason = finishReason ?? "length"
                }
                content = text
            }
        }
        if let thinking = reply?.thinking {
            content = "<think>\(thinking)</think>" + (content ?? "")
        }
        for index in toolCalls.indices where toolCalls[index].id == nil {
            toolCalls[index].id = "call_\(index)"
        }
        let reasoning = reply?.reasoning
        let counted =
            tokenCount(content ?? "") + tokenCount(reasoning ?? "")
            + toolCalls.reduce(0) { $0 + tokenCount($1.arguments) }
        return GeneratedReply(
            content: content,
            reasoning: reasoning,
            toolCalls: toolCalls,
            finishReason: finishReason ?? (toolCalls.isEmpty ? "stop" : "tool_calls"),
            promptTokens: reply?.usage?.promptTokens ?? request.messageTexts.reduce(0) { $0 + tokenCount($1) },
            completionTokens: reply?.usage?.completionTokens ?? counted,
            cachedTokens: reply?.usage?.cachedTokens,
            reasoningTokens: reply?.usage?.reasoningTokens
        )
    }

    /// `text` cut where whitespace follows a word, so each piece is a word with the whitespace
    /// before it (the way tokenizers split) and the pieces join back to `text` exactly:
    /// `"echo: a  b"` → `["echo:", " a", "  b"]`.
    static func wordPieces(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var previousIsWord = false
        for character in text {
            let isSpace = character.isWhitespace
            if isSpace && previousIsWord {
                pieces.append(current)
                current = ""
            }
            current.append(character)
            previousIsWord = !isSpace
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// The pieces a stream sends: ``wordPieces(_:)``, with runs longer than `maximumLength`
    /// characters (compact JSON has no spaces) cut further.
    static func streamPieces(_ text: String, maximumLength: Int = 12) -> [String] {
        var pieces: [String] = []
        for word in wordPieces(text) {
            if word.count <= maximumLength {
                pieces.append(word)
                continue
            }
            var rest = Substring(word)
            while !rest.isEmpty {
                pieces.append(String(rest.prefix(maximumLength)))
                rest = rest.dropFirst(maximumLength)
            }
        }
        return pieces
    }
}

/// A reply with every default filled in, ready to be written as JSON or as stream events.
struct GeneratedReply: Sendable {
    var content: String?
    var reasoning: String?
    var toolCalls: [Reply.ToolCall]
    var finishReason: String
    var promptTokens: Int
    var completionTokens: Int
    var cachedTokens: Int?
    var reasoningTokens: Int?

    var usageJSON: TestJSON {
        var usage: [String: TestJSON] = [
            "prompt_tokens": .int(promptTokens),
            "completion_tokens": .int(completionTokens),
            "total_tokens": .int(promptTokens + completionTokens),
        ]
        if let cachedTokens { usage["prompt_tokens_details"] = ["cached_tokens": .int(cachedTokens)] }
        if let reasoningTokens { usage["completion_tokens_details"] = ["reasoning_tokens": .int(reasoningTokens)] }
        return .object(usage)
    }
}
