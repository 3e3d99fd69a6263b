import ArgumentParser
import Foundation
import SkeinKit

/// `skein models`: the model ids a provider serves, one per line, for pasting into `model:`.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the models a provider serves, one id per line.",
        discussion: """
            Without --provider: $SKEIN_PROVIDER, else novita when NOVITA_API_KEY is set, else local.
            """
    )

    @Option(help: "The provider to ask: novita, openai or local.")
    var provider: String?

    @Option(help: "Ask this OpenAI-compatible base URL instead of the provider's (e.g. http://127.0.0.1:8080/v1).")
    var baseURL: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let providers = ProviderConfiguration.builtIns(environment: environment)
        let name = provider ?? Self.defaultProviderName(environment: environment)
        guard var configuration = providers[name] else {
            throw ValidationError(
                "unknown provider '\(name)'; the providers are \(providers.keys.sorted().joined(separator: ", "))"
                    + Suggestion.didYouMean(name, in: providers.keys))
        }
        if let baseURL {
            configuration = ProviderConfiguration(
                name: configuration.name, kind: configuration.kind, baseURL: baseURL,
                apiKeyEnvironmentVariable: configuration.apiKeyEnvironmentVariable,
                structuredOutputs: configuration.structuredOutputs, headers: configuration.headers)
        }
        let models: [ModelInfo]
        do {
            models = try await HTTPCompletionClient.withClient(environment: environment) { client in
                try await client.listModels(provider: configuration)
            }
        } catch let error as ProviderError {
            Terminal.standardError.write("error: \(error)\n")
            throw ExitCode(1)
        }
        Terminal.standardOutput.write(models.map(\.id).sorted().joined(separator: "\n") + "\n")
    }

    /// The provider used when none is named (section 6 of the design).
    static func defaultProviderName(environment: [String: String]) -> String {
        if let name = environment["SKEIN_PROVIDER"], !name.isEmpty { return name }
        if let key = environment["NOVITA_API_KEY"], !key.isEmpty { return "novita" }
        return "local"
    }
}
