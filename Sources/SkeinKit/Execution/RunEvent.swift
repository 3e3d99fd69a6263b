/// What happens during a run, as it happens: the CLI renders these as progress, `--trace`
/// writes them as a timeline, and library users consume them directly.
public enum RunEvent: Sendable {
    /// A step started; `items` is the number of `for_each` items (nil for a single request).
    case stepStarted(step: String, items: Int?)
    /// A request of a step started (item index for `for_each` steps, else nil).
    case requestStarted(step: String, item: Int?)
    /// A streamed piece of a reply.
    case token(step: String, item: Int?, text: String, isReasoning: Bool)
    /// A request attempt failed and will be retried after `delay`.
    case retry(step: String, item: Int?, attempt: Int, delay: Duration, message: String)
    /// A request waits for its provider: the limiter's pacing, or a 429 or 503 and its backoff.
    case throttled(step: String, item: Int?, ProviderThrottle)
    /// A request finished.
    case requestFinished(step: String, item: Int?, usage: Completion.Usage?, attempts: Int)
    /// A model reply whose tool calls run: the request ended, the item goes on (its last
    /// reply ends with `requestFinished`).
    case turnFinished(step: String, item: Int?, turn: Int, usage: Completion.Usage?, attempts: Int)
    /// A tool call of a step's `turn` started running (DESIGN.md section 7).
    case toolStarted(step: String, item: Int?, turn: Int, tool: String, callID: String, arguments: JSONValue)
    /// A tool call ended, or was replayed from the store (`cached`, and no `toolStarted`).
    case toolFinished(
        step: String, item: Int?, turn: Int, tool: String, callID: String, result: String?, error: String?, cached: Bool,
        duration: Duration)
    /// A step ended: finished, failed or skipped.
    case stepEnded(StepResult)

    /// The step the event belongs to.
    public var step: String {
        switch self {
        case .stepStarted(let step, _), .requestStarted(let step, _), .token(let step, _, _, _),
            .retry(let step, _, _, _, _), .requestFinished(let step, _, _, _), .toolStarted(let step, _, _, _, _, _),
            .turnFinished(let step, _, _, _, _), .throttled(let step, _, _),
            .toolFinished(let step, _, _, _, _, _, _, _, _):
            return step
        case .stepEnded(let result): return result.name
        }
    }
}
