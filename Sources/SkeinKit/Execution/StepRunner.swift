import Foundation
import Synchronization

/// Runs one step: evaluates `when` and `for_each`, renders each request, calls the client
/// (under the run's global concurrency limit) and decodes the replies.
///
/// A class, not a struct: its fields (the graph above all) come to over a kilobyte, and a
/// struct was copied into the async frame of every step and request in flight and into
/// every `for_each` item's task (see BENCHMARKS.md, "Memory").
public final class StepRunner: Sendable {
    public struct Configuration: Sendable {
        /// Ask providers for streamed replies (for live progress and `--stream`).
        public var streaming: Bool
        public var environment: [String: String]
        /// How the result store is used (when there is one).
        public var cachePolicy: CachePolicy

        public init(streaming: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment,
                    cachePolicy: CachePolicy = .readWrite) {
            self.streaming = streaming
            self.environment = environment
            self.cachePolicy = cachePolicy
        }
    }

    /// Where a run's requests and results are recorded.
    public struct Recording: Sendable {
        public var store: any ResultStore
        /// The run in the store's history.
        public var runID: Int64

        public init(store: any ResultStore, runID: Int64) {
            self.store = store
            self.runID = runID
        }
    }

    let graph: PipelineGraph
    let client: any CompletionClient
    let resolver: ProviderResolver
    let configuration: Configuration
    let requestLimit: AsyncSemaphore
    let structuredSupport: StructuredOutputSupport
    let recording: Recording?
    let events: @Sendable (RunEvent) -> Void
    let toolExecutor: ToolExecutor
    /// What the run spends, and its budget (`--max-cost`).
    let meter: CostMeter
    /// What the models cost.
    let prices: PriceBook

    init(
        graph: PipelineGraph, client: any CompletionClient, resolver: ProviderResolver, configuration: Configuration,
        requestLimit: AsyncSemaphore, structuredSupport: StructuredOutputSupport, recording: Recording?,
        events: @escaping @Sendable (RunEvent) -> Void, meter: CostMeter = CostMeter(), prices: PriceBook = PriceBook()
    ) {
        self.graph = graph
        self.client = client
        self.resolver = resolver
        self.configuration = configuration
        self.requestLimit = requestLimit
        self.structuredSupport = structuredSupport
        self.recording = recording
        self.events = events
        self.toolExecutor = ToolExecutor(pipeline: graph.pipeline, environment: configuration.environment)
        self.meter = meter
        self.prices = prices
    }

    /// The template context for a step: `inputs`, `steps` (results so far), `env` (listed names only).
    static func context(inputs: JSONValue.JSONObject, results: [String: StepResult], pipeline: Pipeline,
                        environment: [String: String]) -> [String: JSONValue]
    {
        var steps = JSONValue.JSONObject()
        for (name, result) in results { steps[name] = result.templateValue }
        return context(inputs: inputs, steps: steps, pipeline: pipeline, environment: environment)
    }

    /// The template context for a step from the `steps` object the scheduler keeps: each
    /// result's `templateValue` is built once, when the step ends, not again for every step
    /// that starts after it (which made a run quadratic in its number of steps).
    static func context(inputs: JSONValue.JSONObject, steps: JSONValue.JSONObject, pipeline: Pipeline,
                        environment: [String: String]) -> [String: JSONValue]
    {
        var env = JSONValue.JSONObject()
        for name in pipeline.environment { env[name.value] = .string(environment[name.value] ?? "") }
        return ["inputs": .object(inputs), "steps": .object(steps), "env": .object(env)]
    }

    /// Runs the step at `index` with the given upstream results (`steps`: each finished
    /// step's `templateValue` by name), and records its result in the store's history
    /// before returning it (so nothing downstream starts before the step is durable).
    func run(_ index: Int, inputs: JSONValue.JSONObject, steps: JSONValue.JSONObject, row: Int = 0) async -> StepResult {
        let startedAt = Date()
        let result = await execute(index, inputs: inputs, steps: steps, row: row)
        guard recording != nil, result.status != .notRun else { return result }
        return await recordStep(result, row: row, startedAt: startedAt)
    }

