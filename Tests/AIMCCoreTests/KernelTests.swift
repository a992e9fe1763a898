import Crypto
import CPulseKernels
import Foundation
import Testing
import AIMCCore

/// A soft-bounds device with aihwkit's variability (the benchmark's device) and the given c2c form.
func variableSoftBounds(c2c: Double = 0.3, mode: DeviceConfig.CycleToCycleMode = .multiplicative) -> DeviceConfig {
    var d = DeviceConfig()
    d.dwMinStd = c2c
    d.c2cMode = mode
    d.dwMinDtod = 0.3
    d.wMaxDtod = 0.3
    d.wMinDtod = 0.3
    return d
}

/// SHA-256 of an array's states (their bits).
func stateDigest(_ a: AnalogArray) -> String {
    let bytes = UnsafeRawBufferPointer(start: a.weights, count: 4 * a.count)
    return SHA256.hash(data: Data(bytes)).map { String(format: "%02x", $0) }.joined()
}

/// Runs a fixed mix of pulsed updates on a fresh array of `device` and returns the digest of its states and the
/// summed statistics: per-sample updates at lr 0.1 and 0.01 (rows as lines), a one-hot update (columns as lines),
/// and a per-batch binomial update.
func pulsedWorkload(_ device: DeviceConfig, rows: Int = 40, cols: Int = 70) -> (String, PulseStatistics) {
    let a = AnalogArray(rows: rows, cols: cols, device: device, key: StreamKey(seed: 3, purpose: .deviceToDevice),
                        tileKey: StreamKey(seed: 3, purpose: .tileToTile))
    var gen = RandomStream(key: StreamKey(seed: 4, purpose: .benchmark))
    a.setWeights((0..<a.count).map { _ in (gen.nextUniform() * 2 - 1) * 0.3 })
    var stats = PulseStatistics()
    for (t, lr) in [Float(0.1), 0.01, 0.1, 0.5].enumerated() {
        var x = (0..<cols).map { _ in gen.nextUniform() * 2 - 1 }
        var d = (0..<rows).map { _ in gen.nextUniform() * 2 - 1 }
        x[3] = 0
        d[5] = 0
        var trains = RandomStream(key: StreamKey(seed: 5, purpose: .pulseTrains), step: UInt64(t), sub: 0)
        var noise = RandomStream(key: StreamKey(seed: 5, purpose: .cycleToCycle), step: UInt64(t), sub: 0)
        stats += a.pulsedUpdate(x: &x, d: &d, lr: lr, update: UpdateConfig(), trains: &trains, noise: &noise)
    }
    var oneHot = [Float](repeating: 0, count: cols)
    oneHot[7] = 1
    var column = (0..<rows).map { _ in gen.nextUniform() * 2 - 1 }
    var trains = RandomStream(key: StreamKey(seed: 6, purpose: .pulseTrains))
    var noise = RandomStream(key: StreamKey(seed: 6, purpose: .cycleToCycle))
    stats += a.pulsedUpdate(x: &oneHot, d: &column, lr: 0.3, update: UpdateConfig(), trains: &trains, noise: &noise)
    let delta = (0..<a.count).map { _ in (gen.nextUniform() * 2 - 1) * 0.02 }
    var counts = RandomStream(key: StreamKey(seed: 7, purpose: .pulseTrains))
    var batchNoise = RandomStream(key: StreamKey(seed: 7, purpose: .cycleToCycle))
    stats += delta.withUnsafeBufferPointer { a.pulsedUpdate(delta: $0.baseAddress!, bl: 31, counts: &counts, noise: &batchNoise) }
    return (stateDigest(a), stats)
}

/// The devices the kernel tests run: every affine configuration the C kernel takes, and families it does not take.
let kernelDevices: [(String, DeviceConfig)] = {
    var list: [(String, DeviceConfig)] = [
        ("soft-bounds, multiplicative c2c", variableSoftBounds()),
        ("soft-bounds, additive c2c", variableSoftBounds(c2c: 0.5, mode: .additive)),
        ("soft-bounds, no c2c", variableSoftBounds(c2c: 0)),
    ]
    var all = variableSoftBounds()
    all.asymmetry = 0.2
    all.asymmetryDtod = 0.1
    all.upDown = -0.1
    all.upDownDtod = 0.05
    all.symmetricPointDtod = 0.05
    all.t2tDwMin = 0.1
    all.t2tRange = 0.1
    all.t2tSymmetricPoint = 0.02
    list.append(("soft-bounds, six spreads and tile draws", all))
    var linear = variableSoftBounds(mode: .additive)
    linear.family = .linearStep
    linear.gammaUp = 0.5
    linear.gammaDown = 0.3
    linear.gammaDtod = 0.1
    linear.meanBoundReference = true
    list.append(("linear-step, mean bound reference", linear))
    var constant = variableSoftBounds()
    constant.family = .constantStep
    constant.upDown = 0.05
    list.append(("constant-step", constant))
    var power = variableSoftBounds()
    power.family = .power
    power.gamma = 2
    power.gammaDtod = 0.1
    list.append(("power (Swift loop)", power))
    var eight = linear
    eight.asymmetryDtod = 0.1
    eight.upDownDtod = 0.05
    eight.symmetricPointDtod = 0.05
    list.append(("linear-step, eight spreads (12-bit draws, Swift loop)", eight))
    return list
}()

