import Foundation
import Testing
import AIMCCore

/// A noise-free soft-bounds device with the given parameters.
func softBounds(dwMin: Double, tau: Double, c: Double = 0, c2c: Double = 0) -> DeviceConfig {
    var d = DeviceConfig()
    d.dwMin = dwMin
    d.wMax = tau
    d.wMin = -tau
    d.asymmetry = c
    d.dwMinStd = c2c
    return d
}

/// An update configuration that fires exactly `n` pulses on a 1x1 array for x = 1, |d| = 1 and lr >= n dw_min.
func exactPulses(_ n: Int) -> UpdateConfig {
    var u = UpdateConfig()
    u.desiredBL = n
    u.updateBLManagement = false
    u.updateManagement = false
    return u
}

@Suite("Devices")
struct DeviceTests {
    @Test("Generalized linear: F, G, M and the symmetric point c*tau (paper Section 2)")
    func responseIdentities() throws {
        for c in [0.0, 0.1, -0.25, 0.3] {
            let d = DeviceModel(validated: softBounds(dwMin: 1e-3, tau: 0.6, c: c))
            for w in stride(from: -0.6, through: 0.6, by: 0.05) {
                #expect(abs(d.symmetricPart(w) - (1 - c * w / 0.6)) < 1e-6)
                #expect(abs(d.asymmetricPart(w) - (w / 0.6 - c)) < 1e-6)
                let f = d.symmetricPart(w), g = d.asymmetricPart(w)
                #expect(abs(d.saturation(w) - (f * f - g * g)) < 1e-6)
            }
            let ws = try #require(d.nominalSymmetricPoint.value)
            #expect(abs(Double(ws) - c * 0.6) < 1e-6)
            #expect(abs(d.asymmetricPart(Double(ws))) < 1e-6)
        }
    }

    @Test("n up pulses from w0: tau - (tau - w0)(1 - (1+c) dw_min/tau)^n; n down pulses mirror it")
    func pulseClosedForm() {
        let tau = 0.6, dw = 0.01, c = 0.2, w0 = 0.1
        for n in [1, 5, 17, 31] {
            for down in [false, true] {
                let array = AnalogArray(rows: 1, cols: 1, device: softBounds(dwMin: dw, tau: tau, c: c),
                                        key: StreamKey(seed: 0, purpose: .deviceToDevice))
                array.setWeights([Float(w0)])
                var x: [Float] = [1], d: [Float] = [down ? 1 : -1]
                var trains = RandomStream(key: StreamKey(seed: 0, purpose: .pulseTrains))
                var noise = RandomStream(key: StreamKey(seed: 0, purpose: .cycleToCycle))
                let stats = array.pulsedUpdate(x: &x, d: &d, lr: Float(Double(n) * dw * 2), update: exactPulses(n),
                                               trains: &trains, noise: &noise)
                #expect(stats.coincidences == UInt64(n))
                let expected = down
                    ? -tau + (w0 + tau) * pow(1 - (1 - c) * dw / tau, Double(n))
                    : tau - (tau - w0) * pow(1 - (1 + c) * dw / tau, Double(n))
                #expect(abs(Double(array.weights[0]) - expected) < 1e-6, "n=\(n) down=\(down)")
            }
        }
    }

    @Test("Pulses saturate at the bound without overshoot")
    func pulsesSaturate() {
        var dev = softBounds(dwMin: 0.2, tau: 1, c: 0)
        dev.dwMinStd = 0
        let array = AnalogArray(rows: 1, cols: 1, device: dev, key: StreamKey(seed: 0, purpose: .deviceToDevice))
        array.setWeights([0.9])
        var x: [Float] = [1], d: [Float] = [-1]
        var t = RandomStream(key: StreamKey(seed: 0, purpose: .pulseTrains))
        var z = RandomStream(key: StreamKey(seed: 0, purpose: .cycleToCycle))
        for _ in 0..<20 { array.pulsedUpdate(x: &x, d: &d, lr: 100, update: exactPulses(32), trains: &t, noise: &z) }
        #expect(array.weights[0] <= 1)
        #expect(array.weights[0] > 0.999)
    }

