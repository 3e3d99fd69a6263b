import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A provider's Batch API (OpenAI's, which Novita AI follows): upload a JSONL file of
/// requests, create a batch over it, poll until it finishes, download its output and error
/// files, and read them back as completions.
///
/// It rides on an ``HTTPCompletionClient``: the same connection pool, API key lookup (from the
/// environment, never stored), headers, retry policy, clock and error decoding; errors are
/// ``ProviderError`` values with what to do, and never contain the key.
///
/// ```swift
/// let batches = BatchClient(client: client)
/// var file = BatchInputFile()
/// try file.append(request, customID: "row-1")
/// let input = try await batches.uploadFile(file, provider: provider)
/// let job = try await batches.createBatch(inputFileID: input.id, api: .chat, provider: provider)
/// let done = try await batches.waitForBatch(job.id, provider: provider)
/// if let output = done.outputFileID {
///     try await batches.downloadFile(output, to: "output.jsonl", provider: provider)
///     try BatchResult.forEach(inFileAt: "output.jsonl", provider: provider) { result in … }
/// }
/// ```
///
/// Retries: reading (retrieve, list, download, delete) and uploading are retried like
/// completions. Creating a batch is retried only when the provider answered with a retryable
/// status (429, 5xx): after a timeout or a dropped connection the batch may exist all the same,
/// and a second one would be paid twice, so the error says to look for it with
/// ``listBatches(limit:after:provider:)`` (tag batches with `metadata` to recognise them).
///
/// Novita's Files and Batches endpoints live at `https://api.novita.ai/openai/v1`, not at the
/// `/v3/openai` of its live endpoints; ``batchBaseURL(for:)`` makes that switch for the
/// built-in base URL.
public struct BatchClient: Sendable {
    /// The client whose pool, environment, retry policy and clock the calls use.
    public let client: HTTPCompletionClient

    /// The client's transport: keys, every pool, retries and the clock, as live requests use them.
    var transport: ProviderTransport { client.transport }

    public init(client: HTTPCompletionClient) {
        self.client = client
    }

    /// How ``waitForBatch(_:provider:polling:onUpdate:)`` polls.
    public struct Polling: Sendable, Hashable {
        /// The wait after the first look.
        public var initialInterval: Duration
        /// The longest wait between two looks.
        public var maxInterval: Duration
        /// How much the wait grows after each look.
        public var multiplier: Double
        /// Give up (with a retryable timeout error; the batch goes on) after this long; `nil` waits
        /// as long as it takes.
        public var timeout: Duration?

        public init(
            initialInterval: Duration = .seconds(5), maxInterval: Duration = .seconds(60), multiplier: Double = 1.5,
            timeout: Duration? = nil
        ) {
            self.initialInterval = initialInterval
            self.maxInterval = max(initialInterval, maxInterval)
            self.multiplier = max(1, multiplier)
            self.timeout = timeout
        }

        /// 5 s, growing by half after each look up to a minute; no time limit.
        public static let standard = Polling()
    }

    /// Where a provider's Files and Batches endpoints are: its base URL, except for Novita's
    /// built-in `https://api.novita.ai/v3/openai`, whose batch endpoints are at
    /// `https://api.novita.ai/openai/v1` (Novita's batch guide).
    public static func batchBaseURL(for provider: ProviderConfiguration) -> String {
        if provider.baseURL == "https://api.novita.ai/v3/openai" { return "https://api.novita.ai/openai/v1" }
        return provider.baseURL
    }

    /// The `completion_window` a provider accepts: `24h` for OpenAI's own API, `48h` (Novita's
    /// fixed window) for everything else.
    public static func defaultCompletionWindow(for provider: ProviderConfiguration) -> String {
        URL(string: provider.baseURL)?.host?.hasSuffix("api.openai.com") == true ? "24h" : "48h"
    }

    // MARK: - Files

