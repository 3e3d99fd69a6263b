extension Completion {
    /// Decodes a complete (not streamed) Chat Completions or Completions response straight
    /// from its UTF-8 bytes, or returns nil to leave the body to `decode(_:attempts:)`.
    ///
    /// Written by hand, beside the general path, because that path builds a `JSONValue` tree
    /// of the whole reply (an ordered dictionary per object, a string per id and
    /// fingerprint) only to read a handful of fields out of it, once per request: the
    /// completion client's profile showed it as the largest share of Skein's own work per
    /// reply. This one builds only the fields `Completion` keeps and checks the rest of the
    /// document without keeping it, with the general parser's rules (`JSONParser`), so a
    /// body is accepted here only if the general path accepts it too.
    ///
    /// It must give exactly what `decode(JSONValue(parsing:), attempts:)` gives. Anything it
    /// does not handle the common way returns nil and takes the general path, which then
    /// also decides the errors: a body that is not JSON or not an object, a key with an escape
    /// or a non-ASCII byte, `choices` that is not a list of objects or is empty, a `message`
    /// that is not an object.
    /// - Parameter bytes: the reply body.
    /// - Returns: the completion (one attempt), or nil to use the general path.
    static func decodeDirectly(_ bytes: UnsafeBufferPointer<UInt8>) -> Completion? {
        var parser = JSONParser(bytes: bytes, maximumDepth: 512)
        return try? parser.parseCompletion()
    }
}

extension JSONParser {
    /// The keys the direct decoder reads; `other` is skipped.
    private enum Key {
        case choices, model, usage
        case index, message, text, finishReason
        case content, reasoningContent, reasoning, toolCalls
        case promptTokens, completionTokens, totalTokens, inputTokens, outputTokens
        case promptTokensDetails, inputTokensDetails, cachedTokens
        case other
    }

    private struct Unusual: Error {}

    mutating func parseCompletion() throws -> Completion? {
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { index = 3 }
        var choices: [Completion.ChoiceFields]?
        var model: JSONValue?
        var usage: Completion.Usage?
        skipWhitespace()
        try members { parser, key in
            switch key {
            case .choices: choices = try parser.parseChoices()
            case .model: model = try parser.parseValue()
            case .usage: usage = try parser.parseUsage()
            default: try parser.skipValue()
            }
        }
        skipWhitespace()
        guard index == bytes.count, let choices, !choices.isEmpty else { return nil }
        // As `decode`: the choice with index 0, else the first.
        let chosen = choices.first(where: { $0.index?.intValue == 0 }) ?? choices[0]
        return Completion(choice: chosen, model: model, usage: usage, attempts: 1)
    }

    private mutating func parseChoices() throws -> [Completion.ChoiceFields] {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { throw Unusual() }
        var choices: [Completion.ChoiceFields] = []
        try forEachElement { parser in choices.append(try parser.parseChoice()) }
        return choices
    }

    private mutating func parseChoice() throws -> Completion.ChoiceFields {
        var choice = Completion.ChoiceFields()
        try members { parser, key in
            switch key {
            case .index: choice.index = try parser.parseValue()
            case .text: choice.text = try parser.parseValue()
            case .finishReason: choice.finishReason = try parser.parseValue()
            case .message:
                // A later `message` replaces an earlier one whole, as in the parsed object.
                choice.hasMessage = true
                choice.content = nil
                choice.reasoningContent = nil
                choice.reasoning = nil
                choice.toolCalls = nil
                try parser.members { parser, key in
                    switch key {
                    case .content: choice.content = try parser.parseValue()
                    case .reasoningContent: choice.reasoningContent = try parser.parseValue()
                    case .reasoning: choice.reasoning = try parser.parseValue()
                    case .toolCalls: choice.toolCalls = try parser.parseValue()
                    default: try parser.skipValue()
                    }
                }
            default: try parser.skipValue()
            }
        }
        return choice
    }

    /// `usage`: nil unless it is an object, as `Usage(decoding:)`.
    private mutating func parseUsage() throws -> Completion.Usage? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            try skipValue()
            return nil
        }
        var fields = Completion.Usage.Fields()
        try members { parser, key in
            switch key {
            case .promptTokens: fields.promptTokens = try parser.parseValue()
            case .completionTokens: fields.completionTokens = try parser.parseValue()
            case .totalTokens: fields.totalTokens = try parser.parseValue()
            case .inputTokens: fields.inputTokens = try parser.parseValue()
            case .outputTokens: fields.outputTokens = try parser.parseValue()
            case .promptTokensDetails: fields.promptCachedTokens = try parser.parseCachedTokens()
            case .inputTokensDetails: fields.inputCachedTokens = try parser.parseCachedTokens()
            default: try parser.skipValue()
            }
        }
        return Completion.Usage(fields: fields)
    }

    /// `cached_tokens` of a details object; nil when the value is not an object or lacks it.
    private mutating func parseCachedTokens() throws -> JSONValue? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else {
            try skipValue()
            return nil
        }
        var cached: JSONValue?
        try members { parser, key in
            if key == .cachedTokens { cached = try parser.parseValue() } else { try parser.skipValue() }
        }
        return cached
    }

    /// Reads an object, calling `member` with the parser at each value; the value must be
    /// consumed. Throws `Unusual` when the value here is not an object or a key is escaped.
    private mutating func members(_ member: (inout JSONParser, Key) throws -> Void) throws {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw Unusual() }
        try forEachMember(key: { try $0.parseKnownKey() }, value: member)
    }

    /// An object key, matched against the keys the decoder reads without making a `String`.
    private mutating func parseKnownKey() throws -> Key {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
        let start = index + 1
        var end = start
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") { break }
            // An escaped key could spell a known one another way, and so could a non-ASCII one
            // (`String` compares canonical equivalents equal: U+212A KELVIN SIGN is "K");
            // control characters are errors the general path reports.
            if byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { throw Unusual() }
            end += 1
        }
        guard end < bytes.count else { throw fail("unterminated string") }
        index = end + 1
        let key = UnsafeBufferPointer(rebasing: bytes[start..<end])
        for (name, known) in Self.keys where name.utf8CodeUnitCount == key.count {
            if key.elementsEqual(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)) {
                return known
            }
        }
        return .other
    }

    private static let keys: [(StaticString, Key)] = [
        ("choices", .choices), ("model", .model), ("usage", .usage),
        ("index", .index), ("message", .message), ("text", .text), ("finish_reason", .finishReason),
        ("content", .content), ("reasoning_content", .reasoningContent), ("reasoning", .reasoning),
        ("tool_calls", .toolCalls),
        ("prompt_tokens", .promptTokens), ("completion_tokens", .completionTokens), ("total_tokens", .totalTokens),
        ("input_tokens", .inputTokens), ("output_tokens", .outputTokens),
        ("prompt_tokens_details", .promptTokensDetails), ("input_tokens_details", .inputTokensDetails),
        ("cached_tokens", .cachedTokens),
    ]
}
