/// Everything `skein validate` checks, in order: the file (YAML and structure), then its
/// templates and the graph of references. Collects every diagnostic.
public struct PipelineValidator: Sendable {
    public struct Result: Sendable {
        public var pipeline: Pipeline?
        public var diagnostics: [Diagnostic]
        public var sourceText: String?
        public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
    }

    public var loader: PipelineLoader

    public init(loader: PipelineLoader = PipelineLoader()) {
        self.loader = loader
    }

    /// Loads the file, parses its templates and checks its graph.
    public func validate(path: String) -> Result {
        validateGraph(path: path).1
    }
}
