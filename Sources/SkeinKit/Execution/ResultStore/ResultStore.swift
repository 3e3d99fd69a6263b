import Foundation
import OrderedCollections

/// Where results live between runs: the request cache (a completion per `RequestKey`)
/// and the run history (every run, its steps and their requests).
///
/// The engine writes through this protocol only; `SQLiteResultStore` is the real one
/// (`.skein/skein.sqlite`), `MemoryResultStore` the one for tests and library users who
/// want no files. Every write returns once it is durable, so the scheduler can start
/// downstream steps knowing that a kill from then on loses nothing that finished.
public protocol ResultStore: Sendable {
    /// The stored completion for a request, or nil.
    func completion(for key: RequestKey) async throws -> Completion?

    /// Starts a run in the history and returns its id.
    func beginRun(_ run: RunRecord) async throws -> Int64

    /// Records one request of a run; a fresh completion is added to the cache in the same
    /// transaction.
    func record(_ request: RequestRecord) async throws

    /// Records a step's result (or a `for_each` step's), after all its requests.
    func record(_ step: StepRecord) async throws

    /// The stored execution of a tool call, or nil (DESIGN.md section 7).
    func toolExecution(for key: ToolKey) async throws -> StoredToolExecution?

    /// Records one tool call of a run; a fresh, finished execution is kept for replay in the
    /// same transaction.
    func record(_ tool: ToolRecord) async throws

    /// Records one (case, variant) of a `skein test` run with its verdicts.
    func record(_ test: TestVerdictsRecord) async throws

    /// Records a dataset row's results line (for `skein merge --store`).
    func record(_ row: RowResultRecord) async throws

    /// Called before a request the store could not answer is sent. A store shared by several
    /// processes (`PostgresResultStore`) claims the request for this process, or, while
    /// another holds the claim, waits for that process to store its reply and returns it;
    /// recording the request lets go of the claim. Nil: send it.
    func claim(_ key: RequestKey) async throws -> Completion?

    /// Lets go of a claim whose request ended without being recorded (cancelled, a store error).
    func release(_ key: RequestKey) async

    /// Ends a run.
    func endRun(_ id: Int64, status: String, outputs: JSONValue?, endedAt: Date) async throws
}

extension ResultStore {
    /// One process alone uses the store: nothing to wait for.
    public func claim(_ key: RequestKey) async throws -> Completion? { nil }
    public func release(_ key: RequestKey) async {}
}

/// How a run uses the cache.
public enum CachePolicy: String, Sendable, Hashable {
    /// Use stored results, call for what is missing, store what comes back (the default).
    case readWrite = "read_write"
    /// Call for everything and store it (`--no-cache`).
    case refresh
    /// Use only stored results; a missing one is an error (`--offline`).
    case offline
}

/// A run, as it starts.
public struct RunRecord: Sendable, Hashable {
    public var pipelinePath: String
    public var pipelineSHA256: String
    public var gitCommit: String?
    public var inputs: JSONValue
    public var startedAt: Date
    /// Command-line choices that change what runs (`provider`, `model`, `cache`, `dataset`, …).
    public var options: JSONValue

    public init(pipelinePath: String, pipelineSHA256: String, gitCommit: String? = nil, inputs: JSONValue,
                startedAt: Date = Date(), options: JSONValue = .object([:])) {
        self.pipelinePath = pipelinePath
        self.pipelineSHA256 = pipelineSHA256
        self.gitCommit = gitCommit
        self.inputs = inputs
        self.startedAt = startedAt
        self.options = options
    }
}

