import Foundation
import Testing
import AIMCCore

/// y = W x through the periphery for a batch of inputs (rows of `x`).
func periphery(_ w: [Float], rows: Int, cols: Int, _ x: [[Float]], io: IOConfig, transposed: Bool = false,
               seed: UInt64 = 0, step: UInt32 = 0) -> [[Float]] {
    var statistics = ReadStatistics()
    return periphery(w, rows: rows, cols: cols, x, io: io, transposed: transposed, seed: seed, step: step, statistics: &statistics)
}

/// The same, adding the read's counts to `statistics`.
func periphery(_ w: [Float], rows: Int, cols: Int, _ x: [[Float]], io: IOConfig, transposed: Bool = false,
               seed: UInt64 = 0, step: UInt32 = 0, statistics: inout ReadStatistics) -> [[Float]] {
    let nIn = transposed ? rows : cols, nOut = transposed ? cols : rows
    let flat = x.flatMap { $0 }
    precondition(flat.count == x.count * nIn)
    var out = [Float](repeating: .nan, count: x.count * nOut)
    let scratch = PeripheryScratch()
    w.withUnsafeBufferPointer { wb in
        flat.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                Periphery.multiply(weights: wb.baseAddress!, rows: rows, cols: cols, transposed: transposed,
                                   input: xb.baseAddress!, inputStride: nIn, batch: x.count, output: ob.baseAddress!,
                                   io: io, noise: NoiseSource(key: StreamKey(seed: seed, purpose: .forwardNoise), step: step),
                                   scratch: scratch, statistics: &statistics)
            }
        }
    }
    return (0..<x.count).map { Array(out[$0 * nOut..<($0 + 1) * nOut]) }
}

@Suite("Periphery")
struct PeripheryTests {
    let w: [Float] = [0.5, -0.25, 0.1, 0.3, 0.2, -0.4]  // 2 x 3

