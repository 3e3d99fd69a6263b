import Foundation
import SkeinTesting
import Synchronization
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// Cost and the budget (DESIGN.md section 9): the reservation arithmetic, the meter that
/// waits for requests in flight, prices from model lists, and `--max-cost` in the engine.
@Suite struct CostTests {
    // MARK: BudgetLedger

    @Test func aRequestStartsOnlyWhenWhatIsSpentAndReservedLeavesRoomForItsMost() {
        var ledger = BudgetLedger(budget: 1.0)
        #expect(ledger.reserve(0.4) == .start)
        #expect(ledger.reserve(0.4) == .start)
        // 0.8 reserved: a third 0.4 could take the spend to 1.2, but two are in flight.
        #expect(ledger.reserve(0.4) == .wait)
        ledger.settle(reserved: 0.4, cost: 0.1)
        // Spent 0.1, reserved 0.4: 0.4 more fits.
        #expect(ledger.reserve(0.4) == .start)
        ledger.settle(reserved: 0.4, cost: 0.4)
        ledger.settle(reserved: 0.4, cost: 0.35)
        #expect(ledger.spent == 0.85 && ledger.reserved == 0 && ledger.inFlight == 0)
        // Nothing in flight and it does not fit: refused, and everything after it too.
        #expect(ledger.reserve(0.2) == .refuse(.init(needed: 0.2, spent: 0.85)))
        #expect(ledger.reserve(0.01) == .refuse(.init(needed: 0.2, spent: 0.85)))
        #expect(ledger.refusal != nil)
    }

    @Test func theSpendNeverPassesTheBudgetAndStopsLessThanOneReservationShort() {
        // Requests that reserve 0.03 and cost 0.02–0.03, one at a time, against $1.
        var ledger = BudgetLedger(budget: 1.0)
        var costs = (0..<1000).map { 0.02 + Double($0 % 7) * 0.0015 }.makeIterator()
        while case .start = ledger.reserve(0.03) {
            ledger.settle(reserved: 0.03, cost: costs.next() ?? 0.03)
        }
        #expect(ledger.spent <= 1.0)
        #expect(ledger.spent > 1.0 - 0.03)
    }

    // MARK: CostMeter

    @Test func aRequestThatDoesNotFitWaitsForOneInFlightAndStartsWhenItLeavesRoom() async throws {
        let meter = CostMeter(budget: 1.0)
        let first = try await meter.reserve(0.6)
        let started = Atomic<Bool>(false)
        let waiting = Task {
            let reservation = try await meter.reserve(0.6)
            started.store(true, ordering: .sequentiallyConsistent)
            meter.settle(reservation, cost: 0.5, step: "b", label: "p/m")
        }
        try await Task.sleep(for: .milliseconds(100))
        let startedEarly = started.load(ordering: .sequentiallyConsistent)
        #expect(!startedEarly)
        meter.settle(first, cost: 0.3, step: "a", label: "p/m")
        try await waiting.value
        let startedAfter = started.load(ordering: .sequentiallyConsistent)
        #expect(startedAfter)
        let spend = meter.spend
        #expect(abs(spend.total - 0.8) < 1e-12)
        #expect(spend.cost(of: "a") == 0.3 && spend.cost(of: "b") == 0.5)
        // 0.2 left, nothing in flight: a request that may cost 0.6 is refused, naming the spend.
        await #expect(throws: BudgetExceeded(budget: 1.0, spent: 0.8, needed: 0.6)) { try await meter.reserve(0.6) }
        #expect(meter.isExhausted)
        #expect(meter.spend.refusal == .init(needed: 0.6, spent: 0.8))
    }

    @Test func waitersAreRefusedWhenTheLastRequestInFlightLeavesTooLittle() async throws {
        let meter = CostMeter(budget: 1.0)
        let first = try await meter.reserve(0.9)
        let waiters = (0..<3).map { _ in Task { try await meter.reserve(0.5) } }
        try await Task.sleep(for: .milliseconds(50))
        meter.settle(first, cost: 0.9, step: "a", label: "p/m")
        for waiter in waiters {
            await #expect(throws: BudgetExceeded.self) { _ = try await waiter.value }
        }
    }

    @Test func withoutABudgetRepliesWithNoPriceAreNamedAndTheStepsCostIsUnknown() async throws {
        let meter = CostMeter()
        meter.settle(try await meter.reserve(123), cost: 0.25, step: "a", label: "p/priced")
        meter.settle(try await meter.reserve(123), cost: nil, step: "b", label: "p/free-for-all")
        let spend = meter.spend
        #expect(spend.total == 0.25 && !spend.isComplete && spend.unpriced == ["p/free-for-all"])
        #expect(spend.cost(of: "a") == 0.25 && spend.cost(of: "b") == nil && spend.cost(of: "never-ran") == 0)
    }

