import Foundation
import SkeinKit
import SkeinTesting
import Testing

/// `skein report` and `skein test --html` through the real binary: reports of real runs
/// against the test server (a diamond with a `for_each`, a failed step, a retried 429, a
/// hostile reply, a megabyte reply, a test run with failures, a comparison), checked as
/// text and, when Chromium is installed, loaded in it: the DOM after the scripts ran holds
/// the steps, outputs, verdicts and errors, no script of the data ran, no request left the
/// page, and a screenshot is left for a person under .build/report-screenshots.
@Suite(.serialized) struct ReportCLITests {
    static let secret = "sk-live-REPORTKEY0123456789"
    /// Markup a model might write: none of it may run, all of it must show as text.
    static let hostile = """
        <script>document.title='pwned'</script></pre></script><!-- <img src=x onerror="document.body.setAttribute('data-pwned','1')"> \
        <svg onload="document.body.setAttribute('data-pwned','2')"></svg> & done
        """

    static let diamond = """
        inputs:
          topic: {type: string}
          items: {type: array, items: {type: string}, default: [one, two, three]}
        steps:
          plan:
            prompt: "plan {{ inputs.topic }}"
          each:
            for_each: "{{ inputs.items }}"
            as: thing
            prompt: "expand {{ thing }} after {{ steps.plan.output }}"
          hostile:
            prompt: "HOSTILE {{ steps.plan.output }}"
          huge:
            prompt: "HUGE {{ inputs.topic }}"
          join:
            prompt: "join {{ steps.each.output }} {{ steps.hostile.output }}"
          broken:
            prompt: "BROKEN {{ steps.plan.output }}"
        outputs:
          joined: "{{ steps.join.output }}"
        """

    static func script(_ server: SkeinTestServer) async {
        await server.addRule(ReplyRule("hostile", match: .init(lastUserMessageContains: "HOSTILE"), action: .text(hostile)))
        await server.addRule(ReplyRule(
            "huge", match: .init(lastUserMessageContains: "HUGE"), action: .text(String(repeating: "0123456789abcdef\n", count: 65_536))))
        await server.addRule(ReplyRule(
            "broken", match: .init(lastUserMessageContains: "BROKEN"), action: .status(400, message: "the model refused this prompt")))
        await server.addRule(ReplyRule(
            "limited", match: .init(lastUserMessageContains: "expand two"), times: 1, action: .rateLimited(retryAfter: .milliseconds(20))))
    }

