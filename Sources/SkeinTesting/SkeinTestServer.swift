import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
// Hummingbird's own dependency; needed to shut the server down gracefully (see `shutdown()`).
import ServiceLifecycle

/// An OpenAI-compatible (and Anthropic Messages API) HTTP server for tests and benchmarks:
/// deterministic replies, scripted rules, rate limits, injected faults, and a record of every
/// request.
///
/// ```swift
/// try await SkeinTestServer.withRunning(.init(requestsPerMinute: 10)) { server in
///     await server.addRule(ReplyRule(match: .init(lastUserMessageContains: "boom"), action: .status(503)))
///     let client = MyClient(baseURL: server.baseURL)      // http://127.0.0.1:PORT/v1
///     …
///     #expect(await server.maxConcurrentRequests == 4)
/// }
/// ```
///
/// Routes (each also without the `/v1` prefix): `POST /v1/chat/completions`,
/// `POST /v1/completions` (both with `stream: true` as server-sent events), `GET /v1/models`,
/// the Files and Batches endpoints under `/v1/files` and `/v1/batches` (see
/// ``BatchConfiguration``), and the Anthropic Messages API, `POST /v1/messages` (base URL
/// ``anthropicBaseURL``). Anything else is HTTP 404 with an OpenAI-shaped error body.
///
/// `/v1/messages` answers a request the way `/v1/chat/completions` answers the same
/// conversation (rules, limits, faults, the echo of the last user message, a forced tool's
/// call), in the Messages API's shapes: a `message` with `thinking`, `text` and `tool_use`
/// blocks, or the named events `message_start` … `message_stop` (see
/// ``MessagesResponseBuilder``). It wants the key in `x-api-key` (when
/// ``Configuration/requiredAPIKey`` is set), the `anthropic-version` header and `max_tokens`,
/// and answers every error as `{"type": "error", "error": {"type", "message"}}`: a rule's
/// error body is turned into that shape (``ErrorBody/anthropicType(status:)``).
///
/// How a completion request is answered, first match wins: a wrong API key (401), an unknown
/// model (404, when configured), the requests-per-minute limit (429), the first matching
/// ``ReplyRule``, a `json_schema` rejection (500, when configured), a random fault, and the
/// default reply (see ``ReplyGenerator``).
public final class SkeinTestServer: Sendable {
    public let configuration: Configuration
    /// The port the server listens on (the one the system chose when configured with 0).
    public let port: Int
    let state: ServerState
    private let connections: ConnectionLedger
    private let serviceGroup: ServiceGroup
    private let runTask: Task<Void, Never>

    /// The OpenAI base URL: `http://HOST:PORT/v1`, or `https://…` when serving TLS.
    public var baseURL: String { "\(scheme)://\(hostForURL):\(port)/v1" }

    /// The Anthropic base URL, as the Anthropic SDKs take it (they add `/v1/messages`):
    /// `http://HOST:PORT`, or `https://…` when serving TLS.
    public var anthropicBaseURL: String { "\(scheme)://\(hostForURL):\(port)" }

    private var scheme: String { configuration.tls == nil ? "http" : "https" }

    private var hostForURL: String {
        configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
    }

    private init(
        configuration: Configuration,
        port: Int,
        state: ServerState,
        connections: ConnectionLedger,
        serviceGroup: ServiceGroup,
        runTask: Task<Void, Never>
    ) {
        self.configuration = configuration
        self.port = port
        self.state = state
        self.connections = connections
        self.serviceGroup = serviceGroup
        self.runTask = runTask
    }

