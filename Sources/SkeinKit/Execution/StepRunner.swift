import Foundation

/// Runs one step: evaluates `when` and `for_each`, renders each request, calls the client
/// (under the run's global concurrency limit) and decodes the replies.
public struct StepRunner: Sendable {
    public struct Configuration: Sendable {
        /// Ask providers for streamed replies (for live progress and `--stream`).
        public var streaming: Bool
        public var environment: [String: String]

        public init(streaming: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment) {
            self.streaming = streaming
            self.environment = environment
        }
    }

    let graph: PipelineGraph
    let client: any CompletionClient
    let resolver: ProviderResolver
    let configuration: Configuration
    let requestLimit: AsyncSemaphore
    let structuredSupport: StructuredOutputSupport
    let events: @Sendable (RunEvent) -> Void

    /// The template context for a step: `inputs`, `steps` (results so far), `env` (listed names only).
    static func context(inputs: JSONValue.JSONObject, results: [String: StepResult], pipeline: Pipeline,
                        environment: [String: String]) -> [String: JSONValue]
    {
        var steps = JSONValue.JSONObject()
        for (name, result) in results { steps[name] = result.templateValue }
        var env = JSONValue.JSONObject()
        for name in pipeline.environment { env[name.value] = .string(environment[name.value] ?? "") }
        return ["inputs": .object(inputs), "steps": .object(steps), "env": .object(env)]
    }

