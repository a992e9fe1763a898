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
    /// The command-line option that also sets `key`, for a value the file gave and validation refused.
    public var option: String? = nil
    /// "--config FILE (config key KEY) PROBLEM" ("(config key KEY, option OPTION)" when the key has an option), or
    /// "--config FILE MESSAGE" for the file as a whole.
    public var description: String {
        if let key, let problem {
            return "--config \(path) (config key \(key)\(option.map { ", option " + $0 } ?? "")) \(problem)"
        }
        return "--config \(path) \(message)"
    }

    /// "key <key> <problem>".
    static func value(_ path: String, _ key: String, _ problem: String) -> ConfigFileError {
        ConfigFileError(path: path, message: "key \(key) \(problem)", key: key, problem: problem)
    }

    /// A bad value of `key` that the file at `path` gave; `option` is the command-line option that also sets it.
    public static func value(_ path: String, _ key: String, _ problem: String, option: String?) -> ConfigFileError {
        ConfigFileError(path: path, message: "key \(key) \(problem)", key: key, problem: problem, option: option)
    }
}

/// Reads experiment configurations from JSON or YAML files (YAML through Yams).
///
/// A file may give any subset of keys; the rest keep the values of `base` (the defaults, or a preset).
/// Unknown keys, keys given twice, nulls, non-finite numbers, fractional integers and YAML 1.1 number forms
/// (010 as octal, 1:30 as base 60, 0x10, 1_000) are errors naming the key (a misspelt or mistyped key must never be
/// silently ignored or reread). A quoted number of a number key reads as the unquoted one.
public enum ConfigLoader {
    /// Largest configuration file read (configurations are small; this bounds the work of a hostile file).
    public static let maximumFileSize = 1 << 20

    enum Format: String { case json = "JSON", yaml = "YAML" }

    /// - Parameters:
    ///   - path: a `.json`, `.yaml` or `.yml` file.
    ///   - base: the configuration the file's keys override.
    /// - Throws: `ConfigFileError` naming the file and the offending key.
    public static func load(path: String, over base: ExperimentConfig) throws -> ExperimentConfig {
        try read(path: path, over: base).config
    }

    /// A configuration file read over a base: the configuration and the keys the file set, so that a value that
    /// later fails validation can be blamed on the file when it came from there.
    public struct File: Sendable {
        public let path: String
        public let config: ExperimentConfig
        /// Dotted keys of the values the file gave (a list key whole: `model.hidden`).
        public let keys: Set<String>

        /// `error` (from validating a configuration built on this file) as a `ConfigFileError` naming the file when
        /// the file set its key and `final` (the configuration after the command-line options, before `resolve()`)
        /// still holds the file's value there; otherwise `error` unchanged.
        public func attributing(_ error: ConfigError, final: ExperimentConfig) -> Error {
            let key = error.key.split(separator: "[", maxSplits: 1).first.map(String.init) ?? ""
            guard keys.contains(key), let mine = try? ConfigLoader.encodedTable(config), let theirs = try? ConfigLoader.encodedTable(final),
                  let a = ConfigLoader.value(at: key, in: mine), let b = ConfigLoader.value(at: key, in: theirs),
                  ConfigLoader.jsonText(a) == ConfigLoader.jsonText(b) else { return error }
            return ConfigFileError(path: path, message: "key \(error.key) \(error.message)", key: error.key, problem: error.message, option: error.option)
        }
    }

    /// `load`, also returning the keys the file set.
    public static func read(path: String, over base: ExperimentConfig) throws -> File {
        let userTable = try userTable(path: path, schema: try encodedTable(base))
        if isLeastSquares(userTable) {
            throw ConfigFileError(path: path, message: "is a least-squares (aimc-dist lsq) configuration; train, sweep and plan read training "
                + "configurations (a run's config.json from train or sweep, or a file of training keys)")
        }
        var keys = Set<String>()
        let config = try overlay(userTable, over: base, source: path, keys: &keys)
        return File(path: path, config: config, keys: keys)
    }

