import Foundation
import OrderedCollections

/// Turns a schema document into a `JSONSchema.Graph`, checking each keyword the way the
/// draft 2020-12 meta-schema does, so a broken schema is reported once, where it is written,
/// instead of as puzzling verdicts later.
extension JSONSchema {
    struct Compiler {
        let document: JSONValue
        var nodes: [Node?] = []
        /// Node index by JSON pointer, so each subschema compiles once however it is reached.
        var indexByPointer: [String: Int] = [:]
        /// `$anchor` (and `$dynamicAnchor`) names, to the path of their subschema.
        var anchors: [String: [JSONPathComponent]] = [:]

        /// Subschemas given an index but not compiled yet. Compiling from a queue rather than
        /// recursively keeps the stack flat however long a chain of `$ref`s is.
        var pending: [(index: Int, value: JSONValue, path: [JSONPathComponent])] = []

        static func compile(_ document: JSONValue) throws -> Graph {
            var compiler = Compiler(document: document)
            try compiler.collectAnchors(in: document, at: [])
            let root = try compiler.compile(document, at: [])
            var next = 0
            while next < compiler.pending.count {
                let job = compiler.pending[next]
                next += 1
                compiler.nodes[job.index] = try compiler.makeNode(job.value, at: job.path)
            }
            var nodes: [Node] = []
            nodes.reserveCapacity(compiler.nodes.count)
            for case let node? in compiler.nodes { nodes.append(node) }
            guard nodes.count == compiler.nodes.count else {
                // Every queued subschema is compiled above; a gap is a bug here, not bad input.
                throw JSONSchemaError(
                    .invalidKeyword, at: "$", "internal error: uncompiled subschema (\(#fileID):\(#line))")
            }
            try checkInPlaceChains(nodes)
            return Graph(document: document, nodes: nodes, root: root)
        }

        // MARK: Subschemas

        /// The index of the subschema at `path`, queueing it for compilation the first time.
        mutating func compile(_ value: JSONValue, at path: [JSONPathComponent]) throws -> Int {
            let pointer = JSONPathComponent.pointer(path)
            if let index = indexByPointer[pointer] { return index }
            guard path.count <= JSONSchema.maximumDepth else {
                throw JSONSchemaError(
                    .tooDeep, at: render(path), "schema nested deeper than \(JSONSchema.maximumDepth) levels")
            }
            let index = nodes.count
            nodes.append(nil)
            indexByPointer[pointer] = index
            pending.append((index, value, path))
            return index
        }

        mutating func makeNode(_ value: JSONValue, at path: [JSONPathComponent]) throws -> Node {
            let node = Node(source: value, path: path)
            switch value {
            case .bool(let boolean):
                node.boolean = boolean
                return node
            case .object(let object):
                for (keyword, value) in object {
                    try compileKeyword(keyword, value, in: object, at: path, into: node)
                }
                return node
            default:
                throw JSONSchemaError(
                    .invalidKeyword, at: render(path), "a schema must be an object or a boolean, got \(describe(value))"
                )
            }
        }

