import OrderedCollections

/// Collects edges from template references and `needs:`, and checks each reference:
/// unknown steps and inputs (with did-you-mean), fields the upstream output schema does
/// not define, field access on plain-text outputs, `env.NAME` not listed under `env:`,
/// `for_each` over something that is not a list; and warns about unused inputs and steps.
struct GraphBuilder {
    let compiled: CompiledPipeline
    let names: [String]
    let index: [String: Int]
    var dependencies: [[Int]]
    var statusDependencies: [Set<Int>]
    /// Where the first reference that creates each edge is (for cycle notes).
    var edgeLocations: [Int: [Int: SourceLocation]] = [:]
    var diagnostics: [Diagnostic] = []
    private var usedInputs = Set<String>()
    private var usedSteps = Set<Int>()

    static let stepFields = ["output", "reasoning", "tool_calls", "turns", "usage", "model", "finish_reason", "status"]
    /// The fields of each entry of `.tool_calls`.
    static let toolCallFields = ["id", "name", "arguments", "result", "error", "turn"]
    static let usageFields = ["prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens"]
    static let roots = ["inputs", "steps", "env"]

    init(compiled: CompiledPipeline) {
        self.compiled = compiled
        names = Array(compiled.steps.keys)
        var index: [String: Int] = [:]
        for (position, name) in names.enumerated() { index[name] = position }
        self.index = index
        dependencies = Array(repeating: [], count: names.count)
        statusDependencies = Array(repeating: [], count: names.count)
    }

    var pipeline: Pipeline { compiled.pipeline }

    mutating func run() {
        var dependencySets = [Set<Int>](repeating: [], count: names.count)
        for (position, step) in compiled.steps.values.enumerated() {
            let loopVariable = step.step.loopVariable?.value
            for (key, template) in step.templates {
                // The `as` variable is defined in every template of the step but `for_each`.
                let local: Set<String> = key == "for_each" ? [] : Set([loopVariable].compactMap { $0 })
                for reference in template.references {
                    guard let dependency = check(reference, in: step.name, local: local) else { continue }
                    if dependency == position {
                        diagnostics.append(.error(
                            "dependency cycle: \(step.name) -> \(step.name) (a step cannot read its own output)",
                            at: reference.location))
                        continue
                    }
                    dependencySets[position].insert(dependency)
                    if edgeLocations[position]?[dependency] == nil { edgeLocations[position, default: [:]][dependency] = reference.location }
                    if key == "when", reference.path.count >= 3, reference.path[2] == .key("status") {
                        statusDependencies[position].insert(dependency)
                    }
                }
            }
            for need in step.step.needs {
                if let dependency = index[need.value] {
                    if dependency == position {
                        diagnostics.append(.error("step '\(step.name)' needs itself", at: need.location))
                        continue
                    }
                    dependencySets[position].insert(dependency)
                    usedSteps.insert(dependency)
                    if edgeLocations[position]?[dependency] == nil { edgeLocations[position, default: [:]][dependency] = need.location }
                } else {
                    diagnostics.append(.error(
                        "'needs' names unknown step '\(need.value)'\(Suggestion.didYouMean(need.value, in: names))",
                        at: need.location))
                }
            }
            checkForEach(step)
        }
        for (_, template) in compiled.outputs {
            for reference in template.references {
                if let dependency = check(reference, in: nil, local: []) { usedSteps.insert(dependency) }
            }
        }
        dependencies = dependencySets.map { $0.sorted() }
        warnUnused()
    }

    /// Checks one reference; returns the step it reads, if any.
    mutating func check(_ reference: TemplateReference, in stepName: String?, local: Set<String>) -> Int? {
        guard case .key(let root)? = reference.path.first else { return nil }
        if local.contains(root) { return nil }
        switch root {
        case "inputs": checkInput(reference); return nil
        case "env": checkEnvironment(reference); return nil
        case "steps": return checkStep(reference)
        default:
            if reference.isGuarded { return nil }
            let context = stepName.map { " in step '\($0)'" } ?? " in outputs"
            let candidates = Self.roots + local
            var message = "undefined variable '\(root)'\(context)"
            if root == "loop" {
                message += "; 'loop' exists only inside {% for %}"
            } else if let suggestion = Suggestion.closest(to: root, in: candidates) {
                message += "; did you mean '\(suggestion)'?"
            } else {
                message += "; templates read 'inputs.NAME', 'steps.NAME.output' and 'env.NAME'"
            }
            diagnostics.append(.error(message, at: reference.location))
            return nil
        }
    }

