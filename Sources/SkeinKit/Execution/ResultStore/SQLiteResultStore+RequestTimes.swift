import GRDB

/// When each request went out and when its first byte came, for the report's timeline
/// (queued, sent, first byte, done).
extension SQLiteResultStore {
    /// `v6-request-times`: `run_requests.sent_after` and `first_byte_after`, seconds after
    /// `started_at` (which is when the request was ready, before it waited for a slot); NULL
    /// for replies from the store, replies not streamed (their first byte comes with the whole body),
    /// and runs recorded before.
    static func registerRequestTimesMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v6-request-times") { db in
            try db.execute(sql: """
                ALTER TABLE run_requests ADD COLUMN sent_after REAL;
                ALTER TABLE run_requests ADD COLUMN first_byte_after REAL;
                """)
        }
    }
}
