import AIMCCore
import AIMCTestSupport
import AIMCTraining
import Foundation
import Testing

/// q_+ and q_- of a nominal device from each family's closed form (paper Eqs. 148-149, aihwkit's step devices,
/// linear interpolation of tables), in Double from the same Float-rounded inputs the simulator uses, with a bound
/// on the error of the simulator's Float evaluation.
///
/// Error bounds: each Float operation adds one rounding (2^-24) of its result. A response takes at most 8
/// operations, so 8 roundings of the largest intermediate; x^gamma multiplies the relative error of x (2 roundings)
/// by gamma; exp(y) turns y's absolute error (4 roundings of its terms) into a relative error. The scale
/// dw_min (1 + c) adds 4 roundings relative to q. Results below Float's normal range keep only an absolute
/// precision (a few times 1.2e-38).
struct ReferenceResponse {
    static let rounding = Double(Float.ulpOfOne) / 2
    static let cap = Double(DeviceCell.largestFactor)
    let d: DeviceConfig
    let bMax: Double, bMin: Double
    let scaleUp: Double, scaleDown: Double
    let table: PiecewiseTable?

    init(_ d: DeviceConfig) {
        self.d = d
        bMax = Double(Float(d.wMax))
        bMin = -Double(abs(Float(d.wMin)))
        // As DeviceModel.cell forms the scales for the nominal device (gain 1, r = 0), in Float.
        let c = min(max(Float(d.asymmetry), -0.95), 0.95), ud = Float(d.upDown)
        let upBias: Float = ud > 0 ? 0 : ud, downBias: Float = ud > 0 ? -ud : 0
        scaleUp = Double(abs(1 * (1 + c) + upBias + 0))
        scaleDown = Double(abs(1 * (1 - c) + downBias - 0))
        table = d.family == .piecewise ? try? d.piecewiseTableContent() : nil
    }

    /// (q, error bound) of the up (`up`) or down step at w, in units of dw_min.
    func q(_ up: Bool, _ w: Double) -> (q: Double, error: Double) {
        let v = Double(Float(w))
        let (f, e) = factor(up, v)
        let s = up ? scaleUp : scaleDown
        // Below Float's normal range (1.2e-38) results keep only an absolute precision: 8 such steps of the factor
        // and of the step (in units of dw_min).
        let underflow = 8 * Double(Float.leastNormalMagnitude) * (s + 1 / Double(Float(d.effectiveDwMin)))
        return (s * f, s * e + 4 * Self.rounding * s * f + underflow)
    }

