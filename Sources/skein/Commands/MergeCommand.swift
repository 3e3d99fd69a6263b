import ArgumentParser
import Foundation
import SkeinKit

/// `skein merge shard-0.jsonl shard-1.jsonl ... -o results.jsonl`: joins the results files
/// of `--shard` runs back into row order (`ResultsMerge` in SkeinKit does the merge).
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
        var inputs: [(name: String, handle: FileHandle)] = []
        for file in files {
            guard let handle = FileHandle(forReadingAtPath: file) else {
                Terminal.standardError.write("error: cannot read '\(file)'\n")
                throw ExitCode(1)
            }
            inputs.append((file, handle))
        }
        let output = try OutputFile(path: outputFile)
        do {
            let summary = try ResultsMerge.merge(inputs) { output.write($0) }
            try output.commit()
            Terminal.standardError.write("merged \(Terminal.count(summary.rows, "row")) from \(Terminal.count(files.count, "file"))\n")
            if summary.missingRows > 0 {
                let shown = summary.missingSample.map(String.init).joined(separator: ", ")
                    + (summary.missingRows > summary.missingSample.count ? ", …" : "")
                Terminal.standardError.write(
                    "warning: \(Terminal.count(summary.missingRows, "row")) between the first and the last are in no file (\(shown)): "
                        + "a shard's file left out, or rows that failed (see the shards' --errors files)\n")
            }
        } catch let error as DatasetError {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
    }
}
