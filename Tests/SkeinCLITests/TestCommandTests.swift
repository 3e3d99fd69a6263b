import Foundation
import SkeinKit
import SkeinTesting
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `skein test` through the real binary against the test server: known verdicts give the
/// table, JSON, JUnit (parsed back) and exit code; --vary doubles the test cases; a judge's
/// reason reaches the table; --against a git revision shows a regression; an unchanged
/// second run makes no request; bad usage exits 2.
@Suite(.serialized) struct TestCommandTests {
    static let pipeline = """
        inputs:
          topic: {type: string}
        steps:
          answer:
            prompt: "Write about {{ inputs.topic }}"
        outputs:
          text: "{{ steps.answer.output }}"
        """

    static let cases = """
        - name: alpha case
          inputs: {topic: alpha}
          expect:
            text: [{contains: alpha}, {max_length: 100}]
        - name: beta case
          inputs: {topic: beta}
          expect:
            text:
              - contains: gamma
            steps.answer: {min_length: 3}
        """

    static func script(_ server: SkeinTestServer) async {
        await server.addRule(ReplyRule("alpha", match: .init(lastUserMessageContains: "about alpha"), action: .text("all about alpha")))
        await server.addRule(ReplyRule("beta", match: .init(lastUserMessageContains: "about beta"), times: 1, action: .text("beta, briefly")))
    }

    static func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The testcases of a JUnit file: (name, classname, failure message or nil).
    static func junitCases(_ path: String) throws -> [(String, String, String?)] {
        let document = try XMLDocument(contentsOf: URL(fileURLWithPath: path))
        return try document.nodes(forXPath: "//testcase").compactMap { node in
            guard let element = node as? XMLElement else { return nil }
            let failure = element.elements(forName: "failure").first?.attribute(forName: "message")?.stringValue
            return (element.attribute(forName: "name")?.stringValue ?? "", element.attribute(forName: "classname")?.stringValue ?? "", failure)
        }
    }

