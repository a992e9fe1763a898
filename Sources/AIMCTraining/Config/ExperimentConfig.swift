import Foundation
import AIMCCore

/// The training algorithms (paper Sections 3-5; arXiv 2510.02516; arXiv 2602.21321).
public enum Algorithm: String, Codable, Sendable, CaseIterable {
    /// Floating-point SGD with exact products: the reference.
    case digitalSGD = "digital-sgd"
    /// Analog SGD (paper Eq. 2): the gradient is pulsed into the weight array W.
    case analogSGD = "analog-sgd"
    /// Tiki-Taka v1: Residual Learning with gamma = 0 (the forward pass sees W only).
    case tikiTaka = "tiki-taka"
    /// Tiki-Taka v2 (paper App. D): gradients at W, pulsed into P; a digital buffer H accumulates beta times the
    /// read columns of P and whole pulses (up to BL) move from H into W when |H| >= dw_min.
    case tikiTakaV2 = "tiki-taka-v2"
    /// Residual Learning (paper Eqs. 9-11): arrays W and P, forward and backward on W + gamma P.
    case residual
    /// Residual Learning v2 (paper Section 5): H <- (1 - beta) H + beta (read P column); one pulse of sign(H) on W
    /// when |H| >= dw_min, and H -= sign(H) dw_min.
    case residualV2 = "residual-v2"
    /// Multi-tile residual learning (arXiv 2510.02516): arrays W(0..N), forward on sum_n gamma^n W(n), gradient
    /// pulses on W(N), column transfers from W(n+1) into W(n) on nested periods.
    case multiTileResidual = "multi-tile-residual"
    /// RIDER (arXiv 2602.21321, Alg. 2): forward on W + gamma (P - Q) with Q a digital moving average of P's
    /// reads, Q <- (1 - eta) Q + eta P; transfers beta (P - Q_old) into W. No zero-shifting needed.
    case rider

    /// Whether the algorithm has a residual array P (index 1) and transfers it into W.
    public var transfers: Bool { self != .digitalSGD && self != .analogSGD }

    /// Number of analog arrays per weight block for `tiles` (multi-tile: N + 1 = tiles).
    public func arrayCount(tiles: Int) -> Int {
        switch self {
        case .digitalSGD: return 0
        case .analogSGD: return 1
        case .multiTileResidual: return tiles
        default: return 2
        }
    }

    /// Whether the forward pass mixes in the residual arrays (gamma > 0).
    public var mixes: Bool { self == .residual || self == .residualV2 || self == .multiTileResidual || self == .rider }
}

/// How the gradient reaches the devices.
public enum UpdateMode: String, Codable, Sendable, CaseIterable {
    /// Stochastic pulse trains, one rank-one update per sample (aihwkit's way).
    case pulsed
    /// The mean update of the pulse model (paper Eq. 2), once per mini-batch.
    case expected
}

/// Whether an update is applied per sample of the mini-batch or once per mini-batch.
public enum UpdateGranularity: String, Codable, Sendable, CaseIterable {
    /// Per sample for pulsed updates (aihwkit), per mini-batch for expected updates (the paper's Eq. 2).
    case auto
    /// One rank-one update per sample: pulse trains (pulsed) or Eq. 2 (expected).
    case sample
    /// One update of the summed mini-batch gradient: binomial pulse counts (pulsed, Lemma 1's model) or Eq. 2.
    case batch
}

public enum Activation: String, Codable, Sendable, CaseIterable {
    case sigmoid, tanh, relu
}

/// How weight blocks are assigned to MPI ranks.
public enum PlacementPolicy: String, Codable, Sendable, CaseIterable {
    /// Block b (global block order) goes to rank b mod ranks.
    case roundRobin = "round-robin"
    /// Largest blocks first, each to the rank with the fewest devices so far (ties: lowest rank).
    case balanced
    /// Contiguous layers on contiguous groups of ranks (pipeline-like): each layer gets ranks in proportion to its
    /// devices (at least one), its blocks round-robin within its group; with fewer ranks than layers, consecutive
    /// layers share a rank.
    case byLayer = "by-layer"
}

public struct ModelConfig: Codable, Sendable, Equatable {
    /// Hidden layer widths; the input width comes from the data, the output width is the number of classes.
    public var hidden: [Int] = [256, 128]
    public var activation: Activation = .sigmoid
    /// Largest tile: a layer is split into blocks of at most tile_size x tile_size devices.
    public var tileSize: Int = 128

    public init() {}

    enum CodingKeys: String, CodingKey { case hidden, activation, tileSize = "tile_size" }
}

