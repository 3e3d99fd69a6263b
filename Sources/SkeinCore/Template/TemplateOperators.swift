/// What values mean to templates: Python's (and so Jinja2's) truthiness, equality,
/// ordering, arithmetic and `str()`, over `JSONValue`. Integers are 64-bit: where
/// Python would grow a big integer, Skein reports an overflow.
package enum TemplateOperators {
    /// The text a value renders as: strings as they are, numbers and booleans as Python
    /// prints them (`3`, `0.5`, `1e+20`, `True`), null as `None`; lists and objects as
    /// compact JSON (Jinja2 would print Python's repr, `['a', 'b']`).
    static func text(of value: JSONValue) -> String {
        switch value {
        case .string(let string): return string
        case .int(let int): return String(int)
        case .double(let double): return pythonString(double)
        case .bool(let bool): return bool ? "True" : "False"
        case .null: return "None"
        case .array, .object: return value.serialized(.compact)
        }
    }

    /// Appends `text(of:)` as UTF-8.
    static func write(_ value: JSONValue, to output: inout [UInt8]) {
        switch value {
        case .string(let string): appendUTF8(string, to: &output)
        case .int(let int): appendDecimal(int, to: &output)
        case .array, .object: value.write(to: &output, style: .compact)
        default: appendUTF8(text(of: value), to: &output)
        }
    }

    /// Appends a string's UTF-8 in one copy (`output += string.utf8` goes through the
    /// generic sequence path, several times slower).
    static func appendUTF8(_ string: String, to output: inout [UInt8]) {
        var string = string
        string.withUTF8 { output.append(contentsOf: $0) }
    }

    /// Appends the UTF-8 bytes at `offsets` of a string.
    static func appendUTF8(_ string: String, offsets: Range<Int>, to output: inout [UInt8]) {
        withUTF8(string) { output.append(contentsOf: UnsafeBufferPointer(rebasing: $0[offsets])) }
    }

    /// Calls `body` with a string's UTF-8. Walking bytes this way costs a fraction of
    /// walking `string.utf8`, which checks and advances a string index at every byte.
    static func withUTF8<Result>(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows
        -> Result
    {
        var string = string
        return try string.withUTF8(body)
    }

    /// Appends an integer's decimal digits (without building a `String`).
    package static func appendDecimal(_ int: Int, to output: inout [UInt8]) {
        if int >= 0 && int < 10 { return output.append(UInt8(ascii: "0") + UInt8(int)) }
        // Digits from the last, into a buffer on the stack, then one append: appending
        // byte by byte checks the array's capacity and uniqueness at every digit.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var magnitude = int.magnitude
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if int < 0 {
                start -= 1
                digits[start] = UInt8(ascii: "-")
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// Python's `str(float)`.
    static func pythonString(_ double: Double) -> String {
        if double.isNaN { return "nan" }
        if double.isInfinite { return double < 0 ? "-inf" : "inf" }
        return JSONValue.formatDouble(double)
    }

    static func isTruthy(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return false
        case .bool(let bool): return bool
        case .int(let int): return int != 0
        case .double(let double): return double != 0
        case .string(let string): return !string.isEmpty
        case .array(let items): return !items.isEmpty
        case .object(let object): return !object.isEmpty
        }
    }

    // MARK: Type names

    /// `integer`, `float`, `string`, … for messages.
    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "float"
        case .string: return "string"
        case .array: return "list"
        case .object: return "object"
        }
    }

    /// `an integer`, `a list`, `null`, … for messages.
    static func describeType(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .int: return "an integer"
        case .object: return "an object"
        default: return "a \(typeName(value))"
        }
    }

    // MARK: Equality and ordering

    /// Python's `==`: numbers by value (`1 == 1.0 == True`), strings by code points,
    /// lists element-wise, objects by keys and values in any order.
    static func equals(_ left: JSONValue, _ right: JSONValue) -> Bool {
        switch (left, right) {
        case (.null, .null): return true
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { equals($0, $1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (key, value) in a {
                guard let other = b[key], equals(value, other) else { return false }
            }
            return true
        default:
            guard let a = number(left), let b = number(right) else { return false }
            switch (a, b) {
            case (.int(let x), .int(let y)): return x == y
            default: return asDouble(a) == asDouble(b)
            }
        }
    }

    enum Ordering {
        case less, equal, greater
        /// A NaN is involved: every ordering comparison is false.
        case unordered
    }

    /// Python's ordering (`<`, `<=`, `>`, `>=`) of numbers, strings (by code point) and lists.
    /// - Returns: `nil` when Python would raise a `TypeError`.
    static func compare(_ left: JSONValue, _ right: JSONValue) -> Ordering? {
        switch (left, right) {
        case (.string(let a), .string(let b)):
            if a.unicodeScalars.elementsEqual(b.unicodeScalars) { return .equal }
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? .less : .greater
        case (.array(let a), .array(let b)):
            for (x, y) in zip(a, b) where !equals(x, y) {
                return compare(x, y)
            }
            return a.count < b.count ? .less : a.count > b.count ? .greater : .equal
        default:
            guard let a = number(left), let b = number(right) else { return nil }
            if case .int(let x) = a, case .int(let y) = b { return x < y ? .less : x > y ? .greater : .equal }
            let x = asDouble(a), y = asDouble(b)
            if x.isNaN || y.isNaN { return .unordered }
            return x < y ? .less : x > y ? .greater : .equal
        }
    }

    /// Python's `in`: substring, list membership, object key.
    /// - Returns: `nil` when Python would raise a `TypeError`.
    static func contains(_ container: JSONValue, _ element: JSONValue) -> Bool? {
        switch container {
        case .string(let string):
            guard case .string(let needle) = element else { return nil }
            // UTF-8 byte matching finds exactly the code-point matches.
            return needle.isEmpty || Array(string.utf8).firstRange(of: Array(needle.utf8)) != nil
        case .array(let items): return items.contains { equals($0, element) }
        case .object(let object):
            guard case .string(let key) = element else { return false }
            return object[key] != nil
        default: return nil
        }
    }

    // MARK: Arithmetic

    /// A number for arithmetic: booleans count as 0 and 1, as in Python.
    private static func number(_ value: JSONValue) -> JSONValue? {
        switch value {
        case .int, .double: return value
        case .bool(let bool): return .int(bool ? 1 : 0)
        default: return nil
        }
    }

    private static func asDouble(_ number: JSONValue) -> Double {
        switch number {
        case .int(let int): return Double(int)
        case .double(let double): return double
        default: return .nan
        }
    }

    /// Longest string or list that `*` may build, so a template cannot exhaust memory.
    static let maximumRepetitionLength = 10_000_000

    /// Budgets that keep one render from exhausting memory or time: doubling a string 40
    /// times with `{% set a = a ~ a %}` reached 13 GB within 30 s, and eight nested loops
    /// over ten items ran for minutes. A prompt is far below each (a million-token context
    /// is about 4 MB of text).
    ///
    /// The UTF-8 size of the rendered text, and of any string built by `~`, `+` or `replace`.
    static let maximumTextBytes = 64 << 20
    /// Items in a list built by `+`.
    static let maximumListItems = 10_000_000
    /// Loop iterations in one render, all loops together.
    static let maximumLoopIterations = 1_000_000

    static func tooLong(_ what: String, at offset: Int) -> TemplateError {
        TemplateError("\(what) would be longer than \(maximumTextBytes >> 20) MiB, the most a template may build", at: offset)
    }

    static func binary(_ operation: TemplateBinaryOperator, _ left: JSONValue, _ right: JSONValue, at offset: Int)
        throws -> JSONValue
    {
        if let a = number(left), let b = number(right) {
            return try arithmetic(operation, a, b, at: offset)
        }
        switch (operation, left, right) {
        case (.add, .string(let a), .string(let b)):
            guard a.utf8.count + b.utf8.count <= maximumTextBytes else { throw tooLong("the result of '+'", at: offset) }
            return .string(a + b)
        case (.add, .array(let a), .array(let b)):
            guard a.count + b.count <= maximumListItems else {
                throw TemplateError("the result of '+' would have more than \(maximumListItems) items", at: offset)
            }
            return .array(a + b)
        case (.multiply, .string, _), (.multiply, .array, _):
            if let count = number(right) { return try repeated(left, count, at: offset) }
        case (.multiply, _, .string), (.multiply, _, .array):
            if let count = number(left) { return try repeated(right, count, at: offset) }
        case (.modulo, .string, _):
            throw TemplateError("string formatting with '%' is not supported; use '~' or filters", at: offset)
        default:
            break
        }
        throw TemplateError(
            "unsupported operand types for '\(operation.rawValue)': '\(typeName(left))' and '\(typeName(right))'",
            at: offset)
    }

    private static func repeated(_ value: JSONValue, _ count: JSONValue, at offset: Int) throws -> JSONValue {
        guard case .int(let requested) = count else {
            throw TemplateError("can't multiply a \(typeName(value)) by a non-integer", at: offset)
        }
        let times = max(0, requested)
        switch value {
        case .string(let string):
            let length = string.unicodeScalars.count
            guard length == 0 || times <= maximumRepetitionLength / length else {
                throw TemplateError(
                    "result of '*' would be longer than \(maximumRepetitionLength) characters", at: offset)
            }
            return .string(String(repeating: string, count: times))
        case .array(let items):
            guard items.isEmpty || times <= maximumRepetitionLength / items.count else {
                throw TemplateError("result of '*' would have more than \(maximumRepetitionLength) items", at: offset)
            }
            return .array(Array([[JSONValue]](repeating: items, count: times).joined()))
        default:
            throw TemplateError("unsupported operand types for '*'", at: offset)
        }
    }

    private static func arithmetic(
        _ operation: TemplateBinaryOperator, _ left: JSONValue, _ right: JSONValue,
        at offset: Int
    ) throws -> JSONValue {
        if case .int(let a) = left, case .int(let b) = right {
            return try integerArithmetic(operation, a, b, at: offset)
        }
        let a = asDouble(left), b = asDouble(right)
        switch operation {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide:
            guard b != 0 else { throw TemplateError("division by zero", at: offset) }
            return .double(a / b)
        case .floorDivide:
            guard b != 0 else { throw TemplateError("division by zero", at: offset) }
            return .double(pythonDivisionAndModulo(a, b).quotient)
        case .modulo:
            guard b != 0 else { throw TemplateError("division by zero", at: offset) }
            return .double(pythonDivisionAndModulo(a, b).remainder)
        }
    }

    private static func integerArithmetic(_ operation: TemplateBinaryOperator, _ a: Int, _ b: Int, at offset: Int)
        throws -> JSONValue
    {
        let result: (partialValue: Int, overflow: Bool)
        switch operation {
        case .add: result = a.addingReportingOverflow(b)
        case .subtract: result = a.subtractingReportingOverflow(b)
        case .multiply: result = a.multipliedReportingOverflow(by: b)
        case .divide:
            guard b != 0 else { throw TemplateError("division by zero", at: offset) }
            return .double(Double(a) / Double(b))
        case .floorDivide, .modulo:
            guard b != 0 else { throw TemplateError("division by zero", at: offset) }
            let quotient = a.dividedReportingOverflow(by: b)
            guard !quotient.overflow else {
                throw TemplateError("integer overflow in '\(operation.rawValue)'", at: offset)
            }
            var q = quotient.partialValue
            var r = a - q * b
            if r != 0 && ((r < 0) != (b < 0)) {
                q -= 1
                r += b
            }
            return .int(operation == .floorDivide ? q : r)
        }
        guard !result.overflow else { throw TemplateError("integer overflow in '\(operation.rawValue)'", at: offset) }
        return .int(result.partialValue)
    }

    /// Python's float `divmod` (CPython's `_float_div_mod`), so `-7.5 // 2` is `-4.0` and
    /// `-7.5 % 2` is `0.5`.
    static func pythonDivisionAndModulo(_ x: Double, _ y: Double) -> (quotient: Double, remainder: Double) {
        var remainder = x.truncatingRemainder(dividingBy: y)
        var division = (x - remainder) / y
        if remainder != 0 {
            if (y < 0) != (remainder < 0) {
                remainder += y
                division -= 1
            }
        } else {
            remainder = Double(signOf: y, magnitudeOf: 0)
        }
        var quotient: Double
        if division != 0 {
            quotient = division.rounded(.down)
            if division - quotient > 0.5 { quotient += 1 }
        } else {
            quotient = Double(signOf: x / y, magnitudeOf: 0)
        }
        return (quotient, remainder)
    }

    static func unary(_ operation: TemplateUnaryOperator, _ operand: JSONValue, at offset: Int) throws -> JSONValue {
        switch number(operand) {
        case .int(let int)?:
            if operation == .plus { return .int(int) }
            guard int != Int.min else { throw TemplateError("integer overflow in unary '-'", at: offset) }
            return .int(-int)
        case .double(let double)?:
            return .double(operation == .plus ? double : -double)
        default:
            throw TemplateError(
                "unsupported operand type for unary '\(operation.rawValue)': '\(typeName(operand))'", at: offset)
        }
    }
}
