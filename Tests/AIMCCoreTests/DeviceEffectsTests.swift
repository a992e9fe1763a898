import Foundation
import Testing
import AIMCCore

/// A noise-free soft-bounds device (tau 0.6, dw_min 1e-3) with `body` setting its effects.
func effectDevice(_ family: DeviceConfig.Family = .softBounds, _ body: (inout DeviceConfig) -> Void) -> DeviceConfig {
    var d = DeviceConfig()
    d.family = family
    body(&d)
    return d
}

/// A 64 x 64 array (4096 devices) of `d`.
func effectArray(_ d: DeviceConfig, seed: UInt64 = 1) -> AnalogArray {
    AnalogArray(rows: 64, cols: 64, device: d, key: StreamKey(seed: seed, purpose: .deviceToDevice, 0),
                effectsKey: StreamKey(seed: seed, purpose: .deviceEffects, 0))
}

/// Sample mean and variance (n - 1 in the denominator) in Double.
func moments(_ v: [Float]) -> (mean: Double, variance: Double) {
    let n = Double(v.count)
    let mean = v.reduce(0.0) { $0 + Double($1) } / n
    let variance = v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1)
    return (mean, variance)
}

/// The chi-square bound used below: for n independent normals of variance sigma^2, (n - 1) s^2 / sigma^2 ~ chi^2(n - 1),
/// whose standard deviation is sqrt(2 (n - 1)); so s^2 / sigma^2 lies within 1 +- 5 sqrt(2 / (n - 1)) except with
/// probability below 1e-6 (5 sigma of a distribution that is close to normal at n = 4096: +-0.11).
func withinChiSquare(_ sampleVariance: Double, _ variance: Double, n: Int) -> Bool {
    abs(sampleVariance / variance - 1) <= 5 * (2 / Double(n - 1)).squareRoot()
}

@Suite("Device effects (aihwkit write noise, decay, diffusion, reset, corrupt devices)")
struct DeviceEffectsTests {
    /// aihwkit's decay: w <- (w - b) s + b per mini-batch with s = 1 - 1/lifetime, so after t mini-batches
    /// w(t) = b + (w0 - b)(1 - 1/lifetime)^t (the discrete form of b + (w0 - b) exp(-t/lifetime)). Checked bit for bit
    /// against that recursion in Float, and against the closed form (1 - 1/lifetime)^t in Double to 1e-6.
    @Test("Decay: w(t) = b + (w0 - b)(1 - 1/lifetime)^t towards the reset bias, lifetime <= 1 resets at once")
    func decay() throws {
        let lifetime = 20.0, b: Float = 0.1, w0: Float = 0.5
        let a = effectArray(effectDevice { $0.lifetime = lifetime; $0.reset = Double(b) })
        a.setWeights([Float](repeating: w0, count: a.count))
        var expected = w0
        let s: Float = 1 - 1 / Float(lifetime)
        for t in 1...60 {
            a.stepEnded()
            expected = (expected - b) * s + b
            #expect(a.weightsArray().allSatisfy { $0 == expected }, "step \(t)")
            let closed = Double(b) + Double(w0 - b) * pow(1 - 1 / lifetime, Double(t))
            #expect(abs(Double(a.weight(0)) - closed) < 1e-6)
        }
        // exp(-t/lifetime) is the continuous limit: at t = 60 the two differ by (w0 - b) |0.95^60 - e^-3| = 0.0012.
        #expect(abs(Double(a.weight(0)) - (Double(b) + Double(w0 - b) * exp(-60 / lifetime))) < 0.002)
        // aihwkit: lifetime_i <= 1 gives s = 0, the device goes to its bias in one mini-batch.
        let once = effectArray(effectDevice { $0.lifetime = 1; $0.reset = -0.2 })
        once.setWeights([Float](repeating: 0.4, count: once.count))
        once.stepEnded()
        #expect(once.weightsArray().allSatisfy { $0 == -0.2 })
    }

