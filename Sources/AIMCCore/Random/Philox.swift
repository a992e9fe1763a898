/// Philox4x32-10, the counter-based random number generator of Salmon, Moraes, Dror and Shaw,
/// "Parallel Random Numbers: As Easy as 1, 2, 3" (SC'11), as specified by the Random123 library.
///
/// A Philox output block is a pure function of a 128-bit counter and a 64-bit key, so any random
/// number of the simulation can be derived from global ids (seed, purpose, layer, block, array, step,
/// sample, element) without any state shared between MPI ranks. This is what makes results
/// independent of the rank count and placement (design.md, "Determinism").
///
/// Checked against Random123's published known-answer vectors (`kat_vectors`, "philox4x32 10").
public enum Philox4x32 {
    @usableFromInline static let multiplier0: UInt32 = 0xD251_1F53
    @usableFromInline static let multiplier1: UInt32 = 0xCD9E_8D57
    @usableFromInline static let weyl0: UInt32 = 0x9E37_79B9
    @usableFromInline static let weyl1: UInt32 = 0xBB67_AE85

    /// One Philox4x32-10 block: four independent, uniformly distributed 32-bit words.
    ///
    /// - Parameters:
    ///   - counter: the 128-bit counter as four 32-bit words (c0 is the least significant).
    ///   - key: the 64-bit key as two 32-bit words.
    /// - Returns: the four output words, in Random123's order.
    @inlinable @inline(__always)
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c0 = counter.x, c1 = counter.y, c2 = counter.z, c3 = counter.w
        var k0 = key.x, k1 = key.y
        for round in 0..<10 {
            if round > 0 {
                k0 = k0 &+ weyl0
                k1 = k1 &+ weyl1
            }
            let p0 = UInt64(multiplier0) &* UInt64(c0)
            let p1 = UInt64(multiplier1) &* UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c0 = hi1 ^ c1 ^ k0
            c1 = lo1
            c2 = hi0 ^ c3 ^ k1
            c3 = lo0
        }
        return SIMD4(c0, c1, c2, c3)
    }
}