    @Test func knownVerdictsGiveTheTableJSONJUnitAndExitCode() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await Self.script(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let cases = try Self.write(Self.cases, "cases.yaml", in: directory)
            let junit = directory.appendingPathComponent("junit.xml").path

            let table = try await CLI.run(["test", path, "--cases", cases, "--junit", junit], in: directory)
            #expect(table.status == 1, "\(table.stderr)")
            #expect(table.stdout.contains("alpha case"), "\(table.stdout)")
            #expect(table.stdout.contains("✓ 2/2"))
            #expect(table.stdout.contains("✗ 1/2"))
            #expect(table.stdout.contains("pass rate         1/2 50%") || table.stdout.contains("1/2 50%"), "\(table.stdout)")
            #expect(table.stdout.contains("✗ text: contains 'gamma' — no 'gamma' in 'beta, briefly'"), "\(table.stdout)")
            #expect(table.stdout.contains("1 of 2 passed, 1 failed"))
            let parsed = try Self.junitCases(junit)
            #expect(parsed.count == 2)
            #expect(parsed.map(\.0) == ["alpha case", "beta case"])
            #expect(parsed.allSatisfy { $0.1 == "current" })
            #expect(parsed[0].2 == nil)
            #expect(parsed[1].2?.contains("contains 'gamma'") == true)

            // The same test again: every reply from the store, the same verdicts.
            let requestsBefore = await server.requests.count
            let json = try await CLI.run(["test", path, "--cases", cases, "--output", "json"], in: directory)
            #expect(json.status == 1)
            #expect(await server.requests.count == requestsBefore, "an unchanged test makes no request")
            let object = try JSONValue(parsing: json.stdout)
            #expect(object["passed"] == false)
            let beta = try #require(object["cases"]?.arrayValue?[1]["results"]?["current"])
            #expect(beta["passed"] == false)
            let verdicts = try #require(beta["verdicts"]?.arrayValue)
            #expect(verdicts.map { $0["passed"] } == [false, true])
            #expect(verdicts[0]["message"] == "no 'gamma' in 'beta, briefly'")
            #expect(object["summary"]?["current"]?["passed"] == 1)
            #expect(object["summary"]?["current"]?["cache_hits"] == 2)

            // The model improves: beta now mentions gamma. `runs diff` of the two test runs
            // says which verdict changed.
            await server.addRule(ReplyRule("beta-fixed", match: .init(lastUserMessageContains: "about beta"), action: .text("beta and gamma")))
            let fixed = try await CLI.run(["test", path, "--cases", cases, "--no-cache", "--quiet"], in: directory)
            #expect(fixed.status == 0, "\(fixed.stdout)")
            let diff = try await CLI.run(["runs", "diff"], in: directory)
            #expect(diff.status == 0, "\(diff.stderr)")
            #expect(diff.stdout.contains("fixed  beta case [current]   fail → pass") || diff.stdout.range(of: #"fixed\s+beta case \[current\]\s+fail → pass"#, options: .regularExpression) != nil,
                    "\(diff.stdout)")
            #expect(diff.stdout.contains("1 verdict changed"))
            let list = try await CLI.run(["runs", "list"], in: directory)
            #expect(list.stdout.contains("(test: 2 cases × 1 variant)"), "\(list.stdout)")
        }
    }

    @Test func varyDoublesTheTestCases() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await Self.script(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let cases = try Self.write(Self.cases, "cases.yaml", in: directory)
            let junit = directory.appendingPathComponent("junit.xml").path
            let result = try await CLI.run(
                ["test", path, "--cases", cases, "--vary", "model=small,large", "--junit", junit, "--quiet"], in: directory)
            #expect(result.status == 1)
            let parsed = try Self.junitCases(junit)
            #expect(parsed.count == 4)
            #expect(Set(parsed.map(\.1)) == ["model=small", "model=large"])
            #expect(Set(await server.requests.compactMap(\.model)) == ["small", "large"])
            #expect(result.stdout.contains("model=small"))
        }
    }

    @Test func aJudgeGradesTheOutputAndItsReasonIsShown() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("judge", match: .init(anyMessageContains: "You grade an output"),
                                           action: .json(["pass": false, "score": 0.2, "reason": "It never names the carbon claim."])))
            await Self.script(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let cases = try Self.write("""
                - name: judged
                  inputs: {topic: alpha}
                  expect:
                    text:
                      - judge: {rubric: "States the carbon claim", model: judge-model}
                """, "cases.yaml", in: directory)
            let result = try await CLI.run(["test", path, "--cases", cases], in: directory)
            #expect(result.status == 1)
            #expect(result.stdout.contains("judge 'States the carbon claim' — It never names the carbon claim."), "\(result.stdout)")
            let judgeRequest = await server.requests.first { $0.model == "judge-model" }
            let body = try #require(judgeRequest?.body.map { String(decoding: $0, as: UTF8.self) })
            #expect(body.contains("States the carbon claim"))
            #expect(body.contains("all about alpha"), "the judge sees the output")
            // Stored like any request: the second run asks the judge nothing.
            let count = await server.requests.count
            let again = try await CLI.run(["test", path, "--cases", cases], in: directory)
            #expect(again.status == 1)
            #expect(await server.requests.count == count)
        }
    }

    /// A temporary git repository with two commits of a prompt file: the older prompt makes
    /// the case pass, the newer one fails it, and --against HEAD~1 calls it a regression.
    @Test func againstARevisionShowsTheRegression() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("good", match: .init(lastUserMessageContains: "Say alpha"), action: .text("alpha it is")))
            await server.addRule(ReplyRule("bad", match: .init(lastUserMessageContains: "Say beta"), action: .text("beta it is")))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            func git(_ arguments: String...) async throws {
                let result = try await CLI.run(arguments, in: directory, program: URL(fileURLWithPath: "/usr/bin/git"))
                try #require(result.status == 0, "git \(arguments): \(result.stderr)")
            }
            try await git("init", "-q")
            try await git("config", "user.email", "test@example.com")
            try await git("config", "user.name", "Test")
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("prompts"), withIntermediateDirectories: true)
            let path = try CLI.writePipeline("""
                steps:
                  answer:
                    prompt: {file: prompts/answer.md}
                outputs:
                  text: "{{ steps.answer.output }}"
                tests:
                  - name: says alpha
                    expect:
                      text: {contains: alpha}
                """, server: server, in: directory)
            _ = try Self.write("Say alpha, please.", "prompts/answer.md", in: directory)
            try await git("add", "-A")
            try await git("commit", "-qm", "first")
            _ = try Self.write("Say beta, please.", "prompts/answer.md", in: directory)
            try await git("commit", "-qam", "second")

            let result = try await CLI.run(["test", path, "--against", "HEAD~1", "--output", "json"], in: directory)
            #expect(result.status == 1, "\(result.stderr)")
            let object = try JSONValue(parsing: result.stdout)
            #expect(object["variants"] == ["current", "HEAD~1"])
            #expect(object["regressions"] == [["case": "says alpha", "variant": "current", "against": "HEAD~1"]])
            let text = try await CLI.run(["test", path, "--against", "HEAD~1"], in: directory)
            #expect(text.stdout.contains("regressions (passed at HEAD~1, fail now)"), "\(text.stdout)")

            let unknown = try await CLI.run(["test", path, "--against", "no-such-branch"], in: directory)
            #expect(unknown.status == 2)
            #expect(unknown.stderr.contains("no such revision"), "\(unknown.stderr)")
        }
    }

    @Test func badUsageExitsTwo() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let cases = try Self.write(Self.cases, "cases.yaml", in: directory)
            let vary = try await CLI.run(["test", path, "--cases", cases, "--vary", "temprature=0,1"], in: directory)
            #expect(vary.status == 2)
            #expect(vary.stderr.contains("did you mean 'temperature'?"), "\(vary.stderr)")
            let noCases = try await CLI.run(["test", path], in: directory)
            #expect(noCases.status == 2)
            #expect(noCases.stderr.contains("no test cases"))
            let outside = try await CLI.run(["test", path, "--cases", cases, "--against", "HEAD~1"], in: directory)
            #expect(outside.status == 2)
            #expect(outside.stderr.contains("is not in a git repository"), "\(outside.stderr)")
            #expect(await server.requests.isEmpty)
        }
    }

    @Test func badCasesAreLocatedErrors() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let cases = try Self.write("""
                - name: typos
                  inputs: {topik: alpha}
                  expect:
                    txt: [{contians: alpha}]
                    text: [{regex: "(unclosed"}, {expr: "outptu | length > 3"}, {judge: {rubric: x, provider: nope}}]
                """, "cases.yaml", in: directory)
            let result = try await CLI.run(["test", path, "--cases", cases], in: directory)
            #expect(result.status == 1)
            for expected in [
                "cases.yaml:4:12: error: unknown assertion 'contians'; did you mean 'contains'?",
                "cases.yaml:5:20: error: 'regex' /(unclosed/ does not compile",
            ] {
                #expect(result.stderr.contains(expected), "no '\(expected)' in\n\(result.stderr)")
            }
            #expect(await server.requests.isEmpty)
            // With the syntax fixed, the references are checked against the pipeline.
            let second = try Self.write("""
                - name: typos
                  inputs: {topik: alpha}
                  expect:
                    txt: [{contains: alpha}]
                    text: [{expr: "outptu | length > 3"}, {judge: {rubric: x, provider: nope}}]
                """, "cases2.yaml", in: directory)
            let checked = try await CLI.run(["test", path, "--cases", second], in: directory)
            #expect(checked.status == 1)
            for expected in [
                "test case 'typos' sets input 'topik', which the pipeline does not declare; did you mean 'topic'?",
                "test case 'typos' does not set the required input 'topic'",
                "expects 'txt', which is no output or step; did you mean 'text'?",
                "an 'expr' reads 'outptu', which is not defined",
                "the judge's provider 'nope' is not defined",
            ] {
                #expect(checked.stderr.contains(expected), "no '\(expected)' in\n\(checked.stderr)")
            }
        }
    }

    @Test func aStepExpectationThatFailsIsAWarningInRun() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await Self.script(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline("""
                inputs:
                  topic: {type: string}
                steps:
                  answer:
                    prompt: "Write about {{ inputs.topic }}"
                    expect:
                      - max_length: 5
                      - contains: alpha
                """, server: server, in: directory)
            let result = try await CLI.run(["run", path, "-i", "topic=alpha", "--output", "json"], in: directory)
            #expect(result.status == 0, "a failed expectation does not fail the run")
            #expect(result.stderr.contains("warning: steps.answer: expected max_length 5, but 15 characters, more than 5"), "\(result.stderr)")
            let object = try JSONValue(parsing: result.stdout)
            #expect(object["expectations"]?.arrayValue?.map { $0["passed"] } == [false, true])
        }
    }
}
