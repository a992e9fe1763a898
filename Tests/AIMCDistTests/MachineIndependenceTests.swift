import AIMCTestSupport
import Foundation
import Testing

/// The determinism contract across machines: one seed and configuration give one weights digest on every x86-64
/// machine. A machine differs from this one in which code paths are picked by CPU: aimc-dist's own kernels (the AVX2
/// build or the baseline x86-64 build; `AIMC_DIST_KERNELS=baseline` forces the latter), OpenBLAS its kernels if it were
/// linked (`OPENBLAS_CORETYPE` forces one), glibc its builds of exp, log, pow, ... (with and without FMA, AVX;
/// `GLIBC_TUNABLES=glibc.cpu.hwcaps=-FEATURE` hides a feature from it). These tests run the binary under such
/// environments and require identical digests and metrics: nothing in the run may depend on the CPU.
@Suite("Machine independence", .serialized)
struct MachineIndependenceTests {
    /// glibc 2.33 and later name the features without the `_Usable` suffix of older releases (which glibc 2.36 ignores
    /// silently). Without FMA and AVX2, libm's exp/log/pow/expf/logf/powf/expm1/log1p take their AVX or SSE2 builds;
    /// also without AVX (and FMA4), the SSE2 builds.
    static let withoutFMA = "glibc.cpu.hwcaps=-AVX2,-FMA"
    static let sse2Only = "glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4,-AVX512F"

    static let environments: [(name: String, variables: [String: String])] = [
        ("this machine", [:]),
        ("baseline kernels, OpenBLAS Prescott, glibc SSE2 only",
         ["AIMC_DIST_KERNELS": "baseline", "OPENBLAS_CORETYPE": "Prescott", "GLIBC_TUNABLES": sse2Only]),
        ("OpenBLAS Haswell", ["OPENBLAS_CORETYPE": "Haswell"]),
        ("OpenBLAS SkylakeX, glibc without FMA and AVX2", ["OPENBLAS_CORETYPE": "SkylakeX", "GLIBC_TUNABLES": withoutFMA]),
        ("baseline kernels, OpenBLAS Zen", ["AIMC_DIST_KERNELS": "baseline", "OPENBLAS_CORETYPE": "Zen"]),
    ]

    /// Reads: ideal (exact products), the Table 4 periphery with an unquantised ADC (noise and bound management, DAC,
    /// output noise: nothing rounds a last-bit difference of a product away), and the full Table 4 periphery.
    static let reads: [(name: String, options: [String])] = [
        ("ideal IO", ["--ideal-io"]),
        ("periphery, unquantised ADC", ["--adc-bits", "0"]),
        ("Table 4 periphery", []),
    ]

    /// 64-48-32-10 sigmoid on the synthetic 8 x 8 data, tiles of at most 32 x 32 (so layers are split and partial
    /// sums added), one epoch of 400 samples in batches of 8.
    static let options = ["--hidden", "48,32", "--tile-size", "32", "--epochs", "1", "--batch-size", "8", "--progress-seconds", "0"]

    @Test("One digest and the same metrics under other OpenBLAS kernels and glibc math builds",
          arguments: ["digital-sgd", "analog-sgd", "tiki-taka", "tiki-taka-v2", "residual", "residual-v2", "multi-tile-residual",
                      "rider"])
    func sameDigestEverywhere(algorithm: String) throws {
        for read in Self.reads {
            var digests = [String](), lines = [[String]]()
            for environment in Self.environments {
                let r = try Launch.run(ranks: nil, Self.options + read.options + ["--algorithm", algorithm, "--data-dir", Launch.data],
                                       environment: environment.variables)
                #expect(r.status == 0, "\(read.name), \(environment.name): \(r.stderr)")
                if environment.variables["AIMC_DIST_KERNELS"] == "baseline" {
                    #expect(r.stdout.contains("matrix kernels: x86-64 baseline"), "the variable must select the baseline build")
                }
                digests.append(Launch.digest(r.stdout) ?? "missing")
                lines.append(Launch.epochLines(r.stdout))
            }
            #expect(digests[0].count == 64, "\(read.name): \(digests[0])")
            #expect(Set(digests).count == 1, "\(algorithm), \(read.name): \(zip(Self.environments.map(\.name), digests).map { "\($0): \($1)" })")
            #expect(lines[0].count == 1 && lines.allSatisfy { $0 == lines[0] }, "\(algorithm), \(read.name): \(lines)")
        }
    }

    /// The tunables above must actually take effect, or the test above compares a configuration with itself: glibc's
    /// loader lists the CPU features it considers usable (`ld.so --list-diagnostics`, glibc 2.35 and later). FMA is bit
    /// 12 and AVX bit 28 of CPUID leaf 1 ECX (features[0x0], register 2), AVX2 bit 5 of leaf 7 EBX (features[0x1],
    /// register 1).
    @Test("The glibc tunables switch FMA, AVX2 and AVX off")
    func tunablesTakeEffect() throws {
        let loader = "/lib64/ld-linux-x86-64.so.2"
        try #require(FileManager.default.isExecutableFile(atPath: loader), "no glibc loader at \(loader)")
        func active(_ tunables: String?) throws -> (fma: Bool, avx: Bool, avx2: Bool) {
            let r = try Launch.launch(loader, ["--list-diagnostics"], environment: tunables.map { ["GLIBC_TUNABLES": $0] } ?? [:],
                                      timeout: 30)
            func word(_ key: String) -> UInt32? {
                r.stdout.split(separator: "\n").first { $0.hasPrefix(key + "=") }
                    .flatMap { UInt32($0.split(separator: "=").last!.dropFirst(2), radix: 16) }
            }
            let leaf1 = try #require(word("x86.cpu_features.features[0x0].active[0x2]"), "\(r.stdout.prefix(300))")
            let leaf7 = try #require(word("x86.cpu_features.features[0x1].active[0x1]"))
            return (leaf1 & (1 << 12) != 0, leaf1 & (1 << 28) != 0, leaf7 & (1 << 5) != 0)
        }
        let native = try active(nil)
        let withoutFMA = try active(Self.withoutFMA)
        let sse2 = try active(Self.sse2Only)
        #expect(!withoutFMA.fma && !withoutFMA.avx2 && withoutFMA.avx == native.avx)
        #expect(!sse2.fma && !sse2.avx2 && !sse2.avx)
        // On a CPU with FMA and AVX2 the native run takes libm's FMA builds, so the environments cover three of them.
        if !(native.fma && native.avx2) { print("note: this CPU lacks FMA or AVX2; the native run already uses libm's AVX/SSE2 builds") }
    }
}
