import Foundation
import Testing

@testable import SkeinCore
@testable import SkeinKit

/// `schema/pipeline.schema.json` (what editors check pipeline files with) agrees with the
/// loader (what `skein validate` checks): every shipped pipeline and valid fixture passes
/// both, and every malformed fixture the loader rejects for a structural reason is
/// rejected by the schema too, as Python's `jsonschema` judges it. Needs `python3` (or
/// `SKEIN_PYTHON`) with jsonschema and PyYAML; without them the tests fail, not skip.
@Suite struct PipelineSchemaTests {
    /// The repository, with symbolic links resolved (scratch packages link the test folder).
    static let repositoryRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/SkeinKitTests/Fixtures")
    static let schemaPath = repositoryRoot.appendingPathComponent("schema/pipeline.schema.json").path

    /// Malformed fixtures the loader rejects for reasons a JSON Schema cannot see.
    /// Every other malformed fixture must be rejected by the schema; these must not be
    /// (so the list stays exact).
    static let nonStructural: [String: String] = [
        "billion-laughs.yaml":
            "an alias bomb: the loader limits alias expansion; the expanded data itself is well-formed",
        "deep-flow-nesting.yaml":
            "nesting depth is a limit of the YAML reader (PyYAML gives up on it too); 'extra' takes any mapping",
        "deep-nesting.yaml": "nesting depth is a limit of the YAML reader; 'extra' takes any mapping",
        "duplicate-keys.yaml":
            "a duplicate key is a YAML error; the parser keeps one value before any schema sees the data",
        "duplicate-keys-several.yaml":
            "duplicate keys are YAML errors; the parser keeps one value of each before any schema sees the data",
        "provider-bad-ca-file.yaml":
            "whether a ca_file exists and holds PEM certificates is a fact of the disk, not of the document",
        "prompt-file-escape.yaml":
            "whether a prompt file stays inside the working directory depends on the file system",
        "prompt-file-missing.yaml": "whether a prompt file exists depends on the file system",
        "yaml-syntax.yaml": "a YAML syntax error: there is no data to check",
    ]

    @Test func embeddedSchemaIsTheSchemaFile() throws {
        let text = try String(contentsOfFile: Self.schemaPath, encoding: .utf8)
        #expect(PipelineSchema.json == text, "run scripts/generate-schema-source")
        let schema = try JSONValue(parsing: PipelineSchema.json)
        #expect(schema.objectValue?["$schema"] == "https://json-schema.org/draft/2020-12/schema")
        #expect(schema.objectValue?["required"] == ["version", "steps"])
    }

    /// Editors show a property's description on hover and in completion lists. Properties
    /// named only to constrain them (under `if`, `then`, `else`) are not declarations.
    @Test func everyPropertyHasADescription() throws {
        let schema = try JSONValue(parsing: PipelineSchema.json)
        var undescribed: [String] = []
        var checked = 0
        func visit(_ value: JSONValue, at path: String) {
            guard case .object(let object) = value else { return }
            for (keyword, child) in object {
                switch (keyword, child) {
                case ("properties", .object(let properties)):
                    for (name, property) in properties {
                        checked += 1
                        if property != false && !Self.isDescribed(property, in: schema) {
                            undescribed.append("\(path)/properties/\(name)")
                        }
                        visit(property, at: "\(path)/properties/\(name)")
                    }
                case ("$defs", .object(let map)), ("patternProperties", .object(let map)),
                    ("dependentSchemas", .object(let map)):
                    for (name, subschema) in map { visit(subschema, at: "\(path)/\(keyword)/\(name)") }
                case ("allOf", .array(let list)), ("anyOf", .array(let list)), ("oneOf", .array(let list)):
                    for (index, subschema) in list.enumerated() { visit(subschema, at: "\(path)/\(keyword)/\(index)") }
                case ("items", _), ("additionalProperties", _), ("propertyNames", _), ("not", _):
                    visit(child, at: "\(path)/\(keyword)")
                default: break
                }
            }
        }
        visit(schema, at: "#")
        #expect(checked > 80)
        #expect(undescribed.isEmpty, "properties without a description: \(undescribed)")
    }

