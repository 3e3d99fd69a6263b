import Foundation

/// Renders a step's templates into the exact request the provider will get.
/// Used by the step runner and by `skein run --dry-run`.
///
/// A class, not a struct: it holds the compiled step (over a kilobyte), and each request
/// in flight keeps the builder across its awaits.
public final class StepRequestBuilder: Sendable {
    public let step: CompiledStep
    public let defaults: StepDefaults
    public let provider: ProviderConfiguration
    public let model: String

    public init(step: CompiledStep, defaults: StepDefaults, provider: ProviderConfiguration, model: String) {
        self.step = step
        self.defaults = defaults
        self.provider = provider
        self.model = model
    }

    /// How structured output is asked for.
    public enum StructuredMode: Sendable, Hashable {
        case jsonSchema, jsonObject
    }

    /// How the first request asks for structured output: `json_object` (with the schema in
    /// the system message) for providers marked `structured_outputs: json_object` and for
    /// Anthropic providers (whose API has no response format), `json_schema` otherwise.
    public var initialStructuredMode: StructuredMode {
        !provider.dialect.takesResponseFormat || provider.structuredOutputs == .jsonObject ? .jsonObject : .jsonSchema
    }

    /// The request for one item (or the single request of a step without `for_each`): a
    /// Chat Completions or Completions request, or for a provider with `type: anthropic` a
    /// Messages API request (see `CompletionRequest.messages`).
    ///
    /// On an Anthropic provider, structured output is asked for in the system prompt only
    /// (the schema, or "only JSON" for `format: json`), as in the `json_object` fallback;
    /// the reply is validated and repaired the same way.
    /// - Parameters:
    ///   - context: the template variables (`inputs`, `steps`, `env`, the `as` variable).
    ///   - structuredMode: how to ask for structured output (after a provider rejected
    ///     `json_schema`, the runner asks with `json_object`).
    ///   - repair: a rejected reply and what was wrong with it, for the one repair attempt.
    ///   - conversation: the turns of a tool loop so far (the model's calls and the tools'
    ///     results), after the rendered messages.
    /// - Throws: a located `Diagnostic` from the templates, for an unreadable image, or for
    ///   `api: completion` on an Anthropic provider.
    public func request(
        context: TemplateContext, structuredMode: StructuredMode, stream: Bool, repair: (reply: String, problems: String)? = nil,
        conversation: [ChatMessage] = []
    ) throws -> CompletionRequest {
        let sampling = step.step.sampling.overlaying(defaults.sampling)
        var extra = defaults.extra ?? [:]
        for (key, value) in step.step.extra ?? [:] { extra[key] = value }
        let dialect = provider.dialect
        // Without a response format (the Messages API), structured output is asked for in
        // the system prompt, as in the `json_object` fallback.
        let promptsForFormat = !dialect.takesResponseFormat
        if step.step.api == .completion {
            if !dialect.hasLegacyCompletions {
                throw Diagnostic.error(
                    "step '\(step.name)' has 'api: completion', but provider '\(provider.name)' has type anthropic, "
                        + "whose Messages API has no legacy completions; drop 'api: completion' or use an "
                        + "OpenAI-compatible provider", at: step.step.location)
            }
            var prompt = try step.prompt?.render(context) ?? ""
            if let repair {
                prompt += repair.reply + "\n\n" + Self.repairInstruction(repair.problems) + "\n"
            }
            return .completion(model: model, prompt: prompt, sampling: sampling, extra: extra, stream: stream)
        }
        var messages = try renderMessages(context)
        var responseFormat: JSONValue?
        switch step.step.output {
        case .text: break
        case .json:
            if promptsForFormat {
                Self.addToSystem("Reply with only JSON, no other text.", in: &messages)
            } else {
                responseFormat = ["type": "json_object"]
            }
        case .schema(let schema, _):
            switch promptsForFormat ? .jsonObject : structuredMode {
            case .jsonSchema:
                responseFormat = ["type": "json_schema", "json_schema": ["name": .string(step.name), "schema": schema, "strict": true]]
            case .jsonObject:
                // llama.cpp's server constrains the reply to `schema` inside json_object;
                // other servers ignore it and rely on the schema in the system message.
                if !promptsForFormat { responseFormat = ["type": "json_object", "schema": schema] }
                Self.addToSystem(
                    "Reply with only a JSON object that conforms to this JSON Schema:\n" + schema.serialized(), in: &messages)
            }
        }
        messages += conversation
        if let repair {
            messages.append(.assistant(repair.reply))
            messages.append(.user(Self.repairInstruction(repair.problems)))
        }
        var tools: JSONValue?
        if let specs = step.step.tools {
            tools = .array(specs.map { tool in
                var function = JSONValue.JSONObject()
                function["name"] = .string(tool.name)
                if let description = tool.description { function["description"] = .string(description) }
                function["parameters"] = tool.parameters ?? ["type": "object", "properties": [:]]
                return ["type": "function", "function": .object(function)]
            })
        }
        return dialect.chatRequest(ChatRequest(
            model: model, messages: messages, sampling: sampling, responseFormat: responseFormat, tools: tools,
            toolChoice: Self.toolChoice(step.step.toolChoice, conversation: conversation), extra: extra, stream: stream))
    }

