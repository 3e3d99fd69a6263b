import Foundation

/// The steps' own `expect:` checked after `skein run` (DESIGN.md section 8): a failure is a
/// warning in the summary and in `--output json`, and does not change the exit code.
/// `judge` assertions need a model and run in `skein test` only.
public enum StepExpectations {
    public static func verdicts(of outcome: Scheduler.Outcome, session: RunSession, inputs: JSONValue.JSONObject) -> [Verdict] {
        var verdicts: [Verdict] = []
        for (name, step) in session.graph.pipeline.steps {
            guard let assertions = step.expect?.filter({ if case .judge = $0.kind { return false } else { return true } }),
                !assertions.isEmpty, let result = outcome.results[name], result.status == .finished
            else { continue }
            let values = step.forEach == nil ? [(name, result.output)]
                : (result.output.arrayValue ?? []).enumerated().map { ("\(name)[\($0.offset)]", $0.element) }
            for (target, value) in values {
                let subject = AssertionSubject(
                    value: value, inputs: inputs, finishReasons: TestRunner.finishReasons(result), latency: result.duration,
                    cost: TestRunner.cost(of: result, session: session))
                for assertion in assertions {
                    verdicts.append(AssertionEvaluator.evaluate(assertion, target: "steps.\(target)", subject: subject))
                }
            }
        }
        return verdicts
    }
}
