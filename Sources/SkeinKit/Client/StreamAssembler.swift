/// Turns the events of a streamed reply into a `Completion`, one per API dialect:
/// `StreamAssembler` (OpenAI-compatible chunks) and `AnthropicStreamAssembler` (Messages API events).
protocol StreamAssembling {
    /// The stream said it is over (`[DONE]`, `message_stop`); what follows is ignored.
    var isDone: Bool { get }
    /// Whether the stream may end here; one that ends otherwise was cut off.
    var isComplete: Bool { get }
    /// Takes the next event.
    /// - Returns: the deltas it carried, to pass on as they come.
    /// - Throws: `ProviderError` for an error event or an event that cannot be read.
    mutating func consume(_ event: SSEEvent) throws(ProviderError) -> [ClientEvent]
    /// The reply so far.
    func completion(attempts: Int) -> Completion
}

/// Assembles a streamed reply (Chat Completions or Completions chunks) into the same
/// `Completion` the non-streamed reply decodes to, and reports each delta as it comes.
///
/// Tool calls arrive in pieces keyed by `index`: the first carries `id` and `name`, later
/// ones more of the `arguments` text. Usage comes in a last chunk with no choices when
/// the request asked for it (`stream_options.include_usage`); a stream without it (such
/// as llama-cpp-python's, which ignores the option) gets a usage counted from its chunks.
struct StreamAssembler: StreamAssembling {
    private struct PartialToolCall {
        var id: String?
        var name = ""
        var arguments = ""
    }

    private let provider: ProviderConfiguration
    private let apiKey: String?
    private var content = ""
    private var reasoning = ""
    private var toolCalls: [Int: PartialToolCall] = [:]
    private var lastToolCallIndex: Int?
    private var finishReason: String?
    private var model: String?
    private var usage: Completion.Usage?
    /// Chunks that carried text, reasoning or tool-call arguments: the output's token count
    /// where the provider reports none (llama.cpp's server sends one chunk per token).
    private var textChunks = 0
    /// `data: [DONE]` arrived.
    private(set) var isDone = false

    init(provider: ProviderConfiguration, apiKey: String?) {
        self.provider = provider
        self.apiKey = apiKey
    }

    /// Whether the stream may end here: after `[DONE]`, or, from servers that do not send
    /// it, after a choice said why it finished. A stream that ends otherwise was cut off.
    var isComplete: Bool { isDone || finishReason != nil }

    /// Takes the next event.
    /// - Returns: the deltas it carried, to pass on as they come.
    /// - Throws: `ProviderError` for an error event or a chunk that is not JSON.
    mutating func consume(_ event: SSEEvent) throws(ProviderError) -> [ClientEvent] {
        if event.event == "error" {
            throw ProviderError.streamEvent(provider: provider, data: event.data, apiKey: apiKey)
        }
        let data = event.data
        if data.hasPrefix("[DONE]") {
            isDone = true
            return []
        }
        if data.allSatisfy(\.isWhitespace) { return [] }
        guard let chunk = try? JSONValue(parsing: data) else {
            throw ProviderError.invalidResponse(
                provider: provider.name, status: 200, detail: "a streamed chunk is not JSON: \(Self.excerpt(data))")
        }
        if let error = chunk["error"], !error.isNull {
            throw ProviderError.streamEvent(provider: provider, data: data, apiKey: apiKey)
        }
        return apply(chunk)
    }

    private mutating func apply(_ chunk: JSONValue) -> [ClientEvent] {
        var events: [ClientEvent] = []
        if let name = chunk["model"]?.stringValue, !name.isEmpty { model = name }
        if let decoded = Completion.Usage(decoding: chunk["usage"]) { usage = decoded }
        for choice in chunk["choices"]?.arrayValue ?? [] {
            // Skein asks for one choice; ignore others a provider sends anyway.
            if let index = choice["index"]?.intValue, index != 0 { continue }
            if let delta = choice["delta"] {
                if let text = Completion.text(delta["content"]), !text.isEmpty {
                    content += text
                    events.append(.contentDelta(text))
                }
                if let text = delta["reasoning_content"]?.stringValue ?? delta["reasoning"]?.stringValue, !text.isEmpty {
                    reasoning += text
                    events.append(.reasoningDelta(text))
                }
                for call in delta["tool_calls"]?.arrayValue ?? [] {
                    events.append(applyToolCall(call))
                }
            } else if let text = choice["text"]?.stringValue, !text.isEmpty {
                content += text
                events.append(.contentDelta(text))
            }
            if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
        }
        if !events.isEmpty { textChunks += 1 }
        return events
    }

    private mutating func applyToolCall(_ call: JSONValue) -> ClientEvent {
        let id = call["id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        let index: Int
        if let given = call["index"]?.intValue {
            index = given
        } else if let id, !toolCalls.values.contains(where: { $0.id == id }) {
            // No index: a new id starts a new call, anything else continues the last one.
            index = toolCalls.count
        } else {
            index = lastToolCallIndex ?? 0
        }
        lastToolCallIndex = index
        var partial = toolCalls[index] ?? PartialToolCall()
        if let id, partial.id == nil { partial.id = id }
        let name = call["function"]?["name"]?.stringValue
        // Most servers send the name once; some repeat it in every piece, which must not double it.
        if let name, !name.isEmpty, name != partial.name { partial.name += name }
        let arguments = Completion.arguments(call["function"]?["arguments"])
        partial.arguments += arguments
        toolCalls[index] = partial
        return .toolCallDelta(index: index, id: id, name: name, arguments: arguments)
    }

    /// The reply so far as a `Completion`.
    func completion(attempts: Int) -> Completion {
        Completion(
            content: content, reasoningContent: reasoning.isEmpty ? nil : reasoning,
            toolCalls: toolCalls.keys.sorted().compactMap { index in
                toolCalls[index].map {
                    Completion.ToolCall(id: $0.id ?? "call_\(index)", name: $0.name, arguments: $0.arguments)
                }
            },
            finishReason: finishReason, model: model, usage: usage ?? .countedFromStream(chunks: textChunks),
            attempts: attempts)
    }

    static func excerpt(_ text: String) -> String {
        text.count > 120 ? String(text.prefix(120)) + "…" : text
    }
}
