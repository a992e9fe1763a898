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

    /// Four consecutive blocks, counters (c0, c1, c2, c3) ... (c0 + 3, c1, c2, c3), computed side by side so the
    /// multiplications of the four blocks overlap. Words are in stream order: block 0's four words, then block 1's.
    @inlinable @inline(__always)
    public static func fourBlocks(c0: UInt32, c1: UInt32, c2: UInt32, c3: UInt32, key: SIMD2<UInt32>)
        -> (SIMD4<UInt32>, SIMD4<UInt32>, SIMD4<UInt32>, SIMD4<UInt32>) {
        var x0 = SIMD4<UInt32>(c0, c0 &+ 1, c0 &+ 2, c0 &+ 3)
        var x1 = SIMD4<UInt32>(repeating: c1)
        var x2 = SIMD4<UInt32>(repeating: c2)
        var x3 = SIMD4<UInt32>(repeating: c3)
        var k0 = SIMD4<UInt32>(repeating: key.x), k1 = SIMD4<UInt32>(repeating: key.y)
        let m0 = SIMD4<UInt64>(repeating: UInt64(multiplier0)), m1 = SIMD4<UInt64>(repeating: UInt64(multiplier1))
        for round in 0..<10 {
            if round > 0 {
                k0 &+= SIMD4(repeating: weyl0)
                k1 &+= SIMD4(repeating: weyl1)
            }
            let p0 = m0 &* SIMD4<UInt64>(truncatingIfNeeded: x0)
            let p1 = m1 &* SIMD4<UInt64>(truncatingIfNeeded: x2)
            let hi0 = SIMD4<UInt32>(truncatingIfNeeded: p0 &>> 32), lo0 = SIMD4<UInt32>(truncatingIfNeeded: p0)
            let hi1 = SIMD4<UInt32>(truncatingIfNeeded: p1 &>> 32), lo1 = SIMD4<UInt32>(truncatingIfNeeded: p1)
            x0 = hi1 ^ x1 ^ k0
            x1 = lo1
            x2 = hi0 ^ x3 ^ k1
            x3 = lo0
        }
        return (SIMD4(x0[0], x1[0], x2[0], x3[0]), SIMD4(x0[1], x1[1], x2[1], x3[1]),
                SIMD4(x0[2], x1[2], x2[2], x3[2]), SIMD4(x0[3], x1[3], x2[3], x3[3]))
    }
}
