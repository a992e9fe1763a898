import AIMCCore
import Foundation

/// The paper's least-squares experiment (Fig. 2; its script S1-TT-fails.py): min_W f(W) = 1/(2N) sum_i ||W a_i - b_i||^2
/// with a_i ~ N(0, I_D), W* ~ N(0, 0.5^2), b_i = W* a_i (+ optional label noise), or the user's own A, B (and start W0)
/// read from a NumPy .npz file (`problem`), trained on one analog weight block by Analog SGD, Tiki-Taka, Residual
/// Learning (and the other algorithms) on the generalized linear device with asymmetry c. Each curve is measured
/// against the least-squares minimiser W_ls of the data (and against W* when there is one), for its last iterate and
/// for the average of its iterates over the last `average_last` of the steps: the point whose limit the paper's
/// Theorem 1 characterises (Analog SGD's limit minimises f + <Sigma, R_c>).
///
/// What makes the paper's effect visible: with exact, noise-free full-batch gradients Analog SGD converges exactly
/// whatever c is (its only interior fixed point is W*). The bias toward the symmetric point c*tau needs gradient
/// noise: mini-batches, label noise, or the quantisation noise of pulsed updates (the default here). Residual Learning
/// is exact for every c only when P's symmetric point is at 0 (zero-shifted P, Assumption 4).
public struct LeastSquaresConfig: Codable, Sendable, Equatable {
    public var inputs = 50
    public var outputs = 1
    public var samples = 100
    /// Mini-batch size (0 = full batch).
    public var batchSize = 0
    /// Standard deviation of label noise added to b.
    public var labelNoise = 0.0
    /// Standard deviation of the entries of W* (the paper: 0.5).
    public var targetStd = 0.5
    public var steps = 10_000
    public var recordEvery = 100
    public var seed: UInt64 = 0
    public var asymmetries: [Double] = [0, 0.1, 0.2, 0.3]
    public var algorithms: [Algorithm] = [.analogSGD, .tikiTaka, .residual]
    /// Zero-shifting variants run for the algorithms with a residual array (P).
    public var zeroShifts: [ZeroShift] = [.none, .ideal]
    /// Tile counts run for multi-tile residual learning.
    public var tiles: [Int] = [3]
    /// Fraction F in (0, 1] of the steps whose iterates are averaged: the averaged iterate is the mean of W after
    /// each of the last round(F steps) steps (at least one).
    public var averageLast = 0.1
    /// A NumPy .npz file holding the problem (arrays A, B and optionally W0; see `LeastSquares.problem(file:)`);
    /// empty: the synthetic problem (inputs, outputs, samples, label_noise, target_std and seed make it).
    public var problem = ""
    /// The experiment's template: algorithm rates, update settings, device (tau 3.5, dw_min 1e-4), BL 8, ideal reads,
    /// every column of P transferred at each step (with BL 8 a transfer moves a device by at most 8 dw_min, so moving
    /// one column per step would need ~10^5 steps to reach W*).
    public var base: ExperimentConfig

    /// Keys in snake case, as in a training configuration.
    public enum CodingKeys: String, CodingKey {
        case inputs, outputs, samples, batchSize = "batch_size", labelNoise = "label_noise", targetStd = "target_std", steps
        case recordEvery = "record_every", seed, asymmetries, algorithms, zeroShifts = "zero_shifts", tiles, base
        case averageLast = "average_last", problem
    }

    public init() {
        var c = ExperimentConfig()
        c.algorithm.lr = 0.1
        c.algorithm.transferLR = 0.1
        c.algorithm.gamma = 0.4
        c.algorithm.transferColumns = 50
        c.device = DeviceConfig()
        c.device.wMax = 3.5
        c.device.wMin = -3.5
        c.device.dwMin = 1e-4
        c.update.desiredBL = 8
        c.forward = .perfect
        c.backward = .perfect
        c.transfer = .perfect
        base = c
    }