    /// Records a step's result in the run's history; a store that fails turns the step into
    /// a failure. Not inlined into `run`, whose frame every step in flight holds.
    @inline(never)
    func recordStep(_ result: StepResult, row: Int, startedAt: Date) async -> StepResult {
        guard let recording else { return result }
        do {
            try await recording.store.record(StepRecord(runID: recording.runID, row: row, result: result, startedAt: startedAt))
            return result
        } catch {
            return StepResult(
                name: result.name, status: .failed, failure: StepFailure.from(error), requests: result.requests,
                retries: result.retries, cacheHits: result.cacheHits, duration: result.duration)
        }
    }

    /// Runs a step. The work before the first request and the assembly of the result are
    /// plain functions, and what the requests need is one `PreparedStep` object: an async
    /// function keeps what lives across its awaits in its frame, and this one's, held by
    /// every step in flight, had grown to 19 KB.
    func execute(_ index: Int, inputs: JSONValue.JSONObject, steps: JSONValue.JSONObject, row: Int) async -> StepResult {
        let started = ContinuousClock.now
        let step: PreparedStep
        switch prepare(index, inputs: inputs, steps: steps, started: started) {
        case .done(let result): return result
        case .run(let prepared): step = prepared
        }
        do {
            guard let items = step.items else {
                emitStepStarted(step.name, items: nil)
                let item = try await runItem(step.builder, variables: step.variables, item: nil, row: row)
                return Self.result(of: item, name: step.name, started: started)
            }
            emitStepStarted(step.name, items: items.count)
            return Self.result(of: try await runItems(step, items: items, row: row), name: step.name, started: started)
        } catch {
            return Self.result(of: error, name: step.name, started: started)
        }
    }

    // The event and the results are built in synchronous functions that are not inlined:
    // each `RunEvent` or `StepResult` built inline took a slot of its own in `execute`'s
    // async frame, which every step in flight holds (every row's, in a `--batch` wave).
    @inline(never)
    func emitStepStarted(_ name: String, items: Int?) {
        events(.stepStarted(step: name, items: items))
    }

    /// The result of a step whose request failed for good or was interrupted.
    @inline(never)
    static func result(of error: any Error, name: String, started: ContinuousClock.Instant) -> StepResult {
        switch error {
        case is CancellationError:
            return StepResult(name: name, status: .notRun, note: "interrupted", duration: ContinuousClock.now - started)
        case let failure as CountedFailure:
            return StepResult(
                name: name, status: .failed, failure: failure.failure,
                requests: failure.requests,
                retries: failure.retries ?? max(failure.requests - 1, 0), cacheHits: failure.cacheHits, duration: ContinuousClock.now - started)
        default:
            return StepResult(name: name, status: .failed, failure: StepFailure.from(error), duration: ContinuousClock.now - started)
        }
    }

    /// What a step's requests need, worked out before the first one.
    final class PreparedStep: Sendable {
        let name: String
        let builder: StepRequestBuilder
        let variables: [String: JSONValue]
        /// The `for_each` items, the `as` name and how many run at once; nil for one request.
        let items: [JSONValue]?
        let variable: String
        let limit: Int

        init(name: String, builder: StepRequestBuilder, variables: [String: JSONValue], items: [JSONValue]?, variable: String,
             limit: Int) {
            self.name = name
            self.builder = builder
            self.variables = variables
            self.items = items
            self.variable = variable
            self.limit = limit
        }
    }

    enum Preparation {
        case run(PreparedStep)
        /// Skipped by `when`, or failed before any request.
        case done(StepResult)
    }

