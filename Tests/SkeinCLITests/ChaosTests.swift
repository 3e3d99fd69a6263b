import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// Fault injection and kill-and-resume through the real binary (issue 12). `scripts/chaos`
/// runs the same tests at full size (`SKEIN_CHAOS_ROWS=2000`, `SKEIN_SOAK_KILLS=10`).
@Suite(.serialized) struct ChaosTests {
    static var rows: Int { Int(ProcessInfo.processInfo.environment["SKEIN_CHAOS_ROWS"] ?? "") ?? 300 }
    static var kills: Int { Int(ProcessInfo.processInfo.environment["SKEIN_SOAK_KILLS"] ?? "") ?? 3 }
    static let retries = 10

    static let pipeline = """
        inputs:
          text: {type: string}
        steps:
          extract:
            prompt: "extract {{ inputs.text }}"
            retries: \(retries)
            timeout: 5s
          summarize:
            prompt: "summarize {{ steps.extract.output }}"
            retries: \(retries)
            timeout: 5s
          title:
            prompt: "title {{ steps.summarize.output }}"
            retries: \(retries)
            timeout: 5s
        outputs:
          title: "{{ steps.title.output }}"
        """

    /// The faults of issue 12: 10% 500s, 5% 429s (half with Retry-After), 2% drops, 1% malformed, 1% timeouts.
    static var faultyServer: SkeinTestServer.Configuration {
        var configuration = SkeinTestServer.Configuration()
        configuration.faults = .init(
            serverErrorRate: 0.10, rateLimitRate: 0.025, rateLimitWithoutRetryAfterRate: 0.025, dropRate: 0.02,
            malformedRate: 0.01, timeoutRate: 0.01, retryAfter: .seconds(1), hangDuration: .seconds(6))
        configuration.seed = UInt64(ProcessInfo.processInfo.environment["SKEIN_CHAOS_SEED"] ?? "") ?? 7
        return configuration
    }