    // MARK: What a request reserves

    @Test func aRequestReservesItsMaxTokensAtTheOutputPriceAndItsBytesAtTheInputPrice() throws {
        let price = ProviderConfiguration.Price(inputPerMillion: 1, outputPerMillion: 10)
        let request = CompletionRequest.chat(
            model: "m", messages: [ChatMessage(role: .user, content: .text("hello there"))],
            sampling: SamplingParameters(maxTokens: 100))
        let bytes = JSONValue.object(request.body).serialized().utf8.count
        // The bound is at least every byte of the body, and not far above it.
        #expect(request.promptTokenBound >= bytes && request.promptTokenBound < 2 * bytes)
        #expect(request.outputTokenBound == 100)
        #expect(abs(request.costBound(at: price) - (Double(request.promptTokenBound) * 1 + 100 * 10) / 1_000_000) < 1e-15)
        let unbounded = CompletionRequest.chat(model: "m", messages: [ChatMessage(role: .user, content: .text("hi"))])
        #expect(unbounded.outputTokenBound == CompletionRequest.reservedOutputTokensWithoutLimit)
        #expect(CompletionRequest.reservedOutputTokensWithoutLimit == 4_096)
    }

    // MARK: Prices from model lists

    @Test func novitaListsPricesInTenThousandthsOfADollarAndOpenRouterInDollarsPerToken() throws {
        let list = try JSONValue(parsing: """
            {"data": [
              {"id": "meta-llama/llama-3.3-70b-instruct", "input_token_price_per_m": 3900, "output_token_price_per_m": 3900},
              {"id": "openai/gpt-4o-mini", "pricing": {"prompt": "0.00000015", "completion": "0.0000006", "input_cache_read": "0.000000075"}},
              {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}},
              {"id": "plain"}
            ]}
            """)
        let models = try #require(ModelInfo.decodeList(list))
        let llama = try #require(models[0].price)
        #expect(abs(llama.inputPerMillion - 0.39) < 1e-12 && abs(llama.outputPerMillion - 0.39) < 1e-12)
        let mini = try #require(models[1].price)
        #expect(abs(mini.inputPerMillion - 0.15) < 1e-9 && abs(mini.outputPerMillion - 0.6) < 1e-9)
        #expect(abs((mini.cachedInputPerMillion ?? 0) - 0.075) < 1e-9)
        #expect(models[2].price == nil && models[3].price == nil)
    }

    @Test func theTestServerListsPricesAndThePipelinesPricingWinsOverThem() async throws {
        let configuration = SkeinTestServer.Configuration(
            modelIDs: ["listed", "routed", "unlisted"],
            modelPrices: [
                "listed": .init(inputPerMillion: 0.2, outputPerMillion: 0.8),
                "routed": .init(inputPerMillion: 3, outputPerMillion: 15, style: .openRouter),
            ])
        try await SkeinTestServer.withRunning(configuration) { server in
            try await HTTPCompletionClient.withClient { client in
                var provider = ProviderConfiguration(name: "test", baseURL: server.baseURL)
                provider.pricing = ["pinned": .init(inputPerMillion: 9, outputPerMillion: 9)]
                let book = PriceBook()
                let uses = ["listed", "routed", "unlisted", "pinned"].map { PriceBook.Use(provider: provider, model: $0) }
                #expect(book.price(provider: provider, model: "listed") == nil)
                let missing = await book.loadListedPrices(for: uses, client: client)
                #expect(missing.map(\.use.model) == ["unlisted"])
                #expect(missing.first?.reason == "its model list carries no price for 'unlisted'")
                #expect(book.price(provider: provider, model: "listed") == .init(inputPerMillion: 0.2, outputPerMillion: 0.8))
                let routed = try #require(book.price(provider: provider, model: "routed"))
                #expect(abs(routed.inputPerMillion - 3) < 1e-9 && abs(routed.outputPerMillion - 15) < 1e-9)
                #expect(book.price(provider: provider, model: "pinned")?.inputPerMillion == 9)
                // The pipeline's own price wins over the list's.
                provider.pricing["listed"] = .init(inputPerMillion: 1, outputPerMillion: 2)
                #expect(book.price(provider: provider, model: "listed")?.outputPerMillion == 2)
                // One list read for the provider.
                #expect(await server.requests.filter { $0.path.hasSuffix("/models") }.count == 1)
            }
        }
    }

    // MARK: --max-cost in the engine

    static let pricedProvider = """
        providers:
          scripted:
            base_url: http://127.0.0.1:9/v1
            api_key_env: null
            pricing: {"*": {input_per_million: 0, output_per_million: 1000}}
        """