@Suite("Pulse kernels", .serialized)
struct KernelTests {
    @Test("The kernels' Philox blocks are Random123's Philox4x32-10, on every instruction set")
    func philoxBlocks() {
        let key = StreamKey(seed: 11, purpose: .cycleToCycle, 2, 3)
        let stream = aimc_stream(key0: key.words.x, key1: key.words.y, c1: 17, c2: 0, c3: 0x8000_0003)
        let previous = KernelInstructionSet.current
        defer { previous.select() }
        for isa in KernelInstructionSet.allCases where isa.isSupported {
            isa.select()
            var out = [UInt32](repeating: 0, count: 4 * 37)
            aimc_philox_blocks(stream, 0xFFFF_FFF0, 37, &out)
            for b in 0..<37 {
                let expected = Philox4x32.block(counter: SIMD4(0xFFFF_FFF0 &+ UInt32(b), 17, 0, 0x8000_0003), key: key.words)
                #expect(Array(out[4 * b ..< 4 * b + 4]) == [expected.x, expected.y, expected.z, expected.w], "\(isa.name) block \(b)")
            }
        }
    }

    /// 2^20 normals: with N draws the sample mean has standard error 1/sqrt(N), the sample variance sqrt(2/N), the
    /// fourth moment sqrt((105 - 9)/N) (E z^8 = 105), a tail fraction p sqrt(p(1 - p)/N), the lag-1 product 1/sqrt(N).
    /// Bounds are 5 standard errors (two-sided P ~ 6e-7 each).
    @Test("The kernels' normals are standard normal (moments, tails, independence of neighbours)")
    func normalMoments() {
        let stream = aimc_stream(key0: 0x1234_5678, key1: 0x9ABC_DEF0, c1: 1, c2: 2, c3: 3)
        let entriesPerCall = 32, calls = 1024
        let n = Double(entriesPerCall * 32 * calls)
        var z = [Float](repeating: 0, count: 32 * entriesPerCall)
        var s1 = 0.0, s2 = 0.0, s4 = 0.0, lag = 0.0, beyond2 = 0.0, beyond3 = 0.0, largest: Float = 0
        var previous = 0.0
        for c in 0..<calls {
            aimc_normals(stream, UInt32(256 * c), Int32(entriesPerCall), &z)
            for v in z {
                let x = Double(v)
                s1 += x; s2 += x * x; s4 += x * x * x * x
                lag += x * previous
                previous = x
                if abs(x) > 2 { beyond2 += 1 }
                if abs(x) > 3 { beyond3 += 1 }
                largest = max(largest, abs(v))
            }
        }
        let mean = s1 / n, variance = s2 / n - mean * mean
        #expect(abs(mean) < 5 / n.squareRoot(), "mean \(mean)")
        #expect(abs(variance - 1) < 5 * (2 / n).squareRoot(), "variance \(variance)")
        #expect(abs(s4 / n - 3) < 5 * (96 / n).squareRoot(), "fourth moment \(s4 / n)")
        #expect(abs(lag / n) < 5 / n.squareRoot(), "lag-1 \(lag / n)")
        for (count, p) in [(beyond2, 0.045500263896), (beyond3, 0.002699796063)] {
            #expect(abs(count / n - p) < 5 * (p * (1 - p) / n).squareRoot(), "P(|z| > k): \(count / n) vs \(p)")
        }
        // Box-Muller with u >= 2^-32: |z| <= sqrt(64 ln 2) = 6.66.
        #expect(largest <= 6.67)
    }

    @Test("Every instruction set gives the same bits (updates of every kind, every family)")
    func instructionSetsAgree() {
        let previous = KernelInstructionSet.current
        defer { previous.select() }
        let supported = KernelInstructionSet.allCases.filter(\.isSupported)
        #expect(supported.contains(.sse2))
        for (label, device) in kernelDevices {
            var results = [(String, String)]()
            for isa in supported {
                isa.select()
                results.append((isa.name, pulsedWorkload(device).0))
            }
            #expect(Set(results.map(\.1)).count == 1, "\(label): \(results)")
        }
    }

