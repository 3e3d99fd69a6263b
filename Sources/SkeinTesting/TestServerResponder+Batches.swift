import Hummingbird
import NIOCore

extension TestServerResponder {
    /// A Files or Batches operation, read from the method and the path.
    private enum BatchOperation {
        case uploadFile, listFiles, retrieveFile(String), fileContent(String), deleteFile(String)
        case createBatch, listBatches, retrieveBatch(String), cancelBatch(String)

        init?(method: HTTPRequest.Method, route: String) {
            let parts = route.split(separator: "/").map(String.init)
            switch (method, parts.count, parts.first) {
            case (.post, 1, "files"): self = .uploadFile
            case (.get, 1, "files"): self = .listFiles
            case (.get, 2, "files"): self = .retrieveFile(parts[1])
            case (.delete, 2, "files"): self = .deleteFile(parts[1])
            case (.get, 3, "files") where parts[2] == "content": self = .fileContent(parts[1])
            case (.post, 1, "batches"): self = .createBatch
            case (.get, 1, "batches"): self = .listBatches
            case (.get, 2, "batches"): self = .retrieveBatch(parts[1])
            case (.post, 3, "batches") where parts[2] == "cancel": self = .cancelBatch(parts[1])
            default: return nil
            }
        }

        var handling: RecordedRequest.Handling {
            switch self {
            case .uploadFile, .listFiles, .retrieveFile, .fileContent, .deleteFile: return .files
            case .createBatch, .listBatches, .retrieveBatch, .cancelBatch: return .batches
            }
        }
    }

    /// The Files and Batches endpoints (see ``SkeinTestServer/BatchConfiguration``), or `nil`
    /// when the request is for none of them. ``respond(to:context:)`` tries this before its 404.
    func filesAndBatches(_ request: Request, _ incoming: IncomingRequest, route: String) async -> Response? {
        guard let operation = BatchOperation(method: request.method, route: route) else { return nil }
        let isUpload: Bool
        if case .uploadFile = operation { isUpload = true } else { isUpload = false }
        var bytes: [UInt8] = []
        if request.method == .post {
            // The multipart framing around an upload takes a few hundred bytes.
            let limit = isUpload ? configuration.batches.maxUploadBytes + 64 * 1024 : configuration.maxBodySize
            do {
                bytes = Array(try await request.body.collect(upTo: limit).readableBytesView)
            } catch {
                let id = await state.record(
                    method: incoming.method, path: incoming.path, headers: incoming.headers, body: nil,
                    arrival: incoming.arrival, handling: .badRequest)
                let message =
                    isUpload
                    ? "The file is larger than \(configuration.batches.maxUploadBytes) bytes."
                    : "Request body larger than \(configuration.maxBodySize) bytes"
                return await errorResponse(status: 413, error: ErrorBody(status: 413, message: message), id: id)
            }
        }
        let isAuthorized = configuration.requiredAPIKey.map { incoming.authorization == "Bearer \($0)" } ?? true
        let id = await state.record(
            method: incoming.method, path: incoming.path, headers: incoming.headers,
            body: isUpload ? nil : bytes, arrival: incoming.arrival,
            handling: isAuthorized ? operation.handling : .unauthorized)
        guard isAuthorized else {
            return await errorResponse(
                status: 401, error: ErrorBody(status: 401, message: "Incorrect API key provided"), id: id)
        }

        let result: Result<TestJSON, BatchAPIError>
        switch operation {
        case .uploadFile:
            result = await upload(bytes, contentType: request.headers[.contentType] ?? "")
        case .listFiles:
            result = .success(await state.fileList())
        case .retrieveFile(let fileID):
            result = await state.fileObject(id: fileID)
        case .fileContent(let fileID):
            switch await state.fileContent(id: fileID) {
            case .success(let content):
                return await rawResponse(
                    status: 200, body: ByteBuffer(bytes: content), contentType: "application/octet-stream", id: id)
            case .failure(let error):
                result = .failure(error)
            }
        case .deleteFile(let fileID):
            result = await state.deleteFile(id: fileID)
        case .createBatch:
            result = await createBatch(bytes)
        case .listBatches:
            let parameters = request.uri.queryParameters
            result = .success(
                await state.batchList(limit: parameters.get("limit", as: Int.self), after: parameters.get("after")))
        case .retrieveBatch(let batchID):
            result = await state.batchObject(id: batchID)
        case .cancelBatch(let batchID):
            result = await state.cancelBatch(id: batchID)
        }
        switch result {
        case .success(let body):
            return await jsonResponse(status: 200, body: body, id: id)
        case .failure(let error):
            return await errorResponse(
                status: error.status, error: ErrorBody(status: error.status, message: error.message), id: id)
        }
    }

