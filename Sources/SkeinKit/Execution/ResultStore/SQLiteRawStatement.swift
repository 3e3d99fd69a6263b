import GRDB
import GRDBSQLite

/// Runs one of GRDB's cached statements through SQLite's C API: the statements every
/// request runs (its history row, its reply in the cache, its cache lookup).
///
/// Written by hand for those few statements only. GRDB's `execute(arguments:)` boxes each
/// argument as an existential in a `StatementArguments` array, binds them through a closure
/// per argument, and around each step does the bookkeeping of features the store does not
/// use (transaction observers, access tracking). Measured on the engine-overhead benchmark
/// (2,000 requests): that wrapping took more CPU than SQLite's own inserts. The statements
/// still come from GRDB's statement cache and run inside GRDB's transactions; a failure is
/// thrown as GRDB's `DatabaseError`, so the callers' error handling is unchanged.
struct SQLiteRawStatement {
    private let statement: Statement
    private let connection: SQLiteConnection?
    private var handle: SQLiteStatement { statement.sqliteStatement }
    private var index: CInt = 0
    private var failure: CInt = SQLITE_OK

    /// The cached statement for `sql`, reset and ready for its arguments, bound in order
    /// with `bind`.
    init(_ db: Database, sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        connection = db.sqliteConnection
        // A statement that failed last time reports that failure once more on reset.
        sqlite3_reset(statement.sqliteStatement)
    }

    mutating func bind(_ value: String?) {
        index += 1
        guard failure == SQLITE_OK else { return }
        guard var value else { return failure = sqlite3_bind_null(handle, index) }
        failure = value.withUTF8 { bytes in
            // SQLITE_TRANSIENT: SQLite copies the text, so no closure has to outlive the step.
            guard let start = bytes.baseAddress, !bytes.isEmpty else {
                return sqlite3_bind_text(handle, index, "", 0, Self.transient)  // '' and not NULL
            }
            return UnsafeRawPointer(start).withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text(handle, index, $0, CInt(bytes.count), Self.transient)
            }
        }
    }

    mutating func bind(_ value: Int?) {
        index += 1
        guard failure == SQLITE_OK else { return }
        guard let value else { return failure = sqlite3_bind_null(handle, index) }
        failure = sqlite3_bind_int64(handle, index, Int64(value))
    }

    mutating func bind(_ value: Int64) { bind(Int(value)) }

    mutating func bind(_ value: Bool) { bind(value ? 1 : 0) }

    mutating func bind(_ value: Double) {
        index += 1
        guard failure == SQLITE_OK else { return }
        failure = sqlite3_bind_double(handle, index, value)
    }

    mutating func bind(_ value: Double?) {
        guard let value else {
            index += 1
            guard failure == SQLITE_OK else { return }
            return failure = sqlite3_bind_null(handle, index)
        }
        bind(value)
    }

    /// Runs a statement that returns no rows.
    mutating func execute() throws {
        let code = failure == SQLITE_OK ? sqlite3_step(handle) : failure
        guard code == SQLITE_DONE else { throw error(code) }
        sqlite3_reset(handle)
    }

    /// The first column of the first row as text, or nil when there is no row or it is NULL.
    mutating func text() throws -> String? {
        let code = failure == SQLITE_OK ? sqlite3_step(handle) : failure
        switch code {
        case SQLITE_DONE:
            sqlite3_reset(handle)
            return nil
        case SQLITE_ROW:
            defer { sqlite3_reset(handle) }
            guard let text = sqlite3_column_text(handle, 0) else { return nil }
            let count = Int(sqlite3_column_bytes(handle, 0))
            return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
        default:
            throw error(code)
        }
    }

    private func error(_ code: CInt) -> DatabaseError {
        let message = connection.map { String(cString: sqlite3_errmsg($0)) }
        sqlite3_reset(handle)
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }

    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
}
