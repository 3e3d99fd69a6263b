import Foundation
import Testing

@testable import SkeinCore
@testable import SkeinKit

/// `JSONValue.serialized` against Python's `json.dumps` (the oracle Jinja2's `tojson` and
/// every Python tool use) on generated values: escapes, non-ASCII text with and without
/// `ensure_ascii`, key order, sorted keys, indentation and Python's float repr.
@Suite struct JSONSerializationDifferentialTests {
    static let styles: [(String, JSONValue.SerializationStyle)] = [
        ("compact", .compact), ("canonical", .canonical), ("pretty", .pretty),
        ("tojson", .init(spacedSeparators: true, sortKeys: true, asciiOnly: true)),
    ]

    static let texts = [
        "", "plain", "quote \" and \\ backslash", "line\nbreak\r\ttab", "\u{08}\u{0C}\u{01}\u{1F}\u{7F}",
        "café naïve", "日本語", "emoji 🧵 and 👩‍💻", "\u{2028}\u{2029}", "mixed é\n\"🧵\"", "</script>",
    ]

    static func value(_ random: inout TemplateCaseRandom, depth: Int) -> JSONValue {
        switch random.below(depth > 2 ? 6 : 8) {
        case 0: return .null
        case 1: return .bool(random.chance(50))
        case 2: return .int(random.pick([0, -1, 7, 1 << 40, Int.max, Int.min]))
        case 3: return .double(random.pick([0.5, -2.25, 1e16, 1.5e-5, 123456.789, 1e-4, 0.1, -0.0, 3.0]))
        case 4, 5: return .string(random.pick(texts))
        case 6: return .array((0..<random.below(4)).map { _ in value(&random, depth: depth + 1) })
        default:
            var object = JSONValue.JSONObject()
            for _ in 0..<random.below(5) {
                object[random.pick(texts + ["b", "a", "Z", "é", "🧵", "aa"])] = value(&random, depth: depth + 1)
            }
            return .object(object)
        }
    }

    @Test func serializedMatchesPythonJSONDumps() async throws {
        var random = TemplateCaseRandom(state: 2026)
        var cases: [(JSONValue, Int)] = []
        for index in 0..<1_200 { cases.append((Self.value(&random, depth: 0), index % Self.styles.count)) }
        let input = JSONValue.array(cases.map { ["value": $0.0, "style": .string(Self.styles[$0.1].0)] })
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("json-dumps-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try input.serialized().write(to: file, atomically: true, encoding: .utf8)
        let output = try await PythonScript.run(TestPaths.repositoryRoot.appendingPathComponent("Tests/Python/json_dumps.py").path, [file.path])
        let expected = try #require(try JSONValue(parsing: String(decoding: output, as: UTF8.self)).arrayValue)
        #expect(expected.count == cases.count)
        var mismatches = 0
        for ((value, style), python) in zip(cases, expected) {
            let ours = value.serialized(Self.styles[style].1)
            if ours != python.stringValue {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(Self.styles[style].0): ours \(ours) python \(python.stringValue ?? "?")") }
            }
        }
        #expect(mismatches == 0)
    }
}
