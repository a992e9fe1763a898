import AIMCCore

/// A training algorithm: what it needs of a weight block and what it does to it. One type per algorithm, one file
/// each under `Algorithms/`, listed once in `AlgorithmRegistry.all`; nothing else in the code names a particular
/// algorithm.
///
/// The static part describes the algorithm to the configuration, the reports and the planner: its name, the keys
/// it reads, its own parameters and their rules, the analog arrays (tiles) a block needs, its digital memory. An
/// instance is one block's algorithm state: digital buffers (H, Q, digital weights, ...) and counters (the next
/// column to transfer, schedule state), everything a checkpoint must hold beside the arrays' device states.
///
/// `WeightBlock` owns the arrays (W(0) = W, W(1) = P, ..., with their devices and references), the reads through the
/// periphery and the weights the reads see; it calls the algorithm at the two points of a training step that differ
/// between algorithms (the gradient update, the transfer after it) and at the end of an epoch, and gives it the
/// shared operations (pulsing a gradient into an array, reading a column through the transfer periphery, pulsing a
/// column, firing threshold pulses), so that every algorithm uses the same physics.
public protocol TrainingAlgorithm: AnyObject, SendableMetatype {
    /// The value of `algorithm.name` (and `--algorithm`), e.g. "residual".
    static var name: String { get }
    /// What reports print first, with the source: "Residual Learning (paper Eqs. 9-11)".
    static var title: String { get }
    /// The shared keys of `algorithm.` it reads besides `name` (see `AlgorithmConfig.SharedKeys`).
    static var reads: Set<String> { get }
    /// Keys outside `algorithm.` it reads whatever the update mode (dotted, e.g. "update.desired_bl").
    static var alsoReads: Set<String> { get }
    /// Its own keys under `algorithm.`, with defaults and rules. A key may be shared with another algorithm by
    /// listing the same `Parameter` (the registry checks that shared keys are defined alike).
    static var parameters: [AlgorithmParameter] { get }
    /// The analog arrays of one block, W(0) (the most significant, programmed with the initial weights) first;
    /// empty for a digital algorithm.
    static func roles(_ config: AlgorithmConfig) -> [ArrayRole]
    /// The array that receives the gradient pulses (and is zero-shifted): by default the last one, W(N).
    static func gradientArray(_ config: AlgorithmConfig) -> Int
    /// The coefficient of each array in the weight the reads see (1, gamma, gamma^2, ...; 0 where an array is not
    /// read).
    static func coefficients(_ config: AlgorithmConfig) -> [Double]
    /// Whether the algorithm moves one array into another (and so uses the transfer periphery).
    static var transfers: Bool { get }
    /// Whether its transfers fire whole device pulses in either update mode (threshold transfers).
    static var firesThresholdPulses: Bool { get }
    /// Whether `addDigitalTerm` adds anything for `config` (the reads then need their own matrix).
    static func hasDigitalTerm(_ config: AlgorithmConfig) -> Bool
    /// Its transfer schedule: source array s = 1...N moves into s - 1 every `periods[s]` steps at rate `rates[s]`.
    static func schedule(_ config: AlgorithmConfig) -> TransferSchedule
    /// Digital Float32 values it keeps per weight (buffers, digital weights), for memory planning.
    static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int
    /// Checks the values it reads beyond each parameter's own rule (lengths of lists, schedules, coupled keys).
    static func validate(_ config: ExperimentConfig) throws(ConfigError)
    /// Why `algorithm.<field>` (one of its own keys or a shared key it reads) has no effect on `config`, or nil.
    static func ineffective(_ field: String, in config: ExperimentConfig) -> String?
    /// The report line after the title: its rates and schedule. `update` describes the update mode.
    static func describe(_ config: ExperimentConfig, update: String) -> String

