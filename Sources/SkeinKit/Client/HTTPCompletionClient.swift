import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The completion client over AsyncHTTPClient, for every wire format Skein speaks: each
/// provider's `ProviderDialect` (OpenAI-compatible, Anthropic Messages) encodes and decodes,
/// and the `ProviderTransport` sends.
///
/// One client serves every provider: its transport keeps the connection pools (HTTP/1.1 or
/// HTTP/2, whatever the server offers) and one `RateLimiter` per provider name, so every
/// step that uses a provider shares its limits. Shut it down with `shutdown()` or use
/// `withClient`, which does so whether its body throws or not.
public final class HTTPCompletionClient: CompletionClient {
    /// How the client connects, waits and retries.
    public struct Configuration: Sendable {
        /// Connections kept per host. Size it to the requests in flight at once: a request
        /// beyond it waits for a connection (AsyncHTTPClient's default is 8).
        public var connectionsPerHost: Int
        /// How long an unused connection stays open.
        public var idleTimeout: Duration
        public var connectTimeout: Duration
        /// The default limit for one attempt, and the read timeout between bytes. A call
        /// with a shorter timeout (a step's `timeout`) is held to it from sending to the
        /// reply's last byte; one without is held to it until the reply's head, then to
        /// the read timeout between the body's bytes (see `fetch`).
        public var timeout: Duration
        public var retryPolicy: RetryPolicy
        /// Replies larger than this are refused (a guard against a runaway server).
        public var maximumResponseBytes: Int
        public var userAgent: String

        public init(
            connectionsPerHost: Int = 64, idleTimeout: Duration = .seconds(60), connectTimeout: Duration = .seconds(5),
            timeout: Duration = .seconds(600), retryPolicy: RetryPolicy = .standard,
            maximumResponseBytes: Int = 64 << 20, userAgent: String = "skein"
        ) {
            self.connectionsPerHost = max(1, connectionsPerHost)
            self.idleTimeout = idleTimeout
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.retryPolicy = retryPolicy
            self.maximumResponseBytes = maximumResponseBytes
            self.userAgent = userAgent
        }
    }

    public let configuration: Configuration
    /// Keys, pools, limits and retries, shared with the Batch API client (`BatchClient`).
    let transport: ProviderTransport
    var clock: ClientClock { transport.clock }
    private var logger: Logger? { transport.logger }

    /// Creates a client; call `shutdown()` when done with it.
    /// - Parameters:
    ///   - configuration: pool size, timeouts, the default retry policy.
    ///   - environment: where API keys are read from.
    ///   - logger: attempts at debug level, retries at notice; nil logs nothing.
    ///   - clock: what the client waits on; tests pass one that only records.
    ///   - random: numbers in 0..<1 for the backoff's jitter.
    public init(
        configuration: Configuration = Configuration(),
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger? = nil,
        clock: ClientClock = .continuous, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.configuration = configuration
        self.transport = ProviderTransport(
            configuration: configuration, environment: environment, logger: logger, clock: clock, random: random)
    }

    /// The most requests in flight one AsyncHTTPClient pool is given; a larger
    /// `connectionsPerHost` is spread over several pools, requests taking them in turn.
    /// Two limits set it:
    /// - HTTP/2 (what AsyncHTTPClient negotiates with an HTTPS server that offers it): a pool
    ///   opens one connection per host and queues the requests beyond the streams the server
    ///   allows on it. 100 concurrent streams is NIO's default and the least RFC 9113 (§6.5.2)
    ///   recommends, so pools of 100 keep every request on the wire, over one connection per
    ///   pool (100 connections for 10,000 requests at once, against 10,000 for HTTP/1.1).
    /// - HTTP/1.1: a pool copies its list of connections for every connection it opens; at
    ///   10,000 requests at once (`--concurrency 10000`) in one pool that quadratic work kept
    ///   its event loops busy for longer than the connect timeout, and thousands of requests
    ///   failed to connect and were retried. Small pools keep the work linear.
    /// At 100 requests at once or fewer there is one pool.
    public static let shardSize = 100

    /// How `connections` are spread: the number of pools and the connections each may open.
    public static func poolLayout(connections: Int) -> (pools: Int, connectionsPerPool: Int) {
        let pools = max(1, (connections + shardSize - 1) / shardSize)
        return (pools, (connections + pools - 1) / pools)
    }

    /// How many AsyncHTTPClient pools the connections are spread over.
    var poolCount: Int { transport.poolCount }

    /// Closes the connections. The client cannot be used afterwards.
    public func shutdown() async throws { try await transport.shutdown() }

