import Foundation
import Hummingbird
import NIOCore

extension TestServerResponder {
    /// `POST /v1/chat/completions` and `POST /v1/completions`, streaming or not.
    func completion(
        _ request: Request,
        _ incoming: IncomingRequest,
        endpoint: ReplyRule.Endpoint,
        context: Context
    ) async -> Response {
        let bytes: [UInt8]
        let json: TestJSON
        switch await readJSONBody(request, incoming, shape: .openAI) {
        case .success(let body): (bytes, json) = body
        case .failure(let refusal): return refusal.response
        }

        let parsed = ParsedCompletionRequest(endpoint: endpoint, body: json)
        let isAuthorized = configuration.requiredAPIKey.map { incoming.authorization == "Bearer \($0)" } ?? true
        guard let decision = await admitAndWait(parsed, incoming, body: bytes, isAuthorized: isAuthorized, context: context)
        else { return Response(status: .serviceUnavailable) }
        return await perform(decision.action, for: parsed, id: decision.id, context: context)
    }

    /// Records and admits a completion request (chat, legacy or Messages), then waits out the
    /// latency injected for it. Nil when the server shut down meanwhile: the request is
    /// recorded as dropped and its connection closed.
    func admitAndWait(
        _ parsed: ParsedCompletionRequest, _ incoming: IncomingRequest, body: [UInt8], isAuthorized: Bool,
        context: Context
    ) async -> ServerState.Decision? {
        let decision = await state.admit(
            parsed, method: incoming.method, path: incoming.path, headers: incoming.headers, body: body,
            isAuthorized: isAuthorized, arrival: incoming.arrival
        )
        if decision.delay > .zero {
            do {
                try await Task.sleep(for: decision.delay)
            } catch {
                // Cancelled: the server is shutting down.
                await state.finish(id: decision.id, status: nil, wasDropped: true)
                context.channel.close(promise: nil)
                return nil
            }
        }
        return decision
    }

    /// Why a request body was refused, with the response already sent for it.
    struct BodyRefusal: Error {
        let response: Response
    }

