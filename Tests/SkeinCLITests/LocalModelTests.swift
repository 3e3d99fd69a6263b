import Foundation
import SkeinKit
import Testing

/// Every example pipeline, run through the real `skein` binary on the real local model
/// (llama-cpp-python's server with SmolLM2-135M-Instruct), as a new user would run it, and
/// what an instruction-following model makes checkable: the French translation is French,
/// the summary is about the article, the schema steps' JSON validates.
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
        "tools.yaml": ["-i", "city=Oslo"],
    ]

    /// The tool loop on the real server: the forced first call runs tools/weather.py, whose
    /// result reaches the model and the outputs; the model then answers without calling.
    @Test func theToolsExampleLooksTheWeatherUp() async throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("skein-local-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) } }
        let result = try await CLI.run(["run", "pipelines/tools.yaml", "--provider", "local", "--output", "json", "-i", "city=Oslo"],
                                       environment: ["SKEIN_STORE": store])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONValue(parsing: result.stdout)
        let forecast = try #require(json["outputs"]?["forecast"]?.stringValue)
        #expect(try JSONValue(parsing: forecast)["sky"] == "light rain", "\(forecast)")
        #expect(json["outputs"]?["turns"] == 2)
        #expect(json["steps"]?["advise"]?["tool_calls"]?.arrayValue?.count == 1)
        #expect(!result.stderr.contains("warning:"), "\(result.stderr)")
    }

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

    /// The summary is about the article (it shares several content words with it) and its
    /// translation into French is French: a share of its words are common French function
    /// words. The pipeline as shipped has temperature 0.3 and seed 7, so a run repeats
    /// itself on the same build; the bounds hold for other seeds too.
    @Test func theSummaryIsAboutTheArticleAndItsFrenchTranslationIsFrench() async throws {
        let result = try await CLI.run([
            "run", "pipelines/summarize-translate.yaml", "--provider", "local", "--output", "json",
            "-i", "article=@examples/article.txt", "-i", #"languages=["French"]"#,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONValue(parsing: result.stdout)
        let summary = try #require(json["outputs"]?["summary"]?.stringValue)
        let article = try String(contentsOf: CLI.repositoryRoot.appendingPathComponent("examples/article.txt"), encoding: .utf8)
        let shared = Self.contentWords(summary).intersection(Self.contentWords(article))
        #expect(shared.count >= Self.minimumSharedContentWords, "shares only \(shared.sorted()) with the article: \(summary)")

        let french = try #require(json["outputs"]?["translations"]?.arrayValue?.first?.stringValue)
        #expect(Self.words(french).count >= 10, "translation too short: \(french)")
        let share = Self.frenchShare(french)
        #expect(share >= Self.minimumFrenchShare, "French share \(share) of: \(french)")
        #expect(Self.frenchShare(summary) < 0.1, "the English summary already looks French: \(summary)")
    }

    /// Measured over seeds 1-7 (docs/local-model.md): 0.41-0.54 for the French, 0.00-0.04
    /// for the German and 0.00-0.02 for the English summary. Bounded at about half the lowest.
    static let minimumFrenchShare = 0.25
    /// Measured over seeds 1-7: 15-27 words of six letters or more the summary shares with
    /// the article. Bounded well below.
    static let minimumSharedContentWords = 8

    /// Words that make up much of any French sentence and almost none of an English one
    /// (`a`, `on`, `en`... left out: English has them too).
    static let frenchFunctionWords: Set<String> = [
        "le", "la", "les", "l", "un", "une", "des", "du", "de", "d", "et", "est", "sont", "que", "qui", "qu",
        "dans", "pour", "par", "sur", "au", "aux", "avec", "ce", "cette", "ces", "il", "elle", "ils", "elles",
        "se", "sa", "son", "ses", "leur", "leurs", "ne", "pas", "plus", "nous", "vous", "ont", "été", "être",
        "c", "s", "n", "y", "mais", "ou", "où", "aussi", "très", "depuis", "entre",
    ]

    /// Lower-cased runs of letters (`l'article` is `l`, `article`).
    static func words(_ text: String) -> [String] {
        text.lowercased().split { !$0.isLetter }.map(String.init)
    }

    static func frenchShare(_ text: String) -> Double {
        let words = words(text)
        guard !words.isEmpty else { return 0 }
        return Double(words.filter(frenchFunctionWords.contains).count) / Double(words.count)
    }

    /// Words of six letters or more: names and nouns rather than function words.
    static func contentWords(_ text: String) -> Set<String> {
        Set(words(text).filter { $0.count >= 6 })
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
