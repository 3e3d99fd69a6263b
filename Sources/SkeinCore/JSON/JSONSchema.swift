import Foundation
import OrderedCollections

/// A compiled JSON Schema (draft 2020-12) that validates `JSONValue`s and answers the
/// questions the pipeline graph asks when it checks templates against step outputs.
///
/// Written by hand because no Swift package validates JSON Schema, and Skein needs two
/// things a binding to another language would not give: validation over `JSONValue` (which
/// keeps `1` and `1.0` apart and key order intact) and messages written for a person or a
/// model repairing its output (`$.tags[2]: expected string, got number`). Verdicts are
/// checked against Python's `jsonschema` by a differential test
/// (`Tests/SkeinKitTests/JSONSchemaDifferentialTests.swift`).
///
/// Supported: `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`,
/// `patternProperties`, `propertyNames`, `minProperties`, `maxProperties`,
/// `dependentRequired`, `dependentSchemas`, `prefixItems`, `items`, `contains`,
/// `minContains`, `maxContains`, `minItems`, `maxItems`, `uniqueItems`, `minLength`,
/// `maxLength` (in Unicode code points, as Python counts), `pattern` (ICU syntax, which
/// covers what ECMA-262 patterns use; it searches, it does not need to match the whole
/// string), `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`,
/// `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `$ref` within the schema (`#`,
/// `#/$defs/name`, `#/definitions/name`, any JSON pointer, `#anchor`), boolean schemas, and
/// `format` (asserted) for `date-time`, `date`, `email`, `uri` and `uuid`; other formats
/// and other keywords (`title`, `description`, `default`, `examples`, ...) are annotations
/// and ignored. `unevaluatedProperties`, `unevaluatedItems` and `$dynamicRef` are refused
/// when they would constrain anything, rather than silently ignored.
///
/// Numbers follow JSON Schema: `1.0` is an integer, `1` equals `1.0` for `enum`, `const` and
/// `uniqueItems`, and `true` is not a number.
public struct JSONSchema: Sendable, Hashable {
    /// Schemas and instances nested deeper than this are refused (schemas) or reported
    /// (instances) rather than risking the stack.
    public static let maximumDepth = 512

    /// The schema this value was made from: the document given to `init(_:)`, or for a
    /// schema returned by `propertySchema(_:)` and friends, the part of it that applies
    /// (an `allOf` or `anyOf` of parts when several apply, `true` when none does).
    public let source: JSONValue
    let graph: Graph
    let reference: Reference

    /// Compiles a schema once: resolves `$ref`s, compiles patterns, checks every keyword.
    /// - Parameter schema: a draft 2020-12 schema (an object, or `true`/`false`).
    /// - Throws: `JSONSchemaError` naming the place in the schema, for example
    ///   `$.properties.tags.items.type: unknown type 'strnig'; did you mean 'string'?`.
    public init(_ schema: JSONValue) throws {
        let graph = try Compiler.compile(schema)
        self.init(graph: graph, reference: .node(graph.root))
    }

    init(graph: Graph, reference: Reference) {
        self.graph = graph
        self.reference = reference
        self.source = graph.source(of: reference)
    }

    /// Validates an instance.
    /// - Returns: every violation, in the order of the instance and the schema; empty when valid.
    public func validate(_ instance: JSONValue) -> [JSONSchemaViolation] {
        var validator = Validator(graph: graph, stopsAtFirstViolation: false)
        validator.validate(instance, against: reference)
        return validator.violations
    }

    /// Whether the instance is valid; stops at the first violation.
    public func isValid(_ instance: JSONValue) -> Bool {
        var validator = Validator(graph: graph, stopsAtFirstViolation: true)
        validator.validate(instance, against: reference)
        return validator.violations.isEmpty
    }

    public static func == (lhs: JSONSchema, rhs: JSONSchema) -> Bool {
        lhs.source == rhs.source && (lhs.graph === rhs.graph || lhs.graph.document == rhs.graph.document)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(source)
    }
}

// MARK: - Static questions

extension JSONSchema {
    /// The schema that the value of property `name` must match, when the value is an object.
    ///
    /// Follows `$ref` and `allOf`, and combines `properties`, `patternProperties` and
    /// `additionalProperties` as validation does. `anyOf`, `oneOf` and `if` branches are not
    /// followed, so the result accepts every value the property can have (it may accept more).
    /// - Returns: `nil` when the property cannot exist: the schema lists its properties and
    ///   forbids others, or cannot be an object at all; the schema `true` when nothing
    ///   constrains the property.
    public func propertySchema(_ name: String) -> JSONSchema? {
        if let types = declaredTypes, !types.contains("object") { return nil }
        var parts: [Reference] = []
        for index in graph.conjuncts(of: reference) {
            let node = graph.nodes[index]
            var matched = false
            if let property = node.properties[ExactKey(name)] {
                parts.append(.node(property))
                matched = true
            }
            for (pattern, schema) in node.patternProperties where pattern.matches(name) {
                parts.append(.node(schema))
                matched = true
            }
            if !matched, let additional = node.additionalProperties { parts.append(.node(additional)) }
        }
        if parts.contains(where: { graph.isFalse($0) }) { return nil }
        return JSONSchema(graph: graph, reference: .all(parts.filter { !graph.isTrue($0) }))
    }

