import Foundation

/// Prints diagnostics as `file:line:col: severity: message`, the source line and a caret,
/// in the style of clang and ninja. Sources are read lazily and cached by path.
public struct DiagnosticRenderer: Sendable {
    private var sources: [String: [Substring]] = [:]

    public init() {}

    /// Registers the text of a file so excerpts do not need to read it again
    /// (and so in-memory pipelines get excerpts too).
    public mutating func addSource(_ text: String, for file: String) {
        sources[file] = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// The rendered diagnostic, ending without a newline.
    public mutating func render(_ diagnostic: Diagnostic) -> String {
        var out = diagnostic.description
        if let location = diagnostic.location, let line = sourceLine(location) {
            var scalars = Array(line.replacingOccurrences(of: "\t", with: " ").unicodeScalars)
            var caretColumn = max(1, min(location.column, scalars.count + 1))
            // Long lines are shown as a window around the caret.
            let window = 100
            if scalars.count > window {
                let start = max(0, min(caretColumn - 1 - window / 2, scalars.count - window))
                let end = min(scalars.count, start + window)
                let prefix: [Unicode.Scalar] = start > 0 ? Array("...".unicodeScalars) : []
                let suffix: [Unicode.Scalar] = end < scalars.count ? Array("...".unicodeScalars) : []
                scalars = prefix + Array(scalars[start..<end]) + suffix
                caretColumn = caretColumn - start + prefix.count
            }
            var text = ""
            text.unicodeScalars.append(contentsOf: scalars)
            out += "\n" + text
            out += "\n" + String(repeating: " ", count: caretColumn - 1) + "^"
        }
        for note in diagnostic.notes {
            out += "\n" + render(note)
        }
        return out
    }

    /// All diagnostics, then a count line like clang's (`2 errors, 1 warning`).
    public mutating func renderAll(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map { render($0) }.joined(separator: "\n")
    }

    private mutating func sourceLine(_ location: SourceLocation) -> String? {
        if sources[location.file] == nil {
            guard let data = FileManager.default.contents(atPath: location.file), data.count <= 10 << 20 else {
                return nil
            }
            addSource(String(decoding: data, as: UTF8.self), for: location.file)
        }
        guard let lines = sources[location.file], location.line >= 1, location.line <= lines.count else { return nil }
        var line = String(lines[location.line - 1])
        if line.hasSuffix("\r") { line.removeLast() }
        return line
    }
}

extension Diagnostic {
    /// The diagnostic as a JSON object for `--format json`.
    public var jsonValue: JSONValue {
        var object: JSONValue.JSONObject = [:]
        object["file"] = location.map { .string($0.file) } ?? .null
        object["line"] = location.map { .int($0.line) } ?? .null
        object["column"] = location.map { .int($0.column) } ?? .null
        object["severity"] = .string(severity.rawValue)
        object["message"] = .string(message)
        if !notes.isEmpty { object["notes"] = .array(notes.map(\.jsonValue)) }
        return .object(object)
    }
}

/// Suggests the closest candidate for a misspelled name (`temprature` → `temperature`).
public enum Suggestion {
    /// The candidate with the smallest edit distance, if it is close enough to be a likely typo.
    public static func closest(to name: String, in candidates: some Sequence<String>) -> String? {
        var best: (String, Int)?
        let limit = max(2, name.count / 3)
        for candidate in candidates {
            let distance = editDistance(name, candidate)
            if distance <= limit, best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        return best?.0
    }

    /// ` (did you mean 'x'?)` or an empty string.
    public static func didYouMean(_ name: String, in candidates: some Sequence<String>) -> String {
        closest(to: name, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Levenshtein distance over characters.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
