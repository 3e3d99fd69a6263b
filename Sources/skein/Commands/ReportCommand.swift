import ArgumentParser
import Foundation
import SkeinKit

/// `skein report` (DESIGN.md section 9): one self-contained HTML page about a stored run.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page about a run: graph, timeline, every prompt and reply, cost.",
        discussion: """
            The page has its style and script inline and fetches nothing, so it opens from a file, \
            offline, and can be attached to a CI job. Everything a model or a user wrote shows as text.
            """
    )

    @Argument(help: "A run number, 'last', or 'last~N' (N runs before the last).")
    var run: String = "last"

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the page (default: skein-report-RUN.html).", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Also show this run's outputs side by side with a line diff.", valueName: "run"))
    var against: String?

    @OptionGroup var storeOptions: StoreOptions

    func run() async throws {
        let store = try await storeOptions.openExisting()
        let (id, report) = try await RunsCommand.List.guarded {
            let id = try await store.resolveRun(run)
            var againstID: Int64?
            if let against { againstID = try await store.resolveRun(against) }
            return (id, try await RunReport.load(store: store, run: id, against: againstID))
        }
        try Self.write(report, to: output ?? "skein-report-\(id).html")
    }

    /// Writes a report whole (through `OutputPath`), and says where on stderr.
    static func write(_ report: RunReport, to path: String, option: String = "-o") throws {
        do {
            let target = try OutputPath(path, option: option)
            try target.write(report.html())
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        Terminal.standardError.write("report of run \(report.detail.summary.id) written to \(path) (\(CacheCommand.Stats.bytes(size)))\n")
    }
}
