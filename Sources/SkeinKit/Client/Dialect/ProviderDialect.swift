import NIOCore
import NIOHTTP1

/// One wire format a provider speaks: how a rendered step becomes a request body and
/// headers, and how replies, error bodies and stream events become a `Completion` or a
/// `ProviderError`.
///
/// The transport (`ProviderTransport`) owns everything that is the same for every format —
/// keys, retries, pools, rate limits, timeouts — and asks the provider's dialect for the
/// rest, so adding a third API is a new dialect and a `ProviderConfiguration.Kind` case:
/// the scheduler, the step runner and the transport stay as they are.
protocol ProviderDialect: Sendable {
    associatedtype Assembler: StreamAssembling

    // MARK: Requests

    /// Whether the API takes a `response_format`; without one, structured output is asked
    /// for in the system prompt only (and the reply is validated and repaired the same way).
    var takesResponseFormat: Bool { get }

    /// Whether the API has the legacy text completions endpoint (`api: completion`).
    var hasLegacyCompletions: Bool { get }

    /// A chat request in this format.
    func chatRequest(_ chat: ChatRequest) -> CompletionRequest

    /// `GET` URL of the provider's model list.
    func modelsURL(baseURL: String) -> String

    /// The request headers: the key where this API wants it, the provider's own headers.
    func headers(for provider: ProviderConfiguration, apiKey: String?, streaming: Bool, userAgent: String) -> HTTPHeaders

    // MARK: Replies

    /// A whole (not streamed) reply with a success status.
    /// - Throws: `ProviderError` (`invalidResponse`) when the body is not a reply.
    func decodeReply(_ body: ByteBuffer, status: Int, provider: ProviderConfiguration, apiKey: String?) throws -> Completion

    /// The error for a response whose status is not a success.
    func error(
        provider: ProviderConfiguration, status: Int, reasonPhrase: String, body: ByteBufferView, retryAfter: Duration?,
        apiKey: String?
    ) -> ProviderError

    /// A fresh assembler for one streamed reply.
    func streamAssembler(provider: ProviderConfiguration, apiKey: String?) -> Assembler

    /// Whether the provider refused a request because it does not take structured output
    /// through `response_format: json_schema` (the runner then asks with `json_object`).
    func refusesJSONSchema(_ error: ProviderError) -> Bool
}

/// A chat request before it is put in a wire format: rendered messages, sampling, the
/// structured-output and tool settings in the OpenAI shape Skein's pipeline format uses.
struct ChatRequest: Sendable {
    var model: String
    var messages: [ChatMessage]
    var sampling: SamplingParameters
    /// `{type: json_object | json_schema, ...}`; nil for text (and for dialects without one).
    var responseFormat: JSONValue?
    /// `[{type: function, function: {name, description, parameters}}]`.
    var tools: JSONValue?
    /// `auto`, `none`, `required` or a tool's name, as written in the pipeline.
    var toolChoice: JSONValue?
    var extra: JSONValue.JSONObject
    var stream: Bool
}

extension ProviderConfiguration {
    /// The wire format of this provider's API.
    var dialect: any ProviderDialect {
        switch kind {
        case .openai: return OpenAICompatibleDialect()
        case .anthropic: return AnthropicDialect()
        }
    }
}
