import NIOHTTP1
import OrderedCollections

/// The Anthropic Messages API (`POST {base_url}/v1/messages`), for providers with
/// `type: anthropic`: Anthropic itself (`https://api.anthropic.com`) and compatible
/// endpoints such as Novita's (`https://api.novita.ai/anthropic`).
///
/// The base URL is the one the Anthropic SDKs take (`ANTHROPIC_BASE_URL`): without `/v1`,
/// which the client adds. A base URL that already ends in `/v1` is accepted too.
///
/// What differs from the OpenAI-compatible API, and how Skein bridges it:
///
/// | | OpenAI-compatible | Messages API |
/// | --- | --- | --- |
/// | key | `Authorization: Bearer KEY` | `x-api-key: KEY` and `anthropic-version: 2023-06-01` |
/// | system prompt | a `system` message | the top-level `system` field (every system message, joined) |
/// | `max_tokens` | optional | required: ``defaultMaxTokens`` when the step sets none |
/// | `stop` | `stop` | `stop_sequences` |
/// | `min_p`, penalties, `seed` | sent | not sent (the API has none; `extra:` still passes fields through) |
/// | images | `image_url` parts | `image` blocks, base64 for `data:` URLs |
/// | tools | `{type: function, function: {name, description, parameters}}` | `{name, description, input_schema}` |
/// | `tool_choice` | `auto`, `none`, `required`, a function | `{type: auto}`, `{type: none}`, `{type: any}`, `{type: tool, name}` |
/// | structured output | `response_format` | none: the schema goes into `system`, and the reply is validated as usual |
/// | reply | `choices[0].message` | `content` blocks: `text`, `tool_use` (`input` is an object), `thinking` |
/// | finish reason | `stop`, `length`, `tool_calls` | `end_turn`/`stop_sequence`, `max_tokens`, `tool_use` (mapped to the former) |
/// | usage | `prompt_tokens` (cache hits included) | `input_tokens` + `cache_creation_input_tokens` + `cache_read_input_tokens` |
/// | stream | `data:` chunks, then `[DONE]` | named events, `message_start` … `message_stop` |
///
/// Extended thinking is off unless a step asks for it with
/// `extra: {thinking: {type: enabled, budget_tokens: N}}`; its `thinking` blocks become
/// the reply's reasoning.
public enum AnthropicMessages {
    /// The `anthropic-version` header sent with every request.
    public static let version = "2023-06-01"

    /// The `max_tokens` sent when neither the step nor `defaults` sets one (the API requires it).
    public static let defaultMaxTokens = 1024

    /// `{base_url}/v1/{path}`, or `{base_url}/{path}` when the base already ends in `/v1`.
    static func url(baseURL: String, path: String) -> String {
        baseURL.hasSuffix("/v1") ? baseURL + "/" + path : baseURL + "/v1/" + path
    }

    /// The headers of a Messages API request: the key as `x-api-key` (never as a bearer
    /// token), the API version, and the provider's own headers (which may override the
    /// version or add `anthropic-beta`).
    static func headers(for provider: ProviderConfiguration, apiKey: String?, streaming: Bool, userAgent: String)
        -> HTTPHeaders
    {
        var headers = HTTPHeaders()
        headers.reserveCapacity(6 + provider.headers.count)
        headers.add(name: "user-agent", value: userAgent)
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "accept", value: streaming ? "text/event-stream" : "application/json")
        headers.add(name: "anthropic-version", value: version)
        for (name, value) in provider.headers.sorted(by: { $0.key < $1.key }) {
            headers.replaceOrAdd(name: name, value: value)
        }
        if let apiKey { headers.replaceOrAdd(name: "x-api-key", value: apiKey) }
        return headers
    }
}

// MARK: - Requests

