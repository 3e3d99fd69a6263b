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
    /// A PEM file of certificates trusted for this provider's HTTPS connections besides the
    /// system's roots: a server with a private or self-signed certificate authority (a local
    /// server behind TLS, a company proxy). An absolute path; the pipeline's `ca_file` is
    /// resolved against the pipeline file.
    public var caFile: String?
    /// How long a request keeps being retried while the provider answers 429 (rate limited)
    /// or 503/529 (overloaded): such answers say "not now", not "no", so they are retried for
    /// this long whatever the step's `retries`; nil for `defaultRateLimitPatience`.
    public var rateLimitPatience: Duration?
    /// Prices in USD per million tokens, by model id (`"*"` for any other model), for the
    /// cost in summaries, `runs`, reports, `skein test`, `max_cost` and `--max-cost`. They win
    /// over prices from the provider's model list (SkeinKit's `PriceBook`).
    public var pricing: [String: Price] = [:]

    /// What a model's tokens cost, in USD per million.
    public struct Price: Sendable, Hashable {
        public var inputPerMillion: Double
        public var outputPerMillion: Double
        /// Prompt tokens the provider served from its cache; `inputPerMillion` when unset.
        public var cachedInputPerMillion: Double?

        public init(inputPerMillion: Double, outputPerMillion: Double, cachedInputPerMillion: Double? = nil) {
            self.inputPerMillion = inputPerMillion
            self.outputPerMillion = outputPerMillion
            self.cachedInputPerMillion = cachedInputPerMillion
        }

        /// The cost of a reply's tokens: cached prompt tokens at their price, the rest of the
        /// prompt at the input price, the completion at the output price.
        public func cost(promptTokens: Int, completionTokens: Int, cachedTokens: Int = 0) -> Double {
            let cached = min(max(cachedTokens, 0), promptTokens)
            return (Double(promptTokens - cached) * inputPerMillion + Double(cached) * (cachedInputPerMillion ?? inputPerMillion)
                + Double(completionTokens) * outputPerMillion) / 1_000_000
        }
    }

    /// The price of `model`: its own entry, else `"*"`.
    public func price(of model: String?) -> Price? {
        if let model, let price = pricing[model] { return price }
        return pricing["*"]
    }

    /// Ten minutes: long enough to wait out a provider's per-minute window several times, short
    /// enough that a run against a provider that will not serve it ends the same hour.
    public static let defaultRateLimitPatience: Duration = .seconds(600)

    public init(
        name: String, kind: Kind = .openai, baseURL: String, apiKeyEnvironmentVariable: String? = nil,
        maxConcurrency: Int? = nil, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil,
        structuredOutputs: StructuredOutputMode = .jsonSchema, headers: [String: String] = [:], caFile: String? = nil,
        rateLimitPatience: Duration? = nil
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
        self.caFile = caFile
        self.rateLimitPatience = rateLimitPatience
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
            "local": {
                var local = ProviderConfiguration(
                    name: "local", baseURL: "http://127.0.0.1:8080/v1", apiKeyEnvironmentVariable: nil,
                    structuredOutputs: .jsonObject)
                // A model on this machine costs nothing per token.
                local.pricing = ["*": Price(inputPerMillion: 0, outputPerMillion: 0)]
                return local
            }(),
        ]
    }

    /// Why `url` cannot be a provider's base URL, or nil when it can: it must be an http or
    /// https URL with a host and, where it names a port, a port from 1 to 65535 (a larger
    /// one crashed AsyncHTTPClient, and one past 65535 by a multiple wrapped around).
    public static func baseURLProblem(_ url: String) -> String? {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = parsed.host, !host.isEmpty
        else { return "must be an http or https URL, got '\(url)'" }
        return portProblem(url)
    }

    /// Why the port `url` names is not one, or nil (also when it names none).
    public static func portProblem(_ url: String) -> String? {
        // The port as written: Foundation reads `:99999999999999999999` as no port at all.
        let afterScheme = url[(url.range(of: "://")?.upperBound ?? url.startIndex)...]
        var authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if let bracket = authority.lastIndex(of: "]") { authority = authority[authority.index(after: bracket)...] }
        if let colon = authority.lastIndex(of: ":") {
            let digits = authority[authority.index(after: colon)...]
            guard !digits.isEmpty else { return nil }
            guard let port = Int(digits), (1...65535).contains(port) else {
                return "has the port '\(digits)'; a port is a number from 1 to 65535"
            }
        }
        return nil
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
