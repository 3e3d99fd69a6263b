import Foundation

/// The page: a header and the graph rendered here, everything else (the timeline, the steps,
/// their items, a test run's matrix, the comparison) drawn by the page's own script from a
/// JSON data block, a page of items at a time, so that a run of ten thousand items opens as
/// fast as one of ten. The script only ever sets `textContent`: no data becomes markup.
extension RunReport {
    /// The report as one self-contained HTML document: inline style and script, nothing
    /// fetched from anywhere.
    public func html() -> String {
        let run = detail.summary
        let title = "Skein run \(run.id): \(run.pipelinePath)"
        var out = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
            <title>\(HTMLText.escape(title))</title>
            <style>\(ReportAssets.css)</style>
            </head>
            <body>

            """
        out += header()
        out += "<nav class=\"sections\"><a href=\"#graph\">Graph</a><a href=\"#timeline\">Timeline</a>"
        if !tests.isEmpty { out += "<a href=\"#tests\">Test cases</a>" }
        if comparison != nil { out += "<a href=\"#compare\">Compared with run \(comparison!.detail.summary.id)</a>" }
        out += "<a href=\"#steps\">Steps</a></nav>\n<main>\n"
        out += "<section id=\"graph\"><h2>Graph</h2>\n" + graphSVG()
        if let graphNote { out += "<p class=\"note\">\(HTMLText.escape(graphNote))</p>" }
        out += "</section>\n"
        out += """
            <section id="timeline"><h2>Timeline</h2>
            <p class="legend"><span class="key ok"></span>reply <span class="key retried"></span>retried (more than one attempt) \
            <span class="key cached"></span>from the store <span class="key failed"></span>failed <span class="key tool"></span>tool run \
            <span class="key queued"></span>queued (waiting for a slot) <span class="key first-byte"></span>first streamed text \
            <span class="hint">Hover a bar for its request, click it to open it.</span></p>
            <div id="timeline-view" class="timeline"></div></section>

            """
        if !tests.isEmpty {
            out += """
                <section id="tests"><h2>Test cases</h2>
                <div class="filters"><label><input type="checkbox" id="failures-only"> failures only</label>
                <label>variant <select id="variant-filter"><option value="">all</option></select></label>
                <label>search <input type="search" id="test-search" placeholder="case, assertion or message"></label>
                <span id="test-count" class="muted"></span></div>
                <div id="test-matrix"></div></section>

                """
        }
        if comparison != nil {
            out += "<section id=\"compare\"><h2>Compared with run \(comparison!.detail.summary.id)</h2><div id=\"compare-view\"></div></section>\n"
        }
        out += "<section id=\"steps\"><h2>Steps</h2><div id=\"step-list\"></div></section>\n</main>\n"
        out += "<div id=\"tooltip\" class=\"tooltip\" role=\"tooltip\" hidden></div>\n"
        out += "<noscript><p class=\"note\">The timeline, the steps and their replies are drawn by the page's script; allow scripts for this file to see them.</p></noscript>\n"
        out += "<script type=\"application/json\" id=\"report-data\">" + HTMLText.scriptJSON(data()) + "</script>\n"
        out += "<script>\(ReportAssets.javaScript)</script>\n</body>\n</html>\n"
        return out
    }

    // MARK: Header

    static func statusMark(_ status: String) -> (icon: String, word: String, kind: String) {
        switch status {
        case "succeeded", "finished", "pass": return ("✓", status, "ok")
        case "failed", "fail", "killed": return ("✗", status, "bad")
        case "skipped": return ("⊘", status, "skip")
        case "not_run": return ("–", "not run", "skip")
        case "interrupted": return ("■", status, "warn")
        default: return ("…", status, "warn")
        }
    }

    static func formatDuration(_ seconds: Double) -> String {
        if seconds < 1 { return String(format: "%.0f ms", seconds * 1000) }
        if seconds < 120 { return String(format: "%.1f s", seconds) }
        return String(format: "%dm %02ds", Int(seconds) / 60, Int(seconds) % 60)
    }

    static func formatCost(_ cost: Double) -> String {
        cost == 0 ? "$0" : cost < 0.0001 ? String(format: "$%.6f", cost) : cost < 0.01 ? String(format: "$%.4f", cost)
            : String(format: "$%.2f", cost)
    }

    func header() -> String {
        let run = detail.summary
        let mark = Self.statusMark(run.status)
        let formatter = ISO8601DateFormatter()
        var tokens = (prompt: 0, completion: 0, unknownPrompt: false)
        var retries = 0
        for request in requests where !request.cached {
            retries += max(0, request.attempts - 1)
            guard let counted = Self.tokens(request.usage) else { continue }
            if let prompt = counted.prompt { tokens.prompt += prompt } else { tokens.unknownPrompt = true }
            tokens.completion += counted.completion
        }
        let spend = cost
        var facts: [(String, String)] = [
            ("started", formatter.string(from: run.startedAt)),
            ("time", run.endedAt.map { Self.formatDuration($0.timeIntervalSince(run.startedAt)) } ?? "not ended"),
            ("steps", "\(run.steps)"),
            ("requests", "\(run.requests) made, \(run.cacheHits) from the store" + (retries > 0 ? ", \(retries) retries" : "")),
            ("tokens", "\(tokens.unknownPrompt ? "?" : String(tokens.prompt)) in, \(tokens.completion) out"),
            ("cost", Self.formatCost(spend.total) + (spend.isComplete ? "" : " + requests with no price (no pricing: for their model in the pipeline)")),
        ]
        if let test = run.test {
            let failed = tests.filter { $0.status != "pass" }.count
            facts.insert(("test", "\(test.cases) cases × \(test.variants.count) variants, \(failed) failed"), at: 2)
        }
        if let commit = run.gitCommit { facts.append(("commit", String(commit.prefix(12)))) }
        facts.append(("pipeline sha256", String(run.pipelineSHA256.prefix(12))))
        var out = "<header class=\"run\">\n<p class=\"eyebrow\">Skein run \(run.id)\(run.test != nil ? " · test run" : "")</p>\n"
        out += "<h1>\(HTMLText.escape(graph?.pipeline.name ?? run.pipelinePath))</h1>\n"
        if graph?.pipeline.name != nil { out += "<p class=\"muted path\">\(HTMLText.escape(run.pipelinePath))</p>\n" }
        out += "<p class=\"status-line\"><span class=\"badge \(mark.kind)\" id=\"run-status\">\(mark.icon) \(HTMLText.escape(mark.word))</span></p>\n<dl class=\"facts\">"
        for (name, value) in facts { out += "<div><dt>\(name)</dt><dd>\(HTMLText.escape(value))</dd></div>" }
        out += "</dl>\n</header>\n"
        return out
    }

    // MARK: Graph

    /// Each step's status over all its rows: failed if any failed, else skipped/not run if
    /// any was, else finished.
    func stepStatuses() -> [String: String] {
        var statuses: [String: String] = [:]
        let rank = ["failed": 4, "not_run": 3, "skipped": 2, "finished": 1]
        for step in detail.steps where (rank[step.status] ?? 0) > (rank[statuses[step.step] ?? ""] ?? 0) {
            statuses[step.step] = step.status
        }
        return statuses
    }

    /// Skein's layered layout: one column per level (a step's longest chain of dependencies),
    /// steps in their file order within a column, edges as curves, the critical path heavier.
    func graphSVG() -> String {
        let names: [String]
        let levels: [Int]
        let dependencies: [[Int]]
        var critical = Set<Int>()
        if let graph {
            names = graph.names
            levels = graph.levels
            dependencies = graph.dependencies
            critical = Set(graph.criticalPath)
        } else {
            var seen: [String] = []
            for step in detail.steps where !seen.contains(step.step) { seen.append(step.step) }
            names = seen
            levels = Array(repeating: 0, count: seen.count)
            dependencies = Array(repeating: [], count: seen.count)
        }
        guard !names.isEmpty else { return "<p class=\"note\">The run has no steps.</p>" }
        let statuses = stepStatuses()
        var rows: [Int: Int] = [:]
        var position: [(x: Int, y: Int)] = Array(repeating: (0, 0), count: names.count)
        let width = 190, height = 52, columnGap = 70, rowGap = 18, margin = 10
        for index in names.indices {
            let level = levels[index]
            let row = rows[level, default: 0]
            rows[level] = row + 1
            position[index] = (margin + level * (width + columnGap), margin + row * (height + rowGap))
        }
        let columns = (levels.max() ?? 0) + 1
        let maximumRows = rows.values.max() ?? 1
        let totalWidth = margin * 2 + columns * width + (columns - 1) * columnGap
        let totalHeight = margin * 2 + maximumRows * height + (maximumRows - 1) * rowGap
        var out = "<div class=\"graph-scroll\"><svg class=\"graph\" role=\"img\" aria-label=\"The pipeline's steps and their dependencies\" "
        out += "width=\"\(totalWidth)\" height=\"\(totalHeight)\" viewBox=\"0 0 \(totalWidth) \(totalHeight)\">\n"
        out += "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" class=\"arrowhead\"/></marker></defs>\n"
        for (index, dependencyList) in dependencies.enumerated() {
            for dependency in dependencyList {
                let from = position[dependency], to = position[index]
                let x1 = from.x + width, y1 = from.y + height / 2, x2 = to.x - 2, y2 = to.y + height / 2
                let middle = (x1 + x2) / 2
                let isCritical = critical.contains(index) && critical.contains(dependency)
                out += "<path class=\"edge\(isCritical ? " critical" : "")\" d=\"M\(x1),\(y1) C\(middle),\(y1) \(middle),\(y2) \(x2),\(y2)\" marker-end=\"url(#arrow)\"/>\n"
            }
        }
        let statusLines = stepSummaries()
        for (index, name) in names.enumerated() {
            let status = statuses[name] ?? "not_run"
            let mark = Self.statusMark(status)
            let point = position[index]
            let shown = name.count > 22 ? String(name.prefix(21)) + "…" : name
            out += "<a href=\"#step-\(HTMLText.escape(name))\" class=\"node \(mark.kind)\(critical.contains(index) ? " critical" : "")\">"
            out += "<title>\(HTMLText.escape(name)): \(HTMLText.escape(mark.word))\(critical.contains(index) ? " (on the critical path)" : "")</title>"
            out += "<rect x=\"\(point.x)\" y=\"\(point.y)\" width=\"\(width)\" height=\"\(height)\" rx=\"8\"/>"
            out += "<text x=\"\(point.x + 12)\" y=\"\(point.y + 21)\" class=\"name\">\(mark.icon) \(HTMLText.escape(shown))</text>"
            out += "<text x=\"\(point.x + 12)\" y=\"\(point.y + 40)\" class=\"sub\">\(HTMLText.escape(statusLines[name] ?? mark.word))</text></a>\n"
        }
        out += "</svg></div>\n"
        if !critical.isEmpty { out += "<p class=\"muted small\">Heavier outlines and edges: the critical path (the longest chain of steps).</p>\n" }
        return out
    }

    /// A node's second line: status, time, and how many items or rows.
    func stepSummaries() -> [String: String] {
        var byStep: [String: (status: String, duration: Double, rows: Int)] = [:]
        for step in detail.steps {
            var entry = byStep[step.step] ?? (step.status, 0, 0)
            entry.duration = max(entry.duration, step.duration)
            entry.rows += 1
            byStep[step.step] = entry
        }
        var items: [String: Set<Int>] = [:]
        for request in requests { if let item = request.item { items[request.step, default: []].insert(item) } }
        let statuses = stepStatuses()
        var out: [String: String] = [:]
        for (name, entry) in byStep {
            var text = Self.statusMark(statuses[name] ?? entry.status).word + " · " + Self.formatDuration(entry.duration)
            if let count = items[name]?.count { text += " · \(count) items" }
            if entry.rows > 1 { text += " · \(entry.rows) rows" }
            out[name] = text
        }
        return out
    }

    // MARK: Data for the script

    /// The JSON the page's script draws from (short keys: a 10,000-item run repeats them
    /// 10,000 times).
    func data() -> JSONValue {
        let start = detail.summary.startedAt
        func offset(_ date: Date) -> JSONValue { .double((date.timeIntervalSince(start) * 1000).rounded() / 1000) }
        func text(_ value: String?) -> JSONValue { value.map { .string(clipped($0)) } ?? .null }
        var object: JSONValue.JSONObject = [:]
        let end = detail.summary.endedAt ?? (requests.map { $0.startedAt.addingTimeInterval($0.duration) }.max() ?? start)
        object["run"] = .object([
            "id": .int(Int(detail.summary.id)), "status": .string(detail.summary.status), "duration": .double(end.timeIntervalSince(start)),
            "pipeline": .string(detail.summary.pipelinePath),
        ])
        var stepObjects: [JSONValue] = []
        let order = graph?.names ?? []
        var known = Set(order)
        var names = order
        for step in detail.steps where !known.contains(step.step) { known.insert(step.step); names.append(step.step) }
        for name in names {
            var step: JSONValue.JSONObject = ["name": .string(name)]
            if let graph, let definition = graph.pipeline.steps[name] {
                step["where"] = .string("\(detail.summary.pipelinePath):\(definition.location.line)")
                let dependencies = graph.index[name].map { graph.dependencies[$0].map { JSONValue.string(graph.names[$0]) } } ?? []
                step["after"] = .array(dependencies)
            }
            stepObjects.append(.object(step))
        }
        object["steps"] = .array(stepObjects)
        object["rows"] = .array(detail.steps.map { step in
            var row: JSONValue.JSONObject = [
                "s": .string(step.step), "r": .int(step.row), "st": .string(step.status), "t": offset(step.startedAt),
                "d": .double(step.duration), "n": .int(step.requests), "rt": .int(step.retries), "h": .int(step.cacheHits),
            ]
            if let output = step.output { row["out"] = .string(clipped(RunDiff.displayText(output))) }
            if let message = step.message { row["msg"] = .string(clipped(message)) }
            return .object(row)
        })
        // A tool loop's turns resend the conversation so far: each request carries only the
        // messages that are new in it, and how many came before.
        var shown: [String: Int] = [:]
        object["requests"] = .array(requests.map { request in
            var row: JSONValue.JSONObject = [
                "s": .string(request.step), "r": .int(request.row), "i": request.item.map { .int($0) } ?? .null,
                "t": offset(request.startedAt), "d": .double(request.duration), "a": .int(request.attempts), "p": .string(request.provider),
            ]
            if request.cached { row["h"] = .bool(true) }
            // Queued (waiting for a slot) until "q", first byte at "fb", both after "t".
            if let sent = request.sentAfter, sent >= 0.001 { row["q"] = .double(sent) }
            if let firstByte = request.firstByteAfter { row["fb"] = .double(firstByte) }
            if let model = request.model { row["m"] = .string(model) }
            if let error = request.error { row["e"] = text(error) }
            if let tokens = Self.tokens(request.usage) {
                row["u"] = .array([tokens.prompt.map { .int($0) } ?? .null, .int(tokens.completion), .int(tokens.cached)])
            }
            if let cost = cost(of: request) { row["c"] = .double(cost) }
            let conversation = "\(request.row)/\(request.item.map(String.init) ?? "-")/\(request.step)"
            if let body = request.request.flatMap({ try? JSONValue(parsing: $0) }) {
                if let messages = body["messages"]?.arrayValue {
                    var skip = shown[conversation] ?? 0
                    if skip > messages.count { skip = 0 }
                    shown[conversation] = messages.count
                    if skip > 0 { row["skip"] = .int(skip) }
                    row["msgs"] = .array(messages.dropFirst(skip).map { message in
                        .array([.string(message["role"]?.stringValue ?? "?"), .string(clipped(Self.messageText(message)))])
                    })
                } else if let prompt = body["prompt"]?.stringValue {
                    row["msgs"] = .array([.array([.string("prompt"), .string(clipped(prompt))])])
                }
                if let system = body["system"]?.stringValue {
                    row["sys"] = .string(clipped(system))
                }
            } else {
                row["gone"] = .bool(true)
            }
            if let response = request.response.flatMap({ try? JSONValue(parsing: $0) }) {
                let message = response["choices"]?.arrayValue?.first?["message"]
                let content = message?["content"]
                if let reply = content?.stringValue ?? Self.anthropicText(response) {
                    row["reply"] = .string(clipped(reply))
                } else if let content, !content.isNull {
                    row["reply"] = .string(clipped(content.serialized(.pretty)))
                }
                if let reasoning = message?["reasoning_content"]?.stringValue ?? message?["reasoning"]?.stringValue {
                    row["why"] = .string(clipped(reasoning))
                }
                let calls = (message?["tool_calls"]?.arrayValue ?? []).map { call in
                    JSONValue.array([.string(call["function"]?["name"]?.stringValue ?? "?"),
                                     .string(clipped(call["function"]?["arguments"]?.stringValue ?? ""))])
                }
                if !calls.isEmpty { row["calls"] = .array(calls) }
                if let finish = response["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue { row["f"] = .string(finish) }
            }
            return .object(row)
        })
        object["tools"] = .array(tools.map { tool in
            var row: JSONValue.JSONObject = [
                "s": .string(tool.step), "r": .int(tool.row), "i": tool.item.map { .int($0) } ?? .null, "turn": .int(tool.turn),
                "tool": .string(tool.tool), "args": .string(clipped(tool.arguments)), "t": offset(tool.startedAt), "d": .double(tool.duration),
            ]
            if let result = tool.result { row["res"] = .string(clipped(result)) }
            if let error = tool.error { row["e"] = .string(clipped(error)) }
            if tool.cached { row["h"] = .bool(true) }
            return .object(row)
        })
        if !tests.isEmpty {
            object["tests"] = .array(tests.map { test in
                var row: JSONValue.JSONObject = [
                    "case": .string(test.caseName), "variant": .string(test.variant), "st": .string(test.status), "r": .int(test.row),
                ]
                if let error = test.error { row["e"] = .string(clipped(error)) }
                if let cost = test.cost { row["c"] = .double(cost) }
                row["v"] = .array(test.verdicts.map { verdict in
                    .array([.string(verdict.target), .string(verdict.assertion), .bool(verdict.passed), .string(clipped(verdict.message))])
                })
                return .object(row)
            })
        }
        if let comparison {
            object["compare"] = .object([
                "id": .int(Int(comparison.detail.summary.id)),
                "entries": .array(comparison.diff.entries.map { entry in
                    var row: JSONValue.JSONObject = ["s": .string(entry.key.step), "r": .int(entry.key.row)]
                    switch entry.change {
                    case .same(let fromStore): row["k"] = .string(fromStore ? "same, from the store" : "same")
                    case .onlyInOld: row["k"] = .string("only in run \(comparison.detail.summary.id)")
                    case .onlyInNew: row["k"] = .string("only in run \(detail.summary.id)")
                    case .changed(let oldStatus, let newStatus, let old, let new):
                        row["k"] = .string(oldStatus == newStatus ? "changed" : "\(oldStatus) → \(newStatus)")
                        row["lines"] = .array(LineDiff.lines(clipped(old), clipped(new)).map { line in
                            switch line {
                            case .removed(let text): return .array([.string("-"), .string(text)])
                            case .inserted(let text): return .array([.string("+"), .string(text)])
                            case .unchanged(let text): return .array([.string(" "), .string(text)])
                            }
                        })
                    }
                    return .object(row)
                }),
            ])
        }
        return .object(object)
    }

    /// A message's text as `skein runs show` prints it: text parts, tool calls and results.
    static func messageText(_ message: JSONValue) -> String {
        var lines: [String] = []
        if let id = message["tool_call_id"]?.stringValue { lines.append("(result of tool call \(id))") }
        if let text = message["content"]?.stringValue {
            lines.append(text)
        } else if let parts = message["content"]?.arrayValue {
            for part in parts {
                switch part["type"]?.stringValue {
                case "tool_use": lines.append("calls \(part["name"]?.stringValue ?? "?")(\(part["input"]?.serialized() ?? ""))")
                case "tool_result":
                    lines.append("(tool result\(part["is_error"] == true ? ", error" : "")) "
                        + (part["content"]?.stringValue ?? part["content"]?.serialized() ?? ""))
                default:
                    if let text = part["text"]?.stringValue { lines.append(text) }
                    if let url = part["image_url"]?["url"]?.stringValue { lines.append("[image \(url.prefix(60))…]") }
                }
            }
        }
        for call in message["tool_calls"]?.arrayValue ?? [] {
            lines.append("calls \(call["function"]?["name"]?.stringValue ?? "?")(\(call["function"]?["arguments"]?.stringValue ?? ""))")
        }
        return lines.joined(separator: "\n")
    }

    /// The text of a Messages API reply, stored in its own shape.
    static func anthropicText(_ response: JSONValue) -> String? {
        guard let parts = response["content"]?.arrayValue else { return nil }
        let texts = parts.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }
        return texts.isEmpty ? nil : texts.joined(separator: "\n")
    }
}