    /// Evaluates `when`, resolves the provider and model, and evaluates `for_each`.
    func prepare(_ index: Int, inputs: JSONValue.JSONObject, steps: JSONValue.JSONObject, started: ContinuousClock.Instant)
        -> Preparation
    {
        let compiled = graph.step(index)
        let name = compiled.name
        let variables = Self.context(inputs: inputs, steps: steps, pipeline: graph.pipeline, environment: configuration.environment)
        do {
            if let when = compiled.when {
                let value = try when.evaluate(TemplateContext(variables))
                if !Template.isTruthy(value) {
                    return .done(StepResult(name: name, status: .skipped, note: "'when' is false",
                                            duration: ContinuousClock.now - started))
                }
            }
            let provider = try resolver.provider(for: compiled.step, defaults: graph.pipeline.defaults)
            let model = try resolver.model(for: compiled.step, defaults: graph.pipeline.defaults, provider: provider)
            let builder = StepRequestBuilder(step: compiled, defaults: graph.pipeline.defaults, provider: provider, model: model)
            guard let forEach = compiled.forEach, let variable = compiled.step.loopVariable?.value else {
                return .run(PreparedStep(name: name, builder: builder, variables: variables, items: nil, variable: "", limit: 1))
            }
            let listValue = try forEach.evaluate(TemplateContext(variables))
            guard case .array(let items) = listValue else {
                throw Diagnostic.error(
                    "'for_each' of step '\(name)' must give a list, got \(listValue.typeName)", at: compiled.step.forEach?.location)
            }
            let limit = compiled.step.maxConcurrency ?? graph.pipeline.defaults.maxConcurrency ?? max(items.count, 1)
            return .run(PreparedStep(name: name, builder: builder, variables: variables, items: items, variable: variable,
                                     limit: limit))
        } catch {
            return .done(StepResult(name: name, status: .failed, failure: StepFailure.from(error),
                                    duration: ContinuousClock.now - started))
        }
    }

    /// The items of a `for_each` step, at most `limit` at once; outcomes in item order.
    ///
    /// Items get their tasks through a window of 8 × `--concurrency`, topped up as items end:
    /// enough items waiting (rendered and looked up in the store) that a freed slot is taken
    /// at once, without holding a suspended task (about 10 KB) for every item of a long
    /// list. Measured on 2,000 items at concurrency 64 (interleaved runs): a task per item
    /// up front 69 MB, this window 55 MB at the same wall time; a window of 2 × was 15% slower.
    func runItems(_ step: PreparedStep, items: [JSONValue], row: Int) async throws -> [ItemOutcome] {
        let itemLimit = AsyncSemaphore(limit: step.limit)
        let window = min(items.count, 8 * requestLimit.limit)
        return try await withThrowingTaskGroup(of: (Int, ItemOutcome).self) { group in
            var next = 0
            func start(_ group: inout ThrowingTaskGroup<(Int, ItemOutcome), any Error>) {
                let position = next
                next += 1
                var itemVariables = step.variables
                itemVariables[step.variable] = items[position]
                let frozen = itemVariables
                group.addTask {
                    try await itemLimit.withPermit {
                        (position, try await self.runItem(step.builder, variables: frozen, item: position, row: row))
                    }
                }
            }
            while next < window { start(&group) }
            var outcomes = [ItemOutcome?](repeating: nil, count: items.count)
            do {
                while let (position, outcome) = try await group.next() {
                    outcomes[position] = outcome
                    if next < items.count { start(&group) }
                }
            } catch let failure as CountedFailure {
                throw Self.stepFailure(failure, finished: outcomes)
            }
            return outcomes.compactMap { $0 }
        }
    }

    /// The result of a step of one request.
    @inline(never)
    static func result(of item: ItemOutcome, name: String, started: ContinuousClock.Instant) -> StepResult {
        var result = StepResult(
            name: name, status: .finished, output: item.decoded.output, reasoning: item.decoded.reasoning,
            toolCalls: item.decoded.toolCalls, turns: .int(item.turns), usage: item.completion.usage,
            model: item.completion.model.map { .string($0) } ?? .null,
            finishReason: item.completion.finishReason.map { .string($0) } ?? .null,
            requests: item.requests, retries: max(item.requests - item.freshReplies, 0),
            cacheHits: item.cacheHits)
        result.duration = ContinuousClock.now - started
        return result
    }

