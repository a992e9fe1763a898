import AIMCTestSupport
import Foundation
import Testing

/// `aimc-dist lsq --problem FILE.npz` on a problem this test writes itself (its own .npy and zip writer), checked
/// against the least-squares solution the test computes independently.
@Suite("lsq on the user's problem")
struct LsqProblemTests {
    static let samples = 40, inputs = 6, outputs = 2
    /// Singular values of A / sqrt(N), evenly from 1 down to 0.5: H = A^T A / N has eigenvalues 1 ... 0.25.
    static let sigmaMax = 1.0, sigmaMin = 0.5

    /// The test problem. A = sqrt(N) U diag(sigma) V^T with U (N x D) and V (D x D) orthonormal (modified Gram-Schmidt,
    /// twice, on pseudo-random normal matrices), rounded to float32; B = A W_true^T + 0.1 noise, rounded to float32,
    /// so the least-squares solution differs from W_true; W0 a float32 start. All values exactly float32.
    struct Problem {
        var a: [Double], b: [Double], w0: [Double], wTrue: [Double]
    }

    static func makeProblem() -> Problem {
        var state: UInt64 = 0x5EED_1234
        func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return (Double((z ^ (z >> 31)) >> 11) + 0.5) / 9_007_199_254_740_992
        }
        func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) }
        /// Columns of a rows x cols row-major matrix made orthonormal.
        func orthonormal(_ rows: Int, _ cols: Int) -> [Double] {
            var q = (0..<(rows * cols)).map { _ in normal() }
            for _ in 0..<2 {
                for j in 0..<cols {
                    for k in 0..<j {
                        var dot = 0.0
                        for i in 0..<rows { dot += q[i * cols + j] * q[i * cols + k] }
                        for i in 0..<rows { q[i * cols + j] -= dot * q[i * cols + k] }
                    }
                    var norm = 0.0
                    for i in 0..<rows { norm += q[i * cols + j] * q[i * cols + j] }
                    for i in 0..<rows { q[i * cols + j] /= norm.squareRoot() }
                }
            }
            return q
        }
        let (n, d, m) = (samples, inputs, outputs)
        let u = orthonormal(n, d), v = orthonormal(d, d)
        let sigma = (0..<d).map { sigmaMax - (sigmaMax - sigmaMin) * Double($0) / Double(d - 1) }
        var a = [Double](repeating: 0, count: n * d)
        for i in 0..<n {
            for j in 0..<d {
                var s = 0.0
                for k in 0..<d { s += u[i * d + k] * sigma[k] * v[j * d + k] }
                a[i * d + j] = Double(Float(Double(n).squareRoot() * s))
            }
        }
        let wTrue = (0..<(m * d)).map { _ in Double(Float(normal())) }
        var b = [Double](repeating: 0, count: n * m)
        for i in 0..<n {
            for o in 0..<m {
                var y = 0.0
                for j in 0..<d { y += wTrue[o * d + j] * a[i * d + j] }
                b[i * m + o] = Double(Float(y + 0.1 * normal()))
            }
        }
        let w0 = (0..<(m * d)).map { _ in Double(Float(0.3 * normal())) }
        return Problem(a: a, b: b, w0: w0, wTrue: wTrue)
    }

    /// The least-squares solution W (outputs x inputs) of min 1/(2N) sum ||W a_i - b_i||^2 by the normal equations
    /// (A^T A) W^T = A^T B, Cholesky in Double: what numpy.linalg.lstsq returns for a full-rank A.
    static func normalEquations(_ p: Problem) -> [Double] {
        let (n, d, m) = (samples, inputs, outputs)
        var g = [Double](repeating: 0, count: d * d), r = [Double](repeating: 0, count: d * m)
        for i in 0..<n {
            for j in 0..<d {
                for k in 0..<d { g[j * d + k] += p.a[i * d + j] * p.a[i * d + k] }
                for o in 0..<m { r[j * m + o] += p.a[i * d + j] * p.b[i * m + o] }
            }
        }
        var l = [Double](repeating: 0, count: d * d)
        for j in 0..<d {
            var s = g[j * d + j]
            for k in 0..<j { s -= l[j * d + k] * l[j * d + k] }
            l[j * d + j] = s.squareRoot()
            for i in (j + 1)..<d {
                var t = g[i * d + j]
                for k in 0..<j { t -= l[i * d + k] * l[j * d + k] }
                l[i * d + j] = t / l[j * d + j]
            }
        }
        var w = [Double](repeating: 0, count: m * d)
        for o in 0..<m {
            var y = [Double](repeating: 0, count: d)
            for i in 0..<d {
                var t = r[i * m + o]
                for k in 0..<i { t -= l[i * d + k] * y[k] }
                y[i] = t / l[i * d + i]
            }
            for i in stride(from: d - 1, through: 0, by: -1) {
                var t = y[i]
                for k in (i + 1)..<d { t -= l[k * d + i] * w[o * d + k] }
                w[o * d + i] = t / l[i * d + i]
            }
        }
        return w
    }

    static func distance(_ x: [Double], _ y: [Double]) -> Double { zip(x, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() }
    static func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// Rows of a CSV file as dictionaries by column name.
    static func csv(_ path: String) throws -> [[String: String]] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(lines[0], $0)) }
    }

    static func write(_ p: Problem, to path: String, w0: Bool = true) throws {
        var arrays = [("A", NumPyFiles.npy(p.a, shape: [samples, inputs], dtype: "<f8")),
                      ("B", NumPyFiles.npy(p.b, shape: [samples, outputs], dtype: "<f4"))]
        if w0 { arrays.append(("W0", NumPyFiles.npy(p.w0, shape: [outputs, inputs], dtype: "<f4"))) }
        try NumPyFiles.writeNPZ(arrays, to: path)
    }

    /// Digital SGD (ideal: floating-point weights, exact products, no device) from W0 on the full batch is gradient
    /// descent W <- W - alpha grad f(W), so W - W_ls = (W_prev - W_ls)(I - alpha H) + xi with H = A^T A / N and xi the
    /// float32 rounding of the step. The error bound, derived (not fitted):
    ///
    /// - Contraction. H's eigenvalues are sigma_k^2 of the exact A / sqrt(N); rounding A to float32 moves each
    ///   singular value of A / sqrt(N) by at most ||dA||_F / sqrt(N) <= u ||A||_F / sqrt(N) <= u sqrt(D) sigmaMax
    ///   (Weyl; u = 2^-24; the double-precision construction adds < 1e-12). With alpha = 1:
    ///   rho = max(1 - alpha lambda_min, alpha lambda_max - 1) = 0.75 (+ 1.5e-7), and
    ///   ||W_T - W_ls||_F <= rho^T ||W0 - W_ls||_F + Xi / (1 - rho), Xi a bound on ||xi||_F.
    /// - Rounding of one step (Higham's bounds, gamma_k = k u / (1 - k u), any summation order or FMA): the forward
    ///   read y_b = W a_b (sgemv, D terms) errs by gamma_D sum_j |W_oj a_bj|; d_b = (y_b - b_b) / N adds two
    ///   roundings; the update W - alpha sum_b d_b a_b^T (sgemm with beta 1, N terms) errs by
    ///   gamma_{N+2} (|W| + alpha sum_b |d_b| |a_b|). So elementwise
    ///   |xi_oj| <= alpha sum_b (gamma_{D+2} S_bo + gamma_2 |r_bo|) / N |a_bj| + gamma_{N+2} (|W_oj| + alpha sum_b |r_bo| / N |a_bj|),
    ///   S_bo = sum_j |W_oj| |a_bj|, r the residual. Evaluated at W_ls and doubled: after the first half of the run
    ///   the iterates are within rho^(T/2) ||W0 - W_ls|| + Xi / (1 - rho) << 1% of W_ls, and the errors of the first
    ///   half are damped by rho^(T/2) < 1e-25.
    /// - The averaged iterate is a mean of iterates after step T - K + 1 >= T/2, each within the bound at that step.
    /// - The test's own normal-equations solution errs by about N kappa(A)^2 eps64 relative (< 1e-13): negligible.
    ///
    /// The bound comes to ~1e-4 on ||W_ls||_F ~ 4, while ||W_true - W_ls||_F ~ 0.08 (the label noise): converging to
    /// the generating matrix, or not converging, fails.
    @Test("Digital SGD on a problem file converges to the least-squares solution within the float32 bound")
    func convergesToLeastSquares() throws {
        let p = Self.makeProblem()
        let (n, d, m) = (Self.samples, Self.inputs, Self.outputs)
        let dir = IDXWriter.temporaryDirectory("lsqproblem")
        try Self.write(p, to: dir + "/problem.npz")
        let steps = 400, averaged = 100
        let r = try Launch.run(ranks: nil, ["lsq", "--problem", dir + "/problem.npz", "--algorithms", "digital-sgd", "--asymmetries", "0",
                                            "--lr", "1", "--steps", "\(steps)", "--record-every", "100", "--average-last", "0.25",
                                            "--output", dir + "/out"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("rank 6 of 6 inputs") && r.stdout.contains("A (40, 6) float64, B (40, 2) float32, W0 (2, 6) float32"),
                "\(r.stdout)")
        #expect(r.stdout.contains("the last \(averaged) of \(steps) steps"), "\(r.stdout)")
        let wls = Self.normalEquations(p)

        // The bound (see above).
        let u = pow(2.0, -24.0)
        func gamma(_ k: Int) -> Double { Double(k) * u / (1 - Double(k) * u) }
        let delta = u * Double(d).squareRoot() * Self.sigmaMax + 1e-12
        let lambdaMin = pow(Self.sigmaMin - delta, 2), lambdaMax = pow(Self.sigmaMax + delta, 2), alpha = 1.0
        let rho = max(1 - alpha * lambdaMin, alpha * lambdaMax - 1)
        var xiSquared = 0.0
        for o in 0..<m {
            for j in 0..<d {
                var term = gamma(n + 2) * abs(wls[o * d + j])
                for b in 0..<n {
                    var s = 0.0, residual = -p.b[b * m + o]
                    for k in 0..<d { s += abs(wls[o * d + k] * p.a[b * d + k]); residual += wls[o * d + k] * p.a[b * d + k] }
                    term += alpha * (gamma(d + 2) * s + gamma(2) * abs(residual)) / Double(n) * abs(p.a[b * d + j])
                    term += gamma(n + 2) * alpha * abs(residual) / Double(n) * abs(p.a[b * d + j])
                }
                xiSquared += term * term
            }
        }
        let xi = 2 * xiSquared.squareRoot()
        let start = Self.distance(p.w0, wls)
        let lastBound = pow(rho, Double(steps)) * start + xi / (1 - rho)
        let averageBound = pow(rho, Double(steps - averaged + 1)) * start + xi / (1 - rho)
        #expect(lastBound < 1e-3 && Self.distance(p.wTrue, wls) > 100 * averageBound,
                "bound \(lastBound), |W_true - W_ls| \(Self.distance(p.wTrue, wls))")

        let weights = dir + "/out/lsq_weights/"
        let minimiser = try NumPyFiles.readNPY(weights + "minimiser.npy")
        let last = try NumPyFiles.readNPY(weights + "digital-sgd_tiles0_c0.0_shift-none_last.npy")
        let average = try NumPyFiles.readNPY(weights + "digital-sgd_tiles0_c0.0_shift-none_average.npy")
        #expect(minimiser.dtype == "<f8" && minimiser.shape == [m, d] && last.dtype == "<f4" && last.shape == [m, d]
                && average.dtype == "<f8" && average.shape == [m, d])
        // LAPACK's SVD solution against the normal equations: both within ~N kappa^2 eps64 = 4e-14 relative of the truth.
        #expect(Self.distance(minimiser.values, wls) <= 1e-12 * Self.norm(wls), "\(Self.distance(minimiser.values, wls))")
        #expect(Self.distance(last.values, wls) <= lastBound, "last iterate: \(Self.distance(last.values, wls)) > \(lastBound)")
        #expect(Self.distance(average.values, wls) <= averageBound, "averaged: \(Self.distance(average.values, wls)) > \(averageBound)")

        // What lsq_final.csv reports is the error of the files it wrote, against W_ls; no W* column for a user's problem.
        let final = try Self.csv(dir + "/out/lsq_final.csv")
        try #require(final.count == 1)
        let reported = Double(final[0]["average_minimiser_error"] ?? "") ?? .nan
        let own = pow(Self.distance(average.values, minimiser.values) / Self.norm(minimiser.values), 2)
        #expect(abs(reported - own) <= 1e-9 * max(own, 1e-30), "\(reported) vs \(own)")
        #expect(final[0]["average_relative_error"] == "" && final[0]["averaged_steps"] == "\(averaged)"
                && final[0]["average_file"] == "lsq_weights/digital-sgd_tiles0_c0.0_shift-none_average.npy")
        // The curve starts at W0: its first error is W0's.
        let curve = try Self.csv(dir + "/out/lsq.csv")
        #expect(curve.map { $0["step"] ?? "" } == ["0", "100", "200", "300", "400"] && curve.allSatisfy { $0["relative_error"] == "" })
        let first = Double(curve[0]["minimiser_error"] ?? "") ?? .nan, expected = pow(start / Self.norm(wls), 2)
        #expect(abs(first - expected) <= 1e-6 * expected, "\(first) vs \(expected)")

        // config.json replays the run: the problem is a configuration key.
        let again = try Launch.run(ranks: nil, ["lsq", "--config", dir + "/out/config.json", "--output", dir + "/again"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try String(contentsOfFile: dir + "/out/lsq.csv", encoding: .utf8) == String(contentsOfFile: dir + "/again/lsq.csv", encoding: .utf8))
    }

    /// Every bad problem file is one line naming the file, the array and what it should be; status 2 (as a bad
    /// --config), nothing written.
    @Test("Bad problem files: one clear line each, status 2, nothing written")
    func badProblemFiles() throws {
        let p = Self.makeProblem()
        let (n, d, m) = (Self.samples, Self.inputs, Self.outputs)
        let dir = IDXWriter.temporaryDirectory("lsqbad")
        let a = NumPyFiles.npy(p.a, shape: [n, d]), b = NumPyFiles.npy(p.b, shape: [n, m])
        var nan = p.a
        nan[7] = .nan
        let files: [(String, [(name: String, npy: [UInt8])], [String])] = [
            ("noB.npz", [("A", a)], ["has no array B (or Y)", "it holds A", "numpy.savez"]),
            ("vectorA.npz", [("A", NumPyFiles.npy(p.a, shape: [n * d])), ("B", b)], ["A has shape (240,); expected (samples, inputs)"]),
            ("rows.npz", [("A", a), ("B", NumPyFiles.npy(Array(p.b.prefix((n - 1) * m)), shape: [n - 1, m]))],
             ["B has shape (39, 2); expected (samples, outputs) = (40, outputs)"]),
            ("transposed.npz", [("A", a), ("B", b), ("W0", NumPyFiles.npy(p.w0, shape: [d, m]))],
             ["W0 has shape (6, 2); expected (outputs, inputs) = (2, 6)", "transposed"]),
            ("unknown.npz", [("A", a), ("B", b), ("w0", NumPyFiles.npy(p.w0, shape: [m, d]))], ["holds an array named w0 that lsq does not read"]),
            ("both.npz", [("A", a), ("X", a), ("B", b)], ["holds both A and X"]),
            ("int32.npz", [("A", NumPyFiles.npy(p.a, shape: [n, d], dtype: "<i4")), ("B", b)], ["A.npy holds elements of type <i4"]),
            ("nan.npz", [("A", NumPyFiles.npy(nan, shape: [n, d])), ("B", b)], ["A[1, 1] is nan; the problem must be finite"]),
            ("huge.npz", [("A", a), ("B", NumPyFiles.npy(p.b.map { $0 * 1e39 }, shape: [n, m]))], ["beyond the range of float32"]),
        ]
        for (name, arrays, _) in files { try NumPyFiles.writeNPZ(arrays, to: dir + "/" + name) }
        try "A,B\n1,2\n".write(toFile: dir + "/text.npz", atomically: true, encoding: .utf8)
        var corrupt = NumPyFiles.zip([("A.npy", a), ("B.npy", b)])
        corrupt[200] ^= 0x01  // a bit of A's data: only the CRC-32 can tell
        try Data(corrupt).write(to: URL(fileURLWithPath: dir + "/corrupt.npz"))
        let cases = files.map { ($0.0, $0.2) } + [("text.npz", ["is not a NumPy .npz archive"]), ("missing.npz", ["does not exist"]),
                                                  ("corrupt.npz", ["A.npy fails its CRC-32 check"])]
        for (name, expected) in cases {
            let out = dir + "/out-" + name
            let r = try Launch.run(ranks: nil, ["lsq", "--problem", dir + "/" + name, "--steps", "5", "--output", out])
            #expect(r.status == 2 && r.stdout.isEmpty && r.stderr.split(separator: "\n").count == 1, "\(name): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("--problem") && r.stderr.contains(dir + "/" + name) && expected.allSatisfy { r.stderr.contains($0) },
                    "\(name): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "\(name)")
        }
        // Options that contradict the file, and bad --average-last values (option and config key).
        try Self.write(p, to: dir + "/good.npz")
        try "{\"average_last\": 1.5}".write(toFile: dir + "/average.json", atomically: true, encoding: .utf8)
        for (args, expected) in [(["--problem", dir + "/good.npz", "--inputs", "5"], "--inputs is 5, but the problem"),
                                 (["--problem", dir + "/good.npz", "--samples", "41"], "--samples is 41, but the problem"),
                                 (["--average-last", "0"], "--average-last (config key average_last) must lie in (0, 1]"),
                                 (["--config", dir + "/average.json"], "(config key average_last, option --average-last) must lie in (0, 1]")] {
            let r = try Launch.run(ranks: nil, ["lsq", "--steps", "5"] + args)
            #expect(r.status == 2 && r.stdout.isEmpty && r.stderr.split(separator: "\n").count == 1 && r.stderr.contains(expected),
                    "\(args): \(r.stderr)")
        }
    }
}