    /// One block's state, fresh. `initialWeights` (rows x cols, row-major) are programmed into W(0) by the block;
    /// a digital algorithm keeps them itself.
    init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float])

    /// The digital weights the reads see, when the algorithm has no analog arrays.
    var digitalWeights: UnsafeMutablePointer<Float>? { get }
    /// Adds the algorithm's own terms to the weights the reads see (after the arrays' weighted sum): RIDER's
    /// -gamma Q, or a term no scalar coefficient describes (c-TTv2's de-chopped gamma (c_out c_in^T) .* P, read
    /// from `block.arrays`). Returns false when there is none (the block may then read W's own storage).
    func addDigitalTerm(_ block: WeightBlock, to effective: UnsafeMutablePointer<Float>, count: Int) -> Bool
    /// The gradient update of one mini-batch, requesting dW = -alpha sum_b d_b x_b^T. `x` and `d` point at this
    /// block's slices (sample b at x + b * xStride, d + b * dStride). Default: `block.pulseGradient`.
    func gradientUpdate(_ block: WeightBlock, x: UnsafePointer<Float>, xStride: Int, d: UnsafePointer<Float>, dStride: Int,
                        batch: Int, step: UInt64)
    /// The transfers due after training step `step` (0-based). Default: none.
    func transfer(_ block: WeightBlock, after step: Int64)
    /// The end of an epoch, with the epoch's mean training loss (identical on every rank). Default: nothing.
    func epochEnded(trainLoss: Double)
    /// Digital arrays of rows x cols values (live storage: a checkpoint writes from them, a resume reads into them).
    var digitalArrays: [DigitalArray] { get }
    /// The terms `addDigitalTerm` or `digitalWeights` add to the weights the reads see, for readers of checkpoints
    /// (digital SGD: its weights times 1; RIDER: Q times -gamma; c-TTv2: P times gamma with its chopper signs).
    var digitalReadTerms: [WeightTerm] { get }
    /// Counters and other small state, by name.
    var scalars: [String: ScalarState] { get }
    /// Restores `scalars` as a checkpoint recorded them.
    /// - Throws: `StateError` when a name is missing or a value has the wrong kind or length.
    func restore(scalars: [String: ScalarState]) throws(StateError)
}

extension AlgorithmConfig {
    /// The report's rates: "alpha 0.1, beta 0.4", or with aihwkit's conventions "alpha 1 (fast_lr), beta 0.1
    /// (transfer_lr 1 x lr 0.1)".
    var ratesText: String {
        let g = Report.g
        let alpha = gradientRate != lr ? "alpha \(g(gradientRate)) (fast_lr; lr \(g(lr)) for the biases)" : "alpha \(g(lr))"
        let beta = transferScale != 1 ? "beta \(g(transferRate)) (transfer_lr \(g(transferLR)) x lr \(g(lr)))" : "beta \(g(transferLR))"
        return alpha + ", " + beta
    }

    /// "one column every 1 step(s)" or, with transfer_every in samples, "one column every 1 sample(s)".
    var periodText: String {
        "\(Report.columns(self)) every \(transferEvery) \(unitsInMbatch ? "step(s)" : "sample(s)")"
    }
}

extension TrainingAlgorithm {
    public static var alsoReads: Set<String> { [] }
    public static var parameters: [AlgorithmParameter] { [] }
    public static var transfers: Bool { false }
    public static func hasDigitalTerm(_ config: AlgorithmConfig) -> Bool { false }
    public static var firesThresholdPulses: Bool { false }
    public static func gradientArray(_ config: AlgorithmConfig) -> Int { max(roles(config).count - 1, 0) }
    public static func coefficients(_ config: AlgorithmConfig) -> [Double] {
        roles(config).indices.map { $0 == 0 ? 1 : 0 }
    }
    public static func schedule(_ config: AlgorithmConfig) -> TransferSchedule { .single(config, sources: roles(config).count - 1) }
    public static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int { 0 }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) {}
    public static func ineffective(_ field: String, in config: ExperimentConfig) -> String? { nil }

    public var digitalWeights: UnsafeMutablePointer<Float>? { nil }
    public func addDigitalTerm(_ block: WeightBlock, to effective: UnsafeMutablePointer<Float>, count: Int) -> Bool { false }
    public func gradientUpdate(_ block: WeightBlock, x: UnsafePointer<Float>, xStride: Int, d: UnsafePointer<Float>, dStride: Int,
                               batch: Int, step: UInt64) {
        block.pulseGradient(x: x, xStride: xStride, d: d, dStride: dStride, batch: batch, step: step)
    }
    public func transfer(_ block: WeightBlock, after step: Int64) {}
    public func epochEnded(trainLoss: Double) {}
    public var digitalArrays: [DigitalArray] { [] }
    public var digitalReadTerms: [WeightTerm] { [] }
    public var scalars: [String: ScalarState] { [:] }
    public func restore(scalars: [String: ScalarState]) throws(StateError) {}
}

/// One term of the weights a block's reads see: coefficient x array, times row_signs[i] x col_signs[j] when signs are
/// named (integer scalars of the block's state holding +1 or -1 per row or column: the choppers of c-TTv2, AGAD and
/// E-RIDER). Checkpoint manifests list them, so that readers form the weights without knowing the algorithm.
public struct WeightTerm: Sendable, Equatable {
    /// A state array's name ("W", "P.ref", "Q", "weights").
    public var array: String
    public var coefficient: Double
    /// The scalar holding one sign per row, or nil.
    public var rowSigns: String?
    /// The scalar holding one sign per column, or nil.
    public var colSigns: String?

    public init(_ array: String, _ coefficient: Double, rowSigns: String? = nil, colSigns: String? = nil) {
        self.array = array
        self.coefficient = coefficient
        self.rowSigns = rowSigns
        self.colSigns = colSigns
    }
}