    @Test func validPipelinesPassTheLoaderAndTheSchema() async throws {
        let pipelines = try Self.yamlFiles(in: Self.repositoryRoot.appendingPathComponent("pipelines"))
        let valid = try Self.yamlFiles(in: Self.fixtures.appendingPathComponent("valid"))
        #expect(pipelines.count >= 1 && valid.count >= 5, "pipelines: \(pipelines), valid fixtures: \(valid)")

        for path in pipelines {
            let result = PipelineLoader(configuration: .init(workingDirectory: Self.repositoryRoot.path)).load(
                path: path)
            #expect(result.diagnostics.isEmpty, "\(path): \(result.diagnostics.map(\.description))")
        }
        for path in valid {
            let result = PipelineLoader(configuration: .init(workingDirectory: Self.fixtures.path)).load(path: path)
            #expect(result.diagnostics.isEmpty, "\(path): \(result.diagnostics.map(\.description))")
        }

        let check = try await PipelineSchemaCheck.run(Self.schemaPath, on: pipelines + valid)
        #expect(check.schemaErrors.isEmpty, "the schema is not a valid draft 2020-12 schema: \(check.schemaErrors)")
        for path in pipelines + valid {
            let verdict = try #require(check.verdicts[path], "no verdict for \(path)")
            #expect(verdict.kind == .valid, "\(path) fails the schema: \(verdict.messages)")
        }
    }

