/// The matrix kernels behind `AIMCCore.Linear`, written once and compiled twice: as module `AIMCKernels` for any x86-64
/// CPU, and as `AIMCKernelsAVX2` (this file, linked into that target's folder, built with `-mavx2`) for CPUs with AVX2.
/// `wide` (true in the AVX2 build, whose 16 registers hold 256 bits) only chooses how many sums are computed side by
/// side (register blocking); every sum is formed in the same order in both builds, with the same IEEE operations lane by lane,
/// and Swift never fuses a * b + c into an FMA, so both builds return the same bits.
///
/// Orders (see `Linear`):
/// - lane order of a dot product of length n: lane l (0..<16) sums the products l, l + 16, l + 32, ... (below n) in
///   order, starting from +0; then the lanes are added as a tree (l + 8 into l, then + 4, + 2, + 1);
/// - sequential order of a combination of rows: s = ((0 + c_0 r_0) + c_1 r_1) + ..., element by element.
public enum Kernels {
    #if AIMC_AVX2
    static let wide = true
    #else
    static let wide = false
    #endif

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always)
    static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    /// `count` (< 16) entries from p, padded with +0 to 16 lanes. (Adding a padded product, +0, to a lane sum
    /// changes nothing: a lane sum starts at +0 and is never -0.)
    @inline(__always)
    static func loadPartial(_ p: UnsafePointer<Float>, count: Int) -> SIMD16<Float> {
        var v = SIMD16<Float>()
        withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p, byteCount: count &* 4) }
        return v
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

    @inline(__always)
    static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }

    /// The tree sum of the lane order.
    @inline(__always)
    static func treeSum(_ v: SIMD16<Float>) -> Float {
        let a = v.lowHalf + v.highHalf
        let b = a.lowHalf + a.highHalf
        let c = b.lowHalf + b.highHalf
        return c[0] + c[1]
    }

    /// y[b * ldy + i] = row i of W (rows x cols, stride ldw) dotted with x_b (stride ldx) in the lane order, for
    /// b < batch. `wide`: samples in pairs against 2 rows at a time, a last odd sample against 4 rows at a time;
    /// otherwise each sample against 2 rows at a time. The last cols mod 16 entries of each row and sample are padded once.
    @inline(__always)
    static func rowDots(rows: Int, cols: Int, w: UnsafePointer<Float>, ldw: Int, batch: Int, x: UnsafePointer<Float>,
                        ldx: Int, y: UnsafeMutablePointer<Float>, ldy: Int, wide: Bool) {
        let body = cols & ~15, rest = cols &- body
        @inline(__always) func tail(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
            rest > 0 ? loadPartial(p + body, count: rest) : SIMD16<Float>()
        }
        withUnsafeTemporaryAllocation(of: SIMD16<Float>.self, capacity: batch) { tails in
            for b in 0..<batch { tails[b] = tail(x + b &* ldx) }
            let paired = wide ? batch & ~1 : 0
            // Pairs of samples, 2 rows at a time.
            var i = 0
            if paired > 0 {
                while i < rows {
                    let two = i &+ 2 <= rows
                    let w0 = w + i &* ldw, w1 = two ? w0 + ldw : w0
                    let e0 = tail(w0), e1 = tail(w1)
                    var b = 0
                    while b < paired {
                        let x0 = x + b &* ldx, x1 = x0 + ldx
                        var s00 = SIMD16<Float>(), s01 = SIMD16<Float>(), s10 = SIMD16<Float>(), s11 = SIMD16<Float>()
                        var j = 0
                        while j < body {
                            let a0 = load(w0 + j), a1 = load(w1 + j), v0 = load(x0 + j), v1 = load(x1 + j)
                            s00 += a0 * v0
                            s01 += a0 * v1
                            s10 += a1 * v0
                            s11 += a1 * v1
                            j &+= 16
                        }
                        let v0 = tails[b], v1 = tails[b &+ 1]
                        s00 += e0 * v0
                        s01 += e0 * v1
                        s10 += e1 * v0
                        s11 += e1 * v1
                        y[b &* ldy &+ i] = treeSum(s00)
                        y[(b &+ 1) &* ldy &+ i] = treeSum(s01)
                        if two {
                            y[b &* ldy &+ i &+ 1] = treeSum(s10)
                            y[(b &+ 1) &* ldy &+ i &+ 1] = treeSum(s11)
                        }
                        b &+= 2
                    }
                    i &+= 2
                }
            }
            // The other samples one at a time, 4 rows (`wide`) or 2 rows at a time.
            let block = wide ? 4 : 2
            for b in paired..<batch {
                let x0 = x + b &* ldx, v = tails[b]
                i = 0
                while i < rows {
                    let n = min(block, rows &- i)
                    let w0 = w + i &* ldw
                    let w1 = n > 1 ? w0 + ldw : w0, w2 = n > 2 ? w0 + 2 &* ldw : w0, w3 = n > 3 ? w0 + 3 &* ldw : w0
                    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
                    var j = 0
                    if block == 4 {
                        while j < body {
                            let u = load(x0 + j)
                            s0 += load(w0 + j) * u
                            s1 += load(w1 + j) * u
                            s2 += load(w2 + j) * u
                            s3 += load(w3 + j) * u
                            j &+= 16
                        }
                        s2 += tail(w2) * v
                        s3 += tail(w3) * v
                    } else {
                        while j < body {
                            let u = load(x0 + j)
                            s0 += load(w0 + j) * u
                            s1 += load(w1 + j) * u
                            j &+= 16
                        }
                    }
                    s0 += tail(w0) * v
                    s1 += tail(w1) * v
                    y[b &* ldy &+ i] = treeSum(s0)
                    if n > 1 { y[b &* ldy &+ i &+ 1] = treeSum(s1) }
                    if n > 2 { y[b &* ldy &+ i &+ 2] = treeSum(s2) }
                    if n > 3 { y[b &* ldy &+ i &+ 3] = treeSum(s3) }
                    i &+= block
                }
            }
        }
    }

    /// For each of `count` outputs o (o < count): out_o[j] = alpha s_j (beta 0) or beta out_o[j] + alpha s_j
    /// (beta 1: out_o[j] + alpha s_j, the same value), s_j = sum over p < k of coef_o(p) m[p * ldm + j] in the sequential
    /// order, j < n; coef_o(p) = coefficients[o * outputStride + p * coefficientStride], out_o = out + o * ldo.
    /// Columns go in blocks (2 outputs x 32 columns or 1 x 64 when `wide`, 1 x 32 otherwise; then 16, 8, 4) whose sums
    /// stay in registers while p runs; the last columns one by one.
    @inline(__always)
    static func combineRows(count: Int, n: Int, k: Int, coefficients: UnsafePointer<Float>, outputStride: Int,
                                   coefficientStride: Int, m: UnsafePointer<Float>, ldm: Int, alpha: Float, beta: Float,
                                   out: UnsafeMutablePointer<Float>, ldo: Int, wide: Bool) {
        let va = SIMD16<Float>(repeating: alpha), vb = SIMD16<Float>(repeating: beta)
        @inline(__always) func finish(_ s: SIMD16<Float>, _ o: UnsafeMutablePointer<Float>) {
            if beta == 0 {
                store(va * s, o)
            } else if beta == 1 {
                store(load(o) + va * s, o)
            } else {
                store(vb * load(o) + va * s, o)
            }
        }
        @inline(__always) func finish(_ s: Float, _ o: UnsafeMutablePointer<Float>) {
            o.pointee = beta == 0 ? alpha * s : (beta == 1 ? o.pointee + alpha * s : beta * o.pointee + alpha * s)
        }
        var o = 0
        if wide {
            while o &+ 2 <= count {
                let c0 = coefficients + o &* outputStride, c1 = c0 + outputStride
                let out0 = out + o &* ldo, out1 = out0 + ldo
                var j = 0
                while j &+ 32 <= n {
                    var s00 = SIMD16<Float>(), s01 = SIMD16<Float>(), s10 = SIMD16<Float>(), s11 = SIMD16<Float>()
                    var row = m + j, p0 = c0, p1 = c1
                    for _ in 0..<k {
                        let r0 = load(row), r1 = load(row + 16)
                        let a0 = SIMD16<Float>(repeating: p0.pointee), a1 = SIMD16<Float>(repeating: p1.pointee)
                        s00 += a0 * r0
                        s01 += a0 * r1
                        s10 += a1 * r0
                        s11 += a1 * r1
                        row += ldm
                        p0 += coefficientStride
                        p1 += coefficientStride
                    }
                    finish(s00, out0 + j)
                    finish(s01, out0 + (j &+ 16))
                    finish(s10, out1 + j)
                    finish(s11, out1 + (j &+ 16))
                    j &+= 32
                }
                combineTail(from: j, n: n, k: k, coefficients: c0, coefficientStride: coefficientStride, m: m, ldm: ldm,
                            out: out0, finish: finish, finish)
                combineTail(from: j, n: n, k: k, coefficients: c1, coefficientStride: coefficientStride, m: m, ldm: ldm,
                            out: out1, finish: finish, finish)
                o &+= 2
            }
        }
        while o < count {
            let c0 = coefficients + o &* outputStride
            let out0 = out + o &* ldo
            var j = 0
            if wide {
                while j &+ 64 <= n {
                    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>(), s2 = SIMD16<Float>(), s3 = SIMD16<Float>()
                    var row = m + j, p0 = c0
                    for _ in 0..<k {
                        let a = SIMD16<Float>(repeating: p0.pointee)
                        s0 += a * load(row)
                        s1 += a * load(row + 16)
                        s2 += a * load(row + 32)
                        s3 += a * load(row + 48)
                        row += ldm
                        p0 += coefficientStride
                    }
                    finish(s0, out0 + j)
                    finish(s1, out0 + (j &+ 16))
                    finish(s2, out0 + (j &+ 32))
                    finish(s3, out0 + (j &+ 48))
                    j &+= 64
                }
            }
            while j &+ 32 <= n {
                var s0 = SIMD16<Float>(), s1 = SIMD16<Float>()
                var row = m + j, p0 = c0
                for _ in 0..<k {
                    let a = SIMD16<Float>(repeating: p0.pointee)
                    s0 += a * load(row)
                    s1 += a * load(row + 16)
                    row += ldm
                    p0 += coefficientStride
                }
                finish(s0, out0 + j)
                finish(s1, out0 + (j &+ 16))
                j &+= 32
            }
            combineTail(from: j, n: n, k: k, coefficients: c0, coefficientStride: coefficientStride, m: m, ldm: ldm,
                        out: out0, finish: finish, finish)
            o &+= 1
        }
    }

    /// Columns j >= `start` of one output of `combineRows`: blocks of 16, 8 and 4 where there is room, then one by one
    /// (every column's sum is sequential whatever the block).
    @inline(__always)
    static func combineTail(from start: Int, n: Int, k: Int, coefficients: UnsafePointer<Float>, coefficientStride: Int,
                            m: UnsafePointer<Float>, ldm: Int, out: UnsafeMutablePointer<Float>,
                            finish: (SIMD16<Float>, UnsafeMutablePointer<Float>) -> Void,
                            _ finishOne: (Float, UnsafeMutablePointer<Float>) -> Void) {
        var j = start
        if j &+ 16 <= n {
            var s0 = SIMD16<Float>()
            var row = m + j, p0 = coefficients
            for _ in 0..<k {
                s0 += SIMD16<Float>(repeating: p0.pointee) * load(row)
                row += ldm
                p0 += coefficientStride
            }
            finish(s0, out + j)
            j &+= 16
        }
        if j &+ 8 <= n {
            var s0 = SIMD8<Float>()
            var row = m + j, p0 = coefficients
            for _ in 0..<k {
                s0 += SIMD8<Float>(repeating: p0.pointee) * load8(row)
                row += ldm
                p0 += coefficientStride
            }
            for t in 0..<8 { finishOne(s0[t], out + (j &+ t)) }
            j &+= 8
        }
        if j &+ 4 <= n {
            var s0 = SIMD4<Float>()
            var row = m + j, p0 = coefficients
            for _ in 0..<k {
                s0 += SIMD4<Float>(repeating: p0.pointee) * load4(row)
                row += ldm
                p0 += coefficientStride
            }
            for t in 0..<4 { finishOne(s0[t], out + (j &+ t)) }
            j &+= 4
        }
        while j < n {
            var s: Float = 0
            var row = m + j, p0 = coefficients
            for _ in 0..<k {
                s += p0.pointee * row.pointee
                row += ldm
                p0 += coefficientStride
            }
            finishOne(s, out + j)
            j &+= 1
        }
    }

    /// y_b = W x_b (`transW` false: `rowDots`) or W^T x_b (sequential over the rows of W: `combineRows` with the
    /// entries of x_b as coefficients), for b < batch; an empty W gives zeros.
    public static func batchedMatVec(transW: Bool, rows: Int, cols: Int, w: UnsafePointer<Float>, ldw: Int, batch: Int,
                                     x: UnsafePointer<Float>, ldx: Int, y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard batch > 0, rows > 0, cols > 0 else {
            let m = transW ? cols : rows
            for b in 0..<max(batch, 0) { for i in 0..<m { y[b &* ldy &+ i] = 0 } }
            return
        }
        if transW {
            combineRows(count: batch, n: cols, k: rows, coefficients: x, outputStride: ldx, coefficientStride: 1, m: w,
                        ldm: ldw, alpha: 1, beta: 0, out: y, ldo: ldy, wide: wide)
        } else {
            rowDots(rows: rows, cols: cols, w: w, ldw: ldw, batch: batch, x: x, ldx: ldx, y: y, ldy: ldy, wide: wide)
        }
    }

    /// C = alpha op(A) op(B) + beta C (row-major), each element's sum over p sequential; see `Linear.gemm`.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>,
                            lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        let k = max(k, 0)
        if !transB {
            // Row i of C combines the rows of B with the coefficients op(A)[i, 0..<k].
            combineRows(count: m, n: n, k: k, coefficients: a, outputStride: transA ? 1 : lda,
                        coefficientStride: transA ? lda : 1, m: b, ldm: ldb, alpha: alpha, beta: beta, out: c, ldo: ldc,
                        wide: wide)
            return
        }
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<k {
                    let aip = transA ? a[p &* lda &+ i] : a[i &* lda &+ p]
                    s += aip * b[j &* ldb &+ p]
                }
                let e = i &* ldc &+ j
                c[e] = beta == 0 ? alpha * s : (beta == 1 ? c[e] + alpha * s : beta * c[e] + alpha * s)
            }
        }
    }
}
