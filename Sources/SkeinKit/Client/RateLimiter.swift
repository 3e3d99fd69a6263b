import Foundation
import OrderedCollections

/// The limits one provider's requests share, whichever step sends them: how many may be
/// in flight (`max_concurrency`), and when the next may start (`requests_per_minute`,
/// `tokens_per_minute`, adapted after 429s; see `RateBudget`).
///
/// Waiting for a slot is first come, first served. Waiting for the rate happens outside
/// the actor, so one request's wait holds up no one else's bookkeeping.
actor RateLimiter {
    struct Limits: Sendable, Hashable {
        var maxConcurrency: Int?
        var budget: RateBudget.Limits

        init(maxConcurrency: Int? = nil, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil) {
            self.maxConcurrency = maxConcurrency.map { max(1, $0) }
            self.budget = RateBudget.Limits(requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute)
        }

        init(provider: ProviderConfiguration) {
            self.init(
                maxConcurrency: provider.maxConcurrency, requestsPerMinute: provider.requestsPerMinute,
                tokensPerMinute: provider.tokensPerMinute)
        }
    }

    /// A slot held by one attempt; hand it back with `release`.
    struct Permit: Sendable {
        var reservation: RateBudget.Reservation
        /// When the attempt may be sent (seconds on the limiter's clock).
        var start: Double { reservation.start }
        var estimatedTokens: Int { reservation.tokens }
        /// When the attempt asked for its slot.
        var askedAt: Double
    }

    /// How an attempt ended, for the adaptive rate and the token correction.
    enum Outcome: Sendable {
        case success(tokens: Int?)
        case rateLimited(retryAfter: Duration?)
        case failure
    }

    private var budget: RateBudget
    private var maxConcurrency: Int?
    private var inFlight = 0
    private var waiters: OrderedDictionary<UInt64, CheckedContinuation<Void, any Error>> = [:]
    private var nextWaiterID: UInt64 = 0
    /// 429 answers so far, for progress display and the run's closing note.
    private(set) var rateLimitedAnswers = 0
    private let now: @Sendable () -> Duration

    /// The provider's name, for progress display.
    let provider: String

    init(limits: Limits, provider: String = "", now: @escaping @Sendable () -> Duration) {
        self.provider = provider
        self.budget = RateBudget(limits: limits.budget)
        self.maxConcurrency = limits.maxConcurrency
        self.now = now
    }

    /// Takes new limits, for a provider redefined while the client runs.
    func update(limits: Limits) {
        budget.update(limits: limits.budget)
        maxConcurrency = limits.maxConcurrency
        while !waiters.isEmpty && (maxConcurrency.map { inFlight < $0 } ?? true) {
            inFlight += 1
            waiters.removeFirst().value.resume()
        }
    }

    /// Waits for a slot, then reserves a start time by the rate budgets.
    /// - Parameter tokens: the request's estimated tokens.
    /// - Returns: the permit; the caller waits `permit.start - now` before sending.
    /// - Throws: `CancellationError` when cancelled while waiting for a slot.
    func acquire(tokens: Int) async throws -> Permit {
        try Task.checkCancellation()
        let asked = seconds(now())
        if let maxConcurrency, inFlight >= maxConcurrency {
            let id = nextWaiterID
            nextWaiterID += 1
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    waiters[id] = continuation
                }
            } onCancel: {
                Task { await self.cancelWaiter(id) }
            }
            // The releasing attempt handed its slot over: `inFlight` already counts this one.
        } else {
            inFlight += 1
        }
        return Permit(reservation: budget.reserve(tokens: tokens, at: seconds(now())), askedAt: asked)
    }

    /// Checks a permit whose start has come, after waiting for it: if the rate dropped or
    /// a pause began meanwhile, it gets a new start.
    /// - Returns: nil when the permit holds and the attempt may go.
    func revalidate(_ permit: Permit) -> Permit? {
        guard let renewed = budget.revalidate(permit.reservation, at: seconds(now())) else { return nil }
        return Permit(reservation: renewed, askedAt: permit.askedAt)
    }

    /// Hands a slot back and learns from how the attempt ended.
    func release(_ permit: Permit, outcome: Outcome) {
        switch outcome {
        case .success(let tokens):
            budget.recordSuccess(
                estimatedTokens: permit.estimatedTokens, actualTokens: tokens, sentAt: permit.start, at: seconds(now()))
        case .rateLimited(let retryAfter):
            rateLimitedAnswers += 1
            budget.recordRateLimit(
                sentAt: permit.start, retryAfter: retryAfter.map(seconds), at: seconds(now()))
        case .failure:
            break
        }
        if !waiters.isEmpty && (maxConcurrency.map { inFlight <= $0 } ?? true) {
            waiters.removeFirst().value.resume()
        } else {
            inFlight -= 1
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        waiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    }

    /// For tests and logs: the request rate allowed now, per minute; nil while unpaced.
    var requestsPerMinute: Double? { budget.requestRate.map { $0 * 60 } }
    /// How the provider is held back now, with `wait` ahead of the request asking.
    func throttle(wait: Duration) -> ProviderThrottle {
        ProviderThrottle(
            provider: provider, requestsPerMinute: requestsPerMinute, rateLimited: rateLimitedAnswers,
            isLoadShedding: budget.sheddingShare != nil, wait: wait)
    }

    /// For tests: attempts holding a slot.
    var attemptsInFlight: Int { inFlight }

    private func seconds(_ duration: Duration) -> Double {
        duration.inSeconds
    }
}

/// One limiter per provider name, created on first use.
final class RateLimiters: Sendable {
    private struct Entry {
        var limiter: RateLimiter
        var limits: RateLimiter.Limits
    }

    // Guarded by `lock`: the hot path looks a provider up per request, and a lock costs
    // less than a hop to an actor.
    private let lock = NSLock()
    nonisolated(unsafe) private var entries: [String: Entry] = [:]
    private let now: @Sendable () -> Duration

    init(now: @escaping @Sendable () -> Duration) {
        self.now = now
    }

    /// The provider's limiter, updated when its limits changed since the last call.
    func limiter(for provider: ProviderConfiguration) async -> RateLimiter {
        let limits = RateLimiter.Limits(provider: provider)
        let (limiter, changed): (RateLimiter, Bool) = lock.withLock {
            if var entry = entries[provider.name] {
                guard entry.limits != limits else { return (entry.limiter, false) }
                entry.limits = limits
                entries[provider.name] = entry
                return (entry.limiter, true)
            }
            let limiter = RateLimiter(limits: limits, provider: provider.name, now: now)
            entries[provider.name] = Entry(limiter: limiter, limits: limits)
            return (limiter, false)
        }
        if changed { await limiter.update(limits: limits) }
        return limiter
    }

    /// The providers that answered 429 so far, each with the rate its limiter allows now
    /// (`wait` zero), by name.
    func throttled() async -> [ProviderThrottle] {
        let limiters = lock.withLock { entries.values.map(\.limiter) }
        var found: [ProviderThrottle] = []
        for limiter in limiters {
            let throttle = await limiter.throttle(wait: .zero)
            if throttle.rateLimited > 0 { found.append(throttle) }
        }
        return found.sorted { $0.provider < $1.provider }
    }
}
