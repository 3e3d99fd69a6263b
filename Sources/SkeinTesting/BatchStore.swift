import Foundation

/// A file of the Files endpoints: an uploaded batch input file, or a batch's output or error file.
struct StoredFile: Sendable {
    let id: String
    let filename: String
    /// `batch` for uploads, `batch_output` for output and error files.
    let purpose: String
    let bytes: [UInt8]
    let createdAt: ContinuousClock.Instant
    /// The lines with content, for an uploaded file (Novita's `metadata.total_requests`).
    let lineCount: Int?
}

/// One request line of a batch input file, as read when the batch was created.
struct BatchInputLine: Sendable {
    let customID: String
    let body: TestJSON
}

/// Why an input file was refused: one entry of the batch's `errors.data`.
struct BatchValidationError: Sendable, Equatable {
    let code: String
    let message: String
    let param: String?
    /// The 1-based line of the input file, when the error is about one line.
    let line: Int?
}

/// What answering one batch line gave.
enum BatchLineOutcome: Sendable {
    /// An HTTP answer: a 2xx goes to the output file, anything else to the error file.
    case response(status: Int, body: TestJSON)
    /// No answer at all (a dropped connection, a hang, cancellation, expiry): the error file.
    case noResponse(code: String, message: String)
}

/// A batch of the Batches endpoints and everything its status depends on.
struct StoredBatch: Sendable {
    enum Status: String, Sendable {
        case validating, failed, inProgress = "in_progress", finalizing, completed, expired, cancelling, cancelled

        var isFinished: Bool { self == .failed || self == .completed || self == .expired || self == .cancelled }

        /// Novita's spelling, from its documentation's table: upper case, `PROGRESS` for in progress.
        var novitaSpelling: String { self == .inProgress ? "PROGRESS" : rawValue.uppercased() }
    }

    let id: String
    /// The number in the id, for request ids of its lines.
    let number: Int
    /// The endpoint as the client gave it (`/v1/chat/completions`).
    let endpointPath: String
    let endpoint: ReplyRule.Endpoint
    let inputFileID: String
    let completionWindow: String
    /// An object of strings, or `null`.
    let metadata: TestJSON
    let createdAt: ContinuousClock.Instant
    /// The lines still to answer; emptied when the batch finishes.
    var lines: [BatchInputLine]
    let totalLines: Int
    let validationErrors: [BatchValidationError]
    var status: Status = .validating
    var answered = 0
    var completed = 0
    var failed = 0
    var output: [UInt8] = []
    var errorOutput: [UInt8] = []
    var outputFileID: String?
    var errorFileID: String?
    var inProgressAt: ContinuousClock.Instant?
    var finalizingAt: ContinuousClock.Instant?
    var completedAt: ContinuousClock.Instant?
    var failedAt: ContinuousClock.Instant?
    var expiredAt: ContinuousClock.Instant?
    var cancellingAt: ContinuousClock.Instant?
    var cancelledAt: ContinuousClock.Instant?
}

/// The files and batches of the test server, and the clock-driven life of each batch; owned by
/// ``ServerState``, which supplies the answer to each line.
///
/// A batch does not run in a task of its own: whenever a Files or Batches endpoint is called,
/// every batch is first brought up to date with the time that has passed (lines whose turn has
/// come are answered, in order). So a batch nobody looks at does nothing, and the answers come
/// in the order a real batch would give them.
struct BatchStore: Sendable {
    /// Answers one line: its body, the batch's endpoint, the request id the line gets, and the time.
    typealias Answer = (TestJSON, ReplyRule.Endpoint, String, ContinuousClock.Instant) -> BatchLineOutcome

    let configuration: SkeinTestServer.BatchConfiguration
    private(set) var files: [String: StoredFile] = [:]
    private(set) var fileOrder: [String] = []
    private(set) var batches: [String: StoredBatch] = [:]
    private(set) var batchOrder: [String] = []
    private var nextFileNumber = 1
    private var nextBatchNumber = 1
    private(set) var fileUploads = 0
    private(set) var batchCreations = 0
    private(set) var linesAnswered = 0
    /// An instant and the Unix time it was, to turn instants into timestamps.
    private let origin: (instant: ContinuousClock.Instant, unixTime: Double)

    init(configuration: SkeinTestServer.BatchConfiguration) {
        self.configuration = configuration
        origin = (ContinuousClock.now, Date().timeIntervalSince1970)
    }

