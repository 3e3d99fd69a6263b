import NIOCore
import NIOHTTP1

/// The Anthropic Messages API (`type: anthropic`); the mapping to and from the OpenAI shape
/// is described in `AnthropicMessages`.
struct AnthropicDialect: ProviderDialect {
    /// The Messages API has no response format: the schema goes into the system prompt.
    var takesResponseFormat: Bool { false }
    var hasLegacyCompletions: Bool { false }

    func chatRequest(_ chat: ChatRequest) -> CompletionRequest {
        .messages(
            model: chat.model, messages: chat.messages, sampling: chat.sampling, tools: chat.tools,
            toolChoice: chat.toolChoice, extra: chat.extra, stream: chat.stream)
    }

    func modelsURL(baseURL: String) -> String { AnthropicMessages.url(baseURL: baseURL, path: "models") }

    func headers(for provider: ProviderConfiguration, apiKey: String?, streaming: Bool, userAgent: String) -> HTTPHeaders {
        AnthropicMessages.headers(for: provider, apiKey: apiKey, streaming: streaming, userAgent: userAgent)
    }

    func decodeReply(_ body: ByteBuffer, status: Int, provider: ProviderConfiguration, apiKey: String?) throws -> Completion {
        guard let json = try? JSONValue(parsing: body.readableBytesView) else {
            throw AnthropicMessages.invalidResponse(
                provider: provider.name, status: status,
                detail: "the reply is not JSON: \(StreamAssembler.excerpt(String(buffer: body)))")
        }
        guard let completion = AnthropicMessages.decode(json, attempts: 1) else {
            let fields = ErrorFields(body: body.readableBytesView)
            throw AnthropicMessages.invalidResponse(
                provider: provider.name, status: status,
                detail: ProviderError.redact(fields.message ?? "the reply has no content", apiKey: apiKey))
        }
        return completion
    }

    func error(
        provider: ProviderConfiguration, status: Int, reasonPhrase: String, body: ByteBufferView, retryAfter: Duration?,
        apiKey: String?
    ) -> ProviderError {
        AnthropicMessages.error(
            provider: provider, status: status, reasonPhrase: reasonPhrase, body: body, retryAfter: retryAfter, apiKey: apiKey)
    }

    func streamAssembler(provider: ProviderConfiguration, apiKey: String?) -> AnthropicStreamAssembler {
        AnthropicStreamAssembler(provider: provider, apiKey: apiKey)
    }

    /// Never asked for `json_schema`, so never refuses it.
    func refusesJSONSchema(_ error: ProviderError) -> Bool { false }
}
