import Foundation
import Testing
@testable import SkeinCore
@testable import SkeinKit

@Suite struct PipelineLoaderTests {
    let loader = PipelineLoader(configuration: .init(workingDirectory: TestPaths.fixtures.path))

    /// Every malformed fixture's diagnostics, rendered with source excerpts and carets,
    /// equal the `.expected` file beside it. `SKEIN_UPDATE_FIXTURES=1` rewrites them.
    @Test(arguments: ["malformed", "graph", "warnings"].flatMap { folder in
        ((try? FileManager.default.contentsOfDirectory(atPath: TestPaths.fixture(folder))) ?? [])
            .filter { $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
    })
    func malformedFixture(_ name: String) throws {
        let path = TestPaths.fixture(name)
        let result = PipelineValidator(loader: loader).validate(path: path)
        #expect(result.hasErrors == !name.hasPrefix("warnings/"), "\(name): errors expected only outside warnings/")
        #expect(!result.diagnostics.isEmpty)
        var renderer = DiagnosticRenderer()
        let rendered = renderer.renderAll(result.diagnostics)
            .replacingOccurrences(of: TestPaths.fixtures.path + "/", with: "")
            .replacingOccurrences(of: TestPaths.fixtures.path, with: "<fixtures>") + "\n"
        let expectedPath = path.replacingOccurrences(of: ".yaml", with: ".expected")
        if ProcessInfo.processInfo.environment["SKEIN_UPDATE_FIXTURES"] == "1" {
            try rendered.write(toFile: expectedPath, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
        #expect(rendered == expected)
    }

    @Test func thereAreAtLeastTwentyMalformedFixtures() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: TestPaths.fixture("malformed"))
        #expect(names.filter { $0.hasSuffix(".yaml") }.count >= 20)
    }

    @Test func billionLaughsIsRefusedQuickly() {
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            let result = loader.load(path: TestPaths.fixture("malformed/billion-laughs.yaml"))
            #expect(result.diagnostics.first?.message.contains("refusing to expand") == true)
        }
        #expect(elapsed < .seconds(1))
    }

    @Test func oversizedFileIsRefusedBeforeParsing() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("skein-huge-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var text = "version: 1\nsteps:\n  a:\n    prompt: |\n"
        let line = "      " + String(repeating: "x", count: 1000) + "\n"
        text.reserveCapacity(11 << 20)
        while text.utf8.count <= 10 << 20 { text += line }
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let result = loader.load(path: path)
        #expect(result.diagnostics.map(\.message) == ["file is 10.0 MiB; pipeline files are limited to 10 MiB"])
    }

