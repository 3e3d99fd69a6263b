/// Validation: walks the instance and the compiled schema together, collecting violations
/// with the instance path where each was found.
extension JSONSchema {
    struct Validator {
        /// Nested schema evaluations beyond this are reported instead of risking the stack.
        /// Each costs about 0.5 KB of stack in a release build (2 KB in a debug one), so the
        /// limit stays well inside the 512 KB a secondary thread gets on macOS. A recursive
        /// schema uses one or two per level of the instance, so 256 to 512 levels validate.
        static let maximumNesting = JSONSchema.maximumDepth

        let graph: Graph
        /// For `isValid` and for the subschemas of `anyOf`, `oneOf`, `not`, `if` and `contains`,
        /// where only the verdict matters.
        let stopsAtFirstViolation: Bool
        private(set) var records: [Record] = []
        var path: [JSONPathComponent] = []
        var nesting = 0

        /// A violation, and for a `type` mismatch the types expected, so that `anyOf` of types
        /// (`[{"type": "string"}, {"type": "null"}]`) can say `expected string or null`.
        struct Record {
            var violation: JSONSchemaViolation
            var expectedTypes: [String]?
        }

        init(graph: Graph, stopsAtFirstViolation: Bool) {
            self.graph = graph
            self.stopsAtFirstViolation = stopsAtFirstViolation
        }

        var violations: [JSONSchemaViolation] { records.map(\.violation) }

        private var isDone: Bool { stopsAtFirstViolation && !records.isEmpty }

        // MARK: Schemas

        mutating func validate(_ instance: JSONValue, against reference: Reference) {
            switch reference {
            case .node(let index):
                validate(instance, node: index)
            case .all(let parts):
                for part in parts where !isDone { validate(instance, against: part) }
            case .any(let parts):
                if !parts.contains(where: { matches(instance, $0) }) {
                    reportNoMatch(instance, branches: parts, keyword: "anyOf", requirement: "at least one")
                }
            }
        }

        /// The recursive core. Keep its frame small: assertions that do not recurse live in
        /// `@inline(never)` helpers, so deep instances cost little stack per level.
        private mutating func validate(_ instance: JSONValue, node index: Int) {
            nesting += 1
            defer { nesting -= 1 }
            guard nesting <= Validator.maximumNesting else {
                report("nested too deeply to validate (more than \(Validator.maximumNesting) nested schemas)")
                return
            }
            let node = graph.nodes[index]
            if let boolean = node.boolean {
                if !boolean { report("no value is allowed here") }
                return
            }
            checkAssertions(instance, node)
            switch instance {
            case .array(let items) where !isDone: validateItems(items, node)
            case .object(let members) where !isDone: validateMembers(members, node)
            default: break
            }
            if let ref = node.ref, !isDone { validate(instance, node: ref) }
            for part in node.allOf where !isDone { validate(instance, node: part) }
            if node.hasBranches, !isDone { validateBranches(instance, node) }
        }

        // MARK: Assertions

        /// The keywords that look at the value itself and do not descend into it.
        @inline(never)
        private mutating func checkAssertions(_ instance: JSONValue, _ node: Node) {
            if let types = node.types, !types.contains(instance) {
                report(
                    "expected \(Validator.list(types.listed, conjunction: "or")), got \(Validator.kind(of: instance))",
                    expectedTypes: types.listed)
            }
            if let values = node.enumValues, !values.contains(where: { JSONSchema.isEqual($0, instance) }) {
                report("\(Validator.quote(instance)) is not one of \(Validator.abbreviate(.array(values), limit: 120))")
            }
            if let constant = node.constant, !JSONSchema.isEqual(constant, instance) {
                report("must be \(Validator.abbreviate(constant, limit: 120))")
            }
            switch instance {
            case .string(let string): checkString(string, node)
            case .int, .double: checkNumber(instance, node)
            case .array(let items): checkArray(items, node)
            case .object(let members): checkObject(members, node)
            case .null, .bool: break
            }
        }