    /// Uploads a batch input file (`POST /files`, multipart, `purpose=batch`).
    /// - Parameters:
    ///   - contents: the JSONL text (see ``BatchInputFile``).
    ///   - filename: the name the provider shows for it.
    /// - Returns: the provider's file object; its `id` goes to ``createBatch(inputFileID:api:completionWindow:metadata:provider:)``.
    /// - Throws: ``ProviderError``.
    public func uploadFile(
        _ contents: ByteBuffer, filename: String = "batch.jsonl", provider: ProviderConfiguration
    ) async throws -> FileObject {
        let boundary = "skein-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let body = Self.multipartBody(
            boundary: boundary, fields: [("purpose", "batch")], fileField: "file", filename: filename,
            contents: contents)
        let operation = "uploading \(filename)"
        let json = try await request(
            .POST, "/files", body: body, contentType: "multipart/form-data; boundary=\(boundary)",
            provider: provider, operation: operation)
        return try decoded(FileObject(json: json), provider: provider, operation: operation, what: "a file object")
    }

    /// Uploads a ``BatchInputFile``.
    public func uploadFile(
        _ file: BatchInputFile, filename: String = "batch.jsonl", provider: ProviderConfiguration
    ) async throws -> FileObject {
        try await uploadFile(file.contents, filename: filename, provider: provider)
    }

    /// Uploads a JSONL file from disk, named after its last path component. Providers cap input
    /// files (Novita at 100 MB, OpenAI at 200 MB), so it is read whole.
    /// - Throws: the read error when the file cannot be read; ``ProviderError``.
    public func uploadFile(atPath path: String, provider: ProviderConfiguration) async throws -> FileObject {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try await uploadFile(
            ByteBuffer(data: data), filename: URL(fileURLWithPath: path).lastPathComponent, provider: provider)
    }

    /// `GET /files/{id}`.
    public func retrieveFile(_ id: String, provider: ProviderConfiguration) async throws -> FileObject {
        let operation = "retrieving file \(id)"
        let json = try await request(.GET, "/files/\(Self.pathComponent(id))", provider: provider, operation: operation)
        return try decoded(FileObject(json: json), provider: provider, operation: operation, what: "a file object")
    }

    /// `DELETE /files/{id}`.
    /// - Returns: whether the provider says it deleted the file.
    @discardableResult
    public func deleteFile(_ id: String, provider: ProviderConfiguration) async throws -> Bool {
        let json = try await request(
            .DELETE, "/files/\(Self.pathComponent(id))", provider: provider, operation: "deleting file \(id)")
        return json["deleted"]?.boolValue ?? false
    }

    /// The bytes of a file (`GET /files/{id}/content`), such as a batch's output file.
    /// - Parameter maximumBytes: refuse a larger file; use ``downloadFile(_:to:provider:)`` for those.
    /// - Throws: ``ProviderError``.
    public func fileContent(
        _ id: String, provider: ProviderConfiguration, maximumBytes: Int = 256 * 1024 * 1024
    ) async throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try await readContent(
            of: id, provider: provider, operation: "downloading file \(id)",
            begin: { buffer.clear() },
            consume: { chunk in
                guard buffer.readableBytes + chunk.readableBytes <= maximumBytes else {
                    throw ProviderError.invalidResponse(
                        provider: provider.name, status: 200,
                        detail: "file \(id) is larger than \(maximumBytes) bytes; download it to a file instead")
                }
                var chunk = chunk
                buffer.writeBuffer(&chunk)
            })
        return buffer
    }

    /// Streams a file (`GET /files/{id}/content`) to `path`, so memory does not grow with it.
    /// The bytes go to `path.part` first, which replaces `path` once complete: an interrupted
    /// download never leaves a truncated file at `path`.
    /// - Returns: the number of bytes written.
    /// - Throws: ``ProviderError``; the write error when the file cannot be written.
    @discardableResult
    public func downloadFile(_ id: String, to path: String, provider: ProviderConfiguration) async throws -> Int {
        let partial = path + ".part"
        let fileManager = FileManager.default
        var handle: FileHandle?
        var written = 0
        defer { try? handle?.close() }
        do {
            try await readContent(
                of: id, provider: provider, operation: "downloading file \(id)",
                begin: {
                    try? handle?.close()
                    guard fileManager.createFile(atPath: partial, contents: nil) else {
                        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: partial])
                    }
                    handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
                    written = 0
                },
                consume: { chunk in
                    try handle?.write(contentsOf: chunk.readableBytesView)
                    written += chunk.readableBytes
                })
            try handle?.close()
            handle = nil
            if fileManager.fileExists(atPath: path) { try fileManager.removeItem(atPath: path) }
            try fileManager.moveItem(atPath: partial, toPath: path)
        } catch {
            try? handle?.close()
            handle = nil
            try? fileManager.removeItem(atPath: partial)
            throw error
        }
        return written
    }

    // MARK: - Batches

    /// Creates a batch over an uploaded input file (`POST /batches`).
    /// - Parameters:
    ///   - inputFileID: the uploaded file's id.
    ///   - api: the endpoint every line goes to.
    ///   - completionWindow: `nil` for ``defaultCompletionWindow(for:)``.
    ///   - metadata: up to 16 short strings the provider keeps with the batch; a tag here lets
    ///     a restarted run find a batch it created but did not hear back about.
    /// - Throws: ``ProviderError``; see the type's notes on retries.
    public func createBatch(
        inputFileID: String, api: CompletionAPI, completionWindow: String? = nil, metadata: [String: String] = [:],
        provider: ProviderConfiguration
    ) async throws -> BatchJob {
        var body: JSONValue.JSONObject = [
            "input_file_id": .string(inputFileID), "endpoint": .string(api.batchEndpoint),
            "completion_window": .string(completionWindow ?? Self.defaultCompletionWindow(for: provider)),
        ]
        if !metadata.isEmpty {
            body["metadata"] = .object(
                JSONValue.JSONObject(
                    uniqueKeysWithValues: metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
        }
        let operation = "creating a batch over file \(inputFileID)"
        let json = try await request(
            .POST, "/batches", body: RequestBodyEncoder.encode(body), provider: provider, operation: operation,
            retriesAfterTransportErrors: false)
        return try decoded(BatchJob(json: json), provider: provider, operation: operation, what: "a batch object")
    }

    /// `GET /batches/{id}`.
    public func retrieveBatch(_ id: String, provider: ProviderConfiguration) async throws -> BatchJob {
        let operation = "retrieving batch \(id)"
        let json = try await request(
            .GET, "/batches/\(Self.pathComponent(id))", provider: provider, operation: operation)
        return try decoded(BatchJob(json: json), provider: provider, operation: operation, what: "a batch object")
    }

    /// `POST /batches/{id}/cancel`. The batch is `cancelling` for a while, then `cancelled`;
    /// the requests that ran are in its output file.
    public func cancelBatch(_ id: String, provider: ProviderConfiguration) async throws -> BatchJob {
        let operation = "cancelling batch \(id)"
        let json = try await request(
            .POST, "/batches/\(Self.pathComponent(id))/cancel", provider: provider, operation: operation)
        return try decoded(BatchJob(json: json), provider: provider, operation: operation, what: "a batch object")
    }

    /// `GET /batches`: the newest batches first.
    /// - Parameters:
    ///   - limit: how many (providers default to 20 and allow up to 100).
    ///   - after: the last id of the previous page.
    public func listBatches(limit: Int? = nil, after: String? = nil, provider: ProviderConfiguration) async throws
        -> BatchPage
    {
        var query: [String] = []
        if let limit { query.append("limit=\(limit)") }
        if let after { query.append("after=\(Self.pathComponent(after))") }
        let path = "/batches" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let json = try await request(.GET, path, provider: provider, operation: "listing batches")
        let jobs = (json["data"]?.arrayValue ?? []).compactMap(BatchJob.init(json:))
        return BatchPage(
            jobs: jobs, hasMore: json["has_more"]?.boolValue ?? false,
            lastID: json["last_id"]?.stringValue ?? jobs.last?.id)
    }

    /// Polls a batch until it has finished (completed, failed, expired or cancelled), waiting
    /// longer between looks as `polling` says, on the client's clock.
    /// - Parameter onUpdate: called with the batch after every look.
    /// - Returns: the finished batch.
    /// - Throws: ``ProviderError`` from a look that failed for good; a `timeout` error
    ///   (`BATCH_TIMEOUT`, retryable) when `polling.timeout` passes first; `CancellationError`.
    public func waitForBatch(
        _ id: String, provider: ProviderConfiguration, polling: Polling = .standard,
        onUpdate: (@Sendable (BatchJob) -> Void)? = nil
    ) async throws -> BatchJob {
        let clock = transport.clock
        let start = clock.now()
        var interval = polling.initialInterval
        while true {
            let job = try await retrieveBatch(id, provider: provider)
            onUpdate?(job)
            if job.status.isFinished { return job }
            if let limit = polling.timeout, clock.now() - start + interval > limit {
                throw ProviderError(
                    kind: .timeout, provider: provider.name, code: "BATCH_TIMEOUT",
                    message: "batch \(id) is still \(job.status) after \(ProviderError.seconds(limit))",
                    hint: "The batch goes on at the provider: wait for it again later, or cancel it.",
                    isRetryable: true)
            }
            try await clock.sleep(interval)
            interval = min(polling.maxInterval, interval * polling.multiplier)
        }
    }

    // MARK: - Results

    /// Every result in the contents of an output or error file, errors scrubbed of the
    /// provider's key.
    /// - Throws: `ProviderError.invalidResponse` for a line that is not a result line.
    public func results(in contents: ByteBuffer, provider: ProviderConfiguration) throws -> [BatchResult] {
        try BatchResult.parse(contents.readableBytesView, provider: provider, apiKey: apiKey(provider))
    }

    /// Reads an output or error file on disk line by line, calling `body` with each result.
    public func forEachResult(
        inFileAt path: String, provider: ProviderConfiguration, _ body: (BatchResult) throws -> Void
    ) throws {
        try BatchResult.forEach(inFileAt: path, provider: provider, apiKey: apiKey(provider), body)
    }

    // MARK: - Requests

    private func apiKey(_ provider: ProviderConfiguration) -> String? {
        (try? transport.requireAPIKey(provider)) ?? nil
    }

    /// The call for a Batch API request: the provider's batch base URL, its headers and key.
    private func call(
        _ method: HTTPMethod, _ path: String, body: ByteBuffer?, contentType: String, accept: String,
        provider: ProviderConfiguration
    ) throws -> ProviderTransport.Call {
        guard provider.kind == .openai else {
            throw ProviderError.unsupportedAPI(provider: provider.name, kind: provider.kind.rawValue)
        }
        let apiKey = try transport.requireAPIKey(provider)
        var headers = transport.headers(for: provider, apiKey: apiKey, streaming: false)
        headers.replaceOrAdd(name: "content-type", value: contentType)
        headers.replaceOrAdd(name: "accept", value: accept)
        return ProviderTransport.Call(
            url: Self.batchBaseURL(for: provider) + path, method: method, provider: provider, apiKey: apiKey,
            headers: headers, body: body, timeout: transport.configuration.timeout)
    }

    /// Sends a request whose reply is a JSON object, with retries.
    /// - Parameter retriesAfterTransportErrors: `false` for a request that must not be sent
    ///   twice: a timeout or a dropped connection then ends the attempts.
    private func request(
        _ method: HTTPMethod, _ path: String, body: ByteBuffer? = nil, contentType: String = "application/json",
        provider: ProviderConfiguration, operation: String, retriesAfterTransportErrors: Bool = true
    ) async throws -> JSONValue {
        let call = try call(
            method, path, body: body, contentType: contentType, accept: "application/json", provider: provider)
        return try await transport.withRetries(
            policy: transport.configuration.retryPolicy, provider: provider, metadata: metadata(provider, operation), events: nil
        ) { _ in
            let status: Int
            let reply: ByteBuffer
            do {
                (status, reply) = try await transport.fetch(call)
            } catch {
                throw adjusted(
                    error, provider: provider, operation: operation,
                    retriesAfterTransportErrors: retriesAfterTransportErrors)
            }
            guard let json = try? JSONValue(parsing: reply.readableBytesView), json.objectValue != nil else {
                let text = ProviderError.redact(String(buffer: reply), apiKey: call.apiKey)
                throw ProviderError.invalidResponse(
                    provider: provider.name, status: status,
                    detail: "\(operation): the reply is not a JSON object: \(StreamAssembler.excerpt(text))")
            }
            return json
        }
    }

    /// Streams the content of a file, with retries: `begin` before each attempt's body, then
    /// `consume` with each piece.
    private func readContent(
        of id: String, provider: ProviderConfiguration, operation: String, begin: () throws -> Void,
        consume: (ByteBuffer) throws -> Void
    ) async throws {
        let call = try call(
            .GET, "/files/\(Self.pathComponent(id))/content", body: nil, contentType: "application/json",
            accept: "*/*", provider: provider)
        try await transport.withRetries(
            policy: transport.configuration.retryPolicy, provider: provider, metadata: metadata(provider, operation), events: nil
        ) { _ in
            let response: HTTPClientResponse
            do {
                response = try await transport.execute(call, deadline: .now() + TimeAmount(call.timeout))
            } catch {
                throw adjusted(error, provider: provider, operation: operation)
            }
            guard (200..<300).contains(Int(response.status.code)) else {
                throw adjusted(
                    try await transport.error(for: response, call: call), provider: provider, operation: operation)
            }
            try begin()
            var pieces = response.body.makeAsyncIterator()
            while true {
                let piece: ByteBuffer?
                do {
                    piece = try await pieces.next()
                } catch {
                    throw adjusted(
                        transport.transportError(error, call: call), provider: provider, operation: operation)
                }
                guard let piece else { return }
                try consume(piece)
            }
        }
    }

    /// A provider error worded for the Batch API: the operation first; a 404 is an unknown id,
    /// not an unknown model; and, for a request that must not be sent twice, a timeout or a
    /// dropped connection is final.
    private func adjusted(
        _ error: any Error, provider: ProviderConfiguration, operation: String,
        retriesAfterTransportErrors: Bool = true
    ) -> any Error {
        guard var error = error as? ProviderError else { return error }
        error.message = "\(operation): \(error.message)"
        if error.status == 404 {
            error.kind = .notFound
            if error.code == ProviderError.defaultCode(status: 404) { error.code = "NOT_FOUND" }
            error.isRetryable = false
            var hint =
                "Check the id: provider '\(provider.name)' does not know it. Files and batches belong to one account"
            if let variable = provider.apiKeyEnvironmentVariable { hint += " (the key in \(variable))" }
            hint += ", and providers delete them after a while (Novita: input files after 15 days, results after 30)."
            error.hint = hint
        } else if error.kind == .badRequest {
            error.hint = "The provider refused the Batch API request as it is."
        }
        if !retriesAfterTransportErrors, error.kind == .timeout || error.kind == .connectionFailed {
            error.isRetryable = false
            error.hint =
                "The batch may have been created all the same: look for it with listBatches (by its metadata) "
                + "before creating it again."
        }
        return error
    }

    private func decoded<Value>(_ value: Value?, provider: ProviderConfiguration, operation: String, what: String)
        throws -> Value
    {
        guard let value else {
            throw ProviderError.invalidResponse(
                provider: provider.name, status: 200, detail: "\(operation): the reply is not \(what)")
        }
        return value
    }

    private func metadata(_ provider: ProviderConfiguration, _ operation: String) -> Logger.Metadata {
        ["provider": "\(provider.name)", "operation": "\(operation)"]
    }

    /// An id made safe for a URL path (ids are letters, digits, `-` and `_` in practice).
    static func pathComponent(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "-._~").union(.alphanumerics)) ?? id
    }

    /// A `multipart/form-data` body (RFC 7578): the text fields, then the file.
    static func multipartBody(
        boundary: String, fields: [(String, String)], fileField: String, filename: String, contents: ByteBuffer
    ) -> ByteBuffer {
        // A quote, a backslash or a line break would end the header's quoted string.
        let safeName = String(filename.filter { $0 != "\"" && $0 != "\\" && !$0.isNewline })
        var body = ByteBufferAllocator().buffer(capacity: contents.readableBytes + 512)
        for (name, value) in fields {
            body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
        }
        body.writeString(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(fileField)\"; filename=\"\(safeName)\"\r\n"
                + "Content-Type: application/jsonl\r\n\r\n")
        var file = contents
        body.writeBuffer(&file)
        body.writeString("\r\n--\(boundary)--\r\n")
        return body
    }
}
