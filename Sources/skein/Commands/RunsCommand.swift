import ArgumentParser
import Foundation
import SkeinKit

/// `skein runs list|show|diff`: the run history in the store.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Show the run history: past runs, the exact prompts and replies, what changed between two runs.",
        subcommands: [List.self, Show.self, Diff.self],
        defaultSubcommand: List.self
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List recent runs, newest first.")
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "How many runs to list.") var limit = 20
        @Option(help: "text or json.") var format: Format = .text

        func validate() throws {
            if limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        }

        func run() async throws {
            guard storeOptions.exists else {
                // Nothing recorded yet; said without creating a store at the path.
                if format == .json { return Terminal.standardOutput.write("[]\n") }
                return Terminal.standardError.write("no runs in '\(storeOptions.resolvedPath)' yet (there is no store there)\n")
            }
            let store = try await storeOptions.open()
            let runs = try await Self.guarded { try await store.runs(limit: limit) }
            if format == .json {
                Terminal.standardOutput.write(JSONValue.array(runs.map(RunsCommand.json)).serialized(.pretty) + "\n")
                return
            }
            if runs.isEmpty {
                Terminal.standardError.write("no runs in '\(store.location)' yet\n")
                return
            }
            // A shared store holds the runs of other machines: say which ran where.
            let showsHost = runs.contains { $0.host != ProcessInfo.processInfo.hostName }
            var rows = [["RUN", "STATUS", "STARTED", "TIME", "STEPS", "REQUESTS", "STORED", "COST", "PIPELINE"]]
            if showsHost { rows[0].insert("HOST", at: 2) }
            for run in runs {
                let duration = run.endedAt.map { String(format: "%.1fs", $0.timeIntervalSince(run.startedAt)) } ?? "-"
                rows.append([
                    "\(run.id)", run.status, RunsCommand.timestamp(run.startedAt), duration, "\(run.steps)", "\(run.requests)",
                    "\(run.cacheHits)", RunsCommand.costText(run), run.pipelinePath + (run.gitCommit.map { " @ " + $0.prefix(7) } ?? "")
                        + (run.test.map { " (test: \($0.cases) case\($0.cases == 1 ? "" : "s") × \($0.variants.count) variant\($0.variants.count == 1 ? "" : "s"))" } ?? "")
                        + (run.name.map { " [\($0)]" } ?? ""),
                ])
                if showsHost { rows[rows.count - 1].insert(run.host, at: 2) }
            }
            Terminal.standardOutput.write(RunsCommand.table(rows))
        }

        static func guarded<T>(_ body: () async throws -> T) async throws -> T {
            do { return try await body() } catch {
                Terminal.standardError.write("error: \(error)\n")
                throw ExitCode(1)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a run: its steps and outputs, or with --step the exact requests sent and the replies.")
        @Argument(help: "A run number, 'last', or 'last~N' (N runs before the last).") var run: String = "last"
        @Option(help: ArgumentHelp("Show this step's requests and replies.", valueName: "name")) var step: String?
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "text or json.") var format: Format = .text

        func run() async throws {
            let store = try await storeOptions.openExisting()
            try await List.guarded {
                let id = try await store.resolveRun(run)
                let detail = try await store.run(id)
                if let step {
                    guard detail.steps.contains(where: { $0.step == step }) else {
                        let names = Array(Set(detail.steps.map(\.step))).sorted()
                        throw StoreError("run \(id) has no step '\(step)'\(Suggestion.didYouMean(step, in: names))")
                    }
                    let requests = try await store.requests(run: id, step: step)
                    let tools = try await store.toolCalls(run: id, step: step)
                    Terminal.standardOutput.write(format == .json ? RunsCommand.requestsJSON(requests, tools: tools)
                        : RunsCommand.requestsText(requests, step: step, tools: tools))
                } else if format == .json {
                    var object = RunsCommand.json(detail.summary).objectValue ?? [:]
                    object["inputs"] = (try? JSONValue(parsing: detail.inputs)) ?? .null
                    object["outputs"] = detail.outputs.flatMap { try? JSONValue(parsing: $0) } ?? .null
                    object["steps"] = .array(detail.steps.map { step in
                        var object: JSONValue.JSONObject = [
                            "step": .string(step.step), "status": .string(step.status), "duration": .double(step.duration),
                            "requests": .int(step.requests), "retries": .int(step.retries), "cache_hits": .int(step.cacheHits),
                        ]
                        if step.row != 0 { object["row"] = .int(step.row) }
                        object["output"] = step.output.flatMap { try? JSONValue(parsing: $0) } ?? .null
                        if let message = step.message { object["message"] = .string(message) }
                        object["usage"] = step.usage.flatMap { try? JSONValue(parsing: $0) } ?? .null
                        object["cost"] = step.cost.map { .double($0) } ?? .null
                        return .object(object)
                    })
                    Terminal.standardOutput.write(JSONValue.object(object).serialized(.pretty) + "\n")
                } else {
                    if detail.summary.test != nil {
                        Terminal.standardOutput.write(RunsCommand.verdictsText(try await store.testResults(run: id)) + "\n")
                    }
                    Terminal.standardOutput.write(RunsCommand.detailText(detail))
                }
            }
        }
    }

    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Which step outputs changed between two runs (default: the last two).")
        @Argument(help: "The earlier run (default: last~1).") var first: String = "last~1"
        @Argument(help: "The later run (default: last).") var second: String = "last"
        @OptionGroup var storeOptions: StoreOptions

        func run() async throws {
            let store = try await storeOptions.openExisting()
            try await List.guarded {
                let a = try await store.run(try await store.resolveRun(first))
                let b = try await store.run(try await store.resolveRun(second))
                if a.summary.test != nil && b.summary.test != nil {
                    // Two test runs: which verdicts changed, case by case.
                    let old = try await store.testResults(run: a.summary.id)
                    let new = try await store.testResults(run: b.summary.id)
                    Terminal.standardOutput.write(RunsCommand.verdictDiffText(a.summary.id, old, b.summary.id, new))
                    return
                }
                Terminal.standardOutput.write(RunsCommand.diffText(a, b))
            }
        }
    }

    // MARK: Rendering

    static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    static func json(_ run: SQLiteResultStore.RunSummary) -> JSONValue {
        var object: JSONValue.JSONObject = [
            "run": .int(Int(run.id)), "status": .string(run.status), "pipeline": .string(run.pipelinePath),
            "pipeline_sha256": .string(run.pipelineSHA256),
        ]
        object["git_commit"] = run.gitCommit.map { .string($0) } ?? .null
        object["started_at"] = .string(ISO8601DateFormatter().string(from: run.startedAt))
        object["ended_at"] = run.endedAt.map { .string(ISO8601DateFormatter().string(from: $0)) } ?? .null
        object["steps"] = .int(run.steps)
        object["requests"] = .int(run.requests)
        object["cache_hits"] = .int(run.cacheHits)
        object["host"] = .string(run.host)
        object["heartbeat_age"] = run.endedAt == nil ? run.heartbeatAge.map { .double($0) } ?? .null : .null
        object["name"] = run.name.map { .string($0) } ?? .null
        // USD of the replies bought from the provider (replies from the store cost the run
        // nothing); null when one had no price, or the run was recorded before costs were.
        object["cost"] = run.unpricedRequests > 0 ? .null : .double(run.cost)
        return .object(object)
    }

    /// A run's cost: `$0.0123`; `≥ $0.0123` when some replies had no price, `unknown` when
    /// none had one (or the run was recorded before costs were kept).
    static func costText(_ run: SQLiteResultStore.RunSummary) -> String {
        guard run.unpricedRequests > 0 else { return CostFormat.usd(run.cost) }
        return run.cost > 0 ? "≥ " + CostFormat.usd(run.cost) : "unknown"
    }

    static func table(_ rows: [[String]]) -> String {
        var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
        for row in rows { for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) } }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    static func detailText(_ detail: SQLiteResultStore.RunDetail) -> String {
        let run = detail.summary
        var out = "run \(run.id): \(run.status)"
        // A run not ended: when its process was last heard from (its beat), and where.
        if run.endedAt == nil, let age = run.heartbeatAge {
            out += " (last heard from \(DatasetProgress.duration(max(age, 0))) ago"
                + (run.host.isEmpty || run.host == ProcessInfo.processInfo.hostName ? "" : " on \(run.host)") + ")"
        }
        out += "\n"
        out += "pipeline  \(run.pipelinePath) (sha256 \(run.pipelineSHA256.prefix(12)))\n"
        if let commit = run.gitCommit { out += "commit    \(commit)\n" }
        out += "started   \(timestamp(run.startedAt))"
        if let ended = run.endedAt { out += String(format: ", took %.1fs", ended.timeIntervalSince(run.startedAt)) }
        out += "\nrequests  \(run.requests) made, \(run.cacheHits) from the store\n"
        out += "cost      \(costText(run))"
            + (run.unpricedRequests > 0 ? " (\(Terminal.count(run.unpricedRequests, "request")) with no price)" : "")
            + (run.cacheHits > 0 ? "; replies from the store cost nothing" : "") + "\n"
        out += "inputs    \(shorten(detail.inputs, 300))\n\nsteps:\n"
        var rows = [["STEP", "STATUS", "TIME", "REQUESTS", "STORED", "COST", "OUTPUT"]]
        for step in detail.steps {
            let name = step.row == 0 ? step.step : "row \(step.row) \(step.step)"
            rows.append([
                name, step.status, String(format: "%.1fs", step.duration), "\(step.requests)", "\(step.cacheHits)",
                step.cost.map(CostFormat.usd) ?? "unknown", shorten(step.output.map(displayText) ?? step.message ?? "", 80),
            ])
        }
        out += table(rows).split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
        if let outputs = detail.outputs, let value = try? JSONValue(parsing: outputs), case .object(let object) = value, !object.isEmpty {
            out += "\noutputs:\n"
            for (name, value) in object {
                out += "  \(name):\n" + ResultPrinter.indent(ResultPrinter.indent(displayText(value.serialized()))) + "\n"
            }
        }
        out += "\n'skein runs show \(run.id) --step NAME' shows a step's exact requests and replies.\n"
        return out
    }

    static func displayText(_ json: String) -> String { RunDiff.displayText(json) }

    static func shorten(_ text: String, _ limit: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: "⏎")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }

    static func requestsText(
        _ requests: [SQLiteResultStore.RequestRow], step: String, tools: [SQLiteResultStore.ToolCallRow] = []
    ) -> String {
        if requests.isEmpty { return "step '\(step)' made no requests in this run (skipped, or failed before sending)\n" }
        var out = ""
        // A tool loop's turn resends the conversation so far: only what is new is shown.
        var shownMessages: [String: (count: Int, request: Int)] = [:]
        var turns: [String: Int] = [:]
        for (position, request) in requests.enumerated() {
            let conversation = "\(request.row)/\(request.item.map(String.init) ?? "-")"
            var title = "request \(position + 1)"
            if request.row != 0 { title += ", row \(request.row)" }
            if let item = request.item { title += ", item \(item)" }
            title += " — \(request.provider)" + (request.model.map { " / \($0)" } ?? "")
            title += request.cached ? ", from the store" : String(format: ", %d attempt%@, %.2fs", request.attempts, request.attempts == 1 ? "" : "s", request.duration)
            if !request.cached, let sent = request.sentAfter, sent >= 0.01 { title += String(format: " (%.2fs of it queued)", sent) }
            if !request.cached, let firstByte = request.firstByteAfter { title += String(format: ", first byte after %.2fs", firstByte) }
            out += "━━ \(title)\n"
            guard let body = request.request.flatMap({ try? JSONValue(parsing: $0) }) else {
                out += "(the request text is no longer stored: the cache was cleared or pruned)\n\n"
                continue
            }
            out += "── sent\n"
            if let messages = body["messages"]?.arrayValue {
                var skip = 0
                if let shown = shownMessages[conversation], shown.count < messages.count {
                    skip = shown.count
                    out += "(\(skip) earlier message\(skip == 1 ? "" : "s"), as in request \(shown.request + 1))\n"
                }
                shownMessages[conversation] = (messages.count, position)
                for message in messages.dropFirst(skip) { out += messageText(message) }
            } else if let prompt = body["prompt"]?.stringValue {
                out += prompt + "\n"
            }
            var parameters = body.objectValue ?? [:]
            for key in ["messages", "prompt", "model", "tools"] { parameters.removeValue(forKey: key) }
            if let tools = body["tools"]?.arrayValue {
                let names = tools.compactMap { $0["function"]?["name"]?.stringValue ?? $0["name"]?.stringValue }
                out += "tools offered: \(names.joined(separator: ", "))\n"
            }
            if !parameters.isEmpty { out += "parameters: \(JSONValue.object(parameters).serialized())\n" }
            if let error = request.error {
                out += "── failed\n\(error)\n\n"
                continue
            }
            guard let response = request.response.flatMap({ try? JSONValue(parsing: $0) }) else {
                out += "── reply\n(no longer stored)\n\n"
                continue
            }
            let message = response["choices"]?.arrayValue?.first?["message"]
            if let reasoning = message?["reasoning_content"]?.stringValue { out += "── reasoning\n\(reasoning)\n" }
            let replyText = message?["content"]?.stringValue ?? ""
            let calledTools = !(message?["tool_calls"]?.arrayValue ?? []).isEmpty
            out += "── reply\n" + (replyText.isEmpty && calledTools ? "(no text: the model called tools)" : replyText) + "\n"
            let turn = (turns[conversation] ?? 0) + 1
            turns[conversation] = turn
            if let calls = message?["tool_calls"]?.arrayValue, !calls.isEmpty {
                let runs = tools.filter { $0.row == request.row && $0.item == request.item && $0.turn == turn }
                out += "── tool calls\n"
                for call in calls {
                    out += "\(call["function"]?["name"]?.stringValue ?? "?")(\(call["function"]?["arguments"]?.stringValue ?? ""))\n"
                }
                for run in runs {
                    let how = run.cached ? "from the store" : String(format: "ran in %.2fs", run.duration)
                    out += "  \(run.tool) \(how): " + (run.error.map { "error: \($0)" } ?? shorten(run.result ?? "", 300)) + "\n"
                }
            }
            if let usage = request.usage {
                out += "usage: \(usage)"
                if let cost = request.cost {
                    out += request.cached ? "; cost \(CostFormat.usd(cost)) when it was bought, nothing this run" : "; cost \(CostFormat.usd(cost))"
                }
                out += "\n"
            }
            out += "\n"
        }
        return out
    }

    /// One message of a sent conversation: its role, its text, and the tool calls and
    /// results of a tool loop (in the Chat Completions or the Messages API's shape).
    static func messageText(_ message: JSONValue) -> String {
        let role = message["role"]?.stringValue ?? "?"
        var out = ""
        if role == "tool" {
            out += "[tool result \(message["tool_call_id"]?.stringValue ?? "")]\n"
        } else {
            out += "[\(role)]\n"
        }
        if let text = message["content"]?.stringValue {
            if !text.isEmpty { out += text + "\n" }
        } else if let parts = message["content"]?.arrayValue {
            for part in parts {
                switch part["type"]?.stringValue {
                case "tool_use":
                    out += "calls \(part["name"]?.stringValue ?? "?")(\(part["input"]?.serialized() ?? ""))\n"
                case "tool_result":
                    let content = part["content"]?.stringValue ?? part["content"]?.serialized() ?? ""
                    out += "(tool result \(part["tool_use_id"]?.stringValue ?? "")\(part["is_error"] == true ? ", error" : "")) \(content)\n"
                default:
                    if let text = part["text"]?.stringValue { out += text + "\n" }
                    if let url = part["image_url"]?["url"]?.stringValue { out += "<image \(shorten(url, 60))>\n" }
                }
            }
        }
        for call in message["tool_calls"]?.arrayValue ?? [] {
            out += "calls \(call["function"]?["name"]?.stringValue ?? "?")(\(call["function"]?["arguments"]?.stringValue ?? ""))\n"
        }
        return out
    }

    static func requestsJSON(_ requests: [SQLiteResultStore.RequestRow], tools: [SQLiteResultStore.ToolCallRow] = []) -> String {
        let requestValues: [JSONValue] = requests.map { request in
            var object: JSONValue.JSONObject = [
                "step": .string(request.step), "provider": .string(request.provider), "cached": .bool(request.cached),
                "attempts": .int(request.attempts), "duration": .double(request.duration), "key": .string(request.key),
            ]
            if request.row != 0 { object["row"] = .int(request.row) }
            object["item"] = request.item.map { .int($0) } ?? .null
            object["model"] = request.model.map { .string($0) } ?? .null
            object["request"] = request.request.flatMap { try? JSONValue(parsing: $0) } ?? .null
            object["response"] = request.response.flatMap { try? JSONValue(parsing: $0) } ?? .null
            object["error"] = request.error.map { .string($0) } ?? .null
            // What the reply cost when it was bought (a `cached` one cost this run nothing).
            object["cost"] = request.cost.map { .double($0) } ?? .null
            // Seconds after it was ready: when it went out (it waited for a slot before) and
            // when a streamed reply's first byte came.
            if let sent = request.sentAfter { object["sent_after"] = .double(sent) }
            if let firstByte = request.firstByteAfter { object["first_byte_after"] = .double(firstByte) }
            return .object(object)
        }
        guard !tools.isEmpty else { return JSONValue.array(requestValues).serialized(.pretty) + "\n" }
        // With tool runs: {requests, tool_calls}; without, the list as before.
        let toolValues: [JSONValue] = tools.map { tool in
            var object: JSONValue.JSONObject = [
                "step": .string(tool.step), "turn": .int(tool.turn), "tool": .string(tool.tool),
                "arguments": (try? JSONValue(parsing: tool.arguments)) ?? .string(tool.arguments),
            ]
            if tool.row != 0 { object["row"] = .int(tool.row) }
            object["item"] = tool.item.map { .int($0) } ?? .null
            object["result"] = tool.result.map { .string($0) } ?? .null
            object["error"] = tool.error.map { .string($0) } ?? .null
            object["cached"] = .bool(tool.cached)
            object["duration"] = .double(tool.duration)
            return .object(object)
        }
        return JSONValue.object(["requests": .array(requestValues), "tool_calls": .array(toolValues)]).serialized(.pretty) + "\n"
    }

    /// A test run's verdicts: each case and variant, and what failed.
    static func verdictsText(_ rows: [SQLiteResultStore.TestCaseRow]) -> String {
        var out = "test cases:\n"
        for row in rows {
            let held = row.verdicts.filter(\.passed).count
            out += "  \(row.status == "pass" ? "✓" : "✗") \(row.caseName) [\(row.variant)] \(held)/\(row.verdicts.count)"
                + (row.cost.map { String(format: ", $%.4f", $0) } ?? "") + "\n"
            if let error = row.error { out += "      the run failed: \(shorten(error, 200))\n" }
            for verdict in row.verdicts where !verdict.passed {
                out += "      ✗ \(verdict.target): \(verdict.assertion) — \(shorten(verdict.message, 200))\n"
            }
        }
        return out
    }

    /// Two test runs compared: the cases whose verdict changed (pass → fail, fail → pass,
    /// or what failed changed), matched by case name and variant.
    static func verdictDiffText(
        _ oldID: Int64, _ old: [SQLiteResultStore.TestCaseRow], _ newID: Int64, _ new: [SQLiteResultStore.TestCaseRow]
    ) -> String {
        func key(_ row: SQLiteResultStore.TestCaseRow) -> String { row.caseName + "\u{0}" + row.variant }
        func failures(_ row: SQLiteResultStore.TestCaseRow) -> [String] {
            row.verdicts.filter { !$0.passed }.map { "\($0.target): \($0.assertion)" }
        }
        let before = Dictionary(old.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        var out = "test run \(oldID) → test run \(newID)\n"
        var rows: [[String]] = []
        var changed = 0
        for row in new {
            let name = "\(row.caseName) [\(row.variant)]"
            guard let previous = before[key(row)] else {
                rows.append(["new", name, row.status])
                continue
            }
            if previous.status != row.status {
                changed += 1
                rows.append([row.status == "fail" ? "regressed" : "fixed", name, "\(previous.status) → \(row.status)"])
            } else if failures(previous) != failures(row) {
                changed += 1
                rows.append(["changed", name, "fails on " + failures(row).joined(separator: "; ")])
            } else {
                rows.append(["same", name, row.status])
            }
        }
        let current = Set(new.map(key))
        for row in old where !current.contains(key(row)) { rows.append(["gone", "\(row.caseName) [\(row.variant)]", row.status]) }
        out += table(rows).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        out += changed == 0 ? "no verdict changed\n" : "\(Terminal.count(changed, "verdict")) changed\n"
        return out
    }

    static func diffText(_ a: SQLiteResultStore.RunDetail, _ b: SQLiteResultStore.RunDetail) -> String {
        let diff = RunDiff(old: a, new: b)
        var out = "run \(a.summary.id) → run \(b.summary.id)"
        if a.summary.pipelinePath != b.summary.pipelinePath {
            out += " (\(a.summary.pipelinePath) → \(b.summary.pipelinePath))"
        } else {
            out += " (\(a.summary.pipelinePath)"
            out += diff.isFileChanged ? ", file changed)" : ", file unchanged)"
        }
        out += "\n"
        if diff.isInputsChanged { out += "inputs changed\n" }
        var details = ""
        var rows: [[String]] = []
        for entry in diff.entries {
            let name = entry.key.row == 0 ? entry.key.step : "row \(entry.key.row) \(entry.key.step)"
            switch entry.change {
            case .same(let fromStore):
                rows.append(["same", name, fromStore ? "(from the store)" : ""])
            case .changed(let oldStatus, let newStatus, let old, let new):
                rows.append(["changed", name, oldStatus == newStatus ? "" : "\(oldStatus) → \(newStatus)"])
                details += "── \(name)\n" + LineDiff.text(old, new)
            case .onlyInOld: rows.append(["only in \(a.summary.id)", name, ""])
            case .onlyInNew: rows.append(["only in \(b.summary.id)", name, ""])
            }
        }
        let changed = diff.changedCount
        out += table(rows).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        out += changed == 0 ? "no step output changed\n" : "\(Terminal.count(changed, "step")) changed\n"
        if !details.isEmpty { out += "\n" + details }
        return out
    }
}
