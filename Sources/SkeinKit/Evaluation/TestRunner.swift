import Foundation
import OrderedCollections
import Synchronization

/// `skein test` (DESIGN.md section 8): every case times every variant, through one request
/// limit and one client (so the provider limits are shared, as in a dataset run), each
/// case's outputs checked against its expectations and the steps' own `expect:`.
///
/// With a store, the test is one run in the history: each (case, variant) is a row of it
/// (`row = case × variants + variant`), its requests and steps recorded as any run's, and
/// every verdict kept (`test_verdicts`). An unchanged test re-run is answered by the store.
public final class TestRunner: Sendable {
    /// One column of the table: a pipeline (the working tree's or a revision's) with its
    /// overrides.
    public struct Variant: Sendable {
        public var name: String
        public var session: RunSession

        public init(name: String, session: RunSession) {
            self.name = name
            self.session = session
        }
    }

    /// A case run under a variant, with its verdicts.
    public struct CaseResult: Sendable {
        public var caseIndex: Int
        public var caseName: String
        public var variant: String
        public var status: Scheduler.Outcome.Status
        public var verdicts: [Verdict]
        /// Why the run failed (a step's failure), when it did.
        public var error: String?
        public var outputs: JSONValue.JSONObject
        public var usage: Completion.Usage?
        /// USD; nil when a model used has no price.
        public var cost: Double?
        public var latency: Duration
        /// Requests made (the store answered the rest).
        public var requests: Int
        public var cacheHits: Int

        /// Every assertion held and the run succeeded.
        public var passed: Bool { status == .succeeded && verdicts.allSatisfy(\.passed) }
        /// The first thing that went wrong, for the table.
        public var firstFailure: String? {
            if status != .succeeded { return "run \(status.rawValue): " + (error ?? "") }
            return verdicts.first { !$0.passed }.map { "\($0.target): \($0.assertion) — \($0.message)" }
        }
    }

    public struct Outcome: Sendable {
        public var variants: [String]
        public var cases: [String]
        /// `results[case][variant]`.
        public var results: [[CaseResult]]
        public var runID: Int64?
        public var duration: Duration
        public var passed: Bool { results.allSatisfy { $0.allSatisfy(\.passed) } }
    }

    let variants: [Variant]
    let cases: [TestCase]
    let client: any CompletionClient
    let store: (any ResultStore)?
    let concurrency: Int

    public init(variants: [Variant], cases: [TestCase], client: any CompletionClient, store: (any ResultStore)?, concurrency: Int) {
        self.variants = variants
        self.cases = cases
        self.client = client
        self.store = store
        self.concurrency = max(1, concurrency)
    }

    /// Runs every case under every variant.
    /// - Parameters:
    ///   - record: the test's entry in the history.
    ///   - progress: called as each (case, variant) ends.
    public func run(record: RunRecord?, progress: @escaping @Sendable (CaseResult) -> Void = { _ in }) async -> Outcome {
        let clock = ContinuousClock()
        let started = clock.now
        var recording: StepRunner.Recording?
        if let store, let record, let id = try? await store.beginRun(record) {
            recording = StepRunner.Recording(store: store, runID: id)
        }
        let limit = AsyncSemaphore(limit: concurrency)
        let schedulers = variants.map { $0.session.scheduler(client: client, store: store) }
        let runners = schedulers.map { $0.makeRunner(recording: recording, events: { _ in }, requestLimit: limit) }
        let judge = JudgeRunner(
            pipeline: variants[0].session.graph.pipeline, options: variants[0].session.options, client: client, store: store,
            recording: recording, requestLimit: limit)
        let pairs = cases.indices.flatMap { caseIndex in variants.indices.map { (caseIndex, $0) } }
        var results = [[CaseResult?]](repeating: [CaseResult?](repeating: nil, count: variants.count), count: cases.count)
        // Enough cases under way that the request limit stays full, without a task per case.
        let window = min(pairs.count, 4 * concurrency)
        await withTaskGroup(of: CaseResult.self) { group in
            var next = 0
            func start(_ group: inout TaskGroup<CaseResult>) {
                let (caseIndex, variantIndex) = pairs[next]
                next += 1
                group.addTask {
                    await self.runCase(
                        caseIndex, variantIndex, scheduler: schedulers[variantIndex], runner: runners[variantIndex], judge: judge)
                }
            }
            while next < window { start(&group) }
            while let result = await group.next() {
                results[result.caseIndex][variants.firstIndex { $0.name == result.variant } ?? 0] = result
                progress(result)
                if next < pairs.count { start(&group) }
            }
        }
        let finished = results.map { $0.compactMap { $0 } }
        if let recording {
            let allPassed = finished.allSatisfy { $0.allSatisfy(\.passed) }
            try? await recording.store.endRun(
                recording.runID, status: allPassed ? "succeeded" : "failed", outputs: Self.summary(finished), endedAt: Date())
        }
        return Outcome(
            variants: variants.map(\.name), cases: cases.map(\.name), results: finished, runID: recording?.runID,
            duration: clock.now - started)
    }

