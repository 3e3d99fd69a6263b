import ArgumentParser
import Foundation
import OrderedCollections
import SkeinKit
import Synchronization

/// `skein run FILE --dataset rows.jsonl|rows.csv`: one pipeline run per row, results in row
/// order as JSON Lines.
struct DatasetRun {
    let command: RunCommand
    let graph: PipelineGraph
    let fixedInputs: OrderedDictionary<String, InputResolver.Provided>

    func run(dataset: String) async throws {
        var renames: [String: String] = [:]
        for mapping in command.map {
            let parts = mapping.split(separator: "=", maxSplits: 1).map(String.init)
            renames[parts[0]] = parts[1]
        }
        let shard = command.shard.flatMap(Shard.init(parsing:)) ?? .all
        let reader: DatasetReader
        do {
            reader = try DatasetReader(path: dataset, renames: renames)
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
        // Checked before the store opens. Results written over the rows they come from, or
        // two outputs in one file, lose data.
        let resultsPath: OutputPath?, errorsPath: OutputPath?
        do {
            resultsPath = try command.outputFile.map { try OutputPath($0, option: "-o") }
            errorsPath = try command.errors.map { try OutputPath($0, option: "--errors") }
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
        for (option, output) in [("-o", resultsPath), ("--errors", errorsPath)] {
            guard let output, output.isSameFile(as: dataset) else { continue }
            Terminal.standardError.write(
                "error: \(option) '\(output.given)' is the dataset itself; the results would replace its rows: write them to another file\n")
            throw ExitCode(2)
        }
        if let resultsPath, let errorsPath, resultsPath.isSameFile(as: errorsPath.resolved) {
            Terminal.standardError.write("error: -o and --errors name the same file '\(resultsPath.given)'; give them different files\n")
            throw ExitCode(2)
        }
        do {
            try reader.checkInputs(renames: renames, fixedInputs: Set(fixedInputs.keys), pipeline: graph.pipeline)
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(error.isUsageError ? 2 : 1)
        }

        let store = try await command.storeOptions.open()
        let session = command.session(graph: graph, streaming: false, keepsGoingOffline: false)
        var runOptions: JSONValue.JSONObject = command.nameOption
        runOptions["dataset"] = .string(dataset)
        if let shard = command.shard { runOptions["shard"] = .string(shard) }
        if command.batch { runOptions["batch"] = true }
        let record = session.record(inputs: DatasetRunnerInputs.plain(fixedInputs), extraOptions: runOptions)

        let results = try OutputFile(output: resultsPath)
        let errors = try errorsPath.map { try OutputFile(output: $0) }
        let isTerminal = Terminal.isTerminal(2) && !command.quiet
        let total = isTerminal ? DatasetReader.countRows(path: dataset).map { shard.count == 1 ? $0 : ($0 + shard.count - 1 - shard.index) / shard.count } : nil
        let progress = DatasetProgress(total: total, live: isTerminal)

        let (summary, throttles) = try await HTTPCompletionClient.withClient(
            configuration: .init(connectionsPerHost: max(command.concurrency, 8)), environment: session.options.environment
        ) { http in
            try await command.loadPrices(session, client: http)
            let quiet = command.quiet
            let client: any CompletionClient = command.batch
                ? BatchingCompletionClient(
                    client: http, ledger: store,
                    options: .init(collectDelay: .milliseconds(command.batchWaveMs),
                                   polling: .init(initialInterval: .milliseconds(Int(command.batchPoll * 1000)))),
                    onEvent: { event in if !quiet { progress.batchEvent(event) } })
                : http
            let runner = DatasetRunner(scheduler: session.scheduler(client: client, store: store), shard: shard)
            let task = Task {
                try await runner.run(
                    reader: reader, fixedInputs: fixedInputs, record: record,
                    events: { event in progress.handle(event) },
                    emit: { outcome in
                        results.write(outcome.jsonLine)
                        if outcome.status != .succeeded { errors?.write(outcome.errorLine) }
                        progress.rowDone(failed: outcome.status == .failed && !outcome.stoppedByBudget)
                    })
            }
            let signals = SignalWatcher { task.cancel() }
            progress.start()
            defer {
                signals.stop()
                progress.finish()
            }
            do {
                return (try await task.value, await http.throttledProviders())
            } catch {
                Terminal.standardError.write("error: \(error)\n")
                throw ExitCode(1)
            }
        }
        let rate = Double(summary.rows) / max(summary.duration.inSeconds, 0.001)
        var line = "\(Terminal.count(summary.rows, "row")): \(summary.succeeded) succeeded"
        if summary.failed > 0 { line += ", \(summary.failed) failed" }
        if summary.budgetStopped > 0 { line += ", \(summary.budgetStopped) stopped by the budget" }
        line += "; \(Terminal.count(summary.requests, "request"))"
        if summary.cacheHits > 0 { line += ", \(summary.cacheHits) from the store" }
        line += "; " + Summary.cost(summary.spend)
        line += String(format: "; %.1fs, %.1f rows/s", summary.duration.inSeconds, rate)
        Terminal.standardError.write(line + "\n")
        for note in Summary.throttleNotes(throttles) { Terminal.standardError.write(note + "\n") }
        if summary.stoppedByBudget {
            // Like an interrupt: the results file is left as PATH.partial (a whole file at
            // PATH means every row ran), and a re-run with a higher budget finishes it, taking
            // the rows done from the store.
            let rows = DatasetReader.countRows(path: dataset).map { shard.count == 1 ? $0 : ($0 + shard.count - 1 - shard.index) / shard.count }
            let done = "\(summary.succeeded)" + (rows.map { " of \($0)" } ?? "") + " rows done"
            if let line = Summary.budgetStop(summary.spend, done: done) { Terminal.standardError.write(line + "\n") }
            if let resultsPath { Terminal.standardError.write("the rows done so far are in \(resultsPath.partial)\n") }
            throw ExitCode(1)
        }
        if summary.interrupted {
            // Keep the partial files: a re-run fills in the rest from the store.
            Terminal.standardError.write("interrupted after \(Terminal.count(summary.rows, "row")); run the same command again to finish (finished requests come from the store)\n")
            throw ExitCode(130)
        }
        try results.commit()
        try errors?.commit()
        if summary.failed > 0 {
            Terminal.standardError.write("error: \(Terminal.count(summary.failed, "row")) failed"
                + (command.errors.map { "; see \($0)" } ?? "; rerun with --errors FILE to collect them") + "\n")
            throw ExitCode(1)
        }
    }
}

enum DatasetRunnerInputs {
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

/// A JSON Lines output: written to `PATH.partial` as rows come, renamed to `PATH` when the
/// run completes (so a file at PATH is always whole; see `OutputPath`); stdout when there
/// is no path.
final class OutputFile: Sendable {
    let output: OutputPath?
    private let handle: Mutex<FileHandle?>
    private let buffer = Mutex<[UInt8]>([])
    /// The `errno` of a failed write to the file (a full disk): later rows are not
    /// written, and `commit()` reports it; the rows themselves are in the store.
    private let writeFailure = Mutex<Int32?>(nil)

    /// - Parameter output: the file, checked already; nil for stdout.
    init(output: OutputPath?) throws {
        self.output = output
        do {
            handle = Mutex(try output?.open())
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
    }

    /// `-o PATH` of a command that has not checked it yet.
    convenience init(path: String?) throws {
        do {
            try self.init(output: path.map { try OutputPath($0, option: "-o") })
        } catch let refusal as OutputPath.Refusal {
            Terminal.standardError.write("error: \(refusal)\n")
            throw ExitCode(1)
        }
    }

    func write(_ line: String) {
        buffer.withLock { buffer in
            buffer.append(contentsOf: line.utf8)
            buffer.append(UInt8(ascii: "\n"))
            if buffer.count >= 64 * 1024 { flush(&buffer) }
        }
    }

    private func flush(_ buffer: inout [UInt8]) {
        guard !buffer.isEmpty else { return }
        let data = Data(buffer)
        buffer.removeAll(keepingCapacity: true)
        handle.withLock { handle in
            guard let handle else { return data.withUnsafeBytes { Terminal.standardOutput.write($0) } }
            guard writeFailure.withLock({ $0 }) == nil else { return }
            let failure = data.withUnsafeBytes { Terminal.writeAll($0, to: handle.fileDescriptor) }
            if let failure { writeFailure.withLock { $0 = failure } }
        }
    }

    func commit() throws {
        buffer.withLock { flush(&$0) }
        guard let output else { return }
        handle.withLock { handle in try? handle?.close(); handle = nil }
        if let failure = writeFailure.withLock({ $0 }) {
            Terminal.standardError.write(
                "error: cannot write '\(output.partial)': \(String(cString: strerror(failure))); every finished row is in "
                    + "the store, so the same command run again writes the file without new requests\n")
            throw ExitCode(1)
        }
        do {
            try output.commit()
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
    }

    deinit {
        buffer.withLock { flush(&$0) }
    }
}

/// Dataset progress on stderr: on a terminal one line redrawn five times a second (rows
/// done, rows/s, tokens/s, failures, ETA); otherwise nothing until the summary.
final class DatasetProgress: Sendable {
    struct State {
        var rows = 0
        var failed = 0
        var tokens = 0
        var drawn = false
        /// Per provider, the latest report of it throttling the run, and when its wait ends.
        var throttles: [String: (throttle: ProviderThrottle, until: ContinuousClock.Instant)] = [:]
    }

    let total: Int?
    let live: Bool
    let started = ContinuousClock.now
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(total: Int?, live: Bool) {
        self.total = total
        self.live = live
    }

    func handle(_ event: RunEvent) {
        if case .requestFinished(_, _, let usage?, let attempts) = event, attempts > 0 {
            state.withLock { $0.tokens += usage.totalTokens }
        }
        if live, case .throttled(_, _, let throttle) = event {
            let now = ContinuousClock.now
            state.withLock {
                // The latest report's rate and count, the longest wait still ahead.
                let until = max(now + throttle.wait, $0.throttles[throttle.provider]?.until ?? now)
                $0.throttles[throttle.provider] = (throttle, until)
            }
        }
    }

    func batchEvent(_ event: BatchingCompletionClient.Event) {
        let line: String
        switch event {
        case .submitted(let id, let provider, let model, let requests):
            line = "batch \(id) created at \(provider): \(Terminal.count(requests, "request")) for \(model)"
        case .resumed(let id, let provider, let requests):
            line = "batch \(id) at \(provider): waiting again for \(Terminal.count(requests, "request")) sent before the restart"
        case .status:
            return
        case .finished(let id, let status, let succeeded, let failed):
            line = "batch \(id) \(status): \(succeeded) succeeded" + (failed > 0 ? ", \(failed) failed" : "")
        }
        Terminal.standardError.write((live ? "\r\u{1B}[2K" : "") + line + "\n")
    }

    func rowDone(failed: Bool) {
        state.withLock { state in
            state.rows += 1
            if failed { state.failed += 1 }
        }
    }

    func start() {
        guard live else { return }
        task.withLock {
            $0 = Task { [weak self] in
                while !Task.isCancelled {
                    self?.draw()
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        }
    }

    func finish() {
        task.withLock { $0?.cancel() }
        guard live else { return }
        draw()
        Terminal.standardError.write("\n")
    }

    private func draw() {
        let snapshot = state.withLock { $0 }
        let elapsed = max((ContinuousClock.now - started).inSeconds, 0.001)
        let rate = Double(snapshot.rows) / elapsed
        var line = "rows \(snapshot.rows)"
        if let total, total > 0 {
            line += "/\(total) (\(snapshot.rows * 100 / total)%)"
        }
        line += String(format: " · %.1f rows/s · %@ tokens/s", rate, Self.compact(Double(snapshot.tokens) / elapsed))
        if snapshot.failed > 0 { line += " · \(snapshot.failed) failed" }
        if let total, rate > 0, snapshot.rows < total {
            line += " · ETA " + Self.duration(Double(total - snapshot.rows) / rate)
        }
        let now = ContinuousClock.now
        for provider in snapshot.throttles.keys.sorted() {
            guard let (throttle, until) = snapshot.throttles[provider], now < until + ProgressRenderer.throttleLinger else { continue }
            line += " · " + ProgressRenderer.throttleLine(throttle, remaining: until - now)
        }
        Terminal.standardError.write("\r\u{1B}[2K" + line)
    }

    static func compact(_ value: Double) -> String {
        value >= 1000 ? String(format: "%.1fk", value / 1000) : String(format: "%.0f", value)
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        return "\(total / 3600)h\(String(format: "%02d", (total % 3600) / 60))m"
    }
}
