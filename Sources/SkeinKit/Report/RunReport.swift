import Foundation

/// Everything `skein report` shows about one stored run (DESIGN.md section 9): its steps,
/// every request with what was sent and what came back, the tool runs, a test run's verdicts,
/// the pipeline's graph when the file can still be read, and optionally a second run to
/// compare with. `html()` (RunReport+HTML.swift) turns it into one self-contained page.
public struct RunReport: Sendable {
    public struct Configuration: Sendable {
        /// The longest text (a message, a reply, an output) the page carries; longer ones are
        /// cut and say so, so that one megabyte reply times ten thousand items does not make
        /// a page no browser opens. `skein runs show --step` prints them whole.
        public var maximumTextLength: Int = 16_000

        public init(maximumTextLength: Int = 16_000) {
            self.maximumTextLength = maximumTextLength
        }
    }

    /// A run to compare with (`--against`): its detail and the per-step differences.
    public struct Comparison: Sendable {
        public var detail: SQLiteResultStore.RunDetail
        public var diff: RunDiff
    }

    public var detail: SQLiteResultStore.RunDetail
    public var requests: [SQLiteResultStore.RequestRow]
    public var tools: [SQLiteResultStore.ToolCallRow]
    public var tests: [SQLiteResultStore.TestCaseRow]
    /// The pipeline's graph, when its file (or the commit the run was made at) still has it.
    public var graph: PipelineGraph?
    /// Why the graph is missing or may differ from the run's, for the page to say.
    public var graphNote: String?
    /// Providers by name, for their prices (built-ins and the pipeline's own).
    public var providers: [String: ProviderConfiguration]
    public var comparison: Comparison?
    public var configuration: Configuration

    public init(
        detail: SQLiteResultStore.RunDetail, requests: [SQLiteResultStore.RequestRow], tools: [SQLiteResultStore.ToolCallRow] = [],
        tests: [SQLiteResultStore.TestCaseRow] = [], graph: PipelineGraph? = nil, graphNote: String? = nil,
        providers: [String: ProviderConfiguration] = ProviderConfiguration.builtIns(environment: [:]),
        comparison: Comparison? = nil, configuration: Configuration = Configuration()
    ) {
        self.detail = detail
        self.requests = requests
        self.tools = tools
        self.tests = tests
        self.graph = graph
        self.graphNote = graphNote
        self.providers = providers
        self.comparison = comparison
        self.configuration = configuration
    }

    /// Reads a run (and the one to compare with) from the store, and its pipeline's graph.
    /// - Parameters:
    ///   - id: the run.
    ///   - against: a run to compare outputs with.
    ///   - graph: the pipeline's graph when the caller has it (`skein test --html`); else it
    ///     is read from the run's pipeline file, or from git at the run's commit when the
    ///     file has changed since.
    /// - Throws: `StoreError` for a missing run, or what the store throws.
    public static func load(
        store: any HistoryStore, run id: Int64, against: Int64? = nil, graph: PipelineGraph? = nil,
        configuration: Configuration = Configuration()
    ) async throws -> RunReport {
        let detail = try await store.run(id)
        let requests = try await store.requests(run: id)
        let tools = try await store.toolCalls(run: id)
        let tests = detail.summary.test != nil ? try await store.testResults(run: id) : []
        var graphNote: String?
        var graph = graph
        if graph == nil { (graph, graphNote) = pipelineGraph(of: detail.summary) }
        var providers = ProviderConfiguration.builtIns(environment: [:])
        for (name, provider) in graph?.pipeline.providers ?? [:] { providers[name] = provider.value }
        var comparison: Comparison?
        if let against {
            let old = try await store.run(against)
            comparison = Comparison(detail: old, diff: RunDiff(old: old, new: detail))
        }
        return RunReport(
            detail: detail, requests: requests, tools: tools, tests: tests, graph: graph, graphNote: graphNote, providers: providers,
            comparison: comparison, configuration: configuration)
    }

    /// The graph of the pipeline a run ran: the file if it is unchanged, else the file at the
    /// run's git commit, else the file as it is now (said in the note), else none.
    static func pipelineGraph(of run: SQLiteResultStore.RunSummary) -> (PipelineGraph?, String?) {
        let path = run.pipelinePath
        let current = FileManager.default.contents(atPath: path)
        if let current, sha256Hex(current) == run.pipelineSHA256, let text = String(data: current, encoding: .utf8) {
            let (graph, _) = PipelineValidator().validateGraph(text: text, path: path)
            if let graph { return (graph, nil) }
        }
        if let commit = run.gitCommit, let files = try? GitRevisionFiles(revision: commit, near: path),
            let data = files.read(URL(fileURLWithPath: path).standardizedFileURL.path), sha256Hex(data) == run.pipelineSHA256,
            let text = String(data: data, encoding: .utf8)
        {
            let validator = PipelineValidator(loader: PipelineLoader(configuration: .init(files: files.fileSource)))
            let (graph, _) = validator.validateGraph(text: text, path: path)
            if let graph { return (graph, nil) }
        }
        if let current, let text = String(data: current, encoding: .utf8) {
            let (graph, _) = PipelineValidator().validateGraph(text: text, path: path)
            if let graph { return (graph, "\(path) has changed since this run: the graph is of the file as it is now") }
        }
        return (nil, "\(path) is gone or invalid: no graph, the steps are listed as the run stored them")
    }

    // MARK: Cost and usage

    /// Token counts of a request (nil counts are unknown: a stream that reported none).
    struct Tokens: Sendable, Hashable {
        var prompt: Int?
        var completion: Int
        var cached: Int
    }

    static func tokens(_ usage: String?) -> Tokens? {
        guard let usage, let value = try? JSONValue(parsing: usage) else { return nil }
        return Tokens(
            prompt: value["prompt_tokens"]?.intValue, completion: value["completion_tokens"]?.intValue ?? 0,
            cached: value["cached_tokens"]?.intValue ?? 0)
    }

    /// What a request cost: 0 for one the store answered, nil when its provider has no price
    /// for its model (or it reported no usage).
    /// The cost the store kept with the request (since `v5-cost`) comes first: it holds
    /// prices read from a model list, and does not change with the pipeline's prices.
    func cost(of request: SQLiteResultStore.RequestRow) -> Double? {
        if request.cached { return 0 }
        if let cost = request.cost { return cost }
        guard let tokens = Self.tokens(request.usage) else { return request.error == nil ? nil : 0 }
        guard let price = providers[request.provider]?.price(of: request.model) else { return nil }
        return price.cost(promptTokens: tokens.prompt ?? 0, completionTokens: tokens.completion, cachedTokens: tokens.cached)
    }

    /// The run's spend: the sum of what is priced, and whether any request had no price.
    public var cost: (total: Double, isComplete: Bool) {
        var total = 0.0
        var isComplete = true
        for request in requests {
            if let cost = cost(of: request) { total += cost } else { isComplete = false }
        }
        return (total, isComplete)
    }

    /// The text a page shows, cut at the configured length (with how much was left out).
    func clipped(_ text: String) -> String {
        let limit = configuration.maximumTextLength
        guard text.utf8.count > limit else { return text }
        // Cut at a character boundary: back up while the first byte left out continues a
        // UTF-8 sequence, so no character is split.
        let bytes = Array(text.utf8)
        var end = limit
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        let kept = String(decoding: bytes[..<end], as: UTF8.self)
        return kept + "\n… (\(text.utf8.count - kept.utf8.count) more bytes not in the report; skein runs show --step prints them)"
    }
}
