import Foundation
import GRDB

/// One (case, variant) of a `skein test` run, for the history: its verdicts and usage.
public struct TestVerdictsRecord: Sendable {
    public var runID: Int64
    /// The row of the test run: case × variants + variant.
    public var row: Int
    public var caseName: String
    public var variant: String
    /// `pass` or `fail`.
    public var status: String
    /// Why the run of the case failed, when it did.
    public var error: String?
    public var verdicts: [Verdict]
    public var usage: Completion.Usage?
    public var cost: Double?

    public init(runID: Int64, row: Int, caseName: String, variant: String, status: String, error: String?, verdicts: [Verdict],
                usage: Completion.Usage?, cost: Double?) {
        self.runID = runID
        self.row = row
        self.caseName = caseName
        self.variant = variant
        self.status = status
        self.error = error
        self.verdicts = verdicts
        self.usage = usage
        self.cost = cost
    }
}

extension SQLiteResultStore {
    static func registerTestMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-tests") { db in
            try db.execute(sql: """
                CREATE TABLE test_cases (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    row INTEGER NOT NULL,
                    case_name TEXT NOT NULL,
                    variant TEXT NOT NULL,
                    status TEXT NOT NULL,
                    error TEXT,
                    usage TEXT,
                    cost REAL,
                    PRIMARY KEY (run_id, row)
                ) WITHOUT ROWID;
                CREATE TABLE test_verdicts (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    row INTEGER NOT NULL,
                    position INTEGER NOT NULL,
                    target TEXT NOT NULL,
                    assertion TEXT NOT NULL,
                    passed INTEGER NOT NULL,
                    message TEXT NOT NULL,
                    score REAL,
                    PRIMARY KEY (run_id, row, position)
                ) WITHOUT ROWID;
                """)
        }
    }

    public func record(_ test: TestVerdictsRecord) async throws {
        try await writes.submit { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO test_cases (run_id, row, case_name, variant, status, error, usage, cost)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [test.runID, test.row, test.caseName, test.variant, test.status, test.error,
                            test.usage?.jsonValue.serialized(), test.cost])
            try db.execute(sql: "DELETE FROM test_verdicts WHERE run_id = ? AND row = ?", arguments: [test.runID, test.row])
            for (position, verdict) in test.verdicts.enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO test_verdicts (run_id, row, position, target, assertion, passed, message, score)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [test.runID, test.row, position, verdict.target, verdict.assertion, verdict.passed, verdict.message,
                                verdict.score])
            }
        }
    }

    /// A test run's cases and verdicts, in row order (empty for a run that was no test).
    public func testResults(run id: Int64) async throws -> [TestCaseRow] {
        try await read { db in
            let verdicts = try Row.fetchAll(
                db, sql: "SELECT * FROM test_verdicts WHERE run_id = ? ORDER BY row, position", arguments: [id])
            var byRow: [Int: [Verdict]] = [:]
            for row in verdicts {
                byRow[row["row"], default: []].append(Verdict(
                    target: row["target"], assertion: row["assertion"], key: "", passed: row["passed"], message: row["message"],
                    score: row["score"]))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM test_cases WHERE run_id = ? ORDER BY row", arguments: [id]).map { row in
                TestCaseRow(
                    row: row["row"], caseName: row["case_name"], variant: row["variant"], status: row["status"], error: row["error"],
                    cost: row["cost"], verdicts: byRow[row["row"]] ?? [])
            }
        }
    }

    public typealias TestCaseRow = SkeinKit.TestCaseRow
}