public struct AlgorithmConfig: Codable, Sendable, Equatable {
    public var name: Algorithm = .residual
    /// alpha: learning rate of the gradient update (of W for Analog SGD, of P for Residual Learning), and of
    /// the digital biases.
    public var lr: Double = 0.1
    /// beta: transfer learning rate (Eq. 11): a transfer pulses beta * (column of P) into W.
    public var transferLR: Double = 0.4
    /// gamma: mixing coefficient of W + gamma P (Eq. 9); forced to 0 for Tiki-Taka.
    public var gamma: Double = 0.4
    /// One column of P is transferred every `transfer_every` mini-batches, columns cycling per block.
    public var transferEvery: Int = 1
    /// Columns read and transferred at each transfer (aihwkit's n_reads_per_transfer).
    public var transferColumns: Int = 1
    public var updateMode: UpdateMode = .pulsed
    public var updatePer: UpdateGranularity = .auto
    /// Expected mode: add the granularity noise of Lemma 1 (arXiv 2510.02516).
    public var expectedNoise: Bool = false
    /// Zero-shifting of the arrays that receive gradient pulses (P for Tiki-Taka and Residual Learning, W for
    /// Analog SGD): none, ideal or pulsed (paper Assumption 4).
    public var zeroShift: ZeroShift = .none
    /// Alternating pulses per device for pulsed zero-shifting.
    public var zeroShiftPulses: Int = 1000
    /// Multi-tile residual learning: number of arrays N + 1 (2 is Residual Learning).
    public var tiles: Int = 3
    /// Multi-tile: the transfer period of level n (from W(n+1) into W(n)) is transfer_every * growth^(N-1-n), so the
    /// most significant tiles change slowest (the nested schedule of arXiv 2510.02516, Section 3.2).
    public var transferEveryGrowth: Double = 2
    /// Multi-tile: the transfer rate of level n is transfer_lr * growth^(N-1-n) (its code: 0.1 * 1.2^n).
    public var transferLRGrowth: Double = 1.2
    /// Multi-tile: explicit transfer periods and rates per source tile, in aihwkit's order (first the gradient tile
    /// W(N), then W(N-1), ..., W(1)); when given (N entries) they replace the geometric rules above.
    public var transferEveryPerTile: [Int] = []
    public var transferLRPerTile: [Double] = []
    /// Multi-tile: Algorithm 1's warm start: fill W(0), W(1), ... in turn from the gradient tile, moving on at each
    /// plateau of the epoch training loss, before the cascade starts.
    public var warmStart: Bool = false
    /// RIDER: rate eta of the digital moving average Q of P (Eq. 12).
    public var riderEta: Double = 0.1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case name, lr, transferLR = "transfer_lr", gamma, transferEvery = "transfer_every", updateMode = "update_mode"
        case transferColumns = "transfer_columns"
        case updatePer = "update_per", expectedNoise = "expected_noise", zeroShift = "zero_shift"
        case zeroShiftPulses = "zero_shift_pulses", tiles, transferEveryGrowth = "transfer_every_growth"
        case transferLRGrowth = "transfer_lr_growth", warmStart = "warm_start", riderEta = "rider_eta"
        case transferEveryPerTile = "transfer_every_per_tile", transferLRPerTile = "transfer_lr_per_tile"
    }

    /// Per-sample updates? (`auto`: pulsed per sample, expected per mini-batch.)
    public var perSample: Bool {
        switch updatePer {
        case .auto: return updateMode == .pulsed
        case .sample: return true
        case .batch: return false
        }
    }

    /// gamma as used: 0 for Tiki-Taka v1 and v2.
    public var effectiveGamma: Double { name.mixes ? gamma : 0 }

    /// Analog arrays per block.
    public var arrayCount: Int { name.arrayCount(tiles: tiles) }

    /// Longest transfer period accepted (steps): longer than any run, and exact in Double.
    public static let maxTransferPeriod: Double = 1e12

    /// The transfer schedule of source arrays s = 1...N (N = arrayCount - 1; entry 0 is unused and 0): source s
    /// transfers into s - 1 every `periods[s]` mini-batches at rate `rates[s]`. Multi-tile residual learning
    /// (arXiv 2510.02516, Section 3.2): periods transfer_every x growth^(N - s), rates transfer_lr x growth^(s - 1),
    /// or the per-tile lists (aihwkit order, gradient tile first); every other algorithm has one source with
    /// transfer_every and transfer_lr. Values are computed in Double (powers by `Elementary.power`, the same bits on
    /// every machine); `validate()` keeps them finite and bounded.
    public var transferSchedule: (periods: [Double], rates: [Double]) {
        let n = max(arrayCount - 1, 0)
        let perTile = name == .multiTileResidual
        let periods = (0...n).map { s -> Double in
            if s == 0 { return 0 }
            if perTile && transferEveryPerTile.count == n { return Double(transferEveryPerTile[n - s]) }
            return max(1, (Double(transferEvery) * Elementary.power(transferEveryGrowth, n - s)).rounded())
        }
        let rates = (0...n).map { s -> Double in
            if s == 0 { return 0 }
            if perTile && transferLRPerTile.count == n { return transferLRPerTile[n - s] }
            return transferLR * Elementary.power(transferLRGrowth, s - 1)
        }
        return (periods, rates)
    }

    /// Checks the transfer schedule: every period at most `maxTransferPeriod`, every rate a normal Float in
    /// (0, 1e6]; Residual Learning v2's rate is the averaging weight of H and must lie in (0, 1].
    func validateSchedule() throws(ConfigError) {
        let (periods, rates) = transferSchedule
        let perTile = name == .multiTileResidual && !transferEveryPerTile.isEmpty
        for s in 1..<max(periods.count, 1) {
            let p = periods[s]
            if !(p <= Self.maxTransferPeriod) {
                if name == .multiTileResidual && !perTile {
                    throw ConfigError(key: "algorithm.transfer_every", option: "--transfer-every",
                                      message: "x --transfer-every-growth^\(periods.count - 1 - s) = \(transferEvery) x \(transferEveryGrowth)^\(periods.count - 1 - s) = \(p) steps, more than 1e12; use fewer tiles, a smaller growth or a smaller --transfer-every")
                }
                throw ConfigError(key: perTile ? "algorithm.transfer_every_per_tile" : "algorithm.transfer_every",
                                  option: perTile ? "--transfer-every-per-tile" : "--transfer-every",
                                  message: "must be at most 1e12 steps; got \(p)")
            }
        }
        for s in 1..<max(rates.count, 1) {
            let r = rates[s], f = Float(r)
            if !(r > 0 && r <= 1e6 && f.isNormal) {
                let grown = name == .multiTileResidual && transferLRPerTile.isEmpty && s > 1
                throw ConfigError(key: grown ? "algorithm.transfer_lr_growth" : "algorithm.transfer_lr",
                                  option: grown ? "--transfer-lr-growth" : "--transfer-lr",
                                  message: grown
                                      ? "gives source tile \(s) the rate \(transferLR) x \(transferLRGrowth)^\(s - 1) = \(r), outside (1.2e-38, 1e6]; choose a growth closer to 1"
                                      : "gives the rate \(r), outside the range of Float (1.2e-38, 1e6]")
            }
        }
        if name == .residualV2 && !(transferLR <= 1) {
            throw ConfigError(key: "algorithm.transfer_lr", option: "--transfer-lr",
                              message: "is Residual Learning v2's averaging weight of H (H = (1 - beta) H + beta P) and must lie in (0, 1]; got \(transferLR)")
        }
    }
}

