import ArgumentParser
import SkeinKit

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of pipeline files (for editor completion).",
        discussion: "Point your editor at it with '# yaml-language-server: $schema=PATH' on a pipeline's first line."
    )

    func run() throws {
        Terminal.standardOutput.write(PipelineSchema.json)
    }
}
