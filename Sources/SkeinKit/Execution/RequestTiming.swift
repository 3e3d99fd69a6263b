import Synchronization

/// When a request went out and when its reply's first byte came, for the history and the
/// report's timeline (queued, sent, first byte, done). One per request the provider is
/// asked, filled from the task that sends it and from the client's events.
final class RequestTiming: Sendable {
    private struct Marks {
        var sent: ContinuousClock.Instant?
        var firstByte: ContinuousClock.Instant?
    }

    /// When the request was ready (before it waited for a slot).
    let began: ContinuousClock.Instant
    private let marks = Mutex(Marks())

    init(began: ContinuousClock.Instant) {
        self.began = began
    }

    /// The request has its slot (and its budget) and goes out now.
    func markSent() {
        let now = ContinuousClock.now
        marks.withLock { if $0.sent == nil { $0.sent = now } }
    }

    /// A streamed reply's text (or reasoning, or a tool call) arrived: the first of it counts.
    /// The time to the first token is what a stream's first byte means to a user; a server
    /// sends the head of a stream before it has any.
    func markFirstByte() {
        marks.withLock { marks in
            if marks.firstByte == nil { marks.firstByte = .now }
        }
    }

    /// An attempt failed and the next starts over: its text is void, and so is its first byte.
    func attemptFailed() {
        marks.withLock { $0.firstByte = nil }
    }

    /// Seconds from `began` until it went out.
    var sentAfter: Double? { marks.withLock { $0.sent }.map { ($0 - began).inSeconds } }
    /// Seconds from `began` until the first byte.
    var firstByteAfter: Double? { marks.withLock { $0.firstByte }.map { ($0 - began).inSeconds } }
}
