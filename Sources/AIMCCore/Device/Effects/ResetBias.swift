/// The reset bias and resets of devices (aihwkit `reset`, `reset_dtod`, `reset_std`; `PulsedRPUDevice::populate`,
/// `resetCols`, `resetAtIndices`): each device has a bias b_i = reset + reset_dtod xi (additive, weight units, as
/// aihwkit's C++ draws it), the point decay pulls it to (`Decay`); a reset programs the device to
/// b_i + reset_std xi (xi drawn at each reset), clipped to the device's bounds.
///
/// Storage: none for reset_dtod = 0; else b_i, 4 bytes per device.
struct ResetBias {
    /// b of every device when reset_dtod = 0.
    let bias: Float
    let biases: UnsafeMutablePointer<Float>?
    /// Spread of a reset around b_i (reset_std).
    let std: Float

    /// Draws b_i from `stream` (one normal per device, in index order) when reset_dtod > 0.
    init(_ d: DeviceConfig, count: Int, stream: inout RandomStream) {
        bias = Float(d.reset)
        std = Float(d.resetStd)
        if d.resetDtod > 0 {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            let spread = Float(d.resetDtod)
            for i in 0..<count { p[i] = bias + spread * stream.nextNormal() }
            biases = p
        } else {
            biases = nil
        }
    }

    func deallocate() { biases?.deallocate() }

    @inline(__always) func bias(_ i: Int) -> Float { biases?[i] ?? bias }

    /// A reset value of device i (before clipping): b_i + reset_std xi (no draw when reset_std is 0, as aihwkit).
    @inline(__always) func value(_ i: Int, _ s: inout RandomStream) -> Float {
        std > 0 ? bias(i) + std * s.nextNormal() : bias(i)
    }
}
