/// The JSON body of an error answer, in one of the shapes providers use.
///
/// - `openAI`: `{"error":{"message":"…","type":"…","code":"…"}}` (`code` may be `null`).
/// - `flat`: `{"code":429,"reason":"RATE_LIMIT_EXCEEDED","message":"…","metadata":{}}`, Novita AI's
///   shape, where `code` is the HTTP status and `reason` the provider's code.
/// - `anthropic`: `{"type":"error","error":{"type":"rate_limit_error","message":"…"}}`, the
///   Messages API's shape; `type` is one of Anthropic's error types (see ``anthropicType(status:)``)
///   and there is no `code`.
public struct ErrorBody: Sendable, Equatable {
    public enum Shape: Sendable, Equatable {
        case openAI
        case flat
        case anthropic
    }

    public var message: String
    /// OpenAI's `type` (`rate_limit_error`, `server_error`, …).
    public var type: String
    /// The provider's code (`RATE_LIMIT_EXCEEDED`, `INVALID_API_KEY`, …); in the flat shape
    /// it is the `reason` (the upper-cased `type` when `nil`).
    public var code: String?
    public var shape: Shape

    public init(message: String, type: String = "server_error", code: String? = nil, shape: Shape = .openAI) {
        self.message = message
        self.type = type
        self.code = code
        self.shape = shape
    }

    /// An error body whose `type` (and for 401 and 429, `code`) follow from the status.
    public init(status: Int, message: String, type: String? = nil, code: String? = nil, shape: Shape = .openAI) {
        let defaults = Self.defaults(forStatus: status)
        self.init(message: message, type: type ?? defaults.type, code: code ?? defaults.code, shape: shape)
    }

    /// `{"error":{"message":"Rate limit exceeded","type":"rate_limit_error","code":"RATE_LIMIT_EXCEEDED"}}`.
    public static func rateLimitExceeded(shape: Shape = .openAI) -> ErrorBody {
        ErrorBody(message: "Rate limit exceeded", type: "rate_limit_error", code: "RATE_LIMIT_EXCEEDED", shape: shape)
    }

    /// The body as JSON, for an answer with the given HTTP status.
    public func json(status: Int) -> TestJSON {
        switch shape {
        case .openAI:
            return [
                "error": [
                    "message": .string(message),
                    "type": .string(type),
                    "code": code.map(TestJSON.string) ?? .null,
                ]
            ]
        case .flat:
            return [
                "code": .int(status),
                "reason": .string(code ?? type.uppercased()),
                "message": .string(message),
                "metadata": [:],
            ]
        case .anthropic:
            return ["type": "error", "error": ["type": .string(anthropicType(status: status)), "message": .string(message)]]
        }
    }

    /// The error types of the Anthropic Messages API.
    static let anthropicTypes: Set<String> = [
        "invalid_request_error", "authentication_error", "permission_error", "billing_error", "not_found_error",
        "request_too_large", "rate_limit_error", "api_error", "overloaded_error",
    ]

    /// ``type`` when it is one of Anthropic's error types, else the one the status stands for:
    /// 400 `invalid_request_error`, 401 `authentication_error`, 402 `billing_error`,
    /// 403 `permission_error`, 404 `not_found_error`, 413 `request_too_large`,
    /// 429 `rate_limit_error`, 503 and 529 `overloaded_error`, other 5xx `api_error`.
    public func anthropicType(status: Int) -> String {
        if Self.anthropicTypes.contains(type) { return type }
        switch status {
        case 401: return "authentication_error"
        case 402: return "billing_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 413: return "request_too_large"
        case 429: return "rate_limit_error"
        case 503, 529: return "overloaded_error"
        case 500...599: return "api_error"
        default: return "invalid_request_error"
        }
    }

    /// The status an Anthropic error type stands for (500 for an unknown type).
    static func anthropicStatus(type: String) -> Int {
        switch type {
        case "invalid_request_error": return 400
        case "authentication_error": return 401
        case "billing_error": return 402
        case "permission_error": return 403
        case "not_found_error": return 404
        case "request_too_large": return 413
        case "rate_limit_error": return 429
        case "overloaded_error": return 529
        default: return 500
        }
    }

    static func defaults(forStatus status: Int) -> (type: String, code: String?) {
        switch status {
        case 400: return ("invalid_request_error", nil)
        case 401: return ("authentication_error", "INVALID_API_KEY")
        case 403: return ("permission_error", nil)
        case 404: return ("not_found_error", nil)
        case 408: return ("timeout_error", nil)
        case 413: return ("invalid_request_error", nil)
        case 429: return ("rate_limit_error", "RATE_LIMIT_EXCEEDED")
        default: return (status >= 500 ? "server_error" : "invalid_request_error", nil)
        }
    }
}
