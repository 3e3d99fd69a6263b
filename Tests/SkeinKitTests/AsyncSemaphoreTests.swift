import Foundation
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// The run's concurrency limits: at most `limit` bodies at once, waiters served in
/// arrival order, a cancelled waiter leaving the queue without taking a permit.
@Suite struct AsyncSemaphoreTests {
    // NSLock rather than Mutex in these helpers: ThreadSanitizer does not see a contended
    // Mutex's handover on Linux (scripts/lib/tsan.supp), and these are not Skein's code.

    /// Counts bodies running at once and the most seen.
    final class Gauge: @unchecked Sendable {
        private let lock = NSLock()
        private var running = 0
        private var most = 0
        func enter() { lock.withLock { running += 1; most = max(most, running) } }
        func leave() { lock.withLock { running -= 1 } }
        var peak: Int { lock.withLock { most } }
        var now: Int { lock.withLock { running } }
    }

    /// The order in which bodies ran.
    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [Int] = []
        func append(_ entry: Int) { lock.withLock { entries.append(entry) } }
        var all: [Int] { lock.withLock { entries } }
    }

    @Test func neverMoreThanTheLimitRunAtOnce() async throws {
        let semaphore = AsyncSemaphore(limit: 3)
        let gauge = Gauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<60 {
                group.addTask {
                    try await semaphore.withPermit {
                        gauge.enter()
                        try await Task.sleep(for: .milliseconds(2))
                        gauge.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(gauge.peak == 3)
        #expect(gauge.now == 0)
        // Every permit came back: three more bodies start at once.
        for _ in 0..<3 { try await semaphore.acquire() }
        for _ in 0..<3 { semaphore.release() }
    }

    @Test func waitersAreServedInArrivalOrder() async throws {
        let semaphore = AsyncSemaphore(limit: 1)
        try await semaphore.acquire()
        let order = Log()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<5 {
                group.addTask {
                    try await semaphore.withPermit { order.append(index) }
                }
                // Let each waiter queue before the next one starts.
                while semaphore.waiting < index + 1 { await Task.yield() }
            }
            semaphore.release()
            try await group.waitForAll()
        }
        #expect(order.all == [0, 1, 2, 3, 4])
    }

    @Test func aCancelledWaiterThrowsAndTakesNoPermit() async throws {
        let semaphore = AsyncSemaphore(limit: 1)
        try await semaphore.acquire()
        let waiter = Task { try await semaphore.acquire() }
        while semaphore.waiting < 1 { await Task.yield() }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(semaphore.waiting == 0)
        // The one permit is still the holder's: giving it back lets the next caller in at once.
        semaphore.release()
        try await semaphore.acquire()
        semaphore.release()
    }

    @Test func aTaskCancelledBeforeItWaitsThrowsAtOnce() async throws {
        let semaphore = AsyncSemaphore(limit: 1)
        try await semaphore.acquire()
        let waiter = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await semaphore.acquire()
        }
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(semaphore.waiting == 0)
        semaphore.release()
    }
}
