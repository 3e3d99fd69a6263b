import SkeinKit

/// `skein-bench templates [ITERATIONS]`: renders a ~20 KB prompt template with 200
/// substitutions, filters and a loop over 100 items, parsed once and rendered many times.
/// Prints `{"benchmark":"template-render","median_us":…,"min_us":…}` (microseconds per
/// render; the minimum is the steadier figure on a busy machine).
enum TemplateBenchmark {
    static func run(_ args: [String]) async throws {
        let iterations = args.first.flatMap { Int($0) } ?? 2_000
        let (source, context) = workload()
        let template = try Template(source)
        var outputBytes = 0
        for _ in 0..<min(100, iterations) { outputBytes = try template.render(context).utf8.count }  // warm-up
        let clock = ContinuousClock()
        var samples: [Duration] = []
        samples.reserveCapacity(iterations)
        for _ in 0..<iterations {
            let start = clock.now
            let output = try template.render(context)
            samples.append(clock.now - start)
            outputBytes = output.utf8.count
        }
        samples.sort()
        let median = samples.isEmpty ? .zero : samples[samples.count / 2]
        let minimum = samples.first ?? .zero
        print(
            #"{"benchmark":"template-render","median_us":\#(microseconds(median)),"min_us":\#(microseconds(minimum)),"#
                + #""iterations":\#(iterations),"template_bytes":\#(source.utf8.count),"output_bytes":\#(outputBytes)}"#
        )
    }

    private static func microseconds(_ duration: Duration) -> Double {
        let components = duration.components
        let value = Double(components.seconds) * 1e6 + Double(components.attoseconds) / 1e12
        return (value * 10).rounded() / 10
    }

    /// A long prompt: paragraphs of text with 200 substitutions through paths, filters and
    /// arithmetic, and a list rendered by a loop over 100 items.
    static func workload() -> (String, TemplateContext) {
        let filler = "The quick brown fox jumps over the lazy dog while the editor reviews the draft. "
        let substitutions = [
            "{{ inputs.title }}", "{{ steps.summarize.output.headline | upper }}",
            "{{ inputs.author | default('anonymous') }}",
            "{{ inputs.count + 1 }}", "{{ steps.summarize.output.tags | join(', ') }}", "{{ inputs.language | lower }}",
            "{{ steps.extract.output.summary | truncate(60) }}", "{{ inputs.tone ~ ' and ' ~ inputs.audience }}",
        ]
        var source = "You are a careful editor.\n\n"
        for index in 0..<200 {
            source += filler + substitutions[index % substitutions.count] + " "
            if index % 4 == 3 { source += "\n\n" }
        }
        source += """

            Items to review:
            {% for item in inputs.items -%}
            {{ loop.index }}. {{ item.name | trim }} (score {{ item.score }}){% if item.flagged %} [flagged]{% endif %}
            {% endfor %}
            {%- if inputs.notes is defined %}Notes: {{ inputs.notes }}{% endif %}
            """
        var items: [JSONValue] = []
        for index in 0..<100 {
            items.append([
                "name": .string("  item number \(index)  "), "score": .int(index * 7 % 100),
                "flagged": .bool(index % 9 == 0),
            ])
        }
        let context = TemplateContext([
            "inputs": [
                "title": "Quarterly report", "author": "Ada", "count": 41, "language": "English", "tone": "formal",
                "audience": "executives", "items": .array(items),
            ],
            "steps": [
                "summarize": ["output": ["headline": "Revenue grew", "tags": ["finance", "q3", "growth"]]],
                "extract": [
                    "output": ["summary": "A long summary of the article that goes on and on about many details."]
                ],
            ],
        ])
        return (source, context)
    }
}