    /// Reads a completion request's body as a JSON object; a body too large (413) or not a
    /// JSON object (400) is recorded and answered with an error in `shape`.
    func readJSONBody(
        _ request: Request, _ incoming: IncomingRequest, shape: ErrorBody.Shape
    ) async -> Result<(bytes: [UInt8], json: TestJSON), BodyRefusal> {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: configuration.maxBodySize)
        } catch {
            let id = await state.record(
                method: incoming.method, path: incoming.path, headers: incoming.headers, body: nil,
                arrival: incoming.arrival, handling: .badRequest
            )
            let message = "Request body larger than \(configuration.maxBodySize) bytes"
            return .failure(
                BodyRefusal(
                    response: await errorResponse(
                        status: 413, error: ErrorBody(status: 413, message: message, shape: shape), id: id)))
        }
        let bytes = Array(buffer.readableBytesView)
        guard let json = try? TestJSON(parsing: bytes), case .object = json else {
            let id = await state.record(
                method: incoming.method, path: incoming.path, headers: incoming.headers, body: bytes,
                arrival: incoming.arrival, handling: .badRequest
            )
            let message = "We could not parse the JSON body of your request."
            return .failure(
                BodyRefusal(
                    response: await errorResponse(
                        status: 400, error: ErrorBody(status: 400, message: message, shape: shape), id: id)))
        }
        return .success((bytes, json))
    }

    private func perform(
        _ action: ReplyRule.Action,
        for request: ParsedCompletionRequest,
        id: Int,
        context: Context
    ) async -> Response {
        let shape = CompletionResponseBuilder(
            endpoint: request.endpoint,
            requestID: id,
            model: request.model ?? configuration.modelIDs.first ?? "test-model",
            created: Int(Date().timeIntervalSince1970)
        )
        switch action {
        case .reply(let reply):
            let generated = ReplyGenerator.generate(
                for: request, reply: reply, honorsMaxTokens: configuration.honorsMaxTokens
            )
            guard request.isStream else {
                return await jsonResponse(
                    status: 200, body: shape.body(for: generated, choiceCount: request.choiceCount), id: id)
            }
            let events = shape.chunks(
                for: generated, includesUsage: request.includesUsage && configuration.sendsStreamUsage).map(SSEWriter.dataEvent)
            return stream(SSEWriter(events: events, ending: .done, interval: configuration.tokenInterval), id: id)

        case .error(let status, let error, let headers):
            return await errorResponse(status: status, error: error, headers: headers, id: id)

        case .raw(let status, let body, let contentType, let headers):
            return await rawResponse(
                status: status, body: ByteBuffer(string: body), contentType: contentType, headers: headers, id: id
            )

        case .dropConnection(let afterChunks):
            guard request.isStream else {
                return await drop(id: id, context: context)
            }
            let events = defaultChunks(for: request, shape: shape).prefix(max(afterChunks, 0)).map(SSEWriter.dataEvent)
            return stream(
                SSEWriter(events: Array(events), ending: .dropConnection, interval: configuration.tokenInterval), id: id
            )

        case .malformedBody:
            guard request.isStream else {
                let whole = shape.body(for: defaultReply(for: request)).serialized
                let cut = String(whole.prefix(whole.count / 2))
                return await rawResponse(
                    status: 200, body: ByteBuffer(string: cut), contentType: "application/json", id: id
                )
            }
            let first = defaultChunks(for: request, shape: shape).prefix(1).map(SSEWriter.dataEvent)
            let events = first + [SSEWriter.dataEvent(shape.brokenChunkText())]
            return stream(SSEWriter(events: events, ending: .done, interval: configuration.tokenInterval), id: id)

        case .malformedSSE:
            guard request.isStream else {
                return await perform(.malformedBody, for: request, id: id, context: context)
            }
            let events = [ByteBuffer(string: "this is not an event stream\n<html><body>Bad Gateway</body></html>\n")]
            return stream(
                SSEWriter(events: events, ending: .endWithoutDone, interval: configuration.tokenInterval), id: id
            )

        case .streamError(let afterChunks, let error, let style):
            guard request.isStream else {
                return await errorResponse(status: 500, error: error, id: id)
            }
            var events = defaultChunks(for: request, shape: shape).prefix(max(afterChunks, 0)).map(SSEWriter.dataEvent)
            let data = error.json(status: 500).serialized
            switch style {
            case .dataLine: events.append(SSEWriter.dataEvent(data))
            case .errorEvent: events.append(SSEWriter.namedEvent("error", data: data))
            }
            return stream(
                SSEWriter(events: events, ending: .endWithoutDone, interval: configuration.tokenInterval), id: id
            )

        case .hang(let duration):
            await hold(for: duration, context: context)
            return await drop(id: id, context: context)

        case .stallBody(let duration):
            guard !request.isStream else { return await perform(.hang(duration), for: request, id: id, context: context) }
            let whole = ByteBuffer(string: shape.body(for: defaultReply(for: request)).serialized)
            return stalledBody(whole, for: duration, id: id, context: context)
        }
    }

    /// HTTP 200 with the length of `whole`, half of it, then nothing until `duration` passes.
    func stalledBody(_ whole: ByteBuffer, for duration: Duration, id: Int, context: Context) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(whole.readableBytes)
        fields.set("x-request-id", String(id))
        let state = self.state
        let body = ResponseBody { writer in
            try await writer.write(whole.getSlice(at: whole.readerIndex, length: whole.readableBytes / 2)!)
            await self.hold(for: duration, context: context)
            await state.finish(id: id, status: 200, wasDropped: true)
            context.channel.close(promise: nil)
        }
        return Response(status: .ok, headers: fields, body: body)
    }

    /// Holds a request until `duration` passes, its connection closes, or the server shuts down.
    ///
    /// A client that gives up usually only half-closes the connection, which Hummingbird allows
    /// and does not read while a request is being handled, so the request stays held (and in
    /// flight) until one of the three happens.
    func hold(for duration: Duration, context: Context) async {
        let deadline = ContinuousClock.now + duration
        while context.channel.isActive, ContinuousClock.now < deadline, await !state.isShuttingDown {
            do {
                try await Task.sleep(for: min(.milliseconds(100), deadline - .now))
            } catch {
                return
            }
        }
    }

    private func defaultReply(for request: ParsedCompletionRequest) -> GeneratedReply {
        ReplyGenerator.generate(for: request, reply: nil, honorsMaxTokens: configuration.honorsMaxTokens)
    }

    private func defaultChunks(for request: ParsedCompletionRequest, shape: CompletionResponseBuilder) -> [TestJSON] {
        shape.chunks(for: defaultReply(for: request), includesUsage: false)
    }

    /// Closes the connection with no response.
    func drop(id: Int, context: Context) async -> Response {
        await state.finish(id: id, status: nil, wasDropped: true)
        context.channel.close(promise: nil)
        // Never reaches the client: writing it fails on the closed channel, and Hummingbird gives up.
        return Response(status: .internalServerError)
    }

    /// A `text/event-stream` response whose body the writer produces; the request is recorded
    /// as finished when the body ends or breaks off.
    func stream(_ writer: SSEWriter, id: Int) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "text/event-stream"
        fields[.cacheControl] = "no-cache"
        fields.set("x-request-id", String(id))
        let state = self.state
        let body = ResponseBody { bodyWriter in
            do {
                try await writer.write(to: &bodyWriter)
                await state.finish(id: id, status: 200)
            } catch {
                await state.finish(id: id, status: 200, wasDropped: true)
                throw error
            }
        }
        return Response(status: .ok, headers: fields, body: body)
    }
}
