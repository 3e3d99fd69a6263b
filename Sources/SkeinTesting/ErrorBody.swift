/// The JSON body of an error answer, in one of the two shapes providers use.
///
/// - `openAI`: `{"error":{"message":"…","type":"…","code":"…"}}` (`code` may be `null`).
/// - `flat`: `{"code":429,"reason":"RATE_LIMIT_EXCEEDED","message":"…","metadata":{}}`, Novita AI's
///   shape, where `code` is the HTTP status and `reason` the provider's code.
public struct ErrorBody: Sendable, Equatable {
    public enum Shape: Sendable, Equatable {
        case openAI
        case flat
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
