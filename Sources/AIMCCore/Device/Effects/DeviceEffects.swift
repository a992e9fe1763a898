/// The device effects of one array beyond its pulse response, composed with every response family (aihwkit 1.1.0's
/// `PulsedDevice` fields): write noise (`WriteNoise`), decay towards the reset bias (`Decay`), diffusion
/// (`Diffusion`), the reset bias and resets (`ResetBias`) and corrupt devices (`CorruptDevices`). Each effect is one
/// type in its own file; this class owns them and applies them at the three moments aihwkit does:
///
/// - after every update of the array (pulsed, per-batch binomial, expected, threshold pulses, zero-shifting): stuck
///   devices are held at their values, then the updated devices' write noise is drawn anew (`updated`);
/// - after every mini-batch (aihwkit's `AnalogTile.post_update_step`, called by its analog optimizer after each
///   step): diffusion, then decay, each clipped to the device's bounds, stuck devices held, write noise drawn anew
///   for every device (`stepEnded`);
/// - when weights are programmed (`programmed`) or devices reset (`AnalogArray.resetDevices`).
///
/// Draws: the per-device parameters (lifetime_i, rho_i, b_i, stuck devices) come from the array's device-to-device
/// key at counters (tag, 0, 0), tag 1 decay, 2 diffusion, 3 reset bias, 4 corrupt devices, one stream each, device by
/// device in index order; they are drawn again whenever the array is built and are not checkpoint state. Draws at run
/// time (write noise, diffusion steps, resets) come from the run's key (seed, deviceEffects, block, array) at counter
/// (`clock`, 0): `clock` counts the operations that drew so far and is checkpoint state (`AnalogArray.effectsClock`).
public final class DeviceEffects {
    let writeNoise: WriteNoise?
    let decay: Decay?
    let diffusion: Diffusion?
    let resetBias: ResetBias
    let corrupt: CorruptDevices?
    let runtimeKey: StreamKey
    /// Each device's bounds (b_min, b_max) when diffusion or decay is on (they clip every device after every
    /// mini-batch; stored so that the per-step pass does not recompute each device's parameters), else nil.
    let lowerBounds: UnsafeMutablePointer<Float>?, upperBounds: UnsafeMutablePointer<Float>?
    /// Operations that drew from the run-time streams so far.
    var clock: UInt64 = 0

    /// Bytes per device the effects of `d` store (0 when every effect is off): 4 for write noise's persistent
    /// states, 8 for each device's bounds with diffusion or decay, 4 each for lifetime_i, rho_i and b_i when their
    /// device-to-device spread is set, and 8 per stuck device (8 prob on average, rounded up).
    public static func bytesPerDevice(_ d: DeviceConfig) -> Int {
        guard d.hasEffects else { return 0 }
        var b = d.writeNoiseStd > 0 ? 4 : 0
        if d.lifetime > 0 || d.diffusion > 0 { b += 8 }
        if d.lifetime > 0 && d.lifetimeDtod > 0 { b += 4 }
        if d.diffusion > 0 && d.diffusionDtod > 0 { b += 4 }
        if d.resetDtod > 0 { b += 4 }
        if d.corruptDevicesProb > 0 { b += Int((8 * d.corruptDevicesProb).rounded(.up)) }
        return b
    }

    /// Draws the per-device parameters of `d`'s effects for `count` devices.
    /// - Parameters:
    ///   - writeNoise: the persistent states, allocated before the array's pulse code takes its state pointer.
    ///   - key: the array's device-to-device key; runtimeKey: (seed, deviceEffects, block, array).
    ///   - bounds: device i's (b_min, b_max).
    init(_ d: DeviceConfig, count: Int, writeNoise: WriteNoise?, key: StreamKey, runtimeKey: StreamKey,
         bounds: (Int) -> (Float, Float)) {
        self.writeNoise = writeNoise
        var s = RandomStream(key: key, counter: (1, 0, 0))
        decay = Decay(d, count: count, stream: &s)
        s = RandomStream(key: key, counter: (2, 0, 0))
        diffusion = Diffusion(d, count: count, stream: &s)
        s = RandomStream(key: key, counter: (3, 0, 0))
        resetBias = ResetBias(d, count: count, stream: &s)
        s = RandomStream(key: key, counter: (4, 0, 0))
        corrupt = CorruptDevices(d, count: count, stream: &s, bounds: bounds)
        self.runtimeKey = runtimeKey
        if decay != nil || diffusion != nil {
            let lo = UnsafeMutablePointer<Float>.allocate(capacity: count), hi = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count { (lo[i], hi[i]) = bounds(i) }
            lowerBounds = lo
            upperBounds = hi
        } else {
            lowerBounds = nil
            upperBounds = nil
        }
    }

