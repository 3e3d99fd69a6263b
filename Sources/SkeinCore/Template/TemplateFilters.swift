/// The filters a template may apply with `|`. Each follows Jinja2 3.1's filter of the
/// same name (arguments, defaults and edge cases), except `fromjson`, `lines` and `chunk`,
/// which Jinja2 does not have, and `tojson`, which does not escape `<`, `>`, `&` and `'`.
enum TemplateFilter: String, Sendable, CaseIterable {
    case `default`, tojson, fromjson, join, trim, upper, lower, length, first, last, replace, truncate, indent
    case lines, chunk

    /// Widest indentation `indent` and `tojson` accept, so a template cannot exhaust memory.
    static let maximumIndentation = 1_000

    /// Other names a filter answers to (Jinja2's `d` for `default`).
    static let aliases: [String: TemplateFilter] = ["d": .default]

    static func named(_ name: String) -> TemplateFilter? {
        TemplateFilter(rawValue: name) ?? aliases[name]
    }

    /// Every name a template may use, for "did you mean" suggestions.
    static var names: [String] { allCases.map(\.rawValue) + aliases.keys.sorted() }

    struct Parameter: Sendable {
        var name: String
        var isRequired: Bool
    }

    /// The parameters in order, with Jinja2's names so keyword arguments work the same.
    var parameters: [Parameter] {
        func optional(_ names: String...) -> [Parameter] { names.map { Parameter(name: $0, isRequired: false) } }
        switch self {
        case .default: return optional("default_value", "boolean")
        case .tojson: return optional("indent")
        case .join: return optional("d")
        case .trim: return optional("chars")
        case .replace:
            return [Parameter(name: "old", isRequired: true), Parameter(name: "new", isRequired: true)]
                + optional("count")
        case .truncate: return optional("length", "killwords", "end", "leeway")
        case .indent: return optional("width", "first", "blank")
        case .chunk: return [Parameter(name: "size", isRequired: true)]
        case .fromjson, .upper, .lower, .length, .first, .last, .lines: return []
        }
    }

    /// Applies the filter. `default` is handled by the renderer, which must see whether
    /// the input is defined before evaluating it.
    /// - Parameters:
    ///   - input: the value on the left of `|`.
    ///   - arguments: one per parameter, `nil` where the template gave none; may be
    ///     empty when it gave none at all.
    ///   - offset: where errors point (the filter's name).
    /// - Returns: the result, or `nil` for "no value" (`first` and `last` of an empty sequence).
    func apply(to input: JSONValue, arguments: [JSONValue?], at offset: Int) throws -> JSONValue? {
        let call = FilterArguments(filter: self, values: arguments, offset: offset)
        switch self {
        case .default:
            return input
        case .tojson:
            let indent = try call.integer(0)
            guard (indent ?? 0) <= TemplateFilter.maximumIndentation else {
                throw TemplateError(
                    "filter 'tojson': 'indent' must be at most \(TemplateFilter.maximumIndentation)", at: offset)
            }
            let style = JSONValue.SerializationStyle(
                spacedSeparators: true, sortKeys: true, indent: indent.map { max(0, $0) }, asciiOnly: true)
            return .string(input.serialized(style))
        case .fromjson:
            let text = try call.stringInput(input)
            do {
                return try JSONValue(parsing: text)
            } catch let error as JSONValue.ParseError {
                throw TemplateError("filter 'fromjson' could not parse its input: \(error)", at: offset)
            }
        case .join:
            var text: [UInt8] = []
            text.reserveCapacity(128)  // growing from empty reallocates several times
            TemplateFilter.writeJoined(try call.elements(of: input), separator: call.text(0) ?? "", to: &text)
            return .string(String(decoding: text, as: UTF8.self))
        case .trim:
            let text = TemplateOperators.text(of: input)
            guard let characters = call.text(0) else { return .string(TemplateFilter.trimWhitespace(text)) }
            let trimmed = Set(characters.unicodeScalars)
            return .string(TemplateFilter.trim(text) { trimmed.contains($0) })
        case .upper:
            return .string(TemplateOperators.text(of: input).uppercased())
        case .lower:
            return .string(TemplateOperators.text(of: input).lowercased())
        case .length:
            switch input {
            case .string(let string): return .int(string.unicodeScalars.count)
            case .array(let items): return .int(items.count)
            case .object(let object): return .int(object.count)
            default: throw call.wrongInput(input, expected: "a string, list or object")
            }
        case .first:
            return try call.elements(of: input).first
        case .last:
            return try call.elements(of: input).last
        case .replace:
            guard let replaced = TemplateFilter.replace(
                TemplateOperators.text(of: input), call.text(0) ?? "", call.text(1) ?? "",
                count: try call.integer(2) ?? -1)
            else { throw TemplateOperators.tooLong("the result of 'replace'", at: offset) }
            return .string(replaced)
        case .truncate:
            let text = TemplateOperators.text(of: input)
            guard let cut = try truncation(of: text, call) else { return .string(text) }
            return .string(TemplateFilter.prefix(of: text, utf8Count: cut.bytes) + cut.end)
        case .indent:
            return try indent(TemplateOperators.text(of: input), call)
        case .lines:
            return .array(TemplateFilter.splitLines(try call.stringInput(input)).map(JSONValue.string))
        case .chunk:
            guard let size = try call.integer(0), size > 0 else {
                throw TemplateError("filter 'chunk': 'size' must be a positive integer", at: offset)
            }
            return .array(TextChunker(size: size).chunks(of: try call.stringInput(input)).map(JSONValue.string))
        }
    }

