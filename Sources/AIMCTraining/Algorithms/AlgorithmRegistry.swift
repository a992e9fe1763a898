/// Every training algorithm, by name. Adding an algorithm is one new file under `Algorithms/` (a type conforming
/// to `TrainingAlgorithm`, and its `Algorithm` constant) plus one line in `all`.
public enum AlgorithmRegistry {
    /// In the order help, errors and tests list them.
    public static let all: [any TrainingAlgorithm.Type] = [
        DigitalSGD.self,
        AnalogSGD.self,
        TikiTaka.self,
        TikiTakaV2.self,
        ResidualLearning.self,
        ResidualLearningV2.self,
        MultiTileResidual.self,
        RIDER.self,
        ChoppedTikiTakaV2.self,
        AGAD.self,
        MixedPrecision.self,
        ERIDER.self,
    ]

    static let byName: [String: any TrainingAlgorithm.Type] = {
        var table = [String: any TrainingAlgorithm.Type]()
        for t in all {
            precondition(table[t.name] == nil, "two algorithms are named \(t.name)")
            table[t.name] = t
        }
        return table
    }()

    /// The algorithm named `name`, or nil.
    public static func type(named name: String) -> (any TrainingAlgorithm.Type)? { byName[name] }

    /// Every algorithm's own parameters, each key once (its first owner's definition), in registry order. A key listed
    /// by several algorithms must be defined alike by all but for the default (checked here, once).
    public static let parameters: [AlgorithmParameter] = {
        var out = [AlgorithmParameter](), seen = [String: AlgorithmParameter]()
        for t in all {
            for p in t.parameters {
                if let earlier = seen[p.key] {
                    precondition(earlier.agrees(with: p), "algorithm parameter \(p.key) is defined in two ways")
                    continue
                }
                seen[p.key] = p
                out.append(p)
            }
        }
        return out
    }()

    /// The parameter with key `key` (under `algorithm.`), or nil.
    public static func parameter(_ key: String) -> AlgorithmParameter? { parameters.first { $0.key == key } }

    /// The definition of `key` that `algorithm` uses: its own when it lists the key (with its own default), else the
    /// first owner's.
    public static func parameter(_ key: String, for algorithm: Algorithm) -> AlgorithmParameter? {
        algorithm.type.parameters.first { $0.key == key } ?? parameter(key)
    }

    /// The algorithms that list the parameter `key` among their own.
    public static func users(of key: String) -> [any TrainingAlgorithm.Type] {
        all.filter { $0.parameters.contains { $0.key == key } }
    }
}

/// The name of a training algorithm (`algorithm.name`, `--algorithm`): one of `AlgorithmRegistry.all`. Each
/// algorithm's file declares its constant (`Algorithm.residual`, ...).
public struct Algorithm: RawRepresentable, Hashable, Codable, Sendable, CaseIterable, CustomStringConvertible {
    public let rawValue: String

    /// The registered algorithm named `rawValue`, or nil.
    public init?(rawValue: String) {
        guard AlgorithmRegistry.type(named: rawValue) != nil else { return nil }
        self.rawValue = rawValue
    }

    init(_ type: any TrainingAlgorithm.Type) { rawValue = type.name }

    public static var allCases: [Algorithm] { AlgorithmRegistry.all.map { Algorithm($0) } }

    /// The algorithm's type.
    public var type: any TrainingAlgorithm.Type { AlgorithmRegistry.type(named: rawValue)! }

    public var description: String { rawValue }

    /// Whether the algorithm moves arrays into each other (and reads through the transfer periphery).
    public var transfers: Bool { type.transfers }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let a = Algorithm(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "unknown algorithm \(text); one of " + Algorithm.allCases.map(\.rawValue).joined(separator: ", ")))
        }
        self = a
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