    func factor(_ up: Bool, _ v: Double) -> (Double, Double) {
        let r = Self.rounding, cap = Self.cap
        switch d.family {
        case .constantStep:
            return (1, 0)
        case .softBounds, .linearStep:
            var n = up ? 1 / bMax : 1 / -bMin
            if d.family == .linearStep { n *= Double(abs(Float(up ? d.gammaUp : d.gammaDown))) }
            let t = up ? -n * v : n * v
            return (max(1 + t, 0), 8 * r * (1 + abs(t)))
        case .power, .powStep:
            let g: Double, base: Double
            if d.family == .power {
                g = Double(abs(Float(d.gamma)))
                base = up ? max(bMax - v, 0) / bMax : max(v - bMin, 0) / -bMin
            } else {
                let pud = Float(d.powUpDown)
                let p: Float = up ? (pud > 0 ? 0 : pud) : (pud > 0 ? -pud : 0)
                g = Double(abs(Float(d.powGamma) * (p + 1 + 0)))
                base = (up ? max(bMax - v, 0) : max(v - bMin, 0)) / (bMax - bMin)
            }
            let f = g == 0 ? 1 : min(pow(base, g), cap)
            return (f, (8 + 4 * g) * r * f)
        case .exponential:
            let g = Double(abs(Float(d.gamma)))
            let u = up ? max(bMax - v, 0) / bMax : max(v - bMin, 0) / -bMin
            let exact = g == 0 ? u : g * u < 700 ? expm1(g * u) / expm1(g) : exp(g * (u - 1)) * expm1(-g * u) / expm1(-g)
            let f = min(exact, cap)
            return (f, (12 + 4 * g * max(u, 1)) * r * f)
        case .expStep:
            let n = Double(2 * Float(d.expA) / Float(bMax - bMin)), b = Double(Float(d.expB))
            let a = Double(Float(up ? d.aUp : d.aDown)), g = Double(Float(up ? d.gammaUp : d.gammaDown))
            if a == 0 { return (1, 0) }
            let x = (up ? g : -g) * (n * v + b)
            let t = x + log(abs(a))
            // t's absolute error: 8 roundings of its terms; A e^x then has relative error of that size.
            let dt = 8 * r * (1 + abs(g) * (abs(n * v) + abs(b)) + abs(log(abs(a))))
            if a > 0 {
                let f = t >= 0 ? 0 : -expm1(t)
                return (f, 8 * r * f + exp(min(t, 0) + dt) * dt)
            }
            let f = min(1 + exp(t), cap)
            return (f, 8 * r * f + exp(min(t, log(cap)) + dt) * dt)
        case .piecewiseStep:
            let nodes = (up ? d.piecewiseUp : d.piecewiseDown).map { Double(Float($0)) }
            let sections = nodes.count - 1
            if sections == 0 { return (nodes[0], 0) }
            let s = max((v - bMin) / (bMax - bMin) * Double(sections), 0)
            let k = min(Int(s), sections - 1)
            let t = min(s - Double(k), 1)
            let f = (1 - t) * nodes[k] + t * nodes[k + 1]
            // The position s carries a few roundings; a neighbouring segment's slope applies across a node.
            let slope = (max(k - 1, 0)...min(k + 1, sections - 1)).map { abs(nodes[$0 + 1] - nodes[$0]) }.max()!
            return (f, 8 * r * (f + max(nodes[k], nodes[k + 1]) + slope * (s + 1)))
        case .piecewise:
            guard let table else { return (.nan, 0) }
            let grid = table.w.map { Double(Float($0)) }
            let values = (up ? table.qPlus : table.qMinus).map { Double(Float($0)) }
            if v <= grid[0] { return (values[0], 0) }
            if v >= grid[grid.count - 1] { return (values[values.count - 1], 0) }
            let hi = grid.firstIndex { $0 > v }!, lo = hi - 1
            let t = (v - grid[lo]) / (grid[hi] - grid[lo])
            let f = values[lo] + t * (values[hi] - values[lo])
            let dq = abs(values[hi] - values[lo])
            return (f, 8 * r * (f + max(values[lo], values[hi]) + dq * (abs(v) + abs(grid[lo]) + abs(grid[hi])) / (grid[hi] - grid[lo])))
        }
    }
}

/// Every family with every parameter at the ends of the interval `DeviceConfig.parameterRanges` validates (just
/// inside an open end) and at the tiny positive values 1e-300, 1e-40, 1e-8 where the interval admits them.
@Suite("Device families at the ends of their parameter ranges")
struct DeviceSweepTests {
    /// A nominal family device without spreads (piecewise: a small table as points; piecewise-step: three nodes).
    static func base(_ family: DeviceConfig.Family) -> DeviceConfig {
        var d = DeviceConfig()
        d.family = family
        switch family {
        case .piecewise:
            d.piecewiseW = [-0.5, 0, 0.5]; d.piecewiseQPlus = [1.5, 1, 0.25]; d.piecewiseQMinus = [0.2, 1, 1.5]
        case .piecewiseStep:
            d.piecewiseUp = [2, 1, 0.5]; d.piecewiseDown = [0.5, 1, 2]
        case .linearStep:
            d.gammaUp = 0.5; d.gammaDown = 0.5
        case .expStep:
            d.gammaUp = 12.44625; d.gammaDown = 12.78785
        case .constantStep, .softBounds, .power, .exponential, .powStep:
            break
        }
        return d
    }

