import AIMCCore
import Foundation

extension LeastSquares {
    /// The data of min_W f(W) = 1/(2N) sum_i ||W a_i - b_i||^2: A (samples x inputs, row i = a_i), B (samples x
    /// outputs, row i = b_i), the weights W (outputs x inputs, row-major) start from W0 (0 when absent). The synthetic
    /// problem also has the matrix W* that generated B; a problem read from a file has none.
    public struct Problem: Sendable {
        public let a: [Float], b: [Float]
        /// W*, outputs x inputs: B = A W*^T (+ label noise). Synthetic problems only.
        public let wStar: [Float]?
        /// W0, outputs x inputs: where every curve starts (nil: W = 0).
        public let w0: [Float]?
        public let inputs: Int, outputs: Int, samples: Int
        /// The file the problem was read from (nil: synthetic).
        public let file: String?
        /// The arrays as the file gave them, for the run's header: "A (100, 5) float64, B (100,) float32".
        public let arrays: String

        public init(a: [Float], b: [Float], wStar: [Float]?, w0: [Float]?, inputs: Int, outputs: Int, samples: Int,
                    file: String? = nil, arrays: String = "") {
            precondition(a.count == samples * inputs && b.count == samples * outputs)
            precondition(wStar.map { $0.count == outputs * inputs } ?? true && w0.map { $0.count == outputs * inputs } ?? true)
            self.a = a
            self.b = b
            self.wStar = wStar
            self.w0 = w0
            self.inputs = inputs
            self.outputs = outputs
            self.samples = samples
            self.file = file
            self.arrays = arrays
        }
    }

    /// The least-squares minimiser W_ls of a problem's data (as trained: float32) and f* = f(W_ls).
    public struct Minimiser: Sendable {
        /// W_ls, outputs x inputs, row-major.
        public let w: [Double]
        public let fStar: Double
        /// Numerical rank of A (numpy's rule); below `inputs` the minimisers form an affine set and `w` is the one
        /// nearest W0 (the minimum-norm one when W0 = 0).
        public let rank: Int
        /// s_max / s_min of A over its rank.
        public let conditionNumber: Double
    }

    /// The synthetic problem: a_i ~ N(0, I_D), W* ~ N(0, target_std^2), b_i = W* a_i + label noise, from the seed.
    public static func problem(_ c: LeastSquaresConfig) -> Problem {
        var s = RandomStream(key: StreamKey(seed: c.seed, purpose: .syntheticData, 1))
        let a = (0..<(c.samples * c.inputs)).map { _ in s.nextNormal() }
        let w = (0..<(c.outputs * c.inputs)).map { _ in Float(c.targetStd) * s.nextNormal() }
        var b = [Float](repeating: 0, count: c.samples * c.outputs)
        for i in 0..<c.samples {
            for o in 0..<c.outputs {
                var y: Double = 0
                for j in 0..<c.inputs { y += Double(w[o * c.inputs + j]) * Double(a[i * c.inputs + j]) }
                b[i * c.outputs + o] = Float(y) + Float(c.labelNoise) * s.nextNormal()
            }
        }
        return Problem(a: a, b: b, wStar: w, w0: nil, inputs: c.inputs, outputs: c.outputs, samples: c.samples)
    }

    /// The names of the arrays of a problem file: the inputs, the targets, the start.
    public static let inputArrays = ["A", "X"], targetArrays = ["B", "Y"], startArray = "W0"

