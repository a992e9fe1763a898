import AIMCCore
import AIMCTraining
import Foundation
import Testing

/// The chopped and digital-accumulation algorithms (c-TTv2, AGAD, E-RIDER, mixed precision) on a 2 x 3 block, each
/// update computed by hand (or by an independent loop over the docstring's equations) in expected mode, and in pulsed
/// mode on a noise-free device where every pulse count is forced (train probabilities clipped at 1).
@Suite("aihwkit's algorithms by hand")
struct AihwkitAlgorithmTests {
    static let x: [Float] = [1, 0.5, -0.25], d: [Float] = [0.2, -0.4]

    /// P = a 2 x 3 pattern of the pass t (changes sign of its column term with t).
    static func pattern(_ t: Int) -> [Float] {
        (0..<6).map { (e: Int) -> Float in
            let row = 0.004 * Double(e / 3 + 1)
            let column = 0.003 * Double(e % 3) * (t % 2 == 0 ? 1.0 : -1.0)
            return Float(row + column + 0.0007 * Double(t))
        }
    }

    @Test("c-TTv2: the chopped gradient, de-chopped buffer in threshold units, one pulse per transfer, regular switching")
    func choppedTransfer() throws {
        let (b, m) = handBlock(.choppedTikiTakaV2) {
            $0.algorithm.gamma = 0
            $0.algorithm[ChoppedTikiTakaV2.inChopProb] = 1
            $0.algorithm[ChoppedTikiTakaV2.inChopRandom] = false
        }
        let a = try #require(b.algorithm as? ChoppedTikiTakaV2)
        a.choppers.input[1] = -1
        a.choppers.output[1] = -1
        let cIn: [Float] = [1, -1, 1], cOut: [Float] = [1, -1]
        b.gradientUpdate(input: Self.x, inputStride: 3, delta: Self.d, deltaStride: 2, batch: 1, step: 0)
        for i in 0..<2 {
            for j in 0..<3 {
                let dW = -0.5 * Double(cOut[i] * Self.d[i]) * Double(cIn[j] * Self.x[j])
                #expect(abs(Double(b.arrays[1].weights[i * 3 + j]) - eq2(m, 0, dW)) < 1e-7, "P[\(i)][\(j)]")
                #expect(b.arrays[0].weights[i * 3 + j] == 0)
            }
        }
        // Buffer: omega = H + c_out c_in read x 0.25 / dw_min (250 per unit of P).
        b.arrays[1].setWeights([0.0105, -0.0031, 0.002, -0.0031, 0.0044, -0.0006])
        let h = try #require(b.digitalArray("H"))
        b.transfer(after: 0)  // column 0: 2.625 -> one pulse up, H forgets (momentum 0); -(-0.0031) x 250 = 0.775 stays
        #expect(abs(Double(b.arrays[0].weights[0]) - pulses(0, 1, up: true, c: 0.1)) < 1e-7 && h[0] == 0)
        #expect(b.arrays[0].weights[3] == 0 && abs(h[3] - 0.775) < 1e-5)
        b.transfer(after: 1)  // column 1 (c_in = -1): 0.775 stays; row 1: 0.0044 x 250 = 1.1 -> one pulse up
        #expect(abs(h[1] - 0.775) < 1e-5 && b.arrays[0].weights[1] == 0)
        #expect(abs(Double(b.arrays[0].weights[4]) - pulses(0, 1, up: true, c: 0.1)) < 1e-7 && h[4] == 0)
        b.transfer(after: 2)  // column 2: 0.5 and 0.15 stay; the first pass ends
        #expect(abs(h[2] - 0.5) < 1e-5 && abs(h[5] - 0.15) < 1e-5 && a.choppers.passes == 1)
        #expect(a.choppers.input[0] == 1, "regular switching every 2 passes: not in pass 0")
        b.transfer(after: 3)  // column 0 again: 2.625 -> a second pulse; 0.775 + 0.775 -> a pulse; then c_in[0] switches
        #expect(abs(Double(b.arrays[0].weights[0]) - pulses(pulses(0, 1, up: true, c: 0.1), 1, up: true, c: 0.1)) < 1e-7)
        #expect(abs(Double(b.arrays[0].weights[3]) - pulses(0, 1, up: true, c: 0.1)) < 1e-7 && h[3] == 0)
        #expect(a.choppers.input[0] == -1 && a.choppers.input[1] == -1 && a.choppers.input[2] == 1)
        for i in 0..<6 { #expect(b.effective[i] == b.arrays[0].weights[i], "gamma 0 reads W alone") }
        #expect(b.readTerms == [WeightTerm("W", 1)])
    }

    @Test("c-TTv2 without forgetting: H keeps omega - (1 - momentum) n; at most transfer_desired_bl pulses")
    func choppedMomentum() throws {
        let (b, _) = handBlock(.choppedTikiTakaV2, rows: 1, cols: 1) {
            $0.algorithm.gamma = 0
            $0.algorithm[ChoppedTikiTakaV2.inChopProb] = 0
            $0.algorithm[ChoppedTikiTakaV2.forgetBuffer] = false
            $0.algorithm[ChoppedTikiTakaV2.momentum] = 0.5
            $0.algorithm[ChoppedTikiTakaV2.transferBL] = 2
        }
        b.arrays[1].setWeights([0.0131])  // 3.275 threshold units -> trunc 3, capped at 2 pulses; H = 3.275 - 0.5 x 2
        b.transfer(after: 0)
        let h = try #require(b.digitalArray("H"))
        #expect(abs(h[0] - 2.275) < 1e-5)
        #expect(abs(Double(b.arrays[0].weights[0]) - pulses(0, 2, up: true, c: 0.1)) < 1e-7)
    }

    @Test("c-TTv2 residual form (PR #764): reads W + gamma (c_out c_in^T) .* P; the transfer rate scales by gamma")
    func choppedResidual() throws {
        let (b, _) = handBlock(.choppedTikiTakaV2) {
            $0.algorithm.gamma = 0.4
            $0.algorithm[ChoppedTikiTakaV2.inChopProb] = 0
        }
        let a = try #require(b.algorithm as? ChoppedTikiTakaV2)
        a.choppers.input[2] = -1
        a.choppers.output[0] = -1
        let p: [Float] = [0.0105, -0.0031, 0.002, -0.0031, 0.0044, -0.0006]
        b.arrays[1].setWeights(p)
        b.refreshEffective()
        let s: [Float] = [-1, -1, 1, 1, 1, -1]  // c_out[i] c_in[j]
        for e in 0..<6 { #expect(abs(b.effective[e] - 0.4 * s[e] * p[e]) < 1e-8, "element \(e)") }
        b.transfer(after: 0)  // 0.25 x 0.4 / 1e-3 = 100 per unit: -0.0105 x 100 = -1.05 -> one pulse down; 0.0031 x 100 stays
        #expect(b.arrays[0].weights[0] < 0 && b.arrays[0].weights[3] == 0)
        #expect(abs(try #require(b.digitalArray("H"))[3] - (-0.31)) < 1e-5)
        #expect(abs(b.effective[0] - (b.arrays[0].weights[0] - 0.4 * p[0])) < 1e-8)
        #expect(b.readTerms == [WeightTerm("W", 1), WeightTerm("P", Double(Float(0.4)), rowSigns: "out_chopper", colSigns: "in_chopper")])
    }

    @Test("c-TTv2 pulsed at zero noise: every slot fires (probabilities clipped at 1), BL pulses of the chopped sign")
    func choppedPulsed() throws {
        let (b, _) = handBlock(.choppedTikiTakaV2) { $0.algorithm.updateMode = .pulsed; $0.algorithm.gamma = 0 }
        let a = try #require(b.algorithm as? ChoppedTikiTakaV2)
        a.choppers.input[1] = -1
        a.choppers.output[1] = -1
        let x: [Float] = [1, -1, 1], d: [Float] = [1, -1]
        let cIn: [Float] = [1, -1, 1], cOut: [Float] = [1, -1]
        // k = 0.5 x 1 x 1 / 1e-3 = 500 > BL 31: BL 31 slots, each firing with probability 1.
        b.gradientUpdate(input: x, inputStride: 3, delta: d, deltaStride: 2, batch: 1, step: 0)
        for i in 0..<2 {
            for j in 0..<3 {
                let up = -(cOut[i] * d[i]) * (cIn[j] * x[j]) > 0
                #expect(abs(Double(b.arrays[1].weights[i * 3 + j]) - pulses(0, 31, up: up, c: 0.1)) < 1e-6, "P[\(i)][\(j)]")
            }
        }
        #expect(b.gradientPulses.coincidences == 6 * 31)
    }

    @Test("Transfers counted in samples (units_in_mbatch false) follow each sample's update, as aihwkit's per-sample loop")
    func transfersPerSample() throws {
        let (b, m) = handBlock(.choppedTikiTakaV2) {
            $0.algorithm.gamma = 0
            $0.algorithm[ChoppedTikiTakaV2.inChopProb] = 0
            $0.algorithm.unitsInMbatch = false
            $0.algorithm.updatePer = .sample
        }
        #expect(b.transfersCountSamples)
        let x: [Float] = [1, 1, 1, 1, 1, 1, 1, 1, 1]
        let d: [Float] = [0.002, 0, 0.004, 0, -0.001, 0]
        b.gradientUpdate(input: x, inputStride: 3, delta: d, deltaStride: 2, batch: 3, step: 0)
        b.transfer(after: 0)  // nothing: the transfers ran after each sample
        let h = try #require(b.digitalArray("H"))
        // Column 0 was read after sample 0, column 1 after sample 1, column 2 after sample 2.
        let p0 = eq2(m, 0, -0.5 * 0.002)
        let p1 = eq2(m, p0, -0.5 * 0.004)
        let p2 = eq2(m, p1, 0.5 * 0.001)
        #expect(abs(Double(h[0]) - p0 * 250) < 1e-4 && abs(Double(h[1]) - p1 * 250) < 1e-4 && abs(Double(h[2]) - p2 * 250) < 1e-4)
        #expect(b.samplesSeen == 3 && b.transfers == 3)
        #expect(b.scalars["samples"] == .integers([3]))
    }

    @Test("AGAD: running mean, past mean taken at each switch, buffer of the de-chopped difference, writes after n + 1 passes")
    func agad() throws {
        let (b, _) = handBlock(.agad) {
            $0.algorithm[AGAD.inChopProb] = 0.5  // regular switches every 2 passes
            $0.algorithm[AGAD.tailWeightening] = 1  // m = 0.5
        }
        let a = try #require(b.algorithm as? AGAD)
        // The docstring's equations, element by element, in Float as the block computes them.
        var h = [Float](repeating: 0, count: 6), mean = h, past = h
        var w = [Double](repeating: 0, count: 6)
        var cIn: [Float] = [1, 1, 1]
        var switched = [false, false, false]
        var passes = 0
        var step: Int64 = 0
        for t in 0..<8 {
            let p = Self.pattern(t)
            b.arrays[1].setWeights(p)
            for k in 0..<3 {
                b.transfer(after: step)
                step += 1
                let prev = switched[k]
                switched[k] = false
                for i in 0..<2 {
                    let e = i * 3 + k
                    let value = b.arrays[1].weights[e]
                    if prev { past[e] = mean[e] }
                    var omega = h[e] + cIn[k] * (value - past[e]) * Float(0.25 / Double(Float(1e-3)))
                    var n = 0
                    if abs(omega) >= 1 {
                        n = max(min(Int(omega.rounded(.towardZero)), 1), -1)
                        omega *= 0
                    }
                    h[e] = omega
                    mean[e] = mean[e] * 0.5 + value * 0.5
                    if n != 0 && passes > 2 { w[e] = pulses(w[e], 1, up: n > 0, c: 0.1) }
                }
                if passes % 2 + 1 == 2 {
                    cIn[k] = -cIn[k]
                    switched[k] = true
                }
                if k == 2 { passes += 1 }
            }
        }
        let hb = try #require(b.digitalArray("H")), mb = try #require(b.digitalArray("M")), rb = try #require(b.digitalArray("R"))
        for e in 0..<6 {
            #expect(abs(hb[e] - h[e]) < 1e-4 && abs(mb[e] - mean[e]) < 1e-8 && abs(rb[e] - past[e]) < 1e-8, "element \(e)")
            #expect(abs(Double(b.arrays[0].weights[e]) - w[e]) < 1e-7, "W element \(e)")
        }
        #expect(w.contains { $0 != 0 }, "some pulses fired after the warm-up passes")
        #expect((0..<3).map { a.choppers.input[$0] } == cIn && a.choppers.passes == 8)
        for e in 0..<6 { #expect(b.effective[e] == b.arrays[0].weights[e], "AGAD reads W alone") }
    }

    /// The E-RIDER reference: d = c_k (read - R), Q <- (1 - eta) Q + eta read, W += beta d (Eq. 2), c_k switching
    /// every 2 passes (and Q~ taking Q then); reads W + gamma c (P - R).
    func eRider(snapshot: Bool) throws {
        let (b, m) = handBlock(.eRIDER) {
            $0.algorithm[RIDER.eta] = 0.5
            $0.algorithm[ERIDER.inChopProb] = 0.5
            $0.algorithm[ERIDER.snapshot] = snapshot
        }
        var q = [Float](repeating: 0, count: 6), qt = q
        var w = [Double](repeating: 0, count: 6)
        var cIn: [Float] = [1, 1, 1]
        var passes = 0
        var step: Int64 = 0
        for t in 0..<6 {
            b.arrays[1].setWeights(Self.pattern(t))
            for k in 0..<3 {
                b.transfer(after: step)
                step += 1
                for i in 0..<2 {
                    let e = i * 3 + k
                    let read = b.arrays[1].weights[e]
                    let dk = cIn[k] * (read - (snapshot ? qt[e] : q[e]))
                    q[e] = (1 - 0.5) * q[e] + 0.5 * read
                    w[e] = eq2(m, w[e], Double(0.25 * dk))
                }
                if passes % 2 + 1 == 2 {
                    cIn[k] = -cIn[k]
                    for i in 0..<2 { qt[i * 3 + k] = q[i * 3 + k] }
                }
                if k == 2 { passes += 1 }
            }
        }
        let qb = try #require(b.digitalArray("Q"))
        for e in 0..<6 {
            #expect(abs(qb[e] - q[e]) < 1e-8 && abs(Double(b.arrays[0].weights[e]) - w[e]) < 1e-6, "element \(e)")
            let r = snapshot ? qt[e] : q[e]
            let expected = b.arrays[0].weights[e] + 0.4 * cIn[e % 3] * (b.arrays[1].weights[e] - r)
            #expect(abs(b.effective[e] - expected) < 1e-7, "read of element \(e)")
        }
        if snapshot { #expect(try #require(b.digitalArray("Q.snapshot")).values[0] == qt[0]) }
    }

    @Test("E-RIDER: chopped residual reads, transfers of c_k (P - Q), Q tracking P; with Q~ snapshots at switches")
    func eRiderByHand() throws {
        try eRider(snapshot: false)
        try eRider(snapshot: true)
    }

    @Test("E-RIDER with in_chop_prob 0 is RIDER: the same W and Q after the same transfers; chopped gradient into P")
    func eRiderWithoutChopperIsRider() throws {
        let (e, m) = handBlock(.eRIDER) { $0.algorithm[ERIDER.inChopProb] = 0 }
        let (r, _) = handBlock(.rider)
        for t in 0..<4 {
            for block in [e, r] {
                block.arrays[1].setWeights(Self.pattern(t))
                for k in 0..<3 { block.transfer(after: Int64(3 * t + k)) }
            }
        }
        #expect(e.arrays[0].weightsArray() == r.arrays[0].weightsArray())
        #expect(try #require(e.digitalArray("Q")).values[5] == (try #require(r.digitalArray("Q"))).values[5])
        // The gradient goes into P with the column's chopper sign.
        let (c, _) = handBlock(.eRIDER) { $0.algorithm[ERIDER.inChopProb] = 0 }
        let chopped = try #require(c.algorithm as? ERIDER)
        chopped.choppers.input[1] = -1
        c.gradientUpdate(input: Self.x, inputStride: 3, delta: Self.d, deltaStride: 2, batch: 1, step: 0)
        #expect(abs(Double(c.arrays[1].weights[1]) - eq2(m, 0, -0.5 * 0.2 * -0.5)) < 1e-8)
    }

    @Test("Mixed precision: chi += lr d x^T digitally; trunc(chi / eps) granules move into W (Eq. 2) at the next sample, chi keeps the rest")
    func mixedPrecision() throws {
        let eps = 0.0009765625  // 2^-10
        let (b, m) = handBlock(.mixedPrecision) {
            $0.algorithm[MixedPrecision.granularity] = eps
            $0.algorithm.transferEvery = 2
        }
        let x: [Float] = [1, -0.75, 0.5], d: [Float] = [Float(0.0078125 * 1.1), -0.015625]
        b.gradientUpdate(input: x, inputStride: 3, delta: d, deltaStride: 2, batch: 1, step: 0)
        let chi = try #require(b.digitalArray("chi"))
        for i in 0..<2 { for j in 0..<3 { #expect(abs(chi[i * 3 + j] - 0.5 * d[i] * x[j]) < 1e-9) } }
        b.transfer(after: 0)  // transfer_every 2: not yet
        #expect(b.arrays[0].weightsArray().allSatisfy { $0 == 0 })
        b.transfer(after: 1)  // due: it runs at the next sample (aihwkit's order), here one with x = 0
        #expect(b.arrays[0].weightsArray().allSatisfy { $0 == 0 })
        b.gradientUpdate(input: [0, 0, 0], inputStride: 3, delta: d, deltaStride: 2, batch: 1, step: 2)
        for i in 0..<2 {
            for j in 0..<3 {
                let c = Double(0.5 * d[i] * x[j])
                let n = (c / eps).rounded(.towardZero)
                #expect(n != 0)
                #expect(abs(Double(chi[i * 3 + j]) - (c - n * eps)) < 1e-9, "chi[\(i)][\(j)]")
                #expect(abs(Double(b.arrays[0].weights[i * 3 + j]) - eq2(m, 0, -0.25 * eps * n)) < 1e-8, "W[\(i)][\(j)]")
            }
        }
        #expect(b.effective == b.arrays[0].weights, "mixed precision reads W's own storage")
    }

    @Test("Mixed precision pulsed at zero noise: n pulses per device when a row's |n| are equal (probabilities clipped at 1)")
    func mixedPrecisionPulsed() throws {
        let eps = 0.0009765625
        let (b, _) = handBlock(.mixedPrecision) {
            $0.algorithm.updateMode = .pulsed
            $0.device.dwMin = eps  // granularity 0: eps is the device's dw_min
            $0.algorithm.transferLR = 1
        }
        let x: [Float] = [1, -1, 1], d: [Float] = [0.0078125, -0.015625]  // chi rows: 4 and 8 granules
        b.gradientUpdate(input: x, inputStride: 3, delta: d, deltaStride: 2, batch: 1, step: 0)
        b.transfer(after: 0)
        b.gradientUpdate(input: [0, 0, 0], inputStride: 3, delta: d, deltaStride: 2, batch: 1, step: 1)  // runs the transfer
        let n: [Int] = [4, -4, 4, -8, 8, -8]
        for e in 0..<6 {
            #expect(abs(Double(b.arrays[0].weights[e]) - pulses(0, abs(n[e]), up: n[e] < 0, c: 0.1, dw: eps)) < 1e-6, "W element \(e)")
        }
        #expect(try #require(b.digitalArray("chi")).values[0] == 0)
        #expect(b.transferPulses.coincidences == 36)
    }

    @Test("Tiki-Taka v2 with aihwkit's buffer: one pulse per transfer, the buffer keeps momentum x H after a transfer")
    func bufferedMomentum() throws {
        let (b, _) = handBlock(.tikiTakaV2, rows: 1, cols: 1) {
            $0.algorithm[TikiTakaV2.momentum] = 0.1
            $0.algorithm[TikiTakaV2.forgetBuffer] = true
            $0.algorithm[TikiTakaV2.transferBL] = 1
        }
        b.arrays[1].setWeights([0.0105])
        b.transfer(after: 0)  // H = 0.25 x 0.0105 = 0.002625: 2 thresholds, one pulse (BL 1), H = 0.1 x 0.002625
        let h = try #require(b.digitalArray("H"))
        #expect(abs(h[0] - 0.0002625) < 1e-9)
        #expect(abs(Double(b.arrays[0].weights[0]) - pulses(0, 1, up: true, c: 0.1)) < 1e-7)
    }
}

@Suite("aihwkit's learning-rate conventions")
struct AihwkitConventionTests {
    @Test("fast_lr replaces lr for the gradient of transfer algorithms; scale_transfer_lr multiplies transfer_lr by lr")
    func rates() throws {
        var c = ExperimentConfig.default
        c.algorithm.name = .tikiTaka
        c.algorithm.lr = 0.1
        c.algorithm.transferLR = 1
        #expect(c.algorithm.gradientRate == 0.1 && c.algorithm.transferRate == 1)
        c.algorithm.fastLR = 1
        c.algorithm.scaleTransferLR = true
        #expect(c.algorithm.gradientRate == 1 && abs(c.algorithm.transferRate - 0.1) < 1e-15)
        #expect(c.algorithm.transferSchedule.rates == [0, c.algorithm.transferRate])
        try c.validate()
        c.algorithm.name = .analogSGD  // aihwkit's single device has no fast_lr: the gradient uses lr
        #expect(c.algorithm.gradientRate == 0.1 && c.ineffective("algorithm.fast_lr") == "analog-sgd has no transfers")
        c.algorithm.name = .mixedPrecision  // MixedPrecisionCompound's transfer_lr is a plain scale
        #expect(c.algorithm.transferRate == 1 && c.ineffective("algorithm.scale_transfer_lr") == "mixed-precision does not read it")
        c.algorithm.name = .tikiTaka
        c.algorithm.fastLR = -1
        #expect(throws: ConfigError.self) { try c.validate() }
        c.algorithm.fastLR = 1
        c.algorithm.lr = 1e-20
        c.algorithm.transferLR = 1e-20
        #expect(throws: ConfigError.self) { try c.validate() }  // each valid, but the transfer rate 1e-20 x 1e-20 is not
    }

    @Test("Per-algorithm defaults of a shared key: in_chop_random is true for c-TTv2, false for AGAD; a name change keeps equality")
    func perAlgorithmDefaults() throws {
        var c = ExperimentConfig.default
        c.algorithm.name = .choppedTikiTakaV2
        #expect(c.algorithm[value: ChoppedTikiTakaV2.inChopRandom.spec] == .boolean(true))
        c.algorithm.name = .agad
        #expect(c.algorithm[value: ChoppedTikiTakaV2.inChopRandom.spec] == .boolean(false))
        #expect(c.algorithm[ERIDER.inChopProb] == 0.05 && c.algorithm[AGAD.inChopProb] == 0.1)
        c.algorithm[AGAD.inChopRandom] = true  // not AGAD's default: stored
        c.algorithm.name = .choppedTikiTakaV2  // c-TTv2's default: dropped
        var d = ExperimentConfig.default
        d.algorithm.name = .choppedTikiTakaV2
        #expect(c == d)
        let back = try JSONDecoder().decode(ExperimentConfig.self, from: ConfigLoader.json(c))
        #expect(back == c)
        let table = try ConfigLoader.encodedTable(d)["algorithm"] as? [String: Any]
        #expect(table?["in_chop_random"] as? Bool == true)
    }
}

@Suite("aihwkit's algorithms: checkpoints")
struct AihwkitCheckpointTests {
    /// The state beyond the generic checkpoint test's (which runs every algorithm with its defaults): per-sample
    /// transfers (the sample clock), random chopper switches and output choppers, auto-scale's running maxima, the
    /// residual read, AGAD's means, E-RIDER's snapshots, mixed precision's quantization streams, row pointer and pending transfer.
    static let cases: [(String, @Sendable (inout ExperimentConfig) -> Void)] = [
        ("c-ttv2 per sample, auto-scaled, residual", { c in
            c.algorithm.name = .choppedTikiTakaV2
            c.algorithm.unitsInMbatch = false
            c.algorithm.updatePer = .sample
            c.algorithm.gamma = 0.3
            c.algorithm.fastLR = 0.5
            c.algorithm[ChoppedTikiTakaV2.autoScale] = true
            c.algorithm[ChoppedTikiTakaV2.outChopProb] = 0.2
        }),
        ("agad per sample", { c in
            c.algorithm.name = .agad
            c.algorithm.unitsInMbatch = false
            c.algorithm.updatePer = .sample
            c.algorithm[AGAD.inChopProb] = 0.25
            c.algorithm[AGAD.inChopRandom] = true
        }),
        ("e-rider with snapshots", { c in
            c.algorithm.name = .eRIDER
            c.algorithm[ERIDER.snapshot] = true
            c.algorithm[ERIDER.inChopRandom] = true
            c.algorithm[ERIDER.inChopProb] = 0.3
        }),
        ("tiki-taka with resets of transferred columns", { c in
            c.algorithm.name = .tikiTaka
            c.algorithm[TransferReset.withResetProb] = 0.5
        }),
        ("mixed precision, quantized, two rows per transfer", { c in
            c.algorithm.name = .mixedPrecision
            c.algorithm[MixedPrecision.xBins] = 8
            c.algorithm[MixedPrecision.dBins] = 8
            c.algorithm[MixedPrecision.rowsPerTransfer] = 2
        }),
    ]

    @Test("Resume mid-epoch equals the uninterrupted run, pulsed and expected", arguments: cases.indices, [UpdateMode.pulsed, .expected])
    func resume(index: Int, mode: UpdateMode) throws {
        let data = tinyData(40)
        var c = tinyConfig(.residual, tile: 3, mode: mode)
        Self.cases[index].1(&c)
        c.device = .softBoundsDefault
        c.training.epochs = 3
        try c.validate()
        let reference = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        let rows = try (1...3).map { try reference.runEpoch($0) }
        let digest = try reference.weightsDigest()
        let folder = try temporaryFolder("ckpt-aihwkit")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        var done = try (1...2).map { try first.runEpoch($0) }
        #expect(try first.runEpoch(3, progress: nil, afterStep: { steps, _ in steps == 2 }) == nil)
        let path = try Checkpoint.write(first, runFolder: folder, metrics: done)
        let second = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        done = try Checkpoint.restore(second, from: path)
        done.append(try #require(try second.runEpoch(3, progress: nil, afterStep: nil)))
        #expect(reproducible(done) == reproducible(rows), "\(Self.cases[index].0)")
        #expect(try second.weightsDigest() == digest, "\(Self.cases[index].0)")
    }
}
