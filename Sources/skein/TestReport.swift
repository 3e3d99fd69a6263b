import Foundation
import SkeinKit

/// What `skein test` prints: the cases-by-variants table with the failures spelled out
/// below it, the same as one JSON object, and JUnit XML for CI.
enum TestReport {
    /// A case that passes under `REV` and fails now: (case, the current variant, the
    /// revision's variant).
    struct Regression {
        var caseName: String
        var variant: String
        var against: String
    }

    /// With `--against REV`, each variant `X` has a twin `X @REV` (or `current` has `REV`).
    static func regressions(_ outcome: TestRunner.Outcome, against: String?) -> [Regression] {
        guard let against else { return [] }
        var pairs: [(Int, Int)] = []
        for (index, name) in outcome.variants.enumerated() {
            let twin = name == "current" ? against : name + " @" + against
            if let other = outcome.variants.firstIndex(of: twin), other != index { pairs.append((index, other)) }
        }
        var found: [Regression] = []
        for row in outcome.results {
            for (current, old) in pairs where current < row.count && old < row.count {
                if row[old].passed && !row[current].passed {
                    found.append(Regression(caseName: row[current].caseName, variant: row[current].variant, against: row[old].variant))
                }
            }
        }
        return found
    }

    static func clip(_ text: String, _ limit: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > limit ? String(flat.prefix(limit - 1)) + "…" : flat
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    static func grouped(_ number: Int) -> String {
        let digits = String(number)
        var out = ""
        for (position, character) in digits.reversed().enumerated() {
            if position > 0 && position % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return String(out.reversed())
    }

    static func seconds(_ duration: Duration) -> String { String(format: "%.1fs", duration.inSeconds) }

    /// Per variant: passed, total, tokens, cost (nil when unknown), latencies, requests.
    struct VariantSummary {
        var passed = 0
        var total = 0
        var promptTokens = 0
        var completionTokens = 0
        var cost: Double? = 0
        var latencies: [Duration] = []
        var requests = 0
        var cacheHits = 0

        var passRate: Double { total == 0 ? 0 : Double(passed) / Double(total) }
        var meanLatency: Duration { latencies.isEmpty ? .zero : latencies.reduce(.zero, +) / latencies.count }
        var maxLatency: Duration { latencies.max() ?? .zero }
    }

    static func summaries(_ outcome: TestRunner.Outcome) -> [VariantSummary] {
        var summaries = [VariantSummary](repeating: VariantSummary(), count: outcome.variants.count)
        for row in outcome.results {
            for (index, result) in row.enumerated() where index < summaries.count {
                summaries[index].total += 1
                if result.passed { summaries[index].passed += 1 }
                summaries[index].promptTokens += result.usage?.promptTokens ?? 0
                summaries[index].completionTokens += result.usage?.completionTokens ?? 0
                summaries[index].cost = summaries[index].cost.flatMap { total in result.cost.map { total + $0 } }
                summaries[index].latencies.append(result.latency)
                summaries[index].requests += result.requests
                summaries[index].cacheHits += result.cacheHits
            }
        }
        return summaries
    }

    static func table(_ outcome: TestRunner.Outcome, regressions: [Regression]) -> String {
        let summaries = summaries(outcome)
        let caseWidth = min(40, max(16, (outcome.cases.map(\.count).max() ?? 0) + 2))
        let cells: [[String]] = outcome.results.map { row in
            row.map { result in
                let held = result.verdicts.filter(\.passed).count
                if result.status != .succeeded { return "✗ run \(result.status.rawValue)" }
                return (result.passed ? "✓ " : "✗ ") + "\(held)/\(result.verdicts.count)"
            }
        }
        let statLabels = ["pass rate", "tokens in/out", "cost", "latency mean/max", "requests"]
        let stats: [[String]] = summaries.map { summary in
            [
                "\(summary.passed)/\(summary.total) \(Int((summary.passRate * 100).rounded()))%",
                "\(grouped(summary.promptTokens))/\(grouped(summary.completionTokens))",
                summary.cost.map { String(format: "$%.4f", $0) } ?? "unknown",
                "\(seconds(summary.meanLatency))/\(seconds(summary.maxLatency))",
                summary.requests == 0 && summary.cacheHits > 0 ? "0 (\(summary.cacheHits) stored)"
                    : "\(summary.requests)" + (summary.cacheHits > 0 ? " (+\(summary.cacheHits) stored)" : ""),
            ]
        }
        let widths = outcome.variants.indices.map { index in
            max(outcome.variants[index].count, cells.map { $0.indices.contains(index) ? $0[index].count : 0 }.max() ?? 0,
                stats[index].map(\.count).max() ?? 0) + 3
        }
        let labelWidth = max(caseWidth, statLabels.map(\.count).max()! + 2)
        var out = pad("case", labelWidth)
        for (index, name) in outcome.variants.enumerated() { out += pad(name, widths[index]) }
        out += "\n"
        for (caseIndex, name) in outcome.cases.enumerated() {
            out += pad(clip(name, labelWidth - 2), labelWidth)
            for (index, cell) in cells[caseIndex].enumerated() { out += pad(cell, widths[index]) }
            out += "\n"
        }
        out += "\n"
        for (row, label) in statLabels.enumerated() {
            out += pad(label, labelWidth)
            for index in outcome.variants.indices { out += pad(stats[index][row], widths[index]) }
            out += "\n"
        }
        if summaries.contains(where: { $0.cost == nil }) {
            out += "(cost is unknown where a model has no price: give its provider 'pricing:')\n"
        }
        let failed = outcome.results.flatMap { $0 }.filter { !$0.passed }
        if !failed.isEmpty {
            out += "\nfailures\n"
            for result in failed {
                out += "  \(result.caseName) [\(result.variant)]\n"
                if result.status != .succeeded { out += "    ✗ the run \(result.status.rawValue): \(clip(result.error ?? "", 300))\n" }
                for verdict in result.verdicts where !verdict.passed {
                    out += "    ✗ \(verdict.target): \(verdict.assertion) — \(clip(verdict.message, 300))\n"
                }
            }
        }
        if !regressions.isEmpty {
            out += "\nregressions (passed at \(regressions[0].against.split(separator: "@").last.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""), fail now)\n"
            for regression in regressions { out += "  \(regression.caseName) [\(regression.variant)]\n" }
        }
        let passed = summaries.reduce(0) { $0 + $1.passed }, total = summaries.reduce(0) { $0 + $1.total }
        out += "\n\(passed) of \(total) passed" + (passed == total ? "" : ", \(total - passed) failed")
            + (regressions.isEmpty ? "" : ", \(regressions.count) regression\(regressions.count == 1 ? "" : "s")")
            + String(format: " (%.1fs)\n", outcome.duration.inSeconds)
        return out
    }

    static func json(_ outcome: TestRunner.Outcome, regressions: [Regression]) -> JSONValue {
        let summaries = summaries(outcome)
        var cases: [JSONValue] = []
        for (caseIndex, name) in outcome.cases.enumerated() {
            var results = JSONValue.JSONObject()
            for result in outcome.results[caseIndex] {
                var object: JSONValue.JSONObject = [
                    "passed": .bool(result.passed), "status": .string(result.status.rawValue),
                    "verdicts": .array(result.verdicts.map(\.jsonValue)), "outputs": .object(result.outputs),
                    "latency": .double(result.latency.inSeconds), "requests": .int(result.requests), "cache_hits": .int(result.cacheHits),
                ]
                object["error"] = result.error.map { .string($0) } ?? .null
                object["usage"] = result.usage?.jsonValue ?? .null
                object["cost"] = result.cost.map { .double($0) } ?? .null
                results[result.variant] = .object(object)
            }
            cases.append(["name": .string(name), "results": .object(results)])
        }
        var summary = JSONValue.JSONObject()
        for (index, name) in outcome.variants.enumerated() {
            let variant = summaries[index]
            summary[name] = [
                "passed": .int(variant.passed), "total": .int(variant.total), "pass_rate": .double(variant.passRate),
                "prompt_tokens": .int(variant.promptTokens), "completion_tokens": .int(variant.completionTokens),
                "cost": variant.cost.map { .double($0) } ?? .null, "latency_mean": .double(variant.meanLatency.inSeconds),
                "latency_max": .double(variant.maxLatency.inSeconds), "requests": .int(variant.requests),
                "cache_hits": .int(variant.cacheHits),
            ]
        }
        var object: JSONValue.JSONObject = [
            "passed": .bool(outcome.passed), "variants": .array(outcome.variants.map { .string($0) }), "cases": .array(cases),
            "summary": .object(summary),
            "regressions": .array(regressions.map {
                ["case": .string($0.caseName), "variant": .string($0.variant), "against": .string($0.against)]
            }),
        ]
        object["run"] = outcome.runID.map { .int(Int($0)) } ?? .null
        return .object(object)
    }

    /// JUnit XML: a testsuite per run, a testcase per case and variant (`classname` the
    /// variant), a `failure` listing the failed assertions. The shape Jenkins, GitLab and
    /// GitHub's test reporters read.
    static func junit(_ outcome: TestRunner.Outcome, suite: String) -> String {
        let all = outcome.results.flatMap { $0 }
        let failures = all.filter { !$0.passed }.count
        let time = String(format: "%.3f", outcome.duration.inSeconds)
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"skein test\" tests=\"\(all.count)\" failures=\"\(failures)\" errors=\"0\" time=\"\(time)\">\n"
        out += "  <testsuite name=\"\(xml(suite))\" tests=\"\(all.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"0\" time=\"\(time)\">\n"
        for result in all {
            out += "    <testcase name=\"\(xml(result.caseName))\" classname=\"\(xml(result.variant))\" time=\"\(String(format: "%.3f", result.latency.inSeconds))\""
            if result.passed {
                out += "/>\n"
                continue
            }
            out += ">\n"
            var lines: [String] = []
            if result.status != .succeeded { lines.append("the run \(result.status.rawValue): \(result.error ?? "")") }
            for verdict in result.verdicts where !verdict.passed {
                lines.append("\(verdict.target): \(verdict.assertion) — \(verdict.message)"
                    + (verdict.location.map { " (\($0))" } ?? ""))
            }
            out += "      <failure message=\"\(xml(clip(lines.first ?? "failed", 200)))\" type=\"assertion\">\(xml(lines.joined(separator: "\n")))</failure>\n"
            out += "    </testcase>\n"
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    /// Text as XML character data or an attribute value (`HTMLText.escape`); characters XML
    /// 1.0 cannot carry (control characters other than tab and newlines) are dropped.
    static func xml(_ text: String) -> String {
        var kept = ""
        kept.unicodeScalars.append(contentsOf: text.unicodeScalars.filter { scalar in
            scalar == "\t" || scalar == "\n" || scalar == "\r"
                || !(scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF)
        })
        return HTMLText.escape(kept)
    }
}
