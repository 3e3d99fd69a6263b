import NIOCore
import NIOHTTP1

/// The OpenAI-compatible API (Chat Completions and legacy Completions): Novita, OpenAI,
/// llama.cpp's and vLLM's servers, and most others.
struct OpenAICompatibleDialect: ProviderDialect {
    var takesResponseFormat: Bool { true }
    var hasLegacyCompletions: Bool { true }

    func chatRequest(_ chat: ChatRequest) -> CompletionRequest {
        var toolChoice = chat.toolChoice
        if case .string(let name)? = toolChoice, !["auto", "none", "required"].contains(name) {
            toolChoice = ["type": "function", "function": ["name": .string(name)]]
        }
        return .chat(
            model: chat.model, messages: chat.messages, sampling: chat.sampling, responseFormat: chat.responseFormat,
            tools: chat.tools, toolChoice: toolChoice, extra: chat.extra, stream: chat.stream)
    }

    func modelsURL(baseURL: String) -> String { baseURL + "/models" }

    func headers(for provider: ProviderConfiguration, apiKey: String?, streaming: Bool, userAgent: String) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(5 + provider.headers.count)
        headers.add(name: "user-agent", value: userAgent)
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "accept", value: streaming ? "text/event-stream" : "application/json")
        if !provider.headers.isEmpty {
            for (name, value) in provider.headers.sorted(by: { $0.key < $1.key }) {
                headers.replaceOrAdd(name: name, value: value)
            }
        }
        if let apiKey { headers.replaceOrAdd(name: "authorization", value: "Bearer \(apiKey)") }
        return headers
    }

    func decodeReply(_ body: ByteBuffer, status: Int, provider: ProviderConfiguration, apiKey: String?) throws -> Completion {
        // The common reply shape decodes straight from the bytes; anything else goes
        // through the JSON tree.
        if let completion = body.withUnsafeReadableBytes({ Completion.decodeDirectly($0.assumingMemoryBound(to: UInt8.self)) }) {
            return completion
        }
        guard let json = try? JSONValue(parsing: body.readableBytesView) else {
            throw ProviderError.invalidResponse(
                provider: provider.name, status: status,
                detail: "the reply is not JSON: \(StreamAssembler.excerpt(String(buffer: body)))", isRetryable: true)
        }
        guard let completion = Completion.decode(json, attempts: 1) else {
            let fields = ErrorFields(body: body.readableBytesView)
            throw ProviderError.invalidResponse(
                provider: provider.name, status: status,
                detail: ProviderError.redact(fields.message ?? "the reply has no choices", apiKey: apiKey))
        }
        return completion
    }

    func error(
        provider: ProviderConfiguration, status: Int, reasonPhrase: String, body: ByteBufferView, retryAfter: Duration?,
        apiKey: String?
    ) -> ProviderError {
        ProviderError.response(
            provider: provider, status: status, reasonPhrase: reasonPhrase, body: body, retryAfter: retryAfter, apiKey: apiKey)
    }

    func streamAssembler(provider: ProviderConfiguration, apiKey: String?) -> StreamAssembler {
        StreamAssembler(provider: provider, apiKey: apiKey)
    }

    /// Seen on llama-cpp-python's server: HTTP 500 "Input should be 'text' or 'json_object'";
    /// others answer 400 or 422 naming `json_schema` or `response_format`. The error's text is
    /// all these servers give, so it is read here, in the one place that knows the format.
    func refusesJSONSchema(_ error: ProviderError) -> Bool {
        guard let status = error.status, [400, 422, 500].contains(status) else { return false }
        let message = error.message.lowercased()
        return message.contains("json_schema") || message.contains("'text' or 'json_object'")
            || message.contains("response_format")
    }
}
