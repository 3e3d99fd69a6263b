import Testing
@testable import SkeinCore
@testable import SkeinKit

@Suite struct JSONValueTests {
    @Test func roundTripKeepsKeyOrderAndNumberKinds() throws {
        let text = #"{"b":1,"a":[1.5,true,null,"x\n\u00e9"],"c":{"z":-0.25,"y":10}}"#
        let value = try JSONValue(parsing: text)
        #expect(value.serialized() == #"{"b":1,"a":[1.5,true,null,"x\né"],"c":{"z":-0.25,"y":10}}"#)
        #expect(value.serialized(.canonical) == #"{"a":[1.5,true,null,"x\né"],"b":1,"c":{"y":10,"z":-0.25}}"#)
    }

    @Test func pythonStyleFloats() {
        #expect(JSONValue.formatDouble(1.0) == "1.0")
        #expect(JSONValue.formatDouble(0.1) == "0.1")
        #expect(JSONValue.formatDouble(1e16) == "1e+16")
        #expect(JSONValue.formatDouble(1.5e-5) == "1.5e-05")
        #expect(JSONValue.formatDouble(123456.789) == "123456.789")
    }

    @Test func rejectsBadJSON() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: "{\"a\":}") }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: "[1,2") }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: String(repeating: "[", count: 1000)) }
    }
}