    /// Down pulses from w0 on a noise-free device: each pulse multiplies (w - w_min) by r = 1 - dw(1-c)/tau;
    /// the count n of one update is Binomial(BL, q) with q = p_x p_d, so E[w] = w_min + (w0 - w_min)(1 - q + q r)^BL
    /// and E[w^2] follows from E[r^2n] = (1 - q + q r^2)^BL. With N trials the sample mean has standard
    /// deviation sqrt(Var/N); the bound is 5 of those (two-sided P ~ 6e-7). Against Eq. 2 the bound adds the
    /// exact second-order gap |E[w] - w_Eq2| (paper Thm 4: Theta(dw) error).
    @Test("Mean of pulsed updates: exact binomial mean and the expected update (Eq. 2)", arguments: [true, false])
    func pulsedMeanMatchesExpected(blManagement: Bool) {
        let tau = 0.6, dw = 1e-3, c = 0.3, w0 = 0.1
        let x: Float = 0.5, dv: Float = 0.4, lr: Float = 0.017
        let device = softBounds(dwMin: dw, tau: tau, c: c)
        var update = UpdateConfig()
        update.updateBLManagement = blManagement
        let k = Double(lr * x * dv) / dw
        let bl = blManagement ? Int(k.rounded(.up)) : 31
        let q = k / Double(bl)
        let r = 1 - dw * (1 - c) / tau
        let meanR = pow(1 - q + q * r, Double(bl)), meanR2 = pow(1 - q + q * r * r, Double(bl))
        let exactMean = -tau + (w0 + tau) * meanR
        let exactVar = (w0 + tau) * (w0 + tau) * (meanR2 - meanR * meanR)
        let eq2 = w0 + (-Double(lr * x * dv)) * (1 - c) * (1 + w0 / tau)

        let trials = 20_000
        var sum = 0.0
        let array = AnalogArray(rows: 1, cols: 1, device: device, key: StreamKey(seed: 0, purpose: .deviceToDevice))
        let key = StreamKey(seed: 3, purpose: .pulseTrains)
        var xs: [Float] = [x], ds: [Float] = [dv]
        for t in 0..<trials {
            array.setWeights([Float(w0)])
            var trains = RandomStream(key: key, counter: (UInt32(t), 0, 0))
            var noise = RandomStream(key: key, counter: (UInt32(t), 1, 0))
            array.pulsedUpdate(x: &xs, d: &ds, lr: lr, update: update, trains: &trains, noise: &noise)
            sum += Double(array.weights[0])
        }
        let mean = sum / Double(trials)
        let bound = 5 * (exactVar / Double(trials)).squareRoot()
        #expect(abs(mean - exactMean) < bound, "mean \(mean) exact \(exactMean) bound \(bound)")
        #expect(abs(mean - eq2) < bound + abs(exactMean - eq2), "mean \(mean) Eq.2 \(eq2)")
    }

    /// Additive c2c noise has mean zero, so away from the bounds the mean is the noise-free mean; the bound
    /// uses the sample variance (5 standard errors).
    @Test("Cycle-to-cycle noise leaves the mean unchanged and adds the predicted variance")
    func cycleToCycleMean() {
        let tau = 0.6, dw = 1e-3, sigma = 0.5, w0 = 0.0, n = 8
        let device = softBounds(dwMin: dw, tau: tau, c: 0, c2c: sigma)
        let array = AnalogArray(rows: 1, cols: 1, device: device, key: StreamKey(seed: 0, purpose: .deviceToDevice))
        var xs: [Float] = [1], ds: [Float] = [-1]
        let trials = 20_000
        var values = [Double]()
        for t in 0..<trials {
            array.setWeights([Float(w0)])
            var trains = RandomStream(key: StreamKey(seed: 4, purpose: .pulseTrains), counter: (UInt32(t), 0, 0))
            var noise = RandomStream(key: StreamKey(seed: 4, purpose: .cycleToCycle), counter: (UInt32(t), 0, 0))
            array.pulsedUpdate(x: &xs, d: &ds, lr: 1, update: exactPulses(n), trains: &trains, noise: &noise)
            values.append(Double(array.weights[0]))
        }
        let mean = values.reduce(0, +) / Double(trials)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(trials - 1)
        let r = 1 - dw / tau
        let noiseless = tau - (tau - w0) * pow(r, Double(n))
        #expect(abs(mean - noiseless) < 5 * (variance / Double(trials)).squareRoot())
        // w_n = noiseless + dw sigma sum_k xi_k r^(n-1-k): Var = (dw sigma)^2 sum_k r^2k.
        let predicted = (dw * sigma) * (dw * sigma) * (0..<n).reduce(0.0) { $0 + pow(r * r, Double($1)) }
        // Sample variance of N normals: relative sd sqrt(2/(N-1)) = 1%; bound 6 sd.
        #expect(abs(variance / predicted - 1) < 6 * (2 / Double(trials - 1)).squareRoot())
    }

