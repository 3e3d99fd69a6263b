import Foundation
import Testing
@testable import SkeinKit

/// The fuzz targets' work (Fuzz/Sources/Fuzz*/, RELIABILITY.md "Fuzzing") replayed in the
/// normal suite over every committed input in Fuzz/corpus/<target>/: the seeds taken from
/// these tests and any input a fuzzer found a crash with (saved there as a reproducer when
/// the crash was fixed). A crash here is a crash the fuzzer found again; the oracles are the
/// targets' own (SSE events independent of chunking, JSON surviving a round trip).
@Suite struct FuzzRegressionTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

    static func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let directory = corpus.appendingPathComponent(target)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.map { name in
            (name, Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    // MARK: The targets' work

    static func load(_ bytes: [UInt8], workingDirectory: String) {
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
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

    static let templateContext: [String: JSONValue] = [
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

    static func renderTemplate(_ bytes: [UInt8]) {
        var variables = templateContext
        var source = bytes[...]
        if let separator = bytes.firstIndex(of: 0) {
            source = bytes[(separator + 1)...]
            if case .object(let extra)? = try? JSONValue(parsing: bytes[..<separator]) {
                for (key, value) in extra { variables[key] = value }
            }
        }
        guard let text = String(validating: source, as: UTF8.self), let template = try? Template(text) else { return }
        let context = TemplateContext(variables)
        _ = try? template.render(context)
        _ = try? template.evaluate(context)
    }

    /// The events of `bytes[1...]` parsed whole and parsed in the chunks FuzzSSE cuts.
    static func parseSSE(_ bytes: [UInt8]) -> (whole: [SSEEvent], chunked: [SSEEvent]) {
        guard let seed = bytes.first.map(Int.init) else { return ([], []) }
        let stream = bytes[1...]
        var whole = SSEParser()
        let expected = whole.consume(stream) + whole.finish()
        var chunked = SSEParser()
        var events: [SSEEvent] = []
        var start = stream.startIndex
        var step = 0
        while start < stream.endIndex {
            let length = (seed >> 4) == step % 16 ? 64 : 1 + (seed &+ step) % 8
            let end = min(stream.endIndex, start + length)
            events += chunked.consume(stream[start..<end])
            start = end
            step += 1
        }
        return (expected, events + chunked.finish())
    }

    static func isFinite(_ value: JSONValue) -> Bool {
        switch value {
        case .double(let d): return d.isFinite
        case .array(let items): return items.allSatisfy(isFinite)
        case .object(let object): return object.values.allSatisfy(isFinite)
        default: return true
        }
    }

    /// Problems with `value`'s serialize-and-parse round trip, as FuzzSchema checks it.
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
            if !same { problems.append("round trip changed \(value) to \(parsed)") }
        }
        return problems
    }

    static let fixedInstances: [JSONValue] = [
        nil, true, 0, -1, 2.5, "", "hello", "2020-01-01T00:00:00Z", [], [1, "a", nil], [:],
        ["name": "x", "tags": ["a", "b"], "n": 3],
    ]

    /// Problems with the schema target's oracles for one input.
    static func checkSchema(_ bytes: [UInt8]) -> [String] {
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
        return problems
    }

    // MARK: Findings

    /// Found by the loader target (a 10 s timeout): an alias bomb used as a mapping key.
    /// Yams hashed the key, aliases expanded, to check for duplicate keys: `skein validate`
    /// ran for minutes on these 452 bytes. The fix refuses aliases in keys before Yams
    /// composes the document (`YAMLReader.refuseAliasesInKeys`).
    @Test func aliasBombInAMappingKeyIsRefusedQuickly() throws {
        let url = Self.corpus.appendingPathComponent("loader/timeout-alias-in-key-b8b43b19dbd4")
        let text = try String(contentsOf: url, encoding: .utf8)
        let clock = ContinuousClock()
        let started = clock.now
        let result = PipelineLoader().load(text: text, path: "bomb.yaml")
        #expect(clock.now - started < .seconds(2))
        #expect(result.pipeline == nil)
        #expect(result.diagnostics.map(\.description) == [
            "bomb.yaml:10:16: error: YAML alias '*h' in a mapping key; aliases may only stand for values"
        ])
    }

    @Test(arguments: [
        "? *a\n: v\n",  // explicit key
        "*a : v\n",  // implicit key
        "{*a : v}\n",  // flow mapping
        "[*a : v]\n",  // single-pair mapping in a flow sequence
        "[x, *a]: v\n",  // a key that contains an alias
        "? - x\n  - [*a]\n: v\n",  // a block sequence key that contains one
    ])
    func aliasesInKeysAreRefusedInEveryForm(_ key: String) {
        let text = "version: 1\nx-a: &a [b, c]\nx-k:\n" + key.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        let result = PipelineLoader().load(text: text, path: "p.yaml")
        #expect(result.diagnostics.contains { $0.message.contains("in a mapping key") }, "\(text)\n\(result.diagnostics)")
    }

    @Test func aliasesAsValuesStillWork() throws {
        let text = """
            version: 1
            x-prompt: &prompt "Say hi"
            x-schema: &schema {type: object, properties: {a: {type: string}}}
            steps:
              a:
                prompt: *prompt
              b:
                prompt: *prompt
                output: {schema: *schema}
            """
        let result = PipelineLoader().load(text: text, path: "p.yaml")
        #expect(result.pipeline != nil, "\(result.diagnostics)")
    }

    // MARK: Replays

    @Test func loaderCorpus() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-fuzz-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("prompts"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "Summarize {{ inputs.article }}\n".write(
            to: directory.appendingPathComponent("prompts/a.md"), atomically: true, encoding: .utf8)
        let inputs = try Self.inputs("loader")
        #expect(!inputs.isEmpty)
        for input in inputs { Self.load(input.bytes, workingDirectory: directory.path) }
    }

    @Test func templateCorpus() throws {
        let inputs = try Self.inputs("template")
        #expect(!inputs.isEmpty)
        for input in inputs { Self.renderTemplate(input.bytes) }
    }

    @Test func sseCorpusParsesTheSameHoweverItIsSplit() throws {
        let inputs = try Self.inputs("sse")
        #expect(!inputs.isEmpty)
        for input in inputs {
            let (whole, chunked) = Self.parseSSE(input.bytes)
            #expect(whole == chunked, "\(input.name)")
        }
    }

    @Test func schemaCorpus() throws {
        let inputs = try Self.inputs("schema")
        #expect(!inputs.isEmpty)
        for input in inputs {
            let problems = Self.checkSchema(input.bytes)
            #expect(problems.isEmpty, "\(input.name): \(problems)")
        }
    }
}
