import Foundation
import OrderedCollections

/// One expectation about an output (DESIGN.md section 8): a one-key map in an `expect:` list,
/// such as `{contains: [library, carbon]}` or `{max_length: 600}`.
///
/// Everything that can be checked before a run is checked when the file is read: the key
/// (with a did-you-mean), the argument's type, a regex that does not compile, a JSON Schema
/// that does not, an `expr` template that does not parse.
public struct Assertion: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// JSON equality with the output (text compares as text).
        case equals(JSONValue)
        /// Every text occurs in the output.
        case contains([String])
        /// At least one occurs.
        case containsAny([String])
        /// None occurs.
        case notContains([String])
        /// The pattern matches somewhere in the output (ICU syntax, as NSRegularExpression).
        case regex(String)
        /// At least / at most this many characters.
        case minLength(Int)
        case maxLength(Int)
        /// The output (parsed from text when it is text) validates against the schema.
        case jsonSchema(JSONValue)
        /// A template expression that must be true, with `output` (and `inputs`) bound.
        case expr(TemplateSource)
        /// The reply's finish reason is one of these.
        case finishReason([String])
        /// The step (or the steps an output reads) took at most this long.
        case maxLatency(Duration)
        /// The step (or the steps an output reads) cost at most this many USD.
        case maxCost(Double)
        /// Model-graded: the rubric, the case's inputs and the output go to a judge model.
        case judge(Judge)
    }

    /// A model-graded assertion.
    public struct Judge: Sendable, Hashable {
        public var rubric: String
        /// The judge's provider and model; the pipeline's defaults when unset.
        public var provider: Located<String>?
        public var model: Located<String>?
        /// The lowest score (0–1) that passes; without it the judge's `pass` decides.
        public var threshold: Double?

        public init(rubric: String, provider: Located<String>? = nil, model: Located<String>? = nil, threshold: Double? = nil) {
            self.rubric = rubric
            self.provider = provider
            self.model = model
            self.threshold = threshold
        }
    }

    public var kind: Kind
    /// The assertion's key as written (`contains`, `max_length`, ...).
    public var key: String
    public var location: SourceLocation

    public init(kind: Kind, key: String, location: SourceLocation) {
        self.kind = kind
        self.key = key
        self.location = location
    }

    /// The assertion as a person reads it in a table: `contains [library, carbon]`.
    public var summary: String {
        func list(_ items: [String]) -> String { items.count == 1 ? "'\(items[0])'" : "[" + items.map { "'\($0)'" }.joined(separator: ", ") + "]" }
        switch kind {
        case .equals(let value): return "equals " + Self.clip(value.stringValue.map { "'\($0)'" } ?? value.serialized(), 60)
        case .contains(let items): return "contains " + list(items)
        case .containsAny(let items): return "contains_any " + list(items)
        case .notContains(let items): return "not_contains " + list(items)
        case .regex(let pattern): return "regex /\(pattern)/"
        case .minLength(let count): return "min_length \(count)"
        case .maxLength(let count): return "max_length \(count)"
        case .jsonSchema: return "json_schema"
        case .expr(let source):
            // As written: without the {{ }} a bare expression was wrapped in.
            var text = source.text
            if text.hasPrefix("{{ ") && text.hasSuffix(" }}") && !text.dropFirst(3).dropLast(3).contains("{{") {
                text = String(text.dropFirst(3).dropLast(3))
            }
            return "expr " + Self.clip(text, 60)
        case .finishReason(let reasons): return "finish_reason " + list(reasons)
        case .maxLatency(let duration): return "max_latency \(Self.seconds(duration))"
        case .maxCost(let usd): return "max_cost $\(usd)"
        case .judge(let judge): return "judge '" + Self.clip(judge.rubric, 60) + "'"
        }
    }

    /// Every assertion key, for the did-you-mean.
    public static let keys = [
        "equals", "contains", "contains_any", "not_contains", "regex", "min_length", "max_length", "json_schema", "expr",
        "finish_reason", "max_latency", "max_cost", "judge",
    ]

    static func clip(_ text: String, _ limit: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > limit ? String(flat.prefix(limit - 1)) + "…" : flat
    }

    package static func seconds(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%.2gs", seconds)
    }
}

