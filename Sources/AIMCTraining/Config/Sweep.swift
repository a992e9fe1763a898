import AIMCCore
import Foundation

/// Sweeps: the Cartesian product of configuration axes, each point a full experiment.
///
/// An axis is a configuration key and its values (`--set key=v1,v2,...`, `--seeds`, or a named experiment's axes).
/// Values are read by the kind of the key: integers exactly (seeds up to 2^64 - 1), numbers, true/false, one of a
/// key's choices, text; a list key takes `[a,b,...]` or `AxB...` (a bare value is a one-element list). Two
/// pseudo-keys resolve like the command line's shorthands: `device.tau` sets w_max = tau and w_min = -tau;
/// `device.dw_min` clears n_states (as `--dw-min` does).
///
/// Every point is built, resolved and validated before anything runs, and every axis must be the only source of its
/// key's value: the same key twice, a shorthand together with a key it sets (device.tau with device.w_max or
/// device.w_min, device.n_states with device.dw_min), or a fixed option that sets an axis's key are errors, so a
/// label in the summary always states what the run used.
public enum Sweep {
    /// Most points a sweep may have.
    public static let maximumPoints = 10_000

    public struct Axis: Sendable, Equatable {
        public let key: String
        public let values: [String]
        /// Where the axis was given, for errors: "--set", "--seeds" or "--experiment NAME".
        public let option: String

        public init(key: String, values: [String], option: String) {
            self.key = key
            self.values = values
            self.option = option
        }

        /// The configuration keys this axis sets.
        public var keys: [String] {
            switch key {
            case "device.tau": return ["device.w_max", "device.w_min"]
            case "device.dw_min", "device.n_states": return ["device.dw_min", "device.n_states"]
            default: return [key]
            }
        }
    }

    public struct Point: Sendable {
        /// (key, value) of every axis, in axis order; list values are written AxB (CSV-safe).
        public let labels: [(key: String, value: String)]
        public let config: ExperimentConfig
        /// The option that gave each axis (parallel to `labels`).
        public let options: [String]
        /// 1-based position in the grid, and the grid's size.
        public let number: Int
        public let count: Int

        /// "grid point 2 of 4: algorithm.name=residual seed=1".
        public var context: String {
            "grid point \(number) of \(count): " + labels.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }

        /// The option of the axis that sets `key`, if one does.
        public func option(for key: String) -> String? {
            labels.indices.first { i in
                let axis = Axis(key: labels[i].key, values: [], option: options[i])
                return axis.keys.contains(key) || axis.key == key || key.hasPrefix(axis.key + "[")
            }.map { options[$0] }
        }
    }

