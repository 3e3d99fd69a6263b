import SkeinKit
import Synchronization

/// Prints a run's results to stdout.
///
/// Text: each output as `name:` then its value (text as it is, a list of texts as `- `
/// items, other values as indented JSON); a pipeline without `outputs:` prints every finished step's output instead.
/// JSON: one object, `{"status", "outputs", "steps": {name: {status, output, usage, ...}}}`,
/// so `skein run p.yaml --output json | jq .outputs.summary` works.
enum ResultPrinter {
    /// - Parameter width: wrap text output to this many columns (a terminal's); nil leaves
    ///   lines as they are (a pipe or a file gets the text as the model wrote it).
    static func render(
        _ outcome: Scheduler.Outcome, pipeline: Pipeline, format: RunCommand.OutputFormat, width: Int? = nil
    ) -> String {
        switch format {
        case .json:
            var steps = JSONValue.JSONObject()
            for (name, result) in outcome.results {
                var object = JSONValue.JSONObject()
                object["status"] = .string(result.status.rawValue)
                object["output"] = result.output
                if result.reasoning != .null { object["reasoning"] = result.reasoning }
                if result.toolCalls != .array([]) {
                    object["tool_calls"] = result.toolCalls
                    object["turns"] = result.turns
                }
                object["usage"] = result.usage?.jsonValue ?? .null
                object["cost"] = outcome.spend.cost(of: name).map { .double($0) } ?? .null
                if let message = result.message { object["message"] = .string(message) }
                steps[name] = .object(object)
            }
            var object: JSONValue.JSONObject = [
                "status": .string(outcome.status.rawValue), "outputs": .object(outcome.outputs), "steps": .object(steps),
            ]
            // USD of the replies from the provider (those from the store cost nothing); null
            // when a reply had no price.
            object["cost"] = outcome.spend.isComplete ? .double(outcome.spend.total) : .null
            if let budget = outcome.spend.budget {
                object["max_cost"] = .double(budget)
                if outcome.spend.refusal != nil { object["stopped_by_budget"] = true }
            }
            if !outcome.expectations.isEmpty { object["expectations"] = .array(outcome.expectations.map(\.jsonValue)) }
            return JSONValue.object(object).serialized(.pretty) + "\n"
        case .text:
            var values: [(String, JSONValue)] = outcome.outputs.map { ($0.key, $0.value) }
            if pipeline.outputs.isEmpty {
                values = outcome.results.values.filter { $0.status == .finished }.map { ($0.name, $0.output) }
            }
            var out = ""
            for (name, value) in values {
                out += "\(name):\n"
                switch value {
                case .string(let text): out += indent(text) + "\n"
                case .array(let items) where !items.isEmpty && items.allSatisfy({ $0.stringValue != nil }):
                    // A list of texts (a for_each step's replies): each as text, not as JSON
                    // with its line breaks escaped.
                    for item in items { out += bullet(item.stringValue ?? "") + "\n" }
                default: out += indent(value.serialized(.pretty)) + "\n"
                }
            }
            return width.map { wrap(out, width: $0) } ?? out
        }
    }

