import AIMCCore

/// Residual Learning v2 (paper Section 5, for noisy reads and limited granularity): Residual Learning's arrays and
/// mixed reads W + gamma P, with a digital buffer H between P and W: H_k <- (1 - beta) H_k + beta (read column k of
/// P); one pulse of sign(H_ik) on W_ik where |H_ik| >= dw_min, and H_ik -= sign(H_ik) dw_min.
public final class ResidualLearningV2: TrainingAlgorithm {
    public static let name = "residual-v2"
    public static let title = "Residual Learning v2 (Section 5)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer.union(["gamma"])
    public static let transfers = true
    public static let firesThresholdPulses = true
    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main, .residual] }
    public static func coefficients(_ config: AlgorithmConfig) -> [Double] { [1, config.gamma] }
    public static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int { 1 }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) {
        let a = config.algorithm
        try a.transferSchedule.validateSingle()
        if !(a.transferRate <= 1) {
            let got = a.transferScale != 1 ? "transfer_lr x lr = \(a.transferLR) x \(a.lr) = \(a.transferRate)" : "\(a.transferLR)"
            throw ConfigError(key: "algorithm.transfer_lr", option: "--transfer-lr",
                              message: "is Residual Learning v2's averaging weight of H (H = (1 - beta) H + beta P) and must lie in (0, 1]; got \(got)")
        }
    }
    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm
        return "\(a.ratesText), gamma \(Report.g(a.gamma)), digital buffer with one-pulse threshold transfers, \(a.periodText), \(update)"
    }

    public private(set) var cycle: TransferCycle
    /// The digital buffer H, rows x cols.
    let h: DigitalArray

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {
        cycle = TransferCycle(config.algorithm, cols: block.cols)
        h = DigitalArray(name: "H", count: block.devices)
    }

    public func transfer(_ block: WeightBlock, after step: Int64) {
        guard cycle.isDue(1, after: step) else { return }
        let rate = cycle.rates[1]
        for _ in 0..<cycle.columnsPerTransfer {
            ThresholdTransfer.column(block, buffer: h, column: cycle.next(1), rate: rate, decay: 1 - rate, rule: .init(maxPulses: 1), step: step)
        }
    }

    public var digitalArrays: [DigitalArray] { [h] }
    public var scalars: [String: ScalarState] { cycle.scalars }
    public func restore(scalars: [String: ScalarState]) throws(StateError) { try cycle.restore(scalars) }
}

extension Algorithm {
    public static let residualV2 = Algorithm(ResidualLearningV2.self)
}
