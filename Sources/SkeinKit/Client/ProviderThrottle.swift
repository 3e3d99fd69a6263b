/// How a provider is being held back, for progress display (issue 21): the request rate its
/// adaptive limiter allows now, the 429s it has answered so far, and the wait ahead.
///
/// A user watching a slow run wants to know whether Skein or the provider is the reason;
/// this is what `skein run` shows as `novita: throttled — 180/min, 37× 429, waiting 4s`.
public struct ProviderThrottle: Sendable, Hashable {
    /// The provider's name (its key under `providers:`, or a built-in's).
    public var provider: String
    /// The requests per minute the limiter allows now; nil while it does not pace (no
    /// declared rate and no limit found, or 429s judged to be load shedding).
    public var requestsPerMinute: Double?
    /// The 429 answers this client has had from the provider so far, all steps together.
    public var rateLimited: Int
    /// Whether the 429s were judged load shedding (they did not depend on the rate), so
    /// they no longer lower it: each request's own backoff carries them.
    public var isLoadShedding: Bool
    /// The wait ahead of the request that reports it: its place in the limiter's schedule,
    /// or its backoff (or `Retry-After`) after a 429 or 503. Zero in a summary.
    public var wait: Duration

    public init(provider: String, requestsPerMinute: Double?, rateLimited: Int, isLoadShedding: Bool, wait: Duration) {
        self.provider = provider
        self.requestsPerMinute = requestsPerMinute
        self.rateLimited = rateLimited
        self.isLoadShedding = isLoadShedding
        self.wait = wait
    }

    /// `180/min`, or what stands for a rate when there is none.
    public var rateDescription: String {
        if let requestsPerMinute { return "\(Int(requestsPerMinute.rounded()))/min" }
        return isLoadShedding ? "unpaced (429s look like load shedding)" : "unpaced"
    }
}
