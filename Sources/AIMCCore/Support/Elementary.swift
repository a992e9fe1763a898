import CPulseKernels

/// Elementary functions computed by a fixed sequence of IEEE-754 additions, multiplications, divisions and exact
/// bit operations, so that their results are the same bits on every x86-64 machine and with every C library.
///
/// Why not libm: glibc picks one of several builds of `exp`, `log`, `expf`, `logf`, `pow` at load time by CPU
/// features (FMA, AVX2, FMA4, AVX; see `glibc.cpu.hwcaps`), which may round differently, and other glibc versions
/// and other C libraries use other algorithms. The simulator uses these functions where they shape the weights
/// (activations, the softmax error) and the reported metrics (the loss), so it computes them itself. Swift does not fuse
/// a * b + c into an FMA unless asked, so every operation below rounds exactly as written, in scalar and SIMD code alike.
///
/// Accuracy (against the exact value; checked against libm's 64-bit-significand Float80 functions in the tests):
/// - `exp(Double)`, `log(Double)`: below 1 ulp;
/// - Float functions (`exp`, `log`, `sigmoid`, `tanh`): computed in Double to a relative error below 2^-40, then
///   rounded once, so they return the correctly rounded Float except within 2^-16 ulp of a rounding boundary.
///
/// The array forms (`sigmoid(_:count:)`, `tanh(_:count:)`) give the same bits as the scalar forms, 8 lanes at a time.
public enum Elementary {
    // ln 2 split so that k * ln2Hi is exact for |k| < 2^11 (the low 21 bits of ln2Hi are zero): fdlibm's constants.
    @inlinable @inline(__always) static var ln2Hi: Double { 6.93147180369123816490e-01 }
    @inlinable @inline(__always) static var ln2Lo: Double { 1.90821492927058770002e-10 }
    @inlinable @inline(__always) static var log2e: Double { 1.44269504088896338700e+00 }
    /// 1.5 * 2^52: t + shifter rounds t to an integer (half to even) for |t| < 2^51, and the low bits of the sum
    /// hold that integer.
    @inlinable @inline(__always) static var shifter: Double { 0x1.8p52 }

    /// e^r - 1 for |r| <= ln(2)/2 + 2^-30: the Taylor series to r^13 (truncation error below 2^-61 relative),
    /// evaluated by Horner's rule as r + r^2 (1/2 + r (1/6 + ...)).
    @inlinable @inline(__always)
    static func expm1Reduced(_ r: SIMD4<Double>) -> SIMD4<Double> {
        var p = SIMD4<Double>(repeating: 1.0 / 6227020800.0)   // 1/13!
        p = 1.0 / 479001600.0 + r * p                             // 1/12!
        p = 1.0 / 39916800.0 + r * p
        p = 1.0 / 3628800.0 + r * p
        p = 1.0 / 362880.0 + r * p
        p = 1.0 / 40320.0 + r * p
        p = 1.0 / 5040.0 + r * p
        p = 1.0 / 720.0 + r * p
        p = 1.0 / 120.0 + r * p
        p = 1.0 / 24.0 + r * p
        p = 1.0 / 6.0 + r * p
        p = 0.5 + r * p
        return r + (r * r) * p
    }

    /// e^x for |x| <= 1000: x = k ln 2 + r with k = round(x / ln 2) and r = (x - k ln2Hi) - k ln2Lo (Cody and Waite),
    /// e^x = (1 + (e^r - 1)) 2^k; 2^k must be a normal Double (-1022 <= k <= 1023).
    @inlinable @inline(__always)
    static func expReduced(_ x: SIMD4<Double>) -> (mantissa: SIMD4<Double>, scale: SIMD4<Double>, k: SIMD4<Double>) {
        let shifted = x * log2e + shifter
        let k = shifted - shifter
        let r = (x - k * ln2Hi) - k * ln2Lo
        let bits = unsafeBitCast(shifted, to: SIMD4<UInt64>.self)
        let scale = unsafeBitCast((bits &+ 1023) &<< 52, to: SIMD4<Double>.self)   // low bits of shifted: k + 2^51
        return (1 + expm1Reduced(r), scale, k)
    }

