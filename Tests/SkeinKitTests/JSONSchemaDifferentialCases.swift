import OrderedCollections

@testable import SkeinCore
@testable import SkeinKit

/// SplitMix64: small, seeded, and the same on every platform, so a failing case can be
/// regenerated from its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One schema and one instance to validate, and where it came from (for failure messages).
struct DifferentialCase {
    var schema: JSONValue
    var instance: JSONValue
    var origin: String
}

/// Generates (schema, instance) pairs for the differential test against Python's
/// `jsonschema`: random schemas over every supported keyword, instances grown from each
/// schema (so about half are valid) and then nudged across its boundaries, plus a table of
/// edge cases worth pinning by name.
///
/// Everything here must get the same verdict from both implementations, so the pools avoid
/// the few places where Skein differs on purpose (see `JSONSchema+Format.swift`): `uri`
/// (Python does not check it without `rfc3987`), emails with an empty local part or domain,
/// UUIDs with odd hyphenation, date-times with a trailing newline. Patterns are ones that
/// mean the same in ICU and Python's `re`.
struct DifferentialCaseGenerator {
    var random: SeededGenerator

    init(seed: UInt64) { random = SeededGenerator(seed: seed) }

    /// Formats used here; the test checks Python's FORMAT_CHECKER asserts each of them.
    static let formats = ["date-time", "date", "email", "uuid"]

    static let strings: [String] = [
        "", "a", "ab", "abc", "abcd", "hello", "Hello", "HELLO", "é", "e\u{301}", "😀", "😀😀", "🇫🇷", "ab😀",
        "abc\n", "123", "a1", "x-y", "colour", "color", "a b", "ab@cd.ef", "name", "title", "tags", "0", "-",
    ]
    static let patterns: [String] = [
        "^[a-z]+$", "\\d{3}", "^a", "b$", "^(ab)+$", "[A-Z]", "colou?r", "^.{2,4}$", "^[^\\s]+$", "x|y", "^$",
        "^\\w+$", "é", "^[0-9]*$", "(?i)hello",
    ]
    static let formatSamples: [String: [String]] = [
        "date-time": [
            "2020-01-01T00:00:00Z", "2020-01-01t00:00:00z", "2020-02-29T23:59:59.123+05:30", "2021-02-29T00:00:00Z",
            "2020-01-01T24:00:00Z", "2020-01-01 00:00:00Z", "2020-01-01T00:00:60Z", "2020-01-01T00:00:00",
            "0000-01-01T00:00:00Z", "2020-13-01T00:00:00Z", "2020-01-01T00:00:00.Z", "2020-01-01T00:00:00+24:00",
            "1999-12-31T23:59:59-08:00", "2020-01-01", "",
        ],
        "date": [
            "2020-02-29", "2019-02-29", "2020-1-01", "0000-01-01", "2020-12-31", "2020-04-31", "20200101",
            "\u{662}\u{660}\u{662}\u{660}-01-01", "2020-01-01T00:00:00Z", "9999-12-31", "",
        ],
        "email": ["a@b.co", "abc", "a@b", "x.y+z@example.org", "", "first.last@sub.example.com", "no-at-sign.com"],
        "uuid": [
            "123e4567-e89b-12d3-a456-426614174000", "123E4567-E89B-12D3-A456-426614174000",
            "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400",
            "g23e4567-e89b-12d3-a456-426614174000", "",
        ],
    ]
    static let numbers: [JSONValue] = [
        0, -1, 1, 1.0, 2, 2.0, -2.5, 0.5, 1.5, 3, 10, 10.0, 100, -100, 0.1, 0.2, 0.3, 0.7, 1.1, 4.5, 7, 7.5, -6,
        1e308, -0.0, 9_007_199_254_740_993, 9_007_199_254_740_992.0, 0.30000000000000004, 1e-5, 12.0, -0.5, 42,
    ]
    static let keys: [String] = [
        "a", "b", "c", "name", "title", "tags", "titel", "a b", "é", "e\u{301}", "x-custom", "x-other", "123", "",
        "id", "kind",
    ]

