// swift-tools-version: 6.1
// libFuzzer targets for SkeinKit's parsers (see RELIABILITY.md, "Fuzzing", and scripts/fuzz).
//
// This package compiles only the parts of SkeinKit the fuzz targets reach, so a fuzz build
// does not pull in the HTTP stack or SQLite: Sources/SkeinKit here holds symlinks to
// ../Sources/SkeinKit/{Pipeline,Template,JSON,Diagnostics,Graph} and to the few Client
// files those folders use (SSEParser, ProviderConfiguration, SamplingParameters), and
// Sources/CYAML links to ../Sources/CYAML (Debian's libyaml, as the main package uses it).
//
// Build (scripts/fuzz does this):
//   swift build -c release --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
import PackageDescription

let package = Package(
    name: "SkeinFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", exact: "1.6.0"),
    ],
    targets: [
        .systemLibrary(name: "CYAML", path: "Sources/CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .target(
            name: "SkeinKit",
            dependencies: [
                "CYAML",
                .product(name: "OrderedCollections", package: "swift-collections"),
            ],
            // Lets the fuzz targets use specialized generics (SSEParser.consume takes
            // `some Sequence<UInt8>`); unspecialized, most of a run is witness calls.
            swiftSettings: [.unsafeFlags(["-cross-module-optimization"])]
        ),
        // libFuzzer's LLVMFuzzerRunDriver, called from each target's @main.
        .target(name: "FuzzDriver"),
        // What each target does with an input; Tests/SkeinKitTests links the same file.
        .target(name: "FuzzWork", dependencies: ["SkeinKit"]),
        .executableTarget(name: "FuzzLoader", dependencies: ["FuzzWork", "FuzzDriver"]),
        .executableTarget(name: "FuzzTemplate", dependencies: ["FuzzWork", "FuzzDriver"]),
        .executableTarget(name: "FuzzSSE", dependencies: ["FuzzWork", "FuzzDriver"]),
        .executableTarget(name: "FuzzSchema", dependencies: ["FuzzWork", "FuzzDriver"]),
    ],
    swiftLanguageModes: [.v6]
)
