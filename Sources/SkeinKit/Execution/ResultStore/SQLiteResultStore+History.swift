import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading the history and maintaining the cache: what `skein runs` and `skein cache` show.
extension SQLiteResultStore {
    public typealias RunSummary = SkeinKit.RunSummary
    public typealias StepRow = SkeinKit.StepRow
    public typealias RequestRow = SkeinKit.RequestRow
    public typealias RunDetail = SkeinKit.RunDetail
    public typealias CacheStats = SkeinKit.CacheStats

    /// The most recent runs first.
    public func runs(limit: Int = 20) async throws -> [RunSummary] {
        try await read { db in
            try Row.fetchAll(db, sql: Self.summarySQL + " ORDER BY r.id DESC LIMIT ?", arguments: [limit]).map(Self.summary)
        }
    }

    /// Resolves `12`, `last`, `last~1` (the one before the last), … to a run id.
    /// - Throws: `StoreError` when there is no such run.
    public func resolveRun(_ reference: String) async throws -> Int64 {
        let back: Int
        switch try RunReference(reference) {
        case .id(let id):
            let exists = try await read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM runs WHERE id = ?", arguments: [id]) ?? false }
            guard exists else { throw StoreError("no run \(id) in '\(path)'; 'skein runs list' shows the runs") }
            return id
        case .back(let count):
            back = count
        }
        let id = try await read { db in
            try Int64.fetchOne(db, sql: "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?", arguments: [back])
        }
        guard let id else { throw StoreError("there is no run '\(reference)' in '\(path)'; 'skein runs list' shows the runs") }
        return id
    }

