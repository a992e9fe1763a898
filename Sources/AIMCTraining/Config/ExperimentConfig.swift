import Foundation
import AIMCCore

/// The algorithm of an experiment: its name, the keys most algorithms share (learning rates, mixing, transfer
/// schedule, update mode, zero-shifting), and the algorithms' own parameters (`AlgorithmParameter`, declared in each
/// algorithm's file and read with `config.algorithm[Type.parameter]`). Which keys an algorithm reads is its type's
/// `reads` and `parameters`; the others have no effect (`ExperimentConfig.ineffective`).
public struct AlgorithmConfig: Codable, Sendable, Equatable {
    /// The algorithm; changing it drops stored parameter values that equal the new algorithm's own defaults, so
    /// that equal configurations compare equal.
    public var name: Algorithm = .residual {
        didSet { parameters = parameters.filter { $0.value != AlgorithmRegistry.parameter($0.key, for: name)?.defaultValue } }
    }
    /// The SGD learning rate lr (aihwkit's `AnalogSGD(lr=...)`): the rate of the digital biases and, unless `fast_lr`
    /// replaces it, alpha, the rate of the gradient update (of W for Analog SGD, of P for Residual Learning).
    public var lr: Double = 0.1
    /// beta: transfer learning rate (Eq. 11): a transfer pulses beta * (column of P) into W; times lr when
    /// `scale_transfer_lr` is set (aihwkit's convention). See `transferRate`.
    public var transferLR: Double = 0.4
    /// gamma: mixing coefficient of W + gamma P (Eq. 9); not read by Tiki-Taka.
    public var gamma: Double = 0.4
    /// One column of P is transferred every `transfer_every` mini-batches (or samples, see `units_in_mbatch`),
    /// columns cycling per block.
    public var transferEvery: Int = 1
    /// Columns read and transferred at each transfer (aihwkit's n_reads_per_transfer).
    public var transferColumns: Int = 1
    /// aihwkit's `fast_lr` of its transfer compounds: when > 0, the gradient update of the transfer algorithms uses
    /// this rate instead of lr (constant, whatever the SGD rate); 0 (aimc-dist's default) uses lr. See `gradientRate`.
    public var fastLR: Double = 0
    /// aihwkit's `scale_transfer_lr`: the transfer rate is transfer_lr x lr (true, aihwkit's default) or transfer_lr
    /// (false, aimc-dist's default).
    public var scaleTransferLR: Bool = false
    /// aihwkit's `units_in_mbatch`: transfer_every counts mini-batches (true) or samples (false: the transfers due
    /// within a mini-batch follow the samples' updates one by one, as aihwkit's CPU update does).
    public var unitsInMbatch: Bool = true
    public var updateMode: UpdateMode = .pulsed
    public var updatePer: UpdateGranularity = .auto
    /// Expected mode: add the granularity noise of Lemma 1 (arXiv 2510.02516).
    public var expectedNoise: Bool = false
    /// Zero-shifting of the array that receives gradient pulses (P for Tiki-Taka and Residual Learning, W for
    /// Analog SGD): none, ideal or pulsed (paper Assumption 4).
    public var zeroShift: ZeroShift = .none
    /// Alternating pulses per device for pulsed zero-shifting.
    public var zeroShiftPulses: Int = 1000
    /// The algorithms' own parameters that differ from their defaults, by key (see `subscript(_:)`).
    var parameters: [String: ParameterValue] = [:]

    public init() {}

    /// The keys shared by several algorithms (the stored properties above, by configuration name).
    public enum SharedKeys {
        /// Every analog algorithm: the gradient rate, the update mode and zero-shifting.
        public static let analog: Set<String> = ["lr", "update_mode", "update_per", "expected_noise", "zero_shift", "zero_shift_pulses"]
        /// An algorithm that transfers P into W: also the transfer rate, period and columns, and aihwkit's rate and
        /// period conventions.
        public static let transfer: Set<String> = analog.union(["transfer_lr", "transfer_every", "transfer_columns", "fast_lr",
                                                                "scale_transfer_lr", "units_in_mbatch"])
        /// Every shared key but `name`.
        public static let all: Set<String> = transfer.union(["gamma"])
    }