extension CompletionRequest {
    /// A Messages API request, from the same chat messages a Chat Completions request takes.
    /// - Parameters:
    ///   - model: the provider's model id.
    ///   - messages: the conversation; system messages go to the top-level `system` field
    ///     (joined by blank lines), the others keep their order. `name` has no equivalent
    ///     and is not sent.
    ///   - sampling: `max_tokens` (``AnthropicMessages/defaultMaxTokens`` when unset),
    ///     `temperature`, `top_p`, `top_k`, and `stop` as `stop_sequences`; the parameters
    ///     the API does not have (`min_p`, the penalties, `seed`) are not sent.
    ///   - tools: tool definitions in the Chat Completions shape
    ///     (`{type: function, function: {name, description, parameters}}`); sent as
    ///     `{name, description, input_schema}`.
    ///   - toolChoice: `auto`, `none`, `required` (sent as `any`), a tool's name, a Chat
    ///     Completions choice naming a function, or a Messages API choice, sent as it is.
    ///   - extra: further body fields, merged last (`thinking`, `metadata`, ...).
    ///   - stream: ask for server-sent events.
    public static func messages(
        model: String, messages: [ChatMessage], sampling: SamplingParameters = SamplingParameters(),
        tools: JSONValue? = nil, toolChoice: JSONValue? = nil, extra: JSONValue.JSONObject = [:], stream: Bool = false
    ) -> CompletionRequest {
        var body = JSONValue.JSONObject()
        body["model"] = .string(model)
        let system = messages.filter { $0.role == .system }.map { $0.content.plainText }
        if !system.isEmpty { body["system"] = .string(system.joined(separator: "\n\n")) }
        body["messages"] = .array(AnthropicMessages.turns(messages.filter { $0.role != .system }))
        body["max_tokens"] = .int(sampling.maxTokens ?? AnthropicMessages.defaultMaxTokens)
        if let temperature = sampling.temperature { body["temperature"] = .double(temperature) }
        if let topP = sampling.topP { body["top_p"] = .double(topP) }
        if let topK = sampling.topK { body["top_k"] = .int(topK) }
        if let stop = sampling.stop { body["stop_sequences"] = .array(stop.map { .string($0) }) }
        if stream { body["stream"] = true }
        if let tools { body["tools"] = AnthropicMessages.tools(tools) }
        if let toolChoice { body["tool_choice"] = AnthropicMessages.toolChoice(toolChoice) }
        // Overrides keep the key's place, so the body's order does not depend on `extra`.
        body.merge(extra) { _, new in new }
        return CompletionRequest(api: .messages, body: body)
    }
}

extension AnthropicMessages {
    /// Chat Completions tool definitions as Messages API tools; entries already in the
    /// Messages shape pass through.
    static func tools(_ tools: JSONValue) -> JSONValue {
        guard let items = tools.arrayValue else { return tools }
        return .array(
            items.map { tool in
                guard let function = tool["function"], tool["type"] == "function" else { return tool }
                var converted = JSONValue.JSONObject()
                converted["name"] = function["name"] ?? ""
                if let description = function["description"] { converted["description"] = description }
                converted["input_schema"] = function["parameters"] ?? ["type": "object", "properties": [:]]
                return .object(converted)
            })
    }

    /// A `tool_choice` in the Messages API's shape.
    static func toolChoice(_ choice: JSONValue) -> JSONValue {
        switch choice {
        case .string("auto"): return ["type": "auto"]
        case .string("none"): return ["type": "none"]
        case .string("required"), .string("any"): return ["type": "any"]
        case .string(let name): return ["type": "tool", "name": .string(name)]
        case .object where choice["type"] == "function":
            guard let name = choice["function"]?["name"] else { return choice }
            return ["type": "tool", "name": name]
        default: return choice
        }
    }
}

extension AnthropicMessages {
    /// The conversation as Messages API turns: the results of one reply's tool calls
    /// (consecutive `tool` messages) go back in one user turn, as the API requires.
    static func turns(_ messages: [ChatMessage]) -> [JSONValue] {
        var turns: [JSONValue] = []
        var results: [JSONValue] = []
        for message in messages {
            if message.role == .tool {
                results.append(message.toolResultBlock)
                continue
            }
            if !results.isEmpty {
                turns.append(["role": "user", "content": .array(results)])
                results = []
            }
            turns.append(message.anthropicValue)
        }
        if !results.isEmpty { turns.append(["role": "user", "content": .array(results)]) }
        return turns
    }
}

