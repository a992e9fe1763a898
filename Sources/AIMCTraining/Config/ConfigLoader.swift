import AIMCCore
import Foundation
import Yams

/// A configuration file that cannot be read or does not fit the schema.
public struct ConfigFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "config file \(path): \(message)" }
}

/// Reads experiment configurations from JSON or YAML files (YAML through Yams).
///
/// A file may give any subset of keys; the rest keep the values of `base` (the defaults, or a preset).
/// Unknown keys, nulls, non-finite numbers and fractional integers are errors naming the key
/// (a misspelt or mistyped key must never be silently ignored).
public enum ConfigLoader {
    /// Largest configuration file read (configurations are small; this bounds the work of a hostile file).
    public static let maximumFileSize = 1 << 20

    enum Format: String { case json = "JSON", yaml = "YAML" }

    /// - Parameters:
    ///   - path: a `.json`, `.yaml` or `.yml` file.
    ///   - base: the configuration the file's keys override.
    /// - Throws: `ConfigFileError` naming the file and the offending key.
    public static func load(path: String, over base: ExperimentConfig) throws -> ExperimentConfig {
        let format: Format
        if path.hasSuffix(".json") { format = .json } else if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { format = .yaml } else {
            throw ConfigFileError(path: path, message: "must end in .json, .yaml or .yml")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigFileError(path: path, message: "does not exist")
        }
        guard !isDirectory.boolValue, let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              attributes[.type] as? FileAttributeType == .typeRegular else {
            throw ConfigFileError(path: path, message: "is not a regular file")
        }
        if let size = attributes[.size] as? Int, size > maximumFileSize {
            throw ConfigFileError(path: path, message: "is larger than \(maximumFileSize) bytes; a configuration is a few kilobytes")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigFileError(path: path, message: "cannot be read")
        }
        let user: Any
        switch format {
        case .json:
            do {
                user = try JSONSerialization.jsonObject(with: data)
            } catch {
                let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "malformed"
                throw ConfigFileError(path: path, message: "is not valid JSON: \(detail)")
            }
        case .yaml:
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigFileError(path: path, message: "is not UTF-8 text")
            }
            do {
                guard let node = try Yams.compose(yaml: text) else { return base }
                var budget = maximumNodes
                try count(node, budget: &budget, path: path)
                user = node.any
            } catch let e as ConfigFileError {
                throw e
            } catch {
                let text = "\(error)".split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty && $0 != "^" }.joined(separator: " ")
                throw ConfigFileError(path: path, message: "is not valid YAML: \(text)")
            }
        }
        guard let userTable = user as? [String: Any] else {
            throw ConfigFileError(path: path, message: "must hold a table of keys at the top level")
        }
        return try overlay(userTable, over: base, source: path)
    }

    /// `base` with the keys of `table` replaced (the same checks as for files; `source` names the origin in errors).
    public static func overlay(_ table: [String: Any], over base: ExperimentConfig, source: String) throws -> ExperimentConfig {
        let baseObject = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(base))
        guard let baseTable = baseObject as? [String: Any] else { fatalError("configuration did not encode to a table") }
        let merged = try merge(table, into: baseTable, path: source, prefix: "")
        let mergedData = try JSONSerialization.data(withJSONObject: merged)
        do {
            return try JSONDecoder().decode(ExperimentConfig.self, from: mergedData)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context),
                let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            throw ConfigFileError(path: source, message: "key \(key.isEmpty ? "(top level)" : key) has a value of the wrong type or an unknown choice")
        } catch {
            throw ConfigFileError(path: source, message: "does not fit the configuration schema: \(error)")
        }
    }

    /// Most values (after YAML aliases are expanded) a configuration file may hold: a few aliases can make a
    /// tiny file expand exponentially; this stops it before it does.
    public static let maximumNodes = 100_000

    static func count(_ node: Node, budget: inout Int, path: String) throws {
        budget -= 1
        if budget < 0 {
            throw ConfigFileError(path: path, message: "expands to more than \(maximumNodes) values (YAML aliases?); a configuration has a few hundred")
        }
        switch node {
        case .mapping(let m): for (k, v) in m { try count(k, budget: &budget, path: path); try count(v, budget: &budget, path: path) }
        case .sequence(let s): for v in s { try count(v, budget: &budget, path: path) }
        default: break
        }
    }

    static func merge(_ user: [String: Any], into base: [String: Any], path: String, prefix: String) throws -> [String: Any] {
        var out = base
        for (key, value) in user {
            let full = prefix.isEmpty ? key : prefix + "." + key
            guard let existing = base[key] else {
                let known = base.keys.sorted().joined(separator: ", ")
                throw ConfigFileError(path: path, message: "unknown key \(full) (known here: \(known))")
            }
            if let sub = existing as? [String: Any] {
                guard let userSub = value as? [String: Any] else {
                    throw ConfigFileError(path: path, message: "key \(full) must be a table")
                }
                out[key] = try merge(userSub, into: sub, path: path, prefix: full)
            } else {
                out[key] = try checked(value, like: existing, key: full, path: path)
            }
        }
        return out
    }

    /// Keys whose values are integers (list elements included). `ConfigTests` checks that this set matches the
    /// schema: every other numeric key accepts a fraction.
    public static let integerKeys: Set<String> = [
        "seed", "model.hidden", "model.tile_size", "algorithm.transfer_every", "algorithm.zero_shift_pulses", "algorithm.tiles", "algorithm.transfer_columns", "algorithm.transfer_every_per_tile",
        "training.epochs", "training.batch_size", "training.train_limit", "training.test_limit",
        "training.eval_batch_size", "training.steps_per_epoch", "update.desired_bl", "replicas", "data.features", "data.classes", "data.train_samples", "data.test_samples",
    ]

    /// A user value checked against the kind of the default value at `key`: no nulls or tables where a value
    /// belongs, finite numbers, integers for integer keys, booleans for boolean keys.
    static func checked(_ value: Any, like existing: Any, key: String, path: String, listKey: String? = nil) throws -> Any {
        let schemaKey = listKey ?? key
        if value is NSNull { throw ConfigFileError(path: path, message: "key \(key) is null; give a value or leave the key out") }
        if let list = value as? [Any] {
            guard let defaults = existing as? [Any] else {
                throw ConfigFileError(path: path, message: "key \(key) must be a single value, not a list")
            }
            let element: Any = defaults.first ?? 0.0
            return try list.enumerated().map { try checked($1, like: element, key: "\(key)[\($0)]", path: path, listKey: key) }
        }
        if existing is [Any] { throw ConfigFileError(path: path, message: "key \(key) must be a list") }
        if value is [String: Any] { throw ConfigFileError(path: path, message: "key \(key) must be a single value, not a table") }
        let expected = kind(existing)
        if let s = value as? String {
            if expected == .string { return s }
            // YAML gives integers beyond Int64 (large seeds) as strings.
            if integerKeys.contains(schemaKey), let u = UInt64(s) { return u }
            throw ConfigFileError(path: path, message: "key \(key) must be \(expected.description); got \"\(s)\"")
        }
        guard let number = value as? NSNumber else {
            throw ConfigFileError(path: path, message: "key \(key) must be \(expected.description); got a \(type(of: value))")
        }
        let given = kind(number)
        if expected == .boolean || given == .boolean {
            guard expected == given else {
                throw ConfigFileError(path: path, message: "key \(key) must be \(expected.description); got \(number)")
            }
            return value
        }
        if expected == .string { throw ConfigFileError(path: path, message: "key \(key) must be text; got \(number)") }
        let d = number.doubleValue
        guard d.isFinite else { throw ConfigFileError(path: path, message: "key \(key) must be a finite number; got \(d)") }
        if integerKeys.contains(schemaKey) && d != d.rounded() {
            throw ConfigFileError(path: path, message: "key \(key) must be an integer; got \(d)")
        }
        if schemaKey == "seed" && d < 0 { throw ConfigFileError(path: path, message: "key seed must be an integer >= 0; got \(d)") }
        return value
    }

    enum Kind: CustomStringConvertible {
        case boolean, number, string, other
        var description: String {
            switch self {
            case .boolean: return "true or false"
            case .number: return "a number"
            case .string: return "text"
            case .other: return "a value"
            }
        }
    }

    static func kind(_ v: Any) -> Kind {
        if v is String { return .string }
        if let n = v as? NSNumber { return String(cString: n.objCType) == "c" ? .boolean : .number }
        return .other
    }

    /// The configuration as pretty, key-sorted JSON (the `config.json` of a run directory).
    public static func json(_ config: ExperimentConfig) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding plain data cannot fail.
        return (try? encoder.encode(config)) ?? Data()
    }
}
