import ArgumentParser
import Foundation
import OrderedCollections
import SkeinKit
import Synchronization

/// `skein test` (DESIGN.md section 8): cases times variants, each output checked against its
/// expectations; a table on stdout, JSON or JUnit for machines.
struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run a pipeline's test cases and check their outputs against expectations.",
        discussion: """
            Cases come from --cases (YAML list or JSON Lines) or the pipeline's 'tests:' list. \
            Every case runs under every variant (--vary, --against) through one request limit; \
            with the store, an unchanged test costs nothing the second time. Exit codes: 0 every \
            assertion held, 1 any failed (or the files are invalid), 2 bad usage.
            """
    )

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(help: ArgumentHelp("Test cases: a YAML list or JSON Lines of {name, inputs, expect}.", valueName: "file"))
    var cases: String?

    @Option(help: ArgumentHelp(
        "A variant per value: model, provider, or a sampling setting for every step (temperature, top_p, top_k, max_tokens, seed, ...). Repeat for a product.",
        valueName: "key=v1,v2"))
    var vary: [String] = []

    @Option(help: ArgumentHelp("Also run the pipeline (and its prompt files) as they were at this git revision.", valueName: "rev"))
    var against: String?

    @Option(help: ArgumentHelp("Write a JUnit XML report here (one testcase per case and variant).", valueName: "file"))
    var junit: String?

    @Option(help: ArgumentHelp("Write an HTML report of this test run here (skein report's page).", valueName: "file"))
    var html: String?

    @Option(help: "How to print the results: text (a table), or one JSON object.")
    var output: RunCommand.OutputFormat = .text

    @Option(help: "Use this provider for every step (overrides the file).")
    var provider: String?

    @Option(help: "Use this model for every step (overrides the file).")
    var model: String?

    @Option(help: "Requests in flight at once, across all cases and variants.")
    var concurrency: Int = 16

    @Flag(help: "Print no progress, only results and errors.")
    var quiet = false

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Call the provider for every request, even when the store has its reply (the new replies are stored).")
    var noCache = false

    @Flag(help: "Use only replies in the store; a missing one fails its case. Makes no requests.")
    var offline = false

    /// Keys `--vary` takes besides model and provider: sampling defaults.
    static let samplingKeys = [
        "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty", "max_tokens", "seed",
    ]

    func validate() throws {
        if concurrency < 1 { throw ValidationError("--concurrency must be at least 1, got \(concurrency)") }
        if noCache && offline { throw ValidationError("--no-cache and --offline contradict each other; choose one") }
        for item in vary {
            guard let equals = item.firstIndex(of: "="), !item[item.index(after: equals)...].isEmpty else {
                throw ValidationError("--vary takes key=v1,v2 (e.g. --vary model=a,b), got '\(item)'")
            }
            let key = String(item[..<equals])
            let keys = ["model", "provider"] + Self.samplingKeys
            guard keys.contains(key) else {
                throw ValidationError("--vary cannot vary '\(key)'\(Suggestion.didYouMean(key, in: keys)); it takes \(keys.joined(separator: ", "))")
            }
        }
    }

    /// One `--vary` setting of a variant.
    struct Setting {
        var key: String
        var value: String
    }

    func run() async throws {
        let (loadedGraph, result) = PipelineValidator().validateGraph(path: file)
        Diagnostics.report(result.diagnostics, sourceText: result.sourceText, file: file)
        guard let graph = loadedGraph else { throw ExitCode(1) }

        // The cases, checked against the pipeline before anything is sent.
        let testCases: [TestCase]
        if let cases {
            let loaded = TestCaseLoader.load(path: cases)
            let checks = loaded.diagnostics.contains { $0.severity == .error } ? [] : ExpectationCheck.check(cases: loaded.cases, pipeline: graph.pipeline)
            Diagnostics.report(loaded.diagnostics + checks, sourceText: nil, file: cases)
            if (loaded.diagnostics + checks).contains(where: { $0.severity == .error }) { throw ExitCode(1) }
            testCases = loaded.cases
        } else if let tests = graph.pipeline.tests, !tests.isEmpty {
            testCases = tests
        } else {
            Terminal.standardError.write(
                "error: no test cases: pass --cases FILE, or add a 'tests:' list to \(file) (see README, \"Testing prompts\")\n")
            throw ExitCode(2)
        }
        if testCases.isEmpty {
            Terminal.standardError.write("error: the cases file has no cases\n")
            throw ExitCode(1)
        }

        // Variants: the product of the --vary settings, for the working tree and --against.
        var settingsList: [[Setting]] = [[]]
        for item in vary {
            let equals = item.firstIndex(of: "=")!
            let key = String(item[..<equals])
            let values = item[item.index(after: equals)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            settingsList = settingsList.flatMap { settings in values.map { settings + [Setting(key: key, value: $0)] } }
        }
        var graphs: [(suffix: String, graph: PipelineGraph)] = [("", graph)]
        if let against {
            let revisionGraph = try revisionGraph(against, current: graph)
            graphs.append((" @" + against, revisionGraph))
        }
        // Columns: "current" (or the --vary settings), and the same again "@REV".
        var variants: [TestRunner.Variant] = []
        for (suffix, base) in graphs {
            for settings in settingsList {
                var name = settings.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                if name.isEmpty { name = suffix.isEmpty ? "current" : String(suffix.dropFirst(2)) }
                else { name += suffix }
                variants.append(TestRunner.Variant(name: name, session: try session(for: base, settings: settings)))
            }
        }

        let junitTarget: OutputPath?
        do {
            junitTarget = try junit.map { try OutputPath($0, option: "--junit") }
            // Checked now, written after the run: a paid-for run must not end on a bad path.
            _ = try html.map { try OutputPath($0, option: "--html") }
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }

        let store = try await storeOptions.open()
        let first = variants[0].session
        var extra: JSONValue.JSONObject = [
            "test": .object([
                "cases": .int(testCases.count), "variants": .array(variants.map { .string($0.name) }),
                "cases_file": cases.map { .string($0) } ?? .null,
            ]),
        ]
        if let against { extra["against"] = .string(against) }
        let record = first.record(inputs: [:], extraOptions: extra)
        let total = testCases.count * variants.count
        let showEach = !quiet && total <= 200
        let done = Counter()
        let outcome = try await HTTPCompletionClient.withClient(
            configuration: .init(connectionsPerHost: max(concurrency, 8)), environment: ProcessInfo.processInfo.environment
        ) { client in
            let runner = TestRunner(variants: variants, cases: testCases, client: client, store: store, concurrency: concurrency)
            let task = Task {
                await runner.run(record: record) { result in
                    let count = done.increment()
                    guard !quiet else { return }
                    if showEach {
                        let mark = result.passed ? "✓" : "✗"
                        let detail = result.passed ? "" : ": " + TestReport.clip(result.firstFailure ?? "", 140)
                        Terminal.standardError.write("\(mark) \(result.caseName) [\(result.variant)]\(detail)\n")
                    } else if count % max(1, total / 10) == 0 {
                        Terminal.standardError.write("\(count)/\(total) cases run\n")
                    }
                }
            }
            let signals = SignalWatcher { task.cancel() }
            let value = await task.value
            signals.stop()
            return value
        }
        let regressions = TestReport.regressions(outcome, against: against)
        switch output {
        case .text: Terminal.standardOutput.write(TestReport.table(outcome, regressions: regressions))
        case .json: Terminal.standardOutput.write(TestReport.json(outcome, regressions: regressions).serialized(.pretty) + "\n")
        }
        if let junitTarget {
            do {
                try junitTarget.write(TestReport.junit(outcome, suite: graph.pipeline.name ?? file))
            } catch {
                Terminal.standardError.write("error: \(error)\n")
                throw ExitCode(1)
            }
        }
        if let html {
            guard let id = outcome.runID else {
                Terminal.standardError.write("error: --html: the test run was not stored, so there is nothing to report\n")
                throw ExitCode(1)
            }
            let report = try await RunsCommand.List.guarded { try await RunReport.load(store: store, run: id, graph: graph) }
            try ReportCommand.write(report, to: html, option: "--html")
        }
        if let id = outcome.runID, !quiet {
            Terminal.standardError.write("test run \(id) stored; 'skein runs diff' compares it with another test run\n")
        }
        if !outcome.passed { throw ExitCode(1) }
    }

    /// The session of a variant: the pipeline with the variant's settings.
    func session(for graph: PipelineGraph, settings: [Setting]) throws -> RunSession {
        var providerOverride = provider
        var modelOverride = model
        var pipeline = graph.pipeline
        var changed = false
        for setting in settings {
            switch setting.key {
            case "model": modelOverride = setting.value
            case "provider": providerOverride = setting.value
            default:
                // A sampling setting applies to every step, as --model does: a step that
                // sets its own temperature would otherwise ignore the variant.
                try Self.apply(setting, to: &pipeline.defaults.sampling)
                for name in pipeline.steps.keys { try Self.apply(setting, to: &pipeline.steps[name]!.sampling) }
                changed = true
            }
        }
        var variantGraph = graph
        if changed {
            let (rebuilt, diagnostics) = PipelineGraph.build(pipeline: pipeline)
            guard let rebuilt else {
                Diagnostics.report(diagnostics, sourceText: pipeline.sourceText, file: file)
                throw ExitCode(1)
            }
            variantGraph = rebuilt
        }
        return RunSession(
            graph: variantGraph, pipelinePath: file,
            options: .init(
                concurrency: concurrency, failurePolicy: .keepGoing, streaming: false, providerOverride: providerOverride,
                modelOverride: modelOverride, environment: ProcessInfo.processInfo.environment,
                cachePolicy: offline ? .offline : (noCache ? .refresh : .readWrite)))
    }

    static func apply(_ setting: Setting, to sampling: inout SamplingParameters) throws {
        func double() throws -> Double {
            guard let value = Double(setting.value), value.isFinite else {
                throw ValidationError("--vary \(setting.key)=\(setting.value): '\(setting.value)' is not a number")
            }
            return value
        }
        func integer() throws -> Int {
            guard let value = Int(setting.value) else {
                throw ValidationError("--vary \(setting.key)=\(setting.value): '\(setting.value)' is not a whole number")
            }
            return value
        }
        switch setting.key {
        case "temperature": sampling.temperature = try double()
        case "top_p": sampling.topP = try double()
        case "top_k": sampling.topK = try integer()
        case "min_p": sampling.minP = try double()
        case "presence_penalty": sampling.presencePenalty = try double()
        case "frequency_penalty": sampling.frequencyPenalty = try double()
        case "repetition_penalty": sampling.repetitionPenalty = try double()
        case "max_tokens": sampling.maxTokens = try integer()
        case "seed": sampling.seed = try integer()
        default: break
        }
    }

    /// The pipeline as it was at `revision`, with its prompt files from the same revision.
    func revisionGraph(_ revision: String, current: PipelineGraph) throws -> PipelineGraph {
        let files: GitRevisionFiles
        do {
            files = try GitRevisionFiles(revision: revision, near: file)
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(2)
        }
        let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
        guard let data = files.read(absolute), let text = String(data: data, encoding: .utf8) else {
            Terminal.standardError.write("error: --against \(revision): \(file) did not exist at that revision\n")
            throw ExitCode(2)
        }
        let validator = PipelineValidator(loader: PipelineLoader(configuration: .init(files: files.fileSource)))
        let display = "\(file)@\(revision)"
        let (graph, result) = validator.validateGraph(text: text, path: file)
        if result.hasErrors {
            Terminal.standardError.write("error: the pipeline at \(revision) is invalid:\n")
            Diagnostics.report(result.diagnostics, sourceText: text, file: display)
            throw ExitCode(1)
        }
        return graph ?? current
    }
}

/// A counter shared by the progress callback.
final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() -> Int { value.withLock { $0 += 1; return $0 } }
}
