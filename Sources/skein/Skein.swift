import ArgumentParser
import SkeinKit

/// The `skein` command line: a thin layer over SkeinKit.
@main
struct Skein: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skein",
        abstract: "Run declarative prompt pipelines against OpenAI-compatible APIs.",
        version: SkeinVersion.current,
        subcommands: [RunCommand.self, ValidateCommand.self, GraphCommand.self, ModelsCommand.self, SchemaCommand.self]
    )
}