extension ChatMessage {
    /// A `tool` message as a `tool_result` block.
    var toolResultBlock: JSONValue {
        var result = JSONValue.JSONObject()
        result["type"] = "tool_result"
        result["tool_use_id"] = .string(toolCallID ?? "")
        result["content"] = .string(content.plainText)
        if isToolError { result["is_error"] = true }
        return .object(result)
    }

    /// The message as a Messages API turn: `{role, content}`, a `tool` message as a user
    /// turn with a `tool_result` block.
    var anthropicValue: JSONValue {
        switch role {
        case .tool:
            return ["role": "user", "content": [toolResultBlock]]
        case .assistant where !toolCalls.isEmpty:
            // A turn that called tools: its text (if any), then a `tool_use` block per call.
            var blocks: [JSONValue] = []
            let text = content.plainText
            if !text.isEmpty { blocks.append(["type": "text", "text": .string(text)]) }
            for call in toolCalls {
                var block = JSONValue.JSONObject()
                block["type"] = "tool_use"
                block["id"] = .string(call.id)
                block["name"] = .string(call.name)
                block["input"] = call.parsedArguments.flatMap { $0.objectValue.map { .object($0) } } ?? .object([:])
                blocks.append(.object(block))
            }
            return ["role": "assistant", "content": .array(blocks)]
        case .assistant:
            return ["role": "assistant", "content": content.anthropicValue]
        case .user, .system:
            return ["role": "user", "content": content.anthropicValue]
        }
    }
}

extension ChatMessage.Content {
    /// Plain text stays a string; parts become `text` and `image` blocks.
    var anthropicValue: JSONValue {
        switch self {
        case .text(let text): return .string(text)
        case .parts(let parts): return .array(parts.map(\.anthropicValue))
        }
    }

    /// The text of the content, parts' text joined by newlines (images left out).
    var plainText: String {
        switch self {
        case .text(let text): return text
        case .parts(let parts):
            return parts.compactMap { part in
                if case .text(let text) = part { return text }
                return nil
            }.joined(separator: "\n")
        }
    }
}

extension ChatMessage.ContentPart {
    /// `{type: text, text}`, or `{type: image, source}`: base64 for a `data:` URL (how a
    /// local `image_file` arrives), the URL itself otherwise.
    var anthropicValue: JSONValue {
        switch self {
        case .text(let text):
            return ["type": "text", "text": .string(text)]
        case .imageURL(let url):
            if url.hasPrefix("data:"), let comma = url.firstIndex(of: ","),
                url[..<comma].hasSuffix(";base64")
            {
                let header = url[url.index(url.startIndex, offsetBy: 5)..<comma].dropLast(7)
                var source = JSONValue.JSONObject()
                source["type"] = "base64"
                source["media_type"] = .string(String(header))
                source["data"] = .string(String(url[url.index(after: comma)...]))
                return ["type": "image", "source": .object(source)]
            }
            return ["type": "image", "source": ["type": "url", "url": .string(url)]]
        }
    }
}

// MARK: - Replies

extension AnthropicMessages {
    /// Decodes a whole (not streamed) reply: `{type: message, content: [...], model,
    /// stop_reason, usage}`.
    /// - Returns: nil when the body has no `content` list (the caller reports a bad response).
    static func decode(_ response: JSONValue, attempts: Int) -> Completion? {
        guard let blocks = response["content"]?.arrayValue else { return nil }
        var completion = Completion(content: "", attempts: attempts)
        var reasoning = ""
        for block in blocks {
            switch block["type"]?.stringValue {
            case "text": completion.content += block["text"]?.stringValue ?? ""
            case "thinking": reasoning += block["thinking"]?.stringValue ?? ""
            case "tool_use":
                completion.toolCalls.append(
                    Completion.ToolCall(
                        id: block["id"]?.stringValue ?? "toolu_\(completion.toolCalls.count)",
                        name: block["name"]?.stringValue ?? "", arguments: Completion.arguments(block["input"])))
            default: break  // redacted_thinking, server tool blocks: nothing Skein shows.
            }
        }
        completion.reasoningContent = reasoning.isEmpty ? nil : reasoning
        completion.finishReason = response["stop_reason"]?.stringValue.map(finishReason)
        completion.model = response["model"]?.stringValue
        completion.usage = usage(response["usage"])
        return completion
    }

