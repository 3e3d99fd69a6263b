// libFuzzer entry point: the server-sent events parser.
//
// Input: the first byte chooses how the rest is split into chunks; the rest is the stream.
// Besides not crashing, the parser must give the same events however the stream is split
// (`FuzzWork.sseEvents`, which the regression tests replay too).
import Foundation
import FuzzDriver
import FuzzWork

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSSE(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let (whole, chunked) = FuzzWork.sseEvents(Array(UnsafeBufferPointer(start: data, count: size)))
    if whole != chunked {
        fatalError("SSE events depend on how the stream was split:\nwhole:   \(whole)\nchunked: \(chunked)")
    }
    return 0
}

@main enum Main {
    static func main() {
        exit(skein_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzSSE))
    }
}
