import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// Steps on a provider with `type: anthropic`, through the real `skein` binary against the
/// test server's `/v1/messages`: the request as the Messages API wants it, replies streamed
/// and not (text, thinking, tool use), structured output through the system prompt with
/// the repair retry, images, the error kinds, the store, and the dry run.
///
/// Serialized for the same reason as `CLITests`.
@Suite(.serialized) struct AnthropicCLITests {
    static let key = "sk-ant-test-key-5151"

    /// A pipeline whose default provider is `claude`, the test server's Messages API.
    static func writePipeline(_ body: String, server: SkeinTestServer, in directory: URL) throws -> String {
        let text = """
            version: 1
            defaults:
              provider: claude
              model: claude-test
            providers:
              claude:
                type: anthropic
                base_url: \(server.anthropicBaseURL)
                api_key_env: CLAUDE_KEY
            \(body)
            """
        let path = directory.appendingPathComponent("p.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func run(_ path: String, _ arguments: [String] = [], in directory: URL, key: String = key)
        async throws -> (CLI.Result, JSONValue)
    {
        let result = try await CLI.run(
            ["run", path, "--output", "json"] + arguments, in: directory, environment: ["CLAUDE_KEY": key])
        return (result, (try? JSONValue(parsing: result.stdout)) ?? .null)
    }

    @Test func aStepSendsTheMessagesAPIRequestAndDecodesTheReplyStreamedOrNot() async throws {
        try await SkeinTestServer.withRunning(.init(requiredAPIKey: Self.key)) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try Self.writePipeline(
                """
                steps:
                  ask:
                    system: You are terse.
                    temperature: 0.5
                    top_p: 0.9
                    top_k: 40
                    min_p: 0.1
                    seed: 7
                    stop: ["END"]
                    prompt: Name a colour.
                  follow:
                    max_tokens: 32
                    prompt: "Again: {{ steps.ask.output }}"
                outputs:
                  answer: "{{ steps.follow.output }}"
                  finish: "{{ steps.ask.finish_reason }}"
                  model: "{{ steps.ask.model }}"
                """, server: server, in: directory)
            let (plain, plainJSON) = try await Self.run(path, in: directory)
            #expect(plain.status == 0, "\(plain.stderr)")
            let (streamed, streamedJSON) = try await Self.run(path, ["--stream", "ask", "--no-cache"], in: directory)
            #expect(streamed.status == 0, "\(streamed.stderr)")
            for json in [plainJSON, streamedJSON] {
                #expect(json["outputs"]?["answer"] == "echo: Again: echo: Name a colour.")
                #expect(json["outputs"]?["finish"] == "stop")
                #expect(json["outputs"]?["model"] == "claude-test")
                // Words: "You are terse." + "Name a colour." in, "echo: Name a colour." out.
                #expect(json["steps"]?["ask"]?["usage"]?["prompt_tokens"] == 6)
                #expect(json["steps"]?["ask"]?["usage"]?["completion_tokens"] == 4)
            }
            #expect(streamed.stderr.contains("echo: Name a colour."))

            let requests = await server.requests
            #expect(requests.map(\.path) == Array(repeating: "/v1/messages", count: 4))
            #expect(requests.map(\.isStream) == [false, false, true, true])
            let ask = try #require(requests.first)
            #expect(ask.headers["x-api-key"] == Self.key)
            #expect(ask.headers["anthropic-version"] == "2023-06-01")
            #expect(ask.headers["authorization"] == nil)
            let body = try #require(ask.json)
            #expect(body["model"] == "claude-test")
            #expect(body["system"] == "You are terse.")
            #expect(body["messages"] == [["role": "user", "content": "Name a colour."]])
            #expect(body["max_tokens"] == 1024)
            #expect(body["temperature"] == 0.5)
            #expect(body["top_p"] == 0.9)
            #expect(body["top_k"] == 40)
            #expect(body["stop_sequences"] == ["END"])
            for absent in ["min_p", "seed", "stop", "response_format", "stream_options"] {
                #expect(body[absent] == nil, "\(absent) was sent")
            }
            #expect(requests[1].json?["max_tokens"] == 32)
            #expect(requests[2].json?["stream"] == true)

            // The store holds the Messages API request: the same run again makes no request.
            let again = try await CLI.run(["run", path], in: directory, environment: ["CLAUDE_KEY": Self.key])
            #expect(again.status == 0)
            #expect(again.stderr.contains("0 requests, 2 from the store"), "\(again.stderr)")
            #expect(await server.requests.count == 4)
        }
    }

    @Test func thinkingBlocksBecomeReasoningStreamedOrNot() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule(action: .reply(Reply(content: "Blue.", reasoning: "The sky is blue."))))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try Self.writePipeline(
                """
                steps:
                  think:
                    extra: {thinking: {type: enabled, budget_tokens: 1024}}
                    prompt: Pick a colour.
                """, server: server, in: directory)
            let (plain, plainJSON) = try await Self.run(path, in: directory)
            #expect(plain.status == 0, "\(plain.stderr)")
            let (streamed, streamedJSON) = try await Self.run(path, ["--stream", "think", "--no-cache"], in: directory)
            #expect(streamed.status == 0, "\(streamed.stderr)")
            for json in [plainJSON, streamedJSON] {
                #expect(json["steps"]?["think"]?["output"] == "Blue.")
                #expect(json["steps"]?["think"]?["reasoning"] == "The sky is blue.")
            }
            #expect(streamed.stderr.contains("[reasoning] The sky is blue.\n[answer] Blue."), "\(streamed.stderr)")
            #expect(await server.requests.first?.json?["thinking"] == ["type": "enabled", "budget_tokens": 1024])
        }
    }

    @Test func toolUseComesBackAsParsedToolCallsStreamedOrNot() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try Self.writePipeline(
                """
                steps:
                  call:
                    tools:
                      - name: get_weather
                        description: The weather in a city.
                        parameters:
                          type: object
                          required: [city]
                          properties: {city: {enum: [Paris]}}
                    tool_choice: get_weather
                    prompt: Weather in Paris?
                outputs:
                  city: "{{ steps.call.tool_calls[0].arguments.city }}"
                  finish: "{{ steps.call.finish_reason }}"
                """, server: server, in: directory)
            for arguments in [[], ["--stream", "call", "--no-cache"]] {
                let (result, json) = try await Self.run(path, arguments, in: directory)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(json["outputs"]?["city"] == "Paris")
                #expect(json["steps"]?["call"]?["tool_calls"]?.arrayValue?.first?["name"] == "get_weather")
                #expect(json["outputs"]?["finish"] == "tool_calls")
            }
            let body = try #require(await server.requests.first?.json)
            #expect(
                body["tools"] == [
                    [
                        "description": "The weather in a city.",
                        "input_schema": [
                            "properties": ["city": ["enum": ["Paris"]]], "required": ["city"], "type": "object",
                        ],
                        "name": "get_weather",
                    ]
                ])
            #expect(body["tool_choice"] == ["type": "tool", "name": "get_weather"])
        }
    }

    @Test func malformedToolInputIsAnErrorNamingTheTool() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(
                ReplyRule(action: .reply(Reply(toolCalls: [.init(name: "lookup", arguments: "{\"id\": ")]))))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try Self.writePipeline(
                """
                steps:
                  call:
                    tools: [{name: lookup}]
                    prompt: Look it up.
                """, server: server, in: directory)
            for arguments in [["--quiet"], ["--stream", "call", "--no-cache"]] {
                let result = try await CLI.run(
                    ["run", path] + arguments, in: directory, environment: ["CLAUDE_KEY": Self.key])
                #expect(result.status == 1)
                #expect(
                    result.stderr.contains(
                        "the model called tool 'lookup' with arguments that are not valid JSON"), "\(result.stderr)")
            }
        }
    }

    /// No `response_format`: the schema goes into `system`, and a reply that breaks it is
    /// repaired once with the violations, as on any provider.
    @Test func aSchemaGoesIntoTheSystemPromptAndABadReplyIsRepaired() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule("bad", times: 1, action: .json(["n": "three"])))
            await server.addRule(ReplyRule("good", action: .text("```json\n{\"n\": 3}\n```")))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try Self.writePipeline(
                """
                steps:
                  count:
                    system: You count.
                    output: {schema: {type: object, required: [n], properties: {n: {type: integer}}}}
                    prompt: How many?
                outputs:
                  n: "{{ steps.count.output.n }}"
                """, server: server, in: directory)
            let (result, json) = try await Self.run(path, in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(json["outputs"]?["n"] == 3)
            let requests = await server.requests
            #expect(requests.count == 2)
            let first = try #require(requests.first?.json)
            #expect(first["response_format"] == nil)
            #expect(
                first["system"]?.stringValue?.hasPrefix(
                    "You count.\n\nReply with only a JSON object that conforms to this JSON Schema:\n") == true)
            let messages = requests[1].json?["messages"]?.arrayValue ?? []
            #expect(messages.map { $0["role"] } == ["user", "assistant", "user"])
            #expect(messages[1]["content"] == #"{"n":"three"}"#)
            #expect(messages[2]["content"]?.stringValue?.contains("$.n: expected integer, got string") == true)
        }
    }

    @Test func imagesAreSentAsImageBlocks() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try FeatureCLITests.png.write(to: directory.appendingPathComponent("dot.png"))
            let path = try Self.writePipeline(
                """
                steps:
                  look:
                    messages:
                      - role: system
                        content: You describe images.
                      - role: user
                        content:
                          - text: Compare these.
                          - image_url: https://example.com/cat.jpg
                          - image_file: dot.png
                """, server: server, in: directory)
            let (result, json) = try await Self.run(path, in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(json["steps"]?["look"]?["output"] == "echo: Compare these.")
            let body = try #require(await server.requests.first?.json)
            #expect(body["system"] == "You describe images.")
            #expect(
                body["messages"] == [
                    [
                        "role": "user",
                        "content": [
                            ["type": "text", "text": "Compare these."],
                            ["type": "image", "source": ["type": "url", "url": "https://example.com/cat.jpg"]],
                            [
                                "type": "image",
                                "source": [
                                    "type": "base64", "media_type": "image/png",
                                    "data": .string(FeatureCLITests.png.base64EncodedString()),
                                ],
                            ],
                        ],
                    ]
                ])
        }
    }

    /// Anthropic's error bodies become the provider errors users know, with what to do;
    /// 529 and 429 are retried, 400 and 404 are not. The key appears nowhere.
    @Test func errorsNameAnthropicsTypeAndSayWhatToDo() async throws {
        try await SkeinTestServer.withRunning(.init(requiredAPIKey: Self.key)) { server in
            await server.addRule(
                ReplyRule(
                    "overloaded", match: .init(lastUserMessageContains: "busy"), times: 1,
                    action: .status(529, message: "Overloaded", type: "overloaded_error")))
            await server.addRule(
                ReplyRule(
                    "limited", match: .init(lastUserMessageContains: "busy"), times: 1,
                    action: .rateLimited(retryAfter: .seconds(1))))
            await server.addRule(
                ReplyRule(
                    "stream", match: .init(lastUserMessageContains: "busy", isStream: true), times: 1,
                    action: .streamError(
                        afterChunks: 3, error: ErrorBody(message: "Overloaded", type: "overloaded_error"),
                        style: .errorEvent)))
            await server.addRule(
                ReplyRule(
                    "missing", match: .init(lastUserMessageContains: "unknown"),
                    action: .status(404, message: "model: claude-nope")))
            await server.addRule(
                ReplyRule(
                    "refused", match: .init(lastUserMessageContains: "refused"),
                    action: .status(400, message: "temperature: range")))
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try Self.writePipeline(
                """
                inputs:
                  word: {type: string}
                steps:
                  s:
                    prompt: "{{ inputs.word }}"
                """, server: server, in: directory)

            let wrongKey = try await CLI.run(
                ["run", path, "-i", "word=hi", "--quiet"], in: directory,
                environment: ["CLAUDE_KEY": "sk-ant-wrong-9876"])
            #expect(wrongKey.status == 1)
            #expect(
                wrongKey.stderr.contains("provider 'claude' returned 401 authentication_error"), "\(wrongKey.stderr)")
            #expect(wrongKey.stderr.contains("Check the key in CLAUDE_KEY."))
            #expect(!wrongKey.stderr.contains("9876") && !wrongKey.stdout.contains("9876"))

            let busy = try await CLI.run(
                ["run", path, "-i", "word=busy", "--stream", "s"], in: directory, environment: ["CLAUDE_KEY": Self.key])
            #expect(busy.status == 0, "\(busy.stderr)")
            #expect(busy.stderr.contains("529 overloaded_error"), "\(busy.stderr)")
            #expect(busy.stderr.contains("429 rate_limit_error"), "\(busy.stderr)")
            #expect(busy.stderr.contains("sent overloaded_error in the stream"), "\(busy.stderr)")
            #expect(busy.stderr.contains("1 step run, 4 requests, 3 retries"), "\(busy.stderr)")

            let missing = try await CLI.run(
                ["run", path, "-i", "word=unknown", "--quiet"], in: directory, environment: ["CLAUDE_KEY": Self.key])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("returned 404 not_found_error: model: claude-nope."), "\(missing.stderr)")
            #expect(missing.stderr.contains("skein models --provider claude"))

            let refused = try await CLI.run(
                ["run", path, "-i", "word=refused", "--quiet"], in: directory, environment: ["CLAUDE_KEY": Self.key])
            #expect(refused.status == 1)
            #expect(
                refused.stderr.contains("returned 400 invalid_request_error: temperature: range."), "\(refused.stderr)")

            let handled = await server.requests.map(\.handling)
            #expect(handled.filter { $0 == .rule("missing") }.count == 1, "a 404 was retried")
            #expect(handled.filter { $0 == .rule("refused") }.count == 1, "a 400 was retried")
        }
    }

    @Test func legacyCompletionsOnAnAnthropicProviderAreALocatedError() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try Self.writePipeline(
                """
                steps:
                  raw:
                    api: completion
                    prompt: Once upon a time
                """, server: server, in: directory)
            let result = try await CLI.run(
                ["run", path, "--quiet"], in: directory, environment: ["CLAUDE_KEY": Self.key])
            #expect(result.status == 1)
            #expect(
                result.stderr.contains(
                    "p.yaml:11:3: step 'raw' has 'api: completion', but provider 'claude' has type anthropic"),
                "\(result.stderr)")
            #expect(await server.requests.isEmpty)
        }
    }

    @Test func dryRunShowsTheMessagesEndpointAndBody() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try Self.writePipeline(
                """
                steps:
                  s:
                    system: Be brief.
                    output: {format: json}
                    prompt: Hello
                """, server: server, in: directory)
            let result = try await CLI.run(["run", path, "--dry-run", "--output", "json"], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            let request = try #require(try JSONValue(parsing: result.stdout).arrayValue?.first)
            #expect(request["url"] == .string(server.anthropicBaseURL + "/v1/messages"))
            #expect(request["body"]?["system"] == "Be brief.\n\nReply with only JSON, no other text.")
            #expect(request["body"]?["max_tokens"] == 1024)
            #expect(await server.requests.isEmpty)
        }
    }
}