        private mutating func compileKeyword(
            _ keyword: String, _ value: JSONValue, in object: JSONValue.JSONObject, at schemaPath: [JSONPathComponent],
            into node: Node
        ) throws {
            let path = schemaPath + [.key(keyword)]
            switch keyword {
            case "type": node.types = try typeSet(value, at: path)
            case "enum":
                guard case .array(let values) = value else {
                    throw invalid(path, "must be an array, got \(describe(value))")
                }
                node.enumValues = values
            case "const": node.constant = value
            case "format":
                guard case .string(let name) = value else {
                    throw invalid(path, "must be a string, got \(describe(value))")
                }
                node.format = Format(rawValue: name)

            case "minLength": node.minLength = try count(value, at: path)
            case "maxLength": node.maxLength = try count(value, at: path)
            case "pattern":
                guard case .string(let source) = value else {
                    throw invalid(path, "must be a string, got \(describe(value))")
                }
                node.pattern = try pattern(source, at: path)

            case "minimum": node.minimum = try number(value, at: path)
            case "maximum": node.maximum = try number(value, at: path)
            case "exclusiveMinimum": node.exclusiveMinimum = try number(value, at: path)
            case "exclusiveMaximum": node.exclusiveMaximum = try number(value, at: path)
            case "multipleOf":
                let divisor = try number(value, at: path)
                guard divisor.isPositive else { throw invalid(path, "must be greater than 0, got \(divisor)") }
                node.multipleOf = divisor

            case "prefixItems": node.prefixItems = try schemaArray(value, at: path)
            case "items":
                if case .array = value {
                    throw invalid(
                        path, "must be a schema, got an array; in draft 2020-12 a tuple is written with prefixItems")
                }
                node.items = try compile(value, at: path)
            case "contains": node.contains = try compile(value, at: path)
            case "minContains": node.minContains = try count(value, at: path)
            case "maxContains": node.maxContains = try count(value, at: path)
            case "minItems": node.minItems = try count(value, at: path)
            case "maxItems": node.maxItems = try count(value, at: path)
            case "uniqueItems":
                guard case .bool(let unique) = value else {
                    throw invalid(path, "must be a boolean, got \(describe(value))")
                }
                node.uniqueItems = unique

            case "properties":
                for (name, schema) in try schemaMap(value, at: path) { node.properties[ExactKey(name)] = schema }
            case "patternProperties":
                guard case .object(let members) = value else {
                    throw invalid(path, "must be an object, got \(describe(value))")
                }
                for (source, schema) in members {
                    let compiled = try pattern(source, at: path + [.key(source)])
                    node.patternProperties.append((compiled, try compile(schema, at: path + [.key(source)])))
                }
            case "additionalProperties": node.additionalProperties = try compile(value, at: path)
            case "propertyNames": node.propertyNames = try compile(value, at: path)
            case "required": node.required = try stringArray(value, at: path)
            case "minProperties": node.minProperties = try count(value, at: path)
            case "maxProperties": node.maxProperties = try count(value, at: path)
            case "dependentRequired":
                guard case .object(let members) = value else {
                    throw invalid(path, "must be an object, got \(describe(value))")
                }
                for (name, names) in members {
                    node.dependentRequired.append((name, try stringArray(names, at: path + [.key(name)])))
                }
            case "dependentSchemas": node.dependentSchemas = try schemaMap(value, at: path)

            case "allOf": node.allOf = try schemaArray(value, at: path)
            case "anyOf": node.anyOf = try schemaArray(value, at: path)
            case "oneOf": node.oneOf = try schemaArray(value, at: path)
            case "not": node.not = try compile(value, at: path)
            case "if":
                let condition = try compile(value, at: path)
                let then = try object["then"].map { try compile($0, at: schemaPath + [.key("then")]) }
                let otherwise = try object["else"].map { try compile($0, at: schemaPath + [.key("else")]) }
                node.ifThenElse = (condition, then, otherwise)
            case "then", "else":
                // Without `if` they do nothing, but they are still schemas and must be valid ones.
                if object["if"] == nil { _ = try compile(value, at: path) }

            case "$ref":
                guard case .string(let reference) = value else {
                    throw invalid(path, "must be a string, got \(describe(value))")
                }
                node.ref = try resolve(reference, at: path)
            case "$defs", "definitions":
                _ = try schemaMap(value, at: path)
            case "$anchor", "$dynamicAnchor", "$id", "$schema", "$comment":
                guard case .string = value else { throw invalid(path, "must be a string, got \(describe(value))") }

            case "unevaluatedProperties", "unevaluatedItems":
                // `true` allows everything; anything else needs annotation tracking, not implemented.
                if value != .bool(true) {
                    throw JSONSchemaError(
                        .unsupported, at: render(path),
                        "\(keyword) is not supported; use \(keyword == "unevaluatedItems" ? "items" : "additionalProperties") instead"
                    )
                }
            case "$dynamicRef", "$recursiveRef":
                throw JSONSchemaError(.unsupported, at: render(path), "\(keyword) is not supported; use $ref")

            default:
                break  // Annotations (title, description, default, examples...) and unknown keywords.
            }
        }

        // MARK: Keyword values

        private func typeSet(_ value: JSONValue, at path: [JSONPathComponent]) throws -> TypeSet {
            func name(_ value: JSONValue, at path: [JSONPathComponent]) throws -> String {
                guard case .string(let name) = value else {
                    throw invalid(path, "must be a type name, got \(describe(value))")
                }
                guard TypeSet.allNames.contains(name) else {
                    let known = TypeSet.allNames.joined(separator: ", ")
                    let hint = Suggestion.closest(to: name, in: TypeSet.allNames).map { "did you mean '\($0)'?" }
                    throw invalid(path, "unknown type '\(name)'; \(hint ?? "expected one of \(known)")")
                }
                return name
            }
            switch value {
            case .string:
                return TypeSet(listed: [try name(value, at: path)])
            case .array(let items):
                guard !items.isEmpty else { throw invalid(path, "must list at least one type") }
                var names: [String] = []
                for (index, item) in items.enumerated() {
                    let name = try name(item, at: path + [.index(index)])
                    guard !names.contains(name) else { throw invalid(path + [.index(index)], "lists '\(name)' twice") }
                    names.append(name)
                }
                return TypeSet(listed: names)
            default:
                throw invalid(path, "must be a type name or an array of them, got \(describe(value))")
            }
        }

