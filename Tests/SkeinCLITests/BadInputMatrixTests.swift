import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// The bad-input matrix of RELIABILITY.md: every row is a case run here through the real
/// binary, checked for its exit code and message. `SKEIN_UPDATE_RELIABILITY=1` rewrites the
/// table in RELIABILITY.md from what the cases printed; without it, the test checks that
/// the table has a row for every case.
@Suite(.serialized) struct BadInputMatrixTests {
    struct Case: Sendable {
        var name: String
        var exit: Int32
        /// A piece of the message the user must see.
        var expect: String
        var run: @Sendable (URL) async throws -> CLI.Result
    }

    /// Runs `skein` with a pipeline whose steps use a fresh test server configured by `setup`.
    static func withServer(
        _ configuration: SkeinTestServer.Configuration = .init(), body: String, arguments: [String] = [],
        environment: [String: String] = [:], apiKeyEnvironment: String = "null", providerSettings: [String: String] = [:],
        setup: @escaping @Sendable (SkeinTestServer) async -> Void = { _ in }
    ) -> @Sendable (URL) async throws -> CLI.Result {
        { directory in
            try await SkeinTestServer.withRunning(configuration) { server in
                await setup(server)
                let path = try CLI.writePipeline(
                    body, server: server, in: directory, apiKeyEnvironment: apiKeyEnvironment, providerSettings: providerSettings)
                return try await CLI.run(["run", path] + arguments, in: directory, environment: environment)
            }
        }
    }

