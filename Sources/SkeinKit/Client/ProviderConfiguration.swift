import Foundation

/// An endpoint Skein can call: where it is, which API dialect it speaks, where its key
/// comes from, and the limits every step using it shares.
///
/// The key itself is never stored here: only the name of the environment variable it is
/// read from, so a configuration can be printed, logged or stored without leaking it.
public struct ProviderConfiguration: Sendable, Hashable {
    /// The wire protocol a provider speaks.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// OpenAI-compatible `/chat/completions`, `/completions`, `/models`.
        case openai
        /// Anthropic Messages API (`/v1/messages`).
        case anthropic
    }

    /// How the provider accepts structured-output requests.
    public enum StructuredOutputMode: String, Sendable, Hashable, CaseIterable {
        /// `response_format: {type: json_schema, json_schema: {...}}` (try first; fall back on rejection).
        case jsonSchema = "json_schema"
        /// `response_format: {type: json_object}` plus the schema in the system message.
        case jsonObject = "json_object"
    }

    public var name: String
    public var kind: Kind
    /// Base URL without a trailing slash, e.g. `https://api.novita.ai/v3/openai`.
    public var baseURL: String
    /// The environment variable holding the API key; nil for keyless endpoints.
    public var apiKeyEnvironmentVariable: String?
    public var maxConcurrency: Int?
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var structuredOutputs: StructuredOutputMode
    /// Extra HTTP headers sent with every request (never secrets: those come from the environment).
    public var headers: [String: String]

    public init(
        name: String, kind: Kind = .openai, baseURL: String, apiKeyEnvironmentVariable: String? = nil,
        maxConcurrency: Int? = nil, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil,
        structuredOutputs: StructuredOutputMode = .jsonSchema, headers: [String: String] = [:]
    ) {
        self.name = name
        self.kind = kind
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.apiKeyEnvironmentVariable = apiKeyEnvironmentVariable
        self.maxConcurrency = maxConcurrency
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.structuredOutputs = structuredOutputs
        self.headers = headers
    }

    /// The built-in providers. `openai` reads its base URL from `OPENAI_BASE_URL` when set.
    public static func builtIns(environment: [String: String] = ProcessInfo.processInfo.environment)
        -> [String: ProviderConfiguration]
    {
        [
            "novita": ProviderConfiguration(
                name: "novita", baseURL: "https://api.novita.ai/v3/openai", apiKeyEnvironmentVariable: "NOVITA_API_KEY"),
            "openai": ProviderConfiguration(
                name: "openai", baseURL: environment["OPENAI_BASE_URL"] ?? "https://api.openai.com/v1",
                apiKeyEnvironmentVariable: "OPENAI_API_KEY"),
            "local": ProviderConfiguration(
                name: "local", baseURL: "http://127.0.0.1:8080/v1", apiKeyEnvironmentVariable: nil,
                structuredOutputs: .jsonObject),
        ]
    }

    /// Reads the API key from the environment.
    /// - Returns: nil when the provider needs no key; throws a located-free error naming the
    ///   variable when it needs one that is not set.
    public func apiKey(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let variable = apiKeyEnvironmentVariable else { return nil }
        guard let key = environment[variable], !key.isEmpty else { return nil }
        return key
    }
}