    /// Appends the text of the filter's result to `output`: what
    /// `TemplateOperators.write(apply(to:arguments:at:))` appends. `join`, `trim`,
    /// `upper`, `lower` and `truncate` append their pieces straight to the output, so
    /// `{{ x | trim }}` copies bytes once instead of building a string and copying that.
    /// - Throws: what `apply` throws, and an error where `apply` finds no value.
    func write(_ input: JSONValue, arguments: [JSONValue?], at offset: Int, to output: inout [UInt8]) throws {
        let call = FilterArguments(filter: self, values: arguments, offset: offset)
        switch self {
        case .join:
            TemplateFilter.writeJoined(try call.elements(of: input), separator: call.text(0) ?? "", to: &output)
        case .truncate:
            let text = TemplateOperators.text(of: input)
            guard let cut = try truncation(of: text, call) else {
                return TemplateOperators.appendUTF8(text, to: &output)
            }
            TemplateOperators.appendUTF8(text, offsets: 0..<cut.bytes, to: &output)
            TemplateOperators.appendUTF8(cut.end, to: &output)
        case .trim where call.text(0) == nil:
            TemplateFilter.writeTrimmingWhitespace(TemplateOperators.text(of: input), to: &output)
        case .upper, .lower:
            TemplateFilter.writeChangingCase(TemplateOperators.text(of: input), upper: self == .upper, to: &output)
        default:
            guard let value = try apply(to: input, arguments: arguments, at: offset) else {
                throw noItemError(at: offset)
            }
            TemplateOperators.write(value, to: &output)
        }
    }

    /// The error for `first` or `last` of an empty sequence where a value is needed.
    func noItemError(at offset: Int) -> TemplateError {
        TemplateError("filter '\(rawValue)' found no item: its input is empty", at: offset)
    }

    /// Jinja2's `join`: the elements' text with `separator` between them.
    static func writeJoined(_ elements: [JSONValue], separator: String, to output: inout [UInt8]) {
        for (index, element) in elements.enumerated() {
            if index > 0 { TemplateOperators.appendUTF8(separator, to: &output) }
            TemplateOperators.write(element, to: &output)
        }
    }

