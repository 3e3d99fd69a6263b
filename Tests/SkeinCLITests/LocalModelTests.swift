import Foundation
import SkeinKit
import Testing

/// Every example pipeline, run through the real `skein` binary on the real local model
/// (llama-cpp-python's server with Gemma 3 270M), as a new user would run it.
///
/// `scripts/test` starts the server and sets `SKEIN_LOCAL_MODEL_URL`; it fails when the
/// server cannot start. Run alone with `swift test`, without the variable, these tests are
/// skipped rather than failed.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["SKEIN_LOCAL_MODEL_URL"] != nil,
                             "needs the local model server: run scripts/test"))
struct LocalModelTests {
    /// The inputs each example pipeline is run with (as its header comment says).
    static let examples: [String: [String]] = [
        "summarize-translate.yaml": ["-i", "article=@examples/article.txt"],
        "map-reduce-summary.yaml": ["-i", "document=@examples/long-document.txt"],
        "extract-json.yaml": ["-i", "posting=@examples/job-posting.txt"],
        "code-review.yaml": ["-i", "diff=@examples/change.diff"],
        "triage.yaml": ["-i", "message=@examples/support-message.txt"],
        // Its vision and Anthropic steps are skipped by default (the local model sees no
        // images; the Anthropic endpoint needs a key): every other feature runs here.
        "features.yaml": ["-i", "message=@examples/support-message.txt"],
    ]

    static var pipelines: [String] {
        let folder = CLI.repositoryRoot.appendingPathComponent("pipelines")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test func everyPipelineHasItsInputsListed() {
        #expect(!Self.pipelines.isEmpty)
        for pipeline in Self.pipelines { #expect(Self.examples[pipeline] != nil, "add \(pipeline) to LocalModelTests.examples") }
    }

    @Test(arguments: pipelines)
    func pipelineRunsToCompletionOnTheLocalModel(_ name: String) async throws {
        let arguments = try #require(Self.examples[name])
        let path = "pipelines/\(name)"
        // A store of this test's own: the first run asks the model, the second must not.
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("skein-local-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) } }
        let result = try await CLI.run(["run", path, "--provider", "local", "--output", "json"] + arguments,
                                       environment: ["SKEIN_STORE": store])
        #expect(result.status == 0, "\(name) failed:\n\(result.stderr)")
        let json = try JSONValue(parsing: result.stdout)
        #expect(json["status"] == "succeeded")
        let outputs = try #require(json["outputs"]?.objectValue)
        #expect(!outputs.isEmpty)
        for (output, value) in outputs {
            #expect(!Self.isEmpty(value), "\(name): output '\(output)' is empty")
        }
        // Steps with an output schema: their parsed output satisfies it (through the
        // json_object fallback, since llama.cpp's server rejects json_schema).
        let loaded = PipelineLoader(configuration: .init(workingDirectory: CLI.repositoryRoot.path))
            .load(path: CLI.repositoryRoot.appendingPathComponent(path).path)
        let pipeline = try #require(loaded.pipeline)
        for (stepName, step) in pipeline.steps {
            guard case .schema(let schema, _) = step.output else { continue }
            let stepResult = try #require(json["steps"]?[stepName])
            guard stepResult["status"] == "finished" else { continue }
            let validator = try JSONSchema(schema)
            let outputs = step.forEach == nil ? [stepResult["output"] ?? .null] : (stepResult["output"]?.arrayValue ?? [])
            for output in outputs {
                #expect(validator.validate(output).isEmpty, "\(name): step '\(stepName)' output \(output) breaks its schema")
            }
        }

        // The same command again is served from the store: zero requests, the same outputs.
        let again = try await CLI.run(["run", path, "--provider", "local", "--output", "json"] + arguments,
                                      environment: ["SKEIN_STORE": store])
        #expect(again.status == 0, "\(name) re-run failed:\n\(again.stderr)")
        #expect(try JSONValue(parsing: again.stdout)["outputs"] == json["outputs"])
        #expect(again.stderr.contains(", 0 requests, "), "\(name) re-run made requests:\n\(again.stderr)")
        let history = try await CLI.run(["runs", "list", "--format", "json"], environment: ["SKEIN_STORE": store])
        let runs = try #require(try JSONValue(parsing: history.stdout).arrayValue)
        #expect(runs.count == 2)
        #expect(runs.first?["requests"] == 0)
        #expect((runs.first?["cache_hits"]?.intValue ?? 0) > 0)
    }

    @Test func streamingShowsTheReplyAsItArrives() async throws {
        let result = try await CLI.run([
            "run", "pipelines/summarize-translate.yaml", "--provider", "local", "--stream", "summarize", "--output", "json",
            "-i", "article=@examples/article.txt", "-i", #"languages=["French"]"#,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONValue(parsing: result.stdout)
        let summary = try #require(json["outputs"]?["summary"]?.stringValue)
        #expect(!summary.isEmpty)
        // The streamed text on stderr is the reply itself, token by token.
        let firstWords = summary.split(separator: " ").prefix(3).joined(separator: " ")
        #expect(result.stderr.contains(firstWords), "stderr does not show the streamed reply")
    }

    static func isEmpty(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return true
        case .string(let text): return text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        case .array(let items): return items.isEmpty || items.allSatisfy(isEmpty)
        case .object(let object): return object.isEmpty
        default: return false
        }
    }
}