        /// A non-negative integer (`1.0` counts, as everywhere in JSON Schema).
        private func count(_ value: JSONValue, at path: [JSONPathComponent]) throws -> Int {
            switch value {
            case .int(let count) where count >= 0:
                return count
            case .double(let count) where count >= 0 && count.rounded() == count:
                return count >= 9.2e18 ? Int.max : Int(count)
            default:
                throw invalid(path, "must be a non-negative integer, got \(describe(value))")
            }
        }

        private func number(_ value: JSONValue, at path: [JSONPathComponent]) throws -> Number {
            switch value {
            case .int(let int): return .int(int)
            case .double(let double) where double.isFinite: return .double(double)
            default: throw invalid(path, "must be a number, got \(describe(value))")
            }
        }

        private func stringArray(_ value: JSONValue, at path: [JSONPathComponent]) throws -> [String] {
            guard case .array(let items) = value else {
                throw invalid(path, "must be an array of strings, got \(describe(value))")
            }
            var strings: [String] = []
            var seen = Set<ExactKey>()
            for (index, item) in items.enumerated() {
                guard case .string(let string) = item else {
                    throw invalid(path + [.index(index)], "must be a string, got \(describe(item))")
                }
                guard seen.insert(ExactKey(string)).inserted else {
                    throw invalid(path + [.index(index)], "lists '\(string)' twice")
                }
                strings.append(string)
            }
            return strings
        }

        private mutating func schemaArray(_ value: JSONValue, at path: [JSONPathComponent]) throws -> [Int] {
            guard case .array(let items) = value else {
                throw invalid(path, "must be a non-empty array of schemas, got \(describe(value))")
            }
            guard !items.isEmpty else { throw invalid(path, "must be a non-empty array of schemas") }
            var indexes: [Int] = []
            for (index, item) in items.enumerated() {
                indexes.append(try compile(item, at: path + [.index(index)]))
            }
            return indexes
        }

        private mutating func schemaMap(_ value: JSONValue, at path: [JSONPathComponent]) throws -> [(String, Int)] {
            guard case .object(let members) = value else {
                throw invalid(path, "must be an object of schemas, got \(describe(value))")
            }
            var result: [(String, Int)] = []
            for (name, schema) in members {
                result.append((name, try compile(schema, at: path + [.key(name)])))
            }
            return result
        }

        private func pattern(_ source: String, at path: [JSONPathComponent]) throws -> Pattern {
            do {
                return Pattern(source: source, expression: try NSRegularExpression(pattern: source))
            } catch {
                // ICU's own error says only "The value is invalid"; Swift's parser explains more.
                var reason = ""
                do { _ = try Regex(source) } catch { reason = ": \(error)" }
                throw JSONSchemaError(
                    .invalidPattern, at: render(path), "invalid regular expression '\(source)'\(reason)")
            }
        }

        // MARK: References

        /// Resolves a `$ref` within this document: `#`, a JSON pointer (`#/$defs/item`), or an
        /// anchor (`#item`); the part before `#` may only repeat the root `$id`.
        private mutating func resolve(_ reference: String, at path: [JSONPathComponent]) throws -> Int {
            let base: Substring
            let fragment: Substring
            if let hash = reference.firstIndex(of: "#") {
                base = reference[..<hash]
                fragment = reference[reference.index(after: hash)...]
            } else {
                base = reference[...]
                fragment = ""
            }
            if !base.isEmpty && base != document["$id"]?.stringValue.map({ $0.split(separator: "#").first ?? "" }) {
                throw JSONSchemaError(
                    .unresolvedReference, at: render(path),
                    "cannot resolve '\(reference)': only references within this schema ('#', '#/$defs/name') are supported"
                )
            }
            guard let decoded = fragment.removingPercentEncoding else {
                throw JSONSchemaError(
                    .unresolvedReference, at: render(path), "invalid percent-encoding in '\(reference)'")
            }
            if decoded.isEmpty { return try compile(document, at: []) }
            guard decoded.hasPrefix("/") else {
                guard let target = anchors[decoded], let value = lookUp(target) else {
                    throw JSONSchemaError(
                        .unresolvedReference, at: render(path), "no $anchor named '\(decoded)' for '\(reference)'")
                }
                return try compile(value, at: target)
            }
            var target: [JSONPathComponent] = []
            var value = document
            for token in decoded.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
                let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                switch value {
                case .object(let members):
                    guard let member = members[key] else {
                        let hint = Suggestion.didYouMean(key, in: members.keys)
                        throw JSONSchemaError(
                            .unresolvedReference, at: render(path),
                            "'\(reference)' points nowhere: no '\(key)' in \(JSONPathComponent.pointer(target))\(hint)")
                    }
                    target.append(.key(key))
                    value = member
                case .array(let items):
                    guard let index = Int(key), items.indices.contains(index) else {
                        throw JSONSchemaError(
                            .unresolvedReference, at: render(path),
                            "'\(reference)' points nowhere: no item \(key) in \(JSONPathComponent.pointer(target))")
                    }
                    target.append(.index(index))
                    value = items[index]
                default:
                    throw JSONSchemaError(
                        .unresolvedReference, at: render(path),
                        "'\(reference)' points nowhere: \(JSONPathComponent.pointer(target)) is \(describe(value))")
                }
            }
            return try compile(value, at: target)
        }

