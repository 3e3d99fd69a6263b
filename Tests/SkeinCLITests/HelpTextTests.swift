import Foundation
import Testing

/// The `--help` text of every command, pinned as swift-argument-parser pins its examples':
/// a changed flag, default or sentence shows up here as a diff to review.
///
/// The expected texts are `Help/<command>.txt`, printed at 80 columns. After a deliberate
/// change, regenerate them with `SKEIN_RECORD_HELP=1 swift test --filter HelpTextTests`
/// and read the diff before committing it.
@Suite struct HelpTextTests {
    static let commands: [[String]] = [
        [], ["run"], ["test"], ["report"], ["validate"], ["graph"], ["models"], ["schema"], ["runs"], ["runs", "list"], ["runs", "show"],
        ["runs", "diff"], ["cache"], ["cache", "stats"], ["cache", "clear"], ["cache", "prune"], ["merge"],
    ]

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Help")

    @Test(arguments: commands)
    func helpTextIsPinned(_ command: [String]) async throws {
        let result = try await CLI.run(command + ["--help"], environment: ["COLUMNS": "80"])
        #expect(result.status == 0, "\(result.stderr)")
        let name = command.isEmpty ? "skein" : command.joined(separator: "-")
        let file = Self.folder.appendingPathComponent("\(name).txt")
        if ProcessInfo.processInfo.environment["SKEIN_RECORD_HELP"] == "1" {
            try result.stdout.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(result.stdout == expected, "skein \(command.joined(separator: " ")) --help changed; see HelpTextTests")
    }
}
