/// `skein run --dry-run`: every request the run would send, rendered as far as the inputs
/// allow, in topological order, without any network call.
///
/// A value that only a model can produce (`steps.NAME...`) is replaced by a placeholder
/// text `⟨steps.NAME.output⟩` shaped to fit how the template uses it (an object for field
/// access, a one-item list for a loop), so the printed body is the exact request with the
/// unknown parts marked.
public struct DryRun: Sendable {
    public struct Request: Sendable {
        public var step: String
        public var item: Int?
        public var provider: ProviderConfiguration
        public var request: CompletionRequest
        /// Steps whose outputs are shown as placeholders.
        public var placeholders: [String]
        /// Why the step would be skipped, when its `when` is known to be false.
        public var skippedBecause: String?
        /// The tools Skein would run if the model called them (`run` or `http`); the
        /// request shown is the first turn of the loop.
        public var tools: [ToolSpec] = []

        /// `POST {baseURL}/chat/completions`, or `{baseURL}/v1/messages` for an Anthropic provider.
        public var endpoint: String { request.api.url(baseURL: provider.baseURL) }
    }

    public let graph: PipelineGraph
    public let resolver: ProviderResolver

    public init(graph: PipelineGraph, resolver: ProviderResolver) {
        self.graph = graph
        self.resolver = resolver
    }

    public static func marker(_ path: String) -> String { "⟨\(path)⟩" }

    /// The requests in topological order.
    /// - Throws: a `Diagnostic` for a template that fails on the given inputs, or an unknown provider.
    public func requests(inputs: JSONValue.JSONObject, environment: [String: String]) throws -> [Request] {
        var requests: [Request] = []
        let defaults = graph.pipeline.defaults
        for index in graph.order {
            let step = graph.step(index)
            var placeholderSteps: [String] = []
            var steps = JSONValue.JSONObject()
            for (_, template) in step.templates {
                for reference in template.references {
                    guard reference.path.count >= 2, reference.path[0] == .key("steps"), case .key(let name) = reference.path[1]
                    else { continue }
                    if !placeholderSteps.contains(name) { placeholderSteps.append(name) }
                    var value = steps[name] ?? .object([:])
                    Self.insert(Array(reference.path.dropFirst(2)), marker: Self.marker(reference.dotted), into: &value)
                    steps[name] = value
                }
            }
            var variables = StepRunner.context(inputs: inputs, results: [:], pipeline: graph.pipeline, environment: environment)
            variables["steps"] = .object(steps)
            let provider = try resolver.provider(for: step.step, defaults: defaults)
            let model = try resolver.model(for: step.step, defaults: defaults, provider: provider)
            let builder = StepRequestBuilder(step: step, defaults: defaults, provider: provider, model: model)
            let mode = builder.initialStructuredMode
            var skipped: String?
            if let when = step.when, placeholderSteps.isEmpty,
                !Template.isTruthy(try when.evaluate(TemplateContext(variables)))
            {
                skipped = "'when' is false"
            }
            if let forEach = step.forEach, let variable = step.step.loopVariable?.value {
                var items: [JSONValue]
                if case .array(let list) = try forEach.evaluate(TemplateContext(variables)) {
                    items = list
                } else {
                    items = [.string(Self.marker(variable))]
                }
                if items.isEmpty { items = [] }
                for (position, item) in items.enumerated() {
                    var itemVariables = variables
                    itemVariables[variable] = item
                    let request = try builder.request(context: TemplateContext(itemVariables), structuredMode: mode, stream: false)
                    requests.append(Request(step: step.name, item: position, provider: provider, request: request,
                                            placeholders: placeholderSteps, skippedBecause: skipped, tools: step.step.runnableTools))
                }
            } else {
                let request = try builder.request(context: TemplateContext(variables), structuredMode: mode, stream: false)
                requests.append(Request(step: step.name, item: nil, provider: provider, request: request,
                                        placeholders: placeholderSteps, skippedBecause: skipped, tools: step.step.runnableTools))
            }
        }
        return requests
    }

    /// Puts a placeholder at `path` inside `value`, creating objects and lists on the way.
    static func insert(_ path: ArraySlice<TemplateReference.Component>, marker: String, into value: inout JSONValue) {
        guard let first = path.first else {
            if case .object(let object) = value, object.isEmpty { value = .string(marker) }
            return
        }
        let rest = path.dropFirst()
        switch first {
        case .key(let key):
            var object = value.objectValue ?? [:]
            var child = object[key] ?? .object([:])
            insert(rest, marker: marker, into: &child)
            object[key] = child
            value = .object(object)
        case .index, .anyElement, .dynamic:
            var items = value.arrayValue ?? []
            let position: Int
            if case .index(let index) = first { position = max(0, index) } else { position = 0 }
            while items.count <= position { items.append(.object([:])) }
            insert(rest, marker: marker, into: &items[position])
            for index in items.indices where items[index] == .object([:]) { items[index] = .string(marker) }
            value = .array(items)
        }
    }

    static func insert(_ path: [TemplateReference.Component], marker: String, into value: inout JSONValue) {
        insert(path[...], marker: marker, into: &value)
    }
}
