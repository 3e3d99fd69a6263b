/// The stored forms of a completion and its usage, written straight to bytes.
///
/// Every fresh reply is stored, so this is on the engine's hot path: building the
/// `storedValue` tree first (ordered dictionaries, one per object) and serializing it cost
/// about 5 µs per request in the engine-overhead benchmark, a tenth of the store's share.
/// The bytes are the same as `storedValue.serialized()` and `jsonValue.serialized()`
/// (`StoredJSONTests` compares them), which stay the definitions of the format.
extension Completion {
    /// `storedValue.serialized()`, without building the tree.
    public var storedJSON: String {
        var out: [UInt8] = []
        out.reserveCapacity(160 + content.utf8.count + (reasoningContent?.utf8.count ?? 0))
        StoredJSON.literal(#"{"object":"chat.completion","model":"#, &out)
        StoredJSON.stringOrNull(model, &out)
        StoredJSON.literal(#","choices":[{"index":0,"message":{"role":"assistant","content":"#, &out)
        JSONValue.writeString(content, to: &out)
        if let reasoningContent {
            StoredJSON.literal(#","reasoning_content":"#, &out)
            JSONValue.writeString(reasoningContent, to: &out)
        }
        if !toolCalls.isEmpty {
            StoredJSON.literal(#","tool_calls":["#, &out)
            for (index, call) in toolCalls.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                StoredJSON.literal(#"{"id":"#, &out)
                JSONValue.writeString(call.id, to: &out)
                StoredJSON.literal(#","type":"function","function":{"name":"#, &out)
                JSONValue.writeString(call.name, to: &out)
                StoredJSON.literal(#","arguments":"#, &out)
                JSONValue.writeString(call.arguments, to: &out)
                StoredJSON.literal("}}", &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        StoredJSON.literal(#"},"finish_reason":"#, &out)
        StoredJSON.stringOrNull(finishReason, &out)
        StoredJSON.literal("}]", &out)
        if let usage {
            StoredJSON.literal(#","usage":"#, &out)
            usage.write(to: &out, cachedTokensKey: nil)
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

extension Completion.Usage {
    /// `jsonValue.serialized()`: the usage column of the run history.
    public var historyJSON: String {
        var out: [UInt8] = []
        out.reserveCapacity(96)
        write(to: &out, cachedTokensKey: "cached_tokens")
        return String(decoding: out, as: UTF8.self)
    }

    /// The counts as a JSON object. The cached tokens go under `cachedTokensKey` in the
    /// history's form, and under `prompt_tokens_details.cached_tokens` (the provider's form)
    /// when it is nil.
    func write(to out: inout [UInt8], cachedTokensKey: StaticString?) {
        StoredJSON.literal(#"{"prompt_tokens":"#, &out)
        if isCountedFromStream { StoredJSON.literal("null", &out) } else { TemplateOperators.appendDecimal(promptTokens, to: &out) }
        StoredJSON.literal(#","completion_tokens":"#, &out)
        TemplateOperators.appendDecimal(completionTokens, to: &out)
        StoredJSON.literal(#","total_tokens":"#, &out)
        if isCountedFromStream { StoredJSON.literal("null", &out) } else { TemplateOperators.appendDecimal(totalTokens, to: &out) }
        if let cachedTokens {
            if let cachedTokensKey {
                StoredJSON.literal(",\"", &out)
                StoredJSON.literal(cachedTokensKey, &out)
                StoredJSON.literal("\":", &out)
                TemplateOperators.appendDecimal(cachedTokens, to: &out)
            } else {
                StoredJSON.literal(#","prompt_tokens_details":{"cached_tokens":"#, &out)
                TemplateOperators.appendDecimal(cachedTokens, to: &out)
                out.append(UInt8(ascii: "}"))
            }
        }
        if isCountedFromStream { StoredJSON.literal(#","counted_from_stream":true"#, &out) }
        out.append(UInt8(ascii: "}"))
    }
}

enum StoredJSON {
    static func literal(_ text: StaticString, _ out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    static func stringOrNull(_ text: String?, _ out: inout [UInt8]) {
        if let text { JSONValue.writeString(text, to: &out) } else { literal("null", &out) }
    }
}