    /// Reads a problem from a NumPy `.npz` archive (`numpy.savez` or `numpy.savez_compressed`):
    /// - `A` (or `X`): the inputs, shape (samples, inputs), row i = a_i;
    /// - `B` (or `Y`): the targets, shape (samples, outputs), or (samples,) for one output;
    /// - `W0` (optional): the weights to start from, shape (outputs, inputs), or (inputs,) for one output.
    ///
    /// Elements float32, float64 or int64, little-endian, C order; they are rounded to float32, the precision the
    /// simulator trains in. Sizes within lsq's limits (inputs and outputs 1...4096, samples 1...10^6).
    /// - Throws: `ConfigError` (option `--problem`, key `problem`), one line naming the file, the array and what it
    ///   should be: a file that is missing or not an .npz archive of .npy arrays, a missing, repeated or unknown
    ///   array, a wrong shape, a non-finite value or one beyond float32's range.
    public static func problem(file path: String) throws(ConfigError) -> Problem {
        func fail(_ message: String) -> ConfigError { ConfigError(key: "problem", option: "--problem", message: message) }
        let save = "write it with numpy.savez(FILE, A=inputs, B=targets) (W0=start optional)"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw fail("\(path) does not exist; \(save)") }
        guard !isDirectory.boolValue else { throw fail("\(path) is a folder, not an .npz file; \(save)") }
        let arrays: [String: NPY.Contents]
        do { arrays = try NPZ.read(path) } catch { throw fail(error.message) }
        let known = inputArrays + targetArrays + [startArray]
        let names = arrays.keys.sorted()
        if let unknown = names.first(where: { !known.contains($0) }) {
            throw fail("\(path) holds an array named \(unknown) that lsq does not read (it holds \(names.joined(separator: ", "))); "
                + "the arrays are A (or X), B (or Y) and optionally W0: save them by name, numpy.savez(FILE, A=inputs, B=targets)")
        }
        func one(_ choices: [String], _ what: String, _ shape: String) throws(ConfigError) -> (String, NPY.Contents) {
            let given = choices.filter { arrays[$0] != nil }
            guard given.count <= 1 else { throw fail("\(path) holds both \(given.joined(separator: " and ")); give the \(what) once") }
            guard let name = given.first else {
                throw fail("\(path) has no array \(choices.joined(separator: " (or ")))" + " (the \(what), shape \(shape)); it holds "
                    + (names.isEmpty ? "no arrays" : names.joined(separator: ", ")) + "; \(save)")
            }
            return (name, arrays[name]!)
        }
        func shape(_ s: [Int]) -> String { s.count == 1 ? "(\(s[0]),)" : "(" + s.map(String.init).joined(separator: ", ") + ")" }
        let (aName, aArray) = try one(inputArrays, "inputs", "(samples, inputs)")
        let (bName, bArray) = try one(targetArrays, "targets", "(samples, outputs)")
        let aShape = aArray.header.shape, bShape = bArray.header.shape
        guard aShape.count == 2, aShape[0] >= 1, aShape[1] >= 1 else {
            throw fail("\(path): \(aName) has shape \(shape(aShape)); expected (samples, inputs), two sizes of at least 1")
        }
        let samples = aShape[0], inputs = aShape[1]
        guard (bShape.count == 1 || bShape.count == 2), bShape[0] == samples, bShape.count == 1 || bShape[1] >= 1 else {
            throw fail("\(path): \(bName) has shape \(shape(bShape)); expected (samples, outputs) = (\(samples), outputs), "
                + "one row per row of \(aName) (or (\(samples),) for one output)")
        }
        let outputs = bShape.count == 1 ? 1 : bShape[1]
        for (size, limit, what) in [(inputs, 4096, "inputs (columns of \(aName))"), (outputs, 4096, "outputs (columns of \(bName))"),
                                    (samples, 1_000_000, "samples (rows of \(aName))")] where size > limit {
            throw fail("\(path) has \(size) \(what); lsq trains at most \(limit)")
        }
        guard samples * inputs <= LeastSquaresSolver.maximumEntries else {
            throw fail("\(path): \(aName) has \(samples * inputs) entries; the minimiser's solver (LAPACK, 32-bit indices) takes at most "
                + "\(LeastSquaresSolver.maximumEntries)")
        }
        var w0: (String, NPY.Contents)? = nil
        if let start = arrays[startArray] {
            let s = start.header.shape
            guard s == [outputs, inputs] || (outputs == 1 && s == [inputs]) else {
                let transposed = s == [inputs, outputs] ? " (it looks transposed: W maps inputs to outputs, W a_i ~ b_i; save "
                    + "numpy.ascontiguousarray(W0.T))" : ""
                throw fail("\(path): W0 has shape \(shape(s)); expected (outputs, inputs) = (\(outputs), \(inputs)), from \(aName) "
                    + "\(shape(aShape)) and \(bName) \(shape(bShape))\(transposed)")
            }
            w0 = (startArray, start)
        }
        /// The elements as float32, each finite and within float32's range.
        func floats(_ name: String, _ array: NPY.Contents, columns: Int) throws(ConfigError) -> [Float] {
            let values = array.doubles
            var out = [Float](repeating: 0, count: values.count)
            for (k, v) in values.enumerated() {
                let f = Float(v)
                guard v.isFinite, f.isFinite else {
                    let at = array.header.shape.count == 1 ? "[\(k)]" : "[\(k / columns), \(k % columns)]"
                    throw fail("\(path): \(name)\(at) is \(v)" + (v.isFinite ? ", beyond the range of float32, the precision the simulator "
                        + "trains in; rescale the problem" : "; the problem must be finite"))
                }
                out[k] = f
            }
            return out
        }
        let described = ([(aName, aArray), (bName, bArray)] + (w0.map { [$0] } ?? [])).map { name, array in
            "\(name) \(shape(array.header.shape)) \(["<f4": "float32", "<f8": "float64", "<i8": "int64"][array.header.dtype.rawValue] ?? "")"
        }.joined(separator: ", ")
        var start: [Float]? = nil
        if let w0 { start = try floats(w0.0, w0.1, columns: inputs) }
        return Problem(a: try floats(aName, aArray, columns: inputs), b: try floats(bName, bArray, columns: outputs), wStar: nil, w0: start,
                       inputs: inputs, outputs: outputs, samples: samples, file: path, arrays: described)
    }

