import Testing

@testable import SkeinCore
@testable import SkeinKit

@Suite struct JSONSchemaTests {
    /// A schema for a model's answer, used by several tests.
    static let article: JSONValue = [
        "type": "object",
        "properties": [
            "title": ["type": "string", "maxLength": 80],
            "subtitle": ["anyOf": [["type": "string"], ["type": "null"]]],
            "status": ["enum": ["a", "b"]],
            "tags": ["type": "array", "items": ["type": "string"], "minItems": 1, "uniqueItems": true],
            "score": ["type": "number", "minimum": 0, "exclusiveMaximum": 1],
            "published": ["type": "string", "format": "date"],
            "kind": ["const": "book"],
            "first name": ["type": "string"],
        ],
        "required": ["title", "tags"],
        "additionalProperties": false,
    ]

    // MARK: Violation texts

    @Test func typeMismatchNamesThePathAndBothTypes() throws {
        try expectViolations(
            Self.article, ["title": "t", "tags": ["a", "b", 3]], ["$.tags[2]: expected string, got number"])
        try expectViolations(["type": "integer"], 1.5, ["$: expected integer, got number"])
        try expectViolations(["type": "integer"], true, ["$: expected integer, got boolean"])
        try expectViolations(
            ["type": ["string", "integer", "null"]], false, ["$: expected string, integer or null, got boolean"])
    }

    @Test func missingAndUnexpectedProperties() throws {
        try expectViolations(Self.article, ["tags": ["a"]], ["$: missing required property 'title'"])
        try expectViolations(
            Self.article, ["titel": "x", "tags": ["a"]],
            ["$: missing required property 'title'", "$: unexpected property 'titel'; did you mean 'title'?"])
    }

