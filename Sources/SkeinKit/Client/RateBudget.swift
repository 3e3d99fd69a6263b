/// When a provider's next request may start, by its requests-per-minute and
/// tokens-per-minute budgets, and how the request rate adapts to 429s.
///
/// A value type with no clock of its own (times are seconds on the limiter's clock), so
/// tests drive it directly. Pacing is the generic cell rate algorithm, a token bucket
/// kept as one "theoretical arrival time": each reservation moves it on by its cost over
/// the rate, and a request may start once that time has come. Requests are thus spread
/// evenly over the minute instead of spending the minute's budget at once.
///
/// Requests get no burst, and a configured `requests_per_minute` is paced at `headroom`
/// of itself. Providers count over sliding windows, often shorter than a minute; any
/// burst is spent on top of a full window's worth, and requests sent exactly at the limit
/// leave no room for the network's and the machine's jitter, which brings sends closer
/// together than they were scheduled. Both made 429s: against 200 in any 20 seconds, a
/// burst of 4 at 600 a minute gave 3 or more every run, and a loaded CI machine 12 in 312.
///
/// After a 429 the request rate halves (once per round of requests, not once per 429:
/// requests already in flight when the rate dropped say nothing new) and, when the
/// response said how long to wait, nothing starts until then. Each success then adds a
/// step back (a fiftieth of the rate per success with a configured rate, a tenth without),
/// up to the paced rate. A provider with no configured rate runs
/// unpaced until its first 429, then starts from half the rate it was observed sending at
/// and is unpaced again once it climbs back there.
///
/// A decrease is kept only while it helps. A provider that sheds load answers a share of
/// requests 429 whatever the client's rate; halving then changes nothing but the throughput,
/// and halving on every round collapsed a run to a request every few seconds (issue 21).
/// So each round (the requests sent between two decreases) keeps its 429 share and its
/// successes per second, and when a round after a decrease has neither a lower 429 share
/// (less than a quarter lower) nor the same throughput (its successes fell with the rate),
/// the 429s are load shedding, not a limit: the decrease is undone and 429s stop moving
/// the rate (each request's own backoff and `Retry-After` carry it), until the share rises
/// well above what it was. Under a real limit the throughput holds at the limit as the
/// rate falls (or the share falls), so the decreases go on as TCP's do: one per round.
/// A round with at least 90% 429s (a provider's window spent) always decreases.
struct RateBudget: Sendable {
    struct Limits: Sendable, Hashable {
        var requestsPerMinute: Int?
        var tokensPerMinute: Int?
    }

    private(set) var limits: Limits
    /// Requests per second allowed now; nil while unpaced.
    private(set) var requestRate: Double?
    /// The rate additive increase climbs back to; nil while unpaced.
    private(set) var ceiling: Double?
    private var requestArrival = -Double.infinity
    private var tokenArrival = -Double.infinity
    private var lastDecrease = -Double.infinity
    /// Start times of the latest requests, oldest first, to observe the rate sent at.
    private var recentStarts: [Double] = []
    private static let recentStartsKept = 256
    /// The outcomes, by when their request was sent, of the round since the last decrease.
    private var round = Round()
    /// The round before the last decrease, and the rate it ran at (nil: unpaced).
    private var previousRound: (round: Round, rate: Double?, ceiling: Double?)?
    /// Set once the 429s are found not to depend on the rate: the 429 share then.
    private(set) var sheddingShare: Double?

    struct Round: Sendable {
        var start = -Double.infinity
        var firstSend = Double.infinity
        var lastOutcome = -Double.infinity
        var successes = 0
        var limited = 0
        var outcomes: Int { successes + limited }
        var share: Double { outcomes == 0 ? 0 : Double(limited) / Double(outcomes) }
        /// Successes per second over the round so far.
        var throughput: Double {
            let span = lastOutcome - max(start, firstSend)
            return span > 0 ? Double(successes) / span : 0
        }
    }

    /// The fewest outcomes a round is judged on, unless most of them are 429s.
    static let fewestToJudge = 12

    /// How far ahead of its rate the token budget may run, in seconds of tokens.
    static let tokenBurst = 1.0
    /// The fewest recent requests an unpaced provider's rate is estimated from.
    static let fewestToEstimate = 8
    /// The longest provider-requested pause applied to everyone.
    static let longestPause = 60.0
    /// The share of a configured `requests_per_minute` requests are paced at: 2% of any
    /// window's budget left for jitter (at 600 a minute, 0.4 s of jitter over 20 seconds).
    static let headroom = 0.98
    /// How late a paced request may go (at least two intervals) before the schedule slides.
    static let lateness = 0.05

    init(limits: Limits) {
        self.limits = limits
        configure()
    }

    /// Takes new limits (a provider redefined); adaptive state starts over.
    mutating func update(limits: Limits) {
        guard limits != self.limits else { return }
        self.limits = limits
        configure()
    }

    private mutating func configure() {
        requestRate = limits.requestsPerMinute.map { Double(max(1, $0)) / 60 * Self.headroom }
        ceiling = requestRate
        lastDecrease = -.infinity
    }

