import Foundation
import NIOCore
import SkeinTesting
import Testing

@testable import SkeinCore
@testable import SkeinKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The Batch API client against the test server over 127.0.0.1.
@Suite struct BatchClientTests {
    static let fastPolling = BatchClient.Polling(initialInterval: .milliseconds(20), maxInterval: .milliseconds(50))

    @Test func aBatchGivesTheCompletionsOfALiveRun() async throws {
        try await withBatchClient { server, batches, client in
            let provider = clientTestProvider(server)
            let tools: JSONValue = [
                [
                    "type": "function",
                    "function": [
                        "name": "get_weather",
                        "parameters": [
                            "type": "object", "properties": ["city": ["type": "string"]], "required": ["city"],
                        ],
                    ],
                ]
            ]
            let schema: JSONValue = [
                "type": "json_schema",
                "json_schema": [
                    "name": "headline",
                    "schema": [
                        "type": "object", "properties": ["headline": ["type": "string"]], "required": ["headline"],
                    ],
                ],
            ]
            let requests: [String: CompletionRequest] = [
                "plain": clientChat("Summarize the article please", maxTokens: 50),
                "schema": .chat(model: "test-model", messages: [.user("Headline?")], responseFormat: schema),
                "tool": .chat(
                    model: "test-model", messages: [.user("Weather in Paris?")], tools: tools, toolChoice: "required"),
                "streamed": clientChat("streamed when live", stream: true),
            ]
            var file = BatchInputFile()
            for (customID, request) in requests.sorted(by: { $0.key < $1.key }) {
                try file.append(request, customID: customID)
            }
            let input = try await batches.uploadFile(file, filename: "wave-1.jsonl", provider: provider)
            #expect(input.purpose == "batch")
            #expect(input.filename == "wave-1.jsonl")
            #expect(input.bytes == file.contents.readableBytes)
            #expect(await server.fileUploads == 1)

            let created = try await batches.createBatch(
                inputFileID: input.id, api: .chat, metadata: ["skein_wave": "1"], provider: provider)
            #expect(created.status == .validating)
            #expect(created.api == .chat)
            #expect(created.inputFileID == input.id)
            #expect(created.completionWindow == "48h")
            #expect(created.metadata == ["skein_wave": "1"])
            #expect(created.requestCounts == .init(total: 4, completed: 0, failed: 0))
            #expect(created.createdAt != nil)
            #expect(await server.batchCreations == 1)

            let job = try await batches.waitForBatch(created.id, provider: provider, polling: Self.fastPolling)
            #expect(job.status == .completed)
            #expect(job.requestCounts == .init(total: 4, completed: 4, failed: 0))
            #expect(job.errorFileID == nil)
            #expect(job.completedAt != nil)
            let outputID = try #require(job.outputFileID)
            let results = try batches.results(
                in: try await batches.fileContent(outputID, provider: provider), provider: provider)
            #expect(Set(results.map(\.customID)) == Set(requests.keys))
            for result in results {
                let live = try await client.complete(try #require(requests[result.customID]), provider: provider)
                #expect(result.completion == live, "\(result.customID)")
                #expect(result.statusCode == 200)
                #expect(result.requestID != nil)
            }
            let byID = Dictionary(uniqueKeysWithValues: results.map { ($0.customID, $0) })
            #expect(byID["plain"]?.completion?.content == "echo: Summarize the article please")
            #expect(byID["tool"]?.completion?.toolCalls.first?.name == "get_weather")
            #expect(byID["schema"]?.completion?.content.hasPrefix("{\"headline\":") == true)
            #expect(await server.batchCreations == 1)

            // The files can be looked up and deleted.
            #expect(try await batches.retrieveFile(outputID, provider: provider).purpose == "batch_output")
            #expect(try await batches.deleteFile(input.id, provider: provider))
            let gone = try await expectBatchError { try await batches.retrieveFile(input.id, provider: provider) }
            #expect(gone.kind == .notFound)
        }
    }

    @Test func legacyCompletionsBatch() async throws {
        try await withBatchClient { server, batches, client in
            let provider = clientTestProvider(server)
            let request = CompletionRequest.completion(model: "test-model", prompt: "Once upon a time")
            var file = BatchInputFile()
            try file.append(request, customID: "story")
            let input = try await batches.uploadFile(file, provider: provider)
            let created = try await batches.createBatch(inputFileID: input.id, api: .completion, provider: provider)
            #expect(created.endpoint == "/v1/completions")
            let job = try await batches.waitForBatch(created.id, provider: provider, polling: Self.fastPolling)
            let results = try batches.results(
                in: try await batches.fileContent(try #require(job.outputFileID), provider: provider),
                provider: provider)
            #expect(results.first?.completion == (try await client.complete(request, provider: provider)))
            #expect(results.first?.completion?.content == "echo: Once upon a time")
        }
    }

    @Test func waitingFollowsTheProcessingDelay() async throws {
        // Long enough that polling sees the batch in progress several times even on a loaded machine.
        // (4 s once gave only two looks with the whole suite and the local model on two cores.)
        let configuration = SkeinTestServer.Configuration(batches: .init(processingDelay: .seconds(7)))
        try await withBatchClient(configuration) { server, batches, _ in
            let provider = clientTestProvider(server)
            var file = BatchInputFile()
            for index in 0..<4 { try file.append(clientChat("line \(index)"), customID: "row-\(index)") }
            let input = try await batches.uploadFile(file, provider: provider)
            let start = ContinuousClock.now
            let created = try await batches.createBatch(inputFileID: input.id, api: .chat, provider: provider)
            let seen = JobLog()
            let job = try await batches.waitForBatch(
                created.id, provider: provider, polling: Self.fastPolling, onUpdate: seen.handler)
            #expect(ContinuousClock.now - start >= .seconds(7))
            #expect(job.status == .completed)
            #expect(seen.jobs.first?.status == .inProgress)
            #expect(seen.jobs.last == job)
            #expect(seen.jobs.dropLast().allSatisfy { $0.status == .inProgress && $0.outputFileID == nil })
            let counts = seen.jobs.map(\.requestCounts.completed)
            #expect(counts == counts.sorted())
            #expect(counts.contains { $0 > 0 && $0 < 4 })
            #expect(seen.jobs.count >= 3)
        }
    }

    @Test func waitingGivesUpAfterItsTimeout() async throws {
        let configuration = SkeinTestServer.Configuration(batches: .init(processingDelay: .seconds(3600)))
        try await withBatchClient(configuration) { server, batches, _ in
            let provider = clientTestProvider(server)
            var file = BatchInputFile()
            try file.append(clientChat("hi"), customID: "a")
            let input = try await batches.uploadFile(file, provider: provider)
            let created = try await batches.createBatch(inputFileID: input.id, api: .chat, provider: provider)
            var polling = Self.fastPolling
            polling.timeout = .milliseconds(200)
            let error = try await expectBatchError {
                try await batches.waitForBatch(created.id, provider: provider, polling: polling)
            }
            #expect(error.kind == .timeout)
            #expect(error.code == "BATCH_TIMEOUT")
            #expect(error.isRetryable)
            #expect(error.message == "batch \(created.id) is still in_progress after 0.2 s")
        }
    }

    @Test func cancelledRequestsComeBackAsRetryableErrors() async throws {
        let configuration = SkeinTestServer.Configuration(batches: .init(processingDelay: .seconds(3600)))
        try await withBatchClient(configuration) { server, batches, _ in
            let provider = clientTestProvider(server)
            var file = BatchInputFile()
            for index in 0..<3 { try file.append(clientChat("line \(index)"), customID: "row-\(index)") }
            let input = try await batches.uploadFile(file, provider: provider)
            let created = try await batches.createBatch(inputFileID: input.id, api: .chat, provider: provider)
            let cancelling = try await batches.cancelBatch(created.id, provider: provider)
            #expect(cancelling.status == .cancelling)
            #expect(cancelling.cancellingAt != nil)
            let job = try await batches.waitForBatch(created.id, provider: provider, polling: Self.fastPolling)
            #expect(job.status == .cancelled)
            #expect(job.status.isFinished)
            #expect(job.outputFileID == nil)
            #expect(job.requestCounts == .init(total: 3, completed: 0, failed: 3))
            let results = try batches.results(
                in: try await batches.fileContent(try #require(job.errorFileID), provider: provider), provider: provider
            )
            #expect(results.map(\.customID) == ["row-0", "row-1", "row-2"])
            for result in results {
                let error = try #require(result.error)
                #expect(error.kind == .batchNotRun)
                #expect(error.code == "batch_cancelled")
                #expect(error.isRetryable)
                #expect(result.statusCode == nil)
            }

            // A finished batch cannot be cancelled: a final error, not retried.
            var other = BatchInputFile()
            try other.append(clientChat("hi"), customID: "a")
            let second = try await batches.createBatch(
                inputFileID: try await batches.uploadFile(other, provider: provider).id, api: .chat, provider: provider)
            await server.completeBatches()
            await server.resetRecords()
            let refused = try await expectBatchError { try await batches.cancelBatch(second.id, provider: provider) }
            #expect(refused.status == 400)
            #expect(refused.kind == .badRequest)
            #expect(!refused.isRetryable)
            #expect(
                refused.description
                    == "provider 'test' returned 400 invalid_request_error: cancelling batch \(second.id): "
                    + "Cannot cancel a batch with status 'completed'. The provider refused the Batch API request as it is."
            )
            #expect(await server.requests.count == 1)
        }
    }

    @Test func errorLinesBecomeProviderErrors() async throws {
        try await withBatchClient { server, batches, _ in
            let provider = clientTestProvider(server)
            await server.setRules([
                ReplyRule(
                    match: .init(lastUserMessageContains: "bad"),
                    action: .status(400, message: "max_tokens is too large")),
                ReplyRule(match: .init(lastUserMessageContains: "busy"), action: .status(503, message: "overloaded")),
                ReplyRule(match: .init(lastUserMessageContains: "drop"), action: .dropConnection(afterChunks: 0)),
                ReplyRule(
                    match: .init(lastUserMessageContains: "broke"),
                    action: .status(402, message: "Not enough balance", code: "NOT_ENOUGH_BALANCE", shape: .flat)),
            ])
            var file = BatchInputFile()
            for message in ["bad request", "busy", "drop", "broke", "fine"] {
                try file.append(clientChat(message), customID: message)
            }
            let input = try await batches.uploadFile(file, provider: provider)
            let created = try await batches.createBatch(inputFileID: input.id, api: .chat, provider: provider)
            let job = try await batches.waitForBatch(created.id, provider: provider, polling: Self.fastPolling)
            #expect(job.status == .completed)
            #expect(job.requestCounts == .init(total: 5, completed: 1, failed: 4))

            // Streamed to disk and read back line by line: the same results as from memory.
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skein-batch-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let errorPath = directory.appendingPathComponent("errors.jsonl").path
            let errorFileID = try #require(job.errorFileID)
            let written = try await batches.downloadFile(errorFileID, to: errorPath, provider: provider)
            #expect(written == (try await batches.retrieveFile(errorFileID, provider: provider)).bytes)
            #expect(!FileManager.default.fileExists(atPath: errorPath + ".part"))
            var fromDisk: [BatchResult] = []
            try batches.forEachResult(inFileAt: errorPath, provider: provider) { fromDisk.append($0) }
            let fromMemory = try batches.results(
                in: try await batches.fileContent(errorFileID, provider: provider), provider: provider)
            #expect(fromDisk == fromMemory)

            let errors = Dictionary(uniqueKeysWithValues: fromDisk.map { ($0.customID, $0) })
            let bad = try #require(errors["bad request"]?.error)
            #expect(bad.kind == .badRequest)
            #expect(bad.status == 400)
            #expect(bad.message == "max_tokens is too large")
            #expect(!bad.isRetryable)
            #expect(errors["bad request"]?.statusCode == 400)
            let busy = try #require(errors["busy"]?.error)
            #expect(busy.kind == .modelNotAvailable)
            #expect(busy.isRetryable)
            let dropped = try #require(errors["drop"]?.error)
            #expect(dropped.kind == .timeout)
            #expect(dropped.code == "request_timeout")
            #expect(dropped.isRetryable)
            let broke = try #require(errors["broke"]?.error)
            #expect(broke.kind == .insufficientBalance)
            #expect(broke.code == "NOT_ENOUGH_BALANCE")
            let output = try batches.results(
                in: try await batches.fileContent(try #require(job.outputFileID), provider: provider),
                provider: provider)
            #expect(output.map(\.customID) == ["fine"])
            #expect(output.first?.completion?.content == "echo: fine")
        }
    }

    @Test func unknownIDsAreNotFoundAndNotRetried() async throws {
        try await withBatchClient(environment: ["TEST_API_KEY": "sk-test"]) { server, batches, _ in
            let provider = clientTestProvider(server, keyVariable: "TEST_API_KEY")
            let retrieve = try await expectBatchError {
                try await batches.retrieveBatch("batch_nope", provider: provider)
            }
            #expect(retrieve.kind == .notFound)
            #expect(retrieve.status == 404)
            // The provider's own code (here its error type); NOT_FOUND when it gives none.
            #expect(retrieve.code == "not_found_error")
            #expect(!retrieve.isRetryable)
            #expect(
                retrieve.description
                    == "provider 'test' returned 404 not_found_error: retrieving batch batch_nope: No such Batch object: "
                    + "batch_nope. Check the id: provider 'test' does not know it. Files and batches belong to one "
                    + "account (the key in TEST_API_KEY), and providers delete them after a while (Novita: input "
                    + "files after 15 days, results after 30).")
            #expect(await server.requests.count == 1)

            let create = try await expectBatchError {
                try await batches.createBatch(inputFileID: "file-nope", api: .chat, provider: provider)
            }
            #expect(create.kind == .notFound)
            #expect(create.message == "creating a batch over file file-nope: No such File object: file-nope")
            #expect(await server.batchCreations == 0)
            #expect(
                try await expectBatchError { try await batches.cancelBatch("batch_nope", provider: provider) }.kind
                    == .notFound)
            #expect(
                try await expectBatchError { try await batches.deleteFile("file-nope", provider: provider) }.kind
                    == .notFound)
            #expect(
                try await expectBatchError { try await batches.fileContent("file-nope", provider: provider) }.kind
                    == .notFound)

            let path = FileManager.default.temporaryDirectory.appendingPathComponent("skein-nope-\(UUID()).jsonl").path
            let download = try await expectBatchError {
                try await batches.downloadFile("file-nope", to: path, provider: provider)
            }
            #expect(download.kind == .notFound)
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(!FileManager.default.fileExists(atPath: path + ".part"))
        }
    }

    @Test func aFileMixingModelsIsRefused() async throws {
        var file = BatchInputFile()
        try file.append(clientChat("hi"), customID: "a")
        let other = CompletionRequest.chat(model: "other-model", messages: [.user("hi")])
        #expect(throws: BatchInputError.mixedModels(expected: "test-model", found: "other-model")) {
            try file.append(other, customID: "b")
        }
        #expect(file.count == 1)
        #expect(
            "\(BatchInputError.mixedModels(expected: "test-model", found: "other-model"))"
                == "a batch file has one model: this one is for 'test-model', the request is for 'other-model'; "
                + "group the requests by model")

        // Built without the rule, the provider refuses it: the batch fails and says why.
        try await withBatchClient { server, batches, _ in
            let provider = clientTestProvider(server)
            var mixed = BatchInputFile(requiresOneModel: false)
            try mixed.append(clientChat("hi"), customID: "a")
            try mixed.append(other, customID: "b")
            let input = try await batches.uploadFile(mixed, provider: provider)
            let created = try await batches.createBatch(inputFileID: input.id, api: .chat, provider: provider)
            let job = try await batches.waitForBatch(created.id, provider: provider, polling: Self.fastPolling)
            #expect(job.status == .failed)
            #expect(job.failedAt != nil)
            #expect(job.outputFileID == nil && job.errorFileID == nil)
            let error = try #require(job.errors.first)
            #expect(error.code == "mixed_models")
            #expect(error.line == 2)
            #expect(
                error.message.contains("this file uses 2: test-model (first on line 1), other-model (first on line 2)"))
        }
    }

    @Test func theKeyNeverAppearsInErrors() async throws {
        let key = "sk-batch-FAKE-KEY-0123456789abcdef"
        let environment = ["TEST_API_KEY": key, "OTHER_KEY": key + "-wrong"]
        var texts: [String] = []
        func collect(_ error: ProviderError) {
            texts.append("\(error)")
            texts.append(String(reflecting: error))
            texts.append("\(error.message) \(error.hint ?? "")")
        }
        try await withBatchClient(.init(requiredAPIKey: key), environment: environment) { server, batches, _ in
            let provider = clientTestProvider(server, keyVariable: "TEST_API_KEY")
            // Lines whose errors echo the key.
            await server.setRules([
                ReplyRule(
                    match: .init(lastUserMessageContains: "echo"), action: .status(400, message: "bad key \(key)"))
            ])
            var file = BatchInputFile()
            try file.append(clientChat("echo the key"), customID: "a")
            let input = try await batches.uploadFile(file, provider: provider)
            #expect(await server.requests.first?.headers["authorization"] == "Bearer \(key)")
            let created = try await batches.createBatch(inputFileID: input.id, api: .chat, provider: provider)
            let job = try await batches.waitForBatch(created.id, provider: provider, polling: Self.fastPolling)
            let results = try batches.results(
                in: try await batches.fileContent(try #require(job.errorFileID), provider: provider), provider: provider
            )
            let lineError = try #require(results.first?.error)
            #expect(lineError.message == "bad key [redacted]")
            collect(lineError)

            // A wrong key, a missing variable, a server that is not there.
            let wrong = clientTestProvider(server, keyVariable: "OTHER_KEY")
            let refused = try await expectBatchError { try await batches.retrieveBatch(created.id, provider: wrong) }
            #expect(refused.kind == .invalidAPIKey)
            #expect(refused.hint == "Check the key in OTHER_KEY.")
            collect(refused)
            let missing = clientTestProvider(server, keyVariable: "UNSET_KEY")
            let unset = try await expectBatchError { try await batches.uploadFile(file, provider: missing) }
            #expect(unset.kind == .missingAPIKey)
            collect(unset)
            let nowhere = ProviderConfiguration(
                name: "nowhere", baseURL: "http://127.0.0.1:9/v1", apiKeyEnvironmentVariable: "TEST_API_KEY")
            collect(try await expectBatchError { try await batches.retrieveBatch("batch_x", provider: nowhere) })
            collect(try await expectBatchError { try await batches.fileContent("file-x", provider: nowhere) })
        }
        #expect(texts.count == 15)
        for text in texts {
            #expect(!text.contains(key), "\(text)")
            #expect(!text.contains("0123456789abcdef"), "\(text)")
        }
    }

    @Test func creatingIsNotRetriedAfterATimeoutButReadingIs() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let clock = ClientRecordingClock()
        let client = HTTPCompletionClient(
            configuration: .init(timeout: .milliseconds(300), retryPolicy: RetryPolicy(maxRetries: 2)),
            environment: [:], clock: clock.clock, random: { 0 })
        do {
            try await checkRetries(BatchClient(client: client), clock: clock, port: listener.port)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func checkRetries(_ batches: BatchClient, clock: ClientRecordingClock, port: Int) async throws {
        let provider = ProviderConfiguration(name: "silent", baseURL: "http://127.0.0.1:\(port)/v1")
        let create = try await expectBatchError {
            try await batches.createBatch(inputFileID: "file-1", api: .chat, provider: provider)
        }
        #expect(create.kind == .timeout)
        #expect(!create.isRetryable)
        #expect(create.hint?.contains("listBatches") == true)
        #expect(clock.sleeps.isEmpty)

        let retrieve = try await expectBatchError { try await batches.retrieveBatch("batch_1", provider: provider) }
        #expect(retrieve.kind == .timeout)
        #expect(retrieve.isRetryable)
        #expect(clock.sleeps.count == 2)
    }

    @Test func novitaShapedObjectsDecode() async throws {
        let configuration = SkeinTestServer.Configuration(batches: .init(dialect: .novita))
        try await withBatchClient(configuration) { server, batches, _ in
            let provider = clientTestProvider(server)
            var file = BatchInputFile()
            try file.append(clientChat("one"), customID: "a")
            try file.append(clientChat("two"), customID: "b")
            let input = try await batches.uploadFile(file, provider: provider)
            #expect(input.totalRequests == 2)
            let created = try await batches.createBatch(inputFileID: input.id, api: .chat, provider: provider)
            #expect(created.status == .validating)
            #expect(created.json["status"] == "VALIDATING")
            #expect(created.outputFileID == nil)
            #expect(created.errors.isEmpty)
            let createdAt = try #require(created.createdAt)
            #expect(abs(createdAt.timeIntervalSinceNow) < 60)
            let job = try await batches.waitForBatch(created.id, provider: provider, polling: Self.fastPolling)
            #expect(job.status == .completed)
            #expect(job.errorFileID == nil)
            #expect(job.requestCounts == .init(total: 2, completed: 2, failed: 0))
            let results = try batches.results(
                in: try await batches.fileContent(try #require(job.outputFileID), provider: provider),
                provider: provider)
            #expect(results.compactMap(\.completion?.content) == ["echo: one", "echo: two"])
        }
    }

    @Test func batchObjectsFromTheProvidersDocumentation() throws {
        // Novita's sample reply to POST /batches.
        let novita = try JSONValue(
            parsing: #"""
                {"id":"batch_d2cq73a68lu0","object":"batch","endpoint":"/v1/chat/completions",
                 "input_file_id":"file_d2coas73c0cjd0","output_file_id":"","error_file_id":"","completion_window":"48h",
                 "in_progress_at":null,"expires_at":null,"completed_at":null,"status":"PROGRESS","errors":"","version":0,
                 "created_at":"2025-08-11T16:31:52.949816948+08:00","total":0,"completed":0,"failed":0,"metadata":null,
                 "request_counts":{"total":10,"completed":4,"failed":1}}
                """#)
        let job = try #require(BatchJob(json: novita))
        #expect(job.status == .inProgress)
        #expect(job.api == .chat)
        #expect(job.outputFileID == nil && job.errorFileID == nil)
        #expect(job.requestCounts == .init(total: 10, completed: 4, failed: 1))
        #expect(job.errors.isEmpty)
        #expect(job.metadata.isEmpty)
        let createdAt = try #require(job.createdAt?.timeIntervalSince1970)
        #expect(abs(createdAt - 1_754_901_112.949_816_948) < 0.000_01)

        // OpenAI's, failed at validation.
        let openAI = try JSONValue(
            parsing: #"""
                {"id":"batch_abc123","object":"batch","endpoint":"/v1/completions","status":"failed",
                 "errors":{"object":"list","data":[{"code":"invalid_json_line","message":"Line 3 is not JSON.","param":null,"line":3}]},
                 "input_file_id":"file-abc123","completion_window":"24h","output_file_id":null,"error_file_id":null,
                 "created_at":1711471533,"failed_at":1711471540,"request_counts":{"total":0,"completed":0,"failed":0},
                 "metadata":{"customer_id":"user_123456789"}}
                """#)
        let failed = try #require(BatchJob(json: openAI))
        #expect(failed.status == .failed)
        #expect(failed.api == .completion)
        #expect(failed.errors == [.init(code: "invalid_json_line", message: "Line 3 is not JSON.", line: 3)])
        #expect("\(failed.errors[0])" == "line 3: Line 3 is not JSON. (invalid_json_line)")
        #expect(failed.createdAt == Date(timeIntervalSince1970: 1_711_471_533))
        #expect(failed.failedAt == Date(timeIntervalSince1970: 1_711_471_540))
        #expect(failed.metadata == ["customer_id": "user_123456789"])
        #expect(BatchJob(json: ["object": "batch"]) == nil)

        #expect(BatchJob.Status("CANCELLING") == .cancelling)
        #expect(BatchJob.Status("in_progress") == .inProgress)
        #expect(BatchJob.Status("paused") == .other("paused"))
        #expect(!BatchJob.Status("paused").isFinished)
        #expect([BatchJob.Status.completed, .failed, .expired, .cancelled].allSatisfy { $0.isFinished })
        #expect(BatchJSON.rfc3339("2024-02-29T23:59:60Z") == Date(timeIntervalSince1970: 1_709_251_200))
        #expect(BatchJSON.rfc3339("1970-01-01 00:00:00-01:30") == Date(timeIntervalSince1970: 5400))
        #expect(BatchJSON.rfc3339("2024-13-01T00:00:00Z") == nil)
        #expect(BatchJSON.rfc3339("2024-01-01T00:00:00") == nil)
    }

    @Test func inputLines() throws {
        let streamed = clientChat("hi \"there\"", stream: true, maxTokens: 5)
        let line = BatchInputFile.line(for: streamed, customID: "row-1")
        let text = String(buffer: line)
        #expect(text.hasSuffix("}\n"))
        #expect(
            text.hasPrefix(
                #"{"custom_id":"row-1","method":"POST","url":"/v1/chat/completions","body":{"model":"test-model""#))
        let json = try JSONValue(parsing: text)
        var body = streamed.body
        body.removeValue(forKey: "stream")
        body.removeValue(forKey: "stream_options")
        #expect(json["body"] == .object(body))
        #expect(json["body"]?["stream"] == nil)
        let legacy = BatchInputFile.line(for: .completion(model: "m", prompt: "p"), customID: "x")
        #expect(try JSONValue(parsing: String(buffer: legacy))["url"] == "/v1/completions")

        var file = BatchInputFile(maxRequests: 2)
        try file.append(clientChat("a"), customID: "a")
        #expect(throws: BatchInputError.duplicateCustomID("a")) { try file.append(clientChat("b"), customID: "a") }
        #expect(throws: BatchInputError.mixedEndpoints(expected: "/v1/chat/completions", found: "/v1/completions")) {
            try file.append(.completion(model: "test-model", prompt: "p"), customID: "c")
        }
        try file.append(clientChat("b"), customID: "b")
        #expect(throws: BatchInputError.self) { try file.append(clientChat("c"), customID: "c") }
        #expect(file.count == 2)
        #expect(String(buffer: file.contents).split(separator: "\n").count == 2)
        var small = BatchInputFile(maxBytes: 100)
        #expect(throws: BatchInputError.full(requests: 0, bytes: 0)) {
            try small.append(clientChat(String(repeating: "x", count: 200)), customID: "big")
        }
        #expect(small.isEmpty)
    }

    @Test func resultLinesSplitAcrossPieces() throws {
        let provider = ProviderConfiguration(name: "test", baseURL: "http://127.0.0.1/v1")
        let success =
            #"{"id":"r1","custom_id":"a","response":{"status_code":200,"request_id":"r1","body":{"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}},"error":null}"#
        let expired =
            #"{"id":"r2","custom_id":"b","response":null,"error":{"code":"batch_expired","message":"expired"}}"#
        let text = success + "\r\n\n  \n" + expired
        let whole = try BatchResult.parse(Array(text.utf8), provider: provider)
        #expect(whole.map(\.customID) == ["a", "b"])
        #expect(
            whole[0].completion
                == Completion(
                    content: "hi", finishReason: "stop", model: "m", usage: .init(promptTokens: 1, completionTokens: 1))
        )
        #expect(whole[1].error?.kind == .batchNotRun)
        #expect(whole[1].requestID == "r2")
        for size in [1, 3, 17, 64] {
            var splitter = JSONLSplitter()
            var lines: [String] = []
            let bytes = Array(text.utf8)
            for start in stride(from: 0, to: bytes.count, by: size) {
                lines += splitter.consume(Array(bytes[start..<min(start + size, bytes.count)])).map {
                    String(decoding: $0, as: UTF8.self)
                }
            }
            lines += splitter.finish().map { String(decoding: $0, as: UTF8.self) }
            #expect(lines == [success, expired], "pieces of \(size)")
        }
        #expect(throws: ProviderError.self) { try BatchResult(line: Array("not json".utf8), provider: provider) }
        #expect(throws: ProviderError.self) { try BatchResult(line: Array("{}".utf8), provider: provider) }
    }

    @Test func novitaBatchEndpointsAndWindows() throws {
        let builtIns = ProviderConfiguration.builtIns(environment: [:])
        let novita = try #require(builtIns["novita"])
        let openAI = try #require(builtIns["openai"])
        #expect(BatchClient.batchBaseURL(for: novita) == "https://api.novita.ai/openai/v1")
        #expect(BatchClient.batchBaseURL(for: openAI) == "https://api.openai.com/v1")
        #expect(BatchClient.defaultCompletionWindow(for: novita) == "48h")
        #expect(BatchClient.defaultCompletionWindow(for: openAI) == "24h")
        #expect(CompletionAPI.chat.batchEndpoint == "/v1/chat/completions")
        #expect(CompletionAPI(batchEndpoint: "/completions") == .completion)
        #expect(CompletionAPI(batchEndpoint: "/v1/embeddings") == nil)
    }
}

// MARK: - Helpers

/// Runs `body` with a test server, a completion client on real time (polling waits for the
/// server's delays) and a batch client over it.
func withBatchClient<Result>(
    _ configuration: SkeinTestServer.Configuration = .init(), environment: [String: String] = [:],
    _ body: (SkeinTestServer, BatchClient, HTTPCompletionClient) async throws -> Result
) async throws -> Result {
    try await SkeinTestServer.withRunning(configuration) { server in
        let client = HTTPCompletionClient(
            configuration: .init(
                connectionsPerHost: 8, retryPolicy: RetryPolicy(maxRetries: 1, initialDelay: .milliseconds(10))),
            environment: environment, random: { 0 })
        do {
            let result = try await body(server, BatchClient(client: client), client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

/// Runs `operation` and returns the provider error it fails with.
func expectBatchError<Value>(
    sourceLocation: Testing.SourceLocation = #_sourceLocation, _ operation: () async throws -> Value
) async throws -> ProviderError {
    do {
        let value = try await operation()
        Issue.record("expected an error, got \(value)", sourceLocation: sourceLocation)
        throw CancellationError()
    } catch let error as ProviderError {
        return error
    }
}

/// Collects the batches `waitForBatch` reports.
final class JobLog: Sendable {
    private let lock = NSLock()
    nonisolated(unsafe) private var recorded: [BatchJob] = []

    var jobs: [BatchJob] { lock.withLock { recorded } }
    var handler: @Sendable (BatchJob) -> Void { { job in self.lock.withLock { self.recorded.append(job) } } }
}

/// A TCP port on 127.0.0.1 that accepts connections (in the kernel's backlog) and never answers.
final class SilentListener: Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        #if canImport(Glibc)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw ListenerError() }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0, listen(descriptor, 16) == 0 else {
            Self.closeDescriptor(descriptor)
            throw ListenerError()
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    struct ListenerError: Error {}

    func close() {
        Self.closeDescriptor(descriptor)
    }

    private static func closeDescriptor(_ descriptor: Int32) {
        #if canImport(Glibc)
            _ = Glibc.close(descriptor)
        #else
            _ = Darwin.close(descriptor)
        #endif
    }
}