    mutating func resetCounters() {
        fileUploads = 0
        batchCreations = 0
        linesAnswered = 0
    }

    // MARK: - Files

    /// Stores an uploaded file (counted in ``fileUploads``) or a batch's output file (not counted).
    @discardableResult
    mutating func addFile(
        filename: String, purpose: String, bytes: [UInt8], at instant: ContinuousClock.Instant, isUpload: Bool
    ) -> StoredFile {
        let file = StoredFile(
            id: "file-test-\(nextFileNumber)", filename: filename, purpose: purpose, bytes: bytes, createdAt: instant,
            lineCount: isUpload ? Self.contentLines(bytes).count : nil)
        nextFileNumber += 1
        files[file.id] = file
        fileOrder.append(file.id)
        if isUpload { fileUploads += 1 }
        return file
    }

    mutating func deleteFile(id: String) -> Bool {
        guard files.removeValue(forKey: id) != nil else { return false }
        fileOrder.removeAll { $0 == id }
        return true
    }

    // MARK: - Batches

    /// Creates a batch over an input file; the file is read now, and a file that breaks a rule
    /// makes the batch fail once its validation time has passed.
    mutating func createBatch(
        input: StoredFile, endpointPath: String, endpoint: ReplyRule.Endpoint, completionWindow: String,
        metadata: TestJSON, at instant: ContinuousClock.Instant
    ) -> StoredBatch {
        let (lines, errors) = Self.read(input.bytes, endpoint: endpoint, configuration: configuration)
        let batch = StoredBatch(
            id: "batch_test_\(nextBatchNumber)", number: nextBatchNumber, endpointPath: endpointPath,
            endpoint: endpoint, inputFileID: input.id, completionWindow: completionWindow, metadata: metadata,
            createdAt: instant, lines: errors.isEmpty ? lines : [], totalLines: errors.isEmpty ? lines.count : 0,
            validationErrors: errors)
        nextBatchNumber += 1
        batches[batch.id] = batch
        batchOrder.append(batch.id)
        batchCreations += 1
        return batch
    }

    /// Brings every unfinished batch up to `now`; with `force`, as if all its delays had passed.
    mutating func advanceAll(now: ContinuousClock.Instant, force: Bool = false, answer: Answer) {
        for id in batchOrder where batches[id]?.status.isFinished == false {
            advance(id, now: now, force: force, answer: answer)
        }
    }

    /// Brings one batch up to `now`.
    mutating func advance(_ id: String, now: ContinuousClock.Instant, force: Bool = false, answer: Answer) {
        // Moved out of the dictionary so that its buffers are mutated in place, not copied.
        guard var batch = batches.removeValue(forKey: id) else { return }
        defer { batches[id] = batch }
        let delays = configuration
        func due(_ instant: ContinuousClock.Instant) -> ContinuousClock.Instant? {
            if now >= instant { return instant }
            return force ? now : nil
        }
        while true {
            switch batch.status {
            case .validating:
                guard let validated = due(batch.createdAt + delays.validationDelay) else { return }
                if batch.validationErrors.isEmpty {
                    batch.status = .inProgress
                    batch.inProgressAt = validated
                } else {
                    batch.status = .failed
                    batch.failedAt = validated
                }
            case .inProgress:
                let start = batch.inProgressAt ?? batch.createdAt
                let total = batch.totalLines
                let end = start + delays.processingDelay
                let finished = due(end)
                let dueCount: Int
                if finished != nil {
                    dueCount = total
                } else {
                    let fraction = (now - start) / delays.processingDelay
                    dueCount = min(total, max(0, Int((fraction * Double(total)).rounded(.down))))
                }
                while batch.answered < dueCount {
                    let line = batch.lines[batch.answered]
                    let requestID = "batch_req_test_\(batch.number)_\(batch.answered + 1)"
                    let outcome = answer(line.body, batch.endpoint, requestID, now)
                    Self.write(outcome, customID: line.customID, requestID: requestID, into: &batch)
                    batch.answered += 1
                    linesAnswered += 1
                }
                guard let finished else { return }
                batch.finalizingAt = finished
                batch.completedAt = finished
                finish(&batch, as: .completed)
            case .cancelling:
                guard let cancelled = due((batch.cancellingAt ?? now) + delays.cancellationDelay) else { return }
                failRemaining(
                    &batch, code: "batch_cancelled", message: "The batch was cancelled before this request ran.")
                batch.cancelledAt = cancelled
                finish(&batch, as: .cancelled)
            case .finalizing, .failed, .completed, .expired, .cancelled:
                return
            }
        }
    }