    /// The result of a `for_each` step: lists in item order, usage and counts summed.
    @inline(never)
    static func result(of outcomes: [ItemOutcome], name: String, started: ContinuousClock.Instant) -> StepResult {
        var usage: Completion.Usage?
        for outcome in outcomes {
            guard let itemUsage = outcome.completion.usage else { continue }
            usage = Completion.Usage(
                promptTokens: (usage?.promptTokens ?? 0) + itemUsage.promptTokens,
                completionTokens: (usage?.completionTokens ?? 0) + itemUsage.completionTokens,
                totalTokens: (usage?.totalTokens ?? 0) + itemUsage.totalTokens,
                cachedTokens: (usage?.cachedTokens ?? itemUsage.cachedTokens).map { $0 + (usage == nil ? 0 : itemUsage.cachedTokens ?? 0) },
                isCountedFromStream: (usage?.isCountedFromStream ?? false) || itemUsage.isCountedFromStream)
        }
        let requests = outcomes.reduce(0) { $0 + $1.requests }
        let cacheHits = outcomes.reduce(0) { $0 + $1.cacheHits }
        let fresh = outcomes.reduce(0) { $0 + $1.freshReplies }
        return StepResult(
            name: name, status: .finished, output: .array(outcomes.map(\.decoded.output)),
            reasoning: .array(outcomes.map(\.decoded.reasoning)), toolCalls: .array(outcomes.map(\.decoded.toolCalls)),
            turns: .array(outcomes.map { .int($0.turns) }),
            usage: usage, model: .array(outcomes.map { $0.completion.model.map { .string($0) } ?? .null }),
            finishReason: .array(outcomes.map { $0.completion.finishReason.map { .string($0) } ?? .null }),
            requests: requests, retries: max(requests - fresh, 0), cacheHits: cacheHits, duration: ContinuousClock.now - started)
    }

    /// A `for_each` step's failure counts every item's requests: those of the items that
    /// finished before it as well as the failing one's (the summary line said "4 requests" for
    /// a step that had made 270).
    @inline(never)
    static func stepFailure(_ failure: CountedFailure, finished: [ItemOutcome?]) -> CountedFailure {
        let done = finished.compactMap { $0 }
        let requests = done.reduce(failure.requests) { $0 + $1.requests }
        let fresh = done.reduce(0) { $0 + $1.freshReplies } + (failure.requests > 0 ? 1 : 0)
        return CountedFailure(
            failure: failure.failure, requests: requests, cacheHits: done.reduce(failure.cacheHits) { $0 + $1.cacheHits },
            retries: max(requests - fresh, 0))
    }

    /// A request that failed for good, with the attempts it took: the step's counts in the
    /// run's summary and history include them (a failed step counted 0 requests).
    struct CountedFailure: Error {
        var failure: StepFailure
        var requests: Int
        var cacheHits: Int
        /// Retries among `requests`; nil for one request's (all but its first attempt).
        var retries: Int? = nil
    }

    struct ItemOutcome: Sendable {
        var completion: Completion
        var decoded: ReplyDecoder.Decoded
        /// HTTP requests made (attempts included).
        var requests: Int
        /// Requests the store answered.
        var cacheHits: Int
        /// Model replies (more than one when the step's tools ran).
        var turns: Int = 1
        /// Replies the provider gave (not the store): the requests beyond them are retries.
        var freshReplies: Int
    }

