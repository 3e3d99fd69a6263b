import Testing

@testable import SkeinTesting

@Suite struct TestServerSchemaInstanceTests {
    private func instance(_ schemaText: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> TestJSON {
        SchemaInstanceGenerator.instance(of: try TestJSON(parsing: schemaText))
    }

    @Test func scalarsAndFormats() throws {
        #expect(try instance(#"{"type":"string"}"#) == "string")
        #expect(try instance(#"{"type":"string","minLength":10}"#) == "stringxxxx")
        #expect(try instance(#"{"type":"string","format":"date-time"}"#) == "2024-01-01T00:00:00Z")
        #expect(try instance(#"{"type":"string","format":"email"}"#) == "user0@example.com")
        #expect(try instance(#"{"type":"integer"}"#) == 0)
        #expect(try instance(#"{"type":"integer","minimum":5}"#) == 5)
        #expect(try instance(#"{"type":"integer","exclusiveMinimum":5}"#) == 6)
        #expect(try instance(#"{"type":"integer","maximum":-3}"#) == -3)
        #expect(try instance(#"{"type":"integer","minimum":7,"multipleOf":5}"#) == 10)
        #expect(try instance(#"{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1}"#) == 0.5)
        #expect(try instance(#"{"type":"boolean"}"#) == true)
        #expect(try instance(#"{"type":"null"}"#) == .null)
        #expect(try instance(#"{"type":["null","integer"]}"#) == 0)
        #expect(try instance(#"{"const":"fixed"}"#) == "fixed")
        #expect(try instance(#"{"enum":[3,4]}"#) == 3)
    }

    @Test func objectsHaveEveryPropertyAndRequiredOnesWithoutSchemas() throws {
        let value = try instance(
            #"""
            {"type":"object","required":["id","extra"],
             "properties":{"id":{"type":"integer"},"name":{"type":"string"},
                           "nested":{"type":"object","properties":{"flag":{"type":"boolean"}}}}}
            """#
        )
        #expect(value == ["id": 0, "extra": "extra", "name": "name", "nested": ["flag": true]])
    }

    @Test func arraysRespectItemCountsAndUniqueness() throws {
        #expect(try instance(#"{"type":"array","items":{"type":"string"}}"#) == ["string"])
        #expect(
            try instance(#"{"type":"array","items":{"type":"integer"},"minItems":3,"uniqueItems":true}"#) == [0, 1, 2])
        #expect(try instance(#"{"type":"array","items":{"enum":["a","b"]},"minItems":2}"#) == ["a", "b"])
        #expect(try instance(#"{"type":"array","maxItems":0}"#) == [])
        #expect(try instance(#"{"type":"array","prefixItems":[{"type":"integer"},{"type":"boolean"}]}"#) == [0, true])
    }

    @Test func referencesCompositionAndRecursion() throws {
        let value = try instance(
            #"""
            {"$defs":{"node":{"type":"object","required":["value"],
                              "properties":{"value":{"type":"string"},"child":{"$ref":"#/$defs/node"}}}},
             "allOf":[{"$ref":"#/$defs/node"},{"properties":{"score":{"anyOf":[{"type":"null"},{"type":"number"}]}}}]}
            """#
        )
        // Optional properties stop at a fixed depth, so a recursive schema still ends.
        var depth = 0
        var node: TestJSON? = value
        while let next = node?["child"] {
            #expect(next["value"] == "value")
            depth += 1
            node = next
        }
        #expect((1...10).contains(depth))
        #expect(value["value"] == "value")
        #expect(value["score"] == 0)
    }
}

@Suite struct TestServerJSONTests {
    @Test func parsesAndSerializesRoundTrip() throws {
        let text = #"{"a":[1,2.5,-3e2,true,false,null],"b":"q\"uote\\ \n \u00e9 \ud83d\ude00","c":{}}"#
        let value = try TestJSON(parsing: text)
        #expect(value["a"] == [1, 2.5, -300.0, true, false, nil])
        #expect(value["b"] == "q\"uote\\ \n é 😀")
        #expect(value.serialized == #"{"a":[1,2.5,-300.0,true,false,null],"b":"q\"uote\\ \n é 😀","c":{}}"#)
        #expect(try TestJSON(parsing: value.serialized) == value)
    }

    @Test func rejectsMalformedText() {
        for text in ["", "{", "[1,]", #"{"a" 1}"#, "tru", "01x", #""\x""#, "[1] 2"] {
            #expect(throws: TestJSON.ParseError.self) { try TestJSON(parsing: text) }
        }
    }
}
