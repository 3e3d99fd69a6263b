import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// Issue 12, item 5: every command path runs with a recognizable fake key; every output
/// stream, the trace file, the results files and the store's bytes are searched for it.
@Suite(.serialized) struct SecretsTests {
    static let key = "sk-SKEIN-FAKE-SECRET-0123456789abcdef"

    @Test func theKeyAppearsNowhere() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ["SKEIN_SECRET_KEY": Self.key]
        var outputs: [(String, String)] = []
        func check(_ label: String, _ result: CLI.Result) {
            outputs.append((label, result.stdout + result.stderr))
        }

        try await SkeinTestServer.withRunning(.init(requiredAPIKey: Self.key)) { server in
            // The provider echoes the key in an error, as some do: Skein must scrub it.
            await server.addRule(ReplyRule("echo key", match: .init(lastUserMessageContains: "leak"),
                                           action: .status(400, message: "bad request for key \(Self.key)")))
            let body = """
                inputs:
                  text: {type: string}
                steps:
                  a:
                    prompt: "summarize {{ inputs.text }}"
                    output: {schema: {type: object, properties: {s: {type: string}}}}
                  b:
                    prompt: "translate {{ steps.a.output }}"
                """
            let path = try CLI.writePipeline(body, server: server, in: directory, apiKeyEnvironment: "SKEIN_SECRET_KEY")
            let leaky = try CLI.writePipeline("steps:\n  a:\n    prompt: leak\n    retries: 0\n", server: server, in: directory,
                                              name: "leak.yaml", apiKeyEnvironment: "SKEIN_SECRET_KEY")
            try #"{"text": "one"}"#.appending("\n").appending(#"{"text": "two"}"#).write(
                to: directory.appendingPathComponent("rows.jsonl"), atomically: true, encoding: .utf8)
            let trace = directory.appendingPathComponent("trace.json").path

            check("validate", try await CLI.run(["validate", path], in: directory, environment: environment))
            check("graph", try await CLI.run(["graph", path], in: directory, environment: environment))
            check("dry-run", try await CLI.run(["run", path, "-i", "text=x", "--dry-run", "--output", "json"], in: directory, environment: environment))
            check("run", try await CLI.run(["run", path, "-i", "text=x", "--trace", trace], in: directory, environment: environment))
            check("run json stream", try await CLI.run(["run", path, "-i", "text=y", "--output", "json", "--stream", "b"], in: directory, environment: environment))
            check("run offline", try await CLI.run(["run", path, "-i", "text=y", "--offline"], in: directory, environment: environment))
            check("provider error", try await CLI.run(["run", leaky], in: directory, environment: environment))
            check("wrong key", try await CLI.run(["run", path, "-i", "text=z"], in: directory, environment: ["SKEIN_SECRET_KEY": Self.key + "-wrong"]))
            check("dataset", try await CLI.run(["run", path, "--dataset", "rows.jsonl", "-o", "out.jsonl", "--errors", "errors.jsonl"], in: directory, environment: environment))
            check("batch", try await CLI.run(["run", path, "--dataset", "rows.jsonl", "--map", "text=text", "-o", "batch.jsonl", "--batch", "--no-cache", "--batch-poll", "0.05", "--batch-wave-ms", "50"], in: directory, environment: environment))
            check("models", try await CLI.run(["models", "--provider", "openai", "--base-url", server.baseURL], in: directory,
                                              environment: ["OPENAI_API_KEY": Self.key]))
            check("models wrong key", try await CLI.run(["models", "--provider", "openai", "--base-url", server.baseURL], in: directory,
                                                        environment: ["OPENAI_API_KEY": Self.key + "-wrong"]))
            check("runs list", try await CLI.run(["runs", "list"], in: directory, environment: environment))
            check("runs show", try await CLI.run(["runs", "show", "last", "--format", "json"], in: directory, environment: environment))
            check("runs show step", try await CLI.run(["runs", "show", "2", "--step", "a"], in: directory, environment: environment))
            check("runs diff", try await CLI.run(["runs", "diff"], in: directory, environment: environment))
            check("cache stats", try await CLI.run(["cache", "stats"], in: directory, environment: environment))
        }
        // The server checked the key on every request: the runs above did use it.
        #expect(outputs.contains { $0.0 == "run" && !$0.1.contains("error:") })
        for (label, text) in outputs {
            #expect(!text.contains(Self.key), "\(label) printed the key")
            #expect(!text.contains("FAKE-SECRET"), "\(label) printed part of the key")
        }
        var files = ["trace.json", "out.jsonl", "errors.jsonl", "batch.jsonl"].map { directory.appendingPathComponent($0).path }
        let store = directory.appendingPathComponent(".skein").path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: store)) ?? [] { files.append(store + "/" + name) }
        #expect(files.contains { $0.hasSuffix("skein.sqlite") })
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            #expect(data.range(of: Data("FAKE-SECRET".utf8)) == nil, "\(file) holds the key")
        }
    }
}
