import ArgumentParser
import Foundation
import SkeinKit

/// `skein merge shard-0.jsonl shard-1.jsonl ... -o results.jsonl`: joins the results files
/// of `--shard` runs back into row order. Each file is already in row order, so this is a
/// streaming k-way merge on the `row` field: memory does not grow with the files.
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the results files of --shard runs back into row order.")

    @Argument(help: "Results files (JSON Lines with a 'row' field), one per shard.")
    var files: [String]

    @Option(name: .customShort("o"), help: ArgumentHelp("Write here instead of stdout.", valueName: "file"))
    var outputFile: String?

    func validate() throws {
        if files.isEmpty { throw ValidationError("give the results files to merge") }
    }

    func run() async throws {
        var readers: [(name: String, lines: ResultLines)] = []
        for file in files {
            guard let handle = FileHandle(forReadingAtPath: file) else {
                Terminal.standardError.write("error: cannot read '\(file)'\n")
                throw ExitCode(1)
            }
            readers.append((file, ResultLines(handle: handle, name: file)))
        }
        let output = try OutputFile(path: outputFile)
        var heads: [(row: Int, line: String)?] = []
        do {
            for reader in readers { heads.append(try reader.lines.next()) }
            var previous = -1
            var previousFile = ""
            var count = 0
            // Rows absent from every file: a shard's file left out, or rows that failed
            // (they are in the shards' --errors files). Said, not refused.
            var missing: [Int] = []
            var missingCount = 0
            while true {
                var best: Int?
                for (position, head) in heads.enumerated() {
                    guard let head else { continue }
                    if best == nil || head.row < heads[best!]!.row { best = position }
                }
                guard let chosen = best, let head = heads[chosen] else { break }
                if head.row == previous {
                    throw DatasetError(
                        "row \(head.row) is in more than one file (\(previousFile) and \(readers[chosen].name)): were the shards overlapping?")
                }
                if head.row > previous + 1 {
                    missingCount += head.row - previous - 1
                    for row in (previous + 1)..<min(head.row, previous + 1 + 5) where missing.count < 5 { missing.append(row) }
                }
                previous = head.row
                previousFile = readers[chosen].name
                output.write(head.line)
                count += 1
                heads[chosen] = try readers[chosen].lines.next()
            }
            try output.commit()
            Terminal.standardError.write("merged \(Terminal.count(count, "row")) from \(Terminal.count(files.count, "file"))\n")
            if missingCount > 0 {
                let shown = missing.map(String.init).joined(separator: ", ") + (missingCount > missing.count ? ", …" : "")
                Terminal.standardError.write(
                    "warning: \(Terminal.count(missingCount, "row")) between the first and the last are in no file (\(shown)): "
                        + "a shard's file left out, or rows that failed (see the shards' --errors files)\n")
            }
        } catch let error as DatasetError {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
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
