import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// When each request went out and when its first streamed text came (store migration
/// `v6-request-times`), through the real binary: `runs show --step` and the report's
/// timeline data.
@Suite(.serialized) struct RequestTimesCLITests {
    static let pipeline = """
        steps:
          a:
            prompt: "first one two"
          b:
            prompt: "second three four"
        outputs:
          out: "{{ steps.a.output }} {{ steps.b.output }}"
        """

    static func request(_ step: String, in directory: URL) async throws -> JSONValue {
        let shown = try await CLI.run(["runs", "show", "last", "--step", step, "--format", "json"], in: directory)
        return try #require(try JSONValue(parsing: shown.stdout).arrayValue?.first, "\(shown.stdout)\(shown.stderr)")
    }

    /// The last run's two requests: the one that took the one slot first, the one that waited
    /// for it, and the waiting one's step (either step may go first).
    static func firstAndWaited(in directory: URL) async throws -> (first: JSONValue, waited: JSONValue, step: String) {
        let a = try await request("a", in: directory)
        let b = try await request("b", in: directory)
        if (a["sent_after"]?.doubleValue ?? -1) > (b["sent_after"]?.doubleValue ?? -1) { return (b, a, "a") }
        return (a, b, "b")
    }

    @Test func aRequestThatWaitedForASlotSaysHowLongAndAStreamWhenItsFirstTextCame() async throws {
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(300)), tokenInterval: .milliseconds(20))) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            // One slot: b waits for a. --stream makes every request a stream.
            let run = try await CLI.run(["run", path, "--concurrency", "1", "--stream", "a", "--quiet"], in: directory)
            #expect(run.status == 0, "\(run.stderr)")
            // Either may take the one slot first: `a` is the one that did, `b` the one that waited.
            let (a, b, waited) = try await Self.firstAndWaited(in: directory)
            let (aSent, bSent) = (a["sent_after"]?.doubleValue ?? -1, b["sent_after"]?.doubleValue ?? -1)
            let (aFirst, bFirst) = (a["first_byte_after"]?.doubleValue ?? -1, b["first_byte_after"]?.doubleValue ?? -1)
            let bDuration = b["duration"]?.doubleValue ?? -1
            #expect(aSent >= 0 && aSent < bSent, "\(a)")
            // b was ready with a, and went out once a's reply came (300 ms of latency at least).
            #expect(bSent >= 0.28, "\(b)")
            // Its first text came after the server's latency, and before the end.
            #expect(aFirst >= 0.28 && bFirst - bSent >= 0.28 && bFirst <= bDuration, "\(b)")
            let text = try await CLI.run(["runs", "show", "last", "--step", waited], in: directory)
            #expect(text.stdout.contains("s of it queued), first byte after "), "\(text.stdout)")
            // The report's timeline draws them: "q" (queued until) and "fb" (first text).
            let report = try await CLI.run(["report", "-o", "r.html"], in: directory)
            #expect(report.status == 0, "\(report.stderr)")
            let page = try String(contentsOf: directory.appendingPathComponent("r.html"), encoding: .utf8)
            #expect(page.contains("\"q\":") && page.contains("\"fb\":"))
            #expect(page.contains("queued (waiting for a slot)"))

            // Not streamed: no first byte apart from the whole reply; from the store: neither.
            let whole = try await CLI.run(["run", path, "--concurrency", "1", "--quiet", "--no-cache"], in: directory)
            #expect(whole.status == 0, "\(whole.stderr)")
            let wholeB = try await Self.firstAndWaited(in: directory).waited
            #expect(wholeB["first_byte_after"] == nil && (wholeB["sent_after"]?.doubleValue ?? 0) >= 0.28, "\(wholeB)")
            _ = try await CLI.run(["run", path, "--quiet"], in: directory)
            let stored = try await Self.request(waited, in: directory)
            #expect(stored["cached"] == true && stored["sent_after"] == nil && stored["first_byte_after"] == nil, "\(stored)")
        }
    }
}