    /// The table of keys a JSON or YAML file holds, read strictly: size cap, duplicate keys, keys that are lists or
    /// tables, YAML 1.1 number forms (judged against `schema`, the table of the configuration it will override), an
    /// expansion budget; an empty YAML document is refused, as empty JSON is.
    static func userTable(path: String, schema: [String: Any]) throws -> [String: Any] {
        let format: Format
        if path.hasSuffix(".json") { format = .json } else if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { format = .yaml } else {
            throw ConfigFileError(path: path, message: "must end in .json, .yaml or .yml")
        }
        var isDirectory: ObjCBool = false
        if let problem = PathProblem.describe(path) { throw ConfigFileError(path: path, message: problem) }
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
                throw ConfigFileError(path: path, message: "is not valid JSON: \(capped(detail))")
            }
            // Both readers keep one of two equal keys silently.
            if let twice = duplicateJSONKey(data) {
                throw ConfigFileError(path: path, message: "gives the key \(capped(twice)) twice; give each key once")
            }
        case .yaml:
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigFileError(path: path, message: "is not UTF-8 text")
            }
            do {
                guard let node = try Yams.compose(yaml: text) else {
                    // An empty file (or comments only) would silently run the defaults.
                    throw ConfigFileError(path: path, message: "holds no keys (it is empty or only comments); write the keys to change, "
                        + "such as `training: {epochs: 1}`, or leave --config out to run the defaults")
                }
                var budget = maximumNodes
                // Before constructing: Yams traps on a key that is a list or a table.
                try inspect(node, at: "", schema: schema, budget: &budget, path: path)
                user = node.any
            } catch let e as ConfigFileError {
                throw e
            } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
                let names = duplicates.sorted().map { capped($0, 60) }.joined(separator: ", ")
                throw ConfigFileError(path: path, message: "gives the key \(names) twice in one table (line \(context.mark.line)); give each key once")
            } catch {
                throw ConfigFileError(path: path, message: "is not valid YAML: \(yamlProblem(error))")
            }
        }
        guard let table = user as? [String: Any] else {
            throw ConfigFileError(path: path, message: "must hold a table of keys at the top level")
        }
        return table
    }

    /// Reads a least-squares configuration (the `config.json` that `aimc-dist lsq --output` writes, JSON or YAML,
    /// any subset of its keys) over the defaults, as strictly as a training configuration: unknown keys, keys given
    /// twice, wrong types, YAML 1.1 number forms and disagreeing `base.device.n_states` / `dw_min` are errors
    /// naming the file and the key.
    /// - Throws: `ConfigFileError`.
    public static func loadLeastSquares(path: String) throws -> LeastSquaresConfig {
        let defaults = LeastSquaresConfig()
        let schema = try JSONDecoder().decode(ExactJSON.self, from: try JSONEncoder().encode(defaults)).value as? [String: Any] ?? [:]
        let table = try userTable(path: path, schema: schema)
        if table["inputs"] == nil && !Set(table.keys).isDisjoint(with: ["model", "training", "algorithm", "device", "data"]) {
            throw ConfigFileError(path: path, message: "is a training configuration; lsq reads the config.json that `aimc-dist lsq --output DIR` writes")
        }
        var keys = Set<String>()
        var merged: [String: Any]
        do {
            merged = try merge(table, into: schema, path: path, prefix: "", keys: &keys)
        } catch let e as IntegerOutOfRange {
            throw ConfigFileError.value(path, e.key, "must be an integer in \(e.schemaKey == "seed" ? "0...\(UInt64.max)" : "\(Int64.min)...\(Int64.max)"); got \(e.text)")
        }
        // Keys of `base` that each curve sets from the experiment's own lists: a file may repeat the default (lsq's own
        // config.json does), not change it.
        for (key, list) in [("base.device.asymmetry", "asymmetries"), ("base.algorithm.name", "algorithms"),
                            ("base.algorithm.zero_shift", "zero_shifts"), ("base.algorithm.tiles", "tiles")] where keys.contains(key) {
            let given = value(at: key, in: merged).flatMap(jsonText), standard = value(at: key, in: schema).flatMap(jsonText)
            if given != standard {
                throw ConfigFileError.value(path, key, "is set for each curve from \(list); give \(list) instead")
            }
        }
        for (key, choices) in [("algorithms", Algorithm.allCases.map(\.rawValue)), ("zero_shifts", ZeroShift.allCases.map(\.rawValue))] {
            for case let name as String in merged[key] as? [Any] ?? [] where !choices.contains(name) {
                throw ConfigFileError.value(path, key, "lists \"\(capped(name, 40))\"; choose from \(choices.joined(separator: ", "))")
            }
        }
        if var base = merged["base"] as? [String: Any] {
            try checkGranularity(&base, keys: Set(keys.filter { $0.hasPrefix("base.") }.map { String($0.dropFirst(5)) }), source: path, prefix: "base.")
            merged["base"] = base
        }
        var text = ""
        let data = write(merged, into: &text) ? Data(text.utf8) : try JSONSerialization.data(withJSONObject: merged)
        do {
            return try JSONDecoder().decode(LeastSquaresConfig.self, from: data)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context), let DecodingError.valueNotFound(_, context) {
            let key = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            throw ConfigFileError.value(path, key.isEmpty ? "(top level)" : key, "has a value of the wrong kind (\(capped(context.debugDescription)))")
        } catch {
            throw ConfigFileError(path: path, message: "does not fit the least-squares configuration: \(capped("\(error)"))")
        }
    }

    /// device.n_states and device.dw_min set the same thing: both only when they agree (a run's config.json
    /// writes dw_min = (w_max - w_min)/n_states next to n_states); dw_min alone replaces the base's n_states, as
    /// --dw-min does. `table` is an experiment's table and `keys` the dotted keys (relative to it) a file set;
    /// `prefix` is put before keys in errors.
    static func checkGranularity(_ table: inout [String: Any], keys: Set<String>, source: String, prefix: String) throws {
        guard keys.contains("device.dw_min") else { return }
        func number(_ key: String) -> Double { (value(at: key, in: table) as? NSNumber)?.doubleValue ?? .nan }
        let dwMin = number("device.dw_min"), nStates = number("device.n_states")
        if !keys.contains("device.n_states") {
            if nStates != 0 { table = setting(table, ["device", "n_states"], to: 0.0) }
        } else if nStates > 0 {
            let implied = (number("device.w_max") - number("device.w_min")) / nStates
            if !(abs(dwMin - implied) <= 1e-9 * abs(implied)) {
                throw ConfigFileError.value(source, prefix + "device.dw_min", "is \(dwMin), but \(prefix)device.n_states \(plain(nStates)) gives "
                    + "dw_min = (w_max - w_min)/n_states = \(implied); they set the same thing: give one of \(prefix)device.dw_min and "
                    + "\(prefix)device.n_states (or n_states 0 to use dw_min)")
            }
        }
    }

    /// The keys of `aimc-dist lsq`'s config.json that a training configuration does not have.
    static let leastSquaresOnlyKeys: Set<String> = {
        let lsq = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(LeastSquaresConfig()))) as? [String: Any] ?? [:]
        let training = (try? encodedTable(.default)) ?? [:]
        return Set(lsq.keys).subtracting(training.keys)
    }()

    /// Whether `table` looks like lsq's config.json: at least three keys that only lsq has.
    static func isLeastSquares(_ table: [String: Any]) -> Bool {
        Set(table.keys).intersection(leastSquaresOnlyKeys).count >= 3
    }

    /// `text` cut to at most `limit` characters, with an ellipsis when cut (file contents quoted in a message).
    static func capped(_ text: String, _ limit: Int = 120) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// A Yams error as one short line: where, what, and at most 120 characters of the line around the spot.
    static func yamlProblem(_ error: Error) -> String {
        switch error as? YamlError {
        case let .scanner(context, problem, mark, yaml)?, let .parser(context, problem, mark, yaml)?,
             let .composer(context, problem, mark, yaml)?:
            // libyaml's own words name its C function.
            let what = problem.hasPrefix("Maximum nesting level") ? "nested more than 1000 levels deep" : problem
            var text = "line \(mark.line), column \(mark.column): \(capped(what))"
            if let context {
                text += " (\(capped(context.text)) at line \(context.mark.line), column \(context.mark.column))"
            }
            let lines = yaml.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            if mark.line >= 1 && mark.line <= lines.count {
                let line = Array(lines[mark.line - 1].unicodeScalars)
                let end = min(line.count, max(mark.column - 1 + 60, 120))
                let start = max(0, end - 120)
                var excerpt = String(String.UnicodeScalarView(line[start..<end])).trimmingCharacters(in: .whitespaces)
                if start > 0 { excerpt = "…" + excerpt }
                if end < line.count { excerpt += "…" }
                if !excerpt.isEmpty { text += ": \(excerpt)" }
            }
            return text
        default:
            let text = "\(error)".split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty && $0 != "^" }.joined(separator: " ")
            return capped(text, 240)
        }
    }

    /// The first key that one JSON object of `data` (valid JSON) gives twice, dotted (`training.epochs`), or nil.
    /// A scan of the text: strings, the brackets around them, and commas; escaped keys compared decoded.
    static func duplicateJSONKey(_ data: Data) -> String? {
        struct Container { let isObject: Bool; let path: String; var keys = Set<String>(); var expectingKey = true; var lastKey = ""; var index = 0 }
        func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }
        let bytes = [UInt8](data)
        var stack = [Container]()
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < bytes.count && bytes[j] != UInt8(ascii: "\"") { j += bytes[j] == UInt8(ascii: "\\") ? 2 : 1 }
                if let top = stack.last, top.isObject, top.expectingKey {
                    let raw = bytes[i...min(j, bytes.count - 1)]
                    let key = raw.contains(UInt8(ascii: "\\"))
                        ? (try? JSONSerialization.jsonObject(with: Data(raw), options: .fragmentsAllowed)) as? String ?? ""
                        : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                    if stack[stack.count - 1].keys.insert(key).inserted == false { return join(top.path, key) }
                    stack[stack.count - 1].lastKey = key
                    stack[stack.count - 1].expectingKey = false
                }
                i = j
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let path = stack.last.map { $0.isObject ? join($0.path, $0.lastKey) : "\($0.path)[\($0.index)]" } ?? ""
                stack.append(Container(isObject: bytes[i] == UInt8(ascii: "{"), path: path))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !stack.isEmpty { stack.removeLast() }
            case UInt8(ascii: ","):
                if let top = stack.last {
                    if top.isObject { stack[stack.count - 1].expectingKey = true } else { stack[stack.count - 1].index += 1 }
                }
            default:
                break
            }
            i += 1
        }
        return nil
    }

    /// `base` with the keys of `table` replaced (the same checks as for files; `source` names the origin in errors).
    public static func overlay(_ table: [String: Any], over base: ExperimentConfig, source: String) throws -> ExperimentConfig {
        var keys = Set<String>()
        return try overlay(table, over: base, source: source, keys: &keys)
    }

    /// `overlay`, collecting the dotted keys `table` sets into `keys`.
    static func overlay(_ table: [String: Any], over base: ExperimentConfig, source: String, keys: inout Set<String>) throws -> ExperimentConfig {
        var merged: [String: Any]
        do {
            merged = try merge(table, into: try encodedTable(base), path: source, prefix: "", keys: &keys)
        } catch let e as IntegerOutOfRange {
            let rule = integerRule(e.schemaKey, base: base, above: e.above) ?? "must be an integer in \(Int64.min)...\(Int64.max)"
            throw ConfigFileError.value(source, e.key, "\(rule); got \(e.text)")
        }
        try checkGranularity(&merged, keys: keys, source: source, prefix: "")
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

    /// Walks the composed YAML before it is constructed: counts values against `maximumNodes`, requires every key
    /// of a table to be a plain name (Yams traps on a list or table used as a key), and refuses numbers that YAML
    /// 1.1 reads in a way nobody writing a configuration means (010 as octal 8, 1:30 as 90, 0x10, 1_000).
    /// `location` is the dotted key of `node`; `schema` the value the configuration has there (nil: unknown key,
    /// reported later by `merge`).
    static func inspect(_ node: Node, at location: String, schema: Any?, budget: inout Int, path: String) throws {
        budget -= 1
        if budget < 0 {
            throw ConfigFileError(path: path, message: "expands to more than \(maximumNodes) values (YAML aliases?); a configuration has a few hundred")
        }
        switch node {
        case .mapping(let m):
            for (k, v) in m {
                guard case .scalar(let name) = k else {
                    let what = k.sequence != nil ? "a list" : "a table"
                    let place = location.isEmpty ? "at the top level" : "under \(location)"
                    throw ConfigFileError(path: path, message: "has \(what) used as a key \(place); configuration keys must be plain names")
                }
                try inspect(k, at: location, schema: nil, budget: &budget, path: path)
                if k.tag.description == Tag.Name.merge.rawValue {
                    // `<<: *base` or `<<: [*a, *b]`: the merged tables' keys land in this table.
                    if case .sequence(let s) = v {
                        budget -= 1
                        for e in s { try inspect(e, at: location, schema: schema, budget: &budget, path: path) }
                    } else {
                        try inspect(v, at: location, schema: schema, budget: &budget, path: path)
                    }
                    continue
                }
                let key = location.isEmpty ? name.string : location + "." + name.string
                try inspect(v, at: key, schema: (schema as? [String: Any])?[name.string], budget: &budget, path: path)
            }
        case .sequence(let s):
            let element: Any? = (schema as? [Any]).map { $0.first ?? 0.0 }
            for (i, v) in s.enumerated() { try inspect(v, at: "\(location)[\(i)]", schema: element, budget: &budget, path: path) }
        case .scalar(let scalar):
            guard let schema, scalar.style == .plain, let reading = yaml11Reading(node) else { break }
            let problem: String
            switch kind(schema) {
            case .number:
                problem = "is written \(capped(scalar.string, 40)), which YAML reads as \(reading.how); write \(reading.value)"
                    + (reading.decimal.map { " (or \($0) if you meant the decimal number)" } ?? "")
            case .string:
                problem = "must be text; got \(capped(scalar.string, 40)), which YAML reads as \(reading.how); quote it: \"\(capped(scalar.string, 40))\""
            default:
                problem = "must be \(kind(schema).description); got \(capped(scalar.string, 40)), which YAML reads as \(reading.how)"
            }
            throw ConfigFileError.value(path, location, problem)
        default:
            break
        }
    }

    /// How YAML 1.1 (Yams) reads a plain scalar that resolves to a number written other than in decimal digits:
    /// the notation, the value, and the decimal reading when there is one ("010": octal, 8, "10"); nil for a
    /// decimal number (1, -2.5, 1e-3, .5, 08), infinities and NaN (refused later as not finite), and non-numbers.
    static func yaml11Reading(_ node: Node) -> (how: String, value: String, decimal: String?)? {
        let tag = node.tag.description
        guard tag == Tag.Name.int.rawValue || tag == Tag.Name.float.rawValue, let text = node.scalar?.string else { return nil }
        let unsigned = text.hasPrefix("-") || text.hasPrefix("+") ? String(text.dropFirst()) : text
        let lower = unsigned.lowercased()
        if lower == ".inf" || lower == ".nan" { return nil }
        let value: String
        switch node.any {
        case let i as Int: value = "\(i)"
        case let d as Double: value = plain(d)
        case let other: value = "\(other)"
        }
        if unsigned.contains("_") { return ("\(value) (it drops the underscores)", value, nil) }
        if unsigned.contains(":") { return ("the base-60 number \(value)", value, nil) }
        if lower.hasPrefix("0x") { return ("the hexadecimal number \(value)", value, nil) }
        if lower.hasPrefix("0b") { return ("the binary number \(value)", value, nil) }
        if lower.hasPrefix("0o") { return ("the octal number \(value)", value, nil) }
        if tag == Tag.Name.int.rawValue && unsigned.count > 1 && unsigned.hasPrefix("0") {
            let digits = unsigned.drop { $0 == "0" }
            let decimal = (text.hasPrefix("-") ? "-" : "") + (digits.isEmpty ? "0" : String(digits))
            // 00 to 07 read the same either way.
            if Int(decimal) == Int(value) { return nil }
            return ("the octal number \(value)", value, decimal)
        }
        return nil
    }

    /// `user` over `base` (tables of keys; `root` is the whole schema, for suggestions), checking every value.
    /// - Throws: `ConfigFileError` for an unknown key (with the closest known key, `Suggestion.key`, or a pointer for
    ///   another tool's names such as aihwkit's `rpu_config`), a table where a value belongs or a bad value.
    static func merge(_ user: [String: Any], into base: [String: Any], path: String, prefix: String, keys: inout Set<String>,
                      root: [String: Any]? = nil) throws -> [String: Any] {
        let root = root ?? base
        var out = base
        for key in user.keys.sorted() {
            let value = user[key]!
            let full = prefix.isEmpty ? key : prefix + "." + key
            // `tau` in a device table is the shorthand of --tau and of sweeps: w_max = tau, w_min = -tau.
            if key == "tau" && base[key] == nil, let wMax = base["w_max"], base["w_min"] != nil {
                if user["w_max"] != nil || user["w_min"] != nil {
                    throw ConfigFileError.value(path, full, "sets \(prefix).w_max and \(prefix).w_min (w in [-tau, tau]); give tau or the bounds, not both")
                }
                let tau = try checked(value, like: wMax, key: full, path: path)
                let t = (tau as? NSNumber)?.doubleValue ?? (tau as? Int).map(Double.init) ?? (tau as? Double) ?? .nan
                out["w_max"] = t
                out["w_min"] = -t
                keys.insert(prefix + ".w_max")
                keys.insert(prefix + ".w_min")
                continue
            }
            guard let existing = base[key] else {
                if let pointer = Suggestion.foreignKeys[key] {
                    throw ConfigFileError(path: path, message: "has an unknown key \(capped(full)): \(pointer)")
                }
                // The first key the unknown table holds, so that the suggestion names a whole key.
                let shown = (value as? [String: Any]).flatMap { Suggestion.leaves($0, prefix: full).first } ?? full
                if let guess = Suggestion.key(for: full, value: value, schema: root) {
                    throw ConfigFileError(path: path, message: "has an unknown key \(capped(shown)); did you mean \(guess)?")
                }
                let known = base.keys.sorted().joined(separator: ", ")
                throw ConfigFileError(path: path, message: "has an unknown key \(capped(shown)) (known \(prefix.isEmpty ? "at the top level" : "in " + prefix): \(known))")
            }
            if let sub = existing as? [String: Any] {
                guard let userSub = value as? [String: Any] else {
                    throw ConfigFileError.value(path, full, "must be a table of keys (\(sub.keys.sorted().joined(separator: ", ")))")
                }
                out[key] = try merge(userSub, into: sub, path: path, prefix: full, keys: &keys, root: root)
            } else {
                out[key] = try checked(value, like: existing, key: full, path: path)
                keys.insert(full)
            }
        }
        return out
    }

    /// Keys whose values are integers (list elements included; the algorithms' integer parameters from the registry).
    /// `ConfigTests` checks that this set matches the schema: every other numeric key accepts a fraction.
    public static let integerKeys: Set<String> = Set(AlgorithmRegistry.parameters.filter(\.defaultValue.isInteger).map { "algorithm." + $0.key }).union([
        "seed", "model.hidden", "model.tile_size", "algorithm.transfer_every", "algorithm.zero_shift_pulses", "algorithm.transfer_columns",
        "training.epochs", "training.batch_size", "training.train_limit", "training.test_limit",
        "training.eval_batch_size", "training.steps_per_epoch", "update.desired_bl", "replicas", "data.features", "data.classes", "data.train_samples", "data.test_samples",
        "telemetry.every",
        // A least-squares configuration's own integer keys (its `base` holds a training configuration's keys).
        "inputs", "outputs", "samples", "batch_size", "steps", "record_every", "tiles",
    ])

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
            // Or an integer: see `deviceSeed(_:)`.
            "device_seed": [DeviceSeed.followsSeedText],
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
        // A least-squares configuration's `base.` keys follow the training keys' rules.
        let schemaKey = (listKey ?? key).hasPrefix("base.") ? String((listKey ?? key).dropFirst(5)) : listKey ?? key
        func fail(_ problem: String) -> ConfigFileError { ConfigFileError.value(path, key, problem) }
        if value is NSNull { throw fail("is null; give a value or leave the key out") }
        if let list = value as? [Any] {
            guard let defaults = existing as? [Any] else { throw fail("must be a single value, not a list") }
            let element: Any = defaults.first ?? 0.0
            return try list.enumerated().map { try checked($1, like: element, key: "\(key)[\($0)]", path: path, listKey: key) }
        }
        if let defaults = existing as? [Any] {
            let example = defaults.isEmpty ? "[]" : "[" + defaults.prefix(3).map { jsonText($0) ?? "\($0)" }.joined(separator: ", ") + "]"
            throw fail("must be a list, written like \(example)")
        }
        if value is [String: Any] { throw fail("must be a single value, not a table") }
        if schemaKey == "device_seed" {
            do { return try deviceSeed(value) } catch { throw fail(error.message) }
        }
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
            // A quoted number of a number key reads as the unquoted one (YAML gives integers beyond Int64, large
            // seeds, as text; integers in digits are read exactly).
            let digits = s.first.map({ $0 == "-" || $0 == "+" ? s.dropFirst() : Substring(s) }) ?? ""
            if expected == .number && !digits.isEmpty && digits.allSatisfy({ $0.isASCII && $0.isNumber }) && isInteger {
                if let i = Int64(s) { value = NSNumber(value: i) } else if let u = UInt64(s) { value = NSNumber(value: u) } else {
                    throw IntegerOutOfRange(key: key, schemaKey: schemaKey, text: s, above: !s.hasPrefix("-"))
                }
            } else if expected == .number, isDecimal(s), let d = Double(s) {
                value = NSNumber(value: d)
            } else {
                throw fail("must be \(expected.description); got \"\(capped(s))\"")
            }
        }
        guard let number = value as? NSNumber else { throw fail("must be \(expected.description); got a \(type(of: value))") }
        let given = kind(number)
        if expected == .boolean || given == .boolean {
            guard expected == given else {
                throw fail("must be \(expected.description); got \(given == .boolean ? "\(number.boolValue) (a boolean)" : "\(number)")")
            }
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

    /// A value of `device_seed`: the text "seed" (follow `seed`) or an integer in 0...2^64-1 (also written as digits
    /// in text, as sweeps and YAML give it). Returns "seed" or the integer.
    /// - Throws: `ConfigError` (without key) stating the rule.
    public static func deviceSeed(_ value: Any) throws(ConfigError) -> Any {
        let rule = "must be an integer in 0...\(UInt64.max), or \"seed\" to follow seed (the default)"
        if let text = value as? String {
            if text == DeviceSeed.followsSeedText { return text }
            if !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let u = UInt64(text) { return NSNumber(value: u) }
            throw ConfigError(key: "", option: nil, message: "\(rule); got \"\(capped(text))\"")
        }
        guard let number = value as? NSNumber, kind(number) == .number else { throw ConfigError(key: "", option: nil, message: "\(rule); got \(value)") }
        let d = number.doubleValue
        let type = String(cString: number.objCType)
        if type == "Q" { return number }
        if type == "d" || type == "f" {
            guard d >= 0 && d < 18_446_744_073_709_551_616.0 && d == d.rounded() else { throw ConfigError(key: "", option: nil, message: "\(rule); got \(number)") }
            return NSNumber(value: UInt64(d))
        }
        guard number.int64Value >= 0 else { throw ConfigError(key: "", option: nil, message: "\(rule); got \(number)") }
        return number
    }

    /// `v` without a fraction part when it is integral ("8", "0.12").
    static func plain(_ v: Double) -> String {
        v.isFinite && v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
    }

    /// Whether `text` is a number in decimal notation: digits with an optional sign, fraction and exponent (what
    /// JSON and YAML read as a decimal number; not hexadecimal, infinities or NaN).
    static func isDecimal(_ text: String) -> Bool {
        var s = Substring(text)
        if s.first == "-" || s.first == "+" { s = s.dropFirst() }
        let mantissa = s.prefix { $0 != "e" && $0 != "E" }
        let exponent = s.dropFirst(mantissa.count)
        let parts = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let digits: (Substring) -> Bool = { $0.allSatisfy { $0.isASCII && $0.isNumber } }
        guard parts.allSatisfy(digits), parts.contains(where: { !$0.isEmpty }) else { return false }
        if exponent.isEmpty { return true }
        var e = exponent.dropFirst()
        if e.first == "-" || e.first == "+" { e = e.dropFirst() }
        return !e.isEmpty && digits(e)
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

    /// The whole configuration, every key, as pretty, key-sorted JSON.
    public static func json(_ config: ExperimentConfig) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding plain data cannot fail.
        return (try? encoder.encode(config)) ?? Data()
    }

    /// The configuration as a run's `config.json` records it: pretty, key-sorted JSON of the keys this experiment uses.
    /// A key (or table of keys) for which `ExperimentConfig.ineffective` gives a reason is left out (another device
    /// family's parameters, another algorithm's keys, the transfer periphery of an algorithm without transfers, the
    /// data folder of teacher data), and so is a table left empty. The same rules name the options a run does not use,
    /// so there is one source of which keys an experiment uses. Read back over the defaults (`--config`), the file gives
    /// a configuration that runs bit for bit the same and records the same file again.
    public static func recordedJSON(_ config: ExperimentConfig) -> Data {
        guard let table = try? encodedTable(config) else { return json(config) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(JSONValue(pruned(table, prefix: "", config) as Any))) ?? json(config)
    }

    /// `table` without the keys `config` does not use (dotted below `prefix`); tables left empty are dropped.
    static func pruned(_ table: [String: Any], prefix: String, _ config: ExperimentConfig) -> [String: Any] {
        var out = [String: Any]()
        for (key, value) in table {
            let dotted = prefix.isEmpty ? key : prefix + "." + key
            if config.ineffective(dotted) != nil { continue }
            if let sub = value as? [String: Any] {
                let kept = pruned(sub, prefix: dotted, config)
                if !kept.isEmpty { out[key] = kept }
            } else {
                out[key] = value
            }
        }
        return out
    }

    /// A table of Swift values (as `ExactJSON` reads them) that JSONEncoder can write, numbers as they were.
    enum JSONValue: Encodable {
        case bool(Bool), int(Int), unsigned(UInt64), double(Double), string(String), null
        case list([JSONValue]), table([String: JSONValue])

        init(_ value: Any) {
            switch value {
            case let b as Bool: self = .bool(b)
            case let i as Int: self = .int(i)
            case let u as UInt64: self = .unsigned(u)
            case let d as Double: self = .double(d)
            case let s as String: self = .string(s)
            case let l as [Any]: self = .list(l.map(JSONValue.init))
            case let t as [String: Any]: self = .table(t.mapValues(JSONValue.init))
            default: self = .null
            }
        }

        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .bool(let b): try c.encode(b)
            case .int(let i): try c.encode(i)
            case .unsigned(let u): try c.encode(u)
            case .double(let d): try c.encode(d)
            case .string(let s): try c.encode(s)
            case .null: try c.encodeNil()
            case .list(let l): try c.encode(l)
            case .table(let t): try c.encode(t)
            }
        }
    }
}
