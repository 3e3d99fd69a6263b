import Foundation
import GRDB

/// Dataset rows' results lines (`skein merge --store`), and the rest of `HistoryStore`.
extension SQLiteResultStore: HistoryStore {
    static func registerRowMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-row-results") { db in
            try db.execute(sql: """
                CREATE TABLE run_rows (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    row INTEGER NOT NULL,
                    status TEXT NOT NULL,
                    line TEXT NOT NULL,
                    PRIMARY KEY (run_id, row)
                ) WITHOUT ROWID;
                CREATE INDEX run_rows_by_row ON run_rows(row);
                """)
        }
    }

    /// `v9-heartbeats`: `runs.heartbeat_at`, when the run's process last wrote its beat
    /// (`RunHeartbeat`; NULL for runs recorded before). (`v8` is the PostgreSQL store's claims.)
    static func registerHeartbeatMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9-heartbeats") { db in
            try db.execute(sql: "ALTER TABLE runs ADD COLUMN heartbeat_at REAL")
        }
    }

    public var location: String { path }

    public func record(_ row: RowResultRecord) async throws {
        try await writes.submit { db in
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO run_rows (run_id, row, status, line) VALUES (?, ?, ?, ?)")
                .execute(arguments: [row.runID, row.row, row.status, row.line])
        }
    }

    public func runs(named name: String) async throws -> [Int64] {
        try await read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM runs WHERE json_extract(options, '$.name') = ? ORDER BY id", arguments: [name])
        }
    }

    public func forEachResultLine(runs ids: [Int64], _ body: @escaping @Sendable (Int, String) throws -> Void) async throws {
        guard !ids.isEmpty else { return }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        try await read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT row, line FROM (
                        SELECT row, line, row_number() OVER (
                            PARTITION BY row ORDER BY status = 'succeeded' DESC, run_id DESC) AS rank
                        FROM run_rows WHERE run_id IN (\(placeholders)))
                    WHERE rank = 1 ORDER BY row
                    """,
                arguments: StatementArguments(ids))
            while let row = try rows.next() { try body(row["row"], row["line"]) }
        }
    }

    /// Nothing to let go of: the file closes with the process.
    public func close() async { heartbeat.stop() }
}
