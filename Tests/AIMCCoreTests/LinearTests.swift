import AIMCCore
import AIMCKernels
import AIMCKernelsAVX2
import CCPUFeatures
import Testing

/// The products must follow the summation orders `Linear` documents, bit for bit, in both builds of the kernels (for
/// any x86-64 CPU and for AVX2): those orders, not a library's or a CPU's choice, make results the same on every
/// machine. References here are plain scalar loops in those orders.
@Suite("Linear")
struct LinearTests {
    typealias MatVec = (Bool, Int, Int, UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> Void
    typealias Gemm = (Bool, Bool, Int, Int, Int, Float, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, Float,
                      UnsafeMutablePointer<Float>, Int) -> Void

    /// The builds this CPU runs: the baseline build always, the AVX2 build where the CPU has AVX2, and `Linear`'s choice.
    static var builds: [(name: String, matVec: MatVec, gemm: Gemm)] {
        var b: [(name: String, matVec: MatVec, gemm: Gemm)] = [
            ("baseline", AIMCKernels.Kernels.batchedMatVec, AIMCKernels.Kernels.gemm),
            ("Linear (\(Linear.build.rawValue))", Linear.batchedMatVec, Linear.gemm),
        ]
        if aimc_cpu_has_avx2() != 0 { b.append(("AVX2", AIMCKernelsAVX2.Kernels.batchedMatVec, AIMCKernelsAVX2.Kernels.gemm)) }
        return b
    }

    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = RandomStream(key: StreamKey(seed: seed, purpose: .benchmark))
        // Mixed magnitudes, so that another summation order would change the rounding.
        return (0..<n).map { _ in (s.nextUniform() * 2 - 1) * (s.nextUInt32() & 1 == 0 ? 1 : 1e-3) }
    }

    /// Lane l sums terms l, l + 16, ... in order from +0; lanes added as a tree.
    static func laneDot(_ w: ArraySlice<Float>, _ x: ArraySlice<Float>) -> Float {
        let w = Array(w), x = Array(x)
        var lanes = [Float](repeating: 0, count: 16)
        for j in 0..<w.count { lanes[j % 16] += w[j] * x[j] }
        var width = 8
        while width >= 1 {
            for l in 0..<width { lanes[l] = lanes[l] + lanes[l + width] }
            width /= 2
        }
        return lanes[0]
    }

    @Test("W x: each row in the lane order; W^T x: sequential; the same for a sample alone or in a batch",
          arguments: [1, 2, 3, 4, 7, 8, 12, 15, 16, 17, 29, 33, 48, 70])
    func matVec(cols: Int) {
        let batch = 3
        for rows in [1, 2, 5, 16, 31, 32, 47] {
            let w = Self.values(rows * cols, seed: UInt64(rows * 1000 + cols))
            let x = Self.values(batch * cols, seed: 7), d = Self.values(batch * rows, seed: 8)
            for build in Self.builds {
                var y = [Float](repeating: .nan, count: batch * rows), z = [Float](repeating: .nan, count: batch * cols)
                w.withUnsafeBufferPointer { wp in
                    build.matVec(false, rows, cols, wp.baseAddress!, cols, batch, x, cols, &y, rows)
                    build.matVec(true, rows, cols, wp.baseAddress!, cols, batch, d, rows, &z, cols)
                }
                for b in 0..<batch {
                    for i in 0..<rows {
                        let ref = Self.laneDot(w[(i * cols)..<((i + 1) * cols)], x[(b * cols)..<((b + 1) * cols)])
                        #expect(y[b * rows + i].bitPattern == ref.bitPattern, "\(build.name): \(rows)x\(cols) b \(b) i \(i)")
                    }
                    for j in 0..<cols {
                        var s: Float = 0
                        for i in 0..<rows { s += d[b * rows + i] * w[i * cols + j] }
                        #expect(z[b * cols + j].bitPattern == s.bitPattern, "\(build.name): \(rows)x\(cols) b \(b) j \(j)")
                    }
                }
                // Each sample alone (the wide build computes samples 0 and 1 of the batch as a pair) gives the same bits.
                for b in 0..<batch {
                    var alone = [Float](repeating: .nan, count: rows), aloneT = [Float](repeating: .nan, count: cols)
                    w.withUnsafeBufferPointer { wp in
                        x.withUnsafeBufferPointer { build.matVec(false, rows, cols, wp.baseAddress!, cols, 1, $0.baseAddress! + b * cols, cols, &alone, rows) }
                        d.withUnsafeBufferPointer { build.matVec(true, rows, cols, wp.baseAddress!, cols, 1, $0.baseAddress! + b * rows, rows, &aloneT, cols) }
                    }
                    #expect(alone == Array(y[(b * rows)..<((b + 1) * rows)]) && aloneT == Array(z[(b * cols)..<((b + 1) * cols)]),
                            "\(build.name): \(rows)x\(cols) b \(b)")
                }
            }
        }
    }

    @Test("gemm: sequential sums over the inner index, then alpha s (beta 0) or beta c + alpha s", arguments: [false, true])
    func gemm(transA: Bool) {
        for (m, n, k) in [(1, 1, 1), (3, 17, 5), (16, 33, 8), (7, 64, 1), (5, 70, 0), (40, 35, 9)] {
            for transB in [false, true] {
                for beta: Float in [0, 1, 0.5] {
                    let a = Self.values(m * k + 1, seed: 1), b = Self.values(k * n + 1, seed: 2)  // + 1: never empty
                    let lda = transA ? m : k, ldb = transB ? k : n
                    var start = Self.values(m * n, seed: 3)
                    if beta == 0 { for e in start.indices where e % 3 == 0 { start[e] = .nan } }  // not read when beta is 0
                    var ref = start
                    for i in 0..<m {
                        for j in 0..<n {
                            var s: Float = 0
                            for p in 0..<k {
                                s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j])
                            }
                            ref[i * n + j] = beta == 0 ? -0.1 * s : beta * ref[i * n + j] + -0.1 * s
                        }
                    }
                    for build in Self.builds {
                        var c = start
                        a.withUnsafeBufferPointer { ap in
                            b.withUnsafeBufferPointer { bp in
                                build.gemm(transA, transB, m, n, k, -0.1, ap.baseAddress!, max(lda, 1), bp.baseAddress!, max(ldb, 1), beta, &c, n)
                            }
                        }
                        #expect(c.map(\.bitPattern) == ref.map(\.bitPattern), "\(build.name): \(m)x\(n)x\(k) transB \(transB) beta \(beta)")
                    }
                }
            }
        }
    }
}