    /// Runs the step at `index` with the given upstream results.
    func run(_ index: Int, inputs: JSONValue.JSONObject, results: [String: StepResult]) async -> StepResult {
        let compiled = graph.step(index)
        let name = compiled.name
        let clock = ContinuousClock()
        let started = clock.now
        let variables = Self.context(inputs: inputs, results: results, pipeline: graph.pipeline, environment: configuration.environment)
        do {
            if let when = compiled.when {
                let value = try when.evaluate(TemplateContext(variables))
                if !Template.isTruthy(value) {
                    return StepResult(name: name, status: .skipped, message: "'when' is false", duration: clock.now - started)
                }
            }
            let provider = try resolver.provider(for: compiled.step, defaults: graph.pipeline.defaults)
            let model = try resolver.model(for: compiled.step, defaults: graph.pipeline.defaults, provider: provider)
            let builder = StepRequestBuilder(step: compiled, defaults: graph.pipeline.defaults, provider: provider, model: model)
            guard let forEach = compiled.forEach, let variable = compiled.step.loopVariable?.value else {
                events(.stepStarted(step: name, items: nil))
                let item = try await runItem(builder, variables: variables, item: nil)
                var result = StepResult(
                    name: name, status: .finished, output: item.decoded.output, reasoning: item.decoded.reasoning,
                    toolCalls: item.decoded.toolCalls, usage: item.completion.usage, model: item.completion.model.map { .string($0) } ?? .null,
                    finishReason: item.completion.finishReason.map { .string($0) } ?? .null,
                    requests: item.requests, retries: item.requests - 1)
                result.duration = clock.now - started
                return result
            }
            let listValue = try forEach.evaluate(TemplateContext(variables))
            guard case .array(let items) = listValue else {
                throw Diagnostic.error(
                    "'for_each' of step '\(name)' must give a list, got \(listValue.typeName)", at: compiled.step.forEach?.location)
            }
            events(.stepStarted(step: name, items: items.count))
            let limit = compiled.step.maxConcurrency ?? graph.pipeline.defaults.maxConcurrency ?? max(items.count, 1)
            let itemLimit = AsyncSemaphore(limit: limit)
            let outcomes = try await withThrowingTaskGroup(of: (Int, ItemOutcome).self) { group in
                for (position, item) in items.enumerated() {
                    var itemVariables = variables
                    itemVariables[variable] = item
                    let frozen = itemVariables
                    group.addTask {
                        try await itemLimit.withPermit {
                            (position, try await self.runItem(builder, variables: frozen, item: position))
                        }
                    }
                }
                var outcomes = [ItemOutcome?](repeating: nil, count: items.count)
                for try await (position, outcome) in group { outcomes[position] = outcome }
                return outcomes.compactMap { $0 }
            }
            var usage: Completion.Usage?
            for outcome in outcomes {
                guard let itemUsage = outcome.completion.usage else { continue }
                usage = Completion.Usage(
                    promptTokens: (usage?.promptTokens ?? 0) + itemUsage.promptTokens,
                    completionTokens: (usage?.completionTokens ?? 0) + itemUsage.completionTokens,
                    totalTokens: (usage?.totalTokens ?? 0) + itemUsage.totalTokens,
                    cachedTokens: (usage?.cachedTokens ?? itemUsage.cachedTokens).map { $0 + (usage == nil ? 0 : itemUsage.cachedTokens ?? 0) })
            }
            let requests = outcomes.reduce(0) { $0 + $1.requests }
            return StepResult(
                name: name, status: .finished, output: .array(outcomes.map(\.decoded.output)),
                reasoning: .array(outcomes.map(\.decoded.reasoning)), toolCalls: .array(outcomes.map(\.decoded.toolCalls)),
                usage: usage, model: .array(outcomes.map { $0.completion.model.map { .string($0) } ?? .null }),
                finishReason: .array(outcomes.map { $0.completion.finishReason.map { .string($0) } ?? .null }),
                requests: requests, retries: requests - outcomes.count, duration: clock.now - started)
        } catch is CancellationError {
            return StepResult(name: name, status: .notRun, message: "interrupted", duration: clock.now - started)
        } catch {
            return StepResult(name: name, status: .failed, message: Self.describe(error), duration: clock.now - started)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let diagnostic = error as? Diagnostic { return diagnostic.description }
        if let diagnostics = error as? DiagnosticsError { return diagnostics.description }
        return String(describing: error)
    }

    struct ItemOutcome: Sendable {
        var completion: Completion
        var decoded: ReplyDecoder.Decoded
        var requests: Int
    }

    /// One request, with the structured-output fallback and the one repair attempt.
    func runItem(_ builder: StepRequestBuilder, variables: [String: JSONValue], item: Int?) async throws -> ItemOutcome {
        let step = builder.step
        let name = step.name
        let context = TemplateContext(variables)
        let decoder = ReplyDecoder(
            stepName: name, output: step.step.output, schema: step.outputSchema,
            reasoning: step.step.reasoning ?? graph.pipeline.defaults.reasoning ?? .separate)
        let retries = step.step.retries ?? graph.pipeline.defaults.retries
        let policy = retries.map { RetryPolicy(maxRetries: $0) }
        let timeout = step.step.timeout ?? graph.pipeline.defaults.timeout
        var requests = 0
        var repair: (reply: String, problems: String)?
        while true {
            var mode: StepRequestBuilder.StructuredMode =
                builder.provider.structuredOutputs == .jsonObject ? .jsonObject : .jsonSchema
            if await structuredSupport.rejectsJSONSchema(builder.provider.name) { mode = .jsonObject }
            let request = try builder.request(context: context, structuredMode: mode, stream: configuration.streaming, repair: repair)
            events(.requestStarted(step: name, item: item))
            let completion: Completion
            do {
                completion = try await requestLimit.withPermit {
                    try await client.complete(
                        request, provider: builder.provider, retryPolicy: policy, timeout: timeout,
                        events: { event in
                            switch event {
                            case .contentDelta(let text): events(.token(step: name, item: item, text: text, isReasoning: false))
                            case .reasoningDelta(let text): events(.token(step: name, item: item, text: text, isReasoning: true))
                            case .retrying(let attempt, let delay, let error):
                                events(.retry(step: name, item: item, attempt: attempt, delay: delay, message: error.description))
                            default: break
                            }
                        })
                }
            } catch let error as ProviderError where mode == .jsonSchema && Self.rejectsJSONSchema(error)
                && step.outputSchema != nil
            {
                // Seen on llama-cpp-python's server: HTTP 500 "Input should be 'text' or
                // 'json_object'". Remember it for the provider and ask again with json_object.
                await structuredSupport.markRejectsJSONSchema(builder.provider.name)
                requests += 1
                continue
            }
            requests += completion.attempts
            events(.requestFinished(step: name, item: item, usage: completion.usage, attempts: completion.attempts))
            do {
                return ItemOutcome(completion: completion, decoded: try decoder.decode(completion), requests: requests)
            } catch let invalid as ReplyDecoder.Invalid {
                if repair == nil {
                    repair = (invalid.reply, invalid.problems.joined(separator: "\n"))
                    continue
                }
                throw StepFailure(
                    message: (item.map { "item \($0): " } ?? "") + "the reply does not match the output "
                        + (step.outputSchema == nil ? "format (JSON)" : "schema") + " after one repair attempt:\n"
                        + invalid.problems.map { "  " + $0 }.joined(separator: "\n")
                        + "\nreply: " + ReplyDecoder.shorten(invalid.reply, limit: 500))
            }
        }
    }

    static func rejectsJSONSchema(_ error: ProviderError) -> Bool {
        guard let status = error.status, [400, 422, 500].contains(status) else { return false }
        let message = error.message.lowercased()
        return message.contains("json_schema") || message.contains("'text' or 'json_object'")
            || message.contains("response_format")
    }
}

/// A step's failure that is not about a place in the file (the CLI adds the step's location).
struct StepFailure: Error, Sendable, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Providers found at run time to reject `response_format: json_schema`.
actor StructuredOutputSupport {
    private var rejecting = Set<String>()
    func rejectsJSONSchema(_ provider: String) -> Bool { rejecting.contains(provider) }
    func markRejectsJSONSchema(_ provider: String) { rejecting.insert(provider) }
}
