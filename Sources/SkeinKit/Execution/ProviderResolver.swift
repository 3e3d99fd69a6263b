import Foundation

/// Decides which provider and model each step uses.
///
/// Provider: `--provider` if given (it overrides the file for every step), else the step's
/// `provider`, else `defaults.provider`, else `SKEIN_PROVIDER`, else `novita` when
/// `NOVITA_API_KEY` is set, else `local` — so a new user with no key runs on the local model.
/// Model: `--model`, else the step's, else `defaults.model`.
public struct ProviderResolver: Sendable {
    public var providers: [String: ProviderConfiguration]
    public var providerOverride: String?
    public var modelOverride: String?
    public var environment: [String: String]

    public init(pipeline: Pipeline, providerOverride: String? = nil, modelOverride: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment)
    {
        var providers = ProviderConfiguration.builtIns(environment: environment)
        for (name, provider) in pipeline.providers { providers[name] = provider.value }
        self.providers = providers
        self.providerOverride = providerOverride
        self.modelOverride = modelOverride
        self.environment = environment
    }

    /// The name of the provider used when nothing names one.
    public var fallbackProviderName: String {
        if let name = environment["SKEIN_PROVIDER"], !name.isEmpty { return name }
        if let key = environment["NOVITA_API_KEY"], !key.isEmpty { return "novita" }
        return "local"
    }

    /// The provider for a step.
    /// - Throws: a `Diagnostic` naming the unknown provider and where it was named.
    public func provider(for step: Step, defaults: StepDefaults) throws -> ProviderConfiguration {
        let named: (String, SourceLocation?)
        if let providerOverride { named = (providerOverride, nil) }
        else if let provider = step.provider { named = (provider.value, provider.location) }
        else if let provider = defaults.provider { named = (provider.value, provider.location) }
        else { named = (fallbackProviderName, nil) }
        guard let provider = providers[named.0] else {
            throw Diagnostic.error(
                "unknown provider '\(named.0)'; the providers are \(providers.keys.sorted().joined(separator: ", "))"
                    + Suggestion.didYouMean(named.0, in: providers.keys),
                at: named.1)
        }
        return provider
    }

    /// The model for a step.
    /// - Throws: a `Diagnostic` at the step when no model is set anywhere.
    public func model(for step: Step, defaults: StepDefaults, provider: ProviderConfiguration) throws -> String {
        if let modelOverride { return modelOverride }
        if let model = step.model { return model.value }
        if let model = defaults.model { return model.value }
        // The local server ignores the model name; give it the alias it serves.
        if provider.name == "local" { return "smollm2-135m-instruct" }
        throw Diagnostic.error(
            "step '\(step.name)' has no model; set 'model' on the step or under 'defaults', or pass --model",
            at: step.location)
    }
}
