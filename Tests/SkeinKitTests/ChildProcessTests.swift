import Foundation
import Testing

@testable import SkeinTesting

/// `ChildProcess` runs blocking calls where they hold up nothing else of the process.
@Suite struct ChildProcessTests {
    /// Blocked calls must not hold the threads that deliver timers. On Dispatch's global
    /// queues they did: with a dozen blocked there, a 100 ms `Task.sleep` took 21.8 s, and
    /// libdispatch adds a thread for blocked ones about once a second, so 64 blocked calls
    /// hold timers for about a minute: far beyond what load alone does to three short sleeps
    /// (up to 10 s seen in the whole suite on two cores).
    @Test func blockedCallsLeaveTimersOnTime() async throws {
        let gate = DispatchSemaphore(value: 0)
        let blocked = 64
        let waiting = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<blocked { group.addTask { await ChildProcess.offThePool { gate.wait() } } }
            }
        }
        // Whatever happens below, the blocked calls are let go within 120 s.
        let release = Thread {
            Thread.sleep(forTimeInterval: 120)
            for _ in 0..<blocked { gate.signal() }
        }
        release.start()
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<3 { try await Task.sleep(for: .milliseconds(100)) }
        let slept = clock.now - started
        #expect(slept < .seconds(30), "three 100 ms sleeps took \(slept) while \(blocked) calls were blocked")
        for _ in 0..<blocked { gate.signal() }
        await waiting.value
    }

    @Test func aChildsOutputErrorsAndStatusComeBack() async throws {
        let result = try await ChildProcess.run(["sh", "-c", "cat; echo oops >&2; exit 3"], input: Data("hello".utf8))
        #expect(result.status == 3)
        #expect(result.text == "hello")
        #expect(result.errorText == "oops\n")
    }
}
