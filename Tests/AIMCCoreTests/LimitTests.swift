import Foundation
import Testing
import AIMCCore

/// One rounding of Float arithmetic: 2^-24.
let floatRounding = Double(Float.ulpOfOne) / 2

/// The limits of the parametrised families (gamma -> 0, tiny and largest gamma, overflowing exponents), the
/// bound floor of drawn devices, and the limits of measured tables.
///
/// Tolerances: the simulator evaluates q in Float from Float inputs, each operation adding one rounding (2^-24,
/// relative). A power x^gamma turns the few roundings of x into gamma times as many relative error; exp(y) turns an
/// absolute error of y into a relative one, and y = gamma u carries about 4 roundings of its size. The bounds below
/// count the operations of each response (at most 8) and add those amplifications.
@Suite("Family limits")
struct LimitTests {
    let states: [Double] = [-1, -0.5, 0, 0.5, 1]

    @Test("gamma = 0: power and pow-step are the constant step (0^0 = 1 at the bounds too), exponential the soft-bounds shape")
    func gammaZero() throws {
        for (c, upDown) in [(0.0, 0.0), (0.2, 0.0), (0.0, 0.1)] {
            let constant = try DeviceModel(device(.constantStep) { $0.asymmetry = c; $0.upDown = upDown })
            let power = try DeviceModel(device(.power) { $0.gamma = 0; $0.asymmetry = c; $0.upDown = upDown })
            let powStep = try DeviceModel(device(.powStep) { $0.powGamma = 0; $0.asymmetry = c; $0.upDown = upDown })
            for f in states {
                let w = 0.6 * f
                // Both are scale x 1: the same Float operations, so the same numbers.
                #expect(power.qPlus(w) == constant.qPlus(w) && power.qMinus(w) == constant.qMinus(w), "c \(c) w \(w)")
                #expect(powStep.qPlus(w) == constant.qPlus(w) && powStep.qMinus(w) == constant.qMinus(w), "c \(c) w \(w)")
            }
            #expect(power.nominalSymmetricPoint == constant.nominalSymmetricPoint)
            #expect(powStep.nominalSymmetricPoint == constant.nominalSymmetricPoint)
        }
        #expect(try DeviceModel(device(.power) { $0.gamma = 0 }).nominalSymmetricPoint == .everywhere)
        #expect(try DeviceModel(device(.power) { $0.gamma = 0; $0.asymmetry = 0.2 }).nominalSymmetricPoint == SymmetricPoint.none)

        let tau = 0.6
        for c in [0.0, 0.25, -0.3] {
            let e = try DeviceModel(device(.exponential, tau: tau) { $0.gamma = 0; $0.asymmetry = c })
            for f in states {
                let w = tau * f
                // (1 + c)(1 - w/tau): about 4 roundings of terms of size up to 1 + |w|/tau.
                let bound = 8 * floatRounding * (1 + abs(f)) * (1 + abs(c))
                #expect(abs(e.qPlus(w) - (1 + c) * (1 - f)) <= bound, "c \(c) w \(w): \(e.qPlus(w))")
                #expect(abs(e.qMinus(w) - (1 - c) * (1 + f)) <= bound, "c \(c) w \(w): \(e.qMinus(w))")
            }
            // Soft bounds' symmetric point c tau (paper Section 2), found by bisection on G: G has slope
            // ((1 + c) + (1 - c))/tau = 2/tau and Float error at most 2 x 8 roundings x q <= 32 x 2^-24, so the
            // zero is off by at most 16 x 2^-24 x tau, plus one rounding of the result.
            let ws = Double(try #require(e.nominalSymmetricPoint.value))
            #expect(abs(ws - c * tau) <= 16 * floatRounding * tau + floatRounding * abs(c * tau), "c \(c): \(ws)")
        }
    }

    @Test("Tiny gamma: the power family's symmetric point is exact (not wherever every q rounds to 1)", arguments: [1e-30, 1e-8, 0.5])
    func powerTinyGamma(gamma: Double) throws {
        // Bounds 1 and -0.5: q_+ = (1 - w)^gamma, q_- = (1 + 2w)^gamma.
        let m = try DeviceModel(device(.power) { $0.wMax = 1; $0.wMin = -0.5; $0.gamma = gamma })
        for w in [-0.4, -0.1, 0.3, 0.9] {
            // (8 + 4 gamma) roundings: the base's two, amplified by gamma, and the rest of the operations.
            #expect(abs(m.qPlus(w) / pow(1 - Double(Float(w)), Double(Float(gamma))) - 1) <= (8 + 4 * gamma) * floatRounding)
        }
        // q_+ = q_- at w = 0 exactly, for every gamma > 0. The bisection runs in Double on logarithms of 1 - w and
        // 1 + 2w, which drop a w below half a Double rounding (2^-53), so it ends within 2^-52 of 0.
        let w0 = Double(try #require(m.nominalSymmetricPoint.value))
        #expect(abs(w0) <= 0x1p-52, "\(w0)")

        // With asymmetry c: (1 + c)(1 - w)^g = (1 - c)(1 + 2w)^g, so with r = ((1 - c)/(1 + c))^(1/g),
        // w = (1 - r)/(1 + 2r); for tiny g, r underflows to 0 and w = w_max.
        let c = 0.2
        let a = try DeviceModel(device(.power) { $0.wMax = 1; $0.wMin = -0.5; $0.gamma = gamma; $0.asymmetry = c })
        let cell = a.nominalCell
        let r = pow(Double(cell.scaleDown) / Double(cell.scaleUp), 1 / Double(Float(gamma)))
        let expected = (1 - r) / (1 + 2 * r)
        let ws = Double(try #require(a.nominalSymmetricPoint.value))
        // The result is rounded to Float once (the bisection runs in Double from the cell's own values), after the
        // Double bisection's own limit (2^-52, as above).
        #expect(abs(ws - expected) <= floatRounding * abs(expected) + 0x1p-52, "\(ws) vs \(expected)")
    }

    @Test("Exponential family for tiny to largest gamma: q = expm1(gamma u)/expm1(gamma), q(0) = 1",
          arguments: [1e-30, 1e-8, 1e-3, 1, 50])
    func exponentialRange(gamma: Double) throws {
        let tau = 0.6
        let m = try DeviceModel(device(.exponential, tau: tau) { $0.gamma = gamma })
        let g = Double(Float(gamma))
        for f in states {
            let w = tau * f
            for (q, u) in [(m.qPlus(w), 1 - f), (m.qMinus(w), 1 + f)] {
                let exact = g * u < 700 ? expm1(g * u) / expm1(g) : exp(g * (u - 1)) * expm1(-g * u) / expm1(-g)
                // 12 operations' roundings, plus the exponent gamma (u - 1) carrying 4 roundings of gamma max(u, 1).
                let bound = (12 + 4 * g * max(u, 1)) * floatRounding * exact
                #expect(q.isFinite && abs(q - exact) <= bound, "gamma \(gamma) w \(w): \(q) vs \(exact)")
            }
        }
        #expect(abs(m.qPlus(0) - 1) <= 12 * floatRounding && abs(m.qMinus(0) - 1) <= 12 * floatRounding)
        // Symmetric point 0 (q_+ = q_- where 1 - w/tau = 1 + w/tau): a Float bisection on G, whose slope at 0 is
        // 2 gamma e^gamma/(tau (e^gamma - 1)) (2/tau as gamma -> 0). It stops where Float G changes sign: within
        // G's error there, 2 x (12 + 4 gamma) roundings of q(0) = 1, divided by the slope.
        let slope = 2 * g / tau * (g < 1e-6 ? 1 / g : exp(g) / expm1(g))
        let ws = Double(try #require(m.nominalSymmetricPoint.value))
        #expect(abs(ws) <= 2 * (12 + 4 * g) * floatRounding / slope, "gamma \(gamma): \(ws)")
    }

    @Test("Overflowing responses are capped at 1e22 (finite), never inf or NaN")
    func caps() throws {
        let cap = Double(DeviceCell.largestFactor)
        // Lopsided bounds: (1 - w_min/w_max)^50 = 1001^50 overflows Float; so does exp(50 x 1001).
        for family in [DeviceConfig.Family.power, .exponential] {
            let m = try DeviceModel(device(family) { $0.wMax = 1e-3; $0.wMin = -1; $0.gamma = 50 })
            #expect(abs(m.qPlus(-1) / cap - 1) <= 2 * floatRounding, "\(family): \(m.qPlus(-1))")
            #expect(m.qMinus(-1) == 0 && m.qPlus(1e-3) == 0)
            #expect(m.nominalSymmetricPoint.value.map { $0.isFinite && $0 >= -1 && $0 <= 1e-3 } == true)
        }
        // aihwkit ExpStep with exp(gamma z) overflowing: A = 0 gives q = 1 (0 x inf would be NaN), A < 0 the cap,
        // A > 0 zero; z = 2a w/(w_max - w_min) + b ranges over [0, 2000] here (a = b = 1000), gamma z up to 2e6.
        for (a, expected) in [(0.0, 1.0), (-1000, cap), (1e-30, 0)] {
            let m = try DeviceModel(device(.expStep) { $0.aUp = a; $0.gammaUp = 1000; $0.expA = 1000; $0.expB = 1000 })
            #expect(abs(m.qPlus(0.6) - expected) <= 2 * floatRounding * expected, "A_up \(a): \(m.qPlus(0.6))")
        }
        // A small positive A with a moderate exponent is the closed form max(1 - A e^(gamma z), 0).
        let e = device(.expStep) { $0.aUp = 1e-30; $0.gammaUp = 100; $0.expA = 0.5; $0.expB = 0 }
        let m = try DeviceModel(e)
        for w in [-0.6, 0.0, 0.3, 0.6] {
            let x = 100 * (Double(Float(2 * 0.5 / 1.2)) * Double(Float(w)))
            let exact = max(1 - 1e-30 * exp(x), 0)
            // x carries about 4 roundings of its size (up to 50): 1 - e^t then has absolute error e^t 4 |x| 2^-24.
            #expect(abs(m.qPlus(w) - exact) <= 8 * floatRounding + 1e-30 * exp(x) * 4 * (abs(x) + 70) * floatRounding,
                    "w \(w): \(m.qPlus(w)) vs \(exact)")
        }
    }

    @Test("A drawn bound that lands at 0 keeps 1e-6 of its nominal value, so the response stays finite")
    func boundFloor() throws {
        for family in [DeviceConfig.Family.softBounds, .linearStep, .power, .exponential, .powStep, .expStep, .piecewiseStep] {
            let d = device(family) { $0.wMaxDtod = 0.5; $0.gamma = 2; $0.gammaUp = 1; $0.gammaDown = 1; $0.powGamma = 2 }
            let m = try DeviceModel(d)
            // 1 + 0.5 xi = 0 at xi = -2: b_max would be exactly 0.
            let xi: [Float] = [0, -2, 0, 0, 0, 0, 0, 0]
            let cell = xi.withUnsafeBufferPointer { m.cell($0.baseAddress!) }
            #expect(cell.wMax == Float(0.6) * 1e-6, "\(family)")
            for w in [cell.wMin, cell.wMin / 2, 0, cell.wMax / 2, cell.wMax] {
                let s = m.steps(cell, at: w)
                #expect(s.up.isFinite && s.up >= 0 && s.down.isFinite && s.down >= 0, "\(family) w \(w): \(s)")
            }
            if case .point(let w) = m.symmetricPoint(cell) { #expect(w >= cell.wMin && w <= cell.wMax) }
        }
    }

    // MARK: Measured tables

    func temporaryFile(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "table-\(UUID().uuidString).csv"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("A table file over 1 MiB or 10000 rows is refused before it is parsed, naming the file and the limit")
    func tableLimits() throws {
        // 1 MiB + 1 bytes: refused from its size alone.
        let big = NSTemporaryDirectory() + "table-\(UUID().uuidString).csv"
        let line = "0.5,1,1\n"
        var text = String(repeating: line, count: PiecewiseTable.maximumFileSize / line.utf8.count)
        text += String(repeating: "#", count: PiecewiseTable.maximumFileSize + 1 - text.utf8.count)
        #expect(text.utf8.count == PiecewiseTable.maximumFileSize + 1)
        try text.write(toFile: big, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: big) }
        let started = Date()
        do { _ = try PiecewiseTable.load(path: big); Issue.record("expected the size limit") } catch {
            #expect(error.description.contains(big) && error.description.contains("1048576") && error.description.contains("thin the table"),
                    "\(error.description)")
        }
        #expect(Date().timeIntervalSince(started) < 1)

        let rows = { (n: Int) in (0..<n).map { "\(Double($0) / Double(n) - 0.5),1,1" }.joined(separator: "\n") }
        let limit = try temporaryFile(rows(PiecewiseTable.maximumRows))
        #expect(try PiecewiseTable.load(path: limit).w.count == PiecewiseTable.maximumRows)
        let over = try temporaryFile(rows(PiecewiseTable.maximumRows + 1))
        do { _ = try PiecewiseTable.load(path: over); Issue.record("expected the row limit") } catch {
            #expect(error.description.contains("10000") && error.description.contains(over), "\(error.description)")
        }
        do { _ = try PiecewiseTable.load(path: "no-such-table.csv"); Issue.record("expected an error") } catch {
            #expect(error.description.contains("no-such-table.csv") && error.description.contains("relative to"))
        }
        // Values Float cannot hold (as q: a denormal) are refused, not rounded to 0.
        let denormal = try temporaryFile("-0.5,1,1\n0.5,1e-39,1\n")
        #expect(throws: ConfigError.self) { try PiecewiseTable.load(path: denormal) }
    }

    @Test("The piecewise family runs from embedded points; a named file wins over points; embedding clears the name")
    func tablePoints() throws {
        let path = try temporaryFile("w,q_plus,q_minus\n-0.5,1.5,0.2\n0,1,1\n0.5,0.25,1.5\n")
        let fromFile = try DeviceModel(device(.piecewise) { $0.piecewiseTable = path })
        let points = device(.piecewise) { $0.piecewiseW = [-0.5, 0, 0.5]; $0.piecewiseQPlus = [1.5, 1, 0.25]; $0.piecewiseQMinus = [0.2, 1, 1.5] }
        try points.validate()
        let fromPoints = try DeviceModel(points)
        for w in stride(from: -0.6, through: 0.6, by: 0.05) {
            #expect(fromPoints.qPlus(w) == fromFile.qPlus(w) && fromPoints.qMinus(w) == fromFile.qMinus(w))
        }
        // Both given: the file is read (other points are replaced).
        var both = points
        both.piecewiseQPlus = [3, 3, 3]
        both.piecewiseTable = path
        #expect(try DeviceModel(both).qPlus(-0.5) == fromFile.qPlus(-0.5))
        try both.embedPiecewiseTable()
        #expect(both.piecewiseTable == "" && both == points)
        // Bad points name their keys.
        var bad = points
        bad.piecewiseQMinus = [1, 1]
        do { try bad.validate(); Issue.record("expected an error") } catch {
            #expect(error.description.contains("piecewise_w") && error.description.contains("q_minus"), "\(error.description)")
        }
        bad.piecewiseQMinus = [1, 0, 1]
        #expect(throws: ConfigError.self) { try bad.validate() }
        // Other families ignore the table.
        var other = device(.softBounds) { $0.piecewiseTable = path }
        try other.embedPiecewiseTable()
        #expect(other.piecewiseTable == path && other.piecewiseW.isEmpty)
    }
}
