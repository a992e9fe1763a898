import AIMCCore

/// Digital SGD, the reference: floating-point weights updated with exact products, W <- W - alpha sum_b d_b x_b^T,
/// read without periphery. No analog arrays.
public final class DigitalSGD: TrainingAlgorithm {
    public static let name = "digital-sgd"
    public static let title = "digital SGD (floating point, exact products)"
    public static let reads: Set<String> = ["lr"]
    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [] }
    public static func digitalFloatsPerWeight(_ config: AlgorithmConfig) -> Int { 1 }
    public static func describe(_ config: ExperimentConfig, update: String) -> String { "lr \(Report.g(config.algorithm.lr))" }

    /// The weights, rows x cols, row-major.
    let weights: DigitalArray

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {
        weights = DigitalArray(name: "weights", count: block.devices, initial: initialWeights)
    }

    public var digitalWeights: UnsafeMutablePointer<Float>? { weights.values }
    public var digitalArrays: [DigitalArray] { [weights] }
    public var digitalReadTerms: [WeightTerm] { [WeightTerm("weights", 1)] }

    public func gradientUpdate(_ block: WeightBlock, x: UnsafePointer<Float>, xStride: Int, d: UnsafePointer<Float>, dStride: Int,
                               batch: Int, step: UInt64) {
        Linear.gemm(transA: true, transB: false, m: block.info.rows, n: block.info.cols, k: batch, alpha: -block.alpha, a: d,
                    lda: dStride, b: x, ldb: xStride, beta: 1, c: weights.values, ldc: block.info.cols)
    }
}

extension Algorithm {
    public static let digitalSGD = Algorithm(DigitalSGD.self)
}
