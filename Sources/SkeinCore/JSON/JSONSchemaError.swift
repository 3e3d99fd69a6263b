/// A schema that `JSONSchema.init(_:)` cannot compile: a keyword with a value of the wrong
/// kind (`type: strnig`), a regular expression that does not compile, a `$ref` that points
/// nowhere or that loops without ever reaching the instance.
///
/// The text names the place in the schema:
/// `$.properties.tags.items.type: unknown type 'strnig'; did you mean 'string'?`.
public struct JSONSchemaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem, for code that wants to tell them apart. New kinds may be added.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Code: String, Sendable, Hashable {
            case invalidKeyword = "invalid keyword value"
            case invalidPattern = "invalid regular expression"
            case unresolvedReference = "unresolved $ref"
            case referenceCycle = "$ref cycle"
            case unsupported = "unsupported keyword"
            case tooDeep = "schema nested too deeply"
        }

        private let code: Code

        /// A keyword whose value is not what the specification allows (`minLength: -1`).
        public static let invalidKeyword = Kind(code: .invalidKeyword)
        /// A `pattern` or `patternProperties` key that is not a valid regular expression.
        public static let invalidPattern = Kind(code: .invalidPattern)
        /// A `$ref` to a place that does not exist in the schema, or outside of it.
        public static let unresolvedReference = Kind(code: .unresolvedReference)
        /// `$ref`s (or `allOf` and friends) that lead back to themselves without descending
        /// into the instance, which would validate forever.
        public static let referenceCycle = Kind(code: .referenceCycle)
        /// A keyword this implementation knows but does not evaluate (`unevaluatedProperties`),
        /// refused rather than silently ignored.
        public static let unsupported = Kind(code: .unsupported)
        /// Nesting deeper than `JSONSchema.maximumDepth`.
        public static let tooDeep = Kind(code: .tooDeep)

        public var description: String { code.rawValue }
    }

    public var kind: Kind
    /// Where in the schema, rendered like an instance path: `$.properties.tags.items.type`.
    public var schemaPath: String
    public var message: String

    public init(_ kind: Kind, at schemaPath: String, _ message: String) {
        self.kind = kind
        self.schemaPath = schemaPath
        self.message = message
    }

    /// `schemaPath: message`.
    public var description: String { "\(schemaPath): \(message)" }
}