    /// The test's outcome as the run's `outputs` in the history: each case's verdicts per
    /// variant, which `skein runs diff` compares.
    static func summary(_ results: [[CaseResult]]) -> JSONValue {
        var cases = JSONValue.JSONObject()
        for row in results {
            guard let first = row.first else { continue }
            var variants = JSONValue.JSONObject()
            for result in row {
                variants[result.variant] = .string(result.passed ? "pass" : "fail" + (result.firstFailure.map { ": " + $0 } ?? ""))
            }
            cases[first.caseName] = .object(variants)
        }
        return ["test": .object(cases)]
    }

    func runCase(_ caseIndex: Int, _ variantIndex: Int, scheduler: Scheduler, runner: StepRunner, judge: JudgeRunner) async
        -> CaseResult
    {
        let testCase = cases[caseIndex]
        let variant = variants[variantIndex]
        let session = variant.session
        let pipeline = session.graph.pipeline
        let row = caseIndex * variants.count + variantIndex
        var result = CaseResult(
            caseIndex: caseIndex, caseName: testCase.name, variant: variant.name, status: .failed, verdicts: [], outputs: [:],
            latency: .zero, requests: 0, cacheHits: 0)
        let inputs: JSONValue.JSONObject
        do {
            inputs = try InputResolver(pipeline: pipeline).resolve(testCase.inputs.mapValues { .value($0) })
        } catch {
            result.error = "the case's inputs: \(error)"
            return result
        }
        let outcome = await scheduler.execute(inputs: inputs, runner: runner, row: row, events: { _ in })
        result.status = outcome.status
        result.outputs = outcome.outputs
        result.latency = outcome.duration
        result.error = outcome.failedSteps.first.map { "step '\($0.name)' failed: \($0.message ?? "")" }
            ?? outcome.outputErrors.first
        var usage: Completion.Usage?
        var cost: Double? = 0
        for stepResult in outcome.results.values {
            result.requests += stepResult.requests
            result.cacheHits += stepResult.cacheHits
            if let stepUsage = stepResult.usage { usage = usage.map { $0 + stepUsage } ?? stepUsage }
            cost = cost.flatMap { total in Self.cost(of: stepResult, session: session).map { total + $0 } }
        }
        result.usage = usage
        result.cost = cost
        // The steps' own expectations, then the case's.
        for (name, step) in pipeline.steps {
            guard let assertions = step.expect, let stepResult = outcome.results[name], stepResult.status == .finished else { continue }
            let values = step.forEach == nil ? [(name, stepResult.output)]
                : (stepResult.output.arrayValue ?? []).enumerated().map { ("\(name)[\($0.offset)]", $0.element) }
            for (target, value) in values {
                let subject = AssertionSubject(
                    value: value, inputs: inputs, finishReasons: Self.finishReasons(stepResult), latency: stepResult.duration,
                    cost: Self.cost(of: stepResult, session: session))
                for assertion in assertions {
                    result.verdicts.append(await check(assertion, target: "steps.\(target)", subject: subject, judge: judge, row: row))
                }
            }
        }
        for target in testCase.expect {
            let subject: AssertionSubject
            if let stepName = target.step {
                guard let stepResult = outcome.results[stepName], stepResult.status == .finished else {
                    for assertion in target.assertions {
                        result.verdicts.append(Verdict(
                            target: target.name.value, assertion: assertion.summary, key: assertion.key, passed: false,
                            message: "step '\(stepName)' did not finish", location: assertion.location))
                    }
                    continue
                }
                subject = AssertionSubject(
                    value: stepResult.output, inputs: inputs, finishReasons: Self.finishReasons(stepResult),
                    latency: stepResult.duration, cost: Self.cost(of: stepResult, session: session))
            } else {
                // A failed run has no `outputs`; an output whose steps all finished is still
                // worth checking (the summary of a run whose headline step failed).
                guard let value = outcome.outputs[target.name.value]
                    ?? Self.partialOutput(target.name.value, outcome: outcome, session: session, inputs: inputs)
                else {
                    for assertion in target.assertions {
                        result.verdicts.append(Verdict(
                            target: target.name.value, assertion: assertion.summary, key: assertion.key, passed: false,
                            message: "no output '\(target.name.value)': a step it reads did not finish", location: assertion.location))
                    }
                    continue
                }
                // An output's finish reasons, time and cost are those of the steps it reads.
                let steps = Self.steps(readBy: target.name.value, graph: session.graph).compactMap { outcome.results[$0] }
                var stepCost: Double? = 0
                for step in steps { stepCost = stepCost.flatMap { total in Self.cost(of: step, session: session).map { total + $0 } } }
                subject = AssertionSubject(
                    value: value, inputs: inputs, finishReasons: steps.flatMap(Self.finishReasons), latency: outcome.duration,
                    cost: stepCost)
            }
            for assertion in target.assertions {
                result.verdicts.append(await check(assertion, target: target.name.value, subject: subject, judge: judge, row: row))
            }
        }
        if let store, let recording = runner.recording {
            try? await store.record(TestVerdictsRecord(
                runID: recording.runID, row: row, caseName: testCase.name, variant: variant.name,
                status: result.passed ? "pass" : "fail", error: result.status == .succeeded ? nil : result.error,
                verdicts: result.verdicts, usage: usage, cost: cost))
        }
        return result
    }

