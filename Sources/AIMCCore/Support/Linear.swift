import AIMCKernels
import AIMCKernelsAVX2
import CCPUFeatures
import CPulseKernels
#if canImport(Glibc)
import Glibc
#endif

/// The matrix products of the simulator (reads through a tile, summed updates), on row-major Float32 matrices, in
/// summation orders fixed by this project's source: the same bits on every x86-64 machine, for any batch size and any
/// position in a batch. (A BLAS picks its kernel by CPU and rounds differently on each, so results would depend on the
/// machine.)
///
/// Orders:
/// - W x (a dot product of length n per output): lane l (0..<16) sums the products l, l + 16, l + 32, ... (below n)
///   in order, from +0; then the 16 lane sums are added as a tree (lane l + 8 into l, then l + 4, l + 2, l + 1);
/// - W^T x and the sums of `gemm`: sequential, s = ((0 + t_0) + t_1) + ... in index order.
///
/// The kernels (`AIMCKernels`) are built twice: for any x86-64 CPU, and with AVX2 (`AIMCKernelsAVX2`) for CPUs that have it (chosen once per
/// process; `AIMC_DIST_KERNELS=baseline` forces the first). Both form every sum in the same order from IEEE-754
/// additions and multiplications lane by lane, without FMA contraction, so they return the same bits.
public enum Linear {
    /// Which build of the kernels this process uses.
    public enum Build: String, Sendable {
        case baseline = "x86-64 baseline"
        case avx2 = "AVX2"
    }

    /// AVX2 when the CPU and the operating system support it, unless the environment variable `AIMC_DIST_KERNELS` is
    /// `baseline` (for checking that both builds give the same results; other values mean automatic).
    public static let build: Build = {
        if let forced = getenv("AIMC_DIST_KERNELS").map({ String(cString: $0) }), forced == "baseline" { return .baseline }
        return aimc_cpu_has_avx2() != 0 ? .avx2 : .baseline
    }()

    /// For tests: run W x and W^T x through the Swift kernels (`AIMCKernels`) instead of the C kernels (the same bits).
    nonisolated(unsafe) public static var swiftRowDots = false

    /// Y = X op(W)^T for a batch of vectors, one matrix-vector product per vector: row b of Y is W x_b
    /// (`transW` false; lane order) or W^T x_b (`transW` true; sequential over the rows of W), W row-major `rows` x `cols`
    /// with row stride `ldw`.
    ///
    /// Each vector's result depends only on that vector and W, never on the batch size or its position in the batch:
    /// a replica that computes a share of a mini-batch gets the bits the one-replica run gets.
    ///
    /// - Parameters:
    ///   - x: vector b at `x[b * ldx ..< b * ldx + n]`, n = `cols` (or `rows` when `transW`).
    ///   - y: result b at `y[b * ldy ..< b * ldy + m]`, m = `rows` (or `cols` when `transW`), overwritten.
    public static func batchedMatVec(transW: Bool, rows: Int, cols: Int, w: UnsafePointer<Float>, ldw: Int,
                                     batch: Int, x: UnsafePointer<Float>, ldx: Int,
                                     y: UnsafeMutablePointer<Float>, ldy: Int) {
        if rows > 0 && cols > 0 && batch > 0 && !swiftRowDots && rows <= Int(Int32.max) && cols <= Int(Int32.max)
            && batch <= Int(Int32.max) {
            // In the C kernels (CPulseKernels, the widest instruction set the CPU runs), in the same orders: W x by lanes and
            // trees, W^T x by sequential sums.
            if transW {
                aimc_combine_rows(Int32(rows), Int32(cols), w, ldw, Int32(batch), x, ldx, y, ldy)
            } else {
                aimc_row_dots(Int32(rows), Int32(cols), w, ldw, Int32(batch), x, ldx, y, ldy)
            }
            return
        }
        if build == .avx2 {
            AIMCKernelsAVX2.Kernels.batchedMatVec(transW: transW, rows: rows, cols: cols, w: w, ldw: ldw, batch: batch, x: x,
                                                  ldx: ldx, y: y, ldy: ldy)
        } else {
            AIMCKernels.Kernels.batchedMatVec(transW: transW, rows: rows, cols: cols, w: w, ldw: ldw, batch: batch, x: x, ldx: ldx,
                                              y: y, ldy: ldy)
        }
    }

    /// C = alpha * op(A) * op(B) + beta * C, row-major; each element's sum s over the inner index p is sequential
    /// (p = 0, 1, ..., k - 1), then C = alpha * s when beta is 0 (C is not read), else beta * c + alpha * s.
    ///
    /// - Parameters:
    ///   - m, n, k: op(A) is m x k, op(B) is k x n, C is m x n.
    ///   - lda, ldb, ldc: row strides (elements) of A, B and C as stored.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if build == .avx2 {
            AIMCKernelsAVX2.Kernels.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b,
                                         ldb: ldb, beta: beta, c: c, ldc: ldc)
        } else {
            AIMCKernels.Kernels.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                                     beta: beta, c: c, ldc: ldc)
        }
    }
}
