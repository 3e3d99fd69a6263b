/// A JSON value, as the test server reads request bodies and writes replies.
///
/// `SkeinTesting` does not depend on `SkeinKit`, so it carries this small type of its own.
/// Integers and floating-point numbers stay distinct (`max_tokens: 5` reads as `.int(5)`),
/// and objects serialize with their keys sorted so that replies are byte-for-byte stable.
public enum TestJSON: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([TestJSON])
    case object([String: TestJSON])
}

extension TestJSON {
    /// Member lookup for objects; `nil` for anything else or a missing key.
    public subscript(key: String) -> TestJSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// Element lookup for arrays; `nil` for anything else or an index out of range.
    public subscript(index: Int) -> TestJSON? {
        if case .array(let elements) = self, elements.indices.contains(index) { return elements[index] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var arrayValue: [TestJSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: [String: TestJSON]? { if case .object(let o) = self { return o } else { return nil } }
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// The value as an integer when it is an integer, or a double with no fractional part.
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int(d)
        default: return nil
        }
    }

    /// The value as a double when it is any number.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
}

extension TestJSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: TestJSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, TestJSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
