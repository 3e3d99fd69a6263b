import Foundation

/// A result store the command line opens: the engine's `ResultStore`, the batch ledger, and
/// what `skein runs`, `skein cache`, `skein report` and `skein merge --store` read.
///
/// Two implementations: `SQLiteResultStore` (one machine, the default) and
/// `PostgresResultStore` (shared by the processes of many machines). `StoreLocation` opens
/// the one a `--store` value names.
public protocol HistoryStore: ResultStore, BatchLedger {
    /// Where the store is, for messages: a file path, or a database URL without its password.
    var location: String { get }

    /// The most recent runs first.
    func runs(limit: Int) async throws -> [RunSummary]
    /// Resolves `12`, `last`, `last~1` (the one before the last), … to a run id.
    /// - Throws: `StoreError` when there is no such run.
    func resolveRun(_ reference: String) async throws -> Int64
    func run(_ id: Int64) async throws -> RunDetail
    /// The requests of a run (optionally of one step), in the order they were made.
    func requests(run id: Int64, step: String?) async throws -> [RequestRow]
    /// A run's tool calls (optionally one step's), in the order they started.
    func toolCalls(run id: Int64, step: String?) async throws -> [ToolCallRow]
    /// A test run's cases and verdicts, in row order (empty for a run that was no test).
    func testResults(run id: Int64) async throws -> [TestCaseRow]
    /// The ids of the runs started with `--run-name NAME`, oldest first.
    func runs(named name: String) async throws -> [Int64]
    /// The stored results lines of the given runs' dataset rows, in row order, one per row: where
    /// several runs hold a row (a shard restarted, a re-run), a succeeded line before a failed
    /// one, then the latest run's.
    func forEachResultLine(runs: [Int64], _ body: @escaping @Sendable (_ row: Int, _ line: String) throws -> Void) async throws

    func cacheStats(recentRuns: Int) async throws -> CacheStats
    /// Deletes every cached reply (the run history stays, without its request and reply texts).
    /// - Returns: the number of entries deleted.
    @discardableResult func clearCache() async throws -> Int
    /// Deletes cached replies not used since `date`.
    /// - Returns: the number of entries deleted.
    @discardableResult func pruneCache(unusedSince date: Date) async throws -> Int

    /// Lets go of connections and of the requests this process claimed. Safe to call twice.
    func close() async
}

extension HistoryStore {
    public func runs() async throws -> [RunSummary] { try await runs(limit: 20) }
    public func requests(run id: Int64) async throws -> [RequestRow] { try await requests(run: id, step: nil) }
    public func toolCalls(run id: Int64) async throws -> [ToolCallRow] { try await toolCalls(run: id, step: nil) }
    public func cacheStats() async throws -> CacheStats { try await cacheStats(recentRuns: 10) }
}

/// A run as `skein runs show`, `report` and `diff` name it: a number, `last`, or `last~N`
/// (N runs before the last). Both stores resolve it through this.
enum RunReference {
    case id(Int64)
    /// Runs back from the newest (0: the last).
    case back(Int)

    /// - Throws: `StoreError` for text that names no run.
    init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let id = Int64(trimmed) {
            self = .id(id)
        } else if trimmed == "last" {
            self = .back(0)
        } else if trimmed.hasPrefix("last~"), let count = Int(trimmed.dropFirst(5)), count >= 0 {
            self = .back(count)
        } else {
            throw StoreError("'\(text)' is not a run: give a run number, 'last' or 'last~N'")
        }
    }
}

extension RunSummary {
    /// The status to show for a run recorded as `recorded`: a run still `running` whose process
    /// is gone was killed, or its machine stopped. On this machine its pid says so; a run of
    /// another machine is gone when its process has not written its beat for
    /// `RunHeartbeat.missedBeats` intervals (`heartbeatAge`, nil for a run of a Skein from
    /// before beats, which keeps its recorded status).
    static func shownStatus(
        _ recorded: String, host: String, pid: Int, heartbeatAge: Double?, interval: Duration = RunHeartbeat.defaultInterval
    ) -> String {
        guard recorded == "running" else { return recorded }
        if host == ProcessInfo.processInfo.hostName { return SQLiteResultStore.processIsAlive(pid) ? recorded : "killed" }
        if let heartbeatAge, heartbeatAge > interval.inSeconds * RunHeartbeat.missedBeats { return "killed" }
        return recorded
    }
}

/// A dataset row's results line (as `-o` writes it), kept so that `skein merge --store` can
/// assemble a sharded run's results from the store, without the shards' files.
public struct RowResultRecord: Sendable {
    public var runID: Int64
    public var row: Int
    /// `succeeded` or `failed`.
    public var status: String
    public var line: String

