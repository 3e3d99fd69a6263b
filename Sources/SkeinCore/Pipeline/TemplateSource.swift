/// The text of a template as written in the pipeline file (inline, or read from a
/// `{file: ...}` prompt file), with the map from positions in the text to the file.
public struct TemplateSource: Sendable, Hashable {
    public var text: String
    /// Maps line/column inside `text` to the pipeline (or prompt) file.
    public var map: SourceMap
    /// Where the template's value starts (the scalar, or the `{file: ...}` mapping).
    public var location: SourceLocation
    /// The prompt file the text came from, when it came from `{file: ...}`.
    public var file: String?

    public init(text: String, map: SourceMap, location: SourceLocation, file: String? = nil) {
        self.text = text
        self.map = map
        self.location = location
        self.file = file
    }
}