    /// The Messages API's `stop_reason` in the Chat Completions' terms, so that templates
    /// and `.finish_reason` read the same whichever API answered: `end_turn` and
    /// `stop_sequence` are `stop`, `max_tokens` is `length`, `tool_use` is `tool_calls`,
    /// `refusal` is `content_filter`; anything else (`pause_turn`, ...) is kept.
    static func finishReason(_ stopReason: String) -> String {
        switch stopReason {
        case "end_turn", "stop_sequence": return "stop"
        case "max_tokens": return "length"
        case "tool_use": return "tool_calls"
        case "refusal": return "content_filter"
        default: return stopReason
        }
    }

    /// `{input_tokens, output_tokens, cache_creation_input_tokens?, cache_read_input_tokens?}`
    /// as Skein's usage: the prompt counts every input token (the API counts cache writes
    /// and reads apart from `input_tokens`), and the cache reads are the cached tokens.
    static func usage(_ value: JSONValue?) -> Completion.Usage? {
        guard let object = value?.objectValue else { return nil }
        let cacheWrites = object["cache_creation_input_tokens"]?.intValue ?? 0
        let cacheReads = object["cache_read_input_tokens"]?.intValue
        return Completion.Usage(
            promptTokens: Completion.Usage.sum(object["input_tokens"]?.intValue ?? 0, cacheWrites, cacheReads ?? 0),
            completionTokens: object["output_tokens"]?.intValue ?? 0, cachedTokens: cacheReads)
    }
}

// MARK: - Errors

extension AnthropicMessages {
    /// What an Anthropic error `type` means, for the error kinds Skein reports: the kind,
    /// the status the type stands for, and whether sending again may help.
    ///
    /// | type | status | kind | retried |
    /// | --- | --- | --- | --- |
    /// | `invalid_request_error`, `request_too_large` | 400, 413 | badRequest | no |
    /// | `authentication_error`, `permission_error` | 401, 403 | invalidAPIKey | no |
    /// | `billing_error` | 402 | insufficientBalance | no |
    /// | `not_found_error` | 404 | modelNotFound | no |
    /// | `rate_limit_error` | 429 | rateLimited | yes (`retry-after`) |
    /// | `api_error` | 500 | serverError | yes |
    /// | `overloaded_error` | 529 | modelNotAvailable | yes |
    static func errorKind(type: String) -> (kind: ProviderError.Kind, status: Int, retryable: Bool)? {
        switch type {
        case "invalid_request_error": return (.badRequest, 400, false)
        case "request_too_large": return (.badRequest, 413, false)
        case "authentication_error": return (.invalidAPIKey, 401, false)
        case "permission_error": return (.invalidAPIKey, 403, false)
        case "billing_error": return (.insufficientBalance, 402, false)
        case "not_found_error": return (.modelNotFound, 404, false)
        case "rate_limit_error": return (.rateLimited, 429, true)
        case "api_error": return (.serverError, 500, true)
        case "overloaded_error": return (.modelNotAvailable, 529, true)
        default: return nil
        }
    }

