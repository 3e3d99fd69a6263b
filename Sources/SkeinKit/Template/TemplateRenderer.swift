/// Renders a parsed template against a context, strictly: reading a name or field that
/// does not exist is an error naming the whole path, unless the read is the operand of
/// `is defined` / `is undefined` or the input of `default`.
///
/// Scoping follows Jinja2: `set` at the top level or inside `if` lasts until the end of
/// the template; inside a loop it lasts until the end of that iteration; the loop
/// variable and `loop` exist only inside the loop body.
///
/// A class rather than a struct: evaluation methods are called from mutating rendering
/// methods, and on a struct each such call copied `self` (retaining every field) per
/// expression.
final class TemplateRenderer {
    private let context: TemplateContext
    /// Variables from `set` and loops, innermost last.
    /// (Unchecked exclusivity: only this class's methods touch these, never overlapping;
    /// the dynamic checks cost 3% of render time.)
    @exclusivity(unchecked) private var locals: [Local] = []
    /// Where each scope's variables start in `locals`.
    @exclusivity(unchecked) private var scopeStarts: [Int] = [0]
    /// Context variables already read: templates read the same few roots (`inputs`,
    /// `steps`) again and again, and comparing short names beats hashing them.
    @exclusivity(unchecked) private var roots: [(name: String, value: JSONValue)] = []

    private struct Local {
        var name: String
        var value: LocalValue
    }

    private enum LocalValue {
        case json(JSONValue)
        case loop(LoopState)
    }

    /// `loop.index` and friends, computed when read.
    private struct LoopState {
        var index0: Int
        var length: Int

        static let fieldNames = ["index", "index0", "revindex", "revindex0", "first", "last", "length"]

        func field(_ name: String) -> JSONValue? {
            switch name {
            case "index": return .int(index0 + 1)
            case "index0": return .int(index0)
            case "revindex": return .int(length - index0)
            case "revindex0": return .int(length - index0 - 1)
            case "first": return .bool(index0 == 0)
            case "last": return .bool(index0 == length - 1)
            case "length": return .int(length)
            default: return nil
            }
        }

        var object: JSONValue {
            var object = JSONValue.JSONObject()
            for name in LoopState.fieldNames { object[name] = field(name) }
            return .object(object)
        }
    }

    init(context: TemplateContext) {
        self.context = context
    }

    // MARK: Nodes

    /// Renders nodes as UTF-8 into `output`: appending bytes costs a third less than
    /// appending to a `String`, and text nodes are stored as bytes already.
    func render(_ nodes: [TemplateNode], into output: inout [UInt8]) throws {
        for index in nodes.indices {
            switch nodes[index] {  // not `for node in`: that copies (retains) each node
            case .text(let text):
                output += text
            case .output(let expression):
                TemplateOperators.write(try evaluate(expression), to: &output)
            case .conditional(let conditional):
                let (branches, otherwise) = (conditional.branches, conditional.otherwise)
                if let branch = try branches.first(where: { TemplateOperators.isTruthy(try evaluate($0.condition)) }) {
                    try render(branch.body, into: &output)
                } else if let otherwise {
                    try render(otherwise, into: &output)
                }
            case .loop(let loop):
                try renderLoop(loop, into: &output)
            case .assignment(let name, let value):
                assign(name, try evaluate(value))
            case .blockAssignment(let name, let body):
                var text: [UInt8] = []
                enterScope()
                try render(body, into: &text)
                leaveScope()
                assign(name, .string(String(decoding: text, as: UTF8.self)))
            }
        }
    }

    private func renderLoop(_ loop: TemplateLoop, into output: inout [UInt8]) throws {
        let sequence = try evaluate(loop.sequence)
        let items: [JSONValue]
        switch sequence {
        case .array(let array): items = array
        case .object(let object): items = object.keys.map(JSONValue.string)
        case .string(let string): items = string.unicodeScalars.map { .string(String($0)) }
        default:
            let subject = describePath(loop.sequence).map { "'\($0)': it is " } ?? ""
            throw TemplateError(
                "cannot loop over \(subject)\(TemplateOperators.describeType(sequence))", at: loop.sequence.offset)
        }
        if items.isEmpty {
            if let otherwise = loop.otherwise { try render(otherwise, into: &output) }
            return
        }
        enterScope()
        defer { leaveScope() }
        let start = locals.count
        for (index, item) in items.enumerated() {
            locals.removeSubrange(start...)
            locals.append(Local(name: loop.variable, value: .json(item)))
            locals.append(Local(name: "loop", value: .loop(LoopState(index0: index, length: items.count))))
            try render(loop.body, into: &output)
        }
    }

