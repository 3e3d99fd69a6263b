import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import SkeinTesting

/// The test server's Files and Batches endpoints over real HTTP, without SkeinKit.
@Suite struct TestServerBatchTests {
    @Test func batchLinesGetTheRepliesLiveRequestsGet() async throws {
        try await SkeinTestServer.withRunning { server in
            let http = BatchHTTP(server)
            let bodies: [TestJSON] = [
                chatBody("Summarize the article please"),
                chatBody("first").merging(["response_format": ["type": "json_object"], "max_tokens": 7]),
                chatBody("streamed live, not in a batch", stream: true),
            ]
            let lines = bodies.enumerated().map { index, body in batchInputLine("row-\(index)", body: body) }
            let upload = try await http.upload(lines.joined(separator: "\n") + "\n")
            #expect(upload.status == 200)
            let file = try #require(upload.json)
            #expect(file["object"] == "file")
            #expect(file["purpose"] == "batch")
            #expect(file["filename"] == "input.jsonl")
            #expect(file["bytes"]?.intValue == lines.joined(separator: "\n").utf8.count + 1)
            let fileID = try #require(file["id"]?.stringValue)
            #expect(await server.fileUploads == 1)

            let created = try await http.createBatch(fileID: fileID, extra: ["metadata": ["wave": "1"]])
            #expect(created.status == 200)
            let job = try #require(created.json)
            #expect(job["object"] == "batch")
            #expect(job["status"] == "validating")
            #expect(job["endpoint"] == "/v1/chat/completions")
            #expect(job["input_file_id"] == .string(fileID))
            #expect(job["completion_window"] == "48h")
            #expect(job["metadata"] == ["wave": "1"])
            #expect(job["request_counts"] == ["total": 3, "completed": 0, "failed": 0])
            #expect(job["output_file_id"] == .null)
            #expect(await server.batchCreations == 1)
            let batchID = try #require(job["id"]?.stringValue)

            let finished = try await http.batch(batchID)
            #expect(finished["status"] == "completed")
            #expect(finished["request_counts"] == ["total": 3, "completed": 3, "failed": 0])
            #expect(finished["error_file_id"] == .null)
            #expect(finished["completed_at"]?.intValue != nil)
            #expect(finished["in_progress_at"]?.intValue != nil)
            let output = try await http.contentLines(try #require(finished["output_file_id"]?.stringValue))
            #expect(output.map { $0["custom_id"] } == ["row-0", "row-1", "row-2"])
            for (line, body) in zip(output, bodies) {
                #expect(line["error"] == .null)
                #expect(line["response"]?["status_code"] == 200)
                #expect(line["response"]?["request_id"] == line["id"])
                let live = try await TestServerClient(server).post("/chat/completions", body.merging(["stream": false]))
                #expect(live.status == 200)
                #expect(withoutIDAndTime(line["response"]?["body"]) == withoutIDAndTime(live.json))
            }
            #expect(
                output[0]["response"]?["body"]?["choices"]?[0]?["message"]?["content"]
                    == "echo: Summarize the article please")
            #expect(await server.batchLinesAnswered == 3)
            #expect(await server.batchIDs == [batchID])

            let handlings = await server.requests.map(\.handling)
            #expect(handlings.prefix(3) == [.files, .batches, .batches])
            await server.resetRecords()
            #expect(await server.batchCreations == 0)
            #expect(await server.fileUploads == 0)
            #expect(await server.batchIDs == [batchID])
        }
    }

    @Test func legacyCompletionsBatch() async throws {
        try await SkeinTestServer.withRunning { server in
            let http = BatchHTTP(server)
            let body: TestJSON = ["model": "test-model", "prompt": "Once upon a time", "max_tokens": 5]
            let fileID = try await http.uploadedFileID(batchInputLine("only", body: body, url: "/v1/completions"))
            let batchID = try await http.createdBatchID(fileID: fileID, endpoint: "/v1/completions")
            let job = try await http.batch(batchID)
            #expect(job["status"] == "completed")
            let outputID = try #require(job["output_file_id"]?.stringValue)
            let line = try #require(try await http.contentLines(outputID).first)
            #expect(line["response"]?["body"]?["object"] == "text_completion")
            #expect(line["response"]?["body"]?["choices"]?[0]?["text"] == "echo: Once upon a time")
        }
    }

