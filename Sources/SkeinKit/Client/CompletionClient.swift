/// Sends completion requests to a provider. The step runner talks to this protocol; the
/// real implementation is `HTTPCompletionClient`, and tests use their own.
public protocol CompletionClient: Sendable {
    /// Sends a request and waits for the whole reply, retrying as the policy allows.
    /// - Parameters:
    ///   - request: the exact request body and endpoint.
    ///   - provider: where to send it, the key's environment variable and the shared limits.
    ///   - retryPolicy: nil for the client's default.
    ///   - timeout: for each attempt, from sending to the last byte; nil for the client's default.
    ///   - events: called with progress and, for a streamed request, each delta.
    /// - Returns: the reply, assembled the same whether streamed or not.
    /// - Throws: `ProviderError`; `CancellationError` when the task is cancelled.
    func complete(
        _ request: CompletionRequest, provider: ProviderConfiguration, retryPolicy: RetryPolicy?, timeout: Duration?,
        events: (@Sendable (ClientEvent) -> Void)?
    ) async throws -> Completion

    /// Lists the models a provider serves (`GET /models`).
    /// - Throws: `ProviderError`.
    func listModels(provider: ProviderConfiguration) async throws -> [ModelInfo]
}

extension CompletionClient {
    /// Sends a request with the client's default retry policy and timeout.
    public func complete(
        _ request: CompletionRequest, provider: ProviderConfiguration,
        events: (@Sendable (ClientEvent) -> Void)? = nil
    ) async throws -> Completion {
        try await complete(request, provider: provider, retryPolicy: nil, timeout: nil, events: events)
    }
}
