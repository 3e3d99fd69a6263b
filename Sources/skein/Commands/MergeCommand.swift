import ArgumentParser
import Foundation
import SkeinKit
import Synchronization

/// `skein merge shard-0.jsonl shard-1.jsonl ... -o results.jsonl`: joins the results files
/// of `--shard` runs back into row order (`ResultsMerge` in SkeinKit does the merge).
/// `skein merge --store STORE --run NAME -o results.jsonl`: assembles them from the store the
/// shards shared, without their files.
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the results files of --shard runs back into row order.")

    @Argument(help: "Results files (JSON Lines with a 'row' field), one per shard.")
    var files: [String] = []

    @Option(help: ArgumentHelp("Read the rows from the store instead of files: the runs started with --run-name NAME (or a run number).", valueName: "name"))
    var run: String?

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .customShort("o"), help: ArgumentHelp("Write here instead of stdout.", valueName: "file"))
    var outputFile: String?

    func validate() throws {
        if run != nil && !files.isEmpty {
            throw ValidationError("give the results files, or --run NAME to read the rows from the store, not both")
        }
        if run == nil && files.isEmpty { throw ValidationError("give the results files to merge, or --run NAME with --store") }
    }

    func run() async throws {
        if let run { return try await mergeFromStore(run) }
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
                Terminal.standardError.write(
                    "warning: \(Terminal.count(summary.missingRows, "row")) between the first and the last are in no file (\(Self.shown(summary))): "
                        + "a shard's file left out, or rows that failed (see the shards' --errors files)\n")
            }
        } catch let error as DatasetError {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
    }

    static func shown(_ summary: ResultsMerge.Summary) -> String {
        summary.missingSample.map(String.init).joined(separator: ", ") + (summary.missingRows > summary.missingSample.count ? ", …" : "")
    }

    /// The rows of the runs named `reference` (or of the run it numbers, with the runs that
    /// share its name), from the store, in row order.
    func mergeFromStore(_ reference: String) async throws {
        let store = try await storeOptions.openExisting()
        defer { Task { await store.close() } }
        let ids: [Int64]
        do {
            var named = try await store.runs(named: reference)
            if named.isEmpty {
                guard Int64(reference) != nil || reference.hasPrefix("last") else {
                    throw StoreError("no run in \(store.location) is named '\(reference)': start the shards with "
                        + "--run-name \(reference) (or SKEIN_RUN_NAME), or give a run number ('skein runs list' shows them)")
                }
                let id = try await store.resolveRun(reference)
                let summary = try await store.run(id).summary
                if let name = summary.name { named = try await store.runs(named: name) } else { named = [id] }
            }
            ids = named
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
        // The shards the runs cover, to name the ones missing.
        var shards = Set<Int>(), count: Int?
        for id in ids {
            guard let detail = try? await store.run(id), let object = try? JSONValue(parsing: detail.options) else { continue }
            if let text = object["shard"]?.stringValue, let shard = Shard(parsing: text) {
                shards.insert(shard.index)
                count = shard.count
            }
        }
        let output = try OutputFile(path: outputFile)
        // The summary and the row before, as the file merge keeps them.
        let counted = Mutex((summary: ResultsMerge.Summary(), previous: -1))
        do {
            try await store.forEachResultLine(runs: ids) { row, line in
                output.write(line)
                counted.withLock { state in
                    state.summary.count(row: row, after: state.previous)
                    state.previous = row
                }
            }
            try output.commit()
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
        let merged = counted.withLock { $0.summary }
        Terminal.standardError.write("merged \(Terminal.count(merged.rows, "row")) from \(Terminal.count(ids.count, "run")) in \(store.location)\n")
        if let count {
            let absent = (0..<count).filter { !shards.contains($0) }
            if !absent.isEmpty {
                Terminal.standardError.write("warning: no run of shard \(absent.map { "\($0)/\(count)" }.joined(separator: ", ")) "
                    + "under this name: its rows are missing\n")
            }
        }
        if merged.missingRows > 0 {
            Terminal.standardError.write(
                "warning: \(Terminal.count(merged.missingRows, "row")) between the first and the last are in no run (\(Self.shown(merged))): a shard that did not run, "
                    + "or rows interrupted before they finished\n")
        }
    }
}
