import Foundation
import Testing
import AIMCCore

/// A nominal device of `family` on [-tau, tau] without variability.
func device(_ family: DeviceConfig.Family, tau: Double = 0.6, dwMin: Double = 1e-3, _ body: (inout DeviceConfig) -> Void = { _ in }) -> DeviceConfig {
    var d = DeviceConfig()
    d.family = family
    d.wMax = tau
    d.wMin = -tau
    d.dwMin = dwMin
    body(&d)
    return d
}

/// Fires `pulses` alternating up/down pulses on a 1 x 1 array starting at `w0` (no noise); returns the state.
func alternate(_ d: DeviceConfig, from w0: Float, pulses: Int) -> Float {
    let a = AnalogArray(rows: 1, cols: 1, device: d, key: StreamKey(seed: 0, purpose: .deviceToDevice))
    a.setWeights([w0])
    var s = RandomStream(key: StreamKey(seed: 0, purpose: .zeroShift))
    let reference = a.zeroShift(.pulsed, pulses: pulses, stream: &s)
    #expect(reference.pulses == UInt64(pulses))
    return a.weights[0]
}

@Suite("Response-function families")
struct FamilyTests {
    func close(_ a: Double, _ b: Double, _ tol: Double = 2e-6) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }

    @Test("Power (Eq. 148) and exponential (Eq. 149) at w in {-0.5, 0, 0.5} x tau", arguments: [0.5, 1.0, 2.0])
    func paperFamilies(gamma: Double) throws {
        let tau = 0.7
        let power = try DeviceModel(device(.power, tau: tau) { $0.gamma = gamma })
        let exponential = try DeviceModel(device(.exponential, tau: tau) { $0.gamma = gamma })
        for f in [-0.5, 0, 0.5] {
            let w = f * tau
            #expect(close(power.qPlus(w), pow(1 - w / tau, gamma)))
            #expect(close(power.qMinus(w), pow(1 + w / tau, gamma)))
            #expect(close(exponential.qPlus(w), (exp(gamma * (1 - w / tau)) - 1) / (exp(gamma) - 1)))
            #expect(close(exponential.qMinus(w), (exp(gamma * (1 + w / tau)) - 1) / (exp(gamma) - 1)))
        }
        #expect(power.nominalSymmetricPoint == .point(0))
        #expect(exponential.nominalSymmetricPoint == .point(0))
        #expect(power.qPlus(tau) == 0 && exponential.qMinus(-tau) == 0)
    }

    @Test("Constant step, soft bounds and aihwkit's LinearStep, PowStep, ExpStep, PiecewiseStep in closed form")
    func otherFamilies() throws {
        let constant = try DeviceModel(device(.constantStep) { $0.asymmetry = 0.2 })
        #expect(close(constant.qPlus(0.3), 1.2) && close(constant.qMinus(-0.5), 0.8))
        #expect(constant.nominalSymmetricPoint == SymmetricPoint.none)
        #expect(try DeviceModel(device(.constantStep)).nominalSymmetricPoint == .everywhere)

        for c in [-0.3, 0, 0.25] {
            let soft = try DeviceModel(device(.softBounds, tau: 0.8) { $0.asymmetry = c })
            #expect(close(soft.qPlus(0.2), (1 + c) * (1 - 0.2 / 0.8)) && close(soft.qMinus(0.2), (1 - c) * (1 + 0.2 / 0.8)))
            #expect(abs(Double(try #require(soft.nominalSymmetricPoint.value)) - c * 0.8) < 1e-6)
        }
        // aihwkit's one-sided up_down: up_down > 0 shrinks the down step.
        let ud = try DeviceModel(device(.softBounds) { $0.upDown = 0.2 })
        #expect(close(ud.qPlus(0), 1) && close(ud.qMinus(0), 0.8))

        let linear = try DeviceModel(device(.linearStep) { $0.gammaUp = 0.1; $0.gammaDown = 0.5 })
        #expect(close(linear.qPlus(0.3), 1 - 0.1 * 0.3 / 0.6) && close(linear.qMinus(0.3), 1 + 0.5 * 0.3 / 0.6))

        let powStep = try DeviceModel(device(.powStep) { $0.powGamma = 2 })
        // aihwkit normalises by the range: the step at w = 0 is dw_min * 0.5^gamma.
        #expect(close(powStep.qPlus(0), 0.25) && close(powStep.qMinus(0), 0.25))
        #expect(close(powStep.qPlus(-0.3), pow(0.9 / 1.2, 2)))

        let e = device(.expStep) { $0.aUp = 0.00081; $0.aDown = 0.36833; $0.gammaUp = 12.44625; $0.gammaDown = 12.78785 }
        let expStep = try DeviceModel(e)
        for w in [-0.4, 0.0, 0.3] {
            let z = 2 * e.expA * w / 1.2 + e.expB
            #expect(close(expStep.qPlus(w), max(1 - e.aUp * exp(e.gammaUp * z), 0), 1e-5))
            #expect(close(expStep.qMinus(w), max(1 - e.aDown * exp(-e.gammaDown * z), 0), 1e-5))
        }

        let nodes = try DeviceModel(device(.piecewiseStep) { $0.piecewiseUp = [2, 1, 0.5]; $0.piecewiseDown = [0.5, 1, 2] })
        #expect(close(nodes.qPlus(-0.6), 2) && close(nodes.qPlus(0), 1) && close(nodes.qPlus(0.3), 0.75) && close(nodes.qMinus(0.6), 2))
        #expect(nodes.nominalSymmetricPoint == .point(0))
    }

    @Test("The piecewise family reads a measured table and interpolates it")
    func piecewiseTable() throws {
        let path = NSTemporaryDirectory() + "table-\(UUID().uuidString).csv"
        try "w,q_plus,q_minus\n-0.5,1.5,0.2\n0,1,1\n0.5,0.25,1.5\n".write(toFile: path, atomically: true, encoding: .utf8)
        let m = try DeviceModel(device(.piecewise) { $0.piecewiseTable = path })
        #expect(close(m.qPlus(-0.25), 1.25) && close(m.qMinus(0.25), 1.25) && close(m.qPlus(-0.6), 1.5))
        #expect(m.nominalSymmetricPoint == .point(0))
        try "w,q_plus,q_minus\n0,1,1\n-0.5,1,1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try device(.piecewise) { $0.piecewiseTable = path }.validate() }
        try "0,1,1\n0.5,0,1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try device(.piecewise) { $0.piecewiseTable = path }.validate() }
    }

    /// Alternating up/down pulses drive a device to its symmetric point (the mechanism of zero-shifting;
    /// arXiv 2602.21321 Thm C.4): the last state lies within a few dw_min of w_sym (error floor Theta(dw_min)).
    @Test("Alternating pulses converge to the symmetric point, for every family")
    func alternatingConverges() throws {
        let dw = 0.005
        var cases: [DeviceConfig] = [
            device(.softBounds, dwMin: dw) { $0.asymmetry = 0.3 },
            device(.power, dwMin: dw) { $0.gamma = 0.5; $0.asymmetry = 0.2 },
            device(.exponential, dwMin: dw) { $0.gamma = 2; $0.asymmetry = -0.2 },
            device(.linearStep, dwMin: dw) { $0.gammaUp = 0.8; $0.gammaDown = 0.4 },
            device(.powStep, dwMin: dw) { $0.powGamma = 1.5; $0.powUpDown = 0.2 },
            device(.piecewiseStep, dwMin: dw) { $0.piecewiseUp = [3, 1, 0.2]; $0.piecewiseDown = [0.2, 0.5, 3] },
        ]
        var reram = try #require(DevicePresets.named("reram-es")).device
        reram.dwMinDtod = 0; reram.wMaxDtod = 0; reram.wMinDtod = 0; reram.upDownDtod = 0; reram.dwMinStd = 0
        reram.writeNoiseStd = 0
        cases.append(reram)
        for d in cases {
            let m = try DeviceModel(d)
            let ws = try #require(m.nominalSymmetricPoint.value, "\(d.family)")
            for start in [Float(d.wMin), Float(d.wMax)] {
                let w = alternate(d, from: start, pulses: 20_000)
                #expect(abs(w - ws) < Float(5 * d.effectiveDwMin), "\(d.family): \(w) vs w_sym \(ws)")
            }
        }
    }

    /// A measured table need not be monotone: here G = q_- - q_+ is -0.4, 0.4, -0.4, 0.4, -0.4 at w = -0.6, -0.3,
    /// 0, 0.3, 0.6 (linear between), so G = 0 at -0.45 and 0.15 (stable: G goes from - to +) and at -0.15 and 0.45
    /// (unstable). Alternating pulses drift up where G < 0 and down where G > 0, so the symmetric point depends on
    /// the start: -0.45 from -0.6 or -0.2, 0.15 from 0 or 0.35, and none from 0.5 (the drift reaches w_max). Both
    /// ends have the same sign of G, which a bisection between the bounds would call "no symmetric point".
    @Test("A non-monotone table: the stable symmetric point that alternating pulses reach from the start")
    func nonMonotoneTable() throws {
        let dw = 0.002
        let d = device(.piecewise, dwMin: dw) {
            $0.piecewiseW = [-0.6, -0.3, 0, 0.3, 0.6]
            $0.piecewiseQPlus = [1, 1, 1, 1, 1]
            $0.piecewiseQMinus = [0.6, 1.4, 0.6, 1.4, 0.6]
        }
        let m = try DeviceModel(d)
        let cell = m.nominalCell
        for (start, expected) in [(Float(-0.6), Float(-0.45)), (-0.2, -0.45), (0, 0.15), (0.35, 0.15), (0.5, nil)] as [(Float, Float?)] {
            let point = m.symmetricPoint(cell, from: start)
            let reached = alternate(d, from: start, pulses: 40_000)
            if let expected {
                let w = try #require(point.value, "from \(start)")
                #expect(abs(w - expected) < 1e-5, "from \(start): \(w)")
                // Noise-free alternating pulses settle within a few dw_min of it (the pair's drift is O(dw^2)).
                #expect(abs(reached - expected) < Float(5 * dw), "from \(start): pulses reach \(reached)")
            } else {
                #expect(point == .none, "from \(start): \(point)")
                #expect(reached > Float(0.6 - 5 * dw), "from \(start): pulses reach \(reached)")
            }
        }
        #expect(m.nominalSymmetricPoint == .point(0.15) || abs(m.nominalSymmetricPoint.value! - 0.15) < 1e-5)
        // Ideal zero-shifting takes each device's point from its current state.
        let a = AnalogArray(rows: 1, cols: 3, device: d, key: StreamKey(seed: 0, purpose: .deviceToDevice))
        a.setWeights([-0.2, 0, 0.5])
        var s = RandomStream(key: StreamKey(seed: 0, purpose: .zeroShift))
        let result = a.zeroShift(.ideal, pulses: 0, stream: &s)
        #expect(result.withoutPoint == 1)
        #expect(abs(a.weights[0] + 0.45) < 1e-5 && abs(a.weights[1] - 0.15) < 1e-5)
        // G = 0 at every node: symmetric everywhere.
        let flat = try DeviceModel(device(.piecewise) { $0.piecewiseW = [-0.5, 0, 0.5]; $0.piecewiseQPlus = [1, 2, 1]; $0.piecewiseQMinus = [1, 2, 1] })
        #expect(flat.nominalSymmetricPoint == .everywhere)
    }

    /// Per-sample pulse trains on one device: the coincidence count is Binomial(BL, q), q = p_x p_d, so on a
    /// constant-step device the change has mean -lr x d (Eq. 2) and variance lr|x d| dw (1 - lr|x d|/(BL dw)),
    /// Lemma 1 of arXiv 2510.02516. The binomial's fourth central moment gives the sampling sd of the variance.
    @Test("Pulsed-update statistics: mean of Eq. 2 and the variance of Lemma 1", arguments: [true, false])
    func lemma1(perSample: Bool) {
        let dw: Float = 1e-3, lr: Float = 0.01, x: Float = 0.6, dv: Float = 0.7
        let d = device(.constantStep, tau: 1, dwMin: Double(dw))
        let a = AnalogArray(rows: 1, cols: 1, device: d, key: StreamKey(seed: 0, purpose: .deviceToDevice))
        var update = UpdateConfig()
        update.updateBLManagement = false  // BL = 31: q = lr x d / (dw BL) < 1
        let bl = 31
        let n = 40_000
        var changes = [Double]()
        for t in 0..<n {
            a.setWeights([0])
            var s1 = RandomStream(key: StreamKey(seed: 1, purpose: .pulseTrains), counter: (UInt32(t), 0, 0))
            var s2 = RandomStream(key: StreamKey(seed: 1, purpose: .cycleToCycle), counter: (UInt32(t), 0, 0))
            if perSample {
                var xs = [x], ds = [dv]
                a.pulsedUpdate(x: &xs, d: &ds, lr: lr, update: update, trains: &s1, noise: &s2)
            } else {
                var delta = [-lr * x * dv]
                a.pulsedUpdate(delta: &delta, bl: bl, counts: &s1, noise: &s2)
            }
            changes.append(Double(a.weights[0]))
        }
        let m = Double(lr * x * dv)
        let q = m / (Double(bl) * Double(dw))
        let mean = changes.reduce(0, +) / Double(n)
        let variance = changes.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let sigma2 = Double(dw) * Double(dw) * Double(bl) * q * (1 - q)
        #expect(abs(sigma2 - m * Double(dw) * (1 - m / (Double(bl) * Double(dw)))) < 1e-15)
        #expect(abs(mean + m) < 5 * (sigma2 / Double(n)).squareRoot(), "mean \(mean) vs \(-m)")
        let mu4 = pow(Double(dw), 4) * Double(bl) * q * (1 - q) * (1 + 3 * Double(bl - 2) * q * (1 - q))
        #expect(abs(variance - sigma2) < 5 * ((mu4 - sigma2 * sigma2) / Double(n)).squareRoot(), "variance \(variance) vs \(sigma2)")
    }

    /// Expected mode with Lemma 1's noise on a constant-step device: mean dW, Gaussian variance
    /// |dW| dw (1 - |dW|/(BL dw)); the sample variance of N normals has relative sd sqrt(2/(N-1)).
    @Test("Expected update with granularity noise: mean dW, variance of Lemma 1")
    func expectedNoise() {
        let dw: Float = 1e-3, dW: Float = 0.004, bl = 31, n = 40_000
        let a = AnalogArray(rows: 1, cols: 1, device: device(.constantStep, tau: 1, dwMin: Double(dw)),
                            key: StreamKey(seed: 0, purpose: .deviceToDevice))
        var values = [Double]()
        var delta = [dW]
        for t in 0..<n {
            a.setWeights([0])
            var s = RandomStream(key: StreamKey(seed: 2, purpose: .cycleToCycle), counter: (UInt32(t), 0, 0))
            a.expectedUpdate(delta: &delta, bl: bl, noise: &s)
            values.append(Double(a.weights[0]))
        }
        let mean = values.reduce(0, +) / Double(n)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let sigma2 = Double(dW) * Double(dw) * (1 - Double(dW) / (Double(bl) * Double(dw)))
        #expect(abs(mean - Double(dW)) < 5 * (sigma2 / Double(n)).squareRoot())
        #expect(abs(variance / sigma2 - 1) < 5 * (2 / Double(n - 1)).squareRoot())
    }

    @Test("Ideal zero-shifting puts every weight at 0 and every reference at its device's symmetric point")
    func zeroShiftIdeal() throws {
        var d = device(.softBounds) { $0.asymmetry = 0.2 }
        d.asymmetryDtod = 0.1
        d.wMaxDtod = 0.2
        let a = AnalogArray(rows: 8, cols: 8, device: d, key: StreamKey(seed: 3, purpose: .deviceToDevice))
        var s = RandomStream(key: StreamKey(seed: 3, purpose: .zeroShift))
        let result = a.zeroShift(.ideal, pulses: 1, stream: &s)
        #expect(result.pulses == 0 && result.withoutPoint == 0)
        let r = try #require(a.reference)
        for i in 0..<a.count {
            #expect(a.weight(i) == 0)
            #expect(a.model.symmetricPoint(a.cells[i]) == .point(r[i]))
        }
        a.setWeights([Float](repeating: 0.1, count: 64))
        #expect(abs(a.weight(5) - 0.1) < 1e-6 && abs(a.weights[5] - (r[5] + 0.1)) < 1e-6)
    }

    /// Tile draws over 4000 tiles: the gain has mean 1 and sd t2t_dw_min (bounds: 5 standard errors; the sd's
    /// standard error is sd/sqrt(2N) for a normal), shifts have mean 0.
    @Test("Tile-to-tile draws have the configured spread and are fixed by their key")
    func tileToTile() {
        var d = DeviceConfig()
        d.t2tDwMin = 0.2
        d.t2tSymmetricPoint = 0.05
        let n = 4000
        let draws = (0..<n).map { TileDraw(device: d, key: StreamKey(seed: 4, purpose: .tileToTile, UInt64($0), 0)) }
        let gains = draws.map { Double($0.gain) }, shifts = draws.map { Double($0.shift) }
        let gm = gains.reduce(0, +) / Double(n)
        let gsd = (gains.reduce(0) { $0 + ($1 - gm) * ($1 - gm) } / Double(n - 1)).squareRoot()
        #expect(abs(gm - 1) < 5 * 0.2 / Double(n).squareRoot())
        #expect(abs(gsd - 0.2) < 5 * 0.2 / (2 * Double(n)).squareRoot())
        #expect(abs(shifts.reduce(0, +) / Double(n)) < 5 * 0.05 / Double(n).squareRoot())
        #expect(TileDraw(device: d, key: StreamKey(seed: 4, purpose: .tileToTile, 7, 0)) == draws[7])
        // A tile's draws reach its devices: gain on dw_min, shift on the symmetric point.
        var soft = device(.softBounds) { $0.t2tDwMin = 0.2; $0.t2tSymmetricPoint = 0.05 }
        soft.asymmetry = 0
        let a = AnalogArray(rows: 2, cols: 2, device: soft, key: StreamKey(seed: 4, purpose: .deviceToDevice),
                            tileKey: StreamKey(seed: 4, purpose: .tileToTile, 7, 0))
        #expect(abs(a.cells[0].dw - 1e-3 * draws[7].gain) < 1e-9)
        #expect(abs(a.model.symmetricPoint(a.cells[0]).value! - draws[7].shift) < 1e-6)
    }

    @Test("Few-state devices saturate at the bounds and never leave them")
    func fewStates() {
        var d = device(.softBounds, tau: 1, dwMin: 0.5)
        d.dwMinStd = 0.3
        let a = AnalogArray(rows: 1, cols: 1, device: d, key: StreamKey(seed: 0, purpose: .deviceToDevice))
        var update = UpdateConfig()
        update.desiredBL = 32; update.updateBLManagement = false; update.updateManagement = false
        for (t, sign) in [(0, Float(-1)), (1, 1), (2, -1)] {
            var x: [Float] = [1], dv: [Float] = [sign]
            var s1 = RandomStream(key: StreamKey(seed: 5, purpose: .pulseTrains), counter: (UInt32(t), 0, 0))
            var s2 = RandomStream(key: StreamKey(seed: 5, purpose: .cycleToCycle), counter: (UInt32(t), 0, 0))
            a.pulsedUpdate(x: &x, d: &dv, lr: 100, update: update, trains: &s1, noise: &s2)
            #expect(a.weights[0].isFinite && a.weights[0] >= -1 && a.weights[0] <= 1)
            // 32 pulses of dw 0.5 with additive c2c 0.15 end near the bound the pulses push toward.
            #expect(sign < 0 ? a.weights[0] > 0.5 : a.weights[0] < -0.5)
        }
    }

    @Test("Bad device parameters name the key")
    func badParameters() {
        func message(_ change: (inout DeviceConfig) -> Void) -> String {
            var d = DeviceConfig()
            change(&d)
            do { try d.validate(); return "" } catch { return error.description }
        }
        #expect(message { $0.wMax = 0 }.contains("w_max"))
        #expect(message { $0.wMin = 0.1 }.contains("w_min"))
        #expect(message { $0.dwMin = 0 }.contains("dw_min"))
        #expect(message { $0.nStates = 1 }.contains("n_states"))
        #expect(message { $0.family = .power; $0.gamma = -1 }.contains("gamma"))
        #expect(message { $0.family = .exponential; $0.gamma = 51 }.contains("gamma"))
        #expect(message { $0.family = .exponential; $0.gamma = 0 } == "")  // the soft-bounds-shaped limit
        #expect(message { $0.family = .power; $0.gamma = 1e-300 }.contains("device.gamma"))
        #expect(message { $0.family = .power; $0.gamma = 1e-300 }.contains("32-bit float"))
        #expect(message { $0.family = .powStep; $0.powGamma = 1e-40 }.contains("device.pow_gamma"))
        #expect(message { $0.asymmetry = -1e-40 }.contains("--asymmetry"))
        #expect(message { $0.family = .piecewiseStep; $0.piecewiseUp = [1, 1e-39]; $0.piecewiseDown = [1, 1] }.contains("piecewise_up"))
        #expect(message { $0.family = .power; $0.gamma = 1e-8 } == "")
        #expect(message { $0.family = .piecewiseStep; $0.piecewiseUp = [1, 2]; $0.piecewiseDown = [1] }.contains("piecewise_down"))
        #expect(message { $0.family = .piecewise }.contains("piecewise_table"))
        #expect(message { $0.t2tRange = -1 }.contains("t2t_range"))
        #expect(message { $0.nStates = 4; $0.wMax = 1; $0.wMin = -1 } == "")
        #expect(DeviceConfig().effectiveDwMin == 0.001)
        var d = DeviceConfig(); d.nStates = 4; d.wMax = 1; d.wMin = -1
        #expect(d.effectiveDwMin == 0.5)
    }

    @Test("Every preset is valid")
    func presets() throws {
        for p in DevicePresets.all { try p.device.validate() }
        #expect(Set(DevicePresets.names).count == DevicePresets.all.count)
    }
}
