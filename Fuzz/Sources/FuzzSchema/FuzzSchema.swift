// libFuzzer entry point: the JSON parser and serializer and the JSON Schema validator.
//
// Input: `SCHEMA \0 INSTANCE`, both JSON text, or a schema alone (see
// `FuzzWork.schemaProblems`, which the regression tests replay too). Besides not crashing,
// every parsed document must survive a serialize-and-parse round trip, and `validate` and
// `isValid` must agree.
import Foundation
import FuzzDriver
import FuzzWork

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSchema(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let problems = FuzzWork.schemaProblems(Array(UnsafeBufferPointer(start: data, count: size)))
    if let first = problems.first { fatalError(first) }
    return 0
}

@main enum Main {
    static func main() {
        exit(skein_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzSchema))
    }
}
