/// What the server reads from the body of a completion request.
struct ParsedCompletionRequest: Sendable {
    enum ResponseFormat: Sendable, Equatable {
        case text
        /// `{type: json_object}`, optionally with llama.cpp's `schema` beside it.
        case jsonObject(schema: TestJSON?)
        /// `{type: json_schema, json_schema: {name, schema, strict}}`.
        case jsonSchema(schema: TestJSON?)
    }

    /// A tool the request forces with `tool_choice` (`required`, or a named function).
    struct ForcedTool: Sendable {
        var name: String
        var parameters: TestJSON?
    }

    let endpoint: ReplyRule.Endpoint
    let body: TestJSON
    let model: String?
    let isStream: Bool
    let includesUsage: Bool
    let maxTokens: Int?
    let choiceCount: Int
    /// The text of every message, in order (the prompt for a legacy completion; the Messages
    /// API's top-level `system` first).
    let messageTexts: [String]
    /// The last user message's text (the prompt for a legacy completion); "" when there is none.
    let lastUserMessage: String
    let responseFormat: ResponseFormat
    let forcedTool: ForcedTool?

    init(endpoint: ReplyRule.Endpoint, body: TestJSON) {
        self.endpoint = endpoint
        self.body = body
        model = body["model"]?.stringValue
        isStream = body["stream"]?.boolValue ?? false
        // A Messages API stream always carries usage (in `message_start` and `message_delta`).
        includesUsage = endpoint == .messages || (body["stream_options"]?["include_usage"]?.boolValue ?? false)
        maxTokens = (body["max_tokens"] ?? body["max_completion_tokens"])?.intValue
        choiceCount = min(max(body["n"]?.intValue ?? 1, 1), 16)

        switch endpoint {
        case .completions:
            let prompt = Self.promptText(body["prompt"])
            messageTexts = [prompt]
            lastUserMessage = prompt
        case .chatCompletions, .messages:
            var texts: [String] = []
            // The Messages API keeps the system prompt out of `messages`.
            if endpoint == .messages, let system = body["system"] { texts.append(Self.text(ofContent: system)) }
            var lastUser = ""
            for message in body["messages"]?.arrayValue ?? [] {
                let text = Self.text(ofContent: message["content"])
                texts.append(text)
                // A Messages API user turn of tool results only is the tools speaking, not the user.
                if message["role"]?.stringValue == "user" && !Self.isToolResultsOnly(message["content"]) { lastUser = text }
            }
            messageTexts = texts
            lastUserMessage = lastUser
        }

        let format = body["response_format"]
        switch format?["type"]?.stringValue {
        case "json_object":
            responseFormat = .jsonObject(schema: format?["schema"])
        case "json_schema":
            responseFormat = .jsonSchema(schema: format?["json_schema"]?["schema"] ?? format?["schema"])
        default:
            responseFormat = .text
        }

        forcedTool = Self.forcedTool(tools: body["tools"]?.arrayValue ?? [], choice: body["tool_choice"])
    }

    /// The text of a message's `content`: the string itself, or the `text` of its parts (or
    /// Messages API text blocks) joined by newlines.
    static func text(ofContent content: TestJSON?) -> String {
        switch content {
        case .string(let text)?:
            return text
        case .array(let parts)?:
            return parts.compactMap { part in
                // A Messages API tool result: its content, a string or text blocks.
                if part["type"]?.stringValue == "tool_result" { return text(ofContent: part["content"]) }
                if let type = part["type"]?.stringValue, type != "text" { return nil }
                return part["text"]?.stringValue
            }.joined(separator: "\n")
        default:
            return ""
        }
    }

    static func isToolResultsOnly(_ content: TestJSON?) -> Bool {
        guard case .array(let parts)? = content, !parts.isEmpty else { return false }
        return parts.allSatisfy { $0["type"]?.stringValue == "tool_result" }
    }

    /// A legacy prompt: a string, or the first of a list of strings; token arrays read as "".
    static func promptText(_ prompt: TestJSON?) -> String {
        switch prompt {
        case .string(let text)?: return text
        case .array(let items)?: return items.first?.stringValue ?? ""
        default: return ""
        }
    }

    static func forcedTool(tools: [TestJSON], choice: TestJSON?) -> ForcedTool? {
        func tool(named name: String?) -> ForcedTool? {
            for tool in tools {
                let function = tool["function"] ?? tool
                guard let toolName = function["name"]?.stringValue else { continue }
                if name == nil || name == toolName {
                    return ForcedTool(name: toolName, parameters: function["parameters"] ?? function["input_schema"])
                }
            }
            return nil
        }
        switch choice {
        case .string("required")?, .string("any")?:
            return tool(named: nil)
        // The Messages API: `{type: any}` forces some tool, `{type: tool, name}` that one.
        case .object? where choice?["type"]?.stringValue == "any":
            return tool(named: nil)
        case .object? where ["auto", "none"].contains(choice?["type"]?.stringValue ?? ""):
            return nil
        case .object?:
            guard let name = choice?["function"]?["name"]?.stringValue ?? choice?["name"]?.stringValue else {
                return nil
            }
            return tool(named: name)
        default:
            return nil
        }
    }
}