    mutating func checkInput(_ reference: TemplateReference) {
        guard reference.path.count >= 2 else {
            if !reference.isGuarded { usedInputs.formUnion(pipeline.inputs.keys) }
            return
        }
        guard case .key(let name) = reference.path[1] else { return }
        guard let input = pipeline.inputs[name] else {
            if reference.isGuarded { return }
            diagnostics.append(.error(
                "undeclared input 'inputs.\(name)'\(Suggestion.didYouMean(name, in: pipeline.inputs.keys))"
                    + (Suggestion.closest(to: name, in: pipeline.inputs.keys) == nil ? "; declare it under 'inputs:'" : ""),
                at: reference.location))
            return
        }
        usedInputs.insert(name)
        if reference.path.count > 2, let schema = try? JSONSchema(input.schema) {
            checkFields(Array(reference.path.dropFirst(2)), schema: schema, base: "inputs.\(name)", reference: reference)
        }
    }

    mutating func checkEnvironment(_ reference: TemplateReference) {
        guard reference.path.count >= 2, case .key(let name) = reference.path[1] else { return }
        if !pipeline.environment.contains(where: { $0.value == name }) && !reference.isGuarded {
            diagnostics.append(.error(
                "env.\(name) is not listed under 'env:'; add '\(name)' to the pipeline's env list to let templates read it",
                at: reference.location))
        }
    }

    mutating func checkStep(_ reference: TemplateReference) -> Int? {
        guard reference.path.count >= 2, case .key(let name) = reference.path[1] else { return nil }
        guard let dependency = index[name] else {
            if !reference.isGuarded {
                diagnostics.append(.error(
                    "unknown step 'steps.\(name)'\(Suggestion.didYouMean(name, in: names))", at: reference.location))
            }
            return nil
        }
        usedSteps.insert(dependency)
        guard reference.path.count >= 3 else { return dependency }
        guard case .key(let field) = reference.path[2] else { return dependency }
        guard Self.stepFields.contains(field) else {
            if !reference.isGuarded {
                diagnostics.append(.error(
                    "'steps.\(name)' has no field '\(field)'"
                        + (Suggestion.closest(to: field, in: Self.stepFields).map { "; did you mean '\($0)'?" }
                            ?? "; a step has \(Self.stepFields.joined(separator: ", "))"),
                    at: reference.location))
            }
            return dependency
        }
        let rest = Array(reference.path.dropFirst(3))
        guard !rest.isEmpty, !reference.isGuarded else { return dependency }
        let upstream = compiled.steps.values[dependency]
        switch field {
        case "output":
            var schemaPath = rest
            let isFanOut = upstream.step.forEach != nil
            if isFanOut {
                // A for_each step's output is the list of its items' outputs.
                let first = schemaPath.removeFirst()
                if case .key(let key) = first {
                    diagnostics.append(.error(
                        "'steps.\(name).output' is a list (one item per for_each item); it has no field '\(key)'; index it, e.g. steps.\(name).output[0]",
                        at: reference.location))
                    return dependency
                }
                if schemaPath.isEmpty { return dependency }
            }
            switch upstream.step.output {
            case .text:
                diagnostics.append(.error(
                    "step '\(name)' outputs plain text; '\(reference.dotted)' needs 'output: {schema: ...}' or 'output: {format: json}' on step '\(name)'",
                    at: reference.location))
            case .json:
                break
            case .schema:
                if let schema = upstream.outputSchema {
                    let base = "steps.\(name).output" + (isFanOut ? "[*]" : "")
                    checkFields(schemaPath, schema: schema, base: base, reference: reference)
                }
            }
        case "usage":
            if case .key(let key) = rest[0], !Self.usageFields.contains(key) {
                diagnostics.append(.error(
                    "'steps.\(name).usage' has no field '\(key)'\(Suggestion.didYouMean(key, in: Self.usageFields))",
                    at: reference.location))
            }
        case "tool_calls" where upstream.step.forEach == nil:
            if case .key(let key) = rest[0] {
                diagnostics.append(.error(
                    "'steps.\(name).tool_calls' is a list (one entry per call); it has no field '\(key)'; index it, e.g. steps.\(name).tool_calls[0].\(key)",
                    at: reference.location))
            } else if rest.count > 1, case .key(let key) = rest[1], !Self.toolCallFields.contains(key) {
                diagnostics.append(.error(
                    "a tool call has no field '\(key)'"
                        + (Suggestion.closest(to: key, in: Self.toolCallFields).map { "; did you mean '\($0)'?" }
                            ?? "; it has " + Self.toolCallFields.joined(separator: ", ")),
                    at: reference.location))
            }
        case "turns" where upstream.step.forEach == nil:
            if case .key(let key) = rest[0] {
                diagnostics.append(.error("'steps.\(name).turns' is a number; it has no field '\(key)'", at: reference.location))
            }
        case "status", "model", "finish_reason", "reasoning":
            if case .key(let key) = rest[0] {
                diagnostics.append(.error("'steps.\(name).\(field)' is text; it has no field '\(key)'", at: reference.location))
            }
        default:
            break
        }
        return dependency
    }

