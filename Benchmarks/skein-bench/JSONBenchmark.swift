import SkeinKit

/// `skein-bench json [ITERATIONS]`: serializes what the engine serializes for every request,
/// a chat request body in the canonical form hashed for the request key and a stored reply
/// in the compact form, plus a 2 KB object with non-ASCII text in Jinja2's `tojson` style.
/// Prints `{"benchmark":"json-serialize","request_us":…,"reply_us":…,"tojson_us":…}`
/// (median microseconds per serialization).
enum JSONBenchmark {
    static func run(_ args: [String]) async throws {
        let iterations = args.first.flatMap { Int($0) } ?? 20_000
        let request: JSONValue = [
            "model": "meta-llama/llama-3.1-8b-instruct", "temperature": 0.2, "max_tokens": 16, "top_p": 0.9,
            "messages": [
                ["role": "system", "content": "You are a concise assistant. Answer in one word."],
                ["role": "user", "content": "Summarize item 1234 in one word.\nThe item is \"quoted\" text."],
            ],
        ]
        let reply: JSONValue = [
            "id": "chatcmpl-7f3a", "object": "chat.completion", "created": 1_763_800_000, "model": "test-model",
            "choices": [["index": 0, "finish_reason": "stop", "message": ["role": "assistant", "content": "echo: Summarize item 1234 in one word."]]],
            "usage": ["prompt_tokens": 6, "completion_tokens": 7, "total_tokens": 13],
        ]
        var document = JSONValue.JSONObject()
        for index in 0..<20 {
            document["field \(index)"] = .string("Résumé des travaux — partie \(index): « texte » with a tab\there and 🧵.")
        }
        let tojson = JSONValue.SerializationStyle(spacedSeparators: true, sortKeys: true, asciiOnly: true)
        let figures = [
            ("request_us", measure(iterations) { request.serialized(.canonical) }),
            ("reply_us", measure(iterations) { reply.serialized() }),
            ("tojson_us", measure(iterations / 10) { JSONValue.object(document).serialized(tojson) }),
        ]
        print(#"{"benchmark":"json-serialize","# + figures.map { #""\#($0.0)":\#($0.1)"# }.joined(separator: ",")
            + #","iterations":\#(iterations)}"#)
    }

    /// The median time of `body`, in microseconds to 0.01, over batches of 10 calls.
    private static func measure(_ iterations: Int, _ body: () -> String) -> Double {
        let clock = ContinuousClock()
        var bytes = 0
        var samples: [Duration] = []
        for _ in 0..<max(1, iterations / 10) {
            let start = clock.now
            for _ in 0..<10 { bytes &+= body().utf8.count }
            samples.append((clock.now - start) / 10)
        }
        samples.sort()
        precondition(bytes > 0)
        let median = samples[samples.count / 2].components
        let value = Double(median.seconds) * 1e6 + Double(median.attoseconds) / 1e12
        return (value * 100).rounded() / 100
    }
}
