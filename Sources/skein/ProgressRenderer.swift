import Foundation
import SkeinKit
import Synchronization

/// Shows a run's progress on stderr: a live view redrawn in place on a terminal, or one
/// line per event otherwise; `--stream STEP` prints that step's reply as it arrives.
final class ProgressRenderer: Sendable {
    enum Mode: Sendable, Equatable { case live, lines, quiet }

    let mode: Mode
    let streamStep: String?
    let color: Bool
    private let steps: [String]
    private let state: Mutex<State>
    private let redrawTask = Mutex<Task<Void, Never>?>(nil)

    struct StepView: Sendable {
        enum Phase: Sendable { case waiting, running, finished, failed, skipped, notRun }
        var phase: Phase = .waiting
        var started: ContinuousClock.Instant?
        var ended: ContinuousClock.Instant?
        var items: Int?
        var itemsDone = 0
        var tokens = 0
        var retries = 0
        var message: String?
        var fromStore = false
    }

    struct State: Sendable {
        var views: [String: StepView] = [:]
        var drawnLines = 0
        /// For `--stream` of a for_each step: items are printed in order, later ones buffered.
        var streamBuffers: [Int: String] = [:]
        var streamEnded: Set<Int> = []
        var nextStreamItem = 0
        var reasoningOpen = false
        /// Per provider, the latest report of it throttling the run, and when its wait ends.
        var throttles: [String: (throttle: ProviderThrottle, until: ContinuousClock.Instant)] = [:]
    }

    /// How long a throttle line stays after its wait ended with no new report: long enough
    /// not to flicker between the waits of one request and the next.
    static let throttleLinger: Duration = .seconds(2)

    init(steps: [String], mode: Mode, streamStep: String?, color: Bool) {
        self.steps = steps
        self.mode = mode
        self.streamStep = streamStep
        self.color = color
        var initial = State()
        for step in steps { initial.views[step] = StepView() }
        state = Mutex(initial)
    }

