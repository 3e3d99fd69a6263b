/// Puts a ``GeneratedReply`` into the OpenAI response shapes: `chat.completion`,
/// `text_completion`, and their stream chunks. (The Messages endpoint has its own,
/// ``MessagesResponseBuilder``; given `.messages`, this one answers in the chat shape.)
struct CompletionResponseBuilder: Sendable {
    let endpoint: ReplyRule.Endpoint
    let id: String
    let model: String
    let created: Int

    init(endpoint: ReplyRule.Endpoint, requestID: Int, model: String, created: Int) {
        self.endpoint = endpoint
        self.id = (endpoint == .completions ? "cmpl-test-" : "chatcmpl-test-") + String(requestID)
        self.model = model
        self.created = created
    }

    // MARK: - Whole responses

    /// The non-stream body; `choiceCount` identical choices (the request's `n`).
    func body(for reply: GeneratedReply, choiceCount: Int = 1) -> TestJSON {
        let choices = (0..<choiceCount).map { index -> TestJSON in
            switch endpoint {
            case .chatCompletions, .messages:
                var message: [String: TestJSON] = [
                    "role": "assistant",
                    "content": reply.content.map(TestJSON.string) ?? .null,
                ]
                if let reasoning = reply.reasoning { message["reasoning_content"] = .string(reasoning) }
                if !reply.toolCalls.isEmpty {
                    message["tool_calls"] = .array(
                        reply.toolCalls.map { call in
                            [
                                "id": .string(call.id ?? ""),
                                "type": "function",
                                "function": ["name": .string(call.name), "arguments": .string(call.arguments)],
                            ]
                        }
                    )
                }
                return [
                    "index": .int(index), "message": .object(message), "finish_reason": .string(reply.finishReason),
                ]
            case .completions:
                return [
                    "index": .int(index), "text": .string(reply.content ?? ""), "logprobs": nil,
                    "finish_reason": .string(reply.finishReason),
                ]
            }
        }
        return envelope(
            object: endpoint == .completions ? "text_completion" : "chat.completion",
            [
                "choices": .array(choices), "usage": reply.usageJSON,
            ])
    }

    // MARK: - Streams

    /// The data of every stream event, `[DONE]` excluded: a role chunk (chat), reasoning,
    /// content and tool-call pieces, a chunk with the finish reason, and the usage chunk when
    /// `includesUsage`.
    func chunks(for reply: GeneratedReply, includesUsage: Bool) -> [TestJSON] {
        var chunks: [TestJSON] = []
        switch endpoint {
        case .chatCompletions, .messages:
            chunks.append(chatChunk(delta: ["role": "assistant", "content": ""]))
            for piece in ReplyGenerator.streamPieces(reply.reasoning ?? "") {
                chunks.append(chatChunk(delta: ["reasoning_content": .string(piece)]))
            }
            for piece in ReplyGenerator.streamPieces(reply.content ?? "") {
                chunks.append(chatChunk(delta: ["content": .string(piece)]))
            }
            for (index, call) in reply.toolCalls.enumerated() {
                let opening: TestJSON = [
                    "index": .int(index), "id": .string(call.id ?? ""), "type": "function",
                    "function": ["name": .string(call.name), "arguments": ""],
                ]
                chunks.append(chatChunk(delta: ["tool_calls": [opening]]))
                for piece in Self.slices(call.arguments, length: 16) {
                    let part: TestJSON = ["index": .int(index), "function": ["arguments": .string(piece)]]
                    chunks.append(chatChunk(delta: ["tool_calls": [part]]))
                }
            }
            chunks.append(chatChunk(delta: [:], finishReason: reply.finishReason))
        case .completions:
            for piece in ReplyGenerator.streamPieces(reply.content ?? "") {
                chunks.append(textChunk(text: piece))
            }
            chunks.append(textChunk(text: "", finishReason: reply.finishReason))
        }
        if includesUsage {
            let object = endpoint == .completions ? "text_completion" : "chat.completion.chunk"
            chunks.append(envelope(object: object, ["choices": [], "usage": reply.usageJSON]))
        }
        return chunks
    }

    /// A chunk whose JSON is cut off in the middle, for malformed-stream faults.
    func brokenChunkText() -> String {
        let text = chatChunk(delta: ["content": "this chunk is cut off"]).serialized
        return String(text.prefix(text.count / 2))
    }

    func chatChunk(delta: TestJSON, finishReason: String? = nil) -> TestJSON {
        envelope(
            object: "chat.completion.chunk",
            [
                "choices": [["index": 0, "delta": delta, "finish_reason": finishReason.map(TestJSON.string) ?? .null]]
            ])
    }

    func textChunk(text: String, finishReason: String? = nil) -> TestJSON {
        envelope(
            object: "text_completion",
            [
                "choices": [
                    [
                        "index": 0, "text": .string(text), "logprobs": nil,
                        "finish_reason": finishReason.map(TestJSON.string) ?? .null,
                    ]
                ]
            ])
    }

    private func envelope(object: String, _ members: [String: TestJSON]) -> TestJSON {
        var all = members
        all["id"] = .string(id)
        all["object"] = .string(object)
        all["created"] = .int(created)
        all["model"] = .string(model)
        return .object(all)
    }

    static func slices(_ text: String, length: Int) -> [String] {
        var slices: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            slices.append(String(rest.prefix(length)))
            rest = rest.dropFirst(length)
        }
        return slices
    }
}