    /// Python's `str.strip()`.
    static func trimWhitespace(_ text: String) -> String {
        let stripped = TemplateOperators.withUTF8(text) { bytes -> String? in
            guard let offsets = asciiStripOffsets(bytes) else { return nil }
            if offsets == bytes.indices { return text }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[offsets]), as: UTF8.self)
        }
        return stripped ?? trim(text, TemplateWhitespace.contains)
    }

    /// Appends `text` stripped as `trimWhitespace` strips it.
    static func writeTrimmingWhitespace(_ text: String, to output: inout [UInt8]) {
        let isWritten = TemplateOperators.withUTF8(text) { bytes in
            guard let offsets = asciiStripOffsets(bytes) else { return false }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[offsets]))
            return true
        }
        if !isWritten { TemplateOperators.appendUTF8(trim(text, TemplateWhitespace.contains), to: &output) }
    }

    /// Where UTF-8 `bytes` are without leading and trailing whitespace, found by looking
    /// at bytes while the ends are ASCII (the usual case, and much cheaper than walking
    /// scalars), or nil when an end is not ASCII and scalars must be looked at.
    private static func asciiStripOffsets(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        func isASCIIWhitespace(_ byte: UInt8) -> Bool { (0x09...0x0D).contains(byte) || (0x1C...0x20).contains(byte) }
        var start = 0, end = bytes.count
        while start < end {
            let byte = bytes[start]
            if byte >= 0x80 { return nil }
            guard isASCIIWhitespace(byte) else { break }
            start += 1
        }
        while end > start {
            let byte = bytes[end - 1]
            if byte >= 0x80 { return nil }
            guard isASCIIWhitespace(byte) else { break }
            end -= 1
        }
        return start..<end
    }

    /// Appends `text` upper- or lowercased, as `uppercased()` and `lowercased()` (and
    /// Python) do. ASCII text, the usual case, is copied and then changed in place.
    static func writeChangingCase(_ text: String, upper: Bool, to output: inout [UInt8]) {
        let start = output.count
        let isASCII = TemplateOperators.withUTF8(text) { bytes in
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return false }
            output.append(contentsOf: bytes)
            return true
        }
        guard isASCII else {
            return TemplateOperators.appendUTF8(upper ? text.uppercased() : text.lowercased(), to: &output)
        }
        let changes: ClosedRange<UInt8> =
            upper ? UInt8(ascii: "a")...UInt8(ascii: "z") : UInt8(ascii: "A")...UInt8(ascii: "Z")
        for index in start..<output.count where changes.contains(output[index]) {
            output[index] ^= 0x20  // the case bit
        }
    }

    /// The first `utf8Count` bytes of `text` (which must end between scalars), as a string.
    private static func prefix(of text: String, utf8Count: Int) -> String {
        TemplateOperators.withUTF8(text) {
            String(decoding: UnsafeBufferPointer(rebasing: $0[..<utf8Count]), as: UTF8.self)
        }
    }

    /// Python's `str.strip(chars)`: removes leading and trailing scalars that match.
    static func trim(_ text: String, _ isTrimmed: (Unicode.Scalar) -> Bool) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isTrimmed($0) }),
            let last = scalars.lastIndex(where: { !isTrimmed($0) })
        else { return "" }
        return String(scalars[first...last])
    }

    /// Python's `str.replace(old, new, count)` over code points (an empty `old` inserts
    /// `new` around every character; a negative count replaces all). Matching works on
    /// UTF-8 bytes, which finds exactly the code-point matches.
    /// - Returns: nil when the result would pass `TemplateOperators.maximumTextBytes`.
    static func replace(_ text: String, _ old: String, _ new: String, count: Int) -> String? {
        var remaining = count < 0 ? Int.max : count
        let limit = TemplateOperators.maximumTextBytes
        if old.isEmpty {
            var result = ""
            for scalar in text.unicodeScalars {
                if remaining > 0 {
                    result += new
                    remaining -= 1
                    if result.utf8.count > limit { return nil }
                }
                result.unicodeScalars.append(scalar)
            }
            if remaining > 0 { result += new }
            return result
        }
        let bytes = Array(text.utf8), target = Array(old.utf8), replacement = Array(new.utf8)
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if remaining > 0, bytes[index] == target[0], index + target.count <= bytes.count,
                bytes[index..<index + target.count].elementsEqual(target)
            {
                result += replacement
                index += target.count
                remaining -= 1
                if result.count > limit { return nil }
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Where Jinja2's `truncate` cuts `text`: the number of leading UTF-8 bytes it keeps
    /// and the `end` it adds, or nil when the text stays whole. The default leeway is 5
    /// (Jinja2's `truncate.leeway` policy), and without `killwords` the cut goes back to
    /// the last space.
    private func truncation(of text: String, _ call: FilterArguments) throws -> (bytes: Int, end: String)? {
        let length = try call.integer(0) ?? 255
        let killsWords = call[1].map(TemplateOperators.isTruthy) ?? false
        let end = call.text(2) ?? "..."
        let endLength = end.unicodeScalars.count
        let leeway = try call.integer(3) ?? 5
        guard length >= endLength else {
            throw TemplateError(
                "filter 'truncate': 'length' must be at least \(endLength) (the length of 'end'), got \(length)",
                at: call.offset)
        }
        guard leeway >= 0 else {
            throw TemplateError("filter 'truncate': 'leeway' must not be negative, got \(leeway)", at: call.offset)
        }
        // Work on code points as Python does; for ASCII text those are its UTF-8 bytes,
        // which are much cheaper to get at.
        if text.utf8.count - length <= leeway { return nil }  // never more code points than bytes
        let cut = (length: length, keep: length - endLength, leeway: leeway, killsWords: killsWords)
        if TemplateOperators.withUTF8(text, { $0.allSatisfy { $0 < 0x80 } }) {
            let kept = TemplateOperators.withUTF8(text) { TemplateFilter.truncatedPrefix($0, space: 0x20, cut)?.count }
            return kept.map { ($0, end) }
        }
        guard let kept = TemplateFilter.truncatedPrefix(Array(text.unicodeScalars), space: " ", cut) else {
            return nil
        }
        return (kept.reduce(0) { $0 + UTF8.width($1) }, end)
    }

    /// What `truncate` keeps of `units` before adding `end`, or nil when the text is
    /// short enough to keep whole.
    private static func truncatedPrefix<Units: BidirectionalCollection>(
        _ units: Units, space: Units.Element, _ cut: (length: Int, keep: Int, leeway: Int, killsWords: Bool)
    ) -> Units.SubSequence? where Units.Element: Equatable {
        if units.count - cut.length <= cut.leeway { return nil }
        var kept = units.prefix(cut.keep)
        if !cut.killsWords, let lastSpace = kept.lastIndex(of: space) {
            kept = kept[..<lastSpace]
        }
        return kept
    }

    /// Jinja2's `indent`: the first line and empty lines are left alone unless `first` /
    /// `blank` say otherwise; `width` may be a number of spaces or a string.
    private func indent(_ text: String, _ call: FilterArguments) throws -> JSONValue {
        let indentation: String
        if case .string(let string)? = call[0] {
            indentation = string
        } else {
            let width = try call.integer(0) ?? 4
            guard width <= TemplateFilter.maximumIndentation else {
                throw TemplateError(
                    "filter 'indent': 'width' must be at most \(TemplateFilter.maximumIndentation)", at: call.offset)
            }
            indentation = String(repeating: " ", count: max(0, width))
        }
        let indentsFirst = call[1].map(TemplateOperators.isTruthy) ?? false
        let indentsBlank = call[2].map(TemplateOperators.isTruthy) ?? false
        // Like Jinja2, add a newline first so a trailing newline survives `splitlines`.
        let lines = TemplateFilter.splitLines(text + "\n")
        var result: String
        if indentsBlank {
            result = lines.joined(separator: "\n" + indentation)
        } else {
            result = lines.first ?? ""
            let rest = lines.dropFirst()
            if !rest.isEmpty {
                result += "\n" + rest.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
            }
        }
        if indentsFirst { result = indentation + result }
        return .string(result)
    }

    /// Python's `str.splitlines()`: breaks at `\n`, `\r\n`, `\r`, `\v`, `\f`, `\x1c`–`\x1e`,
    /// `\x85`, U+2028 and U+2029; a final line break does not start an empty line.
    static func splitLines(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var lines: [String] = []
        var start = 0, index = 0
        while index < scalars.count {
            switch scalars[index].value {
            case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                lines.append(TemplateText.string(scalars[start..<index]))
                if scalars[index] == "\r" && index + 1 < scalars.count && scalars[index + 1] == "\n" { index += 1 }
                index += 1
                start = index
            default:
                index += 1
            }
        }
        if start < scalars.count { lines.append(TemplateText.string(scalars[start..<scalars.count])) }
        return lines
    }
}

/// The evaluated arguments of one filter call, with typed accessors that report
/// mistakes in the filter's terms.
private struct FilterArguments {
    var filter: TemplateFilter
    /// One per parameter, or fewer: those missing at the end are `nil`.
    var values: [JSONValue?]
    var offset: Int

    /// The argument for the parameter at `index`, `nil` where the template gave none.
    subscript(index: Int) -> JSONValue? {
        index < values.count ? values[index] : nil
    }

    func text(_ index: Int) -> String? {
        guard let value = self[index], !value.isNull else { return nil }
        return TemplateOperators.text(of: value)
    }

    func integer(_ index: Int) throws -> Int? {
        guard let value = self[index] else { return nil }
        switch value {
        case .null: return nil
        case .int(let int): return int
        case .bool(let bool): return bool ? 1 : 0
        default:
            let name = filter.parameters[index].name
            throw TemplateError(
                "filter '\(filter.rawValue)': '\(name)' must be an integer, got \(TemplateOperators.describeType(value))",
                at: offset)
        }
    }

    func stringInput(_ input: JSONValue) throws -> String {
        guard case .string(let string) = input else { throw wrongInput(input, expected: "a string") }
        return string
    }

    /// What iterating the input yields in Python: list items, string characters, object keys.
    func elements(of input: JSONValue) throws -> [JSONValue] {
        switch input {
        case .array(let items): return items
        case .string(let string): return string.unicodeScalars.map { .string(String($0)) }
        case .object(let object): return object.keys.map(JSONValue.string)
        default: throw wrongInput(input, expected: "a list, string or object")
        }
    }

    func wrongInput(_ input: JSONValue, expected: String) -> TemplateError {
        TemplateError(
            "filter '\(filter.rawValue)' expects \(expected), got \(TemplateOperators.describeType(input))", at: offset)
    }
}