    func start() {
        guard mode == .live else { return }
        let task = Task { [weak self] in
            while !Task.isCancelled {
                self?.redraw()
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        redrawTask.withLock { $0 = task }
    }

    func finish() {
        redrawTask.withLock { $0?.cancel() }
        if mode == .live { redraw() }
    }

    func handle(_ event: RunEvent) {
        let now = ContinuousClock.now
        var lines: [String] = []
        var streamText = ""
        state.withLock { state in
            let name = event.step
            var view = state.views[name] ?? StepView()
            switch event {
            case .stepStarted(_, let items):
                view.phase = .running
                view.started = now
                view.items = items
                lines.append(paint("▶", .blue) + " \(name) started" + (items.map { " (\($0) items)" } ?? ""))
            case .requestStarted:
                break
            case .token(_, let item, let text, let isReasoning):
                view.tokens += 1
                if name == streamStep { streamText += streamPiece(&state, item: item, text: text, isReasoning: isReasoning) }
            case .retry(_, let item, let attempt, let delay, let message):
                view.retries += 1
                lines.append(paint("↻", .yellow) + " \(name)\(item.map { "[\($0)]" } ?? "") attempt \(attempt) failed, retrying in \(Self.seconds(delay)): \(message)")
            case .turnFinished(_, let item, _, _, _):
                if name == streamStep { streamText += streamPiece(&state, item: item, text: "\n", isReasoning: false) }
            case .toolStarted(_, let item, _, let tool, _, let arguments):
                if name == streamStep {
                    streamText += streamPiece(
                        &state, item: item, text: paint("→ \(tool)", .blue) + " " + Self.clipped(arguments.serialized()) + "\n",
                        isReasoning: false)
                }
            case .toolFinished(_, let item, _, let tool, _, let result, let error, let cached, let duration):
                if name == streamStep {
                    let how = cached ? " (from the store)" : " (\(Self.seconds(duration)))"
                    let line = error.map { paint("✗ \(tool)", .red) + how + ": " + Self.clipped($0) }
                        ?? paint("← \(tool)", .green) + how + ": " + Self.clipped(result ?? "")
                    streamText += streamPiece(&state, item: item, text: line + "\n", isReasoning: false)
                }
            case .throttled(_, _, let throttle):
                // Shown live only: as lines, one per waiting request would drown the log; the run's
                // closing note says how many 429s there were and where the rate settled. The
                // latest report's rate and count, the longest wait still ahead.
                let until = max(now + throttle.wait, state.throttles[throttle.provider]?.until ?? now)
                state.throttles[throttle.provider] = (throttle, until)
            case .requestFinished(_, let item, _, _):
                if view.items != nil { view.itemsDone += 1 }
                if name == streamStep { streamText += endStreamItem(&state, item: item) }
            case .stepEnded(let result):
                view.ended = now
                switch result.status {
                case .finished:
                    view.phase = .finished
                    view.fromStore = result.cacheHits > 0 && result.requests == 0
                    let tokens = result.usage.map { ", \($0.completionTokens) tokens" } ?? ""
                    let stored = result.cacheHits > 0 && result.requests == 0 ? " (from the store)" : ""
                    lines.append(paint("✓", .green) + " \(name) finished in \(Self.seconds(result.duration))\(tokens)\(stored)")
                case .failed:
                    view.phase = .failed
                    view.message = result.message
                    lines.append(paint("✗", .red) + " \(name) failed: \(result.message ?? "")")
                case .skipped:
                    view.phase = .skipped
                    view.message = result.message
                    lines.append(paint("–", .dim) + " \(name) skipped: \(result.message ?? "")")
                case .notRun:
                    view.phase = .notRun
                }
            }
            state.views[name] = view
        }
        if !streamText.isEmpty { Terminal.standardError.write(streamText) }
        if mode == .lines { for line in lines { Terminal.standardError.write(line + "\n") } }
    }

    /// One line of a tool's arguments or result for `--stream`: at most 200 characters.
    static func clipped(_ text: String) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ⏎ ")
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }

    /// Text to print for a streamed token; items of a for_each step are shown in order.
    private func streamPiece(_ state: inout State, item: Int?, text: String, isReasoning: Bool) -> String {
        let position = item ?? 0
        var piece = ""
        if isReasoning && !state.reasoningOpen {
            piece += color ? "\u{1B}[2m" : "[reasoning] "
            state.reasoningOpen = true
        } else if !isReasoning && state.reasoningOpen {
            piece += color ? "\u{1B}[0m\n" : "\n[answer] "
            state.reasoningOpen = false
        }
        piece += text
        if position == state.nextStreamItem { return piece }
        state.streamBuffers[position, default: ""] += piece
        return ""
    }

    private func endStreamItem(_ state: inout State, item: Int?) -> String {
        let position = item ?? 0
        var out = state.reasoningOpen && color ? "\u{1B}[0m" : ""
        state.reasoningOpen = false
        state.streamEnded.insert(position)
        if position != state.nextStreamItem { return "" }
        out += "\n"
        state.nextStreamItem += 1
        // Flush later items that already finished or started streaming.
        while true {
            let next = state.nextStreamItem
            guard let buffered = state.streamBuffers.removeValue(forKey: next) else { break }
            out += buffered
            if state.streamEnded.contains(next) {
                out += "\n"
                state.nextStreamItem += 1
            } else {
                break
            }
        }
        return out
    }

    private func redraw() {
        let now = ContinuousClock.now
        let text: String = state.withLock { state in
            var out = ""
            if state.drawnLines > 0 { out += "\u{1B}[\(state.drawnLines)A" }
            for name in steps {
                let view = state.views[name] ?? StepView()
                let symbol: String
                var detail = ""
                switch view.phase {
                case .waiting: symbol = paint("·", .dim); detail = "waiting"
                case .running:
                    symbol = paint("●", .blue)
                    detail = "running " + Self.seconds(now - (view.started ?? now))
                    if let items = view.items { detail += "  \(view.itemsDone)/\(items) items" }
                    if view.tokens > 0 { detail += "  \(view.tokens) tokens" }
                    if view.retries > 0 { detail += "  \(view.retries) retries" }
                case .finished:
                    symbol = paint("✓", .green)
                    detail = "done " + Self.seconds((view.ended ?? now) - (view.started ?? now))
                    if view.fromStore { detail += " (from the store)" }
                case .failed: symbol = paint("✗", .red); detail = "failed"
                case .skipped: symbol = paint("–", .dim); detail = "skipped" + (view.message.map { " (\($0))" } ?? "")
                case .notRun: symbol = paint("·", .dim); detail = "not run"
                }
                out += "\u{1B}[2K \(symbol) \(name)  \(paint(detail, .dim))\n"
            }
            var lines = steps.count
            for provider in state.throttles.keys.sorted() {
                guard let (throttle, until) = state.throttles[provider] else { continue }
                guard now < until + Self.throttleLinger else {
                    state.throttles[provider] = nil
                    continue
                }
                out += "\u{1B}[2K " + paint("⏸", .yellow) + " " + Self.throttleLine(throttle, remaining: until - now) + "\n"
                lines += 1
            }
            // A throttle line that went away leaves a cleared line, so the view never moves up
            // over what was printed before it.
            while lines < state.drawnLines {
                out += "\u{1B}[2K\n"
                lines += 1
            }
            state.drawnLines = lines
            return out
        }
        Terminal.standardError.write(text)
    }

    /// `novita: throttled — 180/min, 37× 429, waiting 4s`: the rate the provider's limiter
    /// allows now, its 429s so far, and what is left of the latest wait.
    static func throttleLine(_ throttle: ProviderThrottle, remaining: Duration) -> String {
        var line = "\(throttle.provider): throttled — \(throttle.rateDescription)"
        if throttle.rateLimited > 0 { line += ", \(throttle.rateLimited)× 429" }
        let seconds = max(0, remaining.inSeconds)
        line += seconds >= 10 ? String(format: ", waiting %.0fs", seconds) : String(format: ", waiting %.1fs", seconds)
        return line
    }

    enum Color: String { case red = "31", green = "32", yellow = "33", blue = "34", dim = "2" }

    private func paint(_ text: String, _ code: Color) -> String {
        color ? "\u{1B}[\(code.rawValue)m\(text)\u{1B}[0m" : text
    }

    static func seconds(_ duration: Duration) -> String {
        let seconds = duration.inSeconds
        return String(format: "%.1fs", seconds)
    }
}
