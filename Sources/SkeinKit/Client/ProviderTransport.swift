import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// What every request to a provider goes through, whatever its wire format and whether it
/// is a live completion or a Batch API call: the API key, the base-URL check, the
/// connection pools, the rate limits, retries with backoff, timeouts and the mapping of
/// transport failures to `ProviderError`s.
///
/// The provider's `ProviderDialect` supplies the headers and reads error bodies; what a reply
/// means is the caller's (`HTTPCompletionClient` for completions, `BatchClient` for files and
/// batches). One transport per client; every pool it owns is used, so batch traffic follows
/// the same pool layout as live requests.
final class ProviderTransport: Sendable {
    let configuration: HTTPCompletionClient.Configuration
    /// The pools requests are spread over; see `HTTPCompletionClient.shardSize`.
    private let shards: [HTTPClient]
    private let nextShard = Atomic<Int>(0)
    private let environment: [String: String]
    let logger: Logger?
    let clock: ClientClock
    private let random: @Sendable () -> Double
    let limiters: RateLimiters
    private let checkedBaseURLs = Mutex<Set<String>>([])

    init(
        configuration: HTTPCompletionClient.Configuration, environment: [String: String], logger: Logger?,
        clock: ClientClock, random: @escaping @Sendable () -> Double
    ) {
        self.configuration = configuration
        self.environment = environment
        self.logger = logger
        self.clock = clock
        self.random = random
        self.limiters = RateLimiters(now: clock.now)
        var http = HTTPClient.Configuration()
        let layout = HTTPCompletionClient.poolLayout(connections: configuration.connectionsPerHost)
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

    /// How many AsyncHTTPClient pools the connections are spread over.
    var poolCount: Int { shards.count }

    /// The pool for the next request.
    private var pool: HTTPClient {
        if shards.count == 1 { return shards[0] }
        return shards[nextShard.wrappingAdd(1, ordering: .relaxed).oldValue % shards.count]
    }

    /// The event loops the pools run on (for timers that must not outlive a request).
    var eventLoopGroup: any EventLoopGroup { shards[0].eventLoopGroup }

    /// Closes the connections. The transport cannot be used afterwards.
    func shutdown() async throws {
        var failure: (any Error)?
        for shard in shards {
            do { try await shard.shutdown() } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }

    /// Sends a request on the next pool; the response's body is the caller's to read.
    func execute(_ call: Call, deadline: NIODeadline) async throws -> HTTPClientResponse {
        do {
            return try await pool.execute(call.httpRequest, deadline: deadline, logger: nil)
        } catch {
            throw transportError(error, call: call)
        }
    }

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
        if let caFile = provider.caFile { try TrustedCertificates.check(caFile: caFile, provider: provider.name) }
        checkedBaseURLs.withLock { _ = $0.insert(provider.baseURL) }
    }

    func headers(for provider: ProviderConfiguration, apiKey: String?, streaming: Bool) -> HTTPHeaders {
        provider.dialect.headers(for: provider, apiKey: apiKey, streaming: streaming, userAgent: configuration.userAgent)
    }

    /// The shortest wait for the limiter that is reported as the provider throttling the run:
    /// pacing that holds each request back for less is not worth a line of progress.
    static let noticeableWait = 0.2

    /// Sleeps until the permit's start, and again if the limiter moved it meanwhile.
    func waitForStart(
        of permit: inout RateLimiter.Permit, limiter: RateLimiter, events: (@Sendable (ClientEvent) -> Void)?
    ) async throws {
        var now = clock.now().inSeconds
        if permit.start - permit.askedAt > 0.001 || now - permit.askedAt > 0.001 {
            events?(.throttled(delay: .seconds(max(permit.start, now) - permit.askedAt)))
            if let events, permit.start - now >= Self.noticeableWait {
                events(.providerThrottled(await limiter.throttle(wait: .seconds(permit.start - now))))
            }
        }
        while permit.start > now {
            try await clock.sleep(.seconds(permit.start - now))
            guard let renewed = await limiter.revalidate(permit) else { return }
            permit = renewed
            now = clock.now().inSeconds
        }
    }

    /// Runs `operation` until it succeeds, fails for good, or the policy says stop.
    /// - Parameter provider: whose `rate_limit_patience` bounds the retries of 429s and 503s.
    func withRetries<Value: Sendable>(
        policy: RetryPolicy, provider: ProviderConfiguration, metadata: Logger.Metadata,
        events: (@Sendable (ClientEvent) -> Void)?, operation: (Int) async throws -> Value
    ) async throws -> Value {
        var attempt = 1
        var backPressure = 0
        let started = clock.now()
        let patience = provider.rateLimitPatience ?? ProviderConfiguration.defaultRateLimitPatience
        while true {
            do {
                if logger != nil { log(.debug, "sending", metadata: metadata, attempt: attempt) }
                return try await operation(attempt)
            } catch var error as ProviderError {
                if error.isBackPressure { backPressure += 1 }
                let elapsed = clock.now() - started
                guard
                    let delay = policy.delay(
                        beforeRetry: attempt, after: error, random: random(), elapsed: elapsed, patience: patience)
                else {
                    if logger != nil { log(.debug, "failed: \(error)", metadata: metadata, attempt: attempt) }
                    error.attempts = attempt
                    if policy.isOutOfPatience(after: error) {
                        error.spentPatience(provider: provider.name, answers: backPressure, waited: elapsed, patience: patience)
                    }
                    throw error
                }
                if logger != nil {
                    log(.notice, "retrying in \(ProviderError.seconds(delay)): \(error)", metadata: metadata, attempt: attempt)
                }
                Self.send(.retrying(attempt: attempt, delay: delay, error: error), to: events)
                if let events, error.isBackPressure {
                    events(.providerThrottled(await limiters.limiter(for: provider).throttle(wait: delay)))
                }
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
        let timer = eventLoopGroup.any().scheduleTask(deadline: deadline) { watchdog.fire() }
        defer { timer.cancel() }
        async let body = watchdog.run { try await response.body.collect(upTo: limit) }
        do {
            return try await body
        } catch {
            if watchdog.fired { throw ProviderError.timeout(provider: call.provider.name, after: call.timeout) }
            throw transportError(error, call: call)
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
        return call.provider.dialect.error(
            provider: call.provider, status: Int(response.status.code), reasonPhrase: response.status.reasonPhrase,
            body: body.readableBytesView, retryAfter: RetryPolicy.retryAfter(in: response.headers), apiKey: call.apiKey)
    }

    /// Runs one attempt, failing it with a timeout error when it takes longer than the call
    /// allows. The timer is the event loop's: cancelling it removes it, where a cancelled
    /// `Task.sleep` would keep a timer pending until its deadline.
    func withTimeout<Value: Sendable>(
        _ call: Call, _ operation: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        let eventLoop = eventLoopGroup.any()
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
