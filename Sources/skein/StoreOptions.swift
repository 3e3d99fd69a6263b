import ArgumentParser
import Foundation
import SkeinKit

/// `--store PATH|URL`, shared by every command that reads or writes the result store: a
/// SQLite file (one machine, the default) or a `postgres://` URL (a store shared by many).
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("store"),
            help: ArgumentHelp("The result store: a SQLite file, or postgres://USER@HOST/DB for one shared by many machines. Default: $SKEIN_STORE, else .skein/skein.sqlite.", valueName: "path|url"))
    var path: String?

    var resolvedPath: String {
        if let path { return path }
        if let variable = ProcessInfo.processInfo.environment["SKEIN_STORE"], !variable.isEmpty { return variable }
        return SQLiteResultStore.defaultPath
    }

    var isPostgres: Bool { PostgresURL.isPostgres(resolvedPath) }

    /// The store for messages: the path, or the URL without its password.
    var shownLocation: String { isPostgres ? ((try? PostgresURL(resolvedPath))?.description ?? PostgresURL.masked(resolvedPath)) : resolvedPath }

    /// Opens the store (creating it if needed), or prints why not and exits 1.
    func open() async throws -> any HistoryStore {
        try await open(create: true)
    }

    private func open(create: Bool) async throws -> any HistoryStore {
        guard !resolvedPath.isEmpty else {
            Terminal.standardError.write("error: --store needs a file path or a postgres:// URL, got an empty one\n")
            throw ExitCode(2)
        }
        do {
            if isPostgres {
                return try await PostgresResultStore.open(try PostgresURL(resolvedPath), create: create)
            }
            return try SQLiteResultStore(path: resolvedPath)
        } catch {
            Terminal.standardError.write("error: \(PostgresURL.masked("\(error)"))\n")
            throw ExitCode(1)
        }
    }

    /// Whether a store exists at the path (the commands that only read or delete must not
    /// create one at a mistyped path). A database is asked when it is opened.
    var exists: Bool { isPostgres || FileManager.default.fileExists(atPath: resolvedPath) }

    /// Opens a store that must exist already, or prints that there is none and exits 1.
    func openExisting() async throws -> any HistoryStore {
        guard resolvedPath.isEmpty || exists else {
            Terminal.standardError.write(
                "error: no store at '\(resolvedPath)'; skein run creates one there (pass --store PATH or set SKEIN_STORE to read another)\n")
            throw ExitCode(1)
        }
        return try await open(create: false)
    }
}
