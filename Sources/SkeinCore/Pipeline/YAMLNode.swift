/// A YAML node with its location, composed by `YAMLReader` from libyaml's events.
///
/// An aliased subtree is shared (copy-on-write), not copied, so the tree of an alias bomb
/// would be cheap to hold and exponential to walk: the reader counts every node an alias
/// stands for against `maximumNodes` before it adds the alias, and refuses nesting deeper
/// than `maximumDepth` as it meets it. Scalars are resolved with the YAML 1.2 core schema
/// (so `no`, `on`, `yes` stay strings, as they do not under YAML 1.1).
package indirect enum YAMLNode: Sendable {
    case scalar(YAMLScalar)
    case mapping([(key: YAMLScalar, value: YAMLNode)], SourceLocation)
    case sequence([YAMLNode], SourceLocation)

    var location: SourceLocation {
        switch self {
        case .scalar(let scalar): return scalar.location
        case .mapping(_, let location), .sequence(_, let location): return location
        }
    }

    /// A short description of the node's kind for type errors ("a mapping", "string 'hot'").
    var kindDescription: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar):
            switch scalar.value {
            case .null: return "null"
            case .bool(let b): return "boolean \(b)"
            case .int(let i): return "integer \(i)"
            case .double(let d): return "number \(JSONValue.formatDouble(d))"
            case .string(let s):
                let shown = s.count > 40 ? String(s.prefix(37)) + "..." : s
                return "string '\(shown.replacingOccurrences(of: "\n", with: "\\n"))'"
            default: return "a value"
            }
        }
    }
}

/// A scalar: its text, its resolved value and how it was written.
package struct YAMLScalar: Sendable {
    enum Style: Sendable { case plain, singleQuoted, doubleQuoted, literal, folded }

    var text: String
    var value: JSONValue
    var style: Style
    package var location: SourceLocation
}

/// Limits that keep hostile files cheap to refuse.
public struct YAMLLimits: Sendable, Hashable {
    public var maximumFileSize: Int
    public var maximumDepth: Int
    public var maximumNodes: Int

    /// - Parameter maximumNodes: nodes visited while expanding aliases, at least; a file of
    ///   N bytes may always expand to N nodes (without aliases it has fewer than N / 2).
    public init(maximumFileSize: Int = 10 << 20, maximumDepth: Int = 64, maximumNodes: Int = 10_000) {
        self.maximumFileSize = maximumFileSize
        self.maximumDepth = maximumDepth
        self.maximumNodes = maximumNodes
    }
}

extension YAMLReader {
    /// A scalar as written: plain scalars resolved with the core schema unless tagged `!!str`,
    /// quoted and block scalars always strings.
    static func scalar(_ text: String, style: YAMLScalar.Style, tag: String?, location: SourceLocation) -> YAMLScalar {
        let value: JSONValue
        if style != .plain || tag == "tag:yaml.org,2002:str" {
            value = .string(text)
        } else {
            value = resolvePlain(text)
        }
        return YAMLScalar(text: text, value: value, style: style, location: location)
    }

    /// YAML 1.2 core schema resolution of a plain scalar.
    static func resolvePlain(_ text: String) -> JSONValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        let scalars = text.unicodeScalars
        guard let first = scalars.first, first == "-" || first == "+" || first == "." || ("0"..."9").contains(first)
        else { return .string(text) }
        if text.hasPrefix("0x"), let value = Int(text.dropFirst(2), radix: 16) { return .int(value) }
        if text.hasPrefix("0o"), let value = Int(text.dropFirst(2), radix: 8) { return .int(value) }
        var body = Substring(text)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        if !body.isEmpty && body.allSatisfy({ $0.isASCII && $0.isNumber }) {
            if let value = Int(text) { return .int(value) }
            return .double(Double(text) ?? 0)
        }
        // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
        var index = body.startIndex
        var mantissaDigits = 0
        while index < body.endIndex, body[index].isASCII, body[index].isNumber { index = body.index(after: index); mantissaDigits += 1 }
        if index < body.endIndex, body[index] == "." {
            index = body.index(after: index)
            while index < body.endIndex, body[index].isASCII, body[index].isNumber { index = body.index(after: index); mantissaDigits += 1 }
        }
        guard mantissaDigits > 0 else { return .string(text) }
        if index < body.endIndex, body[index] == "e" || body[index] == "E" {
            index = body.index(after: index)
            if index < body.endIndex, body[index] == "+" || body[index] == "-" { index = body.index(after: index) }
            var exponentDigits = 0
            while index < body.endIndex, body[index].isASCII, body[index].isNumber { index = body.index(after: index); exponentDigits += 1 }
            guard exponentDigits > 0 else { return .string(text) }
        }
        guard index == body.endIndex, let value = Double(text) else { return .string(text) }
        return .double(value)
    }
}

extension YAMLNode {
    /// The node as a JSON value (for `extra`, schemas, defaults, tool parameters).
    package var jsonValue: JSONValue {
        switch self {
        case .scalar(let scalar): return scalar.value
        case .sequence(let items, _): return .array(items.map(\.jsonValue))
        case .mapping(let pairs, _):
            var object = JSONValue.JSONObject()
            for (key, value) in pairs { object[key.text] = value.jsonValue }
            return .object(object)
        }
    }
}

extension YAMLNode {
    /// `[]`.
    var isEmptySequence: Bool {
        if case .sequence(let items, _) = self { return items.isEmpty }
        return false
    }
}
