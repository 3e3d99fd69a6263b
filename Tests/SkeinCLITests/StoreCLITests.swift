import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// The result store through the real `skein` binary: re-runs, `--offline`, `--no-cache`,
/// SIGKILL and resume, two processes on one store, and the `runs` and `cache` commands.
@Suite(.serialized) struct StoreCLITests {
    static let chain = """
        inputs:
          text: {type: string}
        steps:
          a:
            prompt: "summarize {{ inputs.text }}"
          b:
            prompt: "translate {{ steps.a.output }}"
          c:
            prompt: "title {{ inputs.text }}"
        outputs:
          b: "{{ steps.b.output }}"
          c: "{{ steps.c.output }}"
        """

    @Test func rerunsEditsOfflineAndNoCacheCountedAtTheServer() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.chain, server: server, in: directory)
            let first = try await CLI.run(["run", path, "-i", "text=hello"], in: directory)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(await server.requests.count == 3)
            #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(".skein/skein.sqlite").path))

            let second = try await CLI.run(["run", path, "-i", "text=hello"], in: directory)
            #expect(second.status == 0)
            #expect(second.stdout == first.stdout)
            #expect(await server.requests.count == 3, "an unchanged re-run made requests")
            #expect(second.stderr.contains("0 requests, 3 from the store"), "\(second.stderr)")

            // Edit b's prompt: only b is asked again.
            let text = try String(contentsOfFile: path, encoding: .utf8)
            try text.replacingOccurrences(of: "translate", with: "rephrase").write(toFile: path, atomically: true, encoding: .utf8)
            let edited = try await CLI.run(["run", path, "-i", "text=hello"], in: directory)
            #expect(edited.status == 0)
            #expect(await server.requests.count == 4)
            #expect(await server.requests.last?.lastUserMessage == "rephrase echo: summarize hello")

            let noCache = try await CLI.run(["run", path, "-i", "text=hello", "--no-cache"], in: directory)
            #expect(noCache.status == 0)
            #expect(await server.requests.count == 7)

            let offline = try await CLI.run(["run", path, "-i", "text=hello", "--offline"], in: directory)
            #expect(offline.status == 0)
            #expect(await server.requests.count == 7)
            let missing = try await CLI.run(["run", path, "-i", "text=other", "--offline"], in: directory)
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("offline: no stored result for a, c"), "\(missing.stderr)")
            #expect(await server.requests.count == 7)

            let both = try await CLI.run(["run", path, "-i", "text=hello", "--offline", "--no-cache"], in: directory)
            #expect(both.status == 2)

            // The history and the maintenance commands read the same store.
            let list = try await CLI.run(["runs", "list"], in: directory)
            #expect(list.status == 0)
            #expect(list.stdout.split(separator: "\n").count == 7, "\(list.stdout)")
            let diff = try await CLI.run(["runs", "diff", "2", "3"], in: directory)
            #expect(diff.stdout.contains("file changed"), "\(diff.stdout)")
            #expect(diff.stdout.contains("changed  b"), "\(diff.stdout)")
            #expect(diff.stdout.contains("same     a"), "\(diff.stdout)")
            #expect(diff.stdout.contains("- echo: translate echo: summarize hello"))
            #expect(diff.stdout.contains("+ echo: rephrase echo: summarize hello"))
            let show = try await CLI.run(["runs", "show", "3", "--step", "b"], in: directory)
            #expect(show.stdout.contains("[user]\nrephrase echo: summarize hello"), "\(show.stdout)")
            #expect(show.stdout.contains("── reply\necho: rephrase echo: summarize hello"))
            let typo = try await CLI.run(["runs", "show", "3", "--step", "bb"], in: directory)
            #expect(typo.status == 1)
            #expect(typo.stderr.contains("did you mean 'b'?"), "\(typo.stderr)")
            let stats = try await CLI.run(["cache", "stats"], in: directory)
            #expect(stats.stdout.contains("entries   4 stored replies"), "\(stats.stdout)")
            for age in ["soon", "infd", "nand", "0x10d", "1e400d", "d", ".5d", "1.d"] {
                let badAge = try await CLI.run(["cache", "prune", "--older-than", age], in: directory)
                #expect(badAge.status == 2, "--older-than \(age)")
                #expect(badAge.stderr.contains("--older-than expects a number and a unit"), "\(badAge.stderr)")
            }
            let prune = try await CLI.run(["cache", "prune", "--older-than", "30d"], in: directory)
            #expect(prune.stdout == "deleted 0 stored replies unused for 30d\n")
            let clear = try await CLI.run(["cache", "clear"], in: directory)
            #expect(clear.stdout == "deleted 4 stored replies\n")
            let afterClear = try await CLI.run(["run", path, "-i", "text=hello"], in: directory)
            #expect(afterClear.status == 0)
            #expect(await server.requests.count == 10)
        }
    }

    /// A pipeline long enough to be killed in the middle: a chain, then a fan-out.
    static let long = """
        steps:
          s1:
            prompt: "one"
          s2:
            prompt: "two {{ steps.s1.output }}"
          s3:
            prompt: "three {{ steps.s2.output }}"
          fan:
            for_each: "{{ [1, 2, 3, 4, 5, 6] }}"
            as: n
            max_concurrency: 2
            prompt: "item {{ n }} of {{ steps.s3.output }}"
          end:
            prompt: "end {{ steps.fan.output | join(', ') }}"
        outputs:
          end: "{{ steps.end.output }}"
        """

    @Test(arguments: [1, 3, 5, 8])
    func sigkillThenTheSameCommandResumesWithoutPayingAgain(killAfter: Int) async throws {
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(150)))) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.long, server: server, in: directory)

            // The reference: an uninterrupted run with a store of its own.
            let reference = try await CLI.run(["run", path, "--output", "json", "--store", directory.appendingPathComponent("ref.sqlite").path], in: directory)
            #expect(reference.status == 0, "\(reference.stderr)")
            await server.resetRecords()

            let (process, out, err) = try CLI.start(["run", path, "--output", "json"], in: directory)
            let deadline = ContinuousClock.now + .seconds(30)
            while await server.requests.count < killAfter && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            kill(process.processIdentifier, SIGKILL)
            let killed = await CLI.finish(process, out, err)
            #expect(killed.status == SIGKILL || killed.status == 9)

            // What the killed run had stored: its finished steps and stored replies.
            let storePath = directory.appendingPathComponent(".skein/skein.sqlite").path
            let store = try SQLiteResultStore(path: storePath)
            #expect(try await store.integrityCheck() == "ok")
            let killedRun = try await store.run(try await store.resolveRun("last"))
            #expect(try await store.runs().first?.status == "killed")
            let finished = Set(killedRun.steps.filter { $0.status == "finished" }.map(\.step))
            let storedKeys = Set(try await store.requests(run: killedRun.summary.id).filter { $0.error == nil }.map(\.key))
            let before = await server.requests.compactMap(\.lastUserMessage)

            await server.resetRecords()
            let resumed = try await CLI.run(["run", path, "--output", "json"], in: directory)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(try JSONValue(parsing: resumed.stdout)["outputs"] == JSONValue(parsing: reference.stdout)["outputs"])
            let after = await server.requests.compactMap(\.lastUserMessage)
            // No finished step is requested again, nor any stored reply.
            for step in finished {
                let prefix = ["s1": "one", "s2": "two", "s3": "three", "fan": "item", "end": "end"][step] ?? step
                #expect(!after.contains { $0.hasPrefix(prefix) }, "step \(step) finished before the kill and was requested again")
            }
            let resumedRun = try await store.run(try await store.resolveRun("last"))
            let resumedRequests = try await store.requests(run: resumedRun.summary.id)
            for request in resumedRequests where storedKeys.contains(request.key) {
                #expect(request.cached, "a reply stored before the kill was requested again")
            }
            // Together the two runs asked at most once more than the 10 requests of one run:
            // only a reply in flight at the moment of the kill can be paid twice.
            #expect(before.count + after.count <= 10 + max(before.count - storedKeys.count, 0), "before \(before), after \(after)")
            #expect(try await store.integrityCheck() == "ok")
        }
    }

    @Test func twoProcessesShareOneStoreAtTheSameTime() async throws {
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(5)))) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let steps = (0..<60).map { "  s\($0):\n    prompt: step \($0) {{ inputs.who }}" }.joined(separator: "\n")
            let path = try CLI.writePipeline("inputs:\n  who: {type: string}\nsteps:\n" + steps, server: server, in: directory)
            let one = try CLI.start(["run", path, "-i", "who=first", "--quiet"], in: directory)
            let two = try CLI.start(["run", path, "-i", "who=second", "--quiet"], in: directory)
            async let first = CLI.finish(one.0, one.1, one.2)
            async let second = CLI.finish(two.0, two.1, two.2)
            let (a, b) = await (first, second)
            #expect(a.status == 0, "\(a.stderr)")
            #expect(b.status == 0, "\(b.stderr)")
            #expect(!(a.stderr + b.stderr).contains("locked"))
            let store = try SQLiteResultStore(path: directory.appendingPathComponent(".skein/skein.sqlite").path)
            #expect(try await store.cacheStats().entries == 120)
            #expect(try await store.runs().map(\.status) == ["succeeded", "succeeded"])
            #expect(try await store.integrityCheck() == "ok")
        }
    }

    @Test func aCorruptedStoreIsAClearErrorAndNoRequestIsMade() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline("steps:\n  a:\n    prompt: hi", server: server, in: directory)
            let storePath = directory.appendingPathComponent("junk.sqlite").path
            try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: storePath))
            let result = try await CLI.run(["run", path, "--store", storePath], in: directory)
            #expect(result.status == 1)
            #expect(result.stderr.contains("error: the store '\(storePath)' is not a readable SQLite database"), "\(result.stderr)")
            #expect(await server.requests.isEmpty)
            // The file is left as it was.
            #expect(try Data(contentsOf: URL(fileURLWithPath: storePath)) == Data(repeating: 0x42, count: 4096))
        }
    }
}
