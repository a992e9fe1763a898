/// A fully connected layer: y = W x + b on tiles, W of `outputs` x `inputs` (the input flattened), one read per sample.
public struct DenseLayer: NetworkLayer {
    public let input: TensorShape
    public let output: TensorShape
    public let inputs: Int

    public init(inputs: Int, outputs: Int, input: TensorShape? = nil) {
        self.inputs = inputs
        self.input = input ?? .vector(inputs)
        output = .vector(outputs)
    }

    public var matrix: (rows: Int, cols: Int)? { (output.channels, inputs) }
    public var specification: String { "dense\(output.channels)" }
}
