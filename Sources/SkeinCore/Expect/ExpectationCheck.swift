import Foundation

/// The checks of expectations and test cases against the pipeline, before anything runs:
/// targets that exist, `expr` templates that read only `output` and declared inputs, judge
/// providers the pipeline knows, case inputs the pipeline declares. Each error is located
/// in the file it came from (the pipeline, or the cases file).
public enum ExpectationCheck {
    /// What an `expr` may read.
    static let exprRoots = ["output", "inputs"]

    /// The pipeline's step-level `expect:` and its own `tests:`.
    public static func check(_ pipeline: Pipeline) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for step in pipeline.steps.values {
            for assertion in step.expect ?? [] { diagnostics += check(assertion, pipeline: pipeline) }
        }
        if let tests = pipeline.tests { diagnostics += check(cases: tests, pipeline: pipeline) }
        return diagnostics
    }

    /// Test cases (from `tests:` or a cases file) against the pipeline they test.
    public static func check(cases: [TestCase], pipeline: Pipeline) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let inputNames = Array(pipeline.inputs.keys)
        let targets = Array(pipeline.outputs.keys) + pipeline.steps.keys.map { "steps.\($0)" }
        for testCase in cases {
            for name in testCase.inputs.keys where pipeline.inputs[name] == nil {
                diagnostics.append(.error(
                    "test case '\(testCase.name)' sets input '\(name)', which the pipeline does not declare"
                        + Suggestion.didYouMean(name, in: inputNames), at: testCase.location))
            }
            for (name, input) in pipeline.inputs where input.isRequired && testCase.inputs[name] == nil {
                diagnostics.append(.error(
                    "test case '\(testCase.name)' does not set the required input '\(name)'", at: testCase.location))
            }
            for target in testCase.expect {
                if !targets.contains(target.name.value) {
                    let hint = target.name.value.hasPrefix("steps.")
                        ? Suggestion.didYouMean(target.name.value, in: targets)
                        : Suggestion.didYouMean(target.name.value, in: targets)
                            + "; a target is an output's name or steps.NAME"
                    diagnostics.append(.error("test case '\(testCase.name)' expects '\(target.name.value)', which is no output or step\(hint)",
                                              at: target.name.location))
                }
                for assertion in target.assertions { diagnostics += check(assertion, pipeline: pipeline) }
            }
        }
        return diagnostics
    }

    static func check(_ assertion: Assertion, pipeline: Pipeline) -> [Diagnostic] {
        switch assertion.kind {
        case .expr(let source):
            let template: Template
            do {
                template = try Template(source.text, map: source.map)
            } catch let diagnostic as Diagnostic {
                return [diagnostic]
            } catch {
                return [.error("the 'expr' does not parse: \(error)", at: source.location)]
            }
            var diagnostics: [Diagnostic] = []
            for reference in template.references where !reference.isGuarded {
                guard case .key(let root)? = reference.path.first else { continue }
                if !exprRoots.contains(root) {
                    diagnostics.append(.error(
                        "an 'expr' reads '\(root)', which is not defined; it has output (the value checked) and inputs"
                            + Suggestion.didYouMean(root, in: exprRoots), at: reference.location))
                } else if root == "inputs", reference.path.count > 1, case .key(let name) = reference.path[1],
                    pipeline.inputs[name] == nil
                {
                    diagnostics.append(.error(
                        "an 'expr' reads 'inputs.\(name)', which the pipeline does not declare"
                            + Suggestion.didYouMean(name, in: Array(pipeline.inputs.keys)), at: reference.location))
                }
            }
            return diagnostics
        case .judge(let judge):
            guard let provider = judge.provider else { return [] }
            let known = Array(pipeline.providers.keys) + ProviderConfiguration.builtIns().keys.sorted()
            if !known.contains(provider.value) {
                return [.error("the judge's provider '\(provider.value)' is not defined"
                    + Suggestion.didYouMean(provider.value, in: known) + "; define it under 'providers:' or use "
                    + known.joined(separator: ", "), at: provider.location)]
            }
            return []
        default:
            return []
        }
    }
}
