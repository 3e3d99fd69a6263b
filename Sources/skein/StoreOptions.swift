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
        do {
            return try SQLiteResultStore(path: resolvedPath)
        } catch {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
    }
}
