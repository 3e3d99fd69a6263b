import Foundation
import OrderedCollections

/// One assertion's verdict on one output.
public struct Verdict: Sendable, Hashable {
    /// What was checked: an output's name, `steps.NAME`, or `steps.NAME[i]` for an item.
    public var target: String
    /// The assertion as a person reads it (`contains 'carbon'`).
    public var assertion: String
    public var key: String
    public var passed: Bool
    /// Why it failed, or the judge's reason; empty for a plain pass.
    public var message: String
    /// The judge's score (0–1).
    public var score: Double?
    /// Where the assertion is written.
    public var location: SourceLocation?

    public init(target: String, assertion: String, key: String, passed: Bool, message: String = "", score: Double? = nil,
                location: SourceLocation? = nil) {
        self.target = target
        self.assertion = assertion
        self.key = key
        self.passed = passed
        self.message = message
        self.score = score
        self.location = location
    }

    public var jsonValue: JSONValue {
        var object: JSONValue.JSONObject = [
            "target": .string(target), "assertion": .string(assertion), "key": .string(key), "passed": .bool(passed),
            "message": .string(message),
        ]
        object["score"] = score.map { .double($0) } ?? .null
        if let location { object["location"] = .string(location.description) }
        return .object(object)
    }
}

/// What an assertion looks at: the value, and around it what the run knows (the finish
/// reasons, the time and the cost of the steps behind it).
public struct AssertionSubject: Sendable {
    public var value: JSONValue
    public var inputs: JSONValue.JSONObject
    /// The finish reasons of the replies behind the value.
    public var finishReasons: [String]
    public var latency: Duration
    /// USD; nil when a model behind the value has no price.
    public var cost: Double?

    public init(value: JSONValue, inputs: JSONValue.JSONObject = [:], finishReasons: [String] = [], latency: Duration = .zero,
                cost: Double? = nil) {
        self.value = value
        self.inputs = inputs
        self.finishReasons = finishReasons
        self.latency = latency
        self.cost = cost
    }

    /// The value as text: text as it is, anything else as compact JSON.
    public var text: String { value.stringValue ?? value.serialized() }
}

/// Checks the assertions that need no model (every kind but `judge`).
public enum AssertionEvaluator {
    public static func evaluate(_ assertion: Assertion, target: String, subject: AssertionSubject) -> Verdict {
        var verdict = Verdict(
            target: target, assertion: assertion.summary, key: assertion.key, passed: true, location: assertion.location)
        func fail(_ message: String) -> Verdict {
            verdict.passed = false
            verdict.message = message
            return verdict
        }
        let text = subject.text
        switch assertion.kind {
        case .equals(let expected):
            if subject.value == expected { return verdict }
            // Text that holds JSON equals the JSON it holds.
            if let string = subject.value.stringValue, expected.stringValue == nil, let parsed = try? JSONValue(parsing: string),
                parsed == expected
            {
                return verdict
            }
            return fail("got " + quoted(text))
        case .contains(let needles):
            let missing = needles.filter { !text.contains($0) }
            return missing.isEmpty ? verdict : fail("no " + missing.map { "'\($0)'" }.joined(separator: ", ") + " in " + quoted(text))
        case .containsAny(let needles):
            return needles.contains(where: { text.contains($0) }) ? verdict
                : fail("none of " + needles.map { "'\($0)'" }.joined(separator: ", ") + " in " + quoted(text))
        case .notContains(let needles):
            let found = needles.filter { text.contains($0) }
            return found.isEmpty ? verdict : fail(found.map { "'\($0)'" }.joined(separator: ", ") + " found in " + quoted(text))
        case .regex(let pattern):
            guard let expression = try? NSRegularExpression(pattern: pattern) else { return fail("the pattern does not compile") }
            let range = NSRange(text.startIndex..., in: text)
            return expression.firstMatch(in: text, range: range) != nil ? verdict : fail("no match in " + quoted(text))
        case .minLength(let count):
            return text.count >= count ? verdict : fail("\(text.count) characters, fewer than \(count)")
        case .maxLength(let count):
            return text.count <= count ? verdict : fail("\(text.count) characters, more than \(count)")
        case .jsonSchema(let schemaValue):
            guard let schema = try? JSONSchema(schemaValue) else { return fail("the schema does not compile") }
            var value = subject.value
            if let string = value.stringValue {
                guard let parsed = ReplyDecoder.extractJSON(string) else { return fail("not JSON: " + quoted(text)) }
                value = parsed
            }
            let violations = schema.validate(value)
            return violations.isEmpty ? verdict : fail(violations.map(\.description).joined(separator: "; "))
        case .expr(let source):
            do {
                let template = try Template(source.text, map: source.map)
                let result = try template.evaluate(TemplateContext(["output": subject.value, "inputs": .object(subject.inputs)]))
                return Template.isTruthy(result) ? verdict : fail("false for " + quoted(text))
            } catch {
                return fail("cannot evaluate: \(error)")
            }
        case .finishReason(let reasons):
            let other = subject.finishReasons.filter { !reasons.contains($0) }
            if subject.finishReasons.isEmpty { return fail("no finish reason (the step did not finish)") }
            return other.isEmpty ? verdict : fail("finish_reason " + other.map { "'\($0)'" }.joined(separator: ", "))
        case .maxLatency(let limit):
            return subject.latency <= limit ? verdict
                : fail(String(format: "took %.2fs, more than %@", subject.latency.inSeconds, Assertion.seconds(limit)))
        case .maxCost(let limit):
            guard let cost = subject.cost else {
                return fail("the cost is unknown: give the provider a 'pricing:' for this model")
            }
            return cost <= limit ? verdict : fail(String(format: "cost $%.6f, more than $%@", cost, "\(limit)"))
        case .judge:
            return fail("judge assertions need a model (skein test runs them)")
        }
    }

    static func quoted(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: "⏎")
        return "'" + (flat.count > 80 ? String(flat.prefix(79)) + "…" : flat) + "'"
    }
}
