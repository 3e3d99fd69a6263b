/// The JSON Schema of pipeline files, as `skein schema` prints it.
/// Generated from `schema/pipeline.schema.json` by `scripts/generate-schema-source`;
/// a test keeps the two identical.
public enum PipelineSchema {
    public static let json = #"""
{}
"""#
}
