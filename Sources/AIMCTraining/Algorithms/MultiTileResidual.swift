import AIMCCore
import Foundation

/// Multi-tile residual learning (arXiv 2510.02516) for few-state devices: arrays W(0..N), the reads see
/// sum_n gamma^n W(n), gradient pulses go to W(N), and one column of W(s) moves into W(s - 1) every period_s steps
/// (Section 3.2: nested periods transfer_every x growth^(N - s), rates transfer_lr x growth^(s - 1), or explicit
/// per-tile lists in aihwkit's order). Algorithm 1's optional warm start first fills W(0), W(1), ... in turn from the
/// gradient tile, moving on at each plateau of the epoch training loss (App. H), before the cascade starts. aihwkit's
/// `TransferCompound` with N + 1 devices; its `with_reset_prob` resets each transferred column of the source tile
/// after the read with that probability (`TransferReset`; the warm start's transfers from W(N) too).
public final class MultiTileResidual: TrainingAlgorithm {
    public static let name = "multi-tile-residual"
    public static let title = "multi-tile residual learning (arXiv 2510.02516)"
    public static let reads = AlgorithmConfig.SharedKeys.transfer.union(["gamma"])
    public static let transfers = true

    public static let tiles = Parameter<Int>.integer("tiles", option: "--tiles", default: 3, in: 2...12,
                                                     help: "multi-tile: tiles (arrays) per block, N + 1 (2 is Residual Learning)")
    public static let transferEveryGrowth = Parameter<Double>.number(
        "transfer_every_growth", option: "--transfer-every-growth", default: 2, in: 1...100,
        help: "multi-tile: the period of level n is transfer_every x growth^(N-1-n), so the most significant tiles change slowest")
    public static let transferLRGrowth = Parameter<Double>.number(
        "transfer_lr_growth", option: "--transfer-lr-growth", default: 1.2, above: 0, atMost: 100,
        help: "multi-tile: the transfer rate of level n is transfer_lr x growth^(N-1-n) (the paper's code: 0.1 x 1.2^n)")
    public static let transferEveryPerTile = Parameter<[Int]>.integers(
        "transfer_every_per_tile", option: "--transfer-every-per-tile", in: 1...1_000_000,
        help: "multi-tile: transfer periods per source tile, gradient tile first (N values; replace the growth rule)")
    public static let transferLRPerTile = Parameter<[Double]>.numbers(
        "transfer_lr_per_tile", option: "--transfer-lr-per-tile", above: 0, atMost: 1e6,
        help: "multi-tile: transfer rates per source tile, gradient tile first (N values; replace the growth rule)")
    public static let warmStart = Parameter<Bool>.flag("warm_start", option: "--warm-start",
                                                       help: "multi-tile: Algorithm 1's warm start (fill tiles in turn at loss plateaus)")
    public static var parameters: [AlgorithmParameter] {
        [tiles.spec, transferEveryGrowth.spec, transferLRGrowth.spec, transferEveryPerTile.spec, transferLRPerTile.spec, warmStart.spec,
         TransferReset.withResetProb.spec]
    }

    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] {
        [.main] + (1..<config[tiles]).map { ArrayRole.tile($0) }
    }

    public static func coefficients(_ config: AlgorithmConfig) -> [Double] {
        (0..<config[tiles]).map { $0 == 0 ? 1 : Elementary.power(config.gamma, $0) }
    }

    /// Source s = 1...N: periods transfer_every x growth^(N - s) (rounded, at least 1), rates transfer_lr x
    /// growth^(s - 1); or the per-tile lists when they hold N values (gradient tile first: entry N - s).
    public static func schedule(_ config: AlgorithmConfig) -> TransferSchedule {
        let n = config[tiles] - 1
        let everyList = config[transferEveryPerTile], lrList = config[transferLRPerTile]
        let periods = (0...n).map { s -> Double in
            if s == 0 { return 0 }
            if everyList.count == n { return Double(everyList[n - s]) }
            return max(1, (Double(config.transferEvery) * Elementary.power(config[transferEveryGrowth], n - s)).rounded())
        }
        let rates = (0...n).map { s -> Double in
            if s == 0 { return 0 }
            if lrList.count == n { return config.transferScale * lrList[n - s] }
            return config.transferRate * Elementary.power(config[transferLRGrowth], s - 1)
        }
        return TransferSchedule(periods: periods, rates: rates)
    }

    public static func validate(_ config: ExperimentConfig) throws(ConfigError) {
        let a = config.algorithm
        let n = a[tiles] - 1
        for (count, spec) in [(a[transferEveryPerTile].count, transferEveryPerTile.spec), (a[transferLRPerTile].count, transferLRPerTile.spec)]
        where count != 0 && count != n {
            throw ConfigError(key: "algorithm." + spec.key, option: spec.option,
                              message: "must list \(n) values (one per source tile, gradient tile first) for \(a[tiles]) tiles; got \(count)")
        }
        let perTile = !a[transferEveryPerTile].isEmpty, perTileLR = !a[transferLRPerTile].isEmpty
        try a.transferSchedule.validate(period: { s, p in
            if perTile {
                return ConfigError(key: "algorithm.transfer_every_per_tile", option: "--transfer-every-per-tile", message: "must be at most 1e12 steps; got \(p)")
            }
            let e = n - s
            return ConfigError(key: "algorithm.transfer_every", option: "--transfer-every",
                               message: "x --transfer-every-growth^\(e) = \(a.transferEvery) x \(a[transferEveryGrowth])^\(e) = \(p) steps, more than 1e12; use fewer tiles, a smaller growth or a smaller --transfer-every")
        }, rate: { s, r in
            if !perTileLR && s > 1 {
                return ConfigError(key: "algorithm.transfer_lr_growth", option: "--transfer-lr-growth",
                                   message: "gives source tile \(s) the rate \(a.transferRate) x \(a[transferLRGrowth])^\(s - 1) = \(r), outside (1.2e-38, 1e6]; choose a growth closer to 1")
            }
            return ConfigError(key: perTileLR ? "algorithm.transfer_lr_per_tile" : "algorithm.transfer_lr",
                               option: perTileLR ? "--transfer-lr-per-tile" : "--transfer-lr", message: "gives the rate \(r), outside the range of Float (1.2e-38, 1e6]")
        })
    }

    public static func ineffective(_ field: String, in config: ExperimentConfig) -> String? {
        let a = config.algorithm, n = a[tiles] - 1
        if field == transferEveryGrowth.key && a[transferEveryPerTile].count == n { return "the per-tile periods replace the growth rule" }
        if field == transferLRGrowth.key && a[transferLRPerTile].count == n { return "the per-tile rates replace the growth rule" }
        return nil
    }

    /// The schedule as used: from the per-tile lists when given, else the growth rules.
    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        let a = config.algorithm, g = Report.g
        let (periods, rates) = (a.transferSchedule.periods, a.transferSchedule.rates)
        let n = periods.count - 1
        let rule = a[transferEveryPerTile].count == n || a[transferLRPerTile].count == n ? "" :
            " (beta \(g(a.transferRate)) x \(g(a[transferLRGrowth]))^(s-1), period \(a.transferEvery) x \(g(a[transferEveryGrowth]))^(N-s)\(a.unitsInMbatch ? "" : " samples"))"
        let schedule = (1...max(n, 1)).filter { $0 <= n }.map { "W(\($0))->W(\($0 - 1)) beta \(g(rates[$0])) every \(g(periods[$0]))" }
        return "\(a[tiles]) tiles, alpha \(g(a.gradientRate)), gamma \(g(a.gamma)); transfers " + schedule.joined(separator: ", ") + rule
            + "\(a[warmStart] ? ", warm start" : "")\(TransferReset.describe(a)), \(update)"
    }

    public private(set) var cycle: TransferCycle
    /// Warm start: while `warmTarget` < N, the gradient tile W(N) transfers into W(warmTarget).
    public private(set) var warmTarget: Int
    /// Epoch training losses since the last warm-start move, and the moves so far.
    var plateauHistory: [Double] = []
    public private(set) var warmStartMoves = 0
    let resetProbability: Double

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {
        cycle = TransferCycle(config.algorithm, cols: block.cols)
        warmTarget = config.algorithm[MultiTileResidual.warmStart] ? 0 : cycle.sources
        resetProbability = config.algorithm[TransferReset.withResetProb]
    }

    public func transfer(_ block: WeightBlock, after step: Int64) {
        let n = cycle.sources
        guard warmTarget < n else { return block.moveColumns(&cycle, after: step, resetProbability: resetProbability) }
        guard cycle.isDue(n, after: step) else { return }
        for _ in 0..<cycle.columnsPerTransfer {
            block.moveColumn(from: n, into: warmTarget, column: cycle.next(n), rate: cycle.rates[n], step: step, resetProbability: resetProbability)
        }
    }

    /// Algorithm 1's warm start moves to the next target tile on a loss plateau (`plateau`).
    public func epochEnded(trainLoss: Double) {
        guard warmTarget < cycle.sources else { return }
        plateauHistory.append(trainLoss)
        if Self.plateau(plateauHistory, moves: warmStartMoves) {
            warmStartMoves += 1
            plateauHistory.removeAll()
            advanceWarmStart()
        }
    }

    /// Moves the warm start to the next target tile.
    public func advanceWarmStart() {
        if warmTarget < cycle.sources { warmTarget += 1 }
    }

    /// Algorithm 1's LossPlateau (arXiv 2510.02516, App. H): for the first four moves, the loss rose since the last
    /// epoch ("aggressive"); later, at least two rises among the last five epochs ("mild").
    static func plateau(_ history: [Double], moves: Int) -> Bool {
        if moves < 4 {
            guard history.count >= 2 else { return false }
            return history[history.count - 1] > history[history.count - 2]
        }
        guard history.count >= 6 else { return false }
        let last = history.suffix(6)
        return zip(last.dropFirst(), last).filter { $0 > $1 }.count >= 2
    }

    public var scalars: [String: ScalarState] {
        cycle.scalars.merging(["warm_target": .integers([Int64(warmTarget)]), "warm_start_moves": .integers([Int64(warmStartMoves)]),
                               "plateau_history": .reals(plateauHistory)]) { a, _ in a }
    }

    public func restore(scalars: [String: ScalarState]) throws(StateError) {
        try cycle.restore(scalars)
        let target = try StateError.integers(scalars, "warm_target", count: 1)[0]
        guard target >= 0 && target <= Int64(cycle.sources) else { throw StateError("warm_target \(target) lies outside 0...\(cycle.sources)") }
        warmTarget = Int(target)
        warmStartMoves = Int(try StateError.integers(scalars, "warm_start_moves", count: 1)[0])
        plateauHistory = try StateError.reals(scalars, "plateau_history")
    }
}

extension Algorithm {
    public static let multiTileResidual = Algorithm(MultiTileResidual.self)
}
