import Foundation

/// A model a provider serves, from `GET /models`.
public struct ModelInfo: Sendable, Hashable {
    public var id: String
    /// `owned_by`, when given.
    public var ownedBy: String?
    /// `created`, seconds since 1970, when given.
    public var created: Int?
    /// What its tokens cost, when the list says (Novita, OpenRouter); in USD per million tokens.
    public var price: ProviderConfiguration.Price?

    public init(id: String, ownedBy: String? = nil, created: Int? = nil, price: ProviderConfiguration.Price? = nil) {
        self.id = id
        self.ownedBy = ownedBy
        self.created = created
        self.price = price
    }

    /// Decodes `{"data": [{"id", "owned_by", "created"}, ...]}`; some servers send the bare list.
    static func decodeList(_ response: JSONValue) -> [ModelInfo]? {
        guard let items = response["data"]?.arrayValue ?? response["models"]?.arrayValue ?? response.arrayValue else {
            return nil
        }
        return items.compactMap { item in
            guard let id = item["id"]?.stringValue ?? item["name"]?.stringValue else { return nil }
            return ModelInfo(id: id, ownedBy: item["owned_by"]?.stringValue, created: item["created"]?.intValue, price: price(of: item))
        }
    }

    /// Novita's units: `input_token_price_per_m` and `output_token_price_per_m` count
    /// 0.0001 USD per million tokens (its list gives 3900 for a model sold at $0.39 per
    /// million, the unit its balance API documents).
    static let novitaUnitsPerUSD = 10_000.0

    /// The price a model list entry carries, in USD per million tokens, or nil:
    /// - Novita: `input_token_price_per_m`, `output_token_price_per_m` in 0.0001 USD per million;
    /// - OpenRouter: `pricing: {prompt, completion, input_cache_read}`, USD per token (as
    ///   strings), where "-1" marks a price that varies (a router): no price then.
    static func price(of item: JSONValue) -> ProviderConfiguration.Price? {
        if let input = number(item["input_token_price_per_m"]), let output = number(item["output_token_price_per_m"]) {
            guard input >= 0, output >= 0 else { return nil }
            return ProviderConfiguration.Price(
                inputPerMillion: input / novitaUnitsPerUSD, outputPerMillion: output / novitaUnitsPerUSD)
        }
        if let pricing = item["pricing"], let prompt = number(pricing["prompt"]), let completion = number(pricing["completion"]) {
            guard prompt >= 0, completion >= 0 else { return nil }
            let cached = number(pricing["input_cache_read"]).flatMap { $0 >= 0 ? $0 * 1_000_000 : nil }
            return ProviderConfiguration.Price(
                inputPerMillion: prompt * 1_000_000, outputPerMillion: completion * 1_000_000, cachedInputPerMillion: cached)
        }
        return nil
    }

    /// A number, or a string holding one (OpenRouter sends its prices as strings).
    private static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .int(let number): return Double(number)
        case .double(let number): return number.isFinite ? number : nil
        case .string(let text): return Double(text.trimmingCharacters(in: .whitespaces)).flatMap { $0.isFinite ? $0 : nil }
        default: return nil
        }
    }
}