    /// Starts cancelling a batch that is validating or in progress, after bringing it up to
    /// `now`; a batch already cancelling or cancelled stays as it is.
    /// - Returns: `nil` for an unknown id; otherwise the batch, and whether the cancellation was
    ///   refused because the batch had already finished.
    mutating func cancel(_ id: String, now: ContinuousClock.Instant, answer: Answer) -> (
        batch: StoredBatch, refused: Bool
    )? {
        advance(id, now: now, answer: answer)
        guard let status = batches[id]?.status else { return nil }
        switch status {
        case .validating, .inProgress, .finalizing:
            batches[id]!.status = .cancelling
            batches[id]!.cancellingAt = now
            return (batches[id]!, false)
        case .cancelling, .cancelled:
            return (batches[id]!, false)
        case .failed, .completed, .expired:
            return (batches[id]!, true)
        }
    }

    /// Ends every unfinished batch as expired at `now`.
    mutating func expireAll(now: ContinuousClock.Instant, answer: Answer) {
        advanceAll(now: now, answer: answer)
        for id in batchOrder where batches[id]?.status.isFinished == false {
            guard var batch = batches.removeValue(forKey: id) else { continue }
            failRemaining(&batch, code: "batch_expired", message: "The batch expired before this request ran.")
            batch.expiredAt = now
            finish(&batch, as: .expired)
            batches[id] = batch
        }
    }

    /// Lines never answered go to the error file with `code`.
    private func failRemaining(_ batch: inout StoredBatch, code: String, message: String) {
        while batch.answered < batch.lines.count {
            let line = batch.lines[batch.answered]
            let requestID = "batch_req_test_\(batch.number)_\(batch.answered + 1)"
            Self.write(
                .noResponse(code: code, message: message), customID: line.customID, requestID: requestID, into: &batch)
            batch.answered += 1
        }
    }

    /// Sets the final status and turns the collected lines into the output and error files.
    private mutating func finish(_ batch: inout StoredBatch, as status: StoredBatch.Status) {
        batch.status = status
        batch.lines = []
        let instant = batch.completedAt ?? batch.cancelledAt ?? batch.expiredAt ?? .now
        if !batch.output.isEmpty {
            batch.outputFileID =
                addFile(
                    filename: "\(batch.id)_output.jsonl", purpose: "batch_output", bytes: batch.output, at: instant,
                    isUpload: false
                ).id
            batch.output = []
        }
        if !batch.errorOutput.isEmpty {
            batch.errorFileID =
                addFile(
                    filename: "\(batch.id)_error.jsonl", purpose: "batch_output", bytes: batch.errorOutput,
                    at: instant, isUpload: false
                ).id
            batch.errorOutput = []
        }
    }

    /// Appends a line's result to the batch's output or error lines, in OpenAI's output format.
    private static func write(
        _ outcome: BatchLineOutcome, customID: String, requestID: String, into batch: inout StoredBatch
    ) {
        switch outcome {
        case .response(let status, let body):
            let line: TestJSON = [
                "id": .string(requestID), "custom_id": .string(customID),
                "response": ["status_code": .int(status), "request_id": .string(requestID), "body": body],
                "error": nil,
            ]
            if (200..<300).contains(status) {
                line.write(into: &batch.output)
                batch.output.append(0x0A)
                batch.completed += 1
            } else {
                line.write(into: &batch.errorOutput)
                batch.errorOutput.append(0x0A)
                batch.failed += 1
            }
        case .noResponse(let code, let message):
            let line: TestJSON = [
                "id": .string(requestID), "custom_id": .string(customID), "response": nil,
                "error": ["code": .string(code), "message": .string(message)],
            ]
            line.write(into: &batch.errorOutput)
            batch.errorOutput.append(0x0A)
            batch.failed += 1
        }
    }

    // MARK: - Reading input files

