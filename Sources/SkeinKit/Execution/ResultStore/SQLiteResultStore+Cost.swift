import GRDB

/// What each request cost, kept with it (DESIGN.md section 9): `runs list` and `runs show`
/// show a run's cost without the pipeline's prices at hand, and a price changed since (or a
/// model list read only under `--max-cost`) does not change what a past run cost.
extension SQLiteResultStore {
    /// `v5-cost`: `run_requests.cost`, USD, NULL where the run knew no price (and for every
    /// request recorded before this migration). A reply from the store keeps what it cost
    /// when it was bought; the run's spend counts `cached = 0` rows only.
    static func registerCostMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5-cost") { db in
            try db.execute(sql: "ALTER TABLE run_requests ADD COLUMN cost REAL")
        }
    }
}

extension SQLiteResultStore {
    /// Makes a store file as an older Skein left it: migrated up to `migration` only, then
    /// `sql` run. For the tests of upgrades (a store from before `v5-cost`).
    static func makeOlderStore(at path: String, upTo migration: String, then sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try migrator.migrate(queue, upTo: migration)
        try queue.write { db in try db.execute(sql: sql) }
    }
}
