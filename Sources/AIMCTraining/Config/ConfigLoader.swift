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
/// Unknown keys are errors (a misspelt key must not be silently ignored).
public enum ConfigLoader {
    /// - Parameters:
    ///   - path: a `.json`, `.yaml` or `.yml` file.
    ///   - base: the configuration the file's keys override.
    /// - Throws: `ConfigFileError` naming the file and the offending key; `ConfigError` if a value is out of range.
    public static func load(path: String, over base: ExperimentConfig) throws -> ExperimentConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigFileError(path: path, message: "cannot be read (missing or not a file)")
        }
        let user: Any
        do {
            if path.hasSuffix(".yaml") || path.hasSuffix(".yml") {
                guard let text = String(data: data, encoding: .utf8) else {
                    throw ConfigFileError(path: path, message: "is not UTF-8 text")
                }
                user = try Yams.load(yaml: text) ?? [String: Any]()
            } else {
                user = try JSONSerialization.jsonObject(with: data)
            }
        } catch let e as ConfigFileError {
            throw e
        } catch {
            throw ConfigFileError(path: path, message: "is not valid \(path.hasSuffix("json") ? "JSON" : "YAML"): \(error)")
        }
        guard let userTable = user as? [String: Any] else {
            throw ConfigFileError(path: path, message: "must hold a table of keys at the top level")
        }
        let encoder = JSONEncoder()
        let baseObject = try JSONSerialization.jsonObject(with: try encoder.encode(base))
        guard let baseTable = baseObject as? [String: Any] else { fatalError("configuration did not encode to a table") }
        let merged = try merge(userTable, into: baseTable, path: path, prefix: "")
        let mergedData = try JSONSerialization.data(withJSONObject: merged)
        do {
            return try JSONDecoder().decode(ExperimentConfig.self, from: mergedData)
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
            let key = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            throw ConfigFileError(path: path, message: "key \(key) has a value of the wrong type or an unknown choice (\(context.debugDescription))")
        } catch {
            throw ConfigFileError(path: path, message: "does not fit the configuration schema: \(error)")
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
                out[key] = value
            }
        }
        return out
    }

    /// The configuration as pretty, key-sorted JSON (the `config.json` of a run directory).
    public static func json(_ config: ExperimentConfig) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding plain data cannot fail.
        return (try? encoder.encode(config)) ?? Data()
    }
}
