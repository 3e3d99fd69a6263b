import Foundation
import Testing

@testable import SkeinCore
@testable import SkeinKit

/// Compares `JSONSchema`'s verdicts with Python's `jsonschema` (the reference most schema
/// authors test against) on generated cases. Needs `python3` (or `SKEIN_PYTHON`) with
/// `jsonschema` and `rfc3339-validator`; it fails, not skips, without them, since a skipped
/// differential test would let the validator drift unnoticed.
@Suite struct JSONSchemaDifferentialTests {
    static let seed: UInt64 = 0x5EED_2020_12

    @Test func verdictsMatchPythonJSONSchema() async throws {
        var generator = DifferentialCaseGenerator(seed: Self.seed)
        let cases = generator.cases(schemaCount: 400)
        #expect(cases.count >= 500)

        let python = try await PythonJSONSchema.verdicts(for: cases)
        let missingFormats = DifferentialCaseGenerator.formats.filter { !python.formats.contains($0) }
        #expect(
            missingFormats.isEmpty,
            "Python's FORMAT_CHECKER does not assert \(missingFormats); pip install rfc3339-validator")

        var mismatches: [String] = []
        var counts: [String: Int] = [:]
        for (index, (testCase, expected)) in zip(cases, python.verdicts).enumerated() {
            let actual = Self.verdict(testCase)
            counts[actual, default: 0] += 1
            if actual != expected {
                mismatches.append(
                    "case \(index) (\(testCase.origin)): Swift \(actual), Python \(expected)\n"
                        + "  schema:   \(testCase.schema.serialized())\n  instance: \(testCase.instance.serialized())")
            }
        }
        let firstMismatches = mismatches.prefix(8).joined(separator: "\n")
        #expect(
            mismatches.count == 0,
            "\(mismatches.count) of \(cases.count) verdicts differ from Python; the first ones:\n\(firstMismatches)")
        // A generator that only produced one kind of verdict would prove little.
        #expect((counts["valid"] ?? 0) >= 200 && (counts["invalid"] ?? 0) >= 200, "verdicts: \(counts)")
        print(
            "JSON Schema differential: \(cases.count - mismatches.count) of \(cases.count) agree with Python (\(counts))"
        )
    }

    /// `valid`, `invalid` or `schema-error`, checking on the way that `validate` and `isValid` agree.
    static func verdict(_ testCase: DifferentialCase) -> String {
        guard let schema = try? JSONSchema(testCase.schema) else { return "schema-error" }
        let violations = schema.validate(testCase.instance)
        let isValid = schema.isValid(testCase.instance)
        guard violations.isEmpty == isValid else {
            return "inconsistent: isValid \(isValid), violations \(violations)"
        }
        return isValid ? "valid" : "invalid"
    }
}

/// Runs `Tests/Python/jsonschema_check.py` on a batch of cases.
enum PythonJSONSchema {
    struct Output {
        var formats: Set<String>
        var verdicts: [String]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func verdicts(for cases: [DifferentialCase]) async throws -> Output {
        // #filePath may be a symlink into the repository (scratch packages link test files).
        let testsDirectory = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
            .deletingLastPathComponent()
        let script = testsDirectory.appendingPathComponent("Python/jsonschema_check.py")
        let input = FileManager.default.temporaryDirectory.appendingPathComponent(
            "skein-jsonschema-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: input) }
        let document = JSONValue.array(cases.map { ["schema": $0.schema, "instance": $0.instance] })
        try Data(document.serialized().utf8).write(to: input)

        let python = TestPaths.python
        let stdout: Data
        do {
            stdout = try await PythonScript.run(script.path, [input.path])
        } catch let exit as PythonScript.Exit {
            throw Failure(description: "\(python) \(script.path) exited with \(exit.status): " + exit.standardError)
        }
        var lines = String(decoding: stdout, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        guard let header = lines.first, header.hasPrefix("formats: "), lines.count == cases.count + 1 else {
            throw Failure(description: "unexpected output from \(script.path): \(lines.prefix(3))")
        }
        let formats = Set(header.dropFirst("formats: ".count).split(separator: ",").map(String.init))
        return Output(formats: formats, verdicts: lines.dropFirst().map(String.init))
    }
}
