/// One request the test server received, for a test's assertions.
public struct RecordedRequest: Sendable {
    /// How the server decided to answer.
    public enum Handling: Sendable, Equatable {
        /// The default reply (see ``ReplyGenerator``).
        case defaultReply
        /// The named rule's action (the name is "" for an unnamed rule).
        case rule(String)
        /// A random fault from ``SkeinTestServer/FaultConfiguration``.
        case fault(Fault)
        /// HTTP 429 from the server's own requests-per-minute limit.
        case rateLimited
        /// HTTP 500 for a `json_schema` response format (``SkeinTestServer/Configuration/rejectsJSONSchema``).
        case jsonSchemaRejected
        /// HTTP 401: the API key was missing or wrong.
        case unauthorized
        /// HTTP 404: a model the server does not list.
        case unknownModel
        /// HTTP 400 or 413: the body was not JSON or too large.
        case badRequest
        /// HTTP 404: no such route.
        case notFound
        /// `GET /v1/models`.
        case models
        /// A Files endpoint: upload, retrieve, content, delete, list (`/v1/files…`).
        case files
        /// A Batches endpoint: create, retrieve, cancel, list (`/v1/batches…`).
        case batches
    }

    /// The kinds of random fault.
    public enum Fault: String, Sendable, Equatable {
        case serverError, rateLimit, rateLimitWithoutRetryAfter, drop, malformed, timeout
    }

    /// Arrival order, from 0 for the first request the server ever saw.
    public let id: Int
    public let method: String
    /// The path as sent, query excluded (`/v1/chat/completions`).
    public let path: String
    /// Header fields with lower-cased names; repeated fields joined with ", ".
    public let headers: [String: String]
    /// The body bytes; `nil` when ``SkeinTestServer/Configuration/recordsBodies`` is off.
    public let body: [UInt8]?
    /// The parsed body; `nil` when it is not JSON or bodies are not recorded.
    public let json: TestJSON?
    /// The request's `model`.
    public let model: String?
    public let isStream: Bool
    /// `model:<model>` and every configured marker found in the messages.
    public let tags: [String]
    /// When the server began handling the request.
    public let arrival: ContinuousClock.Instant
    /// When the server finished answering (after the last stream event, or when it dropped the
    /// connection); `nil` while in flight.
    public internal(set) var completion: ContinuousClock.Instant?
    /// The HTTP status sent; `nil` while in flight, or when the connection was closed before a response.
    public internal(set) var status: Int?
    public internal(set) var handling: Handling
    /// Whether the server closed the connection on purpose before the response was complete.
    public internal(set) var wasDropped: Bool

    /// Whether the two requests were in the server at the same time.
    public func overlaps(_ other: RecordedRequest) -> Bool {
        let end = completion ?? .now
        let otherEnd = other.completion ?? .now
        return arrival < otherEnd && other.arrival < end
    }

    /// The text of the last user message (the prompt of a legacy completion), when the body was recorded.
    public var lastUserMessage: String? {
        guard let json else { return nil }
        let endpoint: ReplyRule.Endpoint =
            path.hasSuffix("/chat/completions") ? .chatCompletions : path.hasSuffix("/messages") ? .messages : .completions
        return ParsedCompletionRequest(endpoint: endpoint, body: json).lastUserMessage
    }
}
