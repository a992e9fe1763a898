/// Write noise (aihwkit `write_noise_std` of LinearStep, SoftBounds, ExpStep, PowStep and PiecewiseStep devices;
/// `PulsedRPUDevice::applyUpdateWriteNoise`): pulses act on a hidden persistent state w (aihwkit `w_persistent_`), and
/// the weight a read sees is w + sigma xi with sigma = write_noise_std x dw_min (the nominal dw_min) and xi a standard
/// normal drawn anew each time the device is updated (aihwkit draws it after every pulse; only the last draw of an
/// update remains, which has the same distribution as one draw after the update), after every per-mini-batch effect
/// (for every device, as aihwkit's decay and diffusion do) and, with `apply_write_noise_on_set`, when the weights are
/// programmed. The noise does not accumulate: Var(read - w) = sigma^2 however many updates happen.
///
/// Storage: 4 bytes per device (the persistent states); the array's `weights` hold what reads see.
struct WriteNoise {
    /// sigma = write_noise_std x dw_min (weight units).
    let sigma: Float
    /// Whether programming the weights draws the noise too (aihwkit `apply_write_noise_on_set`).
    let onSet: Bool
    /// The persistent states (count values).
    let persistent: UnsafeMutablePointer<Float>

    init?(_ d: DeviceConfig, count: Int) {
        guard d.writeNoiseStd > 0 else { return nil }
        sigma = Float(d.writeNoiseStd * d.effectiveDwMin)
        onSet = d.applyWriteNoiseOnSet
        persistent = .allocate(capacity: count)
        persistent.initialize(repeating: 0, count: count)
    }

    func deallocate() { persistent.deallocate() }

    /// The read weight of device i from its persistent state: w_i + sigma xi.
    @inline(__always)
    func draw(_ i: Int, into apparent: UnsafeMutablePointer<Float>, _ s: inout RandomStream) {
        apparent[i] = persistent[i] + sigma * s.nextNormal()
    }

    /// The read weights of devices 0 ..< count, in index order: the same values as `draw` for each in turn.
    func drawAll(count: Int, into apparent: UnsafeMutablePointer<Float>, _ s: inout RandomStream) {
        let p = persistent, sigma = sigma
        DeviceEffects.normals(count, &s) { i0, xi, m in
            for k in 0..<m { apparent[i0 + k] = p[i0 + k] + sigma * xi[k] }
        }
    }
}