    /// The property names the schema declares in `properties`, in order, following `$ref`,
    /// `allOf`, `anyOf` and `oneOf`: the names worth suggesting for a misspelled one.
    public var propertyNames: [String] {
        var names = OrderedSet<String>()
        var visited = Set<Int>()
        func collect(_ reference: Reference) {
            switch reference {
            case .all(let parts), .any(let parts): parts.forEach(collect)
            case .node(let index):
                guard visited.insert(index).inserted else { return }
                let node = graph.nodes[index]
                for key in node.properties.keys { names.append(key.string) }
                for child in node.allOf + node.anyOf + node.oneOf { collect(.node(child)) }
                if let target = node.ref { collect(.node(target)) }
            }
        }
        collect(reference)
        return Array(names)
    }

    /// The schema that every item of the array must match, following `$ref` and `allOf`.
    ///
    /// With `prefixItems`, an item matches its position's schema or, past them, `items`; the
    /// result is then the `anyOf` of those. Use `itemSchema(at:)` for one position.
    /// - Returns: `nil` when the value cannot be an array or can have no items; the schema
    ///   `true` when nothing constrains the items.
    public var itemsSchema: JSONSchema? {
        if let types = declaredTypes, !types.contains("array") { return nil }
        var parts: [Reference] = []
        for index in graph.conjuncts(of: reference) {
            let node = graph.nodes[index]
            if let maxItems = node.maxItems, maxItems == 0 { return nil }
            if node.prefixItems.isEmpty {
                if let items = node.items { parts.append(.node(items)) }
            } else {
                var choices = node.prefixItems.map { Reference.node($0) }
                choices.append(node.items.map { .node($0) } ?? .all([]))
                let open = choices.filter { !graph.isFalse($0) }
                parts.append(open.contains(where: { graph.isTrue($0) }) ? .all([]) : .any(open))
            }
        }
        if parts.contains(where: { graph.isFalse($0) }) { return nil }
        return JSONSchema(graph: graph, reference: .all(parts.filter { !graph.isTrue($0) }))
    }

    /// The schema that the item at `index` must match (`prefixItems`, then `items`),
    /// following `$ref` and `allOf`.
    /// - Returns: `nil` when there can be no such item; the schema `true` when it is unconstrained.
    public func itemSchema(at index: Int) -> JSONSchema? {
        if let types = declaredTypes, !types.contains("array") { return nil }
        var parts: [Reference] = []
        for nodeIndex in graph.conjuncts(of: reference) {
            let node = graph.nodes[nodeIndex]
            if let maxItems = node.maxItems, index >= maxItems { return nil }
            if index >= 0 && index < node.prefixItems.count {
                parts.append(.node(node.prefixItems[index]))
            } else if let items = node.items {
                parts.append(.node(items))
            }
        }
        if parts.contains(where: { graph.isFalse($0) }) { return nil }
        return JSONSchema(graph: graph, reference: .all(parts.filter { !graph.isTrue($0) }))
    }

    /// The JSON Schema type names a valid value can have (`"array"`, `"object"`, ...), from
    /// `type`, `const` and `enum`, following `$ref`, `allOf` (intersection) and `anyOf`/`oneOf`
    /// (union). `"number"` always comes with `"integer"`, so `contains("integer")` asks
    /// whether a whole number may appear.
    /// - Returns: `nil` when the type is not known (any value may be valid); an empty set when
    ///   no value is valid.
    public var declaredTypes: Set<String>? {
        var visiting = Set<Int>()
        return graph.declaredTypes(of: reference, visiting: &visiting)
    }
}

// MARK: - Compiled form

extension JSONSchema {
    /// Which compiled schemas a `JSONSchema` stands for: one node, all of several (an empty
    /// `all` is the schema `true`), or any of several.
    indirect enum Reference: Sendable, Hashable {
        case node(Int)
        case all([Reference])
        case any([Reference])
    }