    /// Text wrapped at word boundaries to `width` columns, for a terminal that would
    /// otherwise break lines mid-word. A wrapped line's continuation is indented like the
    /// line's text (under the text of a `- ` item); a word longer than the width stays whole.
    /// JSON (an output that is not text) is left as it is.
    static func wrap(_ text: String, width: Int) -> String {
        guard width >= 20 else { return text }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.count > width else { return String(line) }
            let leading = line.prefix { $0 == " " }
            let rest = line.dropFirst(leading.count)
            // JSON, as `indent(value.serialized(.pretty))` prints it: never re-flowed.
            if rest.first == "{" || rest.first == "[" || rest.first == "\"" { return String(line) }
            let hanging = String(repeating: " ", count: leading.count + (rest.hasPrefix("- ") ? 2 : 0))
            var lines: [String] = []
            var current = String(leading)
            var currentWidth = current.count
            var hasWord = false
            for word in rest.split(separator: " ", omittingEmptySubsequences: false) {
                if hasWord && currentWidth + 1 + word.count > width {
                    lines.append(current)
                    current = hanging + word
                    currentWidth = hanging.count + word.count
                } else {
                    if hasWord { current += " "; currentWidth += 1 }
                    current += word
                    currentWidth += word.count
                }
                hasWord = true
            }
            lines.append(current)
            return lines.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// `  - first line`, the lines after it under the first one's text.
    static func bullet(_ text: String) -> String {
        let lines = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n", omittingEmptySubsequences: false)
        return lines.enumerated().map { index, line in
            index == 0 ? "  - " + line : (line.isEmpty ? "" : "    " + line)
        }.joined(separator: "\n")
    }

    static func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }
            .joined(separator: "\n")
    }
}

/// The one-line summary printed after a run.
enum Summary {
    /// The steps' `expect:` that failed: warnings; the exit code stays the run's.
    static func expectationWarnings(_ outcome: Scheduler.Outcome) -> [String] {
        outcome.expectations.filter { !$0.passed }.map { verdict in
            "warning: \(verdict.target): expected \(verdict.assertion), but \(ResultPrinter.clip(verdict.message, 200))"
                + (verdict.location.map { " (\($0))" } ?? "")
        }
    }

    /// The tool calls that failed (a non-zero exit, a timeout, arguments that broke the
    /// schema...): the model was told and the run went on, but a person should know.
    /// At most `limit` lines, then a count.
    static func toolWarnings(_ outcome: Scheduler.Outcome, limit: Int = 5) -> [String] {
        var lines: [String] = []
        var more = 0
        func scan(_ calls: JSONValue, step: String, item: Int?) {
            for call in calls.arrayValue ?? [] {
                if call.arrayValue != nil {
                    continue
                }
                guard let error = call["error"]?.stringValue else { continue }
                if lines.count == limit {
                    more += 1
                    continue
                }
                let name = call["name"]?.stringValue ?? "?"
                let turn = call["turn"]?.intValue.map { ", turn \($0)" } ?? ""
                let first = error.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? error
                lines.append("warning: step '\(step)'\(item.map { " item \($0)" } ?? ""): tool '\(name)'\(turn): "
                    + ResultPrinter.clip(first, 200) + " (the model was given this error)")
            }
        }
        for result in outcome.results.values {
            guard let calls = result.toolCalls.arrayValue else { continue }
            if calls.first?.arrayValue != nil {
                for (item, itemCalls) in calls.enumerated() { scan(itemCalls, step: result.name, item: item) }
            } else {
                scan(result.toolCalls, step: result.name, item: nil)
            }
        }
        if more > 0 { lines.append("warning: \(more) more tool call\(more == 1 ? "" : "s") failed; 'skein runs show --step NAME' lists them") }
        return lines
    }

