import Foundation
import NIOCore
import NIOFoundationCompat

/// A batch input file being built: one JSONL line per request,
/// `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}`.
///
/// A batch has one endpoint, so every request must use the same ``CompletionAPI``; and Novita
/// takes one model per file, so by default every request must name the same model (group
/// requests by model and build a file for each). A file also stops taking requests at the
/// providers' limits (50,000 requests; 100 MB at Novita, 200 MB at OpenAI): start a new one.
///
/// ```swift
/// var file = BatchInputFile()
/// for (index, request) in requests.enumerated() { try file.append(request, customID: "row-\(index)") }
/// let uploaded = try await batches.uploadFile(file, provider: provider)
/// ```
public struct BatchInputFile: Sendable {
    /// The JSONL text so far, each line ending in `\n`.
    public private(set) var contents: ByteBuffer
    /// The endpoint of every request so far.
    public private(set) var api: CompletionAPI?
    /// The model of every request so far (when ``requiresOneModel``).
    public private(set) var model: String?
    public private(set) var count = 0
    public let requiresOneModel: Bool
    public let maxRequests: Int
    public let maxBytes: Int
    private var customIDs: Set<String> = []

    /// - Parameters:
    ///   - requiresOneModel: refuse a request whose model differs from the first's (Novita's rule).
    ///   - maxRequests: the most lines the file takes.
    ///   - maxBytes: the largest the file may grow.
    public init(requiresOneModel: Bool = true, maxRequests: Int = 50_000, maxBytes: Int = 100 * 1024 * 1024) {
        self.requiresOneModel = requiresOneModel
        self.maxRequests = maxRequests
        self.maxBytes = maxBytes
        contents = ByteBufferAllocator().buffer(capacity: 4096)
    }

    /// Whether the file has no request yet.
    public var isEmpty: Bool { count == 0 }

    /// Adds a request's line.
    /// - Throws: ``BatchInputError`` when the request does not fit the file: another endpoint
    ///   or model, a `custom_id` already used, or the file is full (nothing is added then).
    public mutating func append(_ request: CompletionRequest, customID: String) throws(BatchInputError) {
        if let api, api != request.api {
            throw .mixedEndpoints(expected: api.batchEndpoint, found: request.api.batchEndpoint)
        }
        if requiresOneModel, let model, model != (request.model ?? "") {
            throw .mixedModels(expected: model, found: request.model ?? "")
        }
        guard !customIDs.contains(customID) else { throw .duplicateCustomID(customID) }
        guard count < maxRequests else { throw .full(requests: count, bytes: contents.readableBytes) }
        let line = Self.line(for: request, customID: customID)
        guard contents.readableBytes + line.readableBytes <= maxBytes else {
            throw .full(requests: count, bytes: contents.readableBytes)
        }
        var buffer = line
        contents.writeBuffer(&buffer)
        customIDs.insert(customID)
        api = request.api
        if model == nil { model = request.model ?? "" }
        count += 1
    }

    /// The input line for one request, ending in `\n`: `custom_id`, `method` `POST`, the `url`
    /// of its endpoint, and its body without `stream` and `stream_options` (a batch reply is
    /// never streamed).
    public static func line(for request: CompletionRequest, customID: String) -> ByteBuffer {
        var body = request.body
        body.removeValue(forKey: "stream")
        body.removeValue(forKey: "stream_options")
        var buffer = ByteBufferAllocator().buffer(capacity: 256)
        buffer.writeStaticString("{\"custom_id\":")
        RequestBodyEncoder.writeString(customID, to: &buffer)
        buffer.writeStaticString(",\"method\":\"POST\",\"url\":")
        RequestBodyEncoder.writeString(request.api.batchEndpoint, to: &buffer)
        buffer.writeStaticString(",\"body\":")
        RequestBodyEncoder.write(.object(body), to: &buffer)
        buffer.writeStaticString("}\n")
        return buffer
    }
}

