import AIMCCore
import Foundation

/// The text the coordinator prints.
public enum Report {
    static func g(_ v: Double) -> String { String(format: "%g", v) }
    /// Three significant digits.
    static func g3(_ v: Double) -> String { String(format: "%.3g", v) }

    public static func algorithm(_ c: ExperimentConfig) -> String {
        let a = c.algorithm
        var mode: String
        switch (a.updateMode, a.perSample) {
        case (.pulsed, true): mode = "pulsed updates per sample (BL <= \(c.update.desiredBL))"
        case (.pulsed, false): mode = "pulsed updates per mini-batch (binomial counts, BL \(c.update.desiredBL))"
        case (.expected, true): mode = "expected updates (Eq. 2) per sample"
        case (.expected, false): mode = "expected updates (Eq. 2) per mini-batch"
        }
        if a.updateMode == .expected && a.expectedNoise { mode += " with Lemma 1 noise" }
        if a.zeroShift != .none {
            let roles = a.type.roles(a)
            mode += ", \(roles.isEmpty ? "W" : roles[a.type.gradientArray(a)].label) zero-shifted (\(a.zeroShift.rawValue)\(a.zeroShift == .pulsed ? ", \(a.zeroShiftPulses) pulses" : ""))"
        }
        return "\(a.type.title): " + a.type.describe(c, update: mode)
    }

    static func columns(_ a: AlgorithmConfig) -> String { a.transferColumns == 1 ? "one column" : "\(a.transferColumns) columns" }

    public static func device(_ d: DeviceConfig) -> String {
        var s = "\(d.family.rawValue): dw_min \(g(d.effectiveDwMin)), w in [\(g(d.wMin)), \(g(d.wMax))]"
        switch d.family {
        case .power, .exponential: s += ", gamma \(g(d.gamma))"
        case .linearStep: s += ", gamma_up \(g(d.gammaUp)), gamma_down \(g(d.gammaDown))"
        case .powStep: s += ", pow_gamma \(g(d.powGamma))"
        case .expStep: s += ", A_up \(g(d.aUp)) A_down \(g(d.aDown)) gamma_up \(g(d.gammaUp)) gamma_down \(g(d.gammaDown)) a \(g(d.expA)) b \(g(d.expB))"
        case .piecewise:
            let rows = (try? d.piecewiseTableContent())?.w.count ?? 0
            s += d.piecewiseTable.isEmpty ? ", table of \(rows) points" : ", table of \(rows) points from \(d.piecewiseTable)"
        default: break
        }
        if d.asymmetry != 0 { s += ", c \(g(d.asymmetry))" }
        if d.upDown != 0 { s += ", up_down \(g(d.upDown))" }
        switch DeviceModel(validated: d).nominalSymmetricPoint {
        case .point(let w): s += " (symmetric point \(g(Double(w))))"
        case .everywhere: s += " (symmetric everywhere)"
        case .none: s += " (no symmetric point in range)"
        }
        s += ", \(g(d.stateCount)) states, c2c \(g(d.dwMinStd)) (\(d.c2cMode.rawValue))"
        var spreads = [String]()
        for (v, k) in [(d.dwMinDtod, "dw_min"), (d.wMaxDtod, "w_max"), (d.wMinDtod, "w_min"), (d.asymmetryDtod, "c"),
                       (d.upDownDtod, "up_down"), (d.gammaDtod, "gamma"), (d.symmetricPointDtod, "symmetric point")] where v > 0 {
            spreads.append("\(k) \(g(v))")
        }
        s += spreads.isEmpty ? ", no d2d" : ", d2d " + spreads.joined(separator: " ")
        var t2t = [String]()
        for (v, k) in [(d.t2tDwMin, "dw_min"), (d.t2tSymmetricPoint, "symmetric point"), (d.t2tRange, "range")] where v > 0 {
            t2t.append("\(k) \(g(v))")
        }
        if !t2t.isEmpty { s += ", t2t " + t2t.joined(separator: " ") }
        // Device effects (aihwkit's names), only those on.
        var effects = [String]()
        if d.writeNoiseStd > 0 { effects.append("write noise \(g(d.writeNoiseStd)) dw_min" + (d.applyWriteNoiseOnSet ? "" : " (not on set)")) }
        if d.lifetime > 0 {
            effects.append("lifetime \(g(d.lifetime))" + (d.lifetimeDtod > 0 ? " (d2d \(g(d.lifetimeDtod)))" : "")
                           + " to reset \(g(d.reset))" + (d.resetDtod > 0 ? " (d2d \(g(d.resetDtod)))" : ""))
        }
        if d.diffusion > 0 { effects.append("diffusion \(g(d.diffusion))" + (d.diffusionDtod > 0 ? " (d2d \(g(d.diffusionDtod)))" : "")) }
        if d.corruptDevicesProb > 0 { effects.append("corrupt \(g(d.corruptDevicesProb)) in +-\(g(d.corruptDevicesRange))") }
        if !effects.isEmpty { s += ", " + effects.joined(separator: ", ") }
        return s
    }

