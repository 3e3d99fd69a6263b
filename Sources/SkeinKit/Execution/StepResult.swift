/// How a step ended.
public enum StepStatus: String, Sendable, Hashable, Codable {
    case finished, failed, skipped
    /// Not started because the run stopped first (fail-fast, or interrupted).
    case notRun = "not_run"
}

/// What a finished (or failed, or skipped) step leaves behind: the value templates read
/// as `steps.NAME` (`output`, `reasoning`, `tool_calls`, `usage`, `model`,
/// `finish_reason`, `status`).
public struct StepResult: Sendable, Hashable {
    public var name: String
    public var status: StepStatus
    /// Text, or the parsed JSON; for a `for_each` step, the list of item outputs in item order.
    public var output: JSONValue
    public var reasoning: JSONValue
    public var toolCalls: JSONValue
    /// The model's replies: 1 for a step of one request, more when its tools ran; a list
    /// for a `for_each` step (null for a step that did not finish).
    public var turns: JSONValue
    public var usage: Completion.Usage?
    public var model: JSONValue
    public var finishReason: JSONValue
    /// Why the step failed, as a value to switch on; nil unless `status` is `.failed`.
    public var failure: StepFailure?
    /// Why the step was skipped or not run (`'when' is false`, a dependency that failed).
    public var note: String?
    /// Why the step failed or was skipped, as text: the failure's description, or the note.
    public var message: String? { failure?.description ?? note }
    /// HTTP requests made (attempts included) and retries.
    public var requests: Int
    public var retries: Int
    /// Requests answered by the result store instead of the provider.
    public var cacheHits: Int
    public var duration: Duration

    public init(
        name: String, status: StepStatus, output: JSONValue = .null, reasoning: JSONValue = .null,
        toolCalls: JSONValue = .array([]), turns: JSONValue = .null, usage: Completion.Usage? = nil, model: JSONValue = .null,
        finishReason: JSONValue = .null, failure: StepFailure? = nil, note: String? = nil, requests: Int = 0, retries: Int = 0,
        cacheHits: Int = 0, duration: Duration = .zero
    ) {
        self.name = name
        self.status = status
        self.output = output
        self.reasoning = reasoning
        self.toolCalls = toolCalls
        self.turns = turns
        self.usage = usage
        self.model = model
        self.finishReason = finishReason
        self.failure = failure
        self.note = note
        self.requests = requests
        self.retries = retries
        self.cacheHits = cacheHits
        self.duration = duration
    }

    /// The object templates see as `steps.NAME`.
    public var templateValue: JSONValue {
        var object = JSONValue.JSONObject()
        object["output"] = output
        object["reasoning"] = reasoning
        object["tool_calls"] = toolCalls
        object["turns"] = turns
        object["usage"] = usage?.jsonValue ?? .null
        object["model"] = model
        object["finish_reason"] = finishReason
        object["status"] = .string(status.rawValue)
        return .object(object)
    }
}