    /// The error for a response whose status is not a success.
    ///
    /// The body is `{"type": "error", "error": {"type": "rate_limit_error", "message": "..."}}`;
    /// the error's `type` becomes the code, and decides the kind when Skein knows it (529
    /// `overloaded_error` is retried like a 503). Other bodies (a proxy's page, an
    /// OpenAI-shaped error from a compatible server) are read as any provider's.
    static func error(
        provider: ProviderConfiguration, status: Int, reasonPhrase: String, body: some Collection<UInt8>,
        retryAfter: Duration?, apiKey: String?
    ) -> ProviderError {
        var error = ProviderError.response(
            provider: provider, status: status, reasonPhrase: reasonPhrase, body: body, retryAfter: retryAfter,
            apiKey: apiKey)
        guard let json = try? JSONValue(parsing: body), let type = json["error"]?["type"]?.stringValue,
            let known = errorKind(type: type)
        else { return error }
        error.kind = known.kind
        error.code = type
        error.isRetryable =
            known.kind != .badRequest
            && (known.retryable || ProviderError.isRetryable(kind: known.kind, status: status))
        error.hint = ProviderError.hint(for: known.kind, provider: provider)
        return error
    }

    /// The error for an `error` event inside a stream (the HTTP status was 200):
    /// `event: error` / `data: {"type": "error", "error": {"type": "overloaded_error", ...}}`.
    static func streamError(provider: ProviderConfiguration, data: String, apiKey: String?) -> ProviderError {
        var error = ProviderError.streamEvent(provider: provider, data: data, apiKey: apiKey)
        guard let json = try? JSONValue(parsing: data), let type = json["error"]?["type"]?.stringValue,
            let known = errorKind(type: type)
        else { return error }
        error.code = type
        error.isRetryable = known.retryable
        error.hint =
            known.retryable ? nil : "The request was retried as a whole where that could help; this error is final."
        return error
    }

    /// A success status with a body that is not a Messages API reply.
    static func invalidResponse(provider: String, status: Int?, detail: String) -> ProviderError {
        var error = ProviderError.invalidResponse(provider: provider, status: status, detail: detail)
        error.hint =
            "Check that the provider's base_url points at an Anthropic Messages API: the base the Anthropic SDKs "
            + "take, without /v1/messages (e.g. https://api.anthropic.com or https://api.novita.ai/anthropic)."
        return error
    }
}

// MARK: - Streams

/// Assembles a streamed Messages API reply into the same `Completion` the whole reply
/// decodes to, and reports each delta as it comes.
///
/// The events: `message_start` (the model and the input tokens), then per content block
/// `content_block_start`, `content_block_delta` (`text_delta`, `input_json_delta` with a
/// piece of a tool's input JSON, `thinking_delta`; `signature_delta` is ignored) and
/// `content_block_stop`; `message_delta` (the stop reason and the output tokens so far),
/// `message_stop`. `ping` events may come anywhere; an `error` event ends the stream with
/// an error. Unknown events are ignored, as the API asks.
struct AnthropicStreamAssembler: StreamAssembling {
    private struct PartialToolCall {
        var id: String
        var name: String
        var arguments = ""
        /// `input` as `content_block_start` gave it, used when no `input_json_delta` follows.
        var initialInput: String
    }

    private let provider: ProviderConfiguration
    private let apiKey: String?
    private var content = ""
    private var reasoning = ""
    private var toolCalls: [PartialToolCall] = []
    /// Tool calls by the index of their content block.
    private var toolCallByBlock: [Int: Int] = [:]
    private var finishReason: String?
    private var model: String?
    private var usage: JSONValue.JSONObject = [:]
    /// `message_stop` arrived.
    private(set) var isDone = false

    init(provider: ProviderConfiguration, apiKey: String?) {
        self.provider = provider
        self.apiKey = apiKey
    }

    /// After `message_stop`, or after a `message_delta` with the stop reason (from servers
    /// that close the stream without `message_stop`).
    var isComplete: Bool { isDone || finishReason != nil }