    /// One request, with the structured-output fallback and the one repair attempt.
    func runItem(_ builder: StepRequestBuilder, variables: [String: JSONValue], item: Int?, row: Int) async throws -> ItemOutcome {
        // Read through the builder, not copied: a copy (over a kilobyte) would live in this
        // async frame, which every request in flight holds.
        var step: CompiledStep { builder.step }
        let name = step.name
        let context = TemplateContext(variables)
        let decoder = ReplyDecoder(
            stepName: name, output: step.step.output, schema: step.outputSchema,
            reasoning: step.step.reasoning ?? graph.pipeline.defaults.reasoning ?? .separate)
        let retries = step.step.retries ?? graph.pipeline.defaults.retries
        let policy = retries.map { RetryPolicy(maxRetries: $0) }
        let timeout = step.step.timeout ?? graph.pipeline.defaults.timeout
        var requests = 0
        var cacheHits = 0
        var repair: (reply: String, problems: String)?
        // `cache: false` steps always call, except under --offline, which never calls.
        let usesCache = recording != nil
            && ((step.step.cache ?? graph.pipeline.defaults.cache ?? true) || configuration.cachePolicy == .offline)
        // Only for a step whose tools run: the loop's turns (one pointer in this frame).
        let conversation = Self.conversation(for: builder)
        while true {
            var mode = builder.initialStructuredMode
            if structuredSupport.rejectsJSONSchema(builder.provider.name) { mode = .jsonObject }
            var request = try builder.request(
                context: context, structuredMode: mode, stream: configuration.streaming, repair: repair,
                conversation: conversation?.messages ?? [])
            // The request's key in the store, computed once (canonical JSON and SHA-256):
            // looking the request up and recording it both need it.
            var key = recording.map { _ in RequestKey(provider: builder.provider, request: request) }
            emitRequestStarted(step: name, item: item)
            let completion: Completion
            if let (stored, storedRequest, storedKey) = try await storedCompletion(
                for: request, key: key, builder: builder, context: context, mode: mode, repair: repair, usesCache: usesCache,
                conversation: conversation)
            {
                request = storedRequest
                key = storedKey
                completion = stored
                cacheHits += 1
                emitStoredReply(stored, step: name, item: item)
                try await recordRequest(request, key: key, builder: builder, item: item, row: row, completion: stored, error: nil, cached: true,
                                        attempts: 0, startedAt: Date(), duration: .zero)
            } else {
                if usesCache && configuration.cachePolicy == .offline { throw Self.offlineFailure(item: item) }
                guard let fresh = try await callProvider(
                    request, key: key, builder: builder, mode: mode, policy: policy, timeout: timeout, item: item, row: row,
                    requests: &requests, cacheHits: cacheHits)
                else { continue }
                completion = fresh
                conversation?.freshReplies += 1
            }
            if let conversation, conversation.continues(after: completion) {
                try await runToolTurn(
                    conversation, after: completion, builder: builder, item: item, row: row, usesCache: usesCache,
                    requests: requests, cacheHits: cacheHits)
                repair = nil
                continue
            }
            emitRequestFinished(completion, step: name, item: item)
            do {
                return Self.outcome(
                    completion, decoded: try decoder.decode(completion), conversation: conversation, requests: requests,
                    cacheHits: cacheHits)
            } catch let invalid as ReplyDecoder.Invalid {
                if repair == nil {
                    repair = (invalid.reply, invalid.problems.joined(separator: "\n"))
                    continue
                }
                throw Self.repairFailure(invalid, item: item, hasSchema: step.outputSchema != nil)
            }
        }
    }

    /// The tool loop's state for a step whose tools run; nil otherwise. Not inlined: reading
    /// the step's tools inline copied the whole `Step` (over a kilobyte) into `runItem`'s
    /// async frame, which every request in flight holds — 24 MB at 10,000 in flight.
    @inline(never)
    static func conversation(for builder: StepRequestBuilder) -> ToolConversation? {
        let step = builder.step.step
        return step.runnableTools.isEmpty ? nil : ToolConversation(step: step)
    }

    /// A turn of the tool loop: the reply's calls run and the conversation goes on. Not
    /// inlined: what it builds (the failure of a turn above all) would otherwise take slots
    /// in `runItem`'s async frame, which every request in flight holds, tool step or not.
    @inline(never)
    func runToolTurn(
        _ conversation: ToolConversation, after completion: Completion, builder: StepRequestBuilder, item: Int?, row: Int,
        usesCache: Bool, requests: Int, cacheHits: Int
    ) async throws {
        emitTurnFinished(completion, step: builder.step.name, item: item, turn: conversation.turn)
        do {
            try await continueConversation(
                conversation, after: completion, builder: builder, item: item, row: row, usesCache: usesCache)
        } catch let failure as StepFailure {
            // Counted: the turns before it were requests of the step.
            throw CountedFailure(
                failure: failure, requests: requests, cacheHits: cacheHits, retries: max(requests - conversation.freshReplies, 0))
        }
    }

