import Foundation
import SkeinTesting
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// `skein run` semantics through the library, against a real SkeinTesting server on 127.0.0.1.
@Suite struct SchedulerTests {
    /// Loads a pipeline whose every step uses the test server as provider `test`.
    static func graph(_ steps: String, server: SkeinTestServer, inputs: String = "", outputs: String = "",
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> PipelineGraph
    {
        let text = """
            version: 1
            defaults:
              provider: test
              model: test-model
            providers:
              test:
                base_url: \(server.baseURL)
                api_key_env: null
            \(inputs)
            steps:
            \(steps)
            \(outputs)
            """
        let loaded = PipelineLoader().load(text: text, path: "test.yaml")
        let pipeline = try #require(loaded.pipeline, "\(loaded.diagnostics)", sourceLocation: sourceLocation)
        let (compiled, templateDiagnostics) = CompiledPipeline.compile(pipeline)
        let (graph, diagnostics) = PipelineGraph.build(try #require(compiled, "\(templateDiagnostics)", sourceLocation: sourceLocation))
        return try #require(graph, "\(diagnostics)", sourceLocation: sourceLocation)
    }

    static func run(_ graph: PipelineGraph, inputs: JSONValue.JSONObject = [:], options: Scheduler.Options = .init(concurrency: 64))
        async throws -> Scheduler.Outcome
    {
        try await HTTPCompletionClient.withClient(configuration: .init(connectionsPerHost: 64, retryPolicy: RetryPolicy(maxRetries: 0))) { client in
            await Scheduler(graph: graph, client: client, options: options).run(inputs: inputs)
        }
    }

    @Test func tenIndependentStepsRunConcurrently() async throws {
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.seconds(4)))) { server in
            let steps = (0..<10).map { "  s\($0):\n    prompt: step \($0)" }.joined(separator: "\n")
            let graph = try Self.graph(steps, server: server)
            let (outcome, elapsed) = try await HTTPCompletionClient.withClient(configuration: .init(connectionsPerHost: 64)) { client in
                let scheduler = Scheduler(graph: graph, client: client, options: .init(concurrency: 64))
                let clock = ContinuousClock()
                let started = clock.now
                let outcome = await scheduler.run(inputs: [:])
                return (outcome, clock.now - started)
            }
            #expect(outcome.status == .succeeded)
            #expect(outcome.results.values.allSatisfy { $0.status == .finished })
            // At the server, the ten 4 s requests span under 20 s and at least three were held
            // at once: they overlapped (one after another they would take 40 s, one at a time).
            // Not "all ten within 1 s": in a fresh CI run the suite's first seconds start every
            // test at once beside the local model's server on two cores, and ten requests sent
            // together reached the server over 13 s. The client's wall time is not asserted
            // either; BENCHMARKS.md measures speed.
            let requests = await server.requests
            let first = try #require(requests.map(\.arrival).min())
            let last = try #require(requests.compactMap(\.completion).max())
            #expect(last - first < .seconds(20), "10 x 4 s spanned \(last - first) at the server (wall \(elapsed))")
            #expect(await server.maxConcurrentRequests >= 3)
        }
    }

    @Test func diamondFeedsOutputsDownstreamAndRunsTheMiddleInParallel() async throws {
        // 5 s: under the whole suite's load (with PostgreSQL and the local model on two cores)
        // the second request once went out 2.3 s after the first.
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.seconds(5)))) { server in
            let graph = try Self.graph("""
                  a:
                    prompt: start
                  b:
                    prompt: "left {{ steps.a.output }}"
                  c:
                    prompt: "right {{ steps.a.output }}"
                  d:
                    prompt: "join {{ steps.b.output }} | {{ steps.c.output }}"
                """, server: server, outputs: "outputs:\n  final: \"{{ steps.d.output }}\"")
            let outcome = try await Self.run(graph)
            #expect(outcome.status == .succeeded)
            #expect(outcome.outputs["final"] == "echo: join echo: left echo: start | echo: right echo: start")
            let requests = await server.requests
            let b = try #require(requests.first { $0.lastUserMessage == "left echo: start" })
            let c = try #require(requests.first { $0.lastUserMessage == "right echo: start" })
            #expect(b.overlaps(c))
            let d = try #require(requests.first { $0.lastUserMessage?.hasPrefix("join") == true })
            #expect(d.lastUserMessage?.contains("echo: left echo: start") == true)
            #expect(d.lastUserMessage?.contains("echo: right echo: start") == true)
        }
    }

    /// A `for_each` keeps item order and its limits: a step's `max_concurrency`, and the run's
    /// `--concurrency` over more items than the window of item tasks (8 × --concurrency),
    /// which is topped up as items end so that every item runs once.
    @Test(arguments: [
        (items: 50, maxConcurrency: 5 as Int?, concurrency: 64, limit: 5),
        (items: 120, maxConcurrency: nil, concurrency: 3, limit: 3),
    ])
    func forEachKeepsItemOrderAndItsLimits(_ fan: (items: Int, maxConcurrency: Int?, concurrency: Int, limit: Int)) async throws {
        let configuration = SkeinTestServer.Configuration(
            latency: .uniform(min: .milliseconds(5), max: .milliseconds(80)), concurrencyTagMarkers: ["fan-out"])
        try await SkeinTestServer.withRunning(configuration) { server in
            let graph = try Self.graph("""
                  fan:
                    for_each: "{{ inputs.items }}"
                    as: item
                \(fan.maxConcurrency.map { "    max_concurrency: \($0)" } ?? "")
                    prompt: "fan-out {{ item }}"
                """, server: server, inputs: "inputs:\n  items: {type: array}",
                outputs: "outputs:\n  all: \"{{ steps.fan.output }}\"")
            let items = (0..<fan.items).map { JSONValue.int($0) }
            let outcome = try await Self.run(graph, inputs: ["items": .array(items)], options: .init(concurrency: fan.concurrency))
            #expect(outcome.status == .succeeded)
            #expect(outcome.outputs["all"] == .array((0..<fan.items).map { .string("echo: fan-out \($0)") }))
            #expect(await server.maxConcurrentRequests(tag: "fan-out") <= fan.limit)
            #expect(await server.maxConcurrentRequests(tag: "fan-out") >= 2)
            #expect(await server.requests.count == fan.items)
        }
    }

    @Test func failFastStartsNothingAfterTheFirstFailure() async throws {
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(50)))) { server in
            await server.addRule(ReplyRule("fail", match: .init(lastUserMessageContains: "FAIL"),
                                           action: .status(400, message: "bad prompt")))
            // 3 s: under the whole suite's load the failing step's 50 ms reply once arrived after
            // a 400 ms one, and the step after the slow one started.
            await server.addRule(ReplyRule("slow", match: .init(lastUserMessageContains: "slow one"), delay: .seconds(3),
                                           action: .text("slow reply")))
            let graph = try Self.graph("""
                  broken:
                    prompt: FAIL now
                  after_broken:
                    prompt: "{{ steps.broken.output }}"
                  slow:
                    prompt: slow one
                  after_slow:
                    prompt: "{{ steps.slow.output }} again"
                """, server: server)
            let outcome = try await Self.run(graph)
            #expect(outcome.status == .failed)
            #expect(outcome.results["broken"]?.status == .failed)
            #expect(outcome.results["broken"]?.message?.contains("400") == true)
            #expect(outcome.results["slow"]?.status == .finished)  // in flight: allowed to finish
            #expect(outcome.results["after_slow"]?.status == .notRun)
            #expect(outcome.results["after_broken"]?.status == .notRun)
            #expect(await server.requests.count == 2)
        }
    }

    @Test func keepGoingRunsEveryIndependentBranch() async throws {
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(50)))) { server in
            await server.addRule(ReplyRule("fail", match: .init(lastUserMessageContains: "FAIL"),
                                           action: .status(400, message: "bad prompt")))
            let graph = try Self.graph("""
                  broken:
                    prompt: FAIL now
                  after_broken:
                    prompt: "{{ steps.broken.output }}"
                  report:
                    when: "{{ steps.broken.status == 'failed' }}"
                    prompt: "broken failed"
                  slow:
                    prompt: slow one
                  after_slow:
                    prompt: "{{ steps.slow.output }} again"
                """, server: server)
            let outcome = try await Self.run(graph, options: .init(concurrency: 8, failurePolicy: .keepGoing))
            #expect(outcome.status == .failed)
            #expect(outcome.results["after_broken"]?.status == .skipped)
            #expect(outcome.results["after_broken"]?.message == "'broken' failed")
            #expect(outcome.results["report"]?.status == .finished)
            #expect(outcome.results["after_slow"]?.status == .finished)
        }
    }

    @Test func whenFalseSkipsAndSkipsPropagate() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let graph = try Self.graph("""
                  maybe:
                    when: "{{ inputs.enabled }}"
                    prompt: hello
                  after:
                    prompt: "{{ steps.maybe.output }}"
                """, server: server, inputs: "inputs:\n  enabled: {type: boolean, default: false}")
            let outcome = try await Self.run(graph, inputs: ["enabled": false])
            #expect(outcome.status == .succeeded)
            #expect(outcome.results["maybe"]?.status == .skipped)
            #expect(outcome.results["after"]?.status == .skipped)
            #expect(await server.requests.isEmpty)
        }
    }

    @Test func outputsKeepTheirTypes() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let graph = try Self.graph("""
                  extract:
                    output: {schema: {type: object, required: [tags, count], properties: {tags: {type: array, items: {type: string}, minItems: 2}, count: {type: integer}}}}
                    prompt: extract
                """, server: server, outputs: "outputs:\n  tags: \"{{ steps.extract.output.tags }}\"\n  n: \"{{ steps.extract.output.count }}\"\n  text: \"{{ steps.extract.output.count }} items\"")
            let outcome = try await Self.run(graph)
            #expect(outcome.status == .succeeded)
            guard case .array(let tags)? = outcome.outputs["tags"] else { Issue.record("tags is not a list"); return }
            #expect(tags.count >= 2)
            #expect(outcome.outputs["n"]?.typeName == "integer")
            #expect(outcome.outputs["text"]?.stringValue?.hasSuffix(" items") == true)
        }
    }

    @Test func cancellingTheRunKeepsWhatFinished() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("slow", match: .init(lastUserMessageContains: "slow"), delay: .seconds(30),
                                           action: .text("late")))
            let graph = try Self.graph("""
                  quick:
                    prompt: quick
                  slow:
                    prompt: "slow {{ steps.quick.output }}"
                  never:
                    prompt: "{{ steps.slow.output }}"
                """, server: server)
            let task = Task { try await Self.run(graph) }
            while await server.requests.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
            task.cancel()
            let outcome = try await task.value
            #expect(outcome.status == .interrupted)
            #expect(outcome.results["quick"]?.status == .finished)
            #expect(outcome.results["slow"]?.status == .notRun)
            #expect(outcome.results["never"]?.status == .notRun)
        }
    }
}

