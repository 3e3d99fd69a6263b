import Foundation

/// An answer of the Files and Batches endpoints that is not a success.
struct BatchAPIError: Error, Sendable {
    let status: Int
    let message: String

    static func notFound(_ kind: String, _ id: String) -> BatchAPIError {
        BatchAPIError(status: 404, message: "No such \(kind) object: \(id)")
    }
}

/// The Files and Batches endpoints' side of the server state. Every operation first brings the
/// batches up to date with the time that has passed (see ``BatchStore``).
extension ServerState {
    // MARK: - Files

    /// Stores an uploaded batch input file and returns its file object.
    func uploadFile(filename: String, purpose: String, bytes: [UInt8]) -> TestJSON {
        let now = ContinuousClock.now
        bringBatchesUpToDate(now: now)
        let file = batchStore.addFile(filename: filename, purpose: purpose, bytes: bytes, at: now, isUpload: true)
        return batchStore.json(file)
    }

    func fileObject(id: String) -> Result<TestJSON, BatchAPIError> {
        bringBatchesUpToDate(now: .now)
        guard let file = batchStore.files[id] else { return .failure(.notFound("File", id)) }
        return .success(batchStore.json(file))
    }

    func fileContent(id: String) -> Result<[UInt8], BatchAPIError> {
        bringBatchesUpToDate(now: .now)
        guard let file = batchStore.files[id] else { return .failure(.notFound("File", id)) }
        return .success(file.bytes)
    }

    func deleteFile(id: String) -> Result<TestJSON, BatchAPIError> {
        bringBatchesUpToDate(now: .now)
        guard batchStore.deleteFile(id: id) else { return .failure(.notFound("File", id)) }
        return .success(["id": .string(id), "object": "file", "deleted": true])
    }

    func fileList() -> TestJSON {
        bringBatchesUpToDate(now: .now)
        let files = batchStore.fileOrder.compactMap { batchStore.files[$0] }.map { batchStore.json($0) }
        return ["object": "list", "data": .array(files), "has_more": false]
    }

    // MARK: - Batches

    /// Creates a batch over an uploaded input file.
    func createBatch(
        inputFileID: String, endpointPath: String, endpoint: ReplyRule.Endpoint, completionWindow: String,
        metadata: TestJSON
    ) -> Result<TestJSON, BatchAPIError> {
        let now = ContinuousClock.now
        bringBatchesUpToDate(now: now)
        guard let input = batchStore.files[inputFileID] else { return .failure(.notFound("File", inputFileID)) }
        guard input.purpose == "batch" else {
            return .failure(
                BatchAPIError(
                    status: 400,
                    message: "File \(inputFileID) has purpose '\(input.purpose)'; a batch needs a file uploaded "
                        + "with purpose 'batch'."))
        }
        let batch = batchStore.createBatch(
            input: input, endpointPath: endpointPath, endpoint: endpoint, completionWindow: completionWindow,
            metadata: metadata, at: now)
        return .success(batchStore.json(batch))
    }

    func batchObject(id: String) -> Result<TestJSON, BatchAPIError> {
        bringBatchesUpToDate(now: .now)
        guard let batch = batchStore.batches[id] else { return .failure(.notFound("Batch", id)) }
        return .success(batchStore.json(batch))
    }

    func cancelBatch(id: String) -> Result<TestJSON, BatchAPIError> {
        let now = ContinuousClock.now
        bringBatchesUpToDate(now: now)
        guard let (batch, refused) = batchStore.cancel(id, now: now, answer: answerBatchLine) else {
            return .failure(.notFound("Batch", id))
        }
        guard !refused else {
            return .failure(
                BatchAPIError(
                    status: 400, message: "Cannot cancel a batch with status '\(batch.status.rawValue)'."))
        }
        return .success(batchStore.json(batch))
    }

