import Testing

@testable import SkeinCore
@testable import SkeinKit

/// `Completion.decodeDirectly` against the general path (`JSONValue(parsing:)` then
/// `Completion.decode`): it must take the usual replies itself, give exactly what the general
/// path gives, and leave everything else to it.
@Suite struct ClientDirectDecodingTests {
    private func direct(_ text: String) -> Completion? {
        Array(text.utf8).withUnsafeBufferPointer { Completion.decodeDirectly($0) }
    }

    private func general(_ text: String) -> Completion? {
        (try? JSONValue(parsing: text)).flatMap { Completion.decode($0, attempts: 1) }
    }

    /// Replies as providers send them.
    static let usualReplies: [String] = [
        // OpenAI, with the fields Skein does not read.
        #"""
        {"id":"chatcmpl-abc123","object":"chat.completion","created":1741569952,"model":"gpt-4.1-2025-04-14",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help?","refusal":null,
         "annotations":[]},"logprobs":null,"finish_reason":"stop"}],
         "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,
         "prompt_tokens_details":{"cached_tokens":8,"audio_tokens":0},
         "completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,
         "rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_abc"}
        """#,
        // Reasoning and tool calls, escapes in the strings.
        #"""
        {"id":"x","model":"deepseek/deepseek-r1","choices":[{"index":0,"message":{"role":"assistant",
         "content":"Line one\nline \"two\" \u00e9\ud83d\ude00","reasoning_content":"Think first.","tool_calls":[{"id":"call_1","type":"function",
         "function":{"name":"lookup","arguments":"{\"q\":\"swift\"}"}},{"type":"function",
         "function":{"name":"fetch","arguments":{"url":"x"}}}]},"finish_reason":"tool_calls"}],
         "usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":8}}}
        """#,
        // OpenRouter's `reasoning`, an empty `reasoning_content`, content as parts.
        #"{"model":"m","choices":[{"index":0,"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"reasoning_content":"","reasoning":"why"},"finish_reason":"length"}]}"#,
        // Legacy Completions, no usage; a message of only tool calls.
        #"{"choices":[{"text":" upon a time","index":0,"logprobs":null,"finish_reason":"length"}]}"#,
        #"{"choices":[{"message":{"role":"assistant","content":null}}],"usage":null}"#,
        // Two choices, index 0 second; Anthropic-style counts in usage; doubles for counts.
        #"{"choices":[{"index":1,"message":{"content":"second"}},{"index":0.0,"message":{"content":"first"}}],"usage":{"input_tokens":3.0,"output_tokens":4,"input_tokens_details":{"cached_tokens":1}}}"#,
        // Pretty-printed, with a byte order mark.
        "\u{FEFF}{\n  \"model\" : \"m\",\n  \"choices\" : [\n    {\n      \"index\" : 0,\n      \"message\" : { \"content\" : \"hi\" },\n      \"finish_reason\" : \"stop\"\n    }\n  ]\n}\n",
        // Repeated keys: the last one counts, as in a parsed object.
        #"{"model":"a","choices":[{"message":{"content":"x","reasoning_content":"r"},"message":{"content":"y"},"finish_reason":"stop","finish_reason":"length"}],"model":"b","usage":{"prompt_tokens":1},"usage":{"prompt_tokens":2,"completion_tokens":-5,"total_tokens":99999999999999999,"prompt_tokens_details":{"cached_tokens":3},"prompt_tokens_details":[]}}"#,
        // Fields of unexpected types where Skein reads them.
        #"{"model":7,"choices":[{"index":"0","message":{"content":{"text":"no"},"reasoning_content":5,"tool_calls":{}},"finish_reason":null}],"usage":[1,2]}"#,
        #"{"choices":[{"text":5,"finish_reason":true}],"usage":{"prompt_tokens":"3","total_tokens":1.5}}"#,
    ]

    @Test(arguments: usualReplies)
    func usualRepliesAreDecodedDirectlyAsTheGeneralPathDecodesThem(_ reply: String) throws {
        let expected = try #require(general(reply))
        #expect(direct(reply) == expected)
    }

    @Test func theDirectPathReadsEveryField() throws {
        let completion = try #require(direct(Self.usualReplies[1]))
        #expect(completion.content == "Line one\nline \"two\" é😀")
        #expect(completion.reasoningContent == "Think first.")
        #expect(
            completion.toolCalls == [
                .init(id: "call_1", name: "lookup", arguments: #"{"q":"swift"}"#),
                .init(id: "call_1", name: "fetch", arguments: #"{"url":"x"}"#),
            ])
        #expect(completion.finishReason == "tool_calls")
        #expect(completion.model == "deepseek/deepseek-r1")
        #expect(completion.usage == .init(promptTokens: 12, completionTokens: 5, totalTokens: 17, cachedTokens: 8))
        #expect(completion.attempts == 1)
        let repeated = try #require(direct(Self.usualReplies[7]))
        #expect(repeated.content == "y" && repeated.reasoningContent == nil && repeated.model == "b")
        #expect(repeated.usage == .init(promptTokens: 2, completionTokens: 0, totalTokens: 99999999999999999, cachedTokens: nil))
    }

    /// Replies the direct path leaves to the general one, which decides what they mean.
    static let unusualReplies: [String] = [
        "", "null", "[]", #"{"choices":[]}"#, #"{"object":"list"}"#, #"{"choices":{}}"#,
        #"{"choices":["text"]}"#, #"{"choices":[{"message":null}]}"#, #"{"choices":[{"message":"hi"}]}"#,
        #"{"choices":[{"message":{"content":"x"}}]} trailing"#, #"{"choices":[{"message":{"content":"x"}}]"#,
        #"{"choices":[{"message":{"content":"x"}}],"id":"\q"}"#, #"{"choices":[{"message":{"content":"x"}}],"id":01}"#,
        #"{"choices":[{"message":{"content":"x"}}],"mod\u0065l":"escaped key"}"#,
        "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"\u{212A}\":1}",
        "{\"choices\":[{\"message\":{\"content\":\"x\"}}],\"id\":\"tab\there\"}",
        #"{"choices":[{"message":{"content":"x"}}],"deep":"# + String(repeating: "[", count: 600)
            + String(repeating: "]", count: 600) + "}",
    ]

    @Test(arguments: unusualReplies)
    func unusualRepliesTakeTheGeneralPath(_ reply: String) {
        #expect(direct(reply) == nil)
    }

    /// Random damage to the usual replies: whatever the direct path accepts, the general path
    /// must accept and decode the same way.
    @Test func damagedRepliesNeverDecodeDifferently() {
        var random = SeededGenerator(seed: 5)
        let pieces: [UInt8] = Array(#"{}[]:,"\ 0123456789.eE+-tfnulaxyz"#.utf8) + [0x0A, 0x00, 0xC3, 0xA9, 0x80]
        var directlyDecoded = 0
        for round in 0..<4000 {
            var bytes = Array(Self.usualReplies[round % Self.usualReplies.count].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: bytes[at] = pieces.randomElement(using: &random)!
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(pieces.randomElement(using: &random)!, at: at)
                default:
                    let end = min(bytes.count, at + Int.random(in: 1...12, using: &random))
                    bytes.insert(contentsOf: bytes[at..<end], at: at)
                }
                if bytes.isEmpty { break }
            }
            let fast = bytes.withUnsafeBufferPointer { Completion.decodeDirectly($0) }
            guard let fast else { continue }
            directlyDecoded += 1
            let slow = (try? JSONValue(parsing: bytes)).flatMap { Completion.decode($0, attempts: 1) }
            #expect(fast == slow, "round \(round): \(String(decoding: bytes, as: UTF8.self))")
        }
        // Enough damage lands where it changes nothing or only a value to keep this meaningful.
        #expect(directlyDecoded > 400)
    }
}
