import Foundation
import GRDB

extension SQLiteResultStore: BatchLedger {
    static func registerBatchMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2-batches") { db in
            try db.execute(sql: """
                CREATE TABLE batches (
                    id TEXT PRIMARY KEY NOT NULL,
                    provider TEXT NOT NULL,
                    base_url TEXT NOT NULL,
                    endpoint TEXT NOT NULL,
                    input_file_id TEXT NOT NULL,
                    output_file_id TEXT,
                    error_file_id TEXT,
                    status TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE batch_requests (
                    key TEXT NOT NULL,
                    batch_id TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
                    PRIMARY KEY (key, batch_id)
                ) WITHOUT ROWID;
                CREATE INDEX batch_requests_by_batch ON batch_requests(batch_id);
                """)
        }
    }

    public func batch(containing key: String) async throws -> BatchLedgerEntry? {
        try await read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT b.* FROM batch_requests r JOIN batches b ON b.id = r.batch_id
                    WHERE r.key = ? AND b.status NOT IN ('failed', 'expired', 'cancelled', 'cancelling')
                    ORDER BY b.created_at DESC LIMIT 1
                    """,
                arguments: [key]
            ).map { row in
                BatchLedgerEntry(
                    id: row["id"], provider: row["provider"], baseURL: row["base_url"], endpoint: row["endpoint"],
                    inputFileID: row["input_file_id"], status: row["status"])
            }
        }
    }

    public func recordBatch(_ entry: BatchLedgerEntry, keys: [String]) async throws {
        let now = Date().timeIntervalSince1970
        _ = try await writeNow { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO batches (id, provider, base_url, endpoint, input_file_id, status, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [entry.id, entry.provider, entry.baseURL, entry.endpoint, entry.inputFileID, entry.status, now, now])
            let statement = try db.makeStatement(sql: "INSERT OR IGNORE INTO batch_requests (key, batch_id) VALUES (?, ?)")
            for key in keys { try statement.execute(arguments: [key, entry.id]) }
            return 0
        }
    }

    public func updateBatch(id: String, status: String, outputFileID: String?, errorFileID: String?) async throws {
        let now = Date().timeIntervalSince1970
        _ = try await writeNow { db in
            try db.execute(
                sql: """
                    UPDATE batches SET status = ?, output_file_id = coalesce(?, output_file_id),
                    error_file_id = coalesce(?, error_file_id), updated_at = ? WHERE id = ?
                    """,
                arguments: [status, outputFileID, errorFileID, now, id])
            return 0
        }
    }

    /// Every batch this store knows of, newest first (for `skein runs` and tests).
    public func batches() async throws -> [BatchLedgerEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM batches ORDER BY created_at DESC").map { row in
                BatchLedgerEntry(
                    id: row["id"], provider: row["provider"], baseURL: row["base_url"], endpoint: row["endpoint"],
                    inputFileID: row["input_file_id"], status: row["status"])
            }
        }
    }
}
