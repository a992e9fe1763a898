import AIMCCore
import AIMCTraining
import Foundation
import Testing

/// aihwkit's `with_reset_prob` of the transfer compounds (`TransferReset`): after its read, a transferred column of
/// the source array is reset to the device's reset point with that probability.
@Suite("Resets of transferred columns (with_reset_prob)")
struct TransferResetTests {
    /// P of the 2 x 3 hand block, row-major: no value is the reset bias 0.05.
    static let p: [Float] = [0.02, 0.011, 0.013, -0.02, 0.017, -0.019]

    static func resetBlock(_ algorithm: Algorithm = .tikiTaka, probability: Double, rows: Int = 2, cols: Int = 3,
                           _ body: (inout ExperimentConfig) -> Void = { _ in }) throws -> WeightBlock {
        let (b, _) = handBlock(algorithm, rows: rows, cols: cols) {
            $0.algorithm[TransferReset.withResetProb] = probability
            $0.device.reset = 0.05
            $0.device.resetStd = 0
            body(&$0)
        }
        return b
    }

    @Test("Probability 1, reset_std 0: the transferred column of P is the reset bias exactly, W moves the earlier read, other columns untouched")
    func resetByHand() throws {
        let (reference, m) = handBlock(.tikiTaka)
        reference.arrays[1].setWeights(Self.p)
        let b = try Self.resetBlock(probability: 1)
        b.arrays[1].setWeights(Self.p)
        for k in 0..<3 {
            b.transfer(after: Int64(k))  // column k
            reference.transfer(after: Int64(k))
            let pNow = b.arrays[1].weightsArray(), w = b.arrays[0].weightsArray()
            for i in 0..<2 {
                for j in 0..<3 {
                    let e = i * 3 + j
                    // Columns 0...k were transferred and reset; the later ones keep their values.
                    #expect(pNow[e] == (j <= k ? 0.05 : Self.p[e]), "P[\(i), \(j)] after the transfer of column \(k)")
                    // W: Eq. 2 of beta x the read of P before the reset (beta 0.25, perfect transfer read), as without resets.
                    let expected = j <= k ? eq2(m, 0, 0.25 * Double(Self.p[e])) : 0
                    #expect(abs(Double(w[e]) - expected) < 1e-8, "W[\(i), \(j)]")
                    #expect(w[e] == reference.arrays[0].weightsArray()[e])
                }
            }
        }
        // The next pass moves the reset value: column 0 now transfers 0.25 x 0.05 on top.
        b.transfer(after: 3)
        let w00 = eq2(m, eq2(m, 0, 0.25 * Double(Self.p[0])), 0.25 * 0.05)
        #expect(abs(Double(b.arrays[0].weightsArray()[0]) - w00) < 1e-8)
    }

    @Test("Probability 0: P keeps its values through every transfer and the block equals one without the key")
    func probabilityZero() throws {
        let (reference, _) = handBlock(.tikiTaka)
        let b = try Self.resetBlock(probability: 0)
        reference.arrays[1].setWeights(Self.p)
        b.arrays[1].setWeights(Self.p)
        for step in 0..<7 {
            b.transfer(after: Int64(step))
            reference.transfer(after: Int64(step))
        }
        #expect(b.arrays[1].weightsArray() == Self.p)
        #expect(b.arrays[0].weightsArray() == reference.arrays[0].weightsArray())
    }

