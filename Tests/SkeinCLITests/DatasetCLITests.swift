import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// `skein run --dataset` through the real binary, against SkeinTesting.
@Suite(.serialized) struct DatasetCLITests {
    static let pipeline = """
        inputs:
          text: {type: string}
          n: {type: integer, default: 0}
        steps:
          a:
            prompt: "summarize {{ inputs.text }}"
          b:
            prompt: "translate {{ steps.a.output }} #{{ inputs.n }}"
        outputs:
          final: "{{ steps.b.output }}"
          n: "{{ inputs.n }}"
        """

    static func writeRows(_ count: Int, in directory: URL, name: String = "rows.jsonl") throws -> String {
        let lines = (0..<count).map { #"{"body": "row \#($0)", "n": \#($0)}"# }
        let path = directory.appendingPathComponent(name).path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func lines(_ path: String) throws -> [JSONValue] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONValue(parsing: String($0)) }
    }

    @Test func aReaderThatClosesStdoutEndsTheRunQuietlyAndTheStoreKeepsEverything() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let rows = try Self.writeRows(300, in: directory)
            for arguments in [["run", path, "-i", "text=one", "-i", "n=1"], ["run", path, "--dataset", rows, "--map", "body=text"]] {
                // `skein run … | head -0`: the reader is gone before the first byte is written.
                let (process, out, err) = try CLI.start(arguments, in: directory)
                try out.fileHandleForReading.close()
                let stderr = await ChildProcess.offThePool { err.fileHandleForReading.readDataToEndOfFile() }
                await ChildProcess.offThePool { process.waitUntilExit() }
                let text = String(decoding: stderr, as: UTF8.self)
                #expect(process.terminationReason == .exit && process.terminationStatus == 141, "\(arguments[2]): \(text)")
                #expect(!text.contains("Fatal error") && !text.contains("crashed"), "\(text)")
            }
            // `skein run … > /dev/full`: a stdout that fails otherwise is an error that says so.
            let full = Process()
            full.executableURL = URL(fileURLWithPath: "/bin/sh")
            full.arguments = ["-c", "'\(CLI.executable.path)' run '\(path)' -i text=three -i n=3 > /dev/full"]
            full.currentDirectoryURL = directory
            full.environment = ["NO_COLOR": "1"]
            let fullErr = Pipe()
            full.standardError = fullErr
            try full.run()
            let fullText = String(decoding: await ChildProcess.offThePool { fullErr.fileHandleForReading.readDataToEndOfFile() }, as: UTF8.self)
            await ChildProcess.offThePool { full.waitUntilExit() }
            #expect(full.terminationStatus == 1, "\(fullText)")
            #expect(fullText.contains("error: cannot write to standard output: No space left on device"), "\(fullText)")
            // Everything answered before the reader left was stored: running again asks for nothing new.
            let before = await server.requests.count
            let again = try await CLI.run(["run", path, "--dataset", rows, "--map", "body=text", "-o", "out.jsonl"], in: directory)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(try Self.lines(directory.appendingPathComponent("out.jsonl").path).count == 300)
            #expect(await server.requests.count == before)
        }
    }

    @Test func rowsComeOutInInputOrderWhateverOrderTheyFinishIn() async throws {
        try await SkeinTestServer.withRunning(.init(latency: .uniform(min: .milliseconds(1), max: .milliseconds(60)))) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let rows = try Self.writeRows(120, in: directory)
            let out = directory.appendingPathComponent("results.jsonl").path
            let result = try await CLI.run(["run", path, "--dataset", rows, "--map", "body=text", "-o", out, "--concurrency", "32"], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = try Self.lines(out)
            #expect(lines.map { $0["row"]?.intValue } == (0..<120).map { $0 })
            for (index, line) in lines.enumerated() {
                #expect(line["outputs"]?["final"] == .string("echo: translate echo: summarize row \(index) #\(index)"))
                #expect(line["outputs"]?["n"] == .int(index))
            }
            #expect(await server.requests.count == 240)
            // They did overlap: rows share one scheduler.
            #expect(await server.maxConcurrentRequests > 4)
            #expect(result.stderr.contains("120 rows: 120 succeeded; 240 requests"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out + ".partial"))
        }
    }

    @Test func aFailingRowIsReportedAndTheOthersComplete() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("bad row", match: .init(lastUserMessageContains: "row 3"),
                                           action: .status(400, message: "this row is refused")))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let rowsPath = directory.appendingPathComponent("rows.jsonl").path
            // Row 5 is not JSON, row 6 has no text: their own failures.
            var lines = (0..<8).map { #"{"text": "row \#($0)"}"# }
            lines[5] = "{not json"
            lines[6] = #"{"other": 1}"#
            try lines.joined(separator: "\n").write(toFile: rowsPath, atomically: true, encoding: .utf8)
            let out = directory.appendingPathComponent("results.jsonl").path
            let errors = directory.appendingPathComponent("errors.jsonl").path
            let result = try await CLI.run(["run", path, "--dataset", rowsPath, "-o", out, "--errors", errors], in: directory)
            #expect(result.status == 1)
            #expect(result.stderr.contains("8 rows: 5 succeeded, 3 failed"), "\(result.stderr)")
            #expect(result.stderr.contains("see \(errors)"))
            let results = try Self.lines(out)
            #expect(results.map { $0["status"]?.stringValue } == [
                "succeeded", "succeeded", "succeeded", "failed", "succeeded", "failed", "failed", "succeeded",
            ])
            #expect(results[3]["error"]?.stringValue?.contains("step 'a' failed") == true)
            #expect(results[3]["error"]?.stringValue?.contains("this row is refused") == true)
            #expect(results[5]["error"]?.stringValue?.contains("rows.jsonl:6: row 5 is not valid JSON") == true, "\(results[5])")
            #expect(results[6]["error"]?.stringValue?.contains("missing input 'text'") == true)
            let failures = try Self.lines(errors)
            #expect(failures.map { $0["row"]?.intValue } == [3, 5, 6])
            #expect(failures[0]["inputs"]?["text"] == "row 3")
        }
    }

    @Test func sigkillThenTheSameCommandRequestsOnlyWhatDidNotFinish() async throws {
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(20)))) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let rows = try Self.writeRows(200, in: directory)
            let out = directory.appendingPathComponent("results.jsonl").path
            let arguments = ["run", path, "--dataset", rows, "--map", "body=text", "-o", out, "--concurrency", "8"]
            let (process, o, e) = try CLI.start(arguments, in: directory)
            let deadline = ContinuousClock.now + .seconds(30)
            while await server.requests.count < 150 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            kill(process.processIdentifier, SIGKILL)
            _ = await CLI.finish(process, o, e)
            #expect(!FileManager.default.fileExists(atPath: out), "a killed run must not leave a complete-looking results file")
            let store = try SQLiteResultStore(path: directory.appendingPathComponent(".skein/skein.sqlite").path)
            let stored = try await store.cacheStats().entries
            #expect(stored > 0 && stored < 400)
            let firstRun = await server.requests.count
            await server.resetRecords()

            let resumed = try await CLI.run(arguments, in: directory)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            let second = await server.requests.count
            // Only what was not stored is asked again; a reply in flight at the kill may be paid twice.
            #expect(second == 400 - stored, "first run \(firstRun), stored \(stored), resumed \(second)")
            let lines = try Self.lines(out)
            #expect(lines.count == 200)
            #expect(lines.allSatisfy { $0["status"] == "succeeded" })
            #expect(lines.map { $0["row"]?.intValue } == (0..<200).map { $0 })
            #expect(try await store.integrityCheck() == "ok")
        }
    }

    @Test func threeShardsCoverEveryRowOnceAndMergeBackInOrder() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let rows = try Self.writeRows(31, in: directory)
            var shardFiles: [String] = []
            for shard in 0..<3 {
                let out = directory.appendingPathComponent("shard-\(shard).jsonl").path
                // Each shard with a store of its own, as on separate machines.
                let result = try await CLI.run(
                    ["run", path, "--dataset", rows, "--map", "body=text", "--shard", "\(shard)/3", "-o", out,
                     "--store", directory.appendingPathComponent("store-\(shard).sqlite").path], in: directory)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(try Self.lines(out).allSatisfy { ($0["row"]?.intValue ?? -1) % 3 == shard })
                shardFiles.append(out)
            }
            #expect(await server.requests.count == 62)
            let merged = directory.appendingPathComponent("all.jsonl").path
            let merge = try await CLI.run(["merge"] + shardFiles.reversed() + ["-o", merged], in: directory)
            #expect(merge.status == 0, "\(merge.stderr)")
            #expect(try Self.lines(merged).map { $0["row"]?.intValue } == (0..<31).map { $0 })
            // Merging a shard twice is an error, not a silent duplicate.
            let twice = try await CLI.run(["merge", shardFiles[0], shardFiles[0]], in: directory)
            #expect(twice.status == 1)
            #expect(twice.stderr.contains("row 0 is in more than one file (\(shardFiles[0]) and \(shardFiles[0]))"))
            #expect(!merge.stderr.contains("warning"), "\(merge.stderr)")
            // A shard left out: merged, but the rows it held are said to be missing.
            let gap = try await CLI.run(["merge", shardFiles[0], shardFiles[2]], in: directory)
            #expect(gap.status == 0)
            #expect(gap.stderr.contains("warning: 10 rows between the first and the last are in no file (1, 4, 7, 10, 13, …)"), "\(gap.stderr)")
            let badShard = try await CLI.run(["run", path, "--dataset", rows, "--shard", "3/3"], in: directory)
            #expect(badShard.status == 2)
        }
    }

    @Test func csvRowsWithAHeaderAndTypedInputs() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let csv = directory.appendingPathComponent("rows.csv").path
            try "body,n\nfirst,1\n\"second, with a comma\nand a newline\",2\n".write(toFile: csv, atomically: true, encoding: .utf8)
            let result = try await CLI.run(["run", path, "--dataset", csv, "--map", "body=text"], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
            #expect(lines.count == 2)
            #expect(lines[1]["outputs"]?["final"] == "echo: translate echo: summarize second, with a comma\nand a newline #2")
            #expect(lines[1]["outputs"]?["n"] == 2)
            let missing = try await CLI.run(["run", path, "--dataset", csv], in: directory)
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("no column for the required input 'text'"), "\(missing.stderr)")
            #expect(missing.stderr.contains("--map COLUMN=INPUT"))
            let typo = try await CLI.run(["run", path, "--dataset", csv, "--map", "body=txt"], in: directory)
            #expect(typo.status == 2)
            #expect(typo.stderr.contains("did you mean 'text'?"), "\(typo.stderr)")
            let noColumn = try await CLI.run(["run", path, "--dataset", csv, "--map", "bdy=text"], in: directory)
            #expect(noColumn.status == 2)
            #expect(noColumn.stderr.contains("has no column 'bdy'; the columns are body, n; did you mean 'body'?"), "\(noColumn.stderr)")
            try "body,n,body\nfirst,1,again\n".write(toFile: csv, atomically: true, encoding: .utf8)
            let twice = try await CLI.run(["run", path, "--dataset", csv, "--map", "body=text"], in: directory)
            #expect(twice.status == 1)
            #expect(twice.stderr.contains("names the column 'body' twice"), "\(twice.stderr)")
        }
    }
}

