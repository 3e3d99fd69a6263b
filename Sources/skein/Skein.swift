import ArgumentParser
import Foundation
import SkeinKit

/// The `skein` command line: a thin layer over SkeinKit.
@main
struct Skein: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skein",
        abstract: "Run declarative prompt pipelines against OpenAI-compatible APIs.",
        version: SkeinVersion.current,
        subcommands: [
            RunCommand.self, TestCommand.self, ReportCommand.self, ValidateCommand.self, GraphCommand.self, ModelsCommand.self, SchemaCommand.self, RunsCommand.self,
            CacheCommand.self, MergeCommand.self,
        ]
    )

    /// Runs the command, with DESIGN.md's exit codes: ArgumentParser reports bad usage as
    /// 64 (EX_USAGE); Skein promises 2.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code.rawValue == 64 {
                let message = fullMessage(for: error)
                if !message.isEmpty { Terminal.standardError.write(message + "\n") }
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
