/// Renders a parsed template against a context, strictly: reading a name or field that
/// does not exist is an error naming the whole path, unless the read is the operand of
/// `is defined` / `is undefined` or the input of `default`.
///
/// Scoping follows Jinja2: `set` at the top level or inside `if` lasts until the end of
/// the template; inside a loop it lasts until the end of that iteration; the loop
/// variable and `loop` exist only inside the loop body.
///
/// A class, so that rendering (which binds variables) and evaluation (which reads them)
/// share one state without threading it through every call.
///
/// Speed (`skein-bench templates`): half of a render's time went to reference counting
/// (each retain and release is an atomic operation), so the hot paths avoid copying what
/// they only read. Swift copies (retains) what it reads out of an array, a `var` property
/// or an enum payload it cannot prove stays put, but borrows parameters, the payloads
/// that a `switch` over a `borrowing` parameter binds, and the `let` properties of a
/// class held by a parameter, or held unretained (`Unmanaged._withUnsafeGuaranteedRef`).
/// Reading through a pointer does not help: the value is copied for any call that follows.
/// Hence: the functions that switch over the AST take its enums as `borrowing`
/// parameters; nodes point at the AST's objects unretained, so copying a node costs
/// nothing; text nodes are ranges of one byte array; variables are unretained boxes in
/// `Slots`; and `write` appends the text of filters and `~` straight to the output
/// instead of building strings first.
final class TemplateRenderer {
    private let context: TemplateContext
    /// The template's text, which `.text` nodes are ranges of.
    private let text: [UInt8]
    // Names and values are kept apart so a lookup compares names without touching the
    // values it passes over, and both live in `Slots`, memory this renderer manages: its
    // elements are trivial (unretained boxes) or short strings, and reading one retains
    // nothing, where reading an `Array` property retains its buffer first.

    /// Variables from `set` and loops, innermost last.
    @exclusivity(unchecked) private var localNames = Slots<String>()
    @exclusivity(unchecked) private var localValues = Slots<LocalValue>()
    /// Where each scope's variables start in the locals.
    @exclusivity(unchecked) private var scopeStarts: [Int] = [0]
    /// The context's variables, copied in once: a render reads the same few roots
    /// (`inputs`, `steps`) again and again, and comparing short names beats hashing them.
    /// Never changed while rendering, so a value borrowed from here stays put.
    @exclusivity(unchecked) private var rootNames = Slots<String>()
    @exclusivity(unchecked) private var rootValues = Slots<Unmanaged<Binding>>()
    /// Loop iterations so far, against `TemplateOperators.maximumLoopIterations`.
    private var loopIterations = 0

    /// What a local name is bound to. Trivial (no reference counting): a slot owns the
    /// `Binding` of a `.json`, retained when bound and released when it goes (by `bind`
    /// and `removeLocals`).
    private enum LocalValue {
        case json(Unmanaged<Binding>)
        case loop(LoopState)
    }

    /// A variable's value, boxed: read through an unretained reference, the value (a
    /// `let` of the box) is borrowed in place, where copying a value out of an array or
    /// a pointer retains each of its buffers (three for an object). Boxing each loop item
    /// in turn costs less than copying it at each of its reads (measured).
    private final class Binding {
        let value: JSONValue

        init(_ value: JSONValue) {
            self.value = value
        }
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

    init(context: TemplateContext, text: [UInt8]) {
        self.context = context
        self.text = text
        for (name, value) in context.variables {
            rootNames.append(name)
            rootValues.append(Unmanaged.passRetained(Binding(value)))
        }
    }

    deinit {
        removeLocals(from: 0)
        localNames.free()
        localValues.free()
        for index in 0..<rootValues.count { rootValues[index].release() }
        rootNames.free()
        rootValues.free()
    }

    // MARK: Nodes

    /// Renders nodes as UTF-8 into `output`: appending bytes costs a third less than
    /// appending to a `String`, and text nodes are stored as bytes already.
    func render(_ nodes: [TemplateNode], into output: inout [UInt8]) throws {
        for index in nodes.indices {
            try render(nodes[index], into: &output)
        }
    }

