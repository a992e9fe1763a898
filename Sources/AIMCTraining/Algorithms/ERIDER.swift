import AIMCCore

/// E-RIDER (arXiv 2602.21321, Section 3.3, Alg. 3, Eqs. 17-18): RIDER (`RIDER`, Alg. 2) with a chopper. The chopper
/// c (Eq. 17) flips the sign of the gradient written into P (Eq. 18a: P += -alpha c g in expectation) and of P's
/// share of the reads and transfers, so the gradient changes sign with c while P's drift towards its symmetric point
/// does not: the moving average Q (Eq. 12, Q <- (1 - eta) Q + eta P) keeps the drift and rejects the gradient.
///
/// The paper's display equations 18a and 18b did not survive the HTML conversion available here; this is the
/// reading of its prose (Section 3.3 and Alg. 3) that reduces to RIDER exactly at in_chop_prob 0, as the paper says
/// E-RIDER does at p = 0:
/// - one chopper per column c_k (aihwkit's input chopper: the paper's experiments set aihwkit's `in_chop_prob` and
///   `in_chop_random`), switched after column k's read with probability in_chop_prob (in_chop_random) or regularly
///   every max(ceil(1 / in_chop_prob), 2) passes;
/// - reads W + gamma c_k (P - R), where R = Q (the algorithm) or, with erider_snapshot, R = Q~, the copy of Q that
///   Alg. 3 reprograms into an analog reference device when c_k switches (simulated exactly: a digital copy);
/// - a transfer of column k: d = c_k (read - R_k), Q_k <- (1 - eta) Q_k + eta read, W_k += beta d (pulsed or Eq. 2).
public final class ERIDER: TrainingAlgorithm {
    public static let name = "e-rider"
    public static let title = "E-RIDER (arXiv 2602.21321, Alg. 3)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer.union(["gamma"])
    public static let transfers = true

    public static let inChopProb = BufferedTransferKeys.inChopProb(0.05)
    public static let inChopRandom = BufferedTransferKeys.inChopRandom(false)
    public static let snapshot = Parameter<Bool>.flag(
        "erider_snapshot", option: nil,
        help: "E-RIDER: reads and transfers use Q~, the copy of Q taken when a column's chopper switches (Alg. 3's analog reference), instead of Q")
    public static var parameters: [AlgorithmParameter] { [RIDER.eta.spec, inChopProb.spec, inChopRandom.spec, snapshot.spec] }

    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main, .residual] }
    /// P enters the reads through `addDigitalTerm` (with the chopper signs).
    public static func coefficients(_ config: AlgorithmConfig) -> [Double] { [1, 0] }
    public static func hasDigitalTerm(_ config: AlgorithmConfig) -> Bool { config.gamma != 0 }
    public static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int { config[snapshot] ? 2 : 1 }
    public static func validate(_ config: ExperimentConfig) throws(ConfigError) { try config.algorithm.transferSchedule.validateSingle() }
    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm, g = Report.g
        let chop = a[inChopProb] == 0 ? "no chopper (RIDER)" : "chopper \(g(a[inChopProb]))\(a[inChopRandom] ? " random" : " regular")"
        return "\(a.ratesText), gamma \(g(a.gamma)), eta \(g(a[RIDER.eta])), \(chop)\(a[snapshot] ? ", Q~ snapshots" : ""), \(a.periodText), \(update)"
    }

    public private(set) var cycle: TransferCycle
    /// The moving average Q of P's reads, and Q~ ("Q.snapshot": its copy at the last switch of each column; with erider_snapshot).
    let q: DigitalArray
    let qTilde: DigitalArray?
    public let choppers: Choppers
    let gamma: Float
    let eta: Float
    let referenced: Bool

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {
        let a = config.algorithm
        cycle = TransferCycle(a, cols: block.cols)
        q = DigitalArray(name: "Q", count: block.devices)
        qTilde = a[Self.snapshot] ? DigitalArray(name: "Q.snapshot", count: block.devices) : nil
        choppers = Choppers(rows: block.rows, cols: block.cols, inProbability: a[Self.inChopProb], inRandom: a[Self.inChopRandom],
                            outProbability: 0, rule: .chopped)
        gamma = Float(a.gamma)
        eta = Float(a[RIDER.eta])
        referenced = a.zeroShift != .none
    }

    /// The reference R the reads and transfers subtract: Q, or Q~ with erider_snapshot.
    var reference: DigitalArray { qTilde ?? q }

    public func gradientUpdate(_ block: WeightBlock, x: UnsafePointer<Float>, xStride: Int, d: UnsafePointer<Float>, dStride: Int,
                               batch: Int, step: UInt64) {
        block.pulseGradient(x: x, xStride: xStride, d: d, dStride: dStride, batch: batch, step: step,
                            xSigns: UnsafePointer(choppers.input.values))
    }

    /// Per column k due: d = c_k (read - R_k); Q_k = (1 - eta) Q_k + eta read; W_k += beta d; then c_k may switch
    /// (and Q~_k takes Q_k).
    public func transfer(_ block: WeightBlock, after step: Int64) {
        guard cycle.isDue(1, after: step) else { return }
        let rows = block.info.rows, cols = block.info.cols
        let r = reference
        for _ in 0..<cycle.columnsPerTransfer {
            let k = cycle.next(1)
            let c = choppers.input[k]
            var c2c = block.transferNoise(into: 0, from: 1, column: k, step: step)
            block.withColumn { col in
                block.readTransferColumn(1, column: k, step: step, into: col)
                for i in 0..<rows {
                    let e = i * cols + k
                    let read = col[i]
                    col[i] = c * (read - r[e])
                    q[e] = (1 - eta) * q[e] + eta * read
                }
                block.pulseColumn(into: 0, column: k, values: col, rate: cycle.rates[1], source: 1, step: step, noise: &c2c)
            }
            if choppers.columnRead(k, block: block, step: step), let qt = qTilde {
                for i in 0..<rows { qt[i * cols + k] = q[i * cols + k] }
            }
        }
    }

    /// gamma c_j (P_ij - ref_ij - R_ij).
    public func addDigitalTerm(_ block: WeightBlock, to effective: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        guard gamma != 0 else { return false }
        let p = block.arrays[1], cols = block.info.cols, r = reference
        for i in 0..<block.info.rows {
            for j in 0..<cols {
                let e = i * cols + j
                effective[e] += gamma * choppers.input[j] * (p.weight(e) - r[e])
            }
        }
        return true
    }

    public var digitalArrays: [DigitalArray] { [q] + (qTilde.map { [$0] } ?? []) }
    public var digitalReadTerms: [WeightTerm] {
        guard gamma != 0 else { return [] }
        let g = Double(gamma)
        return [WeightTerm("P", g, colSigns: "in_chopper")] + (referenced ? [WeightTerm("P.ref", -g, colSigns: "in_chopper")] : [])
            + [WeightTerm(reference.name, -g, colSigns: "in_chopper")]
    }
    public var scalars: [String: ScalarState] { cycle.scalars.merging(choppers.scalars) { a, _ in a } }
    public func restore(scalars: [String: ScalarState]) throws(StateError) {
        try cycle.restore(scalars)
        try choppers.restore(scalars)
    }
}

extension Algorithm {
    public static let eRIDER = Algorithm(ERIDER.self)
}