    @Test func loadsEveryPartOfAStep() throws {
        let text = """
            version: 1
            name: demo
            defaults:
              model: m1
              temperature: 0.3
            providers:
              novita:
                requests_per_minute: 60
              mine:
                base_url: http://127.0.0.1:9999/v1/
                api_key_env: MY_KEY
                structured_outputs: json_object
            inputs:
              article: {type: string, description: Text}
              languages: {type: array, items: {type: string}, default: [French, German]}
            env: [HOME]
            steps:
              summarize:
                system: Be brief.
                prompt: |
                  Summarize:
                  {{ inputs.article }}
                top_p: 0.9
                top_k: 40
                min_p: 0.05
                presence_penalty: 0.5
                frequency_penalty: -0.5
                repetition_penalty: 1.1
                max_tokens: 100
                stop: END
                seed: 7
                extra: {logprobs: true}
                retries: 2
                timeout: 30s
                cache: false
              translate:
                provider: mine
                for_each: "{{ inputs.languages }}"
                as: language
                max_concurrency: 2
                needs: summarize
                when: "{{ inputs.article | length > 10 }}"
                output: {schema: {type: object, required: [text], properties: {text: {type: string}}}}
                reasoning: drop
                messages:
                  - role: user
                    content:
                      - text: "Translate into {{ language }}"
                      - image_url: https://example.com/a.png
                tools:
                  - name: lookup
                    description: Look up a word
                    parameters: {type: object}
                tool_choice: auto
            outputs:
              summary: "{{ steps.summarize.output }}"
            """
        let result = loader.load(text: text, path: "demo.yaml")
        #expect(result.diagnostics == [])
        let pipeline = try #require(result.pipeline)
        #expect(pipeline.name == "demo")
        #expect(pipeline.defaults.sampling.temperature == 0.3)
        #expect(pipeline.providers["novita"]?.value.requestsPerMinute == 60)
        #expect(pipeline.providers["novita"]?.value.baseURL == "https://api.novita.ai/v3/openai")
        #expect(pipeline.providers["mine"]?.value.baseURL == "http://127.0.0.1:9999/v1")
        #expect(pipeline.providers["mine"]?.value.structuredOutputs == .jsonObject)
        #expect(pipeline.inputs["languages"]?.defaultValue == ["French", "German"])
        #expect(pipeline.inputs["article"]?.isRequired == true)
        #expect(pipeline.environment.map(\.value) == ["HOME"])
        let summarize = try #require(pipeline.steps["summarize"])
        #expect(summarize.sampling == SamplingParameters(
            topP: 0.9, topK: 40, minP: 0.05, presencePenalty: 0.5, frequencyPenalty: -0.5, repetitionPenalty: 1.1,
            maxTokens: 100, stop: ["END"], seed: 7))
        #expect(summarize.prompt?.text == "Summarize:\n{{ inputs.article }}\n")
        #expect(summarize.timeout == .seconds(30))
        #expect(summarize.cache == false)
        #expect(summarize.retries == 2)
        #expect(summarize.extra == ["logprobs": true])
        let translate = try #require(pipeline.steps["translate"])
        #expect(translate.loopVariable?.value == "language")
        #expect(translate.needs.map(\.value) == ["summarize"])
        #expect(translate.reasoning == .drop)
        #expect(translate.tools?.first?.name == "lookup")
        #expect(translate.toolChoice == "auto")
        guard case .schema(let schema, _) = translate.output else { Issue.record("expected a schema output"); return }
        #expect(schema["required"] == ["text"])
        #expect(translate.messages?.first?.role == .user)
        #expect(pipeline.outputs["summary"]?.template.text == "{{ steps.summarize.output }}")
    }

    @Test func blockScalarTemplatesMapToTheirFileLines() throws {
        let text = """
            version: 1
            steps:
              a:
                prompt: |
                  first line
                    second {{ x }}
                system: 'quoted {{ y }}'
            """
        let pipeline = try #require(loader.load(text: text, path: "p.yaml").pipeline)
        let prompt = try #require(pipeline.steps["a"]?.prompt)
        #expect(prompt.map.location(line: 1, column: 1) == SourceLocation(file: "p.yaml", line: 5, column: 7))
        #expect(prompt.map.location(line: 2, column: 3) == SourceLocation(file: "p.yaml", line: 6, column: 9))
        let system = try #require(pipeline.steps["a"]?.system)
        #expect(system.map.location(line: 1, column: 8) == SourceLocation(file: "p.yaml", line: 7, column: 21))
    }

    @Test func promptFilesAreReadRelativeToThePipeline() throws {
        let result = loader.load(path: TestPaths.fixture("valid/prompt-file.yaml"))
        #expect(result.diagnostics == [])
        let prompt = try #require(result.pipeline?.steps["summarize"]?.prompt)
        #expect(prompt.text.hasPrefix("Summarize the article"))
        #expect(prompt.file == "valid/prompts/summarize.md")
        #expect(prompt.map.location(line: 3, column: 2) == SourceLocation(file: "valid/prompts/summarize.md", line: 3, column: 2))
    }

    @Test func yamlOneOneBooleansStayStrings() throws {
        let text = "version: 1\nsteps:\n  a:\n    prompt: no\n"
        let pipeline = try #require(loader.load(text: text, path: "p.yaml").pipeline)
        #expect(pipeline.steps["a"]?.prompt?.text == "no")
    }
}
