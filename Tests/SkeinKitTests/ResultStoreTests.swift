import Foundation
import SkeinTesting
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// The result store through the scheduler, against a real SkeinTesting server: requests
/// are counted at the server.
@Suite struct ResultStoreTests {
    /// A fresh store file in a new temporary directory.
    static func temporaryStore() throws -> (SQLiteResultStore, URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return (try SQLiteResultStore(path: directory.appendingPathComponent("store.sqlite").path), directory)
    }

    static func run(_ graph: PipelineGraph, store: any ResultStore, inputs: JSONValue.JSONObject = [:],
                    options: Scheduler.Options = .init(concurrency: 16), streaming: Bool = false) async throws -> Scheduler.Outcome
    {
        var options = options
        options.streaming = streaming
        let final = options
        return try await HTTPCompletionClient.withClient(configuration: .init(retryPolicy: RetryPolicy(maxRetries: 0))) { client in
            await Scheduler(graph: graph, client: client, store: store, options: final).run(inputs: inputs)
        }
    }

    static let chain = """
          a:
            prompt: "summarize {{ inputs.text }}"
          b:
            prompt: "translate {{ steps.a.output }}"
          c:
            prompt: "title {{ inputs.text }}"
        """
    static let chainOutputs = "outputs:\n  b: \"{{ steps.b.output }}\"\n  c: \"{{ steps.c.output }}\""
    static let textInput = "inputs:\n  text: {type: string}"

    @Test(arguments: StoreKind.allCases) func anUnchangedRerunMakesNoRequestsAndPrintsTheSameOutputs(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        try await SkeinTestServer.withRunning(.init()) { server in
            let graph = try SchedulerTests.graph(Self.chain, server: server, inputs: Self.textInput, outputs: Self.chainOutputs)
            let first = try await Self.run(graph, store: store, inputs: ["text": "hello"])
            #expect(first.status == .succeeded)
            #expect(await server.requests.count == 3)
            // Streaming or not, the same question: the second run (streamed) is served from the store.
            let second = try await Self.run(graph, store: store, inputs: ["text": "hello"], streaming: true)
            #expect(second.status == .succeeded)
            #expect(await server.requests.count == 3, "the re-run made requests")
            #expect(second.outputs == first.outputs)
            #expect(second.results.values.map(\.cacheHits) == [1, 1, 1])
            #expect(second.results.values.map(\.requests) == [0, 0, 0])
            // Other inputs: new requests.
            _ = try await Self.run(graph, store: store, inputs: ["text": "bye"])
            #expect(await server.requests.count == 6)
        }
    }

    @Test(arguments: StoreKind.allCases) func editingOnePromptRerunsThatStepAndOnlyWhatItsOutputChanged(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        try await SkeinTestServer.withRunning(.init()) { server in
            let original = try SchedulerTests.graph(Self.chain, server: server, inputs: Self.textInput, outputs: Self.chainOutputs)
            _ = try await Self.run(original, store: store, inputs: ["text": "hello"])
            await server.resetRecords()

            // Editing a's prompt changes a's output, so b's rendered request changes too; c stays.
            let editedA = try SchedulerTests.graph(
                Self.chain.replacingOccurrences(of: "summarize", with: "shorten"), server: server, inputs: Self.textInput,
                outputs: Self.chainOutputs)
            let outcome = try await Self.run(editedA, store: store, inputs: ["text": "hello"])
            #expect(outcome.status == .succeeded)
            let prompts = await server.requests.compactMap(\.lastUserMessage).sorted()
            #expect(prompts == ["shorten hello", "translate echo: shorten hello"])
            #expect(outcome.results["c"]?.cacheHits == 1)
            await server.resetRecords()

            // Editing only b's prompt re-runs b alone.
            let editedB = try SchedulerTests.graph(
                Self.chain.replacingOccurrences(of: "translate", with: "rephrase"), server: server, inputs: Self.textInput,
                outputs: Self.chainOutputs)
            _ = try await Self.run(editedB, store: store, inputs: ["text": "hello"])
            #expect(await server.requests.compactMap(\.lastUserMessage) == ["rephrase echo: summarize hello"])
            await server.resetRecords()

            // A change to a's request that leaves its output as it was (the echo server ignores
            // temperature) re-runs a, and b's request is unchanged: served from the store.
            let tempered = try SchedulerTests.graph(
                Self.chain.replacingOccurrences(of: "    prompt: \"summarize", with: "    temperature: 0.3\n    prompt: \"summarize"),
                server: server, inputs: Self.textInput, outputs: Self.chainOutputs)
            let outcome3 = try await Self.run(tempered, store: store, inputs: ["text": "hello"])
            #expect(await server.requests.compactMap(\.lastUserMessage) == ["summarize hello"])
            #expect(outcome3.results["b"]?.cacheHits == 1)
        }
    }

