import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@testable import SkeinTesting

/// An HTTP exchange with the test server, as a test sees it.
struct TestServerReply: Sendable {
    var status: Int
    /// Header fields with lower-cased names.
    var headers: [String: String]
    var body: String
    /// Set when the body broke off (the connection closed before the response ended).
    var bodyError: (any Error)?

    var json: TestJSON? { try? TestJSON(parsing: body) }

    /// The `data:` payloads of a server-sent-event body, in order.
    var eventData: [String] {
        body.components(separatedBy: "\n\n").compactMap { event in
            event.split(separator: "\n").first { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
        }
    }

    /// Whether the stream ended with `data: [DONE]`.
    var sawDone: Bool { eventData.last == "[DONE]" }

    /// The stream's chunks parsed as JSON (`[DONE]` and anything not JSON left out).
    var chunks: [TestJSON] { eventData.compactMap { try? TestJSON(parsing: $0) } }

    /// The content of a chat stream or a legacy completion stream, assembled from its deltas.
    var assembledContent: String {
        chunks.compactMap { chunk in
            chunk["choices"]?[0]?["delta"]?["content"]?.stringValue ?? chunk["choices"]?[0]?["text"]?.stringValue
        }.joined()
    }
}

/// Talks to a ``SkeinTestServer`` over real HTTP with AsyncHTTPClient.
struct TestServerClient: Sendable {
    let baseURL: String
    var client: HTTPClient = .shared

    init(_ server: SkeinTestServer) {
        baseURL = server.baseURL
    }

    init(baseURL: String) {
        self.baseURL = baseURL
    }

    func post(
        _ path: String,
        _ body: TestJSON,
        headers: [String: String] = [:],
        timeout: TimeAmount = .seconds(30)
    ) async throws -> TestServerReply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body.serialized))
        return try await execute(request, timeout: timeout)
    }

    func get(_ path: String) async throws -> TestServerReply {
        try await execute(HTTPClientRequest(url: baseURL + path), timeout: .seconds(30))
    }

    func chat(_ message: String, model: String = "test-model", extra: [String: TestJSON] = [:]) async throws
        -> TestServerReply
    {
        var body: [String: TestJSON] = [
            "model": .string(model), "messages": [["role": "user", "content": .string(message)]],
        ]
        body.merge(extra) { _, new in new }
        return try await post("/chat/completions", .object(body))
    }

    private func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> TestServerReply {
        let response = try await client.execute(request, timeout: timeout)
        var headers: [String: String] = [:]
        for (name, value) in response.headers { headers[name.lowercased()] = value }
        var bytes = ByteBuffer()
        var bodyError: (any Error)?
        do {
            for try await var part in response.body { bytes.writeBuffer(&part) }
        } catch {
            bodyError = error
        }
        return TestServerReply(
            status: Int(response.status.code),
            headers: headers,
            body: String(buffer: bytes),
            bodyError: bodyError
        )
    }
}

/// A chat request body with one user message.
func chatBody(_ message: String, model: String = "test-model", stream: Bool = false) -> TestJSON {
    [
        "model": .string(model),
        "messages": [["role": "user", "content": .string(message)]],
        "stream": .bool(stream),
    ]
}
