/// Builds a small JSON value that satisfies a JSON Schema, so that structured-output requests
/// get a reply their validator accepts.
///
/// What it honours: `$ref` (`#/...` pointers into the root, `$defs`/`definitions`), `const`,
/// `enum` (first value), `allOf` (merged), `anyOf`/`oneOf` (first non-null branch), `type`
/// (first non-null of a list), object `properties` (all of them, required ones included even
/// without a property schema), `minProperties`, array `items`/`prefixItems`/`minItems`/
/// `maxItems`/`uniqueItems`, string `minLength`/`maxLength`/`format`, number `minimum`/
/// `maximum`/`exclusiveMinimum`/`exclusiveMaximum`/`multipleOf`. `pattern` is not honoured.
///
/// Strings are the property's name (`{"headline":"headline"}`), `"string"` at the top;
/// arrays have one element unless `minItems` asks for more; numbers are 0 moved into range;
/// booleans are `true`.
public struct SchemaInstanceGenerator: Sendable {
    let root: TestJSON
    /// Beyond this depth only required properties are built, so recursive schemas end.
    static let optionalPropertyDepth = 8
    static let maximumDepth = 32

    /// A value satisfying `schema` (see the type's documentation for what is honoured).
    public static func instance(of schema: TestJSON) -> TestJSON {
        SchemaInstanceGenerator(root: schema).instance(of: schema, name: "", depth: 0, variant: 0)
    }

    func instance(of schema: TestJSON, name: String, depth: Int, variant: Int) -> TestJSON {
        guard case .object(var members) = schema else {
            return .string(name.isEmpty ? "string" : name)  // `true` (anything) or a malformed schema
        }
        if let reference = members["$ref"]?.stringValue, depth < Self.maximumDepth,
            let target = resolve(reference)
        {
            members["$ref"] = nil
            let merged = Self.merge(target, .object(members))
            return instance(of: merged, name: name, depth: depth + 1, variant: variant)
        }
        if let constant = members["const"] { return constant }
        if let values = members["enum"]?.arrayValue, !values.isEmpty {
            return values[variant % values.count]
        }
        if let parts = members["allOf"]?.arrayValue, !parts.isEmpty {
            members["allOf"] = nil
            let merged = parts.reduce(TestJSON.object(members)) { Self.merge($0, resolveIfReference($1)) }
            return instance(of: merged, name: name, depth: depth + 1, variant: variant)
        }
        if let branches = (members["anyOf"] ?? members["oneOf"])?.arrayValue, !branches.isEmpty {
            let resolved = branches.map(resolveIfReference)
            let branch = resolved.first { Self.typeNames($0) != ["null"] } ?? resolved[0]
            members["anyOf"] = nil
            members["oneOf"] = nil
            return instance(of: Self.merge(.object(members), branch), name: name, depth: depth + 1, variant: variant)
        }

        switch Self.chosenType(members) {
        case "null":
            return .null
        case "boolean":
            return .bool(true)
        case "integer":
            return number(members, isInteger: true, variant: variant)
        case "number":
            return number(members, isInteger: false, variant: variant)
        case "object":
            return object(members, depth: depth)
        case "array":
            return array(members, name: name, depth: depth)
        default:
            return string(members, name: name, variant: variant)
        }
    }

    // MARK: - Types

    func object(_ schema: [String: TestJSON], depth: Int) -> TestJSON {
        let properties = schema["properties"]?.objectValue ?? [:]
        let required = (schema["required"]?.arrayValue ?? []).compactMap(\.stringValue)
        let extra = schema["additionalProperties"]
        let extraSchema: TestJSON = extra.flatMap { $0.objectValue != nil ? $0 : nil } ?? [:]
        var names = required
        if depth < Self.optionalPropertyDepth {
            names += properties.keys.sorted().filter { !required.contains($0) }
        }
        var result: [String: TestJSON] = [:]
        for name in names where result[name] == nil {
            result[name] = instance(of: properties[name] ?? extraSchema, name: name, depth: depth + 1, variant: 0)
        }
        if let minimum = schema["minProperties"]?.intValue, extra != .bool(false) {
            var index = 1
            while result.count < minimum {
                let name = "property\(index)"
                if result[name] == nil {
                    result[name] = instance(of: extraSchema, name: name, depth: depth + 1, variant: 0)
                }
                index += 1
            }
        }
        return .object(result)
    }

    func array(_ schema: [String: TestJSON], name: String, depth: Int) -> TestJSON {
        let prefixItems = schema["prefixItems"]?.arrayValue ?? schema["items"]?.arrayValue ?? []
        let items = schema["items"]?.objectValue.map(TestJSON.object)
        let minimum = schema["minItems"]?.intValue ?? 0
        let maximum = schema["maxItems"]?.intValue ?? Int.max
        var count = max(minimum, prefixItems.count, 1)
        if items == nil && prefixItems.isEmpty == false && schema["minItems"] == nil { count = prefixItems.count }
        count = min(count, maximum)
        if depth >= Self.maximumDepth { count = min(count, minimum) }
        var elements: [TestJSON] = []
        for index in 0..<count {
            let itemSchema = index < prefixItems.count ? prefixItems[index] : (items ?? [:])
            elements.append(instance(of: itemSchema, name: name, depth: depth + 1, variant: index))
        }
        return .array(elements)
    }

