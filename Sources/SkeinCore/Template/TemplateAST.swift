/// The parsed form of a template: a list of nodes, each expression with the offset
/// (in Unicode scalars of the normalized text) that errors about it point at.
///
/// Expressions and blocks are immutable final classes rather than indirect enums, so
/// the renderer, which walks them on every render, passes references around instead of
/// copying enum payloads. Nodes refer to them unretained, so a node is trivial to copy:
/// the renderer copies every node of every loop iteration out of its list, and copying
/// a retained reference costs an atomic retain and release (a tenth of a render's time
/// in `skein-bench templates`). The template's `TemplateArena` owns the objects.
enum TemplateNode: Sendable {
    /// Text: a range of the template's `text`, the UTF-8 of all its text nodes. A range
    /// holds no reference, so the renderer reads text nodes without retaining anything
    /// (an array per node cost an atomic retain and release on every render).
    case text(Range<Int>)
    case output(Unmanaged<TemplateExpression>)
    case conditional(Unmanaged<TemplateConditional>)
    case loop(Unmanaged<TemplateLoop>)
    /// `{% set name = value %}`
    case assignment(Unmanaged<TemplateAssignment>)
    /// `{% set name %}body{% endset %}`: the rendered body, as a string.
    case blockAssignment(Unmanaged<TemplateBlockAssignment>)
}

/// Owns what a template's nodes point at (see `TemplateNode`). Filled while parsing and
/// never changed after, hence `@unchecked Sendable`.
final class TemplateArena: @unchecked Sendable {
    private var objects: [AnyObject] = []

    /// Keeps `object` alive as long as the arena and returns an unretained reference to it.
    func keep<Object: AnyObject>(_ object: Object) -> Unmanaged<Object> {
        objects.append(object)
        return .passUnretained(object)
    }
}

/// `{% set name = value %}`
final class TemplateAssignment: Sendable {
    let name: String
    let value: TemplateExpression

    init(name: String, value: TemplateExpression) {
        self.name = name
        self.value = value
    }
}

/// `{% set name %}body{% endset %}`
final class TemplateBlockAssignment: Sendable {
    let name: String
    let body: [TemplateNode]

    init(name: String, body: [TemplateNode]) {
        self.name = name
        self.body = body
    }
}

/// `{% if %}…{% elif %}…{% else %}…{% endif %}`
final class TemplateConditional: Sendable {
    let branches: [TemplateBranch]
    let otherwise: [TemplateNode]?

    init(branches: [TemplateBranch], otherwise: [TemplateNode]?) {
        self.branches = branches
        self.otherwise = otherwise
    }
}

/// `{% if condition %}body` or `{% elif condition %}body`. A class like the blocks, so
/// that reading a branch retains one reference rather than its condition and its body.
final class TemplateBranch: Sendable {
    let condition: TemplateExpression
    let body: [TemplateNode]

    init(condition: TemplateExpression, body: [TemplateNode]) {
        self.condition = condition
        self.body = body
    }
}

/// `{% for variable in sequence %}body{% else %}otherwise{% endfor %}`
final class TemplateLoop: Sendable {
    let variable: String
    let sequence: TemplateExpression
    let body: [TemplateNode]
    /// `{% else %}`: rendered when the sequence is empty.
    let otherwise: [TemplateNode]?

    init(
        variable: String, sequence: TemplateExpression, body: [TemplateNode],
        otherwise: [TemplateNode]?
    ) {
        self.variable = variable
        self.sequence = sequence
        self.body = body
        self.otherwise = otherwise
    }
}

final class TemplateExpression: Sendable {
    let kind: Kind
    /// Where errors about this expression point: the start of a literal or name, the
    /// operator of an operation, the name of a filter or test.
    let offset: Int
    /// Height of the tree, bounded by the parser so that evaluation never recurses deeply.
    let depth: Int

