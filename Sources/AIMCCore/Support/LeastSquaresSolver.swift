import CBLAS

/// Dense linear least squares in Double: the minimiser of ||A X - B||_F through LAPACK's `dgelsd` (singular value
/// decomposition, divide and conquer; the routine behind `numpy.linalg.lstsq`), with the numerical rank decided as
/// numpy decides it (singular values at most `rcond` s_max count as zero, `rcond` = eps max(rows, cols)).
///
/// Without a full column rank the minimisers form an affine set {X_mn + Z : A Z = 0}; the solver returns the one
/// nearest (Frobenius norm) to a given X0, X0 + A^+ (B - A X0), which is the minimum-norm solution A^+ B when X0 = 0
/// and the point gradient descent started at X0 converges to.
public enum LeastSquaresSolver {
    /// Runs OpenBLAS's LAPACK on one thread (its result then does not depend on the number of cores).
    public static func useSingleThread() { openblas_set_num_threads(1) }

    /// LAPACK's integers are 32-bit: A may hold at most this many entries.
    public static let maximumEntries = Int(Int32.max)

    public struct Solution: Sendable {
        /// X, cols x rhs, row-major.
        public let x: [Double]
        /// Numerical rank of A.
        public let rank: Int
        /// Singular values of A, largest first (min(rows, cols) of them).
        public let singularValues: [Double]
        /// s_max / s_min over the singular values counted in the rank (1 for A = 0).
        public var conditionNumber: Double { rank == 0 ? 1 : singularValues[0] / singularValues[rank - 1] }
    }

    /// Solves min_X ||A X - B||_F.
    ///
    /// - Parameters:
    ///   - a: A, rows x cols, row-major (converted to Double).
    ///   - b: B, rows x rhs, row-major.
    ///   - nearest: X0, cols x rhs, row-major: of several minimisers (rank < cols), the one nearest X0; nil = 0.
    ///   - rcond: relative threshold of the rank; nil = eps max(rows, cols), numpy's default.
    /// - Returns: the solution, or nil if the SVD did not converge (LAPACK info > 0).
    /// - Precondition: all sizes >= 1, rows x cols and max(rows, cols) x rhs at most `maximumEntries`, finite entries.
    public static func solve(rows: Int, cols: Int, rhs: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             nearest x0: UnsafePointer<Float>? = nil, rcond: Double? = nil) -> Solution? {
        precondition(rows >= 1 && cols >= 1 && rhs >= 1)
        precondition(rows * cols <= maximumEntries && max(rows, cols) * rhs <= maximumEntries)
        let ldb = max(rows, cols)
        // Right-hand side, column-major ldb x rhs: B, or B - A X0 when a start is given.
        var rhsMatrix = [Double](repeating: 0, count: ldb * rhs)
        for i in 0..<rows {
            for k in 0..<rhs { rhsMatrix[k * ldb + i] = Double(b[i * rhs + k]) }
        }
        guard var first = dgelsd(rows, cols, rhs, a, &rhsMatrix, ldb: ldb, rcond: rcond) else { return nil }
        var x = [Double](repeating: 0, count: cols * rhs)
        if let x0, first.rank < cols {
            // Again on the residual of X0: X0 + A^+ (B - A X0). (A full column rank has one minimiser: X0 plays no part.)
            rhsMatrix = [Double](repeating: 0, count: ldb * rhs)
            for i in 0..<rows {
                for k in 0..<rhs {
                    var r = Double(b[i * rhs + k])
                    for j in 0..<cols { r -= Double(a[i * cols + j]) * Double(x0[j * rhs + k]) }
                    rhsMatrix[k * ldb + i] = r
                }
            }
            guard let second = dgelsd(rows, cols, rhs, a, &rhsMatrix, ldb: ldb, rcond: rcond) else { return nil }
            first = second
            for j in 0..<cols { for k in 0..<rhs { x[j * rhs + k] = Double(x0[j * rhs + k]) } }
        }
        for j in 0..<cols {
            for k in 0..<rhs { x[j * rhs + k] += rhsMatrix[k * ldb + j] }
        }
        return Solution(x: x, rank: first.rank, singularValues: first.singularValues)
    }

    /// One dgelsd call on a Double column-major copy of A; the solution replaces the first cols rows of `rhs`.
    static func dgelsd(_ rows: Int, _ cols: Int, _ nrhs: Int, _ a: UnsafePointer<Float>, _ rhs: inout [Double], ldb: Int,
                       rcond: Double?) -> (rank: Int, singularValues: [Double])? {
        var matrix = [Double](repeating: 0, count: rows * cols)
        for i in 0..<rows {
            for j in 0..<cols { matrix[j * rows + i] = Double(a[i * cols + j]) }
        }
        var m = blasint(rows), n = blasint(cols), k = blasint(nrhs), lda = blasint(rows), ldbI = blasint(ldb)
        var s = [Double](repeating: 0, count: min(rows, cols))
        var threshold = rcond ?? Double.ulpOfOne * Double(max(rows, cols))
        var rank: blasint = 0, info: blasint = 0
        // Workspace query, then the solve.
        var size = [Double](repeating: 0, count: 1)
        var isize = [blasint](repeating: 0, count: 1)
        var query: blasint = -1
        dgelsd_(&m, &n, &k, &matrix, &lda, &rhs, &ldbI, &s, &threshold, &rank, &size, &query, &isize, &info)
        guard info == 0 else { return nil }
        var lwork = blasint(min(Double(Int32.max), max(size[0].rounded(.up), 1)))
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [blasint](repeating: 0, count: max(Int(isize[0]), 1))
        dgelsd_(&m, &n, &k, &matrix, &lda, &rhs, &ldbI, &s, &threshold, &rank, &work, &lwork, &iwork, &info)
        precondition(info >= 0, "dgelsd: argument \(-info) is invalid")
        return info == 0 ? (Int(rank), s) : nil
    }

    /// Bytes `solve` holds at its peak beyond its arguments: A and the right-hand side in Double, the singular values,
    /// and dgelsd's workspace (its documented minimum plus a blocked QR's n x 64 when rows > cols; an estimate).
    public static func workspaceBytes(rows: Int, cols: Int, rhs: Int) -> Int {
        let small = min(rows, cols), large = max(rows, cols)
        var levels = 2, q = small / 26  // dgelsd's NLVL = floor(log2(small / 26)) + 1, plus one
        while q > 1 { q /= 2; levels += 1 }
        let work = 12 * small + 2 * small * 25 + 8 * small * levels + small * rhs + 26 * 26 + large * 64 + 2 * small * rhs
        let iwork = 3 * small * levels + 11 * small
        return 8 * (rows * cols + 2 * large * rhs + small + work) + 4 * iwork
    }
}
