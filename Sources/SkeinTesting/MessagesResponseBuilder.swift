/// Puts a ``GeneratedReply`` into the Anthropic Messages API's shapes: a `message` object,
/// or the named events of its stream.
///
/// - Reasoning becomes a `thinking` block (before the text), the content a `text` block,
///   each tool call a `tool_use` block whose `input` is the arguments parsed. Arguments
///   that are not JSON (a rule scripting a malformed call) are sent as a JSON string in
///   `input`, which no real server does, so that a client's malformed-arguments error can be
///   tested on this endpoint too. Streamed, the arguments are `input_json_delta` pieces of the
///   input's compact JSON (keys sorted, as in the whole reply), or of the text as it is when
///   it is not JSON.
/// - The finish reason is mapped to a `stop_reason`: `stop` → `end_turn`, `length` →
///   `max_tokens`, `tool_calls` → `tool_use`, `content_filter` → `refusal`; any other value
///   (`pause_turn`, `stop_sequence`) is sent as it is.
/// - Usage: `input_tokens` is the prompt's words less the cached ones, which are
///   `cache_read_input_tokens` when a rule sets ``Reply/Usage/cachedTokens``;
///   `output_tokens` the reply's words.
struct MessagesResponseBuilder: Sendable {
    let id: String
    let model: String

    init(requestID: Int, model: String) {
        self.id = "msg_test_" + String(requestID)
        self.model = model
    }

    // MARK: - Whole responses

    func body(for reply: GeneratedReply) -> TestJSON {
        var message = envelope(reply)
        message["content"] = .array(blocks(for: reply))
        message["stop_reason"] = .string(Self.stopReason(reply.finishReason))
        message["usage"] = usage(reply, outputTokens: reply.completionTokens)
        return .object(message)
    }

    private func blocks(for reply: GeneratedReply) -> [TestJSON] {
        var blocks: [TestJSON] = []
        if let reasoning = reply.reasoning {
            blocks.append(["type": "thinking", "thinking": .string(reasoning), "signature": "test-signature"])
        }
        if let content = reply.content {
            blocks.append(["type": "text", "text": .string(content)])
        }
        for call in reply.toolCalls {
            let input = (try? TestJSON(parsing: Array(call.arguments.utf8))) ?? .string(call.arguments)
            blocks.append([
                "type": "tool_use", "id": .string(call.id ?? ""), "name": .string(call.name), "input": input,
            ])
        }
        return blocks
    }

    // MARK: - Streams

    /// Every event of the stream, in order, as (event name, data): `message_start`, `ping`,
    /// each block's `content_block_start`, deltas and `content_block_stop`, `message_delta`
    /// with the stop reason and the output tokens, `message_stop`.
    func events(for reply: GeneratedReply) -> [(name: String, data: TestJSON)] {
        var start = envelope(reply)
        start["content"] = []
        start["stop_reason"] = nil
        start["usage"] = usage(reply, outputTokens: 1)
        var events: [(name: String, data: TestJSON)] = [
            ("message_start", ["type": "message_start", "message": .object(start)]),
            ("ping", ["type": "ping"]),
        ]
        var index = 0
        func block(_ opening: TestJSON, deltas: [TestJSON]) {
            events.append(
                (
                    "content_block_start",
                    ["type": "content_block_start", "index": .int(index), "content_block": opening]
                ))
            for delta in deltas {
                events.append(
                    ("content_block_delta", ["type": "content_block_delta", "index": .int(index), "delta": delta]))
            }
            events.append(("content_block_stop", ["type": "content_block_stop", "index": .int(index)]))
            index += 1
        }
        if let reasoning = reply.reasoning {
            block(
                ["type": "thinking", "thinking": ""],
                deltas: ReplyGenerator.streamPieces(reasoning).map {
                    ["type": "thinking_delta", "thinking": .string($0)]
                }
                    + [["type": "signature_delta", "signature": "test-signature"]])
        }
        if let content = reply.content {
            block(
                ["type": "text", "text": ""],
                deltas: ReplyGenerator.streamPieces(content).map { ["type": "text_delta", "text": .string($0)] })
        }
        for call in reply.toolCalls {
            // The input as the whole reply has it (compact, keys sorted), so both assemble alike.
            let text = (try? TestJSON(parsing: Array(call.arguments.utf8)))?.serialized ?? call.arguments
            block(
                ["type": "tool_use", "id": .string(call.id ?? ""), "name": .string(call.name), "input": [:]],
                deltas: CompletionResponseBuilder.slices(text, length: 16).map {
                    ["type": "input_json_delta", "partial_json": .string($0)]
                })
        }
        events.append(
            (
                "message_delta",
                [
                    "type": "message_delta",
                    "delta": ["stop_reason": .string(Self.stopReason(reply.finishReason)), "stop_sequence": nil],
                    "usage": ["output_tokens": .int(reply.completionTokens)],
                ]
            ))
        events.append(("message_stop", ["type": "message_stop"]))
        return events
    }

    /// A `content_block_delta` event whose JSON is cut off in the middle, for malformed-stream faults.
    func brokenEventText() -> String {
        let text = TestJSON.object([
            "type": "content_block_delta", "index": 0,
            "delta": ["type": "text_delta", "text": "this event is cut off"],
        ]).serialized
        return String(text.prefix(text.count / 2))
    }

    // MARK: - Parts

    private func envelope(_ reply: GeneratedReply) -> [String: TestJSON] {
        ["id": .string(id), "type": "message", "role": "assistant", "model": .string(model), "stop_sequence": nil]
    }

    private func usage(_ reply: GeneratedReply, outputTokens: Int) -> TestJSON {
        let cached = reply.cachedTokens ?? 0
        var usage: [String: TestJSON] = [
            "input_tokens": .int(max(0, reply.promptTokens - cached)), "output_tokens": .int(outputTokens),
        ]
        if let cachedTokens = reply.cachedTokens { usage["cache_read_input_tokens"] = .int(cachedTokens) }
        return .object(usage)
    }

    static func stopReason(_ finishReason: String) -> String {
        switch finishReason {
        case "stop": return "end_turn"
        case "length": return "max_tokens"
        case "tool_calls": return "tool_use"
        case "content_filter": return "refusal"
        default: return finishReason
        }
    }
}
