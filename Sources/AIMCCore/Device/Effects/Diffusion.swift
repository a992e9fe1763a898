/// Diffusion (aihwkit `diffusion`, `diffusion_dtod`; `PulsedRPUDevice::diffuseWeights`, called by aihwkit's
/// `AnalogTile.post_update_step` after every mini-batch, before decay): w <- w + rho_i xi, then clipped to the
/// device's bounds, with rho_i = abs(diffusion (1 + diffusion_dtod xi)) fixed per device (weight units) and xi a
/// standard normal drawn anew each mini-batch. Without clipping, Var w grows by rho_i^2 per mini-batch.
///
/// Storage: none for diffusion_dtod = 0; else rho_i, 4 bytes per device.
struct Diffusion {
    /// rho of every device when diffusion_dtod = 0.
    let rate: Float
    let rates: UnsafeMutablePointer<Float>?

    /// Draws rho_i from `stream` (one normal per device, in index order) when diffusion_dtod > 0.
    init?(_ d: DeviceConfig, count: Int, stream: inout RandomStream) {
        guard d.diffusion > 0 else { return nil }
        let r = Float(d.diffusion), spread = Float(d.diffusionDtod)
        rate = r
        if spread > 0 {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count { p[i] = abs(r * (1 + spread * stream.nextNormal())) }
            rates = p
        } else {
            rates = nil
        }
    }

    func deallocate() { rates?.deallocate() }

    @inline(__always) func rate(_ i: Int) -> Float { rates?[i] ?? rate }
}
