import AIMCCore

/// Tiki-Taka v2 (Gokmen 2021; paper App. D; aihwkit `BufferedTransferCompound`): gradients are pulsed into P and the
/// reads see W alone, as in Tiki-Taka v1, but a transfer filters through a digital buffer H: H_k += beta x (read
/// column k of P), then n = trunc(H_ik / (thres_scale dw_min)) pulses (at most transfer_desired_bl, or BL when 0)
/// fire on W_ik and H_ik -= (1 - momentum) n thres_scale dw_min, or, with forget_buffer, H_ik becomes momentum x H_ik
/// (aihwkit `BufferedTransferRPUDevice::readAndUpdate`; its defaults momentum 0.1, forget_buffer true and one pulse
/// per transfer are the preset aihwkit-ttv2's).
public final class TikiTakaV2: TrainingAlgorithm {
    public static let name = "tiki-taka-v2"
    public static let title = "Tiki-Taka v2 (App. D)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer
    /// BL caps the pulses of one threshold transfer, whatever the update mode.
    public static let alsoReads: Set<String> = ["update.desired_bl"]
    public static let transfers = true
    public static let firesThresholdPulses = true
    public static let momentum = BufferedTransferKeys.momentum(0)
    public static let forgetBuffer = BufferedTransferKeys.forgetBuffer(false)
    public static let transferBL = BufferedTransferKeys.transferBL(0)
    public static let thresScale = Parameter<Double>.number(
        "thres_scale", option: nil, default: 1, above: 0, atMost: 1e6,
        help: "Tiki-Taka v2: the buffer's threshold in units of dw_min of W (aihwkit thres_scale)")
    public static var parameters: [AlgorithmParameter] { [momentum.spec, forgetBuffer.spec, transferBL.spec, thresScale.spec] }
    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main, .residual] }
    public static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int { 1 }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) { try config.algorithm.transferSchedule.validateSingle() }
    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm
        let bl = a[transferBL] == 0 ? "BL" : "\(a[transferBL])"
        let keep = a[forgetBuffer] ? "buffer x \(Report.g(a[momentum])) after a transfer" : (a[momentum] == 0 ? "" : "momentum \(Report.g(a[momentum]))")
        return "\(a.ratesText) into a digital buffer, threshold transfers (\(Report.g(a[thresScale])) dw_min, at most \(bl) pulses\(keep.isEmpty ? "" : ", " + keep)), \(a.periodText), \(update)"
    }

    public private(set) var cycle: TransferCycle
    /// The digital buffer H, rows x cols.
    let h: DigitalArray
    let rule: ThresholdTransfer.Rule

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {
        let a = config.algorithm
        cycle = TransferCycle(a, cols: block.cols)
        h = DigitalArray(name: "H", count: block.devices)
        rule = ThresholdTransfer.Rule(maxPulses: a[Self.transferBL] == 0 ? config.update.desiredBL : a[Self.transferBL],
                                      thresholdScale: Float(a[Self.thresScale]), momentum: Float(a[Self.momentum]), forget: a[Self.forgetBuffer])
    }

    public func transfer(_ block: WeightBlock, after step: Int64) {
        guard cycle.isDue(1, after: step) else { return }
        for _ in 0..<cycle.columnsPerTransfer {
            ThresholdTransfer.column(block, buffer: h, column: cycle.next(1), rate: cycle.rates[1], decay: 1, rule: rule, step: step)
        }
    }

    public var digitalArrays: [DigitalArray] { [h] }
    public var scalars: [String: ScalarState] { cycle.scalars }
    public func restore(scalars: [String: ScalarState]) throws(StateError) { try cycle.restore(scalars) }
}

/// The buffered transfer of Tiki-Taka v2 and Residual Learning v2 (paper Section 5 and App. D), from P (array 1)
/// into W (array 0): column k of P is read through the transfer periphery; H_ik = decay H_ik + rate read_i; then
/// n = trunc(H_ik / threshold) pulses (threshold = thresholdScale dw_min, |n| at most maxPulses) fire on W_ik one by
/// one (with cycle-to-cycle noise in pulsed mode), and H_ik -= (1 - momentum) n threshold or, with `forget`,
/// H_ik = momentum H_ik (aihwkit `BufferedTransferRPUDevice::readAndUpdate`).
enum ThresholdTransfer {
    struct Rule {
        var maxPulses: Int
        var thresholdScale: Float = 1
        var momentum: Float = 0
        var forget = false
    }

    static func column(_ block: WeightBlock, buffer h: DigitalArray, column k: Int, rate: Float, decay: Float, rule: Rule, step: Int64) {
        let rows = block.info.rows, cols = block.info.cols
        let dw = block.dwMin(0) * rule.thresholdScale
        let maxPulses = rule.maxPulses
        let plain = rule.momentum == 0 && !rule.forget
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
                    if plain {
                        h[e] -= (h[e] < 0 ? -1 : 1) * Float(n) * dw
                    } else if rule.forget {
                        h[e] *= rule.momentum
                    } else {
                        h[e] -= (1 - rule.momentum) * (h[e] < 0 ? -1 : 1) * Float(n) * dw
                    }
                }
            }
        }
        block.countThresholdTransfer(into: 0)
    }
}

extension Algorithm {
    public static let tikiTakaV2 = Algorithm(TikiTakaV2.self)
}
