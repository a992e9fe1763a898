import CBLAS

/// The few BLAS calls the simulator uses, on row-major Float32 matrices. One BLAS thread per process:
/// parallelism comes from MPI ranks (design.md, "Performance shape").
public enum Linear {
    /// Sets OpenBLAS to one thread. Call once per process before any product.
    public static func useSingleThread() { openblas_set_num_threads(1) }

    /// C = alpha * op(A) * op(B) + beta * C, row-major.
    ///
    /// - Parameters:
    ///   - m, n, k: op(A) is m x k, op(B) is k x n, C is m x n.
    ///   - lda, ldb, ldc: row strides (elements) of A, B and C as stored.
    @inlinable
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Y = X op(W)^T for a batch of vectors, one matrix-vector product per vector: row b of Y is W x_b
    /// (`transW` false) or W^T x_b (`transW` true), W row-major `rows` x `cols`.
    ///
    /// Each vector's result depends only on that vector and W, never on the batch size or its position in the
    /// batch, unlike a matrix-matrix product whose kernels round edge rows differently. The simulator needs that
    /// property: a replica that computes a share of a mini-batch must get the bits the one-replica run gets.
    ///
    /// - Parameters:
    ///   - x: vector b at `x[b * ldx ..< b * ldx + n]`, n = `cols` (or `rows` when `transW`).
    ///   - y: result b at `y[b * ldy ..< b * ldy + m]`, m = `rows` (or `cols` when `transW`), overwritten.
    @inlinable
    public static func batchedMatVec(transW: Bool, rows: Int, cols: Int, w: UnsafePointer<Float>, ldw: Int,
                                     batch: Int, x: UnsafePointer<Float>, ldx: Int,
                                     y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard batch > 0, rows > 0, cols > 0 else {
            let m = transW ? cols : rows
            for b in 0..<max(batch, 0) { for i in 0..<m { y[b * ldy + i] = 0 } }
            return
        }
        for b in 0..<batch {
            cblas_sgemv(CblasRowMajor, transW ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols), 1, w,
                        Int32(ldw), x + b * ldx, 1, 0, y + b * ldy, 1)
        }
    }
}
