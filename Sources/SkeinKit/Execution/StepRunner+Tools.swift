import Foundation

/// The tool loop (DESIGN.md section 7): while the model's reply calls tools that run, run
/// the calls of the reply at once, append the reply and the results to the conversation,
/// and ask again, up to `max_turns` replies.
///
/// Each model turn is a request like any other (stored, cached, resumed); each finished tool
/// execution is stored under the step, the tool's definition and the arguments, and
/// replayed instead of run again, so an unchanged re-run runs no tool and a resume after a
/// kill does not run a finished tool twice.
final class ToolConversation {
    /// The turns so far, after the step's rendered messages.
    var messages: [ChatMessage] = []
    /// `.tool_calls`: every call of every turn, `{id, name, arguments, result, error, turn}`.
    var calls: [JSONValue] = []
    /// The model reply being asked for (1-based).
    var turn = 1
    /// Replies answered by the provider, not the store (for the step's retry count).
    var freshReplies = 0
    /// The usage of the turns before the last.
    var usage: Completion.Usage?
    let maxTurns: Int
    let tools: [String: ToolSpec]
    /// Every tool the step declares, running or not.
    let declared: Set<String>
    let location: SourceLocation

    init(step: Step) {
        maxTurns = step.maxTurns ?? Step.defaultMaxTurns
        tools = Dictionary(step.runnableTools.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        declared = Set((step.tools ?? []).map(\.name))
        location = step.location
    }

    /// Whether the loop goes on after this reply: it calls tools, and none of them is one
    /// that does not run (such calls are data in `.tool_calls`, and the step ends, as
    /// without a loop). A call to an unknown tool goes on: the model is told, and tries again.
    func continues(after completion: Completion) -> Bool {
        !completion.toolCalls.isEmpty && !completion.toolCalls.contains { tools[$0.name] == nil && declared.contains($0.name) }
    }

    func add(usage more: Completion.Usage?) {
        guard let more else { return }
        usage = usage.map { $0 + more } ?? more
    }
}

/// One call's outcome, in the order of the reply's calls.
struct ToolCallOutcome: Sendable {
    var call: Completion.ToolCall
    var arguments: JSONValue
    var result: String?
    var error: String?
}

extension StepRunner {
    /// Runs the tool calls of a reply and adds the turn to the conversation (the caller has
    /// checked that it `continues(after:)`).
    /// - Throws: `StepFailure` when the reply was the last `max_turns` allows, or under
    ///   `--offline` for a tool execution that is not stored.
    func continueConversation(
        _ conversation: ToolConversation, after completion: Completion, builder: StepRequestBuilder, item: Int?, row: Int,
        usesCache: Bool
    ) async throws {
        if conversation.turn >= conversation.maxTurns {
            throw StepFailure(
                .maxTurns(limit: conversation.maxTurns, calls: completion.toolCalls.map(\.name), location: conversation.location),
                item: item)
        }
        let turn = conversation.turn
        let tools = conversation.tools
        let outcomes = try await withThrowingTaskGroup(of: (Int, ToolCallOutcome).self) { group in
            for (position, call) in completion.toolCalls.enumerated() {
                group.addTask {
                    (position, try await self.runToolCall(
                        call, conversation: tools, builder: builder, turn: turn, item: item, row: row, usesCache: usesCache))
                }
            }
            var outcomes = [ToolCallOutcome?](repeating: nil, count: completion.toolCalls.count)
            for try await (position, outcome) in group { outcomes[position] = outcome }
            return outcomes.compactMap { $0 }
        }
        conversation.add(usage: completion.usage)
        conversation.messages.append(ChatMessage(role: .assistant, content: .text(completion.content), toolCalls: completion.toolCalls))
        for outcome in outcomes {
            let text = outcome.result ?? "error: " + (outcome.error ?? "")
            conversation.messages.append(ChatMessage(
                role: .tool, content: .text(text), toolCallID: outcome.call.id, isToolError: outcome.error != nil))
            conversation.calls.append(Self.callValue(outcome, turn: turn))
        }
        conversation.turn += 1
    }

