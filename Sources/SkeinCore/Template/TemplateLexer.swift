/// An error inside template text, located by its Unicode-scalar offset in the normalized
/// text. `Template` turns it into a `Diagnostic` with the pipeline file's line and column.
struct TemplateError: Error, Sendable {
    var message: String
    var offset: Int

    init(_ message: String, at offset: Int) {
        self.message = message
        self.offset = offset
    }
}

/// Operators and punctuation inside `{{ }}` and `{% %}`.
enum TemplateSymbol: String, Sendable {
    case plus = "+", minus = "-", star = "*", power = "**", slash = "/", floorDivide = "//", percent = "%"
    case tilde = "~", equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">"
    case greaterEqual = ">=", assign = "=", leftParen = "(", rightParen = ")", leftBracket = "["
    case rightBracket = "]", leftBrace = "{", rightBrace = "}", comma = ",", dot = ".", colon = ":"
    case pipe = "|"
}

struct TemplateToken: Sendable {
    enum Kind: Sendable, Equatable {
        /// Literal text between tags, whitespace control already applied.
        case text(String)
        case outputOpen, outputClose, tagOpen, tagClose
        case name(String)
        case integer(Int)
        case float(Double)
        case string(String)
        case symbol(TemplateSymbol)
        case end
    }

    var kind: Kind
    /// Unicode-scalar offset of the token's first character.
    var offset: Int

    /// How the token reads in an "expected X, got Y" message.
    var display: String {
        switch kind {
        case .text: return "text"
        case .outputOpen: return "'{{'"
        case .outputClose: return "'}}'"
        case .tagOpen: return "'{%'"
        case .tagClose: return "'%}'"
        case .name(let name): return "'\(name)'"
        case .integer(let value): return "'\(value)'"
        case .float(let value): return "'\(JSONValue.formatDouble(value))'"
        case .string: return "a string"
        case .symbol(let symbol): return "'\(symbol.rawValue)'"
        case .end: return "the end of the template"
        }
    }
}

/// Splits template text into text, delimiters and expression tokens, the way Jinja2's
/// lexer does with its default settings:
/// - `\r\n` and `\r` become `\n`, and one trailing newline is dropped (`keep_trailing_newline=False`);
/// - `{{-`, `{%-`, `{#-` strip the whitespace before the tag, `-}}`, `-%}`, `-#}` the whitespace
///   after it (Python's `str.isspace` set, newlines included); `+` is accepted and changes nothing;
/// - `}}` and `%}` only close a tag outside brackets, so `{{ {'a': {'b': 1}} }}` works;
/// - `{% raw %}…{% endraw %}` is text, `{# … #}` disappears.
struct TemplateLexer {
    private let scalars: [Unicode.Scalar]
    private var tokens: [TemplateToken] = []
    private var position = 0
    /// Set by a `-}}`-style close: the next text loses its leading whitespace.
    private var stripsNextText = false

    init(scalars: [Unicode.Scalar]) {
        self.scalars = scalars
    }

