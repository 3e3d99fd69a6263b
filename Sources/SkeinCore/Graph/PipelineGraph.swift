import OrderedCollections

/// The DAG of a pipeline: which step reads which, in what order steps may run, and the
/// checks that need the whole picture (unknown references, cycles, schema fields).
///
/// Steps are numbered in file order; edges point from a step to the steps it depends on.
/// Topological order, levels and the critical path are computed once, in time linear in
/// steps plus edges (Kahn's algorithm), so 2,000-step pipelines validate instantly.
public struct PipelineGraph: Sendable {
    public let compiled: CompiledPipeline
    /// Step names by index (file order).
    public let names: [String]
    public let index: [String: Int]
    /// For each step, the steps it depends on (sorted, unique).
    public let dependencies: [[Int]]
    /// For each step, the steps that depend on it (sorted, unique).
    public let dependents: [[Int]]
    /// For each step, the dependencies whose `.status` its `when` reads: such a step still
    /// runs (its `when` decides) when that dependency failed or was skipped.
    public let statusDependencies: [Set<Int>]
    /// A topological order: every step after all its dependencies; ties in file order.
    public let order: [Int]
    /// The level of each step: 0 for steps with no dependencies, else 1 + the highest
    /// level among its dependencies.
    public let levels: [Int]
    /// The longest chain of dependent steps, first to last.
    public let criticalPath: [Int]

    public var pipeline: Pipeline { compiled.pipeline }
    public var stepCount: Int { names.count }

    /// Builds the graph and runs every check that needs it.
    /// - Returns: the graph when there are no errors, and every diagnostic (warnings too).
    public static func build(_ compiled: CompiledPipeline) -> (PipelineGraph?, [Diagnostic]) {
        var builder = GraphBuilder(compiled: compiled)
        builder.run()
        var diagnostics = builder.diagnostics + ExpectationCheck.check(compiled.pipeline)
        guard !diagnostics.contains(where: { $0.severity == .error }) else { return (nil, diagnostics) }
        let count = builder.names.count
        var dependents = [[Int]](repeating: [], count: count)
        for (step, deps) in builder.dependencies.enumerated() {
            for dependency in deps { dependents[dependency].append(step) }
        }

        // Kahn's algorithm over a FIFO ready queue: the steps with no dependencies first, in
        // file order, then each step as its last dependency is taken off the queue. The
        // order is a topological order, not file order.
        var remaining = builder.dependencies.map(\.count)
        var ready = (0..<count).filter { remaining[$0] == 0 }
        var order: [Int] = []
        order.reserveCapacity(count)
        var levels = [Int](repeating: 0, count: count)
        var head = 0
        while head < ready.count {
            let step = ready[head]
            head += 1
            order.append(step)
            for dependent in dependents[step] {
                levels[dependent] = max(levels[dependent], levels[step] + 1)
                remaining[dependent] -= 1
                if remaining[dependent] == 0 { ready.append(dependent) }
            }
        }
        if order.count < count {
            diagnostics.append(builder.cycleDiagnostic(remaining: remaining))
            return (nil, diagnostics)
        }

        // Critical path: the longest chain, following the dependency that set each level.
        var criticalPath: [Int] = []
        if let last = (0..<count).max(by: { levels[$0] < levels[$1] || (levels[$0] == levels[$1] && $0 > $1) }) {
            var step = last
            criticalPath.append(step)
            while levels[step] > 0,
                let previous = builder.dependencies[step].first(where: { levels[$0] == levels[step] - 1 })
            {
                criticalPath.append(previous)
                step = previous
            }
            criticalPath.reverse()
        }
        let graph = PipelineGraph(
            compiled: compiled, names: builder.names, index: builder.index, dependencies: builder.dependencies,
            dependents: dependents, statusDependencies: builder.statusDependencies, order: order, levels: levels,
            criticalPath: criticalPath)
        return (graph, diagnostics)
    }

    /// The compiled step at `index`.
    public func step(_ index: Int) -> CompiledStep { compiled.steps.values[index] }
}

/// Loads, compiles and checks a pipeline file: everything `skein validate` reports.
extension PipelineValidator {
    /// Validates a file and, when it is valid, returns its graph.
    public func validateGraph(path: String) -> (PipelineGraph?, Result) {
        graph(of: loader.load(path: path))
    }

    /// The same for a pipeline's text (`skein test --against REV`: the file at a revision).
    public func validateGraph(text: String, path: String) -> (PipelineGraph?, Result) {
        graph(of: loader.load(text: text, path: path))
    }

    func graph(of loaded: PipelineLoader.Result) -> (PipelineGraph?, Result) {
        var result = Result(pipeline: loaded.pipeline, diagnostics: loaded.diagnostics, sourceText: loaded.pipeline?.sourceText)
        guard let pipeline = loaded.pipeline else { return (nil, result) }
        let (compiled, templateDiagnostics) = CompiledPipeline.compile(pipeline)
        result.diagnostics += templateDiagnostics
        guard let compiled else { return (nil, result) }
        let (graph, graphDiagnostics) = PipelineGraph.build(compiled)
        result.diagnostics += graphDiagnostics
        result.diagnostics.sort { ($0.location ?? SourceLocation(file: "", line: 0, column: 0)) < ($1.location ?? SourceLocation(file: "", line: 0, column: 0)) }
        return (graph, result)
    }
}

extension PipelineGraph {
    /// The graph of a pipeline changed after loading (`skein test --vary temperature=...`).
    public static func build(pipeline: Pipeline) -> (PipelineGraph?, [Diagnostic]) {
        let (compiled, diagnostics) = CompiledPipeline.compile(pipeline)
        guard let compiled else { return (nil, diagnostics) }
        let (graph, graphDiagnostics) = PipelineGraph.build(compiled)
        return (graph, diagnostics + graphDiagnostics)
    }
}
