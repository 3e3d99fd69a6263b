import Hummingbird
import NIOCore

/// The per-connection context: the channel, so a handler can drop the connection on purpose.
struct TestServerRequestContext: InitializableFromSource {
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        channel = source.channel
    }
}

/// Routes requests to the endpoint handlers. Every route answers with or without the `/v1`
/// prefix (`/v1/chat/completions` and `/chat/completions`), since clients disagree on whether
/// a base URL includes it. New endpoints (files, batches, Anthropic messages) are an extension
/// in a file of their own and a case in ``respond(to:context:)``, or, for routes with ids in
/// the path, a handler tried before the 404 (as `filesAndBatches` is).
struct TestServerResponder: HTTPResponder {
    typealias Context = TestServerRequestContext

    let state: ServerState
    let configuration: SkeinTestServer.Configuration
    let connections: ConnectionLedger

    func respond(to request: Request, context: Context) async throws -> Response {
        let arrival = ContinuousClock.now
        connections.note(context.channel)
        let path = request.uri.path
        let route = path.hasPrefix("/v1/") ? String(path.dropFirst(3)) : path
        let incoming = IncomingRequest(
            method: request.method.rawValue,
            path: path,
            headers: configuration.recordsBodies ? Self.headerDictionary(request.headers) : [:],
            authorization: request.headers[.authorization],
            apiKey: request.headers[Self.apiKeyField],
            anthropicVersion: request.headers[Self.anthropicVersionField],
            arrival: arrival
        )

        switch (request.method, route) {
        case (.post, ReplyRule.Endpoint.chatCompletions.rawValue):
            return await completion(request, incoming, endpoint: .chatCompletions, context: context)
        case (.post, ReplyRule.Endpoint.completions.rawValue):
            return await completion(request, incoming, endpoint: .completions, context: context)
        case (.post, ReplyRule.Endpoint.messages.rawValue):
            return await messages(request, incoming, context: context)
        case (.get, "/models"):
            return await models(incoming)
        default:
            if let response = await filesAndBatches(request, incoming, route: route) { return response }
            let id = await state.record(
                method: incoming.method, path: path, headers: incoming.headers, body: nil, arrival: arrival,
                handling: .notFound
            )
            let error = ErrorBody(status: 404, message: "Unknown request URL: \(incoming.method) \(path)")
            return await errorResponse(status: 404, error: error, id: id)
        }
    }

    // MARK: - Shared response helpers

    /// A JSON response, recorded as finished.
    func jsonResponse(status: Int, body: TestJSON, headers: [String: String] = [:], id: Int) async -> Response {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        body.write(into: &bytes)
        return await rawResponse(
            status: status, body: ByteBuffer(bytes: bytes), contentType: "application/json", headers: headers, id: id
        )
    }

    func errorResponse(status: Int, error: ErrorBody, headers: [String: String] = [:], id: Int) async -> Response {
        await jsonResponse(status: status, body: error.json(status: status), headers: headers, id: id)
    }

    func rawResponse(status: Int, body: ByteBuffer, contentType: String, headers: [String: String] = [:], id: Int)
        async -> Response
    {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        fields.set("x-request-id", String(id))
        for (name, value) in headers { fields.set(name, value) }
        await state.finish(id: id, status: status)
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: body))
    }

    static let apiKeyField = HTTPFields.Element.Name("x-api-key")!
    static let anthropicVersionField = HTTPFields.Element.Name("anthropic-version")!

    static func headerDictionary(_ fields: HTTPFields) -> [String: String] {
        var headers: [String: String] = [:]
        for field in fields {
            let name = field.name.canonicalName
            if let existing = headers[name] {
                headers[name] = existing + ", " + field.value
            } else {
                headers[name] = field.value
            }
        }
        return headers
    }
}

/// What every handler needs to know about a request before reading its body.
struct IncomingRequest: Sendable {
    let method: String
    let path: String
    let headers: [String: String]
    let authorization: String?
    /// `x-api-key`, the Messages API's key header.
    let apiKey: String?
    /// `anthropic-version`, which the Messages API requires.
    let anthropicVersion: String?
    let arrival: ContinuousClock.Instant
}

extension HTTPFields {
    /// Sets a field by name; names that are not valid HTTP field names are skipped.
    mutating func set(_ name: String, _ value: String) {
        if let fieldName = HTTPFields.Element.Name(name) { self[fieldName] = value }
    }
}
