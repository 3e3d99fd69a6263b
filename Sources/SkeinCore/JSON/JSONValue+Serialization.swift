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
        var out: [UInt8] = []
        out.reserveCapacity(128)
        write(to: &out, style: style)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the value as JSON text, UTF-8 encoded, to `out`.
    ///
    /// Bytes rather than a `String`: the store serializes every request and reply, and the
    /// request key every request body, so this is on the engine's hot path. Appending to a
    /// `String` one Unicode scalar at a time cost several times more (`skein-bench json`).
    public func write(to out: inout [UInt8], style: SerializationStyle = .compact) {
        write(to: &out, style: style, depth: 0)
    }

    private func write(to out: inout [UInt8], style: SerializationStyle, depth: Int) {
        switch self {
        case .null: JSONValue.appendStatic("null", to: &out)
        case .bool(let b): JSONValue.appendStatic(b ? "true" : "false", to: &out)
        case .int(let i): TemplateOperators.appendDecimal(i, to: &out)
        case .double(let d): JSONValue.append(JSONValue.formatDouble(d), to: &out)
        case .string(let s): JSONValue.writeString(s, to: &out, asciiOnly: style.asciiOnly)
        case .array(let items):
            if items.isEmpty { return JSONValue.appendStatic("[]", to: &out) }
            out.append(UInt8(ascii: "["))
            for index in items.indices {
                if index > 0 { JSONValue.appendSeparator(to: &out, style: style) }
                newline(&out, style: style, depth: depth + 1)
                items[index].write(to: &out, style: style, depth: depth + 1)
            }
            newline(&out, style: style, depth: depth)
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            if object.isEmpty { return JSONValue.appendStatic("{}", to: &out) }
            out.append(UInt8(ascii: "{"))
            let order = style.sortKeys ? object.keys.indices.sorted { JSONValue.codepointOrder(object.keys[$0], object.keys[$1]) } : nil
            for position in object.keys.indices {
                let index = order?[position] ?? position
                if position > 0 { JSONValue.appendSeparator(to: &out, style: style) }
                newline(&out, style: style, depth: depth + 1)
                JSONValue.writeString(object.keys[index], to: &out, asciiOnly: style.asciiOnly)
                out.append(UInt8(ascii: ":"))
                if style.spacedSeparators || style.indent != nil { out.append(UInt8(ascii: " ")) }
                object.values[index].write(to: &out, style: style, depth: depth + 1)
            }
            newline(&out, style: style, depth: depth)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func appendSeparator(to out: inout [UInt8], style: SerializationStyle) {
        out.append(UInt8(ascii: ","))
        if style.indent == nil && style.spacedSeparators { out.append(UInt8(ascii: " ")) }
    }

    private static func appendStatic(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private static func append(_ text: String, to out: inout [UInt8]) {
        TemplateOperators.appendUTF8(text, to: &out)
    }

    private func newline(_ out: inout [UInt8], style: SerializationStyle, depth: Int) {
        guard let indent = style.indent else { return }
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * depth))
    }

    /// Orders keys by Unicode code points, as Python's `sorted` does.
    /// UTF-8 bytes compare in the same order as the code points they encode, and cost less.
    static func codepointOrder(_ a: String, _ b: String) -> Bool {
        TemplateOperators.withUTF8(a) { a in TemplateOperators.withUTF8(b) { b in a.lexicographicallyPrecedes(b) } }
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
        // Byte searches: `String.contains("e")` resolves to Foundation's substring search.
        if text.utf8.contains(UInt8(ascii: "e")) {
            // Swift uses exponents for some values Python prints plainly (e.g. 1e-4 .. 1e16 range edge cases).
            text = plainDecimal(d)
        }
        if !text.utf8.contains(UInt8(ascii: ".")) { text += ".0" }
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
        var bytes: [UInt8] = []
        writeString(s, to: &bytes, asciiOnly: asciiOnly)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Appends a JSON string literal with the escapes Python's `json.dumps` uses: `\"`, `\\`,
    /// `\n`, `\r`, `\t`, `\b`, `\f`, other control characters as `\u00XX`, and with
    /// `asciiOnly` everything past `~` as `\uXXXX` (surrogate pairs above U+FFFF). Runs of
    /// bytes that need no escape are copied in one go.
    public static func writeString(_ s: String, to out: inout [UInt8], asciiOnly: Bool = false) {
        out.append(UInt8(ascii: "\""))
        TemplateOperators.withUTF8(s) { bytes in
            var runStart = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                let escaped = byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || (asciiOnly && byte > 0x7E)
                guard escaped else {
                    index += 1
                    continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                switch byte {
                case UInt8(ascii: "\""): appendStatic("\\\"", to: &out)
                case UInt8(ascii: "\\"): appendStatic("\\\\", to: &out)
                case UInt8(ascii: "\n"): appendStatic("\\n", to: &out)
                case UInt8(ascii: "\r"): appendStatic("\\r", to: &out)
                case UInt8(ascii: "\t"): appendStatic("\\t", to: &out)
                case 0x08: appendStatic("\\b", to: &out)
                case 0x0C: appendStatic("\\f", to: &out)
                case ..<0x80:
                    appendEscape(UInt32(byte), to: &out)
                default:
                    // asciiOnly and a multi-byte scalar: decode it, escape it.
                    var length = 1
                    while index + length < bytes.count, bytes[index + length] & 0xC0 == 0x80 { length += 1 }
                    let scalarText = String(decoding: UnsafeBufferPointer(rebasing: bytes[index..<index + length]), as: UTF8.self)
                    for scalar in scalarText.unicodeScalars {
                        if scalar.value > 0xFFFF {
                            let v = scalar.value - 0x10000
                            appendEscape(0xD800 + (v >> 10), to: &out)
                            appendEscape(0xDC00 + (v & 0x3FF), to: &out)
                        } else {
                            appendEscape(scalar.value, to: &out)
                        }
                    }
                    index += length - 1
                }
                index += 1
                runStart = index
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `\uXXXX`, lowercase hex as Python writes it.
    private static func appendEscape(_ v: UInt32, to out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        appendStatic("\\u", to: &out)
        for shift in stride(from: 12, through: 0, by: -4) {
            out.append(hex.utf8Start[Int((v >> UInt32(shift)) & 0xF)])
        }
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { serialized() }
}