    enum CodingKeys: String, CodingKey {
        case name, lr, transferLR = "transfer_lr", gamma, transferEvery = "transfer_every", updateMode = "update_mode"
        case transferColumns = "transfer_columns", fastLR = "fast_lr", scaleTransferLR = "scale_transfer_lr", unitsInMbatch = "units_in_mbatch"
        case updatePer = "update_per", expectedNoise = "expected_noise", zeroShift = "zero_shift"
        case zeroShiftPulses = "zero_shift_pulses"
    }

    struct ParameterKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// The value of an algorithm's own parameter (the default of `p`'s algorithm unless set).
    public subscript<V>(_ p: Parameter<V>) -> V {
        get { parameters[p.key].flatMap { V(parameter: $0) } ?? V(parameter: p.spec.defaultValue)! }
        set { self[value: p.spec] = newValue.parameter }
    }

    /// The value of a parameter, untyped, with the current algorithm's default for the key (`AlgorithmRegistry
    /// .parameter(_:for:)`); setting that default removes the entry, so equal configurations compare equal.
    public subscript(value spec: AlgorithmParameter) -> ParameterValue {
        get { parameters[spec.key] ?? defaultValue(spec) }
        set { parameters[spec.key] = newValue == defaultValue(spec) ? nil : newValue }
    }

    /// The default of `spec`'s key for the current algorithm.
    func defaultValue(_ spec: AlgorithmParameter) -> ParameterValue {
        AlgorithmRegistry.parameter(spec.key, for: name)?.defaultValue ?? spec.defaultValue
    }

    /// The algorithm's type.
    public var type: any TrainingAlgorithm.Type { name.type }

    /// The gradient rate alpha the analog gradient update uses: `fast_lr` when the algorithm reads it and it is > 0
    /// (aihwkit's transfer compounds, default fast_lr 1), else lr. The one place where aihwkit's convention maps onto
    /// alpha.
    public var gradientRate: Double { type.reads.contains("fast_lr") && fastLR > 0 ? fastLR : lr }

    /// The transfer rate beta: transfer_lr, times lr under `scale_transfer_lr` (aihwkit's default). The one place
    /// where aihwkit's convention maps onto beta; per-tile rates of multi-tile residual learning scale alike.
    public var transferRate: Double { transferScale * transferLR }

    /// The factor of every transfer rate: lr under `scale_transfer_lr`, else 1.
    public var transferScale: Double { scaleTransferLR && type.reads.contains("scale_transfer_lr") ? lr : 1 }

    /// Per-sample updates? (`auto`: pulsed per sample, expected per mini-batch.)
    public var perSample: Bool {
        switch updatePer {
        case .auto: return updateMode == .pulsed
        case .sample: return true
        case .batch: return false
        }
    }

    /// Analog arrays per block.
    public var arrayCount: Int { type.roles(self).count }

    /// The transfer schedule as used (see `TransferSchedule`).
    public var transferSchedule: TransferSchedule { type.schedule(self) }

