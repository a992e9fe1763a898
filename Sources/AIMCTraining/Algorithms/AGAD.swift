import AIMCCore

/// AGAD (Rasch et al. 2023, "Fast offset corrected in-memory training", arXiv 2303.04721; aihwkit
/// `DynamicTransferCompound`, whose semantics this follows: `DynamicTransferRPUDevice::readAndUpdate`).
///
/// Arrays W and P; the reads see W alone. The gradient is written into P through the choppers, as in c-TTv2
/// (`ChoppedGradient`). A transfer reads column k of P; per element, a digital running mean M of the reads
/// (M <- (1 - m) M + m read, m = min(tail_weightening / n, 1), n = max(ceil(1 / in_chop_prob), 2)) estimates P's
/// offset over the current chopper period, and R (the past mean) holds M as it stood when column k's chopper last
/// switched. The buffer receives the de-chopped difference from that reference: omega = H_ik + c_in[k] c_out[i]
/// (read_i - R_ik) x lr_scale (lr_scale = beta / (buffer_granularity x dw_min(P)), times auto_granularity /
/// (columns x transfer_every) when auto_granularity > 0); where |omega| >= 1, n = trunc(omega) pulses (at most
/// transfer_desired_bl) fire on W_ik, except during the first n + 1 passes over the columns (aihwkit writes nothing
/// while `transfer_counter <= n`), and H keeps momentum x omega (forget_buffer) or omega - (1 - momentum) n (capped at
/// buffer_cap x BL when > 0). Input choppers switch regularly every n-th pass (and at random with probability
/// in_chop_prob under in_chop_random); output choppers never switch in aihwkit's AGAD. So the device offset is
/// subtracted dynamically, where c-TTv2 only averages it out.
public final class AGAD: TrainingAlgorithm {
    public static let name = "agad"
    public static let title = "AGAD (aihwkit DynamicTransferCompound)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer
    public static let alsoReads: Set<String> = ["update.desired_bl"]
    public static let transfers = true
    public static let firesThresholdPulses = true

