import AIMCTestSupport
import Foundation
import Testing

/// A job started in the background, for tests that signal it mid-run.
final class RunningJob {
    let process = Process()
    let outPath: String, errPath: String

    convenience init(ranks: Int?, _ args: [String], environment extra: [String: String] = [:]) throws {
        if let ranks {
            try self.init(command: ["mpirun", "--oversubscribe", "--mca", "btl", "self,vader", "-n", String(ranks), Launch.binary] + args, environment: extra)
        } else {
            try self.init(command: [Launch.binary] + args, environment: extra)
        }
    }

    /// Runs `command` (looked up on PATH) through python3, which clears the signal mask this test process's threads
    /// pass on: with SIGUSR1 blocked, mpirun could not pass it to the ranks, nor a script trap it (a shell starts
    /// commands unblocked).
    init(command: [String], environment extra: [String: String] = [:]) throws {
        let dir = IDXWriter.temporaryDirectory("job")
        outPath = dir + "/stdout"
        errPath = dir + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, set()); os.execvp(sys.argv[1], sys.argv[1:])"]
            + command
        var env = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "ORTE_", "PMIX_", "OPAL_", "PMI_", "SLURM_"].contains { key.hasPrefix($0) }
        }
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        for (k, v) in extra { env[k] = v }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
    }

    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Waits until stdout holds `text` (true) or the job ends or `timeout` passes (false).
    func waitFor(_ text: String, timeout: Double = 120) -> Bool {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if stdout.contains(text) { return true }
            if !process.isRunning { return stdout.contains(text) }
            usleep(20_000)
        }
        return false
    }

    func finish(timeout: Double = 300) -> Int32 {
        let start = Date()
        while process.isRunning && Date().timeIntervalSince(start) < timeout { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            Issue.record("timed out after \(timeout) s")
        }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

@Suite("Checkpoints and resume (the binary)", .serialized)
struct CheckpointRunTests {
    /// 400 training images, batch 8: 50 steps per epoch; tiles of 8 over widths 64-20-12-10.
    static let args = ["--hidden", "20,12", "--tile-size", "8", "--batch-size", "8", "--progress-seconds", "0", "--data-dir", Launch.data,
                       "--t2t-dw-min", "0.2", "--zero-shift", "ideal"]

    static func reference(_ extra: [String], epochs: Int = 2) throws -> (digest: String, metrics: [String]) {
        let dir = IDXWriter.temporaryDirectory("reference")
        let r = try Launch.run(ranks: 3, args + extra + ["--epochs", String(epochs), "--output", dir, "--overwrite"])
        #expect(r.status == 0, "\(r.stderr)")
        return (Launch.digest(r.stdout) ?? "missing", try Launch.metricsWithoutTime(dir))
    }

    /// Epoch 1 on one rank, epoch 2 resumed on three; epoch 1 on four ranks as two replicas, resumed on two: the digest
    /// and metrics of the uninterrupted run (on three ranks).
    @Test("Resume at another rank count and replica count: 1 -> 3, 4 (2 replicas) -> 2", arguments: ["residual", "tiki-taka-v2", "multi-tile-residual"])
    func otherRankCounts(algorithm: String) throws {
        let algo = ["--algorithm", algorithm]
        let (digest, metrics) = try Self.reference(algo)
        for (first, then, replicas) in [(1, 3, 1), (4, 2, 2)] {
            let dir = IDXWriter.temporaryDirectory("resume")
            let a = try Launch.run(ranks: first, Self.args + algo + ["--epochs", "1", "--output", dir, "--replicas", String(replicas)])
            #expect(a.status == 0, "\(a.stderr)")
            let b = try Launch.run(ranks: then, ["--resume", dir, "--epochs", "2", "--replicas", "1"])
            #expect(b.status == 0, "\(b.stderr)")
            #expect(b.stdout.contains("resumed from ") && b.stdout.contains("epoch 2, 0 step(s) of it done"), "\(b.stdout)")
            #expect(Launch.digest(b.stdout) == digest, "\(first) -> \(then)")
            #expect(try Launch.metricsWithoutTime(dir) == metrics)
        }
    }

    /// With every device effect on (write noise: the hidden persistent states and the effects' stream counters are
    /// checkpoint state; the per-device draws are drawn again): epoch 1 on one rank, epoch 2 resumed on three gives the
    /// uninterrupted run's digest and metrics.
    @Test("Resume with device effects on: 1 -> 3 ranks, the uninterrupted run's digest")
    func resumeWithDeviceEffects() throws {
        let extra = ["--algorithm", "tiki-taka", "--write-noise-std", "2", "--lifetime", "300", "--diffusion", "0.0005",
                     "--corrupt-devices-prob", "0.05", "--set", "device.lifetime_dtod=0.3", "--set", "device.reset_dtod=0.01"]
        let (digest, metrics) = try Self.reference(extra)
        let dir = IDXWriter.temporaryDirectory("resume-effects")
        let a = try Launch.run(ranks: 1, Self.args + extra + ["--epochs", "1", "--output", dir])
        #expect(a.status == 0, "\(a.stderr)")
        let files = try FileManager.default.subpathsOfDirectory(atPath: dir)
        #expect(files.contains { $0.hasSuffix("-W.persistent.npy") } && files.contains { $0.hasSuffix("-P.persistent.npy") }, "\(files)")
        let b = try Launch.run(ranks: 3, ["--resume", dir, "--epochs", "2"])
        #expect(b.status == 0, "\(b.stderr)")
        #expect(Launch.digest(b.stdout) == digest)
        #expect(try Launch.metricsWithoutTime(dir) == metrics)
    }

    /// SIGTERM to the one process, SIGUSR1 to mpirun (which passes it on): each stops at the next step boundary
    /// with a checkpoint and status 75; the resumed run ends with the uninterrupted run's digest and metrics.
    @Test("A stop mid-epoch by SIGTERM or SIGUSR1 resumes to the uninterrupted run's digest")
    func stopMidEpoch() throws {
        // Long enough (30 epochs of 50 steps) for the signal to come while it trains; no checkpoint at epoch ends, so
        // the one the signal writes is the one that resumes.
        let extra = ["--train-limit", "400", "--last-checkpoint-only"]
        let (digest, metrics) = try Self.reference(extra, epochs: 30)
        for (ranks, signal) in [(nil as Int?, SIGTERM), (4, SIGUSR1)] {
            let dir = IDXWriter.temporaryDirectory("stop")
            let job = try RunningJob(ranks: ranks, Self.args + extra + ["--epochs", "30", "--output", dir])
            #expect(job.waitFor("epoch 1/30"), "\(job.stderr)")
            kill(job.process.processIdentifier, signal)
            let status = job.finish()
            if status == 0 {
                // The run ended before the signal reached it: nothing to resume (rare; the assertion below needs a stop).
                Issue.record("the run finished before the signal; stdout: \(job.stdout)")
                continue
            }
            #expect(status == 75, "status \(status): \(job.stderr)")
            #expect(job.stdout.contains("checkpoint written to") && job.stdout.contains("aimc-dist train --resume"), "\(job.stdout)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/summary.json"))
            let b = try Launch.run(ranks: 2, ["--resume", dir])
            #expect(b.status == 0, "\(b.stderr)")
            #expect(Launch.digest(b.stdout) == digest, "ranks \(String(describing: ranks)), signal \(signal)")
            #expect(try Launch.metricsWithoutTime(dir) == metrics)
        }
    }

    /// Rank 1 is killed (SIGKILL) after writing the first file of the second checkpoint: the job ends, the first
    /// checkpoint stays complete, and resuming from it gives the uninterrupted digest.
    @Test("A rank killed while writing a checkpoint leaves the previous one valid and resumable")
    func killedWhileWriting() throws {
        let (digest, metrics) = try Self.reference([], epochs: 3)
        let dir = IDXWriter.temporaryDirectory("killed")
        let job = try RunningJob(ranks: 3, Self.args + ["--epochs", "3", "--output", dir],
                                 environment: ["AIMC_DIST_TEST_KILL_WRITING_CHECKPOINT": "1:2"])
        let status = job.finish()
        #expect(status != 0 && status != 75)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints").sorted()
        #expect(names.count == 2, "\(names)")  // the complete first one and the unfinished second
        #expect(FileManager.default.fileExists(atPath: dir + "/checkpoints/" + names[0] + "/manifest.json"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/checkpoints/" + names[1] + "/manifest.json"))
        let b = try Launch.run(ranks: 3, ["--resume", dir])
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.stdout.contains("epoch 2, 0 step(s) of it done"))
        #expect(Launch.digest(b.stdout) == digest)
        #expect(try Launch.metricsWithoutTime(dir) == metrics)
        // The next checkpoint removed the unfinished one.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints").count == 1)
    }

    /// Nothing to continue: a finished run resumed with no more epochs, a checkpoint beyond the epochs asked for, a run
    /// that diverged, a sweep resumed with a smaller grid: one line, status 1, the folder as it was.
    @Test("A resume with nothing to continue is refused, the folder unchanged")
    func nothingToResume() throws {
        let dir = IDXWriter.temporaryDirectory("nothing")
        let small = ["--hidden", "8", "--train-limit", "40", "--test-limit", "10", "--progress-seconds", "0", "--data-dir", Launch.data]
        func files(_ d: String) throws -> [String: Data] {
            var out = [String: Data]()
            for name in ["config.json", "metrics.csv", "summary.json", "summary.csv"] {
                if let data = FileManager.default.contents(atPath: d + "/" + name) { out[name] = data }
            }
            return out
        }
        func refused(_ args: [String], _ folder: String, _ text: String) throws {
            let before = try files(folder)
            let r = try Launch.run(ranks: 2, args)
            #expect(r.status == 1 && MultiRankTests.errors(r).count == 1 && r.stderr.contains(text), "\(args): \(r.stderr)")
            #expect(try files(folder) == before, "\(args) changed the folder")
        }
        let finished = dir + "/finished"
        #expect(try Launch.run(ranks: 2, small + ["--epochs", "2", "--output", finished]).status == 0)
        try refused(["--resume", finished], finished, "has finished 2 epoch(s); give --epochs 3 or more")
        try refused(["--resume", finished, "--epochs", "1"], finished, "give --epochs 3 or more")
        let diverged = dir + "/diverged"
        #expect(try Launch.run(ranks: 1, small + ["--epochs", "2", "--lr", "1e6", "--algorithm", "digital-sgd", "--output", diverged]).status == 3)
        try refused(["--resume", diverged, "--epochs", "3"], diverged, "diverged in epoch 1")
        let sweep = dir + "/sweep"
        #expect(try Launch.run(ranks: 2, ["sweep", "--seeds", "1,2,3", "--epochs", "1", "--output", sweep] + small).status == 0)
        try refused(["sweep", "--seeds", "1,2", "--epochs", "1", "--output", sweep, "--resume"] + small, sweep, "more than this grid's 2 point(s)")
    }

    @Test("Bad resumes are one line and status 1 (2 for options), and change nothing in the folder")
    func badResumes() throws {
        let dir = IDXWriter.temporaryDirectory("bad")
        let a = try Launch.run(ranks: 2, Self.args + ["--epochs", "1", "--output", dir])
        #expect(a.status == 0, "\(a.stderr)")
        let metrics = try String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8)
        let checkpoint = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints").first)
        let folder = dir + "/checkpoints/" + checkpoint
        func expectOneLine(_ r: Launch.Result, _ status: Int32, _ text: String) {
            #expect(r.status == status, "\(r.stdout) \(r.stderr)")
            let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("aimc-dist: error") }
            #expect(lines.count == 1 && lines[0].contains(text), "\(r.stderr)")
            #expect((try? String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8)) == metrics)
        }
        // A folder holding an unfinished run with a checkpoint points at --resume (summary.json moved away: unfinished).
        try FileManager.default.moveItem(atPath: dir + "/summary.json", toPath: dir + "/summary.moved")
        expectOneLine(try Launch.run(ranks: 1, Self.args + ["--epochs", "1", "--output", dir]), 1, "already holds an unfinished run")
        #expect(try Launch.run(ranks: 1, Self.args + ["--epochs", "1", "--output", dir]).stderr.contains("continue it with --resume \(dir)"))
        try FileManager.default.moveItem(atPath: dir + "/summary.moved", toPath: dir + "/summary.json")
        expectOneLine(try Launch.run(ranks: 2, ["--resume", dir, "--epochs", "2", "--lr", "0.2"]), 1,
                      "was written by another configuration: algorithm.lr is 0.1 in the checkpoint, 0.2 now")
        expectOneLine(try Launch.run(ranks: 1, ["--resume", dir, "--config", dir + "/config.json"]), 2, "cannot be combined with --config")
        expectOneLine(try Launch.run(ranks: 1, ["--resume", dir + "/nothing"]), 2, "holds no run")
        // tiles.csv replaced by a folder: it cannot be rewritten, and the resume stops before anything changes
        // (summary.json and config.json stay).
        let tiles = try Data(contentsOf: URL(fileURLWithPath: dir + "/tiles.csv"))
        let config = try Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))
        try FileManager.default.removeItem(atPath: dir + "/tiles.csv")
        try FileManager.default.createDirectory(atPath: dir + "/tiles.csv", withIntermediateDirectories: false)
        expectOneLine(try Launch.run(ranks: 2, ["--resume", dir, "--epochs", "2"]), 1, "tiles.csv")
        #expect(FileManager.default.fileExists(atPath: dir + "/summary.json"))
        #expect((try? Data(contentsOf: URL(fileURLWithPath: dir + "/config.json"))) == config)
        try FileManager.default.removeItem(atPath: dir + "/tiles.csv")
        try tiles.write(to: URL(fileURLWithPath: dir + "/tiles.csv"))
        // A truncated block file, then a missing manifest.
        let file = folder + "/b000003-W.npy"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        try bytes.prefix(bytes.count - 8).write(to: URL(fileURLWithPath: file))
        expectOneLine(try Launch.run(ranks: 3, ["--resume", dir, "--epochs", "2"]), 1, "truncated or corrupt")
        var flipped = bytes
        flipped[bytes.count - 1] ^= 0x40
        try flipped.write(to: URL(fileURLWithPath: file))
        expectOneLine(try Launch.run(ranks: 3, ["--resume", dir, "--epochs", "2"]), 1, "does not match its checksum")
        try FileManager.default.removeItem(atPath: folder + "/manifest.json")
        expectOneLine(try Launch.run(ranks: 1, ["--resume", dir, "--epochs", "2"]), 1, "holds no complete checkpoint")
    }

    /// scripts/weights.py assembles the final weights; numpy's forward pass of the test images with them (ideal IO:
    /// exact products) reproduces the run's final test loss.
    @Test("scripts/weights.py: numpy's forward pass with the loaded weights gives the run's test loss")
    func pythonReader() throws {
        guard (try? Launch.launch("/usr/bin/env", ["python3", "-c", "import numpy"], timeout: 60).status) == 0 else {
            print("skipped: python3 with numpy is not available (apt install python3-numpy)")
            return
        }
        let dir = IDXWriter.temporaryDirectory("numpy")
        for algorithm in ["rider", "digital-sgd", "multi-tile-residual"] {
            let out = dir + "/" + algorithm
            // Self.args ends with --zero-shift ideal, which digital SGD does not take.
            let r = try Launch.run(ranks: 2, Array(Self.args.dropLast(2)) + ["--epochs", "1", "--ideal-io", "--algorithm", algorithm, "--output", out,
                                                                          "--zero-shift", algorithm == "digital-sgd" ? "none" : "ideal"])
            #expect(r.status == 0, "\(r.stderr)")
            let script = """
            import gzip, sys, numpy as np
            sys.path.insert(0, sys.argv[1] + "/scripts")
            from weights import load
            layers = load(sys.argv[2], verify=True)
            def idx(p):
                b = gzip.open(p).read()
                n = b[3]
                dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(n)]
                return np.frombuffer(b[4 + 4 * n:], dtype=np.uint8).reshape(dims)
            x = idx(sys.argv[3] + "/t10k-images-idx3-ubyte.gz").reshape(-1, 64).astype(np.float64) / 255
            y = idx(sys.argv[3] + "/t10k-labels-idx1-ubyte.gz")
            for l, layer in enumerate(layers):
                x = x @ layer["effective"].T + layer["bias"]
                if l < len(layers) - 1:
                    x = 1 / (1 + np.exp(-x))
            m = x.max(axis=1, keepdims=True)
            loss = np.log(np.exp(x - m).sum(axis=1)) - (x - m)[np.arange(len(y)), y]
            print(repr(float(loss.mean())))
            """
            let py = try Launch.launch("/usr/bin/env", ["python3", "-c", script, Launch.packageRoot, out, Launch.data], timeout: 120)
            #expect(py.status == 0, "\(py.stderr)")
            let numpyLoss = try #require(Double(py.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
            let csv = try String(contentsOfFile: out + "/metrics.csv", encoding: .utf8).split(separator: "\n")
            let runLoss = try #require(Double(csv[1].split(separator: ",")[4]))
            // The run computes in Float32 (products of up to 64 terms, sigmoid, softmax in Double): relative error
            // below 64 x 2^-24 per layer on logits of size ~1, a few 1e-5 on the mean loss; numpy computes in Double.
            #expect(abs(numpyLoss - runLoss) <= 1e-4 * max(1, abs(runLoss)), "\(algorithm): numpy \(numpyLoss), run \(runLoss)")
        }
    }

    /// scripts/slurm.sbatch with stand-ins for srun (runs the command) and scontrol (records its arguments): SIGUSR1
    /// before the time limit checkpoints and requeues; the requeued script resumes, and the run ends with the
    /// uninterrupted digest.
    @Test("Slurm script: SIGUSR1 before the time limit checkpoints and requeues; the next start resumes exactly")
    func slurm() throws {
        let extra = ["--train-limit", "400", "--last-checkpoint-only"]
        let (digest, metrics) = try Self.reference(extra, epochs: 30)
        let fake = IDXWriter.temporaryDirectory("slurm-bin")
        let log = fake + "/scontrol.log"
        try "#!/bin/sh\n[ \"$1\" = --mpi=pmix ] && shift\nexec \"$@\"\n".write(toFile: fake + "/srun", atomically: true, encoding: .utf8)
        try "#!/bin/sh\necho \"$@\" >> \(log)\n".write(toFile: fake + "/scontrol", atomically: true, encoding: .utf8)
        for f in ["srun", "scontrol"] { chmod(fake + "/" + f, 0o755) }
        let dir = IDXWriter.temporaryDirectory("slurm-run")
        let env = ["PATH": fake + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"), "SLURM_JOB_ID": "4242",
                   "AIMC_DIST_BINARY": Launch.binary]
        let script = Launch.packageRoot + "/scripts/slurm.sbatch"
        let first = try RunningJob(command: ["bash", script, "--output", dir, "--epochs", "30"] + Self.args + extra, environment: env)
        #expect(first.waitFor("epoch 1/30"), "\(first.stderr)")
        kill(first.process.processIdentifier, SIGUSR1)
        #expect(first.finish() == 75, "\(first.stdout) \(first.stderr)")
        #expect(first.stdout.contains("requeueing job 4242"))
        #expect((try? String(contentsOfFile: log, encoding: .utf8)) == "requeue 4242\n")
        let second = try RunningJob(command: ["bash", script, "--output", dir, "--epochs", "30"] + Self.args + extra, environment: env)
        #expect(second.finish() == 0, "\(second.stderr)")
        #expect(second.stdout.contains("continuing the run in") && second.stdout.contains("resumed from"))
        #expect(Launch.digest(second.stdout) == digest)
        #expect(try Launch.metricsWithoutTime(dir) == metrics)
    }

    /// A sweep stopped by SIGUSR1 in its second point, resumed with the same command and --resume: the first point is
    /// kept, the second continues from its checkpoint, the third runs; summary.csv equals the uninterrupted sweep's.
    @Test("sweep --resume: finished points kept, the stopped one continued, the same summary.csv")
    func sweepResume() throws {
        let sweep = ["sweep", "--seeds", "0,1,2", "--epochs", "10", "--train-limit", "400"] + Self.args
        let a = IDXWriter.temporaryDirectory("sweep-a"), b = IDXWriter.temporaryDirectory("sweep-b")
        let full = try Launch.run(ranks: 2, sweep + ["--output", a, "--overwrite"])
        #expect(full.status == 0, "\(full.stderr)")
        let job = try RunningJob(ranks: 2, sweep + ["--output", b, "--overwrite"])
        #expect(job.waitFor("== run-002"), "\(job.stderr)")
        usleep(300_000)
        kill(job.process.processIdentifier, SIGUSR1)
        let status = job.finish()
        #expect(status == 75, "\(job.stdout) \(job.stderr)")
        #expect(job.stdout.contains("the same aimc-dist sweep command with --resume"))
        let resumed = try Launch.run(ranks: 3, sweep + ["--output", b, "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        // The signal lands in run-002 or, on a slow machine, in run-003: one or two points finished, one continued.
        #expect(resumed.stdout.contains(" of 3 point(s) finished, 1 continued from a checkpoint"), "\(resumed.stdout)")
        func table(_ dir: String) throws -> [String] {
            let lines = try String(contentsOfFile: dir + "/summary.csv", encoding: .utf8).split(separator: "\n")
            let seconds = try #require(lines.first?.split(separator: ",").firstIndex(of: "seconds"))
            return lines.map { line in
                var cells = line.split(separator: ",", omittingEmptySubsequences: false)
                cells.remove(at: seconds)
                return cells.joined(separator: ",")
            }
        }
        #expect(try table(a) == table(b))
        #expect(try table(a).count == 4)
        // Other options than the sweep's are refused, naming the run folder.
        let other = try Launch.run(ranks: 1, sweep + ["--lr", "0.2", "--output", b, "--resume"])
        #expect(other.status == 1 && other.stderr.contains("run-001 was run with another configuration"), "\(other.stderr)")
    }

    /// Ranks 1 and 2 run in mount namespaces where the run folder is hidden under an empty tmpfs (a node without the
    /// shared file system): their blocks travel to rank 0, which writes them, and on resume rank 0 reads them and sends
    /// them back (those ranks see only a copy of config.json, which --resume reads). The digest is the uninterrupted one.
    @Test("Checkpoints without a shared file system: blocks travel through rank 0, both ways")
    func withoutSharedFolder() throws {
        let probe = try Launch.launch("/usr/bin/env", ["unshare", "--mount", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], timeout: 30)
        guard probe.status == 0 else {
            print("skipped: mount namespaces are not available here (unshare --mount as root): \(probe.stderr)")
            return
        }
        let (digest, metrics) = try Self.reference([])
        let hidden = IDXWriter.temporaryDirectory("hidden")
        let run = hidden + "/run"
        let staged = IDXWriter.temporaryDirectory("staged") + "/config.json"
        func hide(_ args: [String], config: Bool) -> [String] {
            let quoted = args.map { "'\($0)'" }.joined(separator: " ")
            let stage = config ? " && mkdir -p \(run) && cp \(staged) \(run)/config.json" : ""
            return ["unshare", "--mount", "sh", "-c", "mount -t tmpfs tmpfs \(hidden)\(stage) && exec \(Launch.binary) \(quoted)"]
        }
        let first = Self.args + ["--epochs", "1", "--output", run]
        let a = try Launch.runMPI(["-n", "1", Launch.binary] + first + [":", "-n", "2"] + hide(first, config: false))
        #expect(a.status == 0, "\(a.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: try #require(Checkpoint.latestPath(run))).filter { $0.hasSuffix(".npy") }.count > 0)
        try FileManager.default.copyItem(atPath: run + "/config.json", toPath: staged)
        let again = ["--resume", run, "--epochs", "2"]
        let b = try Launch.runMPI(["-n", "1", Launch.binary] + again + [":", "-n", "2"] + hide(again, config: true))
        #expect(b.status == 0, "\(b.stderr)")
        #expect(Launch.digest(b.stdout) == digest)
        #expect(try Launch.metricsWithoutTime(run) == metrics)
    }
}

enum Checkpoint {
    /// The newest checkpoint folder of a run folder (the test's own reading of the layout).
    static func latestPath(_ run: String) -> String? {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints")) ?? []).sorted()
        return names.last { FileManager.default.fileExists(atPath: run + "/checkpoints/" + $0 + "/manifest.json") }.map { run + "/checkpoints/" + $0 }
    }
}
