import AIMCCore
import AIMCTraining
import Foundation
import Testing

/// Deterministic test values in [-1, 1).
func testValues(_ n: Int, seed: UInt64) -> [Float] {
    var s = RandomStream(key: StreamKey(seed: seed, purpose: .syntheticData, 99))
    return (0..<n).map { _ in s.nextUniform() * 2 - 1 }
}

/// A tiny image data set: n samples of side x side pixels, labels cycling over `classes`.
func tinyImages(_ n: Int, side: Int = 8, classes: Int = 3, seed: UInt64 = 1) -> Dataset {
    var s = RandomStream(key: StreamKey(seed: seed, purpose: .syntheticData))
    let pixels = (0..<(n * side * side)).map { _ in UInt8(s.nextInt(below: 256)) }
    return Dataset(count: n, features: side * side, classes: classes, pixels: pixels, labels: (0..<n).map { Int32($0 % classes) },
                   shape: TensorShape(height: side, width: side, channels: 1))
}

@Suite("Convolutional networks")
struct CNNTests {
    /// The direct convolution: y(b, oy, ox, o) = sum_{c, ky, kx} W[o, (c k + ky) k + kx] x(b, oy s + ky - p, ox s + kx - p, c).
    static func direct(_ layer: ConvLayer, _ w: [Float], _ x: [Float], batch: Int) -> [Double] {
        let (h, wd, c) = (layer.input.height, layer.input.width, layer.input.channels)
        let (oh, ow, co) = (layer.output.height, layer.output.width, layer.output.channels)
        let k = layer.kernel
        var y = [Double](repeating: 0, count: batch * layer.output.size)
        for b in 0..<batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for o in 0..<co {
                        var sum = 0.0
                        for ch in 0..<c {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let iy = oy * layer.stride + ky - layer.padding, ix = ox * layer.stride + kx - layer.padding
                                    guard iy >= 0 && iy < h && ix >= 0 && ix < wd else { continue }
                                    sum += Double(w[o * c * k * k + (ch * k + ky) * k + kx]) * Double(x[b * layer.input.size + (iy * wd + ix) * c + ch])
                                }
                            }
                        }
                        y[b * layer.output.size + (oy * ow + ox) * co + o] = sum
                    }
                }
            }
        }
        return y
    }

    /// im2col followed by one matrix-vector product per position equals the direct convolution; col2im is its adjoint
    /// (<unroll x, R> = <x, fold R>). Float32 sums of at most C k k = 36 products of values below 1 in magnitude: the
    /// error is below 36 x 2^-24 x 36 < 1e-4, and the adjoint identity holds to the same order.
    @Test("Convolution by im2col equals the direct loop; col2im is its adjoint", arguments: [(1, 0), (2, 1), (1, 2)])
    func convolution(stride: Int, padding: Int) {
        let input = TensorShape(height: 7, width: 6, channels: 4)
        let layer = ConvLayer(input: input, channels: 5, kernel: 3, stride: stride, padding: padding)
        let batch = 2
        let (rows, cols) = layer.matrix!
        #expect(rows == 5 && cols == 36)
        let w = testValues(rows * cols, seed: 1), x = testValues(batch * input.size, seed: 2)
        var unrolled = [Float](repeating: 0, count: batch * layer.positions * cols)
        x.withUnsafeBufferPointer { xp in unrolled.withUnsafeMutableBufferPointer { layer.unroll(xp.baseAddress!, batch: batch, into: $0.baseAddress!) } }
        let reference = Self.direct(layer, w, x, batch: batch)
        for r in 0..<(batch * layer.positions) {
            for o in 0..<rows {
                var y: Float = 0
                for j in 0..<cols { y += w[o * cols + j] * unrolled[r * cols + j] }
                #expect(abs(Double(y) - reference[r * rows + o]) < 1e-4, "row \(r) channel \(o)")
            }
        }
        let g = testValues(unrolled.count, seed: 3)
        var folded = [Float](repeating: 0, count: x.count)
        g.withUnsafeBufferPointer { gp in folded.withUnsafeMutableBufferPointer { layer.fold(gp.baseAddress!, batch: batch, into: $0.baseAddress!) } }
        let left = zip(unrolled, g).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let right = zip(x, folded).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(left - right) < 1e-3, "\(left) vs \(right)")
    }

    @Test("Max-pooling keeps each window's maximum and routes the gradient to it")
    func pooling() {
        let layer = PoolLayer(input: TensorShape(height: 4, width: 4, channels: 2), kernel: 2, stride: 2)
        let x = testValues(32, seed: 4)
        var y = [Float](repeating: 0, count: 8), memory = [Int32](repeating: 0, count: 8)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in memory.withUnsafeMutableBufferPointer { m in
            layer.forward(xp.baseAddress!, batch: 1, into: yp.baseAddress!, memory: m.baseAddress!)
        } } }
        for oy in 0..<2 { for ox in 0..<2 { for c in 0..<2 {
            let window = [(0, 0), (0, 1), (1, 0), (1, 1)].map { x[((2 * oy + $0.0) * 4 + 2 * ox + $0.1) * 2 + c] }
            #expect(y[(oy * 2 + ox) * 2 + c] == window.max())
        } } }
        let dy = testValues(8, seed: 5)
        var dx = [Float](repeating: 0, count: 32)
        dy.withUnsafeBufferPointer { d in dx.withUnsafeMutableBufferPointer { g in memory.withUnsafeBufferPointer { m in
            layer.backward(d.baseAddress!, batch: 1, into: g.baseAddress!, memory: m.baseAddress!)
        } } }
        #expect(dx.filter { $0 != 0 }.count == 8 && Set(dx.filter { $0 != 0 }) == Set(dy))
        for (o, i) in memory.enumerated() { #expect(x[Int(i)] == y[o] && dx[Int(i)] == dy[o]) }
    }

    static func cnnConfig(_ algorithm: Algorithm = .digitalSGD) -> ExperimentConfig {
        var c = ExperimentConfig.default
        c.algorithm.name = algorithm
        c.model.layers = "conv3k3,pool2,conv4k2,dense5"
        c.model.activation = .tanh
        c.model.tileSize = 8
        c.forward = .perfect; c.backward = .perfect; c.transfer = .perfect
        c.training.batchSize = 4
        c.training.evalBatchSize = 4
        return c
    }

    /// Digital SGD on a tiny CNN (conv, tanh, pool, conv, dense, dense) with ideal reads: one step with rate eta moves
    /// every weight by -eta dL/dw, which central differences of the loss reproduce. Float32 losses of size ~1 carry
    /// rounding of ~1e-7, so with h = 1e-3 the difference quotient is exact to ~1e-4 plus the O(h^2) truncation
    /// (second derivatives of size ~1: ~1e-6); the tolerance is 2e-3 + 2% of the gradient.
    @Test("Gradient check by finite differences on a tiny CNN (digital SGD)")
    func gradientCheck() throws {
        let data = tinyImages(4)
        let c = Self.cnnConfig()
        let eta: Float = 1e-3
        var stepped = c
        stepped.algorithm.lr = Double(eta)
        let t = try Trainer(config: stepped, comm: SingleProcess(), train: data, test: data)
        #expect(t.layout.layers.count == 4 && t.layout.layers[0].positions == 36 && t.layout.layers[1].positions == 4)
        let before = t.blocks.map { Array(UnsafeBufferPointer(start: $0.digitalArray("weights")!.values, count: $0.info.devices)) }
        _ = try t.trainOnBatch([0, 1, 2, 3])
        func loss() throws -> Double { try t.evaluate(data, limit: 4, epoch: 1).0 }
        var largest = [Int: Double]()
        for (k, block) in t.blocks.enumerated() {
            let w = block.digitalArray("weights")!
            let analytic = (0..<block.info.devices).map { Double(before[k][$0] - w[$0]) / Double(eta) }
            // Back to the weights before the step, then probe a few entries.
            for i in 0..<block.info.devices { w[i] = before[k][i] }
            for i in Set([0, block.info.devices / 2, block.info.devices - 1]) {
                let h: Float = 1e-3
                w[i] = before[k][i] + h
                let up = try loss()
                w[i] = before[k][i] - h
                let down = try loss()
                w[i] = before[k][i]
                let numeric = (up - down) / Double(2 * h)
                #expect(abs(numeric - analytic[i]) <= 2e-3 + 0.02 * abs(analytic[i]), "block \(block.info.index) (layer \(block.info.layer)) weight \(i): \(numeric) vs \(analytic[i])")
                largest[block.info.layer] = max(largest[block.info.layer] ?? 0, abs(analytic[i]))
            }
        }
        // Not vacuous: every layer has probed gradients well above the tolerance's floor.
        #expect(largest.count == 4 && largest.values.allSatisfy { $0 > 1e-2 }, "\(largest)")
    }

    /// The pulsed update of a convolution applies the rank-one update of every output position in turn; on a
    /// constant-step device without cycle-to-cycle noise each position's pulses on device (i, j) number
    /// n ~ Binomial(BL, p), E[n dw_min] = lr |x_j d_i|, Var = dw_min^2 BL p (1 - p), so over N independent repeats
    /// the mean change is the summed position update within 5 standard errors.
    @Test("The pulsed convolution update's mean is the summed position update (binomial bound)")
    func pulsedMean() throws {
        var c = ExperimentConfig.default
        c.algorithm.name = .analogSGD
        c.algorithm.lr = 0.01
        c.device = DeviceConfig()
        c.device.family = .constantStep
        c.device.dwMin = 1e-3
        c.device.wMax = 10; c.device.wMin = -10
        let positions = 9, rows = 2, cols = 4
        let info = BlockInfo(index: 0, layer: 0, rowBlock: 0, colBlock: 0, rowStart: 0, rows: rows, colStart: 0, cols: cols)
        let x = testValues(positions * cols, seed: 6), d = testValues(positions * rows, seed: 7).map { $0 * 0.5 }
        let model = DeviceModel(validated: c.device)
        let repeats = 400
        var mean = [Double](repeating: 0, count: rows * cols), variance = [Double](repeating: 0, count: rows * cols)
        let bl = Double(c.update.desiredBL)
        for i in 0..<rows {
            for j in 0..<cols {
                for p in 0..<positions {
                    let expected = Double(c.algorithm.lr) * Double(abs(x[p * cols + j] * d[p * rows + i])) / 1e-3  // pulses
                    let q = min(expected / bl, 1)
                    variance[i * cols + j] += bl * q * (1 - q) * 1e-6
                }
            }
        }
        for r in 0..<repeats {
            let b = WeightBlock(info: info, config: c, model: model, initialWeights: [Float](repeating: 0, count: rows * cols))
            b.gradientUpdate(input: x, inputStride: cols, delta: d, deltaStride: rows, batch: positions, step: UInt64(r))
            for e in 0..<(rows * cols) { mean[e] += Double(b.arrays[0].weights[e]) / Double(repeats) }
        }
        for i in 0..<rows {
            for j in 0..<cols {
                var summed = 0.0
                for p in 0..<positions { summed -= Double(c.algorithm.lr) * Double(d[p * rows + i]) * Double(x[p * cols + j]) }
                let bound = 5 * (variance[i * cols + j] / Double(repeats)).squareRoot() + 1e-9
                #expect(abs(mean[i * cols + j] - summed) <= bound, "(\(i), \(j)): mean \(mean[i * cols + j]), summed \(summed), bound \(bound)")
            }
        }
    }

    @Test("Bad model specifications are one clear error each")
    func badSpecs() {
        func message(_ layers: String, side: Int = 8) -> String {
            var m = ModelConfig()
            m.layers = layers
            do { _ = try m.network(input: TensorShape(height: side, width: side, channels: 1), classes: 3); return "" } catch { return error.description }
        }
        #expect(message("conv4k9").contains("layer 1 (conv4k9) has a 9x9 kernel, larger than its 8x8 input"))
        #expect(message("conv0k3").contains("must have 1...1048576 output channels"))
        #expect(message("conv4k3,pool4").contains("layer 2 (pool4) does not divide its 6x6 input"))
        #expect(message("dense4,pool2").contains("pool feature maps only"))
        #expect(message("conv4k3,pool2s0").contains("a stride of at least 1"))
        #expect(message("conv16").contains("none of conv<C>k<K>"))
        #expect(message("conv16k5,,dense3").contains("has the item ''"))
        #expect(message("dense0").contains("must have 1...1048576 outputs"))
        #expect(message("conv4k3", side: 1).contains("needs an image, but its input is a vector of 1 values (the data's samples are not square"))
        #expect(message("dense16,conv8k3").contains("layer 2 (conv8k3) needs an image") && message("dense16,conv8k3").contains("cannot follow a dense layer"))
        // A dense layer takes whatever its input holds (flattened), so its size cannot mismatch; the named models fit.
        #expect(message("conv4k3,flatten,dense7") == "")
        #expect(message(ModelConfig.named.first { $0.name == "cnn-paper" }.map { n in var m = ModelConfig(); n.apply(&m); return m.layers }!, side: 28) == "")
        var c = ExperimentConfig.default
        c.model.layers = "conv16x5"
        #expect(throws: ConfigError.self) { try c.validate() }
    }

    /// The paper's CNN on 28 x 28 images: conv 5x5 16 (24 x 24), pool 2 (12 x 12), conv 5x5 32 (8 x 8), pool 2 (4 x 4 x
    /// 32 = 512), dense 128, dense 10.
    @Test("The paper's CNN has the paper's shapes")
    func paperShapes() throws {
        var m = ModelConfig()
        ModelConfig.named.first { $0.name == "cnn-paper" }!.apply(&m)
        let net = try m.network(input: TensorShape(height: 28, width: 28, channels: 1), classes: 10)
        #expect(net.map(\.output.description) == ["24x24x16", "12x12x16", "8x8x32", "4x4x32", "128", "10"])
        #expect(net.compactMap { $0.matrix.map { [$0.rows, $0.cols] } } == [[16, 25], [32, 400], [128, 512], [10, 128]])
        #expect(m.activation == .tanh)
    }
}
