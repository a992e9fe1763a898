// swift-tools-version:6.0
// aimc-dist: distributed simulator of neural-network training on analog in-memory computing hardware.
import PackageDescription

let package = Package(
    name: "aimc-dist",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "aimc-dist", targets: ["aimc-dist"]),
        .library(name: "AIMCCore", targets: ["AIMCCore"]),
        .library(name: "AIMCTraining", targets: ["AIMCTraining"]),
        .library(name: "AIMCCluster", targets: ["AIMCCluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Layer 1: C shims (system libraries).
        .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),
        // OpenBLAS for LAPACK dgelsd only (the least-squares minimiser of lsq, in Double): no training computation uses it.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Layer 2: simulation core, no MPI; its SIMD kernels: the pulsed update in C (three instruction sets, chosen
        // at run time), the matrix kernels in Swift (one source, compiled for any x86-64 CPU and, as AIMCKernelsAVX2,
        // for AVX2; the same bits from both).
        .target(name: "CPulseKernels", exclude: ["README.md"]),
        .target(name: "CCPUFeatures", exclude: ["README.md"]),
        .target(name: "AIMCKernels", exclude: ["README.md"]),
        .target(name: "AIMCKernelsAVX2", exclude: ["README.md"], swiftSettings: [.define("AIMC_AVX2"), .unsafeFlags(["-Xcc", "-mavx2"])]),
        .target(
            name: "AIMCCore",
            dependencies: ["CPulseKernels", "AIMCKernels", "AIMCKernelsAVX2", "CCPUFeatures", "CBLAS",
                           .product(name: "RealModule", package: "swift-numerics")],
            exclude: ["README.md"]),
        .target(
            name: "AIMCTraining",
            dependencies: [
                "AIMCCore", "CZlib",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ],
            exclude: ["README.md"]),
        // Layer 3: cluster layer over MPI.
        .target(name: "AIMCCluster", dependencies: ["AIMCTraining", "CMPI", .product(name: "Crypto", package: "swift-crypto")], exclude: ["README.md"]),
        // Layer 4: the executable.
        .executableTarget(
            name: "aimc-dist",
            dependencies: [
                "AIMCCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"]),
        .target(name: "AIMCTestSupport", dependencies: ["CZlib"], path: "Tests/AIMCTestSupport"),
        .testTarget(name: "AIMCCoreTests", dependencies: ["AIMCCore", "CPulseKernels", "AIMCKernels", "AIMCKernelsAVX2", "CCPUFeatures"]),
        .testTarget(name: "AIMCTrainingTests", dependencies: ["AIMCTraining", "AIMCTestSupport"]),
        .testTarget(name: "AIMCDistTests", dependencies: ["AIMCTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
