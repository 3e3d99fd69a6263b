import Foundation

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
