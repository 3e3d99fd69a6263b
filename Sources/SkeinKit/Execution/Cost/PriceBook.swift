import Foundation
import Synchronization

/// What a run's tokens cost: a provider's `pricing:` in the pipeline first (by model, then
/// `"*"`), else the price its model list carries (Novita and OpenRouter list them).
///
/// The model lists are read only when asked (`loadListedPrices`, which `--max-cost` does
/// before the first request): a run without a budget sends no request beyond its own, and
/// its cost comes from `pricing:` alone.
public final class PriceBook: Sendable {
    /// Prices read from model lists: provider name → model id → price.
    private let listed = Mutex<[String: [String: ProviderConfiguration.Price]]>([:])

    public init() {}

    /// The price of `model` at `provider`, or nil when neither the pipeline nor a model list
    /// read so far gives one.
    public func price(provider: ProviderConfiguration, model: String?) -> ProviderConfiguration.Price? {
        if let price = provider.price(of: model) { return price }
        guard let model else { return nil }
        return listed.withLock { $0[provider.name]?[model] }
    }

    /// What a reply cost at `provider`'s price for its model, or nil when there is no price
    /// or the reply reported no usage.
    /// - Parameter estimatedPromptTokens: the prompt's count when the provider reported none
    ///   (a stream counted by its chunks); worked out only then.
    public func cost(
        of completion: Completion, provider: ProviderConfiguration, model: String?, estimatedPromptTokens: @autoclosure () -> Int = 0
    ) -> Double? {
        guard let usage = completion.usage, let price = price(provider: provider, model: model) else { return nil }
        let prompt = usage.isCountedFromStream ? estimatedPromptTokens() : usage.promptTokens
        return price.cost(promptTokens: prompt, completionTokens: usage.completionTokens, cachedTokens: usage.cachedTokens ?? 0)
    }

    /// A model a step uses, for `loadListedPrices`.
    public struct Use: Sendable, Hashable {
        public var provider: ProviderConfiguration
        public var model: String?
        public init(provider: ProviderConfiguration, model: String?) {
            self.provider = provider
            self.model = model
        }
    }

    /// Reads the model list of every provider some `uses` have no pipeline price for (once
    /// per provider), and keeps the prices it carries.
    /// - Returns: the uses still without a price, each with why (the list had none for the
    ///   model, or could not be read).
    public func loadListedPrices(for uses: [Use], client: any CompletionClient) async -> [(use: Use, reason: String)] {
        var missing = uses.filter { price(provider: $0.provider, model: $0.model) == nil }
        var seen = Set<String>()
        let providers = missing.map(\.provider).filter { seen.insert($0.name).inserted }
        var failures: [String: String] = [:]
        await withTaskGroup(of: (String, Result<[ModelInfo], any Error>).self) { group in
            for provider in providers {
                group.addTask {
                    do { return (provider.name, .success(try await client.listModels(provider: provider))) } catch {
                        return (provider.name, .failure(error))
                    }
                }
            }
            for await (name, result) in group {
                switch result {
                case .success(let models):
                    var prices: [String: ProviderConfiguration.Price] = [:]
                    for model in models { if let price = model.price { prices[model.id] = price } }
                    listed.withLock { $0[name, default: [:]].merge(prices) { _, new in new } }
                case .failure(let error):
                    failures[name] = "its model list could not be read (\(error))"
                }
            }
        }
        missing = missing.filter { price(provider: $0.provider, model: $0.model) == nil }
        return missing.map { use in
            (use, failures[use.provider.name] ?? (use.model == nil ? "no model is set"
                : "its model list carries no price for '\(use.model ?? "")'"))
        }
    }
}