    public func validate() throws(ConfigError) {
        try ConfigError.require(inputs >= 1 && inputs <= 4096, "inputs", "--inputs", "must be an integer in 1...4096", Double(inputs))
        try ConfigError.require(outputs >= 1 && outputs <= 4096, "outputs", "--outputs", "must be an integer in 1...4096", Double(outputs))
        try ConfigError.require(samples >= 1 && samples <= 1_000_000, "samples", "--samples", "must be an integer in 1...1000000", Double(samples))
        try ConfigError.require(batchSize >= 0 && batchSize <= samples, "batch_size", "--batch-size", "must be 0 (full batch) or at most the samples N = \(samples)", Double(batchSize))
        try ConfigError.require(labelNoise >= 0 && labelNoise <= 1e3, "label_noise", "--label-noise", "must lie in [0, 1000]", labelNoise)
        try ConfigError.require(targetStd > 0 && targetStd <= 1e3, "target_std", "--target-std", "must lie in (0, 1000]", targetStd)
        try ConfigError.require(steps >= 1 && steps <= 100_000_000, "steps", "--steps", "must be an integer in 1...1e8", Double(steps))
        try ConfigError.require(recordEvery >= 1, "record_every", "--record-every", "must be an integer >= 1", Double(recordEvery))
        try ConfigError.require(averageLast > 0 && averageLast <= 1, "average_last", "--average-last",
                                "must lie in (0, 1] (the fraction of the last steps whose iterates are averaged)", averageLast)
        for (key, option, count) in [("asymmetries", "--asymmetries", asymmetries.count), ("algorithms", "--algorithms", algorithms.count),
                                     ("zero_shifts", "--zero-shifts", zeroShifts.count),
                                     ("tiles", "--tiles", algorithms.contains(.multiTileResidual) ? tiles.count : 1)] where count == 0 {
            throw ConfigError(key: key, option: option, message: "must list at least one value" + (key == "tiles" ? " (multi-tile-residual runs once per tile count)" : ""))
        }
        for c in asymmetries { try ConfigError.require(c > -1 && c < 1, "asymmetries", "--asymmetries", "each must lie in (-1, 1)", c) }
        // Each value once: a repeated one would run twice and print twice under one heading.
        for (key, option, values) in [("asymmetries", "--asymmetries", asymmetries.map { "\($0 == 0 ? 0 : $0)" }), ("algorithms", "--algorithms", algorithms.map(\.rawValue)),
                                      ("zero_shifts", "--zero-shifts", zeroShifts.map(\.rawValue)), ("tiles", "--tiles", tiles.map { "\($0)" })] {
            if let twice = values.enumerated().first(where: { values[..<$0.offset].contains($0.element) })?.element {
                throw ConfigError(key: key, option: option, message: "lists \(twice) twice; give each value once")
            }
        }
        for t in tiles { try ConfigError.require(t >= 2 && t <= 12, "tiles", "--tiles", "each must be an integer in 2...12", Double(t)) }
        for algorithm in algorithms {
            for t in algorithm == .multiTileResidual ? tiles : [base.algorithm[MultiTileResidual.tiles]] {
                for c in asymmetries {
                    for z in zeroShifts { try experiment(algorithm: algorithm, asymmetry: c, zeroShift: z, tiles: t).validate() }
                }
            }
        }
    }

    /// The configuration of one curve: `base` with the algorithm, tile count, device asymmetry c and zero-shift
    /// (for the algorithms that transfer) of that curve, and the experiment's seed.
    public func experiment(algorithm: Algorithm, asymmetry: Double, zeroShift: ZeroShift, tiles: Int) -> ExperimentConfig {
        var config = base
        config.algorithm[MultiTileResidual.tiles] = tiles
        config.seed = seed
        config.algorithm.name = algorithm
        config.algorithm.zeroShift = algorithm.transfers ? zeroShift : .none
        config.device.asymmetry = asymmetry
        return config
    }
}

/// One curve of the experiment.
public struct LeastSquaresRun: Sendable {
    public let algorithm: Algorithm
    public let asymmetry: Double
    public let zeroShift: ZeroShift
    /// Arrays per block (N + 1).
    public let tiles: Int
    /// (step, ||W_eff - W*||^2 / ||W*||^2 (nan without W*), f(W_eff) - f*, ||W_eff - W_ls||^2 / ||W_ls||^2) every
    /// `record_every` steps and at the end, of the weight the model reads (W + gamma P for Residual Learning).
    public var curve: [(step: Int, error: Double, gap: Double, minimiserError: Double)] = []
    public var finalError: Double { curve.last?.error ?? .nan }
    public var finalGap: Double { curve.last?.gap ?? .nan }
    /// Mean error against W* over the last quarter of the records: the level a noisy run settles at.
    public var tailError: Double { tail(\.error) }
    /// Mean error against W_ls over the last quarter of the records.
    public var tailMinimiserError: Double { tail(\.minimiserError) }