    /// Runs `skein` on a pipeline file with the given text (no server).
    static func file(_ text: String, arguments: [String] = ["validate"], extraFiles: [String: String] = [:])
        -> @Sendable (URL) async throws -> CLI.Result
    {
        { directory in
            for (name, content) in extraFiles {
                try content.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
            let path = directory.appendingPathComponent("p.yaml").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return try await CLI.run(arguments + [path], in: directory)
        }
    }

    static let header = "version: 1\nproviders:\n  test: {base_url: 'http://127.0.0.1:9/v1', api_key_env: null}\ndefaults: {provider: test, model: m}\n"
    static let oneStep = "steps:\n  a:\n    prompt: hello\n"
    static let quiet = ["--quiet"]

    static let cases: [Case] = [
        Case(name: "Malformed YAML (bad indentation)", exit: 1, expect: "error:",
             run: file("version: 1\nsteps:\n  a:\n    prompt: x\n   b: y\n")),
        Case(name: "Unclosed quoted string", exit: 1, expect: "error:",
             run: file("version: 1\nsteps:\n  a:\n    prompt: \"never closed\n")),
        Case(name: "Hostile YAML: billion laughs (alias bomb)", exit: 1, expect: "alias",
             run: { directory in
                 let text = try String(contentsOf: CLI.repositoryRoot.appendingPathComponent("Tests/SkeinKitTests/Fixtures/malformed/billion-laughs.yaml"), encoding: .utf8)
                 return try await file(text)(directory)
             }),
        Case(name: "Hostile YAML: nesting deeper than 64", exit: 1, expect: "nest",
             run: file("version: 1\nx: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "\n")),
        Case(name: "File over 10 MiB", exit: 1, expect: "MiB",
             run: file("version: 1\n# " + String(repeating: "x", count: 11 * 1024 * 1024) + "\n")),
        Case(name: "Empty file", exit: 1, expect: "error:", run: file("")),
        Case(name: "Pipeline file does not exist", exit: 1, expect: "error:",
             run: { directory in try await CLI.run(["validate", directory.appendingPathComponent("nope.yaml").path], in: directory) }),
        Case(name: "Unknown format version", exit: 1, expect: "version",
             run: file("version: 2\n" + oneStep)),
        Case(name: "Unknown top-level key (typo)", exit: 1, expect: "did you mean 'steps'?",
             run: file("version: 1\nstesp:\n  a:\n    prompt: x\n")),
        Case(name: "Unknown step key (typo)", exit: 1, expect: "did you mean 'temperature'?",
             run: file(header + "steps:\n  a:\n    prompt: x\n    temprature: 0.2\n")),
        Case(name: "Wrong type (temperature: hot)", exit: 1, expect: "temperature",
             run: file(header + "steps:\n  a:\n    prompt: x\n    temperature: hot\n")),
        Case(name: "Duplicate key", exit: 1, expect: "duplicate key",
             run: file(header + "steps:\n  a:\n    prompt: x\n  a:\n    prompt: y\n")),
        Case(name: "Cycle between steps", exit: 1, expect: "->",
             run: file(header + "steps:\n  a:\n    prompt: \"{{ steps.b.output }}\"\n  b:\n    prompt: \"{{ steps.a.output }}\"\n")),
        Case(name: "Unknown step reference (typo)", exit: 1, expect: "did you mean 'summary'?",
             run: file(header + "steps:\n  summary:\n    prompt: x\n  b:\n    prompt: \"{{ steps.sumary.output }}\"\n")),
        Case(name: "Unknown input reference", exit: 1, expect: "input",
             run: file(header + "inputs:\n  text: {type: string}\nsteps:\n  a:\n    prompt: \"{{ inputs.txt }}\"\n")),
        Case(name: "Template syntax error: unclosed for", exit: 1, expect: "endfor",
             run: file(header + "steps:\n  a:\n    prompt: \"{% for x in [1] %}{{ x }}\"\n")),
        Case(name: "Unknown filter (typo)", exit: 1, expect: "did you mean 'upper'?",
             run: file(header + "steps:\n  a:\n    prompt: \"{{ 'x' | uper }}\"\n")),
        Case(name: "Missing prompt file", exit: 1, expect: "missing.txt",
             run: file(header + "steps:\n  a:\n    prompt: {file: missing.txt}\n")),
        Case(name: "Prompt file path escapes the pipeline's directory", exit: 1, expect: "outside",
             run: file(header + "steps:\n  a:\n    prompt: {file: ../../../etc/passwd}\n")),
        Case(name: "Unreadable image file", exit: 1, expect: "nope.png",
             run: file(header + "steps:\n  a:\n    messages:\n      - role: user\n        content:\n          - text: look\n          - image_file: nope.png\n")),
        Case(name: "Missing required input", exit: 1, expect: "missing input 'text'",
             run: withServer(body: "inputs:\n  text: {type: string}\n" + "steps:\n  a:\n    prompt: \"{{ inputs.text }}\"\n")),
        Case(name: "Input of the wrong type", exit: 1, expect: "'n'",
             run: withServer(body: "inputs:\n  n: {type: integer}\nsteps:\n  a:\n    prompt: \"{{ inputs.n }}\"\n", arguments: ["-i", "n=many"])),
        Case(name: "Invalid API key (401)", exit: 1, expect: "INVALID_API_KEY",
             run: withServer(.init(requiredAPIKey: "right"), body: oneStep, environment: ["SKEIN_FAKE_KEY": "wrong"], apiKeyEnvironment: "SKEIN_FAKE_KEY")),
        Case(name: "API key variable not set", exit: 1, expect: "SKEIN_UNSET_KEY",
             run: withServer(body: oneStep, apiKeyEnvironment: "SKEIN_UNSET_KEY")),
        Case(name: "No balance (403 NOT_ENOUGH_BALANCE)", exit: 1, expect: "NOT_ENOUGH_BALANCE",
             run: withServer(body: oneStep) { server in
                 await server.addRule(ReplyRule("broke", match: .init(), action: .status(403, message: "not enough balance", code: "NOT_ENOUGH_BALANCE")))
             }),
        Case(name: "Unknown model (404)", exit: 1, expect: "skein models",
             run: withServer(.init(rejectsUnknownModels: true), body: "steps:\n  a:\n    prompt: hi\n    model: no-such-model\n")),
        // A 429 is retried for the provider's rate_limit_patience, not the step's retries; when
        // that runs out the error says what to set.
        Case(name: "429 storm (patience spent)", exit: 1, expect: "past rate_limit_patience (1.5 s)",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    retries: 1\n", providerSettings: ["rate_limit_patience": "1.5s"]) { server in
                 await server.addRule(ReplyRule("storm", match: .init(), action: .rateLimited(retryAfter: .milliseconds(10))))
             }),
        Case(name: "Server errors (500 on every attempt)", exit: 1, expect: "500",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    retries: 1\n") { server in
                 await server.addRule(ReplyRule("down", match: .init(), action: .status(500, message: "boom")))
             }),
        Case(name: "Timeouts", exit: 1, expect: "timeout",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    retries: 0\n    timeout: 300ms\n") { server in
                 await server.addRule(ReplyRule("hang", match: .init(), action: .hang(.seconds(5))))
             }),
        Case(name: "Dropped stream", exit: 1, expect: "error:",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    retries: 0\n", arguments: ["--stream", "a"]) { server in
                 await server.addRule(ReplyRule("drop", match: .init(), action: .dropConnection(afterChunks: 1)))
             }),
        Case(name: "Malformed server-sent events", exit: 1, expect: "error:",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    retries: 0\n", arguments: ["--stream", "a"]) { server in
                 await server.addRule(ReplyRule("bad sse", match: .init(), action: .malformedSSE))
             }),
        Case(name: "Body that is not JSON", exit: 1, expect: "error:",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    retries: 0\n") { server in
                 await server.addRule(ReplyRule("html", match: .init(), action: .raw(status: 502, body: "<html>bad gateway</html>", contentType: "text/html")))
             }),
        Case(name: "Reply that breaks the schema (after the repair attempt)", exit: 1, expect: "$.count: expected integer",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    output: {schema: {type: object, required: [count], properties: {count: {type: integer}}}}\n") { server in
                 await server.addRule(ReplyRule("bad json", match: .init(), action: .text(#"{"count": "many"}"#)))
             }),
        Case(name: "Invalid tool-call arguments", exit: 1, expect: "lookup",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    tools:\n      - name: lookup\n        parameters: {type: object}\n") { server in
                 await server.addRule(ReplyRule("bad args", match: .init(), action: .reply(Reply(
                     toolCalls: [.init(id: "c1", name: "lookup", arguments: "{not json")], finishReason: "tool_calls"))))
             }),
        Case(name: "Provider not reachable (connection refused)", exit: 1, expect: "error:",
             run: file(header + "steps:\n  a:\n    prompt: hi\n    retries: 0\n", arguments: ["run", "--quiet"])),
        Case(name: "Corrupted store file", exit: 1, expect: "not a readable SQLite database",
             run: { directory in
                 let store = directory.appendingPathComponent("bad.sqlite").path
                 try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: store))
                 return try await withServer(body: oneStep, arguments: ["--store", store])(directory)
             }),
        Case(name: "Store in a place that cannot be written", exit: 1, expect: "cannot create the store's directory",
             run: withServer(body: oneStep, arguments: ["--store", "/proc/skein/store.sqlite"])),
        Case(name: "Full disk while writing the store", exit: 1, expect: "disk full",
             run: { directory in
                 try await SkeinTestServer.withRunning(.init()) { server in
                     // A file size limit makes every write past 150-300 KiB fail with EFBIG, as a full disk would.
                     let padded = try CLI.writePipeline("inputs:\n  pad: {type: string}\nsteps:\n  a:\n    prompt: \"{{ inputs.pad }}\"\n", server: server, in: directory, name: "pad.yaml")
                     try String(repeating: "x", count: 600_000).write(to: directory.appendingPathComponent("pad.txt"), atomically: true, encoding: .utf8)
                     return try await CLI.run(
                         ["-c", "ulimit -f 300; trap '' XFSZ; exec \"$0\" run \"$1\" --store big.sqlite -i pad=@pad.txt", CLI.executable.path, padded],
                         in: directory, program: URL(fileURLWithPath: "/bin/sh"))
                 }
             }),
        Case(name: "Offline run with replies missing from the store", exit: 1, expect: "offline: no stored result for a",
             run: withServer(body: oneStep, arguments: ["--offline"])),
        Case(name: "Contradicting flags (--no-cache --offline)", exit: 2, expect: "contradict",
             run: withServer(body: oneStep, arguments: ["--no-cache", "--offline"])),
        Case(name: "Unknown command-line option", exit: 2, expect: "Unknown option",
             run: withServer(body: oneStep, arguments: ["--temperatur", "1"])),
        Case(name: "--stream names an unknown step", exit: 2, expect: "did you mean 'a'?",
             run: withServer(body: oneStep, arguments: ["--stream", "aa"])),
        Case(name: "Bad --shard", exit: 2, expect: "--shard expects i/n",
             run: withServer(body: oneStep, arguments: ["--dataset", "rows.jsonl", "--shard", "3/3"])),
        Case(name: "Dataset row that is not JSON", exit: 1, expect: "1 failed",
             run: { directory in
                 try "{not json}\n".write(to: directory.appendingPathComponent("rows.jsonl"), atomically: true, encoding: .utf8)
                 return try await withServer(body: oneStep, arguments: ["--dataset", "rows.jsonl"])(directory)
             }),
        Case(name: "CSV dataset without a column for a required input", exit: 1, expect: "no column for the required input 'text'",
             run: { directory in
                 try "other\n1\n".write(to: directory.appendingPathComponent("rows.csv"), atomically: true, encoding: .utf8)
                 return try await withServer(body: "inputs:\n  text: {type: string}\nsteps:\n  a:\n    prompt: \"{{ inputs.text }}\"\n",
                                             arguments: ["--dataset", "rows.csv"])(directory)
             }),
        Case(name: "CSV dataset naming a column twice", exit: 1, expect: "names the column 'text' twice",
             run: { directory in
                 try "text,text\n1,2\n".write(to: directory.appendingPathComponent("rows.csv"), atomically: true, encoding: .utf8)
                 return try await withServer(body: "inputs:\n  text: {type: string}\nsteps:\n  a:\n    prompt: \"{{ inputs.text }}\"\n",
                                             arguments: ["--dataset", "rows.csv"])(directory)
             }),
        Case(name: "--map names a column the CSV lacks", exit: 2, expect: "has no column 'txt'",
             run: { directory in
                 try "text\n1\n".write(to: directory.appendingPathComponent("rows.csv"), atomically: true, encoding: .utf8)
                 return try await withServer(body: "inputs:\n  text: {type: string}\nsteps:\n  a:\n    prompt: \"{{ inputs.text }}\"\n",
                                             arguments: ["--dataset", "rows.csv", "--map", "txt=text"])(directory)
             }),
        Case(name: "Unknown --provider", exit: 1, expect: "failed: unknown provider 'tst'; the providers are local, novita, openai, test; did you mean 'test'?",
             run: withServer(body: oneStep, arguments: ["--provider", "tst"])),
        Case(name: "base_url with a port past 65535", exit: 1, expect: "a port is a number from 1 to 65535",
             run: file("version: 1\nproviders:\n  test: {base_url: 'http://127.0.0.1:99999/v1', api_key_env: null}\ndefaults: {provider: test, model: m}\n" + oneStep)),
        Case(name: "OPENAI_BASE_URL with a port past 65535", exit: 1, expect: "a port is a number from 1 to 65535",
             run: { directory in
                 try "version: 1\ndefaults: {provider: openai, model: m}\nsteps:\n  a:\n    prompt: hi\n".write(
                     to: directory.appendingPathComponent("p.yaml"), atomically: true, encoding: .utf8)
                 return try await CLI.run(["run", "p.yaml"], in: directory,
                                          environment: ["OPENAI_BASE_URL": "http://127.0.0.1:99999/v1", "OPENAI_API_KEY": "sk-test"])
             }),
        Case(name: "Token counts that overflow (a buggy server's usage)", exit: 0, expect: "tokens 3298534883328 in / 0 out",
             run: withServer(body: "steps:\n  a:\n    prompt: one\n  b:\n    prompt: two\n  c:\n    prompt: three\n") { server in
                 let body = #"{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":-5}}"#
                 await server.addRule(ReplyRule("overflow", match: .init(), action: .raw(status: 200, body: body, contentType: "application/json")))
             }),
        Case(name: "Reply with an empty list of choices", exit: 1, expect: "no choices",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    retries: 0\n") { server in
                 await server.addRule(ReplyRule("empty", match: .init(), action: .raw(status: 200, body: #"{"id":"x","choices":[]}"#, contentType: "application/json")))
             }),
        // A 500, not a 503: a 503 is back-pressure, retried for the provider's patience.
        Case(name: "A failed step counts its attempts", exit: 1, expect: "2 requests, 1 retry",
             run: withServer(body: "steps:\n  a:\n    prompt: hi\n    retries: 1\n") { server in
                 await server.addRule(ReplyRule("down", match: .init(), action: .status(500, message: "overloaded")))
             }),
        Case(name: "-o names a directory", exit: 1, expect: "is a directory",
             run: withServer(body: oneStep, arguments: ["-o", "."])),
        Case(name: "-o in a folder that does not exist (before any request)", exit: 1, expect: "does not exist",
             run: withServer(body: oneStep, arguments: ["-o", "no/such/folder/out.txt"])),
        Case(name: "--trace in a folder that does not exist", exit: 1, expect: "--trace 'nowhere/t.json'",
             run: withServer(body: oneStep, arguments: ["--trace", "nowhere/t.json"])),
        Case(name: "-o names the dataset itself", exit: 2, expect: "is the dataset itself",
             run: { directory in
                 try "{\"x\": 1}\n".write(to: directory.appendingPathComponent("rows.jsonl"), atomically: true, encoding: .utf8)
                 return try await withServer(body: oneStep, arguments: ["--dataset", "rows.jsonl", "-o", "rows.jsonl"])(directory)
             }),
        Case(name: "-o and --errors name the same file", exit: 2, expect: "name the same file",
             run: { directory in
                 try "{\"x\": 1}\n".write(to: directory.appendingPathComponent("rows.jsonl"), atomically: true, encoding: .utf8)
                 return try await withServer(body: oneStep, arguments: ["--dataset", "rows.jsonl", "-o", "out.jsonl", "--errors", "./out.jsonl"])(directory)
             }),
        Case(name: "Dataset path that is a directory", exit: 1, expect: "is a directory",
             run: { directory in
                 try FileManager.default.createDirectory(at: directory.appendingPathComponent("rows.jsonl"), withIntermediateDirectories: true)
                 return try await withServer(body: oneStep, arguments: ["--dataset", "rows.jsonl"])(directory)
             }),
        Case(name: "CSV dataset with bytes that are not UTF-8", exit: 1, expect: "rows.csv:2: not valid UTF-8",
             run: { directory in
                 try (Data("text\na".utf8) + Data([0xFF]) + Data("b\nc\n".utf8)).write(to: directory.appendingPathComponent("rows.csv"))
                 return try await withServer(body: "inputs:\n  text: {type: string}\nsteps:\n  a:\n    prompt: \"{{ inputs.text }}\"\n",
                                             arguments: ["--dataset", "rows.csv"])(directory)
             }),
        Case(name: "JSONL row with bytes that are not UTF-8", exit: 1, expect: "1 failed",
             run: { directory in
                 try Data([0x7B, 0x22, 0x78, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D, 0x0A]).write(to: directory.appendingPathComponent("rows.jsonl"))
                 return try await withServer(body: oneStep, arguments: ["--dataset", "rows.jsonl"])(directory)
             }),
        Case(name: "--batch-poll that is not a number of seconds (nan)", exit: 2, expect: "--batch-poll must be",
             run: withServer(body: oneStep, arguments: ["--dataset", "rows.jsonl", "--batch", "--batch-poll", "nan"])),
        Case(name: "runs show on a store that does not exist", exit: 1, expect: "no store at",
             run: { directory in try await CLI.run(["runs", "show", "last", "--store", "typo/skein.sqlite"], in: directory) }),
        Case(name: "A tool with both 'run' and 'http'", exit: 1, expect: "a tool runs one way",
             run: file(header + "steps:\n  a:\n    prompt: hi\n    tools:\n      - name: t\n        run: [tools/t.sh]\n        http: {url: 'http://127.0.0.1:9/t'}\n")),
        Case(name: "A tool's 'run' written as one string (a shell line)", exit: 1, expect: "must be a non-empty list of strings",
             run: file(header + "steps:\n  a:\n    prompt: hi\n    tools:\n      - name: t\n        run: python3 tools/t.py\n")),
        Case(name: "Two tools with the same name", exit: 1, expect: "is defined twice",
             run: file(header + "steps:\n  a:\n    prompt: hi\n    tools:\n      - {name: t, run: [a]}\n      - {name: t, run: [b]}\n")),
        Case(name: "'max_turns: 0'", exit: 1, expect: "'max_turns' must be at least 1",
             run: file(header + "steps:\n  a:\n    prompt: hi\n    max_turns: 0\n    tools:\n      - {name: t, run: [a]}\n")),
        Case(name: "A tool that exits non-zero", exit: 0, expect: "exited with status 3: no such city",
             run: toolRun(script: "cat >/dev/null; echo 'no such city' >&2; exit 3")),
        Case(name: "A tool that hangs past its timeout", exit: 0, expect: "timed out after 1s and was killed",
             run: toolRun(script: "cat >/dev/null; sleep 30")),
        Case(name: "A tool that prints 10 MB", exit: 0, expect: "wrote more than 1 MiB to stdout",
             run: toolRun(script: "cat >/dev/null; head -c 10000000 /dev/zero")),
        Case(name: "A tool that is not executable", exit: 0, expect: "is not executable: chmod +x it",
             run: toolRun(script: "echo hi", executable: false)),
        Case(name: "An http tool whose server is down", exit: 0, expect: "connection refused",
             run: toolRun(tool: "http: {url: 'http://127.0.0.1:9/tool'}")),
        Case(name: "An http tool that answers 500", exit: 0, expect: "HTTP 500",
             run: toolRun(tool: "http: {url: 'SERVER/chat/completions'}", arguments: #"{"model":"tool-500","messages":[]}"#, setup: { server in
                 await server.addRule(ReplyRule("tool-500", match: .init(model: "tool-500"), action: .status(500, message: "the tool service failed")))
             })),
        Case(name: "A model that calls a tool that does not exist", exit: 0, expect: "there is no tool named 'get_wether'",
             run: toolRun(script: "echo ok", call: "get_wether")),
        Case(name: "A tool loop that reaches max_turns", exit: 1, expect: "reached max_turns (2)",
             run: toolRun(script: "cat >/dev/null; echo again", maxTurns: 2, answers: false)),
        Case(name: "SIGINT during a run", exit: 130, expect: "interrupted", run: signal(SIGINT)),
        Case(name: "SIGTERM during a run", exit: 130, expect: "interrupted", run: signal(SIGTERM)),
        Case(name: "SIGKILL during a run, then the same command", exit: 0, expect: "1 from the store",
             run: { directory in
                 try await SkeinTestServer.withRunning(.init()) { server in
                     await server.addRule(ReplyRule("slow", match: .init(lastUserMessageContains: "slow"), times: 1, delay: .seconds(30), action: .text("late")))
                     let path = try CLI.writePipeline("steps:\n  quick:\n    prompt: quick\n  slow:\n    prompt: \"slow {{ steps.quick.output }}\"\n", server: server, in: directory)
                     let (process, o, e) = try CLI.start(["run", path], in: directory)
                     let deadline = ContinuousClock.now + .seconds(20)
                     while await server.requests.count < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                     kill(process.processIdentifier, SIGKILL)
                     _ = await CLI.finish(process, o, e)
                     return try await CLI.run(["run", path], in: directory)
                 }
             }),
        Case(name: "--max-cost that is not above 0", exit: 2, expect: "--max-cost must be a number of USD above 0",
             run: withServer(body: oneStep, arguments: ["--max-cost", "0"])),
        Case(name: "--max-cost with a model that has no price", exit: 1, expect: "needs the price of every model",
             run: withServer(body: oneStep, arguments: ["--max-cost", "1"])),
        Case(name: "--max-cost too small for the first request", exit: 1, expect: "budget: stopped at $0 of --max-cost $0.000001",
             run: withServer(body: oneStep, arguments: ["--max-cost", "0.000001"],
                             providerSettings: ["pricing": #"{"*": {input_per_million: 1, output_per_million: 1}}"#])),
    ]

    /// A step whose model calls tool `call` once (every time, with `answers: false`) and
    /// then answers; the tool is `tools/t.sh` with `script`, or the `tool` settings given.
    static func toolRun(
        script: String = "", executable: Bool = true, tool: String? = nil, call: String = "t", arguments: String = "{}",
        maxTurns: Int? = nil,
        answers: Bool = true, setup: @escaping @Sendable (SkeinTestServer) async -> Void = { _ in }
    ) -> @Sendable (URL) async throws -> CLI.Result {
        { directory in
            try await SkeinTestServer.withRunning(.init()) { server in
                await setup(server)
                // Every case but max_turns gives the model an error to read; then it answers.
                if answers { await server.addRule(ReplyRule("answer", match: .init(anyMessageContains: "error: "), action: .text("done"))) }
                await server.addRule(ReplyRule("call", match: .init(model: "test-model"), action: .reply(Reply(
                    toolCalls: [.init(id: "c1", name: call, arguments: arguments)]))))
                let tools = directory.appendingPathComponent("tools")
                try FileManager.default.createDirectory(at: tools, withIntermediateDirectories: true)
                try ("#!/bin/sh\n" + script + "\n").write(to: tools.appendingPathComponent("t.sh"), atomically: true, encoding: .utf8)
                if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tools.appendingPathComponent("t.sh").path) }
                let settings = (tool ?? "run: [tools/t.sh]\n        timeout: 1s").replacingOccurrences(of: "SERVER", with: server.baseURL)
                let body = "steps:\n  a:\n    prompt: hi\n" + (maxTurns.map { "    max_turns: \($0)\n" } ?? "")
                    + "    tools:\n      - name: t\n        " + settings + "\n"
                let path = try CLI.writePipeline(body, server: server, in: directory)
                return try await CLI.run(["run", path], in: directory)
            }
        }
    }

    static func signal(_ number: Int32) -> @Sendable (URL) async throws -> CLI.Result {
        { directory in
            try await SkeinTestServer.withRunning(.init()) { server in
                await server.addRule(ReplyRule("slow", match: .init(), delay: .seconds(30), action: .text("late")))
                let path = try CLI.writePipeline(oneStep, server: server, in: directory)
                let (process, o, e) = try CLI.start(["run", path], in: directory)
                let deadline = ContinuousClock.now + .seconds(20)
                while await server.requests.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                kill(process.processIdentifier, number)
                return await CLI.finish(process, o, e)
            }
        }
    }

    /// The line of stderr a user reads first: the first error (or the interruption notice).
    static func message(_ result: CLI.Result) -> String {
        let lines = result.stderr.split(separator: "\n").map(String.init)
        let error = try! Regex(#"^(\S+: )?[Ee]rror: "#)
        let line = lines.first { $0.contains(error) } ?? lines.first { $0.contains("interrupted") }
            ?? lines.first { $0.hasPrefix("warning: ") }
            ?? lines.first { $0.contains("from the store") } ?? lines.last ?? ""
        var text = line.trimmingCharacters(in: .whitespaces)
        // Stable across machines and runs: no temporary paths, ports or timings.
        text = text.replacingOccurrences(of: #"/tmp/skein-cli-[0-9A-F-]+/"#, with: "", options: .regularExpression)
        text = text.replacingOccurrences(of: #"127\.0\.0\.1:\d+"#, with: "127.0.0.1:PORT", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\d+\.\d+s"#, with: "N.Ns", options: .regularExpression)
        if text.count > 220 { text = String(text.prefix(219)) + "…" }
        return text
    }

    @Test func everyBadInputGetsItsExitCodeAndMessage() async throws {
        #expect(Self.cases.count >= 40)
        var rows: [String] = []
        // Under ThreadSanitizer a write past `ulimit -f` ends in SIGBUS inside the sanitizer's
        // runtime, not in Skein (RELIABILITY.md, "Sanitizers"); that one case runs unsanitized only.
        let sanitizer = ProcessInfo.processInfo.environment["SKEIN_SANITIZER"]
        for (number, badInput) in Self.cases.enumerated() {
            if sanitizer == "thread" && badInput.name.hasPrefix("Full disk") { continue }
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let result = try await badInput.run(directory)
            #expect(result.status == badInput.exit, "\(badInput.name): exit \(result.status)\n\(result.stderr.suffix(1500))")
            #expect(result.stderr.contains(badInput.expect), "\(badInput.name): no '\(badInput.expect)' in\n\(result.stderr.suffix(1500))")
            let message = Self.message(result).replacingOccurrences(of: "|", with: "\\|")
            rows.append("| \(number + 1) | \(badInput.name) | \(result.status) | `\(message)` |")
        }
        let table = (["| # | Bad input | Exit | Message (first error line) |", "|---|---|---|---|"] + rows).joined(separator: "\n")
        let reliability = CLI.repositoryRoot.appendingPathComponent("RELIABILITY.md")
        let begin = "<!-- bad-input-matrix:begin -->", end = "<!-- bad-input-matrix:end -->"
        if ProcessInfo.processInfo.environment["SKEIN_UPDATE_RELIABILITY"] == "1" {
            var text = (try? String(contentsOf: reliability, encoding: .utf8)) ?? "# Reliability\n"
            if let start = text.range(of: begin), let stop = text.range(of: end) {
                text.replaceSubrange(start.upperBound..<stop.lowerBound, with: "\n" + table + "\n")
            } else {
                text += "\n## Bad-input matrix\n\n" + begin + "\n" + table + "\n" + end + "\n"
            }
            try text.write(to: reliability, atomically: true, encoding: .utf8)
        } else {
            let text = try String(contentsOf: reliability, encoding: .utf8)
            for badInput in Self.cases {
                #expect(text.contains("| \(badInput.name) |"), "RELIABILITY.md lacks '\(badInput.name)': run with SKEIN_UPDATE_RELIABILITY=1")
            }
        }
    }
}