    enum Kind: Sendable {
        case literal(JSONValue)
        case variable(String)
        /// `base.key`, `base["key"]`, `base[0]`, `base[expr]`, chained.
        case access(TemplateExpression, [TemplateAccess])
        case list([TemplateExpression])
        case dictionary([(key: TemplateExpression, value: TemplateExpression)])
        case unary(TemplateUnaryOperator, TemplateExpression)
        case binary(TemplateBinaryOperator, TemplateExpression, TemplateExpression)
        /// `a ~ b ~ c`, kept flat as Jinja2 does.
        case concatenation([TemplateExpression])
        /// `a and b` / `a or b`: the value of one operand, as in Python.
        case logical(TemplateLogicalOperator, TemplateExpression, TemplateExpression)
        case not(TemplateExpression)
        /// `a < b <= c`: chained as in Python.
        case comparison(TemplateExpression, [TemplateComparison])
        case test(TemplateExpression, TemplateTest, isNegated: Bool)
        case filter(TemplateExpression, TemplateFilterCall)
        /// `a if condition else b`
        case conditional(condition: TemplateExpression, then: TemplateExpression, otherwise: TemplateExpression)
    }

    init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
        var depth = 1 + kind.children.reduce(0) { max($0, $1.depth) }
        if case .access(let base, let accesses) = kind {
            depth = max(depth, base.depth + accesses.count)  // a long path is walked recursively
        }
        self.depth = depth
    }
}

extension TemplateExpression.Kind {
    /// The direct subexpressions.
    var children: [TemplateExpression] {
        switch self {
        case .literal, .variable: return []
        case .access(let base, let accesses):
            return [base]
                + accesses.compactMap { if case .dynamic(let key) = $0.kind { return key } else { return nil } }
        case .list(let items): return items
        case .dictionary(let entries): return entries.flatMap { [$0.key, $0.value] }
        case .unary(_, let operand), .not(let operand), .test(let operand, _, _): return [operand]
        case .binary(_, let left, let right), .logical(_, let left, let right): return [left, right]
        case .concatenation(let operands): return operands
        case .comparison(let first, let rest): return [first] + rest.map(\.operand)
        case .filter(let input, let call): return [input] + call.arguments.compactMap { $0 }
        case .conditional(let condition, let then, let otherwise): return [condition, then, otherwise]
        }
    }
}

/// One step of a path: `.key`, `["key"]`, `[0]`, `[-1]`, or `[expression]`.
struct TemplateAccess: Sendable {
    enum Kind: Sendable {
        case key(String)
        case index(Int)
        case dynamic(TemplateExpression)
    }

    var kind: Kind
    /// The field name after `.`, or the `[`.
    var offset: Int
}

enum TemplateUnaryOperator: String, Sendable {
    case negate = "-", plus = "+"
}

enum TemplateBinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%"
}

enum TemplateLogicalOperator: String, Sendable {
    case and, or
}

enum TemplateComparisonOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case contains = "in", notContains = "not in"
}

struct TemplateComparison: Sendable {
    var comparisonOperator: TemplateComparisonOperator
    var operand: TemplateExpression
    var offset: Int
}

/// The tests after `is`.
enum TemplateTest: String, Sendable, CaseIterable {
    case defined, undefined, none
}

/// A filter with its arguments bound to the filter's parameters by position
/// (`nil` where the template leaves a parameter to its default).
struct TemplateFilterCall: Sendable {
    let filter: TemplateFilter
    let arguments: [TemplateExpression?]
    /// The arguments' values when every argument given is a literal, as most are
    /// (`truncate(60)`, `join(', ')`): worked out here once rather than at every render.
    /// Empty when the call gives no arguments.
    let literalArguments: [JSONValue?]?

    init(filter: TemplateFilter, arguments: [TemplateExpression?]) {
        self.filter = filter
        self.arguments = arguments
        var values: [JSONValue?] = []
        var givesArguments = false
        for argument in arguments {
            switch argument?.kind {
            case nil:
                values.append(.none)
            case .literal(let value)?:
                values.append(value)
                givesArguments = true
            default:
                literalArguments = nil
                return
            }
        }
        literalArguments = givesArguments ? values : []
    }
}
