import OrderedCollections

/// Which endpoint a request goes to.
public enum CompletionAPI: String, Sendable, Hashable, CaseIterable {
    /// `POST /chat/completions` with `messages` (OpenAI-compatible providers).
    case chat
    /// The legacy `POST /completions` with a raw `prompt` (OpenAI-compatible providers).
    case completion
    /// The Anthropic Messages API, `POST /v1/messages` (providers with `type: anthropic`).
    case messages

    /// The path below the provider's base URL. The Messages API's base URL has no `/v1`
    /// (it is the one the Anthropic SDKs take), so its path starts with it.
    public var path: String {
        switch self {
        case .chat: return "/chat/completions"
        case .completion: return "/completions"
        case .messages: return "/v1/messages"
        }
    }

    /// The URL of the endpoint for a provider's base URL (without a trailing slash). A
    /// Messages API base that already ends in `/v1` does not get a second one.
    public func url(baseURL: String) -> String {
        switch self {
        case .chat, .completion: return baseURL + path
        case .messages: return AnthropicMessages.url(baseURL: baseURL, path: "messages")
        }
    }

    /// The wire protocol a provider must speak to take requests for this endpoint.
    public var providerKind: ProviderConfiguration.Kind {
        self == .messages ? .anthropic : .openai
    }
}

/// A request exactly as it goes over the wire: the endpoint and the JSON body, in the
/// provider's parameter names and in a stable key order, so that hashing the body
/// identifies the request (the result cache relies on this).
public struct CompletionRequest: Sendable, Hashable {
    public var api: CompletionAPI
    /// The request body. Keys keep their order, so serializing it is deterministic.
    public var body: JSONValue.JSONObject

    public init(api: CompletionAPI, body: JSONValue.JSONObject) {
        self.api = api
        self.body = body
    }

    /// Whether the reply comes as server-sent events (`"stream": true`).
    public var isStreaming: Bool { body["stream"] == true }

    /// The `model` field, when there is one.
    public var model: String? { body["model"]?.stringValue }

    /// A Chat Completions request.
    /// - Parameters:
    ///   - model: the provider's model id.
    ///   - messages: the conversation.
    ///   - sampling: sampling parameters; unset ones are not sent.
    ///   - responseFormat: `response_format`, e.g. `{"type": "json_object"}`.
    ///   - tools: `tools`, a list of function definitions.
    ///   - toolChoice: `tool_choice`.
    ///   - extra: further body fields, merged last; they override the fields above.
    ///   - stream: ask for server-sent events; also asks for usage in the last event.
    /// - Returns: the request, fields in the order the API documents them.
    public static func chat(
        model: String, messages: [ChatMessage], sampling: SamplingParameters = SamplingParameters(),
        responseFormat: JSONValue? = nil, tools: JSONValue? = nil, toolChoice: JSONValue? = nil,
        extra: JSONValue.JSONObject = [:], stream: Bool = false
    ) -> CompletionRequest {
        var body = JSONValue.JSONObject()
        body["model"] = .string(model)
        body["messages"] = .array(messages.map(\.jsonValue))
        body.merge(sampling.bodyFields) { _, new in new }
        if stream { body["stream"] = true }
        if let responseFormat { body["response_format"] = responseFormat }
        if let tools { body["tools"] = tools }
        if let toolChoice { body["tool_choice"] = toolChoice }
        return CompletionRequest(api: .chat, body: finished(body, extra: extra))
    }

    /// A legacy Completions request with a raw text prompt.
    /// - Parameters:
    ///   - model: the provider's model id.
    ///   - prompt: the text to continue, sent as it is.
    ///   - sampling: sampling parameters; unset ones are not sent.
    ///   - extra: further body fields, merged last.
    ///   - stream: ask for server-sent events.
    public static func completion(
        model: String, prompt: String, sampling: SamplingParameters = SamplingParameters(),
        extra: JSONValue.JSONObject = [:], stream: Bool = false
    ) -> CompletionRequest {
        var body = JSONValue.JSONObject()
        body["model"] = .string(model)
        body["prompt"] = .string(prompt)
        body.merge(sampling.bodyFields) { _, new in new }
        if stream { body["stream"] = true }
        return CompletionRequest(api: .completion, body: finished(body, extra: extra))
    }

    private static func finished(_ body: JSONValue.JSONObject, extra: JSONValue.JSONObject) -> JSONValue.JSONObject {
        var body = body
        // Overrides keep the key's place, so the body's order does not depend on `extra`.
        body.merge(extra) { _, new in new }
        // Without it a streamed reply carries no token counts, and the limiter and the
        // stored run need them.
        if body["stream"] == true && body["stream_options"] == nil {
            body["stream_options"] = ["include_usage": true]
        }
        return body
    }

    /// A rough count of the tokens the request will use, for a tokens-per-minute budget:
    /// about four characters per token of input, plus the most it may generate.
    public var estimatedTokens: Int {
        var characters = 0
        if let system = body["system"] {
            characters += Self.characterCount(of: system)
        }
        if let prompt = body["prompt"] {
            characters += Self.characterCount(of: prompt)
        }
        if let messages = body["messages"]?.arrayValue {
            for message in messages {
                // Role and framing cost a few tokens per message.
                characters += 16
                if let content = message["content"] { characters += Self.characterCount(of: content) }
            }
        }
        let output = (body["max_tokens"] ?? body["max_completion_tokens"])?.intValue ?? Self.assumedOutputTokens
        return max(1, (characters + 3) / 4 + max(0, output))
    }

    /// What a reply is assumed to cost when the request sets no `max_tokens`;
    /// the limiter corrects it from the reply's usage.
    static let assumedOutputTokens = 256

    private static func characterCount(of value: JSONValue) -> Int {
        switch value {
        case .string(let text): return text.utf8.count
        case .array(let items): return items.reduce(0) { $0 + characterCount(of: $1) }
        case .object(let object):
            if let text = object["text"]?.stringValue { return text.utf8.count }
            // An image part: providers bill by tiles, not by the URL's length.
            if object["image_url"] != nil || object["type"] == "image" { return 85 * 4 }
            // A Messages API tool result.
            if let content = object["content"] { return characterCount(of: content) }
            return 0
        default: return 0
        }
    }
}
