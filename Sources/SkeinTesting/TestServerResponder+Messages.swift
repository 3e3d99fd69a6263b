import Foundation
import Hummingbird
import NIOCore

extension TestServerResponder {
    /// `POST /v1/messages`, the Anthropic Messages API, streaming or not.
    ///
    /// Answered like a chat completion (the same rules, limits, faults and default reply, see
    /// ``ReplyGenerator``), in the Messages API's shapes (``MessagesResponseBuilder``), with
    /// its checks: the key comes in `x-api-key` (not `Authorization`), `anthropic-version`
    /// and `max_tokens` are required (HTTP 400 without them), and every error body is
    /// Anthropic's `{"type": "error", "error": {"type", "message"}}`.
    func messages(_ request: Request, _ incoming: IncomingRequest, context: Context) async -> Response {
        let bytes: [UInt8]
        let json: TestJSON
        switch await readJSONBody(request, incoming, shape: .anthropic) {
        case .success(let body): (bytes, json) = body
        case .failure(let refusal): return refusal.response
        }
        let problem: String?
        if incoming.anthropicVersion == nil {
            problem = "anthropic-version: header is required"
        } else if json["max_tokens"]?.intValue == nil {
            problem = "max_tokens: Field required"
        } else if json["messages"]?.arrayValue == nil {
            problem = "messages: Field required"
        } else {
            problem = nil
        }
        if let problem {
            let id = await state.record(
                method: incoming.method, path: incoming.path, headers: incoming.headers, body: bytes,
                arrival: incoming.arrival, handling: .badRequest)
            return await errorResponse(
                status: 400, error: ErrorBody(status: 400, message: problem, shape: .anthropic), id: id)
        }

        let parsed = ParsedCompletionRequest(endpoint: .messages, body: json)
        let isAuthorized = configuration.requiredAPIKey.map { incoming.apiKey == $0 } ?? true
        guard let decision = await admitAndWait(parsed, incoming, body: bytes, isAuthorized: isAuthorized, context: context)
        else { return Response(status: .serviceUnavailable) }
        return await performMessages(decision.action, for: parsed, id: decision.id, context: context)
    }

    private func performMessages(
        _ action: ReplyRule.Action, for request: ParsedCompletionRequest, id: Int, context: Context
    ) async -> Response {
        let shape = MessagesResponseBuilder(
            requestID: id, model: request.model ?? configuration.modelIDs.first ?? "test-model")
        let interval = configuration.tokenInterval
        func events(_ reply: Reply?) -> [ByteBuffer] {
            let generated = ReplyGenerator.generate(
                for: request, reply: reply, honorsMaxTokens: configuration.honorsMaxTokens)
            return shape.events(for: generated).map { SSEWriter.namedEvent($0.name, json: $0.data) }
        }
        switch action {
        case .reply(let reply):
            guard request.isStream else {
                let generated = ReplyGenerator.generate(
                    for: request, reply: reply, honorsMaxTokens: configuration.honorsMaxTokens)
                return await jsonResponse(status: 200, body: shape.body(for: generated), id: id)
            }
            return stream(SSEWriter(events: events(reply), ending: .endWithoutDone, interval: interval), id: id)

        case .error(let status, var error, let headers):
            error.shape = .anthropic
            return await errorResponse(status: status, error: error, headers: headers, id: id)

        case .raw(let status, let body, let contentType, let headers):
            return await rawResponse(
                status: status, body: ByteBuffer(string: body), contentType: contentType, headers: headers, id: id)

        case .dropConnection(let afterChunks):
            guard request.isStream else { return await drop(id: id, context: context) }
            let sent = Array(events(nil).prefix(max(afterChunks, 0)))
            return stream(SSEWriter(events: sent, ending: .dropConnection, interval: interval), id: id)

        case .malformedBody:
            guard request.isStream else {
                let whole = shape.body(
                    for: ReplyGenerator.generate(
                        for: request, reply: nil, honorsMaxTokens: configuration.honorsMaxTokens)
                ).serialized
                return await rawResponse(
                    status: 200, body: ByteBuffer(string: String(whole.prefix(whole.count / 2))),
                    contentType: "application/json", id: id)
            }
            let sent =
                Array(events(nil).prefix(1)) + [
                    SSEWriter.namedEvent("content_block_delta", data: shape.brokenEventText())
                ]
            return stream(SSEWriter(events: sent, ending: .endWithoutDone, interval: interval), id: id)

        case .malformedSSE:
            guard request.isStream else {
                return await performMessages(.malformedBody, for: request, id: id, context: context)
            }
            let sent = [ByteBuffer(string: "this is not an event stream\n<html><body>Bad Gateway</body></html>\n")]
            return stream(SSEWriter(events: sent, ending: .endWithoutDone, interval: interval), id: id)

        case .streamError(let afterChunks, var error, let style):
            error.shape = .anthropic
            let type = error.anthropicType(status: 500)
            guard request.isStream else {
                let status = ErrorBody.anthropicStatus(type: type)
                return await errorResponse(status: status, error: error, id: id)
            }
            var sent = Array(events(nil).prefix(max(afterChunks, 0)))
            let data = error.json(status: 500).serialized
            switch style {
            case .dataLine: sent.append(SSEWriter.dataEvent(data))
            case .errorEvent: sent.append(SSEWriter.namedEvent("error", data: data))
            }
            return stream(SSEWriter(events: sent, ending: .endWithoutDone, interval: interval), id: id)

        case .hang(let duration), .stallBody(let duration):
            await hold(for: duration, context: context)
            return await drop(id: id, context: context)
        }
    }
}