    /// `POST /files`: a multipart body with `purpose=batch` and a non-empty `file`.
    private func upload(_ bytes: [UInt8], contentType: String) async -> Result<TestJSON, BatchAPIError> {
        guard let form = MultipartFormData(contentType: contentType, body: bytes) else {
            return .failure(
                BatchAPIError(
                    status: 400, message: "Expected a multipart/form-data body with the fields 'purpose' and 'file'."))
        }
        guard let purpose = form.part(named: "purpose")?.text else {
            return .failure(BatchAPIError(status: 400, message: "Missing required parameter: 'purpose'."))
        }
        guard purpose == "batch" else {
            return .failure(
                BatchAPIError(
                    status: 400,
                    message: "Invalid purpose '\(purpose)': this server takes batch input files only ('batch')."))
        }
        guard let file = form.part(named: "file") else {
            return .failure(BatchAPIError(status: 400, message: "Missing required parameter: 'file'."))
        }
        guard file.content.count <= configuration.batches.maxUploadBytes else {
            return .failure(
                BatchAPIError(
                    status: 413, message: "The file is larger than \(configuration.batches.maxUploadBytes) bytes."))
        }
        guard !file.content.isEmpty else {
            return .failure(BatchAPIError(status: 400, message: "The file is empty."))
        }
        let filename = file.filename.flatMap { $0.isEmpty ? nil : $0 } ?? "upload.jsonl"
        return .success(await state.uploadFile(filename: filename, purpose: purpose, bytes: Array(file.content)))
    }

    /// `POST /batches`: `{input_file_id, endpoint, completion_window, metadata?}`.
    private func createBatch(_ bytes: [UInt8]) async -> Result<TestJSON, BatchAPIError> {
        guard let json = try? TestJSON(parsing: bytes), case .object = json else {
            return .failure(BatchAPIError(status: 400, message: "We could not parse the JSON body of your request."))
        }
        guard let inputFileID = json["input_file_id"]?.stringValue, !inputFileID.isEmpty else {
            return .failure(BatchAPIError(status: 400, message: "Missing required parameter: 'input_file_id'."))
        }
        let endpointPath = json["endpoint"]?.stringValue ?? ""
        let route = endpointPath.hasPrefix("/v1/") ? String(endpointPath.dropFirst(3)) : endpointPath
        guard let endpoint = ReplyRule.Endpoint(rawValue: route), endpoint != .messages else {
            return .failure(
                BatchAPIError(
                    status: 400,
                    message: "Invalid endpoint '\(endpointPath)': use /v1/chat/completions or /v1/completions."))
        }
        let window =
            json["completion_window"]?.stringValue ?? (configuration.batches.dialect == .novita ? "48h" : "24h")
        guard window == "24h" || window == "48h" else {
            return .failure(
                BatchAPIError(status: 400, message: "Invalid completion_window '\(window)': use 24h or 48h."))
        }
        let metadata = json["metadata"] ?? .null
        if !metadata.isNull {
            guard let members = metadata.objectValue, members.count <= 16,
                members.values.allSatisfy({ $0.stringValue != nil })
            else {
                return .failure(
                    BatchAPIError(status: 400, message: "Invalid metadata: at most 16 keys with string values."))
            }
        }
        return await state.createBatch(
            inputFileID: inputFileID, endpointPath: endpointPath, endpoint: endpoint, completionWindow: window,
            metadata: metadata)
    }
}