    /// An item's outcome; for a step whose tools ran, with every turn's calls and usage.
    @inline(never)
    static func outcome(
        _ completion: Completion, decoded: ReplyDecoder.Decoded, conversation: ToolConversation?, requests: Int, cacheHits: Int
    ) -> ItemOutcome {
        guard let conversation else {
            return ItemOutcome(
                completion: completion, decoded: decoded, requests: requests, cacheHits: cacheHits,
                freshReplies: cacheHits > 0 ? 0 : 1)
        }
        var decoded = decoded
        var calls = conversation.calls
        // Calls of the last reply to tools that do not run: data, as without a loop.
        for call in decoded.toolCalls.arrayValue ?? [] {
            guard var object = call.objectValue else { continue }
            object["result"] = .null
            object["error"] = .null
            object["turn"] = .int(conversation.turn)
            calls.append(.object(object))
        }
        decoded.toolCalls = .array(calls)
        var completion = completion
        conversation.add(usage: completion.usage)
        completion.usage = conversation.usage
        return ItemOutcome(
            completion: completion, decoded: decoded, requests: requests, cacheHits: cacheHits, turns: conversation.turn,
            freshReplies: conversation.freshReplies)
    }

    /// A fresh reply from the provider, within the run's request limit, recorded in the store.
    /// Nil when the provider refused `json_schema` for a step with a schema (remembered for the
    /// provider; the caller asks again through `json_object`). `requests` counts the attempts.
    /// Not inlined, so its frame exists only while a request is out: a reply from the store
    /// does not pay for it.
    @inline(never)
    func callProvider(
        _ request: CompletionRequest, key: RequestKey?, builder: StepRequestBuilder, mode: StepRequestBuilder.StructuredMode,
        policy: RetryPolicy?, timeout: Duration?, item: Int?, row: Int, requests: inout Int, cacheHits: Int
    ) async throws -> Completion? {
        let name = builder.step.name
        let startedAt = Date()
        let clock = ContinuousClock()
        let began = clock.now
        let timing = RequestTiming(began: began)
        let completion: Completion
        // Set by the closure rather than returned with the reply: a (Completion, Double?)
        // result took a second Completion-sized slot in this frame, held by every request out.
        var cost: Double?
        do {
            completion = try await requestLimit.withPermit {
                // The budget is reserved once the request has a slot: one waiting for a slot
                // holds none of it.
                let reservation = try await reserve(request, builder: builder)
                timing.markSent()
                do {
                    let completion = try await client.complete(
                        request, provider: builder.provider, retryPolicy: policy, timeout: timeout,
                        events: Self.forwarding(events, step: name, item: item, timing: timing))
                    cost = settle(reservation, completion: completion, request: request, builder: builder)
                    return completion
                } catch {
                    // No reply, nothing billed: providers charge for a reply's tokens (Novita
                    // also for a request the client abandoned mid-reply, which a timeout is;
                    // see README, "Cost").
                    meter.release(reservation)
                    throw error
                }
            }
            // Stored after the slot is given back: the slot is the provider's capacity,
            // and the next request can go out while this reply waits for its group
            // commit (a few milliseconds of local disk work). The item still ends only
            // once its reply is durable, so nothing downstream starts before that.
            try await recordRequest(
                request, key: key, builder: builder, item: item, row: row, completion: completion, error: nil, cached: false,
                attempts: completion.attempts, startedAt: startedAt, duration: clock.now - began, cost: cost, timing: timing)
        } catch let exceeded as BudgetExceeded {
            throw CountedFailure(failure: StepFailure(.budget(exceeded), item: item), requests: requests, cacheHits: cacheHits)
        } catch let error as ProviderError {
            try await recordRequest(
                request, key: key, builder: builder, item: item, row: row, completion: nil, error: error.description,
                cached: false, attempts: error.attempts, startedAt: startedAt, duration: clock.now - began, cost: 0, timing: timing)
            if mode == .jsonSchema && builder.provider.dialect.refusesJSONSchema(error) && builder.step.outputSchema != nil {
                // The provider does not take `json_schema` (its dialect reads that from the
                // error). Remember it for the provider and ask again with json_object.
                structuredSupport.markRejectsJSONSchema(builder.provider.name)
                requests += error.attempts
                return nil
            }
            throw CountedFailure(failure: StepFailure(.provider(error)), requests: requests + error.attempts, cacheHits: cacheHits)
        } catch {
            // Cancelled, or the store failed: a claim on the request (a shared store) must not
            // keep other processes waiting for its lease to run out.
            if let key, let recording { await recording.store.release(key) }
            throw error
        }
        requests += completion.attempts
        return completion
    }