    public static let inChopProb = BufferedTransferKeys.inChopProb(0.1)
    public static let inChopRandom = BufferedTransferKeys.inChopRandom(false)
    public static let bufferGranularity = BufferedTransferKeys.bufferGranularity(1)
    public static let autoGranularity = BufferedTransferKeys.autoGranularity(0)
    public static let momentum = BufferedTransferKeys.momentum(0)
    public static let forgetBuffer = BufferedTransferKeys.forgetBuffer(true)
    public static let transferBL = BufferedTransferKeys.transferBL(1)
    public static let autoScale = BufferedTransferKeys.autoScale(false)
    public static let autoMomentum = BufferedTransferKeys.autoMomentum(0.99)
    public static let tailWeightening = Parameter<Double>.number(
        "tail_weightening", option: nil, default: 5, above: 0, atMost: 1e6,
        help: "AGAD: weight m = min(tail_weightening / period, 1) of a read in the running mean of P (aihwkit tail_weightening)")
    public static let bufferCap = Parameter<Double>.number(
        "buffer_cap", option: nil, default: 0, in: 0...1e6,
        help: "AGAD: without forget_buffer, the buffer is clipped to +-buffer_cap x transfer BL (0: no cap) (aihwkit buffer_cap)")
    public static var parameters: [AlgorithmParameter] {
        [inChopProb.spec, inChopRandom.spec, bufferGranularity.spec, autoGranularity.spec, momentum.spec, forgetBuffer.spec,
         transferBL.spec, autoScale.spec, autoMomentum.spec, tailWeightening.spec, bufferCap.spec]
    }

    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main, .residual] }
    public static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int { 3 }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) {
        let a = config.algorithm
        try a.transferSchedule.validateSingle()
        if !(a[inChopProb] > 0) {
            throw ConfigError(key: "algorithm.in_chop_prob", option: nil, message: "must be above 0 for agad (its chopper periods define the running mean); got \(a[inChopProb])")
        }
    }

    public static func ineffective(_ field: String, in config: ExperimentConfig) -> String? {
        let a = config.algorithm
        if field == autoMomentum.key && !a[autoScale] { return "auto_momentum applies to auto_scale only" }
        if field == bufferCap.key && a[forgetBuffer] { return "buffer_cap applies without forget_buffer only" }
        return nil
    }

    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm, g = Report.g
        let rate = a[autoScale] && a.fastLR > 0 ? "auto-scaled alpha (fast_lr \(g(a.fastLR))), beta \(g(a.transferRate))" : a.ratesText
        return "\(rate), reads W, chopper period \(Choppers.period(a[inChopProb])) passes"
            + "\(a[inChopRandom] ? " and random switches" : ""), tail weight \(g(a[tailWeightening])), \(a.periodText), \(update)"
    }

    public private(set) var cycle: TransferCycle
    /// The buffer H (threshold units), the running mean M of P's reads and the past mean R (M at the last switch).
    let h: DigitalArray
    let mean: DigitalArray
    let past: DigitalArray
    /// Columns whose chopper switched after their last read.
    var switched: [Bool]
    public let choppers: Choppers
    var scale: AutoScale
    let lrScale: Float
    let maxSteps: Int
    let fastLR: Double
    let autoScaled: Bool
    let momentumValue: Float
    let forget: Bool
    let cap: Float
    let tail: Float

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {
        let a = config.algorithm
        cycle = TransferCycle(a, cols: block.cols)
        h = DigitalArray(name: "H", count: block.devices)
        mean = DigitalArray(name: "M", count: block.devices)
        past = DigitalArray(name: "R", count: block.devices)
        switched = [Bool](repeating: false, count: block.cols)
        choppers = Choppers(rows: block.rows, cols: block.cols, inProbability: a[Self.inChopProb], inRandom: a[Self.inChopRandom],
                            outProbability: 0, rule: .dynamic)
        scale = AutoScale(momentum: a[Self.autoMomentum])
        var granularity = a[Self.bufferGranularity] * Double(Float(config.device.effectiveDwMin))
        if a[Self.autoGranularity] > 0 { granularity *= a[Self.autoGranularity] / (Double(block.cols) * Double(a.transferEvery)) }
        lrScale = Float(a.transferRate / granularity)
        maxSteps = a[Self.transferBL] == 0 ? config.update.desiredBL : a[Self.transferBL]
        fastLR = a.fastLR
        autoScaled = a[Self.autoScale] && a.fastLR > 0
        momentumValue = Float(a[Self.momentum])
        forget = a[Self.forgetBuffer]
        cap = Float(a[Self.bufferCap] * Double(maxSteps))
        tail = Float(a[Self.tailWeightening])
    }

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
        let period = choppers.period
        let m = min(tail / Float(period), 1)
        let writes = choppers.passes > period
        let previouslySwitched = switched[k]
        switched[k] = false
        var c2c = block.transferNoise(into: 0, from: 1, column: k, step: step)
        block.withColumn { col in
            block.readTransferColumn(1, column: k, step: step, into: col)
            for i in 0..<rows {
                let e = i * cols + k
                let value = col[i]
                if previouslySwitched { past[e] = mean[e] }
                var omega = h[e] + choppers.sign(row: i, column: k) * (value - past[e]) * lrScale
                let n = BufferRule.apply(&omega, maxSteps: maxSteps, momentum: momentumValue, forget: forget)
                if n != 0 && !forget && cap > 0 { omega = min(max(omega, -cap), cap) }
                h[e] = omega
                mean[e] = mean[e] * (1 - m) + value * m
                if n != 0 && writes { block.firePulses(into: 0, element: e, count: abs(n), down: n < 0, noise: &c2c) }
            }
        }
        block.countThresholdTransfer(into: 0)
        if choppers.columnRead(k, block: block, step: step) { switched[k] = true }
    }

    public var digitalArrays: [DigitalArray] { [h, mean, past] }
    public var scalars: [String: ScalarState] {
        cycle.scalars.merging(choppers.scalars) { a, _ in a }.merging(scale.scalars) { a, _ in a }
            .merging(["switched": .integers(switched.map { $0 ? 1 : 0 })]) { a, _ in a }
    }
    public func restore(scalars: [String: ScalarState]) throws(StateError) {
        try cycle.restore(scalars)
        try choppers.restore(scalars)
        try scale.restore(scalars)
        switched = try StateError.integers(scalars, "switched", count: switched.count).map { $0 != 0 }
    }
}

extension Algorithm {
    public static let agad = Algorithm(AGAD.self)
}
