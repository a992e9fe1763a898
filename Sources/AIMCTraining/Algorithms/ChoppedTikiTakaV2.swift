import AIMCCore

/// Chopped Tiki-Taka v2 (c-TTv2; Rasch et al. 2023, arXiv 2303.04721; aihwkit `ChoppedTransferCompound`, whose
/// semantics this follows: `ChoppedTransferRPUDevice::readAndUpdate` and `doSparseUpdate`), with the residual form
/// of aihwkit PR #764 for gamma > 0.
///
/// Arrays W (aihwkit's C) and P (A). The gradient is written into P through the choppers (`Choppers`):
/// P += -alpha (c_out .* d)(c_in .* x)^T per sample, at alpha = fast_lr (or lr when fast_lr is 0, or auto_scale's
/// rate). A transfer reads column k of P through the transfer periphery and adds it, de-chopped and in units of the
/// threshold, to the digital buffer H: omega = H_ik + c_in[k] c_out[i] read_i x lr_scale with
/// lr_scale = beta / (buffer_granularity x dw_min(P)) (times auto_granularity / (columns x transfer_every) when
/// auto_granularity > 0; beta = transfer_lr, times lr under scale_transfer_lr, times gamma when gamma > 0 as in
/// aihwkit's `BufferedTransferRPUDeviceMetaParameter::getTransferLR`); where |omega| >= 1, n = trunc(omega) pulses
/// (at most transfer_desired_bl) fire on W_ik and H keeps momentum x omega (forget_buffer) or omega - (1 - momentum) n.
/// Then column k's input chopper may switch (in_chop_prob, in_chop_random) and, after the last column, the output
/// choppers (out_chop_prob). Transfers count samples by default (units_in_mbatch false in aihwkit's class).
///
/// The reads see W (gamma = 0, aihwkit's default) or, in the residual form, W + gamma (c_out c_in^T) .* P: the
/// de-chopped P, so that the mixed weight's gradient direction survives a chopper switch. aihwkit 1.1.0 reads
/// C + gamma A without the de-chopping sign (measured on its 2 x 3 tile; PR #764 adds it); this follows PR #764.
/// Not modelled: aihwkit's `step` (1), `correct_gradient_magnitudes` (false), and the pulse counting of a compound with
/// unequal devices (aihwkit counts pulses with the mean granularity of both devices).
public final class ChoppedTikiTakaV2: TrainingAlgorithm {
    public static let name = "c-ttv2"
    public static let title = "chopped Tiki-Taka v2 (c-TTv2, aihwkit ChoppedTransferCompound)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer.union(["gamma"])
    /// BL caps the transfer pulses (transfer_desired_bl 0) and sets auto_scale's rate.
    public static let alsoReads: Set<String> = ["update.desired_bl"]
    public static let transfers = true
    public static let firesThresholdPulses = true

