import ArgumentParser
import Dispatch
import SkeinTesting

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs the OpenAI-compatible test server until SIGINT or SIGTERM.
struct SkeinTestServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skein-test-server",
        abstract: "An OpenAI-compatible test server with deterministic replies and fault injection.",
        discussion: """
            Prints `listening on http://HOST:PORT/v1` as its first line, then serves
            POST /v1/chat/completions, POST /v1/completions, GET /v1/models, the
            Files and Batches endpoints (/v1/files, /v1/batches) and the Anthropic
            Messages API (POST /v1/messages) until SIGINT or SIGTERM.
            The default reply echoes the last user message: "echo: <message>".
            A batch line gets the reply a live request with the same body would get.
            """
    )

    @Option(help: "The address to bind.")
    var host = "127.0.0.1"

    @Option(help: "The port to bind; 0 picks a free one.")
    var port = 0

    @Option(name: .customLong("latency-ms"), help: "A fixed latency before each reply, in milliseconds.")
    var latencyMilliseconds: Int?

    @Option(name: .customLong("latency-ms-min"), help: "The least latency of a uniform range, in milliseconds.")
    var latencyMinimumMilliseconds: Int?

    @Option(name: .customLong("latency-ms-max"), help: "The most latency of a uniform range, in milliseconds.")
    var latencyMaximumMilliseconds: Int?

    @Option(name: .customLong("token-interval-ms"), help: "The pause between stream events, in milliseconds.")
    var tokenIntervalMilliseconds = 0

    @Option(name: .customLong("rpm"), help: "Requests accepted per minute; more get HTTP 429.")
    var requestsPerMinute: Int?

    @Option(name: .customLong("model"), help: "A model id to list (repeatable; default test-model).")
    var models: [String] = []

    @Option(
        name: .customLong("api-key"), help: "Require `Authorization: Bearer <key>` (`x-api-key` for /v1/messages).")
    var apiKey: String?

    @Flag(
        name: .customLong("reject-json-schema"),
        help: "Answer json_schema response formats with HTTP 500, as llama-cpp-python does.")
    var rejectsJSONSchema = false

    @Flag(name: .customLong("honor-max-tokens"), help: "Cut default replies to max_tokens words.")
    var honorsMaxTokens = false

    @Option(name: .customLong("fault-rate-500"), help: "Share of requests answered with HTTP 500.")
    var serverErrorRate = 0.0

    @Option(name: .customLong("fault-rate-429"), help: "Share of requests answered with HTTP 429 and Retry-After.")
    var rateLimitRate = 0.0

    @Option(
        name: .customLong("fault-rate-429-no-retry-after"),
        help: "Share of requests answered with HTTP 429 without Retry-After.")
    var rateLimitWithoutRetryAfterRate = 0.0

    @Option(name: .customLong("fault-rate-drop"), help: "Share of requests whose connection is dropped.")
    var dropRate = 0.0

    @Option(name: .customLong("fault-rate-malformed"), help: "Share of requests answered with a malformed body.")
    var malformedRate = 0.0

    @Option(
        name: .customLong("fault-rate-timeout"), help: "Share of requests never answered (held for --hang-seconds).")
    var timeoutRate = 0.0

    @Option(name: .customLong("hang-seconds"), help: "How long a timeout fault holds a request.")
    var hangSeconds = 300

    @Option(help: "Seed for latency ranges and faults.")
    var seed: UInt64 = 0

    @Option(
        name: .customLong("batch-processing-ms"),
        help: "How long a batch stays in_progress (its lines are answered evenly over it), in milliseconds.")
    var batchProcessingMilliseconds = 0

    @Option(name: .customLong("batch-validation-ms"), help: "How long a new batch stays validating, in milliseconds.")
    var batchValidationMilliseconds = 0

    @Option(
        name: .customLong("batch-cancellation-ms"),
        help: "How long a cancelled batch stays cancelling, in milliseconds.")
    var batchCancellationMilliseconds = 0

    @Option(name: .customLong("batch-dialect"), help: "The shape of batch objects: openai or novita.")
    var batchDialect = "openai"

    @Flag(
        name: .customLong("batch-allow-mixed-models"),
        help: "Accept batch input files whose lines name several models (Novita refuses them).")
    var batchAllowsMixedModels = false

    @Option(
        name: .customLong("tls-certificate-out"),
        help: ArgumentHelp(
            "Serve HTTPS (HTTP/2 or HTTP/1.1 by ALPN) with a new self-signed certificate, written to this PEM file.",
            discussion: "Trust it from a pipeline with the provider's ca_file."))
    var tlsCertificateOut: String?

    func validate() throws {
        if (latencyMinimumMilliseconds == nil) != (latencyMaximumMilliseconds == nil) {
            throw ValidationError("--latency-ms-min and --latency-ms-max go together.")
        }
        if latencyMilliseconds != nil && latencyMinimumMilliseconds != nil {
            throw ValidationError("Use either --latency-ms or --latency-ms-min/--latency-ms-max.")
        }
        let rates = [
            serverErrorRate, rateLimitRate, rateLimitWithoutRetryAfterRate, dropRate, malformedRate, timeoutRate,
        ]
        if rates.contains(where: { $0 < 0 || $0 > 1 }) || rates.reduce(0, +) > 1 {
            throw ValidationError("Fault rates must be between 0 and 1 and add up to at most 1.")
        }
        if SkeinTestServer.BatchConfiguration.Dialect(rawValue: batchDialect) == nil {
            throw ValidationError("--batch-dialect must be openai or novita.")
        }
        if [batchProcessingMilliseconds, batchValidationMilliseconds, batchCancellationMilliseconds].contains(where: {
            $0 < 0
        }) {
            throw ValidationError("Batch delays cannot be negative.")
        }
    }

    var latency: SkeinTestServer.Latency {
        if let latencyMilliseconds { return .fixed(.milliseconds(latencyMilliseconds)) }
        if let minimum = latencyMinimumMilliseconds, let maximum = latencyMaximumMilliseconds {
            return .uniform(min: .milliseconds(minimum), max: .milliseconds(maximum))
        }
        return .none
    }

    func run() async throws {
        var configuration = SkeinTestServer.Configuration(
            host: host,
            port: port,
            latency: latency,
            tokenInterval: .milliseconds(tokenIntervalMilliseconds),
            requestsPerMinute: requestsPerMinute,
            modelIDs: models.isEmpty ? ["test-model"] : models,
            rejectsJSONSchema: rejectsJSONSchema,
            requiredAPIKey: apiKey,
            honorsMaxTokens: honorsMaxTokens,
            faults: .init(
                serverErrorRate: serverErrorRate,
                rateLimitRate: rateLimitRate,
                rateLimitWithoutRetryAfterRate: rateLimitWithoutRetryAfterRate,
                dropRate: dropRate,
                malformedRate: malformedRate,
                timeoutRate: timeoutRate,
                hangDuration: .seconds(hangSeconds)
            ),
            seed: seed,
            recordsBodies: false,
            recordsRequests: false,
            batches: .init(
                validationDelay: .milliseconds(batchValidationMilliseconds),
                processingDelay: .milliseconds(batchProcessingMilliseconds),
                cancellationDelay: .milliseconds(batchCancellationMilliseconds),
                requiresOneModel: !batchAllowsMixedModels,
                dialect: SkeinTestServer.BatchConfiguration.Dialect(rawValue: batchDialect) ?? .openAI
            )
        )
        if let tlsCertificateOut {
            configuration.tls = try TestServerTLS.selfSigned(certificateFile: tlsCertificateOut)
        }
        let signals = Self.terminationSignals()
        let server = try await SkeinTestServer.start(configuration)
        print("listening on \(server.baseURL)")
        fflush(nil)  // all streams: `stdout` itself is not concurrency-safe to name
        for await _ in signals { break }
        await server.shutdown()
    }

    /// SIGINT and SIGTERM as an async sequence (their default actions are turned off).
    static func terminationSignals() -> AsyncStream<Int32> {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { continuation.yield(signalNumber) }
            source.resume()
            SignalSources.keepAlive(source)
        }
        return stream
    }
}

/// Keeps the signal sources alive for the life of the process.
enum SignalSources {
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// Called only from `terminationSignals()`, before the server starts, on one task.
    static func keepAlive(_ source: any DispatchSourceSignal) {
        sources.append(source)
    }
}

/// Runs the command. In top-level code the synchronous `main()` overload wins; inside an
/// async function the asynchronous one does.
func runCommand() async {
    await SkeinTestServerCommand.main()
}

await runCommand()
