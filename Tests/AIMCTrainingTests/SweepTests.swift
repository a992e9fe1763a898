import AIMCCore
import AIMCTestSupport
import AIMCTraining
import Foundation
import Testing

@Suite("Sweeps")
struct SweepTests {
    func axis(_ key: String, _ values: [String], _ option: String = "--set") -> Sweep.Axis {
        Sweep.Axis(key: key, values: values, option: option)
    }

    /// The error `body` throws, as printed ("" if it does not throw).
    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    func expand(_ axes: [Sweep.Axis], base: ExperimentConfig = .default,
                fixed: ((ExperimentConfig) throws -> ExperimentConfig)? = nil) throws -> [Sweep.Point] {
        try Sweep.expand(base: base, axes: axes, fixed: fixed)
    }

    /// Keys an experiment ignores: the sweep notes an axis over one of them at every point.
    @Test("Keys without effect on an experiment are named with the reason")
    func ineffectiveKeys() {
        var c = ExperimentConfig.default  // residual, soft bounds, pulsed
        #expect(c.ineffective("algorithm.gamma") == nil && c.ineffective("device.w_max") == nil && c.ineffective("seed") == nil)
        #expect(c.ineffective("algorithm.rider_eta") != nil && c.ineffective("algorithm.tiles") != nil)
        #expect(c.ineffective("device.gamma") != nil && c.ineffective("algorithm.expected_noise") != nil)
        c.device.family = .power
        #expect(c.ineffective("device.gamma") == nil)
        c.algorithm.name = .analogSGD
        #expect(c.ineffective("algorithm.gamma") != nil && c.ineffective("algorithm.transfer_lr") != nil)
        c.algorithm.name = .digitalSGD
        #expect(c.ineffective("device.w_max") != nil && c.ineffective("forward.out_noise") != nil)
        #expect(c.ineffective("algorithm.lr") == nil && c.ineffective("training.batch_size") == nil)
        // The chip (device_seed) matters when the device draws anything: d2d or t2t spreads, or a device effect's
        // per-device draws (stuck devices, spreads of lifetime, diffusion or reset bias).
        var plain = ExperimentConfig.default
        plain.device = DeviceConfig()
        #expect(plain.ineffective("device_seed") != nil)
        for set in [{ (d: inout DeviceConfig) in d.corruptDevicesProb = 0.1 }, { $0.resetDtod = 0.01 },
                    { $0.lifetime = 100; $0.lifetimeDtod = 0.2 }, { $0.diffusion = 0.01; $0.diffusionDtod = 0.2 }] {
            var e = plain
            set(&e.device)
            #expect(e.ineffective("device_seed") == nil)
        }
    }