    static func callValue(_ outcome: ToolCallOutcome, turn: Int) -> JSONValue {
        var object = JSONValue.JSONObject()
        object["id"] = .string(outcome.call.id)
        object["name"] = .string(outcome.call.name)
        object["arguments"] = outcome.arguments
        object["result"] = outcome.result.map { .string($0) } ?? .null
        object["error"] = outcome.error.map { .string($0) } ?? .null
        object["turn"] = .int(turn)
        return .object(object)
    }

    /// One call: checked, then replayed from the store or run, and recorded.
    func runToolCall(
        _ call: Completion.ToolCall, conversation tools: [String: ToolSpec], builder: StepRequestBuilder, turn: Int, item: Int?,
        row: Int, usesCache: Bool
    ) async throws -> ToolCallOutcome {
        let step = builder.step
        let name = step.name
        let trimmed = call.arguments.trimmingCharacters(in: .whitespacesAndNewlines)
        let parsed: JSONValue? = trimmed.isEmpty ? .object([:]) : try? JSONValue(parsing: trimmed)
        let arguments = parsed ?? .string(call.arguments)
        var outcome = ToolCallOutcome(call: call, arguments: arguments)
        // Checked before anything runs; a mistake goes back to the model as the tool's
        // error, and costs a turn.
        guard let tool = tools[call.name] else {
            outcome.error = "there is no tool named '\(call.name)'"
                + (tools.isEmpty ? "" : "; the tools are " + tools.keys.sorted().joined(separator: ", "))
            return outcome
        }
        guard let parsed else {
            outcome.error = "the arguments are not valid JSON: " + ReplyDecoder.shorten(call.arguments)
            return outcome
        }
        if let schema = step.toolSchemas[tool.name] {
            let violations = schema.validate(parsed)
            if !violations.isEmpty {
                outcome.error = "the arguments do not match the tool's parameters:\n"
                    + violations.map { "- \($0.description)" }.joined(separator: "\n")
                return outcome
            }
        }
        let key = ToolKey(step: name, definition: toolExecutor.definition(of: tool), arguments: parsed)
        let replays = usesCache && tool.cache != false && configuration.cachePolicy != .refresh
        if replays, let recording, let stored = try await recording.store.toolExecution(for: key) {
            outcome.result = stored.result
            outcome.error = stored.error
            events(.toolFinished(step: name, item: item, turn: turn, tool: tool.name, callID: call.id, result: stored.result,
                                 error: stored.error, cached: true, duration: .zero))
            try await recordTool(outcome, step: name, tool: tool, key: key, turn: turn, item: item, row: row, cached: true, stores: false,
                                 startedAt: Date(), duration: .zero)
            return outcome
        }
        if usesCache && configuration.cachePolicy == .offline && tool.cache != false {
            throw StepFailure(.offlineMiss, item: item)
        }
        events(.toolStarted(step: name, item: item, turn: turn, tool: tool.name, callID: call.id, arguments: parsed))
        let startedAt = Date()
        let clock = ContinuousClock()
        let began = clock.now
        let executed = try await toolExecutor.execute(tool, arguments: parsed, callID: key.hex)
        let duration = clock.now - began
        outcome.result = executed.result
        outcome.error = executed.error
        events(.toolFinished(step: name, item: item, turn: turn, tool: tool.name, callID: call.id, result: executed.result,
                             error: executed.error, cached: false, duration: duration))
        try await recordTool(outcome, step: name, tool: tool, key: key, turn: turn, item: item, row: row, cached: false,
                             stores: executed.isFinal && tool.cache != false, startedAt: startedAt, duration: duration)
        return outcome
    }

    @inline(never)
    func recordTool(
        _ outcome: ToolCallOutcome, step: String, tool: ToolSpec, key: ToolKey, turn: Int, item: Int?, row: Int, cached: Bool, stores: Bool,
        startedAt: Date, duration: Duration
    ) async throws {
        guard let recording else { return }
        try await recording.store.record(ToolRecord(
            runID: recording.runID, row: row, step: step, item: item, turn: turn,
            tool: tool.name, key: key, arguments: outcome.arguments.serialized(),
            execution: StoredToolExecution(result: outcome.result, error: outcome.error), cached: cached, storesResult: stores,
            startedAt: startedAt, duration: duration))
    }
}