    /// Parses "key=v1,v2,..." (a `--set` argument).
    public static func axis(_ text: String, option: String = "--set") throws(ConfigError) -> Axis {
        guard let equals = text.firstIndex(of: "=") else {
            throw ConfigError(key: "", option: option, message: "must look like key=v1,v2 (for example algorithm.name=residual,analog-sgd); got \(text)")
        }
        let key = text[..<equals].trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty else {
            throw ConfigError(key: "", option: option, message: "must look like key=v1,v2 (for example algorithm.name=residual,analog-sgd); got \(text)")
        }
        let parts = key.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } }) else {
            throw ConfigError(key: "", option: option, message: "key \(key) is malformed: a key is names joined by single dots, such as algorithm.name or device.dw_min")
        }
        return Axis(key: key, values: try values(String(text[text.index(after: equals)...]), key: key, option: option), option: option)
    }

    /// Splits "v1,v2,..." at the commas outside brackets ("[256,128],[512,256]" is two values).
    public static func values(_ text: String, key: String, option: String) throws(ConfigError) -> [String] {
        var values = [String](), current = "", depth = 0
        for ch in text {
            switch ch {
            case "[": depth += 1
            case "]": depth -= 1
            default: break
            }
            if depth < 0 || depth > 1 {
                throw ConfigError(key: key, option: option, message: "has unbalanced or nested brackets; write a list value as [a,b]; got \(text)")
            }
            if ch == "," && depth == 0 {
                values.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(ch)
            }
        }
        guard depth == 0 else {
            throw ConfigError(key: key, option: option, message: "has unbalanced or nested brackets; write a list value as [a,b]; got \(text)")
        }
        values.append(current.trimmingCharacters(in: .whitespaces))
        guard values.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigError(key: key, option: option, message: "needs a comma-separated list of values, none empty; got \(text.isEmpty ? "nothing" : text)")
        }
        return values
    }

    /// Number of points of the product of `axes`, or nil beyond `Int.max`.
    public static func size(_ axes: [Axis]) -> Int? {
        var n = 1
        for a in axes {
            let (product, overflow) = n.multipliedReportingOverflow(by: a.values.count)
            if overflow { return nil }
            n = product
        }
        return n
    }

    /// Refuses a grid larger than `maximumPoints` from the axis lengths alone.
    public static func checkSize(_ axes: [Axis]) throws(ConfigError) {
        let n = size(axes)
        guard let n, n <= maximumPoints else {
            let factors = axes.map { String($0.values.count) }.joined(separator: " x ")
            throw ConfigError(key: "", option: axes.last?.option ?? "--set",
                              message: "makes a grid of \(n.map(String.init) ?? "more than \(Int.max)") points (\(factors) values); at most \(maximumPoints): sweep fewer values, or split the grid into several sweeps")
        }
    }

    /// Refuses two axes of one key and axes that set each other's keys.
    public static func checkAxes(_ axes: [Axis]) throws(ConfigError) {
        for (j, b) in axes.enumerated() {
            for a in axes[..<j] {
                if a.key == b.key {
                    throw ConfigError(key: b.key, option: b.option, message: a.option == b.option
                        ? "is swept twice; give all its values in one \(b.option)"
                        : "is already swept by \(a.option); give all its values in one axis")
                }
                let shared = Set(a.keys).intersection(b.keys)
                if !shared.isEmpty {
                    let shorthand = [a, b].first { $0.key == "device.tau" } ?? [a, b].first { $0.key == "device.n_states" }
                    let why = shorthand?.key == "device.tau" ? "device.tau sets device.w_max and device.w_min"
                        : "device.n_states sets device.dw_min = (w_max - w_min)/n_states"
                    throw ConfigError(key: b.key, option: b.option,
                                      message: "cannot be swept together with \(a.key) (from \(a.option)): \(why), so one axis would override the other; sweep one of them")
                }
            }
        }
    }

    /// One value of an axis: its label and the (key, value) pairs it writes into the configuration table.
    struct Value {
        let label: String
        let assignments: [(key: String, value: Any)]
        /// Equal for values that give equal configurations (0.1 and 0.10).
        let identity: String
    }

    /// Reads the values of `axis` against `base` (the key must exist and each value must fit it).
    static func parse(_ axis: Axis, base: ExperimentConfig, table: [String: Any]) throws(ConfigError) -> [Value] {
        var parsed = [Value]()
        for text in axis.values {
            let v: Value
            if axis.key == "device.tau" {
                let tau = try number(text, key: axis.key, option: axis.option, integer: false, base: base)
                v = Value(label: text, assignments: [("device.w_max", tau), ("device.w_min", -(tau as! Double))], identity: "\(tau)")
            } else {
                let existing = try lookup(axis.key, in: table, option: axis.option)
                let (value, label) = try parse(text, key: axis.key, like: existing, option: axis.option, base: base)
                var assignments: [(key: String, value: Any)] = [(axis.key, value)]
                if axis.key == "device.dw_min" { assignments.append(("device.n_states", 0.0)) }
                let identity = ConfigLoader.jsonText(value) ?? text
                v = Value(label: label, assignments: assignments, identity: identity)
            }
            if let twin = parsed.first(where: { $0.identity == v.identity }) {
                throw ConfigError(key: axis.key, option: axis.option, message: "lists one value twice (\(twin.label) and \(v.label)); each value gives one run")
            }
            // The same checks as a configuration file's keys, on this value alone.
            var overlay = [String: Any]()
            for (key, value) in v.assignments { overlay = ConfigLoader.setting(overlay, key.split(separator: ".")[...], to: value) }
            do {
                _ = try ConfigLoader.overlay(overlay, over: base, source: axis.option)
            } catch let e as ConfigFileError {
                throw ConfigError(key: e.key ?? axis.key, option: axis.option, message: e.problem ?? e.message)
            } catch {
                throw ConfigError(key: axis.key, option: axis.option, message: "value \(text) is not accepted: \(error)")
            }
            parsed.append(v)
        }
        return parsed
    }

    /// The default value at a dotted key; an error names an unknown key or a table of keys.
    static func lookup(_ key: String, in table: [String: Any], option: String) throws(ConfigError) -> Any {
        var current: Any = table
        var prefix = ""
        for part in key.split(separator: ".").map(String.init) {
            guard let t = current as? [String: Any] else {
                throw ConfigError(key: "", option: option, message: "names an unknown key \(key): \(prefix) is a value, not a table of keys")
            }
            guard let next = t[part] else {
                if let pointer = Suggestion.foreignKeys[part] {
                    throw ConfigError(key: "", option: option, message: "names an unknown key \(key): \(pointer)")
                }
                if let guess = Suggestion.key(for: key, value: 0, schema: table) {
                    throw ConfigError(key: "", option: option, message: "names an unknown key \(key); did you mean \(guess)?")
                }
                let known = t.keys.sorted().joined(separator: ", ")
                throw ConfigError(key: "", option: option, message: "names an unknown key \(key) (the keys \(prefix.isEmpty ? "at the top level" : "of " + prefix): \(known))")
            }
            current = next
            prefix = prefix.isEmpty ? part : prefix + "." + part
        }
        if let t = current as? [String: Any] {
            throw ConfigError(key: "", option: option, message: "names \(key), a table of keys; sweep one of its keys (\(t.keys.sorted().joined(separator: ", ")))")
        }
        return current
    }

    /// One value's text read by the kind of `existing` (the key's current value): (value, label).
    static func parse(_ text: String, key: String, like existing: Any, option: String, base: ExperimentConfig) throws(ConfigError) -> (Any, String) {
        if key == "device_seed" {
            do { return (try ConfigLoader.deviceSeed(text), text) } catch { throw ConfigError(key: key, option: option, message: error.message) }
        }
        if existing is [Any] {
            let elements: [String]
            if text.hasPrefix("[") && text.hasSuffix("]") {
                let body = text.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                elements = body.isEmpty ? [] : body.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            } else {
                elements = text.split(separator: "x", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            }
            guard elements.allSatisfy({ !$0.isEmpty }) else {
                throw ConfigError(key: key, option: option, message: "is a list: write a value as [a,b,...] or AxB... (a single number is a one-element list); got \(text)")
            }
            let integer = ConfigLoader.integerKeys.contains(key)
            let values = try elements.map { (e) throws(ConfigError) in try number(e, key: key, option: option, integer: integer, base: base) }
            return (values, elements.isEmpty ? "[]" : elements.joined(separator: "x"))
        }
        switch ConfigLoader.kind(existing) {
        case .boolean:
            guard text == "true" || text == "false" else {
                throw ConfigError(key: key, option: option, message: "must be true or false; got \(text)")
            }
            return (text == "true", text)
        case .string:
            // Brackets keep a text with commas one value (model.layers=[conv4k3,pool2]).
            let text = text.hasPrefix("[") && text.hasSuffix("]") ? text.dropFirst().dropLast().trimmingCharacters(in: .whitespaces) : text
            if let allowed = ConfigLoader.choices[key], !allowed.contains(text) {
                throw ConfigError(key: key, option: option, message: "must be one of \(allowed.joined(separator: ", ")); got \(text)")
            }
            return (text, text)
        default:
            return (try number(text, key: key, option: option, integer: ConfigLoader.integerKeys.contains(key), base: base), text)
        }
    }

    /// A number from its text; integers exactly (Int, or UInt64 for seeds beyond 2^63), with the key's range in
    /// the error when the text is not a 64-bit integer.
    static func number(_ text: String, key: String, option: String, integer: Bool, base: ExperimentConfig) throws(ConfigError) -> Any {
        let d = Double(text)
        if !integer {
            guard let d, d.isFinite else {
                throw ConfigError(key: key, option: option, message: "must be a finite number; got \(text)")
            }
            return d
        }
        if let i = Int(text) {
            if key == "seed" && i < 0 {
                throw ConfigError(key: key, option: option, message: "must be an integer in 0...\(UInt64.max); got \(text)")
            }
            return i
        }
        if key == "seed", let u = UInt64(text) { return u }
        let integral = d.map { $0.isFinite && $0 == $0.rounded() } ?? false
        let fits = d.map { $0 >= -9_223_372_036_854_775_808.0 && $0 < 9_223_372_036_854_775_808.0 } ?? false
        if integral && !fits {
            let rule = ConfigLoader.integerRule(key, base: base, above: d! > 0) ?? "must be an integer in \(Int64.min)...\(Int64.max)"
            throw ConfigError(key: key, option: option, message: "\(rule); got \(text)")
        }
        let rule = ConfigLoader.integerRule(key, base: base, above: false) ?? ConfigLoader.integerRule(key, base: base, above: true) ?? "must be an integer"
        throw ConfigError(key: key, option: option, message: "\(rule), written in digits; got \(text)")
    }

    /// `base` with one axis value set (checked like a configuration file's keys); for tests and tools.
    public static func set(_ key: String, _ value: String, in base: ExperimentConfig) throws -> ExperimentConfig {
        try expand(base: base, axes: [Axis(key: key, values: [value], option: "--set")])[0].config
    }

    /// `base` with each `key=value` of `assignments` set, checked like a configuration file's keys but not validated
    /// as a whole (train's `--set`: one value per key, each key once).
    /// - Throws: `ConfigError` naming `option` and the key.
    public static func assign(_ assignments: [String], in base: ExperimentConfig, option: String = "--set") throws(ConfigError) -> ExperimentConfig {
        var c = base
        var seen = Set<String>()
        for text in assignments {
            let axis = try Sweep.axis(text, option: option)
            guard axis.values.count == 1 else {
                throw ConfigError(key: axis.key, option: option, message: "takes one value per key (a sweep varies several: aimc-dist sweep --set \(text); "
                                  + "brackets keep a value with commas whole, as in --set 'model.layers=[conv4k3,pool2]'); got \(axis.values.count)")
            }
            guard seen.insert(axis.key).inserted else {
                throw ConfigError(key: axis.key, option: option, message: "sets \(axis.key) twice; give each key once")
            }
            let table: [String: Any]
            do { table = try ConfigLoader.encodedTable(c) } catch { throw ConfigError(key: axis.key, option: option, message: "\(error)") }
            var overlay = [String: Any]()
            for (key, value) in try parse(axis, base: c, table: table)[0].assignments {
                overlay = ConfigLoader.setting(overlay, key.split(separator: ".")[...], to: value)
            }
            do {
                c = try ConfigLoader.overlay(overlay, over: c, source: option)
            } catch let e as ConfigFileError {
                throw ConfigError(key: e.key ?? axis.key, option: option, message: e.problem ?? e.message)
            } catch {
                throw ConfigError(key: axis.key, option: option, message: "\(error)")
            }
        }
        return c
    }

    /// Every point of the product (the first axis varies slowest), resolved and validated before anything runs.
    ///
    /// - Parameters:
    ///   - fixed: re-applies the command line's fixed options (not its starting points such as a device preset) to
    ///     a configuration; a point it changes has an axis that a fixed option also sets, which is an error.
    /// - Throws: `ConfigError` naming the axis's option and key and, for a point's problem, the grid point.
    public static func expand(base: ExperimentConfig, axes: [Axis],
                              fixed: ((ExperimentConfig) throws -> ExperimentConfig)? = nil) throws -> [Point] {
        try checkSize(axes)
        try checkAxes(axes)
        let table = try ConfigLoader.encodedTable(base)
        let parsed = try axes.map { (a) throws(ConfigError) in try parse(a, base: base, table: table) }
        let count = parsed.reduce(1) { $0 * $1.count }
        let options = axes.map(\.option)
        var points = [Point]()
        points.reserveCapacity(count)
        for n in 0..<count {
            var rest = n
            var chosen = [Value]()
            for values in parsed.reversed() {
                chosen.append(values[rest % values.count])
                rest /= values.count
            }
            chosen.reverse()
            var t = table
            for v in chosen { for (key, value) in v.assignments { t = ConfigLoader.setting(t, key.split(separator: ".")[...], to: value) } }
            var c = try ConfigLoader.decode(t, source: "--set")
            c.resolve()
            let point = Point(labels: zip(axes, chosen).map { ($0.key, $1.label) }, config: c, options: options, number: n + 1, count: count)
            do {
                try c.validate()
            } catch {
                throw ConfigError(key: error.key, option: point.option(for: error.key) ?? error.option, message: "\(error.message) (\(point.context))")
            }
            if let fixed {
                var again = try fixed(c)
                again.resolve()
                if again != c { throw conflict(point, axes, c, again) }
            }
            if let first = points.first, let axis = dataAxis(first.config, c, axes) {
                throw ConfigError(key: axis.key, option: axis.option, message: "cannot be swept: a sweep reads one data set, so the data keys, "
                    + "training.train_limit and training.test_limit (and the seed, for teacher data) must be the same for every point")
            }
            points.append(point)
        }
        return points
    }

    /// The error for a point whose axis a fixed option also sets.
    static func conflict(_ point: Point, _ axes: [Axis], _ c: ExperimentConfig, _ again: ExperimentConfig) -> ConfigError {
        let a = (try? ConfigLoader.encodedTable(c)) ?? [:], b = (try? ConfigLoader.encodedTable(again)) ?? [:]
        var keys = [String]()
        func walk(_ x: [String: Any], _ y: [String: Any], _ prefix: String) {
            for k in x.keys.sorted() {
                let key = prefix.isEmpty ? k : prefix + "." + k
                if let sx = x[k] as? [String: Any], let sy = y[k] as? [String: Any] {
                    walk(sx, sy, key)
                } else if !isEqual(x[k], y[k]) {
                    keys.append(key)
                }
            }
        }
        walk(a, b, "")
        let axis = axes.first { !Set($0.keys + [$0.key]).isDisjoint(with: keys) } ?? axes[0]
        var hints = [String]()
        if keys.contains("device.w_max") || keys.contains("device.w_min") { hints.append("--tau sets device.w_max and device.w_min") }
        if keys.contains("device.dw_min") || keys.contains("device.n_states") { hints.append("--dw-min and --n-states both set device.dw_min") }
        let hint = hints.isEmpty ? "" : " (\(hints.joined(separator: "; ")))"
        return ConfigError(key: axis.key, option: axis.option,
                           message: "is swept, but a command-line option also sets \(keys.joined(separator: " and ")) for every point\(hint), so the option and the axis would override each other; drop one of them")
    }

    static func isEqual(_ x: Any?, _ y: Any?) -> Bool {
        guard let x, let y else { return x == nil && y == nil }
        return ConfigLoader.jsonText(x) == ConfigLoader.jsonText(y)
    }

    /// The axis that changes the data a point reads from `first`'s, if any.
    static func dataAxis(_ first: ExperimentConfig, _ c: ExperimentConfig, _ axes: [Axis]) -> Axis? {
        var changed = [String]()
        if c.data != first.data { changed.append("data.") }
        if c.training.trainLimit != first.training.trainLimit { changed.append("training.train_limit") }
        if c.training.testLimit != first.training.testLimit { changed.append("training.test_limit") }
        if (c.data.source == .teacher || first.data.source == .teacher) && c.seed != first.seed { changed.append("seed") }
        if changed.isEmpty { return nil }
        return axes.first { a in changed.contains { $0.hasSuffix(".") ? a.key.hasPrefix($0) : a.key == $0 } } ?? axes[0]
    }
}