    /// The text as Jinja2 sees it: newlines normalized, one trailing newline removed.
    static func normalize(_ source: String) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(source.unicodeScalars.count)
        var previousWasCarriageReturn = false
        for scalar in source.unicodeScalars {
            if scalar == "\r" {
                result.append("\n")
                previousWasCarriageReturn = true
                continue
            }
            if scalar == "\n" && previousWasCarriageReturn {
                previousWasCarriageReturn = false
                continue
            }
            previousWasCarriageReturn = false
            result.append(scalar)
        }
        if result.last == "\n" { result.removeLast() }
        return result
    }

    static func tokenize(_ scalars: [Unicode.Scalar]) throws -> [TemplateToken] {
        var lexer = TemplateLexer(scalars: scalars)
        try lexer.run()
        return lexer.tokens
    }

    private mutating func run() throws {
        while position < scalars.count {
            let tagStart = nextTagStart(from: position)
            var text = scalars[position..<tagStart]
            if stripsNextText {
                text = text.drop(while: TemplateWhitespace.contains)
                stripsNextText = false
            }
            guard tagStart < scalars.count else {
                appendText(text)
                position = tagStart
                break
            }
            let kind = scalars[tagStart + 1]
            var index = tagStart + 2
            if index < scalars.count && (scalars[index] == "-" || scalars[index] == "+") {
                if scalars[index] == "-" { text = TemplateText.trimmingTrailingWhitespace(text) }
                index += 1
            }
            appendText(text)
            position = index
            switch kind {
            case "#": try lexComment(openedAt: tagStart)
            case "%":
                if try !lexRaw(openedAt: tagStart) {
                    tokens.append(TemplateToken(kind: .tagOpen, offset: tagStart))
                    try lexExpressionTokens(openedAt: tagStart, closer: "%")
                }
            default:
                tokens.append(TemplateToken(kind: .outputOpen, offset: tagStart))
                try lexExpressionTokens(openedAt: tagStart, closer: "}")
            }
        }
        tokens.append(TemplateToken(kind: .end, offset: scalars.count))
    }

    private mutating func appendText(_ text: ArraySlice<Unicode.Scalar>) {
        guard !text.isEmpty else { return }
        tokens.append(TemplateToken(kind: .text(TemplateText.string(text)), offset: text.startIndex))
    }

    /// The offset of the next `{{`, `{%` or `{#`, or the end of the text.
    private func nextTagStart(from start: Int) -> Int {
        var index = start
        while index + 1 < scalars.count {
            if scalars[index] == "{" {
                let next = scalars[index + 1]
                if next == "{" || next == "%" || next == "#" { return index }
            }
            index += 1
        }
        return scalars.count
    }

    private mutating func lexComment(openedAt start: Int) throws {
        var index = position
        while index + 1 < scalars.count {
            if scalars[index] == "#" && scalars[index + 1] == "}" {
                if index > position && scalars[index - 1] == "-" { stripsNextText = true }
                position = index + 2
                return
            }
            index += 1
        }
        throw TemplateError("unclosed comment (expected '#}')", at: start)
    }

    // MARK: Raw blocks

    /// Lexes `{% raw %}…{% endraw %}` as text when the tag at `position` is `raw`.
    /// - Returns: false when the tag is something else (nothing is consumed).
    private mutating func lexRaw(openedAt start: Int) throws -> Bool {
        guard let (afterOpen, stripsContentStart) = matchSimpleTag("raw", at: position) else { return false }
        var index = afterOpen
        while index + 1 < scalars.count {
            if scalars[index] == "{" && scalars[index + 1] == "%" {
                var nameStart = index + 2
                var stripsContentEnd = false
                if nameStart < scalars.count && (scalars[nameStart] == "-" || scalars[nameStart] == "+") {
                    stripsContentEnd = scalars[nameStart] == "-"
                    nameStart += 1
                }
                if let (afterClose, stripsAfter) = matchSimpleTag("endraw", at: nameStart) {
                    var content = scalars[afterOpen..<index]
                    if stripsContentStart { content = content.drop(while: TemplateWhitespace.contains) }
                    if stripsContentEnd { content = TemplateText.trimmingTrailingWhitespace(content) }
                    appendText(content)
                    stripsNextText = stripsAfter
                    position = afterClose
                    return true
                }
            }
            index += 1
        }
        throw TemplateError("unclosed '{% raw %}' (expected '{% endraw %}')", at: start)
    }

    /// Matches `␣*word␣*[-+]?%}` at `index`.
    /// - Returns: the offset after `%}` and whether the close was `-%}`.
    private func matchSimpleTag(_ word: String, at index: Int) -> (Int, Bool)? {
        var index = index
        while index < scalars.count && TemplateWhitespace.contains(scalars[index]) { index += 1 }
        for scalar in word.unicodeScalars {
            guard index < scalars.count, scalars[index] == scalar else { return nil }
            index += 1
        }
        guard index < scalars.count,
            TemplateWhitespace.contains(scalars[index]) || scalars[index] == "-"
                || scalars[index] == "+" || scalars[index] == "%"
        else { return nil }
        while index < scalars.count && TemplateWhitespace.contains(scalars[index]) { index += 1 }
        var strips = false
        if index < scalars.count && (scalars[index] == "-" || scalars[index] == "+") {
            strips = scalars[index] == "-"
            index += 1
        }
        guard index + 1 < scalars.count, scalars[index] == "%", scalars[index + 1] == "}" else { return nil }
        return (index + 2, strips)
    }

    // MARK: Expressions

    /// Lexes expression tokens up to the closing `}}` (closer `}`) or `%}` (closer `%`).
    private mutating func lexExpressionTokens(openedAt start: Int, closer: Unicode.Scalar) throws {
        var brackets: [(Unicode.Scalar, Int)] = []
        while true {
            while position < scalars.count && TemplateWhitespace.contains(scalars[position]) { position += 1 }
            guard position < scalars.count else {
                let (open, close) = closer == "}" ? ("{{", "}}") : ("{%", "%}")
                throw TemplateError("unclosed '\(open)' (expected '\(close)')", at: start)
            }
            if brackets.isEmpty, let (length, strips) = matchClose(closer) {
                tokens.append(TemplateToken(kind: closer == "}" ? .outputClose : .tagClose, offset: position))
                position += length
                stripsNextText = strips
                return
            }
            let scalar = scalars[position]
            if isDigit(scalar) {
                try lexNumber()
            } else if isNameStart(scalar) {
                let begin = position
                while position < scalars.count && isNameContinue(scalars[position]) { position += 1 }
                tokens.append(TemplateToken(kind: .name(TemplateText.string(scalars[begin..<position])), offset: begin))
            } else if scalar == "'" || scalar == "\"" {
                try lexString()
            } else {
                try lexSymbol(brackets: &brackets)
            }
        }
    }

    /// Matches `}}` / `-}}` (or `%}` / `-%}` / `+%}`) at the current position.
    private func matchClose(_ closer: Unicode.Scalar) -> (length: Int, strips: Bool)? {
        func matches(_ offset: Int, _ scalar: Unicode.Scalar) -> Bool {
            position + offset < scalars.count && scalars[position + offset] == scalar
        }
        if matches(0, closer) && matches(1, "}") { return (2, false) }
        if matches(0, "-") && matches(1, closer) && matches(2, "}") { return (3, true) }
        if closer == "%" && matches(0, "+") && matches(1, "%") && matches(2, "}") { return (3, false) }
        return nil
    }

    private mutating func lexSymbol(brackets: inout [(Unicode.Scalar, Int)]) throws {
        let begin = position
        let scalar = scalars[position]
        let next: Unicode.Scalar? = position + 1 < scalars.count ? scalars[position + 1] : nil
        let twoCharacter: TemplateSymbol? =
            switch (scalar, next) {
            case ("/", "/"): .floorDivide
            case ("*", "*"): .power
            case ("=", "="): .equal
            case ("!", "="): .notEqual
            case ("<", "="): .lessEqual
            case (">", "="): .greaterEqual
            default: nil
            }
        let symbol: TemplateSymbol
        if let twoCharacter {
            symbol = twoCharacter
            position += 2
        } else if let single = TemplateSymbol(rawValue: String(Character(scalar))) {
            symbol = single
            position += 1
        } else {
            throw TemplateError("unexpected character '\(Character(scalar))'", at: begin)
        }
        switch symbol {
        case .leftParen, .leftBracket, .leftBrace:
            brackets.append((scalar, begin))
        case .rightParen, .rightBracket, .rightBrace:
            guard let (open, _) = brackets.popLast() else {
                throw TemplateError("unexpected '\(symbol.rawValue)'", at: begin)
            }
            let expected: Unicode.Scalar = open == "(" ? ")" : open == "[" ? "]" : "}"
            if expected != scalar {
                throw TemplateError("unexpected '\(symbol.rawValue)'; expected '\(expected)'", at: begin)
            }
        default:
            break
        }
        tokens.append(TemplateToken(kind: .symbol(symbol), offset: begin))
    }

    /// Integers (decimal with `_` separators, `0x`, `0o`, `0b`) and floats (`1.5`, `2e3`),
    /// as Jinja2 reads them. A number right after `.` is never a float, so `a.0.1` is `a[0][1]`.
    private mutating func lexNumber() throws {
        let begin = position
        if scalars[position] == "0", position + 1 < scalars.count,
            let radix = ["x": 16, "X": 16, "o": 8, "O": 8, "b": 2, "B": 2][Character(scalars[position + 1])]
        {
            position += 2
            let digitsStart = position
            while position < scalars.count && (scalars[position] == "_" || Character(scalars[position]).isHexDigit) {
                position += 1
            }
            let digits = TemplateText.string(scalars[digitsStart..<position].filter { $0 != "_" })
            guard !digits.isEmpty, let value = Int(digits, radix: radix) else {
                throw TemplateError("invalid number literal", at: begin)
            }
            tokens.append(TemplateToken(kind: .integer(value), offset: begin))
            return
        }
        skipDigits()
        var isFloat = false
        let followsDot = begin > 0 && scalars[begin - 1] == "."
        if !followsDot && position + 1 < scalars.count && scalars[position] == "." && isDigit(scalars[position + 1]) {
            isFloat = true
            position += 1
            skipDigits()
        }
        if !followsDot && position < scalars.count && (scalars[position] == "e" || scalars[position] == "E") {
            var index = position + 1
            if index < scalars.count && (scalars[index] == "+" || scalars[index] == "-") { index += 1 }
            if index < scalars.count && isDigit(scalars[index]) {
                isFloat = true
                position = index
                skipDigits()
            }
        }
        let text = TemplateText.string(scalars[begin..<position].filter { $0 != "_" })
        if isFloat {
            guard let value = Double(text) else { throw TemplateError("invalid number literal", at: begin) }
            tokens.append(TemplateToken(kind: .float(value), offset: begin))
        } else {
            if text.count > 1 && text.hasPrefix("0") && text.contains(where: { $0 != "0" }) {
                throw TemplateError("invalid number literal '\(text)' (leading zeros)", at: begin)
            }
            guard let value = Int(text) else { throw TemplateError("integer literal too large", at: begin) }
            tokens.append(TemplateToken(kind: .integer(value), offset: begin))
        }
    }

    private mutating func skipDigits() {
        while position < scalars.count
            && (isDigit(scalars[position])
                || (scalars[position] == "_" && position + 1 < scalars.count && isDigit(scalars[position + 1])))
        {
            position += 1
        }
    }

    /// A quoted string with Python's escapes (`\n`, `\t`, `\\`, `\'`, `\xhh`, `\uhhhh`, …);
    /// an unknown escape keeps its backslash, as in Python.
    private mutating func lexString() throws {
        let begin = position
        let quote = scalars[position]
        position += 1
        var value = String.UnicodeScalarView()
        while position < scalars.count {
            let scalar = scalars[position]
            if scalar == quote {
                position += 1
                tokens.append(TemplateToken(kind: .string(String(value)), offset: begin))
                return
            }
            if scalar == "\\" && position + 1 < scalars.count {
                try lexEscape(into: &value)
                continue
            }
            value.append(scalar)
            position += 1
        }
        throw TemplateError("unterminated string", at: begin)
    }

    private mutating func lexEscape(into value: inout String.UnicodeScalarView) throws {
        let begin = position
        let escaped = scalars[position + 1]
        position += 2
        switch escaped {
        case "\n": break
        case "\\", "'", "\"": value.append(escaped)
        case "a": value.append("\u{07}")
        case "b": value.append("\u{08}")
        case "f": value.append("\u{0C}")
        case "n": value.append("\n")
        case "r": value.append("\r")
        case "t": value.append("\t")
        case "v": value.append("\u{0B}")
        case "0"..."7":
            var code = escaped.value - 48
            var count = 1
            while count < 3, position < scalars.count, ("0"..."7").contains(scalars[position]) {
                code = code * 8 + scalars[position].value - 48
                position += 1
                count += 1
            }
            try appendCode(code, to: &value, escapeAt: begin)
        case "x", "u", "U":
            let length = escaped == "x" ? 2 : escaped == "u" ? 4 : 8
            guard position + length <= scalars.count,
                let code = UInt32(TemplateText.string(scalars[position..<position + length]), radix: 16),
                scalars[position..<position + length].allSatisfy({ Character($0).isHexDigit })
            else {
                throw TemplateError("invalid '\\\(escaped)' escape: expected \(length) hexadecimal digits", at: begin)
            }
            position += length
            try appendCode(code, to: &value, escapeAt: begin)
        case "N":
            throw TemplateError("'\\N{…}' escapes are not supported", at: begin)
        default:
            value.append("\\")
            value.append(escaped)
        }
    }

    private func appendCode(_ code: UInt32, to value: inout String.UnicodeScalarView, escapeAt offset: Int) throws {
        guard let scalar = Unicode.Scalar(code) else {
            throw TemplateError(
                "invalid escape: U+\(String(code, radix: 16, uppercase: true)) is not a character", at: offset)
        }
        value.append(scalar)
    }

    private func isDigit(_ scalar: Unicode.Scalar) -> Bool { scalar >= "0" && scalar <= "9" }

    private func isNameStart(_ scalar: Unicode.Scalar) -> Bool {
        (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_"
    }

    private func isNameContinue(_ scalar: Unicode.Scalar) -> Bool { isNameStart(scalar) || isDigit(scalar) }
}

/// Python's whitespace (`str.isspace`, the `\s` of Jinja2's regular expressions).
enum TemplateWhitespace {
    static func contains(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }
}

/// Helpers for text held as Unicode scalars.
enum TemplateText {
    /// A string from scalars, through UTF-8 (appending scalars one by one to a
    /// `UnicodeScalarView` is many times slower).
    static func string(_ scalars: some Collection<Unicode.Scalar>) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(scalars.count)
        for scalar in scalars {
            UTF8.encode(scalar) { bytes.append($0) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func trimmingTrailingWhitespace(_ text: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        var end = text.endIndex
        while end > text.startIndex && TemplateWhitespace.contains(text[end - 1]) { end -= 1 }
        return text[text.startIndex..<end]
    }

    static func trimmingWhitespace(_ text: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        trimmingTrailingWhitespace(text.drop(while: TemplateWhitespace.contains))
    }
}
