import Foundation
import Testing
import AIMCCore

@Suite("Random numbers")
struct RandomTests {
    /// Random123 kat_vectors, "philox4x32 10": counter (4 words), key (2 words), expected output (4 words).
    @Test("Philox4x32-10 known-answer vectors")
    func philoxKnownAnswers() {
        let cases: [(SIMD4<UInt32>, SIMD2<UInt32>, SIMD4<UInt32>)] = [
            (SIMD4(0, 0, 0, 0), SIMD2(0, 0), SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
            (SIMD4(repeating: 0xffff_ffff), SIMD2(repeating: 0xffff_ffff),
             SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
            (SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), SIMD2(0xa409_3822, 0x299f_31d0),
             SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
        ]
        for (counter, key, expected) in cases {
            #expect(Philox4x32.block(counter: counter, key: key) == expected)
        }
    }

    @Test("A stream is a pure function of key and counter")
    func streamDeterminism() {
        let key = StreamKey(seed: 7, purpose: .pulseTrains, 1, 2, 3)
        var a = RandomStream(key: key, counter: (5, 6, 7))
        var b = RandomStream(key: key, counter: (5, 6, 7))
        var c = RandomStream(key: key, counter: (5, 6, 8))
        let xa = (0..<100).map { _ in a.nextUInt32() }
        let xb = (0..<100).map { _ in b.nextUInt32() }
        let xc = (0..<100).map { _ in c.nextUInt32() }
        #expect(xa == xb)
        #expect(xa != xc)
        // The stream's words are exactly the Philox blocks of counters (i, 5, 6, 7).
        let block0 = Philox4x32.block(counter: SIMD4(0, 5, 6, 7), key: key.words)
        let block1 = Philox4x32.block(counter: SIMD4(1, 5, 6, 7), key: key.words)
        #expect(Array(xa[0..<8]) == [block0.x, block0.y, block0.z, block0.w, block1.x, block1.y, block1.z, block1.w])
        #expect(StreamKey(seed: 7, purpose: .pulseTrains, 1, 2, 3) != StreamKey(seed: 7, purpose: .cycleToCycle, 1, 2, 3))
        #expect(StreamKey(seed: 7, purpose: .pulseTrains, 1, 2, 3) != StreamKey(seed: 7, purpose: .pulseTrains, 1, 3, 2))
    }

    @Test("Ziggurat tables close: every layer has area v and the top reaches f(0) = 1")
    func zigguratTables() {
        let z = Ziggurat.shared
        let v = Ziggurat.v
        // Layer k >= 1 is the rectangle [0, X[k]] x [f(X[k]), f(X[k+1])]: X[k] * (f(X[k+1]) - f(X[k])) = v.
        for k in 1..<255 {
            let area = z.x[k] * (z.f[k + 1] - z.f[k])
            #expect(abs(area - v) < 1e-12)
        }
        // The recursion closes at the top: f(X[255]) + v / X[255] = 1 (to the precision of r and v).
        let top = exp(-0.5 * z.x[255] * z.x[255]) + v / z.x[255]
        #expect(abs(top - 1) < 1e-9)
    }

    /// n = 2,000,000 normals. Mean: sd 1/sqrt(n) = 7.1e-4, bound 6 sd = 4.2e-3. Variance: sd sqrt(2/n) = 1e-3,
    /// bound 6 sd = 6e-3. Tail P(|z| > 3) = 2.6998e-3: binomial sd sqrt(p(1-p)/n) = 3.7e-5, bound 6 sd.
    /// Kolmogorov-Smirnov on 2e6 draws: P(D > 1.95/sqrt(n)) ~ 1e-3, bound 1.95/sqrt(n).
    @Test("Normals: mean, variance, tails and the KS distance")
    func normalStatistics() {
        var s = RandomStream(key: StreamKey(seed: 1, purpose: .benchmark), counter: (0, 0, 0))
        let n = 2_000_000
        var xs = [Double](repeating: 0, count: n)
        for i in 0..<n { xs[i] = Double(s.nextNormal()) }
        let mean = xs.reduce(0, +) / Double(n)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        #expect(abs(mean) < 6 / Double(n).squareRoot())
        #expect(abs(variance - 1) < 6 * (2 / Double(n)).squareRoot())
        let tail = Double(xs.filter { abs($0) > 3 }.count) / Double(n)
        let p = 2.6998e-3
        #expect(abs(tail - p) < 6 * (p * (1 - p) / Double(n)).squareRoot())
        xs.sort()
        var d = 0.0
        for (i, x) in xs.enumerated() {
            let cdf = 0.5 * erfc(-x / 2.0.squareRoot())
            d = max(d, abs(cdf - Double(i) / Double(n)), abs(cdf - Double(i + 1) / Double(n)))
        }
        #expect(d < 1.95 / Double(n).squareRoot())
    }

    /// Chi-square with 9 degrees of freedom over 10 bins, 1e6 draws: P(chi2 > 33.7) = 1e-4.
    @Test("nextInt(below:) is uniform")
    func uniformIntegers() {
        var s = RandomStream(key: StreamKey(seed: 2, purpose: .shuffle), counter: (0, 0, 0))
        var bins = [Int](repeating: 0, count: 10)
        let n = 1_000_000
        for _ in 0..<n { bins[s.nextInt(below: 10)] += 1 }
        let e = Double(n) / 10
        let chi2 = bins.reduce(0.0) { $0 + (Double($1) - e) * (Double($1) - e) / e }
        #expect(chi2 < 33.7)
    }

    /// The block forms draw the same words in the same order as one call per value, from any position of the stream
    /// (buffered words first, whole refills, a partial refill at the end), and leave the stream where the single
    /// calls leave it. The normals cover the slow path (tail and wedge: about 1.2% of draws, so hundreds of them here).
    @Test("fill(words:) and fill(normals:) equal the one-by-one draws")
    func blockDraws() {
        let key = StreamKey(seed: 21, purpose: .benchmark, 5)
        for skip in [0, 1, 7, 15, 16, 17, 40] {
            for count in [0, 1, 9, 16, 31, 32, 100, 3000] {
                var a = RandomStream(key: key, counter: (3, 4, 5)), b = a
                for _ in 0..<skip { _ = a.nextUInt32(); _ = b.nextUInt32() }
                var words = [UInt32](repeating: 0, count: count)
                words.withUnsafeMutableBufferPointer { a.fill(words: $0.baseAddress!, count: count) }
                #expect(words == (0..<count).map { _ in b.nextUInt32() }, "words, skip \(skip), count \(count)")
                #expect(a.nextUInt32() == b.nextUInt32())

                var normals = [Float](repeating: 0, count: count)
                normals.withUnsafeMutableBufferPointer { a.fill(normals: $0.baseAddress!, count: count) }
                let expected = (0..<count).map { _ in b.nextNormal() }
                #expect(normals.map(\.bitPattern) == expected.map(\.bitPattern), "normals, skip \(skip), count \(count)")
                #expect(a.nextUInt32() == b.nextUInt32())
            }
        }
    }

    /// The pulse trains' slot threshold from the bits of p equals the Double conversion it replaces, for every exponent
    /// of p below 1 (both ends of each binade and random significands) and for 0 and subnormals.
    @Test("slotThreshold(p) = floor(p 2^32) exactly")
    func slotThreshold() {
        var s = RandomStream(key: StreamKey(seed: 22, purpose: .benchmark))
        var ps: [Float] = [0, .leastNonzeroMagnitude, .leastNormalMagnitude, 0x1p-33, 0x1p-32, 0x1p-31, 0.5, 1 - 0x1p-24]
        for e in -140 ... -1 {
            let binade = Float(sign: .plus, exponent: e, significand: 1)
            ps += [binade, binade.nextUp, (2 * binade).nextDown]
            for _ in 0..<20 { ps.append(binade * (1 + s.nextUniform())) }
        }
        for p in ps where p < 1 {
            #expect(AnalogArray.slotThreshold(p) == UInt32(UInt64(Double(p) * 4_294_967_296.0)), "p = \(p)")
        }
    }
}