    @Test func structurallyMalformedFixturesAreRejectedByTheSchema() async throws {
        let malformed = try Self.yamlFiles(in: Self.fixtures.appendingPathComponent("malformed"))
        let names = Set(malformed.map { URL(fileURLWithPath: $0).lastPathComponent })
        #expect(malformed.count >= 20)
        for name in Self.nonStructural.keys.sorted() {
            #expect(names.contains(name), "\(name) is listed as not structural but is not a malformed fixture")
        }

        let check = try await PipelineSchemaCheck.run(Self.schemaPath, on: malformed)
        #expect(check.schemaErrors.isEmpty, "the schema is not a valid draft 2020-12 schema: \(check.schemaErrors)")
        var structural = 0
        for path in malformed {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let loaded = PipelineLoader(configuration: .init(workingDirectory: Self.fixtures.path)).load(path: path)
            #expect(loaded.hasErrors, "the loader accepts \(name)")
            let verdict = try #require(check.verdicts[path], "no verdict for \(name)")
            if let reason = Self.nonStructural[name] {
                // A schema that catches it after all belongs out of the list.
                #expect(
                    verdict.kind != .invalid,
                    "the schema rejects \(name), listed as not structural (\(reason)): \(verdict.messages)")
            } else {
                structural += 1
                // PyYAML refusing the file counts as rejected.
                #expect(
                    verdict.kind != .valid,
                    "the loader rejects \(name) (\(loaded.diagnostics.map(\.message))) but the schema accepts it")
            }
        }
        #expect(structural >= 20)
    }

    /// Small documents at the edges of the rules, each either accepted by both the loader
    /// and the schema or rejected by both. `version: 1` is prepended to each.
    static let edgeCases: [(yaml: String, isValid: Bool)] = [
        ("steps: {a: {prompt: hi}}\nx-anchor: &p hi\nx-other: [1, 2]", true),
        (
            "steps: {a: {prompt: hi, timeout: 0.5s}, b: {prompt: hi, timeout: 86400}, c: {prompt: hi, timeout: 1h}}",
            true
        ),
        ("steps: {a: {prompt: hi, timeout: 0}}", false),
        ("steps: {a: {prompt: hi, timeout: 0s}}", false),
        ("steps: {a: {prompt: hi, timeout: 86401}}", false),
        ("steps: {a: {prompt: hi, timeout: '30'}}", false),
        ("steps: {a: {prompt: hi, repetition_penalty: 0}}", false),
        ("steps: {a: {prompt: hi, repetition_penalty: 0.01, top_k: -1, min_p: 1, presence_penalty: -2}}", true),
        ("steps: {a: {prompt: hi, top_k: -2}}", false),
        ("steps: {a: {prompt: hi, top_k: 1.5}}", false),
        ("steps: {a: {prompt: hi, seed: 1.5}}", false),
        ("steps: {a: {prompt: hi, stop: 5}}", false),
        ("steps: {a: {prompt: hi, stop: []}}", true),
        ("steps: {a: {prompt: hi, cache: yes}}", false),
        ("steps: {a: {prompt: hi, max_concurrency: 0}}", false),
        ("steps: {a: {prompt: hi, max_concurrency: 100001}}", false),
        ("steps: {a: {prompt: hi, retries: -1}}", false),
        ("steps: {a: {prompt: hi, needs: a}}", true),
        ("steps: {a: {prompt: hi, needs: 5}}", false),
        ("steps: {a: {prompt: 42}}", false),
        ("steps: {a: {prompt: [hi]}}", false),
        ("steps: {a: {prompt: {}}}", false),
        ("steps: {a: {prompt: {file: x.md, encoding: utf8}}}", false),
        ("steps: {a: {prompt: hi, system: ~}}", false),
        ("steps: {a: }", false),
        ("steps: {}", false),
        ("steps: {1a: {prompt: hi}}", false),
        ("steps: {a: {prompt: hi, api: completion, stop: [x]}}", true),
        ("steps: {a: {prompt: hi, api: completion, system: be brief}}", false),
        ("steps: {a: {prompt: hi, api: completion, tools: [{name: f}]}}", false),
        ("steps: {a: {prompt: hi, api: legacy}}", false),
        ("steps: {a: {system: be brief, messages: [{role: user, content: hi}]}}", false),
        ("steps: {a: {messages: []}}", false),
        ("steps: {a: {messages: [{role: user}]}}", false),
        ("steps: {a: {messages: [{content: hi}]}}", false),
        ("steps: {a: {messages: [{role: user, content: hi, tone: warm}]}}", false),
        ("steps: {a: {messages: [{role: user, content: []}]}}", true),
        ("steps: {a: {messages: [{role: user, content: [{text: a, image_url: b}]}]}}", false),
        ("steps: {a: {messages: [{role: user, content: [{}]}]}}", false),
        ("steps: {a: {messages: [{role: user, content: [{video_url: x}]}]}}", false),
        ("steps: {a: {messages: [{role: user, content: [{image_file: 5}]}]}}", false),
        ("steps: {a: {messages: [{role: user, content: {file: p.md}, name: 7}]}}", false),
        ("steps: {a: {prompt: hi, as: item}}", false),
        ("steps: {a: {prompt: hi, for_each: '{{ inputs.x }}', as: loop}}", false),
        ("steps: {a: {prompt: hi, for_each: '{{ inputs.x }}', as: 1x}}", false),
        (
            "steps: {a: {prompt: hi, for_each: '{{ inputs.x }}', as: item}}\ninputs: {x: {type: array, default: []}}",
            true
        ),
        ("steps: {a: {prompt: hi, tool_choice: auto}}", false),
        ("steps: {a: {prompt: hi, tools: [{name: f}], tool_choice: [f]}}", false),
        ("steps: {a: {prompt: hi, tools: [], tool_choice: {type: function, function: {name: f}}}}", true),
        ("steps: {a: {prompt: hi, tools: [{description: no name}]}}", false),
        ("steps: {a: {prompt: hi, tools: [{name: f, parameters: true}]}}", false),
        ("steps: {a: {prompt: hi, tools: {name: f}}}", false),
        ("steps: {a: {prompt: hi, output: {}}}", false),
        ("steps: {a: {prompt: hi, output: {schema: false}}}", true),
        ("steps: {a: {prompt: hi, output: {schema: {type: object}, format: text}}}", false),
        ("steps: {a: {prompt: hi, output: {schema: [object]}}}", false),
        ("steps: {a: {prompt: hi, output: {format: yaml}}}", false),
        ("steps: {a: {prompt: hi, output: json}}", false),
        ("steps: {a: {prompt: hi, extra: [1]}}", false),
        ("steps: {a: {prompt: hi}}\nversion_note: x", false),
        ("steps: {a: {prompt: hi}}\nname: 5", false),
        ("steps: {a: {prompt: hi}}\ndefaults: {prompt: hi}", false),
        ("steps: {a: {prompt: hi}}\ndefaults: {api: completion}", false),
        ("steps: {a: {prompt: hi}}\ndefaults: ~", false),
        (
            "steps: {a: {prompt: hi}}\nproviders: {openai: {api_key_env: MY_OPENAI_KEY}, local: {max_concurrency: 2}}",
            true
        ),
        ("steps: {a: {prompt: hi}}\nproviders: {m: {base_url: 'http://h/v1', api_key_env: ~, headers: {A: b}}}", true),
        ("steps: {a: {prompt: hi}}\nproviders: {mine: {base_url: 'ftp://x.example'}}", false),
        ("steps: {a: {prompt: hi}}\nproviders: {mine: {base_url: 'x.example/v1'}}", false),
        ("steps: {a: {prompt: hi}}\nproviders: {novita: {api_key_env: sk-abc123}}", false),
        ("steps: {a: {prompt: hi}}\nproviders: {novita: {headers: {X-Count: 1}}}", false),
        ("steps: {a: {prompt: hi}}\nproviders: {novita: {type: google}}", false),
        ("steps: {a: {prompt: hi}}\nproviders: {novita: {structured_outputs: tools}}", false),
        ("steps: {a: {prompt: hi}}\nproviders: {novita: {requests_per_minute: 0}}", false),
        ("steps: {a: {prompt: hi}}\nproviders: {novita: {rate: 5}}", false),
        ("steps: {a: {prompt: hi}}\nproviders: {novita: ~}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: , b: integer, c: {type: number, default: 2}}", true),
        ("steps: {a: {prompt: hi}}\ninputs: {d: {type: integer, default: 2.0}, e: {type: boolean}}", true),
        ("steps: {a: {prompt: hi}}\ninputs: {my-input: string}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: strng}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: 5}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: [string]}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: {type: string, minimum_length: 3}}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: {default: 5}}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: {type: string, default: ~}}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: {type: integer, default: 2.5}}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: {type: number, default: true}}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: {type: object, default: [1]}}", false),
        ("steps: {a: {prompt: hi}}\ninputs: {a: {type: boolean, description: 5}}", false),
        ("steps: {a: {prompt: hi}}\nenv: [HOME, _X1]", true),
        ("steps: {a: {prompt: hi}}\nenv: [MY-VAR]", false),
        ("steps: {a: {prompt: hi}}\nenv: HOME", false),
        ("steps: {a: {prompt: hi}}\noutputs: {x: '{{ steps.a.output }}', y: {file: p.md}}", true),
        ("steps: {a: {prompt: hi}}\noutputs: {x: 5}", false),
        ("steps: {a: {prompt: hi}}\noutputs: [x]", false),
    ]

    @Test func edgeCasesAgree() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skein-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("A prompt.\n".utf8).write(to: directory.appendingPathComponent("p.md"))
        var paths: [String] = []
        for (index, testCase) in Self.edgeCases.enumerated() {
            let path = directory.appendingPathComponent("case\(index).yaml").path
            try Data("version: 1\n\(testCase.yaml)\n".utf8).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let check = try await PipelineSchemaCheck.run(Self.schemaPath, on: paths)
        let loader = PipelineLoader(configuration: .init(workingDirectory: directory.path))
        for (testCase, path) in zip(Self.edgeCases, paths) {
            let loaded = loader.load(path: path)
            #expect(
                loaded.hasErrors != testCase.isValid, "loader on \(testCase.yaml): \(loaded.diagnostics.map(\.message))"
            )
            let verdict = try #require(check.verdicts[path])
            #expect(
                (verdict.kind == .valid) == testCase.isValid,
                "schema on \(testCase.yaml): \(verdict.kind) \(verdict.messages)")
        }
    }

    // MARK: - Helpers

    static func yamlFiles(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
            .map { directory.appendingPathComponent($0).path }
    }

    /// Whether a property schema has a description, itself or through the local `$ref` it names.
    static func isDescribed(_ property: JSONValue, in root: JSONValue) -> Bool {
        guard case .object(let object) = property else { return false }
        if object["description"] != nil { return true }
        guard case .string(let reference)? = object["$ref"], reference.hasPrefix("#/") else { return false }
        var target = root
        for token in reference.dropFirst(2).split(separator: "/") {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard case .object(let next) = target, let value = next[key] else { return false }
            target = value
        }
        return isDescribed(target, in: root)
    }
}

