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
        /// How the store is used (`--no-cache`, `--offline`); ignored without a store.
        public var cachePolicy: CachePolicy

        public init(
            concurrency: Int = 16, failurePolicy: Plan.FailurePolicy = .stopOnFirstFailure, streaming: Bool = false,
            providerOverride: String? = nil, modelOverride: String? = nil,
            environment: [String: String] = ProcessInfo.processInfo.environment, cachePolicy: CachePolicy = .readWrite
        ) {
            self.concurrency = concurrency
            self.failurePolicy = failurePolicy
            self.streaming = streaming
            self.providerOverride = providerOverride
            self.modelOverride = modelOverride
            self.environment = environment
            self.cachePolicy = cachePolicy
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
        /// The run's id in the store's history, when there is a store.
        public var runID: Int64?

        public var failedSteps: [StepResult] { results.values.filter { $0.status == .failed } }
    }

    public let graph: PipelineGraph
    public let client: any CompletionClient
    public let options: Options
    /// Where results are looked up and recorded; nil runs without cache or history.
    public let store: (any ResultStore)?

    public init(graph: PipelineGraph, client: any CompletionClient, store: (any ResultStore)? = nil, options: Options = Options()) {
        self.graph = graph
        self.client = client
        self.store = store
        self.options = options
    }

    /// Runs every step and evaluates the outputs.
    /// - Parameters:
    ///   - inputs: the resolved `inputs` object (see `InputResolver`).
    ///   - record: how the run appears in the store's history (path, file hash, commit);
    ///     with a store and no record, the run is recorded under the pipeline's path.
    ///   - events: called for every event, from any task; keep it quick.
    /// - Returns: the outcome; cancellation of the calling task ends the run as `.interrupted`,
    ///   keeping what finished.
    public func run(
        inputs: JSONValue.JSONObject, record: RunRecord? = nil, events: @escaping @Sendable (RunEvent) -> Void = { _ in }
    ) async -> Outcome {
        let clock = ContinuousClock()
        let started = clock.now
        var recording: StepRunner.Recording?
        if let store {
            let record = record ?? RunRecord(
                pipelinePath: graph.pipeline.path, pipelineSHA256: sha256Hex(Data(graph.pipeline.sourceText.utf8)),
                inputs: .object(inputs))
            do {
                recording = StepRunner.Recording(store: store, runID: try await store.beginRun(record))
            } catch {
                return Outcome(status: .failed, results: [:], outputs: [:], outputErrors: [StepRunner.describe(error)],
                               duration: clock.now - started)
            }
        }
        var outcome = await execute(inputs: inputs, runner: makeRunner(recording: recording, events: events), row: 0, events: events)
        outcome.duration = clock.now - started
        if let recording {
            outcome.runID = recording.runID
            do {
                try await recording.store.endRun(
                    recording.runID, status: outcome.status.rawValue,
                    outputs: outcome.status == .succeeded ? .object(outcome.outputs) : nil, endedAt: Date())
            } catch {
                outcome.outputErrors.append(StepRunner.describe(error))
                if outcome.status == .succeeded { outcome.status = .failed }
            }
        }
        return outcome
    }

    /// The step runner of a run: one per run, shared by every dataset row, so that all
    /// rows share the global request limit.
    func makeRunner(recording: StepRunner.Recording?, events: @escaping @Sendable (RunEvent) -> Void) -> StepRunner {
        let resolver = ProviderResolver(
            pipeline: graph.pipeline, providerOverride: options.providerOverride, modelOverride: options.modelOverride,
            environment: options.environment)
        return StepRunner(
            graph: graph, client: client, resolver: resolver,
            configuration: .init(streaming: options.streaming, environment: options.environment, cachePolicy: options.cachePolicy),
            requestLimit: AsyncSemaphore(limit: options.concurrency), structuredSupport: StructuredOutputSupport(),
            recording: recording, events: events)
    }

    /// Runs the pipeline once for one set of inputs (a dataset row, or the whole run).
    func execute(
        inputs: JSONValue.JSONObject, runner: StepRunner, row: Int, events: @escaping @Sendable (RunEvent) -> Void
    ) async -> Outcome {
        let clock = ContinuousClock()
        let started = clock.now
        let recording = runner.recording
        var plan = Plan(graph: graph, policy: options.failurePolicy)
        var results: [String: StepResult] = [:]
        var interrupted = false
        /// Skipped steps whose history record is being written (their group task is not a step run).
        var skipRecords = Set<Int>()

        await withTaskGroup(of: (Int, StepResult).self) { group in
            func apply(_ actions: [Plan.Action]) {
                var pending = actions
                while !pending.isEmpty {
                    let action = pending.removeFirst()
                    switch action {
                    case .start(let index):
                        let snapshot = results
                        group.addTask { (index, await runner.run(index, inputs: inputs, results: snapshot, row: row)) }
                    case .skip(let index, let blocker):
                        let name = graph.names[index]
                        let blockerName = graph.names[blocker]
                        let why = results[blockerName]?.status == .failed ? "failed" : "was skipped"
                        let result = StepResult(name: name, status: .skipped, message: "'\(blockerName)' \(why)")
                        results[name] = result
                        events(.stepEnded(result))
                        if let recording {
                            group.addTask {
                                // Recorded for the history; nothing waits on it but the run's end.
                                try? await recording.store.record(StepRecord(runID: recording.runID, row: row, result: result, startedAt: Date()))
                                return (index, result)
                            }
                            skipRecords.insert(index)
                        }
                    }
                }
            }
            apply(plan.start())
            while let (index, result) = await group.next() {
                if skipRecords.remove(index) != nil { continue }
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
