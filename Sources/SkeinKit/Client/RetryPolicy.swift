import Foundation
import NIOHTTP1

/// When and how long to wait before sending a failed request again.
///
/// Only retryable errors are retried (408, 409, 429, 5xx, timeouts, dropped connections);
/// the wait doubles from `initialDelay` up to `maxDelay`, less a random part so that many
/// clients failing together do not come back together. A wait the provider asks for
/// (`retry-after-ms`, `Retry-After`) is used instead, unless it is longer than
/// `maxRetryAfter`: then waiting is not worth it and the error is returned at once.
public struct RetryPolicy: Sendable, Hashable {
    /// Retries after the first attempt; 0 sends each request once.
    public var maxRetries: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    /// The longest provider-requested wait that is honoured.
    public var maxRetryAfter: Duration
    /// The part of each backoff that is random, from 0 (none) to 1 (anywhere from 0 to the full delay).
    public var jitter: Double

    public init(
        maxRetries: Int = 3, initialDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(8),
        maxRetryAfter: Duration = .seconds(120), jitter: Double = 0.25
    ) {
        self.maxRetries = max(0, maxRetries)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
        self.jitter = min(1, max(0, jitter))
    }

    /// Three retries, 0.5 s doubling to 8 s, provider waits up to 120 s.
    public static let standard = RetryPolicy()
    /// Each request is sent once.
    public static let never = RetryPolicy(maxRetries: 0)

    /// How long to wait before retry number `retry`, or nil when not to retry.
    /// - Parameters:
    ///   - retry: 1 for the first retry (the second attempt).
    ///   - error: why the last attempt failed.
    ///   - random: a number in 0..<1 that picks the jitter.
    public func delay(beforeRetry retry: Int, after error: ProviderError, random: Double) -> Duration? {
        guard error.isRetryable, retry >= 1, retry <= maxRetries else { return nil }
        if let retryAfter = error.retryAfter {
            guard retryAfter <= maxRetryAfter else { return nil }
            return max(.zero, retryAfter)
        }
        return backoff(beforeRetry: retry, random: random)
    }

    /// How long to wait before retry number `retry`, or nil when not to retry, for a
    /// request that has been tried for `elapsed` so far.
    ///
    /// Back-pressure (429 rate limited, 503 or 529 overloaded) says "not now", not "no": it
    /// is retried for as long as the provider's `patience` lasts, whatever `maxRetries` says
    /// (past three retries the waits stay at `maxDelay`, or what the provider asks for), so a
    /// run against a limit it was not told of finishes instead of failing on the fourth 429.
    /// `maxRetries: 0` still sends each request once. Other errors are retried `maxRetries`
    /// times, as `delay(beforeRetry:after:random:)` says.
    public func delay(
        beforeRetry retry: Int, after error: ProviderError, random: Double, elapsed: Duration, patience: Duration
    ) -> Duration? {
        guard error.isBackPressure, maxRetries > 0, retry >= 1 else {
            return delay(beforeRetry: retry, after: error, random: random)
        }
        let wait: Duration
        if let retryAfter = error.retryAfter {
            guard retryAfter <= maxRetryAfter else { return nil }
            wait = max(.zero, retryAfter)
        } else {
            wait = backoff(beforeRetry: retry, random: random)
        }
        guard elapsed + wait <= patience else { return nil }
        return wait
    }

    /// Whether giving up on `error` was the patience running out (back-pressure that was
    /// being retried), rather than an error that is never retried or a wait that is too long.
    func isOutOfPatience(after error: ProviderError) -> Bool {
        error.isBackPressure && maxRetries > 0 && (error.retryAfter.map { $0 <= maxRetryAfter } ?? true)
    }

    /// The exponential backoff before retry number `retry`, jittered by `random` in 0..<1.
    public func backoff(beforeRetry retry: Int, random: Double) -> Duration {
        let exponent = min(max(0, retry - 1), 30)
        let full = min(maxDelay, initialDelay * (1 << exponent))
        let fraction = 1 - jitter * min(1, max(0, random))
        return full * fraction
    }

    /// The wait a response asks for: `retry-after-ms` (OpenAI's, in milliseconds) first,
    /// then `Retry-After` in seconds or as an HTTP date.
    /// - Parameters:
    ///   - headers: the response headers.
    ///   - now: the time to measure an HTTP date from.
    static func retryAfter(in headers: HTTPHeaders, now: Date = Date()) -> Duration? {
        if let text = headers.first(name: "retry-after-ms"), let milliseconds = Double(text.trimmed), milliseconds >= 0,
            milliseconds.isFinite
        {
            return .milliseconds(Int64(min(milliseconds, 1e12)))
        }
        guard let text = headers.first(name: "retry-after")?.trimmed, !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds.isFinite {
            return .milliseconds(Int64(min(max(0, seconds), 1e9) * 1000))
        }
        guard let date = parseHTTPDate(text) else { return nil }
        let seconds = max(0, date.timeIntervalSince(now))
        return .milliseconds(Int64(min(seconds, 1e9) * 1000))
    }

    /// Parses the three date formats HTTP allows (RFC 9110 §5.6.7), IMF-fixdate first.
    static func parseHTTPDate(_ text: String) -> Date? {
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespaces) }
}
