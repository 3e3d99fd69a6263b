import Foundation
import OrderedCollections

/// Runs a pipeline: connects the `Plan` (what may start) to the `StepRunner` (the I/O)
/// with structured concurrency. A step starts the moment its last dependency ends.
public struct Scheduler: Sendable {
    public struct Options: Sendable {
        /// Requests in flight at once, across all steps (`--concurrency`).
        public var concurrency: Int
        public var failurePolicy: Plan.FailurePolicy
        public var streaming: Bool
        public var providerOverride: String?
        public var modelOverride: String?
        public var environment: [String: String]

        public init(
            concurrency: Int = 16, failurePolicy: Plan.FailurePolicy = .stopOnFirstFailure, streaming: Bool = false,
            providerOverride: String? = nil, modelOverride: String? = nil,
            environment: [String: String] = ProcessInfo.processInfo.environment
        ) {
            self.concurrency = concurrency
            self.failurePolicy = failurePolicy
            self.streaming = streaming
            self.providerOverride = providerOverride
            self.modelOverride = modelOverride
            self.environment = environment
        }
    }

    /// The outcome of a run.
    public struct Outcome: Sendable {
        public enum Status: String, Sendable {
            case succeeded, failed, interrupted
        }

        public var status: Status
        /// Every step's result, in file order (steps that never started are `.notRun`).
        public var results: OrderedDictionary<String, StepResult>
        /// The pipeline's `outputs:`, with their types kept; empty when the run did not succeed.
        public var outputs: JSONValue.JSONObject
        /// Problems evaluating `outputs:`.
        public var outputErrors: [String]
        public var duration: Duration

        public var failedSteps: [StepResult] { results.values.filter { $0.status == .failed } }
    }

    public let graph: PipelineGraph
    public let client: any CompletionClient
    public let options: Options

    public init(graph: PipelineGraph, client: any CompletionClient, options: Options = Options()) {
        self.graph = graph
        self.client = client
        self.options = options
    }

    /// Runs every step and evaluates the outputs.
    /// - Parameters:
    ///   - inputs: the resolved `inputs` object (see `InputResolver`).
    ///   - events: called for every event, from any task; keep it quick.
    /// - Returns: the outcome; cancellation of the calling task ends the run as `.interrupted`,
    ///   keeping what finished.
    public func run(inputs: JSONValue.JSONObject, events: @escaping @Sendable (RunEvent) -> Void = { _ in }) async -> Outcome {
        let clock = ContinuousClock()
        let started = clock.now
        let resolver = ProviderResolver(
            pipeline: graph.pipeline, providerOverride: options.providerOverride, modelOverride: options.modelOverride,
            environment: options.environment)
        let runner = StepRunner(
            graph: graph, client: client, resolver: resolver,
            configuration: .init(streaming: options.streaming, environment: options.environment),
            requestLimit: AsyncSemaphore(limit: options.concurrency), structuredSupport: StructuredOutputSupport(),
            events: events)
        var plan = Plan(graph: graph, policy: options.failurePolicy)
        var results: [String: StepResult] = [:]
        var interrupted = false

        await withTaskGroup(of: (Int, StepResult).self) { group in
            func apply(_ actions: [Plan.Action]) {
                var pending = actions
                while !pending.isEmpty {
                    let action = pending.removeFirst()
                    switch action {
                    case .start(let index):
                        let snapshot = results
                        group.addTask { (index, await runner.run(index, inputs: inputs, results: snapshot)) }
                    case .skip(let index, let blocker):
                        let name = graph.names[index]
                        let blockerName = graph.names[blocker]
                        let why = results[blockerName]?.status == .failed ? "failed" : "was skipped"
                        let result = StepResult(name: name, status: .skipped, message: "'\(blockerName)' \(why)")
                        results[name] = result
                        events(.stepEnded(result))
                    }
                }
            }
            apply(plan.start())
            while let (index, result) = await group.next() {
                let name = graph.names[index]
                results[name] = result
                events(.stepEnded(result))
                if Task.isCancelled && !interrupted {
                    interrupted = true
                    plan.stop()
                }
                switch result.status {
                case .finished: apply(plan.finished(index))
                case .skipped: apply(plan.skipped(index))
                case .failed: apply(plan.failed(index))
                case .notRun:
                    interrupted = true
                    plan.stop()
                }
            }
        }
        if Task.isCancelled { interrupted = true }

        var ordered = OrderedDictionary<String, StepResult>()
        for name in graph.names {
            ordered[name] = results[name] ?? StepResult(name: name, status: .notRun)
        }
        let failed = ordered.values.contains { $0.status == .failed }
        var outputs = JSONValue.JSONObject()
        var outputErrors: [String] = []
        if !failed && !interrupted {
            let variables = StepRunner.context(inputs: inputs, results: results, pipeline: graph.pipeline, environment: options.environment)
            for (name, template) in graph.compiled.outputs {
                do {
                    outputs[name] = try template.evaluate(TemplateContext(variables))
                } catch {
                    outputErrors.append("output '\(name)': \(StepRunner.describe(error))")
                }
            }
        }
        let status: Outcome.Status = interrupted ? .interrupted : (failed || !outputErrors.isEmpty ? .failed : .succeeded)
        return Outcome(status: status, results: ordered, outputs: outputs, outputErrors: outputErrors, duration: clock.now - started)
    }
}
