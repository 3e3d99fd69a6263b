import AsyncHTTPClient
import Foundation
import NIOCore
import SkeinKit
import SkeinTesting

/// `skein-bench client [--requests N] [--concurrency N] [--rounds N] [--only skein|bare]`:
/// what the completion client costs over bare AsyncHTTPClient.
///
/// Starts a `SkeinTestServer` in this process (no latency, nothing recorded), then sends the
/// same non-streaming chat request `requests` times with `concurrency` in flight, once
/// through `HTTPCompletionClient` (encoding the body, limiter, retries, decoding the reply)
/// and once through a bare AsyncHTTPClient loop that posts the same bytes and only
/// collects the body, both with the same pool size. Rounds alternate which goes first; the
/// ratio is the median of each round's pair, the least disturbed figure on a busy machine.
/// `--only` runs one side, for profiling it alone.
enum ClientBenchmark {
    static func run(_ args: [String]) async throws {
        let requests = option("--requests", in: args) ?? 20_000
        let concurrency = option("--concurrency", in: args) ?? 64
        let rounds = option("--rounds", in: args) ?? 3
        let only = args.firstIndex(of: "--only").flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }

        let server = try await SkeinTestServer.start(.init(recordsBodies: false, recordsRequests: false))
        let provider = ProviderConfiguration(name: "bench", baseURL: server.baseURL, maxConcurrency: concurrency)
        let request = CompletionRequest.chat(
            model: "test-model",
            messages: [.system("You are terse."), .user("Summarize: the quick brown fox jumps over the lazy dog.")],
            sampling: SamplingParameters(temperature: 0.2, maxTokens: 64))
        let body = ByteBuffer(string: JSONValue.object(request.body).serialized())

        let bare = BareHTTPClient.make(concurrency: concurrency)
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

        var bareTimes: [Measurement] = []
        var skeinTimes: [Measurement] = []
        do {
            // Warm up: open the pools' connections and fault in the code paths.
            if only != "skein" { _ = try await measure(requests: concurrency * 20, concurrency: concurrency, send: sendBare) }
            if only != "bare" { _ = try await measure(requests: concurrency * 20, concurrency: concurrency, send: sendSkein) }
            for round in 0..<rounds {
                // Alternate which goes first, so neither always follows the other.
                let skeinFirst = round % 2 == 1
                if skeinFirst && only != "bare" {
                    skeinTimes.append(try await measure(requests: requests, concurrency: concurrency, send: sendSkein))
                }
                if only != "skein" {
                    bareTimes.append(try await measure(requests: requests, concurrency: concurrency, send: sendBare))
                }
                if !skeinFirst && only != "bare" {
                    skeinTimes.append(try await measure(requests: requests, concurrency: concurrency, send: sendSkein))
                }
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

        for (client, times) in [("async-http-client", bareTimes), ("skein", skeinTimes)] where !times.isEmpty {
            let line: JSONValue = [
                "benchmark": "client", "client": .string(client), "requests": .int(requests),
                "concurrency": .int(concurrency), "rounds": .int(rounds),
                "requests_per_second": .double(rounded(Double(requests) / median(times.map(\.wall)), places: 1)),
                // The process's CPU time, server included, per request.
                "cpu_microseconds_per_request": .double(
                    rounded(median(times.map(\.cpu)) / Double(requests) * 1e6, places: 1)),
                "seconds": .array(times.map { .double(rounded($0.wall, places: 3)) }),
            ]
            print(line.serialized())
        }
        guard !bareTimes.isEmpty && !skeinTimes.isEmpty else { return }
        let ratios = zip(skeinTimes, bareTimes).map { $1.wall / $0.wall }
        let ratio: JSONValue = [
            "benchmark": "client", "ratio": .double(rounded(median(ratios), places: 3)),
            "round_ratios": .array(ratios.map { .double(rounded($0, places: 3)) }), "target": 0.9,
        ]
        print(ratio.serialized())
    }

    struct Measurement {
        /// Wall-clock seconds.
        var wall: Double
        /// CPU seconds of the whole process meanwhile.
        var cpu: Double
    }

    /// Sends `requests` requests with `concurrency` in flight.
    private static func measure(
        requests: Int, concurrency: Int, send: @escaping @Sendable () async throws -> Void
    ) async throws -> Measurement {
        let cpuStart = cpuSeconds()
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
        return Measurement(
            wall: Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18, cpu: cpuSeconds() - cpuStart)
    }

    private static func cpuSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
    }

    private static func rounded(_ value: Double, places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (value * scale).rounded() / scale
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
