import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// Tools that run, through the real `skein` binary against the test server: the loop over
/// the wire (Chat Completions streamed, the Messages API), `--stream`, `--dry-run`,
/// `runs show --step`, and kills: a tool dies with Skein, and a resume after SIGKILLs runs
/// no finished tool again.
@Suite(.serialized) struct ToolCLITests {
    /// A script, executable, in `directory/tools`.
    static func writeTool(_ name: String, _ body: String, in directory: URL) throws {
        let tools = directory.appendingPathComponent("tools")
        try FileManager.default.createDirectory(at: tools, withIntermediateDirectories: true)
        let url = tools.appendingPathComponent(name)
        try ("#!/bin/sh\n" + body).write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
    }

    static func lines(_ name: String, in directory: URL) -> [String] {
        ((try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? "")
            .split(separator: "\n").map(String.init)
    }

    static let weatherStep = """
        steps:
          ask:
            prompt: "What should I wear in Oslo?"
            tools:
              - name: get_weather
                parameters: {type: object, properties: {city: {type: string}}, required: [city]}
                run: [tools/weather.sh]
        outputs:
          answer: "{{ steps.ask.output }}"
          forecast: "{{ steps.ask.tool_calls[0].result }}"
          turns: "{{ steps.ask.turns }}"
        """

    /// The model calls get_weather until it has seen the forecast, then answers.
    static func scriptWeather(_ server: SkeinTestServer) async {
        await server.addRule(ReplyRule("answer", match: .init(anyMessageContains: "forecast:"), action: .text("Take an umbrella.")))
        await server.addRule(ReplyRule("call", action: .reply(Reply(
            toolCalls: [.init(id: "call_w1", name: "get_weather", arguments: #"{"city":"Oslo"}"#)], finishReason: "tool_calls"))))
    }

    static let weatherTool = """
        read input
        echo "$input" >> calls.log
        echo "forecast: rain, 4 C"
        """

    @Test(arguments: ["openai-streamed", "anthropic"])
    func theLoopRunsOverTheWire(dialect: String) async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await Self.scriptWeather(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try Self.writeTool("weather.sh", Self.weatherTool, in: directory)
            let path: String
            if dialect == "anthropic" {
                path = directory.appendingPathComponent("p.yaml").path
                try """
                    version: 1
                    defaults: {provider: claude, model: claude-test}
                    providers:
                      claude: {type: anthropic, base_url: "\(server.anthropicBaseURL)", api_key_env: null}
                    \(Self.weatherStep)
                    """.write(toFile: path, atomically: true, encoding: .utf8)
            } else {
                path = try CLI.writePipeline(Self.weatherStep, server: server, in: directory)
            }
            let trace = directory.appendingPathComponent("trace.json").path
            let result = try await CLI.run(["run", path, "--output", "json", "--stream", "ask", "--trace", trace], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            // The trace has the tool run on the requests' timeline, between the two turns.
            let events = try JSONValue(parsing: String(contentsOfFile: trace, encoding: .utf8))["traceEvents"]?.arrayValue ?? []
            let names = events.filter { $0["cat"] == "tool" || $0["cat"] == "request" }.compactMap { $0["name"]?.stringValue }
            #expect(names == ["ask turn 1", "tool get_weather", "ask"], "\(names)")
            let output = try #require(try JSONValue(parsing: result.stdout)["outputs"])
            #expect(output["answer"] == "Take an umbrella.", "\(result.stdout)")
            #expect(output["forecast"] == "forecast: rain, 4 C")
            #expect(output["turns"] == 2)
            #expect(Self.lines("calls.log", in: directory) == [#"{"city":"Oslo"}"#])
            // --stream shows the call and its result as they happen.
            #expect(result.stderr.contains(#"→ get_weather {"city":"Oslo"}"#), "\(result.stderr)")
            #expect(result.stderr.contains("← get_weather"))
            // The second request carried the call and the result in the dialect's shape.
            let bodies = await server.requests.compactMap { $0.body }
            try #require(bodies.count == 2)
            let second = try JSONValue(parsing: String(decoding: bodies[1], as: UTF8.self))
            let messages = try #require(second["messages"]?.arrayValue)
            if dialect == "anthropic" {
                #expect(messages.last?["role"] == "user")
                #expect(messages.last?["content"]?.arrayValue?.first?["type"] == "tool_result")
                #expect(messages.last?["content"]?.arrayValue?.first?["tool_use_id"] == "call_w1")
                #expect(messages[messages.count - 2]["content"]?.arrayValue?.last?["type"] == "tool_use")
            } else {
                #expect(second["stream"] == true)
                #expect(messages.last?["role"] == "tool")
                #expect(messages.last?["tool_call_id"] == "call_w1")
                #expect(messages.last?["content"] == "forecast: rain, 4 C")
            }
            // Again: no request, no tool run.
            let again = try await CLI.run(["run", path, "--output", "json"], in: directory)
            #expect(again.status == 0)
            #expect(await server.requests.count == 2)
            #expect(Self.lines("calls.log", in: directory).count == 1)
            #expect(again.stderr.contains("from the store"), "\(again.stderr)")
            // The conversation, tool result included, in the history.
            let shown = try await CLI.run(["runs", "show", "1", "--step", "ask"], in: directory)
            #expect(shown.status == 0, "\(shown.stderr)")
            #expect(shown.stdout.contains("get_weather ran in"), "\(shown.stdout)")
            #expect(shown.stdout.contains("forecast: rain, 4 C"))
            #expect(shown.stdout.contains("(2 earlier messages, as in request 1)") || shown.stdout.contains("(1 earlier message, as in request 1)"),
                    "\(shown.stdout)")
        }
    }

    @Test func dryRunListsTheToolsThatCouldRun() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.weatherStep, server: server, in: directory)
            let result = try await CLI.run(["run", path, "--dry-run"], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("# tools that may run"))
            #expect(result.stdout.contains("#   get_weather: run tools/weather.sh"))
            #expect(await server.requests.isEmpty)
        }
    }

    /// A tool running when Skein is SIGKILLed dies with it (PR_SET_PDEATHSIG): it does not
    /// go on to finish its side effect unseen, which the resume would then repeat.
    @Test func aToolDiesWithSkein() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await Self.scriptWeather(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try Self.writeTool("weather.sh", """
                read input
                echo "start $$" >> life.log
                sleep 2
                echo "end $$" >> life.log
                echo "forecast: rain"
                """, in: directory)
            let path = try CLI.writePipeline(Self.weatherStep, server: server, in: directory)
            let (process, out, err) = try CLI.start(["run", path], in: directory)
            let deadline = ContinuousClock.now + .seconds(60)
            while Self.lines("life.log", in: directory).isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            try #require(!Self.lines("life.log", in: directory).isEmpty, "the tool never started")
            kill(process.processIdentifier, SIGKILL)
            _ = await CLI.finish(process, out, err)
            try await Task.sleep(for: .seconds(3))
            #expect(Self.lines("life.log", in: directory).filter { $0.hasPrefix("end") }.isEmpty,
                    "the tool finished after Skein was killed: \(Self.lines("life.log", in: directory))")
        }
    }

    /// Kill-and-resume: SIGKILLs at random moments of a run whose tool logs each call, then
    /// the same command to the end. Each call's effect is in the ledger exactly once (the
    /// tool keys it by SKEIN_TOOL_CALL_ID, stable across runs, as DESIGN.md asks of tools
    /// with side effects), the executions repeated are at most the tools in flight at the
    /// kills, and the outputs equal an uninterrupted run's.
    @Test func killAndResumeRunsNoFinishedToolAgain() async throws {
        let cities = ["Oslo", "Rome", "Lima", "Kyiv", "Oran", "Suva", "Riga", "Bern", "Doha", "Lomé"]
        let body = """
            inputs:
              cities: {type: array, default: \(JSONValue.array(cities.map { .string($0) }).serialized())}
            steps:
              visit:
                for_each: "{{ inputs.cities }}"
                as: city
                max_concurrency: 2
                prompt: "Visit city {{ city }}"
                tools:
                  - name: log_visit
                    parameters: {type: object, properties: {city: {type: string}}, required: [city]}
                    run: [tools/visit.sh]
            outputs:
              visits: "{{ steps.visit.tool_calls }}"
              answers: "{{ steps.visit.output }}"
            """
        let tool = """
            input=$(cat)
            echo "$SKEIN_TOOL_CALL_ID" >> executions.log
            sleep 0.3
            # The side effect, once per call id.
            if ! grep -q "$SKEIN_TOOL_CALL_ID" ledger.log 2>/dev/null; then echo "$SKEIN_TOOL_CALL_ID $input" >> ledger.log; fi
            echo "logged: $input"
            """
        func script(_ server: SkeinTestServer) async {
            await server.addRule(ReplyRule("answer", match: .init(anyMessageContains: "logged:"), action: .text("visited")))
            for city in cities {
                await server.addRule(ReplyRule(city, match: .init(lastUserMessageContains: "Visit city \(city)"), action: .reply(Reply(
                    toolCalls: [.init(id: "call_\(city)", name: "log_visit", arguments: #"{"city":"\#(city)"}"#)]))))
            }
        }
        // The reference: one run, no kills.
        let reference: JSONValue = try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(50)))) { server in
            await script(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try Self.writeTool("visit.sh", tool, in: directory)
            let path = try CLI.writePipeline(body, server: server, in: directory)
            let result = try await CLI.run(["run", path, "--output", "json"], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try JSONValue(parsing: result.stdout)["outputs"])
        }
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(50)))) { server in
            await script(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try Self.writeTool("visit.sh", tool, in: directory)
            let path = try CLI.writePipeline(body, server: server, in: directory)
            var kills = 0
            for delay in [700, 1_100, 900] {
                let (process, out, err) = try CLI.start(["run", path, "--output", "json"], in: directory)
                try await Task.sleep(for: .milliseconds(delay))
                kill(process.processIdentifier, SIGKILL)
                let killed = await CLI.finish(process, out, err)
                if killed.status == SIGKILL || killed.status == 9 { kills += 1 }
            }
            let result = try await CLI.run(["run", path, "--output", "json"], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            let outputs = try #require(try JSONValue(parsing: result.stdout)["outputs"])
            #expect(outputs == reference)
            #expect(outputs["visits"]?.arrayValue?.count == cities.count)
            let ledger = Self.lines("ledger.log", in: directory)
            #expect(ledger.count == cities.count, "\(ledger)")
            #expect(Set(ledger.map { $0.split(separator: " ")[0] }).count == cities.count)
            let executions = Self.lines("executions.log", in: directory)
            // At most two tools run at once (max_concurrency: 2), so each kill can cut at
            // most two executions short.
            #expect(executions.count - cities.count <= 2 * kills, "\(executions.count) executions for \(cities.count) calls, \(kills) kills")
        }
    }
}

/// A tool loop under `--batch`: each turn of every row is one wave, so the loop goes
/// through the Batch API a turn at a time, with the tools run between the waves.
@Suite(.serialized) struct ToolBatchCLITests {
    @Test func eachTurnOfALoopIsOneBatch() async throws {
        var configuration = SkeinTestServer.Configuration()
        configuration.batches.processingDelay = .milliseconds(100)
        let cities = ["Oslo", "Rome", "Lima", "Kyiv", "Oran", "Suva"]
        try await SkeinTestServer.withRunning(configuration) { server in
            await server.addRule(ReplyRule("answer", match: .init(anyMessageContains: "logged:"), action: .text("visited")))
            for city in cities {
                await server.addRule(ReplyRule(city, match: .init(lastUserMessageContains: "Visit city \(city)"), action: .reply(Reply(
                    toolCalls: [.init(id: "call_\(city)", name: "log_visit", arguments: #"{"city":"\#(city)"}"#)]))))
            }
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try ToolCLITests.writeTool("visit.sh", """
                input=$(cat)
                echo "$input" >> calls.log
                echo "logged: $input"
                """, in: directory)
            let path = try CLI.writePipeline("""
                inputs:
                  city: {type: string}
                steps:
                  visit:
                    prompt: "Visit city {{ inputs.city }}"
                    tools:
                      - name: log_visit
                        parameters: {type: object, properties: {city: {type: string}}, required: [city]}
                        run: [tools/visit.sh]
                outputs:
                  answer: "{{ steps.visit.output }}"
                  turns: "{{ steps.visit.turns }}"
                """, server: server, in: directory)
            let rows = directory.appendingPathComponent("rows.jsonl")
            try cities.map { #"{"city":"\#($0)"}"# }.joined(separator: "\n").write(to: rows, atomically: true, encoding: .utf8)
            let out = directory.appendingPathComponent("out.jsonl").path
            let result = try await CLI.run(
                ["run", path, "--dataset", rows.path, "-o", out, "--batch", "--batch-poll", "0.05", "--batch-wave-ms", "100"],
                in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == cities.count)
            #expect(lines.allSatisfy { $0.contains(#""answer":"visited""#) && $0.contains(#""turns":2"#) }, "\(lines)")
            #expect(ToolCLITests.lines("calls.log", in: directory).count == cities.count)
            // Two waves: every row's first turn, then every row's second; no live call.
            #expect(await server.batchCreations == 2)
            #expect(await server.batchLinesAnswered == 2 * cities.count)
            #expect(await server.requests.filter { $0.handling != .files && $0.handling != .batches }.isEmpty)
        }
    }
}
