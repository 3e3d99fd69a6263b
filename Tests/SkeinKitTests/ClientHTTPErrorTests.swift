import SkeinTesting
import Testing

@testable import SkeinCore
@testable import SkeinKit

/// Errors and retries against the real test server over 127.0.0.1.
@Suite struct ClientHTTPErrorTests {
    let environment = ["TEST_API_KEY": "sk-test-key"]

    @Test(arguments: [ErrorBody.Shape.openAI, .flat])
    func everyProviderCodeInBothShapes(shape: ErrorBody.Shape) async throws {
        let cases: [(Int, String?, String, String)] = [
            (401, "INVALID_API_KEY", "Invalid API key", "Check the key in TEST_API_KEY."),
            (403, "NOT_ENOUGH_BALANCE", "Not enough balance", "Top up the balance of the account whose key is in TEST_API_KEY."),
            (404, "MODEL_NOT_FOUND", "Model not found", "Check the model name; `skein models --provider test` lists the models it serves."),
            (429, "RATE_LIMIT_EXCEEDED", "Too many requests", "Lower requests_per_minute or max_concurrency for provider 'test', or try again later."),
            (500, "MODEL_NOT_AVAILABLE", "Model is not available", "The model may be overloaded or down; try again later or choose another model."),
            (503, "MODEL_NOT_AVAILABLE", "Service unavailable", "The model may be overloaded or down; try again later or choose another model."),
        ]
        try await withClientAndServer(environment: environment) { server, client in
            let provider = clientTestProvider(server, keyVariable: "TEST_API_KEY")
            for (status, code, message, hint) in cases {
                await server.setRules([ReplyRule(action: .status(status, message: message, code: code, shape: shape))])
                let error = try await expectProviderError(client, clientChat("hi"), provider: provider, retryPolicy: .never)
                #expect(error.status == status)
                #expect(error.code == code)
                #expect(error.description == "provider 'test' returned \(status) \(code ?? ""): \(message). \(hint)")
            }
            // 400 carries the provider's own message.
            await server.setRules([ReplyRule(action: .status(400, message: "max_tokens must be at most 4096", shape: shape))])
            let badRequest = try await expectProviderError(client, clientChat("hi"), provider: provider)
            #expect(badRequest.kind == .badRequest)
            #expect(badRequest.message == "max_tokens must be at most 4096")
            let code = shape == .flat ? "INVALID_REQUEST_ERROR" : "invalid_request_error"
            #expect(
                badRequest.description
                    == "provider 'test' returned 400 \(code): max_tokens must be at most 4096. "
                    + "Check the step's parameters against what the model accepts.")
        }
    }

    @Test func nonJSONBodyStillGivesTheStatus() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(
                ReplyRule(action: .raw(status: 418, body: "<html><body>I'm a teapot</body></html>", contentType: "text/html")))
            let error = try await expectProviderError(client, clientChat("hi"), provider: clientTestProvider(server))
            #expect(error.description == "provider 'test' returned 418: I'm a teapot.")
            await server.setRules([ReplyRule(action: .raw(status: 502, body: "upstream connect error"))])
            let gateway = try await expectProviderError(
                client, clientChat("hi"), provider: clientTestProvider(server), retryPolicy: .never)
            #expect(gateway.message == "upstream connect error")
            #expect(gateway.isRetryable)
        }
    }

    @Test(arguments: [408, 409, 429, 500, 502, 503, 504])
    func retryableStatusesAreRetried(status: Int) async throws {
        let clock = ClientRecordingClock()
        try await withClientAndServer(clock: clock) { server, client in
            await server.addRule(ReplyRule(times: 2, action: .status(status, message: "try again")))
            let completion = try await client.complete(clientChat("hi"), provider: clientTestProvider(server))
            #expect(completion.content == "echo: hi")
            #expect(completion.attempts == 3)
            #expect(await server.requests.count == 3)
            // Random is pinned to 0: no jitter. A 429 without Retry-After backs off the same way.
            #expect(clock.sleeps.prefix(2) == [.milliseconds(500), .seconds(1)])
        }
    }

    @Test(arguments: [400, 401, 403, 404, 422])
    func finalStatusesAreNotRetried(status: Int) async throws {
        try await withClientAndServer { server, client in
            await server.addRule(ReplyRule(action: .status(status, message: "no")))
            let error = try await expectProviderError(client, clientChat("hi"), provider: clientTestProvider(server))
            #expect(error.status == status)
            #expect(!error.isRetryable)
            #expect(await server.requests.count == 1)
        }
    }

    @Test func retriesStopAtMaxRetriesWithTheLastError() async throws {
        let clock = ClientRecordingClock()
        try await withClientAndServer(clock: clock) { server, client in
            // A 500, not a 503: back-pressure (429, 503) is retried for the provider's patience
            // instead (`backPressureIsRetriedPastMaxRetriesUntilThePatienceRunsOut`).
            await server.addRule(ReplyRule(action: .status(500, message: "still down")))
            let events = ClientEventLog()
            do {
                _ = try await client.complete(
                    clientChat("hi"), provider: clientTestProvider(server), retryPolicy: nil, timeout: nil,
                    events: events.handler)
                Issue.record("expected an error")
            } catch let error as ProviderError {
                #expect(error.message == "still down")
            }
            #expect(await server.requests.count == 4)
            #expect(clock.sleeps == [.milliseconds(500), .seconds(1), .seconds(2)])
            #expect(events.retryDelays == [.milliseconds(500), .seconds(1), .seconds(2)])
        }
    }

    /// A provider shedding load answers 429 and 503 whatever the client does: those are
    /// retried past the step's `retries` (here the default 3) for as long as the provider's
    /// `rate_limit_patience` lasts, and when it runs out the error says what to set.
    @Test func backPressureIsRetriedPastMaxRetriesUntilThePatienceRunsOut() async throws {
        let clock = ClientRecordingClock()
        try await withClientAndServer(clock: clock) { server, client in
            var provider = clientTestProvider(server)
            await server.addRule(ReplyRule(times: 6, action: .rateLimited(retryAfter: .none)))
            let completion = try await client.complete(clientChat("a"), provider: provider)
            #expect(completion.attempts == 7)
            #expect(await server.requests.count == 7)

            provider.rateLimitPatience = .seconds(30)
            await server.setRules([ReplyRule(action: .status(503, message: "overloaded"))])
            let error = try await expectProviderError(client, clientChat("b"), provider: provider)
            // Waits of 0.5, 1, 2, 4, 8, 8 s fit in 30 s; the next 8 s would not.
            #expect(error.attempts == 7)
            #expect(error.message.contains("answered 503 (overloaded) 7 times over 23.5 s"))
            #expect(error.message.contains("past rate_limit_patience (30 s)"))
            #expect(error.hint?.contains("requests_per_minute") == true)
        }
    }

    @Test func retriesZeroSendsABackPressuredRequestOnce() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(ReplyRule(action: .rateLimited(retryAfter: .none)))
            let error = try await expectProviderError(
                client, clientChat("a"), provider: clientTestProvider(server), retryPolicy: .never)
            #expect(error.kind == .rateLimited)
            #expect(await server.requests.count == 1)
        }
    }

    @Test func retryAfterIsHonoured() async throws {
        let clock = ClientRecordingClock()
        try await withClientAndServer(clock: clock) { server, client in
            let provider = clientTestProvider(server)
            await server.addRule(ReplyRule(times: 1, action: .rateLimited(retryAfter: .seconds(7))))
            let first = try await client.complete(clientChat("a"), provider: provider)
            #expect(first.attempts == 2)
            #expect(clock.sleeps.first == .seconds(7))

            await server.setRules([ReplyRule(times: 1, action: .rateLimited(retryAfter: .milliseconds(1500)))])
            let events = ClientEventLog()
            let second = try await client.complete(clientChat("b"), provider: provider, events: events.handler)
            #expect(second.attempts == 2)
            #expect(events.retryDelays == [.milliseconds(1500)])
        }
    }

    @Test func retryAfterBeyondTheLimitIsNotWaitedFor() async throws {
        let clock = ClientRecordingClock()
        try await withClientAndServer(clock: clock) { server, client in
            await server.addRule(ReplyRule(action: .rateLimited(retryAfter: .seconds(3600))))
            let error = try await expectProviderError(client, clientChat("hi"), provider: clientTestProvider(server))
            #expect(error.retryAfter == .seconds(3600))
            #expect(await server.requests.count == 1)
            #expect(clock.sleeps.isEmpty)
        }
    }

    @Test func timeoutsAreRetried() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(ReplyRule(times: 1, action: .hang(.seconds(30))))
            let completion = try await client.complete(
                clientChat("hi"), provider: clientTestProvider(server), retryPolicy: nil, timeout: .seconds(5),
                events: nil)
            // 5 s: the second attempt, answered at once, must not time out too on a loaded machine.
            #expect(completion.attempts == 2)
            #expect(await server.requests.count == 2)

            await server.setRules([ReplyRule(action: .hang(.seconds(30)))])
            let error = try await expectProviderError(
                client, clientChat("hi"), provider: clientTestProvider(server), retryPolicy: RetryPolicy(maxRetries: 1),
                timeout: .milliseconds(200))
            #expect(error.kind == .timeout)
            #expect(error.description == "provider 'test': no complete reply within 0.2 s. Raise the step's timeout if the model needs longer.")
        }
    }

    @Test func aBodyThatStallsAfterItsHeadTimesOutAtTheStepsTimeout() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(ReplyRule(action: .stallBody(.seconds(300))))
            let started = ContinuousClock.now
            let error = try await expectProviderError(
                client, clientChat("hi"), provider: clientTestProvider(server), retryPolicy: RetryPolicy(maxRetries: 0),
                timeout: .seconds(2))  // not less: under the whole suite's load a request once took 0.5 s to arrive
            #expect(error.kind == .timeout, "\(error)")
            // Without the watchdog the read waited for the server's 300 s (or the 600 s read
            // timeout). The bound leaves room for the whole suite's load, which once stretched
            // the 2 s to 21 s.
            #expect(ContinuousClock.now - started < .seconds(120))
            #expect(await server.requests.count == 1)
        }
    }

    /// Without a step timeout, the body is read without a watchdog (see `fetch`): the
    /// client's read timeout, which is also the call's timeout, ends the stall.
    @Test func aBodyThatStallsWithoutAStepTimeoutEndsAtTheReadTimeout() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await server.addRule(ReplyRule(action: .stallBody(.seconds(300))))
            let client = HTTPCompletionClient(
                configuration: .init(connectionsPerHost: 4, timeout: .milliseconds(500)), environment: [:])
            let started = ContinuousClock.now
            let error: ProviderError
            do {
                error = try await expectProviderError(
                    client, clientChat("hi"), provider: clientTestProvider(server), retryPolicy: RetryPolicy(maxRetries: 0))
            } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
            #expect(error.kind == .timeout, "\(error)")
            #expect(ContinuousClock.now - started < .seconds(120), "the 500 ms read timeout, not the 300 s stall")
            #expect(await server.requests.count == 1)
        }
    }

    @Test func droppedConnectionsAreRetried() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(ReplyRule(times: 2, action: .dropConnection(afterChunks: 0)))
            let completion = try await client.complete(clientChat("hi"), provider: clientTestProvider(server))
            #expect(completion.attempts == 3)
            #expect(completion.content == "echo: hi")
        }
    }

    @Test func connectionRefusedIsAConnectionError() async throws {
        try await withClientAndServer { _, client in
            // Port 9 (discard) on loopback: nothing listens there.
            let nowhere = ProviderConfiguration(name: "nowhere", baseURL: "http://127.0.0.1:9/v1")
            let error = try await expectProviderError(client, clientChat("hi"), provider: nowhere, retryPolicy: .never)
            #expect(error.kind == .connectionFailed)
            #expect(error.isRetryable)
            #expect(error.description.hasPrefix(
                "provider 'nowhere': http://127.0.0.1:9/v1/chat/completions: connection refused (nothing is listening at that address and port)"),
                "\(error)")
        }
    }

    @Test func aBadBaseURLIsNotRetried() async throws {
        try await withClientAndServer { _, client in
            let provider = ProviderConfiguration(name: "typo", baseURL: "htp://127.0.0.1:8080/v1")
            let error = try await expectProviderError(client, clientChat("hi"), provider: provider)
            #expect(!error.isRetryable)
            #expect(
                error.description
                    == "provider 'typo': 'htp://127.0.0.1:8080/v1/chat/completions' is not a valid URL. Check the provider's base_url.")
        }
    }

    @Test func malformedReplyIsAnInvalidResponse() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(ReplyRule(action: .malformedBody))
            let error = try await expectProviderError(client, clientChat("hi"), provider: clientTestProvider(server))
            #expect(error.kind == .invalidResponse)
            #expect(error.description.hasPrefix("provider 'test' returned 200 INVALID_RESPONSE: the reply is not JSON: {"))
            // A body cut short may come whole next time: retried, unlike a body of the wrong shape.
            #expect(error.isRetryable)
        }
    }

    @Test func missingKeyFailsWithoutAnyRequest() async throws {
        try await withClientAndServer(environment: [:]) { server, client in
            let provider = clientTestProvider(server, name: "novita", keyVariable: "NOVITA_API_KEY")
            let error = try await expectProviderError(client, clientChat("hi"), provider: provider)
            #expect(error.description == "NOVITA_API_KEY is not set; export it or choose another provider with --provider")
            await #expect(throws: ProviderError.missingAPIKey(provider: "novita", variable: "NOVITA_API_KEY")) {
                try await client.listModels(provider: provider)
            }
            #expect(await server.requests.isEmpty)
        }
    }

    @Test func keyIsSentAsBearerAndAWrongOneNamesItsVariable() async throws {
        try await withClientAndServer(.init(requiredAPIKey: "sk-right"), environment: ["GOOD": "sk-right", "BAD": "sk-wrong"]) {
            server, client in
            let good = clientTestProvider(server, keyVariable: "GOOD")
            _ = try await client.complete(clientChat("hi"), provider: good)
            let recorded = try #require(await server.requests.last)
            #expect(recorded.headers["authorization"] == "Bearer sk-right")
            #expect(recorded.headers["content-type"] == "application/json")
            let error = try await expectProviderError(client, clientChat("hi"), provider: clientTestProvider(server, keyVariable: "BAD"))
            #expect(error.kind == .invalidAPIKey)
            #expect(error.description.hasSuffix("Check the key in BAD."))
            #expect(await server.requests.count == 2)
        }
    }

    @Test func requestBodyIsSentExactly() async throws {
        try await withClientAndServer { server, client in
            let request = CompletionRequest.chat(
                model: "test-model", messages: [.system("s"), .user("u")],
                sampling: SamplingParameters(temperature: 0.5, maxTokens: 9, seed: 3), extra: ["top_logprobs": 2])
            _ = try await client.complete(request, provider: clientTestProvider(server))
            let recorded = try #require(await server.requests.last)
            #expect(recorded.path == "/v1/chat/completions")
            #expect(recorded.body.map { String(decoding: $0, as: UTF8.self) } == JSONValue.object(request.body).serialized())
        }
    }

    @Test func listsModels() async throws {
        try await withClientAndServer(.init(modelIDs: ["a/one", "b/two"])) { server, client in
            let models = try await client.listModels(provider: clientTestProvider(server))
            #expect(models.map(\.id) == ["a/one", "b/two"])
        }
    }
}
