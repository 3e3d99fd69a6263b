extension CompletionRequest {
    /// Output tokens `--max-cost` reserves for a request that sets no `max_tokens`: many
    /// providers cap a reply at 4,096 tokens by default, but not all do, so a step whose
    /// replies may run longer should set `max_tokens` (the reservation is then exact).
    public static let reservedOutputTokensWithoutLimit = 4_096

    /// The most prompt tokens the request can be billed for: one per byte of its text (no
    /// tokenizer makes a token of less than a byte; the JSON's framing covers the chat
    /// template's few tokens per message) and 2,000 per image given by URL.
    public var promptTokenBound: Int {
        Self.byteBound(of: .object(body))
    }

    /// The most completion tokens: `max_tokens` (or `max_completion_tokens`), else
    /// `reservedOutputTokensWithoutLimit`.
    public var outputTokenBound: Int {
        let limit = (body["max_tokens"] ?? body["max_completion_tokens"])?.intValue
        return max(0, limit ?? Self.reservedOutputTokensWithoutLimit)
    }

    /// The most the request can cost at `price`, in USD: what `--max-cost` reserves.
    public func costBound(at price: ProviderConfiguration.Price) -> Double {
        price.cost(promptTokens: promptTokenBound, completionTokens: outputTokenBound)
    }

    private static func byteBound(of value: JSONValue) -> Int {
        switch value {
        case .string(let text): return text.utf8.count + 2
        case .array(let items): return items.reduce(2) { $0 + byteBound(of: $1) + 1 }
        case .object(let object):
            var total = 2
            for (key, item) in object { total += key.utf8.count + 4 + byteBound(of: item) }
            if object["image_url"] != nil || object["type"] == "image" { total += 2_000 }
            return total
        default: return 8
        }
    }
}
