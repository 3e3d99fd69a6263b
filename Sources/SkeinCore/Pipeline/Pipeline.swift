import OrderedCollections

/// A pipeline file (format version 1), parsed and checked for structure.
///
/// Every value remembers where it was written, so later stages (templates, graph,
/// run) report problems at the right line. See DESIGN.md section 1 for the format.
public struct Pipeline: Sendable {
    /// The path the file was loaded from, as given.
    public var path: String
    public var version: Int
    public var name: String?
    public var description: String?
    public var defaults: StepDefaults
    /// Providers declared in the file (overrides and additions to the built-ins).
    public var providers: OrderedDictionary<String, Located<ProviderConfiguration>>
    public var inputs: OrderedDictionary<String, InputDeclaration>
    public var steps: OrderedDictionary<String, Step>
    /// Environment variables templates may read as `env.NAME`.
    public var environment: [Located<String>]
    public var outputs: OrderedDictionary<String, OutputDeclaration>
    /// The pipeline's own test cases (`tests:`), for `skein test` without `--cases`.
    public var tests: [TestCase]?
    /// The whole file's text (for diagnostics excerpts and hashing).
    public var sourceText: String

    public init(
        path: String, version: Int = 1, name: String? = nil, description: String? = nil,
        defaults: StepDefaults = StepDefaults(),
        providers: OrderedDictionary<String, Located<ProviderConfiguration>> = [:],
        inputs: OrderedDictionary<String, InputDeclaration> = [:], steps: OrderedDictionary<String, Step> = [:],
        environment: [Located<String>] = [], outputs: OrderedDictionary<String, OutputDeclaration> = [:],
        sourceText: String = ""
    ) {
        self.path = path
        self.version = version
        self.name = name
        self.description = description
        self.defaults = defaults
        self.providers = providers
        self.inputs = inputs
        self.steps = steps
        self.environment = environment
        self.outputs = outputs
        self.sourceText = sourceText
    }
}

/// Settings under `defaults:` that apply to every step that does not set them.
public struct StepDefaults: Sendable, Hashable {
    public var provider: Located<String>?
    public var model: Located<String>?
    public var sampling = SamplingParameters()
    public var extra: JSONValue.JSONObject?
    public var reasoning: ReasoningMode?
    public var retries: Int?
    public var timeout: Duration?
    public var maxConcurrency: Int?
    public var cache: Bool?

    public init() {}
}

/// A declared pipeline input.
public struct InputDeclaration: Sendable, Hashable {
    public enum InputType: String, Sendable, Hashable, CaseIterable {
        case string, number, integer, boolean, array, object
    }

    public var name: String
    public var type: InputType
    public var description: String?
    /// The default value; an input without one is required.
    public var defaultValue: JSONValue?
    /// The JSON Schema of the input (its declaration, minus `description` and `default`).
    public var schema: JSONValue
    public var location: SourceLocation

    public var isRequired: Bool { defaultValue == nil }

    public init(name: String, type: InputType, description: String? = nil, defaultValue: JSONValue? = nil,
                schema: JSONValue, location: SourceLocation)
    {
        self.name = name
        self.type = type
        self.description = description
        self.defaultValue = defaultValue
        self.schema = schema
        self.location = location
    }
}

/// How a step treats reasoning text (`reasoning_content` or a leading `<think>…</think>`).
public enum ReasoningMode: String, Sendable, Hashable, CaseIterable {
    /// Reasoning goes to `.reasoning`; `.output` holds the answer only. The default.
    case separate
    /// The text is left as it came.
    case keep
    /// Reasoning is discarded.
    case drop
}

/// Which completion API a step calls.
public enum StepAPI: String, Sendable, Hashable, CaseIterable {
    case chat
    /// The legacy Completions API: `prompt` is sent as raw text.
    case completion
}

/// What a step's output is.
public enum OutputSpec: Sendable, Hashable {
    /// Plain text (the default).
    case text
    /// JSON parsed without a schema.
    case json
    /// Structured output validated against a JSON Schema.
    case schema(JSONValue, location: SourceLocation)
}

