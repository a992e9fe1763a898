import AIMCCore
import AIMCTraining
import Foundation
import Testing

/// The aihwkit-* presets against aihwkit 1.1.0 itself: `Tests/Data/aihwkit-1.1.0-defaults.json` was recorded once
/// from the installed aihwkit 1.1.0 (torch 2.10.0) with `scripts/aihwkit_defaults.py`, which builds each preset's
/// rpu_config at aihwkit's defaults and writes every training field. Each recorded field must be covered by
/// `AihwkitMapping`: a key of ours holding the same value (or its stated conversion), a fixed value of ours with a
/// reason, a behaviour we model (then aihwkit's field must hold the modelled value), or a field without effect.
@Suite("aihwkit presets")
struct AihwkitPresetTests {
    /// A JSON value, decoded strictly (a number is never a flag).
    indirect enum JSON: Decodable {
        case flag(Bool), number(Double), text(String), list([JSON]), object([String: JSON]), null

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .flag(b) } else if let n = try? c.decode(Double.self) {
                self = .number(n)
            } else if let s = try? c.decode(String.self) { self = .text(s) } else if let a = try? c.decode([JSON].self) { self = .list(a) } else {
                self = .object(try c.decode([String: JSON].self))
            }
        }

        subscript(_ key: String) -> JSON? { if case .object(let o) = self { return o[key] } else { return nil } }

        /// As a mapping value (nil for objects, non-empty lists and null).
        var value: AihwkitMapping.Value? {
            switch self {
            case .flag(let b): return .flag(b)
            case .number(let n): return .number(n)
            case .text(let s): return .text(s)
            case .list(let a) where a.isEmpty: return .emptyList
            default: return nil
            }
        }
    }

    static let recorded: JSON = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Data/aihwkit-1.1.0-defaults.json")
        return try! JSONDecoder().decode(JSON.self, from: Data(contentsOf: url))
    }()

    /// Equal numbers (within 1e-12 relative: aihwkit writes 1/126 as a Python float), flags, texts.
    static func same(_ a: AihwkitMapping.Value?, _ b: AihwkitMapping.Value?) -> Bool {
        switch (a, b) {
        case (.number(let x)?, .number(let y)?): return x == y || abs(x - y) <= 1e-12 * max(abs(x), abs(y))
        default: return a == b
        }
    }

    /// Our value of a dotted key of the configuration as config.json writes it.
    static func ours(_ config: JSON, _ key: String) -> AihwkitMapping.Value? {
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        return config[parts[0]]?[parts[1]]?.value
    }

    static func encoded(_ c: ExperimentConfig) throws -> JSON { try JSONDecoder().decode(JSON.self, from: ConfigLoader.json(c)) }

    /// aihwkit's enum names as our choices: ABS_MAX -> abs-max.
    static func normalized(_ v: AihwkitMapping.Value?) -> AihwkitMapping.Value? {
        if case .text(let s)? = v { return .text(s.lowercased().replacingOccurrences(of: "_", with: "-")) }
        return v
    }

    @Test("The table was recorded from aihwkit 1.1.0 and holds every aihwkit-* preset")
    func recordedTable() throws {
        #expect(Self.recorded["aihwkit"]?.value == .text("1.1.0"))
        guard case .object(let presets)? = Self.recorded["presets"] else { Issue.record("no presets"); return }
        #expect(Set(presets.keys) == Set(ConfigPresets.aihwkitPresets.map(\.name)))
    }

    @Test("Each aihwkit preset resolves to aihwkit 1.1.0's defaults for its rpu_config, field by field",
          arguments: ConfigPresets.aihwkitPresets.map(\.name))
    func presetEqualsRecorded(name: String) throws {
        let preset = try #require(ConfigPresets.named(name))
        var config = preset.apply(to: .default)
        config.resolve()
        try config.validate()
        let table = try Self.encoded(config)
        let entry = try #require(Self.recorded["presets"]?[name])
        guard case .text(let kind)? = entry["kind"], case .object(let fields)? = entry["fields"] else {
            Issue.record("\(name): no kind or fields recorded"); return
        }
        #expect(config.algorithm.name.rawValue == AihwkitMapping.algorithms[kind])
        var checked = 0
        for (field, raw) in fields.sorted(by: { $0.key < $1.key }) {
            guard let rule = AihwkitMapping.rule(for: field, kind: kind) else {
                Issue.record("\(name): aihwkit field \(field) = \(raw) has no rule in AihwkitMapping")
                continue
            }
            let theirs = raw.value
            switch rule {
            case .key(let key):
                let mine = Self.ours(table, key)
                #expect(Self.same(Self.normalized(theirs), mine), "\(name): \(field) = \(raw) but \(key) = \(mine.map(\.description) ?? "missing")")
            case .converted(let key, let conversion):
                let mine = Self.ours(table, key)
                let wanted = conversion["\(theirs.map(\.description) ?? "")"]
                #expect(wanted != nil && Self.same(wanted, mine), "\(name): \(field) = \(raw) but \(key) = \(mine.map(\.description) ?? "missing")")
            case .fixed(let key, let value, _):
                #expect(Self.same(Self.ours(table, key), value), "\(name): \(key) must be \(value) (\(field))")
            case .modelled(let value, let why):
                #expect(Self.same(theirs, value), "\(name): aihwkit's \(field) = \(raw), but aimc-dist models \(value) (\(why))")
            case .noEffect:
                break
            }
            checked += 1
        }
        #expect(checked == fields.count && checked > 100)
        for (key, value) in AihwkitMapping.neutral {
            #expect(Self.same(Self.ours(table, key), value), "\(name): \(key) must be \(value) to behave as aihwkit")
        }
    }

    @Test("The recorder's rules catch a preset that drifts from aihwkit (a changed value fails the comparison)")
    func driftIsCaught() throws {
        var c = try #require(ConfigPresets.named("aihwkit-c-ttv2")).apply(to: .default)
        c.algorithm[ChoppedTikiTakaV2.inChopProb] = 0.2
        let table = try Self.encoded(c)
        #expect(!Self.same(.number(0.1), Self.ours(table, "algorithm.in_chop_prob")))
        guard case .key(let key)? = AihwkitMapping.rule(for: "compound.in_chop_prob", kind: "chopped") else {
            Issue.record("in_chop_prob is not mapped to a key"); return
        }
        #expect(key == "algorithm.in_chop_prob")
    }

    @Test("--preset semantics: aihwkit-tiki-taka with lr 0.1 pulses the gradient at fast_lr 1 and transfers at 1 x 0.1")
    func lrConventions() throws {
        var c = try #require(ConfigPresets.named("aihwkit-tiki-taka")).apply(to: .default)
        c.algorithm.lr = 0.1
        #expect(c.algorithm.gradientRate == 1 && abs(c.algorithm.transferRate - 0.1) < 1e-15)
        #expect(c.model.tileSize == 512 && c.algorithm.updatePer == .sample && c.device.c2cMode == .multiplicative)
        // A device preset sets only the device, as --device-preset did.
        let p = try #require(ConfigPresets.named("paper-power"))
        #expect(!p.setsAlgorithm)
        var d = ExperimentConfig.default
        d.device = DevicePresets.named("paper-power")!.device
        #expect(p.apply(to: .default) == d)
        #expect(throws: ConfigError.self) { try ConfigPresets.require("aihwkit-tikitaka") }
        #expect(Set(ConfigPresets.names).count == ConfigPresets.names.count)
    }
}