/// Verdicts of `Tests/Python/check_pipeline_schema.py` (PyYAML + jsonschema).
struct PipelineSchemaCheck {
    struct Verdict {
        enum Kind: String { case valid, invalid, unloadable }
        var kind: Kind
        var messages: [String]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    var schemaErrors: [String]
    var verdicts: [String: Verdict]

    static func run(_ schemaPath: String, on paths: [String]) async throws -> PipelineSchemaCheck {
        let script = PipelineSchemaTests.repositoryRoot.appendingPathComponent("Tests/Python/check_pipeline_schema.py")
        let stdout: Data
        do {
            stdout = try await PythonScript.run(script.path, ["--schema", schemaPath] + paths)
        } catch let exit as PythonScript.Exit {
            throw Failure(
                description: "\(TestPaths.python) \(script.path) exited with \(exit.status) "
                    + "(needs python3 with jsonschema and pyyaml): " + exit.standardError)
        }
        let report = try JSONValue(parsing: String(decoding: stdout, as: UTF8.self))
        guard let object = report.objectValue, let schemaErrors = object["schema_errors"]?.arrayValue,
            let files = object["files"]?.arrayValue
        else { throw Failure(description: "unexpected output from \(script.path): \(report.serialized())") }
        var verdicts: [String: Verdict] = [:]
        for file in files {
            guard let path = file.objectValue?["path"]?.stringValue,
                let kind = file.objectValue?["verdict"]?.stringValue.flatMap(Verdict.Kind.init(rawValue:))
            else { throw Failure(description: "unexpected verdict from \(script.path): \(file.serialized())") }
            let messages = (file.objectValue?["messages"]?.arrayValue ?? []).compactMap(\.stringValue)
            verdicts[path] = Verdict(kind: kind, messages: messages)
        }
        return PipelineSchemaCheck(schemaErrors: schemaErrors.compactMap(\.stringValue), verdicts: verdicts)
    }
}