    static func dataset(in directory: URL, rows: Int) throws -> String {
        let path = directory.appendingPathComponent("rows.jsonl").path
        try (0..<rows).map { #"{"text": "document \#($0)"}"# }.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The results of a fault-free run, as the reference.
    static func reference(rows: String, in directory: URL) async throws -> String {
        try await SkeinTestServer.withRunning(.init()) { server in
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory, name: "reference.yaml")
            let out = directory.appendingPathComponent("reference.jsonl").path
            let result = try await CLI.run(
                ["run", path, "--dataset", rows, "-o", out, "--concurrency", "64", "--store", directory.appendingPathComponent("reference.sqlite").path],
                in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            return try String(contentsOfFile: out, encoding: .utf8)
        }
    }

    /// Per distinct request body: how many attempts reached the server, and how many of
    /// them the server answered successfully.
    static func tally(_ requests: [RecordedRequest]) -> [String: (attempts: Int, successes: Int)] {
        var tally: [String: (attempts: Int, successes: Int)] = [:]
        for request in requests where request.path.hasSuffix("/completions") {
            let key = request.body.map { String(decoding: $0, as: UTF8.self) } ?? "\(request.id)"
            var entry = tally[key] ?? (0, 0)
            entry.attempts += 1
            if request.handling == .defaultReply && request.status == 200 && !request.wasDropped { entry.successes += 1 }
            tally[key] = entry
        }
        return tally
    }

    @Test func everyRowCompletesUnderFaultsAndNoSuccessIsPaidTwice() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let rows = try Self.dataset(in: directory, rows: Self.rows)
        let expected = try await Self.reference(rows: rows, in: directory)
        try await SkeinTestServer.withRunning(Self.faultyServer) { server in
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let out = directory.appendingPathComponent("results.jsonl").path
            let result = try await CLI.run(["run", path, "--dataset", rows, "-o", out, "--concurrency", "64"], in: directory)
            #expect(result.status == 0, "\(result.stderr.suffix(2000))")
            #expect(try String(contentsOfFile: out, encoding: .utf8) == expected, "results differ from the fault-free run")
            let requests = await server.requests
            let tally = Self.tally(requests)
            #expect(tally.count == Self.rows * 3)
            let repeated = tally.values.filter { $0.successes > 1 }.count
            #expect(repeated == 0, "\(repeated) requests answered successfully more than once")
            #expect(tally.values.allSatisfy { $0.successes == 1 })
            let worst = tally.values.map(\.attempts).max() ?? 0
            #expect(worst <= Self.retries + 1, "a request took \(worst) attempts; the policy allows \(Self.retries + 1)")
            var faults: [RecordedRequest.Fault: Int] = [:]
            for request in requests { if case .fault(let fault) = request.handling { faults[fault, default: 0] += 1 } }
            let summary = "chaos: \(Self.rows) rows, \(requests.count) attempts for \(tally.count) requests, faults \(faults.map { "\($0.key.rawValue)=\($0.value)" }.sorted().joined(separator: " ")), most attempts for one request \(worst), repeated successes \(repeated)"
            print(summary)
            try? (summary + "\n").write(toFile: directory.deletingLastPathComponent().appendingPathComponent("skein-chaos-summary.txt").path, atomically: true, encoding: .utf8)
            #expect(faults.count == 6, "every kind of fault was injected: \(faults)")
        }
    }

    @Test func killedAtRandomMomentsAndRestartedTheResultsAreByteIdentical() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let rowCount = Self.rows
        let rows = try Self.dataset(in: directory, rows: rowCount)
        let expected = try await Self.reference(rows: rows, in: directory)
        try await SkeinTestServer.withRunning(.init(latency: .uniform(min: .milliseconds(1), max: .milliseconds(10)))) { server in
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let out = directory.appendingPathComponent("results.jsonl").path
            let arguments = ["run", path, "--dataset", rows, "-o", out, "--concurrency", "32"]
            var generator = SystemRandomNumberGenerator()
            var killed = 0
            var inFlightAtKills = 0
            for _ in 0..<Self.kills {
                let before = await server.requests.count
                let (process, o, e) = try CLI.start(arguments, in: directory)
                // A random moment: after 1 to 3 x (rows / kills) more requests reached the server.
                let target = before + Int.random(in: 1...max(2, 3 * rowCount / Self.kills), using: &generator)
                let deadline = ContinuousClock.now + .seconds(60)
                while await server.requests.count < target && ContinuousClock.now < deadline && process.isRunning {
                    try await Task.sleep(for: .milliseconds(2))
                }
                if process.isRunning {
                    inFlightAtKills += await server.inFlightRequests
                    kill(process.processIdentifier, SIGKILL)
                    killed += 1
                }
                _ = await CLI.finish(process, o, e)
            }
            let final = try await CLI.run(arguments, in: directory)
            #expect(final.status == 0, "\(final.stderr.suffix(2000))")
            #expect(try String(contentsOfFile: out, encoding: .utf8) == expected, "results differ from an uninterrupted run")
            let tally = Self.tally(await server.requests)
            let repeated = tally.values.reduce(0) { $0 + max($1.successes - 1, 0) }
            // Only a reply in flight at the moment of a kill, or received and not yet committed,
            // can be lost with the process and asked again: at most --concurrency (32) per kill,
            // since a request's slot is freed only once its reply is stored. Everything the store
            // had committed is never requested twice.
            #expect(repeated <= killed * 32, "repeated \(repeated), in flight at the server at the kills \(inFlightAtKills)")
            let summary = "soak: \(rowCount) rows, \(killed) kills, \(tally.count) requests, \(repeated) successful requests asked again (in flight at the kills: \(inFlightAtKills))"
            print(summary)
            try? (summary + "\n").write(toFile: directory.deletingLastPathComponent().appendingPathComponent("skein-soak-summary.txt").path, atomically: true, encoding: .utf8)
            let store = try SQLiteResultStore(path: directory.appendingPathComponent(".skein/skein.sqlite").path)
            #expect(try await store.integrityCheck() == "ok")
        }
    }
}