/// What an analog array of a block is for (telemetry and checkpoint file names use `label`).
public enum ArrayRole: Sendable, Equatable {
    /// W, the main array (Analog SGD's only array; W(0) of the residual algorithms).
    case main
    /// P, the residual (fast) array that receives the gradient pulses (Tiki-Taka, Residual Learning, RIDER).
    case residual
    /// W(n), n >= 1, of multi-tile residual learning.
    case tile(Int)

    /// "W", "P", "W1", ...
    public var label: String {
        switch self {
        case .main: return "W"
        case .residual: return "P"
        case .tile(let n): return "W\(n)"
        }
    }
}

/// A transfer schedule: source array s (1...N) moves one column (or `transfer_columns` columns) into array s - 1
/// every `periods[s]` training steps at rate `rates[s]`. Entry 0 is unused (0). Computed in Double; algorithms'
/// `validate` keep periods at most `TransferSchedule.maxPeriod` and rates normal Floats.
public struct TransferSchedule: Sendable, Equatable {
    public var periods: [Double]
    public var rates: [Double]

    /// Longest transfer period accepted (steps): longer than any run, and exact in Double.
    public static let maxPeriod: Double = 1e12

    /// One period (`transfer_every`) and one rate (`AlgorithmConfig.transferRate`: transfer_lr, times lr under
    /// scale_transfer_lr) for every source.
    public static func single(_ c: AlgorithmConfig, sources: Int) -> TransferSchedule {
        let n = max(sources, 0)
        return TransferSchedule(periods: (0...n).map { $0 == 0 ? 0 : Double(c.transferEvery) },
                                rates: (0...n).map { $0 == 0 ? 0 : c.transferRate })
    }

    /// Checks every period (at most `maxPeriod`) and rate (a normal Float in (0, 1e6]); `period` and `rate` name the
    /// key and option of a bad source s and explain it.
    public func validate(period: (Int, Double) -> ConfigError, rate: (Int, Double) -> ConfigError) throws(ConfigError) {
        for s in periods.indices.dropFirst() where !(periods[s] <= Self.maxPeriod) { throw period(s, periods[s]) }
        for s in rates.indices.dropFirst() {
            let r = rates[s]
            if !(r > 0 && r <= 1e6 && Float(r).isNormal) { throw rate(s, r) }
        }
    }

    /// The check of a single-source schedule, errors naming --transfer-every and --transfer-lr.
    public func validateSingle() throws(ConfigError) {
        try validate(period: { _, p in
            ConfigError(key: "algorithm.transfer_every", option: "--transfer-every", message: "must be at most 1e12 steps; got \(p)")
        }, rate: { _, r in
            ConfigError(key: "algorithm.transfer_lr", option: "--transfer-lr", message: "gives the rate \(r), outside the range of Float (1.2e-38, 1e6]")
        })
    }
}

/// A digital array of a block (rows x cols Float32, row-major), owned by its algorithm: Tiki-Taka v2's and Residual
/// Learning v2's buffer H, RIDER's moving average Q, digital SGD's weights. Zero at creation unless given values.
public final class DigitalArray {
    /// The name checkpoints and telemetry use ("H", "Q", "weights").
    public let name: String
    public let count: Int
    public let values: UnsafeMutablePointer<Float>

    public init(name: String, count: Int, initial: [Float]? = nil) {
        precondition(initial == nil || initial!.count == count)
        self.name = name
        self.count = count
        values = .allocate(capacity: max(count, 1))
        if let initial {
            initial.withUnsafeBufferPointer { values.initialize(from: $0.baseAddress!, count: count) }
        } else {
            values.initialize(repeating: 0, count: count)
        }
    }

    deinit { values.deallocate() }

    public subscript(i: Int) -> Float {
        get { values[i] }
        set { values[i] = newValue }
    }
}

/// A small piece of algorithm state (counters, schedule state, loss histories) as a checkpoint records it.
public enum ScalarState: Sendable, Equatable {
    case integers([Int64])
    case reals([Double])

    public var integers: [Int64]? { if case .integers(let v) = self { return v } else { return nil } }
    public var reals: [Double]? { if case .reals(let v) = self { return v } else { return nil } }
}

/// State that does not fit the algorithm or the block it is restored into.
public struct StateError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// The integers of `name` in `scalars`, exactly `count` of them (any count when nil).
    public static func integers(_ scalars: [String: ScalarState], _ name: String, count: Int? = nil) throws(StateError) -> [Int64] {
        guard let v = scalars[name]?.integers else { throw StateError("the state has no integers named \(name)") }
        if let count, v.count != count { throw StateError("\(name) holds \(v.count) values; this block needs \(count)") }
        return v
    }

    /// The reals of `name` in `scalars`.
    public static func reals(_ scalars: [String: ScalarState], _ name: String) throws(StateError) -> [Double] {
        guard let v = scalars[name]?.reals else { throw StateError("the state has no reals named \(name)") }
        return v
    }
}
