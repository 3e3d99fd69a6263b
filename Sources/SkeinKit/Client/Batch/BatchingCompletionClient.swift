import Foundation
import NIOCore

/// A `CompletionClient` that sends requests through the provider's Batch API instead of
/// live calls (`skein run --dataset rows.jsonl --batch`).
///
/// Requests are collected into waves: the scheduler starts every ready step of every row
/// in the window, each asks this client, and once no new request has arrived for
/// `collectDelay` the wave is cut. A wave is split by provider, endpoint and model (one
/// model per file, as Novita requires) and by the provider's size limits; each part is
/// uploaded as JSONL (`custom_id` = the request's cache key), turned into a batch, polled
/// with backoff, and its output and error files are read back to answer the waiting
/// requests. The step runner then stores every reply as it does for live calls, and the
/// next wave (the steps that depended on these) forms.
///
/// Requests for providers with `type: anthropic` are sent live, as without `--batch`: the
/// Anthropic Message Batches API is not the OpenAI-style Batch API this client speaks.
///
/// The ledger remembers which batch each request went into: a run killed while polling
/// and started again finds its requests there and waits for the same batch instead of
/// creating (and paying for) a second one.
public actor BatchingCompletionClient: CompletionClient {
    public struct Options: Sendable {
        /// How long the wave waits for more requests after the last one arrived.
        public var collectDelay: Duration
        public var polling: BatchClient.Polling
        /// Requests per batch file at most (providers cap it; Novita and OpenAI at 50,000).
        public var maxRequestsPerBatch: Int

        public init(collectDelay: Duration = .milliseconds(500), polling: BatchClient.Polling = .standard,
                    maxRequestsPerBatch: Int = 50_000) {
            self.collectDelay = collectDelay
            self.polling = polling
            self.maxRequestsPerBatch = maxRequestsPerBatch
        }
    }

    /// What happened, for progress lines.
    public enum Event: Sendable {
        case submitted(batchID: String, provider: String, model: String, requests: Int)
        case resumed(batchID: String, provider: String, requests: Int)
        case status(BatchJob)
        case finished(batchID: String, status: String, succeeded: Int, failed: Int)
    }

    struct Waiter {
        var request: CompletionRequest
        var provider: ProviderConfiguration
        var key: RequestKey
        var continuation: CheckedContinuation<Completion, any Error>
    }

    let live: HTTPCompletionClient
    let batches: BatchClient
    let ledger: (any BatchLedger)?
    let options: Options
    let onEvent: @Sendable (Event) -> Void
    private var wave: [Waiter] = []
    private var lastArrival = ContinuousClock.now
    private var collecting = false

    public init(client: HTTPCompletionClient, ledger: (any BatchLedger)?, options: Options = Options(),
                onEvent: @escaping @Sendable (Event) -> Void = { _ in }) {
        live = client
        batches = BatchClient(client: client)
        self.ledger = ledger
        self.options = options
        self.onEvent = onEvent
    }

    public nonisolated func listModels(provider: ProviderConfiguration) async throws -> [ModelInfo] {
        try await live.listModels(provider: provider)
    }

    public func complete(
        _ request: CompletionRequest, provider: ProviderConfiguration, retryPolicy: RetryPolicy?, timeout: Duration?,
        events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        // The Anthropic Message Batches API is another protocol; those requests go live.
        if provider.kind != .openai {
            return try await live.complete(
                request, provider: provider, retryPolicy: retryPolicy, timeout: timeout, events: events)
        }
        var body = request.body
        body.removeValue(forKey: "stream")
        body.removeValue(forKey: "stream_options")
        let request = CompletionRequest(api: request.api, body: body)
        let key = RequestKey(provider: provider, request: request)
        return try await withCheckedThrowingContinuation { continuation in
            wave.append(Waiter(request: request, provider: provider, key: key, continuation: continuation))
            lastArrival = .now
            if !collecting {
                collecting = true
                Task { await self.collect() }
            }
        }
    }

    /// Waits until the wave stops growing, then sends it.
    private func collect() async {
        while true {
            let quietFor = ContinuousClock.now - lastArrival
            if quietFor >= options.collectDelay { break }
            try? await Task.sleep(for: options.collectDelay - quietFor)
        }
        let current = wave
        wave = []
        collecting = false
        let task = Task { await self.send(current) }
        _ = task
    }

    /// Sends one wave: resumes batches the ledger knows, creates the rest, answers every waiter.
    private func send(_ waiters: [Waiter]) async {
        var byKey: [String: [Waiter]] = [:]
        var order: [String] = []
        for waiter in waiters {
            if byKey[waiter.key.hex] == nil { order.append(waiter.key.hex) }
            byKey[waiter.key.hex, default: []].append(waiter)
        }
        // Requests already in a batch (a restarted run): wait for that batch.
        var resumed: [String: (entry: BatchLedgerEntry, keys: [String])] = [:]
        var fresh: [String] = []
        for key in order {
            if let ledger, let entry = try? await ledger.batch(containing: key),
                entry.provider == byKey[key]?.first?.provider.name
            {
                resumed[entry.id, default: (entry, [])].keys.append(key)
            } else {
                fresh.append(key)
            }
        }
        // The rest: one file per provider, endpoint and model, within the size limits.
        struct Group: Hashable { var provider: String; var api: CompletionAPI; var model: String }
        var groups: [Group: [String]] = [:]
        var groupOrder: [Group] = []
        for key in fresh {
            guard let first = byKey[key]?.first else { continue }
            let group = Group(provider: first.provider.name, api: first.request.api, model: first.request.model ?? "")
            if groups[group] == nil { groupOrder.append(group) }
            groups[group, default: []].append(key)
        }
        await withTaskGroup(of: Void.self) { tasks in
            for (_, resume) in resumed {
                guard let provider = byKey[resume.keys[0]]?.first?.provider else { continue }
                onEvent(.resumed(batchID: resume.entry.id, provider: provider.name, requests: resume.keys.count))
                let selected = resume.keys.reduce(into: [String: [Waiter]]()) { $0[$1] = byKey[$1] }
                tasks.addTask { await self.await(batchID: resume.entry.id, provider: provider, waiters: selected) }
            }
            for group in groupOrder {
                let keys = groups[group] ?? []
                var start = 0
                while start < keys.count {
                    let chunk = Array(keys[start..<min(start + options.maxRequestsPerBatch, keys.count)])
                    start += chunk.count
                    let selected = chunk.reduce(into: [String: [Waiter]]()) { $0[$1] = byKey[$1] }
                    tasks.addTask { await self.submit(keys: chunk, waiters: selected, model: group.model) }
                }
            }
        }
    }

    /// Uploads one file, creates its batch, records it, and waits for it.
    private func submit(keys: [String], waiters: [String: [Waiter]], model: String) async {
        guard let first = waiters[keys[0]]?.first else { return }
        let provider = first.provider
        do {
            var file = BatchInputFile(maxRequests: options.maxRequestsPerBatch)
            for key in keys {
                guard let waiter = waiters[key]?.first else { continue }
                try file.append(waiter.request, customID: key)
            }
            let uploaded = try await batches.uploadFile(file, filename: "skein-\(keys.count)-\(model.isEmpty ? "requests" : model.replacingOccurrences(of: "/", with: "_")).jsonl", provider: provider)
            let job = try await batches.createBatch(
                inputFileID: uploaded.id, api: first.request.api, metadata: ["created_by": "skein"], provider: provider)
            try await ledger?.recordBatch(
                BatchLedgerEntry(
                    id: job.id, provider: provider.name, baseURL: provider.baseURL, endpoint: job.endpoint,
                    inputFileID: uploaded.id, status: job.status.rawValue),
                keys: keys)
            onEvent(.submitted(batchID: job.id, provider: provider.name, model: model, requests: keys.count))
            await self.await(batchID: job.id, provider: provider, waiters: waiters)
        } catch {
            fail(waiters, with: error)
        }
    }

    /// Polls a batch to its end and answers the waiters from its output and error files.
    private func await(batchID: String, provider: ProviderConfiguration, waiters: [String: [Waiter]]) async {
        do {
            let onEvent = self.onEvent
            let job = try await batches.waitForBatch(batchID, provider: provider, polling: options.polling) { job in
                onEvent(.status(job))
            }
            try? await ledger?.updateBatch(
                id: job.id, status: job.status.rawValue, outputFileID: job.outputFileID, errorFileID: job.errorFileID)
            var pending = waiters
            var succeeded = 0
            var failed = 0
            for fileID in [job.outputFileID, job.errorFileID].compactMap({ $0 }) {
                let contents = try await batches.fileContent(fileID, provider: provider)
                for result in try batches.results(in: contents, provider: provider) {
                    guard let matched = pending.removeValue(forKey: result.customID) else { continue }
                    switch result.outcome {
                    case .success(let completion):
                        succeeded += 1
                        for waiter in matched { waiter.continuation.resume(returning: completion) }
                    case .failure(let error):
                        failed += 1
                        for waiter in matched { waiter.continuation.resume(throwing: error) }
                    }
                }
            }
            onEvent(.finished(batchID: job.id, status: job.status.rawValue, succeeded: succeeded, failed: failed))
            if !pending.isEmpty {
                let error = ProviderError(
                    kind: .invalidResponse, provider: provider.name, code: "BATCH_\(job.status.rawValue.uppercased())",
                    message: "batch \(job.id) ended \(job.status) without a result for this request",
                    hint: job.status == .completed ? nil : "Run the same command again: the requests go into a new batch.",
                    isRetryable: true)
                fail(pending, with: error)
            }
        } catch {
            fail(waiters, with: error)
        }
    }

    private func fail(_ waiters: [String: [Waiter]], with error: any Error) {
        for (_, list) in waiters { for waiter in list { waiter.continuation.resume(throwing: error) } }
    }
}
