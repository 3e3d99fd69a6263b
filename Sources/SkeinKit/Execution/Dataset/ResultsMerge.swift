import Foundation

/// Joins the results files of `--shard` runs back into row order (`skein merge`).
///
/// Each file is already in row order, so this is a streaming k-way merge on the `row` field:
/// memory does not grow with the files. A row in two files is an error (the shards
/// overlapped); rows in no file are counted and reported, not refused (a shard's file left
/// out, or rows that failed and are in the shards' `--errors` files).
public enum ResultsMerge {
    public struct Summary: Sendable, Hashable {
        /// Rows written.
        public var rows = 0
        /// Rows between the first and the last that are in no file.
        public var missingRows = 0
        /// The first few of them (at most five).
        public var missingSample: [Int] = []

        public init() {}

        /// Counts a row written after `previous` (-1 before the first), and the rows between
        /// the two as missing.
        public mutating func count(row: Int, after previous: Int) {
            rows += 1
            guard row > previous + 1 else { return }
            missingRows += row - previous - 1
            for gap in (previous + 1)..<min(row, previous + 1 + 5) where missingSample.count < 5 { missingSample.append(gap) }
        }
    }

    /// Merges the files, calling `emit` with each line in row order.
    /// - Parameters:
    ///   - files: each file's name (for errors) and its open handle.
    ///   - emit: called once per row, in row order.
    /// - Throws: `DatasetError` for a line that is not a results line, rows out of order in a
    ///   file, or a row in more than one file.
    public static func merge(_ files: [(name: String, handle: FileHandle)], emit: (String) throws -> Void) throws -> Summary {
        let readers = files.map { ResultLines(handle: $0.handle, name: $0.name) }
        var heads: [(row: Int, line: String)?] = []
        for reader in readers { heads.append(try reader.next()) }
        var summary = Summary()
        var previous = -1
        var previousFile = ""
        while true {
            var best: Int?
            for (position, head) in heads.enumerated() {
                guard let head else { continue }
                if let chosen = best, let current = heads[chosen], current.row <= head.row { continue }
                best = position
            }
            guard let chosen = best, let head = heads[chosen] else { break }
            if head.row == previous {
                throw DatasetError(
                    "row \(head.row) is in more than one file (\(previousFile) and \(readers[chosen].name)): were the shards overlapping?")
            }
            summary.count(row: head.row, after: previous)
            previous = head.row
            previousFile = readers[chosen].name
            try emit(head.line)
            heads[chosen] = try readers[chosen].next()
        }
        return summary
    }
}

/// The lines of one results file with their `row` numbers, checked to be increasing.
final class ResultLines {
    private let reader: LineReader
    let name: String
    private var lineNumber = 0
    private var last = -1

    init(handle: FileHandle, name: String) {
        reader = LineReader(handle: handle)
        self.name = name
    }

    func next() throws -> (row: Int, line: String)? {
        while let line = reader.next() {
            lineNumber += 1
            if line.isEmpty { continue }
            guard let value = try? JSONValue(parsing: line), let row = value["row"]?.intValue else {
                throw DatasetError("\(name):\(lineNumber): not a results line (a JSON object with a 'row' number)")
            }
            guard row > last else {
                throw DatasetError("\(name):\(lineNumber): row \(row) comes after row \(last); results files are in row order")
            }
            last = row
            return (row, line)
        }
        return nil
    }
}
