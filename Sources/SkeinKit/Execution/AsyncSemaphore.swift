import DequeModule
import Synchronization

/// A counting semaphore for tasks: `withPermit` waits (without blocking a thread) until
/// fewer than `limit` bodies are running. Waiters are served in arrival order; a
/// cancelled waiter leaves the queue and throws `CancellationError`.
///
/// A lock, not an actor: taking a free permit and giving one back are a few instructions
/// under a mutex on the caller's thread. As an actor, every `withPermit` hopped onto the
/// actor, off it for the body and back on to release: four executor switches per request
/// for each of the two semaphores a `for_each` item passes (measured in the engine-overhead
/// benchmark, see BENCHMARKS.md).
final class AsyncSemaphore: Sendable {
    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var inUse = 0
        var waiters = Deque<Waiter>()
        var nextID = 0
    }

    /// The most permits out at once.
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    func withPermit<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }

    func acquire() async throws {
        let limit = self.limit
        let id: Int? = state.withLock { state in
            if state.inUse < limit {
                state.inUse += 1
                return nil
            }
            defer { state.nextID += 1 }
            return state.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Checked under the lock: a cancellation handler that ran before this point
                // found no waiter to remove, and the flag it follows is already set.
                let cancelled = state.withLock { state -> Bool in
                    if Task.isCancelled { return true }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let removed = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            removed?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Tasks waiting for a permit now.
    var waiting: Int { state.withLock { $0.waiters.count } }

    func release() {
        // Hand the permit straight to the next waiter, if any.
        let next = state.withLock { state -> Waiter? in
            if let next = state.waiters.popFirst() { return next }
            state.inUse -= 1
            return nil
        }
        next?.continuation.resume()
    }
}