    /// - Parameter tally: what steps the run interrupted had done (their results count nothing).
    static func line(_ outcome: Scheduler.Outcome, tally: ItemTally? = nil) -> String {
        let results = outcome.results.values
        let ran = results.filter { $0.status == .finished || $0.status == .failed }.count
        let interruptedRequests = results.filter { $0.status == .notRun }.reduce(0) {
            $0 + (tally?.progress(of: $1.name).requests ?? 0)
        }
        let requests = results.reduce(0) { $0 + $1.requests } + interruptedRequests
        let retries = results.reduce(0) { $0 + $1.retries }
        let input = results.reduce(0) { $0 + ($1.usage?.promptTokens ?? 0) }
        let output = results.reduce(0) { $0 + ($1.usage?.completionTokens ?? 0) }
        let cached = results.reduce(0) { $0 + ($1.usage?.cachedTokens ?? 0) }
        // Where the provider reported no usage, a sum of the known counts would be a
        // confident understatement: say what is counted and what is unknown instead.
        let answered = results.filter { $0.status == .finished && $0.requests + $0.cacheHits > 0 }
        let unreported = answered.filter { $0.usage == nil }.count
        let countedFromStream = answered.contains { $0.usage?.isCountedFromStream == true }
        let failed = results.filter { $0.status == .failed }.count
        let skipped = results.filter { $0.status == .skipped }.count
        var parts = ["\(Terminal.count(ran, "step")) run"]
        if failed > 0 { parts.append("\(failed) failed") }
        if skipped > 0 { parts.append("\(skipped) skipped") }
        parts.append(Terminal.count(requests, "request"))
        let stored = results.reduce(0) { $0 + $1.cacheHits }
        if stored > 0 { parts.append("\(stored) from the store") }
        parts.append(Terminal.count(retries, "retry").replacingOccurrences(of: "retrys", with: "retries"))
        parts.append(
            tokens(input: input, output: output, cached: cached, inputUnknown: unreported > 0 || countedFromStream,
                   outputUnknown: unreported > 0, countedFromStream: countedFromStream))
        parts.append(cost(outcome.spend))
        parts.append(ProgressRenderer.seconds(outcome.duration))
        return parts.joined(separator: ", ")
    }

    /// `cost $0.0123` (of the replies from the provider: those from the store cost nothing;
    /// `of --max-cost $0.10` under a budget); where a model has no price, `cost unknown` or
    /// `cost at least $X`, naming the models.
    static func cost(_ spend: CostMeter.Spend) -> String {
        let budget = spend.budget.map { " of --max-cost \(CostFormat.usd($0))" } ?? ""
        if spend.isComplete { return "cost \(CostFormat.usd(spend.total))" + budget }
        let models = spend.unpriced.sorted()
        let named = models.prefix(3).joined(separator: ", ") + (models.count > 3 ? " and \(models.count - 3) more" : "")
        let why = " (no price for \(named): give the provider 'pricing:')"
        return (spend.total == 0 ? "cost unknown" : "cost at least \(CostFormat.usd(spend.total))") + why
    }

    /// What to say when `--max-cost` stopped the run, or nil when it did not.
    /// - Parameter done: how much finished, e.g. `37 of 100 rows done`.
    static func budgetStop(_ spend: CostMeter.Spend, done: String) -> String? {
        guard spend.refusal != nil, let budget = spend.budget else { return nil }
        return "budget: stopped at \(CostFormat.usd(spend.total)) of --max-cost \(CostFormat.usd(budget)); \(done); "
            + "raise --max-cost and run again to continue (what finished comes from the store, at no cost)"
    }

    /// A note per provider that answered 429 during the run: how often, and the request rate
    /// its adaptive limiter settled at. Printed after the summary line whatever the output
    /// is, since progress shows throttling only live on a terminal.
    static func throttleNotes(_ throttles: [ProviderThrottle]) -> [String] {
        throttles.map { throttle in
            let times = throttle.rateLimited == 1 ? "once" : "\(throttle.rateLimited) times"
            let settled: String
            if let requestsPerMinute = throttle.requestsPerMinute {
                settled = "the adaptive rate settled at \(Int(requestsPerMinute.rounded()))/min"
            } else if throttle.isLoadShedding {
                settled = "the 429s did not depend on the request rate (load shedding), so the rate was not lowered"
            } else {
                settled = "the rate ended unpaced, back where it started"
            }
            return "throttled: provider '\(throttle.provider)' answered 429 \(times); \(settled)"
        }
    }