    static func values(_ p: DeviceConfig.ParameterRange) -> [Double] {
        var v = [p.lowerOpen ? p.lower.nextUp : p.lower, p.upperOpen ? p.upper.nextDown : p.upper]
        if p.zeroAllowed { v.append(0) }
        v += [1e-300, 1e-40, 1e-8].filter { p.contains($0) }
        return v
    }

    /// Extra devices per family beyond single parameters: tables and nodes at the extremes they may hold.
    static func extras(_ family: DeviceConfig.Family) -> [DeviceConfig] {
        var out = [DeviceConfig]()
        switch family {
        case .piecewise:
            var d = base(.piecewise)
            d.piecewiseQPlus = [1e22, Double(Float.leastNormalMagnitude), 1]
            out.append(d)
        case .piecewiseStep:
            var d = base(.piecewiseStep)
            d.piecewiseUp = [0, 1e22, 0]; d.piecewiseDown = [Double(Float.leastNormalMagnitude), 1, 1]
            out.append(d)
            d.piecewiseUp = [0, 0]; d.piecewiseDown = [0, 1e22]
            out.append(d)
            d.piecewiseUp = [1e22]; d.piecewiseDown = [1]
            out.append(d)
        default:
            break
        }
        return out
    }

    static let nanOrInf = try! NSRegularExpression(pattern: "(?<![a-z])(nan|inf|infinity)(?![a-z])", options: [.caseInsensitive])

    @Test("q finite and >= 0, the symmetric point right, no nan/inf in `device` output", arguments: DeviceConfig.Family.allCases)
    func sweep(family: DeviceConfig.Family) throws {
        var cases = [(String, DeviceConfig)]()
        let b = Self.base(family)
        try b.validate()
        cases.append(("nominal", b))
        for p in b.parameterRanges {
            for v in Self.values(p) {
                var d = b
                d[keyPath: p.path] = v
                do {
                    try d.validate()
                } catch {
                    // Tiny nonzero values Float cannot hold are refused, naming the key; so are values that break a
                    // cross-parameter rule (dw_min beyond half the range), naming the offending key.
                    let tiny = v != 0 && abs(v) < DeviceConfig.smallestFloatMagnitude
                    #expect(tiny || p.key == "dw_min" || p.key == "n_states", "\(family) \(p.key) = \(v) refused: \(error)")
                    #expect(error.description.contains(p.key), "\(family) \(p.key) = \(v): \(error)")
                    continue
                }
                #expect(v == 0 || abs(v) >= DeviceConfig.smallestFloatMagnitude, "\(family) \(p.key) = \(v) accepted")
                cases.append(("\(p.key) = \(v)", d))
            }
        }
        // Corners: the family's own parameters, the bounds and the asymmetry at their ends together (where
        // overflows meet: a steep response over lopsided bounds), with dw_min a thousandth of the range.
        let common = Set(DeviceConfig().parameterRanges.map(\.key)).subtracting(["w_max", "w_min", "asymmetry"])
        let corner = b.parameterRanges.filter { !common.contains($0.key) }
        var corners = [b]
        for p in corner {
            let ends = Array(Self.values(p).prefix(2))
            corners = corners.flatMap { d in ends.map { v in var e = d; e[keyPath: p.path] = v; return e } }
        }
        for var d in corners {
            d.dwMin = (d.wMax - d.wMin) / 1000
            try d.validate()
            cases.append(("corner " + corner.map { "\($0.key) \(d[keyPath: $0.path])" }.joined(separator: ", "), d))
        }
        for d in Self.extras(family) {
            try d.validate()
            cases.append(("extreme table", d))
        }
        for (label, d) in cases { try check(d, "\(family) \(label)") }
    }

