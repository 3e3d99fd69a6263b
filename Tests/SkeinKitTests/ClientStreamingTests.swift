import SkeinTesting
import Testing

@testable import SkeinCore
@testable import SkeinKit

/// Streamed replies against the real test server: the same `Completion` as unstreamed,
/// and breaks and errors inside a stream.
@Suite struct ClientStreamingTests {
    static let richReply = Reply(
        content: "The answer is forty-two, as computed below.", reasoning: "First think about it, then answer.",
        toolCalls: [
            .init(id: "call_a", name: "lookup", arguments: #"{"query":"the meaning of life","limit":3}"#),
            .init(id: "call_b", name: "compute", arguments: #"{"expression":"6 * 7","precision":"exact"}"#),
        ],
        finishReason: "tool_calls", usage: .init(promptTokens: 21, completionTokens: 34, cachedTokens: 13))

    @Test func streamedAndUnstreamedRepliesAssembleTheSame() async throws {
        try await withClientAndServer { server, client in
            let provider = clientTestProvider(server)
            await server.addRule(ReplyRule(action: .reply(Self.richReply)))
            let whole = try await client.complete(clientChat("q"), provider: provider)
            let events = ClientEventLog()
            let streamed = try await client.complete(clientChat("q", stream: true), provider: provider, events: events.handler)
            #expect(streamed == whole)
            #expect(whole.content == "The answer is forty-two, as computed below.")
            #expect(whole.reasoningContent == "First think about it, then answer.")
            #expect(
                whole.toolCalls == [
                    .init(id: "call_a", name: "lookup", arguments: #"{"query":"the meaning of life","limit":3}"#),
                    .init(id: "call_b", name: "compute", arguments: #"{"expression":"6 * 7","precision":"exact"}"#),
                ])
            #expect(whole.finishReason == "tool_calls")
            #expect(whole.usage?.cachedTokens == 13)
            #expect(whole.usage?.promptTokens == 21)
            #expect(whole.model == "test-model")
            // The stream really came in pieces: several content and tool-call deltas.
            let contentDeltas = events.events.filter { if case .contentDelta = $0 { return true } else { return false } }
            let toolDeltas = events.events.filter { if case .toolCallDelta = $0 { return true } else { return false } }
            #expect(contentDeltas.count > 1)
            #expect(toolDeltas.count > 4)
            #expect(events.contentOfLastAttempt == whole.content)
            let recorded = try #require(await server.requests.last)
            #expect(recorded.isStream)
            #expect(recorded.json?["stream_options"]?["include_usage"] == true)
        }
    }

    @Test func legacyCompletionsStreamedAndNot() async throws {
        try await withClientAndServer { server, client in
            let provider = clientTestProvider(server)
            let whole = try await client.complete(
                .completion(model: "test-model", prompt: "once upon a time", sampling: SamplingParameters()), provider: provider)
            let streamed = try await client.complete(
                .completion(model: "test-model", prompt: "once upon a time", sampling: SamplingParameters(), stream: true),
                provider: provider)
            #expect(whole.content == "echo: once upon a time")
            #expect(streamed == whole)
            #expect(await server.requests.map(\.path) == ["/v1/completions", "/v1/completions"])
        }
    }

    @Test func aStreamCutOffMidwayIsRetriedWhole() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(ReplyRule(times: 1, action: .dropConnection(afterChunks: 3)))
            let events = ClientEventLog()
            let completion = try await client.complete(
                clientChat("tell me a long story please", stream: true), provider: clientTestProvider(server),
                events: events.handler)
            #expect(completion.attempts == 2)
            #expect(completion.content == "echo: tell me a long story please")
            #expect(await server.requests.count == 2)
            let retries = events.events.compactMap { event -> ProviderError? in
                if case .retrying(_, _, let error) = event { return error } else { return nil }
            }
            #expect(retries.map(\.kind) == [.connectionFailed])
            #expect(events.contentOfLastAttempt == completion.content)
        }
    }

    @Test func aStreamThatNeverFinishesFailsAfterRetries() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(ReplyRule(action: .dropConnection(afterChunks: 2)))
            let error = try await expectProviderError(
                client, clientChat("hi there", stream: true), provider: clientTestProvider(server),
                retryPolicy: RetryPolicy(maxRetries: 2))
            #expect(error.kind == .connectionFailed)
            #expect(await server.requests.count == 3)
        }
    }

    @Test(arguments: [ReplyRule.StreamErrorStyle.dataLine, .errorEvent])
    func errorInsideTheStream(style: ReplyRule.StreamErrorStyle) async throws {
        try await withClientAndServer { server, client in
            let provider = clientTestProvider(server)
            // A final error (a content policy refusal) is not retried...
            let refusal = ErrorBody(message: "Content blocked by policy", type: "invalid_request_error", code: "CONTENT_FILTERED")
            await server.addRule(ReplyRule(action: .streamError(afterChunks: 2, error: refusal, style: style)))
            let error = try await expectProviderError(client, clientChat("hi", stream: true), provider: provider)
            #expect(error.kind == .streamError)
            #expect(!error.isRetryable)
            #expect(error.code == "CONTENT_FILTERED")
            #expect(error.message == "Content blocked by policy")
            #expect(error.description.hasPrefix("provider 'test' sent CONTENT_FILTERED in the stream: Content blocked by policy."))
            #expect(await server.requests.count == 1)
            // ...an overloaded server is.
            let overloaded = ErrorBody(message: "Overloaded", type: "server_error")
            await server.setRules([ReplyRule(times: 1, action: .streamError(afterChunks: 1, error: overloaded, style: style))])
            let completion = try await client.complete(clientChat("hi", stream: true), provider: provider)
            #expect(completion.attempts == 2)
        }
    }

    @Test func malformedStreamsAreErrors() async throws {
        try await withClientAndServer { server, client in
            await server.addRule(ReplyRule(action: .malformedBody))
            let broken = try await expectProviderError(client, clientChat("hi", stream: true), provider: clientTestProvider(server))
            #expect(broken.kind == .invalidResponse)
            await server.setRules([ReplyRule(action: .malformedSSE)])
            let notSSE = try await expectProviderError(
                client, clientChat("hi", stream: true), provider: clientTestProvider(server), retryPolicy: .never)
            #expect(notSSE.kind == .connectionFailed)
            #expect(notSSE.message == "the stream ended before the reply was complete")
        }
    }
}
