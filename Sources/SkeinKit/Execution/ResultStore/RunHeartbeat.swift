import Foundation
import Synchronization

/// Keeps `runs.heartbeat_at` fresh for the runs this process has running, so that a store
/// shared by several machines can tell a run still going on another machine from one whose
/// process died there (SIGKILL, a crash, the machine stopped): liveness by pid works only on
/// the machine that ran it. Both stores write the beat; `RunSummary.shownStatus` reads it.
///
/// One task per store, beating every `interval` while any run is open; none otherwise.
final class RunHeartbeat: Sendable {
    /// How often a running run's process writes its beat.
    static let defaultInterval: Duration = .seconds(30)
    /// A run of another machine not heard from for this many intervals is shown as killed
    /// (four: a busy store or a slow beat is not a death).
    static let missedBeats = 4.0

    let interval: Duration
    private let state = Mutex<(runs: Set<Int64>, task: Task<Void, Never>?)>(([], nil))

    init(interval: Duration) {
        self.interval = interval
    }

    /// After a run was begun (its first beat is written with its row).
    /// - Parameter beat: writes the beat of these runs; errors are the store's to swallow (a
    ///   missed beat is written again at the next). Capture the store weakly: the beating
    ///   task holds it.
    func started(_ run: Int64, beat: @escaping @Sendable ([Int64]) async -> Void) {
        state.withLock { state in
            state.runs.insert(run)
            guard state.task == nil else { return }
            state.task = Task { [weak self, interval] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self, !Task.isCancelled else { return }
                    let runs = self.state.withLock { Array($0.runs) }
                    if !runs.isEmpty { await beat(runs) }
                }
            }
        }
    }

    /// After a run was ended: its beats stop (and the task, with the last run).
    func ended(_ run: Int64) {
        state.withLock { state in
            state.runs.remove(run)
            if state.runs.isEmpty {
                state.task?.cancel()
                state.task = nil
            }
        }
    }

    /// Stops beating (the store is closing).
    func stop() {
        state.withLock { state in
            state.task?.cancel()
            state.task = nil
            state.runs.removeAll()
        }
    }

    deinit { state.withLock { $0.task?.cancel() } }
}
