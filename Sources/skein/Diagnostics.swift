import SkeinKit

/// Prints diagnostics to stderr with source excerpts.
enum Diagnostics {
    static func report(_ diagnostics: [Diagnostic], sourceText: String?, file: String) {
        guard !diagnostics.isEmpty else { return }
        var renderer = DiagnosticRenderer()
        if let sourceText { renderer.addSource(sourceText, for: file) }
        Terminal.standardError.write(renderer.renderAll(diagnostics) + "\n")
    }
}