    func check(_ assertion: Assertion, target: String, subject: AssertionSubject, judge: JudgeRunner, row: Int) async -> Verdict {
        if case .judge(let spec) = assertion.kind {
            return await judge.judge(spec, assertion: assertion, target: target, subject: subject, row: row)
        }
        return AssertionEvaluator.evaluate(assertion, target: target, subject: subject)
    }

    static func finishReasons(_ result: StepResult) -> [String] {
        switch result.finishReason {
        case .string(let reason): return [reason]
        case .array(let reasons): return reasons.compactMap(\.stringValue)
        default: return []
        }
    }

    /// An output of a run that did not succeed, when every step it reads finished.
    static func partialOutput(_ name: String, outcome: Scheduler.Outcome, session: RunSession, inputs: JSONValue.JSONObject)
        -> JSONValue?
    {
        guard let template = session.graph.compiled.outputs[name] else { return nil }
        let steps = Self.steps(readBy: name, graph: session.graph)
        guard steps.allSatisfy({ outcome.results[$0]?.status == .finished }) else { return nil }
        var finished = [String: StepResult]()
        for step in steps { finished[step] = outcome.results[step] }
        let variables = StepRunner.context(
            inputs: inputs, results: finished, pipeline: session.graph.pipeline, environment: session.options.environment)
        return try? template.evaluate(TemplateContext(variables))
    }

    /// The steps an output's template reads.
    static func steps(readBy output: String, graph: PipelineGraph) -> [String] {
        guard let template = graph.compiled.outputs[output] else { return [] }
        var names: [String] = []
        for reference in template.references {
            guard reference.path.count >= 2, reference.path[0] == .key("steps"), case .key(let name) = reference.path[1],
                !names.contains(name)
            else { continue }
            names.append(name)
        }
        return names
    }

    /// What a step's tokens cost at its provider's prices; nil when its model has none.
    public static func cost(of result: StepResult, session: RunSession) -> Double? {
        guard let usage = result.usage, usage.totalTokens > 0 || usage.completionTokens > 0 else { return 0 }
        guard let step = session.graph.pipeline.steps[result.name],
            let provider = try? session.resolver.provider(for: step, defaults: session.graph.pipeline.defaults),
            let model = try? session.resolver.model(for: step, defaults: session.graph.pipeline.defaults, provider: provider),
            let price = provider.price(of: model)
        else { return nil }
        return price.cost(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, cachedTokens: usage.cachedTokens ?? 0)
    }
}