    /// E[coincidences of (i, j)] = lr |x_j d_i| / dw_min while k <= desired_bl. The total over a 48 x 40 array
    /// is checked over T trials against 5 standard errors of its sample standard deviation.
    @Test("Expected coincidences per device are lr |x d| / dw_min")
    func coincidenceCount() {
        let rows = 48, cols = 40, dw: Float = 1e-3, lr: Float = 0.01
        let array = AnalogArray(rows: rows, cols: cols, device: softBounds(dwMin: Double(dw), tau: 0.6),
                                key: StreamKey(seed: 0, purpose: .deviceToDevice))
        var gen = RandomStream(key: StreamKey(seed: 5, purpose: .benchmark))
        var x = (0..<cols).map { _ in gen.nextUniform() * 2 - 1 }
        var d = (0..<rows).map { _ in gen.nextUniform() * 2 - 1 }
        let expected = Double(x.reduce(0) { $0 + abs($1) } * d.reduce(0) { $0 + abs($1) } * lr / dw)
        var totals = [Double]()
        for t in 0..<400 {
            var trains = RandomStream(key: StreamKey(seed: 6, purpose: .pulseTrains), counter: (UInt32(t), 0, 0))
            var noise = RandomStream(key: StreamKey(seed: 6, purpose: .cycleToCycle), counter: (UInt32(t), 0, 0))
            let s = array.pulsedUpdate(x: &x, d: &d, lr: lr, update: UpdateConfig(), trains: &trains, noise: &noise)
            totals.append(Double(s.coincidences))
        }
        let mean = totals.reduce(0, +) / Double(totals.count)
        let sd = (totals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(totals.count - 1)).squareRoot()
        #expect(abs(mean - expected) < 5 * sd / Double(totals.count).squareRoot(), "mean \(mean) expected \(expected)")
    }

    @Test("Expected update is Eq. 2: w += dW q_+(w) (dW > 0), w += dW q_-(w) (dW < 0), clipped")
    func expectedUpdateMatchesEq2() {
        let c = 0.2, tau = 0.5
        let array = AnalogArray(rows: 1, cols: 3, device: softBounds(dwMin: 1e-3, tau: tau, c: c),
                                key: StreamKey(seed: 0, purpose: .deviceToDevice))
        array.setWeights([0.1, -0.2, 0.45])
        let delta: [Float] = [0.05, -0.03, 0.5]
        _ = delta.withUnsafeBufferPointer { array.expectedUpdate(delta: $0.baseAddress!) }
        let w0 = 0.1, w1 = -0.2
        #expect(abs(Double(array.weights[0]) - (w0 + 0.05 * (1 + c) * (1 - w0 / tau))) < 1e-6)
        #expect(abs(Double(array.weights[1]) - (w1 - 0.03 * (1 - c) * (1 + w1 / tau))) < 1e-6)
        #expect(array.weights[2] == Float(tau))  // 0.45 + 0.5 * 1.2 * 0.1 = 0.51 > tau: clipped
    }

    /// dw_min_i = dw_min |1 + s xi| over 40,000 devices with s = 0.1: mean dw_min (sd s dw_min / 200),
    /// sd s dw_min (relative standard error 1/sqrt(2N) = 0.35%); bounds of 6 standard errors.
    @Test("Device-to-device draws: spread as configured, reproducible from the key")
    func deviceToDevice() {
        var dev = softBounds(dwMin: 1e-3, tau: 0.6)
        dev.dwMinDtod = 0.1
        dev.wMaxDtod = 0.2
        let key = StreamKey(seed: 9, purpose: .deviceToDevice, 0, 1, 0)
        let a = AnalogArray(rows: 200, cols: 200, device: dev, key: key)
        let b = AnalogArray(rows: 200, cols: 200, device: dev, key: key)
        let n = a.count
        var sum = 0.0, sq = 0.0, same = true
        for i in 0..<n {
            let v = Double(a.cells[i].dw)
            sum += v; sq += v * v
            same = same && a.cells[i] == b.cells[i]
            #expect(a.cells[i].wMax > 0 && a.cells[i].wMin < 0)
        }
        #expect(same)
        let mean = sum / Double(n), sd = (sq / Double(n) - mean * mean).squareRoot()
        #expect(abs(mean / 1e-3 - 1) < 6 * 0.1 / Double(n).squareRoot())
        #expect(abs(sd / 1e-4 - 1) < 6 / (2 * Double(n)).squareRoot())
        let wMaxMean = (0..<n).reduce(0.0) { $0 + Double(a.cells[$1].wMax) } / Double(n)
        #expect(abs(wMaxMean / 0.6 - 1) < 6 * 0.2 / Double(n).squareRoot())
    }

    @Test("Device validation names the key and option")
    func validation() {
        var d = DeviceConfig()
        d.dwMin = -1
        #expect(throws: ConfigError.self) { try d.validate() }
        do { try d.validate() } catch { #expect(error.description.contains("--dw-min") && error.description.contains("dw_min")) }
        d = DeviceConfig(); d.wMax = 0
        #expect(throws: ConfigError.self) { try d.validate() }
        d = DeviceConfig(); d.asymmetry = 1
        #expect(throws: ConfigError.self) { try d.validate() }
        d = DeviceConfig(); d.dwMin = 0.7
        #expect(throws: ConfigError.self) { try d.validate() }
        #expect(throws: Never.self) { try DeviceConfig().validate() }
    }
}