    /// 2 rows x 8 columns, P set to 0.3 before each of 4000 transfers (one column each): a reset column equals the
    /// bias 0.05 in both rows, a kept one 0.3 in both (no partial column). The count of resets is Binomial(4000,
    /// 0.3): sd = sqrt(0.3 x 0.7 / 4000) = 0.00725 of the fraction, and the test allows 5 sd (0.036; a fair stream
    /// fails with probability 6e-7). Resets of consecutive transfers of one column must not be one draw repeated:
    /// the fraction of columns reset twice in a row must be 0.09 within 5 sd of its binomial (0.0072 for 3992 pairs).
    @Test("Probability 0.3: the fraction of reset columns over 4000 transfers is 0.3 within 5 binomial sd; whole columns only")
    func resetFraction() throws {
        let rows = 2, cols = 8, transfers = 4000
        let b = try Self.resetBlock(.residual, probability: 0.3, rows: rows, cols: cols)
        let high = [Float](repeating: 0.3, count: rows * cols)
        var resets = 0, repeated = 0, pairs = 0
        var last = [Bool?](repeating: nil, count: cols)
        for t in 0..<transfers {
            b.arrays[1].setWeights(high)
            b.transfer(after: Int64(t))
            let p = b.arrays[1].weightsArray(), k = t % cols
            let column = (0..<rows).map { p[$0 * cols + k] }
            #expect(column.allSatisfy { $0 == 0.05 } || column.allSatisfy { $0 == 0.3 }, "transfer \(t): a partial column \(column)")
            for j in 0..<cols where j != k { #expect((0..<rows).allSatisfy { p[$0 * cols + j] == 0.3 }) }
            let reset = column[0] == 0.05
            if reset { resets += 1 }
            if let before = last[k] { pairs += 1; if before && reset { repeated += 1 } }
            last[k] = reset
        }
        let fraction = Double(resets) / Double(transfers)
        #expect(abs(fraction - 0.3) <= 5 * (0.3 * 0.7 / Double(transfers)).squareRoot(), "fraction \(fraction)")
        let both = Double(repeated) / Double(pairs)
        #expect(abs(both - 0.09) <= 5 * (0.09 * 0.91 / Double(pairs)).squareRoot(), "reset twice in a row \(both)")
    }

    /// reset_std 0.01: a reset value is b + 0.01 xi (clipped to the bounds +-0.6, far away); over 2000 resets of a
    /// 2-row column (4000 values) the mean is 0.05 within 5 sd (5 x 0.01 / sqrt(4000) = 7.9e-4) and the sample
    /// variance 1e-4 within 5 of its sd (sqrt(2 / 3999) x 1e-4 = 2.2e-6 each).
    @Test("reset_std: the reset values scatter around the bias with the stated spread")
    func resetSpread() throws {
        let b = try Self.resetBlock(probability: 1) { $0.device.resetStd = 0.01 }
        var values = [Double]()
        for t in 0..<2000 {
            b.transfer(after: Int64(t))
            let p = b.arrays[1].weightsArray(), k = t % 3
            values += [Double(p[k]), Double(p[3 + k])]
        }
        let n = Double(values.count), mean = values.reduce(0, +) / n
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)
        #expect(abs(mean - 0.05) < 5 * 0.01 / n.squareRoot(), "mean \(mean)")
        #expect(abs(variance - 1e-4) < 5 * (2 / (n - 1)).squareRoot() * 1e-4, "variance \(variance)")
    }

    @Test("reset_dtod alone: each device resets to its own bias b_i (drawn with the array, no other effect on)")
    func resetDtod() throws {
        let b = try Self.resetBlock(probability: 1) { $0.device.resetDtod = 0.02 }
        b.arrays[1].setWeights(Self.p)
        for t in 0..<3 { b.transfer(after: Int64(t)) }
        let effects = try #require(b.arrays[1].effects, "reset_dtod gives the array its per-device biases")
        let p = b.arrays[1].weightsArray()
        for e in 0..<6 { #expect(p[e] == effects.parameters(e).bias) }
        #expect(Set(p).count == 6, "the biases differ per device: \(p)")
    }

    @Test("Multi-tile: every source of a transfer is reset after its read (the gradient tile and the intermediate tile)")
    func multiTile() throws {
        let b = try Self.resetBlock(.multiTileResidual, probability: 1, rows: 1, cols: 2) {
            $0.algorithm[MultiTileResidual.tiles] = 3
            $0.algorithm[MultiTileResidual.transferEveryPerTile] = [1, 1]
        }
        b.arrays[1].setWeights([0.011, 0.013])
        b.arrays[2].setWeights([0.021, 0.023])
        b.transfer(after: 0)  // W(2) column 0 into W(1), then W(1) column 0 into W(0)
        #expect(b.arrays[2].weightsArray() == [0.05, 0.023])
        #expect(b.arrays[1].weightsArray()[0] == 0.05 && b.arrays[1].weightsArray()[1] == 0.013)
        #expect(b.arrays[0].weightsArray()[0] != 0 && b.arrays[0].weightsArray()[1] == 0)
    }

    @Test("with_reset_prob outside [0, 1] is one error naming the key and the range; other algorithms do not read it")
    func badValues() throws {
        for bad in [-0.1, 1.5, Double.nan] {
            var c = ExperimentConfig.default
            c.algorithm.name = .tikiTaka
            c.algorithm[TransferReset.withResetProb] = bad
            let error = try #require(throws: ConfigError.self) { try c.validate() }
            #expect(error.key == "algorithm.with_reset_prob" && error.message.contains("[0, 1]"), "\(error)")
        }
        for name in [Algorithm.tikiTaka, .residual, .multiTileResidual] {
            var c = ExperimentConfig.default
            c.algorithm.name = name
            c.algorithm[TransferReset.withResetProb] = 0.5
            try c.validate()
            #expect(c.ineffective("algorithm.with_reset_prob") == nil)
            #expect(c.ineffective("device.reset_std") == nil && c.ineffective("device.reset") == nil)
            c.algorithm[TransferReset.withResetProb] = 0
            #expect(c.ineffective("device.reset_std") != nil, "no resets: reset_std has no effect")
        }
        var c = ExperimentConfig.default
        c.algorithm.name = .tikiTakaV2
        #expect(c.ineffective("algorithm.with_reset_prob") != nil, "aihwkit's buffered compound ignores it")
    }
}