    /// The lines of `bytes` that have content, with their 1-based line numbers (a trailing `\r`
    /// is dropped; blank lines are skipped).
    static func contentLines(_ bytes: [UInt8]) -> [(number: Int, bytes: ArraySlice<UInt8>)] {
        var lines: [(Int, ArraySlice<UInt8>)] = []
        var number = 0
        var start = bytes.startIndex
        while start < bytes.endIndex {
            number += 1
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.endIndex
            var line = bytes[start..<end]
            if line.last == 0x0D { line = line.dropLast() }
            if line.contains(where: { $0 != 0x20 && $0 != 0x09 }) { lines.append((number, line)) }
            start = end == bytes.endIndex ? end : end + 1
        }
        return lines
    }

    /// Reads and checks an input file: each line `{"custom_id", "method"?, "url"?, "body"}`
    /// with a unique `custom_id`, `method` `POST`, `url` the batch's endpoint, a `body` object
    /// naming a `model`; at most ``SkeinTestServer/BatchConfiguration/maxRequestsPerBatch``
    /// lines; one model when ``SkeinTestServer/BatchConfiguration/requiresOneModel``.
    /// - Returns: the lines, and the errors (at most 100) that make the batch fail.
    static func read(
        _ bytes: [UInt8], endpoint: ReplyRule.Endpoint, configuration: SkeinTestServer.BatchConfiguration
    ) -> ([BatchInputLine], [BatchValidationError]) {
        var lines: [BatchInputLine] = []
        var errors: [BatchValidationError] = []
        var customIDs: Set<String> = []
        // Each model and the first line that names it, in order of appearance.
        var models: [(model: String, line: Int)] = []
        func fail(_ code: String, _ message: String, param: String? = nil, line: Int) {
            if errors.count < 100 { errors.append(.init(code: code, message: message, param: param, line: line)) }
        }
        let content = contentLines(bytes)
        for (number, text) in content {
            guard let json = try? TestJSON(parsing: text), case .object = json else {
                fail("invalid_json_line", "Line \(number) is not a JSON object.", line: number)
                continue
            }
            guard let customID = json["custom_id"]?.stringValue, !customID.isEmpty else {
                fail(
                    "missing_required_parameter", "Line \(number) has no custom_id.", param: "custom_id", line: number)
                continue
            }
            guard customIDs.insert(customID).inserted else {
                fail(
                    "duplicate_custom_id", "The custom_id '\(customID)' on line \(number) is used by an earlier line.",
                    param: "custom_id", line: number)
                continue
            }
            if let method = json["method"], method.stringValue?.uppercased() != "POST" {
                fail("invalid_method", "Line \(number): method must be POST.", param: "method", line: number)
                continue
            }
            if let url = json["url"] {
                let path = url.stringValue.map { $0.hasPrefix("/v1/") ? String($0.dropFirst(3)) : $0 }
                guard path == endpoint.rawValue else {
                    fail(
                        "invalid_url",
                        "Line \(number): url \(url.stringValue ?? url.serialized) does not match the batch's "
                            + "endpoint /v1\(endpoint.rawValue).",
                        param: "url", line: number)
                    continue
                }
            }
            guard let body = json["body"], case .object = body else {
                fail("missing_required_parameter", "Line \(number) has no body object.", param: "body", line: number)
                continue
            }
            guard let model = body["model"]?.stringValue, !model.isEmpty else {
                fail(
                    "missing_required_parameter", "Line \(number): body.model is required in a batch.",
                    param: "body.model", line: number)
                continue
            }
            if !models.contains(where: { $0.model == model }) { models.append((model, number)) }
            lines.append(BatchInputLine(customID: customID, body: body))
        }
        if content.isEmpty {
            errors.append(.init(code: "empty_file", message: "The input file has no requests.", param: nil, line: nil))
        }
        if content.count > configuration.maxRequestsPerBatch {
            errors.append(
                .init(
                    code: "too_many_requests",
                    message:
                        "The input file has \(content.count) requests; a batch takes at most "
                        + "\(configuration.maxRequestsPerBatch).",
                    param: nil, line: nil))
        }
        if configuration.requiresOneModel, models.count > 1 {
            let named = models.map { "\($0.model) (first on line \($0.line))" }.joined(separator: ", ")
            errors.append(
                .init(
                    code: "mixed_models",
                    message:
                        "All requests in one batch file must use the same model; this file uses \(models.count): "
                        + "\(named). Split it into one file per model.",
                    param: "body.model", line: models[1].line))
        }
        return (lines, errors)
    }

    // MARK: - JSON

