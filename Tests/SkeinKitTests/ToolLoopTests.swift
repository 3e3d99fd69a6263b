import Foundation
import SkeinTesting
import Synchronization
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// The tool loop (DESIGN.md section 7) against `ScriptedCompletionClient`: the model's turns
/// are scripted from the conversation it is sent, the tools are real processes in a
/// temporary directory.
@Suite struct ToolLoopTests {
    /// A pipeline in a directory of its own (tools run there), with its scripts.
    struct Workspace {
        let directory: URL
        let graph: PipelineGraph

        /// Lines a tool appended to `name` (the tools below log each execution).
        func lines(_ name: String) -> [String] {
            ((try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? "")
                .split(separator: "\n").map(String.init)
        }
    }

    static func workspace(
        _ steps: String, scripts: [String: String] = [:], env: String = "", sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> Workspace {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-tools-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, body) in scripts {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try ("#!/bin/sh\n" + body).write(to: url, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        let text = """
            version: 1
            defaults:
              provider: scripted
              model: scripted-model
            providers:
              scripted:
                base_url: http://127.0.0.1:9/v1
                api_key_env: null
            \(env)
            \(steps)
            """
        let path = directory.appendingPathComponent("pipeline.yaml").path
        let loaded = PipelineLoader().load(text: text, path: path)
        let pipeline = try #require(loaded.pipeline, "\(loaded.diagnostics)", sourceLocation: sourceLocation)
        let (compiled, templateDiagnostics) = CompiledPipeline.compile(pipeline)
        let (graph, diagnostics) = PipelineGraph.build(try #require(compiled, "\(templateDiagnostics)", sourceLocation: sourceLocation))
        return Workspace(directory: directory, graph: try #require(graph, "\(diagnostics)", sourceLocation: sourceLocation))
    }

    /// The messages of a chat request.
    static func messages(_ request: CompletionRequest) -> [JSONValue] { request.body["messages"]?.arrayValue ?? [] }

    /// The tool results the model has been sent so far.
    static func toolResults(_ request: CompletionRequest) -> [String] {
        messages(request).filter { $0["role"] == "tool" }.compactMap { $0["content"]?.stringValue }
    }

    static func calling(_ calls: [(name: String, arguments: String)], turn: Int) -> Completion {
        Completion(
            content: "", toolCalls: calls.enumerated().map { Completion.ToolCall(id: "call_\(turn)_\($0.offset)", name: $0.element.name, arguments: $0.element.arguments) },
            finishReason: "tool_calls", usage: .init(promptTokens: 10, completionTokens: 5))
    }

    static func answer(_ text: String) -> Completion {
        Completion(content: text, finishReason: "stop", usage: .init(promptTokens: 20, completionTokens: 3))
    }

    static let weatherStep = """
        steps:
          ask:
            prompt: "What should I wear in {{ inputs.city }}?"
            tools:
              - name: get_weather
                description: Current weather for a city
                parameters: {type: object, properties: {city: {type: string}}, required: [city]}
                run: [tools/weather.sh]
        inputs:
          city: {type: string}
        """

    static let weatherScript = """
        read input
        echo "$input" >> calls.log
        echo "sunny, 21 C in $(echo "$input" | sed 's/.*"city":"\\([^"]*\\)".*/\\1/')"
        """

    @Test func oneCallThenAnAnswer() async throws {
        let workspace = try Self.workspace(Self.weatherStep, scripts: ["tools/weather.sh": Self.weatherScript])
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            if results.isEmpty { return Self.calling([("get_weather", #"{"city":"Oslo"}"#)], turn: 1) }
            return Self.answer("Wear sunglasses: " + results[0])
        })])
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: ["city": "Oslo"])
        let result = try #require(outcome.results["ask"])
        #expect(outcome.status == .succeeded, "\(result.message ?? "")")
        #expect(result.output == "Wear sunglasses: sunny, 21 C in Oslo")
        #expect(result.turns == 2)
        #expect(result.toolCalls == [[
            "id": "call_1_0", "name": "get_weather", "arguments": ["city": "Oslo"], "result": "sunny, 21 C in Oslo",
            "error": nil, "turn": 1,
        ]])
        #expect(result.usage?.promptTokens == 30)
        #expect(workspace.lines("calls.log") == [#"{"city":"Oslo"}"#])
        // The second request carries the model's call and the result, tied by the call's id.
        try #require(client.requests.count == 2)
        let second = Self.messages(client.requests[1].request)
        #expect(second.count == 3)
        #expect(second[1]["role"] == "assistant")
        #expect(second[1]["tool_calls"]?.arrayValue?[0]["function"]?["name"] == "get_weather")
        #expect(second[2]["role"] == "tool")
        #expect(second[2]["tool_call_id"] == "call_1_0")
    }

