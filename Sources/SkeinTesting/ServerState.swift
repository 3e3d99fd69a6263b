/// The test server's shared mutable state: rules and their counters, the rate limiter, the
/// seeded generator and the request record. Handlers visit it twice per request (admit, finish).
actor ServerState {
    struct Decision: Sendable {
        let id: Int
        let action: ReplyRule.Action
        /// Time to wait before acting: latency plus the rule's delay.
        let delay: Duration
    }

    private struct RuleState {
        var rule: ReplyRule
        var matchCount = 0
        var fireCount = 0
    }

    let configuration: SkeinTestServer.Configuration
    private var rules: [RuleState] = []
    private var recorder: RequestRecorder
    private var rateLimiter: SlidingWindowRateLimiter?
    private var random: SeededRandomNumberGenerator
    /// Hashes of the completion bodies seen, for ``SkeinTestServer/FaultConfiguration/firstAttemptsOnly``.
    private var seenBodies: Set<Int> = []
    /// Files and batches of the Files and Batches endpoints (see `ServerState+Batches.swift`).
    var batchStore: BatchStore

    init(configuration: SkeinTestServer.Configuration) {
        self.configuration = configuration
        rateLimiter = configuration.requestsPerMinute.map {
            SlidingWindowRateLimiter(limit: $0, window: configuration.rateLimitWindow)
        }
        random = SeededRandomNumberGenerator(seed: configuration.seed)
        recorder = RequestRecorder(keepsRecords: configuration.recordsRequests)
        batchStore = BatchStore(configuration: configuration.batches)
    }

    // MARK: - Requests

    /// Records a request that is not a completion (models, unknown routes, bad bodies).
    func record(
        method: String,
        path: String,
        headers: [String: String],
        body: [UInt8]?,
        arrival: ContinuousClock.Instant,
        handling: RecordedRequest.Handling
    ) -> Int {
        recorder.begin(
            method: method, path: path, headers: headers, body: configuration.recordsBodies ? body : nil,
            json: nil, model: nil, isStream: false, tags: [], arrival: arrival, handling: handling
        )
    }

    /// Records a completion request and decides how to answer it.
    func admit(
        _ request: ParsedCompletionRequest,
        method: String,
        path: String,
        headers: [String: String],
        body: [UInt8],
        isAuthorized: Bool,
        arrival: ContinuousClock.Instant
    ) -> Decision {
        let records = configuration.recordsBodies
        let id = recorder.begin(
            method: method, path: path, headers: headers, body: records ? body : nil,
            json: records ? request.body : nil, model: request.model, isStream: request.isStream,
            tags: tags(of: request), arrival: arrival, handling: .defaultReply
        )
        var isRepeat = false
        if configuration.faults.firstAttemptsOnly {
            var hasher = Hasher()
            body.withUnsafeBytes { hasher.combine(bytes: $0) }
            isRepeat = !seenBodies.insert(hasher.finalize()).inserted
        }
        let verdict = decide(request, isAuthorized: isAuthorized, arrival: arrival, limitsRate: true, drawsFaults: !isRepeat)
        if verdict.handling != .defaultReply { recorder.setHandling(verdict.handling, id: id) }
        return Decision(id: id, action: verdict.action, delay: verdict.delay)
    }

    /// How to answer a completion request, first match wins: a wrong key, an unknown model, the
    /// rate limit (when `limitsRate`), a rule, a `json_schema` rejection, a random fault, the
    /// default reply. Rules count the request and faults draw from the generator either way;
    /// batch lines come through here too (without the rate limit), so they get the same answers.
    func decide(
        _ request: ParsedCompletionRequest,
        isAuthorized: Bool,
        arrival: ContinuousClock.Instant,
        limitsRate: Bool,
        drawsFaults: Bool = true
    ) -> (handling: RecordedRequest.Handling, action: ReplyRule.Action, delay: Duration) {
        guard isAuthorized else {
            return (.unauthorized, .status(401, message: "Incorrect API key provided"), .zero)
        }
        if configuration.rejectsUnknownModels, let model = request.model, !configuration.modelIDs.contains(model) {
            return (
                .unknownModel, .status(404, message: "The model `\(model)` does not exist", code: "MODEL_NOT_FOUND"),
                .zero
            )
        }
        if limitsRate, case .reject(let retryAfter)? = rateLimiter?.admit(at: arrival) {
            return (.rateLimited, .rateLimited(retryAfter: .seconds(Self.wholeSeconds(retryAfter))), .zero)
        }
        if let rule = firstFiringRule(for: request) {
            return (.rule(rule.name), rule.action, drawLatency() + rule.delay)
        }
        if configuration.rejectsJSONSchema, case .jsonSchema = request.responseFormat {
            return (.jsonSchemaRejected, Self.llamaJSONSchemaRejection, .zero)
        }
        if configuration.faults.isEnabled, drawsFaults, let (fault, action) = drawFault() {
            return (.fault(fault), action, drawLatency())
        }
        return (.defaultReply, .reply(Reply()), drawLatency())
    }

    /// Changes the rate limit while the server runs; the requests already accepted stay in
    /// the window and count against the new limit, as a provider lowering a limit would count them.
    func setRequestsPerMinute(_ limit: Int?) {
        guard let limit else {
            rateLimiter = nil
            return
        }
        if rateLimiter == nil {
            rateLimiter = SlidingWindowRateLimiter(limit: limit, window: configuration.rateLimitWindow)
        } else {
            rateLimiter?.limit = max(limit, 0)
        }
    }

    /// Set once ``SkeinTestServer/shutdown()`` begins; hung requests end when they see it.
    private(set) var isShuttingDown = false

    func beginShutdown() {
        isShuttingDown = true
    }

    func finish(id: Int, status: Int?, wasDropped: Bool = false) {
        recorder.finish(id: id, status: status, wasDropped: wasDropped, at: .now)
    }

    // MARK: - Rules

    func addRule(_ rule: ReplyRule) {
        rules.append(RuleState(rule: rule))
    }

    func setRules(_ newRules: [ReplyRule]) {
        rules = newRules.map { RuleState(rule: $0) }
    }

    /// Every rule meeting its conditions counts the request (for `nth`); the first that may fire, fires.
    private func firstFiringRule(for request: ParsedCompletionRequest) -> ReplyRule? {
        var chosen: ReplyRule?
        for index in rules.indices where Self.matches(rules[index].rule.match, request) {
            rules[index].matchCount += 1
            guard chosen == nil else { continue }
            let state = rules[index]
            if let nth = state.rule.match.nth, state.matchCount != nth { continue }
            if let times = state.rule.times, state.fireCount >= times { continue }
            rules[index].fireCount += 1
            chosen = state.rule
        }
        return chosen
    }

    static func matches(_ match: ReplyRule.Match, _ request: ParsedCompletionRequest) -> Bool {
        if let endpoint = match.endpoint, endpoint != request.endpoint { return false }
        if let model = match.model, model != request.model { return false }
        if let isStream = match.isStream, isStream != request.isStream { return false }
        if let text = match.lastUserMessageContains, !request.lastUserMessage.contains(text) { return false }
        if let text = match.anyMessageContains, !request.messageTexts.contains(where: { $0.contains(text) }) {
            return false
        }
        return true
    }

    // MARK: - Randomness

    private func unitRandom() -> Double {
        Double(random.next() >> 11) * 0x1p-53
    }

    private func drawLatency() -> Duration {
        switch configuration.latency {
        case .none: return .zero
        case .fixed(let duration): return duration
        case .uniform(let minimum, let maximum):
            guard maximum > minimum else { return minimum }
            return minimum + (maximum - minimum) * unitRandom()
        }
    }

    private func drawFault() -> (RecordedRequest.Fault, ReplyRule.Action)? {
        let faults = configuration.faults
        var draw = unitRandom()
        let choices: [(Double, RecordedRequest.Fault, ReplyRule.Action)] = [
            (faults.serverErrorRate, .serverError, .status(500, message: "Injected server error")),
            (
                faults.rateLimitRate, .rateLimit,
                .rateLimited(retryAfter: .seconds(Self.wholeSeconds(faults.retryAfter)))
            ),
            (faults.rateLimitWithoutRetryAfterRate, .rateLimitWithoutRetryAfter, .rateLimited(retryAfter: .none)),
            (faults.dropRate, .drop, .dropConnection(afterChunks: 2)),
            (faults.malformedRate, .malformed, .malformedBody),
            (faults.timeoutRate, .timeout, .hang(faults.hangDuration)),
        ]
        for (rate, fault, action) in choices {
            if draw < rate { return (fault, action) }
            draw -= rate
        }
        return nil
    }

    // MARK: - Helpers

    private func tags(of request: ParsedCompletionRequest) -> [String] {
        var tags: [String] = []
        if let model = request.model { tags.append("model:\(model)") }
        for marker in configuration.concurrencyTagMarkers
        where request.messageTexts.contains(where: { $0.contains(marker) }) {
            tags.append(marker)
        }
        return tags
    }

    /// A `Retry-After` in whole seconds, rounded up, at least 1.
    static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }

    /// What llama-cpp-python's server answers to `response_format: {type: json_schema}`: its
    /// pydantic validation error, as HTTP 500.
    static let llamaJSONSchemaRejection: ReplyRule.Action = {
        let message =
            "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
            + "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
            + "'ctx': {'expected': \"'text' or 'json_object'\"}}]"
        let body: TestJSON = [
            "error": ["message": .string(message), "type": "internal_server_error", "param": nil, "code": nil]
        ]
        return .raw(status: 500, body: body.serialized, contentType: "application/json")
    }()

    // MARK: - Queries

    var records: [RecordedRequest] { recorder.records }
    var recordCount: Int { recorder.records.count }
    var peakInFlight: Int { recorder.peakInFlight }
    var inFlight: Int { recorder.inFlight }
    var statusCounts: [Int: Int] { recorder.statusCounts }
    func peakInFlight(tag: String) -> Int { recorder.peakInFlightByTag[tag] ?? 0 }
    func resetRecords() {
        recorder.reset()
        batchStore.resetCounters()
    }
}
