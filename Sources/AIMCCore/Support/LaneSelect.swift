/// Lane-wise choice between two SIMD vectors by a comparison mask, with bit operations only. (The standard library's
/// `replacing(with:where:)`, `pointwiseMin`, `clamped(lowerBound:upperBound:)` go lane by lane through memory for
/// 16-lane vectors; these compile to a few vector instructions.) A NaN lane compares false, so `min`, `max` and `clamp`
/// below keep a NaN of `x`.
@usableFromInline
enum LaneSelect {
    /// mask ? a : b, lane by lane.
    @inlinable @inline(__always)
    static func select(_ mask: SIMDMask<SIMD16<Int32>>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        let m = unsafeBitCast(mask, to: SIMD16<UInt32>.self)
        let ai = unsafeBitCast(a, to: SIMD16<UInt32>.self), bi = unsafeBitCast(b, to: SIMD16<UInt32>.self)
        return unsafeBitCast((ai & m) | (bi & ~m), to: SIMD16<Float>.self)
    }

    @inlinable @inline(__always)
    static func select(_ mask: SIMDMask<SIMD8<Int32>>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        let m = unsafeBitCast(mask, to: SIMD8<UInt32>.self)
        let ai = unsafeBitCast(a, to: SIMD8<UInt32>.self), bi = unsafeBitCast(b, to: SIMD8<UInt32>.self)
        return unsafeBitCast((ai & m) | (bi & ~m), to: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    static func select(_ mask: SIMDMask<SIMD4<Int64>>, _ a: SIMD4<Double>, _ b: SIMD4<Double>) -> SIMD4<Double> {
        let m = unsafeBitCast(mask, to: SIMD4<UInt64>.self)
        let ai = unsafeBitCast(a, to: SIMD4<UInt64>.self), bi = unsafeBitCast(b, to: SIMD4<UInt64>.self)
        return unsafeBitCast((ai & m) | (bi & ~m), to: SIMD4<Double>.self)
    }

    /// x clamped to [lo, hi] lane by lane (lo <= hi), as min(max(x, lo), hi) for a non-NaN x.
    @inlinable @inline(__always)
    static func clamp(_ x: SIMD16<Float>, _ lo: Float, _ hi: Float) -> SIMD16<Float> {
        let l = SIMD16<Float>(repeating: lo), h = SIMD16<Float>(repeating: hi)
        return select(x .> h, h, select(x .< l, l, x))
    }

    @inlinable @inline(__always)
    static func clamp(_ x: SIMD8<Float>, _ lo: Float, _ hi: Float) -> SIMD8<Float> {
        let l = SIMD8<Float>(repeating: lo), h = SIMD8<Float>(repeating: hi)
        return select(x .> h, h, select(x .< l, l, x))
    }

    @inlinable @inline(__always)
    static func clamp(_ x: SIMD4<Double>, _ lo: Double, _ hi: Double) -> SIMD4<Double> {
        let l = SIMD4<Double>(repeating: lo), h = SIMD4<Double>(repeating: hi)
        return select(x .> h, h, select(x .< l, l, x))
    }

    /// |x| lane by lane (the sign bit cleared).
    @inlinable @inline(__always)
    static func magnitude(_ x: SIMD16<Float>) -> SIMD16<Float> {
        unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: SIMD16<Float>.self)
    }
}
