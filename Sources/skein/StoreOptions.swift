import ArgumentParser
import Foundation
import SkeinKit

/// `--store PATH`, shared by every command that reads or writes the result store.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("store"),
            help: ArgumentHelp("The result store (SQLite). Default: $SKEIN_STORE, else .skein/skein.sqlite.", valueName: "path"))
    var path: String?

    var resolvedPath: String {
        if let path { return path }
        if let variable = ProcessInfo.processInfo.environment["SKEIN_STORE"], !variable.isEmpty { return variable }
        return SQLiteResultStore.defaultPath
    }

    /// Opens the store, or prints why not and exits 1.
    func open() throws -> SQLiteResultStore {
        guard !resolvedPath.isEmpty else {
            Terminal.standardError.write("error: --store needs a file path, got an empty one\n")
            throw ExitCode(2)
        }
        do {
            return try SQLiteResultStore(path: resolvedPath)
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
    }

    /// Whether a store file exists at the path (the commands that only read or delete
    /// must not create one at a mistyped path).
    var exists: Bool { FileManager.default.fileExists(atPath: resolvedPath) }

    /// Opens a store that must exist already, or prints that there is none and exits 1.
    func openExisting() throws -> SQLiteResultStore {
        guard resolvedPath.isEmpty || exists else {
            Terminal.standardError.write(
                "error: no store at '\(resolvedPath)'; skein run creates one there (pass --store PATH or set SKEIN_STORE to read another)\n")
            throw ExitCode(1)
        }
        return try open()
    }
}
