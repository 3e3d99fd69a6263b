import Foundation
import SkeinKit
import SkeinTesting

/// `skein-bench server [--latency-ms N | --latency-ms-min N --latency-ms-max N] [--rpm N [--window-seconds N]]
/// [--first-attempt-429 SHARE] [--token-interval-ms N] [--seed N] [--honor-max-tokens] [--bodies]
/// [--tls-certificate-out PATH]`: the
/// `skein-test-server` of the benchmarks that need the server's own account of each request. With
/// `--tls-certificate-out` it serves HTTPS (HTTP/2 by ALPN) with a new self-signed certificate, written there.
///
/// The same `SkeinTestServer` as `skein-test-server`, with its request record kept. Prints
/// `listening on http://HOST:PORT/v1`, then reads commands on stdin, one per line:
/// - `stats`: prints one JSON line: status counts, peak requests in flight, and per
///   completion request its arrival (seconds after the first arrival), the time the
///   server took to answer it (its latency, plus stream pacing), its status and, with
///   `--bodies`, the start of its last user message (how the harness tells steps apart); and the
///   connections that carried requests, and how many requests came as HTTP/2 streams;
/// - `reset`: forgets the record (not the rate-limit window);
/// - `rpm N`: changes the limit to N requests per window from now on (`rpm none`: no limit),
///   as a provider lowering a limit mid-run; prints `{"rpm":N,"at":SECONDS}`, when it changed
///   on the clock of the `stats` arrivals;
///
/// `--window-seconds` shortens the window `--rpm` counts over (60 s by default), for the short
/// runs of `scripts/bench-smoke`. `--first-attempt-429 SHARE` answers that share of the first
/// attempts of each distinct request body with 429, half with `Retry-After: 1`, half without,
/// and every retry with 200: load shedding, whatever the client's rate (issue 21).
///
/// - end of input: shuts down and exits.
enum RecordingServer {
    static func run(_ args: [String]) async throws {
        var latency: SkeinTestServer.Latency = .none
        if let fixed = BenchArguments.int("--latency-ms", in: args) { latency = .fixed(.milliseconds(fixed)) }
        if let minimum = BenchArguments.int("--latency-ms-min", in: args),
            let maximum = BenchArguments.int("--latency-ms-max", in: args)
        {
            latency = .uniform(min: .milliseconds(minimum), max: .milliseconds(maximum))
        }
        let bodies = args.contains("--bodies")
        var faults = SkeinTestServer.FaultConfiguration()
        if let share = BenchArguments.double("--first-attempt-429", in: args) {
            faults = .init(
                rateLimitRate: share / 2, rateLimitWithoutRetryAfterRate: share / 2, retryAfter: .seconds(1),
                firstAttemptsOnly: true)
        }
        let configuration = SkeinTestServer.Configuration(
            latency: latency,
            tokenInterval: .milliseconds(BenchArguments.int("--token-interval-ms", in: args) ?? 0),
            requestsPerMinute: BenchArguments.int("--rpm", in: args),
            rateLimitWindow: .seconds(BenchArguments.double("--window-seconds", in: args) ?? 60),
            honorsMaxTokens: args.contains("--honor-max-tokens"),
            faults: faults,
            seed: UInt64(BenchArguments.int("--seed", in: args) ?? 0),
            recordsBodies: bodies,
            recordsRequests: true,
            backlog: 16_384)
        var configured = configuration
        if let certificateOut = BenchArguments.string("--tls-certificate-out", in: args) {
            configured.tls = try TestServerTLS.selfSigned(certificateFile: certificateOut)
        }
        let server = try await SkeinTestServer.start(configured)
        emit("listening on \(server.baseURL)")
        for await command in StandardInputLines.stream() {
            switch command.trimmingCharacters(in: .whitespaces) {
            case "stats":
                emit(await stats(server, bodies: bodies).serialized())
            case "reset":
                await server.resetRecords()
                emit("{\"reset\":true}")
            case let line where line.hasPrefix("rpm "):
                let limit = Int(line.dropFirst(4).trimmingCharacters(in: .whitespaces))
                await server.setRequestsPerMinute(limit)
                // When, on the clock of the `stats` arrivals (seconds after the first arrival).
                let first = await server.requests.first { $0.path.hasSuffix("/completions") }?.arrival
                let at = first.map { (ContinuousClock.now - $0).benchSeconds } ?? 0
                emit("{\"rpm\":\(limit.map(String.init) ?? "null"),\"at\":\(at)}")
            default:
                break
            }
        }
        await server.shutdown()
    }

    /// Writes a line straight to fd 1. Not `print` + `fflush(nil)`: `fflush(nil)` takes the
    /// lock of every stream, stdin's included, which the reading thread holds while it waits.
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func stats(_ server: SkeinTestServer, bodies: Bool) async -> JSONValue {
        let records = await server.requests.filter { $0.path.hasSuffix("/completions") }
        let first = records.map(\.arrival).min()
        var requests: [JSONValue] = []
        for record in records {
            var entry: JSONValue.JSONObject = [
                "arrival": .double(first.map { (record.arrival - $0).benchSeconds } ?? 0),
                "seconds": record.completion.map { .double(($0 - record.arrival).benchSeconds) } ?? .null,
                "status": record.status.map { .int($0) } ?? .null,
            ]
            if bodies, let message = record.lastUserMessage { entry["prompt"] = .string(String(message.prefix(40))) }
            requests.append(.object(entry))
        }
        var statuses = JSONValue.JSONObject()
        for (status, count) in await server.statusCounts.sorted(by: { $0.key < $1.key }) {
            statuses[String(status)] = .int(count)
        }
        return [
            "statuses": .object(statuses),
            "peak_in_flight": .int(await server.maxConcurrentRequests),
            "connections": .int(server.connectionsUsed),
            "http2_requests": .int(server.http2Requests),
            "requests": .array(requests),
        ]
    }
}
