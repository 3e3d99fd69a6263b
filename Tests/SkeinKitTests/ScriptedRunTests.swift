import Foundation
import OrderedCollections
import SkeinTesting
import Synchronization
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// The engine between the graph and the client — scheduler, step runner, dry run, dataset
/// runner, reply decoder — run against `ScriptedCompletionClient`: no server, no sockets,
/// each rule of a run checked on its own.
@Suite struct ScriptedRunTests {
    static func graph(
        _ body: String, providers: String = "", sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> PipelineGraph {
        let text = """
            version: 1
            defaults:
              provider: scripted
              model: scripted-model
            providers:
              scripted:
                base_url: http://127.0.0.1:9/v1
                api_key_env: null
            \(providers)
            \(body)
            """
        let loaded = PipelineLoader().load(text: text, path: "scripted.yaml")
        let pipeline = try #require(loaded.pipeline, "\(loaded.diagnostics)", sourceLocation: sourceLocation)
        let (compiled, templateDiagnostics) = CompiledPipeline.compile(pipeline)
        let (graph, diagnostics) = PipelineGraph.build(try #require(compiled, "\(templateDiagnostics)", sourceLocation: sourceLocation))
        return try #require(graph, "\(diagnostics)", sourceLocation: sourceLocation)
    }

    static func notFound(_ model: String) -> ProviderError {
        ProviderError(
            kind: .modelNotFound, provider: "scripted", status: 404, code: "MODEL_NOT_FOUND",
            message: "model '\(model)' does not exist", isRetryable: false)
    }

    // MARK: Scheduler and step runner

    @Test func outputsFlowDownstreamAndEveryRequestIsRecorded() async throws {
        let graph = try Self.graph("""
            inputs:
              topic: {type: string}
            steps:
              draft:
                prompt: "Write about {{ inputs.topic }}"
              review:
                prompt: "Review: {{ steps.draft.output }}"
            outputs:
              final: "{{ steps.review.output }}"
            """)
        let client = ScriptedCompletionClient(rules: [.init(.promptContains("Write about"), reply: .text("a draft"))])
        let outcome = await RunSession(graph: graph).scheduler(client: client, store: nil).run(inputs: ["topic": "owls"])
        #expect(outcome.status == .succeeded)
        #expect(outcome.outputs["final"] == "echo: Review: a draft")
        #expect(client.requests.map(\.prompt) == ["Write about owls", "Review: a draft"])
        #expect(client.requests.allSatisfy { $0.request.model == "scripted-model" })
    }

    @Test func independentStepsAreInFlightTogetherUpToTheConcurrency() async throws {
        let steps = (0..<6).map { "  s\($0):\n    prompt: step \($0)" }.joined(separator: "\n")
        let graph = try Self.graph("steps:\n" + steps)
        let client = ScriptedCompletionClient(fallback: .delayed(.milliseconds(200), .text("ok")))
        let outcome = await RunSession(graph: graph, options: .init(concurrency: 4)).scheduler(client: client, store: nil)
            .run(inputs: [:])
        #expect(outcome.status == .succeeded)
        #expect(client.requests.count == 6)
        #expect(client.mostInFlight == 4)
    }

    @Test func aProviderFailureIsATypedFailureAndItsDependentsAreSkipped() async throws {
        let graph = try Self.graph("""
            steps:
              a:
                model: missing-model
                prompt: first
              b:
                prompt: "then {{ steps.a.output }}"
              c:
                prompt: independent
            """)
        let client = ScriptedCompletionClient(rules: [.init(.model("missing-model"), reply: .failure(Self.notFound("missing-model")))])
        let outcome = await RunSession(graph: graph, options: .init(failurePolicy: .keepGoing))
            .scheduler(client: client, store: nil).run(inputs: [:])
        #expect(outcome.status == .failed)
        let a = try #require(outcome.results["a"])
        #expect(a.status == .failed)
        guard case .provider(let error)? = a.failure?.kind else {
            Issue.record("expected a provider failure, got \(String(describing: a.failure))")
            return
        }
        #expect(error.kind == .modelNotFound)
        #expect(a.message == error.description)
        #expect(outcome.results["b"]?.status == .skipped)
        #expect(outcome.results["b"]?.failure == nil)
        #expect(outcome.results["b"]?.note == "'a' failed")
        #expect(outcome.results["c"]?.status == .finished)
    }

    @Test func aTemplateErrorAtRunTimeIsLocatedInThePipelineFile() async throws {
        let graph = try Self.graph("""
            inputs:
              items: {type: array}
            steps:
              each:
                for_each: "{{ inputs.items[5] }}"
                as: item
                prompt: "{{ item }}"
            """)
        let outcome = await RunSession(graph: graph).scheduler(client: ScriptedCompletionClient(), store: nil)
            .run(inputs: ["items": [1, 2]])
        let failure = try #require(outcome.results["each"]?.failure)
        guard case .template(let diagnostic) = failure.kind else {
            Issue.record("expected a template failure, got \(failure)")
            return
        }
        #expect(diagnostic.location?.file == "scripted.yaml")
        #expect(failure.description.hasPrefix("scripted.yaml:"))
    }

    @Test func anInvalidReplyIsRepairedOnceThenFailsWithItsViolations() async throws {
        let graph = try Self.graph("""
            steps:
              extract:
                prompt: give me JSON
                output:
                  schema: {type: object, properties: {n: {type: integer}}, required: [n]}
            """)
        // Never valid: the first reply and the repair attempt both break the schema.
        let client = ScriptedCompletionClient(fallback: .text(#"{"n": "three"}"#))
        let outcome = await RunSession(graph: graph).scheduler(client: client, store: nil).run(inputs: [:])
        #expect(client.requests.count == 2)
        #expect(client.requests[1].prompt.contains("That reply was not valid"))
        let failure = try #require(outcome.results["extract"]?.failure)
        guard case .invalidReply(let violations, let reply, let hasSchema) = failure.kind else {
            Issue.record("expected an invalid reply, got \(failure)")
            return
        }
        #expect(hasSchema)
        #expect(reply == #"{"n": "three"}"#)
        #expect(!violations.isEmpty)
    }

    @Test func aRepairedReplyFinishesTheStep() async throws {
        let graph = try Self.graph("""
            steps:
              extract:
                prompt: give me JSON
                output: {format: json}
            """)
        let client = ScriptedCompletionClient(rules: [
            .init(.promptContains("That reply was not valid"), reply: .text(#"{"ok": true}"#))
        ], fallback: .text("not json at all"))
        let outcome = await RunSession(graph: graph).scheduler(client: client, store: nil).run(inputs: [:])
        #expect(outcome.results["extract"]?.status == .finished)
        #expect(outcome.results["extract"]?.output == ["ok": true])
        #expect(client.requests.count == 2)
    }

    @Test func offlineWithoutAStoredReplyIsAnOfflineMissAndSendsNothing() async throws {
        let graph = try Self.graph("steps:\n  a:\n    prompt: hello\n  b:\n    prompt: world")
        let store = MemoryResultStore()
        let client = ScriptedCompletionClient()
        let outcome = await RunSession(graph: graph, options: .init(failurePolicy: .keepGoing, cachePolicy: .offline))
            .scheduler(client: client, store: store).run(inputs: [:])
        #expect(client.requests.isEmpty)
        #expect(outcome.failedSteps.map(\.name) == ["a", "b"])
        #expect(outcome.failedSteps.allSatisfy { $0.failure?.isOfflineMiss == true })
    }

    @Test func aSecondRunTakesEveryReplyFromTheStore() async throws {
        let graph = try Self.graph("steps:\n  a:\n    prompt: hello\n  b:\n    prompt: \"{{ steps.a.output }}!\"")
        let store = MemoryResultStore()
        let client = ScriptedCompletionClient()
        let session = RunSession(graph: graph)
        let first = await session.scheduler(client: client, store: store).run(inputs: [:])
        let second = await session.scheduler(client: client, store: store).run(inputs: [:])
        #expect(first.status == .succeeded)
        #expect(second.status == .succeeded)
        #expect(client.requests.count == 2)
        #expect(second.results.values.allSatisfy { $0.cacheHits == 1 && $0.requests == 0 })
        #expect(second.outputs == first.outputs)
    }

    @Test func forEachItemsRunEachAndKeepTheirOrder() async throws {
        let graph = try Self.graph("""
            inputs:
              words: {type: array}
            steps:
              shout:
                for_each: "{{ inputs.words }}"
                as: word
                prompt: "{{ word }}"
            """)
        // Later items answer first; the outputs still come in item order.
        let client = ScriptedCompletionClient(rules: [
            .init(.promptContains("one"), reply: .delayed(.milliseconds(150), .text("ONE"))),
            .init(.promptContains("two"), reply: .delayed(.milliseconds(50), .text("TWO"))),
        ], fallback: .text("THREE"))
        let outcome = await RunSession(graph: graph).scheduler(client: client, store: nil)
            .run(inputs: ["words": ["one", "two", "three"]])
        #expect(outcome.results["shout"]?.output == ["ONE", "TWO", "THREE"])
        #expect(outcome.results["shout"]?.requests == 3)
    }

    /// A failed `for_each` step counts every item's requests, not only the failing item's
    /// (the summary line said "4 requests" for a step that had made about 270).
    @Test func aFailedForEachStepCountsTheRequestsOfEveryItem() async throws {
        let graph = try Self.graph("""
            inputs:
              words: {type: array}
            steps:
              each:
                for_each: "{{ inputs.words }}"
                as: word
                prompt: "{{ word }}"
            """)
        var exhausted = Self.notFound("scripted-model")
        exhausted.attempts = 3
        let client = ScriptedCompletionClient(rules: [
            .init(.promptContains("bad"), reply: .delayed(.milliseconds(300), .failure(exhausted)))
        ], fallback: .text("fine"))
        let outcome = await RunSession(graph: graph).scheduler(client: client, store: nil)
            .run(inputs: ["words": ["a", "b", "bad", "c"]])
        let result = try #require(outcome.results["each"])
        #expect(result.status == .failed)
        #expect(result.requests == 6)
        #expect(result.retries == 2)
    }

    @Test func aRefusedJSONSchemaFallsBackToJSONObjectThroughTheDialect() async throws {
        let graph = try Self.graph("""
            steps:
              extract:
                prompt: give me JSON
                output:
                  schema: {type: object, properties: {n: {type: integer}}, required: [n]}
            """)
        let refusal = ProviderError(
            kind: .serverError, provider: "scripted", status: 500,
            message: "Input should be 'text' or 'json_object'", isRetryable: false)
        let client = ScriptedCompletionClient(rules: [
            .init(ScriptedCompletionClient.Match { request, _ in request.body["response_format"]?["type"] == "json_schema" }, reply: .failure(refusal))
        ], fallback: .text(#"{"n": 3}"#))
        let outcome = await RunSession(graph: graph).scheduler(client: client, store: nil).run(inputs: [:])
        #expect(outcome.results["extract"]?.output == ["n": 3])
        #expect(client.requests.map { $0.request.body["response_format"]?["type"] } == ["json_schema", "json_object"])
    }

    // MARK: Session

    @Test func theSessionResolvesOverridesOnceForEveryStep() async throws {
        let graph = try Self.graph("""
            steps:
              a:
                model: file-model
                prompt: hello
            """, providers: "  other:\n    base_url: http://127.0.0.1:9/v2\n    api_key_env: null")
        let session = RunSession(
            graph: graph, pipelinePath: "p.yaml",
            options: .init(providerOverride: "other", modelOverride: "flag-model", cachePolicy: .refresh))
        let client = ScriptedCompletionClient()
        _ = await session.scheduler(client: client, store: nil).run(inputs: [:])
        #expect(client.requests.map(\.provider.name) == ["other"])
        #expect(client.requests.map(\.request.model) == ["flag-model"])
        let record = session.record(inputs: ["x": 1], gitCommit: .some(nil))
        #expect(record.pipelinePath == "p.yaml")
        #expect(record.options == ["provider": "other", "model": "flag-model", "cache": "refresh"])
        let dry = try session.dryRun.requests(inputs: [:], environment: [:])
        #expect(dry.map(\.provider.name) == ["other"])
        #expect(dry.map(\.request.model) == ["flag-model"])
    }

    // MARK: Dry run

    @Test func theDryRunRendersWhatItCanAndMarksTheRest() throws {
        let graph = try Self.graph("""
            inputs:
              topic: {type: string}
            steps:
              draft:
                prompt: "Write about {{ inputs.topic }}"
              review:
                prompt: "Review: {{ steps.draft.output }}"
            """)
        let requests = try RunSession(graph: graph).dryRun.requests(inputs: ["topic": "owls"], environment: [:])
        #expect(requests.map(\.step) == ["draft", "review"])
        #expect(ScriptedCompletionClient.promptText(of: requests[0].request) == "Write about owls")
        #expect(ScriptedCompletionClient.promptText(of: requests[1].request) == "Review: " + DryRun.marker("steps.draft.output"))
        #expect(requests[1].placeholders == ["draft"])
    }

    // MARK: Dataset runner

    @Test func theDatasetRunnerEmitsRowsInOrderWhateverOrderTheyFinish() async throws {
        let graph = try Self.graph("""
            inputs:
              word: {type: string}
            steps:
              echo:
                prompt: "{{ inputs.word }}"
            outputs:
              said: "{{ steps.echo.output }}"
            """)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skein-scripted-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("rows.jsonl").path
        try #"{"word": "slow"}"# .appending("\n{\"word\": \"fast\"}\n{\"word\": \"bad\"}\n").write(toFile: path, atomically: true, encoding: .utf8)
        let client = ScriptedCompletionClient(rules: [
            .init(.promptContains("slow"), reply: .delayed(.milliseconds(200), .text("SLOW"))),
            .init(.promptContains("bad"), reply: .failure(Self.notFound("scripted-model"))),
        ], fallback: .text("FAST"))
        let runner = DatasetRunner(scheduler: RunSession(graph: graph).scheduler(client: client, store: nil))
        let rows = Mutex<[DatasetRunner.RowOutcome]>([])
        let summary = try await runner.run(reader: try DatasetReader(path: path)) { row in rows.withLock { $0.append(row) } }
        let emitted = rows.withLock { $0 }
        #expect(emitted.map(\.row) == [0, 1, 2])
        #expect(emitted.map(\.status) == [.succeeded, .succeeded, .failed])
        #expect(emitted[0].outputs["said"] == "SLOW")
        #expect(emitted[2].errors.first?.contains("MODEL_NOT_FOUND") == true)
        #expect(summary.rows == 3 && summary.succeeded == 2 && summary.failed == 1)
    }

    @Test func aCSVThatCannotFeedARequiredInputIsRefusedBeforeAnyRow() throws {
        let graph = try Self.graph("""
            inputs:
              text: {type: string}
            steps:
              a:
                prompt: "{{ inputs.text }}"
            """)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("skein-scripted-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("rows.csv").path
        try "body,id\nhello,1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let reader = try DatasetReader(path: path)
        #expect(throws: DatasetMismatch.self) {
            try reader.checkInputs(renames: [:], fixedInputs: [], pipeline: graph.pipeline)
        }
        #expect(throws: DatasetMismatch.self) {
            try reader.checkInputs(renames: ["bodyy": "text"], fixedInputs: [], pipeline: graph.pipeline)
        }
        do {
            try reader.checkInputs(renames: ["body": "txt"], fixedInputs: [], pipeline: graph.pipeline)
            Issue.record("a rename to an unknown input was accepted")
        } catch {
            #expect(error.kind == .unknownInput)
            #expect(error.isUsageError)
            #expect(error.message == "--map body=txt: the pipeline has no input 'txt'; did you mean 'text'?")
        }
        try reader.checkInputs(renames: ["body": "text"], fixedInputs: [], pipeline: graph.pipeline)
    }

    // MARK: Reply decoder

    @Test func theReplyDecoderParsesValidatesAndSeparatesReasoning() throws {
        let schema: JSONValue = ["type": "object", "properties": ["n": ["type": "integer"]], "required": ["n"]]
        let compiled = try #require(try? JSONSchema(schema))
        let decoder = ReplyDecoder(stepName: "s", output: .schema(schema, location: SourceLocation(file: "t.yaml", line: 1, column: 1)), schema: compiled, reasoning: .separate)
        let decoded = try decoder.decode(Completion(content: "```json\n{\"n\": 2}\n```"))
        #expect(decoded.output == ["n": 2])
        #expect(throws: ReplyDecoder.Invalid.self) { try decoder.decode(Completion(content: #"{"n": 2.5}"#)) }
        let text = ReplyDecoder(stepName: "t", output: .text, schema: nil, reasoning: .separate)
        let thought = try text.decode(Completion(content: "<think>hmm</think>Answer", reasoningContent: nil))
        #expect(thought.output == "Answer")
        #expect(thought.reasoning == "hmm")
    }
}