    private func render(_ node: borrowing TemplateNode, into output: inout [UInt8]) throws {
        switch node {
        case .text(let range):
            // One copy, from the template's text (borrowed: a `let` of this class) to the output.
            text.withUnsafeBufferPointer { output.append(contentsOf: UnsafeBufferPointer(rebasing: $0[range])) }
        // The objects are read unretained (`TemplateNode`): the template owns them.
        case .output(let expression):
            try expression._withUnsafeGuaranteedRef { try write($0, to: &output) }
        case .conditional(let conditional):
            try conditional._withUnsafeGuaranteedRef { try render($0, into: &output) }
        case .loop(let loop):
            try loop._withUnsafeGuaranteedRef { try renderLoop($0, into: &output) }
        case .assignment(let assignment):
            try assignment._withUnsafeGuaranteedRef { assign($0.name, try evaluate($0.value)) }
        case .blockAssignment(let assignment):
            try assignment._withUnsafeGuaranteedRef { assignment in
                var rendered: [UInt8] = []
                enterScope()
                try render(assignment.body, into: &rendered)
                leaveScope()
                assign(assignment.name, .string(String(decoding: rendered, as: UTF8.self)))
            }
        }
    }

    private func render(_ conditional: TemplateConditional, into output: inout [UInt8]) throws {
        for index in conditional.branches.indices where try render(conditional.branches[index], into: &output) {
            return
        }
        if let otherwise = conditional.otherwise { try render(otherwise, into: &output) }
    }

    /// Renders the branch's body if its condition holds.
    /// - Returns: whether it did.
    private func render(_ branch: TemplateBranch, into output: inout [UInt8]) throws -> Bool {
        guard TemplateOperators.isTruthy(try evaluate(branch.condition)) else { return false }
        try render(branch.body, into: &output)
        return true
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
        // The loop variable and `loop` stay in place and are overwritten each iteration;
        // what `set` added in the previous iteration goes.
        let start = localNames.count
        localNames.append(loop.variable)
        localNames.append("loop")
        localValues.append(.json(Unmanaged.passRetained(Binding(nil))))
        localValues.append(.loop(LoopState(index0: 0, length: items.count)))
        for index in items.indices {
            loopIterations += 1
            guard loopIterations <= TemplateOperators.maximumLoopIterations else {
                throw TemplateError(
                    "loops ran more than \(TemplateOperators.maximumLoopIterations) times in one render", at: loop.sequence.offset)
            }
            guard output.count <= TemplateOperators.maximumTextBytes else {
                throw TemplateOperators.tooLong("the rendered text", at: loop.sequence.offset)
            }
            if localNames.count > start + 2 { removeLocals(from: start + 2) }
            bind(start, to: .json(Unmanaged.passRetained(Binding(items[index]))))
            localValues[start + 1] = .loop(LoopState(index0: index, length: items.count))
            try render(loop.body, into: &output)
        }
    }

    private func enterScope() {
        scopeStarts.append(localNames.count)
    }

    private func leaveScope() {
        guard scopeStarts.count > 1, let start = scopeStarts.popLast() else { return }
        removeLocals(from: start)
    }

    private func removeLocals(from start: Int) {
        for index in start..<localValues.count {
            if case .json(let binding) = localValues[index] { binding.release() }
        }
        localNames.removeAll(from: start)
        localValues.removeAll(from: start)
    }

    /// Binds `name` in the innermost scope, replacing a binding made there before.
    private func assign(_ name: String, _ value: JSONValue) {
        let scopeStart = scopeStarts.last ?? 0
        let binding = LocalValue.json(Unmanaged.passRetained(Binding(value)))
        if let index = localNames.lastIndex(of: name), index >= scopeStart {
            bind(index, to: binding)
        } else {
            localNames.append(name)
            localValues.append(binding)
        }
    }

    /// Replaces the value of local `index`, releasing the binding it had.
    private func bind(_ index: Int, to value: LocalValue) {
        if case .json(let binding) = localValues[index] { binding.release() }
        localValues[index] = value
    }

    // MARK: Expressions

    /// The value of an expression; anything undefined is an error.
    func evaluate(_ expression: TemplateExpression) throws -> JSONValue {
        try evaluate(expression.kind, of: expression)
    }

    // Each function that switches over an expression's kind takes it as a `borrowing`
    // parameter, with the expression itself for its offset and for error messages: a
    // `switch` over a borrowed enum borrows the payloads it binds, where one over
    // `expression.kind` would copy them (retaining each reference) at every node.

