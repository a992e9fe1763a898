import AIMCCore
import AIMCTestSupport
import AIMCTraining
import Foundation
import Testing

/// Configuration files that are malformed in ways a parser accepts: keys that are not names, keys given twice,
/// YAML 1.1 number forms, settings that contradict each other, files of another command.
@Suite("Configuration files")
struct ConfigFileTests {
    let dir = IDXWriter.temporaryDirectory("configfiles")

    func file(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The error of loading `text` as a file `name` over `base`, or "" when it loads.
    func error(_ name: String, _ text: String, over base: ExperimentConfig = .default) throws -> String {
        let path = try file(name, text)
        do { _ = try ConfigLoader.load(path: path, over: base); return "" } catch { return "\(error)" }
    }

    func load(_ name: String, _ text: String, over base: ExperimentConfig = .default) throws -> ExperimentConfig {
        try ConfigLoader.load(path: try file(name, text), over: base)
    }

    @Test("A list or table used as a YAML key is one error saying where, not a trap in Yams")
    func nonScalarKeys() throws {
        let top = try error("k.yaml", "? [a, b]\n: 1\n")
        #expect(top.contains("k.yaml has a list used as a key at the top level; configuration keys must be plain names"), "\(top)")
        let nested = try error("k.yaml", "training: {[a]: 1}\n")
        #expect(nested.contains("has a list used as a key under training"), "\(nested)")
        let table = try error("k.yaml", "device:\n  ? {a: 1}\n  : 2\n")
        #expect(table.contains("has a table used as a key under device"), "\(table)")
        // Through an alias, and inside a list of tables.
        let alias = try error("k.yaml", "x: &x [1]\ntraining:\n  *x : 1\n")
        #expect(alias.contains("has a list used as a key under training"), "\(alias)")
        for m in [top, nested, table, alias] { #expect(m.split(separator: "\n").count == 1) }
        // Merge keys still work, and the tables they merge are checked too.
        let merged = try load("m.yaml", "forward: &io {out_noise: 0.01}\nbackward:\n  <<: *io\n  out_bound: 10\n")
        #expect(merged.backward.outNoise == 0.01 && merged.backward.outBound == 10 && merged.forward.outNoise == 0.01)
        let nestedMerge = try error("m.yaml", "training:\n  <<: {? [a]: 1}\n")
        #expect(nestedMerge.contains("has a list used as a key under training"), "\(nestedMerge)")
    }

    @Test("A key given twice is refused, in JSON as in YAML, naming the key")
    func duplicateKeys() throws {
        let json = try error("d.json", #"{"training": {"epochs": 1, "epochs": 2}}"#)
        #expect(json.contains("d.json gives the key training.epochs twice; give each key once"), "\(json)")
        // Written differently but equal once decoded.
        let escaped = try error("d.json", #"{"seed": 1, "se\u0065d": 2}"#)
        #expect(escaped.contains("gives the key seed twice"), "\(escaped)")
        let yaml = try error("d.yaml", "training:\n  epochs: 1\n  epochs: 2\n")
        #expect(yaml.contains("gives the key epochs twice in one table (line 2)"), "\(yaml)")
        // Equal names in different tables, and braces and quotes inside text, are not duplicates.
        let fine = try load("f.json", #"{"training": {"epochs": 2}, "algorithm": {"tiles": 4, "name": "multi-tile-residual"}, "data": {"dir": "a{\"b\":1,\"b\":2}[,"}}"#)
        #expect(fine.training.epochs == 2 && fine.algorithm[MultiTileResidual.tiles] == 4 && fine.data.dir == #"a{"b":1,"b":2}[,"#)
        #expect(try error("a.json", #"[{"a": 1}, {"a": 2}]"#).contains("must hold a table of keys at the top level"))
        #expect(try error("a.json", #"{"x": [{"a": 1}, {"a": 2, "b": {}, "a": 3}]}"#).contains("gives the key x[1].a twice"))
        #expect(try error("a.json", #"{"a": {"b": 1}, "c": {"b": 1}}"#).contains("unknown key"))
    }

    @Test("YAML 1.1 octal, hexadecimal, binary, base-60 and underscored numbers are refused, saying how they would be read")
    func yaml11Numbers() throws {
        let cases: [(String, [String])] = [
            ("seed: 010\n", ["(config key seed) is written 010, which YAML reads as the octal number 8; write 8 (or 10 if you meant the decimal number)"]),
            ("training:\n  epochs: 017\n", ["training.epochs", "octal number 15", "or 17"]),
            ("algorithm:\n  lr: 1:30\n", ["algorithm.lr", "base-60 number 90", "write 90"]),
            ("algorithm:\n  lr: 1:30.5\n", ["algorithm.lr", "base-60 number 90.5"]),
            ("training:\n  epochs: 0x10\n", ["training.epochs", "hexadecimal number 16", "write 16"]),
            ("training:\n  epochs: 0b11\n", ["binary number 3"]),
            ("training:\n  epochs: 0o17\n", ["octal number 15"]),
            ("seed: 1_000\n", ["(config key seed) is written 1_000", "write 1000"]),
            ("algorithm:\n  lr: 1_0.5\n", ["algorithm.lr", "write 10.5"]),
            ("model:\n  hidden: [16, 010]\n", ["model.hidden[1]", "octal number 8"]),
            ("data:\n  dir: 010\n", ["(config key data.dir) must be text; got 010", "quote it: \"010\""]),
            ("algorithm:\n  expected_noise: 0x1\n", ["algorithm.expected_noise", "must be true or false; got 0x1"]),
        ]
        for (text, expected) in cases {
            let m = try error("n.yaml", text)
            #expect(expected.allSatisfy { m.contains($0) } && m.split(separator: "\n").count == 1, "\(text): \(m)")
        }
        // Decimal numbers, leading zeros that read the same either way, quoted digits (decimal) and infinities
        // (refused as not finite, as before).
        let c = try load("ok.yaml", "seed: 07\ntraining:\n  epochs: 0\n  batch_size: +4\nalgorithm:\n  lr: 08\n  gamma: .5\n  transfer_lr: 1e-3\nmodel:\n  hidden: [\"010\"]\n")
        #expect(c.seed == 7 && c.training.epochs == 0 && c.training.batchSize == 4 && c.algorithm.lr == 8 && c.algorithm.gamma == 0.5
                && c.algorithm.transferLR == 0.001 && c.model.hidden == [10])
        #expect(try load("q.yaml", "seed: \"010\"\n").seed == 10)
        #expect(try error("i.yaml", "algorithm:\n  lr: .inf\n").contains("must be a finite number"))
    }

    @Test("device.n_states and device.dw_min in one file must agree; dw_min alone replaces the base's n_states")
    func statesAndStep() throws {
        let m = try error("s.json", #"{"device": {"n_states": 10, "dw_min": 0.01}}"#)
        #expect(m.contains("(config key device.dw_min) is 0.01, but device.n_states 10 gives dw_min = (w_max - w_min)/n_states = 0.12")
                && m.contains("give one of device.dw_min and device.n_states"), "\(m)")
        // w_max and w_min from the file count.
        #expect(try load("s.json", #"{"device": {"n_states": 10, "dw_min": 0.1, "w_max": 0.5, "w_min": -0.5}}"#).device.effectiveDwMin == 0.1)
        #expect(try error("s.json", #"{"device": {"n_states": 10, "dw_min": 0.12, "w_max": 0.5}}"#).contains("device.n_states 10"))
        // Agreement to a relative 1e-9, and n_states 0 (use dw_min).
        #expect(try load("s.json", #"{"device": {"n_states": 10, "dw_min": 0.12000000000001}}"#).device.nStates == 10)
        #expect(try load("s.json", #"{"device": {"n_states": 0, "dw_min": 0.01}}"#).device.effectiveDwMin == 0.01)
        // A resolved configuration (dw_min written from n_states) reads back.
        var resolved = ExperimentConfig.default
        resolved.device.nStates = 7
        resolved.device.wMax = 0.37
        resolved.device.wMin = -0.37
        resolved.resolve()
        #expect(try load("r.json", String(decoding: ConfigLoader.json(resolved), as: UTF8.self)) == resolved)
        // dw_min alone over a base with n_states: as --dw-min, it replaces n_states.
        var base = ExperimentConfig.default
        base.device.nStates = 10
        let c = try load("d.yaml", "device:\n  dw_min: 0.05\n", over: base)
        #expect(c.device.nStates == 0 && c.device.effectiveDwMin == 0.05)
        #expect(try load("n.yaml", "device:\n  n_states: 20\n", over: base).device.nStates == 20)
    }

    @Test("A boolean for a number names the boolean; quoted numbers read as unquoted ones")
    func booleansAndQuotedNumbers() throws {
        let m = try error("b.json", #"{"training": {"epochs": true}}"#)
        #expect(m.contains("(config key training.epochs) must be a number; got true (a boolean)"), "\(m)")
        #expect(try error("b.yaml", "algorithm:\n  lr: false\n").contains("must be a number; got false (a boolean)"))
        #expect(try error("b.json", #"{"algorithm": {"expected_noise": 1}}"#).contains("must be true or false; got 1"))
        // Quoted decimals, integers and exponents are the numbers they spell.
        let unquoted = try load("u.json", #"{"algorithm": {"lr": 0.001, "gamma": 1e-3}, "training": {"epochs": 2}, "seed": 12}"#)
        let quoted = try load("q.json", #"{"algorithm": {"lr": "0.001", "gamma": "1e-3"}, "training": {"epochs": "2.0"}, "seed": "12"}"#)
        #expect(quoted == unquoted)
        #expect(try load("q.yaml", "algorithm:\n  lr: \"0.12345678901234568\"\n").algorithm.lr == 0.12345678901234568)
        #expect(try load("q.json", #"{"seed": "18446744073709551615"}"#).seed == UInt64.max)
        for bad in ["0x10", "nan", "inf", "1.2.3", "", " 1", "1e", "-"] {
            let e = try error("q.json", #"{"algorithm": {"lr": "\#(bad)"}}"#)
            #expect(e.contains("(config key algorithm.lr) must be a number; got \"\(bad)\""), "\(bad): \(e)")
        }
        #expect(try error("q.json", #"{"training": {"epochs": "2.5"}}"#).contains("must be an integer; got 2.5"))
        #expect(try error("q.json", #"{"algorithm": {"expected_noise": "1"}}"#).contains("must be true or false"))
    }

    @Test("A YAML syntax error is one short line however long or deep the offending line")
    func shortParseErrors() throws {
        let long = "training: [" + String(repeating: "1, ", count: 100_000) + ")\n"
        let deep = "training: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 4999) + "\n"
        let wide = "training: {epochs: 1 " + String(repeating: "x", count: 100_000) + " : : }\n"
        for text in [long, deep, wide] {
            let m = try error("p.yaml", text)
            #expect(m.contains("is not valid YAML: line ") && m.split(separator: "\n").count == 1 && m.count < 400, "\(m.count): \(m.prefix(400))")
        }
        #expect(try error("p.yaml", deep).contains("nested more than 1000 levels deep"))
    }

    @Test("A value the file gave that fails validation names the file, unless an option replaced it")
    func attribution() throws {
        let path = try file("c.json", #"{"device": {"asymmetry": 2}, "training": {"epochs": 1}}"#)
        let loaded = try ConfigLoader.read(path: path, over: .default)
        #expect(loaded.keys == ["device.asymmetry", "training.epochs"])
        var caught: ConfigError?
        do { try loaded.config.validate() } catch { caught = error }
        let e = try #require(caught)
        #expect("\(loaded.attributing(e, final: loaded.config))" == "--config \(path) (config key device.asymmetry, option --asymmetry) must lie in (-1, 1); got 2")
        // An option that replaced the value: the option's error stands.
        var replaced = loaded.config
        replaced.device.asymmetry = 3
        #expect("\(loaded.attributing(e, final: replaced))" == e.description)
        // A key the file did not set.
        let other = ConfigError(key: "device.dw_min", option: "--dw-min", message: "must lie in [1e-9, 1e6]; got 0")
        #expect("\(loaded.attributing(other, final: loaded.config))" == other.description)
        // List elements are attributed to the list key.
        let list = try ConfigLoader.read(path: try file("h.json", #"{"model": {"hidden": [16, 0]}}"#), over: .default)
        var listError: ConfigError?
        do { try list.config.validate() } catch { listError = error }
        #expect("\(list.attributing(try #require(listError), final: list.config))".contains("h.json (config key model.hidden[1], option --hidden) must be an integer"))
    }

    @Test("An lsq config.json given to train is named as such")
    func leastSquaresConfig() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let path = try file("config.json", String(decoding: try encoder.encode(LeastSquaresConfig()), as: UTF8.self))
        do {
            _ = try ConfigLoader.load(path: path, over: .default)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("is a least-squares (aimc-dist lsq) configuration; train, sweep and plan read training configurations"), "\(error)")
        }
        // A training file with one misplaced key is not mistaken for one.
        #expect(try error("t.json", #"{"samples": 10}"#).contains("unknown key samples"))
    }

    @Test("A relative data folder is stored absolute in the resolved configuration")
    func absoluteDataDir() throws {
        let cwd = FileManager.default.currentDirectoryPath
        var c = ExperimentConfig.default
        c.data.dir = "./data/./fashion"
        c.resolve()
        #expect(c.data.dir == (cwd == "/" ? "" : cwd) + "/data/fashion")
        c.data.dir = "../x"
        c.resolve()
        #expect(c.data.dir.hasPrefix("/") && c.data.dir.hasSuffix("/../x"))
        let before = c
        c.resolve()
        #expect(c == before)
        var absolute = ExperimentConfig.default
        absolute.resolve()
        #expect(absolute.data.dir == DataConfig().dir)
    }
}