    @Test func twoCallsOfOneReplyRunAtTheSameTime() async throws {
        // Each execution logs its start and end times; with both running at once, both
        // start before either ends.
        let workspace = try Self.workspace("""
            steps:
              ask:
                prompt: "Compare two cities"
                tools:
                  - name: slow
                    parameters: {type: object, properties: {city: {type: string}}}
                    run: [tools/slow.sh]
            """, scripts: ["tools/slow.sh": """
                read input
                echo "start $(date +%s.%N)" >> times.log
                sleep 1
                echo "end $(date +%s.%N)" >> times.log
                echo "done"
                """])
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            Self.toolResults(request).isEmpty
                ? Self.calling([("slow", #"{"city":"A"}"#), ("slow", #"{"city":"B"}"#)], turn: 1) : Self.answer("both done")
        })])
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: [:])
        #expect(outcome.status == .succeeded)
        let lines = workspace.lines("times.log")
        try #require(lines.count == 4)
        #expect(lines[0].hasPrefix("start") && lines[1].hasPrefix("start"), "\(lines)")
        #expect(outcome.results["ask"]?.toolCalls.arrayValue?.map { $0["arguments"]?["city"] } == ["A", "B"])
    }

    @Test func aChainOfThreeTurns() async throws {
        let workspace = try Self.workspace(Self.weatherStep, scripts: ["tools/weather.sh": Self.weatherScript])
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            switch Self.toolResults(request).count {
            case 0: return Self.calling([("get_weather", #"{"city":"Oslo"}"#)], turn: 1)
            case 1: return Self.calling([("get_weather", #"{"city":"Rome"}"#)], turn: 2)
            default: return Self.answer(Self.toolResults(request).joined(separator: " / "))
            }
        })])
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: ["city": "Oslo"])
        let result = try #require(outcome.results["ask"])
        #expect(result.output == "sunny, 21 C in Oslo / sunny, 21 C in Rome")
        #expect(result.turns == 3)
        #expect(result.toolCalls.arrayValue?.map { $0["turn"] } == [1, 2])
        #expect(Self.messages(client.requests[2].request).count == 5)
    }

    @Test func argumentsThatBreakTheSchemaGoBackToTheModelAndNothingRuns() async throws {
        let workspace = try Self.workspace(Self.weatherStep, scripts: ["tools/weather.sh": Self.weatherScript])
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            switch results.count {
            case 0: return Self.calling([("get_weather", #"{"city": 5}"#)], turn: 1)
            case 1: return Self.calling([("get_weather", #"{"city":"Oslo"}"#)], turn: 2)
            default: return Self.answer("ok")
            }
        })])
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: ["city": "Oslo"])
        let result = try #require(outcome.results["ask"])
        #expect(outcome.status == .succeeded)
        let firstError = try #require(result.toolCalls.arrayValue?[0]["error"]?.stringValue)
        #expect(firstError.contains("do not match the tool's parameters"), "\(firstError)")
        #expect(firstError.contains("city"))
        #expect(Self.toolResults(client.requests[1].request)[0].hasPrefix("error: "))
        #expect(workspace.lines("calls.log") == [#"{"city":"Oslo"}"#], "the invalid call ran nothing")
        #expect(result.turns == 3)
    }

    @Test func aToolThatDoesNotExistIsAnErrorTheModelSees() async throws {
        let workspace = try Self.workspace(Self.weatherStep, scripts: ["tools/weather.sh": Self.weatherScript])
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            Self.toolResults(request).isEmpty ? Self.calling([("get_wether", "{}")], turn: 1) : Self.answer("sorry")
        })])
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: ["city": "Oslo"])
        #expect(outcome.status == .succeeded)
        #expect(Self.toolResults(client.requests[1].request) == ["error: there is no tool named 'get_wether'; the tools are get_weather"])
    }

    @Test func reachingMaxTurnsFailsTheStepWithALocatedError() async throws {
        let workspace = try Self.workspace(Self.weatherStep.replacingOccurrences(
            of: "    tools:\n", with: "    max_turns: 3\n    tools:\n"), scripts: ["tools/weather.sh": Self.weatherScript])
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            Self.calling([("get_weather", #"{"city":"Oslo"}"#)], turn: Self.toolResults(request).count + 1)
        })])
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: ["city": "Oslo"])
        let result = try #require(outcome.results["ask"])
        #expect(outcome.status == .failed)
        #expect(client.requests.count == 3)
        let message = try #require(result.message)
        #expect(message.contains("reached max_turns (3): reply 3 still called 'get_weather'"), "\(message)")
        #expect(result.requests == 3, "the summary counts every turn")
        if case .maxTurns(let limit, _, let location)? = result.failure?.kind {
            #expect(limit == 3)
            #expect(location?.line == 11, "the step's line in the file")
        } else {
            Issue.record("\(String(describing: result.failure))")
        }
    }

    @Test func aRerunReplaysTheStoreAndRunsNoTool() async throws {
        let workspace = try Self.workspace(Self.weatherStep, scripts: ["tools/weather.sh": Self.weatherScript])
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            return results.isEmpty ? Self.calling([("get_weather", #"{"city":"Oslo"}"#)], turn: 1) : Self.answer(results[0])
        })])
        let store = MemoryResultStore()
        let session = RunSession(graph: workspace.graph)
        let first = await session.scheduler(client: client, store: store).run(inputs: ["city": "Oslo"])
        #expect(first.status == .succeeded)
        let second = await session.scheduler(client: client, store: store).run(inputs: ["city": "Oslo"])
        #expect(second.status == .succeeded)
        #expect(second.results["ask"]?.output == first.results["ask"]?.output)
        #expect(second.results["ask"]?.toolCalls == first.results["ask"]?.toolCalls)
        #expect(client.requests.count == 2, "the re-run made no request")
        #expect(workspace.lines("calls.log").count == 1, "the re-run ran no tool")
        let replayed = await store.tools.filter { $0.cached }
        #expect(replayed.count == 1)
    }

    @Test func aFinishedToolIsReplayedWhenTheNextTurnWasLost() async throws {
        // A run killed after the tool ended and before the next reply: the first turn and
        // the execution are stored, the second turn is not. The resume asks the model again
        // and replays the tool instead of running it.
        let workspace = try Self.workspace(Self.weatherStep, scripts: ["tools/weather.sh": Self.weatherScript])
        let store = MemoryResultStore()
        let failing = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            if Self.toolResults(request).isEmpty { return Self.calling([("get_weather", #"{"city":"Oslo"}"#)], turn: 1) }
            throw ProviderError(kind: .serverError, provider: "scripted", status: 500, message: "down", isRetryable: false)
        })])
        let session = RunSession(graph: workspace.graph)
        let first = await session.scheduler(client: failing, store: store).run(inputs: ["city": "Oslo"])
        #expect(first.status == .failed)
        let working = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            return results.isEmpty ? Self.calling([("get_weather", #"{"city":"Oslo"}"#)], turn: 1) : Self.answer(results[0])
        })])
        let resumed = await session.scheduler(client: working, store: store).run(inputs: ["city": "Oslo"])
        #expect(resumed.status == .succeeded)
        #expect(working.requests.count == 1, "only the lost turn is asked again")
        #expect(workspace.lines("calls.log").count == 1, "the tool ran once over both runs")
    }

    @Test func cacheFalseOnAToolRunsItEveryTime() async throws {
        let workspace = try Self.workspace(Self.weatherStep + "\n", scripts: ["tools/weather.sh": Self.weatherScript])
        let text = workspace.graph.pipeline.sourceText.replacingOccurrences(
            of: "run: [tools/weather.sh]", with: "run: [tools/weather.sh]\n        cache: false")
        let loaded = PipelineLoader().load(text: text, path: workspace.graph.pipeline.path)
        let pipeline = try #require(loaded.pipeline, "\(loaded.diagnostics)")
        let compiled = try #require(CompiledPipeline.compile(pipeline).0)
        let graph = try #require(PipelineGraph.build(compiled).0)
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            return results.isEmpty ? Self.calling([("get_weather", #"{"city":"Oslo"}"#)], turn: 1) : Self.answer(results[0])
        })])
        let store = MemoryResultStore()
        for _ in 0..<2 {
            let outcome = await RunSession(graph: graph).scheduler(client: client, store: store).run(inputs: ["city": "Oslo"])
            #expect(outcome.status == .succeeded)
        }
        #expect(workspace.lines("calls.log").count == 2)
    }

    @Test func aToolSeesOnlyTheListedEnvironment() async throws {
        let workspace = try Self.workspace("""
            steps:
              ask:
                prompt: "env?"
                tools:
                  - name: show_env
                    run: [env]
            """, env: "env: [LISTED_NAME]")
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            return results.isEmpty ? Self.calling([("show_env", "{}")], turn: 1) : Self.answer(results[0])
        })])
        let environment = ["PATH": "/usr/bin:/bin", "HOME": "/tmp", "LISTED_NAME": "visible", "SECRET_KEY": "sk-should-not-leak"]
        let outcome = await RunSession(graph: workspace.graph, options: .init(environment: environment))
            .scheduler(client: client, store: nil).run(inputs: [:])
        let output = try #require(outcome.results["ask"]?.output.stringValue)
        #expect(output.contains("LISTED_NAME=visible"))
        #expect(output.contains("PATH=/usr/bin:/bin"))
        #expect(output.contains("SKEIN_TOOL_CALL_ID="))
        #expect(!output.contains("SECRET_KEY"), "\(output)")
        #expect(!output.contains("sk-should-not-leak"))
    }

    @Test(arguments: [
        ("exit 3", "echo 'no such city' >&2; exit 3", "exited with status 3: no such city"),
        ("hang", "sleep 300", "timed out after 1s and was killed"),
        ("flood", "head -c 3000000 /dev/zero | tr '\\\\0' x", "wrote more than 1 MiB to stdout and was stopped"),
    ])
    func aFailingToolIsAnErrorResultNotACrash(name: String, body: String, expected: String) async throws {
        let workspace = try Self.workspace("""
            steps:
              ask:
                prompt: "try"
                tools:
                  - name: flaky
                    run: [tools/flaky.sh]
                    timeout: 1s
            """, scripts: ["tools/flaky.sh": "cat > /dev/null\n" + body + "\n"])
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            return results.isEmpty ? Self.calling([("flaky", "{}")], turn: 1) : Self.answer("the tool said: " + results[0])
        })])
        let clock = ContinuousClock()
        let began = clock.now
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: [:])
        // Far below the hanging tool's 300 s, with room for a loaded machine.
        #expect(clock.now - began < .seconds(120), "a hanging tool is killed at its timeout")
        let result = try #require(outcome.results["ask"])
        #expect(outcome.status == .succeeded, "\(name): \(result.message ?? "")")
        #expect(result.toolCalls.arrayValue?[0]["error"] == .string(expected), "\(name)")
        #expect(result.output == .string("the tool said: error: " + expected))
    }

    @Test func aToolThatCannotStartSaysWhy() async throws {
        let workspace = try Self.workspace("""
            steps:
              ask:
                prompt: "try"
                tools:
                  - name: missing
                    run: [tools/nope.sh]
                  - name: plain
                    run: [tools/plain.txt]
            """)
        try FileManager.default.createDirectory(at: workspace.directory.appendingPathComponent("tools"), withIntermediateDirectories: true)
        try "not a program".write(to: workspace.directory.appendingPathComponent("tools/plain.txt"), atomically: true, encoding: .utf8)
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            return results.isEmpty ? Self.calling([("missing", "{}"), ("plain", "{}")], turn: 1) : Self.answer(results.joined(separator: "|"))
        })])
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: [:])
        let calls = try #require(outcome.results["ask"]?.toolCalls.arrayValue)
        #expect(calls[0]["error"]?.stringValue?.contains("'tools/nope.sh' does not exist") == true, "\(calls)")
        #expect(calls[1]["error"]?.stringValue?.contains("'tools/plain.txt' is not executable: chmod +x it") == true, "\(calls)")
    }

    @Test func anHTTPToolThatIsDownIsAnErrorTheModelSees() async throws {
        let workspace = try Self.workspace("""
            steps:
              ask:
                prompt: "search"
                tools:
                  - name: search
                    http: {url: "http://127.0.0.1:9/search"}
                    timeout: 5s
            """)
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            return results.isEmpty ? Self.calling([("search", #"{"q":"x"}"#)], turn: 1) : Self.answer(results[0])
        })])
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: [:])
        #expect(outcome.status == .succeeded)
        let error = try #require(outcome.results["ask"]?.toolCalls.arrayValue?[0]["error"]?.stringValue)
        #expect(error == "cannot reach http://127.0.0.1:9/search: connection refused (nothing is listening at that address and port)", "\(error)")
    }

    /// An `http` tool POSTs the arguments and the body is the result; an error status is
    /// an error the model reads. The test server's chat endpoint stands in for a tool
    /// service: the "arguments" are a chat request, the body its completion.
    @Test func anHTTPToolPostsTheArguments() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule(action: .text("pong from the service")))
            let workspace = try Self.workspace("""
                steps:
                  ask:
                    prompt: "ping the service"
                    tools:
                      - name: service
                        http: {url: "\(server.baseURL)/chat/completions"}
                      - name: missing
                        http: {url: "\(server.baseURL)/no-such-endpoint"}
                """)
            let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
                let results = Self.toolResults(request)
                return results.isEmpty
                    ? Self.calling([("service", #"{"model":"test-model","messages":[{"role":"user","content":"ping"}]}"#), ("missing", "{}")], turn: 1)
                    : Self.answer(results.joined(separator: " | "))
            })])
            let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: [:])
            let calls = try #require(outcome.results["ask"]?.toolCalls.arrayValue)
            #expect(calls[0]["result"]?.stringValue?.contains("pong from the service") == true, "\(calls)")
            #expect(calls[1]["error"]?.stringValue?.hasPrefix("HTTP 404") == true, "\(calls)")
            let posted = await server.requests.first { $0.path.hasSuffix("/chat/completions") }
            #expect(posted?.method == "POST")
            #expect(posted?.headers.first { $0.key.lowercased() == "content-type" }?.value == "application/json")
        }
    }

    @Test func forEachItemsRunTheirOwnLoops() async throws {
        let workspace = try Self.workspace("""
            steps:
              ask:
                for_each: "{{ inputs.cities }}"
                as: city
                prompt: "Weather in {{ city }}?"
                tools:
                  - name: get_weather
                    parameters: {type: object, properties: {city: {type: string}}, required: [city]}
                    run: [tools/weather.sh]
            inputs:
              cities: {type: array}
            """, scripts: ["tools/weather.sh": Self.weatherScript])
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = Self.toolResults(request)
            let prompt = Self.messages(request)[0]["content"]?.stringValue ?? ""
            let city = String(prompt.dropFirst("Weather in ".count).dropLast())
            return results.isEmpty ? Self.calling([("get_weather", #"{"city":"\#(city)"}"#)], turn: 1) : Self.answer(results[0])
        })])
        let outcome = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil)
            .run(inputs: ["cities": ["Oslo", "Rome", "Lima"]])
        let result = try #require(outcome.results["ask"])
        #expect(result.output == ["sunny, 21 C in Oslo", "sunny, 21 C in Rome", "sunny, 21 C in Lima"])
        #expect(result.turns == [2, 2, 2])
        #expect(workspace.lines("calls.log").count == 3)
    }

    @Test func theMessagesAPICarriesTheLoopAsToolUseAndToolResultBlocks() throws {
        let conversation: [ChatMessage] = [
            .user("weather?"),
            ChatMessage(role: .assistant, content: .text("Let me look."), toolCalls: [
                .init(id: "toolu_1", name: "get_weather", arguments: #"{"city":"Oslo"}"#),
                .init(id: "toolu_2", name: "get_weather", arguments: #"{"city":"Rome"}"#),
            ]),
            ChatMessage(role: .tool, content: .text("sunny"), toolCallID: "toolu_1"),
            ChatMessage(role: .tool, content: .text("no such city"), toolCallID: "toolu_2", isToolError: true),
        ]
        let request = CompletionRequest.messages(model: "claude", messages: conversation)
        let turns = try #require(request.body["messages"]?.arrayValue)
        #expect(turns.count == 3, "both results go back in one user turn")
        #expect(turns[1] == [
            "role": "assistant", "content": [
                ["type": "text", "text": "Let me look."],
                ["type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": ["city": "Oslo"]],
                ["type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": ["city": "Rome"]],
            ],
        ])
        #expect(turns[2] == [
            "role": "user", "content": [
                ["type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"],
                ["type": "tool_result", "tool_use_id": "toolu_2", "content": "no such city", "is_error": true],
            ],
        ])
    }
}
