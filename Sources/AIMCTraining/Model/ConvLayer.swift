/// A 2-D convolution on tiles with aihwkit's mapping (AnalogConv2d): the kernel is unrolled into a matrix of
/// C_out rows x (C_in kh kw) columns (column j = (c kh + ky) kw + kx, the order of torch's unfold), cut into weight
/// blocks like any matrix, and read once per output position through the tile's periphery; the digital bias is added
/// per output channel. Stride and zero padding as in torch.nn.Conv2d; square kernels.
///
/// Forward of a sample: its input (H x W x C_in, channel-last) is unrolled into P = H_out W_out rows of
/// C_in kh kw values (im2col), each row is one read y_p = W x_p, and the rows are the output map (H_out x W_out x
/// C_out, channel-last). Backward: z_p = W^T d_p per position, folded back onto the input map (col2im, summing where
/// windows overlap). Update: the rank-one updates of every position in turn (pulsed per sample, aihwkit's CPU
/// semantics) or their sum (expected or per-batch modes): the Trainer treats the P rows of a sample as P rows of a
/// dense layer's batch.
public struct ConvLayer: NetworkLayer {
    public let input: TensorShape
    public let output: TensorShape
    public let kernel: Int
    public let stride: Int
    public let padding: Int

    /// - Precondition: the kernel fits the padded input (checked by `LayerSpec.build`).
    public init(input: TensorShape, channels: Int, kernel: Int, stride: Int, padding: Int) {
        self.input = input
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        output = TensorShape(height: (input.height + 2 * padding - kernel) / stride + 1,
                             width: (input.width + 2 * padding - kernel) / stride + 1, channels: channels)
    }

    public var matrix: (rows: Int, cols: Int)? { (output.channels, input.channels * kernel * kernel) }
    public var positions: Int { output.height * output.width }
    public var unrolls: Bool { true }
    public var specification: String {
        "conv\(output.channels)k\(kernel)" + (stride != 1 ? "s\(stride)" : "") + (padding != 0 ? "p\(padding)" : "")
    }

    /// im2col: row (b, oy, ox), column (c, ky, kx) = input (b, oy s + ky - pad, ox s + kx - pad, c), 0 outside.
    public func unroll(_ x: UnsafePointer<Float>, batch: Int, into rows: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (input.height, input.width, input.channels)
        let (oh, ow) = (output.height, output.width)
        let k = kernel, cols = c &* k &* k
        // Column j's offset from its window's first input when the window lies inside the input.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: cols) { offsets in
            for ch in 0..<c {
                for ky in 0..<k {
                    for kx in 0..<k { offsets[(ch &* k &+ ky) &* k &+ kx] = (ky &* w &+ kx) &* c &+ ch }
                }
            }
            let offset = offsets.baseAddress!
            for b in 0..<batch {
                let xs = x + b &* input.size
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let row = rows + ((b &* oh &+ oy) &* ow &+ ox) &* cols
                        let y0 = oy &* stride &- padding, x0 = ox &* stride &- padding
                        if y0 >= 0 && y0 &+ k <= h && x0 >= 0 && x0 &+ k <= w {
                            // The window lies inside the input: the same values, without bounds checks.
                            let window = xs + (y0 &* w &+ x0) &* c
                            for j in 0..<cols { row[j] = window[offset[j]] }
                            continue
                        }
                        for ch in 0..<c {
                            for ky in 0..<k {
                                let iy = oy &* stride &+ ky &- padding
                                let out = row + (ch &* k &+ ky) &* k
                                if iy < 0 || iy >= h {
                                    for kx in 0..<k { out[kx] = 0 }
                                    continue
                                }
                                for kx in 0..<k {
                                    let ix = ox &* stride &+ kx &- padding
                                    out[kx] = ix < 0 || ix >= w ? 0 : xs[(iy &* w &+ ix) &* c &+ ch]
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// col2im, the adjoint of `unroll`: each row's gradients summed back onto the input positions they came from.
    public func fold(_ rows: UnsafePointer<Float>, batch: Int, into dx: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (input.height, input.width, input.channels)
        let (oh, ow) = (output.height, output.width)
        let k = kernel, cols = c &* k &* k, kk = k &* k
        dx.update(repeating: 0, count: batch &* input.size)
        for b in 0..<batch {
            let dxs = dx + b &* input.size
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let row = rows + ((b &* oh &+ oy) &* ow &+ ox) &* cols
                    let y0 = oy &* stride &- padding, x0 = ox &* stride &- padding
                    if y0 >= 0 && y0 &+ k <= h && x0 >= 0 && x0 &+ k <= w {
                        // The window lies inside the input. One position adds at most once to each input element, so
                        // the order within a position does not matter: every element's sum runs over positions in order.
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let dst = dxs + ((y0 &+ ky) &* w &+ x0 &+ kx) &* c, src = row + (ky &* k &+ kx)
                                for ch in 0..<c { dst[ch] += src[ch &* kk] }
                            }
                        }
                        continue
                    }
                    for ch in 0..<c {
                        for ky in 0..<k {
                            let iy = oy &* stride &+ ky &- padding
                            if iy < 0 || iy >= h { continue }
                            let src = row + (ch &* k &+ ky) &* k
                            for kx in 0..<k {
                                let ix = ox &* stride &+ kx &- padding
                                if ix >= 0 && ix < w { dxs[(iy &* w &+ ix) &* c &+ ch] += src[kx] }
                            }
                        }
                    }
                }
            }
        }
    }
}