    static let pricing = ["pricing": #"{"*": {input_per_million: 1000, output_per_million: 2000}}"#]

    /// Keeps a screenshot where a person can look at it after the run.
    static func keep(_ screenshot: String, as name: String) {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/report-screenshots")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let target = folder.appendingPathComponent(name).path
        try? FileManager.default.removeItem(atPath: target)
        try? FileManager.default.copyItem(atPath: screenshot, toPath: target)
    }

    @Test func aRunsReportHoldsItsStepsRequestsAndCostAndEscapesWhatTheModelWrote() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await Self.script(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(
                Self.diamond, server: server, in: directory, apiKeyEnvironment: "SKEIN_REPORT_TEST_KEY", providerSettings: Self.pricing)
            let environment = ["SKEIN_REPORT_TEST_KEY": Self.secret]
            let run = try await CLI.run(["run", path, "-i", "topic=rivers", "--keep-going"], in: directory, environment: environment)
            #expect(run.status == 1, "\(run.stderr)")

            let report = try await CLI.run(["report"], in: directory, environment: environment)
            #expect(report.status == 0, "\(report.stderr)")
            #expect(report.stderr.hasPrefix("report of run 1 written to skein-report-1.html ("), "\(report.stderr)")
            let file = directory.appendingPathComponent("skein-report-1.html").path
            let html = try String(contentsOfFile: file, encoding: .utf8)

            // The model's markup is in the page only as escaped data; the key is nowhere.
            #expect(!html.contains("<script>document.title"))
            #expect(!html.contains("<img src=x"))
            #expect(!html.contains("<svg onload"))
            #expect(html.contains(#"\u003cscript\u003edocument.title='pwned'\u003c/script\u003e\u003c/pre\u003e"#))
            #expect(html.components(separatedBy: "<script").count - 1 == 2, "only the data block and the page's own script")
            #expect(!html.contains(Self.secret))
            #expect(!html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("url(http") && !html.contains("@import"))
            // The header: the status, the requests (one retried), and the cost at the test prices.
            #expect(html.contains(#"<span class="badge bad" id="run-status">✗ failed</span>"#))
            #expect(html.contains("<dt>cost</dt><dd>$"), "\(html.prefix(3000))")
            #expect(html.contains("1 retries"))
            // The graph: every step a node linking to its card.
            for step in ["plan", "each", "hostile", "huge", "join", "broken"] { #expect(html.contains("href=\"#step-\(step)\"")) }
            #expect(html.contains("more bytes not in the report"), "the megabyte reply is cut")
            #expect(html.utf8.count < 200_000, "\(html.utf8.count) bytes")

            guard Chromium.isAvailable() else { return }
            let screenshot = directory.appendingPathComponent("report.png").path
            let dom = try await Chromium.open(file, ["--virtual-time-budget=10000", "--dump-dom"])
            #expect(dom.status == 0, "\(dom.stderr.suffix(2000))")
            #expect(dom.stdout.contains("data-rendered=\"true\""), "the page's script did not finish: \(dom.stderr.suffix(2000))")
            #expect(!dom.stdout.contains("data-pwned=\""), "an attribute of the reply ran")
            #expect(!dom.stdout.contains("pwned</title>") && dom.stdout.contains("<title>Skein run 1: "))
            #expect(dom.stdout.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;/pre&gt;"), "the reply shows as text")
            for text in ["id=\"step-plan\"", "id=\"step-each\"", "item 2", "the model refused this prompt", "✗ failed", "echo: plan rivers"] {
                #expect(dom.stdout.contains(text), "\(text) is not in the page")
            }
            #expect(!dom.stderr.contains("Uncaught"), "\(dom.stderr.suffix(2000))")
            let remote = dom.requestedURLs.filter { !$0.hasPrefix("file:") && !$0.hasPrefix("data:") && !$0.hasPrefix("about:") }
            #expect(remote.isEmpty, "the page requested \(remote)")
            let shot = try await Chromium.open(file, ["--virtual-time-budget=10000", "--screenshot=\(screenshot)"])
            #expect(shot.status == 0)
            #expect(FileManager.default.fileExists(atPath: screenshot))
            Self.keep(screenshot, as: "run.png")
        }
    }

    @Test func againstShowsChangedOutputsSideBySideAndBadRunsAreRefused() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(StoreCLITests.chain, server: server, in: directory)
            #expect(try await CLI.run(["run", path, "-i", "text=hello"], in: directory).status == 0)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            try text.replacingOccurrences(of: "translate", with: "rephrase").write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try await CLI.run(["run", path, "-i", "text=hello"], in: directory).status == 0)

            let report = try await CLI.run(["report", "last", "--against", "last~1", "-o", "diff.html"], in: directory)
            #expect(report.status == 0, "\(report.stderr)")
            let html = try String(contentsOfFile: directory.appendingPathComponent("diff.html").path, encoding: .utf8)
            #expect(html.contains("<a href=\"#compare\">Compared with run 1</a>"))
            #expect(html.contains(#"["-","echo: translate echo: summarize hello"],["+","echo: rephrase echo: summarize hello"]"#))
            // The file changed after run 1, not after run 2: run 2's graph is the file's.
            #expect(!html.contains("has changed since this run"))
            let old = try await CLI.run(["report", "1", "-o", "old.html"], in: directory)
            #expect(old.status == 0)
            let oldHTML = try String(contentsOfFile: directory.appendingPathComponent("old.html").path, encoding: .utf8)
            #expect(oldHTML.contains("p.yaml has changed since this run: the graph is of the file as it is now"))

            let missing = try await CLI.run(["report", "9"], in: directory)
            #expect(missing.status == 1)
            #expect(missing.stderr == "error: no run 9 in '.skein/skein.sqlite'; 'skein runs list' shows the runs\n", "\(missing.stderr)")
            let badAgainst = try await CLI.run(["report", "--against", "first"], in: directory)
            #expect(badAgainst.status == 1)
            #expect(badAgainst.stderr.contains("'first' is not a run: give a run number, 'last' or 'last~N'"))
            let directoryTarget = try await CLI.run(["report", "-o", "."], in: directory)
            #expect(directoryTarget.status == 1)
            #expect(directoryTarget.stderr.contains("is a directory"), "\(directoryTarget.stderr)")

            guard Chromium.isAvailable() else { return }
            let dom = try await Chromium.open(directory.appendingPathComponent("diff.html").path, ["--virtual-time-budget=10000", "--dump-dom"])
            #expect(dom.stdout.contains(
                "<div class=\"del\">echo: translate echo: summarize hello</div><div class=\"ins\">echo: rephrase echo: summarize hello</div>"),
                "\(dom.stdout.suffix(3000))")
        }
    }

    @Test func aTestRunsReportHasTheCaseMatrixWithEveryVerdict() async throws {
        try await SkeinTestServer.withRunning(.init()) { server in
            await TestCommandTests.script(server)
            let directory = try CLI.temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let path = try CLI.writePipeline(TestCommandTests.pipeline, server: server, in: directory)
            let cases = try TestCommandTests.write(TestCommandTests.cases, "cases.yaml", in: directory)
            let test = try await CLI.run(
                ["test", path, "--cases", cases, "--vary", "temperature=0,1", "--html", "t.html", "--quiet"], in: directory)
            #expect(test.status == 1, "\(test.stderr)")
            #expect(test.stderr.contains("report of run 1 written to t.html"), "\(test.stderr)")
            let html = try String(contentsOfFile: directory.appendingPathComponent("t.html").path, encoding: .utf8)
            #expect(html.contains("<a href=\"#tests\">Test cases</a>"))
            #expect(html.contains("<dt>test</dt><dd>2 cases × 2 variants, 2 failed</dd>"), "\(html.prefix(3000))")
            #expect(html.contains(#""case":"beta case","variant":"temperature=0""#))

            let badPath = try await CLI.run(["test", path, "--cases", cases, "--html", directory.path], in: directory)
            #expect(badPath.status == 1)
            #expect(badPath.stderr.contains("--html '\(directory.path)' is a directory"), "\(badPath.stderr)")

            guard Chromium.isAvailable() else { return }
            let file = directory.appendingPathComponent("t.html").path
            let dom = try await Chromium.open(file, ["--virtual-time-budget=10000", "--dump-dom"])
            #expect(dom.stdout.contains("<th>alpha case</th>") && dom.stdout.contains("<th>beta case</th>"), "\(dom.stdout.suffix(4000))")
            #expect(dom.stdout.contains("✗ fail") && dom.stdout.contains("✓ pass"))
            #expect(dom.stdout.contains("text: contains"), "the failed assertion is named")
            #expect(dom.stdout.contains("2 of 2 cases shown · 2 of 4 cells failed"), "\(dom.stdout.suffix(4000))")
            #expect(!dom.stderr.contains("Uncaught"), "\(dom.stderr.suffix(2000))")
            let screenshot = directory.appendingPathComponent("test.png").path
            _ = try await Chromium.open(file, ["--virtual-time-budget=10000", "--screenshot=\(screenshot)"])
            Self.keep(screenshot, as: "test-run.png")
        }
    }
}