    /// Every shared key, then every registered parameter (its value or default): the full schema, so that a
    /// configuration file or a sweep may set any algorithm's keys.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(lr, forKey: .lr)
        try c.encode(transferLR, forKey: .transferLR)
        try c.encode(gamma, forKey: .gamma)
        try c.encode(transferEvery, forKey: .transferEvery)
        try c.encode(transferColumns, forKey: .transferColumns)
        try c.encode(fastLR, forKey: .fastLR)
        try c.encode(scaleTransferLR, forKey: .scaleTransferLR)
        try c.encode(unitsInMbatch, forKey: .unitsInMbatch)
        try c.encode(updateMode, forKey: .updateMode)
        try c.encode(updatePer, forKey: .updatePer)
        try c.encode(expectedNoise, forKey: .expectedNoise)
        try c.encode(zeroShift, forKey: .zeroShift)
        try c.encode(zeroShiftPulses, forKey: .zeroShiftPulses)
        var own = encoder.container(keyedBy: ParameterKey.self)
        for spec in AlgorithmRegistry.parameters {
            let key = ParameterKey(stringValue: spec.key)
            switch self[value: spec] {
            case .number(let v): try own.encode(v, forKey: key)
            case .integer(let v): try own.encode(v, forKey: key)
            case .boolean(let v): try own.encode(v, forKey: key)
            case .numbers(let v): try own.encode(v, forKey: key)
            case .integers(let v): try own.encode(v, forKey: key)
            }
        }
    }

    /// Keys left out keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(Algorithm.self, forKey: .name) ?? name
        lr = try c.decodeIfPresent(Double.self, forKey: .lr) ?? lr
        transferLR = try c.decodeIfPresent(Double.self, forKey: .transferLR) ?? transferLR
        gamma = try c.decodeIfPresent(Double.self, forKey: .gamma) ?? gamma
        transferEvery = try c.decodeIfPresent(Int.self, forKey: .transferEvery) ?? transferEvery
        transferColumns = try c.decodeIfPresent(Int.self, forKey: .transferColumns) ?? transferColumns
        fastLR = try c.decodeIfPresent(Double.self, forKey: .fastLR) ?? fastLR
        scaleTransferLR = try c.decodeIfPresent(Bool.self, forKey: .scaleTransferLR) ?? scaleTransferLR
        unitsInMbatch = try c.decodeIfPresent(Bool.self, forKey: .unitsInMbatch) ?? unitsInMbatch
        updateMode = try c.decodeIfPresent(UpdateMode.self, forKey: .updateMode) ?? updateMode
        updatePer = try c.decodeIfPresent(UpdateGranularity.self, forKey: .updatePer) ?? updatePer
        expectedNoise = try c.decodeIfPresent(Bool.self, forKey: .expectedNoise) ?? expectedNoise
        zeroShift = try c.decodeIfPresent(ZeroShift.self, forKey: .zeroShift) ?? zeroShift
        zeroShiftPulses = try c.decodeIfPresent(Int.self, forKey: .zeroShiftPulses) ?? zeroShiftPulses
        let own = try decoder.container(keyedBy: ParameterKey.self)
        for spec in AlgorithmRegistry.parameters {
            let key = ParameterKey(stringValue: spec.key)
            guard own.contains(key) else { continue }
            switch spec.defaultValue {
            case .number: self[value: spec] = .number(try own.decode(Double.self, forKey: key))
            case .integer: self[value: spec] = .integer(try own.decode(Int.self, forKey: key))
            case .boolean: self[value: spec] = .boolean(try own.decode(Bool.self, forKey: key))
            case .numbers: self[value: spec] = .numbers(try own.decode([Double].self, forKey: key))
            case .integers: self[value: spec] = .integers(try own.decode([Int].self, forKey: key))
            }
        }
    }

    /// The checks of the shared keys and of every registered parameter's own rule, then the algorithm's `validate`.
    func validate(_ experiment: ExperimentConfig) throws(ConfigError) {
        try ConfigError.require(lr >= 1e-30 && lr <= 1e6, "algorithm.lr", "--lr", "must lie in [1e-30, 1e6]", lr)
        try ConfigError.require(transferLR >= 1e-30 && transferLR <= 1e6, "algorithm.transfer_lr", "--transfer-lr", "must lie in [1e-30, 1e6]", transferLR)
        try ConfigError.require(gamma == 0 || (gamma >= 1e-30 && gamma <= 1e6), "algorithm.gamma", "--gamma", "must be 0 or lie in [1e-30, 1e6]", gamma)
        try ConfigError.require(zeroShiftPulses >= 1 && zeroShiftPulses <= 10_000_000, "algorithm.zero_shift_pulses",
                                "--zero-shift-pulses", "must be an integer in 1...10000000", Double(zeroShiftPulses))
        try ConfigError.require(transferColumns >= 1 && transferColumns <= 65_536, "algorithm.transfer_columns",
                                "--transfer-columns", "must be an integer in 1...65536", Double(transferColumns))
        try ConfigError.require(transferEvery >= 1, "algorithm.transfer_every", "--transfer-every", "must be an integer >= 1", Double(transferEvery))
        try ConfigError.require(fastLR == 0 || (fastLR >= 1e-30 && fastLR <= 1e6), "algorithm.fast_lr", nil,
                                "must be 0 (the gradient update uses lr) or lie in [1e-30, 1e6]", fastLR)
        if type.transfers {
            let r = transferRate
            try ConfigError.require(r >= 1e-30 && r <= 1e6, "algorithm.transfer_lr", "--transfer-lr",
                                    "gives the transfer rate transfer_lr x lr = \(transferLR) x \(lr) (scale_transfer_lr); it must lie in [1e-30, 1e6]", r)
        }
        for spec in AlgorithmRegistry.parameters { try spec.check(self[value: spec]) }
        try type.validate(experiment)
    }
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
    /// Hidden layer widths of a fully connected network (when `layers` is empty); the input width comes from the data,
    /// the output width is the number of classes.
    public var hidden: [Int] = [256, 128]
    /// The layers of any other network, as a specification (`LayerSpec.parse`): e.g. the paper's CNN
    /// "conv16k5,pool2,conv32k5,pool2,dense128"; a dense layer of the data's classes ends every network. Empty: the
    /// fully connected network of `hidden`.
    public var layers: String = ""
    /// The activation after every analog layer but the last.
    public var activation: Activation = .sigmoid
    /// Largest tile: a layer is split into blocks of at most tile_size x tile_size devices.
    public var tileSize: Int = 128

    public init() {}

    enum CodingKeys: String, CodingKey { case hidden, layers, activation, tileSize = "tile_size" }

    /// Keys left out keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hidden = try c.decodeIfPresent([Int].self, forKey: .hidden) ?? hidden
        layers = try c.decodeIfPresent(String.self, forKey: .layers) ?? layers
        activation = try c.decodeIfPresent(Activation.self, forKey: .activation) ?? activation
        tileSize = try c.decodeIfPresent(Int.self, forKey: .tileSize) ?? tileSize
    }

    /// The network's layers on inputs of shape `input` with `classes` outputs.
    /// - Throws: `ConfigError` naming `model.layers` when the layers do not fit the input.
    public func network(input: TensorShape, classes: Int) throws(ConfigError) -> [any NetworkLayer] {
        if layers.isEmpty {
            let widths = [input.size] + hidden + [classes]
            return zip(widths, widths.dropFirst()).enumerated().map { i, w in
                DenseLayer(inputs: w.0, outputs: w.1, input: i == 0 ? input : nil)
            }
        }
        return try LayerSpec.build(LayerSpec.parse(layers), input: input, classes: classes)
    }

    /// Named models (`--model`): the paper's FCN (the default) and its CNN (Fig. 4, Table 7: conv 5x5 with 16 then 32
    /// channels, each followed by tanh and 2x2 max-pooling, then fully connected 512-128-10).
    public static let named: [(name: String, summary: String, apply: @Sendable (inout ModelConfig) -> Void)] = [
        ("fcn", "the paper's FCN 784-256-128-10, sigmoid", { m in m.layers = ""; m.hidden = [256, 128]; m.activation = .sigmoid }),
        ("cnn-paper", "the paper's CNN: conv16k5, pool2, conv32k5, pool2, dense128, dense10 (512-128-10 after flattening), tanh",
         { m in m.layers = "conv16k5,pool2,conv32k5,pool2,dense128"; m.activation = .tanh }),
    ]
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
    /// The stall watchdog: seconds a rank may wait at one collective before the job is ended as stalled, naming the
    /// ranks that did not arrive (0 = wait forever). Longer than any wait of a healthy run: evaluation, a data read.
    public var stallTimeout: Double = 600

    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs, batchSize = "batch_size", trainLimit = "train_limit", testLimit = "test_limit"
        case evalBatchSize = "eval_batch_size", progressSeconds = "progress_seconds", stepsPerEpoch = "steps_per_epoch"
        case stallTimeout = "stall_timeout"
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