    @Test(arguments: StoreKind.allCases) func refreshCallsEverythingAndOfflineCallsNothing(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        try await SkeinTestServer.withRunning(.init()) { server in
            let graph = try SchedulerTests.graph(Self.chain, server: server, inputs: Self.textInput, outputs: Self.chainOutputs)
            // Offline with an empty store: fails, naming the missing steps, with no request.
            let offline = try await Self.run(graph, store: store, inputs: ["text": "hello"],
                                             options: .init(failurePolicy: .keepGoing, cachePolicy: .offline))
            #expect(offline.status == .failed)
            #expect(Set(offline.failedSteps.map(\.name)) == ["a", "c"])
            #expect(offline.failedSteps.allSatisfy { $0.message?.contains("--offline") == true })
            #expect(await server.requests.isEmpty)

            _ = try await Self.run(graph, store: store, inputs: ["text": "hello"])
            #expect(await server.requests.count == 3)
            // --no-cache: every request again.
            let refreshed = try await Self.run(graph, store: store, inputs: ["text": "hello"], options: .init(cachePolicy: .refresh))
            #expect(refreshed.status == .succeeded)
            #expect(await server.requests.count == 6)
            // Offline with everything stored: succeeds, no request.
            let stored = try await Self.run(graph, store: store, inputs: ["text": "hello"], options: .init(cachePolicy: .offline))
            #expect(stored.status == .succeeded)
            #expect(stored.outputs == refreshed.outputs)
            #expect(await server.requests.count == 6)
        }
    }

    @Test(arguments: StoreKind.allCases) func aStepWithCacheFalseAlwaysCalls(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        try await SkeinTestServer.withRunning(.init()) { server in
            let graph = try SchedulerTests.graph("""
                  kept:
                    prompt: kept
                  fresh:
                    prompt: fresh
                    cache: false
                """, server: server)
            _ = try await Self.run(graph, store: store)
            _ = try await Self.run(graph, store: store)
            let prompts = await server.requests.compactMap(\.lastUserMessage).sorted()
            #expect(prompts == ["fresh", "fresh", "kept"])
        }
    }

