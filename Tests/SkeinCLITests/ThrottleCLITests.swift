import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// Issue 21, "progress shows when a provider is throttled": off a terminal, `skein run` keeps
/// the live throttle line out of its output and closes with a note per provider that answered
/// 429: how often, and the rate its adaptive limiter settled at.
@Suite(.serialized) struct ThrottleCLITests {
    static let fanOut = """
        inputs:
          items: {type: array, items: {type: integer}, default: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]}
        steps:
          each:
            for_each: "{{ inputs.items }}"
            as: item
            prompt: "item {{ item }}"
        """

    @Test func aRunThatMet429sClosesWithTheirCountAndTheRateTheLimiterSettledAt() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("busy", times: 5, action: .rateLimited(retryAfter: .milliseconds(20))))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(
                Self.fanOut, server: server, in: directory, providerSettings: ["requests_per_minute": "6000"])
            let result = try await CLI.run(["run", path, "--concurrency", "4"], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            let limited = await server.requests.filter { $0.status == 429 }.count
            #expect(limited == 5)
            let notes = result.stderr.split(separator: "\n").filter { $0.hasPrefix("throttled: ") }
            #expect(notes.count == 1, "\(result.stderr)")
            let note = String(notes.first ?? "")
            #expect(note.hasPrefix("throttled: provider 'test' answered 429 5 times; the adaptive rate settled at "), "\(note)")
            // The declared 6,000/min less its headroom, lowered by the 429s.
            let rate = Int(note.split(separator: " ").last?.replacingOccurrences(of: "/min", with: "") ?? "") ?? 0
            #expect(rate > 0 && rate < 6000, "\(note)")
            // The live line is for terminals only: off one, no line per waiting request.
            #expect(!result.stderr.contains("throttled —"), "\(result.stderr)")
        }
    }

    @Test func aRunWithout429sHasNoThrottleNote() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.fanOut, server: server, in: directory)
            let result = try await CLI.run(["run", path], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(!result.stderr.contains("throttled"), "\(result.stderr)")
        }
    }
}