    /// A start time handed out, good until the rate drops or a pause begins.
    struct Reservation: Sendable, Hashable {
        var start: Double
        var tokens: Int
        /// The `epoch` it was made in.
        var epoch: Int
    }

    /// Counts decreases and pauses: a reservation made before one is stale.
    private(set) var epoch = 0

    /// Reserves a start time for a request.
    /// - Parameters:
    ///   - tokens: the request's estimated tokens.
    ///   - now: the current time.
    /// - Returns: when it may start, never before `now`.
    mutating func reserve(tokens: Int, at now: Double) -> Reservation {
        var start = now
        if requestRate != nil {
            start = max(start, requestArrival)
        }
        let tokenRate = limits.tokensPerMinute.map { Double(max(1, $0)) / 60 }
        if tokenRate != nil {
            start = max(start, tokenArrival - Self.tokenBurst)
        }
        if let requestRate {
            requestArrival = max(requestArrival, start) + 1 / requestRate
        }
        if let tokenRate {
            tokenArrival = max(tokenArrival, start) + Double(max(0, tokens)) / tokenRate
        }
        recentStarts.append(start)
        if recentStarts.count > Self.recentStartsKept { recentStarts.removeFirst(recentStarts.count / 2) }
        return Reservation(start: start, tokens: tokens, epoch: epoch)
    }

    /// Checks a reservation whose start has come: if the rate dropped, a pause began or the
    /// schedule slid since it was made, it is replaced by a new one (its tokens handed back
    /// first).
    ///
    /// A request that goes late (its sender stalled: a loaded machine runs timers late) slides
    /// the schedule: the requests after it are spaced from now, not sent at once to catch up.
    /// Caught up, they would arrive closer together than the rate, and a provider's window
    /// twenty seconds on would count them on top of a full window's worth.
    /// - Returns: nil when it still holds.
    mutating func revalidate(_ reservation: Reservation, at now: Double) -> Reservation? {
        guard reservation.epoch != epoch else {
            if let rate = requestRate, now - reservation.start > max(2 / rate, Self.lateness) {
                restartSchedule(at: now, rate: rate)
            }
            return nil
        }
        if let perMinute = limits.tokensPerMinute {
            tokenArrival -= Double(max(0, reservation.tokens)) / (Double(max(1, perMinute)) / 60)
        }
        recentStarts.removeAll { $0 == reservation.start }
        return reserve(tokens: reservation.tokens, at: now)
    }

    /// A request got a reply; its real token count replaces the estimate.
    mutating func recordSuccess(estimatedTokens: Int, actualTokens: Int?, sentAt: Double? = nil, at now: Double? = nil) {
        if let perMinute = limits.tokensPerMinute, let actualTokens {
            tokenArrival += Double(actualTokens - estimatedTokens) / (Double(max(1, perMinute)) / 60)
        }
        if let sentAt, sentAt >= round.start {
            round.successes += 1
            round.firstSend = min(round.firstSend, sentAt)
            round.lastOutcome = max(round.lastOutcome, now ?? sentAt)
        }
        guard let rate = requestRate, let ceiling else { return }
        // With a configured rate, a 429 says that rate is too much for now: creep back (a
        // fiftieth of the rate per success) so as not to meet the limit again at once. With
        // none, the rate was only ever a guess, and isolated 429s (providers also send them
        // when merely busy) must cost a short dip, not a collapse to the floor: recover a
        // tenth of the rate per success. Under a real limit 429s come every round and the
        // halving wins either way.
        let step = limits.requestsPerMinute != nil
            ? max(1.0 / 60, min(ceiling / 100, rate / 50))
            : max(1.0 / 60, min(ceiling / 20, rate / 10))
        if rate + step < ceiling {
            requestRate = rate + step
        } else if limits.requestsPerMinute == nil {
            // Back where it was when the 429s began: unpaced again.
            requestRate = nil
            self.ceiling = nil
        } else {
            requestRate = ceiling
        }
        // The round before the last decrease stays the judge's baseline. Forgotten here, a
        // shedding provider's next 429 started a new chain with an immediate decrease (and a
        // pause for everyone) that nothing ever judged: against a real server each chain
        // recovered in about a second, the next began from a lower observed rate, and one run
        // in three crawled at a few requests a second for 40 s (BENCHMARKS.md, "Overload").
    }