    func tail(_ value: KeyPath<(step: Int, error: Double, gap: Double, minimiserError: Double), Double>) -> Double {
        let tail = curve.suffix(max(curve.count / 4, 1))
        return tail.reduce(0) { $0 + $1[keyPath: value] } / Double(tail.count)
    }

    /// Errors of one weight matrix W: ||W - W*||^2 / ||W*||^2 (nan without W*), ||W - W_ls||^2 / ||W_ls||^2, f(W) - f*.
    public struct Errors: Sendable, Equatable {
        public var relativeError: Double, minimiserError: Double, lossGap: Double
    }

    /// The weights of the last iterate and the average of the last `averagedSteps` iterates, outputs x inputs.
    public struct Iterates: Sendable {
        public var last: [Float]
        public var average: [Double]
    }

    /// The errors of the last iterate and of the averaged iterate.
    public var last = Errors(relativeError: .nan, minimiserError: .nan, lossGap: .nan)
    public var average = Errors(relativeError: .nan, minimiserError: .nan, lossGap: .nan)
    /// Number of iterates averaged (those after the last `averagedSteps` steps).
    public var averagedSteps = 0
    /// The weights themselves; `LeastSquares.runAll` hands them to its caller and keeps only the errors.
    public var iterates: Iterates?

    /// The curve in file names: "residual_tiles2_c0.3_shift-ideal".
    public var name: String { "\(algorithm.rawValue)_tiles\(tiles)_c\(asymmetry)_shift-\(zeroShift.rawValue)" }
}

public enum LeastSquares {
    /// The errors of a weight matrix W (outputs x inputs, row-major, float32 or Double): ||W - W*||^2 / ||W*||^2 (nan
    /// without W*), ||W - W_ls||^2 / ||W_ls||^2 and f(W) - f* (clamped at 0), all in Double.
    public static func measure<T: BinaryFloatingPoint>(_ w: UnsafePointer<T>, _ p: Problem, _ m: Minimiser) -> LeastSquaresRun.Errors {
        func relative(_ reference: (Int) -> Double) -> Double {
            var num = 0.0, den = 0.0
            for k in 0..<(p.outputs * p.inputs) {
                let r = reference(k), d = Double(w[k]) - r
                num += d * d
                den += r * r
            }
            return num / max(den, 1e-300)
        }
        let target = p.wStar.map { wStar in relative { Double(wStar[$0]) } } ?? .nan
        return .init(relativeError: target, minimiserError: relative { m.w[$0] }, lossGap: max(loss(w, p) - m.fStar, 0))
    }

    /// Number of iterates the averaged iterate takes: round(average_last x steps), at least 1.
    public static func averagedSteps(_ c: LeastSquaresConfig) -> Int {
        min(max(Int((c.averageLast * Double(c.steps)).rounded()), 1), c.steps)
    }