    /// lifetime_dtod and reset_dtod: each device decays towards its own b_i = reset + reset_dtod xi with its own
    /// s_i = 1 - 1/(lifetime (1 + lifetime_dtod xi)); one step moves device i exactly as that formula says.
    @Test("Decay with device-to-device lifetimes and reset biases: per device as drawn; b_i has mean reset, sd reset_dtod")
    func decaySpread() throws {
        let d = effectDevice { $0.lifetime = 10; $0.lifetimeDtod = 0.3; $0.reset = 0.05; $0.resetDtod = 0.02 }
        let a = effectArray(d)
        let effects = try #require(a.effects)
        a.setWeights([Float](repeating: 0.3, count: a.count))
        a.stepEnded()
        var biases = [Float](), scales = [Float]()
        for i in 0..<a.count {
            let p = effects.parameters(i)
            biases.append(p.bias)
            scales.append(p.decay)
            #expect(a.weight(i) == (0.3 - p.bias) * p.decay + p.bias)
        }
        let m = moments(biases)
        // Mean of 4096 normals: within 5 standard errors; variance: the chi-square bound.
        #expect(abs(m.mean - 0.05) < 5 * 0.02 / 64)
        #expect(withinChiSquare(m.variance, 0.02 * 0.02, n: a.count))
        #expect(Set(scales).count > 1000 && scales.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    /// aihwkit's write noise: reads see w + sigma xi, sigma = write_noise_std dw_min, drawn anew when a device is
    /// updated and never accumulated. After programming and after each of 10 updates, (read - persistent) over the
    /// updated devices has variance sigma^2 within the chi-square bound; the persistent states follow the update
    /// without noise; devices the update does not touch keep their read values.
    @Test("Write noise: Var(read - persistent) = (write_noise_std dw_min)^2 after each update, no accumulation")
    func writeNoise() throws {
        let d = effectDevice { $0.writeNoiseStd = 5 }
        let sigma = 5 * d.effectiveDwMin
        let a = effectArray(d)
        let persistent = try #require(a.persistentStates)
        a.setWeights([Float](repeating: 0.1, count: a.count))
        func noise() -> [Float] { (0..<a.count).map { a.weights[$0] - persistent[$0] } }
        #expect((0..<a.count).allSatisfy { persistent[$0] == 0.1 })
        #expect(withinChiSquare(moments(noise()).variance, sigma * sigma, n: a.count))
        // Expected updates of rows 0..<32 only (dW = 1e-3 there): those devices' noise is new, the others' unchanged.
        var delta = [Float](repeating: 0, count: a.count)
        for i in 0..<(a.count / 2) { delta[i] = 1e-3 }
        let before = a.weightsArray()
        let clean = effectArray(effectDevice { _ in })
        clean.setWeights([Float](repeating: 0.1, count: clean.count))
        for _ in 0..<10 {
            let untouched = Array(a.weightsArray()[(a.count / 2)...])
            a.expectedUpdate(delta: delta)
            clean.expectedUpdate(delta: delta)
            #expect(Array(a.weightsArray()[(a.count / 2)...]) == untouched)
            let n = Array(noise()[..<(a.count / 2)])
            #expect(withinChiSquare(moments(n).variance, sigma * sigma, n: n.count))
        }
        #expect(a.weightsArray() != before)
        // The persistent states are the noise-free update's states, bit for bit.
        #expect((0..<a.count).allSatisfy { persistent[$0] == clean.weights[$0] })
        // apply_write_noise_on_set false: programming shows the states themselves.
        let quiet = effectArray(effectDevice { $0.writeNoiseStd = 5; $0.applyWriteNoiseOnSet = false })
        quiet.setWeights([Float](repeating: 0.2, count: quiet.count))
        #expect(quiet.weightsArray().allSatisfy { $0 == 0.2 })
    }

    /// Write noise in pulsed updates: the devices that received a pulse (and only those) draw new noise.
    @Test("Write noise in pulsed per-sample updates: redrawn on the devices that fired, kept elsewhere")
    func writeNoisePulsed() throws {
        let d = effectDevice { $0.writeNoiseStd = 3 }
        let a = effectArray(d)
        let persistent = try #require(a.persistentStates)
        a.setWeights([Float](repeating: 0, count: a.count))
        let x = [Float](repeating: 0, count: 32) + [Float](repeating: 1, count: 32)   // columns 32..<64 fire
        let dv = [Float](repeating: 1, count: 64)
        let before = a.weightsArray(), statesBefore = (0..<a.count).map { persistent[$0] }
        var trains = RandomStream(key: StreamKey(seed: 3, purpose: .pulseTrains)), c2c = RandomStream(key: StreamKey(seed: 3, purpose: .cycleToCycle))
        a.pulsedUpdate(x: x, d: dv, lr: 0.1, update: UpdateConfig(), trains: &trains, noise: &c2c)
        var moved = 0, redrawn = [Float]()
        for i in 0..<a.count {
            let fired = persistent[i] != statesBefore[i]
            if i % 64 < 32 { #expect(!fired && a.weights[i] == before[i]) }
            if fired {
                moved += 1
                #expect(a.weights[i] != before[i])
                redrawn.append(a.weights[i] - persistent[i])
            }
        }
        #expect(moved > 1500)
        let sigma = 3 * d.effectiveDwMin
        #expect(withinChiSquare(moments(redrawn).variance, sigma * sigma, n: redrawn.count))
    }

    /// aihwkit's diffusion: w <- w + rho xi per mini-batch, so the increments of one step have variance rho^2 and after
    /// t steps from a common start Var w = t rho^2 (far from the bounds: 4 sd = 0.08 < 0.6). Both within the
    /// chi-square bound; with diffusion_dtod, rho_i = abs(rho (1 + dtod xi)) per device.
    @Test("Diffusion: variance grows by rho^2 per mini-batch")
    func diffusion() throws {
        let rho = 0.01
        let a = effectArray(effectDevice { $0.diffusion = rho })
        a.setWeights([Float](repeating: 0, count: a.count))
        var previous = a.weightsArray()
        for t in 1...4 {
            a.stepEnded()
            let now = a.weightsArray()
            let step = zip(now, previous).map { $0 - $1 }
            #expect(withinChiSquare(moments(step).variance, rho * rho, n: a.count), "step \(t)")
            #expect(withinChiSquare(moments(now).variance, Double(t) * rho * rho, n: a.count), "after \(t) steps")
            previous = now
        }
        let spread = effectArray(effectDevice { $0.diffusion = rho; $0.diffusionDtod = 0.2 })
        let rates = (0..<spread.count).map { spread.effects!.parameters($0).diffusion }
        #expect(abs(moments(rates).mean - rho) < 5 * rho * 0.2 / 64)
        #expect(withinChiSquare(moments(rates).variance, rho * rho * 0.04, n: rates.count))
    }

    /// aihwkit's corrupt devices: each device stuck with probability p at a value in [-range, range] within its bounds.
    /// The number stuck among n = 4096 is Binomial(n, p): within 4 sd, sqrt(n p (1 - p)), of n p (fails with
    /// probability 6e-5). Stuck devices never move: not under pulses (per sample and per batch), expected updates,
    /// threshold pulses, decay, diffusion or resets, for every family; the other devices do move.
    @Test("Corrupt devices: stuck fraction within a binomial bound; stuck devices never move, for every family",
          arguments: DeviceConfig.Family.allCases.filter { $0 != .piecewise })
    func corruptDevices(family: DeviceConfig.Family) throws {
        let p = 0.2
        let d = effectDevice(family) {
            $0.corruptDevicesProb = p; $0.corruptDevicesRange = 0.3; $0.dwMinStd = 0.3; $0.dwMinDtod = 0.3
            $0.lifetime = 50; $0.diffusion = 0.001; $0.writeNoiseStd = 0
        }
        let a = effectArray(d)
        let stuck = try #require(a.effects).stuckDevices
        let n = Double(a.count)
        #expect(abs(Double(stuck.indices.count) - n * p) <= 4 * (n * p * (1 - p)).squareRoot(), "\(stuck.indices.count) stuck")
        #expect(stuck.values.allSatisfy { abs($0) <= 0.3 })
        a.setWeights([Float](repeating: 0.05, count: a.count))
        let start = a.weightsArray()
        var trains = RandomStream(key: StreamKey(seed: 5, purpose: .pulseTrains)), c2c = RandomStream(key: StreamKey(seed: 5, purpose: .cycleToCycle))
        let x = (0..<64).map { Float(($0 % 7) - 3) / 3 }, dv = (0..<64).map { Float(($0 % 5) - 2) / 2 }
        for _ in 0..<20 { a.pulsedUpdate(x: x, d: dv, lr: 0.5, update: UpdateConfig(), trains: &trains, noise: &c2c) }
        let delta = [Float](repeating: -0.01, count: a.count)
        a.pulsedUpdate(delta: delta, bl: 31, counts: &trains, noise: &c2c)
        a.expectedUpdate(delta: delta)
        a.firePulses(element: stuck.indices[0], count: 50, down: false, noisy: true, noise: &c2c)
        a.stepEnded()
        a.resetDevices(columns: 0..<64, probability: 0.5, stream: &trains)
        for (k, i) in stuck.indices.enumerated() {
            #expect(a.weight(i) == stuck.values[k] && a.state[i] == stuck.values[k])
        }
        let others = Set(0..<a.count).subtracting(stuck.indices)
        #expect(others.filter { a.weight($0) != start[$0] }.count > others.count / 2)
    }

    /// aihwkit's reset: w = b_i + reset_std xi, clipped; with reset_dtod 0 the values have mean reset and sd reset_std
    /// (mean within 5 standard errors, variance within the chi-square bound); probability 0.5 resets about half
    /// (binomial, 4 sd); reset_std 0 puts every device exactly at b_i.
    @Test("Reset: mean reset, sd reset_std; a fraction of columns' devices with probability p")
    func reset() throws {
        let a = effectArray(effectDevice { $0.reset = 0.1; $0.resetStd = 0.02; $0.lifetime = 1e9 })
        var s = RandomStream(key: StreamKey(seed: 9, purpose: .deviceEffects))
        #expect(a.resetDevices(columns: 0..<64, stream: &s) == a.count)
        let m = moments(a.weightsArray())
        #expect(abs(m.mean - 0.1) < 5 * 0.02 / 64)
        #expect(withinChiSquare(m.variance, 0.02 * 0.02, n: a.count))
        let b = effectArray(effectDevice { $0.reset = -0.1; $0.resetStd = 0; $0.resetDtod = 0.03; $0.lifetime = 1e9 })
        b.setWeights([Float](repeating: 0.5, count: b.count))
        let count = b.resetDevices(columns: 10..<42, probability: 0.5, stream: &s)
        let n = 64.0 * 32
        #expect(abs(Double(count) - n / 2) <= 4 * (n / 4).squareRoot())
        for i in 0..<b.count where b.weight(i) != 0.5 { #expect(b.weight(i) == b.effects!.parameters(i).bias && (10..<42).contains(i % 64)) }
    }

    @Test("Memory: no bytes per device without effects; the stored draws with them; bad values name key and range")
    func memoryAndValidation() throws {
        for d in [DeviceConfig.softBoundsDefault, DeviceConfig()] {
            #expect(DeviceEffects.bytesPerDevice(d) == 0)
            #expect(effectArray(d).effects == nil)
        }
        var d = DeviceConfig.softBoundsDefault
        d.writeNoiseStd = 1
        #expect(AnalogArray.bytesPerDevice(d) == AnalogArray.bytesPerDevice(.softBoundsDefault) + 4)
        d.lifetime = 100; d.lifetimeDtod = 0.1; d.diffusion = 0.01; d.diffusionDtod = 0.1; d.resetDtod = 0.01; d.corruptDevicesProb = 0.1
        // write noise 4, bounds for the per-mini-batch pass 8, lifetime_i 4, rho_i 4, b_i 4, stuck devices 8 x 0.1 -> 1.
        #expect(DeviceEffects.bytesPerDevice(d) == 4 + 8 + 4 + 4 + 4 + 1)
        d.lifetime = 0; d.diffusion = 0; d.writeNoiseStd = 0
        #expect(DeviceEffects.bytesPerDevice(d) == 4 + 1)
        for (key, set) in [("device.lifetime", { (d: inout DeviceConfig) in d.lifetime = -1 }),
                           ("device.write_noise_std", { $0.writeNoiseStd = -0.5 }),
                           ("device.diffusion", { $0.diffusion = .infinity }),
                           ("device.corrupt_devices_prob", { $0.corruptDevicesProb = 1.5 }),
                           ("device.corrupt_devices_range", { $0.corruptDevicesRange = -0.1 }),
                           ("device.reset_std", { $0.resetStd = -1 }),
                           ("device.lifetime_dtod", { $0.lifetimeDtod = 3 })] {
            var bad = DeviceConfig()
            set(&bad)
            do {
                try bad.validate()
                Issue.record("\(key) accepted")
            } catch {
                #expect(error.key == key && error.description.contains("["), "\(error)")
            }
        }
    }
}