    func check(_ d: DeviceConfig, _ label: String) throws {
        let model = try DeviceModel(d)
        let reference = ReferenceResponse(d)
        let n = 400
        var grid = (0...n).map { d.wMin + (d.wMax - d.wMin) * Double($0) / Double(n) }
        grid += [d.wMin, d.wMin / 2, 0, d.wMax / 2, d.wMax]
        func g(_ w: Double) -> (value: Double, error: Double) {
            let p = reference.q(true, w), m = reference.q(false, w)
            return (m.q - p.q, p.error + m.error)
        }
        var failures = 0
        for w in grid where failures < 3 {
            for up in [true, false] {
                let q = up ? model.qPlus(w) : model.qMinus(w)
                let r = reference.q(up, w)
                let ok = q.isFinite && q >= 0 && abs(q - r.q) <= r.error
                #expect(ok, "\(label): q_\(up ? "+" : "-")(\(w)) = \(q), closed form \(r.q) +- \(r.error)")
                if !ok { failures += 1 }
            }
        }
        // The symmetric point: a zero of the closed-form G within its evaluation error and one Float step.
        let gs = grid.map(g)
        let crosses = gs.contains { $0.value < -$0.error } && gs.contains { $0.value > $0.error }
        switch model.nominalSymmetricPoint {
        case .point(let x):
            let w = Double(x)
            let step = max(abs(g(Double(x.nextUp)).value - g(w).value), abs(g(Double(x.nextDown)).value - g(w).value))
            #expect(x >= Float(d.wMin) && x <= Float(d.wMax) && abs(g(w).value) <= g(w).error + step,
                    "\(label): w_sym \(x) has G = \(g(w).value)")
        case .everywhere:
            #expect(gs.allSatisfy { abs($0.value) <= $0.error }, "\(label): claimed symmetric everywhere")
        case .none where d.family == .piecewise || d.family == .piecewiseStep:
            // The point alternating pulses reach from 0: none means G keeps its sign from 0 in the drift direction.
            let g0 = g(min(max(0, d.wMin), d.wMax)).value
            let ahead = zip(grid, gs).filter { g0 < 0 ? $0.0 > 0 : $0.0 < 0 }.map(\.1)
            #expect(!ahead.contains { g0 < 0 ? $0.value > $0.error : $0.value < -$0.error },
                    "\(label): claimed no symmetric point reached from 0, but G changes sign in the drift direction")
        case .none:
            #expect(!crosses, "\(label): claimed no symmetric point, but G changes sign")
        }

        // Drawn devices (spreads at the values given, tile draws): finite steps >= 0 across their own range.
        var s = RandomStream(key: StreamKey(seed: 11, purpose: .deviceToDevice))
        for k in 0..<32 {
            let xi = (0..<DeviceModel.normalsPerDevice).map { _ in s.nextNormal() }
            let tile = TileDraw(device: d, key: StreamKey(seed: 11, purpose: .tileToTile, UInt64(k), 0))
            let cell = xi.withUnsafeBufferPointer { model.cell($0.baseAddress!, tile: tile) }
            for w in [cell.wMin, cell.wMin / 2, 0, cell.wMax / 2, cell.wMax] {
                let st = model.steps(cell, at: w)
                #expect(st.up.isFinite && st.up >= 0 && st.down.isFinite && st.down >= 0, "\(label): drawn cell \(k) at \(w): \(st)")
            }
            if case .point(let w) = model.symmetricPoint(cell) {
                #expect(w.isFinite && w >= cell.wMin && w <= cell.wMax, "\(label): drawn cell \(k) w_sym \(w)")
            }
        }

        // What `aimc-dist device` prints and writes.
        let ideal = DeviceInspection.pulseResponse(d, pulses: 20, noisy: false, from: d.wMin, seed: 0)
        let noisy = DeviceInspection.pulseResponse(d, pulses: 20, noisy: true, from: d.wMin, seed: 0)
        let text = (DeviceInspection.summary(d, model: model) + [DeviceInspection.pulseLine(ideal: ideal, noisy: noisy, pulses: 20, from: d.wMin)]
            + [DeviceInspection.responseCSV(d, model: model, points: 21), DeviceInspection.pulseCSV(ideal: ideal, noisy: noisy)]).joined(separator: "\n")
        let hit = Self.nanOrInf.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
        #expect(hit == nil, "\(label): `device` output has nan or inf:\n\(text.prefix(2000))")
    }
}