        private mutating func checkString(_ string: String, _ node: Node) {
            if node.minLength != nil || node.maxLength != nil {
                // Code points, as Python's len() counts, not grapheme clusters.
                let length = string.unicodeScalars.count
                if let minimum = node.minLength, length < minimum {
                    report("must have at least \(Validator.count(minimum, "character"))")
                }
                if let maximum = node.maxLength, length > maximum {
                    report("must have at most \(Validator.count(maximum, "character"))")
                }
            }
            if let pattern = node.pattern, !pattern.matches(string) {
                report("must match pattern '\(pattern.source)'")
            }
            if let format = node.format, !format.isValid(string) {
                report("\(Validator.quote(.string(string))) is not a valid \(format.name)")
            }
        }

        private mutating func checkNumber(_ instance: JSONValue, _ node: Node) {
            guard let number = Number(instance) else { return }
            if let minimum = node.minimum, Number.compare(number, minimum) == .less {
                report("must be at least \(minimum)")
            }
            if let maximum = node.maximum, Number.compare(number, maximum) == .greater {
                report("must be at most \(maximum)")
            }
            if let minimum = node.exclusiveMinimum, Number.compare(number, minimum) != .greater {
                report("must be greater than \(minimum)")
            }
            if let maximum = node.exclusiveMaximum, Number.compare(number, maximum) != .less {
                report("must be less than \(maximum)")
            }
            if let divisor = node.multipleOf, !number.isMultiple(of: divisor) {
                report("must be a multiple of \(divisor)")
            }
        }

        private mutating func checkArray(_ items: [JSONValue], _ node: Node) {
            if let minimum = node.minItems, items.count < minimum {
                report("must have at least \(Validator.count(minimum, "item"))")
            }
            if let maximum = node.maxItems, items.count > maximum {
                report("must have at most \(Validator.count(maximum, "item"))")
            }
            if node.uniqueItems, let duplicate = Validator.firstDuplicate(in: items) {
                report("must have unique items; [\(duplicate.0)] and [\(duplicate.1)] are equal")
            }
            if let itemsNode = node.items, items.count > node.prefixItems.count, graph.nodes[itemsNode].boolean == false
            {
                let allowed = node.prefixItems.count
                report(allowed == 0 ? "must be empty" : "must have at most \(Validator.count(allowed, "item"))")
            }
        }

        private mutating func checkObject(_ members: JSONValue.JSONObject, _ node: Node) {
            for name in node.required where Validator.member(members, name) == nil {
                report("missing required property '\(name)'")
            }
            for (name, names) in node.dependentRequired where Validator.member(members, name) != nil {
                for missing in names where Validator.member(members, missing) == nil {
                    report("missing property '\(missing)', required when '\(name)' is present")
                }
            }
            if let minimum = node.minProperties, members.count < minimum {
                report("must have at least \(Validator.count(minimum, "property", plural: "properties"))")
            }
            if let maximum = node.maxProperties, members.count > maximum {
                report("must have at most \(Validator.count(maximum, "property", plural: "properties"))")
            }
            if let additional = node.additionalProperties, graph.nodes[additional].boolean == false {
                for key in members.keys where !isDeclared(key, in: node) {
                    let absent = node.properties.keys.map(\.string).filter { Validator.member(members, $0) == nil }
                    report("unexpected property '\(key)'\(Suggestion.didYouMean(key, in: absent))")
                }
            }
        }

        /// The first pair of equal items, by JSON Schema equality, bucketed by a hash.
        static func firstDuplicate(in items: [JSONValue]) -> (Int, Int)? {
            var buckets: [Int: [Int]] = [:]
            for (index, item) in items.enumerated() {
                let hash = JSONSchema.equalityHash(item)
                if let earlier = buckets[hash, default: []].first(where: { JSONSchema.isEqual(items[$0], item) }) {
                    return (earlier, index)
                }
                buckets[hash, default: []].append(index)
            }
            return nil
        }

        // MARK: Descending

        private mutating func validateItems(_ items: [JSONValue], _ node: Node) {
            for (index, item) in zip(node.prefixItems.indices, items) where !isDone {
                validate(item, node: node.prefixItems[index], at: .index(index))
            }
            if let itemsNode = node.items, graph.nodes[itemsNode].boolean != false {
                for index in items.indices.dropFirst(node.prefixItems.count) where !isDone {
                    validate(items[index], node: itemsNode, at: .index(index))
                }
            }
            if let contains = node.contains, !isDone { checkContains(items, contains, node) }
        }

