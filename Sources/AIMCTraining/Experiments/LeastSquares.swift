import AIMCCore
import Foundation

/// The paper's least-squares experiment (Fig. 2; its script S1-TT-fails.py): min_W f(W) = 1/(2N) sum_i ||W a_i - b_i||^2
/// with a_i ~ N(0, I_D), W* ~ N(0, 0.5^2), b_i = W* a_i (+ optional label noise), trained on one analog weight block
/// by Analog SGD, Tiki-Taka, Residual Learning (and the other algorithms) on the generalized linear device with
/// asymmetry c.
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
    /// The experiment's template: algorithm rates, update settings, device (tau 3.5, dw_min 1e-4), BL 8, ideal reads,
    /// every column of P transferred at each step (with BL 8 a transfer moves a device by at most 8 dw_min, so moving
    /// one column per step would need ~10^5 steps to reach W*).
    public var base: ExperimentConfig

    /// Keys in snake case, as in a training configuration.
    public enum CodingKeys: String, CodingKey {
        case inputs, outputs, samples, batchSize = "batch_size", labelNoise = "label_noise", targetStd = "target_std", steps
        case recordEvery = "record_every", seed, asymmetries, algorithms, zeroShifts = "zero_shifts", tiles, base
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
        try ConfigError.require(batchSize >= 0 && batchSize <= samples, "batch_size", "--batch-size", "must be 0 (full batch) or at most --samples", Double(batchSize))
        try ConfigError.require(labelNoise >= 0 && labelNoise <= 1e3, "label_noise", "--label-noise", "must lie in [0, 1000]", labelNoise)
        try ConfigError.require(targetStd > 0 && targetStd <= 1e3, "target_std", "--target-std", "must lie in (0, 1000]", targetStd)
        try ConfigError.require(steps >= 1 && steps <= 100_000_000, "steps", "--steps", "must be an integer in 1...1e8", Double(steps))
        try ConfigError.require(recordEvery >= 1, "record_every", "--record-every", "must be an integer >= 1", Double(recordEvery))
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
    /// (step, ||W_eff - W*||^2 / ||W*||^2, f(W_eff) - f*) every `record_every` steps and at the end.
    public var curve: [(step: Int, error: Double, gap: Double)] = []
    public var finalError: Double { curve.last?.error ?? .nan }
    public var finalGap: Double { curve.last?.gap ?? .nan }
    /// Mean error over the last quarter of the records: the level a noisy run settles at.
    public var tailError: Double {
        let tail = curve.suffix(max(curve.count / 4, 1))
        return tail.reduce(0) { $0 + $1.error } / Double(tail.count)
    }
}

