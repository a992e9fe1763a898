/// A configuration value that is out of range or inconsistent. The message names the configuration key,
/// the command-line option that sets it (when there is one), the allowed range and the value given.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let key: String
    public let option: String?
    public let message: String

    public init(key: String, option: String?, message: String) {
        self.key = key
        self.option = option
        self.message = message
    }

    /// "<option> (config key <key>) <message>"; without a key (an option that is not a configuration value, such as
    /// a preset name) "<option> <message>".
    public var description: String {
        if let option { return key.isEmpty ? "\(option) \(message)" : "\(option) (config key \(key)) \(message)" }
        return "config key \(key) \(message)"
    }

    /// Throws unless `condition` holds: "<option> (config key <key>) <rule>; got <value>".
    public static func require(_ condition: Bool, _ key: String, _ option: String?, _ rule: String,
                               _ value: Double) throws(ConfigError) {
        if !condition { throw ConfigError(key: key, option: option, message: "\(rule); got \(format(value))") }
    }

    static func format(_ v: Double) -> String {
        if v.isFinite && v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
