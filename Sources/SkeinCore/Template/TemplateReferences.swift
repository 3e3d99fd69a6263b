/// A path a template reads, such as `steps.extract.output.title`, found without
/// rendering: the graph turns references into edges, validation checks them against
/// declared inputs and upstream schemas.
public struct TemplateReference: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        /// A field (the first component is the root name).
        case key(String)
        /// A constant index, `[0]` or `[-1]`.
        case index(Int)
        /// Each element of a list a `for` loop iterates.
        case anyElement
        /// A subscript computed at render time, `a[b]`.
        case dynamic
    }

    public var path: [Component]
    /// Where the path starts (its first name) in the pipeline file.
    public var location: SourceLocation
    /// The read is under `is defined` / `is undefined`, inside an `{% if %}` that checks
    /// the path or a prefix of it is defined, or the input of `default`: validation must
    /// not report it as missing.
    public var isGuarded: Bool

    public init(path: [Component], location: SourceLocation, isGuarded: Bool) {
        self.path = path
        self.location = location
        self.isGuarded = isGuarded
    }

    /// `steps.extract.output.title`, `steps.a.output[*].name`, `inputs["odd key"]`,
    /// `items[0]`, `table[?]` for a computed subscript.
    public var dotted: String {
        var text = ""
        for (position, component) in path.enumerated() {
            switch component {
            case .key(let key): text += position == 0 ? key : TemplateReference.describeKey(key)
            case .index(let index): text += "[\(index)]"
            case .anyElement: text += "[*]"
            case .dynamic: text += "[?]"
            }
        }
        return text
    }

    public var description: String { dotted }

    /// `.key` for a key that is a name, `["key"]` otherwise.
    static func describeKey(_ key: String) -> String {
        let isName =
            key.unicodeScalars.first.map { $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) } == true
            && key.unicodeScalars.allSatisfy {
                $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
            }
        if isName { return "." + key }
        var quoted = ""
        JSONValue.writeString(key, to: &quoted)
        return "[\(quoted)]"
    }
}

/// Walks a template's AST and lists every path it reads. Loop variables and `set`
/// variables bound to a path are replaced by that path (`it.name` in a loop over
/// `steps.a.output` reads `steps.a.output[*].name`); variables bound to anything else
/// (`set n = a ~ b`) are local and not reported; `loop.*` is never reported.
struct TemplateReferenceCollector {
    struct Found {
        var path: [TemplateReference.Component]
        var offset: Int
        var isGuarded: Bool
    }

    private enum Binding {
        case alias([TemplateReference.Component], isGuarded: Bool)
        case local
        case loop
    }

    private var scopes: [[String: Binding]] = [[:]]
    /// Paths known to be defined where the walk is (from enclosing `is defined` checks).
    private var facts: [[TemplateReference.Component]] = []
    private var found: [Found] = []

    static func collect(_ nodes: [TemplateNode]) -> [Found] {
        var collector = TemplateReferenceCollector()
        collector.visit(nodes)
        return collector.found
    }

    private mutating func visit(_ nodes: [TemplateNode]) {
        for node in nodes {
            switch node {
            case .text:
                break
            case .output(let expression):
                visit(expression.takeUnretainedValue(), isGuarded: false)
            case .conditional(let conditional):
                let conditional = conditional.takeUnretainedValue()
                let (branches, otherwise) = (conditional.branches, conditional.otherwise)
                var knownWhenFalse: [[TemplateReference.Component]] = []
                for branch in branches {
                    withFacts(knownWhenFalse) { $0.visit(branch.condition, isGuarded: false) }
                    withFacts(knownWhenFalse + definedPaths(branch.condition, whenTrue: true)) { $0.visit(branch.body) }
                    knownWhenFalse += definedPaths(branch.condition, whenTrue: false)
                }
                if let otherwise { withFacts(knownWhenFalse) { $0.visit(otherwise) } }
            case .loop(let loop):
                let loop = loop.takeUnretainedValue()
                visit(loop.sequence, isGuarded: false)
                var element = Binding.local
                if let (path, isGuarded) = resolvedPath(loop.sequence) {
                    element = .alias(path + [.anyElement], isGuarded: isGuarded)
                }
                scopes.append(["loop": .loop, loop.variable: element])
                visit(loop.body)
                scopes.removeLast()
                if let otherwise = loop.otherwise { visit(otherwise) }
            case .assignment(let assignment):
                let (name, value) = (assignment.takeUnretainedValue().name, assignment.takeUnretainedValue().value)
                visit(value, isGuarded: false)
                var binding = Binding.local
                if let (path, isGuarded) = resolvedPath(value) { binding = .alias(path, isGuarded: isGuarded) }
                bind(name, binding)
            case .blockAssignment(let assignment):
                let (name, body) = (assignment.takeUnretainedValue().name, assignment.takeUnretainedValue().body)
                scopes.append([:])
                visit(body)
                scopes.removeLast()
                bind(name, .local)
            }
        }
    }