    public static let inChopProb = BufferedTransferKeys.inChopProb(0.1)
    public static let inChopRandom = BufferedTransferKeys.inChopRandom(true)
    public static let outChopProb = BufferedTransferKeys.outChopProb(0)
    public static let bufferGranularity = BufferedTransferKeys.bufferGranularity(1)
    public static let autoGranularity = BufferedTransferKeys.autoGranularity(0)
    public static let momentum = BufferedTransferKeys.momentum(0)
    public static let forgetBuffer = BufferedTransferKeys.forgetBuffer(true)
    public static let transferBL = BufferedTransferKeys.transferBL(1)
    public static let autoScale = BufferedTransferKeys.autoScale(false)
    public static let autoMomentum = BufferedTransferKeys.autoMomentum(0.99)
    public static let noBuffer = Parameter<Bool>.flag("no_buffer", option: nil,
                                                      help: "c-TTv2: no digital buffer, each read transfers at once (aihwkit no_buffer)")
    public static var parameters: [AlgorithmParameter] {
        [inChopProb.spec, inChopRandom.spec, outChopProb.spec, bufferGranularity.spec, autoGranularity.spec, momentum.spec,
         forgetBuffer.spec, transferBL.spec, autoScale.spec, autoMomentum.spec, noBuffer.spec]
    }

    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main, .residual] }
    /// P enters the reads through `addDigitalTerm` (with the chopper signs), never with a scalar coefficient.
    public static func coefficients(_ config: AlgorithmConfig) -> [Double] { [1, 0] }
    public static func hasDigitalTerm(_ config: AlgorithmConfig) -> Bool { config.gamma != 0 }
    public static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int { 1 }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) { try config.algorithm.transferSchedule.validateSingle() }

    public static func ineffective(_ field: String, in config: ExperimentConfig) -> String? {
        let a = config.algorithm
        if field == autoMomentum.key && !a[autoScale] { return "auto_momentum applies to auto_scale only" }
        if [momentum.key, forgetBuffer.key].contains(field) && a[noBuffer] { return "no_buffer: there is no buffer" }
        return nil
    }

    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm, g = Report.g
        let read = a.gamma == 0 ? "reads W" : "reads W + \(g(a.gamma)) de-chopped P"
        let rate = a[autoScale] && a.fastLR > 0 ? "auto-scaled alpha (fast_lr \(g(a.fastLR))), " + a.ratesText.split(separator: ",").dropFirst().joined(separator: ",").trimmingCharacters(in: .whitespaces) : a.ratesText
        return "\(rate), \(read), choppers in \(g(a[inChopProb]))\(a[inChopRandom] ? " random" : " regular") out \(g(a[outChopProb])), "
            + "\(a[noBuffer] ? "no buffer" : "buffer momentum \(g(a[momentum]))\(a[forgetBuffer] ? " forgetting" : "")"), \(a.periodText), \(update)"
    }

    public private(set) var cycle: TransferCycle
    /// The digital buffer H (rows x cols), in units of the threshold.
    let h: DigitalArray
    public let choppers: Choppers
    var scale: AutoScale
    let gamma: Float
    let lrScale: Float
    let maxSteps: Int
    let fastLR: Double
    let autoScaled: Bool
    let momentumValue: Float
    let forget: Bool
    let buffered: Bool
    let referenced: Bool

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {
        let a = config.algorithm
        cycle = TransferCycle(a, cols: block.cols)
        h = DigitalArray(name: "H", count: block.devices)
        choppers = Choppers(rows: block.rows, cols: block.cols, inProbability: a[Self.inChopProb], inRandom: a[Self.inChopRandom],
                            outProbability: a[Self.outChopProb], rule: .chopped)
        scale = AutoScale(momentum: a[Self.autoMomentum])
        gamma = Float(a.gamma)
        // aihwkit getBufferGranularity and getTransferLR (times gamma in the residual form).
        var granularity = a[Self.bufferGranularity] * Double(Float(config.device.effectiveDwMin))
        if a[Self.autoGranularity] > 0 { granularity *= a[Self.autoGranularity] / (Double(block.cols) * Double(a.transferEvery)) }
        lrScale = Float(a.transferRate * (a.gamma > 0 ? a.gamma : 1) / granularity)
        maxSteps = a[Self.transferBL] == 0 ? config.update.desiredBL : a[Self.transferBL]
        fastLR = a.fastLR
        autoScaled = a[Self.autoScale] && a.fastLR > 0
        momentumValue = Float(a[Self.momentum])
        forget = a[Self.forgetBuffer]
        buffered = !a[Self.noBuffer]
        referenced = a.zeroShift != .none
    }

    /// The chopped gradient update into P, sample by sample (per-sample updates: the choppers may switch between
    /// samples when transfers count samples) or for the whole batch.
    public func gradientUpdate(_ block: WeightBlock, x: UnsafePointer<Float>, xStride: Int, d: UnsafePointer<Float>, dStride: Int,
                               batch: Int, step: UInt64) {
        ChoppedGradient.update(block, choppers: choppers, scale: &scale, autoScaled: autoScaled, fastLR: fastLR, x: x, xStride: xStride,
                               d: d, dStride: dStride, batch: batch, step: step)
    }

    public func transfer(_ block: WeightBlock, after step: Int64) {
        guard cycle.isDue(1, after: step) else { return }
        for _ in 0..<cycle.columnsPerTransfer { column(block, cycle.next(1), step: step) }
    }

    func column(_ block: WeightBlock, _ k: Int, step: Int64) {
        let rows = block.info.rows, cols = block.info.cols
        var c2c = block.transferNoise(into: 0, from: 1, column: k, step: step)
        block.withColumn { col in
            block.readTransferColumn(1, column: k, step: step, into: col)
            for i in 0..<rows {
                let e = i * cols + k
                var omega = (buffered ? h[e] : 0) + choppers.sign(row: i, column: k) * col[i] * lrScale
                let n = BufferRule.apply(&omega, maxSteps: maxSteps, momentum: momentumValue, forget: forget)
                h[e] = buffered ? omega : 0
                if n != 0 { block.firePulses(into: 0, element: e, count: abs(n), down: n < 0, noise: &c2c) }
            }
        }
        block.countThresholdTransfer(into: 0)
        choppers.columnRead(k, block: block, step: step)
    }

    /// The residual form's term gamma c_out[i] c_in[j] (P_ij - ref_ij).
    public func addDigitalTerm(_ block: WeightBlock, to effective: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        guard gamma != 0 else { return false }
        let p = block.arrays[1], cols = block.info.cols
        for i in 0..<block.info.rows {
            let s = gamma * choppers.output[i]
            for j in 0..<cols { effective[i * cols + j] += s * choppers.input[j] * p.weight(i * cols + j) }
        }
        return true
    }

    public var digitalArrays: [DigitalArray] { [h] }
    public var digitalReadTerms: [WeightTerm] {
        guard gamma != 0 else { return [] }
        let g = Double(gamma)
        return [WeightTerm("P", g, rowSigns: "out_chopper", colSigns: "in_chopper")]
            + (referenced ? [WeightTerm("P.ref", -g, rowSigns: "out_chopper", colSigns: "in_chopper")] : [])
    }
    public var scalars: [String: ScalarState] {
        cycle.scalars.merging(choppers.scalars) { a, _ in a }.merging(scale.scalars) { a, _ in a }
    }
    public func restore(scalars: [String: ScalarState]) throws(StateError) {
        try cycle.restore(scalars)
        try choppers.restore(scalars)
        try scale.restore(scalars)
    }
}

extension Algorithm {
    public static let choppedTikiTakaV2 = Algorithm(ChoppedTikiTakaV2.self)
}
