/// A request a provider did not answer with a completion: what it said, in its own code
/// when it gave one, and what to do about it.
///
/// The key never appears here: provider messages are scrubbed of it before they are kept.
public struct ProviderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure it was. New kinds may be added; compare with `==`.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, Hashable {
            case missingAPIKey, invalidAPIKey, insufficientBalance, modelNotFound, rateLimited, modelNotAvailable
            case badRequest, serverError, httpStatus, streamError, timeout, connectionFailed, invalidResponse
            case unsupportedAPI, notFound, batchNotRun
        }
        fileprivate let base: Base
        fileprivate init(_ base: Base) { self.base = base }

        /// The provider's key variable is not set; no request was sent.
        public static let missingAPIKey = Kind(.missingAPIKey)
        /// 401, or 403 other than a balance problem.
        public static let invalidAPIKey = Kind(.invalidAPIKey)
        /// 403 `NOT_ENOUGH_BALANCE`, or OpenAI's 429 `insufficient_quota`.
        public static let insufficientBalance = Kind(.insufficientBalance)
        /// 404.
        public static let modelNotFound = Kind(.modelNotFound)
        /// 429.
        public static let rateLimited = Kind(.rateLimited)
        /// 500 or 503.
        public static let modelNotAvailable = Kind(.modelNotAvailable)
        /// 400 or 422: the provider refused the request as it is.
        public static let badRequest = Kind(.badRequest)
        /// Another 5xx.
        public static let serverError = Kind(.serverError)
        /// Any other status that is not a success.
        public static let httpStatus = Kind(.httpStatus)
        /// An error event inside a streamed reply.
        public static let streamError = Kind(.streamError)
        /// An attempt took longer than its timeout.
        public static let timeout = Kind(.timeout)
        /// The connection could not be made, or dropped before the reply was complete.
        public static let connectionFailed = Kind(.connectionFailed)
        /// A success status with a body that is not a completion.
        public static let invalidResponse = Kind(.invalidResponse)
        /// The provider speaks an API this client does not (yet).
        public static let unsupportedAPI = Kind(.unsupportedAPI)
        /// 404 for a file or batch id the provider does not know (Batch API).
        public static let notFound = Kind(.notFound)
        /// A request in a batch that ended (expired or was cancelled) before the request ran.
        public static let batchNotRun = Kind(.batchNotRun)

        public var description: String { base.rawValue }
    }

    public var kind: Kind
    /// The provider's name, as the pipeline calls it.
    public var provider: String
    /// The HTTP status, when there was a response.
    public var status: Int?
    /// The provider's error code (`INVALID_API_KEY`, `model_not_found`, ...), or Skein's
    /// name for the status when the provider gave none.
    public var code: String?
    /// What the provider said, or what went wrong.
    public var message: String
    /// What to do about it.
    public var hint: String?
    /// Whether sending the same request again may succeed.
    public var isRetryable: Bool
    /// How long the provider asked to wait (`retry-after-ms`, `Retry-After`).
    public var retryAfter: Duration?
    /// The HTTP attempts made before giving up (retries included), for the run's counts.
    public var attempts = 1

    public init(
        kind: Kind, provider: String, status: Int? = nil, code: String? = nil, message: String, hint: String? = nil,
        isRetryable: Bool, retryAfter: Duration? = nil
    ) {
        self.kind = kind
        self.provider = provider
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.isRetryable = isRetryable
        self.retryAfter = retryAfter
    }

    /// `provider 'novita' returned 401 INVALID_API_KEY: Invalid API key. Check the key in NOVITA_API_KEY.`
    public var description: String {
        if kind == .missingAPIKey { return message }
        var text: String
        if let status {
            text = "provider '\(provider)' returned \(status)"
            if let code { text += " \(code)" }
        } else if kind == .streamError {
            text = "provider '\(provider)' sent \(code ?? "an error") in the stream"
        } else {
            text = "provider '\(provider)'"
        }
        text += ": " + Self.sentence(message)
        if let hint { text += " " + hint }
        return text
    }

    /// Ends a message with a full stop unless it already ends a sentence.
    private static func sentence(_ message: String) -> String {
        guard let last = message.last else { return message }
        return ".!?".contains(last) ? message : message + "."
    }
}

extension ProviderError {
    /// The provider needs a key and its variable is not set.
    public static func missingAPIKey(provider: String, variable: String) -> ProviderError {
        ProviderError(
            kind: .missingAPIKey, provider: provider, code: "MISSING_API_KEY",
            message: "\(variable) is not set; export it or choose another provider with --provider",
            hint: nil, isRetryable: false)
    }

    /// An attempt took longer than `timeout`.
    public static func timeout(provider: String, after timeout: Duration) -> ProviderError {
        ProviderError(
            kind: .timeout, provider: provider, code: "TIMEOUT",
            message: "no complete reply within \(Self.seconds(timeout))",
            hint: "Raise the step's timeout if the model needs longer.", isRetryable: true)
    }

