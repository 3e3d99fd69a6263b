import Foundation
import Testing
@testable import SkeinCore
@testable import SkeinKit
import SkeinTesting

@Suite struct PipelineGraphTests {
    func graph(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> PipelineGraph {
        let loaded = PipelineLoader().load(text: text, path: "p.yaml")
        let pipeline = try #require(loaded.pipeline, "\(loaded.diagnostics)", sourceLocation: sourceLocation)
        let (compiled, templateDiagnostics) = CompiledPipeline.compile(pipeline)
        let compiledPipeline = try #require(compiled, "\(templateDiagnostics)", sourceLocation: sourceLocation)
        let (graph, diagnostics) = PipelineGraph.build(compiledPipeline)
        return try #require(graph, "\(diagnostics)", sourceLocation: sourceLocation)
    }

    let diamond = """
        version: 1
        name: diamond
        inputs:
          topic: {type: string}
        steps:
          a:
            prompt: "Write about {{ inputs.topic }}"
          b:
            prompt: "Critique {{ steps.a.output }}"
          c:
            for_each: "{{ [1, 2] }}"
            as: n
            prompt: "Variant {{ n }} of {{ steps.a.output }}"
          d:
            when: "{{ steps.b.status == 'finished' }}"
            output: {schema: {type: object, properties: {verdict: {type: string}}}}
            prompt: "Merge {{ steps.b.output }} and {{ steps.c.output }}"
          lone:
            prompt: "Say hi"
            model: m
        outputs:
          verdict: "{{ steps.d.output.verdict }}"
          hi: "{{ steps.lone.output }}"
        """

    @Test func edgesComeFromReferencesOnly() throws {
        let graph = try graph(diamond)
        let deps = graph.dependencies.map { $0.map { graph.names[$0] } }
        #expect(deps == [[], ["a"], ["a"], ["b", "c"], []])
        #expect(graph.statusDependencies[3] == [1])
        #expect(graph.levels == [0, 1, 1, 2, 0])
        #expect(graph.criticalPath.map { graph.names[$0] } == ["a", "b", "d"])
        #expect(graph.order.map { graph.names[$0] } == ["a", "lone", "b", "c", "d"])
    }

    @Test func textExportListsLevelsAndCriticalPath() throws {
        #expect(try graph(diamond).text() == """
            level 0:
              * a
                lone
            level 1:
              * b <- a
                c <- a  [for each n in [1, 2]]
            level 2:
              * d <- b, c  [when steps.b.status == 'finished'; → {verdict}]
            critical path (3 steps): a -> b -> d

            """)
    }

    @Test func mermaidExportShowsShapesAndEdges() throws {
        let mermaid = try graph(diamond).mermaid()
        #expect(mermaid.hasPrefix("flowchart TD\n"))
        #expect(mermaid.contains("  step_c[[\"c<br/>for each n in [1, 2]\"]]\n"))
        #expect(mermaid.contains("  step_d{{\"d<br/>when steps.b.status == 'finished'<br/>→ #123;verdict#125;\"}}\n"))
        #expect(mermaid.contains("  step_b -- status --> step_d\n"))
        #expect(mermaid.contains("  input_topic -.-> step_a\n"))
        #expect(mermaid.contains("  step_d --> output_verdict\n"))
        try MermaidGrammar.check(mermaid)
    }

    @Test func dotExportPassesGraphviz() async throws {
        let dot = try graph(diamond).dot()
        #expect(dot.contains("\"b\" -> \"d\" [label=\"status\", penwidth=2];"))
        let svg = try await Self.run(["dot", "-Tsvg"], input: dot)
        #expect(svg.contains("<svg"))
    }

    /// Every example pipeline graphs in every format, and its DOT passes Graphviz.
    @Test func everyExamplePipelineGraphs() async throws {
        let folder = TestPaths.repositoryRoot.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        #expect(!files.isEmpty)
        for file in files {
            let validator = PipelineValidator(loader: PipelineLoader(configuration: .init(workingDirectory: TestPaths.repositoryRoot.path)))
            let (graph, result) = validator.validateGraph(path: folder.appendingPathComponent(file).path)
            let valid = try #require(graph, "\(file): \(result.diagnostics)")
            try MermaidGrammar.check(valid.mermaid())
            #expect(try await Self.run(["dot", "-Tsvg"], input: valid.dot()).contains("<svg"), "\(file)")
            #expect(valid.text().contains("critical path"))
        }
    }

    @Test func generatedTwoThousandStepPipelineBuildsLinearly() throws {
        var text = "version: 1\nsteps:\n"
        for index in 0..<2000 {
            text += "  s\(index):\n    model: m\n"
            text += index < 10 ? "    prompt: start\n" : "    prompt: \"{{ steps.s\(index - 10).output }} {{ steps.s\(index / 2).output }}\"\n"
        }
        let graph = try graph(text)
        #expect(graph.stepCount == 2000)
        #expect(graph.criticalPath.count == 200)
    }

    static func run(_ arguments: [String], input: String) async throws -> String {
        let result = try await ChildProcess.run(arguments, input: Data(input.utf8))
        #expect(result.status == 0, "\(arguments.joined(separator: " ")) failed")
        return result.text
    }
}

/// A checker for the subset of Mermaid's flowchart grammar that `mermaid()` emits: the
/// header, node declarations with their shapes, links and linkStyle lines, with ids that
/// are declared before use. (mermaid-cli needs npm, which this machine cannot reach.)
enum MermaidGrammar {
    struct Problem: Error, CustomStringConvertible { var description: String }

    static func check(_ text: String) throws {
        var lines = text.split(separator: "\n").map(String.init)
        guard lines.first == "flowchart TD" else { throw Problem(description: "missing 'flowchart TD' header") }
        lines.removeFirst()
        let id = #"[A-Za-z_][A-Za-z0-9_]*"#
        let label = #""[^"]*""#
        let node = try Regex("^  (\(id))(\\[\\[\(label)\\]\\]|\\[\(label)\\]|\\{\\{\(label)\\}\\}|\\(\\[\(label)\\]\\)|\\[/\(label)/\\])$")
        let link = try Regex("^  (\(id)) (-->|-\\.->|-- [a-z]+ -->) (\(id))$")
        let style = try Regex(#"^  linkStyle [0-9]+(,[0-9]+)* [a-z-]+:[0-9a-z]+$"#)
        var declared = Set<String>()
        var links = 0
        for line in lines {
            if let match = line.wholeMatch(of: node) {
                declared.insert(String(match.output[1].substring ?? ""))
                if line.dropFirst(2).contains(where: { $0 == "\n" }) { throw Problem(description: "newline in label") }
            } else if let match = line.wholeMatch(of: link) {
                for index in [1, 3] {
                    let name = String(match.output[index].substring ?? "")
                    if !declared.contains(name) { throw Problem(description: "link to undeclared node \(name): \(line)") }
                }
                links += 1
            } else if line.wholeMatch(of: style) != nil {
                let numbers = line.split(separator: " ")[1].split(separator: ",").compactMap { Int($0) }
                if numbers.contains(where: { $0 >= links }) { throw Problem(description: "linkStyle index out of range: \(line)") }
            } else {
                throw Problem(description: "not valid Mermaid flowchart syntax: \(line)")
            }
        }
    }
}
