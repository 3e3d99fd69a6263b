import Foundation
import SkeinTesting
import Synchronization

/// Paths of the repository and the test fixtures, found from this file's location.
enum TestPaths {
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures: URL = repositoryRoot.appendingPathComponent("Tests/SkeinKitTests/Fixtures")
    static func fixture(_ path: String) -> String { fixtures.appendingPathComponent(path).path }

    /// The Python interpreter used by differential tests: `SKEIN_PYTHON`, else `.venv/bin/python`
    /// when it exists, else `python3`.
    static var python: String {
        if let python = ProcessInfo.processInfo.environment["SKEIN_PYTHON"], !python.isEmpty { return python }
        return "python3"
    }
}

/// Runs a test oracle (`python3 script args...`) and returns what it printed.
enum PythonScript {
    struct Exit: Error {
        var status: Int32
        var standardError: String
    }

    /// - Throws: `Exit` with the status and stderr when the script does not exit 0.
    static func run(_ script: String, _ arguments: [String]) async throws -> Data {
        let result = try await ChildProcess.run([TestPaths.python, script] + arguments)
        guard result.status == 0 else { throw Exit(status: result.status, standardError: result.errorText) }
        return result.standardOutput
    }
}

/// Lines collected from `@Sendable` callbacks or concurrent work.
final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
