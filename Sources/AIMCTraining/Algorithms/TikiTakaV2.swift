import AIMCCore

/// Tiki-Taka v2 (Gokmen 2021; paper App. D): gradients are pulsed into P and the reads see W alone, as in
/// Tiki-Taka v1, but a transfer filters through a digital buffer H: H_k += beta x (read column k of P), then
/// n = min(floor(|H_ik| / dw_min), BL) pulses of sign(H_ik) fire on W_ik and H_ik -= n sign(H_ik) dw_min.
public final class TikiTakaV2: TrainingAlgorithm {
    public static let name = "tiki-taka-v2"
    public static let title = "Tiki-Taka v2 (App. D)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer
    /// BL caps the pulses of one threshold transfer, whatever the update mode.
    public static let alsoReads: Set<String> = ["update.desired_bl"]
    public static let transfers = true
    public static let firesThresholdPulses = true
    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main, .residual] }
    public static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int { 1 }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) { try config.algorithm.transferSchedule.validateSingle() }
    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm
        return "alpha \(Report.g(a.lr)), beta \(Report.g(a.transferLR)) into a digital buffer, threshold transfers, \(Report.columns(a)) every \(a.transferEvery) step(s), \(update)"
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
        for _ in 0..<cycle.columnsPerTransfer {
            ThresholdTransfer.column(block, buffer: h, column: cycle.next(1), rate: cycle.rates[1], decay: 1, maxPulses: block.desiredBL, step: step)
        }
    }

    public var digitalArrays: [DigitalArray] { [h] }
    public var scalars: [String: ScalarState] { cycle.scalars }
    public func restore(scalars: [String: ScalarState]) throws(StateError) { try cycle.restore(scalars) }
}

/// The buffered transfer of Tiki-Taka v2 and Residual Learning v2 (paper Section 5 and App. D), from P (array 1)
/// into W (array 0): column k of P is read through the transfer periphery; H_ik = decay H_ik + rate read_i; then
/// n = min(floor(|H_ik| / dw_min), maxPulses) pulses of sign(H_ik) fire on W_ik one by one (with cycle-to-cycle
/// noise in pulsed mode) and H_ik -= n sign(H_ik) dw_min.
enum ThresholdTransfer {
    static func column(_ block: WeightBlock, buffer h: DigitalArray, column k: Int, rate: Float, decay: Float, maxPulses: Int,
                       step: Int64) {
        let rows = block.info.rows, cols = block.info.cols
        let dw = block.dwMin(0)
        var c2c = block.transferNoise(into: 0, from: 1, column: k, step: step)
        block.withColumn { col in
            block.readTransferColumn(1, column: k, step: step, into: col)
            for i in 0..<rows {
                let e = i * cols + k
                h[e] = decay * h[e] + rate * col[i]
                let steps = (abs(h[e]) / dw).rounded(.down)
                let n = steps < Float(maxPulses) ? Int(steps) : maxPulses  // NaN or huge: the cap
                if n > 0 {
                    block.firePulses(into: 0, element: e, count: n, down: h[e] < 0, noise: &c2c)
                    h[e] -= (h[e] < 0 ? -1 : 1) * Float(n) * dw
                }
            }
        }
        block.countThresholdTransfer(into: 0)
    }
}

extension Algorithm {
    public static let tikiTakaV2 = Algorithm(TikiTakaV2.self)
}
