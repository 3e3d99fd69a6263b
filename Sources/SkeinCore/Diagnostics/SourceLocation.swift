/// A place in a source file: 1-based line and column (columns count Unicode scalars).
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:column`, as compilers print it.
    public var description: String { "\(file):\(line):\(column)" }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.file, a.line, a.column) < (b.file, b.line, b.column)
    }

    /// The location `count` columns to the right on the same line.
    public func advanced(byColumns count: Int) -> SourceLocation {
        SourceLocation(file: file, line: line, column: column + count)
    }
}

/// Maps positions inside a piece of text (a template taken from a YAML scalar, or a
/// prompt file) back to the pipeline file, so template errors point at the file.
///
/// `lineStarts[i]` is where line `i + 1` of the text begins in the file. For a block
/// scalar (`|`), text line `i` starts on file line `contentLine + i` at the indentation
/// column; for a quoted or plain single-line scalar, one entry after the opening quote.
public struct SourceMap: Sendable, Hashable {
    public var lineStarts: [SourceLocation]

    public init(lineStarts: [SourceLocation]) {
        precondition(!lineStarts.isEmpty, "a source map needs at least one line")
        self.lineStarts = lineStarts
    }

    /// Text that starts at `start` and whose lines are the file's lines (a prompt file,
    /// or a scalar with no indentation to strip).
    public static func identity(startingAt start: SourceLocation) -> SourceMap {
        SourceMap(lineStarts: [start])
    }

    /// The file location of 1-based `line` and `column` in the text.
    public func location(line: Int, column: Int) -> SourceLocation {
        if line - 1 < lineStarts.count, line >= 1 {
            return lineStarts[line - 1].advanced(byColumns: column - 1)
        }
        // Lines past the table continue one file line each from the last entry
        // (identity maps), starting at column 1.
        let last = lineStarts[lineStarts.count - 1]
        let extra = line - lineStarts.count
        if lineStarts.count == 1 && extra > 0 {
            return SourceLocation(file: last.file, line: last.line + extra, column: column)
        }
        return SourceLocation(file: last.file, line: last.line + max(0, extra), column: last.column + column - 1)
    }
}