    /// Walks `path` through `schema`, reporting the first field the schema cannot have.
    mutating func checkFields(_ path: [TemplateReference.Component], schema: JSONSchema, base: String, reference: TemplateReference) {
        var current = schema
        var described = base
        for component in path {
            switch component {
            case .key(let key):
                if let types = current.declaredTypes, !types.contains("object") {
                    let kind = types.sorted().joined(separator: " or ")
                    diagnostics.append(.error("'\(described)' is \(kind.isEmpty ? "never valid" : kind); it has no field '\(key)'", at: reference.location))
                    return
                }
                // A field the schema does not declare is a typo far more often than a use of
                // `additionalProperties`, so it is an error whenever `properties` lists fields.
                let declared = current.propertyNames
                guard let next = current.propertySchema(key), declared.isEmpty || declared.contains(key) else {
                    diagnostics.append(.error(
                        "'\(described)' has no field '\(key)'\(Suggestion.didYouMean(key, in: current.propertyNames))",
                        at: reference.location))
                    return
                }
                current = next
                described += "." + key
            case .index, .anyElement:
                if let types = current.declaredTypes, !types.contains("array") && !types.contains("string") && !types.contains("object") {
                    diagnostics.append(.error("'\(described)' is not a list; it cannot be indexed", at: reference.location))
                    return
                }
                guard let next = current.itemsSchema else { return }
                current = next
                described += component == .anyElement ? "[*]" : "[\(component)]"
            case .dynamic:
                return
            }
        }
    }

    mutating func checkForEach(_ step: CompiledStep) {
        guard let forEach = step.forEach, forEach.isBarePath, forEach.references.count == 1 else { return }
        let reference = forEach.references[0]
        let path = reference.path
        guard case .key(let root)? = path.first else { return }
        var notAList: String?
        if root == "inputs", path.count == 2, case .key(let name) = path[1], let input = pipeline.inputs[name],
            input.type != .array
        {
            notAList = "'inputs.\(name)' is \(PipelineDecoder.article(input.type.rawValue))"
        }
        if root == "steps", path.count == 3, case .key(let name) = path[1], path[2] == .key("output"),
            let upstream = compiled.steps[name], upstream.step.forEach == nil
        {
            switch upstream.step.output {
            case .text: notAList = "step '\(name)' outputs plain text"
            case .schema:
                if let types = upstream.outputSchema?.declaredTypes, !types.contains("array") {
                    notAList = "the output schema of step '\(name)' is \(types.sorted().joined(separator: " or "))"
                }
            case .json: break
            }
        }
        if let notAList {
            diagnostics.append(.error(
                "'for_each' needs a list, but \(notAList); use a list, or split text with '| lines' or '| chunk(n)'",
                at: reference.location))
        }
    }

    mutating func warnUnused() {
        for (name, input) in pipeline.inputs where !usedInputs.contains(name) {
            diagnostics.append(.warning("input '\(name)' is never used", at: input.location))
        }
        guard !pipeline.outputs.isEmpty else { return }
        for (position, name) in names.enumerated() where !usedSteps.contains(position) {
            diagnostics.append(.warning(
                "step '\(name)' is not read by any output or step; its result is only kept in the run history",
                at: compiled.steps.values[position].step.location))
        }
    }

    /// Finds one cycle among the steps Kahn's algorithm could not order and names its path.
    func cycleDiagnostic(remaining: [Int]) -> Diagnostic {
        let inCycle = Set((0..<names.count).filter { remaining[$0] > 0 })
        // Walk dependency edges from the first unordered step until a step repeats.
        var start = inCycle.min() ?? 0
        var seen: [Int: Int] = [:]
        var walk: [Int] = []
        var current = start
        while seen[current] == nil {
            seen[current] = walk.count
            walk.append(current)
            guard let next = dependencies[current].first(where: { inCycle.contains($0) }) else { break }
            current = next
        }
        var cycle = Array(walk[(seen[current] ?? 0)...])
        // Data flows from a dependency to its dependent: reverse, then start at the step
        // that comes first in the file.
        cycle.reverse()
        if let first = cycle.indices.min(by: { cycle[$0] < cycle[$1] }) {
            cycle = Array(cycle[first...] + cycle[..<first])
        }
        start = cycle.first ?? start
        let path = (cycle + [start]).map { names[$0] }.joined(separator: " -> ")
        var notes: [Diagnostic] = []
        for (position, step) in cycle.enumerated() {
            let consumer = cycle[(position + 1) % cycle.count]
            let location = edgeLocations[consumer]?[step] ?? compiled.steps.values[consumer].step.location
            notes.append(.note("'\(names[consumer])' reads '\(names[step])' here", at: location))
        }
        return .error("dependency cycle: \(path)", at: compiled.steps.values[start].step.location, notes: notes)
    }
}
