/// Requests-per-minute enforcement over a sliding window: a request is accepted when fewer than
/// `limit` accepted requests arrived within the last `window`.
struct SlidingWindowRateLimiter: Sendable {
    var limit: Int
    let window: Duration
    /// Arrival times of accepted requests, oldest first, from `head` on.
    private var accepted: [ContinuousClock.Instant] = []
    private var head = 0

    init(limit: Int, window: Duration) {
        self.limit = max(limit, 0)
        self.window = window
    }

    enum Decision: Equatable {
        case accept
        /// Rejected; a slot frees up after this long.
        case reject(retryAfter: Duration)
    }

    mutating func admit(at now: ContinuousClock.Instant) -> Decision {
        while head < accepted.count, accepted[head] + window <= now { head += 1 }
        if head > 1024, head * 2 > accepted.count {
            accepted.removeFirst(head)
            head = 0
        }
        guard accepted.count - head < limit else {
            let oldest = head < accepted.count ? accepted[head] : now
            return .reject(retryAfter: oldest + window - now)
        }
        accepted.append(now)
        return .accept
    }
}