/// The seed of the chip: the device-to-device and tile-to-tile draws of every array (`device_seed`, `--device-seed`).
/// `seed` (the default, written "seed" in configuration files) follows the experiment's `seed`; a number holds the
/// chip fixed while `seed` varies the training (initial weights, data order, pulse trains, noise), or the reverse.
public enum DeviceSeed: Codable, Sendable, Equatable {
    case followsSeed
    case fixed(UInt64)

    /// The text configuration files use for `followsSeed`.
    public static let followsSeedText = "seed"

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let text = try? c.decode(String.self) {
            guard text == Self.followsSeedText else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "device_seed must be \"seed\" or an integer; got \(text)")
            }
            self = .followsSeed
        } else {
            self = .fixed(try c.decode(UInt64.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .followsSeed: try c.encode(Self.followsSeedText)
        case .fixed(let s): try c.encode(s)
        }
    }
}

/// Per-tile telemetry (`tiles.csv` in the run folder; see `TileTelemetry`).
public struct TelemetryConfig: Codable, Sendable, Equatable {
    /// Record per-tile telemetry into the run folder's `tiles.csv` (a run without `--output` records nothing).
    public var tiles: Bool = true
    /// Record every `every` training steps as well as at the start and at the end of every epoch; 0 = at the start
    /// and at the end of every epoch only.
    public var every: Int = 0