        private func lookUp(_ path: [JSONPathComponent]) -> JSONValue? {
            var value = document
            for component in path {
                switch (component, value) {
                case (.key(let key), .object(let members)):
                    guard let member = members[key] else { return nil }
                    value = member
                case (.index(let index), .array(let items)) where items.indices.contains(index):
                    value = items[index]
                default:
                    return nil
                }
            }
            return value
        }

        /// Finds `$anchor`s in every subschema before compiling, since a `$ref` may come first.
        private mutating func collectAnchors(in value: JSONValue, at path: [JSONPathComponent]) throws {
            guard case .object(let object) = value, path.count <= JSONSchema.maximumDepth else { return }
            for keyword in ["$anchor", "$dynamicAnchor"] {
                guard case .string(let name)? = object[keyword] else { continue }
                if let existing = anchors[name], existing != path {
                    throw invalid(path + [.key(keyword)], "anchor '\(name)' is already defined at \(render(existing))")
                }
                anchors[name] = path
            }
            for (keyword, member) in object {
                switch keyword {
                case "items", "additionalProperties", "propertyNames", "contains", "not", "if", "then", "else":
                    try collectAnchors(in: member, at: path + [.key(keyword)])
                case "prefixItems", "allOf", "anyOf", "oneOf":
                    guard case .array(let items) = member else { continue }
                    for (index, item) in items.enumerated() {
                        try collectAnchors(in: item, at: path + [.key(keyword), .index(index)])
                    }
                case "properties", "patternProperties", "dependentSchemas", "$defs", "definitions":
                    guard case .object(let members) = member else { continue }
                    for (name, item) in members {
                        try collectAnchors(in: item, at: path + [.key(keyword), .key(name)])
                    }
                default:
                    continue
                }
            }
        }

        /// Refuses loops through `$ref`, `allOf` and the other keywords that apply to the same
        /// value (validating them would never reach a smaller part of the instance), and chains
        /// of them longer than `maximumDepth`, which would use too much stack. Iterative, for the same reason.
        private static func checkInPlaceChains(_ nodes: [Node]) throws {
            enum Mark { case unvisited, active, done }
            var marks = [Mark](repeating: .unvisited, count: nodes.count)
            /// The longest chain of in-place children below each finished node.
            var height = [Int](repeating: 0, count: nodes.count)
            let children = nodes.map(\.inPlaceChildren)
            for start in nodes.indices where marks[start] == .unvisited {
                var stack: [(node: Int, next: Int)] = [(start, 0)]
                marks[start] = .active
                while let (index, next) = stack.last {
                    guard next < children[index].count else {
                        height[index] = 1 + (children[index].map { height[$0] }.max() ?? 0)
                        if height[index] > JSONSchema.maximumDepth {
                            throw JSONSchemaError(
                                .tooDeep, at: JSONPathComponent.render(nodes[index].path),
                                "more than \(JSONSchema.maximumDepth) nested $ref, allOf, anyOf, oneOf or not")
                        }
                        marks[index] = .done
                        stack.removeLast()
                        continue
                    }
                    stack[stack.count - 1].next += 1
                    let child = children[index][next]
                    switch marks[child] {
                    case .done:
                        continue
                    case .active:
                        let loop = (stack.map(\.node).drop(while: { $0 != child }) + [child]).map {
                            JSONPathComponent.pointer(nodes[$0].path)
                        }
                        throw JSONSchemaError(
                            .referenceCycle, at: JSONPathComponent.render(nodes[index].path),
                            "$ref cycle that never reaches into the instance: \(loop.joined(separator: " -> "))")
                    case .unvisited:
                        marks[child] = .active
                        stack.append((child, 0))
                    }
                }
            }
        }

        // MARK: Errors

        private func render(_ path: [JSONPathComponent]) -> String { JSONPathComponent.render(path) }

        private func invalid(_ path: [JSONPathComponent], _ message: String) -> JSONSchemaError {
            JSONSchemaError(.invalidKeyword, at: render(path), message)
        }

        private func describe(_ value: JSONValue) -> String {
            switch value {
            case .null: return "null"
            case .bool(let bool): return bool ? "true" : "false"
            case .int, .double: return "the number \(value.serialized())"
            case .string(let string): return "the string '\(string)'"
            case .array: return "an array"
            case .object: return "an object"
            }
        }
    }
}