    // MARK: Randomness

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &random) < probability }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    mutating func subset<T>(_ items: [T], probability: Double) -> [T] {
        var result: [T] = []
        for item in items where chance(probability) { result.append(item) }
        return result
    }

    // MARK: Cases

    /// About `schemaCount * 4` random cases, then the edge-case table.
    mutating func cases(schemaCount: Int) -> [DifferentialCase] {
        var cases: [DifferentialCase] = []
        for index in 0..<schemaCount {
            let schema = rootSchema()
            for _ in 0..<4 {
                cases.append(
                    DifferentialCase(
                        schema: schema, instance: instance(for: schema, root: schema, depth: 3),
                        origin: "random schema \(index)"))
            }
        }
        for (index, (schema, instance)) in DifferentialCaseGenerator.edgeCases.enumerated() {
            cases.append(DifferentialCase(schema: schema, instance: instance, origin: "edge case \(index)"))
        }
        for (index, schema) in DifferentialCaseGenerator.invalidSchemas.enumerated() {
            cases.append(DifferentialCase(schema: schema, instance: 1, origin: "invalid schema \(index)"))
        }
        return cases
    }

    mutating func rootSchema() -> JSONValue {
        switch int(0...9) {
        case 0:
            // $defs and $ref, sometimes with siblings next to the $ref.
            var root: JSONValue.JSONObject = ["$defs": ["item": self.schema(depth: 2), "other": self.schema(depth: 1)]]
            root["$ref"] = .string(pick(["#/$defs/item", "#/$defs/other"]))
            if chance(0.3) { root["type"] = .string(pick(["object", "array", "string"])) }
            return .object(root)
        case 1:
            return [
                "definitions": ["positive": ["type": "integer", "exclusiveMinimum": 0]],
                "type": "object",
                "properties": ["count": ["$ref": "#/definitions/positive"], "other": self.schema(depth: 1)],
                "required": .array(subset(["count", "other"], probability: 0.5).map { .string($0) }),
            ]
        case 2:
            // Recursion through "#".
            return [
                "type": "object",
                "properties": ["value": self.schema(depth: 1), "next": ["$ref": "#"]],
                "required": ["value"],
                "additionalProperties": .bool(chance(0.5)),
            ]
        case 3:
            // A recursive tree in $defs.
            return [
                "$defs": [
                    "node": [
                        "type": "object",
                        "properties": [
                            "label": ["type": "string", "maxLength": .int(int(1...4))],
                            "children": ["type": "array", "items": ["$ref": "#/$defs/node"]],
                        ],
                        "required": ["label"],
                    ]
                ],
                "$ref": "#/$defs/node",
            ]
        default:
            return self.schema(depth: 3)
        }
    }

    mutating func schema(depth: Int) -> JSONValue {
        let kinds = depth > 0 ? 14 : 8
        switch int(0...(kinds - 1)) {
        case 0, 1: return stringSchema()
        case 2, 3: return numberSchema()
        case 4: return enumOrConstSchema()
        case 5: return .bool(chance(0.7))
        case 6: return ["type": .string(pick(["boolean", "null"]))]
        case 7: return untypedSchema()
        case 8, 9: return arraySchema(depth: depth - 1)
        case 10, 11: return objectSchema(depth: depth - 1)
        default: return combinatorSchema(depth: depth - 1)
        }
    }

    mutating func stringSchema() -> JSONValue {
        var schema: JSONValue.JSONObject = [:]
        schema["type"] = chance(0.8) ? "string" : ["string", "null"]
        if chance(0.4) { schema["minLength"] = .int(int(0...3)) }
        if chance(0.4) { schema["maxLength"] = chance(0.2) ? .double(Double(int(1...4))) : .int(int(0...4)) }
        if chance(0.35) { schema["pattern"] = .string(pick(DifferentialCaseGenerator.patterns)) }
        if chance(0.3) { schema["format"] = .string(pick(DifferentialCaseGenerator.formats)) }
        if chance(0.1) {
            schema["enum"] = .array(subset(DifferentialCaseGenerator.strings, probability: 0.2).map { .string($0) })
        }
        return .object(schema)
    }

    mutating func numberSchema() -> JSONValue {
        var schema: JSONValue.JSONObject = [:]
        schema["type"] = .string(pick(["integer", "number", "number"]))
        if chance(0.2) { schema["type"] = [schema["type"] ?? "number", "null"] }
        let bounds: [JSONValue] = [0, 1, -1, 1.5, 3, 3.0, -2.5, 10, 9_007_199_254_740_992.0, 0.1]
        if chance(0.35) { schema["minimum"] = pick(bounds) }
        if chance(0.35) { schema["maximum"] = pick(bounds) }
        if chance(0.25) { schema["exclusiveMinimum"] = pick(bounds) }
        if chance(0.25) { schema["exclusiveMaximum"] = pick(bounds) }
        if chance(0.4) { schema["multipleOf"] = pick([2, 3, 0.5, 0.1, 0.01, 1.5, 2.0, 1e-300, 7]) }
        return .object(schema)
    }

    mutating func enumOrConstSchema() -> JSONValue {
        let values: [JSONValue] = [
            1, 1.0, 2, true, false, 0, nil, "a", "b", "é", ["x": 1, "y": 2], ["y": 2, "x": 1], [1, 2], [1.0, 2], [],
            [:], "1", -0.0,
        ]
        if chance(0.4) { return ["const": pick(values)] }
        return ["enum": .array((0..<int(1...4)).map { _ in pick(values) })]
    }

    /// Keywords without `type`: each applies only to its own kind of value.
    mutating func untypedSchema() -> JSONValue {
        var schema: JSONValue.JSONObject = [:]
        if chance(0.5) { schema["minLength"] = .int(int(1...3)) }
        if chance(0.5) { schema["minimum"] = .int(int(-2...5)) }
        if chance(0.4) { schema["minItems"] = .int(int(1...2)) }
        if chance(0.4) { schema["required"] = ["a"] }
        if chance(0.3) { schema["format"] = .string(pick(DifferentialCaseGenerator.formats)) }
        if chance(0.3) { schema["title"] = "annotations are ignored"; schema["examples"] = [1, "x"] }
        return .object(schema)
    }

    mutating func arraySchema(depth: Int) -> JSONValue {
        var schema: JSONValue.JSONObject = ["type": "array"]
        if chance(0.3) {
            schema["prefixItems"] = .array((0..<int(1...2)).map { _ in self.schema(depth: depth) })
        }
        if chance(0.6) { schema["items"] = chance(0.2) ? false : self.schema(depth: depth) }
        if chance(0.3) { schema["minItems"] = .int(int(0...2)) }
        if chance(0.3) { schema["maxItems"] = .int(int(0...3)) }
        if chance(0.3) { schema["uniqueItems"] = .bool(chance(0.8)) }
        if chance(0.25) {
            schema["contains"] = self.schema(depth: 0)
            if chance(0.4) { schema["minContains"] = .int(int(0...2)) }
            if chance(0.4) { schema["maxContains"] = .int(int(0...2)) }
        }
        return .object(schema)
    }

    mutating func objectSchema(depth: Int) -> JSONValue {
        var schema: JSONValue.JSONObject = [:]
        if chance(0.8) { schema["type"] = "object" }
        var properties: JSONValue.JSONObject = [:]
        for key in subset(DifferentialCaseGenerator.keys, probability: 0.2).prefix(4) {
            properties[key] = self.schema(depth: depth)
        }
        if !properties.isEmpty || chance(0.5) { schema["properties"] = .object(properties) }
        let names = Array(properties.keys) + (chance(0.2) && properties["c"] == nil ? ["c"] : [])
        if chance(0.6) { schema["required"] = .array(subset(names, probability: 0.5).map { .string($0) }) }
        switch int(0...5) {
        case 0, 1: schema["additionalProperties"] = false
        case 2: schema["additionalProperties"] = self.schema(depth: 0)
        default: break
        }
        if chance(0.25) {
            schema["patternProperties"] = ["^x-": self.schema(depth: 0), "^[0-9]+$": ["type": "integer"]]
        }
        if chance(0.15) { schema["propertyNames"] = chance(0.5) ? ["maxLength": 4] : ["pattern": "^[a-z]*$"] }
        if chance(0.15) { schema["minProperties"] = .int(int(1...2)) }
        if chance(0.15) { schema["maxProperties"] = .int(int(0...2)) }
        if chance(0.15) { schema["dependentRequired"] = ["a": ["b"]] }
        if chance(0.1) { schema["dependentSchemas"] = ["name": ["required": ["title"]]] }
        return .object(schema)
    }

    mutating func combinatorSchema(depth: Int) -> JSONValue {
        let branches = (0..<int(1...3)).map { _ in self.schema(depth: depth) }
        switch int(0...5) {
        case 0: return ["allOf": .array(branches)]
        case 1: return ["anyOf": .array(branches)]
        case 2: return ["oneOf": .array(branches)]
        case 3: return ["not": branches[0]]
        case 4:
            var schema: JSONValue.JSONObject = ["if": branches[0]]
            if chance(0.8) { schema["then"] = self.schema(depth: depth) }
            if chance(0.8) { schema["else"] = self.schema(depth: depth) }
            return .object(schema)
        default:
            // The pydantic shape for an optional field.
            return ["anyOf": [self.schema(depth: depth), ["type": "null"]]]
        }
    }

    // MARK: Instances

    /// A value shaped by the schema (so many are valid), often pushed over one of its edges.
    mutating func instance(for schema: JSONValue, root: JSONValue, depth: Int) -> JSONValue {
        guard depth > 0, chance(0.85), case .object(let object) = schema else { return randomValue(depth: 1) }
        if let reference = object["$ref"]?.stringValue, chance(0.8) {
            return instance(for: resolve(reference, in: root), root: root, depth: depth - 1)
        }
        if let constant = object["const"], chance(0.6) { return variant(of: constant) }
        if case .array(let values)? = object["enum"], !values.isEmpty, chance(0.7) { return variant(of: pick(values)) }
        for keyword in ["allOf", "anyOf", "oneOf"] {
            if case .array(let branches)? = object[keyword], !branches.isEmpty, chance(0.7) {
                return instance(for: pick(branches), root: root, depth: depth - 1)
            }
        }
        if let condition = object["if"], chance(0.5) { return instance(for: condition, root: root, depth: depth - 1) }
        var types: [String] = []
        switch object["type"] {
        case .string(let name)?: types = [name]
        case .array(let names)?: types = names.compactMap(\.stringValue)
        default:
            if object["properties"] != nil || object["required"] != nil { types = ["object"] }
            if object["items"] != nil || object["prefixItems"] != nil { types = ["array"] }
            if object["minLength"] != nil || object["format"] != nil { types.append("string") }
            if object["minimum"] != nil { types.append("number") }
        }
        guard !types.isEmpty, chance(0.9) else { return randomValue(depth: 2) }
        switch pick(types) {
        case "string": return stringInstance(object)
        case "integer", "number": return numberInstance(object, integer: types == ["integer"])
        case "array": return arrayInstance(object, root: root, depth: depth)
        case "object": return objectInstance(object, root: root, depth: depth)
        case "boolean": return .bool(chance(0.5))
        default: return chance(0.8) ? nil : randomValue(depth: 1)
        }
    }

    /// The same value or an equal one of another spelling: `1` for `1.0`, keys reordered.
    mutating func variant(of value: JSONValue) -> JSONValue {
        switch value {
        case .int(let int) where chance(0.3): return .double(Double(int))
        case .double(let double) where chance(0.3) && double.rounded() == double && abs(double) < 1e15:
            return .int(Int(double))
        case .object(let members) where chance(0.5):
            return .object(JSONValue.JSONObject(uniqueKeysWithValues: members.reversed().map { ($0.key, $0.value) }))
        default: return chance(0.85) ? value : randomValue(depth: 1)
        }
    }

    mutating func stringInstance(_ schema: JSONValue.JSONObject) -> JSONValue {
        if let format = schema["format"]?.stringValue, let samples = DifferentialCaseGenerator.formatSamples[format],
            chance(0.7)
        {
            return .string(pick(samples))
        }
        if let length = (schema["maxLength"] ?? schema["minLength"])?.intValue, chance(0.5) {
            // Right at the edge, counting code points with multi-unit characters.
            let unit = pick(["a", "é", "😀", "e\u{301}"])
            let count = max(0, length + int(-1...1))
            return .string(String(repeating: unit, count: unit == "e\u{301}" ? max(0, count / 2) : count))
        }
        return .string(pick(DifferentialCaseGenerator.strings))
    }

    mutating func numberInstance(_ schema: JSONValue.JSONObject, integer: Bool) -> JSONValue {
        let edges = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"].compactMap {
            schema[$0]
        }
        if !edges.isEmpty, chance(0.6), case let edge = pick(edges), let value = edge.doubleValue {
            switch int(0...4) {
            case 0: return edge
            case 1: return variant(of: edge)
            case 2: return .double(value * Double(int(-3...3)))
            case 3:
                return integer
                    ? .int(Int(value.rounded(.down)) + int(-1...1)) : .double(value + pick([0.5, -0.5, 0.1]))
            default: return .double(value * 3)
            }
        }
        return pick(DifferentialCaseGenerator.numbers)
    }

    mutating func arrayInstance(_ schema: JSONValue.JSONObject, root: JSONValue, depth: Int) -> JSONValue {
        var items: [JSONValue] = []
        let length = int(0...4)
        let prefix = schema["prefixItems"]?.arrayValue ?? []
        for index in 0..<length {
            if index < prefix.count {
                items.append(instance(for: prefix[index], root: root, depth: depth - 1))
            } else if let itemSchema = schema["items"] ?? schema["contains"] {
                items.append(instance(for: itemSchema, root: root, depth: depth - 1))
            } else {
                items.append(randomValue(depth: depth - 1))
            }
        }
        if schema["uniqueItems"] != nil, !items.isEmpty, chance(0.4) { items.append(variant(of: pick(items))) }
        return .array(items)
    }

    mutating func objectInstance(_ schema: JSONValue.JSONObject, root: JSONValue, depth: Int) -> JSONValue {
        var members: JSONValue.JSONObject = [:]
        if case .object(let properties)? = schema["properties"] {
            for (key, propertySchema) in properties where chance(0.8) {
                members[key] = instance(for: propertySchema, root: root, depth: depth - 1)
            }
        }
        if chance(0.3) {
            let key = pick(DifferentialCaseGenerator.keys + ["x-extra", "7"])
            members[key] = randomValue(depth: 1)
        }
        if chance(0.2) { members["c"] = randomValue(depth: 1) }
        return .object(members)
    }

    mutating func randomValue(depth: Int) -> JSONValue {
        switch int(0...(depth > 0 ? 9 : 6)) {
        case 0: return nil
        case 1: return .bool(chance(0.5))
        case 2, 3: return pick(DifferentialCaseGenerator.numbers)
        case 4, 5, 6: return .string(pick(DifferentialCaseGenerator.strings))
        case 7: return .array((0..<int(0...3)).map { _ in randomValue(depth: depth - 1) })
        default:
            var members: JSONValue.JSONObject = [:]
            for _ in 0..<int(0...3) { members[pick(DifferentialCaseGenerator.keys)] = randomValue(depth: depth - 1) }
            return .object(members)
        }
    }

    private func resolve(_ reference: String, in root: JSONValue) -> JSONValue {
        guard reference.hasPrefix("#/") else { return root }
        var value = root
        for token in reference.dropFirst(2).split(separator: "/") {
            value = value[String(token)] ?? true
        }
        return value
    }
}

