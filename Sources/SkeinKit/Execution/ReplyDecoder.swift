import Foundation

/// Turns a completion into a step's output: reasoning separated, JSON parsed and
/// validated against the output schema, tool-call arguments parsed.
struct ReplyDecoder: Sendable {
    let stepName: String
    let output: OutputSpec
    let schema: JSONSchema?
    let reasoning: ReasoningMode

    struct Decoded: Sendable {
        var output: JSONValue
        var reasoning: JSONValue
        var toolCalls: JSONValue
    }

    /// Why a reply could not be used: text for the error and for the repair prompt.
    struct Invalid: Error, Sendable {
        var reply: String
        var problems: [String]
    }

    /// Splits reasoning from the answer according to the step's `reasoning` mode.
    static func separateReasoning(content: String, reasoningContent: String?, mode: ReasoningMode) -> (String, String?) {
        var answer = content
        var reasoning = reasoningContent
        if mode != .keep {
            let trimmed = answer.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
            if trimmed.hasPrefix("<think>"), let end = trimmed.range(of: "</think>") {
                let thought = String(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 7)..<end.lowerBound])
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                reasoning = [reasoning, thought].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "\n")
                answer = String(trimmed[end.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        if mode == .drop { reasoning = nil }
        return (answer, reasoning)
    }

    func decode(_ completion: Completion) throws -> Decoded {
        let (answer, reasoningText) = Self.separateReasoning(
            content: completion.content, reasoningContent: completion.reasoningContent, mode: reasoning)
        var calls: [JSONValue] = []
        for call in completion.toolCalls {
            let arguments: JSONValue
            if call.arguments.trimmingCharacters(in: .whitespaces).isEmpty {
                arguments = .object([:])
            } else if let parsed = try? JSONValue(parsing: call.arguments) {
                arguments = parsed
            } else {
                throw ToolCallError(message:
                    "step '\(stepName)': the model called tool '\(call.name)' with arguments that are not valid JSON: \(Self.shorten(call.arguments))")
            }
            calls.append(["id": .string(call.id), "name": .string(call.name), "arguments": arguments])
        }
        let value: JSONValue
        switch output {
        case .text:
            value = .string(answer)
        case .json, .schema:
            if answer.isEmpty && !calls.isEmpty {
                value = .null
                break
            }
            guard let parsed = Self.extractJSON(answer) else {
                throw Invalid(reply: answer, problems: ["the reply is not valid JSON"])
            }
            if let schema {
                let violations = schema.validate(parsed)
                if !violations.isEmpty { throw Invalid(reply: answer, problems: violations.map(\.description)) }
            }
            value = parsed
        }
        return Decoded(
            output: value, reasoning: reasoningText.map { .string($0) } ?? .null, toolCalls: .array(calls))
    }

    struct ToolCallError: Error, Sendable, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Parses JSON from a reply, allowing a Markdown code fence around it, and raw control
    /// characters (a newline, a tab) inside strings, which small models write and Python's
    /// `json.loads(strict=False)` accepts too.
    static func extractJSON(_ text: String) -> JSONValue? {
        if let parsed = extractStrictJSON(text) { return parsed }
        let escaped = escapingControlCharactersInStrings(text)
        return escaped == text ? nil : extractStrictJSON(escaped)
    }

    /// `text` with raw control characters inside JSON strings written as escapes.
    static func escapingControlCharactersInStrings(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        var inString = false
        var escaped = false
        for scalar in text.unicodeScalars {
            if inString {
                if escaped {
                    escaped = false
                } else if scalar == "\\" {
                    escaped = true
                } else if scalar == "\"" {
                    inString = false
                } else if scalar.value < 0x20 {
                    switch scalar {
                    case "\n": out += "\\n"
                    case "\r": out += "\\r"
                    case "\t": out += "\\t"
                    default: out += String(format: "\\u%04x", scalar.value)
                    }
                    continue
                }
            } else if scalar == "\"" {
                inString = true
            }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    static func extractStrictJSON(_ text: String) -> JSONValue? {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if let parsed = try? JSONValue(parsing: body) { return parsed }
        if body.hasPrefix("```") {
            if let newline = body.firstIndex(of: "\n") { body = String(body[body.index(after: newline)...]) }
            if let fence = body.range(of: "```", options: .backwards) { body = String(body[..<fence.lowerBound]) }
            if let parsed = try? JSONValue(parsing: body) { return parsed }
        }
        // The outermost object or array in the text.
        if let start = body.firstIndex(where: { $0 == "{" || $0 == "[" }),
            let end = body.lastIndex(where: { $0 == "}" || $0 == "]" }), start < end
        {
            return try? JSONValue(parsing: String(body[start...end]))
        }
        return nil
    }

    static func shorten(_ text: String, limit: Int = 200) -> String {
        text.count > limit ? String(text.prefix(limit)) + "..." : text
    }
}