    func string(_ schema: [String: TestJSON], name: String, variant: Int) -> TestJSON {
        var text: String
        switch schema["format"]?.stringValue {
        case "date-time"?: text = "2024-01-01T00:00:00Z"
        case "date"?: text = "2024-01-01"
        case "time"?: text = "00:00:00Z"
        case "email"?: text = "user\(variant)@example.com"
        case "uri"?, "url"?, "iri"?: text = "https://example.com/\(variant)"
        case "uuid"?: text = "00000000-0000-4000-8000-" + String(String(variant).suffix(12)).leftPadded(to: 12)
        case "hostname"?: text = "example.com"
        case "ipv4"?: text = "127.0.0.\(variant % 256)"
        case "ipv6"?: text = "::1"
        default:
            text = name.isEmpty ? "string" : name
            if variant > 0 { text += "-\(variant)" }
        }
        if let minimum = schema["minLength"]?.intValue, text.count < minimum {
            text += String(repeating: "x", count: minimum - text.count)
        }
        if let maximum = schema["maxLength"]?.intValue, text.count > maximum {
            text = String(text.prefix(max(maximum, 0)))
        }
        return .string(text)
    }

    func number(_ schema: [String: TestJSON], isInteger: Bool, variant: Int) -> TestJSON {
        var lower = schema["minimum"]?.doubleValue
        var upper = schema["maximum"]?.doubleValue
        var lowerIsExclusive = false
        var upperIsExclusive = false
        switch schema["exclusiveMinimum"] {
        case .bool(true)?: lowerIsExclusive = true  // draft 4
        case let bound?:
            guard let bound = bound.doubleValue else { break }
            lower = max(lower ?? -.infinity, bound)
            lowerIsExclusive = true
        case nil: break
        }
        switch schema["exclusiveMaximum"] {
        case .bool(true)?: upperIsExclusive = true
        case let bound?:
            guard let bound = bound.doubleValue else { break }
            upper = min(upper ?? .infinity, bound)
            upperIsExclusive = true
        case nil: break
        }
        let step = schema["multipleOf"]?.doubleValue.flatMap { $0 > 0 ? $0 : nil } ?? (isInteger ? 1 : 0)
        var value = Double(variant)
        if let lower, value < lower || (lowerIsExclusive && value <= lower) {
            value = lower
            if step > 0 {
                value = (lower / step).rounded(.up) * step
                if lowerIsExclusive && value <= lower { value += step }
            } else if lowerIsExclusive {
                value = upper.map { (lower + $0) / 2 } ?? lower + 1
            }
        }
        if let upper, value > upper || (upperIsExclusive && value >= upper) {
            value = upper
            if step > 0 {
                value = (upper / step).rounded(.down) * step
                if upperIsExclusive && value >= upper { value -= step }
            } else if upperIsExclusive {
                value = lower.map { ($0 + upper) / 2 } ?? upper - 1
            }
        }
        if step > 0, step == step.rounded(), value != value.rounded() {
            value = value.rounded(.up)
        }
        if isInteger || (value == value.rounded() && abs(value) < 9.0e15) {
            return .int(Int(value.rounded()))
        }
        return .double(value)
    }

    // MARK: - Helpers

    static func typeNames(_ schema: TestJSON) -> [String] {
        switch schema["type"] {
        case .string(let name)?: return [name]
        case .array(let names)?: return names.compactMap(\.stringValue)
        default: return []
        }
    }

    static func chosenType(_ schema: [String: TestJSON]) -> String {
        let names = typeNames(.object(schema))
        if let name = names.first(where: { $0 != "null" }) { return name }
        if !names.isEmpty { return "null" }
        if schema["properties"] != nil || schema["required"] != nil || schema["additionalProperties"] != nil {
            return "object"
        }
        if schema["items"] != nil || schema["prefixItems"] != nil || schema["minItems"] != nil { return "array" }
        if schema["minimum"] != nil || schema["maximum"] != nil || schema["multipleOf"] != nil { return "number" }
        return "string"
    }

    func resolveIfReference(_ schema: TestJSON) -> TestJSON {
        guard let reference = schema["$ref"]?.stringValue, let target = resolve(reference) else { return schema }
        return target
    }

    /// Resolves `#`, `#/$defs/Name`, `#/definitions/Name` and other `#/…` pointers against the root.
    func resolve(_ reference: String) -> TestJSON? {
        guard reference.hasPrefix("#") else { return nil }
        var node = root
        for rawToken in reference.dropFirst().split(separator: "/") {
            let token = String(rawToken.replacing("~1", with: "/").replacing("~0", with: "~"))
            if let index = Int(token), case .array = node {
                guard let next = node[index] else { return nil }
                node = next
            } else {
                guard let next = node[token] else { return nil }
                node = next
            }
        }
        return node
    }

    /// Combines two object schemas: properties and `required` united, other keys from `a` first.
    static func merge(_ a: TestJSON, _ b: TestJSON) -> TestJSON {
        guard case .object(let left) = a else { return b }
        guard case .object(let right) = b else { return a }
        var result = right.merging(left) { leftValue, _ in leftValue }
        if let leftProperties = left["properties"]?.objectValue, let rightProperties = right["properties"]?.objectValue
        {
            result["properties"] = .object(rightProperties.merging(leftProperties) { l, _ in l })
        }
        let required = (left["required"]?.arrayValue ?? []) + (right["required"]?.arrayValue ?? [])
        if !required.isEmpty {
            var seen: Set<TestJSON> = []
            result["required"] = .array(required.filter { seen.insert($0).inserted })
        }
        return .object(result)
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