    /// Reserves what `request` can cost from the run's budget (`--max-cost`); without a
    /// budget, nothing. Not inlined: the bound is worked out only under a budget.
    @inline(never)
    func reserve(_ request: CompletionRequest, builder: StepRequestBuilder) async throws -> CostMeter.Reservation {
        guard meter.budget != nil else { return try await meter.reserve(0) }
        // `loadPrices` made sure every step's model has a price; a model the reply names
        // otherwise is priced at the reservation when it ends.
        let price = prices.price(provider: builder.provider, model: request.model)
        return try await meter.reserve(price.map { request.costBound(at: $0) } ?? 0)
    }

    /// Counts what a fresh reply cost and gives its reservation back.
    /// - Returns: the cost, nil when its model has no price.
    @inline(never)
    func settle(
        _ reservation: CostMeter.Reservation, completion: Completion, request: CompletionRequest, builder: StepRequestBuilder
    ) -> Double? {
        let cost = prices.cost(
            of: completion, provider: builder.provider, model: request.model, estimatedPromptTokens: request.promptTokenBound)
        meter.settle(reservation, cost: cost, step: builder.step.name, label: "\(builder.provider.name)/\(request.model ?? "?")")
        return cost
    }

    /// The client's events for one request, as the run's: streamed text and retries; when a
    /// streamed reply's first text came goes to `timing`.
    static func forwarding(
        _ events: @escaping @Sendable (RunEvent) -> Void, step: String, item: Int?, timing: RequestTiming? = nil
    ) -> @Sendable (ClientEvent) -> Void {
        { event in
            switch event {
            case .contentDelta(let text):
                timing?.markFirstByte()
                events(.token(step: step, item: item, text: text, isReasoning: false))
            case .reasoningDelta(let text):
                timing?.markFirstByte()
                events(.token(step: step, item: item, text: text, isReasoning: true))
            case .toolCallDelta: timing?.markFirstByte()
            case .retrying(let attempt, let delay, let error):
                timing?.attemptFailed()
                events(.retry(step: step, item: item, attempt: attempt, delay: delay, message: error.description))
            case .providerThrottled(let throttle): events(.throttled(step: step, item: item, throttle))
            default: break
            }
        }
    }

    // Events are sent from synchronous functions of their own: each `RunEvent` built inline
    // took a slot the size of the enum's largest case in `runItem`'s async frame.
    @inline(never)
    func emitRequestStarted(step: String, item: Int?) {
        events(.requestStarted(step: step, item: item))
    }

    @inline(never)
    func emitStoredReply(_ stored: Completion, step: String, item: Int?) {
        if let reasoning = stored.reasoningContent, !reasoning.isEmpty {
            events(.token(step: step, item: item, text: reasoning, isReasoning: true))
        }
        if !stored.content.isEmpty { events(.token(step: step, item: item, text: stored.content, isReasoning: false)) }
    }

    @inline(never)
    func emitRequestFinished(_ completion: Completion, step: String, item: Int?) {
        events(.requestFinished(step: step, item: item, usage: completion.usage, attempts: completion.attempts))
    }

    @inline(never)
    func emitTurnFinished(_ completion: Completion, step: String, item: Int?, turn: Int) {
        events(.turnFinished(step: step, item: item, turn: turn, usage: completion.usage, attempts: completion.attempts))
    }

    static func offlineFailure(item: Int?) -> StepFailure {
        StepFailure(.offlineMiss, item: item)
    }

