import AIMCCore
import AIMCTraining
import Foundation
import Testing

/// One block of `rows` x `cols` in expected mode with an ideal periphery on a noise-free device of asymmetry c.
func handBlock(_ algorithm: Algorithm, rows: Int = 2, cols: Int = 3, c: Double = 0.1,
               _ body: (inout ExperimentConfig) -> Void = { _ in }) -> (WeightBlock, DeviceModel) {
    var config = ExperimentConfig.default
    config.algorithm.name = algorithm
    config.algorithm.updateMode = .expected
    config.algorithm.lr = 0.5
    config.algorithm.transferLR = 0.25
    config.algorithm.gamma = 0.4
    config.device = DeviceConfig()
    config.device.asymmetry = c
    config.forward = .perfect; config.backward = .perfect; config.transfer = .perfect
    body(&config)
    let info = BlockInfo(index: 0, layer: 0, rowBlock: 0, colBlock: 0, rowStart: 0, rows: rows, colStart: 0, cols: cols)
    let model = DeviceModel(validated: config.device)
    return (WeightBlock(info: info, config: config, model: model, initialWeights: [Float](repeating: 0, count: rows * cols)), model)
}

/// Eq. 2 on a nominal device: w + dW q_+(w) (dW > 0), w + dW q_-(w) (dW < 0).
func eq2(_ m: DeviceModel, _ w: Double, _ dW: Double) -> Double { dW > 0 ? w + dW * m.qPlus(w) : w + dW * m.qMinus(w) }

/// n noise-free pulses of one sign from w on the nominal device, by the closed form of the generalized linear
/// response (up: tau - (tau - w)(1 - (1+c) dw/tau)^n; down mirrored).
func pulses(_ w: Double, _ n: Int, up: Bool, c: Double, dw: Double = 1e-3, tau: Double = 0.6) -> Double {
    up ? tau - (tau - w) * pow(1 - (1 + c) * dw / tau, Double(n)) : -tau + (w + tau) * pow(1 - (1 - c) * dw / tau, Double(n))
}

