/// What happens while a completion is under way, for progress display and `--stream`.
///
/// Deltas belong to the current attempt: after `.retrying`, the text streamed so far is
/// void and the next attempt streams the reply again from its start.
public enum ClientEvent: Sendable {
    /// An HTTP attempt is about to be sent (1 for the first).
    case attemptStarted(attempt: Int)
    /// An attempt failed with a retryable error; the next starts after `delay`.
    case retrying(attempt: Int, delay: Duration, error: ProviderError)
    /// The request waited for the provider's limits (concurrency, requests or tokens per minute).
    case throttled(delay: Duration)
    /// The provider is holding this request back: its pacing, or a 429 or 503 it answered.
    /// Sent when the wait is noticeable (`ProviderThrottle.wait`), for progress display.
    case providerThrottled(ProviderThrottle)
    /// More reply text.
    case contentDelta(String)
    /// More reasoning text.
    case reasoningDelta(String)
    /// More of a tool call: `index` is the call's position; `id` and `name` come with its
    /// first delta, `arguments` is the next piece of its JSON text.
    case toolCallDelta(index: Int, id: String?, name: String?, arguments: String)
}
