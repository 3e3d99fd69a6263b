import Foundation
import SkeinKit
import Synchronization

/// Records a run as Chrome trace events (the JSON that Perfetto and chrome://tracing
/// open): one track per concurrent request, one slice per request and per step.
final class TraceRecorder: Sendable {
    private struct State: Sendable {
        var events: [JSONValue] = []
        var openRequests: [String: (start: Double, track: Int)] = [:]
        var openSteps: [String: Double] = [:]
        var busyTracks = Set<Int>()
    }

    private let start = ContinuousClock.now
    private let state = Mutex(State())

    private func microseconds() -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
    }

    func record(_ event: RunEvent) {
        let now = microseconds()
        state.withLock { state in
            switch event {
            case .stepStarted(let step, _):
                state.openSteps[step] = now
            case .requestStarted(let step, let item):
                var track = 1
                while state.busyTracks.contains(track) { track += 1 }
                state.busyTracks.insert(track)
                state.openRequests[Self.key(step, item)] = (now, track)
            case .retry(let step, let item, let attempt, _, let message):
                let track = state.openRequests[Self.key(step, item)]?.track ?? 1
                state.events.append([
                    "name": .string("retry \(attempt)"), "ph": "i", "s": "t", "ts": .double(now), "pid": 1, "tid": .int(track),
                    "args": ["message": .string(message)],
                ])
            case .requestFinished(let step, let item, let usage, let attempts):
                guard let open = state.openRequests.removeValue(forKey: Self.key(step, item)) else { return }
                state.busyTracks.remove(open.track)
                var args: JSONValue.JSONObject = ["attempts": .int(attempts)]
                if let usage { args["usage"] = usage.jsonValue }
                state.events.append([
                    "name": .string(item.map { "\(step)[\($0)]" } ?? step), "cat": "request", "ph": "X",
                    "ts": .double(open.start), "dur": .double(now - open.start), "pid": 1, "tid": .int(open.track),
                    "args": .object(args),
                ])
            case .turnFinished(let step, let item, let turn, let usage, let attempts):
                guard let open = state.openRequests.removeValue(forKey: Self.key(step, item)) else { return }
                state.busyTracks.remove(open.track)
                var args: JSONValue.JSONObject = ["attempts": .int(attempts), "turn": .int(turn)]
                if let usage { args["usage"] = usage.jsonValue }
                state.events.append([
                    "name": .string((item.map { "\(step)[\($0)]" } ?? step) + " turn \(turn)"), "cat": "request", "ph": "X",
                    "ts": .double(open.start), "dur": .double(now - open.start), "pid": 1, "tid": .int(open.track),
                    "args": .object(args),
                ])
            case .toolStarted(let step, let item, _, _, let callID, _):
                var track = 1
                while state.busyTracks.contains(track) { track += 1 }
                state.busyTracks.insert(track)
                state.openRequests["tool:" + Self.key(step, item) + "#" + callID] = (now, track)
            case .toolFinished(let step, let item, let turn, let tool, let callID, _, let error, let cached, _):
                var args: JSONValue.JSONObject = ["turn": .int(turn), "cached": .bool(cached)]
                if let error { args["error"] = .string(error) }
                let label = "tool \(tool)" + (item.map { " [\($0)]" } ?? "")
                guard let open = state.openRequests.removeValue(forKey: "tool:" + Self.key(step, item) + "#" + callID) else {
                    // Replayed from the store: an instant on the requests' first track.
                    state.events.append([
                        "name": .string(label + " (stored)"), "cat": "tool", "ph": "i", "s": "t", "ts": .double(now), "pid": 1,
                        "tid": 1, "args": .object(args),
                    ])
                    return
                }
                state.busyTracks.remove(open.track)
                state.events.append([
                    "name": .string(label), "cat": "tool", "ph": "X", "ts": .double(open.start), "dur": .double(now - open.start),
                    "pid": 1, "tid": .int(open.track), "args": .object(args),
                ])
            case .stepEnded(let result):
                let begin = state.openSteps.removeValue(forKey: result.name) ?? now
                state.events.append([
                    "name": .string(result.name), "cat": "step", "ph": "X", "ts": .double(begin), "dur": .double(now - begin),
                    "pid": 0, "tid": 0, "args": ["status": .string(result.status.rawValue)],
                ])
            case .token, .throttled:
                break
            }
        }
    }

    static func key(_ step: String, _ item: Int?) -> String { item.map { "\(step)#\($0)" } ?? step }

    func json() -> String {
        let events = state.withLock { $0.events }
        let metadata: [JSONValue] = [
            ["name": "process_name", "ph": "M", "pid": 0, "args": ["name": "steps"]],
            ["name": "process_name", "ph": "M", "pid": 1, "args": ["name": "requests"]],
        ]
        return JSONValue.object(["traceEvents": .array(metadata + events), "displayTimeUnit": "ms"]).serialized() + "\n"
    }
}