/// Why a request cannot go into a ``BatchInputFile``.
public enum BatchInputError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file's requests go to `expected`; a batch has one endpoint.
    case mixedEndpoints(expected: String, found: String)
    /// The file's requests use `expected`; Novita takes one model per batch file.
    case mixedModels(expected: String, found: String)
    /// Every request of a batch needs its own `custom_id`.
    case duplicateCustomID(String)
    /// The file has reached its request or size limit.
    case full(requests: Int, bytes: Int)

    public var description: String {
        switch self {
        case .mixedEndpoints(let expected, let found):
            return "a batch file has one endpoint: this one is for \(expected), the request is for \(found)"
        case .mixedModels(let expected, let found):
            return "a batch file has one model: this one is for '\(expected)', the request is for '\(found)'; "
                + "group the requests by model"
        case .duplicateCustomID(let id):
            return "the custom_id '\(id)' is already in the batch file"
        case .full(let requests, let bytes):
            return "the batch file is full (\(requests) requests, \(bytes) bytes); start another one"
        }
    }
}

/// One line of a batch's output or error file, read back: which request it answers and its
/// completion or error.
///
/// Lines have OpenAI's shape, which Novita shares:
/// `{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error": null}`, where
/// `body` is what the endpoint would have answered live; or `"response": null` and
/// `"error": {"code", "message"}` for a request that got no answer (`batch_expired`,
/// `batch_cancelled`, `request_timeout`, ...).
public struct BatchResult: Sendable, Hashable {
    /// The `custom_id` of the input line.
    public var customID: String
    /// The provider's id for the request (`response.request_id`, else the line's `id`).
    public var requestID: String?
    /// The HTTP status the request got; `nil` when it got no answer.
    public var statusCode: Int?
    /// The completion, decoded as a live reply is; or the error, with what to do and whether
    /// sending the request again may succeed.
    public var outcome: Result<Completion, ProviderError>

    public init(customID: String, requestID: String?, statusCode: Int?, outcome: Result<Completion, ProviderError>) {
        self.customID = customID
        self.requestID = requestID
        self.statusCode = statusCode
        self.outcome = outcome
    }

    public var completion: Completion? {
        if case .success(let completion) = outcome { return completion }
        return nil
    }

    public var error: ProviderError? {
        if case .failure(let error) = outcome { return error }
        return nil
    }

    /// Reads one line of an output or error file.
    /// - Parameters:
    ///   - line: the line's bytes, without the newline.
    ///   - provider: the provider the batch ran at, for the errors' wording.
    ///   - apiKey: the key, scrubbed from error messages should the provider echo it.
    /// - Throws: `ProviderError.invalidResponse` when the line is not a result line at all.
    public init(line: some Collection<UInt8>, provider: ProviderConfiguration, apiKey: String? = nil)
        throws(ProviderError)
    {
        guard let json = try? JSONValue(parsing: line), json.objectValue != nil else {
            let text = String(decoding: line, as: UTF8.self)
            throw ProviderError.invalidResponse(
                provider: provider.name, status: nil,
                detail:
                    "a batch result line is not JSON: \(StreamAssembler.excerpt(ProviderError.redact(text, apiKey: apiKey)))"
            )
        }
        guard let customID = json["custom_id"]?.stringValue else {
            throw ProviderError.invalidResponse(
                provider: provider.name, status: nil, detail: "a batch result line has no custom_id")
        }
        self.customID = customID
        let response = json["response"]?.objectValue != nil ? json["response"] : nil
        requestID = response?["request_id"]?.stringValue ?? json["id"]?.stringValue
        statusCode = response?["status_code"]?.intValue
        outcome = .failure(Self.error(json: json, response: response, provider: provider, apiKey: apiKey))
        if let response, let status = statusCode, (200..<300).contains(status) {
            let body = response["body"] ?? .null
            if let completion = Completion.decode(body, attempts: 1) {
                outcome = .success(completion)
            } else {
                outcome = .failure(
                    ProviderError.invalidResponse(
                        provider: provider.name, status: status,
                        detail: "the batch reply for '\(customID)' has no choices"))
            }
        }
    }

