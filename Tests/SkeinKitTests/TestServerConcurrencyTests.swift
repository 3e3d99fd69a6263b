import AsyncHTTPClient
import Testing

@testable import SkeinTesting

@Suite struct TestServerConcurrencyTests {
    @Test func recordsOverlapAndPeakConcurrency() async throws {
        // Held long enough that all four arrive before the first ends even when the
        // machine stalls (300 ms was not, under the whole suite on 2 cores).
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(1500)))) { server in
            let client = TestServerClient(server)
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<4 {
                    group.addTask { try await client.chat("parallel \(index)").status }
                }
                for try await status in group { #expect(status == 200) }
            }
            #expect(await server.maxConcurrentRequests == 4)
            #expect(await server.inFlightRequests == 0)
            let records = await server.requests
            #expect(records.count == 4)
            #expect(records.allSatisfy { $0.completion != nil && $0.status == 200 })
            #expect(records[0].overlaps(records[1]))
            #expect(records.allSatisfy { $0.completion! - $0.arrival >= .milliseconds(1500) })

            // One after the other: no overlap, peak 1.
            await server.resetRecords()
            _ = try await client.chat("first")
            _ = try await client.chat("second")
            let sequential = await server.requests
            #expect(sequential.map(\.lastUserMessage) == ["first", "second"])
            #expect(!sequential[0].overlaps(sequential[1]))
            #expect(await server.maxConcurrentRequests == 1)
        }
    }

    @Test func peakConcurrencyPerModelAndMarkerTag() async throws {
        // Each request is held 3 s so that the four overlap even when the suite's first minute
        // keeps both cores busy (at 300 ms they were sometimes sent one after another).
        let configuration = SkeinTestServer.Configuration(
            latency: .fixed(.seconds(3)), concurrencyTagMarkers: ["[translate]"]
        )
        try await SkeinTestServer.withRunning(configuration) { server in
            let client = TestServerClient(server)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<3 {
                    group.addTask { _ = try await client.chat("[translate] item \(index)", model: "a") }
                }
                group.addTask { _ = try await client.chat("summary", model: "b") }
                try await group.waitForAll()
            }
            #expect(await server.maxConcurrentRequests == 4)
            #expect(await server.maxConcurrentRequests(tag: "model:a") == 3)
            #expect(await server.maxConcurrentRequests(tag: "model:b") == 1)
            #expect(await server.maxConcurrentRequests(tag: "[translate]") == 3)
            #expect(await server.maxConcurrentRequests(tag: "never") == 0)
        }
    }

    @Test func streamsStayInFlightUntilTheirLastEvent() async throws {
        try await SkeinTestServer.withRunning(.init(tokenInterval: .milliseconds(50))) { server in
            let client = TestServerClient(server)
            let started = ContinuousClock.now
            let stream = try await client.post("/chat/completions", chatBody("one two three four", stream: true))
            #expect(stream.sawDone)
            // role, 5 words, finish, [DONE]: seven pauses.
            #expect(ContinuousClock.now - started >= .milliseconds(350))
            let record = try #require(await server.requests.first)
            #expect(record.isStream)
            #expect(try #require(record.completion) - record.arrival >= .milliseconds(350))
        }
    }

    @Test func seededFaultsRepeatAndCoverEveryKind() async throws {
        func run(seed: UInt64) async throws -> [RecordedRequest.Handling] {
            let faults = SkeinTestServer.FaultConfiguration(
                serverErrorRate: 0.2, rateLimitRate: 0.2, malformedRate: 0.2
            )
            return try await SkeinTestServer.withRunning(.init(faults: faults, seed: seed)) { server in
                let client = TestServerClient(server)
                for index in 0..<30 {
                    let reply = try await client.chat("fault \(index)")
                    switch reply.status {
                    case 500: #expect(reply.json?["error"]?["type"] == "server_error")
                    case 429: #expect(reply.headers["retry-after"] == "1")
                    default: #expect(reply.status == 200)
                    }
                }
                return await server.requests.map(\.handling)
            }
        }
        let first = try await run(seed: 42)
        #expect(try await run(seed: 42) == first)
        #expect(try await run(seed: 7) != first)
        #expect(first.contains(.fault(.serverError)))
        #expect(first.contains(.fault(.rateLimit)))
        #expect(first.contains(.fault(.malformed)))
        #expect(first.contains(.defaultReply))
    }

    @Test func hungRequestTimesOutOnTheClientAndShutdownIsPrompt() async throws {
        let server = try await SkeinTestServer.start()
        await server.addRule(ReplyRule(action: .hang(.seconds(60))))
        let client = TestServerClient(server)
        let started = ContinuousClock.now
        await #expect(throws: (any Error).self) {
            // 2 s, not less: under the whole suite's load a request once took longer to arrive.
            _ = try await client.post("/chat/completions", chatBody("hang"), timeout: .seconds(2))
        }
        #expect(ContinuousClock.now - started < .seconds(45))  // under the 60 s hang, with room for a loaded machine (25.8 s seen)
        // Hold another one and shut down under it.
        let pending = Task { try await client.post("/chat/completions", chatBody("hang again")) }
        // Shut down only once the server holds it (a fixed sleep was too short on a loaded machine).
        let waiting = ContinuousClock.now
        while await server.requests.count < 2 && ContinuousClock.now - waiting < .seconds(20) {
            try await Task.sleep(for: .milliseconds(20))
        }
        let stopping = ContinuousClock.now
        await server.shutdown()
        #expect(ContinuousClock.now - stopping < .seconds(25))
        await #expect(throws: (any Error).self) { _ = try await pending.value }
        #expect(await server.inFlightRequests == 0)
        let records = await server.requests
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.wasDropped && $0.status == nil && $0.handling == .rule("") })
    }

    /// Shutting down while connections are still being accepted must not trap (a NIO server
    /// task cancelled with accepted connections it has not handed out does; see `shutdown()`).
    @Test func shutdownWhileConnectionsArriveDoesNotTrap() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        // A connection caught half-open by the shutdown waits out the connect timeout.
        configuration.timeout.connect = .seconds(1)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        for _ in 0..<5 {
            let server = try await SkeinTestServer.start()
            var configured = TestServerClient(server)
            configured.client = httpClient
            let client = configured
            let requests = (0..<64).map { index in
                Task { try? await client.chat("burst \(index)").status }
            }
            let stopping = ContinuousClock.now
            await server.shutdown()
            #expect(ContinuousClock.now - stopping < .seconds(50))  // 32 s seen with the whole suite and the local model on 2 cores
            for request in requests { _ = await request.value }
        }
        try await httpClient.shutdown()
    }
}