    @Test func aRunStopsAtTheBudgetAsAFailureNamingItAndCountsOnlyRepliesFromTheProvider() async throws {
        // Each reply: 10 words out at $1,000 per million = $0.01; each request reserves 20 tokens out = $0.02.
        let steps = (0..<8).map { "  s\($0):\n    prompt: step \($0)\n    max_tokens: 20" }.joined(separator: "\n")
        let text = """
            version: 1
            defaults:
              provider: scripted
              model: scripted-model
            \(Self.pricedProvider)
            steps:
            \(steps)
            """
        let loaded = PipelineValidator().validateGraph(text: text, path: "budget.yaml")
        let budgetGraph = try #require(loaded.0, "\(loaded.1.diagnostics)")
        let client = ScriptedCompletionClient(fallback: .text("one two three four five six seven eight nine ten"))
        let session = RunSession(graph: budgetGraph, options: .init(concurrency: 1, maxCost: 0.045))
        let outcome = await session.scheduler(client: client, store: nil).run(inputs: [:])
        #expect(outcome.status == .failed)
        // $0.045: after three replies ($0.03) the fourth could cost $0.02 more, and nothing is
        // in flight to wait for: refused, $0.015 (less than one reservation) short of the budget.
        #expect(client.requests.count == 3)
        #expect(abs(outcome.spend.total - 0.03) < 1e-9)
        #expect(outcome.spend.refusal != nil)
        let failure = try #require(outcome.failedSteps.first?.failure)
        #expect(failure.isBudgetStop)
        #expect(failure.description == "budget: the next request could cost up to $0.0200 and $0.0300 of --max-cost $0.0450 is spent; "
            + "raise --max-cost and run again to continue (what finished is stored)")
    }

    @Test func aModelWithoutAPriceIsAnErrorAtTheStepBeforeAnyRequest() async throws {
        let graph = try ScriptedRunTests.graph("""
            steps:
              only:
                prompt: hello
            """)
        let client = ScriptedCompletionClient()
        let session = RunSession(graph: graph, options: .init(maxCost: 1))
        await #expect(throws: DiagnosticsError.self) { try await session.loadPrices(client: client) }
        do {
            try await session.loadPrices(client: client)
        } catch let error as DiagnosticsError {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics[0].location?.line == 11)
            #expect(error.diagnostics[0].message.hasPrefix(
                "--max-cost $1.0000 needs the price of every model: step 'only' uses 'scripted-model' at provider 'scripted', "
                    + "and its model list carries no price for 'scripted-model'; give the provider 'pricing:'"))
        }
        let outcome = await session.scheduler(client: client, store: nil).run(inputs: [:])
        #expect(outcome.status == .failed && client.requests.isEmpty)
        // Without a budget the list is not read and the run goes on, its cost unknown.
        let free = await RunSession(graph: graph).scheduler(client: client, store: nil).run(inputs: [:])
        #expect(free.status == .succeeded && free.spend.unpriced == ["scripted/scripted-model"])
    }

    @Test func everyForEachItemReservesAndTheStepStopsMidListKeepingItsCounts() async throws {
        let text = """
            version: 1
            defaults:
              provider: scripted
              model: scripted-model
            \(Self.pricedProvider)
            steps:
              each:
                for_each: "{{ [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }}"
                as: item
                prompt: "item {{ item }}"
                max_tokens: 20
            """
        let (graph, result) = PipelineValidator().validateGraph(text: text, path: "each.yaml")
        let client = ScriptedCompletionClient(fallback: .text("one two three four five six seven eight nine ten"))
        let session = RunSession(graph: try #require(graph, "\(result.diagnostics)"), options: .init(concurrency: 1, maxCost: 0.055))
        let outcome = await session.scheduler(client: client, store: nil).run(inputs: [:])
        // $0.01 a reply, $0.02 reserved: four fit (the fourth at $0.03 + $0.02), the fifth does not.
        #expect(client.requests.count == 4)
        let step = try #require(outcome.results["each"])
        #expect(step.status == .failed && step.failure?.isBudgetStop == true && step.failure?.item == 4)
        #expect(step.requests == 4)
        #expect(abs(outcome.spend.total - 0.04) < 1e-9 && outcome.spend.cost(of: "each").map { abs($0 - 0.04) < 1e-9 } == true)
    }

    @Test func everyTurnOfAToolLoopIsARequestThatCostsAndReserves() async throws {
        let pricing = "    pricing: {\"*\": {input_per_million: 0, output_per_million: 1000}}"
        let step = ToolLoopTests.weatherStep.replacingOccurrences(
            of: "    prompt: \"What should I wear", with: "    max_tokens: 5\n    prompt: \"What should I wear")
        let workspace = try ToolLoopTests.workspace(step, scripts: ["tools/weather.sh": ToolLoopTests.weatherScript], env: pricing)
        defer { try? FileManager.default.removeItem(at: workspace.directory) }
        let client = ScriptedCompletionClient(rules: [.init(.any, reply: .computed { request in
            let results = ToolLoopTests.toolResults(request)
            // 5 tokens out ($0.005), then 3 ($0.003).
            if results.isEmpty { return ToolLoopTests.calling([("get_weather", #"{"city":"Oslo"}"#)], turn: 1) }
            return ToolLoopTests.answer("Wear sunglasses")
        })])
        let free = await RunSession(graph: workspace.graph).scheduler(client: client, store: nil).run(inputs: ["city": "Oslo"])
        #expect(free.status == .succeeded)
        #expect(abs(free.spend.total - 0.008) < 1e-12 && free.spend.isComplete)
        // Each turn reserves 5 tokens out ($0.005): the second does not fit in $0.006.
        let budgeted = await RunSession(graph: workspace.graph, options: .init(maxCost: 0.006)).scheduler(client: client, store: nil)
            .run(inputs: ["city": "Oslo"])
        #expect(budgeted.status == .failed)
        #expect(budgeted.results["ask"]?.failure?.isBudgetStop == true)
        #expect(client.requests.count == 3)
        #expect(abs(budgeted.spend.total - 0.005) < 1e-12)
    }

    // MARK: The store

    @Test func theStoreKeepsEachRequestsCostAndARunsSpendCountsRepliesFromTheProviderOnly() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skein-cost-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try SQLiteResultStore(path: path)
        let run = try await store.beginRun(RunRecord(pipelinePath: "p.yaml", pipelineSHA256: "x", inputs: .object([:])))
        let provider = ProviderConfiguration(name: "p", baseURL: "http://127.0.0.1:9/v1")
        func record(_ body: String, cached: Bool, cost: Double?, step: String = "a", error: String? = nil) async throws {
            let request = CompletionRequest.chat(model: "m", messages: [ChatMessage(role: .user, content: .text(body))])
            try await store.record(RequestRecord(
                runID: run, step: step, item: nil, key: RequestKey(provider: provider, request: request), provider: provider,
                api: .chat, model: "m", completion: error == nil ? Completion(content: "ok", usage: .init(promptTokens: 1, completionTokens: 1)) : nil,
                error: error, cached: cached, attempts: cached ? 0 : 1, startedAt: Date(), duration: .zero, cost: cost))
        }
        try await record("one", cached: false, cost: 0.25)
        try await record("two", cached: true, cost: 0.5)  // what it cost when bought: not this run's spend
        try await record("three", cached: false, cost: 0, error: "HTTP 500")
        try await record("four", cached: false, cost: 0.125, step: "b")
        for step in ["a", "b"] {
            try await store.record(StepRecord(runID: run, result: StepResult(name: step, status: .finished), startedAt: Date()))
        }
        var summary = try #require(try await store.runs().first)
        #expect(summary.cost == 0.375 && summary.unpricedRequests == 0)
        var detail = try await store.run(run)
        #expect(detail.steps.map(\.cost) == [0.25, 0.125])
        #expect(try await store.requests(run: run).map(\.cost) == [0.25, 0.5, 0, 0.125])
        // A reply with no price makes its step's cost, and the run's, partly unknown.
        try await record("five", cached: false, cost: nil, step: "b")
        summary = try #require(try await store.runs().first)
        #expect(summary.cost == 0.375 && summary.unpricedRequests == 1)
        detail = try await store.run(run)
        #expect(detail.steps.map(\.cost) == [0.25, nil])
    }

    @Test func aStoreFromBeforeCostsGainsTheColumnAndItsRunsCostIsUnknown() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skein-v4-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try SQLiteResultStore.makeOlderStore(at: path, upTo: "v4-tests", then: """
            INSERT INTO runs (id, pipeline_path, pipeline_sha256, inputs, options, started_at, status, pid, host)
            VALUES (1, 'p.yaml', 'x', '{}', '{}', 0, 'succeeded', 1, 'h');
            INSERT INTO run_requests (run_id, row, step, key, provider, cached, attempts, started_at, duration, usage)
            VALUES (1, 0, 'a', 'k', 'p', 0, 1, 0, 0, '{"prompt_tokens": 1, "completion_tokens": 1}');
            """)
        let store = try SQLiteResultStore(path: path)
        let summary = try #require(try await store.runs().first)
        #expect(summary.unpricedRequests == 1 && summary.cost == 0)
        #expect(try await store.requests(run: 1).first?.cost == nil)
    }
}
