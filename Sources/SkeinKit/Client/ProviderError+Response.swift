import Foundation

/// Reading a provider's error out of an HTTP response or a stream event.
///
/// Two shapes are common: OpenAI's `{"error": {"message", "type", "code"}}` and the flat
/// `{"code", "reason", "message"}` that Novita and others send. Anything else (an HTML
/// page from a proxy, plain text) still gives an error with the status and a readable line.
extension ProviderError {
    /// The error for a response with a status that is not a success.
    /// - Parameters:
    ///   - provider: the provider that answered; its key variable goes into the hint.
    ///   - status: the HTTP status.
    ///   - reasonPhrase: the status's reason phrase, used when the body says nothing readable.
    ///   - body: the response body.
    ///   - retryAfter: the wait the response asked for, if any.
    ///   - apiKey: the key that was sent, scrubbed from the provider's message should it echo it.
    static func response(
        provider: ProviderConfiguration, status: Int, reasonPhrase: String, body: some Collection<UInt8>,
        retryAfter: Duration?, apiKey: String?
    ) -> ProviderError {
        let fields = ErrorFields(body: body)
        let message = redact(fields.message ?? reasonPhrase, apiKey: apiKey)
        var kind = classify(status: status, code: fields.code)
        if (500...599).contains(status) && rejectsRequest(message) { kind = .badRequest }
        let code = fields.code ?? defaultCode(status: status)
        return ProviderError(
            kind: kind, provider: provider.name, status: status, code: code, message: message,
            hint: hint(for: kind, provider: provider),
            isRetryable: kind != .badRequest && isRetryable(kind: kind, status: status), retryAfter: retryAfter)
    }

    /// The error for an error event inside a streamed reply (`data: {"error": ...}` or
    /// `event: error`). The HTTP status was a success; the event may carry its own.
    static func streamEvent(provider: ProviderConfiguration, data: String, apiKey: String?) -> ProviderError {
        let fields = ErrorFields(body: Array(data.utf8))
        let message = redact(fields.message ?? "the stream reported an error", apiKey: apiKey)
        let retryable: Bool
        if let status = fields.status {
            retryable = isRetryable(kind: classify(status: status, code: fields.code), status: status)
        } else {
            let code = (fields.code ?? "").lowercased()
            retryable = ["rate_limit", "server_error", "overloaded", "unavailable", "timeout", "internal"]
                .contains { code.contains($0) }
        }
        let code = fields.code ?? fields.status.flatMap(defaultCode(status:))
        return ProviderError(
            kind: .streamError, provider: provider.name, code: code, message: message,
            hint: retryable ? nil : "The request was retried as a whole where that could help; this error is final.",
            isRetryable: retryable)
    }

    static func classify(status: Int, code: String?) -> Kind {
        let upper = code?.uppercased() ?? ""
        if status == 402 || ["BALANCE", "QUOTA", "BILLING", "CREDIT"].contains(where: upper.contains) {
            return .insufficientBalance
        }
        switch status {
        case 400, 422: return .badRequest
        case 401, 403: return .invalidAPIKey
        case 404: return .modelNotFound
        case 429: return .rateLimited
        case 500, 503: return .modelNotAvailable
        case 500...599: return .serverError
        default: return .httpStatus
        }
    }

    /// A 5xx is not always transient: llama-cpp-python's server answers a request body its
    /// validation rejects (`response_format: json_schema`) with HTTP 500 and a pydantic
    /// message ("Input should be 'text' or 'json_object'"). Sending it again cannot help.
    static func rejectsRequest(_ message: String) -> Bool {
        message.contains("Input should be") || message.contains("validation error")
    }

    /// 408, 409, 429 and 5xx may succeed later; a request refused for what it is will not.
    static func isRetryable(kind: Kind, status: Int) -> Bool {
        if kind == .insufficientBalance { return false }
        return status == 408 || status == 409 || status == 429 || (500...599).contains(status)
    }

    static func defaultCode(status: Int) -> String? {
        switch status {
        case 401, 403: return "INVALID_API_KEY"
        case 402: return "NOT_ENOUGH_BALANCE"
        case 404: return "MODEL_NOT_FOUND"
        case 429: return "RATE_LIMIT_EXCEEDED"
        case 500, 503: return "MODEL_NOT_AVAILABLE"
        default: return nil
        }
    }

    static func hint(for kind: Kind, provider: ProviderConfiguration) -> String? {
        let name = provider.name
        switch kind {
        case .invalidAPIKey:
            if let variable = provider.apiKeyEnvironmentVariable { return "Check the key in \(variable)." }
            return "Provider '\(name)' wants a key: set its api_key_env to the variable that holds one."
        case .insufficientBalance:
            if let variable = provider.apiKeyEnvironmentVariable {
                return "Top up the balance of the account whose key is in \(variable)."
            }
            return "Top up the account's balance with provider '\(name)'."
        case .modelNotFound:
            return "Check the model name; `skein models --provider \(name)` lists the models it serves."
        case .rateLimited:
            return "Lower requests_per_minute or max_concurrency for provider '\(name)', or try again later."
        case .modelNotAvailable:
            return "The model may be overloaded or down; try again later or choose another model."
        case .serverError:
            return "The provider had a problem; try again later."
        case .badRequest:
            return "Check the step's parameters against what the model accepts."
        default:
            return nil
        }
    }

    /// Removes the key from text that came from the provider, should the provider echo it.
    static func redact(_ text: String, apiKey: String?) -> String {
        guard let apiKey, apiKey.count >= 4, text.contains(apiKey) else { return text }
        return text.replacingOccurrences(of: apiKey, with: "[redacted]")
    }
}

/// The fields of an error body, whichever shape it has.
struct ErrorFields {
    var message: String?
    var code: String?
    /// A status the body states itself (an error event in a stream carries one sometimes).
    var status: Int?

    init(body: some Collection<UInt8>) {
        guard let json = try? JSONValue(parsing: body) else {
            message = Self.readableLine(String(decoding: body, as: UTF8.self))
            return
        }
        // OpenAI: {"error": {...}}; some servers: {"error": "text"}; flat: the object itself.
        let object: JSONValue
        switch json["error"] {
        case .object?: object = json["error"] ?? json
        case .string(let text)?:
            message = Self.readableLine(text)
            object = json
        default: object = json
        }
        message =
            object["message"]?.stringValue.flatMap(Self.readableLine) ?? message
            ?? object["detail"]?.stringValue.flatMap(Self.readableLine)
            ?? object["error_description"]?.stringValue.flatMap(Self.readableLine)
        let numericCode = object["code"]?.intValue
        code =
            object["reason"]?.stringValue.flatMap(Self.nonEmpty)
            ?? object["code"]?.stringValue.flatMap(Self.nonEmpty)
            ?? object["type"]?.stringValue.flatMap(Self.nonEmpty)
        status = object["status"]?.intValue ?? numericCode.flatMap { (100...599).contains($0) ? $0 : nil }
        if message == nil, json.objectValue == nil {
            message = Self.readableLine(json.serialized(.compact))
        }
    }

    private static func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }

    /// One line of at most 300 characters; nil for nothing readable, such as an HTML page.
    static func readableLine(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty || trimmed.hasPrefix("<") { return nil }
        let line = trimmed.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: " ")
        return line.count > 300 ? String(line.prefix(300)) + "…" : line
    }
}