/// Structured outputs against a server that rejects `json_schema` the way llama.cpp's does.
@Suite struct StructuredOutputTests {
    @Test func rejectedJSONSchemaFallsBackToJSONObjectWithoutRetrying() async throws {
        try await SkeinTestServer.withRunning(.init(rejectsJSONSchema: true)) { server in
            let graph = try SchedulerTests.graph("""
                  extract:
                    output: {schema: {type: object, required: [title], properties: {title: {type: string}}}}
                    prompt: extract a title
                """, server: server, outputs: "outputs:\n  title: \"{{ steps.extract.output.title }}\"")
            let outcome = try await HTTPCompletionClient.withClient { client in
                await Scheduler(graph: graph, client: client).run(inputs: [:])
            }
            #expect(outcome.status == .succeeded, "\(outcome.results["extract"]?.message ?? "")")
            #expect(outcome.outputs["title"]?.stringValue != nil)
            let formats = await server.requests.map { $0.json?["response_format"]?["type"]?.stringValue }
            #expect(formats == ["json_schema", "json_object"])
        }
    }

    @Test func aReplyThatBreaksTheSchemaIsRepairedOnce() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("bad first", match: .init(lastUserMessageContains: "tags please"), times: 1,
                                           action: .text(#"{"tags": ["a", 2]}"#)))
            let graph = try SchedulerTests.graph("""
                  tag:
                    output: {schema: {type: object, required: [tags], properties: {tags: {type: array, items: {type: string}}}}}
                    prompt: tags please
                """, server: server)
            let outcome = try await HTTPCompletionClient.withClient { client in
                await Scheduler(graph: graph, client: client).run(inputs: [:])
            }
            #expect(outcome.status == .succeeded)
            let requests = await server.requests
            #expect(requests.count == 2)
            let repair = requests[1].lastUserMessage ?? ""
            #expect(repair.contains("$.tags[1]: expected string, got number"))
        }
    }

    @Test func aReplyThatStillBreaksTheSchemaFailsWithEveryViolation() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("always bad", match: .init(anyMessageContains: "tags please"),
                                           action: .text(#"{"tags": ["a", 2, true]}"#)))
            let graph = try SchedulerTests.graph("""
                  tag:
                    output: {schema: {type: object, required: [tags], properties: {tags: {type: array, items: {type: string}}}}}
                    prompt: tags please
                """, server: server)
            let outcome = try await HTTPCompletionClient.withClient { client in
                await Scheduler(graph: graph, client: client).run(inputs: [:])
            }
            #expect(outcome.status == .failed)
            let message = outcome.results["tag"]?.message ?? ""
            #expect(message.contains("the reply does not match the output schema after one repair attempt"))
            #expect(message.contains("$.tags[1]: expected string, got number"))
            #expect(message.contains("$.tags[2]: expected string, got boolean"))
            #expect(message.contains(#"reply: {"tags": ["a", 2, true]}"#))
        }
    }
}