    @Test("Seeds and other integers stay exact up to 2^64 - 1")
    func exactIntegers() throws {
        let seeds = ["9223372036854775807", "9223372036854775808", "9223372036854775809", "18446744073709551615"]
        let points = try expand([axis("seed", seeds, "--seeds")])
        #expect(points.map(\.config.seed) == [9_223_372_036_854_775_807, 9_223_372_036_854_775_808, 9_223_372_036_854_775_809, UInt64.max])
        #expect(points.map { $0.labels[0].value } == seeds)
        // Over a base whose seed is beyond 2^63, another axis leaves the seed exact.
        var base = ExperimentConfig.default
        base.seed = 9_223_372_036_854_775_809
        #expect(try expand([axis("algorithm.lr", ["0.1", "0.2"])], base: base).allSatisfy { $0.config.seed == base.seed })
        let tooBig = message { _ = try expand([axis("seed", ["18446744073709551616"], "--seeds")]) }
        #expect(tooBig.hasPrefix("--seeds (config key seed) must be an integer in 0...18446744073709551615; got 18446744073709551616"), "\(tooBig)")
        #expect(message { _ = try expand([axis("seed", ["-1"])]) }.contains("0...18446744073709551615; got -1"))
        // Numbers keep every bit, through an axis and through a file written and read back.
        let lr = "0.12345678901234568"
        let precise = try expand([axis("algorithm.lr", [lr])])[0].config
        #expect(precise.algorithm.lr == Double(lr)!)
        // A configuration file keeps them exact too.
        let dir = IDXWriter.temporaryDirectory("sweep-seed")
        try #"{"seed": 9223372036854775809}"#.write(toFile: dir + "/s.json", atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: dir + "/s.json", over: .default).seed == 9_223_372_036_854_775_809)
        try "seed: 9223372036854775809\n".write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: dir + "/s.yaml", over: .default).seed == 9_223_372_036_854_775_809)
    }

    @Test("A grid beyond the limit is refused from the axis lengths, at once")
    func gridSize() throws {
        let hundred = (1...100).map(String.init)
        let started = Date()
        let huge = message { _ = try expand([axis("algorithm.lr", hundred), axis("algorithm.gamma", hundred), axis("algorithm.transfer_lr", hundred)]) }
        #expect(huge.contains("1000000 points (100 x 100 x 100 values)") && huge.contains("at most 10000"), "\(huge)")
        let over = message { _ = try expand([axis("algorithm.lr", hundred), axis("algorithm.gamma", hundred + ["101"])]) }
        #expect(over.contains("10100 points"), "\(over)")
        let overflow = message { _ = try expand(Array(repeating: axis("algorithm.lr", hundred), count: 12)) }
        #expect(overflow.contains("more than"), "\(overflow)")
        #expect(Date().timeIntervalSince(started) < 1)
        #expect(Sweep.size([axis("a", hundred), axis("b", hundred)]) == 10_000)
    }

    @Test("Every point is validated before any runs, and the error names the grid point")
    func pointsValidated() throws {
        let m = message { _ = try expand([axis("algorithm.name", ["residual", "analog-sgd"]), axis("training.epochs", ["1", "0"])]) }
        #expect(m == "--set (config key training.epochs) must be an integer in 1...100000; got 0 (grid point 2 of 4: algorithm.name=residual training.epochs=0)", "\(m)")
        // A value that is fine alone but not in combination with another axis.
        let range = message { _ = try expand([axis("device.tau", ["0.6", "0.001"]), axis("device.dw_min", ["0.001", "0.01"])]) }
        #expect(range.contains("grid point 4 of 4: device.tau=0.001 device.dw_min=0.01"), "\(range)")
        let points = try expand([axis("algorithm.name", ["residual", "analog-sgd"]), axis("seed", ["1", "2"], "--seeds")])
        #expect(points.map { $0.labels.map(\.value) } == [["residual", "1"], ["residual", "2"], ["analog-sgd", "1"], ["analog-sgd", "2"]])
        #expect(points.map(\.number) == [1, 2, 3, 4] && points.allSatisfy { $0.count == 4 })
        #expect(points[3].context == "grid point 4 of 4: algorithm.name=analog-sgd seed=2")
        #expect(points[3].option(for: "seed") == "--seeds" && points[3].option(for: "replicas") == nil)
    }

    @Test("Duplicate and overlapping axes are refused")
    func overlaps() throws {
        let seeds = message { _ = try expand([axis("seed", ["1", "2"]), axis("seed", ["3", "4"], "--seeds")]) }
        #expect(seeds == "--seeds (config key seed) is already swept by --set; give all its values in one axis", "\(seeds)")
        #expect(message { _ = try expand([axis("seed", ["1"]), axis("seed", ["2"])]) }.contains("is swept twice"))
        let tau = message { _ = try expand([axis("device.w_max", ["0.3", "0.9"]), axis("device.tau", ["0.7"])]) }
        #expect(tau.hasPrefix("--set (config key device.tau) cannot be swept together with device.w_max"), "\(tau)")
        #expect(message { _ = try expand([axis("device.tau", ["0.7"]), axis("device.w_min", ["-0.3"])]) }.contains("cannot be swept together with device.tau"))
        #expect(message { _ = try expand([axis("device.n_states", ["4", "10"]), axis("device.dw_min", ["0.01"])]) }.contains("device.n_states sets device.dw_min"))
        #expect(message { _ = try expand([axis("seed", ["1", "01"])]) }.contains("lists one value twice (1 and 01)"))
        #expect(message { _ = try expand([axis("algorithm.lr", ["0.1", "0.10"])]) }.contains("lists one value twice"))
        // w_max and w_min are separate keys: both may be swept.
        let bounds = try expand([axis("device.w_max", ["0.5", "0.9"]), axis("device.w_min", ["-0.4"])])
        #expect(bounds.map(\.config.device.wMax) == [0.5, 0.9] && bounds.allSatisfy { $0.config.device.wMin == -0.4 })
    }

    @Test("An axis that a fixed option also sets is refused; starting points may be refined")
    func fixedOptions() throws {
        var base = ExperimentConfig.default
        base.device.nStates = 10
        // --n-states 10 with a dw_min axis: the axis would be lost to n_states (or the option to the axis).
        let nStates: (ExperimentConfig) -> ExperimentConfig = { var c = $0; c.device.nStates = 10; return c }
        let m = message { _ = try expand([axis("device.dw_min", ["0.01", "0.1"])], base: base, fixed: nStates) }
        #expect(m.hasPrefix("--set (config key device.dw_min) is swept, but a command-line option also sets"), "\(m)")
        #expect(m.contains("device.n_states"))
        // The same n_states from a preset (not a fixed option): the dw_min axis replaces it, as --dw-min does.
        let points = try expand([axis("device.dw_min", ["0.01", "0.1"])], base: base)
        #expect(points.map(\.config.device.dwMin) == [0.01, 0.1] && points.allSatisfy { $0.config.device.nStates == 0 })
        #expect(points[0].config != points[1].config)
        // --seed 3 with --seeds; --tau with a w_max axis; --w-min with a tau axis.
        let seed: (ExperimentConfig) -> ExperimentConfig = { var c = $0; c.seed = 3; return c }
        #expect(message { _ = try expand([axis("seed", ["1", "2"], "--seeds")], fixed: seed) }.hasPrefix("--seeds (config key seed) is swept, but a command-line option also sets seed"))
        let tau: (ExperimentConfig) -> ExperimentConfig = { var c = $0; c.device.wMax = 0.7; c.device.wMin = -0.7; return c }
        #expect(message { _ = try expand([axis("device.w_max", ["0.3", "0.9"])], fixed: tau) }.contains("--tau sets device.w_max and device.w_min"))
        // Options that set other keys are fine, and a tau axis sets both bounds.
        let lr: (ExperimentConfig) -> ExperimentConfig = { var c = $0; c.algorithm.lr = 0.1; return c }
        let taus = try expand([axis("device.tau", ["0.5", "0.8"])], fixed: lr)
        #expect(taus.map(\.config.device.wMax) == [0.5, 0.8] && taus.map(\.config.device.wMin) == [-0.5, -0.8])
        // n_states axes resolve into dw_min per point.
        let states = try expand([axis("device.n_states", ["4", "10"])])
        let expected: [Double] = [1.2 / 4, 1.2 / 10]
        #expect(states.map(\.config.device.dwMin) == expected)
    }

    @Test("Malformed keys and axes are refused with a message")
    func syntax() throws {
        for text in ["algorithm..name=residual", ".seed=1", "seed.=1", "al gorithm.name=residual"] {
            let m = message { _ = try Sweep.axis(text) }
            #expect(m.contains("is malformed"), "\(text): \(m)")
        }
        #expect(message { _ = try Sweep.axis("seed") }.hasPrefix("--set must look like key=v1,v2"))
        #expect(message { _ = try Sweep.axis("=1,2") }.hasPrefix("--set must look like key=v1,v2"))
        #expect(message { _ = try Sweep.axis("seed=") }.contains("none empty"))
        #expect(message { _ = try Sweep.axis("seed=1,,2") }.contains("none empty"))
        #expect(message { _ = try Sweep.axis("model.hidden=[1,2") }.contains("unbalanced"))
        #expect(message { _ = try Sweep.axis("model.hidden=[[1]]") }.contains("nested"))
        #expect(try Sweep.axis("model.hidden=[256,128], [512, 256],64").values == ["[256,128]", "[512, 256]", "64"])
        #expect(message { _ = try expand([axis("algorithm.nme", ["1"])]) } == "--set names an unknown key algorithm.nme; did you mean algorithm.name?")
        #expect(message { _ = try expand([axis("algorithm.zzzzz", ["1"])]) }.hasPrefix("--set names an unknown key algorithm.zzzzz (the keys of algorithm: "))
        #expect(message { _ = try expand([axis("algorithm", ["1"])]) }.hasPrefix("--set names algorithm, a table of keys"))
        #expect(message { _ = try expand([axis("seed.x", ["1"])]) }.contains("seed is a value, not a table"))
    }

    @Test("Value errors name the key, the value and the allowed values")
    func valueMessages() throws {
        let name = message { _ = try expand([axis("algorithm.name", ["bogus"])]) }
        #expect(name == "--set (config key algorithm.name) must be one of " + Algorithm.allCases.map(\.rawValue).joined(separator: ", ") + "; got bogus", "\(name)")
        #expect(message { _ = try expand([axis("training.batch_size", ["1e20"])]) } == "--set (config key training.batch_size) must be an integer in 1...65536; got 1e20")
        #expect(message { _ = try expand([axis("training.batch_size", ["2.5"])]) }.contains("must be an integer in 1...65536, written in digits; got 2.5"))
        #expect(message { _ = try expand([axis("training.train_limit", ["1e20"])]) }.contains("must be an integer in -9223372036854775808...9223372036854775807; got 1e20"))
        #expect(message { _ = try expand([axis("algorithm.lr", ["fast"])]) } == "--set (config key algorithm.lr) must be a finite number; got fast")
        #expect(message { _ = try expand([axis("algorithm.lr", ["nan"])]) }.contains("must be a finite number; got nan"))
        #expect(message { _ = try expand([axis("algorithm.warm_start", ["yes"])]) }.contains("must be true or false; got yes"))
        #expect(message { _ = try expand([axis("device.tau", ["wide"])]) }.contains("(config key device.tau) must be a finite number; got wide"))
        #expect(message { _ = try expand([axis("replicas", ["1", "0"])]) }.contains("(grid point 2 of 2: replicas=0)"))
        #expect(message { _ = try expand([axis("data.dir", ["a", "b"])]) }.contains("(config key data.dir) cannot be swept: a sweep reads one data set"))
        // Configuration files: the key and its range, not "(top level)".
        let dir = IDXWriter.temporaryDirectory("sweep-messages")
        for (text, expected) in [(#"{"training": {"batch_size": 1e20}}"#, "(config key training.batch_size) must be an integer in 1...65536; got 1e+20"),
                                 (#"{"training": {"batch_size": 9223372036854775808}}"#, "(config key training.batch_size) must be an integer in 1...65536; got 9223372036854775808"),
                                 (#"{"seed": 1e30}"#, "(config key seed) must be an integer in 0...18446744073709551615"),
                                 (#"{"placement": "random"}"#, "(config key placement) must be one of round-robin, balanced, by-layer; got random")] {
            try text.write(toFile: dir + "/c.json", atomically: true, encoding: .utf8)
            let m = message { _ = try ConfigLoader.load(path: dir + "/c.json", over: .default) }
            #expect(m == "--config \(dir)/c.json " + expected || (m.hasPrefix("--config \(dir)/c.json " + expected) && expected.hasSuffix("18446744073709551615")), "\(m)")
        }
    }

    @Test("List keys take [a,b] or AxB values, a bare value being a one-element list")
    func lists() throws {
        let points = try expand([axis("model.hidden", ["[256,128]", "512x256", "64", "[ 32 , 16 ]"])])
        #expect(points.map(\.config.model.hidden) == [[256, 128], [512, 256], [64], [32, 16]])
        #expect(points.map { $0.labels[0].value } == ["256x128", "512x256", "64", "32x16"])
        var multi = ExperimentConfig.default
        multi.algorithm.name = .multiTileResidual
        let rates = try expand([axis("algorithm.transfer_lr_per_tile", ["[0.1,0.2]", "0.3x0.4", "[]"])], base: multi)
        #expect(rates.map { $0.config.algorithm[MultiTileResidual.transferLRPerTile] } == [[0.1, 0.2], [0.3, 0.4], []])
        #expect(rates[2].labels[0].value == "[]")
        #expect(message { _ = try expand([axis("model.hidden", ["[256,1.5]"])]) }.contains("(config key model.hidden) must be an integer in 1...1048576, written in digits; got 1.5"))
        #expect(message { _ = try expand([axis("model.hidden", ["256x"])]) }.contains("is a list: write a value as [a,b,...] or AxB"))
        #expect(message { _ = try expand([axis("model.hidden", ["0"])]) }.contains("(config key model.hidden[0]) must be an integer in 1...1048576; got 0 (grid point 1 of 1: model.hidden=0)"))
    }

    @Test("The choices of the loader match the schema")
    func choicesMatchSchema() throws {
        let encoded = try ConfigLoader.encodedTable(.default)
        var textKeys = [String]()
        func walk(_ table: [String: Any], _ prefix: String) {
            for (k, v) in table {
                let key = prefix.isEmpty ? k : prefix + "." + k
                if let sub = v as? [String: Any] { walk(sub, key) } else if v is String { textKeys.append(key) }
            }
        }
        walk(encoded, "")
        #expect(textKeys.count > 10)
        for key in textKeys {
            // A key with choices rejects other text and accepts each choice; a free-text key accepts any text.
            let junk = (try? ConfigLoader.overlay(setting(key, "no-such-choice"), over: .default, source: "test")) != nil
            if let choices = ConfigLoader.choices[key] {
                #expect(!junk, "\(key)")
                for choice in choices {
                    let decodes = (try? ConfigLoader.overlay(setting(key, choice), over: .default, source: "test")) != nil
                    #expect(decodes, "\(key) = \(choice)")
                }
                // Straight into the schema, without the loader's own check: junk does not decode either.
                var table = encoded
                table = merged(table, setting(key, "no-such-choice"))
                #expect((try? JSONDecoder().decode(ExperimentConfig.self, from: JSONSerialization.data(withJSONObject: table))) == nil, "\(key)")
            } else {
                #expect(junk, "\(key) has choices the loader does not list")
            }
        }
        #expect(Set(ConfigLoader.choices.keys).isSubset(of: textKeys))
    }

    func merged(_ base: [String: Any], _ top: [String: Any]) -> [String: Any] {
        var out = base
        for (k, v) in top {
            if let sub = v as? [String: Any], let existing = base[k] as? [String: Any] { out[k] = merged(existing, sub) } else { out[k] = v }
        }
        return out
    }

    func setting(_ key: String, _ value: Any) -> [String: Any] {
        var table: Any = value
        for part in key.split(separator: ".").reversed() { table = [String(part): table] }
        return table as! [String: Any]
    }

    @Test("Run and sweep folders: each refuses the other's content, and --overwrite removes either")
    func folders() throws {
        let fm = FileManager.default
        // A folder holding a training run.
        let run = IDXWriter.temporaryDirectory("sweep-folder-run")
        do {
            let d = try RunDirectory(path: run, overwrite: false)
            try d.write("config.json", text: "{}")
            try d.startMetrics()
        }
        let refused = message { _ = try RunDirectory(path: run, overwrite: false) }
        #expect(refused == "--output \(run) already holds an unfinished run (config.json, metrics.csv); choose another folder or pass --overwrite to replace it", "\(refused)")
        // A sweep over it with --overwrite: the run's files go.
        do {
            let d = try RunDirectory(path: run, overwrite: true)
            try d.write("summary.csv", text: "run\n")
            for name in ["run-001", "run-002", "run-003"] { try fm.createDirectory(atPath: run + "/" + name, withIntermediateDirectories: true) }
            try "x".write(toFile: run + "/run-003/config.json", atomically: true, encoding: .utf8)
        }
        #expect(RunDirectory.runFiles.allSatisfy { !fm.fileExists(atPath: run + "/" + $0) })
        // Now it holds a sweep: a training run is refused, and --overwrite removes the summary and run folders.
        let sweep = message { _ = try RunDirectory(path: run, overwrite: false) }
        #expect(sweep.contains("already holds a sweep (summary.csv, 3 run folders)") && sweep.contains("--overwrite"), "\(sweep)")
        try fm.createDirectory(atPath: run + "/notes", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: run + "/run-x", withIntermediateDirectories: true)
        do { _ = try RunDirectory(path: run, overwrite: true) }
        let left = try fm.contentsOfDirectory(atPath: run).filter { !$0.hasPrefix(".") }.sorted()
        #expect(left == ["notes", "run-x"], "\(left)")
        // Run folders alone (a sweep whose summary was deleted) still count as a sweep.
        try fm.createDirectory(atPath: run + "/run-007", withIntermediateDirectories: true)
        #expect(message { _ = try RunDirectory(path: run, overwrite: false) }.contains("already holds a sweep (1 run folder)"))
    }
}
