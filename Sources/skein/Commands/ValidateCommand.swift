import ArgumentParser
import Foundation
import SkeinKit

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check pipeline files: YAML, structure, templates and references.",
        discussion: "Exits 0 when every file is valid (warnings allowed), 1 otherwise."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: "Pipeline files to check.")
    var files: [String]

    @Option(help: "Diagnostics as human-readable text (stderr) or JSON (stdout).")
    var format: Format = .text

    func run() throws {
        var all: [Diagnostic] = []
        var renderer = DiagnosticRenderer()
        var failed = false
        for file in files {
            let result = PipelineValidator().validate(path: file)
            all += result.diagnostics
            if result.hasErrors { failed = true }
            if format == .text {
                if !result.diagnostics.isEmpty {
                    if let text = result.sourceText { renderer.addSource(text, for: file) }
                    Terminal.standardError.write(renderer.renderAll(result.diagnostics) + "\n")
                }
                let errors = result.diagnostics.filter { $0.severity == .error }.count
                let warnings = result.diagnostics.filter { $0.severity == .warning }.count
                Terminal.standardError.write(
                    errors == 0 ? "\(file): ok" + (warnings > 0 ? " (\(Terminal.count(warnings, "warning")))" : "") + "\n"
                        : "\(file): \(Terminal.count(errors, "error"))" + (warnings > 0 ? ", \(Terminal.count(warnings, "warning"))" : "") + "\n")
            }
        }
        if format == .json {
            Terminal.standardOutput.write(JSONValue.array(all.map(\.jsonValue)).serialized(.pretty) + "\n")
        }
        if failed { throw ExitCode(1) }
    }
}
