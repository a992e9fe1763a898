import AIMCCore
import AIMCTestSupport
import AIMCTraining
import Foundation
import Testing

@Suite("Configuration")
struct ConfigTests {
    func file(_ name: String, _ text: String) throws -> String {
        let path = IDXWriter.temporaryDirectory("config") + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("The default experiment is valid and round-trips through JSON")
    func defaults() throws {
        let c = ExperimentConfig.default
        try c.validate()
        #expect(c.algorithm.name == .residual && c.model.hidden == [256, 128] && c.model.activation == .sigmoid)
        #expect(c.forward.outNoise == 0.06 && c.forward.inpRes == 1.0 / 126 && c.forward.outRes == 1.0 / 510 && c.forward.outBound == 12)
        let path = try file("c.json", String(decoding: ConfigLoader.json(c), as: UTF8.self))
        #expect(try ConfigLoader.load(path: path, over: ExperimentConfig()) == c)
    }

    @Test("Suggestions: edit distance with swaps, the closest known key, a key at the wrong level")
    func suggestions() throws {
        #expect(Suggestion.distance("device", "devcie") == 1 && Suggestion.distance("tau", "tua") == 1)
        #expect(Suggestion.distance("kitten", "sitting") == 3 && Suggestion.distance("abc", "abcdef", limit: 2) == nil)
        #expect(Suggestion.closest("sweep", among: ["train", "sweep", "swep"]) == "swep")
        #expect(Suggestion.closest("xyzzy", among: ["train", "sweep"]) == nil)
        let schema = try ConfigLoader.encodedTable(.default)
        #expect(Suggestion.key(for: "devcie.tau", value: 0.5, schema: schema) == "device.tau")
        #expect(Suggestion.key(for: "device.dw_mim", value: 0.5, schema: schema) == "device.dw_min")
        #expect(Suggestion.key(for: "asymmetry", value: 0.5, schema: schema) == "device.asymmetry")  // written at the top level
        #expect(Suggestion.key(for: "devise", value: [String: Any](), schema: schema) == "device")
        func message(_ text: String) throws -> String {
            let path = try file("s.json", text)
            do { _ = try ConfigLoader.load(path: path, over: .default); return "" } catch { return "\(error)" }
        }
        #expect(try message(#"{"devcie": {"tau": 0.5}}"#).hasSuffix("has an unknown key devcie.tau; did you mean device.tau?"))
        #expect(try message(#"{"rpu_config": {}}"#).contains("rpu_config is aihwkit's"))
    }

    @Test("device.tau in a file sets both bounds, as --tau does")
    func tauShorthand() throws {
        let c = try ConfigLoader.load(path: try file("t.yaml", "device:\n  tau: 0.8\n"), over: .default)
        #expect(c.device.wMax == 0.8 && c.device.wMin == -0.8)
        #expect(throws: ConfigFileError.self) { _ = try ConfigLoader.load(path: try file("t2.yaml", "device: {tau: 0.8, w_min: -1}\n"), over: .default) }
    }

    /// config.json leaves out what `ExperimentConfig.ineffective` names, and reads back into the same experiment up to
    /// those keys (which, by the same rules, change nothing).
    @Test("The recorded configuration leaves out unused keys and reads back")
    func recorded() throws {
        var c = ExperimentConfig.default
        c.algorithm.name = .analogSGD
        c.algorithm[RIDER.eta] = 0.5
        let text = String(decoding: ConfigLoader.recordedJSON(c), as: UTF8.self)
        #expect(!text.contains("rider_eta") && !text.contains("\"transfer\"") && !text.contains("A_down") && text.contains("\"asymmetry\""))
        let back = try ConfigLoader.load(path: try file("r.json", text), over: .default)
        #expect(back.algorithm[RIDER.eta] == AlgorithmConfig()[RIDER.eta] && back.algorithm.name == .analogSGD)
        var expected = c
        expected.algorithm[RIDER.eta] = back.algorithm[RIDER.eta]
        #expect(back == expected)
        #expect(String(decoding: ConfigLoader.recordedJSON(back), as: UTF8.self) == text)
    }

    @Test("A partial JSON or YAML file overrides only its keys")
    func partial() throws {
        let json = try file("p.json", #"{"seed": 5, "device": {"dw_min": 0.002}, "algorithm": {"name": "analog-sgd"}}"#)
        let a = try ConfigLoader.load(path: json, over: .default)
        #expect(a.seed == 5 && a.device.dwMin == 0.002 && a.algorithm.name == .analogSGD && a.device.wMax == 0.6)
        let yaml = try file("p.yaml", "training:\n  epochs: 7\nmodel:\n  hidden: [32, 16]\n  tile_size: 64\n")
        let b = try ConfigLoader.load(path: yaml, over: .default)
        #expect(b.training.epochs == 7 && b.model.hidden == [32, 16] && b.model.tileSize == 64 && b.training.batchSize == 10)
    }

    @Test("Unknown keys, wrong types and unknown choices are errors naming the key")
    func errors() throws {
        func message(_ text: String, _ ext: String = "json") throws -> String {
            let path = try file("e.\(ext)", text)
            do { _ = try ConfigLoader.load(path: path, over: .default); return "" } catch { return "\(error)" }
        }
        #expect(try message(#"{"devise": {}}"#).contains("unknown key devise"))
        #expect(try message(#"{"device": {"dw_minn": 1}}"#).contains("unknown key device.dw_minn"))
        #expect(try message(#"{"training": {"epochs": "three"}}"#).contains("training.epochs"))
        #expect(try message(#"{"algorithm": {"name": "sgd"}}"#).contains("algorithm.name"))
        #expect(try message("{not json").contains("not valid JSON"))
        #expect(try message("- 1\n- 2\n", "yaml").contains("table"))
        #expect(try message("", "json").count > 0)
        #expect(try message(#"{"training": {"epochs": 2.5}}"#).contains("(config key training.epochs) must be an integer"))
        #expect(try message(#"{"training": {"epochs": null}}"#).contains("(config key training.epochs) is null"))
        #expect(try message(#"{"model": {"hidden": [16, 1.5]}}"#).contains("(config key model.hidden[1]) must be an integer"))
        #expect(try message(#"{"seed": -1}"#).contains("seed"))
        #expect(try message("algorithm:\n  lr: .nan\n", "yaml").contains("(config key algorithm.lr) must be a finite number"))
        #expect(try message("device:\n  dw_min: abc\n", "yaml").contains("(config key device.dw_min) must be a number"))
        #expect(try message("training: [1, 2\n", "yaml").split(separator: "\n").count == 1)
        var bomb = "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
        for level in 1...8 { bomb += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let started = Date()
        #expect(try message(bomb, "yaml").contains("expands to more than"))
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(try message(#"{"device": {"mean_bound_reference": 1}}"#).contains("true or false"))
        let txt = try file("c.txt", "{}")
        do { _ = try ConfigLoader.load(path: txt, over: .default); Issue.record("expected an error") } catch {
            #expect("\(error)".contains(".json, .yaml or .yml"))
        }
    }

    @Test("YAML seeds beyond 2^63 and fractional values of real keys are accepted")
    func accepted() throws {
        let c = try ConfigLoader.load(path: try file("s.yaml", "seed: 18446744073709551615\ndevice:\n  gamma: 0.5\n"), over: .default)
        #expect(c.seed == UInt64.max && c.device.gamma == 0.5)
        // Integral numbers written with a fraction part are integers; doubles keep every bit.
        let d = try ConfigLoader.load(path: try file("i.json", #"{"training": {"epochs": 2.0}, "model": {"hidden": [16.0]}, "algorithm": {"lr": 0.12345678901234568}}"#), over: .default)
        #expect(d.training.epochs == 2 && d.model.hidden == [16] && d.algorithm.lr == 0.12345678901234568)
    }

    /// `ConfigLoader.integerKeys` must list exactly the integer-typed keys: every numeric key of the default
    /// configuration outside it must accept 0.5, every key inside it must reject it.
    func encodedValue(_ table: [String: Any], _ parts: [String]) -> Any? {
        var t: Any? = table
        for p in parts { t = (t as? [String: Any])?[p] }
        return t
    }

    @Test("The integer keys of the loader match the schema")
    func integerKeysMatchSchema() throws {
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(ExperimentConfig.default)) as! [String: Any]
        var numeric = [String]()
        func walk(_ table: [String: Any], _ prefix: String) {
            for (k, v) in table {
                let key = prefix.isEmpty ? k : prefix + "." + k
                if let sub = v as? [String: Any] { walk(sub, key) } else if let n = v as? NSNumber, String(cString: n.objCType) != "c" { numeric.append(key) } else if let list = v as? [Any], list.first is NSNumber { numeric.append(key) }
            }
        }
        walk(encoded, "")
        #expect(numeric.count > 20)
        _ = try file("k.json", "{}")
        func set(_ table: [String: Any], _ parts: ArraySlice<String>, _ value: Any) -> [String: Any] {
            var t = table
            let k = parts.first!
            t[k] = parts.count == 1 ? value : set(t[k] as! [String: Any], parts.dropFirst(), value)
            return t
        }
        for key in numeric {
            let parts = key.split(separator: ".").map(String.init)
            let isList = encodedValue(encoded, parts) is [Any]
            let changed = set(encoded, parts[...], isList ? [0.5] as [Any] : 0.5)
            // Decode straight into the schema, without the loader's own checks.
            let decodes = (try? JSONDecoder().decode(ExperimentConfig.self, from: JSONSerialization.data(withJSONObject: changed))) != nil
            let listedAsInteger = ConfigLoader.integerKeys.contains(key)
            #expect(decodes != listedAsInteger, "\(key): decodes 0.5 = \(decodes), listed as integer = \(listedAsInteger)")
        }
    }

    @Test("Out-of-range values fail validation with the option name")
    func validation() {
        func fails(_ change: (inout ExperimentConfig) -> Void, mentioning option: String) {
            var c = ExperimentConfig.default
            change(&c)
            do {
                try c.validate()
                Issue.record("expected \(option) to be rejected")
            } catch {
                #expect(error.description.contains(option), "\(error.description)")
            }
        }
        fails({ $0.training.epochs = 0 }, mentioning: "--epochs")
        fails({ $0.training.batchSize = 0 }, mentioning: "--batch-size")
        fails({ $0.algorithm.lr = -1 }, mentioning: "--lr")
        fails({ $0.algorithm.transferLR = 0 }, mentioning: "--transfer-lr")
        fails({ $0.algorithm.gamma = -0.5 }, mentioning: "--gamma")
        fails({ $0.algorithm.transferEvery = 0 }, mentioning: "--transfer-every")
        fails({ $0.model.tileSize = 0 }, mentioning: "--tile-size")
        fails({ $0.model.hidden = [0] }, mentioning: "--hidden")
        fails({ $0.device.dwMin = 0 }, mentioning: "--dw-min")
        fails({ $0.update.desiredBL = 33 }, mentioning: "--desired-bl")
        fails({ $0.training.trainLimit = -1 }, mentioning: "--train-limit")
        fails({ $0.forward.outNoise = -1 }, mentioning: "--out-noise")
        fails({ $0.device.family = .power; $0.device.gamma = 1e-300 }, mentioning: "--gamma-res")
        fails({ $0.device.family = .exponential; $0.device.gamma = 50.5 }, mentioning: "--gamma-res")
        fails({ $0.device.family = .piecewise; $0.device.piecewiseW = [0, 1] }, mentioning: "piecewise_w")
    }
}
