import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// The completion client for OpenAI-compatible APIs and the Anthropic Messages API
/// (providers with `type: anthropic`, see `AnthropicMessages`), over AsyncHTTPClient.
///
/// One client serves every provider: it keeps one connection pool (HTTP/1.1 or HTTP/2,
/// whatever the server offers) and one `RateLimiter` per provider name, so every step
/// that uses a provider shares its limits. Shut it down with `shutdown()` or use
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
    // Internal, not private, where `BatchClient` shares them: the pool, the clock, the key
    // lookup, headers, retries and error decoding.
    var httpClient: HTTPClient { shards[0] }
    /// The pools requests are spread over; see `shardSize`.
    private let shards: [HTTPClient]
    private let nextShard = Atomic<Int>(0)
    private let environment: [String: String]
    private let logger: Logger?
    let clock: ClientClock
    private let random: @Sendable () -> Double
    private let limiters: RateLimiters
    private let checkedBaseURLs = Mutex<Set<String>>([])

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
        self.environment = environment
        self.logger = logger
        self.clock = clock
        self.random = random
        self.limiters = RateLimiters(now: clock.now)
        var http = HTTPClient.Configuration()
        let layout = Self.poolLayout(connections: configuration.connectionsPerHost)
        http.connectionPool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .init(configuration.idleTimeout),
            concurrentHTTP1ConnectionsPerHostSoftLimit: layout.connectionsPerPool)
        // Fail a refused connection at once and let the retry policy decide, rather than
        // have the pool retry it silently until the connect timeout: a local server that is
        // not running should say so in seconds.
        http.connectionPool.retryConnectionEstablishment = false
        http.httpVersion = .automatic
        // The read timeout catches a body that stalls after its head (see `fetch`).
        http.timeout = HTTPClient.Configuration.Timeout(
            connect: .init(configuration.connectTimeout), read: .init(configuration.timeout))
        // No distributed-tracing spans: Skein traces runs itself (`--trace`), and with the
        // default (no-op) tracer AsyncHTTPClient still built a span's attributes for every
        // request, about 3% of the client's CPU in `skein-bench client`.
        http.tracing.tracer = nil
        // AsyncHTTPClient's own logs stay off: the request-level logging here is enough,
        // and it never sees a header.
        self.shards = (0..<layout.pools).map { _ in
            HTTPClient(
                eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http,
                backgroundActivityLogger: Logger(label: "skein.http", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
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
    var poolCount: Int { shards.count }

    /// The pool for the next request.
    private var pool: HTTPClient {
        if shards.count == 1 { return shards[0] }
        return shards[nextShard.wrappingAdd(1, ordering: .relaxed).oldValue % shards.count]
    }

    /// Closes the connections. The client cannot be used afterwards.
    public func shutdown() async throws {
        var failure: (any Error)?
        for shard in shards {
            do { try await shard.shutdown() } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

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
        let limiter = await limiters.limiter(for: provider)
        // The estimate walks the whole body; only a token budget needs it.
        let tokens = provider.tokensPerMinute == nil ? 0 : request.estimatedTokens
        let metadata = logger == nil ? [:] : Self.metadata(request, provider: provider)
        return try await withRetries(
            policy: retryPolicy ?? configuration.retryPolicy, metadata: metadata, events: events
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
        let apiKey = try requireAPIKey(provider)
        return Call(
            url: request.api.url(baseURL: provider.baseURL), method: .POST, provider: provider, apiKey: apiKey,
            headers: headers(for: provider, apiKey: apiKey, streaming: request.isStreaming),
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
            try await waitForStart(of: &permit, limiter: limiter, events: events)
            Self.send(.attemptStarted(attempt: attempt), to: events)
            var completion = try await perform(call, streaming: streaming, events: events)
            completion.attempts = attempt
            // A count made from the stream lacks the prompt: the limiter keeps its estimate.
            let reported = completion.usage.flatMap { $0.isCountedFromStream ? nil : $0.totalTokens }
            await limiter.release(permit, outcome: .success(tokens: reported))
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

    /// `GET /models`, or the Messages API's `GET /v1/models` for an anthropic provider.
    public func listModels(provider: ProviderConfiguration) async throws -> [ModelInfo] {
        let apiKey = try requireAPIKey(provider)
        let url =
            provider.kind == .anthropic
            ? AnthropicMessages.url(baseURL: provider.baseURL, path: "models") : provider.baseURL + "/models"
        let call = Call(
            url: url, method: .GET, provider: provider, apiKey: apiKey,
            headers: headers(for: provider, apiKey: apiKey, streaming: false), body: nil, timeout: configuration.timeout)
        return try await withRetries(
            policy: configuration.retryPolicy, metadata: ["provider": "\(provider.name)"], events: nil
        ) { _ in
            let (status, body) = try await self.fetch(call)
            guard let json = try? JSONValue(parsing: body.readableBytesView), let models = ModelInfo.decodeList(json)
            else {
                throw ProviderError.invalidResponse(
                    provider: provider.name, status: status, detail: "the model list is not {\"data\": [...]}")
            }
            return models
        }
    }

    // MARK: - Attempts

    /// Everything one attempt needs, fixed for all attempts of a request.
    struct Call: Sendable {
        var url: String
        var method: HTTPMethod
        var provider: ProviderConfiguration
        var apiKey: String?
        var headers: HTTPHeaders
        var body: ByteBuffer?
        var timeout: Duration

        var httpRequest: HTTPClientRequest {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers = headers
            if let body { request.body = .bytes(body) }
            if let caFile = provider.caFile { request.tlsConfiguration = TrustedCertificates.configuration(caFile: caFile) }
            return request
        }
    }

    func requireAPIKey(_ provider: ProviderConfiguration) throws(ProviderError) -> String? {
        try checkBaseURL(provider)
        guard let variable = provider.apiKeyEnvironmentVariable else { return nil }
        guard let key = provider.apiKey(environment: environment) else {
            throw ProviderError.missingAPIKey(provider: provider.name, variable: variable)
        }
        return key
    }

    /// Refuses a base URL whose port AsyncHTTPClient would trap on (a pipeline file's URLs are
    /// checked when it is loaded; `OPENAI_BASE_URL` comes from the environment). Each URL is
    /// checked once.
    func checkBaseURL(_ provider: ProviderConfiguration) throws(ProviderError) {
        guard !checkedBaseURLs.withLock({ $0.contains(provider.baseURL) }) else { return }
        // Only the port: AsyncHTTPClient reports a bad scheme or host itself (`transportError`).
        if let problem = ProviderConfiguration.portProblem(provider.baseURL) {
            throw ProviderError(
                kind: .connectionFailed, provider: provider.name, code: "INVALID_URL",
                message: "the base URL \(problem)", hint: "Check the provider's base_url (or OPENAI_BASE_URL).",
                isRetryable: false)
        }
        checkedBaseURLs.withLock { _ = $0.insert(provider.baseURL) }
    }

    func headers(for provider: ProviderConfiguration, apiKey: String?, streaming: Bool) -> HTTPHeaders {
        if provider.kind == .anthropic {
            return AnthropicMessages.headers(
                for: provider, apiKey: apiKey, streaming: streaming, userAgent: configuration.userAgent)
        }
        var headers = HTTPHeaders()
        headers.reserveCapacity(5 + provider.headers.count)
        headers.add(name: "user-agent", value: configuration.userAgent)
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "accept", value: streaming ? "text/event-stream" : "application/json")
        if !provider.headers.isEmpty {
            for (name, value) in provider.headers.sorted(by: { $0.key < $1.key }) {
                headers.replaceOrAdd(name: name, value: value)
            }
        }
        if let apiKey { headers.replaceOrAdd(name: "authorization", value: "Bearer \(apiKey)") }
        return headers
    }

    /// Sleeps until the permit's start, and again if the limiter moved it meanwhile.
    private func waitForStart(
        of permit: inout RateLimiter.Permit, limiter: RateLimiter, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws {
        var now = Self.seconds(clock.now())
        if permit.start - permit.askedAt > 0.001 || now - permit.askedAt > 0.001 {
            events?(.throttled(delay: .seconds(max(permit.start, now) - permit.askedAt)))
        }
        while permit.start > now {
            try await clock.sleep(.seconds(permit.start - now))
            guard let renewed = await limiter.revalidate(permit) else { return }
            permit = renewed
            now = Self.seconds(clock.now())
        }
    }

    /// Runs `operation` until it succeeds, fails for good, or the policy says stop.
    func withRetries<Value: Sendable>(
        policy: RetryPolicy, metadata: Logger.Metadata, events: (@Sendable (ClientEvent) -> Void)?,
        operation: (Int) async throws -> Value
    ) async throws -> Value {
        var attempt = 1
        while true {
            do {
                if logger != nil { log(.debug, "sending", metadata: metadata, attempt: attempt) }
                return try await operation(attempt)
            } catch var error as ProviderError {
                guard let delay = policy.delay(beforeRetry: attempt, after: error, random: random()) else {
                    if logger != nil { log(.debug, "failed: \(error)", metadata: metadata, attempt: attempt) }
                    error.attempts = attempt
                    throw error
                }
                if logger != nil {
                    log(.notice, "retrying in \(ProviderError.seconds(delay)): \(error)", metadata: metadata, attempt: attempt)
                }
                Self.send(.retrying(attempt: attempt, delay: delay, error: error), to: events)
                try await clock.sleep(delay)
                attempt += 1
            }
        }
    }

    // Logging and events go through synchronous functions of their own: inlined into an
    // async function, a log call's autoclosures and an event's enum value each took a slot in
    // its async frame, which every request in flight holds (`withRetries`' specializations:
    // 3.2–5.4 KB → about 0.8 KB).
    @inline(never)
    private func log(_ level: Logger.Level, _ message: @autoclosure () -> String, metadata: Logger.Metadata, attempt: Int) {
        logger?.log(level: level, "\(message())", metadata: metadata.merging(["attempt": "\(attempt)"]) { $1 })
    }

    @inline(never)
    static func send(_ event: @autoclosure () -> ClientEvent, to events: (@Sendable (ClientEvent) -> Void)?) {
        events?(event())
    }

    /// One attempt at a completion.
    private func perform(
        _ call: Call, streaming: Bool, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        if streaming { return try await performStream(call, events: events) }
        let (status, body) = try await fetch(call)
        return try decodeCompletion(body, status: status, call: call)
    }

    /// One request whose whole reply is wanted, within the call's timeout.
    ///
    /// The deadline AsyncHTTPClient enforces ends with the response head. A server normally
    /// sends the status once the completion is ready and the body at once, but a body that
    /// stalls or trickles after its head held the step past its timeout (until the
    /// connection's read timeout, `Configuration.timeout`), so when the call's timeout is
    /// shorter than that read timeout (a step's `timeout`), the body is read under a
    /// watchdog: one timer on the event loop that cancels the reading child task at the
    /// deadline. Otherwise the read timeout, the same duration, already ends a stalled
    /// body a timeout after its last byte (where the watchdog would end it a timeout after
    /// sending), and the body is read in this task:
    /// the child task cost a tenth of the client's throughput (`skein-bench client`, 0.85
    /// against 0.96 of the bare loop). What that leaves unbounded is a body that trickles
    /// a byte within every read timeout, and only up to `maximumResponseBytes`.
    func fetch(_ call: Call) async throws -> (status: Int, body: ByteBuffer) {
        let deadline = NIODeadline.now() + TimeAmount(call.timeout)
        let response: HTTPClientResponse
        do {
            response = try await pool.execute(call.httpRequest, deadline: deadline, logger: nil)
        } catch {
            throw transportError(error, call: call)
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            throw try await error(for: response, call: call)
        }
        let limit = configuration.maximumResponseBytes
        guard call.timeout < configuration.timeout else {
            do {
                return (status, try await response.body.collect(upTo: limit))
            } catch {
                throw transportError(error, call: call)
            }
        }
        return (status, try await collectUnderWatchdog(response, limit: limit, deadline: deadline, call: call))
    }

    /// The body of `response`, read by a child task that a timer cancels at `deadline`.
    /// A function of its own: the `async let` reserves room for its child task in the frame
    /// of the function that declares it, and `fetch`'s frame is held by every request in flight.
    @inline(never)
    private func collectUnderWatchdog(
        _ response: HTTPClientResponse, limit: Int, deadline: NIODeadline, call: Call
    ) async throws -> ByteBuffer {
        let watchdog = BodyWatchdog()
        let timer = httpClient.eventLoopGroup.any().scheduleTask(deadline: deadline) { watchdog.fire() }
        defer { timer.cancel() }
        async let body = watchdog.run { try await response.body.collect(upTo: limit) }
        do {
            return try await body
        } catch {
            if watchdog.fired { throw ProviderError.timeout(provider: call.provider.name, after: call.timeout) }
            throw transportError(error, call: call)
        }
    }

    private func decodeCompletion(_ body: ByteBuffer, status: Int, call: Call) throws -> Completion {
        if call.provider.kind != .anthropic,
            let completion = body.withUnsafeReadableBytes({
                Completion.decodeDirectly($0.assumingMemoryBound(to: UInt8.self))
            })
        {
            return completion
        }
        guard let json = try? JSONValue(parsing: body.readableBytesView) else {
            let detail = "the reply is not JSON: \(StreamAssembler.excerpt(String(buffer: body)))"
            if call.provider.kind == .anthropic {
                throw AnthropicMessages.invalidResponse(provider: call.provider.name, status: status, detail: detail)
            }
            throw ProviderError.invalidResponse(provider: call.provider.name, status: status, detail: detail, isRetryable: true)
        }
        if call.provider.kind == .anthropic {
            guard let completion = AnthropicMessages.decode(json, attempts: 1) else {
                let fields = ErrorFields(body: body.readableBytesView)
                throw AnthropicMessages.invalidResponse(
                    provider: call.provider.name, status: status,
                    detail: ProviderError.redact(fields.message ?? "the reply has no content", apiKey: call.apiKey))
            }
            return completion
        }
        guard let completion = Completion.decode(json, attempts: 1) else {
            let fields = ErrorFields(body: body.readableBytesView)
            throw ProviderError.invalidResponse(
                provider: call.provider.name, status: status,
                detail: ProviderError.redact(fields.message ?? "the reply has no choices", apiKey: call.apiKey))
        }
        return completion
    }

    /// One streamed attempt, read as it arrives and bounded by the call's timeout.
    private func performStream(
        _ call: Call, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        try await withTimeout(call) {
            let response: HTTPClientResponse
            do {
                response = try await self.pool.execute(
                    call.httpRequest, deadline: .now() + TimeAmount(call.timeout), logger: nil)
            } catch {
                throw self.transportError(error, call: call)
            }
            let status = Int(response.status.code)
            guard (200..<300).contains(status) else {
                throw try await self.error(for: response, call: call)
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
                throw self.transportError(error, call: call)
            }
            let completion = try self.decodeCompletion(body, status: status, call: call)
            // Asked to stream, answered in one piece: still show the text as it "arrives".
            if let reasoning = completion.reasoningContent { events?(.reasoningDelta(reasoning)) }
            if !completion.content.isEmpty { events?(.contentDelta(completion.content)) }
            return completion
        }
    }

    func error(for response: HTTPClientResponse, call: Call) async throws -> ProviderError {
        // An error body is short; a proxy's HTML page need not be read to the end.
        var body = ByteBuffer()
        do {
            for try await chunk in response.body {
                var chunk = chunk
                if body.readableBytes < 64 << 10 { body.writeBuffer(&chunk) }
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
        }
        if call.provider.kind == .anthropic {
            return AnthropicMessages.error(
                provider: call.provider, status: Int(response.status.code), reasonPhrase: response.status.reasonPhrase,
                body: body.readableBytesView, retryAfter: RetryPolicy.retryAfter(in: response.headers),
                apiKey: call.apiKey)
        }
        return ProviderError.response(
            provider: call.provider, status: Int(response.status.code), reasonPhrase: response.status.reasonPhrase,
            body: body.readableBytesView, retryAfter: RetryPolicy.retryAfter(in: response.headers),
            apiKey: call.apiKey)
    }

    private func assembleStream(
        _ body: HTTPClientResponse.Body, call: Call, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion {
        if call.provider.kind == .anthropic {
            return try await assembleStream(
                body, call: call, assembler: AnthropicStreamAssembler(provider: call.provider, apiKey: call.apiKey),
                events: events)
        }
        return try await assembleStream(
            body, call: call, assembler: StreamAssembler(provider: call.provider, apiKey: call.apiKey), events: events)
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
            throw transportError(error, call: call)
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

    /// Runs one attempt, failing it with a timeout error when it takes longer than the call
    /// allows. The timer is the event loop's: cancelling it removes it, where a cancelled
    /// `Task.sleep` would keep a timer pending until its deadline.
    private func withTimeout<Value: Sendable>(
        _ call: Call, _ operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let eventLoop = httpClient.eventLoopGroup.any()
        return try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                let timer = eventLoop.scheduleTask(in: TimeAmount(call.timeout)) {}
                try await withTaskCancellationHandler {
                    try await timer.futureResult.get()
                } onCancel: {
                    timer.cancel()
                }
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else {
                throw CancellationError()
            }
            guard let value = first else {
                throw ProviderError.timeout(provider: call.provider.name, after: call.timeout)
            }
            return value
        }
    }

    /// A failure below HTTP, as a provider error; cancellation stays cancellation.
    func transportError(_ error: any Error, call: Call) -> any Error {
        if error is ProviderError || error is CancellationError { return error }
        if error is ResponseAccumulator.ResponseTooBigError || error is NIOTooManyBytesError {
            return ProviderError.invalidResponse(
                provider: call.provider.name, status: nil,
                detail: "the reply is larger than \(configuration.maximumResponseBytes) bytes")
        }
        if let error = error as? HTTPClientError {
            if error == .cancelled && Task.isCancelled { return CancellationError() }
            if error == .invalidURL || error == .emptyHost || error == .emptyScheme
                || "\(error)".contains("unsupportedScheme")
            {
                return ProviderError.invalidURL(provider: call.provider.name, url: call.url)
            }
            if error == .deadlineExceeded || error == .readTimeout || error == .writeTimeout {
                return ProviderError.timeout(provider: call.provider.name, after: call.timeout)
            }
        }
        if Task.isCancelled { return CancellationError() }
        if error is NIOSSLError || error is BoringSSLError {
            let reason = Self.describeTLSFailure(error)
            return ProviderError.tlsFailed(
                provider: call.provider.name,
                detail: ProviderError.redact("\(call.url): \(reason)", apiKey: call.apiKey),
                certificateRejected: reason.contains("CERTIFICATE_VERIFY_FAILED"))
        }
        return ProviderError.connectionFailed(
            provider: call.provider.name,
            detail: ProviderError.redact("\(call.url): \(Self.describeTransportFailure(error))", apiKey: call.apiKey))
    }

    /// SwiftNIO's words for a refused connection read "connection reset (error set):
    /// Connection refused (errno: 111)"; the common causes get plain ones.
    static func describeTransportFailure(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("Connection refused") || text.contains("errno: \(ECONNREFUSED))") {
            return "connection refused (nothing is listening at that address and port)"
        }
        if text.contains("Connection reset by peer") { return "the server closed the connection (connection reset)" }
        return text
    }

    /// BoringSSL's reasons read "error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED
    /// at /path/to/handshake.cc:320"; the reason alone (`CERTIFICATE_VERIFY_FAILED`) is what says
    /// something to a user, and the build path is noise.
    static func describeTLSFailure(_ error: any Error) -> String {
        let text = "\(error)"
        let reasons = text.split(separator: "OPENSSL_internal:").dropFirst().map { $0.prefix { $0.isUppercase || $0 == "_" || $0.isNumber } }
        let named = reasons.filter { !$0.isEmpty }
        return named.isEmpty ? text : named.joined(separator: ", ")
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// Cancels the task reading a reply's body when the call's deadline passes (`fetch`).
///
/// Holds the reading task's `UnsafeCurrentTask` only while that task runs `run`'s body,
/// under a lock that `fire` takes too, so the task is never cancelled after it has ended.
final class BodyWatchdog: @unchecked Sendable {
    private struct State: @unchecked Sendable {
        var task: UnsafeCurrentTask?
        var fired = false
    }

    private let state = Mutex(State())

    /// Whether the deadline passed (and the reading task was cancelled).
    var fired: Bool { state.withLock { $0.fired } }

    func fire() {
        state.withLock { state in
            state.fired = true
            state.task?.cancel()
        }
    }

    func run<Value>(_ body: () async throws -> Value) async throws -> Value {
        withUnsafeCurrentTask { current in
            state.withLock { state in
                state.task = current
                if state.fired { current?.cancel() }
            }
        }
        defer { state.withLock { $0.task = nil } }
        return try await body()
    }
}
