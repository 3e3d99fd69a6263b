/// Why a step failed, as a value: the CLI, the dataset runner and a Swift caller switch on
/// `kind` instead of searching a message's text.
///
/// `description` is the text users have always read after "step 'x' failed: " (a template
/// error starts with its location in the pipeline file); it is what the result store keeps
/// as the step's message, so stored runs read the same as before.
public struct StepFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The provider's request failed for good (after the retries the policy allows).
        case provider(ProviderError)
        /// A template, `when`, `for_each`, an image file or the step's settings failed to
        /// evaluate; the diagnostic carries its location in the pipeline file.
        case template(Diagnostic)
        /// `--offline` and no stored reply for this request.
        case offlineMiss
        /// The reply broke the output format or schema, and so did the one repair attempt.
        case invalidReply(violations: [String], reply: String, hasSchema: Bool)
        /// The model called a tool with arguments that are not JSON.
        case invalidToolArguments(String)
        /// A step whose tools run reached `max_turns`: its last reply still called tools.
        case maxTurns(limit: Int, calls: [String], location: SourceLocation?)
        /// The result store failed to record or look up (the reply is not durable).
        case store(String)
        /// The run was interrupted while the step ran.
        case cancelled
        /// `--max-cost` could not take the step's next request: the run stops, keeping what finished.
        case budget(BudgetExceeded)
    }

    public var kind: Kind
    /// The `for_each` item the failure belongs to; nil for a step of one request.
    public var item: Int?

    public init(_ kind: Kind, item: Int? = nil) {
        self.kind = kind
        self.item = item
    }

    /// Whether this is `--offline` finding no stored reply.
    public var isOfflineMiss: Bool { kind == .offlineMiss }

    /// Whether the budget (`--max-cost`) stopped the step.
    public var isBudgetStop: Bool {
        if case .budget = kind { return true }
        return false
    }

    public var description: String {
        let prefix = item.map { "item \($0): " } ?? ""
        switch kind {
        case .provider(let error):
            return prefix + error.description
        case .template(let diagnostic):
            // Without "error: ": the failure is reported as "step 'x' failed: …" already.
            return prefix + (diagnostic.location.map { "\($0): \(diagnostic.message)" } ?? diagnostic.message)
        case .offlineMiss:
            return prefix + "no stored result for this request (--offline); run without --offline to call the provider"
        case .invalidReply(let violations, let reply, let hasSchema):
            return prefix + "the reply does not match the output " + (hasSchema ? "schema" : "format (JSON)")
                + " after one repair attempt:\n" + violations.map { "  " + $0 }.joined(separator: "\n")
                + "\nreply: " + ReplyDecoder.shorten(reply, limit: 500)
        case .invalidToolArguments(let message), .store(let message):
            return prefix + message
        case .maxTurns(let limit, let calls, _):
            // Without the location: the step's error line starts with it.
            return prefix + "reached max_turns (\(limit)): reply \(limit) still called " + calls.map { "'\($0)'" }.joined(separator: ", ")
                + "; raise 'max_turns', or make the prompt say when the model has enough to answer"
        case .cancelled:
            return prefix + "interrupted"
        case .budget(let exceeded):
            return prefix + exceeded.description
        }
    }

    /// The failure for any error thrown while a step ran.
    static func from(_ error: any Error) -> StepFailure {
        switch error {
        case let failure as StepFailure: return failure
        case let failure as StepRunner.CountedFailure: return failure.failure
        case let error as ProviderError: return StepFailure(.provider(error))
        case let diagnostic as Diagnostic: return StepFailure(.template(diagnostic))
        case let diagnostics as DiagnosticsError:
            // Not thrown while a step runs today (inputs are resolved before the run); kept
            // as one diagnostic so that nothing is lost if it ever is.
            return StepFailure(.template(diagnostics.diagnostics.count == 1 ? diagnostics.diagnostics[0]
                : Diagnostic.error(diagnostics.description, at: nil)))
        case let error as StoreError: return StepFailure(.store(error.description))
        case let error as ReplyDecoder.ToolCallError: return StepFailure(.invalidToolArguments(error.message))
        case is CancellationError: return StepFailure(.cancelled)
        case let exceeded as BudgetExceeded: return StepFailure(.budget(exceeded))
        // What else a step's work can throw comes from the result store (SQLite's errors).
        default: return StepFailure(.store(String(describing: error)))
        }
    }
}