public struct TrainingConfig: Codable, Sendable, Equatable {
    public var epochs: Int = 3
    public var batchSize: Int = 10
    /// Use only the first N training images (0 = all).
    public var trainLimit: Int = 0
    /// Evaluate on the first N test images (0 = all).
    public var testLimit: Int = 0
    /// Mini-batch size for evaluation (does not change results beyond the noise keys).
    public var evalBatchSize: Int = 500
    /// Seconds between progress lines within an epoch (0 = none).
    public var progressSeconds: Double = 15
    /// Stop each epoch after this many mini-batches (0 = the whole training set); for benchmarks.
    public var stepsPerEpoch: Int = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs, batchSize = "batch_size", trainLimit = "train_limit", testLimit = "test_limit"
        case evalBatchSize = "eval_batch_size", progressSeconds = "progress_seconds", stepsPerEpoch = "steps_per_epoch"
    }
}

public struct DataConfig: Codable, Sendable, Equatable {
    public enum Source: String, Codable, Sendable, CaseIterable {
        /// MNIST-format IDX files in `dir` (Fashion-MNIST by default).
        case idx
        /// A synthetic teacher-student task: inputs in [0, 1]^features near random class prototypes, labelled by a
        /// fixed random teacher (the nearest prototype), for models of any width without data files.
        case teacher
    }