    public init(runID: Int64, row: Int, status: String, line: String) {
        self.runID = runID
        self.row = row
        self.status = status
        self.line = line
    }
}

/// A run as `skein runs list` shows it.
public struct RunSummary: Sendable, Hashable {
    public var id: Int64
    public var pipelinePath: String
    public var pipelineSHA256: String
    public var gitCommit: String?
    public var startedAt: Date
    public var endedAt: Date?
    /// `succeeded`, `failed`, `interrupted`, `running`, or `killed` (a run whose process
    /// is gone without ending it: killed, or the machine stopped).
    public var status: String
    public var steps: Int
    /// HTTP requests made (attempts included) and requests the store answered.
    public var requests: Int
    public var cacheHits: Int
    /// For a `skein test` run: its cases and variants (nil for a plain run).
    public var test: (cases: Int, variants: [String])? {
        guard let object = try? JSONValue(parsing: options), let test = object["test"] else { return nil }
        return (test["cases"]?.intValue ?? 0, test["variants"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }
    /// The options the run was started with, as JSON text.
    public var options: String = "{}"
    /// The machine that ran it (`skein runs list` names it when the store holds runs of several).
    public var host: String = ""
    /// USD its replies from the provider cost (replies from the store cost it nothing).
    public var cost: Double = 0
    /// Replies from the provider with no price: `cost` leaves them out.
    public var unpricedRequests: Int = 0
    /// Seconds since its process last wrote its beat (`RunHeartbeat`), by the store's clock;
    /// nil for a run of a Skein from before beats.
    public var heartbeatAge: Double?
    /// The `--run-name` it was started with, if any.
    public var name: String? { (try? JSONValue(parsing: options))?["name"]?.stringValue }

    public static func == (lhs: RunSummary, rhs: RunSummary) -> Bool { lhs.id == rhs.id && lhs.status == rhs.status }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// A step of a run.
public struct StepRow: Sendable, Hashable {
    public var row: Int
    public var step: String
    public var status: String
    /// The output as JSON text (nil unless the step finished).
    public var output: String?
    public var message: String?
    public var startedAt: Date
    public var duration: Double
    public var requests: Int
    public var retries: Int
    public var cacheHits: Int
    public var usage: String?
    /// USD the step's replies from the provider cost; nil when one had no price.
    public var cost: Double? = 0
}

/// A request of a run, with what was sent and what came back.
public struct RequestRow: Sendable, Hashable {
    public var row: Int
    public var step: String
    public var item: Int?
    public var key: String
    public var provider: String
    public var model: String?
    public var cached: Bool
    public var attempts: Int
    public var startedAt: Date
    public var duration: Double
    public var error: String?
    public var usage: String?
    /// The request body (canonical JSON, without `stream`), nil once pruned from the cache.
    public var request: String?
    /// The reply as a chat completion object, nil once pruned or when the request failed.
    public var response: String?
    /// USD its reply cost when it was bought (the run paid nothing for a `cached` one);
    /// nil when the run knew no price.
    public var cost: Double? = nil
    /// Seconds after `startedAt` the request went out (it waited for a slot before);
    /// nil for a reply from the store, or a run recorded before `v6-request-times`.
    public var sentAfter: Double? = nil
    /// Seconds after `startedAt` a streamed reply's first text came (its first token); nil otherwise.
    public var firstByteAfter: Double? = nil
}

/// A run with its inputs, outputs and steps.
public struct RunDetail: Sendable, Hashable {
    public var summary: RunSummary
    public var inputs: String
    public var options: String
    public var outputs: String?
    public var steps: [StepRow]
}

public struct CacheStats: Sendable, Hashable {
    public var entries: Int
    /// Bytes of stored requests and replies.
    public var payloadBytes: Int
    /// Size of the database file (and its WAL).
    public var fileBytes: Int
    public var runs: Int
    /// Cache hits over all requests of the last `recentRuns` runs (nil with no requests).
    public var recentHitRate: Double?
    public var recentRuns: Int
}


/// One tool call from the history.
public struct ToolCallRow: Sendable, Hashable {
    public var row: Int
    public var step: String
    public var item: Int?
    public var turn: Int
    public var tool: String
    public var arguments: String
    public var result: String?
    public var error: String?
    public var cached: Bool
    public var startedAt: Date
    public var duration: Double
}

/// One (case, variant) of a test run, with its verdicts.
public struct TestCaseRow: Sendable, Hashable {
    public var row: Int
    public var caseName: String
    public var variant: String
    public var status: String
    public var error: String?
    public var cost: Double?
    public var verdicts: [Verdict]
}