    private mutating func bind(_ name: String, _ binding: Binding) {
        scopes[scopes.count - 1][name] = binding
    }

    private func binding(of name: String) -> Binding? {
        for scope in scopes.reversed() {
            if let binding = scope[name] { return binding }
        }
        return nil
    }

    private mutating func withFacts(_ added: [[TemplateReference.Component]], _ body: (inout Self) -> Void) {
        let count = facts.count
        facts += added
        body(&self)
        facts.removeSubrange(count...)
    }

    private func isKnownDefined(_ path: [TemplateReference.Component]) -> Bool {
        facts.contains { fact in fact.count <= path.count && path.starts(with: fact) }
    }

    private mutating func visit(_ expression: TemplateExpression, isGuarded: Bool) {
        switch expression.kind {
        case .variable, .access:
            if let (path, pathIsGuarded) = resolvedPath(expression) {
                found.append(Found(path: path, offset: expression.offset, isGuarded: isGuarded || pathIsGuarded))
            }
            if case .access(let base, let accesses) = expression.kind {
                if case .variable = base.kind {} else { visit(base, isGuarded: false) }
                for access in accesses {
                    if case .dynamic(let key) = access.kind { visit(key, isGuarded: false) }
                }
            }
        case .test(let operand, let test, _):
            visit(operand, isGuarded: test != .none)
        case .filter(let input, let call) where call.filter == .default:
            visit(input, isGuarded: true)
            if let fallback = call.arguments[0] { visit(fallback, isGuarded: isGuarded) }
            if let boolean = call.arguments[1] { visit(boolean, isGuarded: false) }
        case .logical(let operation, let left, let right):
            visit(left, isGuarded: false)
            withFacts(definedPaths(left, whenTrue: operation == .and)) { $0.visit(right, isGuarded: false) }
        case .conditional(let condition, let then, let otherwise):
            visit(condition, isGuarded: false)
            withFacts(definedPaths(condition, whenTrue: true)) { $0.visit(then, isGuarded: isGuarded) }
            withFacts(definedPaths(condition, whenTrue: false)) { $0.visit(otherwise, isGuarded: isGuarded) }
        default:
            for child in expression.kind.children { visit(child, isGuarded: false) }
        }
    }

    /// The path an expression reads with aliases resolved, and whether the read is
    /// guarded; nil for locals, `loop` and anything that is not a path.
    private func resolvedPath(_ expression: TemplateExpression) -> ([TemplateReference.Component], Bool)? {
        switch expression.kind {
        case .variable(let name):
            return resolvedPath(name: name, accesses: [])
        case .access(let base, let accesses):
            guard case .variable(let name) = base.kind else { return nil }
            return resolvedPath(name: name, accesses: accesses)
        case .filter(let input, let call) where call.filter == .default:
            return resolvedPath(input).map { ($0.0, true) }
        default:
            return nil
        }
    }

    private func resolvedPath(name: String, accesses: [TemplateAccess]) -> ([TemplateReference.Component], Bool)? {
        let steps: [TemplateReference.Component] = accesses.map {
            switch $0.kind {
            case .key(let key): return .key(key)
            case .index(let index): return .index(index)
            case .dynamic: return .dynamic
            }
        }
        var path: [TemplateReference.Component]
        var isGuarded = false
        switch binding(of: name) {
        case .loop?, .local?: return nil
        case .alias(let aliased, let aliasIsGuarded)?:
            path = aliased + steps
            isGuarded = aliasIsGuarded
        case nil:
            path = [.key(name)] + steps
        }
        return (path, isGuarded || isKnownDefined(path))
    }

    /// Paths that are certainly defined when `condition` is `whenTrue`: from
    /// `P is defined`, `P is not undefined`, and `not`, `and`, `or` around them.
    private func definedPaths(_ condition: TemplateExpression, whenTrue: Bool) -> [[TemplateReference.Component]] {
        switch condition.kind {
        case .test(let operand, let test, let isNegated) where test != .none:
            let meansDefined = (test == .defined) != isNegated
            guard meansDefined == whenTrue, let (path, _) = resolvedPath(operand) else { return [] }
            return [path]
        case .not(let operand):
            return definedPaths(operand, whenTrue: !whenTrue)
        case .logical(.and, let left, let right):
            return whenTrue ? definedPaths(left, whenTrue: true) + definedPaths(right, whenTrue: true) : []
        case .logical(.or, let left, let right):
            return whenTrue ? [] : definedPaths(left, whenTrue: false) + definedPaths(right, whenTrue: false)
        default:
            return []
        }
    }
}
