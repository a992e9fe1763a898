import AIMCCore

/// Analog SGD (paper Eq. 2): the gradient is pulsed into the weight array W, which the reads see;
/// W <- W - alpha grad .* F(W) - alpha |grad| .* G(W) in expectation. It minimises a biased objective (Theorem 1).
public final class AnalogSGD: TrainingAlgorithm {
    public static let name = "analog-sgd"
    public static let title = "Analog SGD (Eq. 2)"
    public static let reads = AlgorithmConfig.SharedKeys.analog
    public static func roles(_ config: AlgorithmConfig) -> [ArrayRole] { [.main] }
    public static func describe(_ config: ExperimentConfig, update: String) -> String {
        "alpha \(Report.g(config.algorithm.lr)), \(update)"
    }

    public init(block: BlockInfo, config: ExperimentConfig, initialWeights: [Float]) {}
}

extension Algorithm {
    public static let analogSGD = Algorithm(AnalogSGD.self)
}