    /// The error of a line that is not a success: the response's error body with its status,
    /// decoded as a live error is; or the line's `error` when there was no response.
    private static func error(json: JSONValue, response: JSONValue?, provider: ProviderConfiguration, apiKey: String?)
        -> ProviderError
    {
        if let response, let status = response["status_code"]?.intValue {
            let body = response["body"] ?? .null
            let text = body.stringValue ?? body.serialized(.compact)
            return ProviderError.response(
                provider: provider, status: status, reasonPhrase: "HTTP \(status)", body: Array(text.utf8),
                retryAfter: nil, apiKey: apiKey)
        }
        let error = json["error"]
        let code = error?["code"]?.stringValue ?? error?["type"]?.stringValue
        let message = ProviderError.redact(
            error?["message"]?.stringValue ?? error?.stringValue ?? "the batch gave no reply for this request",
            apiKey: apiKey)
        switch code?.lowercased() {
        case "batch_expired", "batch_cancelled", "batch_canceled":
            return ProviderError(
                kind: .batchNotRun, provider: provider.name, code: code, message: message,
                hint: "Send the request again, in a new batch or live.", isRetryable: true)
        case "request_timeout", "timeout":
            return ProviderError(
                kind: .timeout, provider: provider.name, code: code, message: message,
                hint: "Send the request again, in a new batch or live.", isRetryable: true)
        default:
            return ProviderError(
                kind: .serverError, provider: provider.name, code: code ?? "BATCH_REQUEST_FAILED", message: message,
                hint: "The provider had a problem with this request; send it again.", isRetryable: true)
        }
    }

    /// Every result in the text of a whole output or error file; blank lines are skipped.
    /// - Throws: `ProviderError.invalidResponse` for a line that is not a result line.
    public static func parse(_ contents: some Collection<UInt8>, provider: ProviderConfiguration, apiKey: String? = nil)
        throws(ProviderError) -> [BatchResult]
    {
        var results: [BatchResult] = []
        var splitter = JSONLSplitter()
        for line in splitter.consume(Array(contents)) + splitter.finish() {
            results.append(try BatchResult(line: line, provider: provider, apiKey: apiKey))
        }
        return results
    }

    /// Reads an output or error file from disk a piece at a time, so memory does not grow with
    /// the file, and calls `body` with each result in order.
    /// - Throws: the file's read error; `ProviderError.invalidResponse` for a line that is not
    ///   a result line; whatever `body` throws.
    public static func forEach(
        inFileAt path: String, provider: ProviderConfiguration, apiKey: String? = nil,
        _ body: (BatchResult) throws -> Void
    ) throws {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var splitter = JSONLSplitter()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            for line in splitter.consume(Array(chunk)) {
                try body(try BatchResult(line: line, provider: provider, apiKey: apiKey))
            }
        }
        for line in splitter.finish() {
            try body(try BatchResult(line: line, provider: provider, apiKey: apiKey))
        }
    }
}

/// Cuts JSONL text that arrives in pieces into lines (without `\n` or `\r\n`), skipping blank ones.
struct JSONLSplitter {
    private var partial: [UInt8] = []

    /// The lines completed by `bytes`.
    mutating func consume(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        let data = partial.isEmpty ? bytes : partial + bytes
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        while let newline = data[start...].firstIndex(of: 0x0A) {
            if let line = Self.trimmed(data[start..<newline]) { lines.append(line) }
            start = newline + 1
        }
        partial = Array(data[start...])
        return lines
    }

    /// The last line, when the text does not end with a newline.
    mutating func finish() -> [ArraySlice<UInt8>] {
        defer { partial = [] }
        return Self.trimmed(partial[...]).map { [$0] } ?? []
    }

    private static func trimmed(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var line = line
        if line.last == 0x0D { line = line.dropLast() }
        guard line.contains(where: { $0 != 0x20 && $0 != 0x09 }) else { return nil }
        return line
    }
}
