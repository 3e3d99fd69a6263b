import Testing

@testable import SkeinTesting

@Suite struct TestServerRuleTests {
    @Test func statusRulesAnswerInBothErrorShapes() async throws {
        try await SkeinTestServer.withRunning { server in
            await server.setRules([
                ReplyRule(
                    "openai", match: .init(lastUserMessageContains: "bad key"),
                    action: .status(401, message: "Incorrect API key provided")
                ),
                ReplyRule(
                    "novita", match: .init(lastUserMessageContains: "broke"),
                    action: .status(403, message: "Not enough balance", code: "NOT_ENOUGH_BALANCE", shape: .flat)
                ),
            ])
            let client = TestServerClient(server)
            let openAI = try await client.chat("bad key here")
            #expect(openAI.status == 401)
            #expect(
                openAI.json == [
                    "error": [
                        "message": "Incorrect API key provided", "type": "authentication_error",
                        "code": "INVALID_API_KEY",
                    ]
                ]
            )
            let flat = try await client.chat("I am broke")
            #expect(flat.status == 403)
            #expect(
                flat.json == [
                    "code": 403, "reason": "NOT_ENOUGH_BALANCE", "message": "Not enough balance", "metadata": [:],
                ]
            )
            let records = await server.requests
            #expect(records.map(\.handling) == [.rule("openai"), .rule("novita")])
            #expect(records.map(\.status) == [401, 403])
        }
    }

    @Test func ruleLimitedToTwoTimesFailsTwiceThenTheDefaultSucceeds() async throws {
        try await SkeinTestServer.withRunning { server in
            await server.addRule(ReplyRule("flaky", times: 2, action: .status(503, message: "overloaded")))
            let client = TestServerClient(server)
            var statuses: [Int] = []
            for _ in 0..<4 { statuses.append(try await client.chat("retry me").status) }
            #expect(statuses == [503, 503, 200, 200])
            #expect(await server.statusCounts == [503: 2, 200: 2])
        }
    }

    @Test func rateLimitedRulesSendRetryAfterOrRetryAfterMilliseconds() async throws {
        try await SkeinTestServer.withRunning { server in
            await server.setRules([
                ReplyRule(
                    match: .init(lastUserMessageContains: "seconds"), action: .rateLimited(retryAfter: .seconds(7))),
                ReplyRule(
                    match: .init(lastUserMessageContains: "millis"),
                    action: .rateLimited(retryAfter: .milliseconds(250))),
                ReplyRule(match: .init(lastUserMessageContains: "bare"), action: .rateLimited(retryAfter: .none)),
            ])
            let client = TestServerClient(server)
            let seconds = try await client.chat("seconds")
            #expect(seconds.status == 429)
            #expect(seconds.headers["retry-after"] == "7")
            #expect(seconds.json?["error"]?["code"] == "RATE_LIMIT_EXCEEDED")
            let millis = try await client.chat("millis")
            #expect(millis.headers["retry-after-ms"] == "250")
            #expect(millis.headers["retry-after"] == nil)
            let bare = try await client.chat("bare")
            #expect(bare.status == 429)
            #expect(bare.headers["retry-after"] == nil && bare.headers["retry-after-ms"] == nil)
        }
    }

    @Test func nthMatchingRequestOnlyAndMatchingByModelAndEndpoint() async throws {
        try await SkeinTestServer.withRunning { server in
            await server.setRules([
                ReplyRule("third", match: .init(model: "m", nth: 3), action: .text("third one")),
                ReplyRule("legacy", match: .init(endpoint: .completions), action: .text("legacy rule")),
            ])
            let client = TestServerClient(server)
            var contents: [String?] = []
            for _ in 0..<4 {
                let reply = try await client.chat("hello", model: "m")
                contents.append(reply.json?["choices"]?[0]?["message"]?["content"]?.stringValue)
            }
            #expect(contents == ["echo: hello", "echo: hello", "third one", "echo: hello"])
            let legacy = try await client.post("/completions", ["model": "m", "prompt": "hi"])
            #expect(legacy.json?["choices"]?[0]?["text"] == "legacy rule")
        }
    }

    @Test func anyMessageMatchesTheSystemPrompt() async throws {
        try await SkeinTestServer.withRunning { server in
            await server.addRule(ReplyRule(match: .init(anyMessageContains: "pirate"), action: .text("Arr")))
            let client = TestServerClient(server)
            let body: TestJSON = [
                "messages": [["role": "system", "content": "You are a pirate."], ["role": "user", "content": "Hi"]]
            ]
            let reply = try await client.post("/chat/completions", body)
            #expect(reply.json?["choices"]?[0]?["message"]?["content"] == "Arr")
            #expect(try await client.chat("Hi").json?["choices"]?[0]?["message"]?["content"] == "echo: Hi")
        }
    }

    @Test func reasoningThinkingToolCallsUsageAndFinishReason() async throws {
        let reply = Reply(
            content: "The answer is 4.",
            reasoning: "Two plus two is four.",
            thinking: "hmm",
            finishReason: "length",
            usage: .init(cachedTokens: 12)
        )
        try await SkeinTestServer.withRunning { server in
            await server.setRules([
                ReplyRule(match: .init(lastUserMessageContains: "math"), action: .reply(reply)),
                ReplyRule(
                    match: .init(lastUserMessageContains: "tool"),
                    action: .reply(
                        Reply(toolCalls: [.init(name: "lookup", arguments: #"{"query":"swift testing framework"}"#)]))
                ),
            ])
            let client = TestServerClient(server)
            let whole = try await client.chat("math")
            let message = try #require(whole.json?["choices"]?[0]?["message"])
            #expect(message["content"] == "<think>hmm</think>The answer is 4.")
            #expect(message["reasoning_content"] == "Two plus two is four.")
            #expect(whole.json?["choices"]?[0]?["finish_reason"] == "length")
            #expect(whole.json?["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 12)

            let stream = try await client.post(
                "/chat/completions",
                chatBody("math", stream: true).merging(["stream_options": ["include_usage": true]])
            )
            let reasoning = stream.chunks.compactMap { $0["choices"]?[0]?["delta"]?["reasoning_content"]?.stringValue }
            #expect(reasoning.joined() == "Two plus two is four.")
            #expect(reasoning.count == 5)
            #expect(stream.assembledContent == "<think>hmm</think>The answer is 4.")
            #expect(stream.chunks.last?["usage"]?["prompt_tokens_details"]?["cached_tokens"] == 12)

            let tool = try await client.post("/chat/completions", chatBody("tool", stream: true))
            let toolDeltas = tool.chunks.compactMap { $0["choices"]?[0]?["delta"]?["tool_calls"]?[0] }
            #expect(toolDeltas.first?["id"] == "call_0")
            #expect(toolDeltas.first?["function"]?["name"] == "lookup")
            let arguments = toolDeltas.compactMap { $0["function"]?["arguments"]?.stringValue }
            #expect(arguments.count > 2)
            #expect(arguments.joined() == #"{"query":"swift testing framework"}"#)
            #expect(tool.chunks.last?["choices"]?[0]?["finish_reason"] == "tool_calls")
        }
    }

    @Test func dropMidStreamClosesTheConnectionBeforeDone() async throws {
        try await SkeinTestServer.withRunning { server in
            await server.addRule(ReplyRule(action: .dropConnection(afterChunks: 3)))
            let client = TestServerClient(server)
            let stream = try await client.post(
                "/chat/completions", chatBody("a long enough message to stream", stream: true)
            )
            #expect(stream.status == 200)
            #expect(stream.bodyError != nil)
            #expect(!stream.sawDone)
            #expect(stream.chunks.count == 3)

            // A non-stream request gets no response at all.
            await #expect(throws: (any Error).self) {
                _ = try await client.chat("dropped")
            }
            let records = await server.requests
            #expect(records.allSatisfy { $0.wasDropped })
            #expect(records.map(\.status) == [200, nil])
        }
    }

    @Test func errorEventsInsideAStream() async throws {
        let error = ErrorBody(message: "upstream failed", type: "server_error", code: "UPSTREAM")
        try await SkeinTestServer.withRunning { server in
            await server.setRules([
                ReplyRule(
                    match: .init(lastUserMessageContains: "data"), action: .streamError(afterChunks: 2, error: error)),
                ReplyRule(
                    match: .init(lastUserMessageContains: "event"),
                    action: .streamError(afterChunks: 1, error: error, style: .errorEvent)
                ),
            ])
            let client = TestServerClient(server)
            let dataLine = try await client.post("/chat/completions", chatBody("data line please", stream: true))
            #expect(dataLine.bodyError == nil)
            #expect(!dataLine.sawDone)
            #expect(dataLine.chunks.count == 3)
            #expect(dataLine.chunks.last?["error"]?["message"] == "upstream failed")

            let named = try await client.post("/chat/completions", chatBody("event please", stream: true))
            #expect(
                named.body.hasSuffix(
                    "event: error\ndata: {\"error\":{\"code\":\"UPSTREAM\",\"message\":\"upstream failed\",\"type\":\"server_error\"}}\n\n"
                ))

            let whole = try await client.chat("data, not streamed")
            #expect(whole.status == 500)
            #expect(whole.json?["error"]?["code"] == "UPSTREAM")
        }
    }

    @Test func malformedBodiesAndStreams() async throws {
        try await SkeinTestServer.withRunning { server in
            await server.setRules([
                ReplyRule(match: .init(lastUserMessageContains: "json"), action: .malformedBody),
                ReplyRule(match: .init(lastUserMessageContains: "sse"), action: .malformedSSE),
            ])
            let client = TestServerClient(server)
            let body = try await client.chat("json")
            #expect(body.status == 200)
            #expect(body.headers["content-type"] == "application/json")
            #expect(body.body.hasPrefix("{"))
            #expect(body.json == nil)

            let stream = try await client.post("/chat/completions", chatBody("json", stream: true))
            #expect(stream.eventData.count == 3)
            #expect(stream.chunks.count == 1)  // the role chunk parses, the next does not
            #expect(stream.sawDone)

            let notSSE = try await client.post("/chat/completions", chatBody("sse", stream: true))
            #expect(notSSE.eventData.isEmpty)
            #expect(notSSE.body.contains("<html>"))
        }
    }

    @Test func ruleDelayAndRawReplies() async throws {
        try await SkeinTestServer.withRunning { server in
            await server.addRule(
                ReplyRule(
                    delay: .milliseconds(200),
                    action: .raw(status: 502, body: "<html>Bad Gateway</html>", contentType: "text/html"))
            )
            let started = ContinuousClock.now
            let reply = try await TestServerClient(server).chat("x")
            #expect(ContinuousClock.now - started >= .milliseconds(200))
            #expect(reply.status == 502)
            #expect(reply.headers["content-type"] == "text/html")
            #expect(reply.body == "<html>Bad Gateway</html>")
        }
    }
}
