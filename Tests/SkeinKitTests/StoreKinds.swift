import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// The two result stores, for tests that must hold for both: SQLite in a temporary
/// directory, PostgreSQL in a scratch database (skipped, saying why, without a server).
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// A fresh store of this kind, or nil when this kind cannot run here; `cleanup` deletes it.
    func open(for test: String = #function) async throws -> (store: any HistoryStore, cleanup: @Sendable () -> Void)? {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-store-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let store = try SQLiteResultStore(path: directory.appendingPathComponent("store.sqlite").path)
            return (store, { try? FileManager.default.removeItem(at: directory) })
        case .postgres:
            guard let database = try await PostgresScratchDatabase.create(for: test) else { return nil }
            let store = try await PostgresResultStore.open(try PostgresURL(database.url))
            return (store, { database.drop() })
        }
    }
}
