// libFuzzer entry point: the server-sent events parser.
//
// Input: the first byte chooses how the rest is split into chunks (as network reads split
// a stream anywhere, even inside a CRLF or a UTF-8 sequence); the rest is the stream.
// Besides not crashing, the parser must give the same events however the stream is split,
// so the chunked parse is checked against a parse of the whole stream at once.
import Foundation
import FuzzDriver
import SkeinKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSSE(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let seed = Int(bytes[0])
    let stream = bytes[1...]

    var whole = SSEParser()
    let expected = whole.consume(stream) + whole.finish()

    var chunked = SSEParser()
    var events: [SSEEvent] = []
    var start = stream.startIndex
    var step = 0
    while start < stream.endIndex {
        // Chunk lengths 1...8 cycling from the seed, with a long chunk now and then.
        let length = (seed >> 4) == step % 16 ? 64 : 1 + (seed &+ step) % 8
        let end = min(stream.endIndex, start + length)
        events += chunked.consume(stream[start..<end])
        start = end
        step += 1
    }
    events += chunked.finish()

    if events != expected {
        fatalError("SSE events depend on how the stream was split:\nwhole:   \(expected)\nchunked: \(events)")
    }
    return 0
}

@main enum Main {
    static func main() {
        exit(skein_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzSSE))
    }
}