    static func repairFailure(_ invalid: ReplyDecoder.Invalid, item: Int?, hasSchema: Bool) -> StepFailure {
        StepFailure(.invalidReply(violations: invalid.problems, reply: invalid.reply, hasSchema: hasSchema), item: item)
    }

    /// The stored reply for a request, when the policy allows it. A step with a schema
    /// whose provider once rejected `json_schema` was answered through `json_object`:
    /// that request is looked up too, so a re-run on such a provider makes no request.
    @inline(never)  // kept out of `runItem`'s async frame, which every request in flight holds
    func storedCompletion(
        for request: CompletionRequest, key: RequestKey?, builder: StepRequestBuilder, context: TemplateContext,
        mode: StepRequestBuilder.StructuredMode, repair: (reply: String, problems: String)?, usesCache: Bool,
        conversation: ToolConversation?
    ) async throws -> (Completion, CompletionRequest, RequestKey)? {
        guard usesCache, let recording, configuration.cachePolicy != .refresh else { return nil }
        let key = key ?? RequestKey(provider: builder.provider, request: request)
        if let stored = try await recording.store.completion(for: key) { return (stored, request, key) }
        if mode == .jsonSchema, builder.step.outputSchema != nil {
            let fallback = try builder.request(
                context: context, structuredMode: .jsonObject, stream: configuration.streaming, repair: repair,
                conversation: conversation?.messages ?? [])
            let fallbackKey = RequestKey(provider: builder.provider, request: fallback)
            if let stored = try await recording.store.completion(for: fallbackKey) {
                structuredSupport.markRejectsJSONSchema(builder.provider.name)
                return (stored, fallback, fallbackKey)
            }
        }
        // About to be sent: in a shared store, another process may be fetching it right now.
        guard configuration.cachePolicy == .readWrite, let answered = try await recording.store.claim(key) else { return nil }
        return (answered, request, key)
    }

    /// Records a request in the run's history (and a fresh reply in the cache).
    /// - Parameter cost: what a fresh reply cost (nil: no price); a stored reply's is worked
    ///   out here, at today's price: what it would have cost (the run paid nothing for it).
    @inline(never)  // kept out of `runItem`'s async frame, which every request in flight holds
    func recordRequest(
        _ request: CompletionRequest, key: RequestKey?, builder: StepRequestBuilder, item: Int?, row: Int, completion: Completion?,
        error: String?, cached: Bool, attempts: Int, startedAt: Date, duration: Duration, cost: Double? = nil,
        timing: RequestTiming? = nil
    ) async throws {
        guard let recording else { return }
        try await recording.store.record(RequestRecord(
            runID: recording.runID, row: row, step: builder.step.name, item: item,
            key: key ?? RequestKey(provider: builder.provider, request: request), provider: builder.provider, api: request.api,
            model: request.model, completion: completion, error: error, cached: cached,
            attempts: attempts, startedAt: startedAt, duration: duration,
            cost: cached ? storedCost(of: completion, request: request, builder: builder) : cost,
            sentAfter: timing?.sentAfter, firstByteAfter: timing?.firstByteAfter))
    }

    /// What a reply from the store cost when it was bought, at today's price. Not inlined:
    /// binding the reply in `recordRequest` took a Completion-sized slot in its frame.
    @inline(never)
    func storedCost(of completion: Completion?, request: CompletionRequest, builder: StepRequestBuilder) -> Double? {
        guard let completion else { return nil }
        return prices.cost(
            of: completion, provider: builder.provider, model: request.model, estimatedPromptTokens: request.promptTokenBound)
    }
}

/// Providers found at run time to reject `response_format: json_schema`. A lock, not an
/// actor: every request asks, and an actor would cost each one a hop.
final class StructuredOutputSupport: Sendable {
    private let rejecting = Mutex(Set<String>())
    func rejectsJSONSchema(_ provider: String) -> Bool { rejecting.withLock { $0.contains(provider) } }
    func markRejectsJSONSchema(_ provider: String) { _ = rejecting.withLock { $0.insert(provider) } }
}