    /// W_ls and f* of the problem's (float32) data: LAPACK's dgelsd in Double; when A has no full column rank, the
    /// minimiser nearest W0 (the point gradient descent from W0 reaches; the minimum-norm one for W0 = 0).
    /// - Throws: `DataError` if A has more entries than LAPACK's 32-bit indices reach, or if the singular value
    ///   decomposition does not converge.
    public static func minimiser(_ p: Problem) throws(DataError) -> Minimiser {
        // (A problem this large needs more than 50 GB, which `memoryBytes` checks first on most nodes.)
        let limit = LeastSquaresSolver.maximumEntries
        guard p.samples * p.inputs <= limit, max(p.samples, p.inputs) * p.outputs <= limit else {
            throw DataError(path: p.file ?? "(synthetic)", message: "has \(p.samples) x \(p.inputs) entries in A; the least-squares minimiser's "
                + "solver (LAPACK, 32-bit indices) takes at most \(limit): use fewer samples or inputs",
                subject: "least-squares problem")
        }
        // min_W sum_i ||W a_i - b_i||^2 is min_X ||A X - B||_F with X = W^T (inputs x outputs).
        var start: [Float]? = nil
        if let w0 = p.w0 {
            var t = [Float](repeating: 0, count: w0.count)
            for o in 0..<p.outputs { for j in 0..<p.inputs { t[j * p.outputs + o] = w0[o * p.inputs + j] } }
            start = t
        }
        let solution = p.a.withUnsafeBufferPointer { a in
            p.b.withUnsafeBufferPointer { b in
                if let start {
                    return start.withUnsafeBufferPointer { x0 in
                        LeastSquaresSolver.solve(rows: p.samples, cols: p.inputs, rhs: p.outputs, a: a.baseAddress!, b: b.baseAddress!,
                                                 nearest: x0.baseAddress!)
                    }
                }
                return LeastSquaresSolver.solve(rows: p.samples, cols: p.inputs, rhs: p.outputs, a: a.baseAddress!, b: b.baseAddress!)
            }
        }
        guard let solution else {
            throw DataError(path: p.file ?? "(synthetic)", message: "has no least-squares minimiser: the singular value decomposition of A "
                + "did not converge (LAPACK dgelsd); check A for extreme values", subject: "least-squares problem")
        }
        var w = [Double](repeating: 0, count: p.outputs * p.inputs)
        for o in 0..<p.outputs { for j in 0..<p.inputs { w[o * p.inputs + j] = solution.x[j * p.outputs + o] } }
        let f = w.withUnsafeBufferPointer { loss($0.baseAddress!, p) }
        return Minimiser(w: w, fStar: f, rank: solution.rank, conditionNumber: solution.conditionNumber)
    }

    /// f(W) = 1/(2N) sum_i ||W a_i - b_i||^2 in Double; W outputs x inputs, row-major.
    static func loss<T: BinaryFloatingPoint>(_ w: UnsafePointer<T>, _ p: Problem) -> Double {
        var f = 0.0
        for i in 0..<p.samples {
            for o in 0..<p.outputs {
                var y = 0.0
                for j in 0..<p.inputs { y += Double(w[o * p.inputs + j]) * Double(p.a[i * p.inputs + j]) }
                f += (y - Double(p.b[i * p.outputs + o])) * (y - Double(p.b[i * p.outputs + o]))
            }
        }
        return f / (2 * Double(p.samples))
    }
}