    mutating func consume(_ event: SSEEvent) throws(ProviderError) -> [ClientEvent] {
        if event.data.allSatisfy(\.isWhitespace) { return [] }
        guard let json = try? JSONValue(parsing: event.data) else {
            if event.event == "error" {
                throw AnthropicMessages.streamError(provider: provider, data: event.data, apiKey: apiKey)
            }
            throw AnthropicMessages.invalidResponse(
                provider: provider.name, status: 200,
                detail: "a streamed event is not JSON: \(StreamAssembler.excerpt(event.data))")
        }
        switch json["type"]?.stringValue ?? event.event {
        case "error":
            throw AnthropicMessages.streamError(provider: provider, data: event.data, apiKey: apiKey)
        case "message_start":
            if let name = json["message"]?["model"]?.stringValue, !name.isEmpty { model = name }
            mergeUsage(json["message"]?["usage"])
            return []
        case "content_block_start":
            return startBlock(index: json["index"]?.intValue ?? 0, block: json["content_block"] ?? .null)
        case "content_block_delta":
            return applyDelta(index: json["index"]?.intValue ?? 0, delta: json["delta"] ?? .null)
        case "message_delta":
            if let reason = json["delta"]?["stop_reason"]?.stringValue {
                finishReason = AnthropicMessages.finishReason(reason)
            }
            mergeUsage(json["usage"])
            return []
        case "message_stop":
            isDone = true
            return []
        default:
            return []  // ping, content_block_stop, and events added to the API later.
        }
    }

    /// Usage comes in parts: input tokens in `message_start`, cumulative output tokens in
    /// each `message_delta`. Later values replace earlier ones.
    private mutating func mergeUsage(_ value: JSONValue?) {
        guard let object = value?.objectValue else { return }
        for (key, value) in object where !value.isNull { usage[key] = value }
    }

    private mutating func startBlock(index: Int, block: JSONValue) -> [ClientEvent] {
        switch block["type"]?.stringValue {
        case "text":
            return appendText(block["text"]?.stringValue ?? "")
        case "thinking":
            return appendReasoning(block["thinking"]?.stringValue ?? "")
        case "tool_use":
            let position = toolCalls.count
            let id = block["id"]?.stringValue ?? "toolu_\(position)"
            let name = block["name"]?.stringValue ?? ""
            var initial = ""
            if let input = block["input"], input != .object([:]) { initial = Completion.arguments(input) }
            toolCalls.append(PartialToolCall(id: id, name: name, initialInput: initial))
            toolCallByBlock[index] = position
            return [.toolCallDelta(index: position, id: id, name: name, arguments: "")]
        default:
            return []
        }
    }

    private mutating func applyDelta(index: Int, delta: JSONValue) -> [ClientEvent] {
        switch delta["type"]?.stringValue {
        case "text_delta":
            return appendText(delta["text"]?.stringValue ?? "")
        case "thinking_delta":
            return appendReasoning(delta["thinking"]?.stringValue ?? "")
        case "input_json_delta":
            let piece = delta["partial_json"]?.stringValue ?? ""
            guard let position = toolCallByBlock[index], !piece.isEmpty else { return [] }
            toolCalls[position].arguments += piece
            return [.toolCallDelta(index: position, id: nil, name: nil, arguments: piece)]
        default:
            return []  // signature_delta, citations_delta.
        }
    }

    private mutating func appendText(_ text: String) -> [ClientEvent] {
        guard !text.isEmpty else { return [] }
        content += text
        return [.contentDelta(text)]
    }

    private mutating func appendReasoning(_ text: String) -> [ClientEvent] {
        guard !text.isEmpty else { return [] }
        reasoning += text
        return [.reasoningDelta(text)]
    }

    func completion(attempts: Int) -> Completion {
        Completion(
            content: content, reasoningContent: reasoning.isEmpty ? nil : reasoning,
            toolCalls: toolCalls.map { call in
                Completion.ToolCall(
                    id: call.id, name: call.name, arguments: call.arguments.isEmpty ? call.initialInput : call.arguments
                )
            },
            finishReason: finishReason, model: model,
            usage: usage.isEmpty ? nil : AnthropicMessages.usage(.object(usage)), attempts: attempts)
    }
}