        @inline(never)
        private mutating func checkContains(_ items: [JSONValue], _ contains: Int, _ node: Node) {
            let minimum = node.minContains ?? 1
            let maximum = node.maxContains
            var found = 0
            for item in items where matches(item, .node(contains)) {
                found += 1
                // Past both bounds nothing more can change the verdict.
                if found >= minimum && maximum.map({ found > $0 }) ?? true { break }
            }
            let schema = Validator.abbreviate(graph.nodes[contains].source, limit: 80)
            if found < minimum {
                report(
                    minimum == 1
                        ? "must contain an item matching \(schema)"
                        : "must contain at least \(minimum) items matching \(schema), found \(found)")
            }
            if let maximum, found > maximum {
                report("must contain at most \(Validator.count(maximum, "item")) matching \(schema)")
            }
        }

        private mutating func validateMembers(_ members: JSONValue.JSONObject, _ node: Node) {
            for (key, value) in members where !isDone {
                var isDeclared = false
                if let property = node.properties[ExactKey(key)] {
                    isDeclared = true
                    validate(value, node: property, at: .key(key))
                }
                for (pattern, schema) in node.patternProperties where !isDone && pattern.matches(key) {
                    isDeclared = true
                    validate(value, node: schema, at: .key(key))
                }
                // `additionalProperties: false` is reported by checkObject, with a suggestion.
                if !isDeclared, let additional = node.additionalProperties, graph.nodes[additional].boolean != false {
                    validate(value, node: additional, at: .key(key))
                }
            }
            if let propertyNames = node.propertyNames, !isDone { checkPropertyNames(members, propertyNames) }
            for (name, schema) in node.dependentSchemas where !isDone && Validator.member(members, name) != nil {
                validate(.object(members), node: schema)
            }
        }

        @inline(never)
        private mutating func checkPropertyNames(_ members: JSONValue.JSONObject, _ propertyNames: Int) {
            for key in members.keys where !isDone {
                var nameValidator = Validator(graph: graph, stopsAtFirstViolation: false)
                nameValidator.nesting = nesting
                nameValidator.validate(.string(key), node: propertyNames)
                if let first = nameValidator.records.first {
                    report(
                        graph.nodes[propertyNames].boolean == false
                            ? "unexpected property '\(key)'"
                            : "invalid property name '\(key)': \(first.violation.message)")
                }
            }
        }

        /// Whether `properties` or `patternProperties` covers the key.
        private func isDeclared(_ key: String, in node: Node) -> Bool {
            node.properties[ExactKey(key)] != nil || node.patternProperties.contains { $0.0.matches(key) }
        }

        private mutating func validate(_ value: JSONValue, node: Int, at component: JSONPathComponent) {
            path.append(component)
            validate(value, node: node)
            path.removeLast()
        }

        /// The member whose key has exactly these code points.
        static func member(_ members: JSONValue.JSONObject, _ name: String) -> JSONValue? {
            guard let index = members.index(forKey: name),
                members.keys[index].unicodeScalars.elementsEqual(name.unicodeScalars)
            else { return nil }
            return members.values[index]
        }

        // MARK: Combinators

        /// `anyOf`, `oneOf`, `not` and `if`: the keywords that try subschemas for a verdict.
        @inline(never)
        private mutating func validateBranches(_ instance: JSONValue, _ node: Node) {
            if !node.anyOf.isEmpty, !node.anyOf.contains(where: { matches(instance, .node($0)) }) {
                reportNoMatch(
                    instance, branches: node.anyOf.map { .node($0) }, keyword: "anyOf", requirement: "at least one")
            }
            if !node.oneOf.isEmpty, !isDone {
                var matching: [Int] = []
                for (index, branch) in node.oneOf.enumerated() where matches(instance, .node(branch)) {
                    matching.append(index)
                    if matching.count == 2 { break }
                }
                if matching.isEmpty {
                    reportNoMatch(
                        instance, branches: node.oneOf.map { .node($0) }, keyword: "oneOf", requirement: "exactly one")
                } else if matching.count > 1 {
                    report("must match exactly one schema in oneOf, but matches [\(matching[0])] and [\(matching[1])]")
                }
            }
            if let not = node.not, !isDone, matches(instance, .node(not)) {
                report("must not match \(Validator.abbreviate(graph.nodes[not].source, limit: 80))")
            }
            if let conditional = node.ifThenElse, !isDone {
                if matches(instance, .node(conditional.condition)) {
                    if let then = conditional.then { validate(instance, node: then) }
                } else if let otherwise = conditional.else {
                    validate(instance, node: otherwise)
                }
            }
        }

