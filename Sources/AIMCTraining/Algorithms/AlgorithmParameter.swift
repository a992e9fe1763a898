import AIMCCore
import Foundation

/// The value of an algorithm's own configuration key.
public enum ParameterValue: Sendable, Hashable, CustomStringConvertible {
    case number(Double)
    case integer(Int)
    case boolean(Bool)
    case numbers([Double])
    case integers([Int])

    /// As errors quote values: integral numbers without a fraction (2, not 2.0).
    public var description: String {
        func number(_ v: Double) -> String { v.isFinite && v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)" }
        switch self {
        case .number(let v): return number(v)
        case .integer(let v): return "\(v)"
        case .boolean(let v): return "\(v)"
        case .numbers(let v): return "[" + v.map(number).joined(separator: ", ") + "]"
        case .integers(let v): return "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
        }
    }

    /// Whether two values are of the same kind (number, integer, flag, list of numbers, list of integers).
    public func sameKind(_ other: ParameterValue) -> Bool {
        switch (self, other) {
        case (.number, .number), (.integer, .integer), (.boolean, .boolean), (.numbers, .numbers), (.integers, .integers): return true
        default: return false
        }
    }

    /// Whether values of this kind are integers (a list of integers included), for the configuration reader.
    public var isInteger: Bool {
        switch self {
        case .integer, .integers: return true
        default: return false
        }
    }
}

/// A Swift type an algorithm parameter can have.
public protocol ParameterType: Sendable, Equatable {
    init?(parameter: ParameterValue)
    var parameter: ParameterValue { get }
}

extension Double: ParameterType {
    public init?(parameter: ParameterValue) { if case .number(let v) = parameter { self = v } else { return nil } }
    public var parameter: ParameterValue { .number(self) }
}

extension Int: ParameterType {
    public init?(parameter: ParameterValue) { if case .integer(let v) = parameter { self = v } else { return nil } }
    public var parameter: ParameterValue { .integer(self) }
}

extension Bool: ParameterType {
    public init?(parameter: ParameterValue) { if case .boolean(let v) = parameter { self = v } else { return nil } }
    public var parameter: ParameterValue { .boolean(self) }
}

extension Array: ParameterType where Element: ParameterType {
    public init?(parameter: ParameterValue) {
        switch parameter {
        case .numbers(let v) where Element.self == Double.self: self = v as! [Element]
        case .integers(let v) where Element.self == Int.self: self = v as! [Element]
        default: return nil
        }
    }
    public var parameter: ParameterValue {
        Element.self == Double.self ? .numbers(self as! [Double]) : .integers(self as! [Int])
    }
}

/// One configuration key an algorithm owns, under `algorithm.` (untyped: what the configuration reader, the
/// sweeps, the notes on unused options and the help need). Several algorithms may own the same key (aihwkit's
/// `in_chop_prob` of ChoppedTransferCompound and DynamicTransferCompound) with their own defaults, as aihwkit's
/// classes do; the key, option, rule and kind must agree.
public struct AlgorithmParameter: Sendable {
    /// The key under `algorithm.`, e.g. "rider_eta".
    public let key: String
    /// The command-line option that sets it, if it has one (every key can be set with `--set algorithm.KEY=VALUE`).
    public let option: String?
    public let defaultValue: ParameterValue
    /// Meaning, unit and source, one line.
    public let help: String
    /// The rule an error states ("must lie in [1e-30, 1]"); for a list, the rule of each element.
    public let rule: String
    let accepts: @Sendable (ParameterValue) -> Bool

    /// Checks `value` against the rule.
    /// - Throws: `ConfigError` naming the key and option.
    public func check(_ value: ParameterValue) throws(ConfigError) {
        guard !accepts(value) else { return }
        throw ConfigError(key: "algorithm." + key, option: option, message: "\(rule); got \(value)")
    }

    /// Whether two definitions of a shared key agree (all but the default, which is each algorithm's own).
    func agrees(with other: AlgorithmParameter) -> Bool {
        key == other.key && option == other.option && defaultValue.sameKind(other.defaultValue) && rule == other.rule
    }
}

/// A typed handle of an algorithm parameter: `config.algorithm[RIDER.eta]` reads or sets it.
public struct Parameter<Value: ParameterType>: Sendable {
    public let spec: AlgorithmParameter
    public var key: String { spec.key }

    init(key: String, option: String?, default value: Value, help: String, rule: String,
         accepts: @escaping @Sendable (Value) -> Bool) {
        spec = AlgorithmParameter(key: key, option: option, defaultValue: value.parameter, help: help, rule: rule,
                                  accepts: { Value(parameter: $0).map(accepts) ?? false })
    }
}

extension Parameter where Value == Double {
    /// A number in `range`.
    public static func number(_ key: String, option: String?, default value: Double, in range: ClosedRange<Double>,
                              help: String) -> Parameter {
        Parameter(key: key, option: option, default: value, help: help, rule: "must lie in [\(g(range.lowerBound)), \(g(range.upperBound))]",
                  accepts: { range.contains($0) })
    }

    /// A number in the half-open interval (lower, upper].
    public static func number(_ key: String, option: String?, default value: Double, above lower: Double, atMost upper: Double,
                              help: String) -> Parameter {
        Parameter(key: key, option: option, default: value, help: help, rule: "must lie in (\(g(lower)), \(g(upper))]",
                  accepts: { $0 > lower && $0 <= upper })
    }
}

extension Parameter where Value == Int {
    /// An integer in `range`.
    public static func integer(_ key: String, option: String?, default value: Int, in range: ClosedRange<Int>, help: String) -> Parameter {
        Parameter(key: key, option: option, default: value, help: help, rule: "must be an integer in \(range.lowerBound)...\(range.upperBound)",
                  accepts: { range.contains($0) })
    }
}

extension Parameter where Value == Bool {
    /// A flag, false unless `default` says otherwise.
    public static func flag(_ key: String, option: String?, default value: Bool = false, help: String) -> Parameter {
        Parameter(key: key, option: option, default: value, help: help, rule: "must be true or false", accepts: { _ in true })
    }
}

extension Parameter where Value == [Double] {
    /// A list of numbers, each in (lower, upper] and finite; its length is the algorithm's `validate` to check.
    public static func numbers(_ key: String, option: String?, above lower: Double, atMost upper: Double, help: String) -> Parameter {
        Parameter(key: key, option: option, default: [], help: help, rule: "values must lie in (\(g(lower)), \(g(upper))]",
                  accepts: { $0.allSatisfy { $0 > lower && $0 <= upper } })
    }
}

extension Parameter where Value == [Int] {
    /// A list of integers, each in `range`; its length is the algorithm's `validate` to check.
    public static func integers(_ key: String, option: String?, in range: ClosedRange<Int>, help: String) -> Parameter {
        Parameter(key: key, option: option, default: [], help: help, rule: "values must be integers in \(range.lowerBound)...\(range.upperBound)",
                  accepts: { $0.allSatisfy { range.contains($0) } })
    }
}

/// A bound as rules write it: 2, 0.5, 1e-30, 1e6.
private func g(_ v: Double) -> String {
    if v == v.rounded() && abs(v) < 1e4 { return String(Int64(v)) }
    let exponent = Foundation.log10(v.magnitude).rounded()
    if v != 0 && Foundation.pow(10, exponent) == v.magnitude { return (v < 0 ? "-" : "") + "1e\(Int(exponent))" }
    return "\(v)"
}
