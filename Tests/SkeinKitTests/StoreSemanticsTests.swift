import Foundation
import SkeinTesting
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// The parts of the store protocol beyond requests, the same on SQLite and PostgreSQL: the
/// batch ledger, tool executions, test verdicts, dataset rows and run names.
@Suite struct StoreSemanticsTests {
    static let provider = ProviderConfiguration(name: "p", baseURL: "http://127.0.0.1:1/v1")

    static func newRun(_ store: any HistoryStore, name: String? = nil, shard: String? = nil) async throws -> Int64 {
        var options: JSONValue.JSONObject = [:]
        if let name { options["name"] = .string(name) }
        if let shard { options["shard"] = .string(shard) }
        return try await store.beginRun(RunRecord(pipelinePath: "p.yaml", pipelineSHA256: "0", inputs: [:], options: .object(options)))
    }

    @Test(arguments: StoreKind.allCases) func theBatchLedgerRemembersWhichBatchHoldsARequest(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        let entry = BatchLedgerEntry(id: "batch_1", provider: "p", baseURL: "http://h/v1", endpoint: "/v1/chat/completions",
                                     inputFileID: "file_1", status: "validating")
        try await store.recordBatch(entry, keys: ["k1", "k2"])
        #expect(try await store.batch(containing: "k1") == entry)
        #expect(try await store.batch(containing: "k3") == nil)
        try await store.updateBatch(id: "batch_1", status: "completed", outputFileID: "file_out", errorFileID: nil)
        #expect(try await store.batch(containing: "k2")?.status == "completed")
        try await store.updateBatch(id: "batch_1", status: "expired", outputFileID: nil, errorFileID: nil)
        #expect(try await store.batch(containing: "k2") == nil, "an expired batch holds nothing")
    }

    @Test(arguments: StoreKind.allCases) func toolExecutionsAreKeptForReplayAndInTheHistory(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        let run = try await Self.newRun(store)
        let key = ToolKey(step: "s", definition: ["name": "weather"], arguments: ["city": "Oslo"])
        #expect(try await store.toolExecution(for: key) == nil)
        try await store.record(ToolRecord(
            runID: run, row: 0, step: "s", item: nil, turn: 1, tool: "weather", key: key, arguments: #"{"city":"Oslo"}"#,
            execution: StoredToolExecution(result: "rain", error: nil), cached: false, storesResult: true, startedAt: Date(),
            duration: .milliseconds(20)))
        let unkept = ToolKey(step: "s", definition: ["name": "weather"], arguments: ["city": "Lima"])
        try await store.record(ToolRecord(
            runID: run, row: 0, step: "s", item: nil, turn: 1, tool: "weather", key: unkept, arguments: #"{"city":"Lima"}"#,
            execution: StoredToolExecution(result: nil, error: "timed out"), cached: false, storesResult: false, startedAt: Date(),
            duration: .seconds(1)))
        #expect(try await store.toolExecution(for: key) == StoredToolExecution(result: "rain", error: nil))
        #expect(try await store.toolExecution(for: unkept) == nil, "a timeout is not replayed")
        let calls = try await store.toolCalls(run: run)
        #expect(calls.map(\.tool) == ["weather", "weather"])
        #expect(calls.map(\.error) == [nil, "timed out"])
        #expect(try await store.toolCalls(run: run, step: "other").isEmpty)
    }

    @Test(arguments: StoreKind.allCases) func testVerdictsAreStoredPerCaseAndVariant(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        let run = try await Self.newRun(store)
        try await store.record(TestVerdictsRecord(
            runID: run, row: 0, caseName: "short", variant: "current", status: "failed", error: nil,
            verdicts: [Verdict(target: "summary", assertion: "contains 'x'", key: "contains", passed: false, message: "no 'x'"),
                       Verdict(target: "summary", assertion: "judge", key: "judge", passed: true, message: "fine", score: 0.9)],
            usage: .init(promptTokens: 3, completionTokens: 4), cost: 0.25))
        let rows = try await store.testResults(run: run)
        #expect(rows.map(\.caseName) == ["short"])
        #expect(rows.first?.verdicts.map(\.passed) == [false, true])
        #expect(rows.first?.verdicts.last?.score == 0.9)
        #expect(rows.first?.cost == 0.25)
    }

    /// Rows come back in row order, one per row: from the shards of one named run, a
    /// succeeded line before a failed one, the latest run's before an older one's.
    @Test(arguments: StoreKind.allCases) func theRowsOfANamedRunComeBackInRowOrder(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        let shard0 = try await Self.newRun(store, name: "job-7", shard: "0/2")
        let shard1 = try await Self.newRun(store, name: "job-7", shard: "1/2")
        let restarted = try await Self.newRun(store, name: "job-7", shard: "1/2")
        _ = try await Self.newRun(store, name: "job-8")
        for row in stride(from: 0, to: 6, by: 2) {
            try await store.record(RowResultRecord(runID: shard0, row: row, status: "succeeded", line: "s0 \(row)"))
        }
        try await store.record(RowResultRecord(runID: shard1, row: 1, status: "succeeded", line: "s1 1"))
        try await store.record(RowResultRecord(runID: shard1, row: 3, status: "failed", line: "s1 3 failed"))
        try await store.record(RowResultRecord(runID: restarted, row: 1, status: "failed", line: "restart 1 failed"))
        try await store.record(RowResultRecord(runID: restarted, row: 3, status: "succeeded", line: "restart 3"))
        try await store.record(RowResultRecord(runID: restarted, row: 5, status: "succeeded", line: "restart 5"))
        let ids = try await store.runs(named: "job-7")
        #expect(ids == [shard0, shard1, restarted])
        let lines = Lines()
        try await store.forEachResultLine(runs: ids) { row, line in lines.append("\(row): \(line)") }
        #expect(lines.all == ["0: s0 0", "1: s1 1", "2: s0 2", "3: restart 3", "4: s0 4", "5: restart 5"])
        #expect(try await store.runs(named: "nobody").isEmpty)
        #expect(try await store.run(ids[0]).summary.name == "job-7")
    }

    /// A dataset run keeps each finished row's results line, as `-o` writes it.
    @Test(arguments: StoreKind.allCases) func aDatasetRunKeepsEachRowsResultsLine(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        try await SkeinTestServer.withRunning(.init()) { server in
            let graph = try SchedulerTests.graph(
                "  say:\n    prompt: \"say {{ inputs.text }}\"", server: server, inputs: "inputs:\n  text: {type: string}",
                outputs: "outputs:\n  said: \"{{ steps.say.output }}\"")
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rows-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("rows.jsonl").path
            try (0..<5).map { #"{"text": "row \#($0)"}"# }.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let emitted = Lines()
            let summary = try await HTTPCompletionClient.withClient { client in
                let scheduler = Scheduler(graph: graph, client: client, store: store)
                return try await DatasetRunner(scheduler: scheduler).run(
                    reader: try DatasetReader(path: path), record: RunRecord(
                        pipelinePath: "p.yaml", pipelineSHA256: "0", inputs: [:], options: ["name": "five"]),
                    emit: { emitted.append($0.jsonLine) })
            }
            #expect(summary.succeeded == 5)
            let stored = Lines()
            try await store.forEachResultLine(runs: try await store.runs(named: "five")) { _, line in stored.append(line) }
            #expect(stored.all == emitted.all)
        }
    }
}
