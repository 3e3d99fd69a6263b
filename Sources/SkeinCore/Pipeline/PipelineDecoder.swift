import Foundation
import OrderedCollections

/// Turns the YAML tree into a `Pipeline`, collecting a diagnostic for every structural
/// problem (unknown keys with did-you-mean, wrong types, out-of-range values, missing
/// required keys, bad prompt files) and carrying on, so one run reports them all.
package struct PipelineDecoder {
    let path: String
    let text: String
    let configuration: PipelineLoader.Configuration
    var diagnostics: [Diagnostic] = []
    let sourceLines: [Substring]

    static let topLevelKeys = ["version", "name", "description", "defaults", "providers", "inputs", "steps", "env", "outputs", "tests"]
    static let samplingKeys = [
        "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty",
        "max_tokens", "stop", "seed",
    ]
    static let stepKeys =
        [
            "description", "system", "prompt", "messages", "api", "provider", "model", "extra", "output", "reasoning",
            "tools", "tool_choice", "max_turns", "needs", "when", "for_each", "as", "max_concurrency", "retries", "timeout", "cache", "expect",
        ] + samplingKeys
    static let defaultsKeys =
        ["provider", "model", "extra", "reasoning", "retries", "timeout", "max_concurrency", "cache"] + samplingKeys
    static let providerKeys = [
        "type", "base_url", "api_key_env", "max_concurrency", "requests_per_minute", "tokens_per_minute", "rate_limit_patience",
        "structured_outputs", "headers", "ca_file", "pricing",
    ]
    static let inputKeys = [
        "type", "description", "default", "items", "enum", "properties", "required", "additionalProperties",
        "minimum", "maximum", "minLength", "maxLength", "pattern", "format", "minItems", "maxItems",
    ]
    static let reservedNames: Set<String> = ["inputs", "steps", "env", "loop"]

    init(path: String, text: String, configuration: PipelineLoader.Configuration) {
        self.path = path
        self.text = text
        self.configuration = configuration
        self.sourceLines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    // MARK: - Reporting

    mutating func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(.error(message, at: location))
    }

    var fileStart: SourceLocation { SourceLocation(file: path, line: 1, column: 1) }

    // MARK: - Top level

    mutating func decode(_ root: YAMLNode?) -> Pipeline {
        var pipeline = Pipeline(path: path, sourceText: text)
        guard let root else {
            error("the file is empty; a pipeline needs 'version: 1' and 'steps:'", at: fileStart)
            return pipeline
        }
        guard case .mapping(let pairs, _) = root else {
            error("a pipeline file must be a mapping with 'version' and 'steps', got \(root.kindDescription)", at: root.location)
            return pipeline
        }
        let fields = mapping(pairs, allowed: Self.topLevelKeys, context: "at the top level", allowExtensions: true)

        if let version = fields["version"] {
            if case .scalar(let scalar) = version.value, case .int(let number) = scalar.value {
                if number != 1 {
                    error("unsupported version \(number); this Skein reads version 1", at: scalar.location)
                }
                pipeline.version = number
            } else {
                error("'version' must be the integer 1, got \(version.value.kindDescription)", at: version.value.location)
            }
        } else if !diagnostics.contains(where: { $0.message.hasSuffix("did you mean 'version'?") }) {
            error("missing 'version'; add 'version: 1' at the top of the file", at: fileStart)
        }
        pipeline.name = fields["name"].flatMap { string($0.value, key: "name") }
        pipeline.description = fields["description"].flatMap { string($0.value, key: "description") }
        if let node = fields["defaults"] { pipeline.defaults = decodeDefaults(node.value) }
        if let node = fields["providers"] { pipeline.providers = decodeProviders(node.value) }
        if let node = fields["inputs"] { pipeline.inputs = decodeInputs(node.value) }
        if let node = fields["env"] { pipeline.environment = decodeEnvironment(node.value) }
        if let node = fields["steps"] {
            pipeline.steps = decodeSteps(node.value)
        } else if !diagnostics.contains(where: { $0.message.hasSuffix("did you mean 'steps'?") }) {
            error("missing 'steps'; a pipeline needs at least one step", at: fileStart)
        }
        if let node = fields["outputs"] { pipeline.outputs = decodeOutputs(node.value) }
        if let node = fields["tests"] { pipeline.tests = decodeCases(node.value) }
        return pipeline
    }

    // MARK: - Mappings

    /// The pairs of a mapping by key, reporting unknown keys (with a suggestion).
    /// Keys starting with `x-` are allowed at the top level for YAML anchors.
    mutating func mapping(
        _ pairs: [(key: YAMLScalar, value: YAMLNode)], allowed: [String], context: String, allowExtensions: Bool = false
    ) -> OrderedDictionary<String, (key: YAMLScalar, value: YAMLNode)> {
        var result = OrderedDictionary<String, (key: YAMLScalar, value: YAMLNode)>()
        for pair in pairs {
            let key = pair.key.text
            if allowed.contains(key) {
                result[key] = pair
            } else if allowExtensions && key.hasPrefix("x-") {
                continue
            } else {
                error("unknown key '\(key)' \(context)\(Suggestion.didYouMean(key, in: allowed))", at: pair.key.location)
            }
        }
        return result
    }

    mutating func requireMapping(_ node: YAMLNode, key: String) -> [(key: YAMLScalar, value: YAMLNode)]? {
        if case .mapping(let pairs, _) = node { return pairs }
        error("'\(key)' must be a mapping, got \(node.kindDescription)", at: node.location)
        return nil
    }

    // MARK: - Scalars

    mutating func string(_ node: YAMLNode, key: String) -> String? {
        if case .scalar(let scalar) = node, case .string(let value) = scalar.value { return value }
        error("'\(key)' must be a string, got \(node.kindDescription)", at: node.location)
        return nil
    }

    /// A name used in templates: letters, digits and underscores, not starting with a digit.
    mutating func identifier(_ name: String, at location: SourceLocation, what: String) -> Bool {
        if Self.isIdentifier(name) { return true }
        var message = "\(what) '\(name)' is not a valid name; use letters, digits and underscores"
        if name.contains("-") { message += " (templates read '-' as minus: try '\(name.replacingOccurrences(of: "-", with: "_"))')" }
        error(message, at: location)
        return false
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    mutating func bool(_ node: YAMLNode, key: String) -> Bool? {
        if case .scalar(let scalar) = node, case .bool(let value) = scalar.value { return value }
        error("'\(key)' must be true or false, got \(node.kindDescription)", at: node.location)
        return nil
    }

    mutating func number(_ node: YAMLNode, key: String, range: ClosedRange<Double>? = nil, rangeText: String? = nil) -> Double? {
        guard case .scalar(let scalar) = node, let value = scalar.value.doubleValue, !value.isNaN else {
            error("'\(key)' must be a number, got \(node.kindDescription)", at: node.location)
            return nil
        }
        if let range, !range.contains(value) {
            let shown = scalar.text
            error("'\(key)' must be \(rangeText ?? "between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound))"), got \(shown)", at: node.location)
            return nil
        }
        return value
    }

    mutating func integer(_ node: YAMLNode, key: String, range: ClosedRange<Int>? = nil, rangeText: String? = nil) -> Int? {
        guard case .scalar(let scalar) = node, case .int(let value) = scalar.value else {
            error("'\(key)' must be an integer, got \(node.kindDescription)", at: node.location)
            return nil
        }
        if let range, !range.contains(value) {
            error("'\(key)' must be \(rangeText ?? "between \(range.lowerBound) and \(range.upperBound)"), got \(value)", at: node.location)
            return nil
        }
        return value
    }

    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    mutating func enumeration<E: RawRepresentable & CaseIterable>(_ node: YAMLNode, key: String, as type: E.Type) -> E?
    where E.RawValue == String {
        let names = E.allCases.map(\.rawValue)
        guard case .scalar(let scalar) = node, case .string(let text) = scalar.value else {
            error("'\(key)' must be one of \(names.joined(separator: ", ")), got \(node.kindDescription)", at: node.location)
            return nil
        }
        if let value = E(rawValue: text) { return value }
        error("'\(key)' must be one of \(names.joined(separator: ", ")), got '\(text)'\(Suggestion.didYouMean(text, in: names))", at: node.location)
        return nil
    }

    /// `timeout: 30`, `timeout: 2.5`, `timeout: 30s`, `500ms`, `2m`, `1h`.
    mutating func duration(_ node: YAMLNode, key: String) -> Duration? {
        if case .scalar(let scalar) = node {
            var seconds: Double?
            switch scalar.value {
            case .int(let i): seconds = Double(i)
            case .double(let d): seconds = d
            case .string(let s): seconds = Self.parseDuration(s)
            default: break
            }
            if let seconds {
                guard seconds > 0 && seconds <= 86_400 else {
                    error("'\(key)' must be more than 0 and at most 24h, got \(scalar.text)", at: node.location)
                    return nil
                }
                return .milliseconds(Int64((seconds * 1000).rounded()))
            }
        }
        error("'\(key)' must be a duration like 30, 30s, 500ms, 2m or 1h, got \(node.kindDescription)", at: node.location)
        return nil
    }

    static func parseDuration(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if let value = Double(number) { return value * scale }
        }
        return nil
    }

    // MARK: - Sampling

    mutating func decodeSampling(_ key: String, _ node: YAMLNode, into sampling: inout SamplingParameters) {
        switch key {
        case "temperature": sampling.temperature = number(node, key: key, range: 0...2)
        case "top_p": sampling.topP = number(node, key: key, range: 0...1)
        case "top_k": sampling.topK = integer(node, key: key, range: -1...Int.max, rangeText: "-1 (off) or more")
        case "min_p": sampling.minP = number(node, key: key, range: 0...1)
        case "presence_penalty": sampling.presencePenalty = number(node, key: key, range: -2...2)
        case "frequency_penalty": sampling.frequencyPenalty = number(node, key: key, range: -2...2)
        case "repetition_penalty":
            sampling.repetitionPenalty = number(node, key: key, range: 0.000_001...2, rangeText: "more than 0 and at most 2")
        case "max_tokens": sampling.maxTokens = integer(node, key: key, range: 1...Int.max, rangeText: "at least 1")
        case "seed": sampling.seed = integer(node, key: key)
        case "stop":
            switch node {
            case .scalar(let scalar) where scalar.value.stringValue != nil:
                sampling.stop = [scalar.text]
            case .sequence(let items, _):
                var stops: [String] = []
                for item in items {
                    if case .scalar(let scalar) = item, case .string(let s) = scalar.value { stops.append(s) }
                    else { error("'stop' entries must be strings, got \(item.kindDescription)", at: item.location) }
                }
                sampling.stop = stops
            default:
                error("'stop' must be a string or a list of strings, got \(node.kindDescription)", at: node.location)
            }
        default: break
        }
    }

    mutating func jsonObject(_ node: YAMLNode, key: String) -> JSONValue.JSONObject? {
        guard case .mapping = node, case .object(let object) = node.jsonValue else {
            error("'\(key)' must be a mapping, got \(node.kindDescription)", at: node.location)
            return nil
        }
        return object
    }

    // MARK: - Defaults

    mutating func decodeDefaults(_ node: YAMLNode) -> StepDefaults {
        var defaults = StepDefaults()
        guard let pairs = requireMapping(node, key: "defaults") else { return defaults }
        let fields = mapping(pairs, allowed: Self.defaultsKeys, context: "in 'defaults'")
        for (key, pair) in fields {
            let value = pair.value
            switch key {
            case "provider": defaults.provider = string(value, key: key).map { Located($0, at: value.location) }
            case "model": defaults.model = string(value, key: key).map { Located($0, at: value.location) }
            case "extra": defaults.extra = jsonObject(value, key: key)
            case "reasoning": defaults.reasoning = enumeration(value, key: key, as: ReasoningMode.self)
            case "retries": defaults.retries = integer(value, key: key, range: 0...10)
            case "timeout": defaults.timeout = duration(value, key: key)
            case "max_concurrency": defaults.maxConcurrency = integer(value, key: key, range: 1...100_000, rangeText: "at least 1")
            case "cache": defaults.cache = bool(value, key: key)
            default: decodeSampling(key, value, into: &defaults.sampling)
            }
        }
        return defaults
    }

    // MARK: - Providers

    mutating func decodeProviders(_ node: YAMLNode) -> OrderedDictionary<String, Located<ProviderConfiguration>> {
        var result = OrderedDictionary<String, Located<ProviderConfiguration>>()
        guard let pairs = requireMapping(node, key: "providers") else { return result }
        let builtIns = ProviderConfiguration.builtIns()
        for (nameScalar, value) in pairs {
            let name = nameScalar.text
            guard let providerPairs = requireMapping(value, key: "providers.\(name)") else { continue }
            let fields = mapping(providerPairs, allowed: Self.providerKeys, context: "in provider '\(name)'")
            var provider = builtIns[name] ?? ProviderConfiguration(name: name, baseURL: "")
            for (key, pair) in fields {
                let value = pair.value
                switch key {
                case "type": if let kind = enumeration(value, key: key, as: ProviderConfiguration.Kind.self) { provider.kind = kind }
                case "base_url":
                    if let url = string(value, key: key) {
                        if let problem = ProviderConfiguration.baseURLProblem(url) {
                            error("'base_url' \(problem)", at: value.location)
                        } else {
                            // Set in place: rebuilding the provider here dropped the settings
                            // written above `base_url` (a `rate_limit_patience` among them).
                            var trimmed = url
                            while trimmed.hasSuffix("/") { trimmed.removeLast() }
                            provider.baseURL = trimmed
                        }
                    }
                case "api_key_env":
                    if case .scalar(let scalar) = value, scalar.value.isNull {
                        provider.apiKeyEnvironmentVariable = nil
                    } else if let variable = string(value, key: key) {
                        if variable.hasPrefix("sk-") || variable.count > 64 {
                            error("'api_key_env' names the environment variable that holds the key, not the key itself", at: value.location)
                        } else {
                            provider.apiKeyEnvironmentVariable = variable
                        }
                    }
                case "max_concurrency": provider.maxConcurrency = integer(value, key: key, range: 1...100_000, rangeText: "at least 1")
                case "requests_per_minute": provider.requestsPerMinute = integer(value, key: key, range: 1...Int.max, rangeText: "at least 1")
                case "tokens_per_minute": provider.tokensPerMinute = integer(value, key: key, range: 1...Int.max, rangeText: "at least 1")
                case "rate_limit_patience": provider.rateLimitPatience = duration(value, key: key)
                case "pricing": provider.pricing = decodePricing(value)
                case "structured_outputs":
                    if let mode = enumeration(value, key: key, as: ProviderConfiguration.StructuredOutputMode.self) {
                        provider.structuredOutputs = mode
                    }
                case "ca_file":
                    if case .scalar(let scalar) = value, scalar.value.isNull {
                        provider.caFile = nil
                    } else if let file = string(value, key: key) {
                        provider.caFile = resolveCertificateFile(file, at: value.location)
                    }
                case "headers":
                    if let object = jsonObject(value, key: key) {
                        for (header, headerValue) in object {
                            if let text = headerValue.stringValue { provider.headers[header] = text }
                            else { error("header '\(header)' must be a string", at: value.location) }
                        }
                    }
                default: break
                }
            }
            if provider.baseURL.isEmpty && fields["base_url"] == nil {
                error("provider '\(name)' needs a 'base_url' (it is not a built-in: novita, openai, local)", at: nameScalar.location)
            }
            result[name] = Located(provider, at: nameScalar.location)
        }
        return result
    }

    // MARK: - Inputs

    mutating func decodeInputs(_ node: YAMLNode) -> OrderedDictionary<String, InputDeclaration> {
        var result = OrderedDictionary<String, InputDeclaration>()
        guard let pairs = requireMapping(node, key: "inputs") else { return result }
        for (nameScalar, value) in pairs {
            let name = nameScalar.text
            guard identifier(name, at: nameScalar.location, what: "input") else { continue }
            var type = InputDeclaration.InputType.string
            var description: String?
            var defaultValue: JSONValue?
            var schema = JSONValue.JSONObject()
            switch value {
            case .scalar(let scalar) where scalar.value.isNull:
                break
            case .scalar(let scalar) where scalar.value.stringValue != nil:
                // Shorthand: `article: string`.
                if let parsed = enumeration(value, key: "inputs.\(name)", as: InputDeclaration.InputType.self) { type = parsed }
                _ = scalar
            case .mapping(let inputPairs, _):
                let fields = mapping(inputPairs, allowed: Self.inputKeys, context: "in input '\(name)'")
                for (key, pair) in fields {
                    switch key {
                    case "type":
                        if let parsed = enumeration(pair.value, key: "type", as: InputDeclaration.InputType.self) { type = parsed }
                    case "description": description = string(pair.value, key: key)
                    case "default": defaultValue = pair.value.jsonValue
                    default: schema[key] = pair.value.jsonValue
                    }
                }
            default:
                error("input '\(name)' must be a mapping like {type: string}, got \(value.kindDescription)", at: value.location)
                continue
            }
            schema["type"] = .string(type.rawValue)
            if let defaultValue, !Self.matches(defaultValue, type) {
                error("the default of input '\(name)' must be \(Self.article(type.rawValue)), got \(defaultValue.typeName)", at: value.location)
            }
            var ordered = JSONValue.JSONObject()
            ordered["type"] = schema.removeValue(forKey: "type")
            ordered.merge(schema) { a, _ in a }
            result[name] = InputDeclaration(
                name: name, type: type, description: description, defaultValue: defaultValue, schema: .object(ordered),
                location: nameScalar.location)
        }
        return result
    }

    package static func matches(_ value: JSONValue, _ type: InputDeclaration.InputType) -> Bool {
        switch (type, value) {
        case (.string, .string), (.boolean, .bool), (.array, .array), (.object, .object), (.integer, .int): return true
        case (.number, .int), (.number, .double): return true
        case (.integer, .double(let d)): return d.rounded() == d
        default: return false
        }
    }

    package static func article(_ word: String) -> String {
        ["a", "e", "i", "o", "u"].contains(word.first.map(String.init) ?? "") ? "an \(word)" : "a \(word)"
    }

    // MARK: - env

    mutating func decodeEnvironment(_ node: YAMLNode) -> [Located<String>] {
        guard case .sequence(let items, _) = node else {
            error("'env' must be a list of environment variable names, got \(node.kindDescription)", at: node.location)
            return []
        }
        var names: [Located<String>] = []
        for item in items {
            guard let name = string(item, key: "env") else { continue }
            if identifier(name, at: item.location, what: "environment variable") { names.append(Located(name, at: item.location)) }
        }
        return names
    }

    // MARK: - Outputs

    mutating func decodeOutputs(_ node: YAMLNode) -> OrderedDictionary<String, OutputDeclaration> {
        var result = OrderedDictionary<String, OutputDeclaration>()
        guard let pairs = requireMapping(node, key: "outputs") else { return result }
        for (nameScalar, value) in pairs {
            if let template = template(value, key: "outputs.\(nameScalar.text)") {
                result[nameScalar.text] = OutputDeclaration(name: nameScalar.text, template: template, location: nameScalar.location)
            }
        }
        return result
    }
}
