import Foundation
import NIOHTTP1
import Testing

@testable import SkeinCore
@testable import SkeinKit

@Suite struct ClientRetryPolicyTests {
    let policy = RetryPolicy()

    private func failure(retryable: Bool = true, retryAfter: Duration? = nil) -> ProviderError {
        ProviderError(kind: .rateLimited, provider: "p", status: 429, message: "m", isRetryable: retryable, retryAfter: retryAfter)
    }

    @Test func backoffDoublesToTheCap() {
        let delays = (1...7).map { policy.backoff(beforeRetry: $0, random: 0) }
        #expect(
            delays == [
                .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8),
            ])
    }

    @Test func jitterTakesOffUpToItsFraction() {
        #expect(policy.backoff(beforeRetry: 1, random: 0.999_999) > .milliseconds(375))
        #expect(policy.backoff(beforeRetry: 1, random: 1) == .milliseconds(375))
        #expect(RetryPolicy(jitter: 1).backoff(beforeRetry: 3, random: 0.5) == .seconds(1))
    }

    @Test func backPressureIsBoundedByPatienceNotByCount() {
        let patience: Duration = .seconds(20)
        // Past maxRetries (3), a 429 is still retried while the wait fits in the patience.
        #expect(policy.delay(beforeRetry: 6, after: failure(), random: 0, elapsed: .seconds(10), patience: patience) == .seconds(8))
        #expect(policy.delay(beforeRetry: 6, after: failure(), random: 0, elapsed: .seconds(13), patience: patience) == nil)
        #expect(policy.delay(beforeRetry: 9, after: failure(retryAfter: .seconds(1)), random: 0, elapsed: .seconds(18),
                             patience: patience) == .seconds(1))
        // A wait longer than the policy honours is not waited for, patience or not.
        #expect(policy.delay(beforeRetry: 1, after: failure(retryAfter: .seconds(600)), random: 0, elapsed: .zero,
                             patience: .seconds(3600)) == nil)
        #expect(!policy.isOutOfPatience(after: failure(retryAfter: .seconds(600))))
        #expect(policy.isOutOfPatience(after: failure()))
        // retries: 0 sends once, even on a 429.
        #expect(RetryPolicy.never.delay(beforeRetry: 1, after: failure(), random: 0, elapsed: .zero, patience: patience) == nil)
        // Other errors keep their count: a 500 stops after maxRetries.
        let serverError = ProviderError(kind: .serverError, provider: "p", status: 500, message: "m", isRetryable: true)
        #expect(policy.delay(beforeRetry: 4, after: serverError, random: 0, elapsed: .zero, patience: patience) == nil)
        #expect(policy.delay(beforeRetry: 3, after: serverError, random: 0, elapsed: .zero, patience: patience) == .seconds(2))
        let overloaded = ProviderError(kind: .modelNotAvailable, provider: "p", status: 503, message: "m", isRetryable: true)
        #expect(overloaded.isBackPressure)
        #expect(!serverError.isBackPressure)
    }

    @Test func stopsAfterMaxRetriesAndForFinalErrors() {
        #expect(policy.delay(beforeRetry: 3, after: failure(), random: 0) == .seconds(2))
        #expect(policy.delay(beforeRetry: 4, after: failure(), random: 0) == nil)
        #expect(policy.delay(beforeRetry: 1, after: failure(retryable: false), random: 0) == nil)
        #expect(RetryPolicy.never.delay(beforeRetry: 1, after: failure(), random: 0) == nil)
    }

    @Test func providerWaitIsHonouredUpToTheLimit() {
        #expect(policy.delay(beforeRetry: 1, after: failure(retryAfter: .seconds(30)), random: 0.7) == .seconds(30))
        #expect(policy.delay(beforeRetry: 1, after: failure(retryAfter: .seconds(120)), random: 0) == .seconds(120))
        #expect(policy.delay(beforeRetry: 1, after: failure(retryAfter: .seconds(121)), random: 0) == nil)
    }

    @Test func retryAfterHeaders() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(RetryPolicy.retryAfter(in: ["retry-after-ms": "1500", "retry-after": "9"], now: now) == .milliseconds(1500))
        #expect(RetryPolicy.retryAfter(in: ["Retry-After": "7"], now: now) == .seconds(7))
        #expect(RetryPolicy.retryAfter(in: ["Retry-After": "0.25"], now: now) == .milliseconds(250))
        #expect(
            RetryPolicy.retryAfter(in: ["Retry-After": "Wed, 21 Oct 2015 07:28:42 GMT"], now: now) == .seconds(42))
        #expect(
            RetryPolicy.retryAfter(in: ["Retry-After": "Wednesday, 21-Oct-15 07:28:10 GMT"], now: now) == .seconds(10))
        #expect(RetryPolicy.retryAfter(in: ["Retry-After": "Wed, 21 Oct 2015 07:00:00 GMT"], now: now) == .zero)
        #expect(RetryPolicy.retryAfter(in: ["Retry-After": "soon"], now: now) == nil)
        #expect(RetryPolicy.retryAfter(in: [:], now: now) == nil)
    }
}
