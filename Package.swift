// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Skein",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SkeinCore", targets: ["SkeinCore"]),
        .library(name: "SkeinKit", targets: ["SkeinKit"]),
        .library(name: "SkeinTesting", targets: ["SkeinTesting"]),
        .executable(name: "skein", targets: ["skein"]),
        .executable(name: "skein-test-server", targets: ["skein-test-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Debian's libyaml (libyaml-dev): the YAML reader composes its events itself.
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // The pure core: diagnostics, JSON and JSON Schema, templates, the pipeline model and
        // its loading, the graph and the plan. No HTTP, TLS, SQLite or crypto, so the fuzz
        // targets and editor tooling link it alone (DESIGN.md section 3, "Targets").
        .target(
            name: "SkeinCore",
            dependencies: [
                "CYAML",
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // Process start for tools that run: fork and exec with PR_SET_PDEATHSIG, which
        // neither Foundation's Process nor posix_spawn can set (see spawn.c).
        .target(name: "CSkeinSpawn"),
        // The I/O: provider dialects and the transport, execution, datasets, the result store.
        .target(
            name: "SkeinKit",
            dependencies: [
                "SkeinCore",
                "CSkeinSpawn",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OrderedCollections", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .target(
            name: "SkeinTesting",
            dependencies: [
                "SkeinKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "skein",
            dependencies: [
                "SkeinKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "skein-test-server",
            dependencies: [
                "SkeinTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "skein-bench",
            dependencies: [
                "SkeinKit",
                "SkeinTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/skein-bench"
        ),
        .testTarget(
            name: "SkeinKitTests",
            dependencies: [
                "SkeinCore", "SkeinKit", "SkeinTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SkeinCLITests",
            dependencies: ["SkeinCore", "SkeinKit", "SkeinTesting"],
            // The pinned --help texts, read from the source tree by HelpTextTests.
            exclude: ["Help"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
