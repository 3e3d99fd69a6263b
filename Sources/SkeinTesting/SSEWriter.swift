import Hummingbird
import NIOCore

/// Writes a server-sent-event stream at the configured cadence, ending it the way the
/// scripted action says: `data: [DONE]`, a plain end, or a dropped connection.
struct SSEWriter: Sendable {
    enum Ending: Sendable {
        /// `data: [DONE]`, then the end of the body.
        case done
        /// The end of the body with no `[DONE]`.
        case endWithoutDone
        /// The connection is closed with the body unfinished.
        case dropConnection
    }

    /// Thrown out of a response body to make Hummingbird close the connection mid-response.
    struct DroppedConnection: Error {}

    var events: [ByteBuffer]
    var ending: Ending
    /// The pause between two events.
    let interval: Duration

    static func dataEvent(_ data: String) -> ByteBuffer {
        ByteBuffer(string: "data: \(data)\n\n")
    }

    static func dataEvent(_ json: TestJSON) -> ByteBuffer {
        var bytes: [UInt8] = Array("data: ".utf8)
        json.write(into: &bytes)
        bytes.append(contentsOf: [0x0A, 0x0A])
        return ByteBuffer(bytes: bytes)
    }

    /// `event: NAME` + `data: …`, for servers that mark errors with an event name.
    static func namedEvent(_ name: String, data: String) -> ByteBuffer {
        ByteBuffer(string: "event: \(name)\ndata: \(data)\n\n")
    }

    /// `event: NAME` + `data: <json>`, the way the Messages API sends every event.
    static func namedEvent(_ name: String, json: TestJSON) -> ByteBuffer {
        var bytes: [UInt8] = Array("event: \(name)\ndata: ".utf8)
        json.write(into: &bytes)
        bytes.append(contentsOf: [0x0A, 0x0A])
        return ByteBuffer(bytes: bytes)
    }

    static let done = ByteBuffer(string: "data: [DONE]\n\n")

    /// Writes the events and the ending.
    /// - Throws: ``DroppedConnection`` when the ending drops the connection, or the writer's error
    ///   when the client went away.
    func write(to writer: inout any ResponseBodyWriter) async throws {
        if interval > .zero {
            for (index, event) in events.enumerated() {
                if index > 0 { try await Task.sleep(for: interval) }
                try await writer.write(event)
            }
        } else if !events.isEmpty {
            try await writer.write(contentsOf: events)
        }
        switch ending {
        case .done:
            if interval > .zero, !events.isEmpty { try await Task.sleep(for: interval) }
            try await writer.write(Self.done)
            try await writer.finish(nil)
        case .endWithoutDone:
            try await writer.finish(nil)
        case .dropConnection:
            throw DroppedConnection()
        }
    }
}
