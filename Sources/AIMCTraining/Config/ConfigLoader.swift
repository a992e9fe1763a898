import AIMCCore
import Foundation
import Yams

/// A configuration file that cannot be read or does not fit the schema.
public struct ConfigFileError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    /// When the problem is one key's value: the key and what is wrong ("must be ...; got ..."), so that other
    /// sources of values (`sweep --set`) can word the error their way.
    public var key: String? = nil
    public var problem: String? = nil
    /// "--config FILE (config key KEY) PROBLEM", or "--config FILE MESSAGE" for the file as a whole.
    public var description: String {
        if let key, let problem { return "--config \(path) (config key \(key)) \(problem)" }
        return "--config \(path) \(message)"
    }

    /// "key <key> <problem>".
    static func value(_ path: String, _ key: String, _ problem: String) -> ConfigFileError {
        ConfigFileError(path: path, message: "key \(key) \(problem)", key: key, problem: problem)
    }
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
                // JSONSerialization for its error messages; the values are read exactly (it rounds some doubles).
                _ = try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
                user = try JSONDecoder().decode(ExactJSON.self, from: data).value
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
        let merged: [String: Any]
        do {
            merged = try merge(table, into: try encodedTable(base), path: source, prefix: "")
        } catch let e as IntegerOutOfRange {
            let rule = integerRule(e.schemaKey, base: base, above: e.above) ?? "must be an integer in \(Int64.min)...\(Int64.max)"
            throw ConfigFileError.value(source, e.key, "\(rule); got \(e.text)")
        }
        return try decode(merged, source: source)
    }

    /// The configuration as a table of keys (Swift values; numbers exact).
    public static func encodedTable(_ config: ExperimentConfig) throws -> [String: Any] {
        let object = try JSONDecoder().decode(ExactJSON.self, from: try JSONEncoder().encode(config)).value
        guard let table = object as? [String: Any] else { fatalError("configuration did not encode to a table") }
        return table
    }

    /// JSON read into Swift values exactly: tables, lists, text, booleans, Int (UInt64 beyond Int.max), Double,
    /// NSNull. (JSONSerialization on Linux parses some doubles to a neighbouring value.)
    struct ExactJSON: Decodable {
        let value: Any

        struct Key: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: Decoder) throws {
            if let table = try? decoder.container(keyedBy: Key.self) {
                var t = [String: Any]()
                for key in table.allKeys { t[key.stringValue] = try table.decode(ExactJSON.self, forKey: key).value }
                value = t
            } else if var list = try? decoder.unkeyedContainer() {
                var l = [Any]()
                while !list.isAtEnd { l.append(try list.decode(ExactJSON.self).value) }
                value = l
            } else {
                let c = try decoder.singleValueContainer()
                if c.decodeNil() {
                    value = NSNull()
                } else if let b = try? c.decode(Bool.self) {
                    value = b
                } else if let i = try? c.decode(Int.self) {
                    value = i
                } else if let u = try? c.decode(UInt64.self) {
                    value = u
                } else if let d = try? c.decode(Double.self) {
                    value = d
                } else {
                    value = try c.decode(String.self)
                }
            }
        }
    }

    /// `value` as JSON text (see `write`), or nil.
    static func jsonText(_ value: Any) -> String? {
        var text = ""
        return write(value, into: &text) ? text : nil
    }

    /// A table of every key (as `encodedTable` gives, with values already checked) decoded into a configuration.
    static func decode(_ table: [String: Any], source: String) throws -> ExperimentConfig {
        var text = ""
        let data = write(table, into: &text) ? Data(text.utf8) : try JSONSerialization.data(withJSONObject: table)
        do {
            return try JSONDecoder().decode(ExperimentConfig.self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context),
                let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            if key.isEmpty { throw ConfigFileError(path: source, message: "does not fit the configuration schema: \(context.debugDescription)") }
            throw ConfigFileError.value(source, key, "has a value of the wrong type")
        } catch {
            throw ConfigFileError(path: source, message: "does not fit the configuration schema: \(error)")
        }
    }

    /// Appends `value` (a table of Swift values, as `ExactJSON` or Yams give it) to `out` as JSON, numbers exactly
    /// (doubles in their shortest round-trip form); false for anything else (a non-finite number, an unknown type).
    /// Several times faster than JSONSerialization, which matters for a sweep's thousands of points.
    static func write(_ value: Any, into out: inout String) -> Bool {
        if let s = value as? String {
            out.append("\"")
            for u in s.unicodeScalars {
                switch u {
                case "\"": out.append("\\\"")
                case "\\": out.append("\\\\")
                case _ where u.value < 0x20: out.append(String(format: "\\u%04x", u.value))
                default: out.unicodeScalars.append(u)
                }
            }
            out.append("\"")
        } else if let t = value as? [String: Any] {
            out.append("{")
            for (i, (k, v)) in t.enumerated() {
                if i > 0 { out.append(",") }
                guard write(k, into: &out) else { return false }
                out.append(":")
                guard write(v, into: &out) else { return false }
            }
            out.append("}")
        } else if let a = value as? [Any] {
            out.append("[")
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(",") }
                guard write(v, into: &out) else { return false }
            }
            out.append("]")
        } else if let n = value as? NSNumber {
            switch String(cString: n.objCType) {
            case "c": out.append(n.boolValue ? "true" : "false")
            case "d", "f":
                guard n.doubleValue.isFinite else { return false }
                out.append("\(n.doubleValue)")
            case "Q": out.append("\(n.uint64Value)")
            default: out.append("\(n.int64Value)")
            }
        } else {
            return false
        }
        return true
    }

    /// The value at a dotted key of a table, or nil.
    static func value(at key: String, in table: [String: Any]) -> Any? {
        var current: Any? = table
        for part in key.split(separator: ".") { current = (current as? [String: Any])?[String(part)] }
        return current
    }

    /// `table` with the value at the dotted key `path` (whose tables exist) replaced.
    static func setting(_ table: [String: Any], _ path: ArraySlice<Substring>, to value: Any) -> [String: Any] {
        guard let first = path.first else { return table }
        var t = table
        t[String(first)] = path.count == 1 ? value : setting(t[String(first)] as? [String: Any] ?? [:], path.dropFirst(), to: value)
        return t
    }

    /// An integer key's value that does not fit in 64 bits (the rule is looked up by `overlay`).
    struct IntegerOutOfRange: Error {
        let key: String
        let schemaKey: String
        let text: String
        let above: Bool
    }

    /// The range validation gives for the integer key `key` ("must be an integer in 1...65536"), found by validating
    /// `base` with the key set to the largest (`above`) or smallest 64-bit integer; nil if validation does not object.
    static func integerRule(_ key: String, base: ExperimentConfig, above: Bool) -> String? {
        if key == "seed" { return "must be an integer in 0...\(UInt64.max)" }
        guard let table = try? encodedTable(base), let existing = value(at: key, in: table) else { return nil }
        let probe: Any = above ? Int64.max : Int64.min
        let probed = setting(table, key.split(separator: ".")[...], to: existing is [Any] ? [probe] : probe)
        guard let config = try? decode(probed, source: "") else { return nil }
        do {
            try config.validate()
        } catch {
            guard error.key == key || error.key.hasPrefix(key + "[") else { return nil }
            if let got = error.message.range(of: "; got ", options: .backwards) { return String(error.message[..<got.lowerBound]) }
            return error.message
        }
        return nil
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
                throw ConfigFileError(path: path, message: "has an unknown key \(full) (known here: \(known))")
            }
            if let sub = existing as? [String: Any] {
                guard let userSub = value as? [String: Any] else {
                    throw ConfigFileError.value(path, full, "must be a table of keys (\(sub.keys.sorted().joined(separator: ", ")))")
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

    /// The allowed values of every key whose value is one of a fixed set of names. `ConfigTests` checks that this
    /// table matches the schema: every other text key accepts any text.
    public static let choices: [String: [String]] = {
        var c: [String: [String]] = [
            "algorithm.name": Algorithm.allCases.map(\.rawValue),
            "algorithm.update_mode": UpdateMode.allCases.map(\.rawValue),
            "algorithm.update_per": UpdateGranularity.allCases.map(\.rawValue),
            "algorithm.zero_shift": ZeroShift.allCases.map(\.rawValue),
            "model.activation": Activation.allCases.map(\.rawValue),
            "device.family": DeviceConfig.Family.allCases.map(\.rawValue),
            "device.c2c_mode": DeviceConfig.CycleToCycleMode.allCases.map(\.rawValue),
            "data.source": DataConfig.Source.allCases.map(\.rawValue),
            "placement": PlacementPolicy.allCases.map(\.rawValue),
        ]
        for io in ["forward", "backward", "transfer"] {
            c[io + ".noise_management"] = IOConfig.NoiseManagement.allCases.map(\.rawValue)
            c[io + ".bound_management"] = IOConfig.BoundManagement.allCases.map(\.rawValue)
        }
        return c
    }()

    /// A user value checked against the kind of the default value at `key`: no nulls or tables where a value
    /// belongs, finite numbers, integers (of 64 bits) for integer keys, booleans for boolean keys, one of the
    /// choices for choice keys.
    static func checked(_ value: Any, like existing: Any, key: String, path: String, listKey: String? = nil) throws -> Any {
        let schemaKey = listKey ?? key
        func fail(_ problem: String) -> ConfigFileError { ConfigFileError.value(path, key, problem) }
        if value is NSNull { throw fail("is null; give a value or leave the key out") }
        if let list = value as? [Any] {
            guard let defaults = existing as? [Any] else { throw fail("must be a single value, not a list") }
            let element: Any = defaults.first ?? 0.0
            return try list.enumerated().map { try checked($1, like: element, key: "\(key)[\($0)]", path: path, listKey: key) }
        }
        if existing is [Any] { throw fail("must be a list") }
        if value is [String: Any] { throw fail("must be a single value, not a table") }
        let expected = kind(existing)
        let isInteger = integerKeys.contains(schemaKey)
        var value = value
        if let s = value as? String {
            if expected == .string {
                if let allowed = choices[schemaKey], !allowed.contains(s) {
                    throw fail("must be one of \(allowed.joined(separator: ", ")); got \(s)")
                }
                return s
            }
            // YAML gives integers beyond Int64 (large seeds) as strings.
            guard isInteger, let digits = s.first.map({ $0 == "-" || $0 == "+" ? s.dropFirst() : Substring(s) }),
                  !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
                throw fail("must be \(expected.description); got \"\(s)\"")
            }
            if let i = Int64(s) { value = NSNumber(value: i) } else if let u = UInt64(s) { value = NSNumber(value: u) } else {
                throw IntegerOutOfRange(key: key, schemaKey: schemaKey, text: s, above: !s.hasPrefix("-"))
            }
        }
        guard let number = value as? NSNumber else { throw fail("must be \(expected.description); got a \(type(of: value))") }
        let given = kind(number)
        if expected == .boolean || given == .boolean {
            guard expected == given else { throw fail("must be \(expected.description); got \(number)") }
            return value
        }
        if expected == .string { throw fail("must be text; got \(number)") }
        let d = number.doubleValue
        guard d.isFinite else { throw fail("must be a finite number; got \(d)") }
        guard isInteger else { return value }
        if d != d.rounded() {
            let rule = schemaKey == "seed" ? "must be an integer >= 0" : "must be an integer"
            throw fail("\(rule); got \(number)")
        }
        // Exact 64-bit integers keep their type; a number given in floating point must fit, too.
        let type = String(cString: number.objCType)
        let fits: Bool
        if type == "Q" {
            fits = schemaKey == "seed" || number.uint64Value <= UInt64(Int64.max)
        } else if type == "d" || type == "f" {
            fits = schemaKey == "seed" ? d >= 0 && d < 18_446_744_073_709_551_616.0 : d >= -9_223_372_036_854_775_808.0 && d < 9_223_372_036_854_775_808.0
        } else {
            fits = schemaKey != "seed" || number.int64Value >= 0
        }
        if !fits { throw IntegerOutOfRange(key: key, schemaKey: schemaKey, text: "\(number)", above: d > 0) }
        // An integral number given in floating point (2.0) is passed on as an integer.
        if type == "d" || type == "f" { return d < 9_223_372_036_854_775_808.0 ? Int64(d) as Any : UInt64(d) as Any }
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