    public init() {}

    enum CodingKeys: String, CodingKey { case tiles, every }
}

/// What the hardware would spend per read and per pulse: the costs of the estimate of `CostModel`. Defaults: the
/// latencies of the paper's Table 3 (40 ns per forward or backward read of a layer, 5 ns per pulse slot, an update
/// of Analog SGD = 32 slots + 5.9 ns); the paper gives no energies, so the energy costs are 0 (not estimated) unless set.
public struct CostConfig: Codable, Sendable, Equatable {
    /// Nanoseconds per read of one vector through a tile (forward, backward, one-hot transfer read, and each
    /// bound-management repeat).
    public var readNs: Double = 40
    /// Nanoseconds per pulse slot of an update (an update of BL slots takes BL times this).
    public var pulseSlotNs: Double = 5
    /// Nanoseconds per update of a tile beyond its slots (Table 3: 165.9 = 32 x 5 + 5.9).
    public var updateOverheadNs: Double = 5.9
    /// Picojoules per read of one vector through a tile, and per device pulse fired (0 = not estimated).
    public var readPj: Double = 0
    public var pulsePj: Double = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case readNs = "read_ns", pulseSlotNs = "pulse_slot_ns", updateOverheadNs = "update_overhead_ns", readPj = "read_pj", pulsePj = "pulse_pj"
    }

    /// Whether an energy cost is set.
    public var estimatesEnergy: Bool { readPj > 0 || pulsePj > 0 }

    func validate() throws(ConfigError) {
        for (value, key) in [(readNs, "read_ns"), (pulseSlotNs, "pulse_slot_ns"), (updateOverheadNs, "update_overhead_ns"),
                             (readPj, "read_pj"), (pulsePj, "pulse_pj")] {
            try ConfigError.require(value >= 0 && value <= 1e12, "cost." + key, nil, "must lie in [0, 1e12]", value)
        }
    }
}

