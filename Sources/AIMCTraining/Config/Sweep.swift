import AIMCCore
import Foundation

/// Sweeps: the Cartesian product of configuration axes ("key=v1,v2,..."), each point a full experiment.
public enum Sweep {
    public struct Point: Sendable {
        /// (key, value) of every axis, in axis order.
        public let labels: [(key: String, value: String)]
        public let config: ExperimentConfig
    }

    /// Parses "key=v1,v2,...". `device.tau` sets both bounds (w_max = tau, w_min = -tau).
    public static func axis(_ text: String) throws(ConfigError) -> (key: String, values: [String]) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw ConfigError(key: "sweep", option: "--set", message: "must look like key=v1,v2 (for example algorithm.name=residual,analog-sgd); got \(text)")
        }
        let values = parts[1].split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !values.isEmpty, values.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigError(key: "sweep", option: "--set", message: "\(parts[0]) needs a comma-separated list of values; got \(parts[1])")
        }
        return (parts[0], values)
    }

    /// A scalar from its text: integer, number, true/false, or text.
    static func scalar(_ s: String) -> Any {
        if let i = Int(s) { return i }
        if let d = Double(s) { return d }
        if s == "true" { return true }
        if s == "false" { return false }
        return s
    }

    /// `base` with one key set (checked like a configuration file's keys).
    public static func set(_ key: String, _ value: String, in base: ExperimentConfig) throws -> ExperimentConfig {
        if key == "device.tau" {
            guard let tau = Double(value) else {
                throw ConfigError(key: key, option: "--set", message: "must be a number; got \(value)")
            }
            var c = base
            c.device.wMax = tau
            c.device.wMin = -tau
            return c
        }
        var table: Any = scalar(value)
        for part in key.split(separator: ".").reversed() { table = [String(part): table] }
        do {
            return try ConfigLoader.overlay(table as! [String: Any], over: base, source: "--set \(key)")
        } catch let e as ConfigFileError {
            throw ConfigError(key: key, option: "--set", message: "value \(value) is not accepted: \(e.message)")
        }
    }

    /// Every point of the product, validated before any runs (so a bad value fails at once).
    public static func expand(base: ExperimentConfig, axes: [(key: String, values: [String])]) throws -> [Point] {
        var points = [Point(labels: [], config: base)]
        for (key, values) in axes {
            var next = [Point]()
            for p in points {
                for v in values {
                    next.append(Point(labels: p.labels + [(key, v)], config: try set(key, v, in: p.config)))
                }
            }
            points = next
        }
        points = points.map { p in
            var c = p.config
            c.resolve()
            return Point(labels: p.labels, config: c)
        }
        for p in points { try p.config.validate() }
        return points
    }
}
