/// The variables a template can read: `inputs`, `steps`, `env`, a `for_each` item.
public struct TemplateContext: Sendable {
    public var variables: [String: JSONValue]

    public init(_ variables: [String: JSONValue]) {
        self.variables = variables
    }
}
