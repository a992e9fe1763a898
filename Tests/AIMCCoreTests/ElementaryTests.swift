import AIMCCore
import Foundation
import Testing

/// `Elementary`'s accuracy claims, against libm's Float80 functions (64-bit significands: their own error, about
/// 2^-63 relative, is far below the bounds tested). Errors are in units in the last place (ulp) of the result type.
@Suite("Elementary functions")
struct ElementaryTests {
    static func ulpError(_ value: Double, _ exact: Float80) -> Double {
        if value.isNaN || exact.isNaN { return value.isNaN && exact.isNaN ? 0 : .infinity }
        if Double(exact).isInfinite || value.isInfinite { return value == Double(exact) ? 0 : .infinity }  // overflow
        let ulp = Double(exact).ulp
        return Double(abs(Float80(value) - exact) / Float80(ulp))
    }

    static func ulpError(_ value: Float, _ exact: Float80) -> Double {
        if value.isNaN || exact.isNaN { return value.isNaN && exact.isNaN ? 0 : .infinity }
        if Float(exact).isInfinite || value.isInfinite { return value == Float(exact) ? 0 : .infinity }   // overflow
        let ulp = Float(exact).ulp
        return Double(abs(Float80(value) - exact) / Float80(ulp))
    }

    static func uniforms(_ n: Int, seed: UInt64) -> [Double] {
        var s = RandomStream(key: StreamKey(seed: seed, purpose: .benchmark))
        return (0..<n).map { _ in (Double(s.nextUInt32()) + Double(s.nextUInt32()) * 0x1p32) * 0x1p-64 }
    }

    /// Double exp and log: below 1 ulp (their documented bound) on 400,000 arguments spanning the whole range
    /// (exp: results from subnormal to near overflow; log: every binade, and near 1 where relative accuracy is hardest).
    @Test("exp and log in Double: error below 1 ulp")
    func doubles() {
        var worstExp = 0.0, worstLog = 0.0
        for u in Self.uniforms(200_000, seed: 1) {
            let x = -745 + u * (709.78 + 745)
            worstExp = max(worstExp, Self.ulpError(Elementary.exp(x), Foundation.exp(Float80(x))))
            let small = (u * 2 - 1) * 2
            worstExp = max(worstExp, Self.ulpError(Elementary.exp(small), Foundation.exp(Float80(small))))
        }
        for (k, u) in Self.uniforms(200_000, seed: 2).enumerated() {
            let x = Foundation.scalbn(1 + u, k % 2098 - 1074)
            worstLog = max(worstLog, Self.ulpError(Elementary.log(x), Foundation.log(Float80(x))))
            let near = 0.8 + 0.4 * u
            worstLog = max(worstLog, Self.ulpError(Elementary.log(near), Foundation.log(Float80(near))))
        }
        #expect(worstExp < 1 && worstLog < 1, "exp \(worstExp) ulp, log \(worstLog) ulp")
        #expect(Elementary.exp(0.0) == 1 && Elementary.exp(-Double.infinity) == 0 && Elementary.exp(Double.infinity) == .infinity)
        #expect(Elementary.exp(Double.nan).isNaN && Elementary.exp(710.0) == .infinity && Elementary.exp(-746.0) == 0)
        #expect(Elementary.exp(-740.0) > 0 && Elementary.exp(709.7) < .infinity)
        #expect(Elementary.log(1.0) == 0 && Elementary.log(0.0) == -.infinity && Elementary.log(-1.0).isNaN)
        #expect(Elementary.log(Double.infinity) == .infinity && Elementary.log(Double.leastNonzeroMagnitude).isFinite)
    }

