/// One server-sent event.
public struct SSEEvent: Sendable, Hashable {
    /// The `event:` field; nil when the event has none (the standard's "message").
    public var event: String?
    /// The `data:` lines, joined by newlines.
    public var data: String
    /// The `id:` field, when given.
    public var id: String?
    /// The `retry:` field in milliseconds, when given.
    public var retry: Int?

    public init(event: String? = nil, data: String, id: String? = nil, retry: Int? = nil) {
        self.event = event
        self.data = data
        self.id = id
        self.retry = retry
    }
}

/// An incremental parser for `text/event-stream` (the WHATWG "server-sent events" format).
///
/// Feed it bytes as they arrive, split anywhere, even inside a line ending or a UTF-8
/// sequence; it returns each event once the blank line that ends it has arrived. Lines
/// end with LF, CRLF or CR; `:` starts a comment; `data:` lines accumulate.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    /// The last byte consumed was a CR, so an LF right after it ends nothing new.
    private var afterCarriageReturn = false
    private var atStart = true
    private var eventType: String?
    private var data: [UInt8] = []
    private var hasData = false
    private var lastEventID: String?
    private var retry: Int?

    public init() {}

    /// Consumes the next bytes of the stream.
    /// - Returns: the events they complete, in order.
    public mutating func consume(_ bytes: some Sequence<UInt8>) -> [SSEEvent] {
        var events: [SSEEvent] = []
        for byte in bytes {
            if afterCarriageReturn {
                afterCarriageReturn = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                endLine(into: &events)
            case UInt8(ascii: "\r"):
                afterCarriageReturn = true
                endLine(into: &events)
            default:
                line.append(byte)
            }
        }
        return events
    }

    /// Ends the stream.
    /// - Returns: an event whose data lines arrived complete but whose closing blank line
    ///   did not; servers that close the connection right after the last `data:` line
    ///   are common enough to be lenient about. A half-received line is dropped.
    public mutating func finish() -> [SSEEvent] {
        var events: [SSEEvent] = []
        dispatch(into: &events)
        line.removeAll()
        afterCarriageReturn = false
        return events
    }

    private mutating func endLine(into events: inout [SSEEvent]) {
        defer { line.removeAll(keepingCapacity: true) }
        if atStart {
            atStart = false
            // A UTF-8 byte order mark may open the stream.
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        }
        if line.isEmpty {
            dispatch(into: &events)
            return
        }
        if line[0] == UInt8(ascii: ":") { return }
        let name: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            name = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            name = line[...]
            value = []
        }
        switch String(decoding: name, as: UTF8.self) {
        case "data":
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
        case "event":
            eventType = String(decoding: value, as: UTF8.self)
        case "id":
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
                retry = Int(String(decoding: value, as: UTF8.self))
            }
        default:
            break  // The standard says to ignore unknown fields.
        }
    }

    private mutating func dispatch(into events: inout [SSEEvent]) {
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            eventType = nil
        }
        guard hasData else { return }
        let type = eventType.flatMap { $0.isEmpty ? nil : $0 }
        events.append(
            SSEEvent(event: type, data: String(decoding: data, as: UTF8.self), id: lastEventID, retry: retry))
    }
}
