import AsyncHTTPClient
import Foundation
import NIOCore
import SkeinKit
import Synchronization

/// `skein-bench retry-floor --url BASE_URL [--requests N] [--concurrency N] [--model M]`: the
/// retry-only client of the overload benchmarks (BENCHMARKS.md, "Overload").
///
/// The bare AsyncHTTPClient loop of `skein-bench floor`, sending the same requests, that
/// retries a 429 or 5xx answer with Skein's backoff and nothing else: the wait a response asks
/// for (`Retry-After`), else `RetryPolicy.standard`'s exponential backoff with its jitter. No
/// rate limiter, no JSON decoding, no store: the fastest a client that merely retries can go,
/// which is what Skein's adaptive rate must not fall far behind when 429s do not depend on the
/// rate. Workers take the next request from a shared counter, as Skein's `for_each` hands out
/// items: with each worker's share fixed in advance (`skein-bench floor`), the worker that met
/// the most 429s set the makespan, and the floor ran 20% slower than Skein. Prints one JSON
/// line: the time from the first request to the last reply, attempts, and the 429s among them.
enum RetryFloorBenchmark {
    static func run(_ args: [String]) async throws {
        guard let baseURL = BenchArguments.string("--url", in: args) else {
            throw ClientBenchmark.BenchmarkFailure(message: "retry-floor needs --url BASE_URL")
        }
        let requests = BenchArguments.int("--requests", in: args) ?? 600
        let concurrency = BenchArguments.int("--concurrency", in: args) ?? 16
        let model = BenchArguments.string("--model", in: args) ?? "test-model"
        let pools = BareHTTPClient.makePools(concurrency: concurrency)
        let url = baseURL + "/chat/completions"
        let policy = RetryPolicy.standard

        let start = ContinuousClock.now
        let result: Result<(attempts: Int, limited: Int), any Error>
        do {
            let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                let queue = WorkQueue()
                for worker in 0..<concurrency {
                    let client = pools[worker % pools.count]
                    group.addTask {
                        var attempts = 0
                        var limited = 0
                        while true {
                            let item = queue.next()
                            guard item < requests else { break }
                            // The body `kit.fanout_pipeline` makes Skein send for item `item`.
                            let body =
                                "{\"model\":\"\(model)\",\"messages\":[{\"role\":\"user\",\"content\":\"Summarize item \(item) in one word.\"}],\"temperature\":0.2,\"max_tokens\":16}"
                            var retry = 0
                            while true {
                                var post = HTTPClientRequest(url: url)
                                post.method = .POST
                                post.headers.add(name: "content-type", value: "application/json")
                                post.body = .bytes(ByteBuffer(string: body))
                                let response = try await client.execute(post, timeout: .seconds(60))
                                _ = try await response.body.collect(upTo: 1 << 20)
                                attempts += 1
                                let status = Int(response.status.code)
                                if status == 200 { break }
                                guard status == 429 || status >= 500 else {
                                    throw ClientBenchmark.BenchmarkFailure(message: "status \(status)")
                                }
                                if status == 429 { limited += 1 }
                                retry += 1
                                let asked = response.headers.first(name: "retry-after").flatMap(Double.init)
                                let wait = asked.map { Duration.milliseconds(Int64($0 * 1000)) }
                                    ?? policy.backoff(beforeRetry: retry, random: Double.random(in: 0..<1))
                                try await Task.sleep(for: wait)
                            }
                        }
                        return (attempts, limited)
                    }
                }
                return try await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
            }
            result = .success((counts.0, counts.1))
        } catch {
            result = .failure(error)
        }
        let elapsed = (ContinuousClock.now - start).benchSeconds
        for pool in pools { try await pool.shutdown() }
        let counts = try result.get()
        print(
            "{\"benchmark\":\"retry-floor\",\"requests\":\(requests),\"concurrency\":\(concurrency),"
                + "\"seconds\":\(elapsed),\"attempts\":\(counts.attempts),\"rate_limited\":\(counts.limited)}")
    }
}

/// The next request to send, shared by the workers.
private final class WorkQueue: Sendable {
    private let counter = Atomic<Int>(0)

    func next() -> Int {
        counter.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}