/// A message of a step's `messages:` list.
public struct MessageSpec: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case system, user, assistant
    }

    public enum Part: Sendable, Hashable {
        case text(TemplateSource)
        case imageURL(TemplateSource)
        /// A local image, read at run time and sent as a base64 data URL.
        case imageFile(Located<String>)
    }

    public enum Content: Sendable, Hashable {
        case text(TemplateSource)
        case parts([Part])
    }

    public var role: Role
    public var content: Content
    public var name: String?
    public var location: SourceLocation
}

/// A tool a step offers the model (function calling).
public struct ToolSpec: Sendable, Hashable {
    public var name: String
    public var description: String?
    /// JSON Schema of the arguments.
    public var parameters: JSONValue?
    /// How Skein runs the tool when the model calls it; nil: the calls come back as data
    /// in `.tool_calls` and the step ends (DESIGN.md section 7).
    public var implementation: Implementation?
    /// How long one execution may take (default ``defaultTimeout``).
    public var timeout: Duration?
    /// `cache: false`: run the tool every time, never replay a stored execution.
    public var cache: Bool?
    public var location: SourceLocation

    /// What runs a tool.
    public enum Implementation: Sendable, Hashable {
        /// A process: argv from the file (never from a template or the model), the arguments
        /// as JSON on stdin, stdout the result.
        case run([String])
        /// An HTTP endpoint: POST the arguments as the JSON body; the body is the result.
        case http(url: String)
    }

    /// One tool execution's limit when the tool sets no `timeout`.
    public static let defaultTimeout: Duration = .seconds(60)

    public init(name: String, description: String? = nil, parameters: JSONValue? = nil, implementation: Implementation? = nil,
                timeout: Duration? = nil, cache: Bool? = nil, location: SourceLocation) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.implementation = implementation
        self.timeout = timeout
        self.cache = cache
        self.location = location
    }

    /// The definition as data, for the key under which an execution is stored: a changed
    /// `run`, `http`, description or schema is a different tool.
    public var definitionValue: JSONValue {
        var object = JSONValue.JSONObject()
        object["name"] = .string(name)
        object["description"] = description.map { .string($0) } ?? .null
        object["parameters"] = parameters ?? .null
        switch implementation {
        case .run(let argv): object["run"] = .array(argv.map { .string($0) })
        case .http(let url): object["http"] = .string(url)
        case nil: break
        }
        return .object(object)
    }
}

/// One step of a pipeline.
public struct Step: Sendable, Hashable {
    public var name: String
    /// Where the step's key is written.
    public var location: SourceLocation
    public var api: StepAPI = .chat
    public var system: TemplateSource?
    public var prompt: TemplateSource?
    public var messages: [MessageSpec]?
    public var provider: Located<String>?
    public var model: Located<String>?
    public var sampling = SamplingParameters()
    public var extra: JSONValue.JSONObject?
    public var output: OutputSpec = .text
    public var reasoning: ReasoningMode?
    public var tools: [ToolSpec]?
    public var toolChoice: JSONValue?
    /// The most model replies of a step whose tools run (`max_turns`; default
    /// ``defaultMaxTurns`` when a tool can run).
    public var maxTurns: Int?
    public var needs: [Located<String>] = []
    public var when: TemplateSource?
    public var forEach: TemplateSource?
    public var loopVariable: Located<String>?
    public var maxConcurrency: Int?
    public var retries: Int?
    public var timeout: Duration?
    public var cache: Bool?
    /// Checked on every run of the step (`expect:`): warnings in `skein run`, verdicts in
    /// `skein test`. A `for_each` step's are checked on each item's output.
    public var expect: [Assertion]?

    /// The tools Skein runs (with `run` or `http`).
    public var runnableTools: [ToolSpec] { (tools ?? []).filter { $0.implementation != nil } }

    /// The model replies a step may take when its tools run.
    public static let defaultMaxTurns = 8

    public init(name: String, location: SourceLocation) {
        self.name = name
        self.location = location
    }
}

/// An entry of `outputs:`.
public struct OutputDeclaration: Sendable, Hashable {
    public var name: String
    public var template: TemplateSource
    public var location: SourceLocation
}