    /// `tokens 12 in / 34 out (0 cached)`; where some count is unknown, `unknown` (none
    /// known) or `at least N`, and a note when the output was counted from the stream.
    static func tokens(
        input: Int, output: Int, cached: Int, inputUnknown: Bool, outputUnknown: Bool, countedFromStream: Bool
    ) -> String {
        func count(_ value: Int, unknown: Bool) -> String {
            unknown ? (value == 0 ? "unknown" : "at least \(value)") : "\(value)"
        }
        var notes: [String] = []
        if countedFromStream { notes.append("output counted from the stream, the provider reported no usage") }
        notes.append("\(cached) cached")
        return "tokens \(count(input, unknown: inputUnknown)) in / \(count(output, unknown: outputUnknown)) out ("
            + notes.joined(separator: "; ") + ")"
    }
}

/// Prints `--dry-run` requests.
extension ResultPrinter {
    static func clip(_ text: String, _ limit: Int) -> String {
        text.count > limit ? String(text.prefix(limit - 1)) + "…" : text
    }
}

enum DryRunPrinter {
    static func render(_ requests: [DryRun.Request], format: RunCommand.OutputFormat) -> String {
        switch format {
        case .json:
            return JSONValue.array(requests.map { request in
                var object: JSONValue.JSONObject = [
                    "step": .string(request.step), "method": "POST", "url": .string(request.endpoint),
                    "provider": .string(request.provider.name), "body": .object(request.request.body),
                ]
                if let item = request.item { object["item"] = .int(item) }
                if !request.placeholders.isEmpty { object["placeholders"] = .array(request.placeholders.map { .string($0) }) }
                if let skipped = request.skippedBecause { object["skipped"] = .string(skipped) }
                if !request.tools.isEmpty {
                    object["tools_that_may_run"] = .array(request.tools.map { tool in
                        var entry: JSONValue.JSONObject = ["name": .string(tool.name)]
                        switch tool.implementation {
                        case .run(let argv): entry["run"] = .array(argv.map { .string($0) })
                        case .http(let url): entry["http"] = .string(url)
                        case nil: break
                        }
                        return .object(entry)
                    })
                }
                return .object(object)
            }).serialized(.pretty) + "\n"
        case .text:
            var out = ""
            for request in requests {
                out += "# \(request.step)\(request.item.map { "[\($0)]" } ?? ""): POST \(request.endpoint) (provider \(request.provider.name))"
                if !request.placeholders.isEmpty {
                    out += "\n# ⟨…⟩ marks model output not known before the run: \(request.placeholders.joined(separator: ", "))"
                }
                if let skipped = request.skippedBecause { out += "\n# would be skipped: \(skipped)" }
                if !request.tools.isEmpty {
                    out += "\n# tools that may run (this is the first turn; each call adds one):"
                    for tool in request.tools {
                        switch tool.implementation {
                        case .run(let argv): out += "\n#   \(tool.name): run \(argv.joined(separator: " "))"
                        case .http(let url): out += "\n#   \(tool.name): POST \(url)"
                        case nil: break
                        }
                    }
                }
                out += "\n" + JSONValue.object(request.request.body).serialized(.pretty) + "\n\n"
            }
            return out
        }
    }
}

/// The items and requests each step finished, counted from the run's events. A step
/// that an interrupt stopped midway ends `notRun` with nothing counted, yet the replies
/// its finished `for_each` items got are stored, and a re-run takes them from the store:
/// the summary says so instead of "finished nothing".
final class ItemTally: Sendable {
    struct Progress {
        var items = 0
        /// Of a `for_each` step, from its start event.
        var totalItems: Int?
        var requests = 0
    }

    private let progress = Mutex<[String: Progress]>([:])

    func record(_ event: RunEvent) {
        switch event {
        case .stepStarted(let step, let items):
            progress.withLock { $0[step, default: Progress()].totalItems = items }
        case .requestFinished(let step, _, _, let attempts):
            progress.withLock {
                $0[step, default: Progress()].items += 1
                $0[step, default: Progress()].requests += attempts
            }
        case .turnFinished(let step, _, _, _, let attempts):
            progress.withLock { $0[step, default: Progress()].requests += attempts }
        default:
            break
        }
    }

    func progress(of step: String) -> Progress {
        progress.withLock { $0[step] ?? Progress() }
    }
}
