import AIMCKernels
import CPulseKernels
import Testing
import AIMCCore

/// Runs `body` once per instruction set this CPU runs, with that set selected.
func forEachInstructionSet(_ body: (KernelInstructionSet) -> Void) {
    let previous = KernelInstructionSet.current
    defer { previous.select() }
    for isa in KernelInstructionSet.allCases where isa.isSupported {
        isa.select()
        body(isa)
    }
}

/// The C kernels of the stream draws, the periphery, the activations and W x against the Swift code they repeat: the
/// same bits on every instruction set.
@Suite("Stream, periphery and matrix kernels", .serialized)
struct StreamKernelTests {
    @Test("Block normals (C ziggurat fast path, Swift slow path) are nextNormal's, and the stream goes on where they stop")
    func zigguratNormals() {
        forEachInstructionSet { isa in
            for (seed, skipped) in [(1, 0), (2, 3), (3, 16), (4, 21), (5, 47)] {
                for count in [8, 15, 16, 17, 100, 1000, 5000] {
                    var a = RandomStream(key: StreamKey(seed: UInt64(seed), purpose: .forwardNoise, UInt64(count)), counter: (7, 9, 1))
                    for _ in 0..<skipped { _ = a.nextUInt32() }
                    var b = a
                    var fast = [Float](repeating: 0, count: count)
                    fast.withUnsafeMutableBufferPointer { a.fill(normals: $0.baseAddress!, count: count) }
                    let reference = (0..<count).map { _ in b.nextNormal() }
                    #expect(fast.map(\.bitPattern) == reference.map(\.bitPattern), "\(isa.name) seed \(seed) count \(count)")
                    #expect(a.position == b.position, "\(isa.name) seed \(seed) count \(count)")
                    #expect((0..<20).map { _ in a.nextUInt32() } == (0..<20).map { _ in b.nextUInt32() })
                }
            }
        }
    }

    /// The rule the C kernel repeats (AnalogArray.makeTrains): slot by slot, one word per slot of each drawing value.
    static func referenceTrains(_ values: [Float], scale: Float, length: Int, stream: inout RandomStream)
        -> (index: [Int32], bits: [UInt32], negative: [UInt8]) {
        let full: UInt32 = length >= 32 ? ~0 : (1 << UInt32(length)) - 1
        var out = (index: [Int32](), bits: [UInt32](), negative: [UInt8]())
        for (j, v) in values.enumerated() where v != 0 && v.isFinite {
            let p = abs(v) * scale
            var word: UInt32 = 0
            if p >= 1 {
                word = full
            } else {
                let threshold = AnalogArray.slotThreshold(p)
                for slot in 0..<length where stream.nextUInt32() < threshold { word |= 1 << UInt32(slot) }
            }
            if word != 0 {
                out.index.append(Int32(j))
                out.bits.append(word)
                out.negative.append(v < 0 ? 1 : 0)
            }
        }
        return out
    }

    @Test("Pulse trains from the C kernel are the slot-by-slot trains, from the same words")
    func trains() {
        forEachInstructionSet { isa in
            var gen = RandomStream(key: StreamKey(seed: 8, purpose: .benchmark))
            for count in [1, 5, 16, 17, 100, 333] {
                for length in [1, 2, 7, 8, 9, 16, 17, 31, 32] {
                    var values = (0..<count).map { _ in (gen.nextUniform() * 2 - 1) * 1.5 }
                    for (k, special) in [Float(0), .nan, .infinity, -.infinity, -0.0, 1e-40, 0.99, -1.0e-8].enumerated() where k < count {
                        values[(k * 7) % count] = special
                    }
                    var a = RandomStream(key: StreamKey(seed: 9, purpose: .pulseTrains, UInt64(count), UInt64(length)), counter: (1, 2, 3))
                    for _ in 0..<(count % 5) { _ = a.nextUInt32() }
                    var b = a
                    let scale: Float = 0.8
                    var index = [Int32](repeating: -1, count: count), bits = [UInt32](repeating: 0, count: count)
                    var negative = [UInt8](repeating: 0, count: count)
                    var consumed: UInt64 = 0
                    let start = a.position
                    let n = Int(aimc_trains(values, Int32(count), scale, Int32(length), a.cStream, start, &index, &bits, &negative, &consumed))
                    a.resume(at: start + consumed)
                    let r = Self.referenceTrains(values, scale: scale, length: length, stream: &b)
                    let label = "\(isa.name) count \(count) length \(length)"
                    #expect(Array(index[0..<n]) == r.index, "\(label)")
                    #expect(Array(bits[0..<n]) == r.bits, "\(label)")
                    #expect(Array(negative[0..<n]) == r.negative, "\(label)")
                    #expect(a.position == b.position, "\(label)")
                    #expect((0..<20).map { _ in a.nextUInt32() } == (0..<20).map { _ in b.nextUInt32() }, "\(label)")
                }
            }
        }
    }

    /// Quantiser.convert in scalar form (round half to even by the float-add trick, or none; then clipping).
    static func convert(_ u: Float, levels: Float, bound: Float) -> (Float, Int) {
        var q = u
        if levels > 0 {
            let t = min(max(u * levels, -0x1p21), 0x1p21)
            q = ((t + 0x1.8p23) - 0x1.8p23) / levels
        }
        return (min(max(q, -bound), bound), q > bound || q < -bound ? 1 : 0)
    }

