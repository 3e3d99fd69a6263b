import Foundation
import OrderedCollections

/// Runs a pipeline once per dataset row. Every row's steps go through one `StepRunner`,
/// so all rows share the global request limit, the providers' rate limits and the store;
/// rows are read as a stream and at most `window` rows are held at once (running, or
/// finished and waiting for an earlier row), so memory does not grow with the dataset.
/// Rows are reported in input order, whatever order they finish in.
public struct DatasetRunner: Sendable {
    /// What one row ended with.
    public struct RowOutcome: Sendable {
        public enum Status: String, Sendable { case succeeded, failed, interrupted }
        public var row: Int
        public var status: Status
        public var outputs: JSONValue.JSONObject
        /// What went wrong: failed steps (`step 'a' failed: ...`), output errors, bad inputs.
        public var errors: [String]
        /// The row's inputs (kept for failed rows only, for the errors file).
        public var inputs: JSONValue.JSONObject?
        public var requests: Int
        public var cacheHits: Int
        public var tokens: Int
        /// Whether the row failed only because `--max-cost` stopped it (before it started, or
        /// with steps refused): counted apart from rows that failed for a reason of their own.
        public var stoppedByBudget = false

        /// The results-file line: `{"row", "status", "outputs"}` or `{"row", "status", "error", "errors"}`.
        public var jsonLine: String {
            var object: JSONValue.JSONObject = ["row": .int(row), "status": .string(status.rawValue)]
            if status == .succeeded {
                object["outputs"] = .object(outputs)
            } else {
                object["error"] = .string(errors.first ?? status.rawValue)
                if errors.count > 1 { object["errors"] = .array(errors.map { .string($0) }) }
            }
            return JSONValue.object(object).serialized()
        }

        /// The errors-file line: the results line plus the row's inputs.
        public var errorLine: String {
            var object: JSONValue.JSONObject = ["row": .int(row), "status": .string(status.rawValue)]
            object["errors"] = .array(errors.map { .string($0) })
            object["inputs"] = inputs.map { .object($0) } ?? .null
            return JSONValue.object(object).serialized()
        }
    }

    public struct Summary: Sendable {
        public var rows = 0
        public var succeeded = 0
        /// Rows that failed for a reason of their own (not counting `budgetStopped`).
        public var failed = 0
        /// Rows that `--max-cost` stopped before they finished (`RowOutcome.stoppedByBudget`).
        public var budgetStopped = 0
        public var requests = 0
        public var cacheHits = 0
        public var tokens = 0
        public var interrupted = false
        public var runID: Int64?
        public var duration: Duration = .zero
        /// What the rows' replies from the provider cost, and the budget's refusal when
        /// `--max-cost` stopped the run (rows after it were not started).
        public var spend = CostMeter.Spend()
        /// Whether the budget stopped the run: rows were left unstarted, and rows in flight
        /// failed with the budget's error.
        public var stoppedByBudget: Bool { spend.refusal != nil }
    }

    public let scheduler: Scheduler
    /// Rows held at once (running or waiting for an earlier row to be reported).
    public let window: Int
    public let shard: Shard

    /// - Parameters:
    ///   - window: rows held at once; by default the session's (`RunSession.datasetWindow`,
    ///     the batch window for `--batch`), else four per request in flight, at least 256.
    public init(scheduler: Scheduler, window: Int? = nil, shard: Shard = .all) {
        self.scheduler = scheduler
        self.window = window ?? scheduler.session.datasetWindow ?? max(256, scheduler.options.concurrency * 4)
        self.shard = shard
    }

