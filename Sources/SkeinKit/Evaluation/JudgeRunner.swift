import Foundation
import OrderedCollections
import Synchronization

/// Runs `judge` assertions: the rubric, the case's inputs and the output go to a judge model
/// as a one-step pipeline whose output schema is `{pass, score, reason}`. It runs through the
/// same client, request limit and store as the test, so a judge's request is stored and
/// cached like any other: re-running an unchanged test asks the judge nothing, and gives the
/// same verdict.
final class JudgeRunner: Sendable {
    let pipeline: Pipeline
    let options: RunSession.Options
    let client: any CompletionClient
    let store: (any ResultStore)?
    let recording: StepRunner.Recording?
    let requestLimit: AsyncSemaphore
    /// One scheduler and runner per (provider, model) of the judges used.
    private let judges = Mutex<[String: (Scheduler, StepRunner)]>([:])

    static let system = """
        You grade an output against a rubric. Read the rubric, the inputs the output was made from, and the output. \
        Reply with JSON: "pass" (true when the output meets the rubric), "score" (from 0 to 1: how well it meets it), \
        and "reason" (one sentence saying why).
        """

    static let schema: JSONValue = [
        "type": "object", "required": ["pass", "score", "reason"], "additionalProperties": false,
        "properties": [
            "pass": ["type": "boolean"], "score": ["type": "number", "minimum": 0, "maximum": 1], "reason": ["type": "string"],
        ],
    ]

    init(pipeline: Pipeline, options: RunSession.Options, client: any CompletionClient, store: (any ResultStore)?,
         recording: StepRunner.Recording?, requestLimit: AsyncSemaphore) {
        self.pipeline = pipeline
        // The judge is not a variant: `--vary model` and `--model` leave it alone.
        var options = options
        options.providerOverride = nil
        options.modelOverride = nil
        options.streaming = false
        self.options = options
        self.client = client
        self.store = store
        self.recording = recording
        self.requestLimit = requestLimit
    }

    func judge(_ judge: Assertion.Judge, assertion: Assertion, target: String, subject: AssertionSubject, row: Int) async -> Verdict {
        var verdict = Verdict(target: target, assertion: assertion.summary, key: "judge", passed: false, location: assertion.location)
        let (scheduler, runner): (Scheduler, StepRunner)
        do {
            (scheduler, runner) = try runnerFor(judge, location: assertion.location)
        } catch {
            verdict.message = "the judge cannot run: \(error)"
            return verdict
        }
        let prompt = "Rubric:\n\(judge.rubric)\n\nInputs:\n\(JSONValue.object(subject.inputs).serialized(.pretty))\n\nOutput:\n\(subject.text)"
        let outcome = await scheduler.execute(inputs: ["prompt": .string(prompt)], runner: runner, row: row, events: { _ in })
        guard let result = outcome.results["judge"], result.status == .finished, case .object(let answer) = result.output else {
            verdict.message = "the judge failed: " + (outcome.results["judge"]?.message ?? "no answer")
            return verdict
        }
        let pass = answer["pass"]?.boolValue ?? false
        let score = answer["score"]?.doubleValue ?? answer["score"]?.intValue.map(Double.init)
        verdict.score = score
        verdict.passed = judge.threshold.map { (score ?? 0) >= $0 } ?? pass
        verdict.message = answer["reason"]?.stringValue ?? ""
        return verdict
    }

    private func runnerFor(_ judge: Assertion.Judge, location: SourceLocation) throws -> (Scheduler, StepRunner) {
        let key = (judge.provider?.value ?? "") + "\u{0}" + (judge.model?.value ?? "")
        if let made = judges.withLock({ $0[key] }) { return made }
        var pipeline = self.pipeline
        var step = Step(name: "judge", location: location)
        step.system = TemplateSource(text: Self.system, map: .identity(startingAt: location), location: location)
        step.prompt = TemplateSource(text: "{{ inputs.prompt }}", map: .identity(startingAt: location), location: location)
        step.provider = judge.provider
        step.model = judge.model
        step.output = .schema(Self.schema, location: location)
        step.sampling.temperature = 0
        pipeline.steps = ["judge": step]
        pipeline.inputs = ["prompt": InputDeclaration(name: "prompt", type: .string, schema: ["type": "string"], location: location)]
        pipeline.outputs = [:]
        pipeline.tests = nil
        let (compiled, compileDiagnostics) = CompiledPipeline.compile(pipeline)
        guard let compiled else { throw DiagnosticsError(compileDiagnostics) }
        let (graph, diagnostics) = PipelineGraph.build(compiled)
        guard let graph else { throw DiagnosticsError(diagnostics) }
        let session = RunSession(graph: graph, options: options)
        // Fail early, with the judge's location, when no model is named anywhere.
        _ = try session.resolver.model(
            for: step, defaults: pipeline.defaults, provider: try session.resolver.provider(for: step, defaults: pipeline.defaults))
        let scheduler = session.scheduler(client: client, store: store)
        let runner = scheduler.makeRunner(recording: recording, events: { _ in }, requestLimit: requestLimit)
        judges.withLock { $0[key] = (scheduler, runner) }
        return (scheduler, runner)
    }
}