    @Test("DAC, ADC and abs-max in the C kernels give the scalar rule's bits and clip counts")
    func periphery() {
        var gen = RandomStream(key: StreamKey(seed: 10, purpose: .benchmark))
        forEachInstructionSet { isa in
            for (levels, bound) in [(Float(63), Float(1)), (0, 1), (Float(1 / (2.0 * 12 / 510.0)), 12)] {
                var q = aimc_quantiser(levels: levels, bound: bound, fast: levels > 0 ? 1 : 0)
                for count in [1, 7, 16, 25, 33, 400] {
                    var x = (0..<count).map { _ in (gen.nextUniform() * 2 - 1) * 3 * bound }
                    if count > 3 { x[1] = .nan; x[2] = -0.0; x[3] = bound }
                    let z = (0..<count).map { _ in (gen.nextUniform() * 2 - 1) * 2 }
                    let label = "\(isa.name) levels \(levels) count \(count)"
                    let expectedMax = x.reduce(Float(0)) { m, v in abs(v) >= m ? abs(v) : m }
                    #expect(aimc_abs_max(x, Int32(count)).bitPattern == expectedMax.bitPattern, "\(label)")
                    let inv: Float = 1 / 1.7
                    var v = [Float](repeating: 0, count: count)
                    let clipped = Int(aimc_dac(x, Int32(count), inv, &q, &v))
                    let ref = x.map { Self.convert($0 * inv, levels: levels, bound: bound) }
                    #expect(v.map(\.bitPattern) == ref.map(\.0.bitPattern) && clipped == ref.reduce(0) { $0 + $1.1 }, "DAC \(label)")
                    let sigma: Float = 0.06
                    var y = [Float](repeating: 0, count: count)
                    let saturated = Int(aimc_adc(x, z, sigma, Int32(count), &q, &y))
                    let adcRef = (0..<count).map { Self.convert(x[$0] + sigma * z[$0], levels: levels, bound: bound) }
                    #expect(y.map(\.bitPattern) == adcRef.map(\.0.bitPattern) && saturated == adcRef.reduce(0) { $0 + $1.1 }, "ADC \(label)")
                }
            }
        }
    }

    @Test("W x in the C kernels gives the Swift kernels' bits (lane order and tree)", arguments: [
        (1, 1, 1), (16, 25, 9), (3, 16, 2), (17, 33, 3), (32, 400, 5), (10, 128, 4), (37, 70, 1), (128, 512, 2),
    ])
    func rowDots(shape: (Int, Int, Int)) {
        let (rows, cols, batch) = shape
        var gen = RandomStream(key: StreamKey(seed: 12, purpose: .benchmark, UInt64(rows), UInt64(cols)))
        let ldw = cols + 3, ldx = cols + 1, ldy = rows + 2
        var w = (0..<rows * ldw).map { _ in gen.nextUniform() * 2 - 1 }
        let x = (0..<batch * ldx).map { _ in gen.nextUniform() * 2 - 1 }
        if rows * cols > 5 { w[4] = 1e30; w[ldw] = -3e-39 }
        var expected = [Float](repeating: 0, count: batch * ldy)
        AIMCKernels.Kernels.batchedMatVec(transW: false, rows: rows, cols: cols, w: w, ldw: ldw, batch: batch, x: x, ldx: ldx,
                                          y: &expected, ldy: ldy)
        forEachInstructionSet { isa in
            var y = [Float](repeating: 0, count: batch * ldy)
            aimc_row_dots(Int32(rows), Int32(cols), w, ldw, Int32(batch), x, ldx, &y, ldy)
            for b in 0..<batch {
                #expect(y[b * ldy ..< b * ldy + rows].map(\.bitPattern) == expected[b * ldy ..< b * ldy + rows].map(\.bitPattern),
                        "\(isa.name) sample \(b)")
            }
        }
    }

    @Test("W^T x in the C kernels gives Linear's sequential sums, on every instruction set", arguments: [
        (1, 1, 1), (16, 25, 9), (3, 16, 2), (17, 33, 3), (32, 400, 5), (10, 128, 4), (37, 70, 1), (128, 512, 2), (25, 7, 3),
    ])
    func combineRows(shape: (Int, Int, Int)) {
        let (rows, cols, batch) = shape
        var gen = RandomStream(key: StreamKey(seed: 13, purpose: .benchmark, UInt64(rows), UInt64(cols)))
        let ldw = cols + 3, ldx = rows + 1, ldy = cols + 2
        var w = (0..<rows * ldw).map { _ in gen.nextUniform() * 2 - 1 }
        // Mixed magnitudes, so that another summation order would change the rounding.
        let x = (0..<batch * ldx).map { _ in (gen.nextUniform() * 2 - 1) * (gen.nextUInt32() & 1 == 0 ? 1 : 1e-3) }
        if rows * cols > 5 { w[4] = 1e30; w[ldw] = -3e-39 }
        var expected = [Float](repeating: 0, count: batch * ldy)
        for b in 0..<batch {
            for j in 0..<cols {
                var s: Float = 0
                for i in 0..<rows { s += x[b * ldx + i] * w[i * ldw + j] }
                expected[b * ldy + j] = s
            }
        }
        forEachInstructionSet { isa in
            var y = [Float](repeating: 0, count: batch * ldy)
            aimc_combine_rows(Int32(rows), Int32(cols), w, ldw, Int32(batch), x, ldx, &y, ldy)
            for b in 0..<batch {
                #expect(y[b * ldy ..< b * ldy + cols].map(\.bitPattern) == expected[b * ldy ..< b * ldy + cols].map(\.bitPattern),
                        "\(isa.name) sample \(b)")
            }
        }
    }
}
