import ArgumentParser
import Foundation
import OrderedCollections
import SkeinKit

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline and print its outputs.",
        discussion: """
            Progress and diagnostics go to stderr, results to stdout, so \
            'skein run p.yaml --output json | jq .outputs' works. Exit codes: 0 success, \
            1 a failed step or an invalid file, 2 bad usage, 130 interrupted.
            """
    )

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(name: [.customShort("i"), .customLong("input")], parsing: .unconditionalSingleValue,
            help: ArgumentHelp("An input: name=value, name=@file (read a file) or name=@- (read stdin).", valueName: "name=value"))
    var input: [String] = []

    @Option(name: .customLong("inputs"), help: ArgumentHelp("A YAML or JSON file mapping input names to values.", valueName: "file"))
    var inputsFile: String?

    @Option(help: "Use this provider for every step (overrides the file).")
    var provider: String?

    @Option(help: "Use this model for every step (overrides the file).")
    var model: String?

    @Option(help: "Requests in flight at once, across all steps.")
    var concurrency: Int = 16

    @Flag(help: "After a failure, run every step that does not depend on it.")
    var keepGoing = false

    @Option(help: ArgumentHelp("Print this step's reply as it streams in.", valueName: "step"))
    var stream: String?

    @Option(help: "How to print the results: text, or one JSON object.")
    var output: OutputFormat = .text

    @Option(name: .customShort("o"), help: ArgumentHelp("Write the results to this file instead of stdout.", valueName: "file"))
    var outputFile: String?

    @Flag(help: "Print every request that would be sent, without sending any.")
    var dryRun = false

    @Option(help: ArgumentHelp("Write a Chrome trace-event timeline (open in Perfetto or chrome://tracing).", valueName: "file"))
    var trace: String?

    @Flag(help: "Print no progress, only results and errors.")
    var quiet = false

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: "Call the provider for every request, even when the store has its reply (the new replies are stored).")
    var noCache = false

    @Flag(help: "Use only replies in the store; fail, naming the steps, when one is missing. Makes no requests.")
    var offline = false

    @Option(help: ArgumentHelp("Run the pipeline once per row of a JSON Lines or CSV file; results go to -o as JSON Lines, in row order.", valueName: "file"))
    var dataset: String?

    @Option(help: ArgumentHelp("With --dataset: feed a column to an input of another name.", valueName: "column=input"))
    var map: [String] = []

    @Option(help: ArgumentHelp("With --dataset: run only rows whose index is i modulo n (0 <= i < n).", valueName: "i/n"))
    var shard: String?

    @Option(help: ArgumentHelp("Name the run (default: $SKEIN_RUN_NAME): the shards of a --dataset run that share a name are one run to 'skein merge --store STORE --run NAME'.", valueName: "name"))
    var runName: String?

    @Option(help: ArgumentHelp("With --dataset: also write failed rows, with their inputs, to this file.", valueName: "file"))
    var errors: String?

    @Flag(help: "With --dataset: send the requests through the provider's Batch API (cheaper, slower) instead of live calls.")
    var batch = false

    @Option(help: ArgumentHelp("With --batch: seconds between the first looks at a batch (the wait grows to 60).", valueName: "seconds"))
    var batchPoll: Double = 5

    @Option(help: .hidden)
    var batchWaveMs: Int = 500

    @Option(help: ArgumentHelp(
        "Spend at most this many USD: no request starts that could take the spend past it (a request counts at its step's max_tokens, 4,096 output tokens without one); the run stops as failed, keeping what finished. Every model needs a price: the provider's 'pricing:', or its model list.",
        valueName: "usd"))
    var maxCost: Double?

    /// The run's name in its recorded options: `--run-name`, else `SKEIN_RUN_NAME`.
    var nameOption: JSONValue.JSONObject {
        let name = runName ?? ProcessInfo.processInfo.environment["SKEIN_RUN_NAME"]
        guard let name, !name.isEmpty else { return [:] }
        return ["name": .string(name)]
    }

    func validate() throws {
        if concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if let runName, runName.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--run-name needs a name") }
        if noCache && offline { throw ValidationError("--no-cache and --offline contradict each other: pick one") }
        if dataset == nil {
            for (flag, used) in [("--map", !map.isEmpty), ("--shard", shard != nil), ("--errors", errors != nil), ("--batch", batch)] where used {
                throw ValidationError("\(flag) needs --dataset FILE")
            }
        } else {
            if dryRun { throw ValidationError("--dry-run does not take --dataset: try one row with -i (or --inputs)") }
            if stream != nil { throw ValidationError("--stream does not take --dataset: the rows run at the same time") }
        }
        if batch && offline { throw ValidationError("--batch and --offline contradict each other: --offline sends nothing") }
        if let maxCost, !(maxCost > 0 && maxCost.isFinite) {
            throw ValidationError("--max-cost must be a number of USD above 0, like 2.50; got \(maxCost)")
        }
        if !(batchPoll > 0 && batchPoll <= 3600) {
            throw ValidationError("--batch-poll must be a number of seconds above 0 and at most 3600, got \(batchPoll)")
        }
        if let shard, Shard(parsing: shard) == nil {
            throw ValidationError("--shard expects i/n with 0 <= i < n, like 0/4; got '\(shard)'")
        }
        for mapping in map where !mapping.contains("=") || mapping.hasPrefix("=") || mapping.hasSuffix("=") {
            throw ValidationError("--map expects column=input; got '\(mapping)'")
        }
        for item in input where !item.contains("=") {
            throw ValidationError("-i expects name=value, name=@file or name=@-; got '\(item)'")
        }
    }

    func run() async throws {
        let (graph, result) = PipelineValidator().validateGraph(path: file)
        Diagnostics.report(result.diagnostics, sourceText: result.sourceText, file: file)
        guard let graph else { throw ExitCode(1) }
        if let stream, graph.index[stream] == nil {
            Terminal.standardError.write("error: --stream names unknown step '\(stream)'\(Suggestion.didYouMean(stream, in: graph.names))\n")
            throw ExitCode(2)
        }

        if let dataset {
            try await DatasetRun(command: self, graph: graph, fixedInputs: try providedInputs()).run(dataset: dataset)
            return
        }
        let inputs: JSONValue.JSONObject
        do {
            inputs = try InputResolver(pipeline: graph.pipeline).resolve(try providedInputs())
        } catch let error as DiagnosticsError {
            Diagnostics.report(error.diagnostics, sourceText: graph.pipeline.sourceText, file: file)
            throw ExitCode(1)
        }
        // Where the results and the trace go is checked before anything is sent.
        let outputTarget: OutputPath?, traceOutput: OutputPath?
        do {
            outputTarget = try outputFile.map { try OutputPath($0, option: "-o") }
            traceOutput = try trace.map { try OutputPath($0, option: "--trace") }
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
        let progressMode: ProgressRenderer.Mode = quiet ? .quiet : (stream == nil && Terminal.isTerminal(2) ? .live : .lines)
        let session = session(graph: graph, streaming: stream != nil || progressMode == .live)

        if dryRun {
            do {
                let requests = try session.dryRun.requests(inputs: inputs, environment: session.options.environment)
                try emit(DryRunPrinter.render(requests, format: output), to: outputTarget)
            } catch let diagnostic as Diagnostic {
                Diagnostics.report([diagnostic], sourceText: graph.pipeline.sourceText, file: file)
                throw ExitCode(1)
            }
            return
        }

        let progress = ProgressRenderer(steps: graph.names, mode: progressMode, streamStep: stream, color: Terminal.usesColor)
        let tracer = trace.map { _ in TraceRecorder() }
        let tally = ItemTally()
        let store = try await storeOptions.open()
        let record = session.record(inputs: inputs, extraOptions: nameOption)
        let (outcome, throttles) = try await HTTPCompletionClient.withClient(
            configuration: .init(connectionsPerHost: max(concurrency, 8)), environment: session.options.environment
        ) { client in
            try await loadPrices(session, client: client)
            let scheduler = session.scheduler(client: client, store: store)
            let runTask = Task {
                await scheduler.run(inputs: inputs, record: record) { event in
                    progress.handle(event)
                    tracer?.record(event)
                    tally.record(event)
                }
            }
            let signals = SignalWatcher { runTask.cancel() }
            progress.start()
            let outcome = await runTask.value
            signals.stop()
            progress.finish()
            return (outcome, await client.throttledProviders())
        }
        for warning in Summary.toolWarnings(outcome) + Summary.expectationWarnings(outcome) {
            Terminal.standardError.write(warning + "\n")
        }
        Terminal.standardError.write(Summary.line(outcome, tally: tally) + "\n")
        let budgetLine = Summary.budgetStop(outcome.spend, done: "\(outcome.results.values.filter { $0.status == .finished }.count) of "
            + Terminal.count(outcome.results.count, "step") + " finished")
        for note in Summary.throttleNotes(throttles) { Terminal.standardError.write(note + "\n") }
        if let traceOutput, let tracer {
            // A trace that cannot be written is said, but the results are still printed.
            do { try traceOutput.write(tracer.json()) } catch { Terminal.standardError.write("error: \(error)\n") }
        }
        switch outcome.status {
        case .succeeded:
            // On a terminal, text is wrapped at word boundaries rather than broken mid-word.
            let width = outputTarget == nil ? Terminal.columns(STDOUT_FILENO) : nil
            try emit(ResultPrinter.render(outcome, pipeline: graph.pipeline, format: output, width: width), to: outputTarget)
        case .failed:
            for failed in outcome.failedSteps {
                let location = graph.pipeline.steps[failed.name]?.location
                let diagnostic = Diagnostic.error("step '\(failed.name)' failed: \(failed.message ?? "unknown error")", at: location)
                Diagnostics.report([diagnostic], sourceText: graph.pipeline.sourceText, file: file)
            }
            for problem in outcome.outputErrors { Terminal.standardError.write("error: \(problem)\n") }
            if let budgetLine { Terminal.standardError.write(budgetLine + "\n") }
            if offline, outcome.failedSteps.contains(where: { $0.failure?.isOfflineMiss == true }) {
                let missing = outcome.failedSteps.filter { $0.failure?.isOfflineMiss == true }.map(\.name)
                Terminal.standardError.write("offline: no stored result for \(missing.joined(separator: ", "))\n")
            }
            if output == .json { try emit(ResultPrinter.render(outcome, pipeline: graph.pipeline, format: output), to: outputTarget) }
            throw ExitCode(1)
        case .interrupted:
            let finished = outcome.results.values.filter { $0.status == .finished }.map(\.name)
            let stopped = outcome.results.values.filter { $0.status == .notRun }.map(\.name)
            // A for_each step stopped midway kept the replies of the items it finished.
            let partial = stopped.compactMap { name -> String? in
                let progress = tally.progress(of: name)
                guard progress.items > 0 else { return nil }
                return "\(name) (\(progress.items)\(progress.totalItems.map { " of \($0)" } ?? "") items)"
            }
            let left = stopped.filter { tally.progress(of: $0).items == 0 }
            var message = "interrupted: finished \(finished.isEmpty ? "nothing" : finished.joined(separator: ", "))"
            if !partial.isEmpty { message += "; partly done: \(partial.joined(separator: ", "))" }
            if !left.isEmpty { message += "; not run: \(left.joined(separator: ", "))" }
            if (!partial.isEmpty || !finished.isEmpty) && !noCache {
                message += "\nrun the same command again to finish: what finished comes from the store"
            }
            Terminal.standardError.write(message + "\n")
            throw ExitCode(130)
        }
    }

    /// The run's session: the flags, resolved once, for the scheduler, the dataset runner and
    /// the dry run.
    /// - Parameter keepsGoingOffline: offline, every missing reply is worth naming, so the run
    ///   keeps going past the first (a dataset row stops at its first failure all the same).
    func session(graph: PipelineGraph, streaming: Bool, keepsGoingOffline: Bool = true) -> RunSession {
        RunSession(
            graph: graph, pipelinePath: file,
            options: .init(
                concurrency: concurrency,
                failurePolicy: keepGoing || (offline && keepsGoingOffline) ? .keepGoing : .stopOnFirstFailure,
                streaming: streaming, providerOverride: provider, modelOverride: model,
                environment: ProcessInfo.processInfo.environment,
                cachePolicy: offline ? .offline : (noCache ? .refresh : .readWrite), batch: batch, maxCost: maxCost))
    }

    /// Under `--max-cost`, makes sure every model has a price before anything is sent (reading
    /// model lists where the pipeline gives none); the steps without one are errors at the step.
    func loadPrices(_ session: RunSession, client: any CompletionClient) async throws {
        do {
            try await session.loadPrices(client: client)
        } catch let error as DiagnosticsError {
            Diagnostics.report(error.diagnostics, sourceText: session.graph.pipeline.sourceText, file: file)
            throw ExitCode(1)
        }
    }

    /// Inputs from `--inputs` first, then each `-i` (which wins).
    func providedInputs() throws -> OrderedDictionary<String, InputResolver.Provided> {
        var provided = OrderedDictionary<String, InputResolver.Provided>()
        if let inputsFile { provided = try InputResolver.readInputsFile(inputsFile) }
        var readStandardInput = false
        for item in input {
            guard let equals = item.firstIndex(of: "=") else { continue }
            let name = String(item[..<equals])
            let value = String(item[item.index(after: equals)...])
            if value == "@-" {
                if readStandardInput { throw DiagnosticsError([.error("only one input can be read from stdin (@-)")]) }
                readStandardInput = true
                let data = FileHandle.standardInput.readDataToEndOfFile()
                provided[name] = .text(String(decoding: data, as: UTF8.self))
            } else if value.hasPrefix("@") {
                let path = String(value.dropFirst())
                do {
                    provided[name] = .text(try FileReading.text(of: path))
                } catch {
                    throw DiagnosticsError([.error("input '\(name)': \(error)")])
                }
            } else {
                provided[name] = .text(value)
            }
        }
        return provided
    }

    func emit(_ text: String, to outputTarget: OutputPath?) throws {
        if let outputTarget {
            do {
                try outputTarget.write(text)
            } catch {
                Terminal.standardError.write("error: \(error)\n")
                throw ExitCode(1)
            }
        } else {
            Terminal.standardOutput.write(text)
        }
    }
}