@Suite("Algorithms by hand")
struct AlgorithmTests {
    @Test("Tiki-Taka v2: H accumulates beta times the read column; whole pulses (<= BL) move into W")
    func tikiTakaV2() throws {
        let (b, _) = handBlock(.tikiTakaV2)
        let p: [Float] = [0.0105, -0.0031, 0.2, 0.0, 0.0442, -0.5]  // P, row-major 2 x 3
        b.arrays[1].setWeights(p)
        b.transfer(after: 0)  // column 0
        let h = try #require(b.digitalArray("H"))
        // H = 0.25 p: column 0 holds 0.002625 -> 2 pulses up, rest 0.000625; 0 -> nothing.
        #expect(abs(Double(b.arrays[0].weights[0]) - pulses(0, 2, up: true, c: 0.1)) < 1e-7)
        #expect(abs(h[0] - (0.25 * 0.0105 - 0.002)) < 1e-7)
        #expect(b.arrays[0].weights[3] == 0 && h[3] == 0)
        b.transfer(after: 1)  // column 1: -0.000775 and 0.01105 -> 0 pulses and 11 pulses
        #expect(b.arrays[0].weights[1] == 0 && abs(h[1] + 0.000775) < 1e-7)
        #expect(abs(Double(b.arrays[0].weights[4]) - pulses(0, 11, up: true, c: 0.1)) < 1e-7)
        b.transfer(after: 2)  // column 2: 0.05 -> 50 capped at BL 31; -0.125 -> 31 down
        #expect(abs(Double(b.arrays[0].weights[2]) - pulses(0, 31, up: true, c: 0.1)) < 1e-7)
        #expect(abs(Double(b.arrays[0].weights[5]) - pulses(0, 31, up: false, c: 0.1)) < 1e-7)
        #expect(abs(h[2] - (0.05 - 0.031)) < 1e-6)
        // Tiki-Taka v2 reads W alone.
        for i in 0..<6 { #expect(b.effective[i] == b.arrays[0].weights[i]) }
    }

    @Test("Residual Learning v2: H <- (1 - beta) H + beta read; one pulse of sign(H) when |H| >= dw_min")
    func residualV2() throws {
        let (b, _) = handBlock(.residualV2, rows: 1, cols: 1)
        b.arrays[1].setWeights([0.006])
        let h = try #require(b.digitalArray("H"))
        var expectedH: Float = 0
        var pulsesFired = 0
        for step in 0..<6 {
            b.transfer(after: Int64(step))
            expectedH = 0.75 * expectedH + 0.25 * 0.006
            if abs(expectedH) >= 1e-3 { expectedH -= 1e-3; pulsesFired += 1 }
            #expect(abs(h[0] - expectedH) < 1e-7, "step \(step)")
        }
        #expect(pulsesFired >= 1)
        #expect(abs(Double(b.arrays[0].weights[0]) - pulses(0, pulsesFired, up: true, c: 0.1)) < 1e-7)
        #expect(abs(Double(b.effective[0]) - (Double(b.arrays[0].weights[0]) + 0.4 * 0.006)) < 1e-6)
    }

    @Test("Multi-tile: composite sum gamma^n W(n), gradient on W(N), nested transfer periods and rates")
    func multiTile() throws {
        let (b, m) = handBlock(.multiTileResidual, rows: 1, cols: 2) {
            $0.algorithm[MultiTileResidual.tiles] = 3
            $0.algorithm[MultiTileResidual.transferEveryGrowth] = 2
            $0.algorithm[MultiTileResidual.transferLRGrowth] = 1.2
        }
        #expect(b.arrays.count == 3 && b.coefficients == [1, 0.4, Float(0.4 * 0.4)])
        let cycle = try #require(b.algorithm as? MultiTileResidual).cycle
        #expect(cycle.periods == [0, 2, 1] && abs(cycle.rates[1] - 0.25) < 1e-7 && abs(cycle.rates[2] - 0.3) < 1e-7)
        let x: [Float] = [1, -1], d: [Float] = [0.1]
        b.gradientUpdate(input: x, inputStride: 2, delta: d, deltaStride: 1, batch: 1, step: 0)
        let w2 = [eq2(m, 0, -0.05), eq2(m, 0, 0.05)]
        #expect(abs(Double(b.arrays[2].weights[0]) - w2[0]) < 1e-7 && b.arrays[1].weights[0] == 0 && b.arrays[0].weights[0] == 0)
        b.transfer(after: 0)  // step 1: source 2 (period 1) moves column 0 into W(1); source 1 (period 2) waits
        let w1 = eq2(m, 0, 0.3 * w2[0])
        #expect(abs(Double(b.arrays[1].weights[0]) - w1) < 1e-7 && b.arrays[0].weights[0] == 0)
        b.transfer(after: 1)  // step 2: source 2 moves column 1; source 1 moves its column 0 into W(0)
        #expect(abs(Double(b.arrays[1].weights[1]) - eq2(m, 0, 0.3 * w2[1])) < 1e-7)
        #expect(abs(Double(b.arrays[0].weights[0]) - eq2(m, 0, 0.25 * w1)) < 1e-7)
        let composite = Double(b.arrays[0].weights[0]) + 0.4 * Double(b.arrays[1].weights[0]) + 0.16 * Double(b.arrays[2].weights[0])
        #expect(abs(Double(b.effective[0]) - composite) < 1e-7)
    }

    @Test("Multi-tile: explicit per-tile periods and rates, gradient tile first, replace the geometric rules")
    func perTileSchedule() throws {
        let (b, _) = handBlock(.multiTileResidual, rows: 1, cols: 1) {
            $0.algorithm[MultiTileResidual.tiles] = 4
            $0.algorithm[MultiTileResidual.transferEveryPerTile] = [2, 10, 50]
            $0.algorithm[MultiTileResidual.transferLRPerTile] = [0.3, 0.2, 0.1]
        }
        let cycle = try #require(b.algorithm as? MultiTileResidual).cycle
        #expect(cycle.periods == [0, 50, 10, 2])
        #expect(cycle.rates == [0, 0.1, 0.2, 0.3])
        var bad = ExperimentConfig.default
        bad.algorithm.name = .multiTileResidual
        bad.algorithm[MultiTileResidual.tiles] = 3
        bad.algorithm[MultiTileResidual.transferEveryPerTile] = [1, 2, 3]
        #expect(throws: ConfigError.self) { try bad.validate() }
    }

    /// Schedules that overflow an integer step count or a Float rate, and a Residual Learning v2 averaging weight above
    /// 1 (H would grow without bound), are configuration errors naming the option, in training and least squares.
    @Test("Transfer schedules out of range are errors naming the option, before any block is built")
    func scheduleLimits() throws {
        func message(_ body: (inout ExperimentConfig) -> Void) -> String? {
            var c = ExperimentConfig.default
            body(&c)
            do { try c.validate(); return nil } catch { return error.description }
        }
        #expect(message { $0.algorithm.transferEvery = Int.max }?.contains("--transfer-every") == true)
        #expect(message { $0.algorithm.transferEvery = 1_000_000_000_000 } == nil)
        let grown = message { $0.algorithm.name = .multiTileResidual; $0.algorithm[MultiTileResidual.tiles] = 12; $0.algorithm[MultiTileResidual.transferEveryGrowth] = 100 }
        #expect(grown?.contains("--transfer-every-growth") == true)
        let small = message { $0.algorithm.name = .multiTileResidual; $0.algorithm[MultiTileResidual.tiles] = 12; $0.algorithm[MultiTileResidual.transferLRGrowth] = 1e-4 }
        #expect(small?.contains("--transfer-lr-growth") == true)
        #expect(message { $0.algorithm.name = .residualV2; $0.algorithm.transferLR = 3 }?.contains("(0, 1]") == true)
        #expect(message { $0.algorithm.name = .residualV2; $0.algorithm.transferLR = 1 } == nil)
        #expect(message { $0.algorithm.name = .tikiTakaV2; $0.algorithm.transferLR = 3 } == nil)
        var lsq = LeastSquaresConfig()
        lsq.algorithms = [.residual, .residualV2]
        lsq.base.algorithm.transferLR = 3
        #expect(throws: ConfigError.self) { try lsq.validate() }
        lsq.algorithms = [.residual, .multiTileResidual]
        lsq.base.algorithm.transferLR = 0.1
        lsq.tiles = [3, 12]
        lsq.base.algorithm[MultiTileResidual.transferEveryGrowth] = 100
        #expect(throws: ConfigError.self) { try lsq.validate() }
        lsq.tiles = [3]
        try lsq.validate()
    }

    @Test("Multi-tile warm start fills W(0) first from the gradient tile, then moves on")
    func warmStart() throws {
        let (b, _) = handBlock(.multiTileResidual, rows: 1, cols: 1) { $0.algorithm[MultiTileResidual.tiles] = 3; $0.algorithm[MultiTileResidual.warmStart] = true }
        let mt = try #require(b.algorithm as? MultiTileResidual)
        b.arrays[2].setWeights([0.1])
        b.transfer(after: 0)
        #expect(mt.warmTarget == 0 && b.arrays[0].weights[0] > 0 && b.arrays[1].weights[0] == 0)
        mt.advanceWarmStart()
        b.transfer(after: 1)
        #expect(mt.warmTarget == 1 && b.arrays[1].weights[0] > 0)
        mt.advanceWarmStart()
        #expect(mt.warmTarget == 2)  // the cascade
    }

    @Test("RIDER: reads W + gamma (P - Q); Q <- (1 - eta) Q + eta P; W += beta (P - Q_old)")
    func rider() throws {
        let (b, m) = handBlock(.rider, rows: 1, cols: 1) { $0.algorithm[RIDER.eta] = 0.5 }
        b.arrays[1].setWeights([0.2])
        let q = try #require(b.digitalArray("Q"))
        b.transfer(after: 0)
        let w = eq2(m, 0, 0.25 * 0.2)  // Q_old = 0
        #expect(abs(Double(b.arrays[0].weights[0]) - w) < 1e-7 && abs(q[0] - 0.1) < 1e-7)
        #expect(abs(Double(b.effective[0]) - (w + 0.4 * (0.2 - 0.1))) < 1e-6)
        b.transfer(after: 1)
        #expect(abs(Double(b.arrays[0].weights[0]) - eq2(m, w, 0.25 * (0.2 - 0.1))) < 1e-7 && abs(q[0] - 0.15) < 1e-7)
    }

    /// The paper's claim on a strongly convex problem (D 10, N 40, full batch, pulsed updates on c = 0.3):
    /// Residual Learning with zero-shifted P reaches the granularity floor (dw_min 1e-4 on weights of size 0.5:
    /// relative error ~1e-5; bound 1e-3); pulsed Analog SGD stays biased (relative error above 0.05), while with exact
    /// noise-free gradients (expected mode) it converges: the bias needs gradient noise.
    @Test("Least squares: zero-shifted Residual Learning converges; Analog SGD with c > 0 is biased")
    func leastSquares() throws {
        var c = LeastSquaresConfig()
        c.inputs = 10
        c.samples = 40
        c.steps = 3000
        c.base.algorithm.transferColumns = 10
        let p = LeastSquares.problem(c)
        let rl = try LeastSquares.run(c, problem: p, algorithm: .residual, asymmetry: 0.3, zeroShift: .ideal)
        let asgd = try LeastSquares.run(c, problem: p, algorithm: .analogSGD, asymmetry: 0.3, zeroShift: .none)
        #expect(rl.finalError < 1e-3, "RL \(rl.finalError)")
        #expect(asgd.finalError > 0.05, "ASGD \(asgd.finalError)")
        let asgdExpected = try LeastSquares.run({ var e = c; e.base.algorithm.updateMode = .expected; return e }(), problem: p,
                                            algorithm: .analogSGD, asymmetry: 0.3, zeroShift: .none)
        #expect(asgdExpected.finalError < 1e-6, "exact, noise-free gradients: Analog SGD converges (\(asgdExpected.finalError))")
    }
}

@Suite("Algorithm protocol and registry")
struct AlgorithmProtocolTests {
    @Test("Every registered algorithm is consistent: names, arrays, coefficients, keys")
    func registry() {
        #expect(Set(AlgorithmRegistry.all.map { $0.name }).count == AlgorithmRegistry.all.count)
        for t in AlgorithmRegistry.all {
            let a = Algorithm(rawValue: t.name)
            #expect(a.map { ObjectIdentifier($0.type) } == ObjectIdentifier(t), "\(t.name)")
            var c = AlgorithmConfig()
            c.name = a!
            let roles = t.roles(c)
            #expect(t.reads.isSubset(of: AlgorithmConfig.SharedKeys.all), "\(t.name) reads an unknown shared key")
            #expect(t.coefficients(c).count == roles.count, "\(t.name)")
            if roles.isEmpty {
                #expect(t.digitalFloatsPerWeight(c) >= 1 && !t.transfers, "\(t.name): a digital algorithm keeps its weights")
                continue
            }
            #expect(roles[0] == .main && t.coefficients(c)[0] == 1, "\(t.name): W(0) is W, read with coefficient 1")
            #expect(t.gradientArray(c) >= 0 && t.gradientArray(c) < roles.count)
            #expect(t.transfers == (roles.count > 1), "\(t.name): more than one array means transfers")
            #expect(t.reads.isSuperset(of: AlgorithmConfig.SharedKeys.analog), "\(t.name)")
        }
        #expect(Algorithm(rawValue: "bogus") == nil)
        // Every parameter key appears once in the schema, under its first owner's definition.
        let keys = AlgorithmRegistry.parameters.map(\.key)
        #expect(Set(keys).count == keys.count)
    }

