import Foundation
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// Found while running the suite under the sanitizers (RELIABILITY.md, "Sanitizers"): two
/// processes opening the same new store at once could fail with "table completions already
/// exists". GRDB's migrator reads which migrations are applied before it takes the write
/// lock, so both saw an empty database and the second created the tables again. Several
/// `SQLiteResultStore`s (each with its own connections) opening one new file at the same
/// time show the same race in one process.
@Suite struct StoreOpenRaceTests {
    @Test func storesOpeningOneNewFileAtOnceAllSucceed() throws {
        let failures = try Self.openFourAtOnce(label: "open") { _ in }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// The same race on an older store: the migrations that add a column (`v5-cost`,
    /// `v6-request-times`) failed the second process with "duplicate column name".
    @Test func storesUpgradingOneOlderFileAtOnceAllSucceed() throws {
        let failures = try Self.openFourAtOnce(label: "upgrade") { path in
            try SQLiteResultStore.makeOlderStore(at: path, upTo: "v4-tests", then: "SELECT 1")
        }
        #expect(failures.isEmpty, "\(failures)")
    }

    /// Twenty rounds of four stores opening one file (made by `prepare`, or new) at once.
    /// - Returns: the errors, by round.
    static func openFourAtOnce(label: String, prepare: (String) throws -> Void) throws -> [String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-\(label)-race-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let failures = Lines()
        for round in 0..<20 {
            let path = directory.appendingPathComponent("store-\(round).sqlite").path
            try prepare(path)
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do {
                    _ = try SQLiteResultStore(path: path)
                } catch {
                    failures.append("round \(round): \(error)")
                }
            }
        }
        return failures.all
    }
}