/// The inspector names every stable symmetric point of a non-monotone table (G = 0 at -0.45 and 0.15 going from
/// - to +; see FamilyTests.nonMonotoneTable) and says from where the one it reports is reached.
@Test("The device inspector lists the other stable points of a non-monotone table")
func inspectorStablePoints() throws {
    var d = DeviceConfig()
    d.family = .piecewise
    d.wMax = 0.6; d.wMin = -0.6
    d.piecewiseW = [-0.6, -0.3, 0, 0.3, 0.6]
    d.piecewiseQPlus = [1, 1, 1, 1, 1]
    d.piecewiseQMinus = [0.6, 1.4, 0.6, 1.4, 0.6]
    let lines = DeviceInspection.summary(d, model: try DeviceModel(d))
    #expect(lines.contains { $0.contains("w_sym = 0.15") && $0.contains("reached from w = 0") }, "\(lines)")
    #expect(lines.contains { $0.contains("other stable points") && $0.hasSuffix(": -0.45") }, "\(lines)")
    // A stretch where G = 0 is one interval, not a list of grid points.
    d.piecewiseW = [-0.6, -0.3, -0.1, 0.1, 0.3, 0.6]
    d.piecewiseQPlus = [1, 1, 1, 1, 1, 1]
    d.piecewiseQMinus = [0.6, 1.4, 1, 1, 0.6, 1.4]
    let flat = DeviceInspection.summary(d, model: try DeviceModel(d))
    #expect(flat.contains { $0.contains("other stable points") && $0.contains("(G = 0 there)") && $0.split(separator: ",").count <= 5 }, "\(flat)")
}

@Suite("Devices at their limits in training and in config files")
struct DeviceLimitRunTests {
    /// Devices at the limits that produced NaN or froze: gamma 0 of power, pow-step and exponential, tiny and
    /// largest gamma over lopsided bounds, and an aihwkit ExpStep whose exponent overflows Float.
    static var devices: [(String, (inout DeviceConfig) -> Void)] { [
        ("power gamma 0", { $0.family = .power; $0.gamma = 0 }),
        ("pow-step gamma 0", { $0.family = .powStep; $0.powGamma = 0 }),
        ("exponential gamma 0", { $0.family = .exponential; $0.gamma = 0 }),
        ("exponential gamma 1e-8", { $0.family = .exponential; $0.gamma = 1e-8 }),
        ("power gamma 50, lopsided", { $0.family = .power; $0.gamma = 50; $0.wMax = 0.05; $0.wMin = -1 }),
        ("exponential gamma 50, lopsided", { $0.family = .exponential; $0.gamma = 50; $0.wMax = 0.05; $0.wMin = -1 }),
        ("exp-step overflowing", { $0.family = .expStep; $0.aUp = 0; $0.aDown = -1000; $0.gammaUp = 1000; $0.gammaDown = 1000; $0.expA = 1000; $0.expB = 0 }),
    ] }

