import Testing

@testable import SkeinCore
@testable import SkeinKit

@Suite struct ClientSSEParserTests {
    /// Feeds `text` one byte at a time, then ends the stream.
    private func parseByteByByte(_ text: String) -> [SSEEvent] {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for byte in Array(text.utf8) { events += parser.consume([byte]) }
        return events + parser.finish()
    }

    /// Feeds `text` whole.
    private func parseWhole(_ text: String) -> [SSEEvent] {
        var parser = SSEParser()
        return parser.consume(Array(text.utf8)) + parser.finish()
    }

    @Test func dataLinesAndBlankLineEndAnEvent() {
        let text = "data: {\"a\":1}\n\ndata: [DONE]\n\n"
        let expected = [SSEEvent(data: "{\"a\":1}"), SSEEvent(data: "[DONE]")]
        #expect(parseWhole(text) == expected)
        #expect(parseByteByByte(text) == expected)
    }

    @Test func multiLineDataIsJoinedWithNewlines() {
        #expect(parseByteByByte("data: first\ndata: second\ndata:third\n\n") == [SSEEvent(data: "first\nsecond\nthird")])
    }

    @Test func eventIDAndRetryFields() {
        let text = "event: error\nid: 7\nretry: 1500\ndata: {\"error\":{}}\n\n"
        #expect(parseByteByByte(text) == [SSEEvent(event: "error", data: "{\"error\":{}}", id: "7", retry: 1500)])
    }

    @Test func eventTypeResetsAfterEachEvent() {
        let text = "event: ping\ndata: 1\n\ndata: 2\n\n"
        #expect(parseByteByByte(text) == [SSEEvent(event: "ping", data: "1"), SSEEvent(data: "2")])
    }

    @Test func commentsAreIgnored() {
        let text = ": OPENROUTER PROCESSING\n\n:keep-alive\ndata: x\n\n"
        #expect(parseByteByByte(text) == [SSEEvent(data: "x")])
    }

    @Test func crlfAndLoneCRAreLineEndings() {
        let crlf = "data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n"
        #expect(parseByteByByte(crlf) == [SSEEvent(data: "a\nb"), SSEEvent(data: "c")])
        #expect(parseByteByByte("data: a\r\rdata: b\r\r") == [SSEEvent(data: "a"), SSEEvent(data: "b")])
    }

    @Test func crlfSplitAcrossChunksIsOneLineEnding() {
        var parser = SSEParser()
        var events = parser.consume(Array("data: a\r".utf8))
        events += parser.consume(Array("\n".utf8))
        // Had the LF counted as a second line ending, the event would be out already.
        #expect(events.isEmpty)
        events += parser.consume(Array("\r\n".utf8))
        #expect(events == [SSEEvent(data: "a")])
    }

    @Test func everySplitPointGivesTheSameEvents() {
        let text = "event: message\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"héllo 🌍\"}}]}\r\n\r\n: c\ndata: [DONE]\n\n"
        let bytes = Array(text.utf8)
        let expected = parseWhole(text)
        #expect(expected.count == 2)
        for split in 0...bytes.count {
            var parser = SSEParser()
            let events = parser.consume(bytes[..<split]) + parser.consume(bytes[split...]) + parser.finish()
            #expect(events == expected, "split at \(split)")
        }
    }

    @Test func fieldWithoutColonAndSpaceHandling() {
        // `data` alone is an empty data line; only one leading space is removed.
        #expect(parseByteByByte("data\n\n") == [SSEEvent(data: "")])
        #expect(parseByteByByte("data:  two spaces\n\n") == [SSEEvent(data: " two spaces")])
    }

    @Test func unknownFieldsAndEmptyEventsAreIgnored() {
        #expect(parseByteByByte("foo: bar\n\n\n\nevent: x\n\n").isEmpty)
    }

    @Test func byteOrderMarkAtTheStartIsSkipped() {
        #expect(parseByteByByte("\u{FEFF}data: x\n\n") == [SSEEvent(data: "x")])
    }

    @Test func finishFlushesCompleteLinesButDropsAHalfLine() {
        #expect(parseByteByByte("data: done\n") == [SSEEvent(data: "done")])
        #expect(parseByteByByte("data: cut off mid-li").isEmpty)
    }
}
