import Foundation

/// A throwaway database on a PostgreSQL server, for tests of the shared result store
/// (`PostgresResultStore`): created under a new name, dropped (with its connections) after.
///
/// The server comes from `SKEIN_TEST_POSTGRES_URL` (a superuser's URL, as `scripts/postgres
/// start` prints it); without it, `serverURL` is nil and the tests that need one say they
/// were skipped and why (`missingReason`). Databases are made and dropped with `psql`, from
/// the same Debian package as the server, so that this needs no second PostgreSQL client.
public struct PostgresScratchDatabase: Sendable {
    /// The new database's URL.
    public let url: String
    public let name: String
    let serverURL: String

    /// The server the tests use, if any.
    public static var serverURL: String? {
        let value = ProcessInfo.processInfo.environment["SKEIN_TEST_POSTGRES_URL"]
        return value?.isEmpty == false ? value : nil
    }

    /// Why the PostgreSQL tests skip when there is no server.
    public static var missingReason: String {
        ProcessInfo.processInfo.environment["SKEIN_POSTGRES_MISSING"]
            ?? "SKEIN_TEST_POSTGRES_URL is not set (scripts/test starts a server and sets it)"
    }

    /// Creates a database, or returns nil (saying so on stderr) when there is no server.
    public static func create(for test: String = #function) async throws -> PostgresScratchDatabase? {
        guard let serverURL else {
            FileHandle.standardError.write(Data("skipped the PostgreSQL half of \(test): \(missingReason)\n".utf8))
            return nil
        }
        let name = "skein_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try await psql(serverURL, "CREATE DATABASE \(name)")
        return PostgresScratchDatabase(url: replacingDatabase(of: serverURL, with: String(name)), name: String(name), serverURL: serverURL)
    }

    /// Runs SQL in this database (to break things on purpose: a newer schema, a killed connection).
    @discardableResult
    public func execute(_ sql: String) async throws -> String { try await Self.psql(url, sql) }

    /// Runs SQL on the server's own database (`pg_terminate_backend` of this database's connections, say).
    @discardableResult
    public func executeOnServer(_ sql: String) async throws -> String { try await Self.psql(serverURL, sql) }

    /// Drops the database and closes its connections, in a `psql` left to finish on its own:
    /// called from `defer`, which cannot await, and a wait there would block a thread of the
    /// cooperative pool (see `ChildProcess`). The child outlives this process if need be.
    public func drop() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["psql", serverURL, "-X", "-q", "-c", "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }

    static func replacingDatabase(of url: String, with name: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + name
        return components.string ?? url
    }

    @discardableResult
    static func psql(_ url: String, _ sql: String) async throws -> String {
        let result = try await ChildProcess.run(["psql", url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        guard result.status == 0 else {
            throw PostgresScratchError(message: "psql failed (\(result.status)): \(result.errorText)")
        }
        return result.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

public struct PostgresScratchError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
