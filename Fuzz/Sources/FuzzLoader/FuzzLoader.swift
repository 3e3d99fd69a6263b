// libFuzzer entry point: the pipeline loader, then everything `skein validate` and
// `skein graph` do with a loaded file (`FuzzWork.load`, which the regression tests replay too).
//
// Input: the bytes of a pipeline file. Inputs that are not UTF-8 are rejected (-1), as
// `PipelineLoader.load(path:)` refuses them before parsing.
import Foundation
import FuzzDriver
import FuzzWork

/// An empty directory with one prompt file, so `{file: ...}` references resolve to
/// something without the fuzzer reading the rest of the disk (escapes are refused).
let workingDirectory: String = {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("skein-fuzz-loader-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: directory + "/prompts", withIntermediateDirectories: true)
    try? "Summarize {{ inputs.article }}\n".write(toFile: directory + "/prompts/a.md", atomically: true, encoding: .utf8)
    return directory
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLoader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else {
        return -1
    }
    FuzzWork.load(text, workingDirectory: workingDirectory)
    return 0
}

@main enum Main {
    static func main() {
        exit(skein_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzLoader))
    }
}