    /// Runs `body` with a new client and shuts it down afterwards, whether `body` throws or not.
    public static func withClient<Result>(
        configuration: Configuration = Configuration(),
        environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger? = nil,
        clock: ClientClock = .continuous, isolation: isolated (any Actor)? = #isolation,
        _ body: (HTTPCompletionClient) async throws -> Result
    ) async throws -> Result {
        let client = HTTPCompletionClient(
            configuration: configuration, environment: environment, logger: logger, clock: clock)
        let result: Result
        do {
            result = try await body(client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return result
    }

    // MARK: - CompletionClient

    public func complete(
        _ request: CompletionRequest, provider: ProviderConfiguration, retryPolicy: RetryPolicy? = nil,
        timeout: Duration? = nil, events: (@Sendable (ClientEvent) -> Void)? = nil
    ) async throws -> Completion {
        let call = try makeCall(request, provider: provider, timeout: timeout)
        let limiter = await transport.limiters.limiter(for: provider)
        // The estimate walks the whole body; only a token budget needs it.
        let tokens = provider.tokensPerMinute == nil ? 0 : request.estimatedTokens
        let metadata = logger == nil ? [:] : Self.metadata(request, provider: provider)
        return try await transport.withRetries(
            policy: retryPolicy ?? configuration.retryPolicy, provider: provider, metadata: metadata, events: events
        ) { attempt in
            try await self.attempt(attempt, call: call, streaming: request.isStreaming, limiter: limiter, tokens: tokens, events: events)
        }
    }

    /// The HTTP call for a completion request. Synchronous and not inlined, so that building
    /// it leaves nothing in `complete`'s async frame.
    @inline(never)
    private func makeCall(
        _ request: CompletionRequest, provider: ProviderConfiguration, timeout: Duration?
    ) throws -> Call {
        guard request.api.providerKind == provider.kind else {
            throw ProviderError.wrongAPI(provider: provider.name, kind: provider.kind, api: request.api)
        }
        let apiKey = try transport.requireAPIKey(provider)
        return Call(
            url: request.api.url(baseURL: provider.baseURL), method: .POST, provider: provider, apiKey: apiKey,
            headers: transport.headers(for: provider, apiKey: apiKey, streaming: request.isStreaming),
            body: RequestBodyEncoder.encode(request.body),
            timeout: timeout ?? configuration.timeout)
    }

    @inline(never)
    private static func metadata(_ request: CompletionRequest, provider: ProviderConfiguration) -> Logger.Metadata {
        ["provider": "\(provider.name)", "model": "\(request.model ?? "")"]
    }

    /// One attempt within the provider's limits: a permit, the wait for its start, the call.
    /// Not inlined into `complete`: inside `withRetries`' loop its locals each took a slot in
    /// the frame every request in flight holds.
    @inline(never)
    private func attempt(
        _ attempt: Int, call: Call, streaming: Bool, limiter: RateLimiter, tokens: Int,
        events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        var permit = try await limiter.acquire(tokens: tokens)
        do {
            try await transport.waitForStart(of: &permit, limiter: limiter, events: events)
            ProviderTransport.send(.attemptStarted(attempt: attempt), to: events)
            var completion = try await perform(call, streaming: streaming, events: events)
            completion.attempts = attempt
            // A count made from the stream lacks the prompt: the limiter keeps its estimate.
            let reported = completion.usage.flatMap { $0.isCountedFromStream ? nil : $0.totalTokens }
            Self.release(permit, to: limiter, outcome: .success(tokens: reported))
            return completion
        } catch let error as ProviderError {
            await limiter.release(
                permit, outcome: error.kind == .rateLimited ? .rateLimited(retryAfter: error.retryAfter) : .failure)
            throw error
        } catch {
            await limiter.release(permit, outcome: .failure)
            throw error
        }
    }

    /// The providers that answered 429 so far, each with the request rate its adaptive
    /// limiter allows now: what `skein run` notes once a run is over.
    public func throttledProviders() async -> [ProviderThrottle] {
        await transport.limiters.throttled()
    }

    /// Hands a successful attempt's slot back without waiting for the limiter.
    ///
    /// The reply goes straight back to be stored: awaited here, the hop onto the limiter actor
    /// and back queued the reply behind whatever else the cooperative pool had to run, and a
    /// reply that has arrived but is not yet committed is lost with the process (issue 21: on
    /// the soak's workload, debug build, two busy cores, 11–20 ms at the 90th percentile and
    /// 16–40 ms at the 99th from the body's last byte to the store; 0.1 and 3–10 ms without the
    /// hop). A success teaches the limiter nothing urgent; a failure's release stays awaited,
    /// since the retry must see its 429.
    @inline(never)
    private static func release(_ permit: RateLimiter.Permit, to limiter: RateLimiter, outcome: RateLimiter.Outcome) {
        Task { await limiter.release(permit, outcome: outcome) }
    }

    /// `GET /models`, or the Messages API's `GET /v1/models` for an anthropic provider.
    public func listModels(provider: ProviderConfiguration) async throws -> [ModelInfo] {
        let apiKey = try transport.requireAPIKey(provider)
        let url = provider.dialect.modelsURL(baseURL: provider.baseURL)
        let call = Call(
            url: url, method: .GET, provider: provider, apiKey: apiKey,
            headers: transport.headers(for: provider, apiKey: apiKey, streaming: false), body: nil, timeout: configuration.timeout)
        return try await transport.withRetries(
            policy: configuration.retryPolicy, provider: provider, metadata: ["provider": "\(provider.name)"], events: nil
        ) { _ in
            let (status, body) = try await self.transport.fetch(call)
            guard let json = try? JSONValue(parsing: body.readableBytesView), let models = ModelInfo.decodeList(json)
            else {
                throw ProviderError.invalidResponse(
                    provider: provider.name, status: status, detail: "the model list is not {\"data\": [...]}")
            }
            return models
        }
    }

    // MARK: - Attempts

    typealias Call = ProviderTransport.Call

    /// One attempt at a completion.
    private func perform(
        _ call: Call, streaming: Bool, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        if streaming { return try await performStream(call, events: events) }
        let (status, body) = try await transport.fetch(call)
        return try call.provider.dialect.decodeReply(body, status: status, provider: call.provider, apiKey: call.apiKey)
    }

    /// One streamed attempt, read as it arrives and bounded by the call's timeout.
    private func performStream(
        _ call: Call, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        try await transport.withTimeout(call) {
            let response = try await self.transport.execute(call, deadline: .now() + TimeAmount(call.timeout))
            let status = Int(response.status.code)
            guard (200..<300).contains(status) else {
                throw try await self.transport.error(for: response, call: call)
            }
            // A stream unless the server answered with JSON (some ignore `stream`, some
            // send events without a content type).
            let contentType = response.headers.first(name: "content-type")?.lowercased() ?? ""
            guard contentType.contains("json") else {
                return try await self.assembleStream(response.body, call: call, events: events)
            }
            let body: ByteBuffer
            do {
                body = try await response.body.collect(upTo: self.configuration.maximumResponseBytes)
            } catch {
                throw self.transport.transportError(error, call: call)
            }
            let completion = try call.provider.dialect.decodeReply(
                body, status: status, provider: call.provider, apiKey: call.apiKey)
            // Asked to stream, answered in one piece: still show the text as it "arrives".
            if let reasoning = completion.reasoningContent { events?(.reasoningDelta(reasoning)) }
            if !completion.content.isEmpty { events?(.contentDelta(completion.content)) }
            return completion
        }
    }

    private func assembleStream(
        _ body: HTTPClientResponse.Body, call: Call, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        try await assembleStream(body, call: call, dialect: call.provider.dialect, events: events)
    }

    private func assembleStream<Dialect: ProviderDialect>(
        _ body: HTTPClientResponse.Body, call: Call, dialect: Dialect, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        try await assembleStream(
            body, call: call, assembler: dialect.streamAssembler(provider: call.provider, apiKey: call.apiKey), events: events)
    }

    private func assembleStream<Assembler: StreamAssembling>(
        _ body: HTTPClientResponse.Body, call: Call, assembler: Assembler, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        var parser = SSEParser()
        var assembler = assembler
        do {
            for try await chunk in body {
                // Whatever follows the end ([DONE], message_stop) is read (to keep the
                // connection reusable) but ignored.
                guard !assembler.isDone else { continue }
                for event in parser.consume(chunk.readableBytesView) where !assembler.isDone {
                    for delta in try assembler.consume(event) { events?(delta) }
                }
            }
        } catch let error as ProviderError {
            throw error
        } catch {
            throw transport.transportError(error, call: call)
        }
        for event in parser.finish() where !assembler.isDone {
            for delta in try assembler.consume(event) { events?(delta) }
        }
        guard assembler.isComplete else {
            throw ProviderError.connectionFailed(
                provider: call.provider.name, detail: "the stream ended before the reply was complete")
        }
        return assembler.completion(attempts: 1)
    }

}
