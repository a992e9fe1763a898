import AIMCCore

/// Tiki-Taka v1 (Gokmen and Haensch 2020; the paper's Residual Learning with gamma = 0): gradients are pulsed into
/// P, the reads see W alone, and every `transfer_every` steps one column of P is read through the transfer periphery
/// and pulsed, times beta, into W (Eq. 11); with `with_reset_prob` > 0 the transferred column of P is then reset to
/// the device's reset point with that probability (aihwkit `TransferCompound`, `TransferReset`).
public final class TikiTaka: TrainingAlgorithm {
    public static let name = "tiki-taka"
    public static let title = "Tiki-Taka v1 (gamma 0)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer
    public static let transfers = true
    public static var parameters: [AlgorithmParameter] { [TransferReset.withResetProb.spec] }
    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main, .residual] }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) { try config.algorithm.transferSchedule.validateSingle() }
    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm
        return "\(a.ratesText), \(a.periodText)\(TransferReset.describe(a)), \(update)"
    }

    public private(set) var cycle: TransferCycle
    let resetProbability: Double

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {
        cycle = TransferCycle(config.algorithm, cols: block.cols)
        resetProbability = config.algorithm[TransferReset.withResetProb]
    }

    public func transfer(_ block: WeightBlock, after step: Int64) { block.moveColumns(&cycle, after: step, resetProbability: resetProbability) }
    public var scalars: [String: ScalarState] { cycle.scalars }
    public func restore(scalars: [String: ScalarState]) throws(StateError) { try cycle.restore(scalars) }
}

extension Algorithm {
    public static let tikiTaka = Algorithm(TikiTaka.self)
}