    /// e^x for |x| <= 700 (the range Float results need): error below 2^-50 relative.
    @inlinable @inline(__always)
    static func expModerate(_ x: SIMD4<Double>) -> SIMD4<Double> {
        let e = expReduced(x)
        return e.mantissa * e.scale
    }

    /// e^x. NaN for NaN, +inf above 709.782712893384, +0 below -745.1332191019412; subnormal results rounded once.
    @inlinable
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709.782712893384 { return .infinity }
        if x < -745.1332191019412 { return 0 }
        let e = expReduced(SIMD4(repeating: x))
        let p = e.mantissa[0], k = Int(e.k[0])
        if k > 1023 { return p * 0x1p1023 * Double(sign: .plus, exponent: k - 1023, significand: 1) }
        if k < -1022 { return p * Double(sign: .plus, exponent: k + 1000, significand: 1) * 0x1p-1000 }
        return p * e.scale[0]
    }

    /// Natural logarithm. NaN for NaN and x < 0, -inf for +-0, +inf for +inf.
    ///
    /// x = 2^e m with m in [sqrt(1/2), sqrt(2)), f = m - 1, s = f / (2 + f): log(1 + f) = 2 atanh(s)
    /// = f - (f^2/2 - s (f^2/2 + R)) with R = 2 s^2/3 + 2 s^4/5 + ... + 2 s^22/23 (truncation below 2^-60 relative,
    /// |s| <= 0.1716), plus e ln 2 in two parts (the formulation of fdlibm's e_log.c).
    @inlinable
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return x }
        var bits = x.bitPattern
        var e = 0
        if x < Double.leastNormalMagnitude {             // subnormal: scale by 2^54
            bits = (x * 0x1p54).bitPattern
            e = -54
        }
        e += Int((bits >> 52) & 0x7FF) - 1023
        var m = Double(bitPattern: (bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000)   // [1, 2)
        if m > 1.4142135623730951 { m *= 0.5; e += 1 }
        let f = m - 1
        let s = f / (2 + f)
        let z = s * s
        var r = 2.0 / 23
        r = 2.0 / 21 + z * r
        r = 2.0 / 19 + z * r
        r = 2.0 / 17 + z * r
        r = 2.0 / 15 + z * r
        r = 2.0 / 13 + z * r
        r = 2.0 / 11 + z * r
        r = 2.0 / 9 + z * r
        r = 2.0 / 7 + z * r
        r = 2.0 / 5 + z * r
        r = 2.0 / 3 + z * r
        r = z * r
        let hfsq = 0.5 * f * f
        let k = Double(e)
        return k * ln2Hi - ((hfsq - (s * (hfsq + r) + k * ln2Lo)) - f)
    }

    /// e^x in Float (see the type's accuracy note); +inf from about 88.7228, +0 below about -103.9721.
    @inlinable
    public static func exp(_ x: Float) -> Float {
        if x.isNaN { return x }
        if x > 89 { return .infinity }
        if x < -104 { return 0 }                         // e^-104 is below half the least subnormal
        return Float(expModerate(SIMD4(repeating: Double(x)))[0])
    }

    /// Natural logarithm in Float (see the type's accuracy note).
    @inlinable
    public static func log(_ x: Float) -> Float { Float(log(Double(x))) }

    /// x^n for an integer n >= 0 by n - 1 multiplications from the left ((x x) x ...; x^0 = 1): a fixed order instead
    /// of libm's pow (whose FMA and non-FMA builds round differently). Relative error at most about (n - 1) 2^-53.
    @inlinable
    public static func power(_ x: Double, _ n: Int) -> Double {
        precondition(n >= 0, "power needs an exponent >= 0")
        if n == 0 { return 1 }
        var p = x
        for _ in 1..<n { p *= x }
        return p
    }

    // MARK: Activations

    /// The logistic sigmoid 1 / (1 + e^-z) of 8 lanes, computed in Double and rounded once. z is clamped to [-104, 40]
    /// first (beyond, the result rounds to 0 or 1 anyway); NaN lanes stay NaN.
    @inlinable @inline(__always)
    public static func sigmoid(_ z: SIMD8<Float>) -> SIMD8<Float> {
        let c = LaneSelect.clamp(z, -104, 40)
        let lo = 1 / (1 + expModerate(-SIMD4<Double>(c.lowHalf)))
        let hi = 1 / (1 + expModerate(-SIMD4<Double>(c.highHalf)))
        let y = SIMD8<Float>(lowHalf: SIMD4<Float>(lo), highHalf: SIMD4<Float>(hi))
        return LaneSelect.select(z .!= z, z, y)
    }

    /// tanh of |z| for 4 lanes in Double: the odd Taylor series to a^15 for a < 1/16 (truncation below 2^-60
    /// relative), else (e^2a - 1) / (e^2a + 1); 1 beyond a = 20.
    @inlinable @inline(__always)
    static func tanhMagnitude(_ a: SIMD4<Double>) -> SIMD4<Double> {
        // tanh a = a - a^3/3 + 2a^5/15 - 17a^7/315 + 62a^9/2835 - 1382a^11/155925 + 21844a^13/6081075 - ...
        let q = a * a
        var p = SIMD4<Double>(repeating: -929569.0 / 638512875.0)
        p = 21844.0 / 6081075.0 + q * p
        p = -1382.0 / 155925.0 + q * p
        p = 62.0 / 2835.0 + q * p
        p = -17.0 / 315.0 + q * p
        p = 2.0 / 15.0 + q * p
        p = -1.0 / 3.0 + q * p
        let series = a + a * (q * p)
        let e = expModerate(2 * LaneSelect.clamp(a, 0, 20))
        let t = (e - 1) / (e + 1)
        return LaneSelect.select(a .> 20, SIMD4(repeating: 1), LaneSelect.select(a .< 0.0625, series, t))
    }

    /// Hyperbolic tangent of 8 lanes, computed in Double and rounded once (`tanhMagnitude` with the sign of z; -0 stays
    /// -0, NaN stays NaN).
    @inlinable @inline(__always)
    public static func tanh(_ z: SIMD8<Float>) -> SIMD8<Float> {
        let bits = unsafeBitCast(z, to: SIMD8<UInt32>.self)
        let magnitude = unsafeBitCast(bits & 0x7FFF_FFFF, to: SIMD8<Float>.self)
        let lo = tanhMagnitude(SIMD4<Double>(magnitude.lowHalf))
        let hi = tanhMagnitude(SIMD4<Double>(magnitude.highHalf))
        let t = SIMD8<Float>(lowHalf: SIMD4<Float>(lo), highHalf: SIMD4<Float>(hi))
        let y = unsafeBitCast(unsafeBitCast(t, to: SIMD8<UInt32>.self) | (bits & 0x8000_0000), to: SIMD8<Float>.self)
        return LaneSelect.select(z .!= z, z, y)
    }

    /// The logistic sigmoid of one value (the same bits as the SIMD form).
    @inlinable
    public static func sigmoid(_ z: Float) -> Float { sigmoid(SIMD8(repeating: z))[0] }

    /// The hyperbolic tangent of one value (the same bits as the SIMD form).
    @inlinable
    public static func tanh(_ z: Float) -> Float { tanh(SIMD8(repeating: z))[0] }

    /// values[i] = sigmoid(values[i]) for i < count: the same operations lane by lane in the C kernels
    /// (`aimc_sigmoid`, vectorised for the machine's instruction set; the tests compare the bits with the SIMD form).
    public static func sigmoid(_ values: UnsafeMutablePointer<Float>, count: Int) {
        aimc_sigmoid(values, count)
    }

    /// values[i] = tanh(values[i]) for i < count: the same operations lane by lane in the C kernels (`aimc_tanh`).
    public static func tanh(_ values: UnsafeMutablePointer<Float>, count: Int) {
        aimc_tanh(values, count)
    }
}
