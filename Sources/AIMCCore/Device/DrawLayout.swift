/// How an array stores its devices' device-to-device draws (memory per device, issue "Memory per device").
///
/// A device is drawn from eight standard normals (DeviceModel's order: gain, b_max, b_min, asymmetry, up_down,
/// gamma 1, gamma 2, symmetric point). Only the normals whose spread is not 0 for the device's family are stored, as
/// fixed-point integers in one record per device:
///
/// | stored normals | record | each normal | resolution | range |
/// |---|---|---|---|---|
/// | 0 | 0 bytes | - | - | - |
/// | 1-2 | 4 bytes | 16 bits | 2^-12 = 0.000244 | [-8, 8] |
/// | 3-4 | 8 bytes | 16 bits | 2^-12 | [-8, 8] |
/// | 5-6 | 12 bytes | 16 bits | 2^-12 | [-8, 8] |
/// | 7-8 | 12 bytes | 12 bits | 2^-8 = 0.0039 | [-8, 8] |
///
/// A normal is rounded to the nearest multiple of the resolution, so a drawn parameter p (1 + s xi) moves by at most
/// s/2 times the resolution relative to its nominal value p (for s = 0.3: 0.0037% with 16 bits, 0.059% with 12);
/// normals beyond +-8 (probability 1.2e-15 per draw) are held at +-(8 - resolution). Every device parameter is then
/// computed from the stored normals when it is needed (`DeviceModel.cell`), so state plus parameters take at most
/// 4 + 12 = 16 bytes per device for every family.
public struct DrawLayout: Sendable, Equatable {
    /// Slot of each of the eight normals in a record, or -1 when its spread is 0 (the normal is then 0).
    public let slots: [Int]
    /// Number of stored normals.
    public let stored: Int

    /// Bytes of one device's record.
    public var recordBytes: Int { stored == 0 ? 0 : stored <= 2 ? 4 : stored <= 4 ? 8 : 12 }
    /// Whether the normals take 12 bits each (7 or 8 stored), else 16.
    public var packed: Bool { stored > 6 }
    /// Value of one unit of a stored normal.
    public var resolution: Float { packed ? 0x1p-8 : 0x1p-12 }

    /// The layout of `device`'s family and spreads.
    public init(device d: DeviceConfig) {
        let spreads = DrawLayout.spreads(d)
        var slots = [Int](repeating: -1, count: DeviceModel.normalsPerDevice)
        var n = 0
        for k in 0..<DeviceModel.normalsPerDevice where spreads[k] != 0 {
            slots[k] = n
            n += 1
        }
        self.slots = slots
        stored = n
    }

    /// The spread that multiplies each normal in `DeviceModel.cell` for this family (0 where the family ignores it).
    static func spreads(_ d: DeviceConfig) -> [Double] {
        var s = [d.dwMinDtod, d.wMaxDtod, d.wMinDtod, d.asymmetryDtod, d.upDownDtod, 0, 0, d.symmetricPointDtod]
        switch d.family {
        case .linearStep:
            s[5] = d.gammaDtod
            s[6] = d.gammaDtod
        case .power, .exponential:
            s[5] = d.gammaDtod
        case .powStep:
            s[5] = d.gammaDtod
            s[6] = d.powUpDownDtod
        case .constantStep, .softBounds, .expStep, .piecewiseStep, .piecewise:
            break
        }
        return s
    }

    /// Largest stored integer: 2^15 - 1 (16 bits) or 2^11 - 1 (12 bits).
    var largest: Int32 { packed ? 2047 : 32767 }

    /// Stores the eight normals `xi` in the record at `p` (recordBytes bytes).
    func encode(_ xi: UnsafePointer<Float>, into p: UnsafeMutableRawPointer) {
        guard stored > 0 else { return }
        let scale = 1 / resolution, top = Float(largest)
        var packedBits: (UInt64, UInt32) = (0, 0)
        for k in 0..<DeviceModel.normalsPerDevice where slots[k] >= 0 {
            let v = (xi[k] * scale).rounded()
            let f = v.isNaN ? 0 : Int32(max(min(v, top), -top))
            let s = slots[k]
            if packed {
                // 12-bit fields, field s at bits 12s ..< 12s + 12 of the 96-bit little-endian record.
                let u = UInt64(UInt32(bitPattern: f) & 0xFFF), at = 12 * s
                if at < 64 { packedBits.0 |= u << UInt64(at) }
                if at + 12 > 64 {
                    packedBits.1 |= UInt32(truncatingIfNeeded: at >= 64 ? u << UInt64(at - 64) : u >> UInt64(64 - at))
                }
            } else {
                p.storeBytes(of: Int16(f), toByteOffset: 2 * s, as: Int16.self)
            }
        }
        if packed {
            p.storeBytes(of: packedBits.0, toByteOffset: 0, as: UInt64.self)
            p.storeBytes(of: packedBits.1, toByteOffset: 8, as: UInt32.self)
        }
    }

    /// The eight normals stored in the record at `p` (0 where the spread is 0), as `DeviceModel.cell` takes them.
    public func decodeRecord(_ p: UnsafeRawPointer, into xi: inout [Float]) {
        precondition(xi.count >= DeviceModel.normalsPerDevice)
        xi.withUnsafeMutableBufferPointer { decode(p, into: $0.baseAddress!) }
    }

    /// The eight normals of the record at `p` (0 for a spread of 0).
    @inline(__always)
    func decode(_ p: UnsafeRawPointer, into xi: UnsafeMutablePointer<Float>) {
        let r = resolution
        if packed {
            let lo = p.loadUnaligned(fromByteOffset: 0, as: UInt64.self), hi = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
            for k in 0..<DeviceModel.normalsPerDevice {
                let s = slots[k]
                if s < 0 { xi[k] = 0; continue }
                let at = 12 * s
                var u = at < 64 ? lo >> UInt64(at) : 0
                if at + 12 > 64 { u |= at >= 64 ? UInt64(hi) >> UInt64(at - 64) : UInt64(hi) << UInt64(64 - at) }
                let f = Int32(bitPattern: UInt32(truncatingIfNeeded: u & 0xFFF) << 20) >> 20
                xi[k] = Float(f) * r
            }
        } else {
            for k in 0..<DeviceModel.normalsPerDevice {
                let s = slots[k]
                xi[k] = s < 0 ? 0 : Float(p.loadUnaligned(fromByteOffset: 2 * s, as: Int16.self)) * r
            }
        }
    }
}