    private func evaluate(_ kind: borrowing TemplateExpression.Kind, of expression: TemplateExpression) throws
        -> JSONValue
    {
        switch kind {
        case .literal(let value):
            return copy value
        case .variable(let name):
            guard let value = try lookup(name, []) else { throw try missingPathError(expression) }
            return value
        case .access(let base, let accesses):
            guard let value = try lookup(base.kind, of: base, accesses) else { throw try missingPathError(expression) }
            return value
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
            return try TemplateOperators.binary(
                operation, try evaluate(left), try evaluate(right), at: expression.offset)
        case .concatenation:
            var text: [UInt8] = []
            text.reserveCapacity(128)  // growing from empty reallocates several times
            try write(kind, of: expression, to: &text)
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
                throw call.filter.noItemError(at: expression.offset)
            }
            return value
        case .conditional(let condition, let then, let otherwise):
            return try evaluate(TemplateOperators.isTruthy(try evaluate(condition)) ? then : otherwise)
        }
    }

    /// Appends the text of an expression's value to `output`, as
    /// `TemplateOperators.write(evaluate(expression))` does; but the operands of `~` and
    /// the text of filters are appended as they come, not first joined into a string.
    private func write(_ expression: TemplateExpression, to output: inout [UInt8]) throws {
        try write(expression.kind, of: expression, to: &output)
        guard output.count <= TemplateOperators.maximumTextBytes else {
            throw TemplateOperators.tooLong("the rendered text", at: expression.offset)
        }
    }

    private func write(
        _ kind: borrowing TemplateExpression.Kind, of expression: TemplateExpression, to output: inout [UInt8]
    ) throws {
        switch kind {
        case .concatenation(let operands):
            for operand in operands { try write(operand, to: &output) }
        case .filter(let input, let call):
            guard call.filter != .default else {
                // `default` must see whether its input is defined before evaluating it.
                return TemplateOperators.write(try evaluate(kind, of: expression), to: &output)
            }
            try call.filter.write(
                try evaluate(input), arguments: try arguments(of: call), at: expression.offset, to: &output)
        default:
            TemplateOperators.write(try evaluate(kind, of: expression), to: &output)
        }
    }

    /// The value of an expression, or `nil` where it is undefined: a missing name or
    /// field, `default` of something undefined with an undefined fallback, `first` or
    /// `last` of nothing. Everything else is evaluated strictly.
    func evaluateIfDefined(_ expression: TemplateExpression) throws -> JSONValue? {
        try evaluateIfDefined(expression.kind, of: expression)
    }

