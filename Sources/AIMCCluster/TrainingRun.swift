import AIMCCore
import AIMCTraining
import CMPI
import Foundation

/// An error that ends the run with a message printed by the rank that knows it.
public struct RunError: Error, CustomStringConvertible {
    public let message: String
    public let exitCode: Int32
    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
    public var description: String { message }
}

/// One training job over MPI: every rank runs `TrainingRun.main`; rank 0 is the coordinator (it loads and
/// broadcasts the data, decides each epoch's plan, prints, writes the run directory).
///
/// Failure handling: an error known to all ranks (bad data, an unwritable output folder) ends every rank with
/// exit status 1 after the coordinator prints one line; an error on one rank during training (an MPI failure)
/// prints on that rank and calls MPI_Abort, which ends the whole job promptly.
public enum TrainingRun {
    public struct Options: Sendable {
        public var output: String?
        public var overwrite = false
        public var dataName = "Fashion-MNIST"
        public init() {}
    }

    /// Runs the experiment on MPI's world communicator. Returns the process exit status.
    public static func main(config: ExperimentConfig, options: Options) -> Int32 {
        aimc_line_buffered_stdout()
        do {
            try MPI.initialize()
        } catch {
            printError("cannot start MPI: \(error)")
            return 1
        }
        defer { MPI.finalize() }
        let comm = Communicator.world()
        let launcher = Launcher.current
        if let problem = launcher.mismatch(worldSize: comm.size) {
            if launcher.isPrintingRank { printError(problem) }
            return 1
        }
        Linear.useSingleThread()
        do {
            return try run(config: config, options: options, comm: comm)
        } catch let e as RunError {
            if comm.rank == 0 { printError(e.message) }
            return e.exitCode
        } catch {
            printError("rank \(comm.rank): \(error)")
            MPI.abort(code: 1)
        }
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data("aimc-dist: error: \(message)\n".utf8))
    }

    static func say(_ comm: Communicator, _ line: String) {
        if comm.rank == 0 { print(line) }
    }

    /// Every rank learns whether the coordinator's step succeeded; on failure all ranks throw the same RunError
    /// (printed once, by rank 0).
    static func agree(_ comm: Communicator, _ failure: String?) throws -> Void {
        var bytes = Array((failure ?? "").utf8)
        var count = Int64(bytes.count)
        count = try comm.broadcast(count)
        if comm.rank != 0 { bytes = [UInt8](repeating: 0, count: Int(count)) }
        if count > 0 {
            try bytes.withUnsafeMutableBytes { try comm.broadcast($0, root: 0) }
            throw RunError(String(decoding: bytes, as: UTF8.self))
        }
    }

    static func run(config: ExperimentConfig, options: Options, comm: Communicator) throws -> Int32 {
        // Data: the coordinator reads and checks the files, then broadcasts them.
        var trainBytes = [UInt8](), testBytes = [UInt8]()
        var failure: String? = nil
        if comm.rank == 0 {
            do {
                let train = try Dataset.loadMNISTFormat(directory: config.data.dir, prefix: "train", limit: config.training.trainLimit)
                let test = try Dataset.loadMNISTFormat(directory: config.data.dir, prefix: "t10k", limit: config.training.testLimit)
                if train.features != test.features {
                    failure = "training images have \(train.features) pixels but test images \(test.features)"
                }
                trainBytes = train.serialized()
                testBytes = test.serialized()
            } catch {
                failure = error.description
            }
        }
        try agree(comm, failure)
        let train = Dataset(serialized: try broadcastBytes(comm, trainBytes))
        let test = Dataset(serialized: try broadcastBytes(comm, testBytes))

        // Output folder, on the coordinator.
        var directory: RunDirectory? = nil
        failure = nil
        if comm.rank == 0, let path = options.output {
            do {
                let d = try RunDirectory(path: path, overwrite: options.overwrite)
                try d.write("config.json", ConfigLoader.json(config))
                directory = d
            } catch {
                failure = error.description
            }
        }
        try agree(comm, failure)

        let trainer = Trainer(config: config, comm: comm, train: train, test: test)
        for line in Report.header(config: config, layout: trainer.layout, placement: trainer.placement, train: train,
                                  test: test, dataName: options.dataName) {
            say(comm, line)
        }
        let started = MPI.wallTime
        var rows = [EpochMetrics]()
        let epochs = config.training.epochs
        for epoch in 1...epochs {
            var lastPrint = MPI.wallTime
            let epochStart = lastPrint
            let every = config.training.progressSeconds
            let progress: ((Int, Int, Double) -> Void)? = comm.rank == 0 && every > 0 ? { done, total, loss in
                let now = MPI.wallTime
                if now - lastPrint >= every && done < total {
                    lastPrint = now
                    print(String(format: "  epoch %d: step %d/%d (%.0f%%), train loss %.4f, %.0f s", epoch, done, total,
                                 100 * Double(done) / Double(total), loss, now - epochStart))
                }
            } : nil
            let m = try trainer.runEpoch(epoch, progress: progress)
            rows.append(m)
            say(comm, Report.epochLine(m, epochs: epochs))
            if let directory { try directory.write("metrics.csv", text: RunDirectory.metricsCSV(rows)) }
            if !m.trainLoss.isFinite {
                say(comm, "training diverged (loss is not finite); stopping")
                break
            }
        }
        let digest = try trainer.weightsDigest()
        let elapsed = MPI.wallTime - started
        // Timing: the slowest rank's compute and communication.
        let compute = try comm.maximum(trainer.timing.computeSeconds)
        let communication = try comm.maximum(trainer.timing.communicationSeconds)
        let pulses = trainer.pulseStatistics
        let coincidences = try comm.allgatherBytes(withUnsafeBytes(of: pulses.gradient.coincidences + pulses.transfer.coincidences) { Array($0) },
                                                   counts: Array(repeating: 8, count: comm.size))
        var totalPulses: UInt64 = 0
        for r in 0..<comm.size { totalPulses += coincidences[(8 * r)..<(8 * r + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } }
        say(comm, String(format: "time: %.1f s; slowest rank: compute %.1f s, communication %.1f s; %llu device pulses", elapsed,
                         compute, communication, totalPulses))
        say(comm, "weights digest: \(digest)")
        if let directory, let last = rows.last {
            let summary: [String: Any] = [
                "weights_digest": digest, "epochs": rows.count, "final_test_accuracy": last.testAccuracy,
                "final_train_loss": last.trainLoss, "seconds": elapsed, "ranks": comm.size, "device_pulses": totalPulses,
            ]
            let data = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
            try directory.write("summary.json", data)
        }
        return 0
    }

    static func broadcastBytes(_ comm: Communicator, _ bytes: [UInt8]) throws -> [UInt8] {
        var n = Int64(bytes.count)
        n = try comm.broadcast(n)
        var out = comm.rank == 0 ? bytes : [UInt8](repeating: 0, count: Int(n))
        try out.withUnsafeMutableBytes { try comm.broadcast($0, root: 0) }
        return out
    }
}
