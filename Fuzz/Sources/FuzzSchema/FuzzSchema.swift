// libFuzzer entry point: the JSON parser and serializer and the JSON Schema validator.
//
// Input: `SCHEMA \0 INSTANCE`, both JSON text; without a NUL the whole input is the schema
// and a few fixed instances (and the schema itself) are validated against it. Besides not
// crashing, every parsed document must survive a serialize-and-parse round trip.
import Foundation
import FuzzDriver
import SkeinKit

let fixedInstances: [JSONValue] = [
    nil, true, 0, -1, 2.5, "", "hello", "2020-01-01T00:00:00Z", [], [1, "a", nil], [:],
    ["name": "x", "tags": ["a", "b"], "n": 3],
]

/// True when no number in the value is infinite or NaN. `1e400` parses as infinity, which
/// the serializer writes as Python does (`Infinity`), and that is not JSON: such values
/// are left out of the round-trip check (see RELIABILITY.md).
func isFinite(_ value: JSONValue) -> Bool {
    switch value {
    case .double(let d): return d.isFinite
    case .array(let items): return items.allSatisfy(isFinite)
    case .object(let object): return object.values.allSatisfy(isFinite)
    default: return true
    }
}

func roundTrip(_ value: JSONValue) {
    guard isFinite(value) else { return }
    for style in [JSONValue.SerializationStyle.compact, .canonical, .pretty, .init(asciiOnly: true)] {
        let text = value.serialized(style)
        let parsed: JSONValue
        do {
            parsed = try JSONValue(parsing: text)
        } catch {
            fatalError("serialized JSON does not parse: \(error)\n\(text)")
        }
        let same = style.sortKeys ? parsed.serialized(.canonical) == value.serialized(.canonical) : parsed == value
        if !same {
            fatalError("JSON round trip changed the value:\n\(value)\n\(parsed)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSchema(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let schemaBytes: Slice<UnsafeBufferPointer<UInt8>>
    var instances: [JSONValue] = []
    if let separator = bytes.firstIndex(of: 0) {
        schemaBytes = bytes[..<separator]
        guard let instance = try? JSONValue(parsing: bytes[(separator + 1)...]) else { return 0 }
        roundTrip(instance)
        instances = [instance]
    } else {
        schemaBytes = bytes[...]
    }
    guard let source = try? JSONValue(parsing: schemaBytes) else { return 0 }
    roundTrip(source)
    if instances.isEmpty { instances = fixedInstances + [source] }
    guard let schema = try? JSONSchema(source) else { return 0 }
    for instance in instances {
        let violations = schema.validate(instance)
        if violations.isEmpty != schema.isValid(instance) {
            fatalError("validate and isValid disagree on \(instance)")
        }
        for violation in violations { _ = "\(violation)" }
    }
    _ = schema.propertyNames
    _ = schema.declaredTypes
    _ = schema.itemsSchema
    return 0
}

@main enum Main {
    static func main() {
        exit(skein_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzSchema))
    }
}
