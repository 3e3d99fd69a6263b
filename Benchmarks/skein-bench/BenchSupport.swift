import AsyncHTTPClient
import Foundation
import SkeinKit

/// Helpers shared by the benchmarks that take `--name value` options.
enum BenchArguments {
    static func string(_ name: String, in args: [String]) -> String? {
        guard let index = args.firstIndex(of: name), index + 1 < args.count else { return nil }
        return args[index + 1]
    }

    static func int(_ name: String, in args: [String]) -> Int? {
        string(name, in: args).flatMap { Int($0) }
    }

    static func double(_ name: String, in args: [String]) -> Double? {
        string(name, in: args).flatMap { Double($0) }
    }
}

extension Duration {
    /// Seconds as a Double.
    var benchSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// Lines read from stdin on a thread of their own, so that a blocking read never holds
/// one of the (two, on a small machine) threads of Swift's cooperative pool.
enum StandardInputLines {
    static func stream() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let thread = Thread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }
        thread.start()
        return stream
    }
}

/// The floor the benchmarks compare Skein with: a bare AsyncHTTPClient whose pool holds
/// `concurrency` connections per host (Skein's client sizes its pool the same way).
enum BareHTTPClient {
    static func make(concurrency: Int, caFile: String? = nil) -> HTTPClient {
        var pool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)
        pool.retryConnectionEstablishment = false
        var configuration = HTTPClient.Configuration(connectionPool: pool)
        configuration.httpVersion = .automatic
        if let caFile { configuration.tlsConfiguration = TrustedCertificates.configuration(caFile: caFile) }
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// `concurrency` connections spread over pools of at most `HTTPCompletionClient.shardSize`,
    /// as Skein's client spreads them: one AsyncHTTPClient pool opening 10,000 connections
    /// does quadratic work and fails requests with `getConnectionFromPoolTimeout`.
    static func makePools(concurrency: Int, caFile: String? = nil) -> [HTTPClient] {
        let layout = HTTPCompletionClient.poolLayout(connections: concurrency)
        return (0..<layout.pools).map { _ in make(concurrency: layout.connectionsPerPool, caFile: caFile) }
    }
}
