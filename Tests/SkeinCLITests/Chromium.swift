import Foundation
import SkeinTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's headless Chromium (installed by `scripts/test`), for the tests that open a report
/// the way a person's browser does: scripts run, the DOM is dumped after them.
enum Chromium {
    /// The browser, or nil when it is not installed.
    static let path: String? = {
        let environment = ProcessInfo.processInfo.environment
        let candidates = [environment["SKEIN_CHROMIUM"]].compactMap { $0 } + ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Said when the tests that need Chromium skip.
    static var missingReason: Comment {
        Comment(rawValue: ProcessInfo.processInfo.environment["SKEIN_CHROMIUM_MISSING"]
            ?? "chromium is not installed; scripts/test installs Debian's chromium package, or set SKEIN_CHROMIUM to a browser")
    }

    /// Whether the browser is here; when not, says on stderr that the Chromium half of the
    /// calling test is skipped and why (the text half still ran).
    static func isAvailable(_ test: String = #function) -> Bool {
        if path != nil { return true }
        FileHandle.standardError.write(Data("skipped the Chromium checks of \(test): \(missingReason.rawValue)\n".utf8))
        return false
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
        /// The URLs of every request the page made (file: ones included), from Chromium's network log.
        var requestedURLs: [String]
    }

    /// Opens `file` headless with `arguments` (`--dump-dom`, `--screenshot=...`) in a fresh
    /// profile with a network log. Chromium runs in its own session and process group, which
    /// is killed afterwards whatever happened, so no renderer or zygote outlives the test.
    static func open(_ file: String, _ arguments: [String], windowSize: String = "1400,2000",
                     timeout: Duration = .seconds(120)) async throws -> Result {
        guard let path else { throw CocoaError(.fileNoSuchFile) }
        let profile = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: profile) }
        let netLog = profile.appendingPathComponent("net.json").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = [
            path, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=\(profile.path)", "--log-net-log=\(netLog)", "--enable-logging=stderr", "--v=0",
            "--window-size=\(windowSize)", "--hide-scrollbars",
        ] + arguments + [URL(fileURLWithPath: file).absoluteString]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let started = ContinuousClock.now
        try process.run()
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            kill(-pid, SIGKILL)
        }
        let finished = await ChildProcess.finish(process, output: out, errors: err)
        let elapsed = ContinuousClock.now - started
        watchdog.cancel()
        kill(-pid, SIGKILL)  // anything of its group still running
        // The page's own requests: those in the network partition of a file:// page (the
        // browser's background requests, to update servers and the like, are in none).
        var urls: [String] = []
        if let data = FileManager.default.contents(atPath: netLog),
            let log = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let events = log["events"] as? [[String: Any]]
        {
            for event in events {
                guard let params = event["params"] as? [String: Any], let url = params["url"] as? String,
                    let partition = params["network_isolation_key"] as? String, partition.contains("file://")
                else { continue }
                urls.append(url)
            }
        }
        return Result(
            status: finished.status, stdout: finished.text, stderr: finished.errorText,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, requestedURLs: urls)
    }
}