    @Test("Algorithm parameters: defaults, typed access, equality and a JSON round trip")
    func parameters() throws {
        var c = ExperimentConfig.default
        #expect(c.algorithm[RIDER.eta] == 0.1 && c.algorithm[MultiTileResidual.tiles] == 3)
        c.algorithm[RIDER.eta] = 0.1  // the default: equal to an untouched configuration
        #expect(c == ExperimentConfig.default)
        c.algorithm[RIDER.eta] = 0.25
        c.algorithm[MultiTileResidual.transferEveryPerTile] = [2, 7]
        c.algorithm[MultiTileResidual.warmStart] = true
        #expect(c != ExperimentConfig.default)
        let back = try JSONDecoder().decode(ExperimentConfig.self, from: ConfigLoader.json(c))
        #expect(back == c && back.algorithm[RIDER.eta] == 0.25 && back.algorithm[MultiTileResidual.transferEveryPerTile] == [2, 7])
        // The schema holds every algorithm's keys, so a file or a sweep may set any of them.
        let table = try ConfigLoader.encodedTable(.default)["algorithm"] as? [String: Any]
        for p in AlgorithmRegistry.parameters { #expect(table?[p.key] != nil, "\(p.key)") }
        // Each parameter's own rule, named by key and option.
        c.algorithm[RIDER.eta] = 2
        #expect(throws: ConfigError(key: "algorithm.rider_eta", option: "--rider-eta", message: "must lie in [1e-30, 1]; got 2")) { try c.validate() }
    }

    @Test("Keys an algorithm does not read are named with the reason")
    func ineffective() {
        var c = ExperimentConfig.default
        c.algorithm.name = .residual
        #expect(c.ineffective("algorithm.rider_eta") == "only rider, e-rider read it")
        #expect(c.ineffective("algorithm.tiles") == "only multi-tile-residual reads it")
        #expect(c.ineffective("algorithm.gamma") == nil && c.ineffective("algorithm.transfer_lr") == nil)
        c.algorithm.name = .tikiTaka
        #expect(c.ineffective("algorithm.gamma") == "tiki-taka reads W alone")
        c.algorithm.name = .analogSGD
        #expect(c.ineffective("algorithm.transfer_every") == "analog-sgd has no transfers")
        #expect(c.ineffective("transfer.out_noise") == "analog-sgd has no transfers")
        c.algorithm.name = .digitalSGD
        #expect(c.ineffective("algorithm.zero_shift") == "digital-sgd has no analog arrays")
        #expect(c.ineffective("device.dw_min") == "digital-sgd has no devices or periphery")
        c.algorithm.name = .multiTileResidual
        c.algorithm[MultiTileResidual.transferEveryPerTile] = [1, 4]
        #expect(c.ineffective("algorithm.transfer_every_growth") == "the per-tile periods replace the growth rule")
        #expect(c.ineffective("algorithm.transfer_lr_growth") == nil)
        c.algorithm.name = .tikiTakaV2
        c.algorithm.updateMode = .expected
        #expect(c.ineffective("update.desired_bl") == nil, "BL caps TT-v2's threshold transfers in every mode")
    }

    @Test("Algorithm state: counters round-trip through scalars; wrong state is refused", arguments: [Algorithm.tikiTaka, .tikiTakaV2, .residual, .residualV2, .multiTileResidual, .rider])
    func state(algorithm: Algorithm) throws {
        let (b, _) = handBlock(algorithm, rows: 2, cols: 3) { $0.algorithm[MultiTileResidual.warmStart] = true }
        b.arrays[b.gradientArray].setWeights([0.01, -0.02, 0.03, 0.0, 0.05, -0.06])
        for step in 0..<4 { b.transfer(after: Int64(step)) }
        b.epochEnded(trainLoss: 1)
        b.epochEnded(trainLoss: 2)
        let saved = b.algorithm.scalars
        #expect(saved["columns"]?.integers?.contains { $0 != 0 } == true, "the column pointers moved")
        let (fresh, _) = handBlock(algorithm, rows: 2, cols: 3) { $0.algorithm[MultiTileResidual.warmStart] = true }
        try fresh.algorithm.restore(scalars: saved)
        #expect(fresh.algorithm.scalars == saved)
        #expect(throws: StateError.self) { try fresh.algorithm.restore(scalars: [:]) }
        var bad = saved
        bad["columns"] = .integers([0, 99])
        #expect(throws: StateError.self) { try fresh.algorithm.restore(scalars: bad) }
    }

    @Test("train --set: any key, one value each, checked like a file's keys")
    func assignments() throws {
        let c = try Sweep.assign(["algorithm.rider_eta=0.2", "model.hidden=64x32", "algorithm.name=rider"], in: .default)
        #expect(c.algorithm[RIDER.eta] == 0.2 && c.model.hidden == [64, 32] && c.algorithm.name == .rider)
        #expect(throws: ConfigError.self) { _ = try Sweep.assign(["algorithm.rider_eta=0.2,0.3"], in: .default) }
        #expect(throws: ConfigError.self) { _ = try Sweep.assign(["algorithm.rider_eta=0.2", "algorithm.rider_eta=0.3"], in: .default) }
        #expect(throws: ConfigError.self) { _ = try Sweep.assign(["algorithm.bogus=1"], in: .default) }
        #expect(throws: ConfigError.self) { _ = try Sweep.assign(["algorithm.tiles=2.5"], in: .default) }
    }
}