    /// Starts a server and returns once it is listening. Call ``shutdown()`` when done, or use
    /// ``withRunning(_:logger:isolation:_:)``.
    /// - Parameters:
    ///   - configuration: Where to listen and how to behave.
    ///   - logger: Where Hummingbird logs; by default nothing is logged.
    /// - Throws: The bind error when the address cannot be used.
    public static func start(_ configuration: Configuration = .init(), logger: Logger? = nil) async throws
        -> SkeinTestServer
    {
        let state = ServerState(configuration: configuration)
        let connections = ConnectionLedger()
        let responder = TestServerResponder(state: state, configuration: configuration, connections: connections)
        let logger = logger ?? Logger(label: "SkeinTesting", factory: { _ in SwiftLogNoOpLogHandler() })
        let (started, startedContinuation) = AsyncStream<Result<Int, any Error>>.makeStream()
        let server: HTTPServerBuilder =
            if let tls = configuration.tls {
                try .http2Upgrade(tlsConfiguration: tls.serverConfiguration())
            } else {
                .http1()
            }
        let application = Application(
            responder: responder,
            server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                backlog: configuration.backlog
            ),
            onServerRunning: { channel in
                startedContinuation.yield(.success(channel.localAddress?.port ?? configuration.port))
            },
            logger: logger
        )
        var groupConfiguration = ServiceGroupConfiguration(services: [.init(service: application)], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGracePeriod
        let serviceGroup = ServiceGroup(configuration: groupConfiguration)
        let runTask = Task {
            do {
                try await serviceGroup.run()
            } catch {
                startedContinuation.yield(.failure(error))
            }
            startedContinuation.finish()
        }
        for await result in started {
            switch result {
            case .success(let port):
                return SkeinTestServer(
                    configuration: configuration, port: port, state: state, connections: connections,
                    serviceGroup: serviceGroup, runTask: runTask
                )
            case .failure(let error):
                throw error
            }
        }
        throw SkeinTestServerError(message: "the test server stopped before it started listening")
    }

    /// Runs `body` with a started server and shuts the server down afterwards, whether `body`
    /// returns or throws.
    public static func withRunning<Result>(
        _ configuration: Configuration = .init(),
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (SkeinTestServer) async throws -> Result
    ) async throws -> Result {
        let server = try await start(configuration, logger: logger)
        do {
            let result = try await body(server)
            await server.shutdown()
            return result
        } catch {
            await server.shutdown()
            throw error
        }
    }

    /// Stops listening, lets requests in flight finish for up to
    /// ``Configuration/shutdownGracePeriod`` (hung requests end at once), cuts off the rest, and
    /// returns when the server has stopped. Calling it again does nothing.
    ///
    /// The shutdown is graceful first because cancelling a NIO server task while it has accepted
    /// connections it has not yet handed out traps ("Deinited NIOAsyncWriter without calling
    /// finish()", apple/swift-nio#2813); once the listening socket is closed, cancelling is safe.
    public func shutdown() async {
        await state.beginShutdown()
        await serviceGroup.triggerGracefulShutdown()
        await runTask.value
    }

    // MARK: - Rules

    /// Adds a rule after the existing ones.
    public func addRule(_ rule: ReplyRule) async {
        await state.addRule(rule)
    }

    /// Replaces every rule (and their counters) with `rules`.
    public func setRules(_ rules: [ReplyRule]) async {
        await state.setRules(rules)
    }

    /// Removes every rule.
    public func removeAllRules() async {
        await state.setRules([])
    }

    /// Changes ``Configuration/requestsPerMinute`` while the server runs (nil: no limit), as a
    /// provider lowering a limit mid-run would. Requests accepted within the window still count.
    public func setRequestsPerMinute(_ limit: Int?) async {
        await state.setRequestsPerMinute(limit)
    }

    // MARK: - Records

    /// Every request since the start or the last ``resetRecords()``, in arrival order.
    public var requests: [RecordedRequest] {
        get async { await state.records }
    }

    /// How many connections carried a request since the start or the last ``resetRecords()``:
    /// one per request in flight for HTTP/1.1, far fewer when a client multiplexes requests
    /// as HTTP/2 streams (with ``Configuration/tls``).
    public var connectionsUsed: Int { connections.connections }

    /// How many requests arrived as HTTP/2 streams since the start or the last ``resetRecords()``.
    public var http2Requests: Int { connections.http2Requests }

    /// The most requests in flight at once since the start or the last ``resetRecords()``.
    public var maxConcurrentRequests: Int {
        get async { await state.peakInFlight }
    }

    /// The most requests with `tag` in flight at once: tags are `model:<model>` and the
    /// configured ``Configuration/concurrencyTagMarkers`` found in a request's messages.
    public func maxConcurrentRequests(tag: String) async -> Int {
        await state.peakInFlight(tag: tag)
    }

    /// How many requests ``requests`` holds, without copying them: for a test that polls.
    public var requestCount: Int {
        get async { await state.recordCount }
    }

    /// The requests in flight now.
    public var inFlightRequests: Int {
        get async { await state.inFlight }
    }

    /// How many responses were sent with each HTTP status (dropped connections are not counted).
    public var statusCounts: [Int: Int] {
        get async { await state.statusCounts }
    }

    /// Forgets the recorded requests, status counts, peaks and connections (not the rules, nor the rate limit window).
    public func resetRecords() async {
        await state.resetRecords()
        connections.reset()
    }
}

/// An error of the test server itself (not an HTTP error it serves).
public struct SkeinTestServerError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
