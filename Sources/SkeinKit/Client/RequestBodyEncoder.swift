import NIOCore

/// Writes request bodies into `ByteBuffer`s: the text of `JSONValue.serialized(.compact)`,
/// from the same serializer (`JSONValue.write(to:)`, which appends UTF-8 bytes), without
/// building a `String` first.
enum RequestBodyEncoder {
    static func encode(_ body: JSONValue.JSONObject) -> ByteBuffer {
        ByteBuffer(bytes: bytes(of: .object(body)))
    }

    static func write(_ value: JSONValue, to buffer: inout ByteBuffer) {
        buffer.writeBytes(bytes(of: value))
    }

    private static func bytes(of value: JSONValue) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        value.write(to: &bytes)
        return bytes
    }

    /// A JSON string literal, escaped as `JSONValue.writeString` does.
    static func writeString(_ text: String, to buffer: inout ByteBuffer) {
        var bytes: [UInt8] = []
        JSONValue.writeString(text, to: &bytes)
        buffer.writeBytes(bytes)
    }
}