    @Test func aBatchStaysValidatingThenInProgressForItsDelays() async throws {
        // Delays long enough that a loaded machine (the suite runs its tests in parallel on 2
        // cores) still sees each phase between two looks (3 s of validation once passed
        // between creating the batch and the next look).
        let batches = SkeinTestServer.BatchConfiguration(
            validationDelay: .seconds(6), processingDelay: .seconds(6))
        try await SkeinTestServer.withRunning(.init(batches: batches)) { server in
            let http = BatchHTTP(server)
            let lines = (0..<4).map { batchInputLine("row-\($0)", body: chatBody("line \($0)")) }
            let fileID = try await http.uploadedFileID(lines.joined(separator: "\n"))
            let start = ContinuousClock.now
            let batchID = try await http.createdBatchID(fileID: fileID)
            #expect(try await http.batch(batchID)["status"] == "validating")

            // Seen at creation (above): a loaded machine once looked next only after validation.
            var seen: [String] = ["validating"]
            var progress: [Int] = []
            var job: TestJSON = nil
            while ContinuousClock.now - start < .seconds(40) {
                job = try await http.batch(batchID)
                let status = job["status"]?.stringValue ?? ""
                if seen.last != status { seen.append(status) }
                if status == "in_progress" {
                    #expect(job["output_file_id"] == .null)
                    progress.append(job["request_counts"]?["completed"]?.intValue ?? -1)
                }
                if status == "completed" { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let elapsed = ContinuousClock.now - start
            #expect(seen == ["validating", "in_progress", "completed"])
            #expect(elapsed >= .seconds(12))
            // Lines are answered evenly over the delay, not all at its end.
            #expect(progress.contains { $0 > 0 && $0 < 4 })
            #expect(progress == progress.sorted())
            #expect(job["request_counts"] == ["total": 4, "completed": 4, "failed": 0])
        }
    }

    @Test func completeBatchesSkipsTheWait() async throws {
        let batches = SkeinTestServer.BatchConfiguration(processingDelay: .seconds(3600))
        try await SkeinTestServer.withRunning(.init(batches: batches)) { server in
            let http = BatchHTTP(server)
            let fileID = try await http.uploadedFileID(batchInputLine("a", body: chatBody("hello")))
            let batchID = try await http.createdBatchID(fileID: fileID)
            let running = try await http.batch(batchID)
            #expect(running["status"] == "in_progress")
            #expect(running["request_counts"]?["completed"] == 0)
            #expect(await server.batchStatus(id: batchID) == "in_progress")
            await server.completeBatches()
            let done = try await http.batch(batchID)
            #expect(done["status"] == "completed")
            #expect(done["request_counts"]?["completed"] == 1)
            #expect(await server.batchStatus(id: "batch_unknown") == nil)
        }
    }

    @Test func cancellingLeavesTheRestInTheErrorFile() async throws {
        let batches = SkeinTestServer.BatchConfiguration(processingDelay: .seconds(3600))
        try await SkeinTestServer.withRunning(.init(batches: batches)) { server in
            let http = BatchHTTP(server)
            let lines = (0..<3).map { batchInputLine("row-\($0)", body: chatBody("line \($0)")) }
            let batchID = try await http.createdBatchID(
                fileID: try await http.uploadedFileID(lines.joined(separator: "\n")))
            let cancelling = try await http.send(.POST, "/batches/\(batchID)/cancel")
            #expect(cancelling.status == 200)
            #expect(cancelling.json?["status"] == "cancelling")
            #expect(cancelling.json?["cancelling_at"]?.intValue != nil)

            let cancelled = try await http.batch(batchID)
            #expect(cancelled["status"] == "cancelled")
            #expect(cancelled["cancelled_at"]?.intValue != nil)
            #expect(cancelled["output_file_id"] == .null)
            #expect(cancelled["request_counts"] == ["total": 3, "completed": 0, "failed": 3])
            let errors = try await http.contentLines(try #require(cancelled["error_file_id"]?.stringValue))
            #expect(errors.map { $0["custom_id"] } == ["row-0", "row-1", "row-2"])
            #expect(errors.allSatisfy { $0["response"] == .null && $0["error"]?["code"] == "batch_cancelled" })

            // Cancelling again changes nothing; a finished batch cannot be cancelled; nor an unknown one.
            #expect(try await http.send(.POST, "/batches/\(batchID)/cancel").json?["status"] == "cancelled")
            let other = try await http.createdBatchID(fileID: try await http.uploadedFileID(lines[0]))
            await server.completeBatches()
            let refused = try await http.send(.POST, "/batches/\(other)/cancel")
            #expect(refused.status == 400)
            #expect(refused.json?["error"]?["message"] == "Cannot cancel a batch with status 'completed'.")
            #expect(try await http.send(.POST, "/batches/batch_nope/cancel").status == 404)
        }
    }

    @Test func cancellationDelayShowsCancelling() async throws {
        let batches = SkeinTestServer.BatchConfiguration(
            processingDelay: .seconds(3600), cancellationDelay: .seconds(3600))
        try await SkeinTestServer.withRunning(.init(batches: batches)) { server in
            let http = BatchHTTP(server)
            let batchID = try await http.createdBatchID(
                fileID: try await http.uploadedFileID(batchInputLine("a", body: chatBody("hi"))))
            _ = try await http.send(.POST, "/batches/\(batchID)/cancel")
            #expect(try await http.batch(batchID)["status"] == "cancelling")
            await server.completeBatches()
            #expect(try await http.batch(batchID)["status"] == "cancelled")
        }
    }

    @Test func expiryEndsUnfinishedBatches() async throws {
        let batches = SkeinTestServer.BatchConfiguration(processingDelay: .seconds(3600))
        try await SkeinTestServer.withRunning(.init(batches: batches)) { server in
            let http = BatchHTTP(server)
            let batchID = try await http.createdBatchID(
                fileID: try await http.uploadedFileID(batchInputLine("a", body: chatBody("hi"))))
            await server.expireBatches()
            let job = try await http.batch(batchID)
            #expect(job["status"] == "expired")
            #expect(job["expired_at"]?.intValue != nil)
            let errors = try await http.contentLines(try #require(job["error_file_id"]?.stringValue))
            #expect(errors.first?["error"]?["code"] == "batch_expired")
        }
    }

    @Test func linesFollowTheRulesAndFaultsOfLiveRequests() async throws {
        try await SkeinTestServer.withRunning(.init(rejectsUnknownModels: true)) { server in
            let http = BatchHTTP(server)
            await server.setRules([
                ReplyRule(
                    "busy", match: .init(lastUserMessageContains: "busy"), action: .status(503, message: "overloaded")),
                ReplyRule("flaky", match: .init(lastUserMessageContains: "flaky"), times: 1, action: .status(500)),
                ReplyRule(
                    "drop", match: .init(lastUserMessageContains: "drop"), action: .dropConnection(afterChunks: 0)),
                ReplyRule(
                    "tea", match: .init(lastUserMessageContains: "teapot"),
                    action: .raw(status: 418, body: "I'm a teapot")),
                ReplyRule("cut", match: .init(lastUserMessageContains: "cut"), action: .malformedBody),
                ReplyRule("scripted", match: .init(lastUserMessageContains: "script"), action: .text("scripted reply")),
            ])
            let messages = ["busy now", "flaky 1", "flaky 2", "drop it", "teapot", "cut short", "script me", "plain"]
            let lines = messages.map { batchInputLine($0, body: chatBody($0)) }
            let batchID = try await http.createdBatchID(
                fileID: try await http.uploadedFileID(lines.joined(separator: "\n")))
            let job = try await http.batch(batchID)
            #expect(job["status"] == "completed")
            #expect(job["request_counts"] == ["total": 8, "completed": 3, "failed": 5])

            let output = try await http.contentLines(try #require(job["output_file_id"]?.stringValue))
            let errors = try await http.contentLines(try #require(job["error_file_id"]?.stringValue))
            let answers = Dictionary(
                uniqueKeysWithValues: (output + errors).map { ($0["custom_id"]?.stringValue ?? "", $0) })
            #expect(answers["busy now"]?["response"]?["status_code"] == 503)
            #expect(answers["busy now"]?["response"]?["body"]?["error"]?["message"] == "overloaded")
            #expect(answers["flaky 1"]?["response"]?["status_code"] == 500)
            #expect(answers["flaky 2"]?["response"]?["status_code"] == 200)
            #expect(answers["drop it"]?["response"] == .null)
            #expect(answers["drop it"]?["error"]?["code"] == "request_timeout")
            #expect(answers["teapot"]?["response"]?["status_code"] == 418)
            #expect(answers["teapot"]?["response"]?["body"]?["error"]?["message"] == "I'm a teapot")
            #expect(answers["cut short"]?["error"]?["code"] == "server_error")
            #expect(
                answers["script me"]?["response"]?["body"]?["choices"]?[0]?["message"]?["content"] == "scripted reply")
            #expect(answers["plain"]?["response"]?["body"]?["choices"]?[0]?["message"]?["content"] == "echo: plain")

            // An unknown model gets the live 404, line by line.
            let unknown = try await http.createdBatchID(
                fileID: try await http.uploadedFileID(
                    batchInputLine("x", body: chatBody("plain", model: "no-such-model"))))
            let refused = try await http.batch(unknown)
            let errorFileID = try #require(refused["error_file_id"]?.stringValue)
            let line = try #require(try await http.contentLines(errorFileID).first)
            #expect(line["response"]?["status_code"] == 404)
            #expect(line["response"]?["body"]?["error"]?["code"] == "MODEL_NOT_FOUND")
        }
    }

    @Test func anInputFileThatBreaksARuleFailsTheBatch() async throws {
        try await SkeinTestServer.withRunning { server in
            let http = BatchHTTP(server)
            let good = batchInputLine("a", body: chatBody("hi"))
            let cases: [(String, String, Int?)] = [
                (good + "\n{not json\n", "invalid_json_line", 2),
                (good + "\n" + batchInputLine("a", body: chatBody("again")), "duplicate_custom_id", 2),
                (batchInputLine("a", body: chatBody("hi"), url: "/v1/completions"), "invalid_url", 1),
                (
                    #"{"custom_id":"a","method":"GET","url":"/v1/chat/completions","body":{"model":"m"}}"#,
                    "invalid_method", 1
                ),
                (#"{"custom_id":"a","body":{"messages":[]}}"#, "missing_required_parameter", 1),
                (#"{"body":{"model":"m"}}"#, "missing_required_parameter", 1),
                (
                    [
                        good, batchInputLine("b", body: chatBody("hi", model: "other-model")),
                        batchInputLine("c", body: chatBody("x")),
                    ]
                    .joined(separator: "\n"),
                    "mixed_models", 2
                ),
            ]
            for (contents, code, line) in cases {
                let batchID = try await http.createdBatchID(fileID: try await http.uploadedFileID(contents))
                let job = try await http.batch(batchID)
                #expect(job["status"] == "failed", "\(code)")
                #expect(job["failed_at"]?.intValue != nil)
                #expect(job["output_file_id"] == .null)
                #expect(job["errors"]?["object"] == "list")
                let error = try #require(job["errors"]?["data"]?[0])
                #expect(error["code"] == .string(code))
                #expect(error["line"]?.intValue == line, "\(code)")
                if code == "mixed_models" {
                    #expect(
                        error["message"]?.stringValue
                            == "All requests in one batch file must use the same model; this file uses 2: test-model "
                            + "(first on line 1), other-model (first on line 2). Split it into one file per model.")
                }
            }
            // A file of blank lines has no request.
            let blank = try await http.createdBatchID(fileID: try await http.uploadedFileID("\n \n"))
            #expect(try await http.batch(blank)["errors"]?["data"]?[0]?["code"] == "empty_file")
            #expect(await server.batchCreations == cases.count + 1)
        }
    }

    @Test func mixedModelsAreAcceptedWhenTheRuleIsOff() async throws {
        let batches = SkeinTestServer.BatchConfiguration(requiresOneModel: false)
        try await SkeinTestServer.withRunning(.init(batches: batches)) { server in
            let http = BatchHTTP(server)
            let lines = [
                batchInputLine("a", body: chatBody("hi")), batchInputLine("b", body: chatBody("hi", model: "other")),
            ]
            let batchID = try await http.createdBatchID(
                fileID: try await http.uploadedFileID(lines.joined(separator: "\n")))
            let job = try await http.batch(batchID)
            #expect(job["status"] == "completed")
            let output = try await http.contentLines(try #require(job["output_file_id"]?.stringValue))
            #expect(output.map { $0["response"]?["body"]?["model"] } == ["test-model", "other"])
        }
    }

    @Test func tooManyRequestsFailTheBatch() async throws {
        let batches = SkeinTestServer.BatchConfiguration(maxRequestsPerBatch: 2)
        try await SkeinTestServer.withRunning(.init(batches: batches)) { server in
            let http = BatchHTTP(server)
            let lines = (0..<3).map { batchInputLine("row-\($0)", body: chatBody("x")) }
            let batchID = try await http.createdBatchID(
                fileID: try await http.uploadedFileID(lines.joined(separator: "\n")))
            let job = try await http.batch(batchID)
            #expect(job["status"] == "failed")
            #expect(job["errors"]?["data"]?[0]?["code"] == "too_many_requests")
        }
    }

    @Test func badRequestsGetHTTPErrors() async throws {
        let batches = SkeinTestServer.BatchConfiguration(maxUploadBytes: 1000)
        try await SkeinTestServer.withRunning(.init(batches: batches)) { server in
            let http = BatchHTTP(server)
            let line = batchInputLine("a", body: chatBody("hi"))
            func expectError(
                _ reply: TestServerReply, _ status: Int, _ message: String,
                sourceLocation: SourceLocation = #_sourceLocation
            ) {
                #expect(reply.status == status, sourceLocation: sourceLocation)
                #expect(reply.json?["error"]?["message"]?.stringValue == message, sourceLocation: sourceLocation)
            }
            expectError(
                try await http.createBatch(fileID: "file-nope"), 404, "No such File object: file-nope")
            expectError(try await http.send(.GET, "/batches/batch_nope"), 404, "No such Batch object: batch_nope")
            expectError(try await http.send(.GET, "/files/file-nope"), 404, "No such File object: file-nope")
            expectError(try await http.send(.GET, "/files/file-nope/content"), 404, "No such File object: file-nope")
            expectError(try await http.send(.DELETE, "/files/file-nope"), 404, "No such File object: file-nope")

            let fileID = try await http.uploadedFileID(line)
            expectError(
                try await http.createBatch(fileID: fileID, endpoint: "/v1/embeddings"), 400,
                "Invalid endpoint '/v1/embeddings': use /v1/chat/completions or /v1/completions.")
            expectError(
                try await http.createBatch(fileID: fileID, extra: ["completion_window": "1h"]), 400,
                "Invalid completion_window '1h': use 24h or 48h.")
            expectError(
                try await http.createBatch(fileID: fileID, extra: ["metadata": ["n": 1]]), 400,
                "Invalid metadata: at most 16 keys with string values.")
            expectError(
                try await http.send(.POST, "/batches", body: Array("{}".utf8), contentType: "application/json"), 400,
                "Missing required parameter: 'input_file_id'.")
            expectError(
                try await http.upload(line, purpose: nil), 400, "Missing required parameter: 'purpose'.")
            expectError(
                try await http.upload(line, purpose: "fine-tune"), 400,
                "Invalid purpose 'fine-tune': this server takes batch input files only ('batch').")
            expectError(try await http.upload(""), 400, "The file is empty.")
            expectError(
                try await http.send(.POST, "/files", body: Array(line.utf8), contentType: "application/jsonl"), 400,
                "Expected a multipart/form-data body with the fields 'purpose' and 'file'.")
            expectError(
                try await http.upload(String(repeating: line + "\n", count: 20)), 413,
                "The file is larger than 1000 bytes.")
            #expect(await server.fileUploads == 1)
            #expect(await server.batchCreations == 0)

            // An output file is not an input file.
            let batchID = try await http.createdBatchID(fileID: fileID)
            let outputID = try #require(try await http.batch(batchID)["output_file_id"]?.stringValue)
            let reuse = try await http.createBatch(fileID: outputID)
            #expect(reuse.status == 400)

            // Deleted files are gone.
            let deleted = try await http.send(.DELETE, "/files/\(fileID)")
            #expect(deleted.json == ["id": .string(fileID), "object": "file", "deleted": true])
            #expect(try await http.send(.GET, "/files/\(fileID)").status == 404)
            #expect(try await http.send(.GET, "/files/\(fileID)/content").status == 404)
            let listed = try await http.send(.GET, "/files")
            #expect(listed.json?["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [outputID])
        }
    }

    @Test func aWrongKeyIsRefusedEverywhere() async throws {
        try await SkeinTestServer.withRunning(.init(requiredAPIKey: "sk-right")) { server in
            let wrong = BatchHTTP(server, apiKey: "sk-wrong")
            let replies = [
                try await wrong.upload(batchInputLine("a", body: chatBody("hi"))),
                try await wrong.createBatch(fileID: "file-test-1"),
                try await wrong.send(.GET, "/batches"),
                try await wrong.send(.GET, "/files/file-test-1/content"),
            ]
            #expect(replies.map(\.status) == [401, 401, 401, 401])
            #expect(await server.fileUploads == 0)
            #expect(await server.requests.map(\.handling).allSatisfy { $0 == .unauthorized })
            let right = BatchHTTP(server, apiKey: "sk-right")
            #expect(try await right.upload(batchInputLine("a", body: chatBody("hi"))).status == 200)
        }
    }

    @Test func listingPagesNewestFirst() async throws {
        try await SkeinTestServer.withRunning { server in
            let http = BatchHTTP(server)
            let fileID = try await http.uploadedFileID(batchInputLine("a", body: chatBody("hi")))
            var ids: [String] = []
            for _ in 0..<3 { ids.append(try await http.createdBatchID(fileID: fileID)) }
            let first = try #require(try await http.send(.GET, "/batches?limit=2").json)
            #expect(first["object"] == "list")
            #expect(first["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[2], ids[1]])
            #expect(first["has_more"] == true)
            #expect(first["last_id"] == .string(ids[1]))
            let second = try #require(try await http.send(.GET, "/batches?limit=2&after=\(ids[1])").json)
            #expect(second["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[0]])
            #expect(second["has_more"] == false)
        }
    }

    @Test func novitaDialect() async throws {
        let batches = SkeinTestServer.BatchConfiguration(dialect: .novita)
        try await SkeinTestServer.withRunning(.init(batches: batches)) { server in
            let http = BatchHTTP(server)
            let upload = try #require(try await http.upload(batchInputLine("a", body: chatBody("hi"))).json)
            #expect(upload["metadata"] == ["total_requests": 1])
            let fileID = try #require(upload["id"]?.stringValue)
            let created = try #require(
                try await http.createBatch(fileID: fileID, extra: ["completion_window": nil]).json)
            #expect(created["status"] == "VALIDATING")
            #expect(created["completion_window"] == "48h")
            #expect(created["output_file_id"] == "")
            #expect(created["errors"] == "")
            #expect(created["total"] == 1)
            let createdAt = try #require(created["created_at"]?.stringValue)
            #expect(createdAt.contains("T") && createdAt.hasSuffix("+00:00"))
            let done = try await http.batch(try #require(created["id"]?.stringValue))
            #expect(done["status"] == "COMPLETED")
            #expect(done["completed"] == 1)
            #expect(done["completed_at"]?.stringValue != nil)
            #expect(done["output_file_id"]?.stringValue?.isEmpty == false)
            #expect(done["error_file_id"] == "")
        }
    }

    @Test func multipartReading() throws {
        let body = Array(
            ("preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
                + "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.jsonl\"\r\n"
                + "Content-Type: application/octet-stream\r\n\r\nline 1\r\n--X not the end\n\r\n--XyZ--\r\n").utf8)
        let form = try #require(MultipartFormData(contentType: "multipart/form-data; boundary=\"XyZ\"", body: body))
        #expect(form.part(named: "purpose")?.text == "batch")
        #expect(form.part(named: "file")?.filename == "a b.jsonl")
        #expect(form.part(named: "file")?.text == "line 1\r\n--X not the end\n")
        #expect(MultipartFormData(contentType: "application/json", body: body) == nil)
        #expect(
            MultipartFormData(contentType: "multipart/form-data; boundary=XyZ", body: Array("--XyZ\r\nbroken".utf8))
                == nil)
    }
}

// MARK: - Helpers

/// One batch input line: `{"custom_id", "method": "POST", "url", "body"}`.
func batchInputLine(_ customID: String, body: TestJSON, url: String? = "/v1/chat/completions") -> String {
    var line: [String: TestJSON] = ["custom_id": .string(customID), "method": "POST", "body": body]
    if let url { line["url"] = .string(url) }
    return TestJSON.object(line).serialized
}

/// A reply body without what differs between two replies to the same request.
func withoutIDAndTime(_ body: TestJSON?) -> TestJSON? {
    guard var members = body?.objectValue else { return body }
    members["id"] = nil
    members["created"] = nil
    return .object(members)
}

extension TestJSON {
    /// The object with `members` set; `nil` values remove a key.
    func replacing(_ members: [String: TestJSON?]) -> TestJSON {
        var object = objectValue ?? [:]
        for (key, value) in members { object[key] = value }
        return .object(object)
    }
}

/// The Files and Batches endpoints of a test server, over AsyncHTTPClient.
struct BatchHTTP: Sendable {
    let baseURL: String
    let apiKey: String?

    init(_ server: SkeinTestServer, apiKey: String? = nil) {
        baseURL = server.baseURL
        self.apiKey = apiKey
    }

    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String? = nil) async throws
        -> TestServerReply
    {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let contentType { request.headers.add(name: "content-type", value: contentType) }
        if let apiKey { request.headers.add(name: "authorization", value: "Bearer \(apiKey)") }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var headers: [String: String] = [:]
        for (name, value) in response.headers { headers[name.lowercased()] = value }
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return TestServerReply(
            status: Int(response.status.code), headers: headers, body: String(buffer: bytes), bodyError: nil)
    }

    /// `POST /files` with a multipart body; `purpose: nil` leaves the field out.
    func upload(_ contents: String, purpose: String? = "batch", filename: String = "input.jsonl") async throws
        -> TestServerReply
    {
        var body = ""
        if let purpose {
            body += "--b0undary\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n\(purpose)\r\n"
        }
        body += "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\n"
        body += "Content-Type: application/jsonl\r\n\r\n\(contents)\r\n--b0undary--\r\n"
        return try await send(
            .POST, "/files", body: Array(body.utf8), contentType: "multipart/form-data; boundary=b0undary")
    }

    func uploadedFileID(_ contents: String) async throws -> String {
        let reply = try await upload(contents)
        return try #require(reply.json?["id"]?.stringValue, "upload: \(reply.status) \(reply.body)")
    }

    func createBatch(fileID: String, endpoint: String = "/v1/chat/completions", extra: [String: TestJSON?] = [:])
        async throws -> TestServerReply
    {
        let body = TestJSON.object([
            "input_file_id": .string(fileID), "endpoint": .string(endpoint), "completion_window": "48h",
        ]).replacing(extra)
        return try await send(.POST, "/batches", body: Array(body.serialized.utf8), contentType: "application/json")
    }

    func createdBatchID(fileID: String, endpoint: String = "/v1/chat/completions") async throws -> String {
        let reply = try await createBatch(fileID: fileID, endpoint: endpoint)
        return try #require(reply.json?["id"]?.stringValue, "create: \(reply.status) \(reply.body)")
    }

    func batch(_ id: String) async throws -> TestJSON {
        let reply = try await send(.GET, "/batches/\(id)")
        return try #require(reply.json, "batch \(id): \(reply.status) \(reply.body)")
    }

    /// The lines of a file's content, parsed.
    func contentLines(_ fileID: String) async throws -> [TestJSON] {
        let reply = try await send(.GET, "/files/\(fileID)/content")
        #expect(reply.status == 200)
        return try reply.body.split(separator: "\n").map { try TestJSON(parsing: String($0)) }
    }
}
