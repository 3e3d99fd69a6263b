import Foundation
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// The fuzz targets' work (Fuzz/Sources/Fuzz*/, RELIABILITY.md "Fuzzing") replayed in the
/// normal suite over every committed input in Fuzz/corpus/<target>/: the seeds taken from
/// these tests and any input a fuzzer found a crash with (saved there as a reproducer when
/// the crash was fixed). A crash here is a crash the fuzzer found again; the oracles are the
/// targets' own (SSE events independent of chunking, JSON surviving a round trip).
@Suite struct FuzzRegressionTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/corpus")

    static func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let directory = corpus.appendingPathComponent(target)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try names.map { name in
            (name, Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        }
    }

    // The targets' work is `FuzzWork` (Fuzz/Sources/FuzzWork/FuzzWork.swift, linked into
    // this target), so a replay does exactly what the fuzzer did with the input.

    // MARK: Findings

    /// Found by the loader target (a 10 s timeout): an alias bomb used as a mapping key.
    /// Yams, which composed the YAML then, hashed the key, aliases expanded, to check for
    /// duplicate keys: `skein validate` ran for minutes on these 452 bytes. Keys are names,
    /// so the reader refuses an alias anywhere in a key as it meets it (`YAMLReader`).
    @Test func aliasBombInAMappingKeyIsRefusedQuickly() throws {
        let url = Self.corpus.appendingPathComponent("loader/timeout-alias-in-key-b8b43b19dbd4")
        let text = try String(contentsOf: url, encoding: .utf8)
        let clock = ContinuousClock()
        let started = clock.now
        let result = PipelineLoader().load(text: text, path: "bomb.yaml")
        #expect(clock.now - started < .seconds(2))
        #expect(result.pipeline == nil)
        #expect(result.diagnostics.map(\.description) == [
            "bomb.yaml:10:16: error: YAML alias '*h' in a mapping key; aliases may only stand for values"
        ])
    }

    @Test(arguments: [
        "? *a\n: v\n",  // explicit key
        "*a : v\n",  // implicit key
        "{*a : v}\n",  // flow mapping
        "[*a : v]\n",  // single-pair mapping in a flow sequence
        "[x, *a]: v\n",  // a key that contains an alias
        "? - x\n  - [*a]\n: v\n",  // a block sequence key that contains one
    ])
    func aliasesInKeysAreRefusedInEveryForm(_ key: String) {
        let text = "version: 1\nx-a: &a [b, c]\nx-k:\n" + key.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        let result = PipelineLoader().load(text: text, path: "p.yaml")
        #expect(result.diagnostics.contains { $0.message.contains("in a mapping key") }, "\(text)\n\(result.diagnostics)")
    }

    @Test func aliasesAsValuesStillWork() throws {
        let text = """
            version: 1
            x-prompt: &prompt "Say hi"
            x-schema: &schema {type: object, properties: {a: {type: string}}}
            steps:
              a:
                prompt: *prompt
              b:
                prompt: *prompt
                output: {schema: *schema}
            """
        let result = PipelineLoader().load(text: text, path: "p.yaml")
        #expect(result.pipeline != nil, "\(result.diagnostics)")
    }

    // MARK: Replays

    @Test func loaderCorpus() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-fuzz-replay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("prompts"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "Summarize {{ inputs.article }}\n".write(
            to: directory.appendingPathComponent("prompts/a.md"), atomically: true, encoding: .utf8)
        let inputs = try Self.inputs("loader")
        #expect(!inputs.isEmpty)
        for input in inputs {
            guard let text = String(validating: input.bytes, as: UTF8.self) else { continue }
            FuzzWork.load(text, workingDirectory: directory.path)
        }
    }

    @Test func templateCorpus() throws {
        let inputs = try Self.inputs("template")
        #expect(!inputs.isEmpty)
        for input in inputs { FuzzWork.renderTemplate(input.bytes) }
    }

    @Test func sseCorpusParsesTheSameHoweverItIsSplit() throws {
        let inputs = try Self.inputs("sse")
        #expect(!inputs.isEmpty)
        for input in inputs {
            let (whole, chunked) = FuzzWork.sseEvents(input.bytes)
            #expect(whole == chunked, "\(input.name)")
        }
    }

    @Test func schemaCorpus() throws {
        let inputs = try Self.inputs("schema")
        #expect(!inputs.isEmpty)
        for input in inputs {
            let problems = FuzzWork.schemaProblems(input.bytes)
            #expect(problems.isEmpty, "\(input.name): \(problems)")
        }
    }
}