    deinit {
        writeNoise?.deallocate(); decay?.deallocate(); diffusion?.deallocate(); resetBias.deallocate()
        lowerBounds?.deallocate(); upperBounds?.deallocate()
    }

    /// The stuck devices (indices in ascending order) and their values (empty without corrupt devices).
    public var stuckDevices: (indices: [Int], values: [Float]) { (corrupt?.indices ?? [], corrupt?.values ?? []) }

    /// Device i's decay factor s_i (1 without decay), reset bias b_i and diffusion rate rho_i (0 without diffusion).
    public func parameters(_ i: Int) -> (decay: Float, bias: Float, diffusion: Float) {
        (decay?.scale(i) ?? 1, resetBias.bias(i), diffusion?.rate(i) ?? 0)
    }

    /// Whether anything happens after a mini-batch (diffusion or decay).
    var actsPerStep: Bool { decay != nil || diffusion != nil }

    /// The next run-time stream.
    func nextStream() -> RandomStream {
        defer { clock &+= 1 }
        return RandomStream(key: runtimeKey, step: clock, sub: 0)
    }

    /// After an update of array `a`: holds the stuck devices, then draws the write noise of every device `touched`
    /// lists (in the order it lists them).
    @inline(__always)
    func updated(_ a: AnalogArray, touched: ((Int) -> Void) -> Void) {
        corrupt?.hold(a.state)
        guard let wn = writeNoise else { return }
        var s = nextStream()
        touched { wn.draw($0, into: a.weights, &s) }
    }

    /// After every device of `a` was updated (zero-shifting, resets of every device, per-mini-batch effects).
    func updatedAll(_ a: AnalogArray) {
        corrupt?.hold(a.state)
        guard let wn = writeNoise else { return }
        var s = nextStream()
        wn.drawAll(count: a.count, into: a.weights, &s)
    }

    /// After the weights of `a` were programmed into its states: stuck devices held, then write noise drawn for
    /// every device with `apply_write_noise_on_set`, else the reads see the states themselves.
    func programmed(_ a: AnalogArray) {
        corrupt?.hold(a.state)
        guard let wn = writeNoise else { return }
        if wn.onSet {
            var s = nextStream()
            wn.drawAll(count: a.count, into: a.weights, &s)
        } else {
            a.weights.update(from: wn.persistent, count: a.count)
        }
    }

    /// Normals drawn per chunk by `normals`.
    static let normalChunk = 4096

    /// `count` standard normals from `s`, the same values in the same order as `count` calls of `nextNormal`, drawn
    /// in chunks through the vectorised ziggurat: `body(first, normals, m)` receives normals first ..< first + m.
    @inline(__always)
    static func normals(_ count: Int, _ s: inout RandomStream, _ body: (Int, UnsafePointer<Float>, Int) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: normalChunk) { buffer in
            let xi = buffer.baseAddress!
            var first = 0
            while first < count {
                let m = min(normalChunk, count - first)
                s.fill(normals: xi, count: m)
                body(first, xi, m)
                first += m
            }
        }
    }

    /// The per-mini-batch effects on `a`: diffusion (one normal per device in index order), then decay towards the
    /// reset bias, each clipped to the device's bounds; then stuck devices held and write noise drawn for every device.
    /// Device by device the same operations as one pass (each device's diffusion, then its decay), in two passes:
    /// the normals are drawn in index order either way.
    /// The normals are drawn per chunk of `normalChunk` by `normals` (16 KiB of scratch on the stack).
    func stepEnded(_ a: AnalogArray) {
        guard actsPerStep, let lo = lowerBounds, let hi = upperBounds else { return }
        var s = nextStream()
        let w = a.state, n = a.count
        if let diffusion {
            if let rates = diffusion.rates {
                Self.normals(n, &s) { i0, xi, m in
                    for k in 0..<m { let i = i0 + k; w[i] = min(max(w[i] + rates[i] * xi[k], lo[i]), hi[i]) }
                }
            } else {
                let rate = diffusion.rate
                Self.normals(n, &s) { i0, xi, m in
                    for k in 0..<m { let i = i0 + k; w[i] = min(max(w[i] + rate * xi[k], lo[i]), hi[i]) }
                }
            }
        }
        if let decay {
            if decay.scales == nil && resetBias.biases == nil {
                let scale = decay.scale, b = resetBias.bias
                for i in 0..<n { w[i] = min(max((w[i] - b) * scale + b, lo[i]), hi[i]) }
            } else {
                for i in 0..<n {
                    let b = resetBias.bias(i)
                    w[i] = min(max((w[i] - b) * decay.scale(i) + b, lo[i]), hi[i])
                }
            }
        }
        corrupt?.hold(w)
        if let wn = writeNoise { wn.drawAll(count: a.count, into: a.weights, &s) }
    }
}
