// swift-tools-version: 6.1
// libFuzzer targets for SkeinKit's parsers (see RELIABILITY.md, "Fuzzing", and scripts/fuzz).
//
// The fuzz targets depend on SkeinCore, the root package's pure target, by path: a fuzz build
// compiles no HTTP stack, TLS or SQLite (DESIGN.md section 3, "Targets"). `.ci/run` builds
// this package and runs each target briefly, so it cannot stop building unnoticed again.
//
// Build (scripts/fuzz does this):
//   swift build -c release --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -cross-module-optimization
import PackageDescription

let package = Package(
    name: "SkeinFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Skein", path: ".."),
    ],
    targets: [
        // libFuzzer's LLVMFuzzerRunDriver, called from each target's @main.
        .target(name: "FuzzDriver"),
        // What each target does with an input; Tests/SkeinKitTests links the same file.
        .target(name: "FuzzWork", dependencies: [.product(name: "SkeinCore", package: "Skein")]),
        .executableTarget(name: "FuzzLoader", dependencies: ["FuzzWork", "FuzzDriver"]),
        .executableTarget(name: "FuzzTemplate", dependencies: ["FuzzWork", "FuzzDriver"]),
        .executableTarget(name: "FuzzSSE", dependencies: ["FuzzWork", "FuzzDriver"]),
        .executableTarget(name: "FuzzSchema", dependencies: ["FuzzWork", "FuzzDriver"]),
    ],
    swiftLanguageModes: [.v6]
)
