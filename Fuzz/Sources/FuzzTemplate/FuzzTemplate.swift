// libFuzzer entry point: the template lexer, parser, reference collector and renderer.
//
// Input: `CONTEXT \0 TEMPLATE` or just `TEMPLATE`. CONTEXT, when present and a JSON
// object, adds variables to the fixed context below (which has the shapes a pipeline's
// templates see: inputs, steps with their fields, env, a for_each item). The template is
// parsed, then rendered and evaluated; errors are expected, crashes and hangs are not.
import Foundation
import FuzzDriver
import SkeinKit

let baseContext: [String: JSONValue] = [
    "inputs": [
        "article": "First paragraph. It has two sentences.\n\nSecond paragraph, longer than the first one.\nA new line.",
        "languages": ["French", "German", "日本語"],
        "n": 3, "x": 2.5, "big": .int(Int.max), "small": .int(Int.min), "flag": true, "nothing": nil,
        "empty": "", "list": [1, 2.5, "three", nil, true, [4], ["k": "v"]],
        "obj": ["a": 1, "b": [1, 2], "c": ["d": "e"]],
    ],
    "steps": [
        "summarize": [
            "output": "- one\n- two {{ not a template }}\n- three", "reasoning": "thinking", "status": "finished",
            "model": "m", "finish_reason": "stop", "usage": ["prompt_tokens": 10, "completion_tokens": 5],
            "tool_calls": [["name": "f", "arguments": ["q": "x"]]],
        ],
        "extract": ["output": ["headline": "Title", "tags": ["a", "b"], "score": 0.75], "status": "finished"],
        "fan": ["output": ["x", "y", "z"], "status": "skipped"],
    ],
    "env": ["HOME": "/home/user"],
    "language": "French",
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTemplate(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var variables = baseContext
    var source = bytes[...]
    if let separator = bytes.firstIndex(of: 0) {
        source = bytes[(separator + 1)...]
        if case .object(let extra)? = try? JSONValue(parsing: bytes[..<separator]) {
            for (key, value) in extra { variables[key] = value }
        }
    }
    guard let text = String(validating: source, as: UTF8.self) else { return -1 }
    guard let template = try? Template(text) else { return 0 }
    _ = template.references
    let context = TemplateContext(variables)
    _ = try? template.render(context)
    _ = try? template.evaluate(context)
    return 0
}

@main enum Main {
    static func main() {
        exit(skein_fuzz_main(CommandLine.argc, CommandLine.unsafeArgv, fuzzTemplate))
    }
}
