/// Decay towards the reset bias (aihwkit `lifetime`, `lifetime_dtod`; `PulsedRPUDevice::decayWeights`, called by
/// aihwkit's `AnalogTile.post_update_step` after every mini-batch): w <- (w - b_i) s_i + b_i, then clipped to the
/// device's bounds, with s_i = 1 - 1/lifetime_i when lifetime_i > 1 and 0 otherwise (aihwkit's populate), lifetime_i =
/// lifetime (1 + lifetime_dtod xi) and b_i the reset bias (`ResetBias`). After t mini-batches (without updates or
/// clipping) w(t) = b + (w0 - b) s^t, the discrete form of w(t) = b + (w0 - b) exp(-t/lifetime) (s^t =
/// exp(t ln(1 - 1/lifetime)) = exp(-t/lifetime) (1 + O(t/lifetime^2))).
///
/// Storage: none for lifetime_dtod = 0; else s_i, 4 bytes per device.
struct Decay {
    /// s of every device when lifetime_dtod = 0.
    let scale: Float
    /// s_i, or nil.
    let scales: UnsafeMutablePointer<Float>?

    /// s for a device lifetime t (aihwkit: 1 - 1/t for t > 1, else 0).
    static func factor(_ t: Float) -> Float { t > 1 ? 1 - 1 / t : 0 }

    /// Draws lifetime_i from `stream` (one normal per device, in index order) when lifetime_dtod > 0.
    init?(_ d: DeviceConfig, count: Int, stream: inout RandomStream) {
        guard d.lifetime > 0 else { return nil }
        let t = Float(d.lifetime), spread = Float(d.lifetimeDtod)
        scale = Decay.factor(t)
        if spread > 0 {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count { p[i] = Decay.factor(t * (1 + spread * stream.nextNormal())) }
            scales = p
        } else {
            scales = nil
        }
    }

    func deallocate() { scales?.deallocate() }

    @inline(__always) func scale(_ i: Int) -> Float { scales?[i] ?? scale }
}
