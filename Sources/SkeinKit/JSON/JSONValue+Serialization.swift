/// Serialization of `JSONValue`, written by hand because Foundation's encoder sorts or
/// scrambles keys and turns `1` into `1.0` (or the reverse) through `NSNumber`.
extension JSONValue {
    /// Options for `serialized(_:)`.
    public struct SerializationStyle: Sendable, Equatable {
        /// `", "` and `": "` between items, as Python's `json.dumps` default (Jinja2's `tojson`).
        public var spacedSeparators: Bool
        /// Sort object keys (the canonical form used for cache keys).
        public var sortKeys: Bool
        /// Indent nested values by this many spaces (nil: one line).
        public var indent: Int?
        /// Escape non-ASCII characters as `\uXXXX`.
        public var asciiOnly: Bool

        public init(spacedSeparators: Bool = false, sortKeys: Bool = false, indent: Int? = nil, asciiOnly: Bool = false) {
            self.spacedSeparators = spacedSeparators
            self.sortKeys = sortKeys
            self.indent = indent
            self.asciiOnly = asciiOnly
        }

        /// `{"a":1,"b":[1,2]}`: how objects and lists render inside template text.
        public static let compact = SerializationStyle()
        /// Sorted keys, compact separators: the canonical encoding hashed for cache keys.
        public static let canonical = SerializationStyle(sortKeys: true)
        /// Two-space indentation, for people.
        public static let pretty = SerializationStyle(indent: 2)
    }

    /// The value as JSON text.
    public func serialized(_ style: SerializationStyle = .compact) -> String {
        var out = ""
        write(to: &out, style: style, depth: 0)
        return out
    }

    private func write(to out: inout String, style: SerializationStyle, depth: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += JSONValue.formatDouble(d)
        case .string(let s): JSONValue.writeString(s, to: &out, asciiOnly: style.asciiOnly)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += style.indent == nil && style.spacedSeparators ? ", " : "," }
                newline(&out, style: style, depth: depth + 1)
                item.write(to: &out, style: style, depth: depth + 1)
            }
            newline(&out, style: style, depth: depth)
            out += "]"
        case .object(let object):
            if object.isEmpty { out += "{}"; return }
            out += "{"
            let keys = style.sortKeys ? object.keys.sorted(by: JSONValue.codepointOrder) : Array(object.keys)
            for (index, key) in keys.enumerated() {
                if index > 0 { out += style.indent == nil && style.spacedSeparators ? ", " : "," }
                newline(&out, style: style, depth: depth + 1)
                JSONValue.writeString(key, to: &out, asciiOnly: style.asciiOnly)
                out += style.spacedSeparators || style.indent != nil ? ": " : ":"
                object[key]!.write(to: &out, style: style, depth: depth + 1)
            }
            newline(&out, style: style, depth: depth)
            out += "}"
        }
    }

    private func newline(_ out: inout String, style: SerializationStyle, depth: Int) {
        guard let indent = style.indent else { return }
        out += "\n"
        out += String(repeating: " ", count: indent * depth)
    }

    /// Orders keys by Unicode code points, as Python's `sorted` does.
    static func codepointOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
    }

    /// Formats a double the way Python's `repr(float)` does: shortest round-trip digits,
    /// always with a `.0` or an exponent, `1e+16` style exponents.
    public static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description gives shortest round-trip digits; Python switches to
        // exponent notation at 1e16 and below 1e-4.
        let magnitude = abs(d)
        if magnitude >= 1e16 || magnitude < 1e-4 {
            var text = "\(d)"  // e.g. "1e+16" or "1.5e-05"
            if let eIndex = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
                var mantissa = String(text[..<eIndex])
                var exponent = String(text[text.index(after: eIndex)...])
                if mantissa.hasSuffix(".0") { mantissa.removeLast(2) }
                var sign = "+"
                if exponent.hasPrefix("-") { sign = "-"; exponent.removeFirst() }
                else if exponent.hasPrefix("+") { exponent.removeFirst() }
                if exponent.count < 2 { exponent = "0" + exponent }
                text = mantissa + "e" + sign + exponent
                return text
            }
            // Swift printed a plain number: convert to Python's exponent form.
            return pythonExponentForm(d)
        }
        var text = "\(d)"
        if text.contains("e") {
            // Swift uses exponents for some values Python prints plainly (e.g. 1e-4 .. 1e16 range edge cases).
            text = plainDecimal(d)
        }
        if !text.contains(".") { text += ".0" }
        return text
    }

    private static func pythonExponentForm(_ d: Double) -> String {
        var exponent = 0
        var mantissa = abs(d)
        while mantissa >= 10 { mantissa /= 10; exponent += 1 }
        while mantissa < 1 { mantissa *= 10; exponent -= 1 }
        var m = "\(mantissa)"
        if m.hasSuffix(".0") { m.removeLast(2) }
        let sign = exponent < 0 ? "-" : "+"
        let e = abs(exponent) < 10 ? "0\(abs(exponent))" : "\(abs(exponent))"
        return (d < 0 ? "-" : "") + m + "e" + sign + e
    }

    private static func plainDecimal(_ d: Double) -> String {
        // Expand Swift's exponent notation into plain digits.
        let text = "\(d)"
        guard let eIndex = text.firstIndex(of: "e"), let exponent = Int(text[text.index(after: eIndex)...]) else {
            return text
        }
        var mantissa = String(text[..<eIndex])
        let negative = mantissa.hasPrefix("-")
        if negative { mantissa.removeFirst() }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        var digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
        var pointPosition = parts[0].count + exponent
        if pointPosition <= 0 {
            digits = String(repeating: "0", count: -pointPosition + 1) + digits
            pointPosition = 1
        }
        if pointPosition >= digits.count {
            digits += String(repeating: "0", count: pointPosition - digits.count)
            return (negative ? "-" : "") + digits + ".0"
        }
        let index = digits.index(digits.startIndex, offsetBy: pointPosition)
        var result = String(digits[..<index]) + "." + String(digits[index...])
        while result.hasSuffix("0") && !result.hasSuffix(".0") { result.removeLast() }
        return (negative ? "-" : "") + result
    }

    /// Writes a JSON string literal with the escapes Python's `json.dumps` uses.
    public static func writeString(_ s: String, to out: inout String, asciiOnly: Bool = false) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (asciiOnly && scalar.value > 0x7E) {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += hex4(0xD800 + (v >> 10))
                        out += hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { serialized() }
}
