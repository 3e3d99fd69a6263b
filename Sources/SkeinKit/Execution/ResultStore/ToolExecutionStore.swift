import Crypto
import Foundation
import GRDB

/// What identifies a tool execution in the result store (DESIGN.md section 7): SHA-256
/// over the step, the tool's definition (name, description, schema, `run` or `http`, and
/// the bytes of each file `run` names, so editing `tools/weather.py` runs it again) and
/// the canonical JSON of the arguments.
public struct ToolKey: Sendable, Hashable, CustomStringConvertible {
    public let hex: String

    public init(step: String, definition: JSONValue, arguments: JSONValue) {
        var canonical: [UInt8] = []
        JSONValue.array([.string(step), definition, arguments]).write(to: &canonical, style: .canonical)
        var hasher = SHA256()
        hasher.update(data: Data("skein-tool-v1\n".utf8))
        hasher.update(data: canonical)
        hex = RequestKey.hexString(hasher.finalize())
    }

    init(hex: String) { self.hex = hex }

    public var description: String { String(hex.prefix(12)) }
}

/// A finished tool execution, as the store replays it.
public struct StoredToolExecution: Sendable, Hashable {
    /// What the tool returned (stdout, or the response body); nil when it failed.
    public var result: String?
    /// Why it failed (a non-zero exit, an HTTP error status), as the model saw it.
    public var error: String?

    public init(result: String?, error: String?) {
        self.result = result
        self.error = error
    }
}

/// One tool call of a run, for the history (and, when `storesResult`, the replay cache).
public struct ToolRecord: Sendable {
    public var runID: Int64
    public var row: Int
    public var step: String
    public var item: Int?
    /// The model reply (1-based) whose call this was.
    public var turn: Int
    public var tool: String
    public var key: ToolKey
    public var arguments: String
    public var execution: StoredToolExecution
    /// Replayed from the store, not run.
    public var cached: Bool
    /// Whether the execution is kept for replay: it finished (a result, or the tool's own
    /// error), the tool does not say `cache: false`, and it was run now.
    public var storesResult: Bool
    public var startedAt: Date
    public var duration: Duration

    public init(runID: Int64, row: Int, step: String, item: Int?, turn: Int, tool: String, key: ToolKey, arguments: String,
                execution: StoredToolExecution, cached: Bool, storesResult: Bool, startedAt: Date, duration: Duration) {
        self.runID = runID
        self.row = row
        self.step = step
        self.item = item
        self.turn = turn
        self.tool = tool
        self.key = key
        self.arguments = arguments
        self.execution = execution
        self.cached = cached
        self.storesResult = storesResult
        self.startedAt = startedAt
        self.duration = duration
    }
}

extension SQLiteResultStore {
    static func registerToolMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3-tools") { db in
            try db.execute(sql: """
                CREATE TABLE tool_executions (
                    key TEXT PRIMARY KEY NOT NULL,
                    step TEXT NOT NULL,
                    tool TEXT NOT NULL,
                    arguments TEXT NOT NULL,
                    result TEXT,
                    error TEXT,
                    created_at REAL NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE run_tools (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    row INTEGER NOT NULL,
                    step TEXT NOT NULL,
                    item INTEGER,
                    turn INTEGER NOT NULL,
                    tool TEXT NOT NULL,
                    key TEXT NOT NULL,
                    arguments TEXT NOT NULL,
                    result TEXT,
                    error TEXT,
                    cached INTEGER NOT NULL,
                    started_at REAL NOT NULL,
                    duration REAL NOT NULL
                );
                CREATE INDEX run_tools_by_step ON run_tools(run_id, row, step);
                """)
        }
    }

    public func toolExecution(for key: ToolKey) async throws -> StoredToolExecution? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT result, error FROM tool_executions WHERE key = ?", arguments: [key.hex]).map {
                StoredToolExecution(result: $0["result"], error: $0["error"])
            }
        }
    }

    /// Returns once committed (the group commit: the transaction being written, or the next
    /// one). The tool's side effect has happened by then; the window in which a kill makes a
    /// resume run it again is this one commit, a few milliseconds on a local disk.
    public func record(_ tool: ToolRecord) async throws {
        let now = Date().timeIntervalSince1970
        try await writes.submit { db in
            if tool.storesResult {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO tool_executions (key, step, tool, arguments, result, error, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [tool.key.hex, tool.step, tool.tool, tool.arguments, tool.execution.result, tool.execution.error, now])
            }
            try db.execute(
                sql: """
                    INSERT INTO run_tools (run_id, row, step, item, turn, tool, key, arguments, result, error, cached, started_at, duration)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [tool.runID, tool.row, tool.step, tool.item, tool.turn, tool.tool, tool.key.hex, tool.arguments,
                            tool.execution.result, tool.execution.error, tool.cached, tool.startedAt.timeIntervalSince1970,
                            tool.duration.inSeconds])
        }
    }

    /// A run's tool calls (optionally one step's), in the order they started.
    public func toolCalls(run id: Int64, step: String? = nil) async throws -> [ToolCallRow] {
        try await read { db in
            var sql = "SELECT * FROM run_tools WHERE run_id = ?"
            var arguments: StatementArguments = [id]
            if let step {
                sql += " AND step = ?"
                arguments += [step]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY started_at, id", arguments: arguments).map { row in
                ToolCallRow(
                    row: row["row"], step: row["step"], item: row["item"], turn: row["turn"], tool: row["tool"],
                    arguments: row["arguments"], result: row["result"], error: row["error"], cached: row["cached"],
                    startedAt: Date(timeIntervalSince1970: row["started_at"]), duration: row["duration"])
            }
        }
    }

    public typealias ToolCallRow = SkeinKit.ToolCallRow
}