    /// Seconds since 1970 at `instant`.
    func unixTime(_ instant: ContinuousClock.Instant) -> Int {
        let offset = instant - origin.instant
        let seconds = Double(offset.components.seconds) + Double(offset.components.attoseconds) * 1e-18
        return Int((origin.unixTime + seconds).rounded(.down))
    }

    /// RFC 3339 text with nanoseconds and an offset, as Novita writes its times.
    func rfc3339(_ instant: ContinuousClock.Instant) -> String {
        let offset = instant - origin.instant
        let seconds = Double(offset.components.seconds) + Double(offset.components.attoseconds) * 1e-18
        let time = origin.unixTime + seconds
        let whole = time.rounded(.down)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: whole))
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        let nanoseconds = String(Int((time - whole) * 1e9)).leftPadded(to: 9)
        return "\(parts.year ?? 1970)-\(two(parts.month))-\(two(parts.day))T\(two(parts.hour)):\(two(parts.minute)):"
            + "\(two(parts.second)).\(nanoseconds)+00:00"
    }

    /// The file object: `{id, object: "file", bytes, created_at, filename, purpose}`, plus
    /// `metadata.total_requests` for an uploaded file in Novita's dialect.
    func json(_ file: StoredFile) -> TestJSON {
        var object: [String: TestJSON] = [
            "id": .string(file.id), "object": "file", "bytes": .int(file.bytes.count),
            "created_at": .int(unixTime(file.createdAt)), "filename": .string(file.filename),
            "purpose": .string(file.purpose),
        ]
        if configuration.dialect == .novita, let lineCount = file.lineCount {
            object["metadata"] = ["total_requests": .int(lineCount)]
        }
        return .object(object)
    }

    /// The batch object in the configured dialect.
    func json(_ batch: StoredBatch) -> TestJSON {
        let counts: TestJSON = [
            "total": .int(batch.totalLines), "completed": .int(batch.completed), "failed": .int(batch.failed),
        ]
        let hours = batch.completionWindow == "24h" ? 24 : 48
        let expires = batch.createdAt + .seconds(hours * 3600)
        let times: [(String, ContinuousClock.Instant?)] = [
            ("in_progress_at", batch.inProgressAt), ("expires_at", expires), ("finalizing_at", batch.finalizingAt),
            ("completed_at", batch.completedAt), ("failed_at", batch.failedAt), ("expired_at", batch.expiredAt),
            ("cancelling_at", batch.cancellingAt), ("cancelled_at", batch.cancelledAt),
        ]
        var object: [String: TestJSON] = [
            "id": .string(batch.id), "object": "batch", "endpoint": .string(batch.endpointPath),
            "input_file_id": .string(batch.inputFileID), "completion_window": .string(batch.completionWindow),
            "request_counts": counts, "metadata": batch.metadata,
        ]
        switch configuration.dialect {
        case .openAI:
            object["status"] = .string(batch.status.rawValue)
            object["created_at"] = .int(unixTime(batch.createdAt))
            for (key, instant) in times { object[key] = instant.map { .int(unixTime($0)) } ?? .null }
            object["output_file_id"] = batch.outputFileID.map(TestJSON.string) ?? .null
            object["error_file_id"] = batch.errorFileID.map(TestJSON.string) ?? .null
            object["errors"] =
                batch.validationErrors.isEmpty
                ? .null
                : [
                    "object": "list",
                    "data": .array(
                        batch.validationErrors.map { error in
                            [
                                "code": .string(error.code), "message": .string(error.message),
                                "param": error.param.map(TestJSON.string) ?? .null,
                                "line": error.line.map(TestJSON.int) ?? .null,
                            ]
                        }),
                ]
        case .novita:
            object["status"] = .string(batch.status.novitaSpelling)
            object["created_at"] = .string(rfc3339(batch.createdAt))
            object["updated_at"] = .null
            for (key, instant) in times { object[key] = instant.map { .string(rfc3339($0)) } ?? .null }
            object["output_file_id"] = .string(batch.outputFileID ?? "")
            object["error_file_id"] = .string(batch.errorFileID ?? "")
            object["errors"] = .string(batch.validationErrors.map(\.message).joined(separator: "; "))
            object["total"] = .int(batch.totalLines)
            object["completed"] = .int(batch.completed)
            object["failed"] = .int(batch.failed)
            object["version"] = 0
            object["remark"] = ""
        }
        return .object(object)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