    /// The compiled schema document: one `Node` per subschema, referring to each other by
    /// index so that `$ref` cycles are plain integers. Immutable once built, so it is shared
    /// between a `JSONSchema` and the schemas its static questions return.
    final class Graph: Sendable {
        let document: JSONValue
        let nodes: [Node]
        let root: Int

        init(document: JSONValue, nodes: [Node], root: Int) {
            self.document = document
            self.nodes = nodes
            self.root = root
        }

        func source(of reference: Reference) -> JSONValue {
            switch reference {
            case .node(let index): return nodes[index].source
            case .all(let parts):
                if parts.isEmpty { return true }
                if parts.count == 1, let only = parts.first { return source(of: only) }
                return ["allOf": .array(parts.map(source(of:)))]
            case .any(let parts):
                if parts.isEmpty { return false }
                if parts.count == 1, let only = parts.first { return source(of: only) }
                return ["anyOf": .array(parts.map(source(of:)))]
            }
        }

        func isTrue(_ reference: Reference) -> Bool {
            switch reference {
            case .node(let index): return nodes[index].isTrivial
            case .all(let parts): return parts.allSatisfy(isTrue)
            case .any(let parts): return parts.contains(where: isTrue)
            }
        }

        func isFalse(_ reference: Reference) -> Bool {
            switch reference {
            case .node(let index): return nodes[index].boolean == false
            case .all(let parts): return parts.contains(where: isFalse)
            case .any(let parts): return parts.allSatisfy(isFalse)
            }
        }

        /// The nodes that all apply to the same value: the reference's own, and those reached
        /// through `$ref` and `allOf`, each once.
        func conjuncts(of reference: Reference) -> [Int] {
            var result: [Int] = []
            var seen = Set<Int>()
            func visit(_ reference: Reference) {
                switch reference {
                case .any: return  // a choice constrains nothing on its own
                case .all(let parts): parts.forEach(visit)
                case .node(let index):
                    guard seen.insert(index).inserted else { return }
                    result.append(index)
                    let node = nodes[index]
                    if let target = node.ref { visit(.node(target)) }
                    node.allOf.forEach { visit(.node($0)) }
                }
            }
            visit(reference)
            return result
        }

        func declaredTypes(of reference: Reference, visiting: inout Set<Int>) -> Set<String>? {
            switch reference {
            case .all(let parts):
                return intersect(parts.map { declaredTypes(of: $0, visiting: &visiting) })
            case .any(let parts):
                return union(parts.map { declaredTypes(of: $0, visiting: &visiting) })
            case .node(let index):
                // A cycle says nothing more than what is already being collected.
                guard visiting.insert(index).inserted else { return nil }
                defer { visiting.remove(index) }
                let node = nodes[index]
                if node.boolean == false { return [] }
                var known: [Set<String>?] = [node.types.map { Set($0.names) }]
                if let constant = node.constant { known.append(Node.typeNames(of: [constant])) }
                if let values = node.enumValues { known.append(Node.typeNames(of: values)) }
                if let target = node.ref { known.append(declaredTypes(of: .node(target), visiting: &visiting)) }
                for part in node.allOf { known.append(declaredTypes(of: .node(part), visiting: &visiting)) }
                if !node.anyOf.isEmpty {
                    known.append(union(node.anyOf.map { declaredTypes(of: .node($0), visiting: &visiting) }))
                }
                if !node.oneOf.isEmpty {
                    known.append(union(node.oneOf.map { declaredTypes(of: .node($0), visiting: &visiting) }))
                }
                return intersect(known)
            }
        }

        private func intersect(_ sets: [Set<String>?]) -> Set<String>? {
            var result: Set<String>?
            for case let set? in sets { result = result.map { $0.intersection(set) } ?? set }
            return result
        }

        private func union(_ sets: [Set<String>?]) -> Set<String>? {
            var result = Set<String>()
            for set in sets {
                guard let set else { return nil }
                result.formUnion(set)
            }
            return result
        }
    }

    /// One compiled subschema. Absent keywords are `nil` or empty.
    ///
    /// A class, not a struct, so validation reaches a node through a reference instead of
    /// copying some 500 bytes onto the stack at every level of a deep instance.
    /// `@unchecked Sendable` because the properties are `var`: `Compiler` sets them while it
    /// builds the graph, before any `JSONSchema` can share it, and nothing changes them after.
    final class Node: @unchecked Sendable {
        let source: JSONValue
        /// Where the subschema is, as path components from the document root.
        let path: [JSONPathComponent]

        init(source: JSONValue, path: [JSONPathComponent]) {
            self.source = source
            self.path = path
        }

        /// `true` or `false` for a boolean schema.
        var boolean: Bool?

        var types: TypeSet?
        var enumValues: [JSONValue]?
        var constant: JSONValue?
        var format: Format?

