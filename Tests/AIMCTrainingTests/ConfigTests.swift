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
    }
}
