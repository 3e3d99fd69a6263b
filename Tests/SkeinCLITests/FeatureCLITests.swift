import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// The step features of issue 7, each through the real `skein` binary against the test
/// server: structured output (json_schema, the fallback when it is refused, the repair
/// retry, `format: json`), reasoning (separate, keep, drop; streamed and not), tool calls
/// (parsed arguments, malformed arguments), vision parts, and legacy completions.
///
/// Serialized for the same reason as `CLITests`.
@Suite(.serialized) struct FeatureCLITests {
    /// `skein run FILE --output json ARGS` in `directory` (whose `.skein/` holds the store).
    static func runJSON(
        _ path: String, _ arguments: [String] = [], in directory: URL, environment: [String: String] = [:]
    ) async throws -> (CLI.Result, JSONValue) {
        let result = try await CLI.run(
            ["run", path, "--output", "json"] + arguments, in: directory, environment: environment)
        let json = (try? JSONValue(parsing: result.stdout)) ?? .null
        return (result, json)
    }

    // MARK: - Structured output

    @Test func aSchemaStepSendsJSONSchemaAndDownstreamStepsReadItsFields() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(
                ReplyRule(
                    match: .init(lastUserMessageContains: "Extract"),
                    action: .json(["title": "Tides", "tags": ["sea", "moon"]])))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(
                """
                steps:
                  extract:
                    output:
                      schema:
                        type: object
                        required: [title, tags]
                        properties:
                          title: {type: string}
                          tags: {type: array, items: {type: string}}
                    prompt: Extract a title and tags.
                  use:
                    prompt: "{{ steps.extract.output.title }} / {{ steps.extract.output.tags | join(',') }}"
                outputs:
                  extracted: "{{ steps.extract.output }}"
                  used: "{{ steps.use.output }}"
                """, server: server, in: directory)
            let (result, json) = try await Self.runJSON(path, in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(json["outputs"]?["extracted"]?["title"] == "Tides")
            #expect(json["outputs"]?["extracted"]?["tags"] == ["sea", "moon"])
            #expect(json["outputs"]?["used"] == "echo: Tides / sea,moon")
            let format = await server.requests.first?.json?["response_format"]
            #expect(format?["type"] == "json_schema")
            #expect(format?["json_schema"]?["name"] == "extract")
            #expect(format?["json_schema"]?["strict"] == true)
            #expect(format?["json_schema"]?["schema"]?["required"] == ["title", "tags"])
        }
    }

    /// llama-cpp-python's HTTP 500 for `json_schema`: the step asks again with
    /// `json_object` and the schema in the system message, and the provider is remembered,
    /// so the second schema step goes straight to `json_object`.
    @Test func aRejectedJSONSchemaFallsBackToJSONObjectWithTheSchemaInTheSystemMessage() async throws {
        try await SkeinTestServer.withRunning(.init(rejectsJSONSchema: true)) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(
                """
                steps:
                  first:
                    system: You extract facts.
                    output: {schema: {type: object, required: [n], properties: {n: {type: integer}}}}
                    prompt: one
                  second:
                    output: {schema: {type: object, required: [n], properties: {n: {type: integer}}}}
                    prompt: "two {{ steps.first.output.n }}"
                outputs:
                  n: "{{ steps.second.output.n }}"
                """, server: server, in: directory)
            let (result, json) = try await Self.runJSON(path, in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(json["outputs"]?["n"]?.intValue != nil)
            let requests = await server.requests
            #expect(requests.map(\.handling) == [.jsonSchemaRejected, .defaultReply, .defaultReply])
            for request in requests.dropFirst() {
                #expect(request.json?["response_format"]?["type"] == "json_object")
                #expect(request.json?["response_format"]?["schema"]?["required"] == ["n"])
                let system = request.json?["messages"]?[0]
                #expect(system?["role"] == "system")
                #expect(
                    system?["content"]?.stringValue?.contains(
                        "Reply with only a JSON object that conforms to this JSON Schema:") == true)
            }
            #expect(
                requests[1].json?["messages"]?[0]?["content"]?.stringValue?.hasPrefix("You extract facts.\n\n") == true)
        }
    }

    @Test func aProviderMarkedJSONObjectNeverSendsJSONSchema() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = directory.appendingPathComponent("p.yaml").path
            try """
            version: 1
            defaults: {provider: plain, model: test-model}
            providers:
              plain: {base_url: "\(server.baseURL)", api_key_env: null, structured_outputs: json_object}
            steps:
              s:
                output: {schema: {type: object, required: [ok], properties: {ok: {type: boolean}}}}
                prompt: check
            """.write(toFile: path, atomically: true, encoding: .utf8)
            let (result, json) = try await Self.runJSON(path, in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(json["steps"]?["s"]?["output"]?["ok"]?.boolValue != nil)
            #expect(await server.requests.map { $0.json?["response_format"]?["type"] } == ["json_object"])
        }
    }

    /// A reply that breaks the schema is sent back once with each violation as a JSON path.
    @Test func aReplyThatBreaksTheSchemaIsRepairedOnceWithTheViolations() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("bad", times: 1, action: .json(["title": "Tides", "tags": ["sea", 7]])))
            await server.addRule(ReplyRule("good", action: .json(["title": "Tides", "tags": ["sea", "moon"]])))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.tagsStep, server: server, in: directory)
            let (result, json) = try await Self.runJSON(path, in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(json["steps"]?["extract"]?["output"]?["tags"] == ["sea", "moon"])
            let requests = await server.requests
            #expect(requests.count == 2)
            let messages = requests.last?.json?["messages"]?.arrayValue ?? []
            #expect(messages.count == 3)
            #expect(messages[1]["role"] == "assistant")
            #expect(messages[1]["content"] == #"{"tags":["sea",7],"title":"Tides"}"#)
            #expect(messages[2]["role"] == "user")
            #expect(messages[2]["content"]?.stringValue?.contains("$.tags[1]: expected string, got number") == true)
            #expect(result.stderr.contains("1 step run, 2 requests"), "\(result.stderr)")
        }
    }

    @Test func aReplyThatStillBreaksTheSchemaFailsWithTheReplyAndEveryViolation() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("bad", action: .json(["title": 5, "tags": ["sea", 7]])))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.tagsStep, server: server, in: directory)
            let result = try await CLI.run(["run", path, "--quiet"], in: directory)
            #expect(result.status == 1)
            #expect(result.stderr.contains("error: step 'extract' failed"), "\(result.stderr)")
            #expect(result.stderr.contains("the reply does not match the output schema after one repair attempt"))
            #expect(result.stderr.contains("$.title: expected string, got number"))
            #expect(result.stderr.contains("$.tags[1]: expected string, got number"))
            #expect(result.stderr.contains("reply: {"))
            #expect(await server.requests.count == 2)
        }
    }

    static let tagsStep = """
        steps:
          extract:
            output:
              schema:
                type: object
                required: [title, tags]
                properties:
                  title: {type: string}
                  tags: {type: array, items: {type: string}}
            prompt: Extract a title and tags.
        """

    @Test func formatJSONParsesWithoutASchema() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(
                """
                steps:
                  j:
                    output: {format: json}
                    prompt: anything
                outputs:
                  echoed: "{{ steps.j.output.echo }}"
                """, server: server, in: directory)
            let (result, json) = try await Self.runJSON(path, in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(json["outputs"]?["echoed"] == "anything")
            #expect(await server.requests.first?.json?["response_format"] == ["type": "json_object"])
        }
    }

    // MARK: - Reasoning

    static let reasoningSteps = """
        steps:
          field_separate: {reasoning: separate, prompt: field}
          field_keep: {reasoning: keep, prompt: field}
          field_drop: {reasoning: drop, prompt: field}
          tagged_separate: {prompt: tagged}
          tagged_keep: {reasoning: keep, prompt: tagged}
          tagged_drop: {reasoning: drop, prompt: tagged}
        """

    /// `reasoning_content` and a leading `<think>` in each mode, streamed and not: the same
    /// `.output` and `.reasoning` either way, and `--stream` shows the reasoning apart.
    @Test func reasoningIsSeparatedKeptOrDroppedStreamedOrNot() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(
                ReplyRule(
                    match: .init(lastUserMessageContains: "field"),
                    action: .reply(Reply(content: "The answer is 42.", reasoning: "First, think."))))
            await server.addRule(
                ReplyRule(
                    match: .init(lastUserMessageContains: "tagged"),
                    action: .reply(Reply(content: "The answer is 42.", thinking: "First, think."))))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.reasoningSteps, server: server, in: directory)
            let expected: [String: (output: String, reasoning: JSONValue?)] = [
                "field_separate": ("The answer is 42.", "First, think."),
                "field_keep": ("The answer is 42.", "First, think."),
                "field_drop": ("The answer is 42.", nil),
                "tagged_separate": ("The answer is 42.", "First, think."),
                "tagged_keep": ("<think>First, think.</think>The answer is 42.", nil),
                "tagged_drop": ("The answer is 42.", nil),
            ]
            let (plain, plainJSON) = try await Self.runJSON(path, in: directory)
            #expect(plain.status == 0, "\(plain.stderr)")
            let (streamed, streamedJSON) = try await Self.runJSON(
                path, ["--stream", "field_separate", "--no-cache"], in: directory)
            #expect(streamed.status == 0, "\(streamed.stderr)")
            for json in [plainJSON, streamedJSON] {
                for (step, want) in expected {
                    #expect(json["steps"]?[step]?["output"]?.stringValue == want.output, "\(step)")
                    #expect(json["steps"]?[step]?["reasoning"] == want.reasoning, "\(step)")
                }
            }
            let requests = await server.requests
            #expect(requests.count == 12)
            #expect(requests.prefix(6).allSatisfy { !$0.isStream })
            #expect(requests.suffix(6).allSatisfy { $0.isStream })
            // The reasoning, marked, then the answer, marked. Other steps' progress lines may
            // come between any two tokens, so only each part's first token is checked.
            let shown = streamed.stderr
            let reasoning = try #require(shown.range(of: "[reasoning] First,"), "\(shown)")
            let answer = try #require(shown.range(of: "\n[answer] The"), "\(shown)")
            #expect(reasoning.upperBound <= answer.lowerBound)
        }
    }

    // MARK: - Tools

    static let toolStep = """
        steps:
          call:
            tools:
              - name: get_weather
                description: The weather in a city.
                parameters:
                  type: object
                  required: [city]
                  properties: {city: {type: string}}
            tool_choice: get_weather
            prompt: What is the weather in Paris?
          use:
            prompt: "weather in {{ steps.call.tool_calls[0].arguments.city }}"
        outputs:
          calls: "{{ steps.call.tool_calls }}"
          used: "{{ steps.use.output }}"
          finish: "{{ steps.call.finish_reason }}"
        """

    @Test func toolCallsComeBackWithParsedArgumentsStreamedOrNot() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(
                ReplyRule(
                    match: .init(lastUserMessageContains: "weather in Paris?"),
                    action: .reply(
                        Reply(toolCalls: [.init(id: "call_7", name: "get_weather", arguments: #"{"city": "Paris"}"#)])))
            )
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.toolStep, server: server, in: directory)
            for arguments in [[], ["--stream", "call", "--no-cache"]] {
                let (result, json) = try await Self.runJSON(path, arguments, in: directory)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(
                    json["outputs"]?["calls"] == [
                        ["id": "call_7", "name": "get_weather", "arguments": ["city": "Paris"]]
                    ])
                #expect(json["outputs"]?["used"] == "echo: weather in Paris")
                #expect(json["outputs"]?["finish"] == "tool_calls")
            }
            let requests = await server.requests
            #expect(requests.map(\.isStream) == [false, false, true, true])
            let body = requests[0].json
            #expect(body?["tools"]?[0]?["type"] == "function")
            #expect(body?["tools"]?[0]?["function"]?["name"] == "get_weather")
            #expect(body?["tools"]?[0]?["function"]?["description"] == "The weather in a city.")
            #expect(body?["tools"]?[0]?["function"]?["parameters"]?["required"] == ["city"])
            #expect(body?["tool_choice"] == ["type": "function", "function": ["name": "get_weather"]])
        }
    }

    @Test func malformedToolArgumentsAreAnErrorNamingTheToolStreamedOrNot() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(
                ReplyRule(
                    action: .reply(Reply(toolCalls: [.init(name: "get_weather", arguments: #"{"city": Par"#)]))))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.toolStep, server: server, in: directory)
            for arguments in [["--quiet"], ["--stream", "call", "--no-cache"]] {
                let result = try await CLI.run(["run", path] + arguments, in: directory)
                #expect(result.status == 1)
                #expect(
                    result.stderr.contains(
                        #"step 'call': the model called tool 'get_weather' with arguments that are not valid JSON: {"city": Par"#
                    ),
                    "\(result.stderr)")
            }
        }
    }

    // MARK: - Vision

    /// A 1x1 PNG.
    static let png = Data(
        base64Encoded:
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")!

    @Test func imageURLAndImageFilePartsAreSentAsImageURLs() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent("images"), withIntermediateDirectories: true)
            try Self.png.write(to: directory.appendingPathComponent("images/dot.png"))
            let path = try CLI.writePipeline(
                """
                inputs:
                  url: {type: string, default: "https://example.com/cat.jpg"}
                steps:
                  look:
                    messages:
                      - role: user
                        content:
                          - text: What is in these images?
                          - image_url: "{{ inputs.url }}"
                          - image_file: images/dot.png
                """, server: server, in: directory)
            let (result, json) = try await Self.runJSON(path, in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(json["steps"]?["look"]?["output"] == "echo: What is in these images?")
            let parts = await server.requests.first?.json?["messages"]?[0]?["content"]?.arrayValue ?? []
            #expect(parts.count == 3)
            #expect(parts.first == ["type": "text", "text": "What is in these images?"])
            #expect(
                parts.dropFirst().first == ["type": "image_url", "image_url": ["url": "https://example.com/cat.jpg"]])
            #expect(
                parts.last == [
                    "type": "image_url",
                    "image_url": ["url": .string("data:image/png;base64," + Self.png.base64EncodedString())],
                ])
        }
    }

    @Test func aMissingOrOversizedImageFileIsALocatedErrorAtValidateTime() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let big = directory.appendingPathComponent("big.png")
        _ = FileManager.default.createFile(atPath: big.path, contents: nil)
        let handle = try FileHandle(forWritingTo: big)
        try handle.truncate(atOffset: 21 << 20)
        try handle.close()
        let path = directory.appendingPathComponent("p.yaml").path
        try """
        version: 1
        steps:
          look:
            messages:
              - role: user
                content:
                  - image_file: missing.png
                  - image_file: big.png
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await CLI.run(["validate", path], in: directory)
        #expect(result.status == 1)
        #expect(result.stderr.contains("p.yaml:7:25: error: image file 'missing.png' not found"), "\(result.stderr)")
        #expect(result.stderr.contains("p.yaml:8:25: error: image file 'big.png' is 21 MiB; the limit is 20 MiB"))
        #expect(result.stderr.contains("p.yaml: 2 errors"))
    }

    // MARK: - The features pipeline

    @Test func everyExamplePipelineValidates() async throws {
        let folder = CLI.repositoryRoot.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
            .sorted()
        #expect(files.contains("features.yaml"))
        let result = try await CLI.run(["validate"] + files.map { "pipelines/" + $0 })
        #expect(result.status == 0, "\(result.stderr)")
        for file in files {
            #expect(result.stderr.contains("pipelines/\(file): ok"))
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(
                text.hasPrefix("# yaml-language-server: $schema=../schema/pipeline.schema.json\n#\n# "),
                "\(file) has no header")
            #expect(text.contains("skein run pipelines/\(file)"), "\(file)'s header does not say how to run it")
        }
    }

    /// `pipelines/features.yaml` with every step on (vision and Anthropic included), its
    /// OpenAI-compatible steps on the test server through the built-in `openai` provider and
    /// its Anthropic step on the server's `/v1/messages`.
    @Test func theFeaturesPipelineRunsEveryStepAgainstTheTestServer() async throws {
        let key = "sk-features-test-3131"
        try await SkeinTestServer.withRunning(.init(requiredAPIKey: key)) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let manager = FileManager.default
            for folder in ["pipelines", "examples"] {
                try manager.createDirectory(
                    at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            for file in ["examples/sales-chart.png", "examples/support-message.txt"] {
                try manager.copyItem(
                    at: CLI.repositoryRoot.appendingPathComponent(file), to: directory.appendingPathComponent(file))
            }
            let pipeline = try String(
                contentsOf: CLI.repositoryRoot.appendingPathComponent("pipelines/features.yaml"), encoding: .utf8)
            #expect(pipeline.contains("base_url: https://api.novita.ai/anthropic\n"))
            try pipeline.replacingOccurrences(
                of: "base_url: https://api.novita.ai/anthropic\n", with: "base_url: \(server.anthropicBaseURL)\n"
            ).write(to: directory.appendingPathComponent("pipelines/features.yaml"), atomically: true, encoding: .utf8)
            let environment = [
                "SKEIN_PROVIDER": "openai", "OPENAI_BASE_URL": server.baseURL, "OPENAI_API_KEY": key,
                "NOVITA_API_KEY": key,
            ]
            let (result, json) = try await Self.runJSON(
                "pipelines/features.yaml",
                ["-i", "message=@examples/support-message.txt", "-i", "vision=true", "-i", "anthropic=true"],
                in: directory, environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(json["status"] == "succeeded")
            let outputs = try #require(json["outputs"])
            #expect(["bug", "billing", "question"].contains(outputs["category"]?.stringValue ?? ""))
            #expect(outputs["plan"]?.stringValue?.hasPrefix("echo: A ") == true)
            #expect(outputs["ticket"]?["team"] != nil && outputs["ticket"]?["notify_customer"]?.boolValue != nil)
            #expect(outputs["subject"]?.stringValue?.hasPrefix("echo: Support ticket") == true)
            #expect(outputs["chart"]?.stringValue?.hasPrefix("echo: The customer attached this chart") == true)
            #expect(outputs["second_opinion"]?.stringValue?.hasPrefix("echo: Customer message:") == true)
            #expect(!result.stdout.contains(key) && !result.stderr.contains(key))

            let requests = await server.requests
            #expect(requests.count == 6)
            #expect(requests.filter { $0.path == "/v1/chat/completions" }.count == 4)
            #expect(requests.filter { $0.path == "/v1/completions" }.count == 1)
            let anthropic = try #require(requests.first { $0.path == "/v1/messages" })
            #expect(anthropic.headers["x-api-key"] == key)
            #expect(anthropic.json?["model"] == "moonshotai/kimi-k2-instruct")
            #expect(anthropic.json?["system"] == "You review support plans. Be brief.")
            let image = try Data(contentsOf: CLI.repositoryRoot.appendingPathComponent("examples/sales-chart.png"))
            let chart = try #require(requests.first { $0.model == "qwen/qwen2.5-vl-72b-instruct" })
            #expect(
                chart.json?["messages"]?[0]?["content"]?[1]
                    == [
                        "type": "image_url",
                        "image_url": ["url": .string("data:image/png;base64," + image.base64EncodedString())],
                    ])
            let ticket = try #require(requests.first { $0.json?["tools"] != nil })
            #expect(ticket.json?["tool_choice"] == ["type": "function", "function": ["name": "create_ticket"]])
            let classify = try #require(requests.first { $0.json?["response_format"] != nil })
            #expect(classify.json?["response_format"]?["type"] == "json_schema")
        }
    }

    // MARK: - Legacy completions

    @Test func legacyCompletionsSendThePromptAsRawTextStreamedOrNot() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(
                """
                steps:
                  story:
                    api: completion
                    max_tokens: 16
                    prompt: Once upon a time
                outputs:
                  story: "{{ steps.story.output }}"
                  finish: "{{ steps.story.finish_reason }}"
                """, server: server, in: directory)
            let (plain, plainJSON) = try await Self.runJSON(path, in: directory)
            #expect(plain.status == 0, "\(plain.stderr)")
            let (streamed, streamedJSON) = try await Self.runJSON(
                path, ["--stream", "story", "--no-cache"], in: directory)
            #expect(streamed.status == 0, "\(streamed.stderr)")
            for json in [plainJSON, streamedJSON] {
                #expect(json["outputs"]?["story"] == "echo: Once upon a time")
                #expect(json["outputs"]?["finish"] == "stop")
            }
            #expect(streamed.stderr.contains("echo: Once upon a time"))
            let requests = await server.requests
            #expect(requests.map(\.path) == ["/v1/completions", "/v1/completions"])
            #expect(requests.map(\.isStream) == [false, true])
            #expect(requests[0].json?["prompt"] == "Once upon a time")
            #expect(requests[0].json?["messages"] == nil)
            #expect(requests[0].json?["max_tokens"] == 16)
        }
    }
}
