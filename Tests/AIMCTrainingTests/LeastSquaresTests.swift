import AIMCCore
import AIMCTestSupport
import AIMCTraining
import Foundation
import Testing

/// The least-squares experiment's problem, minimiser and averaged iterate.
@Suite("Least squares: problem files, minimiser, averaged iterate")
struct LeastSquaresTests {
    /// A of rank 2 (column 3 = column 1 + column 2): the minimisers are X_p + t n, n = (1, 1, -1). The solver returns
    /// one that satisfies the normal equations, lies nearest W0 ((W_ls - W0) orthogonal to n), and is the minimum-norm
    /// one (W_ls orthogonal to n) without W0. Tolerances: kappa(A) eps64 with kappa ~ 10, times 100.
    @Test("Rank-deficient A: the minimiser nearest W0, minimum-norm without W0, rank reported")
    func rankDeficient() throws {
        let rows: [[Float]] = [[1, 0, 1], [0, 1, 1], [1, 1, 2], [2, -1, 1], [0.5, 3, 3.5]]
        let a = rows.flatMap { $0 }
        let b: [Float] = [1, 2, 2.5, -1, 4]
        let w0: [Float] = [0.7, -0.2, 0.4]
        let n = [1.0, 1.0, -1.0]
        for start in [nil, w0] {
            let p = LeastSquares.Problem(a: a, b: b, wStar: nil, w0: start, inputs: 3, outputs: 1, samples: 5)
            let m = try LeastSquares.minimiser(p)
            #expect(m.rank == 2)
            // Normal equations: A^T (A w - b) = 0.
            for j in 0..<3 {
                var g = 0.0
                for i in 0..<5 {
                    let r = (0..<3).reduce(0.0) { $0 + m.w[$1] * Double(a[i * 3 + $1]) } - Double(b[i])
                    g += Double(a[i * 3 + j]) * r
                }
                #expect(abs(g) < 1e-12, "gradient \(j): \(g)")
            }
            let offset = (0..<3).reduce(0.0) { $0 + (m.w[$1] - Double(start?[$1] ?? 0)) * n[$1] }
            #expect(abs(offset) < 1e-12, "the null-space component of W_ls - W0: \(offset)")
        }
    }

    /// The averaged iterate is the mean of the weights after each of the last K steps: runs of T - 2, T - 1 and T
    /// steps (the same noise streams: they are keyed by step) give those iterates, and their mean, summed in the same
    /// order, is the averaged iterate bit for bit.
    @Test("The averaged iterate is the mean of the last iterates of shorter runs")
    func averagedIterate() throws {
        var c = LeastSquaresConfig()
        c.inputs = 5
        c.samples = 12
        c.outputs = 2
        c.batchSize = 4
        c.steps = 60
        c.averageLast = 0.05  // round(0.05 x 60) = 3 iterates
        c.base.algorithm.transferColumns = 5
        try c.validate()
        #expect(LeastSquares.averagedSteps(c) == 3)
        let p = LeastSquares.problem(c)
        let m = try LeastSquares.minimiser(p)
        for algorithm in [Algorithm.analogSGD, .residual] {
            let full = try LeastSquares.run(c, problem: p, minimiser: m, algorithm: algorithm, asymmetry: 0.2, zeroShift: .none)
            var sum = [Double](repeating: 0, count: 10)
            for steps in [58, 59, 60] {
                var shorter = c
                shorter.steps = steps
                let r = try LeastSquares.run(shorter, problem: p, minimiser: m, algorithm: algorithm, asymmetry: 0.2, zeroShift: .none)
                for k in 0..<10 { sum[k] += Double(r.iterates!.last[k]) }
                if steps == 60 { #expect(r.iterates!.last == full.iterates!.last) }
            }
            #expect(full.averagedSteps == 3 && full.iterates!.average == sum.map { $0 / 3 }, "\(algorithm.rawValue)")
            // The reported errors are those of the weights handed out.
            let again = full.iterates!.average.withUnsafeBufferPointer { LeastSquares.measure($0.baseAddress!, p, m) }
            #expect(again == full.average && full.last == full.iterates!.last.withUnsafeBufferPointer { LeastSquares.measure($0.baseAddress!, p, m) })
        }
    }

    /// A problem file may name the arrays X and Y, give B and W0 as vectors for one output, and hold float32, float64
    /// or int64 elements; all are read into float32 exactly when representable.
    @Test("Problem files: X/Y names, vectors for one output, float32/float64/int64")
    func problemFile() throws {
        let dir = IDXWriter.temporaryDirectory("lsqfile")
        let a = (0..<12).map { Double($0) - 5.5 }, b = [1.0, -2, 3, 0.25], w0 = [0.5, -0.5, 0.125]
        try NumPyFiles.writeNPZ([("X", NumPyFiles.npy(a, shape: [4, 3], dtype: "<f4")), ("Y", NumPyFiles.npy(b, shape: [4], dtype: "<i8")),
                                 ("W0", NumPyFiles.npy(w0, shape: [3], dtype: "<f8"))], to: dir + "/p.npz")
        let p = try LeastSquares.problem(file: dir + "/p.npz")
        #expect(p.samples == 4 && p.inputs == 3 && p.outputs == 1 && p.wStar == nil && p.file == dir + "/p.npz")
        #expect(p.a == a.map(Float.init) && p.b == [1, -2, 3, 0].map(Float.init) && p.w0 == w0.map(Float.init))  // int64 0.25 -> 0
        #expect(p.arrays == "X (4, 3) float32, Y (4,) int64, W0 (3,) float64")
    }
}
