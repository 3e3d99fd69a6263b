import Testing

@testable import SkeinCore
@testable import SkeinKit

@Suite struct ClientDecodingTests {
    let provider = ProviderConfiguration(name: "test", baseURL: "http://127.0.0.1:1/v1")

    private func json(_ text: String) throws -> JSONValue {
        try JSONValue(parsing: text)
    }

    @Test func decodesAChatResponseCompletely() throws {
        let response = try json(
            """
            {"id":"x","model":"deepseek/deepseek-r1","choices":[{"index":0,"message":{"role":"assistant",
             "content":"Hello","reasoning_content":"Think first.","tool_calls":[{"id":"call_1","type":"function",
             "function":{"name":"lookup","arguments":"{\\"q\\":\\"swift\\"}"}}]},"finish_reason":"tool_calls"}],
             "usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":8}}}
            """)
        let completion = try #require(Completion.decode(response, attempts: 2))
        #expect(
            completion
                == Completion(
                    content: "Hello", reasoningContent: "Think first.",
                    toolCalls: [.init(id: "call_1", name: "lookup", arguments: #"{"q":"swift"}"#)],
                    finishReason: "tool_calls", model: "deepseek/deepseek-r1",
                    usage: .init(promptTokens: 12, completionTokens: 5, totalTokens: 17, cachedTokens: 8), attempts: 2))
        #expect(completion.toolCalls.first?.parsedArguments == ["q": "swift"])
    }

    @Test func decodesLegacyCompletionsAndNullContent() throws {
        let legacy = try #require(
            Completion.decode(try json(#"{"choices":[{"text":" upon a time","index":0,"finish_reason":"length"}]}"#), attempts: 1))
        #expect(legacy.content == " upon a time")
        #expect(legacy.finishReason == "length")
        #expect(legacy.usage == nil)
        let toolsOnly = try #require(
            Completion.decode(try json(#"{"choices":[{"message":{"role":"assistant","content":null}}]}"#), attempts: 1))
        #expect(toolsOnly.content == "")
        #expect(Completion.decode(try json(#"{"object":"list"}"#), attempts: 1) == nil)
    }

    @Test func streamAssemblesToTheSameCompletion() throws {
        let chunks = [
            #"{"model":"r1","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Think"}}]}"#,
            #"{"model":"r1","choices":[{"index":0,"delta":{"reasoning_content":" first."}}]}"#,
            #"{"model":"r1","choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
            #"{"model":"r1","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}"#,
            #"{"model":"r1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}}]}}]}"#,
            #"{"model":"r1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","function":{"name":"fetch","arguments":"{\"url\":"}}]}}]}"#,
            #"{"model":"r1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":"}}]}}]}"#,
            #"{"model":"r1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"swift\"}"}}]}}]}"#,
            #"{"model":"r1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"x\"}"}}]}}]}"#,
            #"{"model":"r1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            #"{"model":"r1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":2}}}"#,
            "[DONE]",
        ]
        var assembler = StreamAssembler(provider: provider, apiKey: nil)
        var deltas: [String] = []
        for chunk in chunks {
            for event in try assembler.consume(SSEEvent(data: chunk)) {
                switch event {
                case .contentDelta(let text): deltas.append("content:\(text)")
                case .reasoningDelta(let text): deltas.append("reasoning:\(text)")
                case .toolCallDelta(let index, let id, let name, let arguments):
                    deltas.append("tool\(index):\(id ?? "-"):\(name ?? "-"):\(arguments)")
                default: break
                }
            }
        }
        #expect(assembler.isDone)
        #expect(
            deltas == [
                "reasoning:Think", "reasoning: first.", "content:Hel", "content:lo", "tool0:call_1:lookup:",
                #"tool1:call_2:fetch:{"url":"#, #"tool0:-:-:{"q":"#, #"tool0:-:-:"swift"}"#, #"tool1:-:-:"x"}"#,
            ])
        #expect(
            assembler.completion(attempts: 1)
                == Completion(
                    content: "Hello", reasoningContent: "Think first.",
                    toolCalls: [
                        .init(id: "call_1", name: "lookup", arguments: #"{"q":"swift"}"#),
                        .init(id: "call_2", name: "fetch", arguments: #"{"url":"x"}"#),
                    ],
                    finishReason: "tool_calls", model: "r1",
                    usage: .init(promptTokens: 3, completionTokens: 4, totalTokens: 7, cachedTokens: 2)))
    }

    @Test func legacyCompletionStream() throws {
        var assembler = StreamAssembler(provider: provider, apiKey: nil)
        _ = try assembler.consume(SSEEvent(data: #"{"choices":[{"text":"Once","index":0}]}"#))
        _ = try assembler.consume(SSEEvent(data: #"{"choices":[{"text":" upon","index":0,"finish_reason":"stop"}]}"#))
        #expect(assembler.isComplete)
        #expect(!assembler.isDone)
        #expect(assembler.completion(attempts: 1).content == "Once upon")
    }

    @Test func toolCallsWithoutIndexAreKeyedByID() throws {
        var assembler = StreamAssembler(provider: provider, apiKey: nil)
        for chunk in [
            #"{"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{"}}]}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"}"}}]}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"id":"b","function":{"name":"g","arguments":"[]"}}]}}]}"#,
        ] {
            _ = try assembler.consume(SSEEvent(data: chunk))
        }
        #expect(
            assembler.completion(attempts: 1).toolCalls == [
                .init(id: "a", name: "f", arguments: "{}"), .init(id: "b", name: "g", arguments: "[]"),
            ])
    }

    @Test func errorsInsideAStream() throws {
        var assembler = StreamAssembler(provider: provider, apiKey: nil)
        _ = try assembler.consume(SSEEvent(data: #"{"choices":[{"delta":{"content":"par"}}]}"#))
        #expect(throws: ProviderError.self) {
            try assembler.consume(SSEEvent(data: #"{"error":{"message":"Model overloaded","code":503}}"#))
        }
        do {
            _ = try assembler.consume(SSEEvent(event: "error", data: #"{"code":"RATE_LIMIT_EXCEEDED","message":"slow down"}"#))
            Issue.record("no error thrown")
        } catch {
            #expect(error.kind == .streamError)
            #expect(error.code == "RATE_LIMIT_EXCEEDED")
            #expect(error.isRetryable)
            #expect(error.description == "provider 'test' sent RATE_LIMIT_EXCEEDED in the stream: slow down.")
        }
        do {
            _ = try assembler.consume(SSEEvent(data: "not json"))
            Issue.record("no error thrown")
        } catch {
            #expect(error.kind == .invalidResponse)
        }
    }

    @Test func modelListShapes() throws {
        #expect(
            ModelInfo.decodeList(try json(#"{"object":"list","data":[{"id":"a","owned_by":"me","created":5},{"id":"b"}]}"#))
                == [ModelInfo(id: "a", ownedBy: "me", created: 5), ModelInfo(id: "b")])
        #expect(ModelInfo.decodeList(try json(#"{"error":"x"}"#)) == nil)
    }
}
