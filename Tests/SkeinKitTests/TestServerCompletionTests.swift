import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@testable import SkeinTesting

@Suite struct TestServerCompletionTests {
    @Test func chatReplyEchoesTheLastUserMessageWithUsage() async throws {
        try await SkeinTestServer.withRunning { server in
            let client = TestServerClient(server)
            let body: TestJSON = [
                "model": "test-model",
                "messages": [
                    ["role": "system", "content": "Be brief."],
                    ["role": "user", "content": "first question"],
                    ["role": "assistant", "content": "an answer"],
                    ["role": "user", "content": "Summarize the article please"],
                ],
            ]
            let reply = try await client.post("/chat/completions", body)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "application/json")
            let json = try #require(reply.json)
            #expect(json["object"] == "chat.completion")
            #expect(json["model"] == "test-model")
            #expect(json["choices"]?[0]?["message"]?["role"] == "assistant")
            #expect(json["choices"]?[0]?["message"]?["content"] == "echo: Summarize the article please")
            #expect(json["choices"]?[0]?["finish_reason"] == "stop")
            // 2 + 2 + 2 + 4 words in, 5 words out.
            #expect(json["usage"] == ["prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15])
        }
    }

    @Test func streamedDeltasAssembleToTheNonStreamReply() async throws {
        try await SkeinTestServer.withRunning(.init(tokenInterval: .milliseconds(1))) { server in
            let client = TestServerClient(server)
            let message = "Translate  into French:\nthe quick brown fox jumps over the lazy dog"
            let whole = try await client.post("/chat/completions", chatBody(message))
            let stream = try await client.post(
                "/chat/completions",
                chatBody(message, stream: true).merging(["stream_options": ["include_usage": true]])
            )
            #expect(stream.status == 200)
            #expect(stream.headers["content-type"] == "text/event-stream")
            #expect(stream.sawDone)
            let content = try #require(whole.json?["choices"]?[0]?["message"]?["content"]?.stringValue)
            #expect(stream.assembledContent == content)

            let chunks = stream.chunks
            #expect(chunks.count > 5)
            #expect(chunks.allSatisfy { $0["object"] == "chat.completion.chunk" })
            #expect(chunks.first?["choices"]?[0]?["delta"] == ["role": "assistant", "content": ""])
            let finishing = chunks[chunks.count - 2]
            #expect(finishing["choices"]?[0]?["finish_reason"] == "stop")
            let usageChunk = try #require(chunks.last)
            #expect(usageChunk["choices"] == [])
            #expect(usageChunk["usage"] == whole.json?["usage"])
        }
    }

    @Test func streamWithoutIncludeUsageSendsNoUsageChunk() async throws {
        try await SkeinTestServer.withRunning { server in
            let stream = try await TestServerClient(server).post("/chat/completions", chatBody("hi", stream: true))
            #expect(stream.sawDone)
            #expect(stream.chunks.allSatisfy { $0["usage"] == nil })
            #expect(stream.chunks.last?["choices"]?[0]?["finish_reason"] == "stop")
        }
    }

    @Test func legacyCompletionsStreamAndNot() async throws {
        try await SkeinTestServer.withRunning { server in
            let client = TestServerClient(server)
            let whole = try await client.post(
                "/completions", ["model": "test-model", "prompt": "Once upon a time", "max_tokens": 5]
            )
            let json = try #require(whole.json)
            #expect(json["object"] == "text_completion")
            #expect(json["choices"]?[0]?["text"] == "echo: Once upon a time")
            #expect(json["usage"]?["prompt_tokens"] == 4)
            #expect(json["usage"]?["completion_tokens"] == 5)

            let stream = try await client.post(
                "/completions", ["model": "test-model", "prompt": "Once upon a time", "stream": true]
            )
            #expect(stream.sawDone)
            #expect(stream.chunks.allSatisfy { $0["object"] == "text_completion" })
            #expect(stream.assembledContent == "echo: Once upon a time")
            #expect(stream.chunks.last?["choices"]?[0]?["finish_reason"] == "stop")
        }
    }

    @Test func honorsMaxTokensOnlyWhenConfigured() async throws {
        try await SkeinTestServer.withRunning(.init(honorsMaxTokens: true)) { server in
            let reply = try await TestServerClient(server).chat(
                "one two three four five six", extra: ["max_tokens": 3]
            )
            #expect(reply.json?["choices"]?[0]?["message"]?["content"] == "echo: one two")
            #expect(reply.json?["choices"]?[0]?["finish_reason"] == "length")
        }
    }

    @Test func modelsAndRoutesWithoutTheV1Prefix() async throws {
        try await SkeinTestServer.withRunning(.init(modelIDs: ["alpha", "beta"])) { server in
            let client = TestServerClient(server)
            let models = try await client.get("/models")
            #expect(models.json?["object"] == "list")
            #expect(models.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["alpha", "beta"])

            let root = server.baseURL.replacingOccurrences(of: "/v1", with: "")
            let unprefixed = TestServerClient(baseURL: root)
            let reply = try await unprefixed.post("/chat/completions", chatBody("no prefix"))
            #expect(reply.json?["choices"]?[0]?["message"]?["content"] == "echo: no prefix")
            // The reply names the first listed model when the request names none.
            let anonymous = try await client.post(
                "/chat/completions", ["messages": [["role": "user", "content": "x"]]])
            #expect(anonymous.json?["model"] == "alpha")

            let missing = try await client.get("/nothing/here")
            #expect(missing.status == 404)
            #expect(missing.json?["error"]?["message"] == "Unknown request URL: GET /v1/nothing/here")
            #expect(
                await server.requests.map(\.path) == [
                    "/v1/models", "/chat/completions", "/v1/chat/completions", "/v1/nothing/here",
                ])
        }
    }

    @Test func badJSONBodyIsA400() async throws {
        try await SkeinTestServer.withRunning { server in
            let client = TestServerClient(server)
            var request = HTTPClientRequest(url: server.baseURL + "/chat/completions")
            request.method = .POST
            request.body = .bytes(ByteBuffer(string: "{not json"))
            let response = try await client.client.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 400)
            #expect(await server.requests.first?.handling == .badRequest)
        }
    }

    @Test func schemaResponseFormatsGetASchemaValidInstance() async throws {
        let schema: TestJSON = [
            "type": "object",
            "required": ["headline", "tags", "score"],
            "properties": [
                "headline": ["type": "string", "maxLength": 5],
                "tags": ["type": "array", "items": ["type": "string"], "minItems": 2],
                "score": ["type": "integer", "minimum": 1, "maximum": 10],
                "mood": ["enum": ["calm", "angry"]],
            ],
        ]
        let expected: TestJSON = ["headline": "headl", "tags": ["tags", "tags-1"], "score": 1, "mood": "calm"]
        try await SkeinTestServer.withRunning { server in
            let client = TestServerClient(server)
            let openAI = try await client.chat(
                "Headline please",
                extra: ["response_format": ["type": "json_schema", "json_schema": ["name": "h", "schema": schema]]]
            )
            let content = try #require(openAI.json?["choices"]?[0]?["message"]?["content"]?.stringValue)
            #expect(try TestJSON(parsing: content) == expected)

            // llama.cpp's spelling: json_object with the schema beside it.
            let llama = try await client.chat(
                "Headline please", extra: ["response_format": ["type": "json_object", "schema": schema]]
            )
            #expect(llama.json?["choices"]?[0]?["message"]?["content"]?.stringValue == content)

            // json_object alone: the echo as an object.
            let plain = try await client.chat("Headline please", extra: ["response_format": ["type": "json_object"]])
            #expect(plain.json?["choices"]?[0]?["message"]?["content"] == #"{"echo":"Headline please"}"#)

            // Streaming the JSON reply assembles to the same text.
            let stream = try await client.post(
                "/chat/completions",
                chatBody("Headline please", stream: true).merging([
                    "response_format": ["type": "json_schema", "json_schema": ["name": "h", "schema": schema]]
                ])
            )
            #expect(stream.assembledContent == content)
            #expect(stream.chunks.count > 4)
        }
    }

    @Test func forcedToolChoiceGetsAToolCallWithSchemaValidArguments() async throws {
        let tools: TestJSON = [
            [
                "type": "function",
                "function": [
                    "name": "get_weather",
                    "parameters": [
                        "type": "object", "required": ["city"], "properties": ["city": ["type": "string"]],
                    ],
                ],
            ]
        ]
        try await SkeinTestServer.withRunning { server in
            let client = TestServerClient(server)
            let reply = try await client.chat("Weather?", extra: ["tools": tools, "tool_choice": "required"])
            let message = try #require(reply.json?["choices"]?[0]?["message"])
            #expect(message["content"] == .null)
            #expect(message["tool_calls"]?[0]?["function"]?["name"] == "get_weather")
            #expect(message["tool_calls"]?[0]?["function"]?["arguments"] == #"{"city":"city"}"#)
            #expect(reply.json?["choices"]?[0]?["finish_reason"] == "tool_calls")

            // Without tool_choice the model answers in text.
            let auto = try await client.chat("Weather?", extra: ["tools": tools])
            #expect(auto.json?["choices"]?[0]?["message"]?["content"] == "echo: Weather?")
        }
    }
}

extension TestJSON {
    /// The object with `other`'s members added (replacing same-named ones).
    func merging(_ other: [String: TestJSON]) -> TestJSON {
        guard case .object(var members) = self else { return self }
        members.merge(other) { _, new in new }
        return .object(members)
    }
}