    /// The `tool_choice` of a turn: as written for the first; `auto` once a tool ran, when
    /// the step forced a call (`required`, or a named tool). Forcing every turn would make
    /// the model call again and again until `max_turns`; the OpenAI Agents SDK resets it
    /// the same way (`reset_tool_choice`). `none` stays `none`.
    static func toolChoice(_ choice: JSONValue?, conversation: [ChatMessage]) -> JSONValue? {
        guard let choice, !conversation.isEmpty, choice != "none", choice != "auto" else { return choice }
        return "auto"
    }

    /// Appends an instruction to the first system message, or adds one before the others.
    static func addToSystem(_ instruction: String, in messages: inout [ChatMessage]) {
        if let index = messages.firstIndex(where: { $0.role == .system }), case .text(let text) = messages[index].content {
            messages[index].content = .text(text + "\n\n" + instruction)
        } else {
            messages.insert(.system(instruction), at: 0)
        }
    }

    static func repairInstruction(_ problems: String) -> String {
        "That reply was not valid:\n\(problems)\nReply again with only the corrected JSON."
    }

    /// The chat messages: `system` + `prompt`, or `messages` with parts.
    public func renderMessages(_ context: TemplateContext) throws -> [ChatMessage] {
        if let messages = step.messages {
            return try messages.map { message in
                let role = ChatMessage.Role(rawValue: message.role.rawValue) ?? .user
                switch message.content {
                case .text(let template):
                    return ChatMessage(role: role, content: .text(try template.render(context)), name: message.name)
                case .parts(let parts):
                    return ChatMessage(role: role, content: .parts(try parts.map { part in
                        switch part {
                        case .text(let template): return .text(try template.render(context))
                        case .imageURL(let template): return .imageURL(try template.render(context))
                        case .imageFile(let path): return .imageURL(try Self.dataURL(path))
                        }
                    }), name: message.name)
                }
            }
        }
        var messages: [ChatMessage] = []
        if let system = step.system { messages.append(.system(try system.render(context))) }
        messages.append(.user(try step.prompt?.render(context) ?? ""))
        return messages
    }

    /// Reads an image and encodes it as a `data:` URL.
    static func dataURL(_ path: Located<String>) throws -> String {
        guard let mediaType = ImageFile.mediaType(forPath: path.value) else {
            throw Diagnostic.error("image file '\(path.value)' has an unknown type", at: path.location)
        }
        guard let data = FileManager.default.contents(atPath: path.value) else {
            throw Diagnostic.error("cannot read image file '\(path.value)'", at: path.location)
        }
        return "data:\(mediaType);base64,\(data.base64EncodedString())"
    }
}
