import AIMCTestSupport
import Foundation
import Testing

@Suite("Convolutional networks under MPI", .serialized)
struct CNNRunTests {
    /// A CNN on the 8 x 8 synthetic images: conv 3x3 of 4 channels (36 positions), pool 2, conv 2x2 of 3 channels,
    /// dense 6, dense 10; tiles of 4 cut every matrix into several blocks.
    static let args = ["--layers", "conv4k3,pool2,conv3k2,dense6", "--activation", "tanh", "--tile-size", "4", "--epochs", "1",
                       "--batch-size", "4", "--train-limit", "120", "--test-limit", "40", "--progress-seconds", "0", "--data-dir", Launch.data]

    /// Same digest and metrics at 1, 2, 3 and 5 ranks and for every placement; pulsed Residual Learning through the
    /// periphery and expected-mode Tiki-Taka v2.
    @Test("A tiny CNN: identical digest at 1, 2, 3 and 5 ranks and under every placement")
    func rankInvariance() throws {
        for variant in [["--algorithm", "residual"], ["--algorithm", "tiki-taka-v2", "--update-mode", "expected"]] {
            let reference = try Launch.run(ranks: 1, Self.args + variant)
            #expect(reference.status == 0, "\(reference.stderr)")
            #expect(reference.stdout.contains("network 8x8x1 conv4k3 pool2 conv3k2 dense6 dense10"), "\(reference.stdout)")
            let digest = try #require(Launch.digest(reference.stdout))
            for n in [2, 3, 5] {
                for policy in ["round-robin", "balanced", "by-layer"] {
                    let r = try Launch.run(ranks: n, Self.args + variant + ["--placement", policy])
                    #expect(r.status == 0, "\(r.stderr)")
                    #expect(Launch.digest(r.stdout) == digest, "\(variant) n=\(n) \(policy)")
                    #expect(Launch.epochLines(r.stdout) == Launch.epochLines(reference.stdout))
                }
            }
            let replicas = try Launch.run(ranks: 4, Self.args + variant + ["--replicas", "2"])
            #expect(replicas.status == 0 && Launch.digest(replicas.stdout) == digest, "\(replicas.stderr)")
        }
    }

    /// A CNN run with a folder: two epochs straight, or one epoch and then --resume to two at another rank count,
    /// give the same digest, metrics and tiles.csv (but for the owner column); numpy's reader loads the conv layers.
    @Test("A CNN checkpoints and resumes exactly at another rank count, with its tiles.csv")
    func resume() throws {
        let a = IDXWriter.temporaryDirectory("cnn-whole"), b = IDXWriter.temporaryDirectory("cnn-split")
        let args = Array(Self.args.drop { $0 != "--epochs" }.dropFirst(2)) + Array(Self.args.prefix { $0 != "--epochs" })
        let whole = try Launch.run(ranks: 2, args + ["--epochs", "2", "--output", a])
        #expect(whole.status == 0, "\(whole.stderr)")
        let first = try Launch.run(ranks: 2, args + ["--epochs", "1", "--output", b])
        #expect(first.status == 0, "\(first.stderr)")
        let resumed = try Launch.run(ranks: 3, ["--resume", b, "--epochs", "2"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(Launch.digest(resumed.stdout) != nil && Launch.digest(resumed.stdout) == Launch.digest(whole.stdout))
        #expect(try Launch.metricsWithoutTime(b) == Launch.metricsWithoutTime(a))
        #expect(try TilesFile.withoutOwner(b) == TilesFile.withoutOwner(a))
        let py = try Launch.launch("/usr/bin/env", ["python3", Launch.packageRoot + "/scripts/weights.py", a], timeout: 60)
        #expect(py.status == 0 && py.stdout.contains("layer 0: 4 x 9"), "\(py.stdout) \(py.stderr)")
    }

    /// The bytes each rank moves in a training step of the CNN equal the communication model's prediction (positions
    /// per sample included), with and without replicas.
    @Test("CNN traffic of a step equals the communication model", arguments: [["-n", "3"], ["-n", "4", "--replicas", "2"]])
    func traffic(launch: [String]) throws {
        let n = Int(launch[1])!
        let r = try Launch.run(ranks: n, Array(launch.dropFirst(2)) + Self.args + ["--report-comm"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").drop { !$0.hasPrefix("  rank ") }.dropFirst().prefix(n)
        #expect(rows.count == n)
        for row in rows {
            let cells = row.split(separator: " ").map(String.init)
            #expect(cells.count == 6 && cells[1] == cells[3] && cells[2] == cells[4], "\(row)")
        }
    }

    @Test("Bad models are one line and status 2 on every rank count")
    func badModels() throws {
        for (layers, text) in [("conv4k9", "larger than its 8x8 input"), ("conv4k3,pool4", "does not divide its 6x6 input"), ("convx", "none of conv<C>k<K>")] {
            for n in [1, 3] {
                let r = try Launch.run(ranks: n, ["--layers", layers, "--data-dir", Launch.data, "--epochs", "1"], timeout: 60)
                #expect(r.status == 2, "\(layers) n=\(n): \(r.stderr)")
                let lines = r.stderr.split(separator: "\n").filter { $0.contains("error") }
                #expect(lines.count == 1 && lines[0].contains(text), "\(r.stderr)")
            }
        }
        let model = try Launch.run(ranks: 1, ["--model", "lenet"], timeout: 60)
        #expect(model.status == 2 && model.stderr.contains("--model must be one of fcn, cnn-paper"), "\(model.stderr)")
    }
}