    /// The connection failed or dropped before the reply was complete.
    public static func connectionFailed(provider: String, detail: String) -> ProviderError {
        ProviderError(
            kind: .connectionFailed, provider: provider, code: "CONNECTION_FAILED", message: detail,
            hint: provider == "local"
                ? "Is the local model running? Start it with scripts/local-model start."
                : "Check that the provider's base_url is right and the server is up.",
            isRetryable: true)
    }

    /// The TLS handshake failed: the server's certificate is not trusted, or the server does
    /// not speak TLS at all. Not retried: another attempt meets the same certificate.
    public static func tlsFailed(provider: String, detail: String, certificateRejected: Bool) -> ProviderError {
        ProviderError(
            kind: .connectionFailed, provider: provider,
            code: certificateRejected ? "TLS_CERTIFICATE_REJECTED" : "TLS_HANDSHAKE_FAILED",
            message: certificateRejected ? "the server's TLS certificate is not trusted (\(detail))" : "the TLS handshake failed (\(detail))",
            hint: certificateRejected
                ? "If the server's certificate comes from a private or self-signed authority, give that authority's PEM file as the provider's ca_file."
                : "Check that the server speaks HTTPS at that port; a plain-HTTP server needs an http:// base_url.",
            isRetryable: false)
    }

    /// The provider's base URL does not make a valid request URL.
    public static func invalidURL(provider: String, url: String) -> ProviderError {
        ProviderError(
            kind: .connectionFailed, provider: provider, code: "INVALID_URL", message: "'\(url)' is not a valid URL",
            hint: "Check the provider's base_url.", isRetryable: false)
    }

    /// A success status whose body is not what the API returns.
    /// - Parameter isRetryable: true for a body cut short (not JSON at all), which a proxy or
    ///   a dropped connection can cause and a second attempt may not; false for a whole body
    ///   of the wrong shape, which another attempt would only repeat.
    public static func invalidResponse(provider: String, status: Int?, detail: String, isRetryable: Bool = false)
        -> ProviderError
    {
        ProviderError(
            kind: .invalidResponse, provider: provider, status: status, code: "INVALID_RESPONSE", message: detail,
            hint: "Check that the provider's base_url points at an OpenAI-compatible API.", isRetryable: isRetryable)
    }

    /// The provider's `kind` is an API this client does not speak.
    public static func unsupportedAPI(provider: String, kind: String) -> ProviderError {
        ProviderError(
            kind: .unsupportedAPI, provider: provider, code: "UNSUPPORTED_API",
            message: "this client speaks the OpenAI-compatible API, not '\(kind)'",
            hint: "Use an OpenAI-compatible endpoint for this provider.", isRetryable: false)
    }

    /// A request for an endpoint the provider's `type` does not have (a Chat Completions
    /// request for an Anthropic provider, or a Messages API request for an OpenAI-compatible one).
    public static func wrongAPI(provider: String, kind: ProviderConfiguration.Kind, api: CompletionAPI)
        -> ProviderError
    {
        let speaks = kind == .anthropic ? "the Anthropic Messages API" : "the OpenAI-compatible API"
        return ProviderError(
            kind: .unsupportedAPI, provider: provider, code: "UNSUPPORTED_API",
            message: "its type '\(kind.rawValue)' speaks \(speaks), and this request is for \(api.path)",
            hint: kind == .anthropic
                ? "Build the request with CompletionRequest.messages, or use an OpenAI-compatible provider."
                : "Build the request with CompletionRequest.chat, or give the provider 'type: anthropic'.",
            isRetryable: false)
    }

    /// Says that the provider refused for longer than its `rate_limit_patience`, and what to
    /// set so the run can go through.
    mutating func spentPatience(provider: String, answers: Int, waited: Duration, patience: Duration) {
        let what = kind == .rateLimited ? "429 (rate limited)" : "\(status.map(String.init) ?? "") (overloaded)"
        message += "; answered \(what) \(answers) time\(answers == 1 ? "" : "s") over \(Self.seconds(waited)), "
            + "past rate_limit_patience (\(Self.seconds(patience)))"
        hint = "Provider '\(provider)' kept refusing for longer than its rate_limit_patience. Set its requests_per_minute "
            + "(or tokens_per_minute) to its real limit so Skein paces under it, lower --concurrency or its "
            + "max_concurrency, or raise rate_limit_patience; then run again (finished steps come from the store)."
    }

    /// A retryable answer that means "not now": 429 (rate limited), 503 or 529 (overloaded).
    /// Retried for the provider's `rate_limit_patience` rather than a count of retries.
    public var isBackPressure: Bool {
        isRetryable && (kind == .rateLimited || status == 503 || status == 529 || code == "overloaded_error")
    }

    static func seconds(_ duration: Duration) -> String {
        let seconds = duration.inSeconds
        if seconds == seconds.rounded() { return "\(Int(seconds)) s" }
        return "\((seconds * 1000).rounded() / 1000) s"
    }
}
