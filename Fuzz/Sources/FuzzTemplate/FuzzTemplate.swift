// libFuzzer entry point: the template lexer, parser, reference collector and renderer.
//
// Input: `CONTEXT \0 TEMPLATE` or just `TEMPLATE` (see `FuzzWork.renderTemplate`, which the
// regression tests replay too); errors are expected, crashes and hangs are not.
import Foundation
import FuzzDriver
import FuzzWork

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTemplate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    return FuzzWork.renderTemplate(Array(UnsafeBufferPointer(start: data, count: size))) ? 0 : -1
}

@main enum Main {
    static func main() {
        exit(skein_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzTemplate))
    }
}
