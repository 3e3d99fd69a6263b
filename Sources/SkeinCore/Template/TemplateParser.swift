/// Builds the AST from tokens by recursive descent, with Jinja2's operator precedence
/// (loosest first): `x if c else y`, `or`, `and`, `not`, comparisons and `in`, `+ -`,
/// `~`, `* / // %`, unary `- +`, then paths, filters and tests.
///
/// Every error points at the token where the template goes wrong; an unclosed block
/// points at its opening tag. Blocks and expressions nest at most `maximumDepth` deep, so
/// neither parsing nor rendering can exhaust the stack.
struct TemplateParser {
    static let maximumDepth = 64

    /// The tags that only make sense inside a block.
    private static let closingTags: Set<String> = ["elif", "else", "endif", "endfor", "endset", "endraw"]
    private static let openingTags = ["if", "for", "set", "raw"]
    private static let literalNames: [String: JSONValue] = [
        "true": true, "True": true, "false": false, "False": false, "none": nil, "None": nil,
    ]
    /// Words that are operators and so can never be a variable.
    private static let operatorWords: Set<String> = ["and", "or", "not", "in", "is", "if", "else"]

    private let tokens: [TemplateToken]
    /// Owns what the nodes point at.
    private let arena: TemplateArena
    /// The UTF-8 of the text nodes so far; each `.text` node is a range of it.
    private var text: [UInt8] = []
    private var index = 0
    private var blockDepth = 0
    private var expressionNesting = 0

    private struct OpenBlock {
        var tag: String
        var closingTag: String
        var offset: Int
    }

    /// Parses a template's tokens.
    /// - Parameter arena: keeps what the nodes point at; it must outlive them.
    /// - Returns: the nodes, and the UTF-8 text that their `.text` ranges refer to.
    static func parse(_ tokens: [TemplateToken], into arena: TemplateArena) throws
        -> (nodes: [TemplateNode], text: [UInt8])
    {
        var parser = TemplateParser(tokens: tokens, arena: arena)
        let nodes = try parser.parseNodes(until: [], in: nil).nodes
        return (nodes, parser.text)
    }

    private init(tokens: [TemplateToken], arena: TemplateArena) {
        self.arena = arena
        self.tokens = tokens.isEmpty ? [TemplateToken(kind: .end, offset: 0)] : tokens
    }

    // MARK: Tokens

    private var current: TemplateToken { tokens[index] }

