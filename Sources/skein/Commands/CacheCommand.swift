import ArgumentParser
import Foundation
import SkeinKit

/// `skein cache stats|clear|prune`: maintenance of the stored replies.
struct CacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Inspect and clean the store of replies that re-runs reuse.",
        subcommands: [Stats.self, Clear.self, Prune.self],
        defaultSubcommand: Stats.self
    )

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Entries, size, and the hit rate of recent runs.")
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openExisting()
            let stats = try await RunsCommand.List.guarded { try await store.cacheStats() }
            var out = "store     \(store.location)\n"
            out += "entries   \(stats.entries) stored replies, \(Self.bytes(stats.payloadBytes)) of requests and replies\n"
            out += "file      \(Self.bytes(stats.fileBytes))\n"
            out += "runs      \(stats.runs) recorded\n"
            if let rate = stats.recentHitRate {
                out += String(format: "hit rate  %.1f%% of the requests of the last %d runs came from the store\n", rate * 100, stats.recentRuns)
            } else {
                out += "hit rate  - (no requests recorded yet)\n"
            }
            Terminal.standardOutput.write(out)
        }

        static func bytes(_ count: Int) -> String {
            if count < 1024 { return "\(count) B" }
            if count < 1024 * 1024 { return String(format: "%.1f KiB", Double(count) / 1024) }
            if count < 1024 * 1024 * 1024 { return String(format: "%.1f MiB", Double(count) / 1048576) }
            return String(format: "%.2f GiB", Double(count) / 1073741824)
        }
    }

    struct Clear: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete every stored reply (the run history stays, without prompt and reply texts).")
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openExisting()
            let deleted = try await RunsCommand.List.guarded { try await store.clearCache() }
            Terminal.standardOutput.write("deleted \(Terminal.count(deleted, "stored reply").replacingOccurrences(of: "replys", with: "replies"))\n")
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete stored replies not used for a while.")
        @Option(name: .customLong("older-than"),
                help: ArgumentHelp("Age: a number and a unit, s, m, h, d or w (30d, 12h).", valueName: "age"))
        var olderThan: String
        @OptionGroup var storeOptions: StoreOptions

        func validate() throws {
            if Self.parseAge(olderThan) == nil {
                throw ValidationError("--older-than expects a number and a unit (s, m, h, d, w), like 30d or 12h; got '\(olderThan)'")
            }
        }

        func run() async throws {
            let age = Self.parseAge(olderThan) ?? 0
            let store = try await storeOptions.openExisting()
            let deleted = try await RunsCommand.List.guarded {
                try await store.pruneCache(unusedSince: Date().addingTimeInterval(-age))
            }
            Terminal.standardOutput.write(
                "deleted \(Terminal.count(deleted, "stored reply").replacingOccurrences(of: "replys", with: "replies")) unused for \(olderThan)\n")
        }

        /// `30d` → seconds. The number is plain decimal digits with an optional fraction
        /// (`1.5h`): `Double` alone would also take `inf`, `nan`, `0x10` and `1e400`.
        static func parseAge(_ text: String) -> TimeInterval? {
            let digits = text.dropLast()
            guard let unit = text.last, !digits.isEmpty,
                digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                digits.filter({ $0 == "." }).count <= 1, digits.first != ".", digits.last != ".",
                let number = Double(digits), number.isFinite, number >= 0, number < 1e9
            else { return nil }
            let scale: Double
            switch unit {
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            case "d": scale = 86400
            case "w": scale = 604800
            default: return nil
            }
            return number * scale
        }
    }
}
