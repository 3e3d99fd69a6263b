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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-open-race-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let failures = Failures()
        for round in 0..<20 {
            let path = directory.appendingPathComponent("store-\(round).sqlite").path
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do {
                    _ = try SQLiteResultStore(path: path)
                } catch {
                    failures.append("round \(round): \(error)")
                }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }

    /// The same race on an older store: the migrations that add a column (`v5-cost`,
    /// `v6-request-times`) failed the second process with "duplicate column name".
    @Test func storesUpgradingOneOlderFileAtOnceAllSucceed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-upgrade-race-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let failures = Failures()
        for round in 0..<20 {
            let path = directory.appendingPathComponent("store-\(round).sqlite").path
            try SQLiteResultStore.makeOlderStore(at: path, upTo: "v4-tests", then: "SELECT 1")
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do {
                    _ = try SQLiteResultStore(path: path)
                } catch {
                    failures.append("round \(round): \(error)")
                }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }
}

private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []

    func append(_ message: String) { lock.withLock { messages.append(message) } }
    var all: [String] { lock.withLock { messages } }
}
