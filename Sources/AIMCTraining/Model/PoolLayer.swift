/// Max-pooling, digital: each output (y, x, c) is the largest input in its window of `kernel` x `kernel` at stride
/// `stride` (the first one on ties, in row-major window order); the backward pass routes the gradient to that input.
public struct PoolLayer: NetworkLayer {
    public let input: TensorShape
    public let output: TensorShape
    public let kernel: Int
    public let stride: Int

    /// - Precondition: the windows tile the input (checked by `LayerSpec.build`).
    public init(input: TensorShape, kernel: Int, stride: Int) {
        self.input = input
        self.kernel = kernel
        self.stride = stride
        output = TensorShape(height: (input.height - kernel) / stride + 1, width: (input.width - kernel) / stride + 1, channels: input.channels)
    }

    public var specification: String { "pool\(kernel)" + (stride != kernel ? "s\(stride)" : "") }
    /// The index (within the sample's input) of each output's maximum.
    public var memoryPerSample: Int { output.size }

    public func forward(_ x: UnsafePointer<Float>, batch: Int, into y: UnsafeMutablePointer<Float>, memory: UnsafeMutablePointer<Int32>) {
        let (w, c) = (input.width, input.channels)
        let (oh, ow) = (output.height, output.width)
        for b in 0..<batch {
            let xs = x + b &* input.size, ys = y + b &* output.size, ms = memory + b &* output.size
            for oy in 0..<oh {
                for ox in 0..<ow {
                    // Channel by channel: the first window element, then each later one (row-major) where it is larger,
                    // chosen without a branch. NaN never wins a comparison: the first element stands in for a NaN window.
                    let o = (oy &* ow &+ ox) &* c
                    let first = ((oy &* stride) &* w &+ ox &* stride) &* c
                    for ch in 0..<c {
                        var best = xs[first &+ ch], at = first &+ ch
                        for ky in 0..<kernel {
                            let rowStart = ((oy &* stride &+ ky) &* w &+ ox &* stride) &* c &+ ch
                            for kx in (ky == 0 ? 1 : 0)..<kernel {
                                let i = rowStart &+ kx &* c, v = xs[i], wins = v > best
                                best = wins ? v : best
                                at = wins ? i : at
                            }
                        }
                        ys[o &+ ch] = best
                        ms[o &+ ch] = Int32(truncatingIfNeeded: at)
                    }
                }
            }
        }
    }

    public func backward(_ dy: UnsafePointer<Float>, batch: Int, into dx: UnsafeMutablePointer<Float>, memory: UnsafePointer<Int32>) {
        dx.update(repeating: 0, count: batch * input.size)
        for b in 0..<batch {
            let dxs = dx + b &* input.size, dys = dy + b &* output.size, ms = memory + b &* output.size
            for o in 0..<output.size { dxs[Int(ms[o])] += dys[o] }
        }
    }
}
