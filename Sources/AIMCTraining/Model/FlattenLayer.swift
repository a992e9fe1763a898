/// The feature map as a vector: a change of shape only (channel-last storage is already the flat order), so a dense
/// layer after it sees element (y, x, c) at (y * width + x) * channels + c.
public struct FlattenLayer: NetworkLayer {
    public let input: TensorShape
    public var output: TensorShape { .vector(input.size) }

    public init(input: TensorShape) { self.input = input }

    public var specification: String { "flatten" }
}
