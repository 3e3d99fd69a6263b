import Foundation
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// Each assertion (DESIGN.md section 8) on a passing and a failing value, with the message
/// a person reads; and the checks made when the file is read.
@Suite struct AssertionTests {
    /// The assertion written as `yaml` in a step's `expect:`, decoded.
    static func assertion(_ yaml: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> Assertion {
        let text = """
            version: 1
            inputs:
              topic: {type: string, default: owls}
            steps:
              a:
                prompt: hi
                expect:
                  - \(yaml)
            """
        let loaded = PipelineLoader().load(text: text, path: "expect.yaml")
        let pipeline = try #require(loaded.pipeline, "\(loaded.diagnostics)", sourceLocation: sourceLocation)
        return try #require(pipeline.steps["a"]?.expect?.first, sourceLocation: sourceLocation)
    }

    static func verdict(_ yaml: String, _ value: JSONValue, finishReasons: [String] = ["stop"], latency: Duration = .seconds(1),
                        cost: Double? = 0.002) throws -> Verdict {
        AssertionEvaluator.evaluate(
            try assertion(yaml), target: "out",
            subject: AssertionSubject(value: value, inputs: ["topic": "owls"], finishReasons: finishReasons, latency: latency, cost: cost))
    }

    @Test(arguments: [
        // (assertion, a value that passes, a value that fails, the failure's message)
        ("{equals: owls}", JSONValue.string("owls"), JSONValue.string("cats"), "got 'cats'"),
        ("{equals: {a: 1}}", ["a": 1], ["a": 2], #"got '{"a":2}'"#),
        ("{contains: [owl, night]}", "owls hunt at night", "owls sleep", "no 'night' in 'owls sleep'"),
        ("{contains_any: [owl, bat]}", "a bat", "a cat", "none of 'owl', 'bat' in 'a cat'"),
        ("{not_contains: As an AI}", "Owls hunt.", "As an AI, I think", "'As an AI' found in 'As an AI, I think'"),
        (#"{regex: '^\d{3}-\d{4}$'}"#, "555-1234", "5551234", "no match in '5551234'"),
        ("{min_length: 5}", "abcdef", "abc", "3 characters, fewer than 5"),
        ("{max_length: 5}", "abc", "abcdefgh", "8 characters, more than 5"),
        ("{json_schema: {type: object, required: [name]}}", #"{"name": "x"}"#, #"{"age": 3}"#, "missing required property 'name'"),
        (#"{expr: "output | length > 3 and inputs.topic == 'owls'"}"#, "long enough", "ab", "false for 'ab'"),
    ] as [(String, JSONValue, JSONValue, String)])
    func anAssertionPassesAndFailsWithAMessage(yaml: String, passing: JSONValue, failing: JSONValue, message: String) throws {
        #expect(try Self.verdict(yaml, passing).passed, "\(yaml) on \(passing)")
        let failed = try Self.verdict(yaml, failing)
        #expect(!failed.passed, "\(yaml) on \(failing)")
        #expect(failed.message.contains(message), "\(yaml): \(failed.message)")
    }

    @Test func finishReasonLatencyAndCost() throws {
        #expect(try Self.verdict("{finish_reason: stop}", "x").passed)
        let cut = try Self.verdict("{finish_reason: stop}", "x", finishReasons: ["length"])
        #expect(!cut.passed && cut.message == "finish_reason 'length'")
        #expect(try Self.verdict("{max_latency: 2s}", "x", latency: .seconds(1)).passed)
        let slow = try Self.verdict("{max_latency: 2s}", "x", latency: .milliseconds(3500))
        #expect(!slow.passed && slow.message == "took 3.50s, more than 2s", "\(slow.message)")
        #expect(try Self.verdict("{max_cost: 0.01}", "x", cost: 0.002).passed)
        let expensive = try Self.verdict("{max_cost: 0.001}", "x", cost: 0.002)
        #expect(!expensive.passed && expensive.message.contains("cost $0.002000, more than $0.001"), "\(expensive.message)")
        let unpriced = try Self.verdict("{max_cost: 0.001}", "x", cost: nil)
        #expect(!unpriced.passed && unpriced.message.contains("give the provider a 'pricing:'"))
    }

    @Test func summariesReadLikeTheFile() throws {
        #expect(try Self.assertion("{contains: [library, carbon]}").summary == "contains ['library', 'carbon']")
        #expect(try Self.assertion("{max_length: 600}").summary == "max_length 600")
        #expect(try Self.assertion("{judge: Names the claim}").summary == "judge 'Names the claim'")
    }

    @Test func aPriceCountsCachedTokensAtTheirOwnPrice() {
        let price = ProviderConfiguration.Price(inputPerMillion: 1, outputPerMillion: 4, cachedInputPerMillion: 0.25)
        #expect(abs(price.cost(promptTokens: 1_000, completionTokens: 500, cachedTokens: 400) - (600 * 1 + 400 * 0.25 + 500 * 4) / 1e6) < 1e-12)
    }

    @Test func badAssertionsAreLocatedErrors() {
        let text = """
            version: 1
            providers:
              mine: {base_url: "http://127.0.0.1:9/v1", pricing: {"*": {input_per_million: 1}}}
            steps:
              a:
                prompt: hi
                expect:
                  - contians: x
                  - {regex: "(", max_length: 3}
                  - regex: "(oops"
                  - max_length: -1
                  - json_schema: {type: 12}
                  - expr: "outpt | length > 1"
                  - judge: {model: m}
                  - judge: {rubric: x, provider: nowhere}
                  - expect_nothing
            """
        let loaded = PipelineLoader().load(text: text, path: "bad.yaml")
        var messages = loaded.diagnostics.map { "\($0.location?.line ?? 0): \($0.message)" }
        if let pipeline = loaded.pipeline { messages += ExpectationCheck.check(pipeline).map { "\($0.location?.line ?? 0): \($0.message)" } }
        let expected = [
            "3: the price of '*' needs 'input_per_million' and 'output_per_million' (USD per million tokens)",
            "8: unknown assertion 'contians'; did you mean 'contains'?",
            "9: an assertion is a map of one key, such as {contains: word} or {max_length: 600}",
            "10: 'regex' /(oops/ does not compile",
            "11: 'max_length' must be 0 or more, got -1",
            "12: the 'json_schema' is invalid",
            "14: 'judge' needs a 'rubric'",
            "16: an assertion is a map of one key",
        ]
        for piece in expected {
            #expect(messages.contains { $0.hasPrefix(piece.components(separatedBy: ": ")[0] + ": ") && $0.contains(piece.components(separatedBy: ": ").dropFirst().joined(separator: ": ")) },
                    "no '\(piece)' in \(messages)")
        }
        // The references are checked once the file decodes.
        let checked = PipelineLoader().load(text: """
            version: 1
            inputs:
              topic: {type: string}
            steps:
              a:
                prompt: hi
                expect:
                  - expr: "outpt | length > 1 and inputs.topik"
                  - judge: {rubric: x, provider: nowhere}
            """, path: "refs.yaml")
        let pipeline = try? #require(checked.pipeline)
        let diagnostics = pipeline.map { ExpectationCheck.check($0).map(\.message) } ?? []
        #expect(diagnostics.contains { $0.contains("an 'expr' reads 'outpt', which is not defined; it has output (the value checked) and inputs; did you mean 'output'?") }, "\(diagnostics)")
        #expect(diagnostics.contains { $0.contains("an 'expr' reads 'inputs.topik', which the pipeline does not declare; did you mean 'topic'?") }, "\(diagnostics)")
        #expect(diagnostics.contains { $0.contains("the judge's provider 'nowhere' is not defined") }, "\(diagnostics)")
    }
}