/// A test case (DESIGN.md section 8): inputs, and what the outputs must satisfy.
public struct TestCase: Sendable, Hashable {
    public var name: String
    /// The pipeline's inputs for this case; `@path` text was read from the file, relative
    /// to the cases file.
    public var inputs: JSONValue.JSONObject
    /// Expectations by target: a pipeline output's name, or `steps.NAME`.
    public var expect: [Target]
    public var location: SourceLocation

    /// What a list of assertions applies to.
    public struct Target: Sendable, Hashable {
        /// `summary` (an output) or `steps.summarize` (a step's `.output`).
        public var name: Located<String>
        public var assertions: [Assertion]

        /// The step a `steps.NAME` target names.
        public var step: String? { name.value.hasPrefix("steps.") ? String(name.value.dropFirst(6)) : nil }
    }

    public init(name: String, inputs: JSONValue.JSONObject, expect: [Target], location: SourceLocation) {
        self.name = name
        self.inputs = inputs
        self.expect = expect
        self.location = location
    }
}

extension PipelineDecoder {
    /// An `expect:` list: one-key maps, each an assertion.
    mutating func decodeAssertions(_ node: YAMLNode, key: String) -> [Assertion]? {
        guard case .sequence(let items, _) = node else {
            error("'\(key)' must be a list of assertions such as [{contains: word}, {max_length: 600}], got \(node.kindDescription)",
                  at: node.location)
            return nil
        }
        return items.compactMap { decodeAssertion($0) }
    }

    mutating func decodeAssertion(_ node: YAMLNode) -> Assertion? {
        guard case .mapping(let pairs, _) = node, pairs.count == 1, let (keyScalar, value) = pairs.first else {
            error("an assertion is a map of one key, such as {contains: word} or {max_length: 600}", at: node.location)
            return nil
        }
        let key = keyScalar.text
        let location = keyScalar.location
        func make(_ kind: Assertion.Kind) -> Assertion { Assertion(kind: kind, key: key, location: location) }
        switch key {
        case "equals":
            return make(.equals(value.jsonValue))
        case "contains", "contains_any", "not_contains":
            guard let texts = stringList(value, key: key) else { return nil }
            return make(key == "contains" ? .contains(texts) : key == "contains_any" ? .containsAny(texts) : .notContains(texts))
        case "regex":
            guard let pattern = string(value, key: key) else { return nil }
            do {
                _ = try NSRegularExpression(pattern: pattern)
            } catch {
                self.error("'regex' /\(pattern)/ does not compile: check its brackets, parentheses and escapes "
                    + "(a backslash in YAML needs single quotes: '\\d+')", at: value.location)
                return nil
            }
            return make(.regex(pattern))
        case "min_length", "max_length":
            guard let count = integer(value, key: key, range: 0...Int.max, rangeText: "0 or more") else { return nil }
            return make(key == "min_length" ? .minLength(count) : .maxLength(count))
        case "json_schema":
            guard case .mapping = value else {
                error("'json_schema' must be a JSON Schema mapping, got \(value.kindDescription)", at: value.location)
                return nil
            }
            do {
                _ = try JSONSchema(value.jsonValue)
            } catch {
                self.error("the 'json_schema' is invalid: \(error)", at: value.location)
                return nil
            }
            return make(.jsonSchema(value.jsonValue))
        case "expr":
            guard case .scalar(let scalar) = value, case .string(let text) = scalar.value else {
                error("'expr' must be a template expression such as \"output | length < 600\", got \(value.kindDescription)",
                      at: value.location)
                return nil
            }
            // A bare expression is wrapped in {{ }}; one written with braces is taken as it is.
            let wrapped = text.contains("{{") ? text : "{{ " + text + " }}"
            let offset = text.contains("{{") ? 0 : 3
            var map = sourceMap(for: scalar)
            if offset > 0 { map.lineStarts[0] = map.lineStarts[0].advanced(byColumns: -offset) }
            return make(.expr(TemplateSource(text: wrapped, map: map, location: scalar.location)))
        case "finish_reason":
            guard let reasons = stringList(value, key: key) else { return nil }
            return make(.finishReason(reasons))
        case "max_latency":
            guard let limit = duration(value, key: key) else { return nil }
            return make(.maxLatency(limit))
        case "max_cost":
            guard let usd = number(value, key: key, range: 0...1_000_000, rangeText: "a number of USD, 0 or more") else { return nil }
            return make(.maxCost(usd))
        case "judge":
            return decodeJudge(value).map { make(.judge($0)) }
        default:
            let hint = Suggestion.didYouMean(key, in: Assertion.keys)
            error("unknown assertion '\(key)'" + (hint.isEmpty ? "; the assertions are " + Assertion.keys.joined(separator: ", ") : hint),
                  at: location)
            return nil
        }
    }

