import Testing
@testable import SkeinCore
@testable import SkeinKit

/// The Plan decides what starts and what is skipped; tested as a state machine, no I/O.
@Suite struct PlanTests {
    // a -> (b, c) -> d
    let diamond: [[Int]] = [[], [0], [0], [1, 2]]

    @Test func diamondStartsEachStepWhenItsLastDependencyEnds() {
        var plan = Plan(dependencies: diamond)
        #expect(plan.start() == [.start(0)])
        #expect(plan.finished(0) == [.start(1), .start(2)])
        #expect(plan.finished(2) == [])
        #expect(plan.finished(1) == [.start(3)])
        #expect(!plan.isDone)
        #expect(plan.finished(3) == [])
        #expect(plan.isDone)
    }

    @Test func independentStepsStartTogether() {
        var plan = Plan(dependencies: [[], [], [], [0, 1, 2]])
        #expect(plan.start() == [.start(0), .start(1), .start(2)])
    }

    @Test func failFastStartsNothingNewButLetsRunningStepsFinish() {
        // 0 -> 1; 2 -> 3 (independent branches)
        var plan = Plan(dependencies: [[], [0], [], [2]])
        #expect(plan.start() == [.start(0), .start(2)])
        #expect(plan.failed(0) == [])
        #expect(plan.isStopping)
        #expect(!plan.isDone)  // step 2 is still running
        #expect(plan.finished(2) == [])  // 3 does not start
        #expect(plan.isDone)
        #expect(plan.states == [.failed, .notRun, .finished, .notRun])
    }

    @Test func keepGoingRunsEveryBranchThatDoesNotDependOnTheFailure() {
        var plan = Plan(dependencies: [[], [0], [], [2], [1, 3]], policy: .keepGoing)
        #expect(plan.start() == [.start(0), .start(2)])
        #expect(plan.failed(0) == [.skip(1, because: 0)])
        #expect(plan.finished(2) == [.start(3)])
        #expect(plan.finished(3) == [.skip(4, because: 1)])
        #expect(plan.isDone)
        #expect(plan.states == [.failed, .skipped, .finished, .finished, .skipped])
    }

    @Test func skipsCascadeDownTheGraph() {
        var plan = Plan(dependencies: [[], [0], [1], [2]])
        _ = plan.start()
        #expect(plan.skipped(0) == [.skip(1, because: 0), .skip(2, because: 1), .skip(3, because: 2)])
        #expect(plan.isDone)
    }

    @Test func aWhenThatReadsStatusRunsAfterAFailure() {
        // 1 reads steps.0.status in its `when`; 2 reads 0's output.
        var plan = Plan(dependencies: [[], [0], [0]], statusDependencies: [[], [0], []], policy: .keepGoing)
        _ = plan.start()
        #expect(plan.failed(0) == [.start(1), .skip(2, because: 0)])
    }

    @Test func stopMarksWaitingStepsNotRun() {
        var plan = Plan(dependencies: diamond)
        _ = plan.start()
        plan.stop()
        #expect(plan.finished(0) == [])
        #expect(plan.isDone)
        #expect(plan.states == [.finished, .notRun, .notRun, .notRun])
    }
}