/// `skein run --dataset ... --batch` against SkeinTesting's Files and Batches endpoints.
@Suite(.serialized) struct BatchCLITests {
    @Test func aBatchRunGivesTheResultsOfALiveRun() async throws {
        var configuration = SkeinTestServer.Configuration()
        configuration.batches.processingDelay = .milliseconds(200)
        try await SkeinTestServer.withRunning(configuration) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(DatasetCLITests.pipeline, server: server, in: directory)
            let rows = try DatasetCLITests.writeRows(40, in: directory)
            let live = directory.appendingPathComponent("live.jsonl").path
            let batched = directory.appendingPathComponent("batched.jsonl").path
            let liveRun = try await CLI.run(
                ["run", path, "--dataset", rows, "--map", "body=text", "-o", live, "--store", directory.appendingPathComponent("live.sqlite").path],
                in: directory)
            #expect(liveRun.status == 0, "\(liveRun.stderr)")
            await server.resetRecords()
            let batchRun = try await CLI.run(
                ["run", path, "--dataset", rows, "--map", "body=text", "-o", batched, "--batch", "--batch-poll", "0.05", "--batch-wave-ms", "100"],
                in: directory)
            #expect(batchRun.status == 0, "\(batchRun.stderr)")
            #expect(try String(contentsOfFile: batched, encoding: .utf8) == String(contentsOfFile: live, encoding: .utf8))
            // Two waves (step a for every row, then step b), one batch each, no live call.
            #expect(await server.batchCreations == 2)
            #expect(await server.fileUploads == 2)
            #expect(await server.batchLinesAnswered == 80)
            #expect(await server.requests.filter { $0.handling != .files && $0.handling != .batches }.isEmpty)
            #expect(batchRun.stderr.contains("created at test: 40 requests for test-model"), "\(batchRun.stderr)")
            // The replies are stored: the same command again asks nothing.
            await server.resetRecords()
            let again = try await CLI.run(
                ["run", path, "--dataset", rows, "--map", "body=text", "-o", batched, "--batch", "--batch-poll", "0.05", "--batch-wave-ms", "100"],
                in: directory)
            #expect(again.status == 0)
            #expect(await server.batchCreations == 0)
            #expect(await server.requests.isEmpty)
        }
    }

    @Test func aRunKilledWhilePollingResumesWithoutASecondBatch() async throws {
        var configuration = SkeinTestServer.Configuration()
        configuration.batches.processingDelay = .seconds(2)
        try await SkeinTestServer.withRunning(configuration) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(DatasetCLITests.pipeline, server: server, in: directory)
            let rows = try DatasetCLITests.writeRows(25, in: directory)
            let out = directory.appendingPathComponent("results.jsonl").path
            let arguments = ["run", path, "--dataset", rows, "--map", "body=text", "-o", out, "--batch", "--batch-poll", "0.05", "--batch-wave-ms", "100"]
            let (process, o, e) = try CLI.start(arguments, in: directory)
            let deadline = ContinuousClock.now + .seconds(30)
            // Kill it once the first batch exists and is being polled.
            while await server.batchCreations < 1 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(300))
            kill(process.processIdentifier, SIGKILL)
            _ = await CLI.finish(process, o, e)
            #expect(await server.batchCreations == 1)

            let resumed = try await CLI.run(arguments, in: directory)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(resumed.stderr.contains("waiting again for 25 requests sent before the restart"), "\(resumed.stderr)")
            // The first wave's batch was awaited again, not created again: one more batch, for step b.
            #expect(await server.batchCreations == 2)
            let lines = try DatasetCLITests.lines(out)
            #expect(lines.count == 25)
            #expect(lines.allSatisfy { $0["status"] == "succeeded" })
            #expect(lines[7]["outputs"]?["final"] == "echo: translate echo: summarize row 7 #7")
        }
    }
}
