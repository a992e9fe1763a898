import AIMCCore
import Foundation

/// What `aimc-dist device` prints and writes: the nominal device's q_+, q_-, F, G, M at five states, its symmetric
/// point and number of states, and the classic pulse response (N up pulses, then N down pulses from w0), fired one
/// at a time through the simulator's own pulsed update.
public enum DeviceInspection {
    /// The summary lines: the device, its states, its symmetric point, and q_+, q_-, F, G, M at w_min, w_min/2, 0,
    /// w_max/2 and w_max. `d` must be valid and `model` built from it.
    public static func summary(_ d: DeviceConfig, model: DeviceModel) -> [String] {
        var lines = ["device     " + Report.device(d)]
        lines.append(String(format: "states     %.1f  (dw_min %g over [%g, %g])", d.stateCount, d.effectiveDwMin, d.wMin, d.wMax))
        switch model.nominalSymmetricPoint {
        case .point(let w):
            lines.append("symmetric  w_sym = \(w) (G(w_sym) = 0" + (d.family == .piecewise || d.family == .piecewiseStep ? ", reached from w = 0)" : ")"))
            // A piecewise response can have several stable zeros of G; alternating pulses find the one whose basin
            // holds the start. Starts spread over the range (between grid points, so not on an unstable zero) find
            // the others.
            if d.family == .piecewise || d.family == .piecewiseStep {
                let cell = model.nominalCell
                var others = [Float]()
                for k in 0..<200 {
                    let start = Float(d.wMin + (d.wMax - d.wMin) * (Double(k) + 0.5) / 200)
                    if let v = model.symmetricPoint(cell, from: start).value, abs(v - w) > 1e-6,
                       !others.contains(where: { abs($0 - v) <= 1e-6 }) { others.append(v) }
                }
                if !others.isEmpty {
                    // Points from neighbouring starts that lie within a grid step of each other form a stretch where
                    // G = 0: shown as an interval.
                    let step = Float(d.wMax - d.wMin) / 200 * 1.01
                    var groups = [[Float]]()
                    for v in others.sorted() {
                        if let last = groups.last?.last, v - last <= step { groups[groups.count - 1].append(v) } else { groups.append([v]) }
                    }
                    lines.append("           other stable points, reached from other starts: " + groups.map { g in
                        g.count == 1 ? String(format: "%g", g[0]) : String(format: "[%g, %g] (G = 0 there)", g[0], g[g.count - 1])
                    }.joined(separator: ", "))
                }
            }
        case .everywhere: lines.append("symmetric  q_+ = q_- everywhere: every state is symmetric")
        case .none: lines.append("symmetric  none in [w_min, w_max]: G keeps its sign, alternating pulses drift to a bound")
        }
        lines.append("")
        lines.append("         w      q_+(w)      q_-(w)        F(w)        G(w)      M(w)")
        // Fixed point, or %g for the large values of steep responses (q is capped at 1e22).
        func column(_ v: Double, _ width: Int, _ digits: Int) -> String {
            abs(v) < 1e5 ? String(format: "%\(width).\(digits)f", v) : String(format: "%\(width).4g", v)
        }
        for w in [d.wMin, d.wMin / 2, 0, d.wMax / 2, d.wMax] {
            lines.append(String(format: "%10.5g", w) + "  " + [model.qPlus(w), model.qMinus(w), model.symmetricPart(w),
                                                                model.asymmetricPart(w)].map { column($0, 10, 6) }.joined(separator: "  ")
                + "  " + column(model.saturation(w), 8, 5))
        }
        return lines
    }

    /// The pulse-response line: the states after N up pulses and after N more down pulses, without and with
    /// cycle-to-cycle noise (`ideal` and `noisy` from `pulseResponse`, 2N + 1 states each).
    public static func pulseLine(ideal: [Double], noisy: [Double], pulses: Int, from w0: Double) -> String {
        String(format: "pulse response from w0 = %g: after %d up pulses %.6g (c2c: %.6g), after %d down %.6g (c2c: %.6g)",
               w0, pulses, ideal[pulses], noisy[pulses], pulses, ideal[2 * pulses], noisy[2 * pulses])
    }

    /// response.csv: w, q_plus, q_minus, F, G, M at `points` (>= 2) states evenly spaced from w_min to w_max.
    public static func responseCSV(_ d: DeviceConfig, model: DeviceModel, points: Int) -> String {
        var csv = "w,q_plus,q_minus,F,G,M\n"
        for k in 0..<points {
            let w = d.wMin + (d.wMax - d.wMin) * Double(k) / Double(points - 1)
            csv += "\(Float(w)),\(model.qPlus(w)),\(model.qMinus(w)),\(model.symmetricPart(w)),\(model.asymmetricPart(w)),\(model.saturation(w))\n"
        }
        return csv
    }

    /// pulse_response.csv: pulse, w_ideal, w_c2c.
    public static func pulseCSV(ideal: [Double], noisy: [Double]) -> String {
        var csv = "pulse,w_ideal,w_c2c\n"
        for k in 0..<ideal.count { csv += "\(k),\(ideal[k]),\(noisy[k])\n" }
        return csv
    }

    /// States after 0...2N pulses (N = `pulses` up, then N down) of the nominal device of `base` (every spread
    /// removed) from `w0`, fired one at a time through the simulator's own pulsed update (x = 1, d = -+1, one
    /// slot, both trains certain); with cycle-to-cycle noise keyed by `seed` when `noisy`.
    public static func pulseResponse(_ base: DeviceConfig, pulses: Int, noisy: Bool, from w0: Double, seed: UInt64) -> [Double] {
        var d = base
        d.dwMinDtod = 0; d.wMaxDtod = 0; d.wMinDtod = 0; d.asymmetryDtod = 0; d.upDownDtod = 0; d.gammaDtod = 0
        d.symmetricPointDtod = 0; d.t2tDwMin = 0; d.t2tRange = 0; d.t2tSymmetricPoint = 0; d.powUpDownDtod = 0
        if !noisy { d.dwMinStd = 0 }
        let array = AnalogArray(rows: 1, cols: 1, device: d, key: StreamKey(seed: seed, purpose: .deviceToDevice))
        array.setWeights([Float(w0)])
        var update = UpdateConfig()
        update.desiredBL = 1
        update.updateBLManagement = false
        update.updateManagement = false
        var out = [Double(array.weights[0])]
        var x: Float = 1
        for k in 0..<(2 * pulses) {
            var dv: Float = k < pulses ? -1 : 1
            var trains = RandomStream(key: StreamKey(seed: seed, purpose: .pulseTrains), step: UInt64(k), sub: 0)
            var noise = RandomStream(key: StreamKey(seed: seed, purpose: .cycleToCycle), step: UInt64(k), sub: 0)
            array.pulsedUpdate(x: &x, d: &dv, lr: 4 * Float(d.effectiveDwMin), update: update, trains: &trains, noise: &noise)
            out.append(Double(array.weights[0]))
        }
        return out
    }
}
