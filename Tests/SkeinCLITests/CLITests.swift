import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// Serialized: children spawned at the same time inherit each other's pipe ends
/// (Foundation's Process does not close them on Linux), so one long-lived child would
/// hold back every other test's end-of-output.
@Suite(.serialized) struct CLITests {
    @Test func validateAcceptsTheExamplesAndRejectsBrokenFiles() async throws {
        let ok = try await CLI.run(["validate", "pipelines/summarize-translate.yaml"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stderr == "pipelines/summarize-translate.yaml: ok\n")

        let bad = try await CLI.run(["validate", "Tests/SkeinKitTests/Fixtures/malformed/unknown-key.yaml"])
        #expect(bad.status == 1)
        #expect(bad.stderr == """
            Tests/SkeinKitTests/Fixtures/malformed/unknown-key.yaml:5:5: error: unknown key 'temprature' in step 'summarize'; did you mean 'temperature'?
                temprature: 0.5
                ^
            Tests/SkeinKitTests/Fixtures/malformed/unknown-key.yaml: 1 error

            """)
    }

    @Test func validateJSONIsMachineReadable() async throws {
        let result = try await CLI.run([
            "validate", "--format", "json", "Tests/SkeinKitTests/Fixtures/malformed/multiple-errors.yaml",
            "pipelines/summarize-translate.yaml",
        ])
        #expect(result.status == 1)
        guard case .array(let items) = try JSONValue(parsing: result.stdout) else { Issue.record("not a JSON array"); return }
        #expect(items.count == 5)
        for item in items {
            for field in ["file", "line", "column", "severity", "message"] { #expect(item[field] != nil, "missing \(field)") }
        }
        #expect(items.first?["line"] == 3)
        #expect(items.first?["severity"] == "error")
    }

    @Test func billionLaughsIsRefusedWithinSeconds() async throws {
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await CLI.run(["validate", "Tests/SkeinKitTests/Fixtures/malformed/billion-laughs.yaml"])
        // A whole process, on two cores shared with the rest of the suite (1.04 s seen); expanding
        // the aliases would take minutes and gigabytes.
        #expect(clock.now - started < .seconds(3))
        #expect(result.status == 1)
        #expect(result.stderr.contains("refusing to expand"))
    }

    @Test func schemaCommandPrintsTheSchemaFile() async throws {
        let result = try await CLI.run(["schema"])
        #expect(result.status == 0)
        let file = try String(contentsOf: CLI.repositoryRoot.appendingPathComponent("schema/pipeline.schema.json"), encoding: .utf8)
        #expect(result.stdout == file)
    }

    @Test func graphPrintsMermaidByDefault() async throws {
        let result = try await CLI.run(["graph", "pipelines/summarize-translate.yaml"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("flowchart TD\n"))
        #expect(result.stdout.contains("step_summarize --> step_translate"))
    }

    @Test func runOutputJSONPipesThroughJQ() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline("""
                inputs:
                  topic: {type: string}
                  languages: {type: array, default: [French, German]}
                steps:
                  write:
                    prompt: "Write about {{ inputs.topic }}"
                  translate:
                    for_each: "{{ inputs.languages }}"
                    as: language
                    prompt: "{{ language }}: {{ steps.write.output }}"
                outputs:
                  text: "{{ steps.write.output }}"
                  translations: "{{ steps.translate.output }}"
                """, server: server, in: directory)
            let skein = CLI.executable.path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "'\(skein)' run '\(path)' -i topic=rivers --output json | jq -c '.outputs'"]
            process.environment = ["NO_COLOR": "1", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = Pipe()
            try process.run()
            let data = await ChildProcess.offThePool { out.fileHandleForReading.readDataToEndOfFile() }
            await ChildProcess.offThePool { process.waitUntilExit() }
            #expect(process.terminationStatus == 0)
            #expect(String(decoding: data, as: UTF8.self) == """
                {"text":"echo: Write about rivers","translations":["echo: French: echo: Write about rivers","echo: German: echo: Write about rivers"]}

                """)
        }
    }

    /// One step and one output: for the tests about where output goes.
    static let hello = """
        steps:
          hello:
            prompt: hi there
        outputs:
          greeting: "{{ steps.hello.output }}"
        """

    @Test func outputFilesFollowSymlinksAndDevicesAreWrittenInPlace() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.hello, server: server, in: directory)
            let files = FileManager.default
            let link = directory.appendingPathComponent("link.txt").path
            let target = directory.appendingPathComponent("target.txt").path
            try files.createSymbolicLink(atPath: link, withDestinationPath: target)
            // A link to a device: renaming over the resolved path would replace /dev/null itself.
            let nullLink = directory.appendingPathComponent("null").path
            try files.createSymbolicLink(atPath: nullLink, withDestinationPath: "/dev/null")
            let result = try await CLI.run(["run", path, "-o", link, "--trace", nullLink])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try files.destinationOfSymbolicLink(atPath: link) == target)
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "greeting:\n  echo: hi there\n")
            #expect(try files.destinationOfSymbolicLink(atPath: nullLink) == "/dev/null")
            #expect(try files.attributesOfItem(atPath: "/dev/null")[.type] as? FileAttributeType == .typeCharacterSpecial)
            #expect(!files.fileExists(atPath: "/dev/null.partial"))

            // Commands that only read the store do not create one at a mistyped path.
            let listed = try await CLI.run(["runs", "list", "--store", "typo/skein.sqlite"], in: directory)
            #expect(listed.status == 0 && listed.stderr.contains("no runs in 'typo/skein.sqlite' yet"), "\(listed.stderr)")
            let stats = try await CLI.run(["cache", "stats", "--store", "typo/skein.sqlite"], in: directory)
            #expect(stats.status == 1 && stats.stderr.contains("no store at 'typo/skein.sqlite'"), "\(stats.stderr)")
            #expect(!files.fileExists(atPath: directory.appendingPathComponent("typo").path))

            // Every command's stdout reports a failed write (here a full disk).
            for arguments in [["schema"], ["graph", path], ["validate", "--format", "json", path]] {
                let full = try await CLI.run(
                    ["-c", "exec \"$0\" \"$@\" > /dev/full", CLI.executable.path] + arguments, program: URL(fileURLWithPath: "/bin/sh"))
                #expect(full.status == 1 && full.stderr.contains("cannot write to standard output"), "\(arguments): \(full.stderr)")
            }
        }
    }

    @Test func inputFilesMayBeDevicesAndProcessSubstitutions() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline("""
                inputs:
                  text: {type: string}
                steps:
                  echo:
                    prompt: "[{{ inputs.text }}]"
                outputs:
                  said: "{{ steps.echo.output }}"
                """, server: server, in: directory)
            let empty = try await CLI.run(["run", path, "-i", "text=@/dev/null"], in: directory)
            #expect(empty.status == 0 && empty.stdout == "said:\n  echo: []\n", "\(empty.stderr)")
            // bash's `<(…)` hands skein a /dev/fd/N pipe.
            let substituted = try await CLI.run(
                ["-c", "exec \"$0\" run \"$1\" -i text=@<(printf piped)", CLI.executable.path, path], in: directory,
                program: URL(fileURLWithPath: "/bin/bash"))
            #expect(substituted.status == 0 && substituted.stdout == "said:\n  echo: [piped]\n", "\(substituted.stderr)")
            let missing = try await CLI.run(["run", path, "-i", "text=@nope.txt"], in: directory)
            #expect(missing.status == 1 && missing.stderr.contains("input 'text': no such file 'nope.txt'"), "\(missing.stderr)")
            let folder = try await CLI.run(["run", path, "--inputs", "."], in: directory)
            #expect(folder.status == 1 && folder.stderr.contains("inputs file: '.' is a directory"), "\(folder.stderr)")
        }
    }

    @Test func textOutputAndSummaryLine() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.hello, server: server, in: directory)
            let result = try await CLI.run(["run", path])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "greeting:\n  echo: hi there\n")
            #expect(result.stderr.contains("1 step run, 1 request, 0 retries, tokens 2 in / 3 out (0 cached)"))
        }
    }

    /// llama-cpp-python's server sends no usage in a stream, even when asked: the output is
    /// counted from the streamed chunks and the input said to be unknown, never "0 in / 0 out",
    /// the same in the summary, `--output json`, the stored run and a re-run from the store.
    @Test func aStreamWithoutUsageIsCountedNotReportedAsZero() async throws {
        try await SkeinTestServer.withRunning(.init(sendsStreamUsage: false)) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.hello, server: server, in: directory)
            let result = try await CLI.run(["run", path, "--stream", "hello", "--output", "json"], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(
                result.stderr.contains(
                    "tokens unknown in / 3 out (output counted from the stream, the provider reported no usage; 0 cached)"),
                "\(result.stderr)")
            let counted: JSONValue = ["prompt_tokens": nil, "completion_tokens": 3, "total_tokens": nil, "counted_from_stream": true]
            let json = try JSONValue(parsing: result.stdout)
            #expect(json["steps"]?["hello"]?["usage"] == counted)
            let shown = try await CLI.run(["runs", "show", "last", "--format", "json"], in: directory)
            #expect(try JSONValue(parsing: shown.stdout)["steps"]?.arrayValue?.first?["usage"] == counted, "\(shown.stdout)")
            // From the store: the same counts, still marked.
            let again = try await CLI.run(["run", path, "--output", "json"], in: directory)
            #expect(again.stderr.contains("tokens unknown in / 3 out (output counted from the stream"), "\(again.stderr)")
            #expect(try JSONValue(parsing: again.stdout)["steps"]?["hello"]?["usage"] == counted)
        }
    }

    @Test func missingInputFailsBeforeAnyRequest() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline("""
                inputs:
                  article: {type: string}
                  count: {type: integer, default: 3}
                steps:
                  s:
                    prompt: "{{ inputs.article }} {{ inputs.count }}"
                """, server: server, in: directory)
            let missing = try await CLI.run(["run", path])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("p.yaml:10:3: error: missing input 'article'; pass it with -i article=VALUE, -i article=@FILE or --inputs FILE"))
            let wrongType = try await CLI.run(["run", path, "-i", "article=x", "-i", "count=many"])
            #expect(wrongType.status == 1)
            #expect(wrongType.stderr.contains("error: input 'count' must be an integer written as JSON (for example 3), got 'many'"))
            let fromStdin = try await CLI.run(["run", path, "-i", "article=@-", "-i", "count=5"], stdin: "from stdin")
            #expect(fromStdin.status == 0, "\(fromStdin.stderr)")
            #expect(fromStdin.stdout.contains("echo: from stdin 5"))
            #expect(await server.requests.count == 1)
        }
    }

    @Test func aFailedStepIsNamedWithItsLocationAndExitsOne() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("missing model", match: .init(lastUserMessageContains: "broken"),
                                           action: .status(404, message: "model not found", code: "MODEL_NOT_FOUND")))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline("""
                steps:
                  broken:
                    prompt: broken
                """, server: server, in: directory)
            let result = try await CLI.run(["run", path, "--quiet"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("p.yaml:10:3: error: step 'broken' failed: provider 'test' returned 404 MODEL_NOT_FOUND"))
        }
    }

    /// Runs `pipeline` in a directory of its own against a server that holds any prompt
    /// containing "slow" for 30 s, polls `isReady` until it holds (or 30 s pass), then
    /// sends SIGINT and returns what the run printed.
    private func interruptedRun(
        _ pipeline: String, when isReady: @escaping (SkeinTestServer, URL) async throws -> Bool
    ) async throws -> CLI.Result {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("slow", match: .init(lastUserMessageContains: "slow"), delay: .seconds(30),
                                           action: .text("late")))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(pipeline, server: server, in: directory)
            let (process, out, err) = try CLI.start(["run", path], in: directory)
            let deadline = ContinuousClock.now + .seconds(30)
            while try await !isReady(server, directory) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            kill(process.processIdentifier, SIGINT)
            return await CLI.finish(process, out, err)
        }
    }

    @Test func sigintCancelsAndExits130KeepingWhatFinished() async throws {
        let result = try await interruptedRun("""
            steps:
              quick:
                prompt: quick
              slow:
                prompt: "slow {{ steps.quick.output }}"
            """) { server, _ in await server.requests.count >= 2 }
        #expect(result.status == 130)
        #expect(result.stderr.contains("interrupted: finished quick; not run: slow"))
    }

    /// Interrupted midway, a for_each step has finished (and stored) some items: the
    /// summary counts their requests and says so, rather than "finished nothing".
    @Test func anInterruptedForEachSaysWhichItemsItKept() async throws {
        let result = try await interruptedRun("""
            steps:
              fan:
                for_each: "{{ ['a', 'b', 'slow'] }}"
                as: item
                prompt: "item {{ item }}"
            """) { server, directory in
            // Both quick items stored, as another process sees the store.
            let stats = try await CLI.run(["cache", "stats"], in: directory)
            let seen = await server.requests.count
            return stats.stdout.contains("entries   2 stored replies") && seen >= 3
        }
        #expect(result.status == 130)
        #expect(result.stderr.contains("interrupted: finished nothing; partly done: fan (2 of 3 items)"), "\(result.stderr)")
        #expect(result.stderr.contains("run the same command again to finish"))
        #expect(result.stderr.contains("0 steps run, 2 requests"), "\(result.stderr)")
    }

    @Test func traceFileIsChromeTraceJSON() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline("""
                steps:
                  fan:
                    for_each: "{{ [1, 2, 3] }}"
                    as: n
                    prompt: "item {{ n }}"
                """, server: server, in: directory)
            let trace = directory.appendingPathComponent("trace.json").path
            let result = try await CLI.run(["run", path, "--trace", trace, "--quiet"])
            #expect(result.status == 0, "\(result.stderr)")
            let json = try JSONValue(parsing: try String(contentsOfFile: trace, encoding: .utf8))
            let events = json["traceEvents"]?.arrayValue ?? []
            let requests = events.filter { $0["cat"] == "request" }
            #expect(requests.count == 3)
            #expect(requests.allSatisfy { $0["ph"] == "X" && $0["dur"]?.doubleValue != nil })
            #expect(events.contains { $0["cat"] == "step" && $0["name"] == "fan" })
        }
    }

    /// The key never reaches stdout, stderr or the dry run, whatever happens.
    @Test func apiKeysNeverAppearInOutput() async throws {
        let secret = "sk-skein-test-secret-4242"
        try await SkeinTestServer.withRunning(.init(requiredAPIKey: "the-right-key")) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline("""
                steps:
                  s:
                    prompt: hello
                """, server: server, in: directory, apiKeyEnvironment: "TEST_KEY")
            let environment = ["TEST_KEY": secret]
            let failed = try await CLI.run(["run", path], environment: environment)
            #expect(failed.status == 1)
            #expect(failed.stderr.contains("401"))
            let dryRun = try await CLI.run(["run", path, "--dry-run", "--output", "json"], environment: environment)
            #expect(dryRun.status == 0)
            for output in [failed.stdout, failed.stderr, dryRun.stdout, dryRun.stderr] {
                #expect(!output.contains(secret))
                #expect(!output.contains("4242"))
            }
            let missing = try await CLI.run(["run", path], environment: [:])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("TEST_KEY is not set"))
        }
    }

    @Test func dryRunMakesNoRequests() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline("""
                steps:
                  a:
                    prompt: first
                  b:
                    output: {schema: {type: object, properties: {x: {type: string}}}}
                    prompt: "second {{ steps.a.output }}"
                """, server: server, in: directory)
            let result = try await CLI.run(["run", path, "--dry-run", "--output", "json"])
            #expect(result.status == 0, "\(result.stderr)")
            let requests = try JSONValue(parsing: result.stdout).arrayValue ?? []
            #expect(requests.map { $0["step"] } == ["a", "b"])
            #expect(requests[1]["body"]?["messages"]?.arrayValue?.last?["content"] == "second ⟨steps.a.output⟩")
            #expect(requests[1]["body"]?["response_format"]?["type"] == "json_schema")
            #expect(await server.requests.isEmpty)
        }
    }
}

@Suite struct CLIUsageTests {
    @Test func badUsageExitsTwo() async throws {
        let unknownFlag = try await CLI.run(["run", "pipelines/summarize-translate.yaml", "--no-such-flag"])
        #expect(unknownFlag.status == 2)
        #expect(unknownFlag.stderr.contains("Unknown option '--no-such-flag'"))
        let badInput = try await CLI.run(["run", "pipelines/summarize-translate.yaml", "-i", "article"])
        #expect(badInput.status == 2)
        #expect(badInput.stderr.contains("-i expects name=value, name=@file or name=@-; got 'article'"))
    }

    @Test func aStoppedLocalServerIsReportedWithWhatToDo() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("p.yaml").path
        // Port 9 (discard) has no listener here: the connection is refused.
        try """
            version: 1
            providers:
              local: {base_url: "http://127.0.0.1:9/v1"}
            steps:
              s: {prompt: hi, retries: 0}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["run", path, "--provider", "local", "--quiet"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("Start it with scripts/local-model start."))
    }
}
