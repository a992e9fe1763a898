import AIMCCore

/// The shape of one sample's activation: height x width x channels, stored channel-last: element (y, x, c) at
/// (y * width + x) * channels + c. A vector of n values is 1 x 1 x n.
public struct TensorShape: Sendable, Equatable, CustomStringConvertible {
    public let height: Int
    public let width: Int
    public let channels: Int

    public init(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
    }

    public static func vector(_ n: Int) -> TensorShape { TensorShape(height: 1, width: 1, channels: n) }

    public var size: Int { height * width * channels }
    public var isVector: Bool { height == 1 && width == 1 }
    /// "28x28x1", or "256" for a vector.
    public var description: String { isVector ? "\(channels)" : "\(height)x\(width)x\(channels)" }
}

/// One layer of a network, from one activation to the next. An analog layer (dense, conv) keeps a weight matrix of
/// `matrix.rows` outputs x `matrix.cols` inputs on tiles, cut into weight blocks like any matrix, and reads it once
/// per output position: a dense layer at one position per sample, a convolution at every position of its output map
/// (aihwkit's mapping: the kernel unrolled into a (C_in kh kw) x C_out matrix). Its matrix inputs are the rows of
/// `unroll` (batch x positions rows of `cols` values); its outputs, batch x positions rows of `rows` values, are the
/// output tensor in channel-last order. A digital layer (max-pool, flatten) has no matrix; every rank that holds its
/// input computes it. The distributed step (`Trainer`) and the communication model handle layers through this
/// protocol only.
public protocol NetworkLayer: Sendable, CustomStringConvertible {
    var input: TensorShape { get }
    var output: TensorShape { get }
    /// The weight matrix of an analog layer (rows = output channels, cols = inputs of one output position), else nil.
    var matrix: (rows: Int, cols: Int)? { get }
    /// Output positions per sample (rows of the matrix input per sample): 1 for a dense layer.
    var positions: Int { get }
    /// Whether `unroll` copies: false when the input tensor is itself the matrix input (dense).
    var unrolls: Bool { get }
    /// Analog layers with `unrolls`: the matrix inputs of a batch, batch x positions rows of `cols` values (im2col).
    func unroll(_ input: UnsafePointer<Float>, batch: Int, into rows: UnsafeMutablePointer<Float>)
    /// The adjoint of `unroll`: gradients with respect to the matrix inputs summed into the input's gradient
    /// (col2im; `input` is overwritten).
    func fold(_ rows: UnsafePointer<Float>, batch: Int, into input: UnsafeMutablePointer<Float>)
    /// Digital layers: `output` from `input` for a batch; `memory` keeps what `backward` needs (argmax indices).
    func forward(_ input: UnsafePointer<Float>, batch: Int, into output: UnsafeMutablePointer<Float>, memory: UnsafeMutablePointer<Int32>)
    /// Digital layers: the gradient with respect to the input from the one with respect to the output (`input` is
    /// overwritten).
    func backward(_ output: UnsafePointer<Float>, batch: Int, into input: UnsafeMutablePointer<Float>, memory: UnsafePointer<Int32>)
    /// Int32 values of `memory` per sample.
    var memoryPerSample: Int { get }
    /// The layer as a model specification writes it ("conv16k5", "pool2", "dense128").
    var specification: String { get }
}

extension NetworkLayer {
    public var matrix: (rows: Int, cols: Int)? { nil }
    public var positions: Int { 1 }
    public var unrolls: Bool { false }
    public var memoryPerSample: Int { 0 }
    public func unroll(_ input: UnsafePointer<Float>, batch: Int, into rows: UnsafeMutablePointer<Float>) {
        rows.update(from: input, count: batch * self.input.size)
    }
    public func fold(_ rows: UnsafePointer<Float>, batch: Int, into input: UnsafeMutablePointer<Float>) {
        input.update(from: rows, count: batch * self.input.size)
    }
    public func forward(_ input: UnsafePointer<Float>, batch: Int, into output: UnsafeMutablePointer<Float>, memory: UnsafeMutablePointer<Int32>) {
        output.update(from: input, count: batch * self.output.size)
    }
    public func backward(_ output: UnsafePointer<Float>, batch: Int, into input: UnsafeMutablePointer<Float>, memory: UnsafePointer<Int32>) {
        input.update(from: output, count: batch * self.input.size)
    }
    public var description: String { specification }
}

/// One item of a model specification (`model.layers`), before shapes are known.
public enum LayerSpec: Sendable, Equatable {
    /// conv<C>k<K>[s<S>][p<P>]: C output channels, K x K kernel, stride S (1), zero padding P (0).
    case conv(channels: Int, kernel: Int, stride: Int, padding: Int)
    /// pool<K>[s<S>]: K x K max-pooling, stride S (K).
    case pool(kernel: Int, stride: Int)
    /// dense<N>: a fully connected layer of N outputs (the input is flattened).
    case dense(Int)
    /// flatten: the feature map as a vector (a dense layer flattens anyway; for readability).
    case flatten

