/// One message of a chat conversation, as the Chat Completions API takes it.
public struct ChatMessage: Sendable, Hashable {
    /// Who wrote the message.
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case system, user, assistant, tool
    }

    /// A message's content: plain text, or a list of parts for vision models.
    public enum Content: Sendable, Hashable {
        case text(String)
        case parts([ContentPart])
    }

    /// One part of a multi-part message.
    public enum ContentPart: Sendable, Hashable {
        case text(String)
        /// An image by URL; a `data:` URL carries a local file's bytes.
        case imageURL(String)
    }

    public var role: Role
    public var content: Content
    /// An optional participant name (`name` in the request body).
    public var name: String?
    /// For a `tool` message: the id of the tool call it answers (`tool_call_id`).
    public var toolCallID: String?
    /// For an `assistant` message: the tool calls it made (a turn of a tool loop).
    public var toolCalls: [Completion.ToolCall]
    /// For a `tool` message: the content is the tool's error, not its result (the Messages
    /// API's `is_error`; Chat Completions has no field for it, the text says so).
    public var isToolError: Bool

    public init(role: Role, content: Content, name: String? = nil, toolCallID: String? = nil,
                toolCalls: [Completion.ToolCall] = [], isToolError: Bool = false) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCallID = toolCallID
        self.toolCalls = toolCalls
        self.isToolError = isToolError
    }

    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: .system, content: .text(text)) }
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: .user, content: .text(text)) }
    public static func assistant(_ text: String) -> ChatMessage { ChatMessage(role: .assistant, content: .text(text)) }

    /// The message as the request body carries it, keys in a fixed order.
    public var jsonValue: JSONValue {
        var object = JSONValue.JSONObject()
        object["role"] = .string(role.rawValue)
        // An assistant turn that only called tools keeps "" as its content rather than the
        // null OpenAI writes: OpenAI takes both, llama-cpp-python's server only a string.
        object["content"] = content.jsonValue
        if let name { object["name"] = .string(name) }
        if !toolCalls.isEmpty {
            object["tool_calls"] = .array(toolCalls.map { call in
                ["id": .string(call.id), "type": "function",
                 "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
            })
        }
        if let toolCallID { object["tool_call_id"] = .string(toolCallID) }
        return .object(object)
    }
}

extension ChatMessage.Content {
    /// `"text"` for plain text; `[{"type": "text", ...}, {"type": "image_url", ...}]` for parts.
    public var jsonValue: JSONValue {
        switch self {
        case .text(let text): return .string(text)
        case .parts(let parts): return .array(parts.map(\.jsonValue))
        }
    }
}

extension ChatMessage.ContentPart {
    public var jsonValue: JSONValue {
        switch self {
        case .text(let text): return ["type": "text", "text": .string(text)]
        case .imageURL(let url): return ["type": "image_url", "image_url": ["url": .string(url)]]
        }
    }
}
