import Foundation
import OrderedCollections

/// One run's configuration, worked out once and used by everything that runs it: the
/// scheduler, the dataset runner and the dry run.
///
/// The command line builds a session from its flags and hands it on; a Swift program
/// builds one the same way. The session resolves the overrides (`--provider`, `--model`)
/// into one `ProviderResolver`, decides the cache policy and the limits, and writes the
/// run's `RunRecord` for the store's history, so none of these is worked out twice or in
/// two ways.
public final class RunSession: Sendable {
    /// What the user chose for the run.
    public struct Options: Sendable {
        /// Requests in flight at once, across all steps (`--concurrency`).
        public var concurrency: Int
        public var failurePolicy: Plan.FailurePolicy
        /// Ask providers for streamed replies (live progress, `--stream`).
        public var streaming: Bool
        /// `--provider`: this provider for every step.
        public var providerOverride: String?
        /// `--model`: this model for every step.
        public var modelOverride: String?
        public var environment: [String: String]
        /// How the store is used (`--no-cache`, `--offline`); ignored without a store.
        public var cachePolicy: CachePolicy
        /// A dataset run through the provider's Batch API (`--batch`): every ready request
        /// of a window of rows goes into one batch.
        public var batch: Bool
        /// USD the run may spend (`--max-cost`): no request starts that could take the spend
        /// past it (see `BudgetLedger`); nil for no limit.
        public var maxCost: Double?

        public init(
            concurrency: Int = 16, failurePolicy: Plan.FailurePolicy = .stopOnFirstFailure, streaming: Bool = false,
            providerOverride: String? = nil, modelOverride: String? = nil,
            environment: [String: String] = ProcessInfo.processInfo.environment, cachePolicy: CachePolicy = .readWrite,
            batch: Bool = false, maxCost: Double? = nil
        ) {
            self.concurrency = concurrency
            self.failurePolicy = failurePolicy
            self.streaming = streaming
            self.providerOverride = providerOverride
            self.modelOverride = modelOverride
            self.environment = environment
            self.cachePolicy = cachePolicy
            self.batch = batch
            self.maxCost = maxCost
        }
    }

    public let graph: PipelineGraph
    public let options: Options
    /// The pipeline file as the user named it (the history keys runs by it).
    public let pipelinePath: String
    /// Which provider and model each step uses, with the overrides applied.
    public let resolver: ProviderResolver
    /// What the steps' models cost (the pipeline's `pricing:`, and model lists once read).
    public let prices = PriceBook()

    /// Rows whose requests one `--batch` wave may hold.
    public static let batchWindow = 10_000

    /// - Parameters:
    ///   - graph: the validated pipeline.
    ///   - pipelinePath: the file as the user named it; defaults to the path it was loaded from.
    ///   - options: the run's choices.
    public init(graph: PipelineGraph, pipelinePath: String? = nil, options: Options = Options()) {
        self.graph = graph
        self.options = options
        self.pipelinePath = pipelinePath ?? graph.pipeline.path
        self.resolver = ProviderResolver(
            pipeline: graph.pipeline, providerOverride: options.providerOverride, modelOverride: options.modelOverride,
            environment: options.environment)
    }

    /// Requests in flight at once. A batch run holds every ready request of its window's
    /// rows (they wait in the batch, not on the wire).
    public var requestLimit: Int {
        options.batch ? Self.batchWindow * max(graph.names.count, 1) : options.concurrency
    }

    /// Rows a dataset run keeps in flight at once: the batch window, or nil for as many as
    /// the request limit keeps busy.
    public var datasetWindow: Int? { options.batch ? Self.batchWindow : nil }

    /// The options as the run's history records them: what changes which replies a run gets.
    /// - Parameter extra: what else the caller ran with (`dataset`, `shard`, `batch`).
    public func recordedOptions(_ extra: JSONValue.JSONObject = [:]) -> JSONValue.JSONObject {
        var recorded = extra
        if let provider = options.providerOverride { recorded["provider"] = .string(provider) }
        if let model = options.modelOverride { recorded["model"] = .string(model) }
        switch options.cachePolicy {
        case .readWrite: break
        case .refresh: recorded["cache"] = "refresh"
        case .offline: recorded["cache"] = "offline"
        }
        return recorded
    }

    /// The run as the store's history records it.
    /// - Parameters:
    ///   - inputs: the inputs (for a dataset, those fixed for every row).
    ///   - extraOptions: see `recordedOptions`.
    ///   - gitCommit: the commit of the pipeline file; looked up with git when not given.
    public func record(
        inputs: JSONValue.JSONObject, extraOptions: JSONValue.JSONObject = [:], gitCommit: String?? = nil
    ) -> RunRecord {
        RunRecord(
            pipelinePath: pipelinePath, pipelineSHA256: sha256Hex(Data(graph.pipeline.sourceText.utf8)),
            gitCommit: gitCommit ?? GitRevision.head(containing: pipelinePath), inputs: .object(inputs),
            options: .object(recordedOptions(extraOptions)))
    }

    /// Makes sure every model a step uses has a price, reading the model lists of providers
    /// the pipeline gives none for. Needed by `--max-cost` before the first request; does
    /// nothing without a budget (no request is added to a run that has none), nor under
    /// `--offline`, which sends nothing and so spends nothing.
    /// - Throws: `DiagnosticsError`, one error per step without a price, at the step.
    public func loadPrices(client: any CompletionClient) async throws {
        guard let budget = options.maxCost, options.cachePolicy != .offline else { return }
        let pipeline = graph.pipeline
        var uses: [(step: String, use: PriceBook.Use)] = []
        for name in graph.names {
            guard let step = pipeline.steps[name],
                let provider = try? resolver.provider(for: step, defaults: pipeline.defaults),
                let model = try? resolver.model(for: step, defaults: pipeline.defaults, provider: provider)
            else { continue }  // A step that cannot resolve its provider fails on its own, with its error.
            uses.append((name, PriceBook.Use(provider: provider, model: model)))
        }
        let missing = await prices.loadListedPrices(for: uses.map(\.use), client: client)
        guard !missing.isEmpty else { return }
        var diagnostics: [Diagnostic] = []
        for (name, use) in uses {
            guard let reason = missing.first(where: { $0.use == use })?.reason else { continue }
            diagnostics.append(.error(
                "--max-cost \(CostFormat.usd(budget)) needs the price of every model: step '\(name)' uses "
                    + "\(use.model.map { "'\($0)'" } ?? "no model") at provider '\(use.provider.name)', and \(reason); give the provider "
                    + "'pricing:' in the pipeline (USD per million tokens, e.g. pricing: {\"*\": {input_per_million: 0.2, output_per_million: 0.8}})",
                at: pipeline.steps[name]?.location))
        }
        throw DiagnosticsError(diagnostics)
    }

    /// A scheduler for this session's runs.
    public func scheduler(client: any CompletionClient, store: (any ResultStore)?) -> Scheduler {
        Scheduler(session: self, client: client, store: store)
    }

    /// The dry run: every request the run would send.
    public var dryRun: DryRun { DryRun(graph: graph, resolver: resolver) }
}