    private func evaluateIfDefined(_ kind: borrowing TemplateExpression.Kind, of expression: TemplateExpression)
        throws -> JSONValue?
    {
        switch kind {
        case .variable(let name):
            return try lookup(name, [])
        case .access(let base, let accesses):
            return try lookup(base.kind, of: base, accesses)
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
        return try call.filter.apply(to: value, arguments: try arguments(of: call), at: offset)
    }

    /// The values of a filter call's arguments, one per parameter (`nil` where the
    /// template gives none), evaluated after its input as in Jinja2.
    private func arguments(of call: TemplateFilterCall) throws -> [JSONValue?] {
        if let values = call.literalArguments { return values }
        return try call.arguments.map { try $0.map { try evaluate($0) } }
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

    // Hot path: `switch` rather than `if case` / `guard case` on enums here, because
    // the optimizer borrows a switched-on payload but copies (retains) a pattern-bound one
    // (measured three times slower). Lookups return optionals; only when a missing value
    // must be reported does `missingPathError` walk the path again to say what is missing.

    /// The value at `base` followed by `accesses`, or nil when a name or field on the
    /// way does not exist.
    private func lookup(
        _ kind: borrowing TemplateExpression.Kind, of base: TemplateExpression, _ accesses: [TemplateAccess]
    ) throws -> JSONValue? {
        switch kind {
        case .variable(let name): return try lookup(name, accesses)
        default: return try walk(try evaluate(base), accesses, from: 0)
        }
    }

    /// Looks `name` up (innermost local first, then the context) and walks `accesses` from it.
    private func lookup(_ name: String, _ accesses: [TemplateAccess]) throws -> JSONValue? {
        if let index = localNames.lastIndex(of: name) {
            // The boxes are read unretained: their values are borrowed where they lie.
            switch localValues[index] {
            case .json(let binding):
                return try binding._withUnsafeGuaranteedRef { try walk($0.value, accesses, from: 0) }
            case .loop(let state):
                guard let first = accesses.first else { return state.object }
                switch first.kind {
                case .key(let field):
                    switch state.field(field) {
                    case .some(let value): return try walk(value, accesses, from: 1)
                    case .none: return nil
                    }
                default:
                    return nil
                }
            }
        }
        guard let index = rootNames.firstIndex(of: name) else { return nil }
        return try rootValues[index]._withUnsafeGuaranteedRef { try walk($0.value, accesses, from: 0) }
    }

    /// Applies `accesses[position...]` to `value`. Recursive rather than a loop over a
    /// `var`, so each container is borrowed where it lies instead of copied (retained)
    /// into a variable at every step; the parser bounds the length of paths.
    private func walk(_ value: JSONValue, _ accesses: [TemplateAccess], from position: Int) throws -> JSONValue? {
        guard position < accesses.count else { return value }
        switch accesses[position].kind {
        case .key(let name):
            switch value {
            case .object(let object):
                guard let index = object.index(forKey: name) else { return nil }
                // The last step returns the field itself: recursing would copy it twice more.
                if position + 1 == accesses.count { return object.values[index] }
                return try walk(object.values[index], accesses, from: position + 1)
            default:
                return nil
            }
        default:
            guard let next = try element(of: value, at: accesses[position]) else { return nil }
            if position + 1 == accesses.count { return next }
            return try walk(next, accesses, from: position + 1)
        }
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

    /// The error for a path `lookupPath` found missing: walks it again to find the
    /// first name or access that fails and says what was there instead.
    private func missingPathError(_ path: TemplateExpression) throws -> TemplateError {
        let base: TemplateExpression
        let accesses: [TemplateAccess]
        switch path.kind {
        case .access(let root, let steps): (base, accesses) = (root, steps)
        default: (base, accesses) = (path, [])
        }
        var container: JSONValue
        var first = 0
        switch base.kind {
        case .variable(let name):
            if let index = localNames.lastIndex(of: name) {
                switch localValues[index] {
                case .json(let binding): container = binding.takeUnretainedValue().value
                case .loop(let state):
                    container = state.object
                    if let access = accesses.first, case .key(let field) = access.kind, let value = state.field(field) {
                        container = value
                        first = 1
                    }
                }
            } else if let value = context.variables[name] {
                container = value
            } else {
                var candidates = Set(context.variables.keys)
                candidates.formUnion(localNames.elements)
                return TemplateError(
                    "undefined variable '\(name)'" + Suggestion.didYouMean(name, in: candidates.sorted()),
                    at: base.offset)
            }
        default:
            container = try evaluate(base)
        }
        var failed = first
        while failed < accesses.count, let next = try element(of: container, at: accesses[failed]) {
            container = next
            failed += 1
        }
        guard failed < accesses.count else { return TemplateError("undefined value", at: path.offset) }
        let access = accesses[failed]
        let subject = describePath(base: base, accesses: accesses[..<failed]).map { "'\($0)'" } ?? "the value"
        let key = (try? key(of: access)) ?? .null
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

/// A growable stack in memory its owner allocates and frees (`free()`), for the
/// renderer's variables. Reading `slots[index]` goes through a pointer and retains no
/// storage; an `Array` stored in a class property is retained for each read. Hand-written
/// because no collection in the standard library or swift-collections is read without
/// that retain.
private struct Slots<Element> {
    private var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity = 8

    init() {
        base = .allocate(capacity: capacity)
    }

    subscript(index: Int) -> Element {
        unsafeAddress {
            precondition(index >= 0 && index < count, "slot out of range")
            return UnsafePointer(base + index)
        }
        nonmutating unsafeMutableAddress {
            precondition(index >= 0 && index < count, "slot out of range")
            return base + index
        }
    }

    var elements: [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }

    mutating func append(_ element: Element) {
        if count == capacity {
            let larger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
            larger.moveInitialize(from: base, count: count)
            base.deallocate()
            base = larger
            capacity *= 2
        }
        (base + count).initialize(to: element)
        count += 1
    }

    /// Removes the elements from `start` on.
    mutating func removeAll(from start: Int) {
        guard start < count else { return }
        (base + start).deinitialize(count: count - start)
        count = start
    }

    func free() {
        base.deinitialize(count: count)
        base.deallocate()
    }
}

extension Slots where Element: Equatable {
    func lastIndex(of element: Element) -> Int? {
        var index = count - 1
        while index >= 0 {
            if base[index] == element { return index }
            index -= 1
        }
        return nil
    }

    func firstIndex(of element: Element) -> Int? {
        for index in 0..<count where base[index] == element { return index }
        return nil
    }
}