    public var source: Source = .idx
    /// Folder with the four MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...).
    public var dir: String = "/usr/share/datasets/fashion-mnist"
    /// Teacher data: input width, classes and sample counts.
    public var features: Int = 784
    public var classes: Int = 10
    public var trainSamples: Int = 60_000
    public var testSamples: Int = 10_000
    public init() {}

    enum CodingKeys: String, CodingKey {
        case source, dir, features, classes, trainSamples = "train_samples", testSamples = "test_samples"
    }
}

/// A whole experiment: plain data, validated, written to the run directory as `config.json` so the run can
/// be repeated with `aimc-dist --config config.json`.
public struct ExperimentConfig: Codable, Sendable, Equatable {
    public var seed: UInt64 = 0
    public var model = ModelConfig()
    public var algorithm = AlgorithmConfig()
    public var device = DeviceConfig.softBoundsDefault
    public var forward = IOConfig.table4Forward
    public var backward = IOConfig.table4Backward
    public var transfer = IOConfig.table4Transfer
    public var update = UpdateConfig()
    public var training = TrainingConfig()
    public var data = DataConfig()
    public var placement: PlacementPolicy = .roundRobin
    /// Data-parallel replicas of the model: the world is replicas x ranks per model; each replica takes its share of
    /// every mini-batch and all apply the same global-batch update.
    public var replicas: Int = 1

    public init() {}

    /// The embedded default experiment: the paper's FCN 784-256-128-10 (sigmoid) on Fashion-MNIST with Residual
    /// Learning on a soft-bounds device (tau 0.6, dw_min 1e-3, 30% cycle-to-cycle and device-to-device variability)
    /// behind the Table 4 periphery, 3 epochs, seed 0.
    public static var `default`: ExperimentConfig { ExperimentConfig() }

    /// Writes derived values out, so `config.json` states what a run uses: dw_min from n_states when that is set,
    /// and a piecewise table file read into the points `device.piecewise_w`, `piecewise_q_plus`, `piecewise_q_minus`
    /// (the file name is cleared), so the run's config.json carries the table and runs from any folder. A table that
    /// cannot be read is left named, for `validate()` to report. A relative data folder becomes absolute (against the
    /// working directory), so that replaying the run's config.json from elsewhere reads the same data.
    public mutating func resolve() {
        if device.nStates > 0 { device.dwMin = device.effectiveDwMin }
        try? device.embedPiecewiseTable()
        if !data.dir.isEmpty && !data.dir.hasPrefix("/") { data.dir = Self.absolute(data.dir) }
    }