    @Test("Training and the least-squares experiment stay finite", arguments: 0..<DeviceLimitRunTests.devices.count)
    func finite(index: Int) throws {
        let (name, change) = Self.devices[index]
        var c = tinyConfig(.residual, tile: 3, mode: .pulsed)
        change(&c.device)  // keeps the default device's c2c and d2d spreads
        try c.validate()
        let data = tinyData(32)
        let t = try Trainer(config: c, comm: SingleProcess(), train: data, test: data)
        let m = try t.runEpoch(1)
        #expect(m.trainLoss.isFinite && m.testLoss.isFinite, "\(name): \(m)")

        var l = LeastSquaresConfig()
        l.inputs = 4
        l.samples = 8
        l.steps = 50
        l.recordEvery = 10
        l.asymmetries = [0, 0.2]
        l.base.algorithm.transferColumns = 4
        change(&l.base.device)
        try l.validate()
        for run in try LeastSquares.runAll(l) {
            #expect(run.curve.allSatisfy { $0.error.isFinite && $0.gap.isFinite }, "\(name): \(run.algorithm) c \(run.asymmetry)")
        }
    }

    @Test("A run's config.json carries its piecewise table: loaded without the file, the device responds identically")
    func piecewiseRoundTrip() throws {
        let dir = IDXWriter.temporaryDirectory("table")
        let table = dir + "/device.csv"
        try "w,q_plus,q_minus\n-0.5,1.5,0.2\n0,1,1\n0.5,0.25,1.5\n".write(toFile: table, atomically: true, encoding: .utf8)
        var c = ExperimentConfig.default
        c.device.family = .piecewise
        c.device.piecewiseTable = table
        let fromFile = try DeviceModel(c.device)
        c.resolve()
        #expect(c.device.piecewiseTable == "" && c.device.piecewiseW == [-0.5, 0, 0.5] && c.device.piecewiseQMinus == [0.2, 1, 1.5])
        try c.validate()
        let json = dir + "/config.json"
        try ConfigLoader.json(c).write(to: URL(fileURLWithPath: json))
        try FileManager.default.removeItem(atPath: table)

        let loaded = try ConfigLoader.load(path: json, over: .default)
        #expect(loaded == c)
        try loaded.validate()
        let model = try DeviceModel(loaded.device)
        for w in stride(from: -0.6, through: 0.6, by: 0.01) {
            #expect(model.qPlus(w) == fromFile.qPlus(w) && model.qMinus(w) == fromFile.qMinus(w))
        }
        #expect(model.nominalSymmetricPoint == fromFile.nominalSymmetricPoint)

        // Naming a table file (a sweep axis, or --piecewise-table) reads it in place of the recorded points.
        let other = dir + "/other.csv"
        try "-0.5,2,0.5\n0.5,0.5,2\n".write(toFile: other, atomically: true, encoding: .utf8)
        var swept = try Sweep.set("device.piecewise_table", other, in: loaded)
        swept.resolve()
        #expect(swept.device.piecewiseTable == "" && swept.device.piecewiseQPlus == [2, 0.5])
    }

    /// 10,000 rows (the limit) of values with 17 significant digits and an exponent, about the longest a number
    /// takes in JSON: the run's config.json stays within the 1 MiB a configuration file may have and reads back.
    @Test("The largest table embeds in a config.json that loads back")
    func largestTable() throws {
        let dir = IDXWriter.temporaryDirectory("table")
        let rows = PiecewiseTable.maximumRows
        let w = (0..<rows).map { -1.2345678901234567e-05 * (2 - Double($0) * 1e-4) }
        let q = (0..<rows).map { 1.2345678901234567e-05 * (1 + Double($0) * 1e-4) }
        let csv = (0..<rows).map { "\(w[$0]),\(q[$0]),\(q[$0])" }.joined(separator: "\n")
        try csv.write(toFile: dir + "/t.csv", atomically: true, encoding: .utf8)
        var c = ExperimentConfig.default
        c.device.family = .piecewise
        c.device.piecewiseTable = dir + "/t.csv"
        c.resolve()
        #expect(c.device.piecewiseW == w && c.device.piecewiseQPlus == q)
        let data = ConfigLoader.json(c)
        #expect(data.count <= ConfigLoader.maximumFileSize, "\(data.count) bytes")
        try data.write(to: URL(fileURLWithPath: dir + "/config.json"))
        #expect(try ConfigLoader.load(path: dir + "/config.json", over: .default) == c)
    }
}