    /// Text, or a list of texts.
    mutating func stringList(_ node: YAMLNode, key: String) -> [String]? {
        switch node {
        case .scalar(let scalar) where scalar.value.stringValue != nil:
            return [scalar.text]
        case .scalar(let scalar) where scalar.value.intValue != nil || scalar.value.doubleValue != nil:
            return [scalar.text]
        case .sequence(let items, _) where !items.isEmpty:
            var texts: [String] = []
            for item in items {
                guard case .scalar(let scalar) = item, !scalar.value.isNull, scalar.value.arrayValue == nil else {
                    error("'\(key)' takes text or a list of texts; this entry is \(item.kindDescription)", at: item.location)
                    return nil
                }
                texts.append(scalar.text)
            }
            return texts
        default:
            error("'\(key)' takes text or a non-empty list of texts, got \(node.kindDescription)", at: node.location)
            return nil
        }
    }

    mutating func decodeJudge(_ node: YAMLNode) -> Assertion.Judge? {
        if case .scalar(let scalar) = node, case .string(let rubric) = scalar.value {
            return Assertion.Judge(rubric: rubric)
        }
        guard let pairs = requireMapping(node, key: "judge") else { return nil }
        let fields = mapping(pairs, allowed: ["rubric", "provider", "model", "threshold"], context: "in 'judge'")
        guard let rubricNode = fields["rubric"]?.value else {
            error("'judge' needs a 'rubric': what a passing output does, e.g. {rubric: \"Names the main claim\"}", at: node.location)
            return nil
        }
        guard let rubric = string(rubricNode, key: "rubric") else { return nil }
        var judge = Assertion.Judge(rubric: rubric)
        if let provider = fields["provider"]?.value {
            judge.provider = string(provider, key: "provider").map { Located($0, at: provider.location) }
        }
        if let model = fields["model"]?.value { judge.model = string(model, key: "model").map { Located($0, at: model.location) } }
        if let threshold = fields["threshold"]?.value {
            judge.threshold = number(threshold, key: "threshold", range: 0...1, rangeText: "between 0 and 1")
        }
        return judge
    }

    // MARK: - Test cases

    /// A list of test cases: `tests:` in a pipeline, or a cases file.
    mutating func decodeCases(_ node: YAMLNode) -> [TestCase]? {
        guard case .sequence(let items, _) = node else {
            error("test cases must be a list of {name, inputs, expect}, got \(node.kindDescription)", at: node.location)
            return nil
        }
        var cases: [TestCase] = []
        var names: [String: SourceLocation] = [:]
        for (position, item) in items.enumerated() {
            guard let pairs = requireMapping(item, key: "a test case") else { continue }
            let fields = mapping(pairs, allowed: ["name", "inputs", "expect"], context: "in a test case")
            var name = "case \(position + 1)"
            if let node = fields["name"]?.value, let text = string(node, key: "name") {
                name = text
                if let first = names[text] {
                    error("two test cases are named '\(text)' (the first at line \(first.line)); names must differ", at: node.location)
                }
                names[text] = node.location
            }
            var inputs = JSONValue.JSONObject()
            if let node = fields["inputs"]?.value, let pairs = requireMapping(node, key: "inputs") {
                for (key, value) in pairs {
                    inputs[key.text] = caseInput(value)
                }
            }
            var targets: [TestCase.Target] = []
            if let node = fields["expect"]?.value, let pairs = requireMapping(node, key: "expect") {
                for (key, value) in pairs {
                    // One assertion or a list of them.
                    let assertions: [Assertion]?
                    if case .mapping = value { assertions = decodeAssertion(value).map { [$0] } }
                    else { assertions = decodeAssertions(value, key: "expect.\(key.text)") }
                    targets.append(TestCase.Target(name: Located(key.text, at: key.location), assertions: assertions ?? []))
                }
            } else if fields["expect"] == nil {
                error("test case '\(name)' has no 'expect'; say what its outputs must satisfy", at: item.location)
            }
            cases.append(TestCase(name: name, inputs: inputs, expect: targets, location: item.location))
        }
        return cases
    }