    public static func periphery(_ io: IOConfig) -> String {
        if io.isPerfect { return "ideal (exact products)" }
        func bits(_ r: Double) -> String { r > 0 ? "\(Int((log2(1 / r + 2)).rounded())) bit" : "unquantised" }
        return "DAC \(bits(io.inpRes)), ADC \(bits(io.outRes)) (bound \(g(io.outBound))), output noise \(g(io.outNoise)), "
            + "noise mgmt \(io.noiseManagement.rawValue), bound mgmt \(io.boundManagement.rawValue)"
    }

    public static func header(config c: ExperimentConfig, layout: NetworkLayout, placement: Placement,
                              train: Dataset, test: Dataset, dataName: String) -> [String] {
        var lines = [String]()
        lines.append("aimc-dist: \(layout.isFullyConnected ? "FCN" : "network") \(layout.description) (\(c.model.activation.rawValue)) on \(dataName), \(train.count) training / \(c.training.testLimit > 0 ? min(c.training.testLimit, test.count) : test.count) test samples")
        lines.append("  algorithm  " + algorithm(c))
        if c.algorithm.arrayCount > 0 {
            lines.append("  device     " + device(c.device))
            lines.append("  periphery  forward: " + periphery(c.forward))
            lines.append("             backward: " + periphery(c.backward) + "; transfer read: " + periphery(c.transfer))
        }
        let grids = layout.layers.map { "\($0.rowBlocks)x\($0.colBlocks)" }.joined(separator: ", ")
        let arrays = c.algorithm.arrayCount
        let roles = c.algorithm.type.roles(c.algorithm).map(\.label).joined(separator: ", ")
        lines.append("  blocks     \(layout.blocks.count) weight blocks of at most \(c.model.tileSize)x\(c.model.tileSize) (grids per layer: \(grids)); "
            + (arrays == 0 ? "\(layout.deviceCount) digital weights"
                : "\(arrays) tile(s) each (\(roles)): \(layout.blocks.count * arrays) tiles, \(layout.deviceCount) weights, \(layout.deviceCount * arrays) devices"))
        let perRank = (0..<placement.ranks).map { placement.blocks(of: $0).count }
        let idle = perRank.indices.filter { perRank[$0] == 0 }
        let world = c.replicas > 1 ? "\(placement.ranks * c.replicas) = \(c.replicas) replicas x \(placement.ranks)" : "\(placement.ranks)"
        lines.append("  ranks      \(world) (\(c.placement.rawValue) placement); blocks per rank: \(perRank.map(String.init).joined(separator: " "))"
            + (idle.isEmpty ? "" : "; ranks without a block: \(idle.map(String.init).joined(separator: " ")) (they relay activations only)")
            + "; matrix kernels: \(Linear.build.rawValue) (same results with either build)")
        lines.append("  training   \(c.training.epochs) epoch(s), batch \(c.training.batchSize), seed \(c.seed)"
            + (c.deviceSeed == .followsSeed || c.algorithm.arrayCount == 0 ? "" : ", device seed \(c.chipSeed) (device-to-device and tile-to-tile draws)"))
        return lines
    }

    public static func epochLine(_ m: EpochMetrics, epochs: Int) -> String {
        String(format: "epoch %d/%d  train loss %.4f  train acc %.2f%%  test loss %.4f  test accuracy %.2f%%  %.1f s",
               m.epoch, epochs, m.trainLoss, 100 * m.trainAccuracy, m.testLoss, 100 * m.testAccuracy, m.seconds)
    }
}