    /// Moves past the current token (never past the final `.end`) and returns it.
    @discardableResult
    private mutating func advance() -> TemplateToken {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func isName(_ name: String, at position: Int? = nil) -> Bool {
        let position = min(position ?? index, tokens.count - 1)
        if case .name(let actual) = tokens[position].kind { return actual == name }
        return false
    }

    private func isSymbol(_ symbol: TemplateSymbol) -> Bool {
        current.kind == .symbol(symbol)
    }

    private mutating func expect(_ symbol: TemplateSymbol) throws {
        guard isSymbol(symbol) else { throw unexpected(expected: "'\(symbol.rawValue)'") }
        advance()
    }

    private mutating func expectTagClose() throws {
        guard current.kind == .tagClose else { throw unexpected(expected: "'%}'") }
        advance()
    }

    private func unexpected(expected: String) -> TemplateError {
        TemplateError("expected \(expected), got \(current.display)", at: current.offset)
    }

    // MARK: Blocks

    /// Parses nodes up to one of `endTags` (consuming `{%` and the tag name) or the end.
    private mutating func parseNodes(until endTags: Set<String>, in block: OpenBlock?) throws
        -> (nodes: [TemplateNode], endTag: String)
    {
        var nodes: [TemplateNode] = []
        while true {
            let token = advance()
            switch token.kind {
            case .text(let string):
                let start = text.count
                text += string.utf8
                nodes.append(.text(start..<text.count))
            case .outputOpen:
                let expression = try parseExpression()
                guard current.kind == .outputClose else { throw unexpected(expected: "'}}'") }
                advance()
                nodes.append(.output(arena.keep(expression)))
            case .tagOpen:
                guard case .name(let name) = current.kind else { throw unexpected(expected: "a tag name") }
                advance()
                if endTags.contains(name) { return (nodes, name) }
                nodes.append(try parseTag(name, openedAt: token.offset, in: block))
            case .end:
                if let block {
                    throw TemplateError(
                        "unclosed '{% \(block.tag) %}' (expected '{% \(block.closingTag) %}')", at: block.offset)
                }
                return (nodes, "")
            default:
                throw TemplateError("unexpected \(token.display)", at: token.offset)
            }
        }
    }

    private mutating func parseTag(_ name: String, openedAt offset: Int, in block: OpenBlock?) throws -> TemplateNode {
        switch name {
        case "if": return try nested(offset) { try $0.parseIf(openedAt: offset) }
        case "for": return try nested(offset) { try $0.parseFor(openedAt: offset) }
        case "set": return try nested(offset) { try $0.parseSet(openedAt: offset) }
        default:
            if TemplateParser.closingTags.contains(name) {
                var message = "unexpected '{% \(name) %}'"
                if let block { message += "; expected '{% \(block.closingTag) %}'" }
                throw TemplateError(message, at: offset)
            }
            let known = TemplateParser.openingTags + TemplateParser.closingTags.sorted()
            let hint = Suggestion.didYouMean(name, in: known)
            throw TemplateError(
                "unknown tag '\(name)'" + (hint.isEmpty ? " (tags are if, for, set and raw)" : hint), at: offset)
        }
    }

    private mutating func nested(_ offset: Int, _ parse: (inout TemplateParser) throws -> TemplateNode) throws
        -> TemplateNode
    {
        blockDepth += 1
        defer { blockDepth -= 1 }
        guard blockDepth <= TemplateParser.maximumDepth else {
            throw TemplateError("blocks nested deeper than \(TemplateParser.maximumDepth) levels", at: offset)
        }
        return try parse(&self)
    }

    private mutating func parseIf(openedAt offset: Int) throws -> TemplateNode {
        let block = OpenBlock(tag: "if", closingTag: "endif", offset: offset)
        var branches: [TemplateBranch] = []
        var condition = try parseExpression()
        while true {
            try expectTagClose()
            let (body, endTag) = try parseNodes(until: ["elif", "else", "endif"], in: block)
            branches.append(TemplateBranch(condition: condition, body: body))
            switch endTag {
            case "elif":
                condition = try parseExpression()
            case "else":
                try expectTagClose()
                let (otherwise, _) = try parseNodes(until: ["endif"], in: block)
                try expectTagClose()
                return .conditional(arena.keep(TemplateConditional(branches: branches, otherwise: otherwise)))
            default:
                try expectTagClose()
                return .conditional(arena.keep(TemplateConditional(branches: branches, otherwise: nil)))
            }
        }
    }

    private mutating func parseFor(openedAt offset: Int) throws -> TemplateNode {
        let variable = try parseAssignedName(after: "for")
        if isSymbol(.comma) {
            throw TemplateError("unpacking into several loop variables is not supported", at: current.offset)
        }
        guard isName("in") else { throw unexpected(expected: "'in'") }
        advance()
        let sequence = try parseExpression(allowsConditional: false)
        if isName("if") {
            throw TemplateError(
                "filtering a loop with 'if' is not supported; put an '{% if %}' inside the loop", at: current.offset)
        }
        try expectTagClose()
        let block = OpenBlock(tag: "for", closingTag: "endfor", offset: offset)
        let (body, endTag) = try parseNodes(until: ["else", "endfor"], in: block)
        var otherwise: [TemplateNode]?
        if endTag == "else" {
            try expectTagClose()
            otherwise = try parseNodes(until: ["endfor"], in: block).nodes
        }
        try expectTagClose()
        return .loop(
            arena.keep(
                TemplateLoop(
                    variable: variable, sequence: sequence, body: body,
                    otherwise: otherwise)))
    }

    private mutating func parseSet(openedAt offset: Int) throws -> TemplateNode {
        let name = try parseAssignedName(after: "set")
        if isSymbol(.assign) {
            advance()
            let value = try parseExpression()
            try expectTagClose()
            return .assignment(arena.keep(TemplateAssignment(name: name, value: value)))
        }
        if current.kind == .tagClose {
            advance()
            let block = OpenBlock(tag: "set", closingTag: "endset", offset: offset)
            let (body, _) = try parseNodes(until: ["endset"], in: block)
            try expectTagClose()
            return .blockAssignment(arena.keep(TemplateBlockAssignment(name: name, body: body)))
        }
        if isSymbol(.dot) || isSymbol(.leftBracket) || isSymbol(.comma) {
            throw TemplateError("'set' can only assign to a single plain name", at: current.offset)
        }
        throw unexpected(expected: "'=' or '%}'")
    }

    private mutating func parseAssignedName(after keyword: String) throws -> String {
        guard case .name(let name) = current.kind else {
            throw unexpected(expected: "a variable name after '\(keyword)'")
        }
        if TemplateParser.literalNames[name] != nil || TemplateParser.operatorWords.contains(name) {
            throw TemplateError("cannot assign to '\(name)'", at: current.offset)
        }
        advance()
        return name
    }

    // MARK: Expressions

    private mutating func make(_ kind: TemplateExpression.Kind, at offset: Int) throws -> TemplateExpression {
        let expression = TemplateExpression(kind, at: offset)
        guard expression.depth <= TemplateParser.maximumDepth else { throw tooDeep(at: offset) }
        return expression
    }

    private func tooDeep(at offset: Int) -> TemplateError {
        TemplateError("expression nested deeper than \(TemplateParser.maximumDepth) levels", at: offset)
    }

    /// Runs `parse` one level deeper, refusing to go past `maximumDepth`.
    private mutating func deeper<T>(_ parse: (inout TemplateParser) throws -> T) throws -> T {
        expressionNesting += 1
        defer { expressionNesting -= 1 }
        guard expressionNesting <= TemplateParser.maximumDepth else { throw tooDeep(at: current.offset) }
        return try parse(&self)
    }

    private mutating func parseExpression(allowsConditional: Bool = true) throws -> TemplateExpression {
        try deeper { parser in
            let value = try parser.parseOr()
            guard allowsConditional && parser.isName("if") else { return value }
            let offset = parser.advance().offset
            let condition = try parser.parseOr()
            guard parser.isName("else") else {
                throw TemplateError("an inline 'if' needs an 'else'", at: parser.current.offset)
            }
            parser.advance()
            let otherwise = try parser.parseExpression()
            return try parser.make(.conditional(condition: condition, then: value, otherwise: otherwise), at: offset)
        }
    }

    private mutating func parseOr() throws -> TemplateExpression {
        var left = try parseAnd()
        while isName("or") {
            let offset = advance().offset
            left = try make(.logical(.or, left, try parseAnd()), at: offset)
        }
        return left
    }

    private mutating func parseAnd() throws -> TemplateExpression {
        var left = try parseNot()
        while isName("and") {
            let offset = advance().offset
            left = try make(.logical(.and, left, try parseNot()), at: offset)
        }
        return left
    }

    private mutating func parseNot() throws -> TemplateExpression {
        guard isName("not") else { return try parseComparison() }
        let offset = advance().offset
        let operand = try deeper { try $0.parseNot() }
        return try make(.not(operand), at: offset)
    }

    private static let comparisonSymbols: [TemplateSymbol: TemplateComparisonOperator] = [
        .equal: .equal, .notEqual: .notEqual, .less: .less, .lessEqual: .lessEqual, .greater: .greater,
        .greaterEqual: .greaterEqual,
    ]

    private mutating func parseComparison() throws -> TemplateExpression {
        let first = try parseSum()
        var rest: [TemplateComparison] = []
        while true {
            let offset = current.offset
            let comparisonOperator: TemplateComparisonOperator
            if case .symbol(let symbol) = current.kind, let match = TemplateParser.comparisonSymbols[symbol] {
                comparisonOperator = match
                advance()
            } else if isName("in") {
                comparisonOperator = .contains
                advance()
            } else if isName("not") && isName("in", at: index + 1) {
                comparisonOperator = .notContains
                advance()
                advance()
            } else {
                break
            }
            rest.append(
                TemplateComparison(comparisonOperator: comparisonOperator, operand: try parseSum(), offset: offset))
        }
        guard let firstOffset = rest.first?.offset else { return first }
        return try make(.comparison(first, rest), at: firstOffset)
    }

    private mutating func parseSum() throws -> TemplateExpression {
        var left = try parseConcatenation()
        while isSymbol(.plus) || isSymbol(.minus) {
            let operation: TemplateBinaryOperator = isSymbol(.plus) ? .add : .subtract
            let offset = advance().offset
            left = try make(.binary(operation, left, try parseConcatenation()), at: offset)
        }
        return left
    }

    private mutating func parseConcatenation() throws -> TemplateExpression {
        var operands = [try parseProduct()]
        var offset: Int?
        while isSymbol(.tilde) {
            offset = offset ?? current.offset
            advance()
            operands.append(try parseProduct())
        }
        guard let offset else { return operands[0] }
        return try make(.concatenation(operands), at: offset)
    }

    private static let productSymbols: [TemplateSymbol: TemplateBinaryOperator] = [
        .star: .multiply, .slash: .divide, .floorDivide: .floorDivide, .percent: .modulo,
    ]

    private mutating func parseProduct() throws -> TemplateExpression {
        var left = try parsePower()
        while case .symbol(let symbol) = current.kind, let operation = TemplateParser.productSymbols[symbol] {
            let offset = advance().offset
            left = try make(.binary(operation, left, try parsePower()), at: offset)
        }
        return left
    }

    private mutating func parsePower() throws -> TemplateExpression {
        let operand = try parseUnary()
        if isSymbol(.power) { throw TemplateError("the '**' operator is not supported", at: current.offset) }
        return operand
    }

    private mutating func parseUnary(withFilters: Bool = true) throws -> TemplateExpression {
        var expression: TemplateExpression
        if isSymbol(.minus) || isSymbol(.plus) {
            let operation: TemplateUnaryOperator = isSymbol(.minus) ? .negate : .plus
            let offset = advance().offset
            let operand = try deeper { try $0.parseUnary(withFilters: false) }
            switch (operation, operand.kind) {
            case (.negate, .literal(.int(let int))): expression = try make(.literal(.int(-int)), at: offset)
            case (.negate, .literal(.double(let double))): expression = try make(.literal(.double(-double)), at: offset)
            default: expression = try make(.unary(operation, operand), at: offset)
            }
        } else {
            expression = try parsePrimary()
        }
        expression = try parsePostfix(expression)
        return withFilters ? try parseFiltersAndTests(expression) : expression
    }

    private mutating func parsePrimary() throws -> TemplateExpression {
        let token = current
        switch token.kind {
        case .name(let name):
            if let literal = TemplateParser.literalNames[name] {
                advance()
                return try make(.literal(literal), at: token.offset)
            }
            guard !TemplateParser.operatorWords.contains(name) else { throw unexpected(expected: "an expression") }
            advance()
            return try make(.variable(name), at: token.offset)
        case .string(var value):
            advance()
            while case .string(let next) = current.kind {  // adjacent strings join, as in Python
                value += next
                advance()
            }
            return try make(.literal(.string(value)), at: token.offset)
        case .integer(let int):
            advance()
            return try make(.literal(.int(int)), at: token.offset)
        case .float(let double):
            advance()
            return try make(.literal(.double(double)), at: token.offset)
        case .symbol(.leftParen):
            advance()
            let inner = try parseExpression()
            if isSymbol(.comma) {
                throw TemplateError("tuples are not supported; use a list '[…]'", at: current.offset)
            }
            try expect(.rightParen)
            return inner
        case .symbol(.leftBracket):
            advance()
            let items = try parseSequence(closedBy: .rightBracket) { try $0.parseExpression() }
            return try make(.list(items), at: token.offset)
        case .symbol(.leftBrace):
            advance()
            let entries = try parseSequence(closedBy: .rightBrace) { parser in
                let key = try parser.parseExpression()
                try parser.expect(.colon)
                return (key: key, value: try parser.parseExpression())
            }
            return try make(.dictionary(entries), at: token.offset)
        default:
            throw unexpected(expected: "an expression")
        }
    }

    /// Comma-separated items up to `closer` (a trailing comma is allowed), consuming the closer.
    private mutating func parseSequence<T>(closedBy closer: TemplateSymbol, _ item: (inout TemplateParser) throws -> T)
        throws -> [T]
    {
        try deeper { parser in
            var items: [T] = []
            while !parser.isSymbol(closer) {
                if !items.isEmpty {
                    try parser.expect(.comma)
                    if parser.isSymbol(closer) { break }
                }
                items.append(try item(&parser))
            }
            parser.advance()
            return items
        }
    }

    private mutating func parsePostfix(_ base: TemplateExpression) throws -> TemplateExpression {
        var expression = base
        while true {
            let access: TemplateAccess
            if isSymbol(.dot) {
                advance()
                switch current.kind {
                case .name(let name): access = TemplateAccess(kind: .key(name), offset: current.offset)
                case .integer(let int): access = TemplateAccess(kind: .index(int), offset: current.offset)
                default: throw unexpected(expected: "a field name after '.'")
                }
                advance()
            } else if isSymbol(.leftBracket) {
                let offset = advance().offset
                access = try deeper { parser in
                    if parser.isSymbol(.colon) {
                        throw TemplateError("slices are not supported", at: parser.current.offset)
                    }
                    let key = try parser.parseExpression()
                    if parser.isSymbol(.colon) {
                        throw TemplateError("slices are not supported", at: parser.current.offset)
                    }
                    try parser.expect(.rightBracket)
                    switch key.kind {
                    case .literal(.string(let name)): return TemplateAccess(kind: .key(name), offset: offset)
                    case .literal(.int(let int)): return TemplateAccess(kind: .index(int), offset: offset)
                    default: return TemplateAccess(kind: .dynamic(key), offset: offset)
                    }
                }
            } else if isSymbol(.leftParen) {
                throw TemplateError("templates cannot call functions", at: current.offset)
            } else {
                return expression
            }
            if case .access(let root, let accesses) = expression.kind {
                expression = try make(.access(root, accesses + [access]), at: expression.offset)
            } else {
                expression = try make(.access(expression, [access]), at: expression.offset)
            }
        }
    }

    private mutating func parseFiltersAndTests(_ input: TemplateExpression) throws -> TemplateExpression {
        var expression = input
        while true {
            if isSymbol(.pipe) {
                advance()
                expression = try parseFilter(input: expression)
            } else if isName("is") {
                advance()
                let isNegated = isName("not")
                if isNegated { advance() }
                guard case .name(let name) = current.kind else { throw unexpected(expected: "a test name after 'is'") }
                guard let test = TemplateTest(rawValue: name) else {
                    let names = TemplateTest.allCases.map(\.rawValue)
                    throw TemplateError(
                        "unknown test '\(name)'" + Suggestion.didYouMean(name, in: names), at: current.offset)
                }
                let offset = advance().offset
                if isSymbol(.leftParen) { throw TemplateError("test '\(name)' takes no arguments", at: current.offset) }
                expression = try make(.test(expression, test, isNegated: isNegated), at: offset)
            } else if isSymbol(.leftParen) {
                throw TemplateError("templates cannot call functions", at: current.offset)
            } else {
                return expression
            }
        }
    }

    private mutating func parseFilter(input: TemplateExpression) throws -> TemplateExpression {
        guard case .name(let name) = current.kind else { throw unexpected(expected: "a filter name after '|'") }
        let offset = advance().offset
        guard let filter = TemplateFilter.named(name) else {
            throw TemplateError(
                "unknown filter '\(name)'" + Suggestion.didYouMean(name, in: TemplateFilter.names), at: offset)
        }
        let parameters = filter.parameters
        var arguments = [TemplateExpression?](repeating: nil, count: parameters.count)
        if isSymbol(.leftParen) {
            advance()
            var positional = 0
            var hasKeyword = false
            _ = try parseSequence(closedBy: .rightParen) { parser in
                if case .name(let keyword) = parser.current.kind,
                    parser.tokens[parser.index + 1].kind == .symbol(.assign)
                {
                    let keywordOffset = parser.advance().offset
                    parser.advance()
                    guard let position = parameters.firstIndex(where: { $0.name == keyword }) else {
                        throw TemplateError(
                            "filter '\(name)' has no argument '\(keyword)'"
                                + Suggestion.didYouMean(keyword, in: parameters.map(\.name)), at: keywordOffset)
                    }
                    guard arguments[position] == nil else {
                        throw TemplateError("filter '\(name)' got argument '\(keyword)' twice", at: keywordOffset)
                    }
                    arguments[position] = try parser.parseExpression()
                    hasKeyword = true
                } else {
                    let argumentOffset = parser.current.offset
                    if hasKeyword {
                        throw TemplateError(
                            "a positional argument cannot follow a keyword argument", at: argumentOffset)
                    }
                    guard positional < parameters.count else {
                        let limit =
                            parameters.isEmpty
                            ? "takes no arguments"
                            : "takes at most \(parameters.count) argument\(parameters.count == 1 ? "" : "s")"
                        throw TemplateError("filter '\(name)' \(limit)", at: argumentOffset)
                    }
                    arguments[positional] = try parser.parseExpression()
                    positional += 1
                }
            }
        }
        for (position, parameter) in parameters.enumerated() where parameter.isRequired && arguments[position] == nil {
            throw TemplateError("filter '\(name)' is missing argument '\(parameter.name)'", at: offset)
        }
        return try make(.filter(input, TemplateFilterCall(filter: filter, arguments: arguments)), at: offset)
    }
}