    /// A case's input value; text starting with `@` is a file's contents, relative to the
    /// file the case is in (`@@` keeps a literal `@`).
    mutating func caseInput(_ node: YAMLNode) -> JSONValue {
        guard case .scalar(let scalar) = node, case .string(let text) = scalar.value, text.hasPrefix("@") else {
            return node.jsonValue
        }
        if text.hasPrefix("@@") { return .string(String(text.dropFirst())) }
        let relative = String(text.dropFirst())
        let resolved = pathFromPipeline(relative)
        guard let data = configuration.files.read(resolved) else {
            error("cannot read '\(relative)' (looked for \(resolved)); '@path' is relative to the cases file", at: scalar.location)
            return .null
        }
        guard var content = String(data: data, encoding: .utf8) else {
            error("'\(relative)' is not valid UTF-8", at: scalar.location)
            return .null
        }
        if content.hasPrefix("\u{FEFF}") { content.removeFirst() }
        return .string(content)
    }
}

/// Reads a cases file (`skein test --cases FILE`): a YAML list, or JSONL (one case per line).
public enum TestCaseLoader {
    public static func load(path: String, configuration: PipelineLoader.Configuration = .init()) -> (cases: [TestCase], diagnostics: [Diagnostic]) {
        guard let data = configuration.files.read(path), var text = String(data: data, encoding: .utf8) else {
            return ([], [.error("cannot read the cases file '\(path)'")])
        }
        if path.hasSuffix(".jsonl") {
            // Each line a case: as a YAML list of flow mappings, so locations keep their lines.
            text = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.trimmingCharacters(in: .whitespaces).isEmpty ? "" : "- " + line
            }.joined(separator: "\n")
        }
        let root: YAMLNode?
        do {
            root = try YAMLReader.read(text, file: path, limits: configuration.limits)
        } catch let error as DiagnosticsError {
            return ([], error.diagnostics)
        } catch {
            return ([], [.error("\(error)", at: SourceLocation(file: path, line: 1, column: 1))])
        }
        var decoder = PipelineDecoder(path: path, text: text, configuration: configuration)
        guard let root else { return ([], [.error("the cases file '\(path)' is empty", at: SourceLocation(file: path, line: 1, column: 1))]) }
        let cases = decoder.decodeCases(root) ?? []
        return (cases, decoder.diagnostics)
    }
}

extension PipelineDecoder {
    /// `pricing:` of a provider: by model id (or `"*"`), `{input_per_million,
    /// output_per_million, cached_input_per_million}` in USD.
    mutating func decodePricing(_ node: YAMLNode) -> [String: ProviderConfiguration.Price] {
        var prices: [String: ProviderConfiguration.Price] = [:]
        guard let pairs = requireMapping(node, key: "pricing") else { return prices }
        for (model, value) in pairs {
            guard let fields = requireMapping(value, key: "pricing.\(model.text)").map({
                mapping($0, allowed: ["input_per_million", "output_per_million", "cached_input_per_million"],
                        context: "in the price of '\(model.text)'")
            }) else { continue }
            func price(_ key: String) -> Double? {
                fields[key].flatMap { number($0.value, key: key, range: 0...1_000_000, rangeText: "USD per million tokens, 0 or more") }
            }
            guard let input = price("input_per_million"), let output = price("output_per_million") else {
                if fields["input_per_million"] == nil || fields["output_per_million"] == nil {
                    error("the price of '\(model.text)' needs 'input_per_million' and 'output_per_million' (USD per million tokens)",
                          at: model.location)
                }
                continue
            }
            prices[model.text] = ProviderConfiguration.Price(
                inputPerMillion: input, outputPerMillion: output, cachedInputPerMillion: price("cached_input_per_million"))
        }
        return prices
    }
}