    public func run(_ id: Int64) async throws -> RunDetail {
        let detail: RunDetail? = try await read { db in
            guard let summaryRow = try Row.fetchOne(db, sql: Self.summarySQL + " WHERE r.id = ?", arguments: [id]) else { return nil }
            let stepRows = try Row.fetchAll(db, sql: "SELECT * FROM run_steps WHERE run_id = ? ORDER BY row, started_at, step", arguments: [id])
            // Each step's spend, from its requests: unknown when a reply it paid for had no price.
            var costs: [String: Double?] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT row, step, coalesce(sum(cost), 0) AS spent,
                        sum(CASE WHEN cost IS NULL AND error IS NULL THEN 1 ELSE 0 END) AS unpriced
                    FROM run_requests WHERE run_id = ? AND cached = 0 GROUP BY row, step
                    """,
                arguments: [id])
            {
                let step: String = row["step"]
                let index: Int = row["row"]
                let unpriced: Int = row["unpriced"]
                let spent: Double = row["spent"]
                costs["\(index) \(step)"] = unpriced > 0 ? Double?.none : Double?.some(spent)
            }
            let steps = stepRows.map { row in
            StepRow(
                row: row["row"], step: row["step"], status: row["status"], output: row["output"], message: row["message"],
                startedAt: Date(timeIntervalSince1970: row["started_at"]), duration: row["duration"], requests: row["requests"],
                retries: row["retries"], cacheHits: row["cache_hits"], usage: row["usage"],
                cost: costs["\(row["row"] as Int) \(row["step"] as String)"] ?? 0)
            }
            return RunDetail(
                summary: Self.summary(summaryRow), inputs: summaryRow["inputs"], options: summaryRow["options"],
                outputs: summaryRow["outputs"], steps: steps)
        }
        guard let detail else { throw StoreError("no run \(id) in '\(path)'") }
        return detail
    }

    /// The requests of a run (optionally of one step), in the order they were made.
    public func requests(run id: Int64, step: String? = nil) async throws -> [RequestRow] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT q.*, c.request AS request_body, c.response AS response_body FROM run_requests q
                    LEFT JOIN completions c ON c.key = q.key
                    WHERE q.run_id = ? AND (? IS NULL OR q.step = ?) ORDER BY q.id
                    """,
                arguments: [id, step, step]
            ).map { row in
            let failed: String? = row["error"]
            return RequestRow(
                row: row["row"], step: row["step"], item: row["item"], key: row["key"], provider: row["provider"],
                model: row["model"], cached: row["cached"], attempts: row["attempts"],
                startedAt: Date(timeIntervalSince1970: row["started_at"]), duration: row["duration"], error: failed,
                usage: row["usage"], request: row["request_body"], response: failed == nil ? row["response_body"] : nil,
                cost: row["cost"], sentAfter: row["sent_after"], firstByteAfter: row["first_byte_after"])
            }
        }
    }

    public func cacheStats(recentRuns: Int = 10) async throws -> CacheStats {
        let (entries, payload, runs, hits, total) = try await read { db in
            let entries = try Int.fetchOne(db, sql: "SELECT count(*) FROM completions") ?? 0
            let payload = try Int.fetchOne(db, sql: "SELECT coalesce(sum(length(request) + length(response)), 0) FROM completions") ?? 0
            let runs = try Int.fetchOne(db, sql: "SELECT count(*) FROM runs") ?? 0
            let counts = try Row.fetchOne(
                db,
                sql: """
                    SELECT coalesce(sum(cached), 0) AS hits, count(*) AS total FROM run_requests
                    WHERE error IS NULL AND run_id IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)
                    """,
                arguments: [recentRuns])
            return (entries, payload, runs, counts?["hits"] ?? 0, counts?["total"] ?? 0) as (Int, Int, Int, Int, Int)
        }
        var fileBytes = 0
        for suffix in ["", "-wal"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: path + suffix)[.size] as? Int) ?? nil
            fileBytes += size ?? 0
        }
        return CacheStats(
            entries: entries, payloadBytes: payload, fileBytes: fileBytes, runs: runs,
            recentHitRate: total == 0 ? nil : Double(hits) / Double(total), recentRuns: min(recentRuns, runs))
    }

    /// Deletes every cached reply (the run history stays, without its request and reply texts).
    /// - Returns: the number of entries deleted.
    @discardableResult
    public func clearCache() async throws -> Int {
        let deleted = try await writeNow { db in
            try db.execute(sql: "DELETE FROM completions")
            return db.changesCount
        }
        try await vacuum()
        return deleted
    }

    /// Deletes cached replies not used since `date`.
    /// - Returns: the number of entries deleted.
    @discardableResult
    public func pruneCache(unusedSince date: Date) async throws -> Int {
        let deleted = try await writeNow { db in
            try db.execute(sql: "DELETE FROM completions WHERE last_used_at < ?", arguments: [date.timeIntervalSince1970])
            return db.changesCount
        }
        try await vacuum()
        return deleted
    }

    /// Gives freed pages back to the file system.
    func vacuum() async throws {
        do {
            try await pool.barrierWriteWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        } catch {
            throw Self.accessError(path: path, error)
        }
    }

    static let summarySQL = """
        SELECT r.*,
            (SELECT count(*) FROM run_steps s WHERE s.run_id = r.id) AS step_count,
            (SELECT coalesce(sum(attempts), 0) FROM run_requests q WHERE q.run_id = r.id AND q.cached = 0) AS request_count,
            (SELECT count(*) FROM run_requests q WHERE q.run_id = r.id AND q.cached = 1) AS hit_count,
            (SELECT coalesce(sum(cost), 0) FROM run_requests q WHERE q.run_id = r.id AND q.cached = 0) AS cost_total,
            (SELECT count(*) FROM run_requests q
                WHERE q.run_id = r.id AND q.cached = 0 AND q.cost IS NULL AND q.error IS NULL) AS unpriced_count
        FROM runs r
        """

    static func summary(_ row: Row) -> RunSummary {
        let beat: Double? = row["heartbeat_at"]
        let heartbeatAge = beat.map { Date().timeIntervalSince1970 - $0 }
        let status = RunSummary.shownStatus(row["status"], host: row["host"], pid: row["pid"], heartbeatAge: heartbeatAge)
        let ended: Double? = row["ended_at"]
        var summary = RunSummary(
            id: row["id"], pipelinePath: row["pipeline_path"], pipelineSHA256: row["pipeline_sha256"], gitCommit: row["git_commit"],
            startedAt: Date(timeIntervalSince1970: row["started_at"]), endedAt: ended.map { Date(timeIntervalSince1970: $0) },
            status: status, steps: row["step_count"], requests: row["request_count"], cacheHits: row["hit_count"],
            options: row["options"], host: row["host"], cost: row["cost_total"], unpricedRequests: row["unpriced_count"])
        summary.heartbeatAge = heartbeatAge
        return summary
    }

    static func processIsAlive(_ pid: Int) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid_t(pid), 0) == 0 || errno == EPERM
    }
}
