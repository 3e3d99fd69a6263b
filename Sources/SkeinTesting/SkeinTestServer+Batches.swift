extension SkeinTestServer {
    /// How the Files and Batches endpoints behave.
    ///
    /// The endpoints follow OpenAI's Batch API, which Novita AI copies (its batch base URL is
    /// `https://api.novita.ai/openai/v1`, not the `/v3/openai` of its live endpoints):
    ///
    /// - `POST /files` (multipart/form-data: `purpose=batch` and `file`) → a file object
    ///   `{id, object: "file", bytes, created_at, filename, purpose}`; `GET /files`,
    ///   `GET /files/{id}`, `GET /files/{id}/content` (the bytes), `DELETE /files/{id}`.
    /// - `POST /batches` (`{input_file_id, endpoint, completion_window, metadata?}`),
    ///   `GET /batches/{id}`, `POST /batches/{id}/cancel`, `GET /batches?limit=&after=`.
    ///
    /// A batch is `validating` when created, then `failed` (the input file broke a rule; see
    /// its `errors`) or `in_progress` for ``processingDelay``, during which its lines are
    /// answered one after another, evenly spread, so `request_counts.completed` grows while it
    /// is polled; then `completed`. `POST /batches/{id}/cancel` makes it `cancelling`, then
    /// `cancelled` after ``cancellationDelay``; lines not yet answered land in the error file
    /// with code `batch_cancelled`. ``SkeinTestServer/expireBatches()`` makes unfinished
    /// batches `expired` (code `batch_expired`). The server never shows `finalizing`.
    ///
    /// Each input line `{"custom_id", "method": "POST", "url", "body"}` is answered like a live
    /// request with that body to the batch's endpoint: the same default reply, rules (which
    /// count the line), `rejectsUnknownModels`, `rejectsJSONSchema` and random faults, but no
    /// latency and no requests-per-minute limit; `stream` is ignored (a batch reply is never
    /// streamed). An answer with a 2xx status goes to the output file as
    /// `{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error": null}`;
    /// an error status goes to the error file in the same shape; a line that gets no answer
    /// (a dropped connection, a hang, a malformed reply, cancellation, expiry) goes to the error
    /// file as `{"id", "custom_id", "response": null, "error": {"code", "message"}}` with code
    /// `request_timeout`, `server_error`, `batch_cancelled` or `batch_expired`. The output and
    /// error files exist only when they have a line (their ids are `null` otherwise).
    ///
    /// Where Novita and OpenAI differ (``Dialect`` picks the batch object's shape):
    ///
    /// | | OpenAI | Novita |
    /// | --- | --- | --- |
    /// | `completion_window` | `24h` | `48h`, fixed |
    /// | input lines | `method` and `url` required | only `custom_id` and `body` in its examples |
    /// | models per file | any | one (mixing is refused) |
    /// | limits | 50,000 requests, 200 MB | 50,000 requests, 100 MB |
    /// | `status` | lower case, `in_progress` | documented upper case, `PROGRESS` for in progress (its sample shows `validating`) |
    /// | `created_at` and other times | Unix seconds | RFC 3339 text (`created_at`), other times `null` or text |
    /// | no output/error file yet | `null` | `""` |
    /// | `errors` | `{"object": "list", "data": [{code, message, param, line}]}` | a string |
    /// | counts | `request_counts` | `request_counts`, and `total`, `completed`, `failed` at the top too |
    /// | file object | — | also `metadata.total_requests` |
    ///
    /// This server accepts `method` and `url` as optional (when given they must be `POST` and
    /// the batch's endpoint, with or without `/v1`), `completion_window` `24h` or `48h`, and
    /// refuses files that mix models when ``requiresOneModel`` is on (the default).
    public struct BatchConfiguration: Sendable, Equatable {
        /// The shape of batch objects: OpenAI's (default) or Novita's.
        public enum Dialect: String, Sendable, Equatable, CaseIterable {
            case openAI = "openai"
            case novita
        }

        /// How long a new batch stays `validating`.
        public var validationDelay: Duration
        /// How long a batch stays `in_progress`; its lines are answered evenly over this time.
        /// Zero answers every line at the first look after validation.
        public var processingDelay: Duration
        /// How long a cancelled batch stays `cancelling` before it is `cancelled`.
        public var cancellationDelay: Duration
        /// The largest file `POST /files` accepts (Novita's limit by default; OpenAI's is 200 MB).
        public var maxUploadBytes: Int
        /// The most lines an input file may have; a batch over a larger file fails validation.
        public var maxRequestsPerBatch: Int
        /// Fail a batch whose input lines name more than one model, as Novita requires.
        public var requiresOneModel: Bool
        /// The shape of batch and file objects.
        public var dialect: Dialect

        public init(
            validationDelay: Duration = .zero,
            processingDelay: Duration = .zero,
            cancellationDelay: Duration = .zero,
            maxUploadBytes: Int = 100 * 1024 * 1024,
            maxRequestsPerBatch: Int = 50_000,
            requiresOneModel: Bool = true,
            dialect: Dialect = .openAI
        ) {
            self.validationDelay = validationDelay
            self.processingDelay = processingDelay
            self.cancellationDelay = cancellationDelay
            self.maxUploadBytes = maxUploadBytes
            self.maxRequestsPerBatch = maxRequestsPerBatch
            self.requiresOneModel = requiresOneModel
            self.dialect = dialect
        }
    }

    // MARK: - Batch records and controls

    /// Files uploaded with `POST /files` since the start or the last ``resetRecords()``
    /// (refused uploads are not counted).
    public var fileUploads: Int {
        get async { await state.batchStore.fileUploads }
    }

    /// Batches created with `POST /batches` since the start or the last ``resetRecords()``,
    /// including those that then failed validation (refused requests are not counted). A test
    /// asserts with it that a resumed run did not create a second batch.
    public var batchCreations: Int {
        get async { await state.batchStore.batchCreations }
    }

    /// Batch input lines answered since the start or the last ``resetRecords()``.
    public var batchLinesAnswered: Int {
        get async { await state.batchStore.linesAnswered }
    }

    /// The ids of every batch the server holds, oldest first (``resetRecords()`` keeps them).
    public var batchIDs: [String] {
        get async { await state.batchStore.batchOrder }
    }

    /// The status a client would see for a batch now (`validating`, `in_progress`,
    /// `completed`, … in OpenAI's spelling), or `nil` for an unknown id.
    public func batchStatus(id: String) async -> String? {
        await state.batchStatus(id: id)
    }

    /// Finishes every unfinished batch now, as if its delays had passed: validating batches
    /// are validated, every line of a batch in progress is answered, cancelling batches become
    /// cancelled. For tests that use a long ``BatchConfiguration/processingDelay`` to look at
    /// a batch in progress, then let it complete without waiting.
    public func completeBatches() async {
        await state.completeBatches()
    }

    /// Ends every unfinished batch as `expired`, as a provider does when the completion window
    /// passes: lines answered so far stay in the output, the rest go to the error file with
    /// code `batch_expired`.
    public func expireBatches() async {
        await state.expireBatches()
    }
}
