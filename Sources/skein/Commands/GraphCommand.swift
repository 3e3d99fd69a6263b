import ArgumentParser
import SkeinKit

struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Print a pipeline's dependency graph.",
        discussion: """
            mermaid renders on GitHub and in most Markdown viewers; dot feeds Graphviz \
            (skein graph p.yaml --format dot | dot -Tsvg > p.svg); text lists steps by level \
            with the critical path marked '*'.
            """
    )

    @Argument(help: "The pipeline file.")
    var file: String

    @Option(help: "mermaid, dot or text.")
    var format: PipelineGraph.ExportFormat = .mermaid

    func run() throws {
        let (graph, result) = PipelineValidator().validateGraph(path: file)
        Diagnostics.report(result.diagnostics, sourceText: result.sourceText, file: file)
        guard let graph else { throw ExitCode(1) }
        Terminal.standardOutput.write(graph.export(format))
    }
}

extension PipelineGraph.ExportFormat: ExpressibleByArgument {}
