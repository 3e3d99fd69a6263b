import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// Cost through the real binary (DESIGN.md section 9): the summary line, `--output json`,
/// `runs list` and `runs show`, and `--max-cost` stopping a dataset run at its budget.
@Suite(.serialized) struct CostCLITests {
    /// $1 per million tokens in, $1,000 per million out: a 10-token reply costs about a cent.
    static let pricing = #"{"*": {input_per_million: 1, output_per_million: 1000}}"#

    static let pipeline = """
        inputs:
          n: {type: integer}
        steps:
          answer:
            prompt: "row {{ inputs.n }} one two three four five six seven eight nine ten eleven twelve"
            max_tokens: 10
        outputs:
          n: "{{ inputs.n }}"
          answer: "{{ steps.answer.output }}"
        """

    static func writeRows(_ count: Int, in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("rows.jsonl").path
        try ((0..<count).map { #"{"n": \#($0)}"# }.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func completions(_ server: SkeinTestServer) async -> Int {
        await server.requests.filter { $0.path.hasSuffix("/chat/completions") }.count
    }

    /// The first `$N` after `prefix` in `text`.
    static func dollars(after prefix: String, in text: String) -> Double? {
        guard let range = text.range(of: prefix) else { return nil }
        let rest = text[range.upperBound...].drop { $0 == " " || $0 == "$" }
        return Double(String(rest.prefix { $0.isNumber || $0 == "." }))
    }

    @Test func aDatasetRunStopsAtTheBudgetAndAHigherBudgetFinishesWithoutPayingAgain() async throws {
        // Replies are cut to max_tokens words, so every request costs what it reserves for
        // its reply (10 tokens out) plus its prompt (its bytes reserved, its words billed).
        try await SkeinTestServer.withRunning(.init(honorsMaxTokens: true)) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory, providerSettings: ["pricing": Self.pricing])
            let rows = try Self.writeRows(40, in: directory)
            let budget = 0.255
            let first = try await CLI.run(
                ["run", path, "--dataset", rows, "-o", "out.jsonl", "--concurrency", "4", "--max-cost", "\(budget)"], in: directory)
            #expect(first.status == 1, "\(first.stderr)")
            #expect(first.stderr.contains("budget: stopped at $"), "\(first.stderr)")
            #expect(first.stderr.contains(" of --max-cost $0.2550; 25 of 40 rows done; raise --max-cost and run again to continue"),
                    "\(first.stderr)")
            // All 40 rows start at once (the row window is wider); the budget refuses 15 of
            // them, which are counted as stopped, not as rows that failed for a reason of their own.
            #expect(first.stderr.contains("40 rows: 25 succeeded, 15 stopped by the budget;"), "\(first.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out.jsonl").path))
            let paid = await Self.completions(server)
            #expect(paid == 25)

            // The spend reported, the store's, and one request's cost.
            let spent = try #require(Self.dollars(after: "budget: stopped at", in: first.stderr))
            let listed = try await CLI.run(["runs", "list", "--format", "json"], in: directory)
            let stored = try #require(try JSONValue(parsing: listed.stdout).arrayValue?.first?["cost"]?.doubleValue)
            #expect(abs(stored - spent) < 0.00005)
            let requests = try await CLI.run(["runs", "show", "last", "--step", "answer", "--format", "json"], in: directory)
            let costs = try JSONValue(parsing: requests.stdout).arrayValue?.compactMap { $0["cost"]?.doubleValue } ?? []
            #expect(costs.count == 25)
            let oneRequest = try #require(costs.max())
            #expect(stored <= budget)
            #expect(budget - stored < oneRequest, "spent \(stored) of \(budget); one request costs \(oneRequest)")
            #expect(abs(costs.reduce(0, +) - stored) < 1e-9)

            let second = try await CLI.run(
                ["run", path, "--dataset", rows, "-o", "out.jsonl", "--concurrency", "4", "--max-cost", "1"], in: directory)
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stderr.contains("40 rows: 40 succeeded"), "\(second.stderr)")
            #expect(second.stderr.contains("25 from the store"), "\(second.stderr)")
            // Only the 15 rows the budget stopped were paid for.
            #expect(await Self.completions(server) == 40)
            let secondCost = try #require(Self.dollars(after: "; cost", in: second.stderr))
            #expect(abs(secondCost - oneRequest * 15) < 0.001, "\(second.stderr)")
            let lines = try String(contentsOf: directory.appendingPathComponent("out.jsonl"), encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 40)
        }
    }

    @Test func theSummaryJSONAndRunsShowWhatARunCostAndRepliesFromTheStoreCostNothing() async throws {
        try await SkeinTestServer.withRunning(.init(honorsMaxTokens: true)) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory, providerSettings: ["pricing": Self.pricing])
            let run = try await CLI.run(["run", path, "-i", "n=7", "--output", "json"], in: directory)
            #expect(run.status == 0, "\(run.stderr)")
            // 10 words out at $1,000 per million and 14 in at $1: $0.010014.
            #expect(run.stderr.contains("tokens 14 in / 10 out (0 cached), cost $0.0100, "), "\(run.stderr)")
            let json = try JSONValue(parsing: run.stdout)
            #expect(abs((json["cost"]?.doubleValue ?? 0) - 0.010014) < 1e-9, "\(run.stdout)")
            #expect(abs((json["steps"]?["answer"]?["cost"]?.doubleValue ?? 0) - 0.010014) < 1e-9)

            let again = try await CLI.run(["run", path, "-i", "n=7", "--output", "json"], in: directory)
            #expect(again.stderr.contains("1 from the store"), "\(again.stderr)")
            #expect(again.stderr.contains("cost $0, "), "\(again.stderr)")
            #expect(try JSONValue(parsing: again.stdout)["cost"]?.doubleValue == 0, "\(again.stdout)")

            let list = try await CLI.run(["runs", "list"], in: directory)
            #expect(list.stdout.contains("COST"), "\(list.stdout)")
            let lines = list.stdout.split(separator: "\n")
            #expect(lines.count == 3 && lines[1].contains(" $0 ") && lines[2].contains(" $0.0100 "), "\(list.stdout)")
            let show = try await CLI.run(["runs", "show", "last~1"], in: directory)
            #expect(show.stdout.contains("cost      $0.0100\n"), "\(show.stdout)")
            #expect(show.stdout.contains("STORED  COST     OUTPUT"), "\(show.stdout)")
            let showJSON = try await CLI.run(["runs", "show", "last~1", "--format", "json"], in: directory)
            let steps = try JSONValue(parsing: showJSON.stdout)["steps"]?.arrayValue ?? []
            #expect(abs((steps.first?["cost"]?.doubleValue ?? 0) - 0.010014) < 1e-9, "\(showJSON.stdout)")
            let requests = try await CLI.run(["runs", "show", "last", "--step", "answer"], in: directory)
            #expect(requests.stdout.contains("; cost $0.0100 when it was bought, nothing this run"), "\(requests.stdout)")
        }
    }

    @Test func aProviderWithoutAPriceSaysCostUnknownAndIsRefusedUnderABudgetBeforeAnyRequest() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let refused = try await CLI.run(["run", path, "-i", "n=1", "--max-cost", "0.5"], in: directory)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains(
                "p.yaml:12:3: error: --max-cost $0.5000 needs the price of every model: step 'answer' uses 'test-model' at provider "
                    + "'test', and its model list carries no price for 'test-model'; give the provider 'pricing:'"), "\(refused.stderr)")
            #expect(await Self.completions(server) == 0)
            let rows = try Self.writeRows(3, in: directory)
            let refusedDataset = try await CLI.run(["run", path, "--dataset", rows, "--max-cost", "0.5"], in: directory)
            #expect(refusedDataset.status == 1 && refusedDataset.stderr.contains("needs the price of every model"), "\(refusedDataset.stderr)")
            #expect(await Self.completions(server) == 0)

            let free = try await CLI.run(["run", path, "-i", "n=1", "--output", "json"], in: directory)
            #expect(free.status == 0, "\(free.stderr)")
            #expect(free.stderr.contains("cost unknown (no price for test/test-model: give the provider 'pricing:')"), "\(free.stderr)")
            #expect(try JSONValue(parsing: free.stdout)["cost"] == .null)
            let list = try await CLI.run(["runs", "list"], in: directory)
            #expect(list.stdout.split(separator: "\n").last?.contains(" unknown ") == true, "\(list.stdout)")

            let bad = try await CLI.run(["run", path, "-i", "n=1", "--max-cost", "0"], in: directory)
            #expect(bad.status == 64 || bad.status == 2, "\(bad.stderr)")
            #expect(bad.stderr.contains("--max-cost must be a number of USD above 0, like 2.50; got 0.0"), "\(bad.stderr)")
        }
    }

    @Test func underABudgetPricesComeFromTheProvidersModelList() async throws {
        let configuration = SkeinTestServer.Configuration(
            modelPrices: ["test-model": .init(inputPerMillion: 1, outputPerMillion: 1000)], honorsMaxTokens: true)
        try await SkeinTestServer.withRunning(configuration) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(Self.pipeline, server: server, in: directory)
            let run = try await CLI.run(["run", path, "-i", "n=3", "--max-cost", "0.5", "--output", "json"], in: directory)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("cost $0.0100 of --max-cost $0.5000"), "\(run.stderr)")
            #expect(abs((try JSONValue(parsing: run.stdout)["cost"]?.doubleValue ?? 0) - 0.010014) < 1e-9)
            #expect(await server.requests.filter { $0.path.hasSuffix("/models") }.count == 1)
            // The cost is kept with the request: runs list shows it without the model list.
            let list = try await CLI.run(["runs", "list", "--format", "json"], in: directory)
            #expect(abs((try JSONValue(parsing: list.stdout).arrayValue?.first?["cost"]?.doubleValue ?? 0) - 0.010014) < 1e-9)
            // Without a budget, no list is read: the pipeline has no price, so the cost is unknown.
            let free = try await CLI.run(["run", path, "-i", "n=4"], in: directory)
            #expect(free.stderr.contains("cost unknown"), "\(free.stderr)")
            #expect(await server.requests.filter { $0.path.hasSuffix("/models") }.count == 1)
        }
    }
}