    private func enterScope() {
        scopeStarts.append(locals.count)
    }

    private func leaveScope() {
        guard scopeStarts.count > 1, let start = scopeStarts.popLast() else { return }
        locals.removeSubrange(start...)
    }

    /// Binds `name` in the innermost scope, replacing a binding made there before.
    private func assign(_ name: String, _ value: JSONValue) {
        let scopeStart = scopeStarts.last ?? 0
        if let index = locals[scopeStart...].lastIndex(where: { $0.name == name }) {
            locals[index].value = .json(value)
        } else {
            locals.append(Local(name: name, value: .json(value)))
        }
    }

    // MARK: Expressions

    /// The value of an expression; anything undefined is an error.
    func evaluate(_ expression: TemplateExpression) throws -> JSONValue {
        switch expression.kind {
        case .literal(let value):
            return value
        case .variable, .access:
            switch try resolvePath(expression) {
            case .found(let value): return value
            case .missing(let missing): throw error(for: missing)
            }
        case .list(let items):
            return .array(try items.map { try evaluate($0) })
        case .dictionary(let entries):
            var object = JSONValue.JSONObject()
            for entry in entries {
                let key = try evaluate(entry.key)
                guard case .string(let name) = key else {
                    throw TemplateError(
                        "object keys must be strings, got \(TemplateOperators.describeType(key))", at: entry.key.offset)
                }
                object[name] = try evaluate(entry.value)
            }
            return .object(object)
        case .unary(let operation, let operand):
            return try TemplateOperators.unary(operation, try evaluate(operand), at: expression.offset)
        case .binary(let operation, let left, let right):
            return try TemplateOperators.binary(operation, try evaluate(left), try evaluate(right), at: expression.offset)
        case .concatenation(let operands):
            var text: [UInt8] = []
            for operand in operands { TemplateOperators.write(try evaluate(operand), to: &text) }
            return .string(String(decoding: text, as: UTF8.self))
        case .logical(let operation, let left, let right):
            let value = try evaluate(left)
            return TemplateOperators.isTruthy(value) == (operation == .and) ? try evaluate(right) : value
        case .not(let operand):
            return .bool(!TemplateOperators.isTruthy(try evaluate(operand)))
        case .comparison(let first, let rest):
            var left = try evaluate(first)
            for comparison in rest {
                let right = try evaluate(comparison.operand)
                guard try compare(comparison, left, right) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .test(let operand, let test, let isNegated):
            let result: Bool
            switch test {
            case .defined: result = try evaluateIfDefined(operand) != nil
            case .undefined: result = try evaluateIfDefined(operand) == nil
            case .none: result = try evaluate(operand).isNull
            }
            return .bool(result != isNegated)
        case .filter(let input, let call):
            if call.filter == .default {
                if let value = try defaultFilterInput(input, call) { return value }
                return try call.arguments[0].map { try evaluate($0) } ?? .string("")
            }
            guard let value = try applyFilter(call, to: input, at: expression.offset) else {
                throw TemplateError(
                    "filter '\(call.filter.rawValue)' found no item: its input is empty", at: expression.offset)
            }
            return value
        case .conditional(let condition, let then, let otherwise):
            return try evaluate(TemplateOperators.isTruthy(try evaluate(condition)) ? then : otherwise)
        }
    }

    /// The value of an expression, or `nil` where it is undefined: a missing name or
    /// field, `default` of something undefined with an undefined fallback, `first` or
    /// `last` of nothing. Everything else is evaluated strictly.
    func evaluateIfDefined(_ expression: TemplateExpression) throws -> JSONValue? {
        switch expression.kind {
        case .variable, .access:
            if case .found(let value) = try resolvePath(expression) { return value }
            return nil
        case .filter(let input, let call) where call.filter == .default:
            if let value = try defaultFilterInput(input, call) { return value }
            return try call.arguments[0].map { try evaluateIfDefined($0) } ?? .string("")
        case .filter(let input, let call) where call.filter == .first || call.filter == .last:
            return try applyFilter(call, to: input, at: expression.offset)
        case .conditional(let condition, let then, let otherwise):
            return try evaluateIfDefined(TemplateOperators.isTruthy(try evaluate(condition)) ? then : otherwise)
        default:
            return try evaluate(expression)
        }
    }

    /// The input of `default` when it is defined (and, with `boolean=true`, truthy).
    private func defaultFilterInput(_ input: TemplateExpression, _ call: TemplateFilterCall) throws -> JSONValue? {
        let checksTruth = try call.arguments[1].map { TemplateOperators.isTruthy(try evaluate($0)) } ?? false
        guard let value = try evaluateIfDefined(input) else { return nil }
        if checksTruth && !TemplateOperators.isTruthy(value) { return nil }
        return value
    }

    private func applyFilter(_ call: TemplateFilterCall, to input: TemplateExpression, at offset: Int) throws
        -> JSONValue?
    {
        let value = try evaluate(input)
        let arguments = try call.arguments.map { try $0.map { try evaluate($0) } }
        return try call.filter.apply(to: value, arguments: arguments, at: offset)
    }

    private func compare(_ comparison: TemplateComparison, _ left: JSONValue, _ right: JSONValue) throws -> Bool {
        let symbol = comparison.comparisonOperator.rawValue
        switch comparison.comparisonOperator {
        case .equal: return TemplateOperators.equals(left, right)
        case .notEqual: return !TemplateOperators.equals(left, right)
        case .contains, .notContains:
            guard let found = TemplateOperators.contains(right, left) else {
                let message =
                    if case .string = right {
                        "'\(symbol)' with a string on the right needs a string on the left, got \(TemplateOperators.describeType(left))"
                    } else {
                        "'\(symbol)' needs a string, list or object on the right, got \(TemplateOperators.describeType(right))"
                    }
                throw TemplateError(message, at: comparison.offset)
            }
            return found == (comparison.comparisonOperator == .contains)
        case .less, .lessEqual, .greater, .greaterEqual:
            guard let ordering = TemplateOperators.compare(left, right) else {
                throw TemplateError(
                    "'\(symbol)' is not supported between '\(TemplateOperators.typeName(left))' and '\(TemplateOperators.typeName(right))'",
                    at: comparison.offset)
            }
            switch (comparison.comparisonOperator, ordering) {
            case (.less, .less), (.lessEqual, .less), (.lessEqual, .equal), (.greater, .greater),
                (.greaterEqual, .greater), (.greaterEqual, .equal):
                return true
            default:
                return false
            }
        }
    }

    // MARK: Paths

    private enum Lookup {
        case found(JSONValue)
        case missing(Missing)
    }

    /// Why a path has no value; the message is only built if it is reported.
    private struct Missing {
        var path: TemplateExpression
        /// The access that failed, or nil when the root name is undefined.
        var failedAccess: Int?
        /// The value the failed access was applied to.
        var container: JSONValue
    }

    // Hot path: `switch` rather than `if case` / `guard case` on enums here, because
    // the optimizer borrows a switched-on payload but copies (retains) a pattern-bound one
    // (measured three times slower).

    private func resolvePath(_ path: TemplateExpression) throws -> Lookup {
        switch path.kind {
        case .variable(let name):
            return try resolve(name, [], of: path)
        case .access(let base, let accesses):
            switch base.kind {
            case .variable(let name): return try resolve(name, accesses, of: path)
            default: return try walk(try evaluate(base), accesses, from: 0, of: path)
            }
        default:
            return .found(try evaluate(path))
        }
    }

    /// Looks `name` up (innermost local first, then the context) and walks `accesses` from it.
    private func resolve(_ name: String, _ accesses: [TemplateAccess], of path: TemplateExpression) throws -> Lookup {
        let locals = self.locals
        var index = locals.count - 1
        while index >= 0 {
            if locals[index].name == name {
                switch locals[index].value {
                case .json(let value):
                    return try walk(value, accesses, from: 0, of: path)
                case .loop(let state):
                    guard let first = accesses.first else { return .found(state.object) }
                    switch first.kind {
                    case .key(let field):
                        switch state.field(field) {
                        case .some(let value): return try walk(value, accesses, from: 1, of: path)
                        case .none: break
                        }
                    default: break
                    }
                    return .missing(Missing(path: path, failedAccess: 0, container: state.object))
                }
            }
            index -= 1
        }
        for root in roots where root.name == name {
            return try walk(root.value, accesses, from: 0, of: path)
        }
        switch context.variables[name] {
        case .some(let value):
            roots.append((name, value))
            return try walk(value, accesses, from: 0, of: path)
        case .none:
            return .missing(Missing(path: path, failedAccess: nil, container: .null))
        }
    }

    /// Applies `accesses[position...]` to `value`. Recursive rather than a loop over a
    /// `var`, so each container is borrowed where it lies instead of copied (retained)
    /// into a variable at every step.
    private func walk(_ value: JSONValue, _ accesses: [TemplateAccess], from position: Int, of path: TemplateExpression)
        throws -> Lookup
    {
        guard position < accesses.count else { return .found(value) }
        let access = accesses[position]
        switch access.kind {
        case .key(let name):
            switch value {
            case .object(let object):
                if let index = object.index(forKey: name) {
                    return try walk(object.values[index], accesses, from: position + 1, of: path)
                }
            default:
                break
            }
        default:
            if let next = try element(of: value, at: access) {
                return try walk(next, accesses, from: position + 1, of: path)
            }
        }
        return .missing(Missing(path: path, failedAccess: position, container: value))
    }

    private func element(of value: JSONValue, at access: TemplateAccess) throws -> JSONValue? {
        switch access.kind {
        case .key(let name): return TemplateRenderer.field(name, of: value)
        case .index(let index): return TemplateRenderer.item(index, of: value)
        case .dynamic(let expression):
            switch try evaluate(expression) {
            case .string(let name): return TemplateRenderer.field(name, of: value)
            case .int(let index): return TemplateRenderer.item(index, of: value)
            case .bool(let bool): return TemplateRenderer.item(bool ? 1 : 0, of: value)
            default: return nil
            }
        }
    }

    private static func field(_ name: String, of value: JSONValue) -> JSONValue? {
        switch value {
        case .object(let object): return object[name]
        default: return nil
        }
    }

    /// `value[index]` for lists and strings, negative indexes counting from the end.
    private static func item(_ index: Int, of value: JSONValue) -> JSONValue? {
        switch value {
        case .array(let items):
            let position = index < 0 ? index + items.count : index
            // Not a ternary: `nil` there would become `JSONValue.null` (it is nil-literal expressible).
            guard items.indices.contains(position) else { return nil }
            return items[position]
        case .string(let string):
            let scalars = Array(string.unicodeScalars)
            let position = index < 0 ? index + scalars.count : index
            guard scalars.indices.contains(position) else { return nil }
            return .string(String(scalars[position]))
        default:
            return nil
        }
    }

    /// The key of an access: a string for fields, an integer for elements (Python's
    /// `True` indexes as 1), anything else for a computed key that fits nothing.
    private func key(of access: TemplateAccess) throws -> JSONValue {
        switch access.kind {
        case .key(let name): return .string(name)
        case .index(let index): return .int(index)
        case .dynamic(let expression):
            let key = try evaluate(expression)
            if case .bool(let bool) = key { return .int(bool ? 1 : 0) }
            return key
        }
    }

    private func error(for missing: Missing) -> TemplateError {
        let base: TemplateExpression
        let accesses: [TemplateAccess]
        if case .access(let root, let steps) = missing.path.kind {
            (base, accesses) = (root, steps)
        } else {
            (base, accesses) = (missing.path, [])
        }
        guard let failed = missing.failedAccess, failed < accesses.count else {
            guard case .variable(let name) = base.kind else {
                return TemplateError("undefined value", at: missing.path.offset)
            }
            var candidates = Set(context.variables.keys)
            for local in locals { candidates.insert(local.name) }
            return TemplateError("undefined variable '\(name)'" + Suggestion.didYouMean(name, in: candidates.sorted()),
                                 at: base.offset)
        }
        let access = accesses[failed]
        let subject = describePath(base: base, accesses: accesses[..<failed]).map { "'\($0)'" } ?? "the value"
        let key = (try? key(of: access)) ?? .null
        let container = missing.container
        let message: String
        switch (container, key) {
        case (.object(let object), .string(let name)):
            message = "\(subject) has no field '\(name)'" + Suggestion.didYouMean(name, in: object.keys)
        case (.array(let items), .int(let index)):
            message = "\(subject) has no element [\(index)]; its length is \(items.count)"
        case (.string(let string), .int(let index)):
            message = "\(subject) has no element [\(index)]; its length is \(string.unicodeScalars.count)"
        case (_, .string(let name)):
            message = "\(subject) is \(TemplateOperators.describeType(container)) and has no field '\(name)'"
        case (_, .int(let index)):
            message = "\(subject) is \(TemplateOperators.describeType(container)) and has no element [\(index)]"
        default:
            message = "\(subject) cannot be indexed by \(TemplateOperators.describeType(key))"
        }
        return TemplateError(message, at: access.offset)
    }

    /// `steps.a.output[0]` for a path on a name, as written (computed keys evaluated).
    private func describePath(_ expression: TemplateExpression) -> String? {
        switch expression.kind {
        case .variable: return describePath(base: expression, accesses: [])
        case .access(let base, let accesses): return describePath(base: base, accesses: accesses[...])
        default: return nil
        }
    }

    private func describePath(base: TemplateExpression, accesses: ArraySlice<TemplateAccess>) -> String? {
        guard case .variable(let name) = base.kind else { return nil }
        var text = name
        for access in accesses {
            switch (try? key(of: access)) ?? .null {
            case .string(let key): text += TemplateReference.describeKey(key)
            case .int(let index): text += "[\(index)]"
            default: text += "[…]"
            }
        }
        return text
    }
}