extension ExperimentConfig {
    /// Whether no device is ever pulsed: expected updates and transfers, no pulsed zero-shifting, analog arrays, and an
    /// algorithm whose transfers fire no whole pulses (`TrainingAlgorithm.firesThresholdPulses`).
    public var firesNoPulses: Bool {
        algorithm.updateMode == .expected && algorithm.zeroShift != .pulsed
            && algorithm.arrayCount > 0 && !algorithm.type.firesThresholdPulses
    }

    /// Why configuration key `key` (a sweep axis, dotted) has no effect on this experiment, or nil when it may have
    /// one. Covers the keys an algorithm, a device family or an update mode ignores; a key not listed here is
    /// assumed to matter.
    public func ineffective(_ key: String) -> String? {
        let a = algorithm, name = a.name
        if key == "device_seed" {
            if a.arrayCount == 0 { return "\(name) has no devices" }
            // Device effects draw per-device parameters from the chip's key too (DeviceEffects).
            let effectDraws = (device.lifetime > 0 && device.lifetimeDtod > 0) || (device.diffusion > 0 && device.diffusionDtod > 0)
                || device.resetDtod > 0 || device.corruptDevicesProb > 0
            if !device.hasDeviceToDevice && !device.hasTileToTile && !effectDraws {
                return "the device has no device-to-device or tile-to-tile variability to draw"
            }
            return nil
        }
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        let (table, field) = (parts[0], parts[1])
        if a.arrayCount == 0 && ["device", "forward", "backward", "transfer", "update"].contains(table) {
            return "\(name) has no devices or periphery"
        }
        if table == "transfer" && !name.transfers { return "\(name) has no transfers" }
        if table == "data" {
            if data.source == .idx && ["features", "classes", "train_samples", "test_samples"].contains(field) {
                return "only teacher data (--data-source teacher) is sized by options; IDX files bring their own sizes"
            }
            if data.source == .teacher && field == "dir" { return "teacher data is generated, not read" }
            return nil
        }
        if key == "update.desired_bl" && a.updateMode == .expected && !a.expectedNoise && !a.type.alsoReads.contains(key) {
            return "expected updates without --expected-noise fire no pulse trains"
        }
        if key == "model.hidden" && !model.layers.isEmpty { return "model.layers (--layers, --model) gives the network" }
        guard table == "algorithm" || table == "device" else { return nil }
        if table == "device" {
            let users: [String: [DeviceConfig.Family]] = [
                "gamma": [.power, .exponential], "gamma_up": [.linearStep, .expStep], "gamma_down": [.linearStep, .expStep],
                "pow_gamma": [.powStep], "pow_up_down": [.powStep], "pow_up_down_dtod": [.powStep],
                "A_up": [.expStep], "A_down": [.expStep], "a": [.expStep], "b": [.expStep],
                "piecewise_up": [.piecewiseStep], "piecewise_down": [.piecewiseStep],
                "piecewise_table": [.piecewise], "piecewise_w": [.piecewise], "piecewise_q_plus": [.piecewise],
                "piecewise_q_minus": [.piecewise],
            ]
            if let families = users[field], !families.contains(device.family) {
                return "the \(device.family.rawValue) family has no such parameter"
            }
            if (field == "dw_min_std" || field == "c2c_mode") && firesNoPulses {
                return "expected updates fire no device pulses, so there is no cycle-to-cycle noise"
            }
            if field == "apply_write_noise_on_set" && device.writeNoiseStd == 0 { return "there is no write noise (write_noise_std 0)" }
            if field == "lifetime_dtod" && device.lifetime == 0 { return "there is no decay (lifetime 0)" }
            if field == "diffusion_dtod" && device.diffusion == 0 { return "there is no diffusion (diffusion 0)" }
            if field == "corrupt_devices_range" && device.corruptDevicesProb == 0 { return "no device is corrupt (corrupt_devices_prob 0)" }
            let resets = a.type.parameters.contains { $0.key == TransferReset.withResetProb.key } && a[TransferReset.withResetProb] > 0
            if (field == "reset" || field == "reset_dtod") && device.lifetime == 0 && !resets {
                return "no decay pulls devices to the reset bias (lifetime 0) and no transfer resets devices (algorithm.with_reset_prob 0)"
            }
            if field == "reset_std" && !resets { return "no transfer resets devices (algorithm.with_reset_prob 0)" }
            return nil
        }
        if let why = algorithmIneffective(field) { return why }
        if field == "expected_noise" && a.updateMode != .expected { return "Lemma 1's noise applies to --update-mode expected only" }
        if field == "zero_shift_pulses" && a.zeroShift != .pulsed { return "the pulse count applies to --zero-shift pulsed only" }
        return nil
    }

    /// Why `algorithm.<field>` has no effect: a shared key the algorithm does not read, another algorithm's
    /// parameter, or the algorithm's own reason (`TrainingAlgorithm.ineffective`).
    func algorithmIneffective(_ field: String) -> String? {
        let a = algorithm, type = a.type, name = a.name
        if field == "name" { return nil }
        if AlgorithmConfig.SharedKeys.all.contains(field) {
            if !type.reads.contains(field) {
                if a.arrayCount == 0 { return "\(name) has no analog arrays" }
                if field == "gamma" { return "\(name) reads W alone" }
                if AlgorithmConfig.SharedKeys.transfer.subtracting(AlgorithmConfig.SharedKeys.analog).contains(field) && !type.reads.contains("transfer_every") {
                    return "\(name) has no transfers"
                }
                return "\(name) does not read it"
            }
        } else if AlgorithmRegistry.parameter(field) != nil && !type.parameters.contains(where: { $0.key == field }) {
            let users = AlgorithmRegistry.users(of: field).map { $0.name }
            return "only \(users.joined(separator: ", ")) \(users.count == 1 ? "reads" : "read") it"
        }
        return type.ineffective(field, in: self)
    }
}
