import Foundation
import OrderedCollections

/// Runs a pipeline: connects the `Plan` (what may start) to the `StepRunner` (the I/O)
/// with structured concurrency. A step starts the moment its last dependency ends.
///
/// A class, not a struct, so that the async frames of runs and dataset rows in flight hold
/// a reference to it, not a copy of its graph and options.
public final class Scheduler: Sendable {
    /// The run's choices; see `RunSession.Options`.
    public typealias Options = RunSession.Options

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
        /// The verdicts of the steps' own `expect:` (not `judge`, which `skein test` runs).
        public var expectations: [Verdict] = []
        /// What the run's replies from the provider cost (replies from the store cost nothing),
        /// by step, and the budget's refusal when `--max-cost` stopped the run.
        public var spend = CostMeter.Spend()

        public var failedSteps: [StepResult] { results.values.filter { $0.status == .failed } }
    }

    /// The run's configuration, worked out once.
    public let session: RunSession
    public var graph: PipelineGraph { session.graph }
    public var options: Options { session.options }
    public let client: any CompletionClient
    /// Where results are looked up and recorded; nil runs without cache or history.
    public let store: (any ResultStore)?

    public init(session: RunSession, client: any CompletionClient, store: (any ResultStore)? = nil) {
        self.session = session
        self.client = client
        self.store = store
    }

    /// A scheduler with a session of its own (see `RunSession`).
    public convenience init(
        graph: PipelineGraph, client: any CompletionClient, store: (any ResultStore)? = nil, options: Options = Options()
    ) {
        self.init(session: RunSession(graph: graph, options: options), client: client, store: store)
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
        do {
            try await session.loadPrices(client: client)
        } catch {
            return Outcome(status: .failed, results: [:], outputs: [:], outputErrors: ["\(error)"], duration: clock.now - started)
        }
        var recording: StepRunner.Recording?
        if let store {
            let record = record ?? session.record(inputs: inputs, extraOptions: [:], gitCommit: .some(nil))
            do {
                recording = StepRunner.Recording(store: store, runID: try await store.beginRun(record))
            } catch {
                return Outcome(status: .failed, results: [:], outputs: [:], outputErrors: [StepFailure.from(error).description],
                               duration: clock.now - started)
            }
        }
        let runner = makeRunner(recording: recording, events: events)
        var outcome = await execute(inputs: inputs, runner: runner, row: 0, events: events)
        outcome.spend = runner.meter.spend
        outcome.expectations = StepExpectations.verdicts(of: outcome, session: session, inputs: inputs)
        outcome.duration = clock.now - started
        if let recording {
            outcome.runID = recording.runID
            do {
                try await recording.store.endRun(
                    recording.runID, status: outcome.status.rawValue,
                    outputs: outcome.status == .succeeded ? .object(outcome.outputs) : nil, endedAt: Date())
            } catch {
                outcome.outputErrors.append(StepFailure.from(error).description)
                if outcome.status == .succeeded { outcome.status = .failed }
            }
        }
        return outcome
    }

    /// The step runner of a run: one per run, shared by every dataset row, so that all
    /// rows share the global request limit.
    /// - Parameter requestLimit: a limit shared with other runners (`skein test`'s variants);
    ///   one of its own by default.
    func makeRunner(
        recording: StepRunner.Recording?, events: @escaping @Sendable (RunEvent) -> Void, requestLimit: AsyncSemaphore? = nil
    ) -> StepRunner {
        StepRunner(
            graph: graph, client: client, resolver: session.resolver,
            configuration: .init(streaming: options.streaming, environment: options.environment, cachePolicy: options.cachePolicy),
            requestLimit: requestLimit ?? AsyncSemaphore(limit: session.requestLimit), structuredSupport: StructuredOutputSupport(),
            recording: recording, events: events, meter: CostMeter(budget: options.maxCost), prices: session.prices)
    }

    /// Runs the pipeline once for one set of inputs (a dataset row, or the whole run).
    ///
    /// The bookkeeping lives in a `RowRun` object and the outcome is assembled by a plain
    /// function: what an async function keeps across its awaits is stored in its frame, and
    /// the frame of this one, held by every dataset row in flight, had grown to 20 KB.
    func execute(
        inputs: JSONValue.JSONObject, runner: StepRunner, row: Int, events: @escaping @Sendable (RunEvent) -> Void
    ) async -> Outcome {
        let started = ContinuousClock.now
        let run = RowRun(graph: graph, policy: options.failurePolicy, events: events)
        await withTaskGroup(of: (Int, StepResult).self) { group in
            run.launch(run.apply(run.start()), in: &group, runner: runner, inputs: inputs, row: row)
            while let (index, result) = await group.next() {
                run.launch(run.ended(index, result, cancelled: Task.isCancelled), in: &group, runner: runner, inputs: inputs, row: row)
            }
        }
        if Task.isCancelled { run.interrupted = true }
        return outcome(of: run, inputs: inputs, started: started)
    }

    /// The outcome of a row's run: results in file order, and `outputs:` when it succeeded.
    private func outcome(of run: RowRun, inputs: JSONValue.JSONObject, started: ContinuousClock.Instant) -> Outcome {
        var ordered = OrderedDictionary<String, StepResult>()
        for name in graph.names {
            ordered[name] = run.results[name] ?? StepResult(name: name, status: .notRun)
        }
        let failed = ordered.values.contains { $0.status == .failed }
        var outputs = JSONValue.JSONObject()
        var outputErrors: [String] = []
        if !failed && !run.interrupted {
            let variables = StepRunner.context(inputs: inputs, steps: run.steps, pipeline: graph.pipeline, environment: options.environment)
            for (name, template) in graph.compiled.outputs {
                do {
                    outputs[name] = try template.evaluate(TemplateContext(variables))
                } catch {
                    outputErrors.append("output '\(name)': \(StepFailure.from(error).description)")
                }
            }
        }
        let status: Outcome.Status = run.interrupted ? .interrupted : (failed || !outputErrors.isEmpty ? .failed : .succeeded)
        return Outcome(status: status, results: ordered, outputs: outputs, outputErrors: outputErrors,
                       duration: ContinuousClock.now - started)
    }
}

