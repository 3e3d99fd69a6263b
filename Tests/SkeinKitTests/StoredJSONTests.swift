import Testing
@testable import SkeinCore
@testable import SkeinKit

/// The stored forms are written straight to bytes (`Completion.storedJSON`,
/// `Usage.historyJSON`); the trees they skip (`storedValue`, `jsonValue`) define the format.
@Suite struct StoredJSONTests {
    static let completions: [Completion] = [
        Completion(content: ""),
        Completion(content: "plain", finishReason: "stop", model: "m", usage: .init(promptTokens: 1, completionTokens: 2)),
        Completion(
            content: "quote \" backslash \\ newline \n tab \t control \u{01} é 日本 🎉", reasoningContent: "think\nhard",
            finishReason: "length", model: "org/model:v1", usage: .init(promptTokens: 0, completionTokens: 0, cachedTokens: 0)),
        Completion(
            content: "", reasoningContent: "",
            toolCalls: [
                .init(id: "call_1", name: "get_weather", arguments: #"{"city":"Paris"}"#),
                .init(id: "", name: "noop", arguments: "not json \u{7f}"),
            ],
            finishReason: "tool_calls", usage: .init(promptTokens: 1 << 40, completionTokens: 7, totalTokens: 9, cachedTokens: 5)),
    ]

    @Test(arguments: completions)
    func storedJSONIsTheStoredValueSerialized(_ completion: Completion) throws {
        #expect(completion.storedJSON == completion.storedValue.serialized())
        let back = try #require(Completion(storedValue: try JSONValue(parsing: completion.storedJSON)))
        #expect(back.content == completion.content && back.toolCalls == completion.toolCalls && back.usage == completion.usage)
    }

    @Test(arguments: completions.compactMap(\.usage))
    func historyJSONIsTheUsageSerialized(_ usage: Completion.Usage) {
        #expect(usage.historyJSON == usage.jsonValue.serialized())
    }
}