    @Test func enumConstAndFormat() throws {
        func article(_ key: String, _ value: JSONValue) -> JSONValue {
            let object: JSONValue = ["title": "t", "tags": ["a"], key: value]
            return object
        }
        try expectViolations(Self.article, article("status", "x"), [#"$.status: 'x' is not one of ["a","b"]"#])
        try expectViolations(Self.article, article("kind", "film"), [#"$.kind: must be "book""#])
        try expectViolations(
            Self.article, article("published", "2020-13-01"), ["$.published: '2020-13-01' is not a valid date"])
    }

    @Test func lengthsCountsAndBounds() throws {
        let long = JSONValue.string(String(repeating: "é", count: 81))
        try expectViolations(
            Self.article, ["title": long, "tags": ["a"]], ["$.title: must have at most 80 characters"])
        try expectViolations(Self.article, ["title": "t", "tags": []], ["$.tags: must have at least 1 item"])
        try expectViolations(
            Self.article, ["title": "t", "tags": ["a", "b", "a"]],
            ["$.tags: must have unique items; [0] and [2] are equal"])
        try expectViolations(Self.article, ["title": "t", "tags": ["a"], "score": -1], ["$.score: must be at least 0"])
        try expectViolations(
            Self.article, ["title": "t", "tags": ["a"], "score": 1.0], ["$.score: must be less than 1"])
        try expectViolations(["multipleOf": 0.1], 0.3, ["$: must be a multiple of 0.1"])
        try expectViolations(
            ["minLength": 2, "pattern": "^[a-z]+$"], "É",
            [
                "$: must have at least 2 characters", "$: must match pattern '^[a-z]+$'",
            ])
        try expectViolations(["minProperties": 1], [:], ["$: must have at least 1 property"])
    }

    @Test func keysThatAreNotIdentifiersAreQuoted() throws {
        try expectViolations(
            Self.article, ["title": "t", "tags": ["a"], "first name": nil],
            [
                #"$["first name"]: expected string, got null"#
            ])
        let nested: JSONValue = ["properties": ["a": ["items": ["properties": ["x y": ["type": "string"]]]]]]
        try expectViolations(nested, ["a": [["x y": 1]]], [#"$.a[0]["x y"]: expected string, got number"#])
    }

    @Test func combinators() throws {
        // anyOf of types (pydantic's Optional) reads as one type error.
        try expectViolations(
            Self.article, ["title": "t", "tags": ["a"], "subtitle": 3],
            ["$.subtitle: expected string or null, got number"])
        try expectViolations(
            ["anyOf": [["minLength": 3], ["type": "number"]]], "ab",
            [
                "$: must match at least one schema in anyOf: [0] must have at least 3 characters; [1] expected number, got string"
            ])
        try expectViolations(
            ["oneOf": [["type": "integer"], ["type": "number"]]], 1,
            [
                "$: must match exactly one schema in oneOf, but matches [0] and [1]"
            ])
        try expectViolations(["not": ["type": "string"]], "x", [#"$: must not match {"type":"string"}"#])
        try expectViolations(
            ["if": ["type": "string"], "then": ["minLength": 2]], "a", ["$: must have at least 2 characters"])
    }

    @Test func booleanSchemasAndTuples() throws {
        try expectViolations(["properties": ["secret": false]], ["secret": 1], ["$.secret: no value is allowed here"])
        try expectViolations(
            ["prefixItems": [["type": "number"], ["type": "number"]], "items": false], [1, 2, 3],
            [
                "$: must have at most 2 items"
            ])
        try expectViolations(false, 1, ["$: no value is allowed here"])
        #expect(try JSONSchema(true).validate(["anything": [1]]).isEmpty)
    }

    @Test func objectKeywords() throws {
        try expectViolations(
            ["dependentRequired": ["card": ["billing"]]], ["card": 1],
            [
                "$: missing property 'billing', required when 'card' is present"
            ])
        try expectViolations(
            ["propertyNames": ["pattern": "^[a-z]+$"]], ["Bad": 1],
            [
                "$: invalid property name 'Bad': must match pattern '^[a-z]+$'"
            ])
        try expectViolations(
            ["contains": ["type": "string"]], [1, 2], [#"$: must contain an item matching {"type":"string"}"#])
        try expectViolations(
            ["contains": ["type": "string"], "maxContains": 1], ["a", "b"],
            [
                #"$: must contain at most 1 item matching {"type":"string"}"#
            ])
    }

    @Test func everyViolationIsReported() throws {
        let violations = try JSONSchema(Self.article).validate(["title": 5, "tags": [1, 2], "extra": true])
        #expect(
            violations.map(\.description) == [
                "$: unexpected property 'extra'",
                "$.title: expected string, got number",
                "$.tags[0]: expected string, got number",
                "$.tags[1]: expected string, got number",
            ])
        #expect(try JSONSchema(Self.article).isValid(["title": "t", "tags": ["a"], "published": "2024-02-29"]))
    }

    // MARK: Semantics

    @Test func numbersAsJSONSchemaSeesThem() throws {
        #expect(try JSONSchema(["type": "integer"]).isValid(1.0))
        #expect(try !JSONSchema(["type": "number"]).isValid(true))
        #expect(try JSONSchema(["enum": [1]]).isValid(1.0))
        #expect(try !JSONSchema(["enum": [1]]).isValid(true))
        #expect(try !JSONSchema(["const": false]).isValid(0))
        #expect(try !JSONSchema(["uniqueItems": true]).isValid([1, 1.0]))
        #expect(try JSONSchema(["uniqueItems": true]).isValid([1, true]))
        #expect(try !JSONSchema(["uniqueItems": true]).isValid([["a": 1, "b": 2], ["b": 2, "a": 1]]))
        // Exact comparison between integers and doubles past 2^53.
        #expect(try !JSONSchema(["maximum": 9_007_199_254_740_992.0]).isValid(9_007_199_254_740_993))
        // As Python's jsonschema: 0.3 / 0.1 is 2.9999999999999996, so not a multiple.
        #expect(try !JSONSchema(["multipleOf": 0.1]).isValid(0.3))
        #expect(try JSONSchema(["multipleOf": 0.1]).isValid(0.2))
        #expect(try JSONSchema(["multipleOf": 0.5]).isValid(1e308))
    }

    @Test func stringsCountAndCompareCodePoints() throws {
        #expect(try JSONSchema(["maxLength": 1]).isValid("😀"))
        #expect(try !JSONSchema(["maxLength": 1]).isValid("e\u{301}"))
        #expect(try !JSONSchema(["enum": ["é"]]).isValid("e\u{301}"))
        #expect(try !JSONSchema(["required": ["é"]]).isValid(["e\u{301}": 1]))
    }

    @Test func references() throws {
        let tree = try JSONSchema([
            "$defs": [
                "node": [
                    "type": "object", "required": ["label"],
                    "properties": [
                        "label": ["type": "string"], "children": ["type": "array", "items": ["$ref": "#/$defs/node"]],
                    ],
                ]
            ],
            "$ref": "#/$defs/node",
        ])
        #expect(tree.isValid(["label": "root", "children": [["label": "a", "children": []]]]))
        #expect(
            tree.validate(["label": "root", "children": [["children": []]]]).map(\.description) == [
                "$.children[0]: missing required property 'label'"
            ])
        let list = try JSONSchema(["properties": ["next": ["$ref": "#"], "value": ["type": "integer"]]])
        #expect(
            list.validate(["next": ["next": ["value": "x"]]]).map(\.description) == [
                "$.next.next.value: expected integer, got string"
            ])
        #expect(
            try JSONSchema(["definitions": ["n": ["type": "null"]], "items": ["$ref": "#/definitions/n"]]).isValid([nil]
            ))
        #expect(try JSONSchema(["$defs": ["a b": ["type": "null"]], "$ref": "#/$defs/a%20b"]).isValid(nil))
        #expect(try !JSONSchema(["$defs": ["x": ["$anchor": "thing", "type": "null"]], "$ref": "#thing"]).isValid(1))
        let identified = try JSONSchema([
            "$id": "https://example.com/s.json", "$defs": ["n": ["type": "null"]],
            "$ref": "https://example.com/s.json#/$defs/n",
        ])
        #expect(identified.isValid(nil))
    }

    @Test func formatsPythonDoesNotCheckHere() throws {
        // Python's jsonschema checks `uri` only with rfc3987 installed, so these are pinned by hand.
        let uri = try JSONSchema(["format": "uri"])
        for valid in ["https://example.com/a?b=c#d", "urn:isbn:0451450523", "mailto:a@b.c", "http://[::1]:80/%20x"] {
            #expect(uri.isValid(.string(valid)), "\(valid)")
        }
        for invalid in ["example.com/a", "/relative", "http://a b", "1http://x", "http://x/%zz", "", ":x"] {
            #expect(!uri.isValid(.string(invalid)), "\(invalid)")
        }
        // Deliberately stricter than Python's checks (an `@` anywhere; UUID() parsing; a `$` that
        // allows a trailing newline).
        let email = try JSONSchema(["format": "email"])
        #expect(email.isValid("a@b.co"))
        #expect(!email.isValid("@b.co") && !email.isValid("a@") && !email.isValid("a b@c.d"))
        #expect(try !JSONSchema(["format": "uuid"]).isValid("12345678-1234-1234-1234-1234-5678-9abc"))
        #expect(try !JSONSchema(["format": "date-time"]).isValid("2020-01-01T00:00:00Z\n"))
        // Formats apply to strings only, and unknown formats are annotations.
        #expect(try JSONSchema(["format": "date"]).isValid(20_200_101))
        #expect(try JSONSchema(["format": "hostname"]).isValid("not a hostname"))
    }

    // MARK: Invalid schemas

    @Test func invalidSchemasNameThePlace() {
        expectCompileError(
            ["properties": ["tags": ["items": ["type": "strnig"]]]],
            "$.properties.tags.items.type: unknown type 'strnig'; did you mean 'string'?")
        expectCompileError(
            ["type": "text_blob"],
            "$.type: unknown type 'text_blob'; expected one of array, boolean, integer, null, number, object, string")
        expectCompileError(["minLength": -1], "$.minLength: must be a non-negative integer, got the number -1")
        expectCompileError(["required": ["a", "a"]], "$.required[1]: lists 'a' twice")
        expectCompileError(["anyOf": []], "$.anyOf: must be a non-empty array of schemas")
        expectCompileError(["multipleOf": 0], "$.multipleOf: must be greater than 0, got 0")
        expectCompileError(
            ["items": [["type": "string"]]],
            "$.items: must be a schema, got an array; in draft 2020-12 a tuple is written with prefixItems")
        expectCompileError(
            ["properties": ["a": "string"]],
            "$.properties.a: a schema must be an object or a boolean, got the string 'string'")
        expectCompileError(
            ["$defs": ["item": true], "items": ["$ref": "#/$defs/itme"]],
            "$.items.$ref: '#/$defs/itme' points nowhere: no 'itme' in #/$defs; did you mean 'item'?")
        expectCompileError(
            ["$ref": "other.json#/x"],
            "$.$ref: cannot resolve 'other.json#/x': only references within this schema ('#', '#/$defs/name') are supported"
        )
        expectCompileError(
            ["$defs": ["a": ["$ref": "#/$defs/b"], "b": ["allOf": [["$ref": "#/$defs/a"]]]], "$ref": "#/$defs/a"],
            "$.$defs.b.allOf[0]: $ref cycle that never reaches into the instance: #/$defs/a -> #/$defs/b -> #/$defs/b/allOf/0 -> #/$defs/a"
        )
        expectCompileError(
            ["unevaluatedProperties": false],
            "$.unevaluatedProperties: unevaluatedProperties is not supported; use additionalProperties instead")
    }

    @Test func badRegularExpressionsAreCompileErrors() {
        #expect {
            try JSONSchema(["properties": ["name": ["pattern": "(ab"]]])
        } throws: { error in
            guard let error = error as? JSONSchemaError else { return false }
            return error.kind == .invalidPattern && error.schemaPath == "$.properties.name.pattern"
                && error.message.hasPrefix("invalid regular expression '(ab'")
        }
        #expect(throws: JSONSchemaError.self) { try JSONSchema(["patternProperties": ["[a-": true]]) }
    }

    // MARK: Static questions

    @Test func propertySchemaFollowsRefsAndAllOf() throws {
        let schema = try JSONSchema([
            "$defs": ["base": ["properties": ["id": ["type": "integer"]], "required": ["id"]]],
            "allOf": [["$ref": "#/$defs/base"], ["properties": ["name": ["type": "string"]]]],
            "properties": ["name": ["maxLength": 3]],
            "patternProperties": ["^x-": ["type": "boolean"]],
        ])
        #expect(schema.propertySchema("id")?.declaredTypes == ["integer"])
        #expect(schema.propertySchema("id")?.source == ["type": "integer"])
        let name = try #require(schema.propertySchema("name"))
        #expect(name.declaredTypes == ["string"])
        #expect(!name.isValid("long") && name.isValid("abc") && !name.isValid(3))
        #expect(schema.propertySchema("x-flag")?.declaredTypes == ["boolean"])
        #expect(schema.propertySchema("other")?.source == true)
        #expect(schema.propertyNames == ["name", "id"])

        let closed = try JSONSchema(Self.article)
        #expect(closed.propertySchema("titel") == nil)
        #expect(closed.propertySchema("title")?.source == ["type": "string", "maxLength": 80])
        #expect(try JSONSchema(["type": "string"]).propertySchema("a") == nil)
        #expect(closed.propertyNames.prefix(3) == ["title", "subtitle", "status"])
        #expect(closed.propertySchema("subtitle")?.declaredTypes == ["string", "null"])
    }

    @Test func itemSchemas() throws {
        let tags = try #require(try JSONSchema(Self.article).propertySchema("tags"))
        #expect(tags.declaredTypes == ["array"])
        #expect(tags.itemsSchema?.source == ["type": "string"])
        let tuple = try JSONSchema(["prefixItems": [["type": "string"], ["type": "integer"]], "items": false])
        #expect(tuple.itemSchema(at: 1)?.declaredTypes == ["integer"])
        #expect(tuple.itemSchema(at: 2) == nil)
        #expect(tuple.itemsSchema?.declaredTypes == ["string", "integer"])
        #expect(tuple.itemsSchema?.isValid(1) == true && tuple.itemsSchema?.isValid(nil) == false)
        #expect(try JSONSchema(["type": "object"]).itemsSchema == nil)
        #expect(try JSONSchema(["items": false]).itemsSchema == nil)
        #expect(try JSONSchema(true).itemsSchema?.source == true)
    }

    @Test func declaredTypes() throws {
        #expect(try JSONSchema(["type": "number"]).declaredTypes == ["number", "integer"])
        #expect(
            try JSONSchema(["allOf": [["type": ["string", "null"]], ["type": "string"]]]).declaredTypes == ["string"])
        #expect(try JSONSchema(["enum": ["a", 1]]).declaredTypes == ["string", "integer", "number"])
        #expect(try JSONSchema(["minLength": 1]).declaredTypes == nil)
        #expect(try JSONSchema(false).declaredTypes == [])
        #expect(
            try JSONSchema(["oneOf": [["type": "object"], ["type": "array"]]]).declaredTypes == ["object", "array"])
        #expect(try JSONSchema(["properties": ["a": ["$ref": "#"]]]).propertySchema("a")?.declaredTypes == nil)
    }

    @Test func equalSchemasAreEqual() throws {
        let a = try JSONSchema(Self.article)
        let b = try JSONSchema(Self.article)
        #expect(a == b && a.hashValue == b.hashValue)
        #expect(a.source == Self.article)
        #expect(try a != JSONSchema(["type": "object"]))
    }

    // MARK: Safety

    @Test func deepInstancesAreReportedNotCrashed() throws {
        let schema = try JSONSchema(["type": "array", "items": ["$ref": "#"]])
        var value: JSONValue = []
        for _ in 0..<2_000 { value = .array([value]) }
        let violations = schema.validate(value)
        #expect(violations.count == 1)
        #expect(violations.first?.message == "nested too deeply to validate (more than 512 nested schemas)")
        #expect(!schema.isValid(value))
        var shallow: JSONValue = []
        for _ in 0..<200 { shallow = .array([shallow]) }
        #expect(schema.isValid(shallow))
    }

    @Test func deepOrLoopingSchemasAreRefused() {
        var nested: JSONValue = true
        for _ in 0..<600 { nested = ["items": nested] }
        #expect(throws: JSONSchemaError.self) { try JSONSchema(nested) }
        var chain: JSONValue.JSONObject = ["d600": true]
        for index in 0..<600 { chain["d\(index)"] = ["$ref": .string("#/$defs/d\(index + 1)")] }
        #expect {
            try JSONSchema(["$defs": .object(chain), "$ref": "#/$defs/d0"])
        } throws: { error in
            (error as? JSONSchemaError)?.kind == .tooDeep
        }
        expectCompileError(["$ref": "#"], "$: $ref cycle that never reaches into the instance: # -> #")
    }

    // MARK: Helpers

    private func expectViolations(
        _ schema: JSONValue, _ instance: JSONValue, _ expected: [String],
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let compiled = try JSONSchema(schema)
        #expect(compiled.validate(instance).map(\.description) == expected, sourceLocation: sourceLocation)
        #expect(compiled.isValid(instance) == expected.isEmpty, sourceLocation: sourceLocation)
    }

    private func expectCompileError(
        _ schema: JSONValue, _ expected: String, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try JSONSchema(schema)
            Issue.record("expected a compile error: \(expected)", sourceLocation: sourceLocation)
        } catch let error as JSONSchemaError {
            #expect(error.description == expected, sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }
}
