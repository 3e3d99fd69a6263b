import NIOCore
import Testing

@testable import SkeinCore
@testable import SkeinKit

@Suite struct ClientRequestTests {
    @Test func chatBodyHasProviderNamesInOrder() {
        let request = CompletionRequest.chat(
            model: "meta-llama/llama-3.1-8b-instruct",
            messages: [.system("Be brief."), ChatMessage(role: .user, content: .text("Hi"), name: "ann")],
            sampling: SamplingParameters(
                temperature: 0.3, topP: 0.9, topK: 40, minP: 0.05, presencePenalty: 0.1, frequencyPenalty: 0.2,
                repetitionPenalty: 1.1, maxTokens: 512, stop: ["\n\n"], seed: 7),
            responseFormat: ["type": "json_object"], tools: [["type": "function"]], toolChoice: "auto")
        #expect(request.api == .chat)
        #expect(!request.isStreaming)
        #expect(
            JSONValue.object(request.body).serialized()
                == #"{"model":"meta-llama/llama-3.1-8b-instruct","messages":[{"role":"system","content":"Be brief."},"#
                + #"{"role":"user","content":"Hi","name":"ann"}],"temperature":0.3,"top_p":0.9,"top_k":40,"min_p":0.05,"#
                + #""presence_penalty":0.1,"frequency_penalty":0.2,"repetition_penalty":1.1,"max_tokens":512,"#
                + #""stop":["\n\n"],"seed":7,"response_format":{"type":"json_object"},"tools":[{"type":"function"}],"#
                + #""tool_choice":"auto"}"#)
    }

    @Test func streamingAddsStreamOptionsAndExtraMergesLast() {
        let request = CompletionRequest.chat(
            model: "m", messages: [.user("x")], sampling: SamplingParameters(temperature: 1),
            extra: ["temperature": 0.5, "logprobs": true], stream: true)
        #expect(request.isStreaming)
        #expect(
            JSONValue.object(request.body).serialized()
                == #"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.5,"stream":true,"#
                + #""logprobs":true,"stream_options":{"include_usage":true}}"#)
    }

    @Test func streamTurnedOnThroughExtraStillAsksForUsage() {
        let request = CompletionRequest.chat(model: "m", messages: [], sampling: SamplingParameters(), extra: ["stream": true])
        #expect(request.isStreaming)
        #expect(request.body["stream_options"] == ["include_usage": true])
    }

    @Test func legacyCompletionBody() {
        let request = CompletionRequest.completion(
            model: "m", prompt: "Once upon", sampling: SamplingParameters(maxTokens: 5), stream: true)
        #expect(request.api == .completion)
        #expect(request.api.path == "/completions")
        #expect(
            JSONValue.object(request.body).serialized()
                == #"{"model":"m","prompt":"Once upon","max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#)
    }

    @Test func multiPartAndToolMessages() {
        let vision = ChatMessage(role: .user, content: .parts([.text("What is it?"), .imageURL("data:image/png;base64,AA==")]))
        #expect(
            vision.jsonValue.serialized()
                == #"{"role":"user","content":[{"type":"text","text":"What is it?"},"#
                + #"{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}"#)
        let tool = ChatMessage(role: .tool, content: .text("42"), toolCallID: "call_1")
        #expect(tool.jsonValue.serialized() == #"{"role":"tool","content":"42","tool_call_id":"call_1"}"#)
    }

    @Test func estimatedTokensCountsCharactersAndMaxTokens() {
        let text = String(repeating: "abcd", count: 100)  // 400 characters, about 100 tokens
        let request = CompletionRequest.chat(
            model: "m", messages: [.user(text)], sampling: SamplingParameters(maxTokens: 50))
        // 400 characters + 16 for the message's framing, over 4, plus 50 to generate.
        #expect(request.estimatedTokens == 104 + 50)
        let unbounded = CompletionRequest.completion(model: "m", prompt: text, sampling: SamplingParameters())
        #expect(unbounded.estimatedTokens == 100 + CompletionRequest.assumedOutputTokens)
    }
}

@Suite struct ClientRequestBodyEncoderTests {
    @Test func encodesExactlyAsTheCompactSerializer() {
        let values: [JSONValue] = [
            [
                "model": "m", "messages": [["role": "user", "content": "héllo \"quoted\" \\ back\nnew\ttab\r\u{08}\u{0C}\u{01}\u{1F} 🌍 end"]],
                "temperature": 0.1, "top_p": 1.0, "big": 1e300, "small": 1.5e-7, "negative": -3, "max": .int(Int.max),
                "stop": ["\n\n", ""], "flags": [true, false, nil], "empty_object": [:], "empty_array": [],
                "nested": ["a": ["b": [1, 2.5, "c"]]], "\u{7F}key\u{2028}": "\u{7F}\u{2028}/",
            ],
            [:],
        ]
        for value in values {
            guard case .object(let object) = value else { continue }
            let encoded = RequestBodyEncoder.encode(object)
            #expect(String(buffer: encoded) == value.serialized(.compact))
        }
    }
}