    /// Trains one weight block with `algorithm` on device asymmetry `c` and records its curve, its last iterate and
    /// the average of its last `averagedSteps(c)` iterates (accumulated in Double). The weights start at W0 (the
    /// problem's, programmed into W; 0 for the synthetic problem, as in the paper's script), P at its reference.
    /// - Parameter given: the problem's minimiser (computed when nil).
    /// - Throws: `DataError` when the minimiser has to be computed and cannot be.
    public static func run(_ c: LeastSquaresConfig, problem p: Problem, minimiser given: Minimiser? = nil, algorithm: Algorithm,
                           asymmetry: Double, zeroShift: ZeroShift, tiles: Int = 3) throws(DataError) -> LeastSquaresRun {
        let m: Minimiser
        if let given { m = given } else { m = try minimiser(p) }
        let config = c.experiment(algorithm: algorithm, asymmetry: asymmetry, zeroShift: zeroShift, tiles: tiles)
        let info = BlockInfo(index: 0, layer: 0, rowBlock: 0, colBlock: 0, rowStart: 0, rows: p.outputs, colStart: 0, cols: p.inputs)
        let block = WeightBlock(info: info, config: config, model: DeviceModel(validated: config.device),
                                initialWeights: p.w0 ?? [Float](repeating: 0, count: info.devices))
        var run = LeastSquaresRun(algorithm: algorithm, asymmetry: asymmetry, zeroShift: config.algorithm.zeroShift,
                                  tiles: config.algorithm.arrayCount)
        run.averagedSteps = averagedSteps(c)
        var sum = [Double](repeating: 0, count: info.devices)
        let batch = c.batchSize == 0 ? p.samples : c.batchSize
        var x = [Float](repeating: 0, count: batch * p.inputs)
        var y = [Float](repeating: 0, count: batch * p.outputs)
        var order = Array(0..<p.samples)
        var position = p.samples
        var epoch = 0
        func record(_ step: Int) {
            let e = measure(block.effective, p, m)
            run.curve.append((step, e.relativeError, e.lossGap, e.minimiserError))
        }
        record(0)
        for step in 0..<c.steps {
            // Mini-batch indices: in order for the full batch, else a keyed reshuffle each pass.
            for k in 0..<batch {
                if batch < p.samples && position >= p.samples {
                    order = Trainer.permutation(count: p.samples, seed: c.seed, epoch: epoch)
                    epoch += 1
                    position = 0
                }
                let i = batch == p.samples ? k : order[position]
                if batch < p.samples { position += 1 }
                for j in 0..<p.inputs { x[k * p.inputs + j] = p.a[i * p.inputs + j] }
                for o in 0..<p.outputs { y[k * p.outputs + o] = p.b[i * p.outputs + o] }
            }
            var out = [Float](repeating: 0, count: batch * p.outputs)
            x.withUnsafeBufferPointer { xb in
                out.withUnsafeMutableBufferPointer { ob in
                    block.forward(input: xb.baseAddress!, inputStride: p.inputs, batch: batch, output: ob.baseAddress!,
                                  noise: NoiseSource(key: StreamKey(seed: c.seed, purpose: .forwardNoise, 0), step: UInt32(truncatingIfNeeded: step)))
                }
            }
            // delta = (W a - b)/B: the gradient of f over the batch is delta^T a.
            for k in 0..<(batch * p.outputs) { out[k] = (out[k] - y[k]) / Float(batch) }
            x.withUnsafeBufferPointer { xb in
                out.withUnsafeBufferPointer { db in
                    block.gradientUpdate(input: xb.baseAddress!, inputStride: p.inputs, delta: db.baseAddress!,
                                         deltaStride: p.outputs, batch: batch, step: UInt64(step))
                }
            }
            block.transfer(after: Int64(step))
            block.stepEnded(step: Int64(step))
            if step + 1 > c.steps - run.averagedSteps {
                for k in 0..<info.devices { sum[k] += Double(block.effective[k]) }
            }
            if (step + 1) % c.recordEvery == 0 || step + 1 == c.steps { record(step + 1) }
        }
        let average = sum.map { $0 / Double(run.averagedSteps) }
        run.last = measure(block.effective, p, m)
        run.average = average.withUnsafeBufferPointer { measure($0.baseAddress!, p, m) }
        run.iterates = .init(last: Array(UnsafeBufferPointer(start: block.effective, count: info.devices)), average: average)
        return run
    }

    /// Bytes the experiment holds at its peak: the problem (A, B, W*, W0) and W_ls, then the larger of the
    /// minimiser's solver (A in Double and LAPACK's workspace) and a curve's training: one weight block with the most
    /// arrays of its curves, the mini-batch buffers, the block workspace, the sample order, the running sum, the
    /// averaged and the last iterate.
    public static func memoryBytes(_ c: LeastSquaresConfig) -> Int {
        let d = c.inputs, m = c.outputs, n = c.samples, batch = c.batchSize == 0 ? c.samples : c.batchSize
        let perDevice = c.algorithms.map { a in
            Trainer.bytesPerDevice(c.experiment(algorithm: a, asymmetry: c.asymmetries[0], zeroShift: c.zeroShifts[0],
                                                tiles: c.tiles.max() ?? c.base.algorithm[MultiTileResidual.tiles]))
        }.max() ?? 4
        // A, B; W* or W0; the batch x, targets and outputs; the periphery's buffers of a forward read; the update buffer.
        let floats = n * (d + m) + m * d + batch * (d + 2 * m) + (batch + 1) * (d + m) + m * d
        let solver = LeastSquaresSolver.workspaceBytes(rows: n, cols: d, rhs: m) + 12 * m * d
        let training = m * d * perDevice + 8 * n + (8 + 8 + 4) * m * d
        return 4 * floats + 8 * m * d + max(solver, training)
    }