        var minLength: Int?
        var maxLength: Int?
        var pattern: Pattern?

        var minimum: Number?
        var maximum: Number?
        var exclusiveMinimum: Number?
        var exclusiveMaximum: Number?
        var multipleOf: Number?

        var prefixItems: [Int] = []
        var items: Int?
        var contains: Int?
        var minContains: Int?
        var maxContains: Int?
        var minItems: Int?
        var maxItems: Int?
        var uniqueItems = false

        var properties: OrderedDictionary<ExactKey, Int> = [:]
        var patternProperties: [(Pattern, Int)] = []
        var additionalProperties: Int?
        var propertyNames: Int?
        var required: [String] = []
        var minProperties: Int?
        var maxProperties: Int?
        var dependentRequired: [(String, [String])] = []
        var dependentSchemas: [(String, Int)] = []

        var allOf: [Int] = []
        var anyOf: [Int] = []
        var oneOf: [Int] = []
        var not: Int?
        var ifThenElse: (condition: Int, then: Int?, else: Int?)?
        var ref: Int?

        /// Whether any of `anyOf`, `oneOf`, `not`, `if` is present.
        var hasBranches: Bool { !anyOf.isEmpty || !oneOf.isEmpty || not != nil || ifThenElse != nil }

        /// Nodes evaluated against the same value (not a part of it): a loop through these
        /// alone never ends.
        var inPlaceChildren: [Int] {
            var children = allOf + anyOf + oneOf
            if let ref { children.append(ref) }
            if let not { children.append(not) }
            if let ifThenElse {
                children.append(ifThenElse.condition)
                if let then = ifThenElse.then { children.append(then) }
                if let otherwise = ifThenElse.else { children.append(otherwise) }
            }
            children += dependentSchemas.map(\.1)
            return children
        }

        /// Whether the node accepts everything: `true`, or an object with no assertion.
        var isTrivial: Bool {
            if let boolean { return boolean }
            return types == nil && enumValues == nil && constant == nil && format == nil && minLength == nil
                && maxLength == nil && pattern == nil && minimum == nil && maximum == nil && exclusiveMinimum == nil
                && exclusiveMaximum == nil && multipleOf == nil && prefixItems.isEmpty && items == nil
                && contains == nil && minItems == nil && maxItems == nil && !uniqueItems && properties.isEmpty
                && patternProperties.isEmpty && additionalProperties == nil && propertyNames == nil
                && required.isEmpty && minProperties == nil && maxProperties == nil && dependentRequired.isEmpty
                && dependentSchemas.isEmpty && allOf.isEmpty && anyOf.isEmpty && oneOf.isEmpty && not == nil
                && ifThenElse == nil && ref == nil
        }

        static func typeNames(of values: [JSONValue]) -> Set<String> {
            var names = Set<String>()
            for value in values {
                let name = value.typeName
                names.insert(name)
                if name == "integer" { names.insert("number") }
            }
            return names
        }
    }

    /// The seven JSON Schema type names, as `type` lists them.
    struct TypeSet: Sendable, Hashable {
        static let allNames = ["array", "boolean", "integer", "null", "number", "object", "string"]

        /// In the order the schema lists them, for messages.
        var listed: [String]

        /// The names, with `integer` added when `number` is there.
        var names: [String] { listed.contains("number") && !listed.contains("integer") ? listed + ["integer"] : listed }

        /// Whether the value has one of the types; `typeName` says `integer` for `1.0` too.
        func contains(_ value: JSONValue) -> Bool {
            let name = value.typeName
            return listed.contains(name) || (name == "integer" && listed.contains("number"))
        }
    }

    /// A compiled `pattern` or `patternProperties` key.
    struct Pattern: Sendable {
        let source: String
        let expression: NSRegularExpression

        /// Whether the pattern is found anywhere in the string (JSON Schema patterns are not anchored).
        func matches(_ string: String) -> Bool {
            let range = NSRange(location: 0, length: string.utf16.count)
            return expression.firstMatch(in: string, options: [], range: range) != nil
        }
    }
}

/// An object key compared by Unicode code points, as JSON (and Python) compare keys;
/// Swift's `String` would treat `"é"` and `"e\u{301}"` as the same key.
struct ExactKey: Sendable, Hashable {
    let string: String

    init(_ string: String) { self.string = string }

    static func == (lhs: ExactKey, rhs: ExactKey) -> Bool {
        lhs.string.unicodeScalars.elementsEqual(rhs.string.unicodeScalars)
    }

    func hash(into hasher: inout Hasher) {
        for scalar in string.unicodeScalars { hasher.combine(scalar.value) }
    }
}
