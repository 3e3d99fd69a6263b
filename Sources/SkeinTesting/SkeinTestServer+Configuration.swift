extension SkeinTestServer {
    /// How a test server listens, paces and limits its replies, and which faults it injects.
    ///
    /// Every random choice (latency within a range, which request gets a fault) comes from one
    /// generator seeded with ``seed``, drawn in arrival order, so a run with one client in flight
    /// is reproducible.
    public struct Configuration: Sendable {
        /// The address to bind; tests and benchmarks keep the default loopback address.
        public var host: String
        /// The port to bind; `0` asks the system for a free one (see ``SkeinTestServer/port``).
        public var port: Int
        /// The time the server "thinks" before a reply: before the response of a non-stream
        /// request, before the first event of a stream.
        public var latency: Latency
        /// The pause between two events of a stream.
        public var tokenInterval: Duration
        /// The most completion requests accepted within ``rateLimitWindow``; more get HTTP 429
        /// with `Retry-After`. `nil` means no limit.
        public var requestsPerMinute: Int?
        /// The sliding window ``requestsPerMinute`` counts over; tests shorten it to watch a limit recover.
        public var rateLimitWindow: Duration
        /// The models `GET /v1/models` lists; the first is the reply's `model` when a request names none.
        public var modelIDs: [String]
        /// Prices `GET /v1/models` lists, by model id, in the shape of a provider whose list
        /// carries them (see ``ListedPrice``); models without one are listed without a price.
        public var modelPrices: [String: ListedPrice]
        /// Answer a model missing from ``modelIDs`` with HTTP 404 `model_not_found`.
        public var rejectsUnknownModels: Bool
        /// Answer `response_format: {type: json_schema}` with HTTP 500 and the message
        /// llama-cpp-python's server gives ("Input should be 'text' or 'json_object'").
        public var rejectsJSONSchema: Bool
        /// When set, requests must carry `Authorization: Bearer <key>` (`x-api-key: <key>` for
        /// `/v1/messages`); others get HTTP 401.
        public var requiredAPIKey: String?
        /// Cut default text replies to `max_tokens` words (finish reason `length`). Off by default,
        /// so that an echo always carries the whole prompt.
        public var honorsMaxTokens: Bool
        /// Send the usage chunk a stream asks for with `stream_options.include_usage`. Off, the
        /// server behaves like llama-cpp-python's, whose streams never carry usage.
        public var sendsStreamUsage: Bool
        /// Random faults injected into completion requests that no rule answered.
        public var faults: FaultConfiguration
        /// Seed of the generator behind latency ranges and faults.
        public var seed: UInt64
        /// Keep each request's body bytes and parsed JSON in ``SkeinTestServer/requests``.
        /// Benchmarks turn this off; timings, status and tags are still recorded.
        public var recordsBodies: Bool
        /// Keep a ``RecordedRequest`` for each request at all. A long-running server turns this
        /// off so memory stays flat; peaks, in-flight and status counts are still kept.
        public var recordsRequests: Bool
        /// Substrings that tag a request when found in its messages or prompt; peak concurrency
        /// is tracked per tag (``SkeinTestServer/maxConcurrentRequests(tag:)``). Every completion
        /// request is also tagged `model:<model>`.
        public var concurrencyTagMarkers: [String]
        /// The largest request body accepted; larger ones get HTTP 413.
        public var maxBodySize: Int
        /// The listen backlog; large so that thousands of connections opened at once are not refused.
        public var backlog: Int
        /// How long ``SkeinTestServer/shutdown()`` lets requests in flight finish before it cuts them off.
        /// 5 s by default: the cut-off cancels the server task, which traps if the listener is still
        /// handing out accepted connections (apple/swift-nio#2813), and on a loaded machine the
        /// graceful close took longer than the earlier 500 ms. Hung requests end at once anyway.
        public var shutdownGracePeriod: Duration
        /// How the Files and Batches endpoints behave: processing delays, limits, dialect.
        public var batches: BatchConfiguration
        /// Serve HTTPS with this certificate, HTTP/2 or HTTP/1.1 by ALPN (see ``TestServerTLS``);
        /// `nil`, the default, serves plain HTTP/1.1.
        public var tls: TestServerTLS?

        /// Creates a configuration; every parameter has the default a unit test wants.
        public init(
            host: String = "127.0.0.1",
            port: Int = 0,
            latency: Latency = .none,
            tokenInterval: Duration = .zero,
            requestsPerMinute: Int? = nil,
            rateLimitWindow: Duration = .seconds(60),
            modelIDs: [String] = ["test-model"],
            modelPrices: [String: ListedPrice] = [:],
            rejectsUnknownModels: Bool = false,
            rejectsJSONSchema: Bool = false,
            requiredAPIKey: String? = nil,
            honorsMaxTokens: Bool = false,
            sendsStreamUsage: Bool = true,
            faults: FaultConfiguration = .init(),
            seed: UInt64 = 0,
            recordsBodies: Bool = true,
            recordsRequests: Bool = true,
            concurrencyTagMarkers: [String] = [],
            maxBodySize: Int = 32 * 1024 * 1024,
            backlog: Int = 4096,
            shutdownGracePeriod: Duration = .seconds(5),
            batches: BatchConfiguration = .init(),
            tls: TestServerTLS? = nil
        ) {
            self.host = host
            self.port = port
            self.latency = latency
            self.tokenInterval = tokenInterval
            self.requestsPerMinute = requestsPerMinute
            self.rateLimitWindow = rateLimitWindow
            self.modelIDs = modelIDs
            self.modelPrices = modelPrices
            self.rejectsUnknownModels = rejectsUnknownModels
            self.rejectsJSONSchema = rejectsJSONSchema
            self.requiredAPIKey = requiredAPIKey
            self.honorsMaxTokens = honorsMaxTokens
            self.sendsStreamUsage = sendsStreamUsage
            self.faults = faults
            self.seed = seed
            self.recordsBodies = recordsBodies
            self.recordsRequests = recordsRequests
            self.concurrencyTagMarkers = concurrencyTagMarkers
            self.maxBodySize = maxBodySize
            self.backlog = backlog
            self.shutdownGracePeriod = shutdownGracePeriod
            self.batches = batches
            self.tls = tls
        }
    }

    /// A model's price as a provider's model list carries it, in USD per million tokens.
    public struct ListedPrice: Sendable, Equatable {
        /// The fields a provider's list uses.
        public enum Style: Sendable, Equatable {
            /// Novita: `input_token_price_per_m` / `output_token_price_per_m`, integers in 0.0001 USD per million tokens.
            case novita
            /// OpenRouter: `pricing: {prompt, completion}`, strings in USD per token.
            case openRouter
        }

        public var inputPerMillion: Double
        public var outputPerMillion: Double
        public var style: Style

        public init(inputPerMillion: Double, outputPerMillion: Double, style: Style = .novita) {
            self.inputPerMillion = inputPerMillion
            self.outputPerMillion = outputPerMillion
            self.style = style
        }

        /// The entry's price fields.
        var fields: [String: TestJSON] {
            switch style {
            case .novita:
                return ["input_token_price_per_m": .int(Int((inputPerMillion * 10_000).rounded())),
                        "output_token_price_per_m": .int(Int((outputPerMillion * 10_000).rounded()))]
            case .openRouter:
                return ["pricing": .object(["prompt": .string("\(inputPerMillion / 1_000_000)"),
                                            "completion": .string("\(outputPerMillion / 1_000_000)")])]
            }
        }
    }

    /// How long the server waits before it replies.
    public enum Latency: Sendable, Equatable {
        case none
        case fixed(Duration)
        /// A duration drawn uniformly from `min...max` for each request.
        case uniform(min: Duration, max: Duration)
    }

    /// Rates (0...1) of faults injected at random into completion requests that no rule answered.
    ///
    /// One draw per request picks at most one fault; the rates are checked in the order of the
    /// properties below and should add up to at most 1.
    public struct FaultConfiguration: Sendable, Equatable {
        /// HTTP 500 with an OpenAI-shaped `server_error` body.
        public var serverErrorRate: Double
        /// HTTP 429 with `Retry-After: <retryAfter in whole seconds>`.
        public var rateLimitRate: Double
        /// HTTP 429 with no `Retry-After` header.
        public var rateLimitWithoutRetryAfterRate: Double
        /// A stream drops its connection after the first content event; a non-stream request
        /// has its connection closed with no response at all.
        public var dropRate: Double
        /// HTTP 200 with a truncated JSON body, or a stream event whose data is not JSON.
        public var malformedRate: Double
        /// No answer: the request hangs for ``hangDuration`` (or until the server shuts down),
        /// for client timeouts to fire.
        public var timeoutRate: Double
        /// The `Retry-After` the rate-limit fault sends.
        public var retryAfter: Duration
        /// How long a timeout fault holds the request.
        public var hangDuration: Duration
        /// Draw faults only for the first request with a given body: a retry of it (the same
        /// bytes) gets the default reply. How a busy provider that sheds load looks to a
        /// client that retries: its share of failures does not depend on the client's rate.
        public var firstAttemptsOnly: Bool

        public init(
            serverErrorRate: Double = 0,
            rateLimitRate: Double = 0,
            rateLimitWithoutRetryAfterRate: Double = 0,
            dropRate: Double = 0,
            malformedRate: Double = 0,
            timeoutRate: Double = 0,
            retryAfter: Duration = .seconds(1),
            hangDuration: Duration = .seconds(300),
            firstAttemptsOnly: Bool = false
        ) {
            self.serverErrorRate = serverErrorRate
            self.rateLimitRate = rateLimitRate
            self.rateLimitWithoutRetryAfterRate = rateLimitWithoutRetryAfterRate
            self.dropRate = dropRate
            self.malformedRate = malformedRate
            self.timeoutRate = timeoutRate
            self.retryAfter = retryAfter
            self.hangDuration = hangDuration
            self.firstAttemptsOnly = firstAttemptsOnly
        }

        /// Whether any fault can happen at all.
        public var isEnabled: Bool {
            serverErrorRate + rateLimitRate + rateLimitWithoutRetryAfterRate + dropRate + malformedRate + timeoutRate
                > 0
        }
    }
}
