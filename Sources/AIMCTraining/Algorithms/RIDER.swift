import AIMCCore

/// RIDER (arXiv 2602.21321, Alg. 2), residual learning with dynamic symmetric-point tracking: the reads see
/// W + gamma (P - Q), where Q is a digital moving average of P's reads, Q <- (1 - eta) Q + eta P (Eq. 12); a transfer
/// pulses beta (P - Q_old) into W. Tracking P's drift replaces zero-shifting.
public final class RIDER: TrainingAlgorithm {
    public static let name = "rider"
    public static let title = "RIDER (arXiv 2602.21321)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer.union(["gamma"])
    public static let transfers = true
    public static let eta = Parameter<Double>.number("rider_eta", option: "--rider-eta", default: 0.1, in: 1e-30...1,
                                                     help: "RIDER: rate eta of the digital moving average Q of P (Eq. 12)")
    public static var parameters: [AlgorithmParameter] { [eta.spec] }
    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main, .residual] }
    public static func coefficients(_ config: AlgorithmConfig) -> [Double] { [1, config.gamma] }
    public static func hasDigitalTerm(_ config: AlgorithmConfig) -> Bool { config.gamma != 0 }
    public static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int { 1 }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) { try config.algorithm.transferSchedule.validateSingle() }
    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm
        return "\(a.ratesText), gamma \(Report.g(a.gamma)), eta \(Report.g(a[eta])), \(a.periodText), \(update)"
    }

    public private(set) var cycle: TransferCycle
    /// The moving average Q of P's reads, rows x cols.
    let q: DigitalArray
    let gamma: Float
    let eta: Float

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {
        cycle = TransferCycle(config.algorithm, cols: block.cols)
        q = DigitalArray(name: "Q", count: block.devices)
        gamma = Float(config.algorithm.gamma)
        eta = Float(config.algorithm[RIDER.eta])
    }

    public func addDigitalTerm(_ block: WeightBlock, to effective: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        guard gamma != 0 else { return false }
        for i in 0..<count { effective[i] -= gamma * q[i] }
        return true
    }

    /// Per column k due: d = read - Q_k; Q_k = (1 - eta) Q_k + eta read; W_k += beta d (pulsed or Eq. 2).
    public func transfer(_ block: WeightBlock, after step: Int64) {
        guard cycle.isDue(1, after: step) else { return }
        let rows = block.info.rows, cols = block.info.cols
        for _ in 0..<cycle.columnsPerTransfer {
            let k = cycle.next(1)
            var c2c = block.transferNoise(into: 0, from: 1, column: k, step: step)
            block.withColumn { col in
                block.readTransferColumn(1, column: k, step: step, into: col)
                for i in 0..<rows {
                    let e = i * cols + k
                    let read = col[i]
                    col[i] = read - q[e]
                    q[e] = (1 - eta) * q[e] + eta * read
                }
                block.pulseColumn(into: 0, column: k, values: col, rate: cycle.rates[1], source: 1, step: step, noise: &c2c)
            }
        }
    }

    public var digitalArrays: [DigitalArray] { [q] }
    public var digitalReadTerms: [WeightTerm] { gamma == 0 ? [] : [WeightTerm("Q", -Double(gamma))] }
    public var scalars: [String: ScalarState] { cycle.scalars }
    public func restore(scalars: [String: ScalarState]) throws(StateError) { try cycle.restore(scalars) }
}

extension Algorithm {
    public static let rider = Algorithm(RIDER.self)
}
