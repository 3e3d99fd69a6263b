import AsyncHTTPClient
import Foundation
import NIOCore

/// `skein-bench floor --url BASE_URL [--requests N] [--concurrency N] [--model M] [--ca-file PEM]
/// [--api async|futures]`: the floor of the engine-overhead comparison (BENCHMARKS.md, "Engine overhead").
///
/// `--api futures` sends the same requests through AsyncHTTPClient's EventLoopFuture API
/// (`execute(request:deadline:)`, the body accumulated by the library) instead of its
/// async/await API (`execute(_:deadline:)`, what Skein uses): the memory section measures what
/// the async API's frames cost per request in flight.
///
/// A bare AsyncHTTPClient loop against a server in another process: `concurrency` workers
/// post the chat requests a `for_each` step of the benchmark pipeline sends (item `i` asks
/// "Summarize item i in one word.", temperature 0.2, max_tokens 16) and only collect the
/// reply bodies; no JSON decoding, no limits, no store. Over 512 connections, worker `w`
/// uses pool `w % pools` (see `BareHTTPClient.makePools`). Prints one JSON line with the time
/// from the first request to the last reply; the harness adds the process's wall time, CPU
/// time and peak memory.
enum FloorBenchmark {
    static func run(_ args: [String]) async throws {
        guard let baseURL = BenchArguments.string("--url", in: args) else {
            throw ClientBenchmark.BenchmarkFailure(message: "floor needs --url BASE_URL")
        }
        let requests = BenchArguments.int("--requests", in: args) ?? 2_000
        let concurrency = BenchArguments.int("--concurrency", in: args) ?? 64
        let model = BenchArguments.string("--model", in: args) ?? "test-model"

        let pools = BareHTTPClient.makePools(
            concurrency: concurrency, caFile: BenchArguments.string("--ca-file", in: args))
        let url = baseURL + "/chat/completions"
        let modelJSON = "\"" + model + "\""
        let futures = BenchArguments.string("--api", in: args) == "futures"

        let start = ContinuousClock.now
        let result: Result<Int, any Error>
        do {
            let bytes = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<concurrency {
                    let client = pools[worker % pools.count]
                    group.addTask {
                        var received = 0
                        var item = worker
                        while item < requests {
                            let body =
                                "{\"model\":\(modelJSON),\"messages\":[{\"role\":\"user\",\"content\":\"Summarize item \(item) in one word.\"}],\"temperature\":0.2,\"max_tokens\":16}"
                            if futures {
                                let post = try HTTPClient.Request(
                                    url: url, method: .POST,
                                    headers: ["content-type": "application/json", "accept": "application/json"],
                                    body: .byteBuffer(ByteBuffer(string: body)))
                                let response = try await client.execute(request: post, deadline: .now() + .seconds(60)).get()
                                guard response.status == .ok else {
                                    throw ClientBenchmark.BenchmarkFailure(message: "status \(response.status.code)")
                                }
                                received += response.body?.readableBytes ?? 0
                                item += concurrency
                                continue
                            }
                            var post = HTTPClientRequest(url: url)
                            post.method = .POST
                            post.headers.add(name: "content-type", value: "application/json")
                            post.headers.add(name: "accept", value: "application/json")
                            post.body = .bytes(ByteBuffer(string: body))
                            let response = try await client.execute(post, timeout: .seconds(60))
                            let reply = try await response.body.collect(upTo: 1 << 20)
                            guard response.status == .ok else {
                                throw ClientBenchmark.BenchmarkFailure(message: "status \(response.status.code)")
                            }
                            received += reply.readableBytes
                            item += concurrency
                        }
                        return received
                    }
                }
                return try await group.reduce(0, +)
            }
            result = .success(bytes)
        } catch {
            result = .failure(error)
        }
        let elapsed = (ContinuousClock.now - start).benchSeconds
        for pool in pools { try await pool.shutdown() }
        let bytes = try result.get()
        print(
            "{\"benchmark\":\"floor\",\"requests\":\(requests),\"concurrency\":\(concurrency),"
                + "\"seconds\":\(elapsed),\"reply_bytes\":\(bytes)}")
    }
}