    /// `path` (relative) joined to the working directory, "." components dropped ("..", which a symbolic link
    /// may make differ from its textual meaning, is kept).
    static func absolute(_ path: String) -> String {
        let parts = (FileManager.default.currentDirectoryPath + "/" + path).split(separator: "/").filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    /// Checks every value; the error names the key and the command-line option.
    public func validate() throws(ConfigError) {
        try device.validate()
        try forward.validate("forward")
        try backward.validate("backward")
        try transfer.validate("transfer")
        try update.validate()
        for (i, h) in model.hidden.enumerated() {
            try ConfigError.require(h >= 1 && h <= 1 << 20, "model.hidden[\(i)]", "--hidden", "must be an integer in 1...1048576", Double(h))
        }
        try ConfigError.require(model.tileSize >= 1 && model.tileSize <= 1 << 16, "model.tile_size", "--tile-size", "must be an integer in 1...65536", Double(model.tileSize))
        try ConfigError.require(algorithm.lr >= 1e-30 && algorithm.lr <= 1e6, "algorithm.lr", "--lr", "must lie in [1e-30, 1e6]", algorithm.lr)
        try ConfigError.require(algorithm.transferLR >= 1e-30 && algorithm.transferLR <= 1e6, "algorithm.transfer_lr", "--transfer-lr", "must lie in [1e-30, 1e6]", algorithm.transferLR)
        try ConfigError.require(algorithm.gamma == 0 || (algorithm.gamma >= 1e-30 && algorithm.gamma <= 1e6), "algorithm.gamma", "--gamma", "must be 0 or lie in [1e-30, 1e6]", algorithm.gamma)
        try ConfigError.require(algorithm.zeroShiftPulses >= 1 && algorithm.zeroShiftPulses <= 10_000_000, "algorithm.zero_shift_pulses",
                                "--zero-shift-pulses", "must be an integer in 1...10000000", Double(algorithm.zeroShiftPulses))
        try ConfigError.require(algorithm.transferColumns >= 1 && algorithm.transferColumns <= 65_536, "algorithm.transfer_columns",
                                "--transfer-columns", "must be an integer in 1...65536", Double(algorithm.transferColumns))
        try ConfigError.require(algorithm.tiles >= 2 && algorithm.tiles <= 12, "algorithm.tiles", "--tiles", "must be an integer in 2...12", Double(algorithm.tiles))
        try ConfigError.require(algorithm.transferEveryGrowth >= 1 && algorithm.transferEveryGrowth <= 100, "algorithm.transfer_every_growth",
                                "--transfer-every-growth", "must lie in [1, 100]", algorithm.transferEveryGrowth)
        try ConfigError.require(algorithm.transferLRGrowth > 0 && algorithm.transferLRGrowth <= 100, "algorithm.transfer_lr_growth",
                                "--transfer-lr-growth", "must lie in (0, 100]", algorithm.transferLRGrowth)
        if algorithm.name == .multiTileResidual {
            let n = algorithm.tiles - 1
            for (list, key, option) in [(algorithm.transferEveryPerTile.map(Double.init), "transfer_every_per_tile", "--transfer-every-per-tile"),
                                        (algorithm.transferLRPerTile, "transfer_lr_per_tile", "--transfer-lr-per-tile")] where !list.isEmpty {
                if list.count != n {
                    throw ConfigError(key: "algorithm." + key, option: option, message: "must list \(n) values (one per source tile, gradient tile first) for \(algorithm.tiles) tiles; got \(list.count)")
                }
                for v in list { try ConfigError.require(v > 0 && v <= 1e6 && v.isFinite, "algorithm." + key, option, "values must lie in (0, 1e6]", v) }
            }
        }
        try ConfigError.require(algorithm.riderEta >= 1e-30 && algorithm.riderEta <= 1, "algorithm.rider_eta", "--rider-eta", "must lie in [1e-30, 1]", algorithm.riderEta)
        try ConfigError.require(algorithm.transferEvery >= 1, "algorithm.transfer_every", "--transfer-every", "must be an integer >= 1", Double(algorithm.transferEvery))
        try algorithm.validateSchedule()
        try ConfigError.require(training.epochs >= 1 && training.epochs <= 100_000, "training.epochs", "--epochs", "must be an integer in 1...100000", Double(training.epochs))
        try ConfigError.require(training.batchSize >= 1 && training.batchSize <= 65_536, "training.batch_size", "--batch-size", "must be an integer in 1...65536", Double(training.batchSize))
        try ConfigError.require(training.trainLimit >= 0, "training.train_limit", "--train-limit", "must be an integer >= 0 (0 = all images)", Double(training.trainLimit))
        try ConfigError.require(training.testLimit >= 0, "training.test_limit", "--test-limit", "must be an integer >= 0 (0 = all images)", Double(training.testLimit))
        try ConfigError.require(training.evalBatchSize >= 1 && training.evalBatchSize <= 65_536, "training.eval_batch_size", nil, "must be an integer in 1...65536", Double(training.evalBatchSize))
        try ConfigError.require(training.progressSeconds >= 0 && training.progressSeconds.isFinite, "training.progress_seconds", "--progress-seconds", "must be a finite number >= 0", training.progressSeconds)
        try ConfigError.require(training.stepsPerEpoch >= 0, "training.steps_per_epoch", "--steps-per-epoch", "must be an integer >= 0 (0 = whole epochs)", Double(training.stepsPerEpoch))
        try ConfigError.require(replicas >= 1 && replicas <= 65_536, "replicas", "--replicas", "must be an integer in 1...65536", Double(replicas))
        if data.source == .teacher {
            try ConfigError.require(data.features >= 1 && data.features <= 1 << 20, "data.features", "--features", "must be an integer in 1...1048576", Double(data.features))
            try ConfigError.require(data.classes >= 2 && data.classes <= 256, "data.classes", nil, "must be an integer in 2...256", Double(data.classes))
            try ConfigError.require(data.trainSamples >= 1 && data.trainSamples <= 10_000_000, "data.train_samples", "--train-samples", "must be an integer in 1...1e7", Double(data.trainSamples))
            try ConfigError.require(data.testSamples >= 1 && data.testSamples <= 10_000_000, "data.test_samples", "--test-samples", "must be an integer in 1...1e7", Double(data.testSamples))
        }
        if data.dir.isEmpty { throw ConfigError(key: "data.dir", option: "--data-dir", message: "must name a folder") }
    }

    enum CodingKeys: String, CodingKey {
        case seed, model, algorithm, device, forward, backward, transfer, update, training, data, placement, replicas
    }
}
