/// The time source the client paces, backs off and throttles by.
///
/// Tests pass a clock whose `sleep` only records the wait and moves `now` on, so that
/// a 30-second `Retry-After` takes no time and its length can be asserted. Per-attempt
/// timeouts always use real time: they guard real I/O.
public struct ClientClock: Sendable {
    /// The time since some fixed point (only differences matter).
    public var now: @Sendable () -> Duration
    /// Waits for the given time; throws `CancellationError` when the task is cancelled.
    public var sleep: @Sendable (Duration) async throws -> Void

    public init(now: @escaping @Sendable () -> Duration, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }

    /// Real time, from `ContinuousClock`.
    public static var continuous: ClientClock {
        let start = ContinuousClock.now
        return ClientClock(
            now: { ContinuousClock.now - start },
            sleep: { duration in
                if duration > .zero { try await Task.sleep(for: duration) }
            })
    }
}
