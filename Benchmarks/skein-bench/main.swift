import Foundation

/// `skein-bench NAME [args]`: runs one benchmark and prints its figures as JSON lines.
/// Each benchmark lives in its own file and registers itself in `benchmarks` below.
var benchmarks: [String: @Sendable ([String]) async throws -> Void] = [:]
benchmarks["templates"] = TemplateBenchmark.run
benchmarks["client"] = ClientBenchmark.run
benchmarks["floor"] = FloorBenchmark.run
benchmarks["retry-floor"] = RetryFloorBenchmark.run
benchmarks["server"] = RecordingServer.run
benchmarks["json"] = JSONBenchmark.run

let arguments = CommandLine.arguments.dropFirst()
guard let name = arguments.first, let benchmark = benchmarks[name] else {
    FileHandle.standardError.write(Data("usage: skein-bench NAME [args]; NAME is one of: \(benchmarks.keys.sorted().joined(separator: ", "))\n".utf8))
    exit(2)
}
try await benchmark(Array(arguments.dropFirst()))