/// One request of a run: what was sent, what came back (or the error), and whether the
/// store answered it.
public struct RequestRecord: Sendable {
    public var runID: Int64
    /// The dataset row (0 outside datasets).
    public var row: Int
    public var step: String
    /// The `for_each` item, or nil.
    public var item: Int?
    public var key: RequestKey
    public var provider: String
    public var baseURL: String
    public var api: CompletionAPI
    public var model: String?
    /// The reply; nil when the request failed.
    public var completion: Completion?
    public var error: String?
    public var cached: Bool
    public var attempts: Int
    public var startedAt: Date
    public var duration: Duration
    /// USD the reply's tokens cost at the price the run knew (nil: no price). For a reply
    /// from the store, what it cost when it was bought (at today's price): this run paid
    /// nothing for it. 0 for a failed request.
    public var cost: Double?
    /// Seconds from `startedAt` until the request went out: the wait for a slot under
    /// `--concurrency` (and for the budget); nil for a reply from the store.
    public var sentAfter: Double?
    /// Seconds from `startedAt` until a streamed reply's first text (its first token); nil
    /// when not streamed.
    public var firstByteAfter: Double?

    public init(runID: Int64, row: Int = 0, step: String, item: Int?, key: RequestKey, provider: ProviderConfiguration,
                api: CompletionAPI, model: String?, completion: Completion?, error: String? = nil, cached: Bool,
                attempts: Int, startedAt: Date, duration: Duration, cost: Double? = nil, sentAfter: Double? = nil,
                firstByteAfter: Double? = nil) {
        self.runID = runID
        self.row = row
        self.step = step
        self.item = item
        self.key = key
        self.provider = provider.name
        self.baseURL = RequestKey.normalized(provider.baseURL)
        self.api = api
        self.model = model
        self.completion = completion
        self.error = error
        self.cached = cached
        self.attempts = attempts
        self.startedAt = startedAt
        self.duration = duration
        self.cost = cost
        self.sentAfter = sentAfter
        self.firstByteAfter = firstByteAfter
    }
}

/// A step's end, for the history.
public struct StepRecord: Sendable {
    public var runID: Int64
    public var row: Int
    public var result: StepResult
    public var startedAt: Date

    public init(runID: Int64, row: Int = 0, result: StepResult, startedAt: Date) {
        self.runID = runID
        self.row = row
        self.result = result
        self.startedAt = startedAt
    }
}

/// Raised when the store cannot be opened or written; says which file and what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Completion {
    /// The completion as stored: an OpenAI chat completion object, so that the same
    /// decoder reads live replies and stored ones.
    public var storedValue: JSONValue {
        var message: JSONValue.JSONObject = ["role": "assistant", "content": .string(content)]
        if let reasoningContent { message["reasoning_content"] = .string(reasoningContent) }
        if !toolCalls.isEmpty {
            message["tool_calls"] = .array(toolCalls.map { call in
                ["id": .string(call.id), "type": "function",
                 "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
            })
        }
        var choice: JSONValue.JSONObject = ["index": 0, "message": .object(message)]
        choice["finish_reason"] = finishReason.map { .string($0) } ?? .null
        var object: JSONValue.JSONObject = ["object": "chat.completion"]
        object["model"] = model.map { .string($0) } ?? .null
        object["choices"] = .array([.object(choice)])
        if let usage {
            var usageObject = JSONValue.JSONObject()
            usageObject["prompt_tokens"] = usage.isCountedFromStream ? .null : .int(usage.promptTokens)
            usageObject["completion_tokens"] = .int(usage.completionTokens)
            usageObject["total_tokens"] = usage.isCountedFromStream ? .null : .int(usage.totalTokens)
            if let cached = usage.cachedTokens { usageObject["prompt_tokens_details"] = ["cached_tokens": .int(cached)] }
            if usage.isCountedFromStream { usageObject["counted_from_stream"] = true }
            object["usage"] = .object(usageObject)
        }
        return .object(object)
    }

    /// Reads a stored completion back (`attempts` is 0: no request was made).
    public init?(storedValue: JSONValue) {
        guard var completion = Completion.decode(storedValue, attempts: 0) else { return nil }
        // Skein's own mark, which no provider sends: read here rather than by the decoders
        // of live replies.
        if storedValue["usage"]?["counted_from_stream"] == true { completion.usage?.isCountedFromStream = true }
        self = completion
    }
}