    /// `GET /batches`: newest first, `limit` (1...100, default 20) after the batch `after`.
    func batchList(limit: Int?, after: String?) -> TestJSON {
        bringBatchesUpToDate(now: .now)
        var ids = Array(batchStore.batchOrder.reversed())
        if let after, let index = ids.firstIndex(of: after) { ids = Array(ids[(index + 1)...]) }
        let count = min(max(limit ?? 20, 1), 100)
        let page = ids.prefix(count).compactMap { batchStore.batches[$0] }.map { batchStore.json($0) }
        return [
            "object": "list", "data": .array(page),
            "first_id": ids.first.map(TestJSON.string) ?? .null,
            "last_id": ids.prefix(count).last.map(TestJSON.string) ?? .null,
            "has_more": .bool(ids.count > count),
        ]
    }

    func batchStatus(id: String) -> String? {
        bringBatchesUpToDate(now: .now)
        return batchStore.batches[id]?.status.rawValue
    }

    func completeBatches() {
        bringBatchesUpToDate(now: .now, force: true)
    }

    func expireBatches() {
        batchStore.expireAll(now: .now, answer: answerBatchLine)
    }

    private func bringBatchesUpToDate(now: ContinuousClock.Instant, force: Bool = false) {
        batchStore.advanceAll(now: now, force: force, answer: answerBatchLine)
    }

    // MARK: - Answering lines

    /// Answers one batch line the way a live request with the same body is answered (see
    /// ``decide(_:isAuthorized:arrival:limitsRate:)``), without the rate limit and latency, and
    /// never as a stream.
    func answerBatchLine(
        _ body: TestJSON, endpoint: ReplyRule.Endpoint, requestID: String, at instant: ContinuousClock.Instant
    ) -> BatchLineOutcome {
        var members = body.objectValue ?? [:]
        members["stream"] = nil
        members["stream_options"] = nil
        let request = ParsedCompletionRequest(endpoint: endpoint, body: .object(members))
        let action = decide(request, isAuthorized: true, arrival: instant, limitsRate: false).action
        return Self.batchOutcome(of: action, for: request, requestID: requestID, configuration: configuration)
    }

    /// What a rule's action (or the default reply) amounts to in a batch: the body a live
    /// non-stream request would get, with its status; or no response, for actions that give a
    /// live request none (`request_timeout` for a drop or a hang, `server_error` for a
    /// malformed reply).
    static func batchOutcome(
        of action: ReplyRule.Action, for request: ParsedCompletionRequest, requestID: String,
        configuration: SkeinTestServer.Configuration
    ) -> BatchLineOutcome {
        switch action {
        case .reply(let reply):
            let generated = ReplyGenerator.generate(
                for: request, reply: reply, honorsMaxTokens: configuration.honorsMaxTokens)
            let shape = CompletionResponseBuilder(
                endpoint: request.endpoint, requestID: 0,
                model: request.model ?? configuration.modelIDs.first ?? "test-model",
                created: Int(Date().timeIntervalSince1970))
            var body = shape.body(for: generated, choiceCount: request.choiceCount).objectValue ?? [:]
            body["id"] = .string((request.endpoint == .chatCompletions ? "chatcmpl-" : "cmpl-") + requestID)
            return .response(status: 200, body: .object(body))
        case .error(let status, let error, _):
            return .response(status: status, body: error.json(status: status))
        case .raw(let status, let text, _, _):
            if let json = try? TestJSON(parsing: text) { return .response(status: status, body: json) }
            guard !(200..<300).contains(status) else {
                return .noResponse(code: "server_error", message: "The model's reply was not JSON.")
            }
            let message = text.isEmpty ? "HTTP \(status)" : String(text.prefix(300))
            return .response(status: status, body: ErrorBody(status: status, message: message).json(status: status))
        case .streamError(_, let error, _):
            return .response(status: 500, body: error.json(status: 500))
        case .dropConnection, .hang, .stallBody:
            return .noResponse(code: "request_timeout", message: "The request to the model timed out.")
        case .malformedBody, .malformedSSE:
            return .noResponse(code: "server_error", message: "The model's reply was malformed.")
        }
    }
}