    /// A request sent at `sentAt` got a 429.
    /// - Parameters:
    ///   - sentAt: when that request started; a 429 for a request sent before the last
    ///     decrease was already answered by it.
    ///   - retryAfter: the wait the response asked for, in seconds.
    ///   - now: the current time.
    mutating func recordRateLimit(sentAt: Double, retryAfter: Double?, at now: Double) {
        if sentAt >= round.start {
            round.limited += 1
            round.firstSend = min(round.firstSend, sentAt)
            round.lastOutcome = max(round.lastOutcome, now)
        }
        if let sheddingShare {
            // Load shedding: 429s do not move the rate, and a `Retry-After` is the retried
            // request's own business, until the share climbs well past what shedding gave.
            guard round.outcomes >= Self.fewestToJudge * 4, round.share > sheddingShare + 0.25 else {
                if round.outcomes >= Self.fewestToJudge * 8 { round = Round(start: now) }
                return
            }
            self.sheddingShare = nil
            previousRound = nil
        }
        // Unpaced and only a few requests seen: too little to estimate a rate from; the
        // retry's own backoff is enough.
        let isEstimable = requestRate != nil || recentStarts.count(where: { $0 >= now - 10 }) >= Self.fewestToEstimate
        var decreased = false
        if sentAt >= lastDecrease && isEstimable {
            if let previous = previousRound {
                // After a decrease, the next one waits for evidence: a judged round, or a
                // window clearly spent.
                if isShedding(after: previous) {
                    // The decreases did not help: back to the rate before them, and 429s
                    // stop moving it (each request's backoff and Retry-After carry it).
                    configure()
                    sheddingShare = round.share
                    round = Round(start: now)
                    previousRound = nil
                    restartSchedule(at: now, rate: requestRate)
                    return
                }
                if round.outcomes >= Self.fewestToJudge || (round.limited >= 3 && round.share >= 0.9) {
                    decrease(at: now)
                    decreased = true
                }
            } else {
                // The first 429 of a chain: decrease at once, as TCP does on its first loss.
                decrease(at: now)
                decreased = true
            }
        }
        // A pause for everyone only when the 429s are judged to be a limit (the first of a
        // chain, or a decrease): under load shedding it stalled every request for one's sake.
        guard decreased || previousRound == nil else { return }
        if let retryAfter, retryAfter > 0 {
            let resume = now + min(retryAfter, Self.longestPause)
            if requestRate != nil, resume > requestArrival {
                requestArrival = resume
                epoch += 1
            }
            if limits.tokensPerMinute != nil && resume + Self.tokenBurst > tokenArrival {
                tokenArrival = resume + Self.tokenBurst
                epoch += 1
            }
        }
    }

    /// Halves the rate (from the rate observed, when unpaced), at least to the floor, and
    /// starts a new round.
    private mutating func decrease(at now: Double) {
        previousRound = (round, requestRate, ceiling)
        round = Round(start: now)
        let current = requestRate ?? observedRate(at: now)
        if ceiling == nil { ceiling = current }
        let floor = max(1.0 / 60, (ceiling ?? current) / 64)
        let rate = max(floor, current / 2)
        requestRate = rate
        lastDecrease = now
        restartSchedule(at: now, rate: rate)
    }

    /// Whether the round since the last decrease shows the decrease did not help: enough
    /// outcomes to tell, not a spent window (under 90% 429s), a 429 share not lower than before
    /// (by a quarter, and by more than chance: about two standard errors of the difference), and
    /// successes per second that fell with the rate (under a limit they hold at the limit).
    ///
    /// Beside the baseline that recovery used to forget (`recordSuccess`), the verdict itself was
    /// fragile: the round before a chain's first decrease holds little more than the 429 that
    /// started it (a share of 1, no successes), and 12 outcomes give a share of 0.3 as anything
    /// from 0.1 to 0.5. So a round that small is no baseline (the chain decreases once more and
    /// judges the next pair), a share must fall by more than chance, and a decrease that could
    /// not lower the rate (at the floor) is judged on the share alone. Without these, the
    /// simulator with 50–150 ms replies still ran one seed in six just past 1.5× the client that
    /// only retries.
    private func isShedding(after previous: (round: Round, rate: Double?, ceiling: Double?)) -> Bool {
        let before = previous.round
        guard round.outcomes >= Self.fewestToJudge, round.share < 0.9, before.outcomes >= Self.fewestToJudge else {
            return false
        }
        let pooled = Double(before.limited + round.limited) / Double(before.outcomes + round.outcomes)
        let chance = 2 * (pooled * (1 - pooled) * (1 / Double(before.outcomes) + 1 / Double(round.outcomes))).squareRoot()
        let shareFell = round.share < before.share * 0.75 && before.share - round.share > chance
        guard !shareFell else { return false }
        let rateFell = previous.rate.map { rate in requestRate.map { $0 < rate * 0.9 } ?? false } ?? (requestRate != nil)
        return !rateFell || round.throughput <= before.throughput * 0.75
    }

    /// Starts the request schedule over, one interval after `now`: every reservation not
    /// yet sent is stale and is made again when its start comes (`revalidate`).
    private mutating func restartSchedule(at now: Double, rate: Double?) {
        requestArrival = rate.map { now + 1 / $0 } ?? -.infinity
        epoch += 1
    }

    /// The rate requests were sent at over the last ten seconds (at least one second).
    func observedRate(at now: Double) -> Double {
        let window = recentStarts.filter { $0 >= now - 10 }
        guard let first = window.first else { return 1 }
        return Double(window.count) / max(1, now - first)
    }
}