    /// Runs every row of `reader` (in this shard).
    /// - Parameters:
    ///   - fixedInputs: inputs given on the command line for every row (a row's columns win).
    ///   - record: the run's history record.
    ///   - events: step events of every row (for token counts and progress).
    ///   - emit: called once per row, in row order, never concurrently.
    /// - Returns: the totals; cancellation stops reading rows and reports the rest as interrupted.
    /// - Throws: `DatasetError` when the file cannot be read, a store error at the start, or
    ///   `DiagnosticsError` when `--max-cost` finds a model without a price (before any request).
    public func run(
        reader: DatasetReader, fixedInputs: OrderedDictionary<String, InputResolver.Provided> = [:], record: RunRecord? = nil,
        events: @escaping @Sendable (RunEvent) -> Void = { _ in },
        emit: @escaping @Sendable (RowOutcome) -> Void
    ) async throws -> Summary {
        let clock = ContinuousClock()
        let started = clock.now
        let graph = scheduler.graph
        try await scheduler.session.loadPrices(client: scheduler.client)
        var recording: StepRunner.Recording?
        if let store = scheduler.store {
            let record = record ?? scheduler.session.record(
                inputs: [:], extraOptions: ["dataset": .string(reader.path)], gitCommit: .some(nil))
            recording = StepRunner.Recording(store: store, runID: try await store.beginRun(record))
        }
        let runner = scheduler.makeRunner(recording: recording, events: events)
        let rowRecording = recording
        let permits = AsyncSemaphore(limit: window)
        let reorder = Reorderer(emit: emit, permits: permits)
        let resolver = InputResolver(pipeline: graph.pipeline)
        let scheduler = self.scheduler
        var readError: (any Error)?

        await withDiscardingTaskGroup { group in
            var position = 0
            // Once the budget refused a request, no row starts: the rows after it are left for a
            // re-run with a higher budget.
            while !Task.isCancelled && !runner.meter.isExhausted {
                let row: DatasetRow?
                do {
                    row = try reader.next()
                } catch let error as DatasetError where error.row != nil {
                    // A bad row is that row's failure; the others go on.
                    guard let index = error.row, shard.contains(index) else { continue }
                    do { try await permits.acquire() } catch { break }
                    let outcome = RowOutcome(row: index, status: .failed, outputs: [:], errors: [error.message], inputs: nil,
                                             requests: 0, cacheHits: 0, tokens: 0)
                    let slot = position
                    position += 1
                    group.addTask { await reorder.deliver(slot, outcome) }
                    continue
                } catch {
                    readError = error
                    break
                }
                guard let row else { break }
                guard shard.contains(row.index) else { continue }
                do { try await permits.acquire() } catch { break }
                if runner.meter.isExhausted {
                    permits.release()
                    break
                }
                let slot = position
                position += 1
                group.addTask {
                    var provided = fixedInputs
                    for (name, value) in row.values where graph.pipeline.inputs[name] != nil { provided[name] = value }
                    let inputs: JSONValue.JSONObject
                    do {
                        inputs = try resolver.resolve(provided)
                    } catch {
                        let message = (error as? DiagnosticsError)?.diagnostics.map(\.message).joined(separator: "; ") ?? "\(error)"
                        await reorder.deliver(slot, RowOutcome(
                            row: row.index, status: .failed, outputs: [:], errors: ["row \(row.index) (line \(row.line)): \(message)"],
                            inputs: Self.plain(row.values), requests: 0, cacheHits: 0, tokens: 0))
                        return
                    }
                    let outcome = await scheduler.execute(inputs: inputs, runner: runner, row: row.index, events: events)
                    let rowOutcome = Self.rowOutcome(outcome, row: row.index, inputs: inputs)
                    await Self.store(rowOutcome, recording: rowRecording)
                    await reorder.deliver(slot, rowOutcome)
                }
            }
        }
        var summary = await reorder.summary
        summary.spend = runner.meter.spend
        summary.interrupted = Task.isCancelled || summary.interrupted
        summary.duration = clock.now - started
        if let recording {
            summary.runID = recording.runID
            let status = summary.interrupted ? "interrupted" : (summary.failed + summary.budgetStopped > 0 || readError != nil ? "failed" : "succeeded")
            try? await recording.store.endRun(recording.runID, status: status, outputs: nil, endedAt: Date())
        }
        if let readError { throw readError }
        return summary
    }

    /// Keeps a finished row's results line in the store, for `skein merge --store`. A row that
    /// was interrupted is not finished: a re-run does it. Should the write fail, the row is
    /// still in the results file, and `skein merge --store` names it as missing.
    static func store(_ outcome: RowOutcome, recording: StepRunner.Recording?) async {
        guard let recording, outcome.status != .interrupted else { return }
        try? await recording.store.record(RowResultRecord(
            runID: recording.runID, row: outcome.row, status: outcome.status.rawValue, line: outcome.jsonLine))
    }

    static func rowOutcome(_ outcome: Scheduler.Outcome, row: Int, inputs: JSONValue.JSONObject) -> RowOutcome {
        let results = outcome.results.values
        var errors: [String] = []
        for failed in outcome.failedSteps { errors.append("step '\(failed.name)' failed: \(failed.message ?? "unknown error")") }
        errors += outcome.outputErrors
        let status: RowOutcome.Status
        switch outcome.status {
        case .succeeded: status = .succeeded
        case .failed: status = .failed
        case .interrupted: status = .interrupted; if errors.isEmpty { errors = ["interrupted"] }
        }
        var row = RowOutcome(
            row: row, status: status, outputs: outcome.outputs, errors: errors, inputs: status == .succeeded ? nil : inputs,
            requests: results.reduce(0) { $0 + $1.requests }, cacheHits: results.reduce(0) { $0 + $1.cacheHits },
            tokens: results.reduce(0) { $0 + ($1.usage?.totalTokens ?? 0) })
        row.stoppedByBudget = status == .failed && outcome.outputErrors.isEmpty && !outcome.failedSteps.isEmpty
            && outcome.failedSteps.allSatisfy { $0.failure?.isBudgetStop == true }
        return row
    }

    static func plain(_ values: OrderedDictionary<String, InputResolver.Provided>) -> JSONValue.JSONObject {
        var object = JSONValue.JSONObject()
        for (name, value) in values {
            switch value {
            case .text(let text): object[name] = .string(text)
            case .value(let value): object[name] = value
            }
        }
        return object
    }
}

/// Reports rows in order: a finished row waits here until every earlier row is reported,
/// then releases its window permit.
actor Reorderer {
    private var pending: [Int: DatasetRunner.RowOutcome] = [:]
    private var next = 0
    private let emit: @Sendable (DatasetRunner.RowOutcome) -> Void
    private let permits: AsyncSemaphore
    private(set) var summary = DatasetRunner.Summary()

    init(emit: @escaping @Sendable (DatasetRunner.RowOutcome) -> Void, permits: AsyncSemaphore) {
        self.emit = emit
        self.permits = permits
    }

    func deliver(_ position: Int, _ outcome: DatasetRunner.RowOutcome) async {
        pending[position] = outcome
        var released = 0
        while let ready = pending.removeValue(forKey: next) {
            next += 1
            released += 1
            summary.rows += 1
            switch ready.status {
            case .succeeded: summary.succeeded += 1
            case .failed where ready.stoppedByBudget: summary.budgetStopped += 1
            case .failed: summary.failed += 1
            case .interrupted: summary.interrupted = true
            }
            summary.requests += ready.requests
            summary.cacheHits += ready.cacheHits
            summary.tokens += ready.tokens
            emit(ready)
        }
        for _ in 0..<released { permits.release() }
    }
}