    /// Parses "conv16k5,pool2,conv32k5,pool2,dense128" (items separated by commas; spaces ignored).
    /// - Throws: `ConfigError` naming `model.layers` and the item.
    public static func parse(_ text: String) throws(ConfigError) -> [LayerSpec] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.filter { !$0.isWhitespace } }
        var out = [LayerSpec]()
        for item in items {
            guard let spec = parseItem(item.lowercased()) else {
                throw ConfigError(key: "model.layers", option: "--layers",
                                  message: "has the item '\(item)', which is none of conv<C>k<K>[s<S>][p<P>], pool<K>[s<S>], dense<N>, flatten (e.g. conv16k5,pool2,conv32k5,pool2,dense128)")
            }
            out.append(spec)
        }
        return out
    }

    static func parseItem(_ s: String) -> LayerSpec? {
        if s == "flatten" { return .flatten }
        func numbers(_ body: Substring, _ letters: [Character]) -> [Character: Int]? {
            // First number unlabelled (key " "), then letter-number pairs in the given order, each optional.
            var out = [Character: Int]()
            var rest = body
            let first = rest.prefix { $0.isASCII && $0.isNumber }
            guard !first.isEmpty, let v = Int(first) else { return nil }
            out[" "] = v
            rest = rest.dropFirst(first.count)
            for l in letters where rest.first == l {
                rest = rest.dropFirst()
                let digits = rest.prefix { $0.isASCII && $0.isNumber }
                guard !digits.isEmpty, let v = Int(digits) else { return nil }
                out[l] = v
                rest = rest.dropFirst(digits.count)
            }
            return rest.isEmpty ? out : nil
        }
        if s.hasPrefix("conv"), let n = numbers(s.dropFirst(4), ["k", "s", "p"]), let k = n["k"] {
            return .conv(channels: n[" "]!, kernel: k, stride: n["s"] ?? 1, padding: n["p"] ?? 0)
        }
        if s.hasPrefix("pool"), let n = numbers(s.dropFirst(4), ["s"]) { return .pool(kernel: n[" "]!, stride: n["s"] ?? n[" "]!) }
        if s.hasPrefix("dense"), let n = numbers(s.dropFirst(5), []) { return .dense(n[" "]!) }
        return nil
    }

    /// The layers of a model on inputs of shape `input`, ending with a dense layer of `classes` outputs.
    /// - Throws: `ConfigError` naming `model.layers` and the layer that does not fit (a kernel larger than its input,
    ///   no channels, a pooling that does not divide its map, a stride of 0, a dense layer of no outputs).
    public static func build(_ specs: [LayerSpec], input: TensorShape, classes: Int) throws(ConfigError) -> [any NetworkLayer] {
        var layers = [any NetworkLayer]()
        var shape = input
        func fail(_ i: Int, _ message: String) -> ConfigError {
            ConfigError(key: "model.layers", option: "--layers", message: "layer \(i + 1) (\(specs[i].text)) \(message)")
        }
        for (i, spec) in specs.enumerated() {
            switch spec {
            case let .conv(channels, kernel, stride, padding):
                guard channels >= 1 && channels <= 1 << 20 else { throw fail(i, "must have 1...1048576 output channels") }
                guard kernel >= 1, stride >= 1, padding >= 0, padding < kernel else {
                    throw fail(i, "needs a kernel and a stride of at least 1 and a padding below the kernel size")
                }
                if shape.height == 1 && shape.width == 1 && kernel > 1 {
                    throw fail(i, "needs an image, but its input is a vector of \(shape.channels) values"
                        + (i == 0 ? " (the data's samples are not square images: teacher data gives an image when --features is a square, such as 49 or 64)"
                                  : " (a convolution cannot follow a dense layer or a flatten)"))
                }
                let h = shape.height + 2 * padding, w = shape.width + 2 * padding
                guard kernel <= h && kernel <= w else {
                    throw fail(i, "has a \(kernel)x\(kernel) kernel, larger than its \(shape.height)x\(shape.width) input (with padding \(padding))")
                }
                let layer = ConvLayer(input: shape, channels: channels, kernel: kernel, stride: stride, padding: padding)
                layers.append(layer)
                shape = layer.output
            case let .pool(kernel, stride):
                guard !shape.isVector else { throw fail(i, "has a vector as input (after a dense layer or flatten); pool feature maps only") }
                guard kernel >= 1 && stride >= 1 else { throw fail(i, "needs a window and a stride of at least 1") }
                guard kernel <= shape.height && kernel <= shape.width else {
                    throw fail(i, "has a \(kernel)x\(kernel) window, larger than its \(shape.height)x\(shape.width) input")
                }
                guard (shape.height - kernel) % stride == 0 && (shape.width - kernel) % stride == 0 else {
                    throw fail(i, "does not divide its \(shape.height)x\(shape.width) input (windows of \(kernel) at stride \(stride) leave a remainder); use another window or pad the convolution before it")
                }
                let layer = PoolLayer(input: shape, kernel: kernel, stride: stride)
                layers.append(layer)
                shape = layer.output
            case .flatten:
                let layer = FlattenLayer(input: shape)
                layers.append(layer)
                shape = layer.output
            case .dense(let n):
                guard n >= 1 && n <= 1 << 20 else { throw fail(i, "must have 1...1048576 outputs") }
                let layer = DenseLayer(inputs: shape.size, outputs: n, input: shape)
                layers.append(layer)
                shape = layer.output
            }
        }
        layers.append(DenseLayer(inputs: shape.size, outputs: classes, input: shape))
        return layers
    }

    /// The item as the specification writes it.
    public var text: String {
        switch self {
        case let .conv(c, k, s, p): return "conv\(c)k\(k)" + (s != 1 ? "s\(s)" : "") + (p != 0 ? "p\(p)" : "")
        case let .pool(k, s): return "pool\(k)" + (s != k ? "s\(s)" : "")
        case .dense(let n): return "dense\(n)"
        case .flatten: return "flatten"
        }
    }
}
