import AsyncHTTPClient
import Foundation
import NIOCore
import SkeinKit
import SkeinTesting

/// `skein-bench client [--requests N] [--concurrency N] [--rounds N]`: what the completion
/// client costs over bare AsyncHTTPClient.
///
/// Starts a `SkeinTestServer` in this process (no latency, nothing recorded), then sends the
/// same non-streaming chat request `requests` times with `concurrency` in flight, once
/// through `HTTPCompletionClient` (serializing the body, limiter, retries, decoding the
/// reply) and once through a bare AsyncHTTPClient loop that posts the same bytes and only
/// collects the body, both with the same pool size. Rounds alternate between the two and
/// the median of each is reported, one JSON line per client and one with the ratio.
enum ClientBenchmark {
    static func run(_ args: [String]) async throws {
        let requests = option("--requests", in: args) ?? 20_000
        let concurrency = option("--concurrency", in: args) ?? 64
        let rounds = option("--rounds", in: args) ?? 3

        let server = try await SkeinTestServer.start(.init(recordsBodies: false, recordsRequests: false))
        let provider = ProviderConfiguration(name: "bench", baseURL: server.baseURL, maxConcurrency: concurrency)
        let request = CompletionRequest.chat(
            model: "test-model",
            messages: [.system("You are terse."), .user("Summarize: the quick brown fox jumps over the lazy dog.")],
            sampling: SamplingParameters(temperature: 0.2, maxTokens: 64))
        let body = ByteBuffer(string: JSONValue.object(request.body).serialized())

        var pool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
        pool.retryConnectionEstablishment = false
        var bareConfiguration = HTTPClient.Configuration(connectionPool: pool)
        bareConfiguration.httpVersion = .automatic
        let bare = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: bareConfiguration)
        let skein = HTTPCompletionClient(configuration: .init(connectionsPerHost: concurrency), environment: [:])

        let url = server.baseURL + "/chat/completions"
        let sendBare: @Sendable () async throws -> Void = {
            var post = HTTPClientRequest(url: url)
            post.method = .POST
            post.headers.add(name: "content-type", value: "application/json")
            post.headers.add(name: "accept", value: "application/json")
            post.body = .bytes(body)
            let response = try await bare.execute(post, timeout: .seconds(60))
            _ = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else { throw BenchmarkFailure(message: "status \(response.status.code)") }
        }
        let sendSkein: @Sendable () async throws -> Void = {
            _ = try await skein.complete(request, provider: provider)
        }

        var bareTimes: [Double] = []
        var skeinTimes: [Double] = []
        do {
            // Warm up: open the pools' connections and fault in the code paths.
            _ = try await measure(requests: concurrency * 20, concurrency: concurrency, send: sendBare)
            _ = try await measure(requests: concurrency * 20, concurrency: concurrency, send: sendSkein)
            for _ in 0..<rounds {
                bareTimes.append(try await measure(requests: requests, concurrency: concurrency, send: sendBare))
                skeinTimes.append(try await measure(requests: requests, concurrency: concurrency, send: sendSkein))
            }
        } catch {
            try? await skein.shutdown()
            try? await bare.shutdown()
            await server.shutdown()
            throw error
        }
        try await skein.shutdown()
        try await bare.shutdown()
        await server.shutdown()

        let bareRate = Double(requests) / median(bareTimes)
        let skeinRate = Double(requests) / median(skeinTimes)
        for (client, rate, times) in [("async-http-client", bareRate, bareTimes), ("skein", skeinRate, skeinTimes)] {
            let line: JSONValue = [
                "benchmark": "client", "client": .string(client), "requests": .int(requests),
                "concurrency": .int(concurrency), "rounds": .int(rounds),
                "requests_per_second": .double((rate * 10).rounded() / 10),
                "seconds": .array(times.map { .double(($0 * 1000).rounded() / 1000) }),
            ]
            print(line.serialized())
        }
        let ratio: JSONValue = [
            "benchmark": "client", "ratio": .double((skeinRate / bareRate * 1000).rounded() / 1000), "target": 0.9,
        ]
        print(ratio.serialized())
    }

    /// Sends `requests` requests with `concurrency` in flight; returns the seconds it took.
    private static func measure(
        requests: Int, concurrency: Int, send: @escaping @Sendable () async throws -> Void
    ) async throws -> Double {
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                // Each worker sends its share: no shared counter to contend on.
                let share = requests / concurrency + (worker < requests % concurrency ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { try await send() }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = (ContinuousClock.now - start).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
    }

    private static func option(_ name: String, in args: [String]) -> Int? {
        guard let index = args.firstIndex(of: name), index + 1 < args.count else { return nil }
        return Int(args[index + 1])
    }

    struct BenchmarkFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}
