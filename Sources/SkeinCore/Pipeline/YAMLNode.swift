internal import CYaml
import Yams

/// A YAML node with its location, built from Yams' composed tree.
///
/// Converting once, with limits, is where hostile input is stopped: Yams shares aliased
/// subtrees (copy-on-write), so composing an alias bomb is cheap, but walking it would
/// be exponential. The conversion counts every node it visits, aliases included, and
/// refuses past `maximumNodes`; it also refuses nesting deeper than `maximumDepth`.
/// Scalars are resolved with the YAML 1.2 core schema (so `no`, `on`, `yes` stay strings,
/// unlike Yams' default YAML 1.1 resolver).
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
    var location: SourceLocation
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

package enum YAMLReader {
    /// Parses YAML text into located nodes.
    /// - Throws: `Diagnostic` for syntax errors, duplicate keys, excessive nesting or alias expansion.
    package static func read(_ text: String, file: String, limits: YAMLLimits) throws -> YAMLNode? {
        if text.utf8.count > limits.maximumFileSize {
            let mib = Double(text.utf8.count) / Double(1 << 20)
            throw Diagnostic.error(
                "file is \(String(format: "%.1f", mib)) MiB; pipeline files are limited to \(limits.maximumFileSize >> 20) MiB",
                at: SourceLocation(file: file, line: 1, column: 1))
        }
        try prescanNesting(text, file: file, limit: max(limits.maximumDepth * 8, 256))
        try refuseAliasesInKeys(text, file: file)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw diagnostic(for: error, text: text, file: file)
        }
        guard let root else { return nil }
        var converter = Converter(file: file, limits: limits, budget: max(limits.maximumNodes, text.utf8.count))
        return try converter.convert(root, depth: 0)
    }

    /// A cheap linear scan that refuses pathological nesting before Yams' recursive
    /// composer sees it (which could otherwise exhaust the stack). The precise,
    /// located depth check happens during conversion.
    static func prescanNesting(_ text: String, file: String, limit: Int) throws {
        var flowDepth = 0
        var line = 1
        var column = 0
        var atLineStart = true
        var indentation = 0
        var quote: UInt8? = nil
        var inComment = false
        for byte in text.utf8 {
            column += 1
            if byte == UInt8(ascii: "\n") {
                line += 1; column = 0; atLineStart = true; indentation = 0; inComment = false
                if quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") { continue }
                continue
            }
            if inComment { continue }
            if let q = quote {
                if byte == q { quote = nil }
                continue
            }
            if atLineStart {
                // Block nesting can only grow with indentation and `- `/`? ` indicators.
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "?") {
                    indentation += 1
                    if indentation > limit * 2 {
                        throw Diagnostic.error(
                            "YAML is nested too deeply (more than \(limit) levels)",
                            at: SourceLocation(file: file, line: line, column: column))
                    }
                    continue
                }
                atLineStart = false
            }
            switch byte {
            case UInt8(ascii: "#"): inComment = true
            case UInt8(ascii: "'"), UInt8(ascii: "\""): quote = byte
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                flowDepth += 1
                if flowDepth > limit {
                    throw Diagnostic.error(
                        "YAML is nested too deeply (more than \(limit) levels)",
                        at: SourceLocation(file: file, line: line, column: column))
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): flowDepth = max(0, flowDepth - 1)
            default: break
            }
        }
    }

    /// Refuses an alias inside a mapping key, before Yams composes the document: Yams checks
    /// for duplicate keys by hashing each key whole, aliases expanded, so a key holding an
    /// alias bomb took exponential time there, before the conversion's node budget could stop
    /// it (a 452-byte file kept `skein validate` busy for minutes; found by fuzzing, see
    /// RELIABILITY.md). Pipeline keys are names, never aliases. This walks libyaml's events,
    /// which is linear and does not recurse; syntax errors are left for Yams to report.
    static func refuseAliasesInKeys(_ text: String, file: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            yaml_parser_set_input_string(&parser, base, buffer.count)
            // The open collections: whether each is a mapping whose next node is a key, and
            // whether it is itself (inside) a key.
            var open: [(expectsKey: Bool?, isKey: Bool)] = []
            var keys = 0
            func startNode() -> Bool { open.last?.expectsKey == true }
            func endNode() {
                if let expectsKey = open.last?.expectsKey { open[open.count - 1].expectsKey = !expectsKey }
            }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_ALIAS_EVENT:
                    if keys > 0 || startNode() {
                        let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
                        throw Diagnostic.error(
                            "YAML alias '*\(name)' in a mapping key; aliases may only stand for values",
                            at: SourceLocation(
                                file: file, line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1))
                    }
                    endNode()
                case YAML_SCALAR_EVENT:
                    endNode()
                case YAML_MAPPING_START_EVENT, YAML_SEQUENCE_START_EVENT:
                    let isKey = keys > 0 || startNode()
                    if isKey { keys += 1 }
                    open.append((event.type == YAML_MAPPING_START_EVENT ? true : nil, isKey))
                case YAML_MAPPING_END_EVENT, YAML_SEQUENCE_END_EVENT:
                    if open.removeLast().isKey { keys -= 1 }
                    endNode()
                default:
                    break
                }
            }
        }
    }

    static func diagnostic(for error: YamlError, text: String, file: String) -> Diagnostic {
        func location(_ mark: Mark) -> SourceLocation {
            SourceLocation(file: file, line: mark.line, column: mark.column)
        }
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var message = "invalid YAML: \(problem)"
            var notes: [Diagnostic] = []
            if let context {
                message += " \(context.text)"
                let start = location(context.mark)
                if start != location(mark) {
                    var what = context.text.replacingOccurrences(of: "while scanning ", with: "")
                        .replacingOccurrences(of: "while parsing ", with: "")
                    for article in ["a ", "an "] where what.hasPrefix(article) { what.removeFirst(article.count) }
                    notes.append(.note("the \(what) starts here", at: start))
                }
            }
            return .error(message, at: location(mark), notes: notes)
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let first = location(context.mark)
            let second = secondOccurrence(of: key, after: context.mark, in: text).map {
                SourceLocation(file: file, line: $0.line, column: $0.column)
            }
            return .error(
                "duplicate key '\(key)' (first defined at line \(first.line))", at: second ?? first)
        case .reader(let problem, let offset, _, _):
            return .error("invalid YAML: \(problem)" + (offset.map { " at byte \($0)" } ?? ""),
                          at: SourceLocation(file: file, line: 1, column: 1))
        default:
            return .error("invalid YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    /// Yams reports the first occurrence of a duplicate key; the useful place to point
    /// at is the second, at the same indentation further down.
    static func secondOccurrence(of key: String, after mark: Mark, in text: String) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var index = mark.line  // 0-based index of the line after the mark
        while index < lines.count {
            let line = Array(lines[index].unicodeScalars)
            let prefix = String(String.UnicodeScalarView(line.prefix(mark.column - 1)))
            if line.count >= mark.column, prefix.allSatisfy({ $0 == " " || $0 == "-" }) {
                let rest = String(String.UnicodeScalarView(line.dropFirst(mark.column - 1)))
                for candidate in [key, "\"\(key)\"", "'\(key)'"] where rest.hasPrefix(candidate + ":") {
                    return (index + 1, mark.column)
                }
                if prefix.allSatisfy({ $0 == " " }) && rest.first != " " && !rest.isEmpty && prefix.count < mark.column - 1 {
                    break
                }
            }
            index += 1
        }
        return nil
    }

    private struct Converter {
        let file: String
        let limits: YAMLLimits
        let budget: Int
        var visited = 0

        mutating func convert(_ node: Node, depth: Int) throws -> YAMLNode {
            visited += 1
            let location = SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
            if visited > budget {
                throw Diagnostic.error(
                    "YAML aliases expand to more than \(budget) nodes; refusing to expand them (an alias bomb?)",
                    at: location)
            }
            if depth > limits.maximumDepth {
                throw Diagnostic.error("YAML is nested too deeply (more than \(limits.maximumDepth) levels)", at: location)
            }
            switch node {
            case .scalar(let scalar):
                return .scalar(YAMLReader.scalar(scalar, location: location))
            case .mapping(let mapping):
                var pairs: [(key: YAMLScalar, value: YAMLNode)] = []
                pairs.reserveCapacity(mapping.count)
                for (key, value) in mapping {
                    let keyLocation = SourceLocation(file: file, line: key.mark?.line ?? 1, column: key.mark?.column ?? 1)
                    guard case .scalar(let keyScalar) = key else {
                        throw Diagnostic.error("mapping keys must be plain strings", at: keyLocation)
                    }
                    if keyScalar.string == "<<" && keyScalar.style == .plain {
                        throw Diagnostic.error(
                            "YAML merge keys ('<<') are not supported; write the keys out or use defaults:",
                            at: keyLocation)
                    }
                    visited += 1
                    var keyValue = YAMLReader.scalar(keyScalar, location: keyLocation)
                    keyValue.value = .string(keyScalar.string)
                    pairs.append((keyValue, try convert(value, depth: depth + 1)))
                }
                return .mapping(pairs, location)
            case .sequence(let sequence):
                var items: [YAMLNode] = []
                items.reserveCapacity(sequence.count)
                for item in sequence { items.append(try convert(item, depth: depth + 1)) }
                return .sequence(items, location)
            case .alias(let alias):
                throw Diagnostic.error("unresolved YAML alias '*\(alias.anchor.rawValue)'", at: location)
            }
        }
    }

    static func scalar(_ scalar: Node.Scalar, location: SourceLocation) -> YAMLScalar {
        let style: YAMLScalar.Style
        switch scalar.style {
        case .singleQuoted: style = .singleQuoted
        case .doubleQuoted: style = .doubleQuoted
        case .literal: style = .literal
        case .folded: style = .folded
        default: style = .plain
        }
        let tag = scalar.tag.description
        let value: JSONValue
        if style != .plain || tag == "tag:yaml.org,2002:str" {
            value = .string(scalar.string)
        } else {
            value = resolvePlain(scalar.string)
        }
        return YAMLScalar(text: scalar.string, value: value, style: style, location: location)
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