public enum LeastSquares {
    /// The problem: A (samples x inputs), W* (outputs x inputs), B (samples x outputs), and f* = min f.
    public struct Problem {
        public let a: [Float], wStar: [Float], b: [Float]
        public let fStar: Double
        public let inputs: Int, outputs: Int, samples: Int
    }

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
        let fStar = c.labelNoise == 0 ? 0 : minimum(a: a, b: b, inputs: c.inputs, outputs: c.outputs, samples: c.samples)
        return Problem(a: a, wStar: w, b: b, fStar: fStar, inputs: c.inputs, outputs: c.outputs, samples: c.samples)
    }

    /// f* by the normal equations (Cholesky in Double; a tiny ridge keeps rank-deficient problems solvable).
    static func minimum(a: [Float], b: [Float], inputs d: Int, outputs m: Int, samples n: Int) -> Double {
        var g = [Double](repeating: 0, count: d * d), r = [Double](repeating: 0, count: d * m)
        for i in 0..<n {
            for p in 0..<d {
                let ap = Double(a[i * d + p])
                for q in 0..<d { g[p * d + q] += ap * Double(a[i * d + q]) }
                for o in 0..<m { r[p * m + o] += ap * Double(b[i * m + o]) }
            }
        }
        for p in 0..<d { g[p * d + p] += 1e-9 * Double(n) }
        // Cholesky G = L L^T.
        for j in 0..<d {
            var s = g[j * d + j]
            for k in 0..<j { s -= g[j * d + k] * g[j * d + k] }
            g[j * d + j] = s.squareRoot()
            for i in (j + 1)..<max(j + 1, d) {
                var t = g[i * d + j]
                for k in 0..<j { t -= g[i * d + k] * g[j * d + k] }
                g[i * d + j] = t / g[j * d + j]
            }
        }
        var x = r
        for o in 0..<m {
            for i in 0..<d { var t = x[i * m + o]; for k in 0..<i { t -= g[i * d + k] * x[k * m + o] }; x[i * m + o] = t / g[i * d + i] }
            for i in stride(from: d - 1, through: 0, by: -1) {
                var t = x[i * m + o]; for k in (i + 1)..<max(i + 1, d) { t -= g[k * d + i] * x[k * m + o] }; x[i * m + o] = t / g[i * d + i]
            }
        }
        var f = 0.0
        for i in 0..<n {
            for o in 0..<m {
                var y = 0.0
                for p in 0..<d { y += x[p * m + o] * Double(a[i * d + p]) }
                f += (y - Double(b[i * m + o])) * (y - Double(b[i * m + o]))
            }
        }
        return f / (2 * Double(n))
    }

    /// f(W) = 1/(2N) sum ||W a_i - b_i||^2 in Double, and ||W - W*||^2 / ||W*||^2.
    static func measure(_ w: UnsafePointer<Float>, _ p: Problem) -> (error: Double, loss: Double) {
        var num = 0.0, den = 0.0
        for k in 0..<(p.outputs * p.inputs) {
            num += Double(w[k] - p.wStar[k]) * Double(w[k] - p.wStar[k])
            den += Double(p.wStar[k]) * Double(p.wStar[k])
        }
        var f = 0.0
        for i in 0..<p.samples {
            for o in 0..<p.outputs {
                var y = 0.0
                for j in 0..<p.inputs { y += Double(w[o * p.inputs + j]) * Double(p.a[i * p.inputs + j]) }
                f += (y - Double(p.b[i * p.outputs + o])) * (y - Double(p.b[i * p.outputs + o]))
            }
        }
        return (num / max(den, 1e-300), f / (2 * Double(p.samples)))
    }

    /// Trains one weight block with `algorithm` on device asymmetry `c` and records its curve. The weights start
    /// at W = 0 (P at its reference), as in the paper's script.
    public static func run(_ c: LeastSquaresConfig, problem p: Problem, algorithm: Algorithm, asymmetry: Double,
                           zeroShift: ZeroShift, tiles: Int = 3) -> LeastSquaresRun {
        let config = c.experiment(algorithm: algorithm, asymmetry: asymmetry, zeroShift: zeroShift, tiles: tiles)
        let info = BlockInfo(index: 0, layer: 0, rowBlock: 0, colBlock: 0, rowStart: 0, rows: p.outputs, colStart: 0, cols: p.inputs)
        let block = WeightBlock(info: info, config: config, model: DeviceModel(validated: config.device),
                                initialWeights: [Float](repeating: 0, count: info.devices))
        var run = LeastSquaresRun(algorithm: algorithm, asymmetry: asymmetry, zeroShift: config.algorithm.zeroShift,
                                  tiles: config.algorithm.arrayCount)
        let batch = c.batchSize == 0 ? p.samples : c.batchSize
        var x = [Float](repeating: 0, count: batch * p.inputs)
        var y = [Float](repeating: 0, count: batch * p.outputs)
        var order = Array(0..<p.samples)
        var position = p.samples
        var epoch = 0
        func record(_ step: Int) {
            let (e, f) = measure(block.effective, p)
            run.curve.append((step, e, max(f - p.fStar, 0)))
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
            if (step + 1) % c.recordEvery == 0 || step + 1 == c.steps { record(step + 1) }
        }
        return run
    }

    /// Bytes the experiment holds at its peak: the problem (A, B, W*), one weight block with the most arrays of its
    /// curves, the mini-batch buffers, the block workspace and the sample order.
    public static func memoryBytes(_ c: LeastSquaresConfig) -> Int {
        let d = c.inputs, m = c.outputs, n = c.samples, batch = c.batchSize == 0 ? c.samples : c.batchSize
        let perDevice = c.algorithms.map { a in
            Trainer.bytesPerDevice(c.experiment(algorithm: a, asymmetry: c.asymmetries[0], zeroShift: c.zeroShifts[0],
                                                tiles: c.tiles.max() ?? c.base.algorithm[MultiTileResidual.tiles]))
        }.max() ?? 4
        // A, B; W*; the batch x, targets and outputs; the periphery's buffers of a forward read; the update buffer.
        let floats = n * (d + m) + m * d + batch * (d + 2 * m) + (batch + 1) * (d + m) + m * d
        return 4 * floats + m * d * perDevice + 8 * n
    }

    /// Every (algorithm, c, zero-shift) combination of the configuration; algorithms without P run once per c.
    public static func runAll(_ c: LeastSquaresConfig, progress: ((LeastSquaresRun) -> Void)? = nil) -> [LeastSquaresRun] {
        let p = problem(c)
        var runs = [LeastSquaresRun]()
        for algorithm in c.algorithms {
            for tiles in algorithm == .multiTileResidual ? c.tiles : [c.base.algorithm[MultiTileResidual.tiles]] {
                for shift in algorithm.transfers ? c.zeroShifts : [.none] {
                    for a in c.asymmetries {
                        let r = run(c, problem: p, algorithm: algorithm, asymmetry: a, zeroShift: shift, tiles: tiles)
                        runs.append(r)
                        progress?(r)
                    }
                }
            }
        }
        return runs
    }

    /// All curves as CSV: algorithm, tiles, asymmetry, zero_shift, step, relative_error, loss_gap.
    public static func csv(_ runs: [LeastSquaresRun]) -> String {
        var s = "algorithm,tiles,asymmetry,zero_shift,step,relative_error,loss_gap\n"
        for r in runs {
            for point in r.curve {
                s += "\(r.algorithm.rawValue),\(r.tiles),\(r.asymmetry),\(r.zeroShift.rawValue),\(point.step),\(point.error),\(point.gap)\n"
            }
        }
        return s
    }
}