    @Test("The C kernel and the Swift loop give the same bits for the affine families")
    func kernelMatchesSwiftLoop() {
        defer { AnalogArray.swiftLoopForAffineFamilies = false }
        for (label, device) in kernelDevices {
            AnalogArray.swiftLoopForAffineFamilies = false
            let (kernel, kernelStats) = pulsedWorkload(device)
            AnalogArray.swiftLoopForAffineFamilies = true
            let (loop, loopStats) = pulsedWorkload(device)
            #expect(kernel == loop, "\(label)")
            #expect(kernelStats == loopStats, "\(label): \(kernelStats) vs \(loopStats)")
            #expect(kernelStats.coincidences > 0)
        }
    }

    @Test("The cells the kernel computes are DeviceModel.cell's: clipping bounds and the expected update, bit for bit")
    func kernelCells() throws {
        for (label, device) in kernelDevices {
            let a = AnalogArray(rows: 9, cols: 33, device: device, key: StreamKey(seed: 8, purpose: .deviceToDevice),
                                tileKey: StreamKey(seed: 8, purpose: .tileToTile))
            // setWeights clips to each device's bounds.
            a.setWeights([Float](repeating: 1e6, count: a.count))
            for i in 0..<a.count { #expect(a.weights[i] == a.cells[i].wMax, "\(label) \(i)") }
            a.setWeights([Float](repeating: -1e6, count: a.count))
            for i in 0..<a.count { #expect(a.weights[i] == a.cells[i].wMin, "\(label) \(i)") }
            // Eq. 2 with each device's own cell, as ExpectedVisitor computes it.
            var gen = RandomStream(key: StreamKey(seed: 9, purpose: .benchmark))
            let start = (0..<a.count).map { _ in (gen.nextUniform() * 2 - 1) * 0.2 }
            let delta = (0..<a.count).map { _ in (gen.nextUniform() * 2 - 1) * 0.05 }
            a.setWeights(start)
            let before = (0..<a.count).map { a.weights[$0] }
            delta.withUnsafeBufferPointer { _ = a.expectedUpdate(delta: $0.baseAddress!) }
            let inv = 1 / a.model.dwMin
            for i in 0..<a.count {
                let c = a.cells[i], w0 = before[i], d = delta[i]
                let s = a.model.steps(c, at: w0)
                let w = w0 + (d > 0 ? d * inv * s.up : d * inv * s.down)
                #expect(a.weights[i] == min(max(w, c.wMin), c.wMax), "\(label) \(i)")
            }
        }
    }

    @Test("Pulses cut by a bound are counted on the pulsed, per-batch, threshold and expected paths")
    func clippedCounts() {
        // Constant step 0.1 from 0.35 towards w_max = 0.5: pulse 1 reaches 0.45, pulses 2...n are cut.
        var d = DeviceConfig()
        d.family = .constantStep
        d.dwMin = 0.1
        d.wMax = 0.5
        d.wMin = -0.5
        for n in [1, 2, 5, 31] {
            let a = AnalogArray(rows: 1, cols: 1, device: d, key: StreamKey(seed: 0, purpose: .deviceToDevice))
            a.setWeights([0.35])
            var x: [Float] = [1], e: [Float] = [-1]
            var t = RandomStream(key: StreamKey(seed: 0, purpose: .pulseTrains))
            var z = RandomStream(key: StreamKey(seed: 0, purpose: .cycleToCycle))
            let s = a.pulsedUpdate(x: &x, d: &e, lr: Float(n), update: exactPulses(n), trains: &t, noise: &z)
            #expect(s.coincidences == UInt64(n) && s.clipped == UInt64(max(n - 1, 0)), "per sample, n = \(n): \(s)")
            #expect(a.weights[0] == 0.5 || n == 1)
            a.setWeights([0.35])
            let f = a.firePulses(element: 0, count: n, down: false, noisy: false, noise: &z)
            #expect(f.coincidences == UInt64(n) && f.clipped == UInt64(max(n - 1, 0)), "threshold, n = \(n): \(f)")
        }
        // Per batch: dW = BL dw_min gives p = 1, so BL pulses; from -0.45 down, all but none reach the bound...
        let b = AnalogArray(rows: 1, cols: 2, device: d, key: StreamKey(seed: 0, purpose: .deviceToDevice))
        b.setWeights([0.35, -0.35])
        var counts = RandomStream(key: StreamKey(seed: 1, purpose: .pulseTrains))
        var noise = RandomStream(key: StreamKey(seed: 1, purpose: .cycleToCycle))
        let delta: [Float] = [0.4, -0.4]    // 4 pulses each: 1 lands inside, 3 are cut
        let s = delta.withUnsafeBufferPointer { b.pulsedUpdate(delta: $0.baseAddress!, bl: 4, counts: &counts, noise: &noise) }
        #expect(s.coincidences == 8 && s.clipped == 6, "\(s)")
        #expect(b.weights[0] == 0.5 && b.weights[1] == -0.5)
        // Expected: one device overshoots (cut), one does not.
        b.setWeights([0.35, 0])
        let ex = [Float(0.5), 0.01].withUnsafeBufferPointer { b.expectedUpdate(delta: $0.baseAddress!) }
        #expect(ex.clipped == 1 && ex.updates == 1)
    }

    @Test("Two updates on one stream draw different normals; the same stream state draws the same")
    func streamAdvance() {
        let device = variableSoftBounds()
        func run(reuse: Bool) -> String {
            let a = AnalogArray(rows: 8, cols: 8, device: device, key: StreamKey(seed: 1, purpose: .deviceToDevice))
            var x = [Float](repeating: 0.7, count: 8), d = [Float](repeating: -0.7, count: 8)
            var t = RandomStream(key: StreamKey(seed: 2, purpose: .pulseTrains))
            var z = RandomStream(key: StreamKey(seed: 2, purpose: .cycleToCycle))
            a.pulsedUpdate(x: &x, d: &d, lr: 0.05, update: UpdateConfig(), trains: &t, noise: &z)
            if !reuse { z = RandomStream(key: StreamKey(seed: 2, purpose: .cycleToCycle)) }
            t = RandomStream(key: StreamKey(seed: 2, purpose: .pulseTrains))
            a.setWeights([Float](repeating: 0, count: 64))
            a.pulsedUpdate(x: &x, d: &d, lr: 0.05, update: UpdateConfig(), trains: &t, noise: &z)
            return stateDigest(a)
        }
        let fresh = run(reuse: false), reused = run(reuse: true), again = run(reuse: true)
        #expect(fresh != reused)
        #expect(reused == again)
    }

    @Test("Draws are stored in at most 12 bytes per device, rounded to the stated resolution")
    func drawLayout() {
        for (label, device) in kernelDevices {
            let layout = DrawLayout(device: device)
            #expect(AnalogArray.bytesPerDevice(device) <= 16, "\(label)")
            #expect(layout.recordBytes <= 12)
            #expect(layout.stored == DrawLayout(device: device).slots.filter { $0 >= 0 }.count)
        }
        #expect(DrawLayout(device: DeviceConfig()).recordBytes == 0)
        #expect(DrawLayout(device: variableSoftBounds()).recordBytes == 8)
        #expect(DrawLayout(device: kernelDevices[7].1).packed)
        // Round trip through an array: the stored normal differs from the drawn one by at most half the resolution.
        for (_, device) in [kernelDevices[0], kernelDevices[7]] {
            let layout = DrawLayout(device: device)
            let key = StreamKey(seed: 12, purpose: .deviceToDevice)
            let a = AnalogArray(rows: 50, cols: 40, device: device, key: key)
            var s = RandomStream(key: key)
            var worst: Float = 0
            for i in 0..<a.count {
                let xi = (0..<DeviceModel.normalsPerDevice).map { _ in s.nextNormal() }
                var stored = [Float](repeating: 0, count: DeviceModel.normalsPerDevice)
                layout.decodeRecord(a.records! + i * layout.recordBytes, into: &stored)
                for k in 0..<DeviceModel.normalsPerDevice {
                    if layout.slots[k] < 0 { #expect(stored[k] == 0); continue }
                    worst = max(worst, abs(stored[k] - xi[k]))
                }
                // dw_i = dw_min |1 + s xi|: a stored xi within resolution/2 moves it by at most dw_min s resolution/2
                // (plus the roundings of the Float arithmetic, a few 2^-24 of dw_i).
                let exact = xi.withUnsafeBufferPointer { a.model.cell($0.baseAddress!, tile: a.tile) }
                let bound = a.model.dwMin * Float(device.dwMinDtod) * layout.resolution / 2 + 4 * exact.dw * 0x1p-24
                #expect(abs(a.cells[i].dw - exact.dw) <= bound, "device \(i)")
            }
            #expect(worst <= layout.resolution / 2 && worst > 0)
        }
    }
}