    /// One `for_each` step over `inputs.items`, asking "item <item>" for each.
    static func forEachGraph(
        _ server: SkeinTestServer, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws -> PipelineGraph {
        try SchedulerTests.graph("""
              each:
                for_each: "{{ inputs.items }}"
                as: item
                prompt: "item {{ item }}"
            """, server: server, inputs: "inputs:\n  items: {type: array}", sourceLocation: sourceLocation)
    }

    @Test(arguments: StoreKind.allCases) func forEachItemsAreStoredOneByOne(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        try await SkeinTestServer.withRunning(.init()) { server in
            let first = try Self.forEachGraph(server)
            _ = try await Self.run(first, store: store, inputs: ["items": ["x", "y"]])
            await server.resetRecords()
            // One more item: only the new one is requested, and the list keeps item order.
            let outcome = try await Self.run(first, store: store, inputs: ["items": ["x", "new", "y"]])
            #expect(await server.requests.compactMap(\.lastUserMessage) == ["item new"])
            #expect(outcome.results["each"]?.output == ["echo: item x", "echo: item new", "echo: item y"])
            #expect(outcome.results["each"]?.cacheHits == 2)
        }
    }

    /// A store whose request records take `delay` to become durable.
    actor SlowRecordingStore: ResultStore {
        let inner = MemoryResultStore()
        let delay: Duration
        init(delay: Duration) { self.delay = delay }
        func completion(for key: RequestKey) async throws -> Completion? { try await inner.completion(for: key) }
        func beginRun(_ run: RunRecord) async throws -> Int64 { try await inner.beginRun(run) }
        nonisolated func record(_ request: RequestRecord) async throws {
            try await Task.sleep(for: delay)
            try await inner.record(request)
        }
        func record(_ step: StepRecord) async throws { try await inner.record(step) }
        func toolExecution(for key: ToolKey) async throws -> StoredToolExecution? { try await inner.toolExecution(for: key) }
        func record(_ tool: ToolRecord) async throws { try await inner.record(tool) }
        func record(_ test: TestVerdictsRecord) async throws { try await inner.record(test) }
        func record(_ row: RowResultRecord) async throws { try await inner.record(row) }
        func endRun(_ id: Int64, status: String, outputs: JSONValue?, endedAt: Date) async throws {
            try await inner.endRun(id, status: status, outputs: outputs, endedAt: endedAt)
        }
    }

    /// The concurrency slot is the provider's: it is given back when the reply arrives, and
    /// the next request goes out while the reply is still being stored. The step still ends
    /// with every reply stored.
    @Test func theNextRequestGoesOutWhileAReplyIsBeingStored() async throws {
        // Six seconds against a bound of four: under the whole suite's load on two cores the
        // second request once took 2.2 s to go out, slot or no slot.
        let store = SlowRecordingStore(delay: .seconds(6))
        try await SkeinTestServer.withRunning(.init()) { server in
            let graph = try Self.forEachGraph(server)
            let outcome = try await Self.run(graph, store: store, inputs: ["items": ["x", "y"]], options: .init(concurrency: 1))
            #expect(outcome.status == .succeeded)
            let arrivals = await server.requests.map(\.arrival).sorted()
            try #require(arrivals.count == 2)
            // Holding the slot through the store's delay would put the arrivals six seconds apart.
            #expect(arrivals[1] - arrivals[0] < .seconds(4), "\(arrivals[1] - arrivals[0])")
            #expect(await store.inner.requests.count == 2)
        }
    }

    @Test(arguments: StoreKind.allCases) func aProviderThatRejectedJSONSchemaIsServedFromTheStoreWithoutAsking(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        try await SkeinTestServer.withRunning(.init(rejectsJSONSchema: true)) { server in
            let graph = try SchedulerTests.graph("""
                  extract:
                    output: {schema: {type: object, required: [title], properties: {title: {type: string}}}}
                    prompt: extract a title
                """, server: server, outputs: "outputs:\n  title: \"{{ steps.extract.output.title }}\"")
            let first = try await Self.run(graph, store: store)
            #expect(first.status == .succeeded)
            #expect(await server.requests.count == 2)
            // A new process knows nothing of the rejection; the stored json_object reply answers.
            let second = try await Self.run(graph, store: store)
            #expect(second.status == .succeeded)
            #expect(second.outputs == first.outputs)
            #expect(await server.requests.count == 2)
        }
    }

    @Test(arguments: StoreKind.allCases) func theHistoryRecordsRunsStepsAndTheExactRequests(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        try await SkeinTestServer.withRunning(.init()) { server in
            let graph = try SchedulerTests.graph(Self.chain, server: server, inputs: Self.textInput, outputs: Self.chainOutputs)
            let record = RunRecord(pipelinePath: "p.yaml", pipelineSHA256: "abc", gitCommit: "0123", inputs: ["text": "hello"])
            let outcome = try await HTTPCompletionClient.withClient { client in
                await Scheduler(graph: graph, client: client, store: store).run(inputs: ["text": "hello"], record: record)
            }
            let id = try #require(outcome.runID)
            let runs = try await store.runs()
            #expect(runs.map(\.id) == [id])
            #expect(runs.first?.status == "succeeded")
            #expect(runs.first?.requests == 3)
            #expect(runs.first?.gitCommit == "0123")
            let detail = try await store.run(id)
            #expect(Set(detail.steps.map(\.step)) == ["a", "b", "c"])
            #expect(detail.steps.first { $0.step == "b" }?.output == #""echo: translate echo: summarize hello""#)
            #expect(try JSONValue(parsing: detail.outputs ?? "") == .object(outcome.outputs))
            let requests = try await store.requests(run: id, step: "b")
            #expect(requests.count == 1)
            let sent = try JSONValue(parsing: try #require(requests.first?.request))
            #expect(sent["messages"]?.arrayValue?.first?["content"] == "translate echo: summarize hello")
            #expect(sent["stream"] == nil)
            let reply = try JSONValue(parsing: try #require(requests.first?.response))
            #expect(reply["choices"]?.arrayValue?.first?["message"]?["content"] == "echo: translate echo: summarize hello")
            #expect(try await store.resolveRun("last") == id)
            await #expect(throws: StoreError.self) { try await store.resolveRun("last~1") }
            if let sqlite = store as? SQLiteResultStore { #expect(try await sqlite.integrityCheck() == "ok") }
        }
    }

    @Test func requestKeysIgnoreStreamingAndSeeEveryParameter() throws {
        let provider = ProviderConfiguration(name: "p", baseURL: "http://h/v1/", apiKeyEnvironmentVariable: "KEY")
        let plain = CompletionRequest.chat(model: "m", messages: [.user("hi")])
        let streamed = CompletionRequest.chat(model: "m", messages: [.user("hi")], stream: true)
        #expect(RequestKey(provider: provider, request: plain) == RequestKey(provider: provider, request: streamed))
        var sampling = SamplingParameters()
        sampling.temperature = 0.5
        let warmer = CompletionRequest.chat(model: "m", messages: [.user("hi")], sampling: sampling)
        #expect(RequestKey(provider: provider, request: plain) != RequestKey(provider: provider, request: warmer))
        #expect(RequestKey(provider: provider, request: plain)
            != RequestKey(provider: provider, request: .chat(model: "m2", messages: [.user("hi")])))
        #expect(RequestKey(provider: provider, request: plain)
            != RequestKey(provider: provider, request: .completion(model: "m", prompt: "hi")))
        var elsewhere = provider
        elsewhere.baseURL = "http://other/v1"
        #expect(RequestKey(provider: provider, request: plain) != RequestKey(provider: elsewhere, request: plain))
        var trailing = provider
        trailing.baseURL = "http://h/v1"
        #expect(RequestKey(provider: provider, request: plain) == RequestKey(provider: trailing, request: plain))
        #expect(RequestKey(provider: provider, request: plain).hex.count == 64)
    }

    /// Lookups are answered in batches on the writer's connection, between group commits:
    /// each must see every write that returned before it was asked, its own process's and
    /// another's, and a key never written must stay a miss.
    @Test func batchedLookupsSeeEveryCommittedWrite() async throws {
        let (store, directory) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let other = try SQLiteResultStore(path: store.path)
        let provider = ProviderConfiguration(name: "p", baseURL: "http://127.0.0.1:1/v1")
        let runID = try await store.beginRun(RunRecord(pipelinePath: "p.yaml", pipelineSHA256: "0", inputs: [:]))
        func key(_ index: Int) -> RequestKey {
            RequestKey(provider: provider, request: .chat(model: "m", messages: [.user("question \(index)")]))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<300 {
                group.addTask {
                    #expect(try await store.completion(for: key(index)) == nil)
                    try await store.record(RequestRecord(
                        runID: runID, step: "s", item: index, key: key(index), provider: provider, api: .chat, model: "m",
                        completion: Completion(content: "answer \(index)"), cached: false, attempts: 1,
                        startedAt: Date(), duration: .zero))
                    #expect(try await store.completion(for: key(index))?.content == "answer \(index)")
                    #expect(try await other.completion(for: key(index))?.content == "answer \(index)")
                    #expect(try await store.completion(for: key(index + 1_000)) == nil)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await other.cacheStats().entries == 300)
    }

    /// The inserts every request makes go through SQLite's C API (`SQLiteRawStatement`): a
    /// write that SQLite refuses (here a history row for a run that does not exist, which the
    /// foreign key forbids) fails alone with SQLite's message, the writes committed with it
    /// are kept, and the statement it failed in keeps working.
    @Test func aRefusedWriteFailsAloneAndTheStatementsStayUsable() async throws {
        let (store, directory) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let provider = ProviderConfiguration(name: "p", baseURL: "http://127.0.0.1:1/v1")
        let runID = try await store.beginRun(RunRecord(pipelinePath: "p.yaml", pipelineSHA256: "0", inputs: [:]))
        func record(_ index: Int, run: Int64) -> RequestRecord {
            RequestRecord(
                runID: run, step: "s", item: index,
                key: RequestKey(provider: provider, request: .chat(model: "m", messages: [.user("question \(index)")])),
                provider: provider, api: .chat, model: index.isMultiple(of: 2) ? "m" : nil,
                completion: Completion(content: "answer \(index)", usage: .init(promptTokens: 3, completionTokens: index)),
                error: index.isMultiple(of: 3) ? "" : nil, cached: false, attempts: 1, startedAt: Date(), duration: .zero)
        }
        let failures = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<40 {
                group.addTask {
                    do {
                        try await store.record(record(index, run: index == 20 ? runID + 100 : runID))
                        return nil
                    } catch {
                        return "\(error)"
                    }
                }
            }
            return try await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
        }
        #expect(failures.count == 1)
        #expect(failures.first?.contains("FOREIGN KEY constraint failed") == true, "\(failures)")
        try await store.record(record(40, run: runID))
        let rows = try await store.requests(run: runID)
        #expect(rows.count == 40)
        #expect(Set(rows.compactMap(\.item)) == Set((0...40).filter { $0 != 20 }))
        let row = try #require(rows.first { $0.item == 9 })
        #expect(row.model == nil && row.error == "" && row.usage == #"{"prompt_tokens":3,"completion_tokens":9,"total_tokens":12}"#)
        #expect(rows.first { $0.item == 10 }?.model == "m")
        #expect(try await store.completion(for: record(20, run: runID).key) == nil)
        #expect(try await store.completion(for: record(40, run: runID).key)?.content == "answer 40")
        #expect(try await store.cacheStats().entries == 40)
    }

    @Test func twoStoresOnOneFileWriteAtTheSameTime() async throws {
        let (first, directory) = try Self.temporaryStore()
        defer { try? FileManager.default.removeItem(at: directory) }
        let second = try SQLiteResultStore(path: first.path)
        try await SkeinTestServer.withRunning(.init()) { server in
            let steps = (0..<40).map { "  s\($0):\n    prompt: step \($0)" }.joined(separator: "\n")
            let graph = try SchedulerTests.graph(steps, server: server)
            async let a = Self.run(graph, store: first)
            async let b = Self.run(graph, store: second)
            let (one, two) = try await (a, b)
            #expect(one.status == .succeeded, "\(one.failedSteps.map(\.message))")
            #expect(two.status == .succeeded, "\(two.failedSteps.map(\.message))")
            #expect(try await first.runs().count == 2)
            #expect(try await first.cacheStats().entries == 40)
            #expect(try await second.integrityCheck() == "ok")
        }
    }

    @Test func aStoreThatIsNotADatabaseIsAClearError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("broken.sqlite").path
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: StoreError.self) { try SQLiteResultStore(path: path) }
        #expect(error.message.contains(path))
        #expect(error.message.contains("not a readable SQLite database"))
        #expect(error.message.contains("--store"))
    }

    @Test(arguments: StoreKind.allCases) func cacheMaintenanceCountsClearsAndPrunes(kind: StoreKind) async throws {
        guard let opened = try await kind.open() else { return }
        defer { opened.cleanup() }
        let store = opened.store
        try await SkeinTestServer.withRunning(.init()) { server in
            let graph = try SchedulerTests.graph(Self.chain, server: server, inputs: Self.textInput, outputs: Self.chainOutputs)
            _ = try await Self.run(graph, store: store, inputs: ["text": "hello"])
            _ = try await Self.run(graph, store: store, inputs: ["text": "hello"])
            let stats = try await store.cacheStats()
            #expect(stats.entries == 3)
            #expect(stats.runs == 2)
            #expect(stats.recentHitRate == 0.5)
            #expect(stats.payloadBytes > 0)
            #expect(try await store.pruneCache(unusedSince: Date().addingTimeInterval(-3600)) == 0)
            #expect(try await store.pruneCache(unusedSince: Date().addingTimeInterval(1)) == 3)
            _ = try await Self.run(graph, store: store, inputs: ["text": "hello"])
            #expect(await server.requests.count == 6)
            #expect(try await store.clearCache() == 3)
            #expect(try await store.cacheStats().entries == 0)
            // The history stays.
            #expect(try await store.runs().count == 3)
        }
    }
}

/// Replies from small models: JSON with raw newlines inside strings is still JSON enough.
@Suite struct LenientJSONReplyTests {
    @Test func rawControlCharactersInsideStringsAreAccepted() throws {
        let reply = "{ \"headline\": \"first line\nsecond\tline\" , \"tags\": [\"a\"] }"
        let value = try #require(ReplyDecoder.extractJSON(reply))
        #expect(value["headline"] == "first line\nsecond\tline")
        #expect(value["tags"] == ["a"])
        // Escapes already there, and newlines between tokens, are left alone.
        #expect(ReplyDecoder.extractJSON("{\n\"a\": \"x\\\"y\"\n}")?["a"] == "x\"y")
        #expect(ReplyDecoder.extractJSON("{\"a\": \"never closed}") == nil)
    }
}
