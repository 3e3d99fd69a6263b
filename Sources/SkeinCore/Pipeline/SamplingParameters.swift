/// Sampling parameters, named as the provider names them in the request body.
/// Every field is optional: a parameter that is not set is not sent.
public struct SamplingParameters: Sendable, Hashable {
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var minP: Double?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var repetitionPenalty: Double?
    public var maxTokens: Int?
    public var stop: [String]?
    public var seed: Int?

    public init(
        temperature: Double? = nil, topP: Double? = nil, topK: Int? = nil, minP: Double? = nil,
        presencePenalty: Double? = nil, frequencyPenalty: Double? = nil, repetitionPenalty: Double? = nil,
        maxTokens: Int? = nil, stop: [String]? = nil, seed: Int? = nil
    ) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.repetitionPenalty = repetitionPenalty
        self.maxTokens = maxTokens
        self.stop = stop
        self.seed = seed
    }

    /// `self` with every unset field taken from `fallback` (a step over the pipeline's defaults).
    public func overlaying(_ fallback: SamplingParameters) -> SamplingParameters {
        SamplingParameters(
            temperature: temperature ?? fallback.temperature, topP: topP ?? fallback.topP,
            topK: topK ?? fallback.topK, minP: minP ?? fallback.minP,
            presencePenalty: presencePenalty ?? fallback.presencePenalty,
            frequencyPenalty: frequencyPenalty ?? fallback.frequencyPenalty,
            repetitionPenalty: repetitionPenalty ?? fallback.repetitionPenalty,
            maxTokens: maxTokens ?? fallback.maxTokens, stop: stop ?? fallback.stop, seed: seed ?? fallback.seed)
    }

    /// The parameters as request-body fields, in the provider's names, in a fixed order.
    public var bodyFields: JSONValue.JSONObject {
        var body = JSONValue.JSONObject()
        if let temperature { body["temperature"] = .double(temperature) }
        if let topP { body["top_p"] = .double(topP) }
        if let topK { body["top_k"] = .int(topK) }
        if let minP { body["min_p"] = .double(minP) }
        if let presencePenalty { body["presence_penalty"] = .double(presencePenalty) }
        if let frequencyPenalty { body["frequency_penalty"] = .double(frequencyPenalty) }
        if let repetitionPenalty { body["repetition_penalty"] = .double(repetitionPenalty) }
        if let maxTokens { body["max_tokens"] = .int(maxTokens) }
        if let stop { body["stop"] = .array(stop.map { .string($0) }) }
        if let seed { body["seed"] = .int(seed) }
        return body
    }
}
