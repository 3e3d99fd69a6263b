// What each fuzz target does with one input, and the checks beyond "no crash": compiled into
// the fuzz targets (Fuzz/Package.swift, target FuzzWork) and, through a symlink, into
// SkeinKitTests, whose FuzzRegressionTests replay the committed corpus with the same work.
// Only SkeinCore's public API is used, since the fuzz package builds SkeinCore without testing.
import Foundation
import SkeinCore

public enum FuzzWork {
    // MARK: loader

    /// Everything `skein validate` and `skein graph` do with a pipeline file: load it,
    /// compile the templates, build the graph, export it in every format and render the
    /// diagnostics with their source lines. `workingDirectory` holds `prompts/a.md`.
    public static func load(_ text: String, workingDirectory: String) {
        let path = workingDirectory + "/fuzz.yaml"
        let loaded = PipelineLoader(configuration: .init(workingDirectory: workingDirectory)).load(text: text, path: path)
        var diagnostics = loaded.diagnostics
        if let pipeline = loaded.pipeline {
            let (compiled, compileDiagnostics) = CompiledPipeline.compile(pipeline)
            diagnostics += compileDiagnostics
            if let compiled {
                let (graph, graphDiagnostics) = PipelineGraph.build(compiled)
                diagnostics += graphDiagnostics
                if let graph { for format in PipelineGraph.ExportFormat.allCases { _ = graph.export(format) } }
            }
        }
        var renderer = DiagnosticRenderer()
        renderer.addSource(text, for: path)
        _ = renderer.renderAll(diagnostics)
    }

    // MARK: template

    /// The shapes a pipeline's templates see: inputs, steps with their fields, env, a loop item.
    public static let templateContext: [String: JSONValue] = [
        "inputs": [
            "article": "First paragraph. It has two sentences.\n\nSecond paragraph, longer than the first one.\nA new line.",
            "languages": ["French", "German", "日本語"],
            "n": 3, "x": 2.5, "big": .int(Int.max), "small": .int(Int.min), "flag": true, "nothing": nil,
            "empty": "", "list": [1, 2.5, "three", nil, true, [4], ["k": "v"]],
            "obj": ["a": 1, "b": [1, 2], "c": ["d": "e"]],
        ],
        "steps": [
            "summarize": [
                "output": "- one\n- two {{ not a template }}\n- three", "reasoning": "thinking", "status": "finished",
                "model": "m", "finish_reason": "stop", "usage": ["prompt_tokens": 10, "completion_tokens": 5],
                "tool_calls": [["name": "f", "arguments": ["q": "x"]]],
            ],
            "extract": ["output": ["headline": "Title", "tags": ["a", "b"], "score": 0.75], "status": "finished"],
            "fan": ["output": ["x", "y", "z"], "status": "skipped"],
        ],
        "env": ["HOME": "/home/user"],
        "language": "French",
    ]

    /// Input: `CONTEXT \0 TEMPLATE` or just `TEMPLATE`; CONTEXT, when it is a JSON object, adds
    /// variables to `templateContext`. The template is parsed, its references collected, then
    /// rendered and evaluated; errors are expected. Returns false when the template is not UTF-8.
    @discardableResult
    public static func renderTemplate(_ bytes: [UInt8]) -> Bool {
        var variables = templateContext
        var source = bytes[...]
        if let separator = bytes.firstIndex(of: 0) {
            source = bytes[(separator + 1)...]
            if case .object(let extra)? = try? JSONValue(parsing: bytes[..<separator]) {
                for (key, value) in extra { variables[key] = value }
            }
        }
        guard let text = String(validating: source, as: UTF8.self) else { return false }
        guard let template = try? Template(text) else { return true }
        _ = template.references
        let context = TemplateContext(variables)
        _ = try? template.render(context)
        _ = try? template.evaluate(context)
        return true
    }

    // MARK: sse

