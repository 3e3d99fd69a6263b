import Foundation
import Testing

@testable import SkeinKit

/// The report page as text: what a model wrote stays text (escaped markup, a JSON block no
/// reply can end), long texts are cut at a character boundary, costs use the provider's
/// prices, and the graph follows the pipeline's levels.
@Suite struct RunReportTests {
    static let hostile = "<script>alert(1)</script></pre><img src=x onerror=alert(1)><!-- \u{2028} & \"'"

    static func report(reply: String, usage: String? = #"{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}"#,
                       providers: [String: ProviderConfiguration]? = nil, limit: Int = 16_000) -> RunReport {
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let summary = SQLiteResultStore.RunSummary(
            id: 7, pipelinePath: "p<x>.yaml", pipelineSHA256: String(repeating: "a", count: 64), gitCommit: nil, startedAt: start,
            endedAt: start.addingTimeInterval(2), status: "succeeded", steps: 1, requests: 1, cacheHits: 0)
        let step = SQLiteResultStore.StepRow(
            row: 0, step: "answer", status: "finished", output: JSONValue.string(reply).serialized(), message: nil, startedAt: start,
            duration: 1.5, requests: 1, retries: 0, cacheHits: 0, usage: usage)
        let request = SQLiteResultStore.RequestRow(
            row: 0, step: "answer", item: nil, key: "k", provider: "priced", model: "m", cached: false, attempts: 1, startedAt: start,
            duration: 1.5, error: nil, usage: usage,
            request: #"{"messages":[{"role":"user","content":"say </script> please"}],"model":"m"}"#,
            response: JSONValue.object(["choices": .array([.object(["message": .object(["content": .string(reply)])])])]).serialized())
        var priced = ProviderConfiguration(name: "priced", baseURL: "http://127.0.0.1:1/v1")
        priced.pricing = ["*": .init(inputPerMillion: 2, outputPerMillion: 10)]
        return RunReport(
            detail: .init(summary: summary, inputs: "{}", options: "{}", outputs: nil, steps: [step]), requests: [request],
            providers: providers ?? ["priced": priced], configuration: .init(maximumTextLength: limit))
    }

    @Test func htmlTextEscapesMarkupAndQuotes() {
        #expect(HTMLText.escape(Self.hostile) == "&lt;script&gt;alert(1)&lt;/script&gt;&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;&lt;!-- \u{2028} &amp; &quot;&#39;")
    }

    @Test func scriptJSONCannotEndItsElementAndMeansTheSame() throws {
        let value = JSONValue.object(["reply": .string(Self.hostile)])
        let text = HTMLText.scriptJSON(value)
        #expect(!text.contains("<") && !text.contains(">") && !text.contains("&") && !text.contains("\u{2028}"))
        #expect(text == #"{"reply":"\u003cscript\u003ealert(1)\u003c/script\u003e\u003c/pre\u003e\u003cimg src=x onerror=alert(1)\u003e\u003c!-- \u2028 \u0026 \"'"}"#)
        #expect(try JSONValue(parsing: text) == value)
    }

    @Test func aHostileReplyIsInThePageOnlyAsEscapedData() throws {
        let html = Self.report(reply: Self.hostile).html()
        #expect(!html.contains("<script>alert"))
        #expect(!html.contains("<img src=x"))
        #expect(!html.contains("say </script>"))
        #expect(html.components(separatedBy: "<script").count - 1 == 2)
        #expect(html.components(separatedBy: "</script>").count - 1 == 2)
        #expect(html.contains("<title>Skein run 7: p&lt;x&gt;.yaml</title>"))
        // The data block parses back to the reply, exactly.
        let start = try #require(html.range(of: #"<script type="application/json" id="report-data">"#))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let data = try JSONValue(parsing: String(html[start.upperBound..<end.lowerBound]))
        let request = data["requests"]?.arrayValue?.first
        #expect(request?["reply"]?.stringValue == Self.hostile)
        #expect(request?["msgs"]?.arrayValue?.first?.arrayValue?.last?.stringValue == "say </script> please")
    }

    @Test func costComesFromTheProvidersPriceAndIsUnknownWithoutOne() {
        let priced = Self.report(reply: "ok")
        // 1000 prompt tokens at $2/M and 500 completion tokens at $10/M.
        #expect(abs(priced.cost.total - 0.007) < 1e-12)
        #expect(priced.cost.isComplete)
        #expect(priced.html().contains("<dt>cost</dt><dd>$0.0070</dd>"))
        let unpriced = Self.report(reply: "ok", providers: [:])
        #expect(!unpriced.cost.isComplete)
        #expect(unpriced.html().contains("<dt>cost</dt><dd>$0 + requests with no price (no pricing: for their model in the pipeline)</dd>"))
    }

    @Test func longTextsAreCutAtACharacterBoundaryAndSaySo() {
        let report = Self.report(reply: "x", limit: 10)
        #expect(report.clipped("short") == "short")
        let cut = report.clipped("ééééééééé")  // 18 bytes: 10 bytes keep 5 characters
        #expect(cut.hasPrefix("ééééé\n… (8 more bytes not in the report"))
        let emoji = report.clipped("abcdefghi😀z")  // the emoji's 4 bytes straddle the limit
        #expect(emoji.hasPrefix("abcdefghi\n…"))
    }

    @Test func theGraphHasAColumnPerLevelAndLinksToTheSteps() throws {
        let text = """
            version: 1
            steps:
              a: {prompt: "x"}
              b: {prompt: "{{ steps.a.output }}"}
              c: {prompt: "{{ steps.a.output }}"}
              d: {prompt: "{{ steps.b.output }} {{ steps.c.output }}"}
            """
        let (graph, result) = PipelineValidator().validateGraph(text: text, path: "d.yaml")
        #expect(!result.hasErrors)
        var report = Self.report(reply: "ok")
        report.graph = graph
        let svg = report.graphSVG()
        // Levels 0, 1, 1, 2: b and c share a column, one above the other.
        #expect(svg.contains(#"<rect x="10" y="10" width="190""#))
        #expect(svg.contains(#"<rect x="270" y="10" width="190""#) && svg.contains(#"<rect x="270" y="80" width="190""#))
        #expect(svg.contains(#"<rect x="530" y="10" width="190""#))
        #expect(svg.components(separatedBy: "class=\"edge").count - 1 == 4)
        #expect(svg.contains(##"<a href="#step-d""##))
    }
}