    /// Every (algorithm, c, zero-shift) combination of the configuration; algorithms without P run once per c.
    /// - Parameters:
    ///   - problem: the problem (nil: the synthetic one of `c`), of `c.samples` x `c.inputs` and `c.outputs`.
    ///   - minimiser: its minimiser (computed when nil).
    ///   - progress: called with each curve as it ends, its iterates included; the returned curves keep only the
    ///     errors (a curve's iterates can be as large as the problem's weights).
    /// - Throws: `DataError` from the minimiser, or what `progress` throws.
    public static func runAll(_ c: LeastSquaresConfig, problem: Problem? = nil, minimiser: Minimiser? = nil,
                              progress: (LeastSquaresRun) throws -> Void = { _ in }) throws -> [LeastSquaresRun] {
        let p = problem ?? LeastSquares.problem(c)
        let m = try minimiser ?? LeastSquares.minimiser(p)
        var runs = [LeastSquaresRun]()
        for algorithm in c.algorithms {
            for tiles in algorithm == .multiTileResidual ? c.tiles : [c.base.algorithm[MultiTileResidual.tiles]] {
                for shift in algorithm.transfers ? c.zeroShifts : [.none] {
                    for a in c.asymmetries {
                        var r = try run(c, problem: p, minimiser: m, algorithm: algorithm, asymmetry: a, zeroShift: shift, tiles: tiles)
                        try progress(r)
                        r.iterates = nil
                        runs.append(r)
                    }
                }
            }
        }
        return runs
    }

    /// A number for a CSV cell: Swift's shortest round-trip form; empty for a value that does not apply (nan with
    /// `applies` false).
    static func cell(_ v: Double, applies: Bool = true) -> String { applies ? "\(v)" : "" }

    /// All curves as CSV: algorithm, tiles, asymmetry, zero_shift, step, relative_error (against W*; empty for a
    /// problem without one), loss_gap (f(W) - f*), minimiser_error (against W_ls).
    public static func csv(_ runs: [LeastSquaresRun], hasTarget: Bool = true) -> String {
        var s = "algorithm,tiles,asymmetry,zero_shift,step,relative_error,loss_gap,minimiser_error\n"
        for r in runs {
            for point in r.curve {
                s += "\(r.algorithm.rawValue),\(r.tiles),\(r.asymmetry),\(r.zeroShift.rawValue),\(point.step),"
                    + "\(cell(point.error, applies: hasTarget)),\(point.gap),\(point.minimiserError)\n"
            }
        }
        return s
    }

    /// The files of a curve's iterates, relative to the output folder: (last, average).
    public static func iterateFiles(_ r: LeastSquaresRun) -> (last: String, average: String) {
        ("\(weightsFolder)/\(r.name)_last.npy", "\(weightsFolder)/\(r.name)_average.npy")
    }

    /// The folder of the .npy files lsq writes (iterates, W_ls, W*).
    public static let weightsFolder = "lsq_weights"

    /// One row per curve: its last and averaged iterates, their errors (relative_error against W*, empty without
    /// one; minimiser_error against W_ls; loss_gap f(W) - f*) and their files.
    public static func finalCSV(_ runs: [LeastSquaresRun], steps: Int, hasTarget: Bool = true) -> String {
        var s = "algorithm,tiles,asymmetry,zero_shift,steps,averaged_steps,last_relative_error,last_minimiser_error,last_loss_gap,"
            + "average_relative_error,average_minimiser_error,average_loss_gap,last_file,average_file\n"
        for r in runs {
            let files = iterateFiles(r)
            s += "\(r.algorithm.rawValue),\(r.tiles),\(r.asymmetry),\(r.zeroShift.rawValue),\(steps),\(r.averagedSteps),"
                + "\(cell(r.last.relativeError, applies: hasTarget)),\(r.last.minimiserError),\(r.last.lossGap),"
                + "\(cell(r.average.relativeError, applies: hasTarget)),\(r.average.minimiserError),\(r.average.lossGap),"
                + "\(files.last),\(files.average)\n"
        }
        return s
    }
}