    /// The first byte chooses how the rest is cut into chunks (as network reads cut a stream
    /// anywhere, even inside a CRLF or a UTF-8 sequence): the events of the stream parsed
    /// whole and parsed in those chunks, which must be equal.
    public static func sseEvents(_ bytes: [UInt8]) -> (whole: [SSEEvent], chunked: [SSEEvent]) {
        guard let seed = bytes.first.map(Int.init) else { return ([], []) }
        let stream = bytes[1...]
        var whole = SSEParser()
        let expected = whole.consume(stream) + whole.finish()
        var chunked = SSEParser()
        var events: [SSEEvent] = []
        var start = stream.startIndex
        var step = 0
        while start < stream.endIndex {
            // Chunk lengths 1...8 cycling from the seed, with a long chunk now and then.
            let length = (seed >> 4) == step % 16 ? 64 : 1 + (seed &+ step) % 8
            let end = min(stream.endIndex, start + length)
            events += chunked.consume(stream[start..<end])
            start = end
            step += 1
        }
        return (expected, events + chunked.finish())
    }

    // MARK: schema

    static let fixedInstances: [JSONValue] = [
        nil, true, 0, -1, 2.5, "", "hello", "2020-01-01T00:00:00Z", [], [1, "a", nil], [:],
        ["name": "x", "tags": ["a", "b"], "n": 3],
    ]

    /// True when no number in the value is infinite or NaN. `1e400` parses as infinity, which
    /// the serializer writes as Python does (`Infinity`), and that is not JSON: such values
    /// are left out of the round-trip check (see RELIABILITY.md).
    static func isFinite(_ value: JSONValue) -> Bool {
        switch value {
        case .double(let d): return d.isFinite
        case .array(let items): return items.allSatisfy(isFinite)
        case .object(let object): return object.values.allSatisfy(isFinite)
        default: return true
        }
    }

    /// Problems with `value`'s serialize-and-parse round trip in every serialization style.
    static func roundTripProblems(_ value: JSONValue) -> [String] {
        guard isFinite(value) else { return [] }
        var problems: [String] = []
        for style in [JSONValue.SerializationStyle.compact, .canonical, .pretty, .init(asciiOnly: true)] {
            let text = value.serialized(style)
            guard let parsed = try? JSONValue(parsing: text) else {
                problems.append("serialized JSON does not parse: \(text)")
                continue
            }
            let same = style.sortKeys ? parsed.serialized(.canonical) == value.serialized(.canonical) : parsed == value
            if !same { problems.append("JSON round trip changed the value:\n\(value)\n\(parsed)") }
        }
        return problems
    }

    /// Input: `SCHEMA \0 INSTANCE`, both JSON text; without a NUL the whole input is the schema
    /// and a few fixed instances (and the schema itself) are validated against it. Every parsed
    /// document must survive a round trip, and `validate` and `isValid` must agree.
    public static func schemaProblems(_ bytes: [UInt8]) -> [String] {
        var problems: [String] = []
        var schemaBytes = bytes[...]
        var instances: [JSONValue] = []
        if let separator = bytes.firstIndex(of: 0) {
            schemaBytes = bytes[..<separator]
            guard let instance = try? JSONValue(parsing: bytes[(separator + 1)...]) else { return [] }
            problems += roundTripProblems(instance)
            instances = [instance]
        }
        guard let source = try? JSONValue(parsing: schemaBytes) else { return problems }
        problems += roundTripProblems(source)
        if instances.isEmpty { instances = fixedInstances + [source] }
        guard let schema = try? JSONSchema(source) else { return problems }
        for instance in instances {
            let violations = schema.validate(instance)
            if violations.isEmpty != schema.isValid(instance) { problems.append("validate and isValid disagree on \(instance)") }
            for violation in violations { _ = "\(violation)" }
        }
        _ = schema.propertyNames
        _ = schema.declaredTypes
        _ = schema.itemsSchema
        return problems
    }
}