    @Test("Perfect IO is the exact product, forward and transposed")
    func perfect() {
        let y = periphery(w, rows: 2, cols: 3, [[1, 2, 3], [0, -1, 0.5]], io: .perfect)
        func close(_ a: [Float], _ b: [Float]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) < 1e-6 } }
        #expect(close(y[0], [Float(0.3), Float(-0.5)]))
        #expect(close(y[1], [Float(0.3), Float(-0.4)]))
        let z = periphery(w, rows: 2, cols: 3, [[1, -1]], io: .perfect, transposed: true)
        #expect(close(z[0], [Float(0.2), Float(-0.45), Float(0.5)]))
    }

    @Test("Noise management alone is exact: scale by max|x|, rescale")
    func noiseManagementOnly() {
        var io = IOConfig()
        io.inpRes = 0; io.outRes = 0; io.outNoise = 0
        let y = periphery(w, rows: 2, cols: 3, [[1, 2, 3]], io: io)
        #expect(abs(y[0][0] - 0.3) < 1e-6 && abs(y[0][1] - (-0.5)) < 1e-6)
    }

    @Test("7-bit DAC: steps of 1/63 after abs-max scaling, round half to even")
    func dac() {
        var io = IOConfig()
        io.outRes = 0; io.outNoise = 0
        let identity: [Float] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        let y = periphery(identity, rows: 3, cols: 3, [[0.3, -1, 0.001]], io: io)
        #expect(y[0] == [19.0 / 63, -1, 0])   // 0.3 * 63 = 18.9 -> 19
        let half = periphery(identity, rows: 3, cols: 3, [[1, 0.5 / 63, 1.5 / 63]], io: io)
        #expect(half[0] == [1, 0, 2.0 / 63])  // ties to even: 0.5 -> 0, 1.5 -> 2
    }

    @Test("9-bit ADC: steps of 24/510, clipping at out_bound, iterative bound management")
    func adcAndBoundManagement() {
        var io = IOConfig()
        io.inpRes = 0; io.outNoise = 0
        let one = periphery([1], rows: 1, cols: 1, [[1]], io: io)
        #expect(one[0][0] == Float(21) / 21.25)          // rint(21.25) = 21
        let big = periphery([20], rows: 1, cols: 1, [[1]], io: io)
        // Round 1 saturates (20 > 12); round 2 halves the input: y = rint(10 * 21.25)/21.25 = 212/21.25, times 2.
        #expect(abs(big[0][0] - Float(212) / 21.25 * 2) < 1e-5)
        io.boundManagement = .none
        let clipped = periphery([20], rows: 1, cols: 1, [[1]], io: io)
        #expect(clipped[0][0] == 12)
        // Beyond 16x the fifth round is accepted clipped: 400 -> 400/16 = 25 > 12 -> 12 * 16.
        io.boundManagement = .iterative
        let huge = periphery([400], rows: 1, cols: 1, [[1]], io: io)
        #expect(huge[0][0] == 12 * 16)
    }

    @Test("An all-zero input reads an exact zero, even with output noise")
    func zeroInput() {
        let y = periphery(w, rows: 2, cols: 3, [[0, 0, 0]], io: IOConfig())
        #expect(y[0] == [0, 0])
    }

    /// Output noise N(0, 0.06^2) in the normalised domain, rescaled by s = max|x| = 0.5: the sd of y is 0.03.
    /// 20,000 samples x 2 outputs: relative standard error of the variance sqrt(2/n) = 0.7%, bound 6 of those.
    @Test("Output noise has the configured standard deviation, scaled by max|x|")
    func outputNoise() {
        var io = IOConfig()
        io.inpRes = 0; io.outRes = 0
        let zeros = [Float](repeating: 0, count: 6)
        let batch = [[Float]](repeating: [0.5, 0.25, -0.1], count: 20_000)
        let y = periphery(zeros, rows: 2, cols: 3, batch, io: io).flatMap { $0 }.map(Double.init)
        let mean = y.reduce(0, +) / Double(y.count)
        let variance = y.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(y.count - 1)
        #expect(abs(variance / (0.03 * 0.03) - 1) < 6 * (2 / Double(y.count)).squareRoot())
        #expect(abs(mean) < 6 * 0.03 / Double(y.count).squareRoot())
        // Same key and step: the same noise; another step: other noise.
        let again = periphery(zeros, rows: 2, cols: 3, Array(batch[0..<4]), io: io)
        let other = periphery(zeros, rows: 2, cols: 3, Array(batch[0..<4]), io: io, step: 1)
        #expect(again.flatMap { $0 }.map(Double.init) == Array(y[0..<8]))
        #expect(other != again)
    }

    @Test("Read statistics count clipped DAC inputs, clipped ADC outputs and bound-management repeats")
    func statistics() {
        var io = IOConfig()
        io.inpRes = 0; io.outNoise = 0; io.noiseManagement = .none; io.boundManagement = .none
        var s = ReadStatistics()
        // |2| and |-3| exceed inp_bound 1; the outputs (0.5 - 0.25 + 0.05, 0.3 + 0.2 - 0.2) stay inside out_bound.
        _ = periphery(w, rows: 2, cols: 3, [[2, -3, 0.5], [0.1, 0.2, 0.3]], io: io, statistics: &s)
        #expect(s.reads == 2 && s.inputs == 6 && s.clippedInputs == 2 && s.outputs == 4 && s.clippedOutputs == 0
                && s.boundManagementRepeats == 0, "\(s)")
        // Bound management: 400 saturates at r = 1, 2, 4, 8; the fifth round (400/16 = 25 > 12) is accepted clipped.
        io = IOConfig()
        io.inpRes = 0; io.outNoise = 0
        var b = ReadStatistics()
        _ = periphery([400], rows: 1, cols: 1, [[1]], io: io, statistics: &b)
        #expect(b.reads == 1 && b.inputs == 5 && b.boundManagementRepeats == 4 && b.clippedOutputs == 1 && b.clippedInputs == 0)
        // 20 saturates once; the repeat at r = 2 reads 10, inside the bound: nothing clipped is delivered.
        _ = periphery([20], rows: 1, cols: 1, [[1]], io: io, statistics: &b)
        #expect(b.reads == 2 && b.inputs == 7 && b.boundManagementRepeats == 5 && b.clippedOutputs == 1)
        // Ideal reads count reads and outputs only.
        var p = ReadStatistics()
        _ = periphery(w, rows: 2, cols: 3, [[1, 2]], io: .perfect, transposed: true, statistics: &p)
        #expect(p.reads == 1 && p.outputs == 3 && p.inputs == 0 && p.clippedOutputs == 0)
    }

    /// The converters round with a float-add trick instead of a libm call; it must agree with round half to even
    /// (`rounded(.toNearestOrEven)`) on every level, ties included.
    @Test("DAC quantisation equals round half to even of x * levels, for 7 and 12 bits")
    func dacRounding() {
        for bits in [7, 12] {
            var io = IOConfig()
            io.inpRes = IOConfig.resolution(bits: bits); io.outRes = 0; io.outNoise = 0; io.noiseManagement = .none
            let levels = Float(1 / (io.inpRes * 2 * io.inpBound))
            var stream = RandomStream(key: StreamKey(seed: 5, purpose: .benchmark))
            var x = (0..<4000).map { _ in stream.nextUniform() * 2.2 - 1.1 }
            x += (0..<200).map { (Float($0) - 100 + 0.5) / levels }       // ties: k + 1/2 levels
            let n = x.count
            var identity = [Float](repeating: 0, count: n * n)
            for i in 0..<n { identity[i * n + i] = 1 }
            let y = periphery(identity, rows: n, cols: n, [x], io: io)[0]
            let expected = x.map { min(max(($0 * levels).rounded(.toNearestOrEven) / levels, -1), 1) }
            #expect(y == expected, "\(bits) bits")
        }
    }

    @Test("A one-hot transfer read returns the column through the ADC (no noise management)")
    func readOneHot() {
        var out: [Float] = [w[1], w[4]]  // column 1 of the 2 x 3 matrix
        var io = IOConfig.table4Transfer
        io.outNoise = 0
        var statistics = ReadStatistics()
        Periphery.readOneHot(&out, count: 2, index: 1, io: io,
                             noise: NoiseSource(key: StreamKey(seed: 0, purpose: .transferReadNoise), step: 0),
                             statistics: &statistics)
        #expect(statistics.reads == 1 && statistics.outputs == 2 && statistics.clippedOutputs == 0 && statistics.inputs == 0)
        #expect(out == [(-0.25 * 21.25).rounded(.toNearestOrEven) / 21.25, (0.2 * Float(21.25)).rounded(.toNearestOrEven) / 21.25])
    }
}
