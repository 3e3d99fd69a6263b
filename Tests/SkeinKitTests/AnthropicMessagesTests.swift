import Foundation
import NIOHTTP1
import SkeinTesting
import Testing

@testable import SkeinCore
@testable import SkeinKit

/// The Anthropic Messages API: the request body, the URL and headers, whole and streamed
/// replies, error bodies and stream errors, and the client against the test server's
/// `/v1/messages`.
@Suite struct AnthropicMessagesTests {
    static func provider(_ server: SkeinTestServer, keyVariable: String? = nil, baseURL: String? = nil)
        -> ProviderConfiguration
    {
        ProviderConfiguration(
            name: "claude", kind: .anthropic, baseURL: baseURL ?? server.anthropicBaseURL,
            apiKeyEnvironmentVariable: keyVariable)
    }

    static func ask(_ text: String, stream: Bool = false) -> CompletionRequest {
        .messages(model: "claude-test", messages: [.user(text)], stream: stream)
    }

    // MARK: - Requests

    @Test func theBodyFollowsTheMessagesAPI() {
        let request = CompletionRequest.messages(
            model: "claude-test",
            messages: [
                .system("Be brief."), .user("Hi"), .assistant("Hello."), .system("Use English."),
                ChatMessage(
                    role: .user,
                    content: .parts([
                        .text("Look:"), .imageURL("data:image/png;base64,AAAA"), .imageURL("https://example.com/a.jpg"),
                    ]), name: "ann"),
                ChatMessage(role: .tool, content: .text("22 C"), toolCallID: "toolu_1"),
            ],
            sampling: SamplingParameters(
                temperature: 0.5, topP: 0.9, topK: 40, minP: 0.1, presencePenalty: 1, frequencyPenalty: 1,
                repetitionPenalty: 1.1, stop: ["END"], seed: 7),
            tools: [
                [
                    "type": "function",
                    "function": ["name": "weather", "description": "Weather.", "parameters": ["type": "object"]],
                ]
            ],
            toolChoice: "required", extra: ["metadata": ["user_id": "u1"], "temperature": 1.0], stream: true)
        #expect(request.api == .messages)
        let body = request.body
        #expect(
            Array(body.keys) == [
                "model", "system", "messages", "max_tokens", "temperature", "top_p", "top_k", "stop_sequences",
                "stream",
                "tools", "tool_choice", "metadata",
            ])
        #expect(body["system"] == "Be brief.\n\nUse English.")
        #expect(body["max_tokens"] == .int(AnthropicMessages.defaultMaxTokens))
        #expect(body["temperature"] == 1.0)
        #expect(body["stop_sequences"] == ["END"])
        #expect(body["tool_choice"] == ["type": "any"])
        #expect(body["tools"] == [["name": "weather", "description": "Weather.", "input_schema": ["type": "object"]]])
        #expect(
            body["messages"] == [
                ["role": "user", "content": "Hi"],
                ["role": "assistant", "content": "Hello."],
                [
                    "role": "user",
                    "content": [
                        ["type": "text", "text": "Look:"],
                        ["type": "image", "source": ["type": "base64", "media_type": "image/png", "data": "AAAA"]],
                        ["type": "image", "source": ["type": "url", "url": "https://example.com/a.jpg"]],
                    ],
                ],
                ["role": "user", "content": [["type": "tool_result", "tool_use_id": "toolu_1", "content": "22 C"]]],
            ])
        #expect(request.isStreaming)
        #expect(request.estimatedTokens > AnthropicMessages.defaultMaxTokens)
    }

    @Test func toolChoiceInEveryForm() {
        let cases: [(JSONValue, JSONValue)] = [
            ("auto", ["type": "auto"]), ("none", ["type": "none"]), ("required", ["type": "any"]),
            ("weather", ["type": "tool", "name": "weather"]),
            (["type": "function", "function": ["name": "weather"]], ["type": "tool", "name": "weather"]),
            (["type": "tool", "name": "weather"], ["type": "tool", "name": "weather"]),
        ]
        for (choice, expected) in cases {
            #expect(AnthropicMessages.toolChoice(choice) == expected, "\(choice)")
        }
    }

    @Test func urlsAndHeaders() {
        #expect(
            CompletionAPI.messages.url(baseURL: "https://api.novita.ai/anthropic")
                == "https://api.novita.ai/anthropic/v1/messages")
        #expect(
            CompletionAPI.messages.url(baseURL: "https://api.anthropic.com/v1")
                == "https://api.anthropic.com/v1/messages")
        #expect(
            CompletionAPI.chat.url(baseURL: "https://api.novita.ai/v3/openai")
                == "https://api.novita.ai/v3/openai/chat/completions")
        let provider = ProviderConfiguration(
            name: "claude", kind: .anthropic, baseURL: "https://api.anthropic.com", apiKeyEnvironmentVariable: "K",
            headers: ["anthropic-beta": "tools-2024"])
        let headers = AnthropicMessages.headers(for: provider, apiKey: "secret", streaming: true, userAgent: "skein")
        #expect(headers["x-api-key"] == ["secret"])
        #expect(headers["anthropic-version"] == ["2023-06-01"])
        #expect(headers["anthropic-beta"] == ["tools-2024"])
        #expect(headers["authorization"].isEmpty)
        #expect(headers["accept"] == ["text/event-stream"])
    }

    /// The cache key covers the wire protocol and the API: the same words asked of a chat
    /// endpoint and of a Messages endpoint are different requests.
    @Test func requestKeysTellTheAPIsApart() {
        let anthropic = ProviderConfiguration(name: "a", kind: .anthropic, baseURL: "https://x.example")
        let openai = ProviderConfiguration(name: "a", baseURL: "https://x.example")
        let messages = RequestKey(provider: anthropic, request: Self.ask("hi"))
        let streamed = RequestKey(provider: anthropic, request: Self.ask("hi", stream: true))
        let chat = RequestKey(provider: openai, request: .chat(model: "claude-test", messages: [.user("hi")]))
        #expect(messages == streamed)
        #expect(messages != chat)
        #expect(messages.canonicalBody.contains(#""max_tokens":1024"#))
    }

    // MARK: - Replies

    @Test func aWholeReplyDecodes() throws {
        let json = try JSONValue(
            parsing: #"""
                {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
                 "content": [
                   {"type": "thinking", "thinking": "Hmm.", "signature": "s"},
                   {"type": "redacted_thinking", "data": "zzz"},
                   {"type": "text", "text": "Calling."},
                   {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}],
                 "stop_reason": "tool_use", "stop_sequence": null,
                 "usage": {"input_tokens": 10, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 20, "output_tokens": 7}}
                """#)
        let completion = try #require(AnthropicMessages.decode(json, attempts: 1))
        #expect(completion.content == "Calling.")
        #expect(completion.reasoningContent == "Hmm.")
        #expect(completion.toolCalls == [.init(id: "toolu_1", name: "weather", arguments: #"{"city":"Oslo"}"#)])
        #expect(completion.finishReason == "tool_calls")
        #expect(completion.model == "claude-x")
        #expect(completion.usage == Completion.Usage(promptTokens: 35, completionTokens: 7, cachedTokens: 20))
        #expect(AnthropicMessages.decode(["type": "message"], attempts: 1) == nil)
        for (reason, mapped) in [
            ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("refusal", "content_filter"),
            ("pause_turn", "pause_turn"),
        ] {
            #expect(AnthropicMessages.finishReason(reason) == mapped)
        }
    }

    static let stream = """
        event: message_start
        data: {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x", "stop_reason": null, "usage": {"input_tokens": 12, "output_tokens": 1}}}

        event: ping
        data: {"type": "ping"}

        event: content_block_start
        data: {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}

        event: content_block_delta
        data: {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}}

        event: content_block_delta
        data: {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "see."}}

        event: content_block_delta
        data: {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "abc"}}

        event: content_block_stop
        data: {"type": "content_block_stop", "index": 0}

        event: content_block_start
        data: {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}

        event: content_block_delta
        data: {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hello"}}

        event: something_new
        data: {"type": "something_new", "x": 1}

        event: content_block_delta
        data: {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": ", world."}}

        event: content_block_stop
        data: {"type": "content_block_stop", "index": 1}

        event: content_block_start
        data: {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {}}}

        event: content_block_delta
        data: {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}}

        event: content_block_delta
        data: {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\\"city\\": \\"Os"}}

        event: content_block_delta
        data: {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "lo\\"}"}}

        event: content_block_stop
        data: {"type": "content_block_stop", "index": 2}

        event: message_delta
        data: {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 15}}

        event: message_stop
        data: {"type": "message_stop"}


        """

    /// Assembles `text` fed in pieces of `size` bytes.
    static func assemble(_ text: String, pieces size: Int) throws -> (Completion, [ClientEvent], Bool) {
        var parser = SSEParser()
        var assembler = AnthropicStreamAssembler(
            provider: ProviderConfiguration(name: "claude", kind: .anthropic, baseURL: "https://x"), apiKey: "secret")
        var events: [ClientEvent] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            let end = min(start + size, bytes.count)
            for event in parser.consume(bytes[start..<end]) where !assembler.isDone {
                events += try assembler.consume(event)
            }
            start = end
        }
        for event in parser.finish() where !assembler.isDone { events += try assembler.consume(event) }
        return (assembler.completion(attempts: 1), events, assembler.isComplete)
    }

    @Test(arguments: [1, 7, 64, 100_000])
    func aStreamAssemblesWhereverItIsSplit(pieces: Int) throws {
        let (completion, events, complete) = try Self.assemble(Self.stream, pieces: pieces)
        #expect(complete)
        #expect(completion.content == "Hello, world.")
        #expect(completion.reasoningContent == "Let me see.")
        #expect(completion.toolCalls == [.init(id: "toolu_9", name: "weather", arguments: #"{"city": "Oslo"}"#)])
        #expect(completion.finishReason == "tool_calls")
        #expect(completion.model == "claude-x")
        #expect(completion.usage == Completion.Usage(promptTokens: 12, completionTokens: 15))
        let deltas = events.map { event -> String in
            switch event {
            case .contentDelta(let text): return "c:" + text
            case .reasoningDelta(let text): return "r:" + text
            case .toolCallDelta(let index, let id, let name, let arguments):
                return "t\(index):\(id ?? "-"):\(name ?? "-"):\(arguments)"
            default: return "?"
            }
        }
        #expect(
            deltas == [
                "r:Let me ", "r:see.", "c:Hello", "c:, world.", "t0:toolu_9:weather:", #"t0:-:-:{"city": "Os"#,
                #"t0:-:-:lo"}"#,
            ])
    }

    @Test func aStreamCutBeforeItsStopIsIncomplete() throws {
        let cut = Self.stream.components(separatedBy: "event: message_delta").first ?? ""
        let (_, _, complete) = try Self.assemble(cut, pieces: 50)
        #expect(!complete)
    }

    @Test func anErrorEventEndsTheStreamWithItsType() throws {
        let text = """
            event: message_start
            data: {"type": "message_start", "message": {"model": "claude-x", "usage": {"input_tokens": 1}}}

            event: error
            data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded secret"}}


            """
        let overloaded = #expect(throws: ProviderError.self) { _ = try Self.assemble(text, pieces: 13) }
        #expect(overloaded?.kind == .streamError)
        #expect(overloaded?.code == "overloaded_error")
        #expect(overloaded?.isRetryable == true)
        #expect(overloaded?.message == "Overloaded [redacted]")
        let invalid = text.replacingOccurrences(of: "overloaded_error", with: "invalid_request_error")
        let refused = #expect(throws: ProviderError.self) { _ = try Self.assemble(invalid, pieces: 1000) }
        #expect(refused?.code == "invalid_request_error")
        #expect(refused?.isRetryable == false)
    }

    // MARK: - Errors

    @Test func errorBodiesMapToProviderErrors() {
        let provider = ProviderConfiguration(
            name: "claude", kind: .anthropic, baseURL: "https://x", apiKeyEnvironmentVariable: "CLAUDE_KEY")
        let cases: [(Int, String, ProviderError.Kind, Bool)] = [
            (400, "invalid_request_error", .badRequest, false),
            (413, "request_too_large", .badRequest, false),
            (401, "authentication_error", .invalidAPIKey, false),
            (403, "permission_error", .invalidAPIKey, false),
            (402, "billing_error", .insufficientBalance, false),
            (404, "not_found_error", .modelNotFound, false),
            (429, "rate_limit_error", .rateLimited, true),
            (500, "api_error", .serverError, true),
            (529, "overloaded_error", .modelNotAvailable, true),
        ]
        for (status, type, kind, retryable) in cases {
            let body = #"{"type": "error", "error": {"type": "\#(type)", "message": "Something about secret-key."}}"#
            let error = AnthropicMessages.error(
                provider: provider, status: status, reasonPhrase: "", body: Array(body.utf8),
                retryAfter: status == 429 ? .seconds(3) : nil, apiKey: "secret-key")
            #expect(error.kind == kind, "\(type)")
            #expect(error.code == type)
            #expect(error.status == status)
            #expect(error.isRetryable == retryable, "\(type)")
            #expect(error.message == "Something about [redacted].")
            #expect(error.hint != nil, "\(type)")
            if status == 429 { #expect(error.retryAfter == .seconds(3)) }
        }
        let unauthorized = AnthropicMessages.error(
            provider: provider, status: 401, reasonPhrase: "Unauthorized",
            body: Array(
                #"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#.utf8),
            retryAfter: nil, apiKey: nil)
        #expect(
            unauthorized.description
                == "provider 'claude' returned 401 authentication_error: invalid x-api-key. Check the key in CLAUDE_KEY."
        )
        // A proxy's page still reads as an error with the status.
        let page = AnthropicMessages.error(
            provider: provider, status: 502, reasonPhrase: "Bad Gateway", body: Array("<html>…</html>".utf8),
            retryAfter: nil, apiKey: nil)
        #expect(page.kind == .serverError && page.isRetryable && page.message == "Bad Gateway")
    }

    // MARK: - Against the test server

    @Test func streamedAndWholeRepliesAssembleTheSameFromTheServer() async throws {
        try await withClientAndServer(.init(requiredAPIKey: "k-1"), environment: ["CLAUDE_KEY": "k-1"]) {
            server, client in
            await server.addRule(ReplyRule(action: .reply(ClientStreamingTests.richReply)))
            let provider = Self.provider(server, keyVariable: "CLAUDE_KEY")
            let whole = try await client.complete(Self.ask("q"), provider: provider)
            let log = ClientEventLog()
            let streamed = try await client.complete(
                Self.ask("q", stream: true), provider: provider, events: log.handler)
            #expect(streamed == whole)
            #expect(whole.content == ClientStreamingTests.richReply.content)
            #expect(whole.reasoningContent == ClientStreamingTests.richReply.reasoning)
            #expect(whole.toolCalls.map(\.name) == ["lookup", "compute"])
            #expect(
                whole.toolCalls.map(\.parsedArguments) == [
                    ["limit": 3, "query": "the meaning of life"], ["expression": "6 * 7", "precision": "exact"],
                ])
            #expect(whole.finishReason == "tool_calls")
            #expect(whole.usage == Completion.Usage(promptTokens: 21, completionTokens: 34, cachedTokens: 13))
            #expect(log.contentOfLastAttempt == whole.content)
            let requests = await server.requests
            #expect(requests.map(\.path) == ["/v1/messages", "/v1/messages"])
            #expect(requests.allSatisfy { $0.headers["x-api-key"] == "k-1" && $0.headers["authorization"] == nil })
        }
    }

    @Test func aBaseURLEndingInV1AndTheModelListWork() async throws {
        try await withClientAndServer { server, client in
            let provider = Self.provider(server, baseURL: server.baseURL)
            let completion = try await client.complete(Self.ask("hello"), provider: provider)
            #expect(completion.content == "echo: hello")
            let models = try await client.listModels(provider: provider)
            #expect(models.map(\.id) == ["test-model"])
            #expect(await server.requests.map(\.path) == ["/v1/messages", "/v1/models"])
        }
    }

    @Test func aRequestForTheWrongAPIIsRefusedBeforeSending() async throws {
        try await withClientAndServer { server, client in
            let anthropic = Self.provider(server)
            let chatError = try await expectProviderError(client, clientChat("hi"), provider: anthropic)
            #expect(chatError.kind == .unsupportedAPI)
            #expect(chatError.description.contains("its type 'anthropic' speaks the Anthropic Messages API"))
            let messagesError = try await expectProviderError(
                client, Self.ask("hi"), provider: clientTestProvider(server))
            #expect(messagesError.kind == .unsupportedAPI)
            #expect(await server.requests.isEmpty)
        }
    }

    @Test func overloadedAndRateLimitedAreRetriedAndTheRestAreNot() async throws {
        let clock = ClientRecordingClock()
        try await withClientAndServer(clock: clock) { server, client in
            await server.addRule(
                ReplyRule(
                    "overloaded", match: .init(lastUserMessageContains: "busy"), times: 1,
                    action: .status(529, message: "Overloaded")))
            await server.addRule(
                ReplyRule(
                    "limited", match: .init(lastUserMessageContains: "busy"), times: 1,
                    action: .rateLimited(retryAfter: .seconds(2))))
            await server.addRule(
                ReplyRule(
                    "missing", match: .init(lastUserMessageContains: "nope"),
                    action: .status(404, message: "no such model")))
            let provider = Self.provider(server)
            let busy = try await client.complete(Self.ask("busy", stream: true), provider: provider)
            #expect(busy.attempts == 3)
            #expect(clock.sleeps.contains(.seconds(2)))
            let missing = try await expectProviderError(client, Self.ask("nope"), provider: provider)
            #expect(missing.kind == .modelNotFound)
            #expect(missing.code == "not_found_error")
            #expect(await server.requests.count == 4)
        }
    }

    @Test func droppedAndMalformedStreamsAreErrors() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(
                ReplyRule(match: .init(lastUserMessageContains: "drop"), action: .dropConnection(afterChunks: 4)))
            await server.addRule(ReplyRule(match: .init(lastUserMessageContains: "junk"), action: .malformedBody))
            let provider = Self.provider(server)
            let dropped = try await expectProviderError(
                client, Self.ask("drop", stream: true), provider: provider, retryPolicy: .never)
            #expect(dropped.kind == .connectionFailed)
            let junk = try await expectProviderError(
                client, Self.ask("junk", stream: true), provider: provider, retryPolicy: .never)
            #expect(junk.kind == .invalidResponse)
            #expect(junk.hint?.contains("Anthropic Messages API") == true)
            let junkWhole = try await expectProviderError(
                client, Self.ask("junk"), provider: provider, retryPolicy: .never)
            #expect(junkWhole.kind == .invalidResponse)
            #expect(junkWhole.hint?.contains("Anthropic Messages API") == true)
        }
    }
}

/// The test server's `/v1/messages` endpoint on the wire.
@Suite struct TestServerMessagesTests {
    static func body(_ text: String, maxTokens: Int? = 64, stream: Bool = false) -> TestJSON {
        var body: [String: TestJSON] = [
            "model": "test-model", "messages": [["role": "user", "content": .string(text)]], "stream": .bool(stream),
        ]
        if let maxTokens { body["max_tokens"] = .int(maxTokens) }
        return .object(body)
    }

    @Test func theMessagesAPIsChecksAndErrorShape() async throws {
        try await SkeinTestServer.withRunning(.init(requiredAPIKey: "k")) { server in
            let client = TestServerClient(baseURL: server.anthropicBaseURL)
            let ok = try await client.post(
                "/v1/messages", Self.body("hi"), headers: ["x-api-key": "k", "anthropic-version": "2023-06-01"])
            #expect(ok.status == 200)
            #expect(ok.json?["type"] == "message")
            #expect(ok.json?["content"] == [["type": "text", "text": "echo: hi"]])
            #expect(ok.json?["stop_reason"] == "end_turn")
            #expect(ok.json?["usage"] == ["input_tokens": 1, "output_tokens": 2])

            let noVersion = try await client.post("/v1/messages", Self.body("hi"), headers: ["x-api-key": "k"])
            #expect(noVersion.status == 400)
            #expect(
                noVersion.json == [
                    "type": "error",
                    "error": ["type": "invalid_request_error", "message": "anthropic-version: header is required"],
                ])
            let noMaxTokens = try await client.post(
                "/v1/messages", Self.body("hi", maxTokens: nil),
                headers: ["x-api-key": "k", "anthropic-version": "2023-06-01"])
            #expect(noMaxTokens.status == 400)
            #expect(noMaxTokens.json?["error"]?["message"] == "max_tokens: Field required")
            let bearer = try await client.post(
                "/v1/messages", Self.body("hi"),
                headers: ["authorization": "Bearer k", "anthropic-version": "2023-06-01"])
            #expect(bearer.status == 401)
            #expect(bearer.json?["error"]?["type"] == "authentication_error")
        }
    }

    @Test func aStreamHasTheNamedEventsInOrder() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let client = TestServerClient(baseURL: server.anthropicBaseURL)
            let reply = try await client.post(
                "/v1/messages", Self.body("one two", stream: true), headers: ["anthropic-version": "2023-06-01"])
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"] == "text/event-stream")
            let names = reply.body.components(separatedBy: "\n\n").compactMap { event in
                event.split(separator: "\n").first { $0.hasPrefix("event: ") }.map { String($0.dropFirst(7)) }
            }
            #expect(names.first == "message_start")
            #expect(names.last == "message_stop")
            #expect(names.contains("ping"))
            #expect(names.filter { $0 == "content_block_delta" }.count == 3)
            #expect(!reply.sawDone)
            let text = reply.chunks.compactMap { $0["delta"]?["text"]?.stringValue }.joined()
            #expect(text == "echo: one two")
        }
    }

    @Test func ruleErrorsAreAnsweredInAnthropicsShape() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule(match: .init(endpoint: .messages), times: 1, action: .status(503)))
            await server.addRule(
                ReplyRule(match: .init(endpoint: .messages), action: .rateLimited(retryAfter: .seconds(4))))
            let client = TestServerClient(baseURL: server.anthropicBaseURL)
            let headers = ["anthropic-version": "2023-06-01"]
            let overloaded = try await client.post("/v1/messages", Self.body("x"), headers: headers)
            #expect(overloaded.status == 503)
            #expect(overloaded.json?["error"]?["type"] == "overloaded_error")
            let limited = try await client.post("/v1/messages", Self.body("x"), headers: headers)
            #expect(limited.status == 429)
            #expect(limited.headers["retry-after"] == "4")
            #expect(limited.json?["error"]?["type"] == "rate_limit_error")
            // The chat endpoint is untouched by the rules for messages.
            #expect(try await TestServerClient(server).chat("x").status == 200)
        }
    }
}
