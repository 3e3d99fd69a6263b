import Foundation

/// A `postgres://` store URL, read the way libpq reads one (the parts Skein uses):
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?sslmode=MODE&sslrootcert=FILE`.
///
/// The password comes from the URL, else `PGPASSWORD`, else the password file
/// (`PGPASSFILE`, else `~/.pgpass`; `host:port:database:user:password` lines, `*` matching
/// anything). It is never part of `description`, which messages and the run history use.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    /// Where the password came from, for the error when the server refuses it.
    public var passwordSource: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode
    /// `sslrootcert`: the CA certificates (PEM) to verify the server with.
    public var rootCertificate: String?

    /// Whether `text` names a PostgreSQL store rather than a SQLite file.
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// - Throws: `StoreError` saying what is wrong with the URL (without its password).
    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard Self.isPostgres(text), let components = URLComponents(string: text) else {
            throw StoreError("'\(Self.masked(text))' is not a PostgreSQL URL: write postgres://USER@HOST:PORT/DATABASE")
        }
        guard let host = components.host, !host.isEmpty else {
            throw StoreError("the store URL '\(Self.masked(text))' names no host: write postgres://USER@HOST:PORT/DATABASE")
        }
        self.host = host
        port = components.port ?? environment["PGPORT"].flatMap(Int.init) ?? 5432
        user = components.user.flatMap { $0.removingPercentEncoding }.flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["PGUSER"] ?? ProcessInfo.processInfo.userName
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.removingPercentEncoding.flatMap { $0.isEmpty ? nil : $0 } ?? environment["PGDATABASE"] ?? user
        var mode = TLSMode.prefer
        if let given = environment["PGSSLMODE"], let parsed = TLSMode(rawValue: given) { mode = parsed }
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let parsed = TLSMode(rawValue: value) else {
                    throw StoreError("sslmode=\(item.value ?? "") in the store URL is not a mode: use one of "
                        + TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                mode = parsed
            case "sslrootcert": rootCertificate = item.value
            case "application_name", "connect_timeout": break
            default:
                throw StoreError("the store URL has a parameter '\(item.name)' Skein does not read: it reads sslmode and sslrootcert")
            }
        }
        tls = mode
        if let given = components.password, !given.isEmpty {
            password = given.removingPercentEncoding ?? given
            passwordSource = "the URL"
        } else if let variable = environment["PGPASSWORD"], !variable.isEmpty {
            password = variable
            passwordSource = "PGPASSWORD"
        } else {
            let file = environment["PGPASSFILE"] ?? (environment["HOME"].map { $0 + "/.pgpass" } ?? NSHomeDirectory() + "/.pgpass")
            if let found = Self.passwordFile(file, host: host, port: port, database: database, user: user) {
                password = found
                passwordSource = file
            }
        }
    }

    /// The URL with its password replaced by `***` (and without it when none was given).
    public var description: String {
        var text = "postgres://\(user)"
        if passwordSource == "the URL" { text += ":***" }
        text += "@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        if tls != .prefer { text += "?sslmode=\(tls.rawValue)" }
        return text
    }

    /// Any text that may hold a URL with a password, with the password masked.
    public static func masked(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].firstIndex(of: "@") else { return text }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }

    /// The password of the first matching line of a `.pgpass` file, as libpq reads it.
    static func passwordFile(_ path: String, host: String, port: Int, database: String, user: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields: [String] = []
            var current = ""
            var escaped = false
            for character in line {
                if escaped {
                    current.append(character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == ":" && fields.count < 4 {
                    fields.append(current)
                    current = ""
                } else {
                    current.append(character)
                }
            }
            fields.append(current)
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }
}