        /// Whether the instance matches, without collecting violations.
        private func matches(_ instance: JSONValue, _ reference: Reference) -> Bool {
            var validator = Validator(graph: graph, stopsAtFirstViolation: true)
            validator.nesting = nesting
            validator.validate(instance, against: reference)
            return validator.records.isEmpty
        }

        /// Reports that no branch matched, with the first problem of each: for a person to see
        /// which branch was meant. Branches that only disagree on `type` read as one type error.
        private mutating func reportNoMatch(
            _ instance: JSONValue, branches: [Reference], keyword: String, requirement: String
        ) {
            guard !stopsAtFirstViolation else {
                report("must match \(requirement) schema in \(keyword)")
                return
            }
            var details: [String] = []
            var expectedTypes: [String]? = []
            let here = JSONPathComponent.render(path)
            for (index, branch) in branches.enumerated() {
                var validator = Validator(graph: graph, stopsAtFirstViolation: false)
                validator.nesting = nesting
                validator.path = path
                validator.validate(instance, against: branch)
                guard let first = validator.records.first else { continue }
                if validator.records.count == 1, first.violation.instancePath == here, let types = first.expectedTypes,
                    let known = expectedTypes
                {
                    expectedTypes = known + types.filter { !known.contains($0) }
                } else {
                    expectedTypes = nil
                }
                let location = first.violation.instancePath == here ? "" : first.violation.instancePath + ": "
                details.append("[\(index)] \(location)\(first.violation.message)")
            }
            if let expectedTypes, !expectedTypes.isEmpty {
                report(
                    "expected \(Validator.list(expectedTypes, conjunction: "or")), got \(Validator.kind(of: instance))",
                    expectedTypes: expectedTypes)
            } else {
                report("must match \(requirement) schema in \(keyword): \(details.joined(separator: "; "))")
            }
        }

        // MARK: Reporting

        private mutating func report(_ message: String, expectedTypes: [String]? = nil) {
            let violation = JSONSchemaViolation(instancePath: JSONPathComponent.render(path), message: message)
            records.append(Record(violation: violation, expectedTypes: expectedTypes))
        }

        /// The JSON type as a person names it: integers are numbers too.
        static func kind(of value: JSONValue) -> String {
            switch value {
            case .null: return "null"
            case .bool: return "boolean"
            case .int, .double: return "number"
            case .string: return "string"
            case .array: return "array"
            case .object: return "object"
            }
        }

        /// `a`, `a or b`, `a, b or c`.
        static func list(_ items: [String], conjunction: String) -> String {
            guard let last = items.last else { return "" }
            guard items.count > 1 else { return last }
            return items.dropLast().joined(separator: ", ") + " \(conjunction) " + last
        }

        /// `1 item`, `3 items`.
        static func count(_ count: Int, _ singular: String, plural: String? = nil) -> String {
            "\(count) \(count == 1 ? singular : plural ?? singular + "s")"
        }

        /// A value as messages show it: strings in single quotes, others as compact JSON, long ones cut.
        static func quote(_ value: JSONValue) -> String {
            if case .string(let string) = value { return "'\(cut(string, limit: 60))'" }
            return abbreviate(value, limit: 60)
        }

        static func abbreviate(_ value: JSONValue, limit: Int) -> String {
            cut(value.serialized(), limit: limit)
        }

        private static func cut(_ text: String, limit: Int) -> String {
            guard text.unicodeScalars.count > limit else { return text }
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: text.unicodeScalars.prefix(limit))
            return String(scalars) + "…"
        }
    }
}
