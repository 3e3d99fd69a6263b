import Testing

@testable import SkeinTesting

@Suite struct TestServerLimitTests {
    @Test func requestsPerMinuteLimitAnswers429WithRetryAfter() async throws {
        try await SkeinTestServer.withRunning(.init(requestsPerMinute: 10)) { server in
            let client = TestServerClient(server)
            var replies: [TestServerReply] = []
            let started = ContinuousClock.now
            for index in 0..<20 { replies.append(try await client.chat("request \(index)")) }
            let elapsed = Int((ContinuousClock.now - started).components.seconds) + 1
            #expect(replies.prefix(10).allSatisfy { $0.status == 200 })
            #expect(replies.suffix(10).allSatisfy { $0.status == 429 })
            let limited = try #require(replies.last)
            let retryAfter = try #require(limited.headers["retry-after"].flatMap { Int($0) })
            // The wait until the oldest request leaves the 60 s window: 60 s less the time
            // the twenty requests took (which is seconds on a loaded 2-core machine).
            #expect((59 - elapsed...60).contains(retryAfter), "Retry-After \(retryAfter) after \(elapsed) s")
            #expect(
                limited.json == [
                    "error": [
                        "message": "Rate limit exceeded", "type": "rate_limit_error", "code": "RATE_LIMIT_EXCEEDED",
                    ]
                ]
            )
            #expect(await server.statusCounts == [200: 10, 429: 10])
            #expect(await server.requests.filter { $0.handling == .rateLimited }.count == 10)
        }
    }

    @Test func slidingWindowAdmitsAgainAsTheOldestRequestLeaves() {
        // The limiter is given its instants, so the window is checked without the wall clock.
        var limiter = SlidingWindowRateLimiter(limit: 2, window: .seconds(10))
        let start = ContinuousClock.now
        #expect(limiter.admit(at: start) == .accept)
        #expect(limiter.admit(at: start + .seconds(4)) == .accept)
        #expect(limiter.admit(at: start + .seconds(5)) == .reject(retryAfter: .seconds(5)))
        #expect(limiter.admit(at: start + .milliseconds(9_999)) == .reject(retryAfter: .milliseconds(1)))
        // The first request leaves the window at 10 s; the second still holds a slot until 14 s.
        #expect(limiter.admit(at: start + .seconds(10)) == .accept)
        #expect(limiter.admit(at: start + .seconds(11)) == .reject(retryAfter: .seconds(3)))
        #expect(limiter.admit(at: start + .seconds(14)) == .accept)
        // Rejections take no slot: after a long quiet spell both slots are free again.
        #expect(limiter.admit(at: start + .seconds(60)) == .accept)
        #expect(limiter.admit(at: start + .seconds(60)) == .accept)
        #expect(limiter.admit(at: start + .seconds(60)) == .reject(retryAfter: .seconds(10)))
    }

    @Test func rateLimitWindowSlides() async throws {
        let window = Duration.seconds(8)
        let configuration = SkeinTestServer.Configuration(requestsPerMinute: 2, rateLimitWindow: window)
        try await SkeinTestServer.withRunning(configuration) { server in
            let client = TestServerClient(server)
            let started = ContinuousClock.now
            #expect(try await client.chat("1").status == 200)
            #expect(try await client.chat("2").status == 200)
            let limited = try await client.chat("3")
            // A machine stalled for the whole window lets the third request in, rightly; the
            // window itself is checked exactly in the limiter test above.
            guard limited.status == 429 else {
                #expect(ContinuousClock.now - started >= window, "a third request inside the window was let in")
                return
            }
            let retryAfter = try #require(limited.headers["retry-after"].flatMap { Int($0) })
            #expect((1...8).contains(retryAfter))
            try await Task.sleep(for: .seconds(retryAfter) + .milliseconds(100))
            #expect(try await client.chat("4").status == 200)
        }
    }

    @Test func jsonSchemaRejectionLooksLikeLlamaCppPython() async throws {
        try await SkeinTestServer.withRunning(.init(rejectsJSONSchema: true)) { server in
            let client = TestServerClient(server)
            let schema: TestJSON = ["type": "object", "properties": ["a": ["type": "string"]]]
            let rejected = try await client.chat(
                "x",
                extra: ["response_format": ["type": "json_schema", "json_schema": ["name": "a", "schema": schema]]]
            )
            #expect(rejected.status == 500)
            let error = try #require(rejected.json?["error"])
            #expect(error["type"] == "internal_server_error")
            let message = try #require(error["message"]?.stringValue)
            #expect(message.contains("Input should be 'text' or 'json_object'"))
            #expect(message.contains("'input': 'json_schema'"))

            // The llama.cpp way of asking is accepted and answered with a schema instance.
            let accepted = try await client.chat(
                "x", extra: ["response_format": ["type": "json_object", "schema": schema]]
            )
            #expect(accepted.status == 200)
            #expect(accepted.json?["choices"]?[0]?["message"]?["content"] == #"{"a":"a"}"#)
            #expect(await server.requests.map(\.handling) == [.jsonSchemaRejected, .defaultReply])
        }
    }

    @Test func apiKeyAndUnknownModels() async throws {
        let configuration = SkeinTestServer.Configuration(
            modelIDs: ["known"], rejectsUnknownModels: true, requiredAPIKey: "sk-test"
        )
        try await SkeinTestServer.withRunning(configuration) { server in
            let client = TestServerClient(server)
            let anonymous = try await client.post("/chat/completions", chatBody("x", model: "known"))
            #expect(anonymous.status == 401)
            #expect(anonymous.json?["error"]?["code"] == "INVALID_API_KEY")

            let authorization = ["authorization": "Bearer sk-test"]
            let known = try await client.post(
                "/chat/completions", chatBody("x", model: "known"), headers: authorization)
            #expect(known.status == 200)
            let unknown = try await client.post(
                "/chat/completions", chatBody("x", model: "nope"), headers: authorization)
            #expect(unknown.status == 404)
            #expect(unknown.json?["error"]?["code"] == "MODEL_NOT_FOUND")
            #expect(unknown.json?["error"]?["message"] == "The model `nope` does not exist")

            let recorded = await server.requests
            #expect(recorded.map(\.handling) == [.unauthorized, .defaultReply, .unknownModel])
            #expect(recorded[1].headers["authorization"] == "Bearer sk-test")
        }
    }
}
