import Testing

@testable import SkeinCore
@testable import SkeinKit

@Suite struct ClientRateLimiterTests {
    @Test func requestsArePacedEvenlyFromTheFirstAtTheHeadroomBelowTheLimit() {
        var budget = RateBudget(limits: .init(requestsPerMinute: 600))  // 9.8 a second
        #expect(budget.requestRate == 9.8)
        let starts = (0..<10).map { _ in budget.reserve(tokens: 0, at: 0).start }
        // No burst: one every 1/9.8 s from the first.
        for (index, start) in starts.enumerated() { #expect(abs(start - Double(index) / 9.8) < 1e-9, "\(starts)") }
        // Idle time banks nothing.
        let later = (0..<3).map { _ in budget.reserve(tokens: 0, at: 100).start }
        #expect(later.filter { $0 == 100 }.count == 1, "\(later)")
    }

    @Test func slowRatesArePacedToo() {
        var budget = RateBudget(limits: .init(requestsPerMinute: 30))
        #expect(budget.reserve(tokens: 0, at: 0).start == 0)
        #expect(abs(budget.reserve(tokens: 0, at: 0).start - 2 / 0.98) < 1e-9)
    }

    @Test func tokenBudgetPacesByEstimateAndIsCorrectedByUsage() {
        var budget = RateBudget(limits: .init(tokensPerMinute: 6000))  // 100 tokens a second
        #expect(budget.reserve(tokens: 300, at: 0).start == 0)
        // 300 tokens spent at 0 run to 3 s; a second of burst lets the next go at 2 s.
        #expect(budget.reserve(tokens: 300, at: 0).start == 2)
        // The second used only 100: the next may go 2 s earlier than its estimate said.
        budget.recordSuccess(estimatedTokens: 300, actualTokens: 100)
        #expect(budget.reserve(tokens: 100, at: 0).start == 3)
    }

    @Test func a429HalvesTheRateOnceAndSuccessesBringItBack() {
        var budget = RateBudget(limits: .init(requestsPerMinute: 600))
        let sent = budget.reserve(tokens: 0, at: 0)
        let alsoInFlight = budget.reserve(tokens: 0, at: 0)
        budget.recordRateLimit(sentAt: sent.start, retryAfter: nil, at: 1)
        #expect(budget.requestRate == 4.9)
        // A 429 for a request sent before the decrease says nothing new.
        budget.recordRateLimit(sentAt: alsoInFlight.start, retryAfter: nil, at: 1.01)
        #expect(budget.requestRate == 4.9)
        var successes = 0
        while let rate = budget.requestRate, rate < 9.8 {
            budget.recordSuccess(estimatedTokens: 0, actualTokens: nil)
            successes += 1
        }
        // With a configured rate, a fiftieth of the rate per success: 50 steps of 0.098.
        #expect((49...51).contains(successes))
        #expect(budget.requestRate == 9.8)
    }

    @Test func retryAfterPausesEveryoneAndStaleReservationsAreRenewed() {
        var budget = RateBudget(limits: .init(requestsPerMinute: 600))
        let queued = (0..<8).map { _ in budget.reserve(tokens: 0, at: 0) }
        budget.recordRateLimit(sentAt: 0, retryAfter: 20, at: 0.05)
        #expect(budget.revalidate(queued[7], at: 0.4) != nil)
        let renewed = budget.reserve(tokens: 0, at: 0.5)
        #expect(renewed.start >= 20.05)
        let current = budget.reserve(tokens: 0, at: 30)
        #expect(budget.revalidate(current, at: 30) == nil)
    }

    @Test func unconfiguredProviderAdaptsFromTheObservedRateAndUnpacesAgain() {
        var budget = RateBudget(limits: .init())
        #expect(budget.requestRate == nil)
        for index in 0..<100 { _ = budget.reserve(tokens: 0, at: Double(index) / 100) }  // 100 a second
        budget.recordRateLimit(sentAt: 0.99, retryAfter: nil, at: 1)
        #expect(budget.requestRate == 50)
        for _ in 0..<200 { budget.recordSuccess(estimatedTokens: 0, actualTokens: nil) }
        #expect(budget.requestRate == nil)
    }

    /// A simulated provider that accepts `limit` requests in any `window` seconds and
    /// answers the rest with 429 and `Retry-After` (whole seconds), against `workers` that
    /// pace themselves with `RateBudget` as `HTTPCompletionClient` does. Each request reaches
    /// the provider 5 ms after its start plus up to `jitter` seconds more (seeded), as a
    /// loaded machine's late timers and a network's queues deliver it; replies take 50 ms.
    /// During a `stall` the sender runs nothing: what was due goes when it ends, in order.
    ///
    /// `shedding` is a provider that answers that share of first attempts with 429 whatever
    /// the rate (half with `Retry-After: 1`, half without, then retried after the client's
    /// backoff), as a busy provider sheds load; `adaptive: false` is a client that only
    /// retries (no `RateBudget`), the baseline issue 21 measures against.
    private func simulate(
        configuredRPM: Int?, serverRPM: Int, window: Double = 60, requests: Int, workers: Int = 64,
        jitter: Double = 0, stalls: [Range<Double>] = [], shedding: Double = 0, adaptive: Bool = true,
        replyTime: ClosedRange<Double> = 0.05...0.05, seed: UInt64 = 7
    ) -> (successes: Int, rejections: Int, makespan: Double) {
        enum Step {
            case reserve, send(RateBudget.Reservation), arrive(RateBudget.Reservation)
            case finish(RateBudget.Reservation, retryAfter: Double?)
        }
        var budget = RateBudget(limits: .init(requestsPerMinute: configuredRPM))
        var random = SeededGenerator(seed: seed)
        var accepted: [Double] = []
        let workers = min(workers, requests)
        var queue: [(time: Double, worker: Int, step: Step)] = (0..<workers).map { (0, $0, .reserve) }
        var remaining = requests - workers
        var successes = 0
        var rejections = 0
        var makespan = 0.0
        var retried = Set<Int>()  // workers whose current request is a retry
        while !queue.isEmpty {
            let latency = replyTime.lowerBound == replyTime.upperBound ? replyTime.lowerBound : Double.random(in: replyTime, using: &random)
            // The earliest event; of equal times, the first queued.
            let next = queue.indices.min { queue[$0].time < queue[$1].time } ?? 0
            let (now, worker, step) = queue.remove(at: next)
            switch step {
            case .reserve:
                let reservation = adaptive ? budget.reserve(tokens: 0, at: now) : .init(start: now, tokens: 0, epoch: 0)
                queue.append((reservation.start, worker, .send(reservation)))
            case .send(let reservation):
                if let stall = stalls.first(where: { $0.contains(now) }) {
                    queue.append((stall.upperBound, worker, step))
                    continue
                }
                if adaptive, let renewed = budget.revalidate(reservation, at: now) {
                    queue.append((renewed.start, worker, .send(renewed)))
                    continue
                }
                let delay = 0.005 + (jitter > 0 ? Double.random(in: 0...jitter, using: &random) : 0)
                queue.append((now + delay, worker, .arrive(reservation)))
            case .arrive(let reservation):
                accepted.removeAll { $0 <= now - window }
                if shedding > 0, !retried.contains(worker), Double.random(in: 0..<1, using: &random) < shedding {
                    // Shed: half the 429s say Retry-After: 1, half say nothing (-1: the
                    // client's own first backoff, 0.5 s).
                    let hint: Double = Bool.random(using: &random) ? 1 : -1
                    queue.append((now + latency, worker, .finish(reservation, retryAfter: hint)))
                } else if accepted.count < serverRPM {
                    accepted.append(now)
                    queue.append((now + latency, worker, .finish(reservation, retryAfter: nil)))
                } else {
                    let wait = ((accepted.first ?? now) + window - now).rounded(.up)
                    queue.append((now + latency, worker, .finish(reservation, retryAfter: wait)))
                }
            case .finish(let reservation, let retryAfter?):
                rejections += 1
                retried.insert(worker)
                if adaptive {
                    budget.recordRateLimit(sentAt: reservation.start, retryAfter: retryAfter > 0 ? retryAfter : nil, at: now)
                }
                queue.append((now + (retryAfter > 0 ? retryAfter : 0.5), worker, .reserve))
            case .finish(let reservation, nil):
                successes += 1
                retried.remove(worker)
                makespan = max(makespan, now)
                if adaptive { budget.recordSuccess(estimatedTokens: 0, actualTokens: nil, sentAt: reservation.start, at: now) }
                if remaining > 0 {
                    remaining -= 1
                    queue.append((now, worker, .reserve))
                }
            }
        }
        return (successes, rejections, makespan)
    }

    /// Issue 21's first case in simulated time: 600 requests, 16 at once, no limit declared
    /// or enforced, 30% of first attempts shed with 429. Halving on every round with a 429
    /// took the rate to the floor (188 s for 60 requests against a real server); now the
    /// decreases are undone once they are seen not to lower the share of 429s, and the run
    /// takes about what retrying alone does.
    @Test func loadSheddingDoesNotCollapseTheRate() {
        let adaptive = simulate(configuredRPM: nil, serverRPM: 1_000_000, requests: 600, workers: 16, shedding: 0.3)
        let retryOnly = simulate(
            configuredRPM: nil, serverRPM: 1_000_000, requests: 600, workers: 16, shedding: 0.3, adaptive: false)
        #expect(adaptive.successes == 600)
        #expect(retryOnly.successes == 600)
        #expect(adaptive.makespan <= retryOnly.makespan * 1.5, "adaptive \(adaptive) against retry-only \(retryOnly)")
        print("load shedding, 600 requests: adaptive \(adaptive), retry-only \(retryOnly)")
    }

    /// The same against replies that take 50–150 ms, as `skein-bench server` gives them in
    /// BENCHMARKS.md ("Overload"), over several seeds. Uneven replies made each chain of
    /// decreases recover within about a second and the next 429 start a new chain that nothing
    /// judged, from a lower observed rate each time: one real run in three crawled for 40 s.
    @Test func loadSheddingWithUnevenRepliesDoesNotCollapseTheRate() {
        for seed in UInt64(1)...6 {
            let adaptive = simulate(
                configuredRPM: nil, serverRPM: 1_000_000, requests: 600, workers: 16, shedding: 0.3,
                replyTime: 0.05...0.15, seed: seed)
            let retryOnly = simulate(
                configuredRPM: nil, serverRPM: 1_000_000, requests: 600, workers: 16, shedding: 0.3, adaptive: false,
                replyTime: 0.05...0.15, seed: seed)
            #expect(adaptive.successes == 600)
            #expect(adaptive.makespan <= retryOnly.makespan * 1.5, "seed \(seed): adaptive \(adaptive) against retry-only \(retryOnly)")
        }
    }

    /// The same shedding on top of a declared rate: the paced rate is kept, not halved away.
    @Test func loadSheddingUnderADeclaredRateKeepsThePace() {
        let adaptive = simulate(configuredRPM: 1200, serverRPM: 1_000_000, requests: 600, workers: 16, shedding: 0.3)
        let ideal = 600.0 / (1200 * RateBudget.headroom / 60)
        #expect(adaptive.successes == 600)
        #expect(adaptive.makespan <= ideal * 1.5, "\(adaptive), ideal \(ideal) s")
    }

    /// `ClientRateLimitTests`' figures in simulated time: 300 requests at once, paced at 600
    /// a minute, against a provider that counts 200 in any 20 seconds, with up to 300 ms of
    /// jitter. A burst on top of the rate, or pacing exactly at it, each gave 429s here.
    @Test func aWindowShorterThanAMinuteAndJitterMeetNo429s() {
        let result = simulate(configuredRPM: 600, serverRPM: 200, window: 20, requests: 300, workers: 300, jitter: 0.3)
        #expect(result.successes == 300)
        #expect(result.rejections == 0, "\(result)")
    }

    /// The same, with the sender stalled twice for 800 ms (8 requests due in each): sent at
    /// once to catch up, they came on top of a full window 20 seconds later and met the limit.
    @Test func aStalledSenderSlidesTheScheduleInsteadOfCatchingUp() {
        let result = simulate(
            configuredRPM: 600, serverRPM: 200, window: 20, requests: 300, workers: 300,
            stalls: [3.0..<3.8, 11.0..<11.8])
        #expect(result.successes == 300)
        #expect(result.rejections == 0, "\(result)")
    }

    @Test func aBurstAgainstTheConfiguredLimitGetsAlmostNo429s() {
        let result = simulate(configuredRPM: 600, serverRPM: 600, requests: 1000)
        #expect(result.successes == 1000)
        #expect(result.rejections <= 5, "\(result)")
    }

    @Test func aBurstAgainstALimitLowerThanConfiguredAdapts() {
        // The pipeline says 1,200 a minute; the provider allows 600.
        let result = simulate(configuredRPM: 1200, serverRPM: 600, requests: 1000)
        #expect(result.successes == 1000)
        #expect(result.rejections <= 10, "\(result)")
    }

    @Test func aBurstWithNoConfiguredLimitBacksOff() {
        // Nothing configured: the first round in flight meets the limit unprepared;
        // after that the rate adapts (40 of 1,000 when written).
        let result = simulate(configuredRPM: nil, serverRPM: 600, requests: 1000)
        #expect(result.successes == 1000)
        #expect(result.rejections <= 64 + 16, "\(result)")
    }

    @Test func concurrencySlotsAreHandedOverInOrder() async throws {
        let limiter = RateLimiter(limits: .init(maxConcurrency: 2), now: { .zero })
        let first = try await limiter.acquire(tokens: 0)
        _ = try await limiter.acquire(tokens: 0)
        let third = Task { try await limiter.acquire(tokens: 0) }
        while await limiter.attemptsInFlight < 2 { await Task.yield() }
        try await Task.sleep(for: .milliseconds(20))
        #expect(await limiter.attemptsInFlight == 2)
        await limiter.release(first, outcome: .success(tokens: nil))
        _ = try await third.value
        #expect(await limiter.attemptsInFlight == 2)
    }

    @Test func aCancelledWaiterGivesUpItsPlace() async throws {
        let limiter = RateLimiter(limits: .init(maxConcurrency: 1), now: { .zero })
        let held = try await limiter.acquire(tokens: 0)
        let waiting = Task { try await limiter.acquire(tokens: 0) }
        try await Task.sleep(for: .milliseconds(20))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        await limiter.release(held, outcome: .failure)
        #expect(await limiter.attemptsInFlight == 0)
        _ = try await limiter.acquire(tokens: 0)
        #expect(await limiter.attemptsInFlight == 1)
    }
}