/// A whole experiment: plain data, validated, written to the run directory as `config.json` so the run can
/// be repeated with `aimc-dist --config config.json`.
public struct ExperimentConfig: Codable, Sendable, Equatable {
    public var seed: UInt64 = 0
    /// The seed of the device-to-device and tile-to-tile draws (see `DeviceSeed`; `chipSeed` is the value used).
    public var deviceSeed: DeviceSeed = .followsSeed
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
    public var telemetry = TelemetryConfig()
    public var cost = CostConfig()

    public init() {}

    /// The seed the device-to-device and tile-to-tile draws use: `device_seed`, or `seed` when it follows it.
    public var chipSeed: UInt64 {
        switch deviceSeed {
        case .followsSeed: return seed
        case .fixed(let s): return s
        }
    }

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
        if !model.layers.isEmpty { _ = try LayerSpec.parse(model.layers) }
        try algorithm.validate(self)
        try ConfigError.require(training.epochs >= 1 && training.epochs <= 100_000, "training.epochs", "--epochs", "must be an integer in 1...100000", Double(training.epochs))
        try ConfigError.require(training.batchSize >= 1 && training.batchSize <= 65_536, "training.batch_size", "--batch-size", "must be an integer in 1...65536", Double(training.batchSize))
        try ConfigError.require(training.trainLimit >= 0, "training.train_limit", "--train-limit", "must be an integer >= 0 (0 = all images)", Double(training.trainLimit))
        try ConfigError.require(training.testLimit >= 0, "training.test_limit", "--test-limit", "must be an integer >= 0 (0 = all images)", Double(training.testLimit))
        try ConfigError.require(training.evalBatchSize >= 1 && training.evalBatchSize <= 65_536, "training.eval_batch_size", nil, "must be an integer in 1...65536", Double(training.evalBatchSize))
        try ConfigError.require(training.progressSeconds >= 0 && training.progressSeconds.isFinite, "training.progress_seconds", "--progress-seconds", "must be a finite number >= 0", training.progressSeconds)
        // Below a second, ordinary waits (an evaluation, a slower rank) would pass for stalls.
        try ConfigError.require(training.stallTimeout == 0 || (training.stallTimeout >= 1 && training.stallTimeout <= 1e7), "training.stall_timeout",
                                "--stall-timeout", "must be 0 (wait forever) or a number of seconds in [1, 1e7]", training.stallTimeout)
        try ConfigError.require(training.stepsPerEpoch >= 0, "training.steps_per_epoch", "--steps-per-epoch", "must be an integer >= 0 (0 = whole epochs)", Double(training.stepsPerEpoch))
        try ConfigError.require(replicas >= 1 && replicas <= 65_536, "replicas", "--replicas", "must be an integer in 1...65536", Double(replicas))
        if data.source == .teacher {
            try ConfigError.require(data.features >= 1 && data.features <= 1 << 20, "data.features", "--features", "must be an integer in 1...1048576", Double(data.features))
            try ConfigError.require(data.classes >= 2 && data.classes <= 256, "data.classes", nil, "must be an integer in 2...256", Double(data.classes))
            try ConfigError.require(data.trainSamples >= 1 && data.trainSamples <= 10_000_000, "data.train_samples", "--train-samples", "must be an integer in 1...1e7", Double(data.trainSamples))
            try ConfigError.require(data.testSamples >= 1 && data.testSamples <= 10_000_000, "data.test_samples", "--test-samples", "must be an integer in 1...1e7", Double(data.testSamples))
        }
        if data.dir.isEmpty { throw ConfigError(key: "data.dir", option: "--data-dir", message: "must name a folder") }
        try ConfigError.require(telemetry.every >= 0 && telemetry.every <= 1_000_000_000_000, "telemetry.every", "--telemetry-every",
                                "must be an integer in 0...1e12 (0 = at every epoch's start and end)", Double(telemetry.every))
        try cost.validate()
    }

    enum CodingKeys: String, CodingKey {
        case seed, deviceSeed = "device_seed", model, algorithm, device, forward, backward, transfer, update, training, data, placement, replicas
        case telemetry, cost
    }
}
