/// What may run next: a pure state machine over the graph, in the manner of ninja's Plan.
///
/// The scheduler tells the plan what happened to a step (`finished`, `failed`, `skipped`)
/// and does what the returned actions say. The plan does no I/O, so every rule of the run
/// — fail-fast, `--keep-going`, skipping what depends on a failure, a `when` that reads a
/// dependency's `.status` — is tested on its own.
public struct Plan: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case waiting, running, finished, failed, skipped, notRun
    }

    public enum Action: Sendable, Hashable {
        /// Start the step: every dependency has ended.
        case start(Int)
        /// Skip the step without running it: `because` is the dependency that failed or was skipped.
        case skip(Int, because: Int)
    }

    public enum FailurePolicy: Sendable, Hashable {
        /// After the first failure start nothing new; let running steps finish (make's default).
        case stopOnFirstFailure
        /// Run every step that does not depend on a failure (make's `-k`).
        case keepGoing
    }

    public private(set) var states: [State]
    let dependencies: [[Int]]
    let dependents: [[Int]]
    let statusDependencies: [Set<Int>]
    let policy: FailurePolicy
    private var unresolved: [Int]
    public private(set) var isStopping = false

    public init(dependencies: [[Int]], statusDependencies: [Set<Int>]? = nil, policy: FailurePolicy = .stopOnFirstFailure) {
        self.dependencies = dependencies
        var dependents = [[Int]](repeating: [], count: dependencies.count)
        for (step, deps) in dependencies.enumerated() { for dependency in deps { dependents[dependency].append(step) } }
        self.dependents = dependents
        self.statusDependencies = statusDependencies ?? Array(repeating: [], count: dependencies.count)
        self.policy = policy
        states = Array(repeating: .waiting, count: dependencies.count)
        unresolved = dependencies.map(\.count)
    }

    public init(graph: PipelineGraph, policy: FailurePolicy = .stopOnFirstFailure) {
        self.init(dependencies: graph.dependencies, statusDependencies: graph.statusDependencies, policy: policy)
    }

    /// The steps with no dependencies.
    public mutating func start() -> [Action] {
        var actions: [Action] = []
        for step in states.indices where unresolved[step] == 0 && states[step] == .waiting {
            states[step] = .running
            actions.append(.start(step))
        }
        return actions
    }

    public mutating func finished(_ step: Int) -> [Action] { resolve(step, as: .finished) }

    public mutating func failed(_ step: Int) -> [Action] {
        if policy == .stopOnFirstFailure { isStopping = true }
        return resolve(step, as: .failed)
    }

    /// The step ran its `when` and it was false (or it was skipped for another reason).
    public mutating func skipped(_ step: Int) -> [Action] { resolve(step, as: .skipped) }

    /// Stops starting new steps (an interrupt): what is waiting becomes `.notRun`.
    public mutating func stop() {
        isStopping = true
        for step in states.indices where states[step] == .waiting { states[step] = .notRun }
    }

    /// True when no step is running and nothing more will start.
    public var isDone: Bool { !states.contains(.running) && (isStopping || !states.contains(.waiting)) }

    private mutating func resolve(_ step: Int, as state: State) -> [Action] {
        states[step] = state
        var actions: [Action] = []
        var queue = [step]
        while let current = queue.popLast() {
            for dependent in dependents[current] where states[dependent] == .waiting {
                unresolved[dependent] -= 1
                guard unresolved[dependent] == 0 else { continue }
                if isStopping {
                    states[dependent] = .notRun
                    continue
                }
                // A dependency that did not finish skips the step, unless its `when` reads that
                // dependency's status (then the `when` decides).
                let blocker = dependencies[dependent].first { dependency in
                    (states[dependency] == .failed || states[dependency] == .skipped || states[dependency] == .notRun)
                        && !statusDependencies[dependent].contains(dependency)
                }
                if let blocker {
                    states[dependent] = .skipped
                    actions.append(.skip(dependent, because: blocker))
                    queue.append(dependent)
                } else {
                    states[dependent] = .running
                    actions.append(.start(dependent))
                }
            }
        }
        if isStopping {
            for index in states.indices where states[index] == .waiting { states[index] = .notRun }
        }
        return actions
    }
}