    /// Float functions are computed in Double (relative error below 2^-40) and rounded once: error at most
    /// 0.5 + 2^-16 ulp, i.e. correctly rounded except within 2^-16 ulp of a rounding boundary.
    @Test("exp, log, sigmoid, tanh in Float: rounded once from a result accurate to 2^-40")
    func floats() {
        let bound = 0.5 + 0x1p-16
        var worst = [String: Double]()
        func note(_ name: String, _ e: Double) { worst[name] = max(worst[name] ?? 0, e) }
        for u in Self.uniforms(200_000, seed: 3) {
            let x = Float(-104 + u * 193)
            note("exp", Self.ulpError(Elementary.exp(x), Foundation.exp(Float80(x))))
            let z = Float((u * 2 - 1) * 30)
            note("sigmoid", Self.ulpError(Elementary.sigmoid(z), 1 / (1 + Foundation.exp(-Float80(z)))))
            note("tanh", Self.ulpError(Elementary.tanh(z), Foundation.tanh(Float80(z))))
            let t = Float((u * 2 - 1) * 0.25)
            note("tanh", Self.ulpError(Elementary.tanh(t), Foundation.tanh(Float80(t))))
            let p = Float(Foundation.scalbn(1 + u, Int(u * 1e6) % 252 - 126))
            note("log", Self.ulpError(Elementary.log(p), Foundation.log(Float80(p))))
        }
        #expect(worst.values.allSatisfy { $0 <= bound }, "\(worst)")
        #expect(Elementary.sigmoid(0) == 0.5 && Elementary.sigmoid(-200) == 0 && Elementary.sigmoid(200) == 1)
        #expect(Elementary.tanh(0).bitPattern == 0 && Elementary.tanh(-0.0).sign == .minus && Elementary.tanh(-30) == -1)
        #expect(Elementary.exp(Float(89)) == .infinity && Elementary.exp(Float(-104)) == 0 && Elementary.exp(Float(-103.9)) > 0)
        #expect(Elementary.sigmoid(.nan).isNaN && Elementary.tanh(.nan).isNaN && Elementary.exp(Float.nan).isNaN)
        // The two Floats whose expf differs between glibc 2.36's FMA and SSE2 builds (found by trying all 2^32): the exact
        // values lie 0.0013 and 0.0001 ulp from a rounding boundary; the FMA build rounds them the wrong way.
        #expect(Elementary.exp(Float(bitPattern: 0x4202_422F)).bitPattern == 0x56FC_9F1B)
        #expect(Elementary.exp(Float(bitPattern: 0xC27C_65D9)).bitPattern == 0x11FA_2992)
        #expect(Elementary.sigmoid(.infinity) == 1 && Elementary.sigmoid(-.infinity) == 0 && Elementary.tanh(-.infinity) == -1)
    }

    @Test("power: x^n by multiplications from the left")
    func power() {
        #expect(Elementary.power(0.4, 0) == 1 && Elementary.power(0.4, 1) == 0.4 && Elementary.power(2, 10) == 1024)
        #expect(Elementary.power(0.4, 3) == 0.4 * 0.4 * 0.4 && Elementary.power(1.2, 4) == 1.2 * 1.2 * 1.2 * 1.2)
        #expect(Elementary.power(1e200, 2) == .infinity)
        // Against libm's Float80 pow: below (n - 1) / 2 + 1/2 ulp for n up to 12.
        for n in 2...12 {
            for x in [0.4, 1.2, 0.25, 3.7, 0.999] {
                #expect(Self.ulpError(Elementary.power(x, n), Foundation.pow(Float80(x), Float80(n))) <= Double(n) / 2, "\(x)^\(n)")
            }
        }
    }

    /// The array forms run in the C kernels (each instruction set's vector width, a padded tail); every value must get
    /// the Swift SIMD form's bits.
    @Test("Array forms of sigmoid and tanh give the scalar forms' bits on every instruction set", arguments: [1, 7, 8, 9, 61, 1000])
    func arrays(count: Int) {
        var s = RandomStream(key: StreamKey(seed: 9, purpose: .benchmark))
        let specials: [Float] = [.nan, -0.0, 0.03, -200, 0.0625, Float(0.0625).nextDown, -0.0625, 20, 20.000002, .infinity, -.infinity, 1e-30]
        let z = (0..<count).map { i -> Float in
            i % 13 == 5 ? specials[(i / 13) % specials.count] : (s.nextUniform() * 2 - 1) * (i % 2 == 0 ? 30 : 0.2)
        }
        forEachInstructionSet { isa in
            var sig = z, th = z
            sig.withUnsafeMutableBufferPointer { Elementary.sigmoid($0.baseAddress!, count: count) }
            th.withUnsafeMutableBufferPointer { Elementary.tanh($0.baseAddress!, count: count) }
            #expect(sig.map(\.bitPattern) == z.map { Elementary.sigmoid($0).bitPattern }, "\(isa.name)")
            #expect(th.map(\.bitPattern) == z.map { Elementary.tanh($0).bitPattern }, "\(isa.name)")
        }
    }
}