extension DifferentialCaseGenerator {
    /// Cases named in the design, each a trap for a careless implementation.
    static let edgeCases: [(JSONValue, JSONValue)] = [
        // 1 and 1.0: both integers, equal for enum, const and uniqueItems.
        (["type": "integer"], 1.0), (["type": "integer"], 1.5), (["type": "integer"], -3), (["type": "number"], 7),
        (["enum": [1]], 1.0), (["enum": [1.0]], 1), (["const": 2.0], 2), (["const": [1, 2]], [1.0, 2.0]),
        (["uniqueItems": true], [1, 1.0]), (["uniqueItems": true], [[1], [1.0]]), (["uniqueItems": true], [1, 2]),
        // true is not 1, false is not 0, and booleans are not numbers.
        (["type": "integer"], true), (["type": "number"], false), (["enum": [1]], true), (["const": false], 0),
        (["const": 0], false), (["uniqueItems": true], [1, true]), (["uniqueItems": true], [0, false]),
        (["uniqueItems": true], [true, true]), (["minimum": 5], true), (["enum": [[true]]], [1]),
        // Objects: key order does not matter, keys compare by code point.
        (["uniqueItems": true], [["a": 1, "b": 2], ["b": 2, "a": 1]]), (["uniqueItems": true], [["a": 1], ["a": 2]]),
        (["const": ["a": 1, "b": [1, 2]]], ["b": [1, 2], "a": 1]), (["const": ["é": 1]], ["e\u{301}": 1]),
        (["required": ["é"]], ["e\u{301}": 1]), (["properties": ["é": ["type": "string"]]], ["e\u{301}": 1]),
        (["enum": ["é"]], "e\u{301}"),
        // Lengths in code points.
        (["maxLength": 1], "😀"), (["maxLength": 1], "e\u{301}"), (["minLength": 2], "🇫🇷"), (["maxLength": 1], "🇫🇷"),
        (["minLength": 1], ""), (["maxLength": 0], ""), (["minLength": 3], "ab😀"), (["maxLength": 2.0], "abc"),
        // Empty arrays and objects.
        (["minItems": 1], []), (["items": false], []),
        (["prefixItems": [["type": "string"]], "items": false], ["a", 1]),
        (["contains": ["type": "string"]], []), (["contains": ["type": "string"], "minContains": 0], []),
        (["required": ["a"]], [:]), (["additionalProperties": false], [:]), (["maxProperties": 0], [:]),
        // Negative numbers and exact comparisons.
        (["minimum": -1], -1), (["minimum": -1], -1.5), (["exclusiveMaximum": -2.5], -2.5), (["maximum": -0.0], 0),
        (["exclusiveMinimum": 0], -0.0), (["maximum": 9_007_199_254_740_992.0], 9_007_199_254_740_993),
        (["minimum": 9_007_199_254_740_993], 9_007_199_254_740_992.0), (["multipleOf": 3], -6), (["multipleOf": 2], -7),
        // multipleOf with floats, as Python decides it.
        (["multipleOf": 0.1], 0.3), (["multipleOf": 0.1], 0.2), (["multipleOf": 0.1], 0.7),
        (["multipleOf": 0.01], 0.07),
        (["multipleOf": 0.5], 4.5), (["multipleOf": 2], 4.0), (["multipleOf": 2], 7.5), (["multipleOf": 2.0], 7),
        (["multipleOf": 0.1], 1e308), (["multipleOf": 0.5], 1e308), (["multipleOf": 1e-300], 1e300),
        (["multipleOf": 3], 1e308),
        (["multipleOf": 1.5], 4.5), (["multipleOf": 0.0001], 0.0075), (["multipleOf": 1e-5], 123456789),
        // Patterns search; they are not anchored.
        (["pattern": "b"], "abc"), (["pattern": "^b"], "abc"), (["pattern": "^a$"], "a\n"), (["pattern": "^.$"], "😀"),
        (["pattern": "^.$"], "e\u{301}"), (["pattern": "\\d"], "\u{663}"), (["pattern": "(?<=a)b"], "ab"),
        (["pattern": "^[a-z]+$"], 5),
        // Formats.
        (["format": "date"], 20200101), (["format": "date-time"], "2020-01-01T00:00:00.5Z"),
        (["format": "unknown-format"], "anything"), (["format": "uuid"], "00000000-0000-0000-0000-000000000000"),
        // Boolean schemas.
        (true, ["anything": [1, 2]]), (false, nil), (["properties": ["a": false]], ["a": 1]),
        (["properties": ["a": false]], ["b": 1]), (["not": true], 1), (["not": false], 1),
        // References.
        (["$defs": ["s": ["type": "string"]], "$ref": "#/$defs/s", "maxLength": 2], "abc"),
        (["definitions": ["s": ["type": "string"]], "items": ["$ref": "#/definitions/s"]], ["a", 1]),
        (["properties": ["a": ["type": "integer"], "b": ["$ref": "#/properties/a"]]], ["b": "x"]),
        (["items": ["$ref": "#"], "type": "array"], [[[]], []]), (["items": ["$ref": "#"], "type": "array"], [[1]]),
        (["$defs": ["a b": ["type": "null"]], "$ref": "#/$defs/a%20b"], nil),
        (["$defs": ["a/b": ["type": "null"]], "$ref": "#/$defs/a~1b"], 1),
        (["$defs": ["x": ["$anchor": "thing", "type": "null"]], "$ref": "#thing"], nil),
        // Combinators.
        (["oneOf": [["type": "integer"], ["type": "number"]]], 1),
        (["oneOf": [["type": "integer"], ["type": "number"]]], 1.5),
        (["anyOf": [["type": "string"], ["type": "null"]]], 3), (["allOf": [["minimum": 1], ["maximum": 2]]], 3),
        (["if": ["type": "string"], "then": ["minLength": 2], "else": ["type": "integer"]], "a"),
        (["if": ["type": "string"], "then": ["minLength": 2], "else": ["type": "integer"]], 1.5),
        (["then": ["type": "string"]], 1), (["else": ["type": "string"]], 1),
        (["dependentSchemas": ["a": ["required": ["b"]]]], ["a": 1]), (["dependentRequired": ["a": ["b"]]], ["b": 1]),
        (["propertyNames": false], [:]), (["propertyNames": false], ["a": 1]),
        (["unevaluatedProperties": true], ["a": 1]),
    ]

    /// Schemas both implementations must refuse.
    static let invalidSchemas: [JSONValue] = [
        ["type": "strnig"], ["type": []], ["type": ["string", "string"]], ["minLength": -1], ["minLength": 1.5],
        ["maxItems": "3"], ["pattern": "("], ["pattern": "[a-"], ["required": "a"], ["required": ["a", "a"]],
        ["allOf": []], ["anyOf": "x"], ["items": [["type": "string"]]], ["multipleOf": 0], ["multipleOf": -2],
        ["enum": 5], ["properties": ["a": 5]], ["$ref": 5], ["uniqueItems": "yes"], ["format": 5], ["minimum": "0"],
        ["not": []], ["$defs": ["a": "string"]], ["patternProperties": ["(": true]], 5, "string",
    ]
}
