import OrderedCollections

/// A message with its templates parsed.
public struct CompiledMessage: Sendable, Hashable {
    public enum Part: Sendable, Hashable {
        case text(Template)
        case imageURL(Template)
        case imageFile(Located<String>)
    }

    public enum Content: Sendable, Hashable {
        case text(Template)
        case parts([Part])
    }

    public var role: MessageSpec.Role
    public var content: Content
    public var name: String?
}

/// A step with every template parsed once.
public struct CompiledStep: Sendable {
    public var step: Step
    public var forEach: Template?
    public var when: Template?
    public var system: Template?
    public var prompt: Template?
    public var messages: [CompiledMessage]?
    /// The output schema, compiled.
    public var outputSchema: JSONSchema?
    /// The `parameters` schema of each tool that runs, compiled: arguments are checked
    /// against it before the tool runs.
    public var toolSchemas: [String: JSONSchema] = [:]

    public var name: String { step.name }

    /// Every template with the key it belongs to, `for_each` and `when` first.
    public var templates: [(key: String, template: Template)] {
        var result: [(String, Template)] = []
        if let forEach { result.append(("for_each", forEach)) }
        if let when { result.append(("when", when)) }
        if let system { result.append(("system", system)) }
        if let prompt { result.append(("prompt", prompt)) }
        for (index, message) in (messages ?? []).enumerated() {
            switch message.content {
            case .text(let template): result.append(("messages[\(index)]", template))
            case .parts(let parts):
                for part in parts {
                    switch part {
                    case .text(let template), .imageURL(let template): result.append(("messages[\(index)]", template))
                    case .imageFile: break
                    }
                }
            }
        }
        return result
    }
}

/// A pipeline whose templates and output schemas are parsed: what the graph, the
/// dry run and the scheduler work from.
public struct CompiledPipeline: Sendable {
    public var pipeline: Pipeline
    public var steps: OrderedDictionary<String, CompiledStep>
    public var outputs: OrderedDictionary<String, Template>

    /// Parses every template and schema, collecting every syntax error.
    public static func compile(_ pipeline: Pipeline) -> (CompiledPipeline?, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        func parse(_ source: TemplateSource?) -> Template? {
            guard let source else { return nil }
            do {
                return try Template(source.text, map: source.map)
            } catch let diagnostic as Diagnostic {
                diagnostics.append(diagnostic)
            } catch {
                diagnostics.append(.error("\(error)", at: source.location))
            }
            return nil
        }
        var steps = OrderedDictionary<String, CompiledStep>()
        for (name, step) in pipeline.steps {
            var compiled = CompiledStep(step: step)
            compiled.forEach = parse(step.forEach)
            compiled.when = parse(step.when)
            compiled.system = parse(step.system)
            compiled.prompt = parse(step.prompt)
            if let messages = step.messages {
                compiled.messages = messages.map { message in
                    let content: CompiledMessage.Content
                    switch message.content {
                    case .text(let source): content = .text(parse(source) ?? Template.empty)
                    case .parts(let parts):
                        content = .parts(parts.map { part in
                            switch part {
                            case .text(let source): return .text(parse(source) ?? Template.empty)
                            case .imageURL(let source): return .imageURL(parse(source) ?? Template.empty)
                            case .imageFile(let path): return .imageFile(path)
                            }
                        })
                    }
                    return CompiledMessage(role: message.role, content: content, name: message.name)
                }
            }
            if case .schema(let schema, let location) = step.output {
                do {
                    compiled.outputSchema = try JSONSchema(schema)
                } catch {
                    diagnostics.append(.error("the output schema of step '\(name)' is invalid: \(error)", at: location))
                }
            }
            for tool in step.runnableTools {
                guard let parameters = tool.parameters else { continue }
                do {
                    compiled.toolSchemas[tool.name] = try JSONSchema(parameters)
                } catch {
                    diagnostics.append(.error("the 'parameters' schema of tool '\(tool.name)' is invalid: \(error)", at: tool.location))
                }
            }
            steps[name] = compiled
        }
        var outputs = OrderedDictionary<String, Template>()
        for (name, output) in pipeline.outputs {
            if let template = parse(output.template) { outputs[name] = template }
        }
        if diagnostics.contains(where: { $0.severity == .error }) { return (nil, diagnostics) }
        return (CompiledPipeline(pipeline: pipeline, steps: steps, outputs: outputs), diagnostics)
    }
}

extension Template {
    /// A template that renders nothing (stands in for one that failed to parse).
    static let empty: Template = {
        do { return try Template("") } catch { fatalError("the empty template always parses") }
    }()

    /// True when the template is exactly one `{{ path }}` with no filter or operator,
    /// so its value is the referenced value itself (used to type-check `for_each`).
    var isBarePath: Bool {
        guard nodes.count == 1, case .output(let expression) = nodes[0] else { return false }
        switch expression.takeUnretainedValue().kind {
        case .variable: return true
        case .access(let base, _): if case .variable = base.kind { return true } else { return false }
        default: return false
        }
    }
}
