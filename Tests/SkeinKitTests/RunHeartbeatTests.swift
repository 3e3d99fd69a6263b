import Foundation
import SkeinTesting
import Testing

@testable import SkeinKit

/// A run of another machine sharing the store is shown `killed` once its process stops
/// writing its beat (liveness by pid works only on the machine that ran it).
@Suite struct RunHeartbeatTests {
    static let elsewhere = "another-machine"

    @Test func aRunOfAnotherMachineIsKilledOnceItsBeatsStop() {
        let interval = Duration.seconds(30)
        func shown(_ recorded: String, age: Double?) -> String {
            RunSummary.shownStatus(recorded, host: Self.elsewhere, pid: 1, heartbeatAge: age, interval: interval)
        }
        #expect(shown("running", age: 5) == "running")
        #expect(shown("running", age: 100) == "running", "three missed beats are a busy store, not a death")
        #expect(shown("running", age: 121) == "killed")
        #expect(shown("running", age: nil) == "running", "a run of a Skein from before beats keeps its status")
        #expect(shown("succeeded", age: 10_000) == "succeeded")
        // On this machine the pid decides, whatever the beat says.
        let here = ProcessInfo.processInfo.hostName
        let alive = Int(ProcessInfo.processInfo.processIdentifier)
        #expect(RunSummary.shownStatus("running", host: here, pid: alive, heartbeatAge: 10_000) == "running")
    }

    /// The store of a running run writes its beat every interval, and stops with the run.
    @Test(arguments: StoreKind.allCases)
    func aRunningRunsBeatIsKeptFresh(kind: StoreKind) async throws {
        let interval = Duration.milliseconds(100)
        let store: any HistoryStore
        let cleanup: @Sendable () -> Void
        switch kind {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-beat-\(UUID().uuidString)")
            store = try SQLiteResultStore(path: directory.appendingPathComponent("store.sqlite").path, heartbeatInterval: interval)
            cleanup = { try? FileManager.default.removeItem(at: directory) }
        case .postgres:
            guard let database = try await PostgresScratchDatabase.create() else { return }
            store = try await PostgresResultStore.open(try PostgresURL(database.url), heartbeatInterval: interval)
            cleanup = { database.drop() }
        }
        defer { cleanup() }
        let id = try await store.beginRun(RunRecord(pipelinePath: "p.yaml", pipelineSHA256: "0", inputs: [:]))
        try await Task.sleep(for: .milliseconds(1500))
        let running = try #require(try await store.runs().first { $0.id == id })
        let age = try #require(running.heartbeatAge)
        #expect(age < 1.2, "no beat in the last \(age) s of a run begun 1.5 s ago, beating every 0.1 s")
        try await store.endRun(id, status: "succeeded", outputs: nil, endedAt: Date())
        try await Task.sleep(for: .milliseconds(500))
        let ended = try #require(try await store.runs().first { $0.id == id })
        #expect(ended.status == "succeeded")
        #expect(try #require(ended.heartbeatAge) >= 0.45, "the beats went on after the run ended")
        await store.close()
    }

    /// Runs written by other machines: silent for ten minutes is killed, fresh is running,
    /// without a beat (an older Skein) keeps its status.
    @Test func theSharedStoreShowsAnotherMachinesSilentRunAsKilled() async throws {
        guard let database = try await PostgresScratchDatabase.create() else { return }
        defer { database.drop() }
        let store = try await PostgresResultStore.open(try PostgresURL(database.url))
        for (name, beat) in [("silent", "extract(epoch FROM clock_timestamp()) - 600"),
                             ("fresh", "extract(epoch FROM clock_timestamp()) - 5"), ("old", "NULL")] {
            try await database.execute("""
                INSERT INTO runs (pipeline_path, pipeline_sha256, inputs, options, started_at, status, pid, host, heartbeat_at)
                VALUES ('\(name).yaml', '0', '{}', '{}', 0, 'running', 1, '\(Self.elsewhere)', \(beat))
                """)
        }
        let shown = Dictionary(uniqueKeysWithValues: try await store.runs().map { ($0.pipelinePath, $0.status) })
        #expect(shown == ["silent.yaml": "killed", "fresh.yaml": "running", "old.yaml": "running"])
        await store.close()
    }
}