/// The state of one run of the pipeline (one dataset row) while its steps run: the plan,
/// the results so far and the templates' `steps` object. Used by `Scheduler.execute` only,
/// from the one task that owns the run's task group.
final class RowRun {
    /// What the task group is to start.
    enum Launch {
        /// Run a step, with the `steps` object of its start.
        case step(Int, JSONValue.JSONObject)
        /// Record a skipped step in the history (when there is a store).
        case skipRecord(Int, StepResult)
    }

    let graph: PipelineGraph
    let events: @Sendable (RunEvent) -> Void
    var plan: Plan
    var results: [String: StepResult] = [:]
    /// The templates' `steps` object: each result's `templateValue`, built once when it ends.
    var steps = JSONValue.JSONObject()
    var interrupted = false
    /// Skipped steps whose history record is being written (their group task is not a step run).
    var skipRecords = Set<Int>()

    init(graph: PipelineGraph, policy: Plan.FailurePolicy, events: @escaping @Sendable (RunEvent) -> Void) {
        self.graph = graph
        self.events = events
        self.plan = Plan(graph: graph, policy: policy)
    }

    func start() -> [Plan.Action] { plan.start() }

    /// Starts the launches' group tasks.
    @inline(never)
    func launch(
        _ launches: [Launch], in group: inout TaskGroup<(Int, StepResult)>, runner: StepRunner, inputs: JSONValue.JSONObject,
        row: Int
    ) {
        for launch in launches {
            switch launch {
            case .step(let index, let steps):
                group.addTask { (index, await runner.run(index, inputs: inputs, steps: steps, row: row)) }
            case .skipRecord(let index, let result):
                guard let recording = runner.recording else { continue }
                skipRecords.insert(index)
                group.addTask {
                    // Recorded for the history; nothing waits on it but the run's end.
                    try? await recording.store.record(StepRecord(runID: recording.runID, row: row, result: result, startedAt: Date()))
                    return (index, result)
                }
            }
        }
    }

    /// Turns the plan's actions into launches; skipped steps get their result here.
    func apply(_ actions: [Plan.Action]) -> [Launch] {
        var launches: [Launch] = []
        for action in actions {
            switch action {
            case .start(let index):
                launches.append(.step(index, steps))
            case .skip(let index, let blocker):
                let name = graph.names[index]
                let blockerName = graph.names[blocker]
                let why = results[blockerName]?.status == .failed ? "failed" : "was skipped"
                let result = StepResult(name: name, status: .skipped, note: "'\(blockerName)' \(why)")
                results[name] = result
                steps[name] = result.templateValue
                events(.stepEnded(result))
                launches.append(.skipRecord(index, result))
            }
        }
        return launches
    }

    /// A group task ended: a step's run, or a skipped step's history record.
    func ended(_ index: Int, _ result: StepResult, cancelled: Bool) -> [Launch] {
        if skipRecords.remove(index) != nil { return [] }
        let name = graph.names[index]
        results[name] = result
        steps[name] = result.templateValue
        events(.stepEnded(result))
        if cancelled && !interrupted {
            interrupted = true
            plan.stop()
        }
        switch result.status {
        case .finished: return apply(plan.finished(index))
        case .skipped: return apply(plan.skipped(index))
        case .failed: return apply(plan.failed(index))
        case .notRun:
            interrupted = true
            plan.stop()
            return []
        }
    }
}
