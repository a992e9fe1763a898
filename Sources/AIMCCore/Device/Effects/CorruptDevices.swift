/// Corrupt (stuck) devices (aihwkit `corrupt_devices_prob`, `corrupt_devices_range`; `PulsedRPUDevice::populate`):
/// device i is stuck when u_i < prob (u_i uniform in [0, 1)), at a value v_i = lo + (hi - lo) u'_i with
/// lo = max(b_min, -range), hi = min(b_max, range) from the device's own bounds. aihwkit sets both bounds of a stuck
/// device to v_i and its steps to 0, so no pulse, decay, diffusion or reset moves it; here every update of the array
/// ends by setting the stuck devices' states back to v_i, which gives the same states for every family (pulses on a
/// stuck device are still counted as fired). Write noise still applies to what reads see, as in aihwkit.
///
/// Storage: the stuck devices' indices and values, 8 bytes per stuck device (8 prob bytes per device on average).
struct CorruptDevices {
    let indices: [Int]
    let values: [Float]

    /// Draws which devices are stuck and where (per device in index order: one uniform, and a second for a stuck
    /// device), from the bounds `bounds(i)` = (b_min, b_max).
    init?(_ d: DeviceConfig, count: Int, stream: inout RandomStream, bounds: (Int) -> (Float, Float)) {
        guard d.corruptDevicesProb > 0 else { return nil }
        let p = d.corruptDevicesProb, range = Float(abs(d.corruptDevicesRange))
        var indices = [Int](), values = [Float]()
        for i in 0..<count where Double(stream.nextUInt32()) * 0x1p-32 < p {
            let (bMin, bMax) = bounds(i)
            let lo = max(min(bMin, bMax), -range), hi = min(max(bMin, bMax), range)
            let u = Float(stream.nextUInt32() >> 8) * 0x1p-24
            indices.append(i)
            values.append(lo + (hi - lo) * u)
        }
        self.indices = indices
        self.values = values
    }

    /// Sets every stuck device's state back to its value.
    @inline(__always) func hold(_ state: UnsafeMutablePointer<Float>) {
        for k in indices.indices { state[indices[k]] = values[k] }
    }
}
