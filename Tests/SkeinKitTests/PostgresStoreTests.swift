import Foundation
import SkeinTesting
import Testing
@testable import SkeinCore
@testable import SkeinKit

/// What only the shared store does: claims between processes, migrations and their errors,
/// connections that drop. Each test has a scratch database on the server `scripts/test`
/// starts; without one they say they were skipped and why. The semantics both stores share
/// are tested on both in `ResultStoreTests` and `StoreSemanticsTests`.
@Suite struct PostgresStoreTests {
    static func key(_ text: String) -> RequestKey {
        RequestKey(provider: ProviderConfiguration(name: "p", baseURL: "http://127.0.0.1:1/v1"),
                   request: .chat(model: "m", messages: [.user(text)]))
    }

    static func record(_ key: RequestKey, run: Int64, content: String) -> RequestRecord {
        RequestRecord(
            runID: run, step: "s", item: nil, key: key, provider: ProviderConfiguration(name: "p", baseURL: "http://127.0.0.1:1/v1"),
            api: .chat, model: "m", completion: Completion(content: content), cached: false, attempts: 1, startedAt: Date(),
            duration: .zero)
    }

    /// Two stores on one database stand for two processes: the second, asking for a request
    /// the first is fetching, waits and gets the first's reply; the server sees each request once.
    @Test func aSecondProcessWaitsForTheFirstsReplyInsteadOfAskingAgain() async throws {
        guard let database = try await PostgresScratchDatabase.create() else { return }
        defer { database.drop() }
        let first = try await PostgresResultStore.open(try PostgresURL(database.url))
        let second = try await PostgresResultStore.open(try PostgresURL(database.url))
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(400)))) { server in
            let graph = try SchedulerTests.graph(
                ResultStoreTests.chain, server: server, inputs: ResultStoreTests.textInput, outputs: ResultStoreTests.chainOutputs)
            async let a = ResultStoreTests.run(graph, store: first, inputs: ["text": "shared"])
            async let b = ResultStoreTests.run(graph, store: second, inputs: ["text": "shared"])
            let (one, two) = try await (a, b)
            #expect(one.status == .succeeded && two.status == .succeeded)
            #expect(one.outputs == two.outputs)
            #expect(await server.requests.count == 3, "each of the three requests once, not twice")
            let hits = one.results.values.map(\.cacheHits).reduce(0, +) + two.results.values.map(\.cacheHits).reduce(0, +)
            #expect(hits == 3, "the waiting process got the other's replies")
        }
        #expect(try await database.execute("SELECT count(*) FROM request_claims") == "0", "every claim was let go")
        await first.close()
        await second.close()
    }

    /// A claim is a lease: while its holder lives, another waits; a holder that was killed
    /// stops renewing, the lease runs out, and another process takes the request over.
    @Test func theClaimOfAKilledProcessRunsOutAndAnotherTakesOver() async throws {
        guard let database = try await PostgresScratchDatabase.create() else { return }
        defer { database.drop() }
        // A lease of 5 s, renewed every 1.7 s: a renewal would have to be late by over 3 s to
        // lose it (the whole suite on two cores delays tasks, not by that much).
        let holder = try await PostgresResultStore.open(try PostgresURL(database.url), leaseDuration: 5)
        let other = try await PostgresResultStore.open(try PostgresURL(database.url), leaseDuration: 5)
        let key = Self.key("claimed")
        #expect(try await holder.claim(key) == nil, "nobody held it: the holder sends it")
        // The holder renews its claim: the other waits past the lease and still waits.
        let waiting = Task { try await other.claim(key) }
        try await Task.sleep(for: .seconds(6))
        #expect(!waiting.isCancelled)
        let run = try await holder.beginRun(RunRecord(pipelinePath: "p.yaml", pipelineSHA256: "0", inputs: [:]))
        try await holder.record(Self.record(key, run: run, content: "the holder's reply"))
        #expect(try await waiting.value?.content == "the holder's reply", "the waiter got the stored reply")

        // Killed: a claim nobody renews (written as a killed process leaves it).
        let orphan = Self.key("orphaned")
        try await database.execute("""
            INSERT INTO request_claims (key, token, expires_at, host, pid)
            VALUES ('\(orphan.hex)', 'killed', extract(epoch FROM clock_timestamp()) + 1, 'another-machine', 1)
            """)
        let started = ContinuousClock.now
        #expect(try await other.claim(orphan) == nil, "the lease ran out: this process sends it")
        let waited = ContinuousClock.now - started
        #expect(waited >= .milliseconds(500), "it waited for the lease (\(waited))")
        #expect(waited < .seconds(20), "and no longer (\(waited))")

        // Killed on this machine (a run resumed where it was killed): no wait for the lease.
        let exited = Process()
        exited.executableURL = URL(fileURLWithPath: "/bin/true")
        try exited.run()
        await ChildProcess.offThePool { exited.waitUntilExit() }
        let local = Self.key("killed here")
        try await database.execute("""
            INSERT INTO request_claims (key, token, expires_at, host, pid)
            VALUES ('\(local.hex)', 'killed-here', extract(epoch FROM clock_timestamp()) + 600,
                    '\(ProcessInfo.processInfo.hostName)', \(exited.processIdentifier))
            """)
        let resumed = ContinuousClock.now
        #expect(try await other.claim(local) == nil)
        #expect(ContinuousClock.now - resumed < .seconds(60), "waited for the ten-minute lease of a process known to be gone")
        await holder.close()
        await other.close()
    }

    /// A request that ends without being recorded (cancelled) lets go of its claim.
    @Test func aReleasedClaimFreesTheRequestAtOnce() async throws {
        guard let database = try await PostgresScratchDatabase.create() else { return }
        defer { database.drop() }
        // A lease of ten minutes: waiting for it, not for a loaded machine, is what the bound tells apart.
        let first = try await PostgresResultStore.open(try PostgresURL(database.url), leaseDuration: 600)
        let second = try await PostgresResultStore.open(try PostgresURL(database.url), leaseDuration: 600)
        let key = Self.key("cancelled")
        #expect(try await first.claim(key) == nil)
        await first.release(key)
        let started = ContinuousClock.now
        #expect(try await second.claim(key) == nil)
        #expect(ContinuousClock.now - started < .seconds(60), "the released claim held the other for its lease")
        await first.close()
        await second.close()
    }

    @Test func aDatabaseAtANewerMigrationIsRefusedByName() async throws {
        guard let database = try await PostgresScratchDatabase.create() else { return }
        defer { database.drop() }
        let store = try await PostgresResultStore.open(try PostgresURL(database.url))
        await store.close()
        try await database.execute("INSERT INTO skein_migrations (name) VALUES ('v99-from-the-future')")
        for create in [true, false] {
            let error = await #expect(throws: StoreError.self) { try await PostgresResultStore.open(try PostgresURL(database.url), create: create) }
            #expect(error?.message.contains("newer Skein") == true, "\(String(describing: error))")
            #expect(error?.message.contains("v99-from-the-future") == true)
        }
    }

    @Test func readingADatabaseWithoutTheTablesSaysSoAndCreatesNothing() async throws {
        guard let database = try await PostgresScratchDatabase.create() else { return }
        defer { database.drop() }
        let error = await #expect(throws: StoreError.self) {
            try await PostgresResultStore.open(try PostgresURL(database.url), create: false)
        }
        #expect(error?.message.contains("holds no Skein store") == true, "\(String(describing: error))")
        #expect(try await database.execute("SELECT to_regclass('runs') IS NULL") == "t", "a read created tables")
    }

    @Test func aWrongPasswordAMissingDatabaseAndAnUnreachableHostAreClearWithThePasswordMasked() async throws {
        guard let server = PostgresScratchDatabase.serverURL, var components = URLComponents(string: server) else {
            FileHandle.standardError.write(Data("skipped \(#function): \(PostgresScratchDatabase.missingReason)\n".utf8))
            return
        }
        components.password = "not-the-password-9417"
        let wrong = try #require(components.string)
        let refused = await #expect(throws: StoreError.self) { try await PostgresResultStore.open(try PostgresURL(wrong, environment: [:])) }
        #expect(refused?.message.contains("cannot sign in") == true, "\(String(describing: refused))")
        #expect(refused?.message.contains("not-the-password-9417") == false)
        #expect(refused?.message.contains(":***@") == true)

        components.password = nil
        let noPassword = try #require(components.string)
        let asked = await #expect(throws: StoreError.self) {
            try await PostgresResultStore.open(try PostgresURL(noPassword, environment: ["PGPASSFILE": "/nonexistent"]))
        }
        #expect(asked?.message.contains("password") == true, "\(String(describing: asked))")

        components = try #require(URLComponents(string: server))
        components.path = "/no_such_database_skein"
        let missing = await #expect(throws: StoreError.self) { try await PostgresResultStore.open(try PostgresURL(try #require(components.string))) }
        #expect(missing?.message.contains("does not exist") == true, "\(String(describing: missing))")
        #expect(missing?.message.contains("createdb") == true)

        components = try #require(URLComponents(string: server))
        components.port = 1
        let unreachable = await #expect(throws: StoreError.self) { try await PostgresResultStore.open(try PostgresURL(try #require(components.string))) }
        #expect(unreachable?.message.contains("cannot reach") == true, "\(String(describing: unreachable))")
        #expect(unreachable?.message.contains(":***@") == true)
        #expect(unreachable?.message.contains(":\(components.password ?? "")@") == false, "the password shows")
    }

    /// The connections are killed on the server in the middle of a run: the store opens new
    /// ones and goes on; nothing committed is lost.
    @Test func aRunOutlivesItsDatabaseConnectionsBeingKilled() async throws {
        guard let database = try await PostgresScratchDatabase.create() else { return }
        defer { database.drop() }
        let store = try await PostgresResultStore.open(try PostgresURL(database.url))
        try await SkeinTestServer.withRunning(.init(latency: .fixed(.milliseconds(30)))) { server in
            let graph = try ResultStoreTests.forEachGraph(server)
            let items: [JSONValue] = (0..<60).map { .string("item \($0)") }
            let run = Task { try await ResultStoreTests.run(graph, store: store, inputs: ["items": .array(items)], options: .init(concurrency: 4)) }
            var killed = 0
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(150))
                let count = try await database.executeOnServer("""
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = '\(database.name)' AND pid <> pg_backend_pid()
                    """)
                killed += Int(count) ?? 0
            }
            let outcome = try await run.value
            #expect(killed > 0, "no connection was killed")
            #expect(outcome.status == .succeeded, "\(outcome.failedSteps.map { $0.message ?? "" })")
            #expect(await server.requests.count == 60)
            let again = try await ResultStoreTests.run(graph, store: store, inputs: ["items": .array(items)])
            #expect(again.results["each"]?.cacheHits == 60, "every reply was kept")
            #expect(await server.requests.count == 60)
        }
        await store.close()
    }

    /// `sslmode=require` encrypts (the server's own view, `pg_stat_ssl`); `verify-full`
    /// checks the certificate against `sslrootcert` and refuses one it cannot verify.
    @Test func tlsIsUsedWhenTheURLAsksForIt() async throws {
        guard let database = try await PostgresScratchDatabase.create() else { return }
        defer { database.drop() }
        guard try await database.execute("SHOW ssl") == "on", let ca = ProcessInfo.processInfo.environment["SKEIN_TEST_POSTGRES_CA"] else {
            Issue.record("the test server has no TLS: scripts/postgres starts it with ssl=on and scripts/test sets SKEIN_TEST_POSTGRES_CA")
            return
        }
        func encrypted() async throws -> Int {
            Int(try await database.executeOnServer("""
                SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                WHERE a.datname = '\(database.name)' AND s.ssl
                """)) ?? -1
        }
        let required = try await PostgresResultStore.open(try PostgresURL(database.url + "?sslmode=require"))
        _ = try await required.beginRun(RunRecord(pipelinePath: "p.yaml", pipelineSHA256: "0", inputs: [:]))
        #expect(try await encrypted() >= 1, "no encrypted connection with sslmode=require")
        await required.close()

        let verified = try await PostgresResultStore.open(try PostgresURL(database.url + "?sslmode=verify-full&sslrootcert=\(ca)"))
        #expect(try await verified.runs().count == 1)
        await verified.close()
        // Another CA: the server's certificate cannot be verified.
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("other-ca-\(UUID().uuidString).pem").path
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let made = try await ChildProcess.run(["openssl", "req", "-new", "-x509", "-days", "1", "-nodes", "-subj", "/CN=other",
                                               "-keyout", elsewhere + ".key", "-out", elsewhere])
        try #require(made.status == 0, "openssl could not make a certificate: \(made.errorText)")
        defer { try? FileManager.default.removeItem(atPath: elsewhere + ".key") }
        let refused = await #expect(throws: StoreError.self) {
            try await PostgresResultStore.open(try PostgresURL(database.url + "?sslmode=verify-full&sslrootcert=\(elsewhere)"))
        }
        #expect(refused?.message.contains("could not be verified") == true, "\(String(describing: refused))")
    }

    @Test func urlsAreReadAsLibpqReadsThem() throws {
        let url = try PostgresURL("postgres://ann:s%40cret@db.example:6543/runs?sslmode=require", environment: [:])
        #expect(url.user == "ann" && url.password == "s@cret" && url.host == "db.example" && url.port == 6543)
        #expect(url.database == "runs" && url.tls == .require)
        #expect(url.description == "postgres://ann:***@db.example:6543/runs?sslmode=require")
        let fromEnvironment = try PostgresURL("postgresql://ann@db.example/runs", environment: ["PGPASSWORD": "env-secret"])
        #expect(fromEnvironment.password == "env-secret" && fromEnvironment.port == 5432)
        #expect(!fromEnvironment.description.contains("env-secret"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("pgpass").path
        try "# comment\nother:*:*:*:wrong\ndb.example:5432:runs:ann:from\\:file\n".write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try PostgresURL("postgres://ann@db.example/runs", environment: ["PGPASSFILE": file])
        #expect(fromFile.password == "from:file")
        #expect(throws: StoreError.self) { try PostgresURL("postgres://db.example/runs?sslmode=sometimes", environment: [:]) }
        #expect(throws: StoreError.self) { try PostgresURL("postgres:///runs", environment: [:]) }
        #expect(PostgresURL.masked("cannot reach postgres://ann:hunter2@h/db") == "cannot reach postgres://ann:***@h/db")
    }
}
