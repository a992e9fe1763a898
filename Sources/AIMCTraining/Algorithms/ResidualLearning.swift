import AIMCCore

/// Residual Learning (paper Eqs. 9-11): arrays W and P, the reads see the mixed weight W + gamma P; gradients of
/// f(W + gamma P) are pulsed into P (Eq. 10), and every `transfer_every` steps one column of P is read through the
/// transfer periphery and pulsed, times beta, into W (Eq. 11). With P zero-shifted (Assumption 4) and gamma large
/// enough it converges exactly (Theorem 3, Corollary 1). aihwkit's `TransferCompound` with gamma > 0; its
/// `with_reset_prob` resets the transferred column of P after the read with that probability (`TransferReset`).
public final class ResidualLearning: TrainingAlgorithm {
    public static let name = "residual"
    public static let title = "Residual Learning (Eqs. 9-11)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer.union(["gamma"])
    public static let transfers = true
    public static var parameters: [AlgorithmParameter] { [TransferReset.withResetProb.spec] }
    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main, .residual] }
    public static func coefficients(_ config: AlgorithmConfig) -> [Double] { [1, config.gamma] }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) { try config.algorithm.transferSchedule.validateSingle() }
    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm
        return "\(a.ratesText), gamma \(Report.g(a.gamma)), \(a.periodText)\(TransferReset.describe(a)), \(update)"
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
    public static let residual = Algorithm(ResidualLearning.self)
}
