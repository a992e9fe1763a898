import AIMCTestSupport
import Foundation
import Testing

/// Runs the built `aimc-dist` under mpirun as a subprocess (the way users run it) and compares what ranks print
/// and write. The binary is $AIMC_DIST_BINARY, or .build/release/aimc-dist of this package (scripts/test.sh
/// builds it first).
enum Launch {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static var binary: String {
        ProcessInfo.processInfo.environment["AIMC_DIST_BINARY"] ?? packageRoot + "/.build/release/aimc-dist"
    }

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
    }

    /// Runs `mpirun -n ranks aimc-dist args` (or the binary alone when ranks is nil) with output going to files
    /// (not pipes: an MPI daemon could inherit a pipe and hold it open) and an environment free of MPI variables,
    /// plus `environment`.
    static func run(ranks: Int?, _ args: [String], environment: [String: String] = [:], timeout: Double = 300) throws -> Result {
        if let ranks {
            return try runMPI(["-n", String(ranks), binary] + args, environment: environment, timeout: timeout)
        }
        return try launch(binary, args, environment: environment, timeout: timeout)
    }

    /// mpirun with these arguments after the common ones (for MPMD launches: "-n 1 bin args : -n 1 bin args"); the
    /// ranks on this node inherit `environment`.
    static func runMPI(_ args: [String], environment: [String: String] = [:], timeout: Double = 300) throws -> Result {
        try launch("/usr/bin/env", ["mpirun", "--oversubscribe", "--mca", "btl", "self,vader"] + args, environment: environment,
                   timeout: timeout)
    }

    /// A command started in the background (for signals sent while it runs); `finish` waits for it.
    final class Running {
        let process: Process
        let outPath: String, errPath: String
        let started = Date()
        init(process: Process, outPath: String, errPath: String) {
            self.process = process
            self.outPath = outPath
            self.errPath = errPath
        }
        var pid: Int32 { process.processIdentifier }
        var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }

        /// Waits until `condition` holds on standard output, at most `timeout` seconds; whether it did.
        func wait(until condition: (String) -> Bool, timeout: Double) -> Bool {
            let end = Date().addingTimeInterval(timeout)
            while Date() < end && process.isRunning {
                if condition(stdout) { return true }
                usleep(50_000)
            }
            return condition(stdout)
        }

        /// The pid of the process among `parent`'s children (and theirs) whose environment has OMPI_COMM_WORLD_RANK=`rank`.
        func rankProcess(_ rank: Int) -> Int32? {
            // Parent of every process (field 4 of /proc/PID/stat, after the parenthesised name).
            var parents = [Int32: Int32]()
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
                guard let p = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { continue }
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                if fields.count > 1, let ppid = Int32(fields[1]) { parents[p] = ppid }
            }
            func children(_ pid: Int32) -> [Int32] { parents.filter { $0.value == pid }.map(\.key) }
            var queue = children(pid)
            while let p = queue.first {
                queue.removeFirst()
                if let env = FileManager.default.contents(atPath: "/proc/\(p)/environ"),
                   env.split(separator: 0).contains(where: { $0.elementsEqual("OMPI_COMM_WORLD_RANK=\(rank)".utf8) }) { return p }
                queue += children(p)
            }
            return nil
        }

        /// Waits for the end (terminating it past `timeout`, an issue) and returns what it did.
        func finish(timeout: Double) -> Result {
            while process.isRunning && Date().timeIntervalSince(started) < timeout { usleep(20_000) }
            if process.isRunning {
                process.terminate()
                Issue.record("timed out after \(timeout) s")
            }
            process.waitUntilExit()
            let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            return Result(status: process.terminationStatus, stdout: stdout, stderr: err, seconds: Date().timeIntervalSince(started))
        }
    }

    /// Starts `executable args` in the background, output to files, environment free of MPI variables. The command
    /// starts with no signal blocked, as from a shell (the test runner's threads block signals, and a child inherits
    /// that mask: mpirun would then ignore the SIGTERM a test sends it).
    static func start(_ executable: String, _ args: [String], environment extra: [String: String] = [:]) throws -> Running {
        let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return try startBlocked(executable, args, environment: extra) }
        return try startBlocked("/usr/bin/python3", ["-c", unblock, executable] + args, environment: extra)
    }

    static func startBlocked(_ executable: String, _ args: [String], environment extra: [String: String] = [:]) throws -> Running {
        let dir = IDXWriter.temporaryDirectory("launch")
        let outPath = dir + "/stdout", errPath = dir + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.environment = environment(extra, sessionIn: dir)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try p.run()
        return Running(process: p, outPath: outPath, errPath: errPath)
    }

    /// This process's environment without MPI and Slurm variables (a test runner started by mpirun must not make its
    /// children think they are ranks), allowing mpirun as root.
    static var cleanEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "ORTE_", "PMIX_", "OPAL_", "PMI_", "SLURM_"].contains { key.hasPrefix($0) }
        }
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return env
    }

    /// `cleanEnvironment` with `extra`, and Open MPI's session directories in `dir` (this launch's own folder) unless
    /// `extra` places them (TMPDIR or OMPI_MCA_orte_tmpdir_base): jobs that start and end side by side in one
    /// /tmp/ompi.HOST.UID race to create and remove it (open-mpi/ompi#8510: "A call to mkdir was unable to create the
    /// desired directory ... File exists"), and the tests run many at once.
    static func environment(_ extra: [String: String], sessionIn dir: String) -> [String: String] {
        var env = cleanEnvironment.merging(extra) { $1 }
        if extra["TMPDIR"] == nil && extra["OMPI_MCA_orte_tmpdir_base"] == nil { env["OMPI_MCA_orte_tmpdir_base"] = dir }
        return env
    }

    /// `launch` with its arguments in the other order.
    static func launch(_ executable: String, _ args: [String], timeout: Double, environment extra: [String: String]) throws -> Result {
        try launch(executable, args, environment: extra, timeout: timeout)
    }

    static func launch(_ executable: String, _ args: [String], environment extra: [String: String] = [:], timeout: Double) throws -> Result {
        #expect(FileManager.default.isExecutableFile(atPath: binary),
                "aimc-dist is not built at \(binary): run scripts/test.sh (it builds it) or set AIMC_DIST_BINARY")
        let dir = IDXWriter.temporaryDirectory("launch")
        let outPath = dir + "/stdout", errPath = dir + "/stderr"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.environment = environment(extra, sessionIn: dir)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let start = Date()
        try p.run()
        while p.isRunning && Date().timeIntervalSince(start) < timeout { usleep(20_000) }
        if p.isRunning {
            p.terminate()
            Issue.record("timed out after \(timeout) s: \(args)")
        }
        p.waitUntilExit()
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Result(status: p.terminationStatus, stdout: out, stderr: err, seconds: Date().timeIntervalSince(start))
    }

    /// The synthetic data set shared by these tests (8 x 8 pixels, 10 classes).
    static let data: String = {
        let dir = IDXWriter.temporaryDirectory("data")
        try? IDXWriter.writeSynthetic(directory: dir, side: 8, train: 400, test: 100)
        return dir
    }()

    static func digest(_ stdout: String) -> String? {
        stdout.split(separator: "\n").first { $0.hasPrefix("weights digest: ") }.map { String($0.dropFirst(16)) }
    }

    /// metrics.csv without its `seconds` column (wall time is the one value that is not reproducible).
    static func metricsWithoutTime(_ dir: String) throws -> [String] {
        let text = try String(contentsOfFile: dir + "/metrics.csv", encoding: .utf8)
        return text.split(separator: "\n").map { line in
            var cells = line.split(separator: ",", omittingEmptySubsequences: false)
            cells.remove(at: 3)
            return cells.joined(separator: ",")
        }
    }

    /// Printed epoch lines without their wall time.
    static func epochLines(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.map { line in
            line.split(separator: " ").dropLast(2).joined(separator: " ")
        }
    }
}

@Suite("Multi-rank runs", .serialized)
struct MultiRankTests {
    static let small = ["--hidden", "24,16", "--tile-size", "16", "--epochs", "2", "--batch-size", "8",
                        "--progress-seconds", "0"]

    /// Same seed and config at -n 1, 2 and 3: identical printed metrics, metrics.csv (but for wall time) and
    /// weights digest, for every algorithm.
    @Test("Bitwise-identical metrics and digest at 1, 2 and 3 ranks", arguments: ["residual", "analog-sgd", "tiki-taka", "digital-sgd", "tiki-taka-v2", "residual-v2",
                                                                                  "multi-tile-residual", "rider", "c-ttv2", "agad",
                                                                                  "mixed-precision", "e-rider"])
    func rankCountInvariance(algorithm: String) throws {
        _ = try Self.sameAtOneTwoThreeRanks(["--algorithm", algorithm])
    }

    /// Runs `small` plus `args` at -n 1, 2 and 3 and expects identical printed epoch lines, metrics.csv (but for wall
    /// time) and weights digest; returns the digest and the 1-rank run's folder.
    static func sameAtOneTwoThreeRanks(_ args: [String]) throws -> (digest: String, folder: String) {
        var digests = [String](), metrics = [[String]](), lines = [[String]](), folders = [String]()
        for n in [1, 2, 3] {
            let out = IDXWriter.temporaryDirectory("run\(n)")
            let r = try Launch.run(ranks: n, Self.small + args + ["--data-dir", Launch.data, "--output", out, "--overwrite"])
            #expect(r.status == 0, "n=\(n): \(r.stderr)")
            digests.append(Launch.digest(r.stdout) ?? "missing")
            metrics.append(try Launch.metricsWithoutTime(out))
            lines.append(Launch.epochLines(r.stdout))
            folders.append(out)
        }
        #expect(digests[0] != "missing" && digests[0].count == 64)
        #expect(Set(digests).count == 1, "digests differ: \(digests)")
        #expect(metrics[0].count == 3 && metrics.allSatisfy { $0 == metrics[0] })
        #expect(lines[0].count == 2 && lines.allSatisfy { $0 == lines[0] })
        return (digests[0], folders[0])
    }

    /// A run of the test below: the options that exercise a part the algorithm's defaults leave idle in `small`, and
    /// the same run with exactly that part off (nil when no setting turns off just that part).
    struct Exercised: Sendable, CustomStringConvertible {
        let args: [String]
        let control: [String]?
        var description: String { args.joined(separator: " ") }
        static func set(_ algorithm: String, _ keys: [String]) -> [String] { ["--algorithm", algorithm] + keys.flatMap { ["--set", "algorithm." + $0] } }
    }

    /// In `small`'s 100 steps a 16-column block sees about 6 passes over its columns, so the defaults leave parts of the
    /// new algorithms idle in the test above: E-RIDER's chopper (regular period 20 passes) never switches, so that run
    /// is bitwise RIDER's, and AGAD (period 10 passes) writes W only in the last steps of its 8-column blocks. Here the
    /// choppers switch every 2 passes or at random with probability 0.5, c-TTv2's output choppers and auto-scaled rate
    /// are on, E-RIDER also reads Q~ snapshots, and mixed precision quantizes x and d with stochastic rounding and moves
    /// 3 rows every 2 steps; Tiki-Taka and multi-tile residual learning (with per-device reset biases) reset each
    /// transferred column with probability 0.5 (`with_reset_prob`). Each: identical at 1, 2 and 3 ranks; its transfers
    /// pulsed W (tiles.csv; for AGAD this needs more passes than its period, hence chopper switches); and the control
    /// run, identical but for the part exercised, ends with another digest (with no switch, no quantization or no reset
    /// the two runs would be the same bits, since the switch and reset draws come from their own keyed streams).
    @Test("Choppers switching, auto-scale, quantized digital updates and column resets: identical metrics and digest at 1, 2 and 3 ranks",
          arguments: [
            Exercised(args: Exercised.set("e-rider", ["in_chop_prob=0.5", "in_chop_random=true"]),
                      control: Exercised.set("e-rider", ["in_chop_prob=0", "in_chop_random=true"])),
            Exercised(args: Exercised.set("e-rider", ["in_chop_prob=0.5", "erider_snapshot=true"]),
                      control: Exercised.set("e-rider", ["in_chop_prob=0", "erider_snapshot=true"])),
            Exercised(args: Exercised.set("agad", ["in_chop_prob=0.5", "in_chop_random=true"]), control: nil),
            Exercised(args: Exercised.set("c-ttv2", ["in_chop_prob=0.5", "out_chop_prob=0.5", "auto_scale=true", "fast_lr=0.5"]),
                      control: Exercised.set("c-ttv2", ["in_chop_prob=0.5", "out_chop_prob=0", "auto_scale=true", "fast_lr=0.5"])),
            Exercised(args: Exercised.set("tiki-taka", ["with_reset_prob=0.5"]), control: Exercised.set("tiki-taka", ["with_reset_prob=0"])),
            Exercised(args: Exercised.set("multi-tile-residual", ["with_reset_prob=0.5"]) + ["--set", "device.reset_dtod=0.01"],
                      control: Exercised.set("multi-tile-residual", ["with_reset_prob=0"]) + ["--set", "device.reset_dtod=0.01"]),
            Exercised(args: Exercised.set("mixed-precision", ["n_x_bins=16", "n_d_bins=16", "n_rows_per_transfer=3", "transfer_every=2"]),
                      control: Exercised.set("mixed-precision", ["n_x_bins=0", "n_d_bins=0", "n_rows_per_transfer=3", "transfer_every=2"])),
          ])
    func exercisedRankInvariance(run: Exercised) throws {
        let (digest, folder) = try Self.sameAtOneTwoThreeRanks(run.args)
        let tiles = try TilesFile(folder)
        let last = tiles.rows.filter { tiles.value($0, "step") == 100 && $0[tiles.column("array")] == "W" }
        #expect(last.count == 11, "11 blocks of W at step 100")
        #expect(last.map { tiles.value($0, "transfer_pulses") }.reduce(0, +) > 0, "the transfers pulsed W")
        if let control = run.control {
            let r = try Launch.run(ranks: 1, Self.small + control + ["--data-dir", Launch.data])
            #expect(r.status == 0, "\(r.stderr)")
            let other = Launch.digest(r.stdout) ?? "missing"
            #expect(other.count == 64 && other != digest, "the control run \(control) gives the same digest")
        }
    }

    /// Every device effect on at once (write noise, decay and diffusion with device-to-device spreads, reset biases,
    /// corrupt devices) in per-sample pulsed updates, threshold transfers and per-batch binomial updates: identical at
    /// 1, 2 and 3 ranks, and not the digest of the same run without the effects.
    @Test("Device effects: identical metrics and digest at 1, 2 and 3 ranks", arguments: [
        ["--algorithm", "analog-sgd"], ["--algorithm", "tiki-taka-v2"], ["--algorithm", "residual", "--update-per", "batch"],
    ])
    func deviceEffectsRankInvariance(algorithm: [String]) throws {
        let effects = ["--write-noise-std", "2", "--lifetime", "300", "--diffusion", "0.0005", "--corrupt-devices-prob", "0.05",
                       "--set", "device.lifetime_dtod=0.3", "--set", "device.diffusion_dtod=0.3", "--set", "device.reset=0.02",
                       "--set", "device.reset_dtod=0.01"]
        let (digest, _) = try Self.sameAtOneTwoThreeRanks(algorithm + effects)
        let r = try Launch.run(ranks: 1, Self.small + algorithm + ["--data-dir", Launch.data])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Launch.digest(r.stdout) != digest, "the effects changed nothing")
    }

    /// aihwkit's presets of the chopped algorithms transfer after every sample (units_in_mbatch false, per-sample
    /// pulsed updates, random chopper switches); TTv2's and mixed precision's transfer per mini-batch after per-sample
    /// updates; the same at 1, 2 and 3 ranks.
    @Test("aihwkit presets with per-sample updates and transfers: identical metrics and digest at 1, 2 and 3 ranks",
          arguments: ["aihwkit-c-ttv2", "aihwkit-agad", "aihwkit-ttv2", "aihwkit-mixed-precision"])
    func presetRankInvariance(preset: String) throws {
        var digests = [String](), metrics = [[String]]()
        for n in [1, 2, 3] {
            let out = IDXWriter.temporaryDirectory("preset\(n)")
            let r = try Launch.run(ranks: n, ["--preset", preset] + Self.small + ["--data-dir", Launch.data, "--output", out, "--overwrite",
                                                                                 "--set", "algorithm.gamma=0.3"])
            #expect(r.status == 0, "n=\(n): \(r.stderr)")
            digests.append(Launch.digest(r.stdout) ?? "missing")
            metrics.append(try Launch.metricsWithoutTime(out))
        }
        #expect(digests[0].count == 64 && Set(digests).count == 1, "digests differ: \(digests)")
        #expect(metrics[0].count == 3 && metrics.allSatisfy { $0 == metrics[0] })
    }

    /// The issue's acceptance check on the real data: Fashion-MNIST (Debian's dataset-fashion-mnist, installed by
    /// scripts/setup.sh), --train-limit 2000 --epochs 1, default experiment otherwise.
    @Test("Fashion-MNIST, 2000 images, 1 epoch: identical digest and metrics at 1, 2, 3, 4 and 8 ranks")
    func fashionMNIST() throws {
        let dir = "/usr/share/datasets/fashion-mnist"
        #expect(FileManager.default.fileExists(atPath: dir + "/train-images-idx3-ubyte.gz"),
                "Fashion-MNIST is not installed: run scripts/setup.sh (apt package dataset-fashion-mnist)")
        var digests = [String](), lines = [[String]]()
        for n in [1, 2, 3, 4, 8] {
            let r = try Launch.run(ranks: n, ["--train-limit", "2000", "--epochs", "1", "--progress-seconds", "0"])
            #expect(r.status == 0, "n=\(n): \(r.stderr)")
            digests.append(Launch.digest(r.stdout) ?? "missing \(n)")
            lines.append(Launch.epochLines(r.stdout))
        }
        #expect(Set(digests).count == 1, "\(digests)")
        #expect(lines[0].count == 1 && lines.allSatisfy { $0 == lines[0] })
    }

    @Test("Placement does not change results; ranks without a block are reported and stay correct")
    func placementAndIdleRanks() throws {
        let args = ["--hidden", "8", "--tile-size", "64", "--epochs", "1", "--progress-seconds", "0", "--data-dir", Launch.data]
        // 64x64 tiles: 2 blocks (layer 1: 8 x 64, layer 2: 10 x 8), so 3 of 5 ranks hold no block.
        let one = try Launch.run(ranks: 1, args)
        let five = try Launch.run(ranks: 5, args + ["--placement", "balanced"])
        #expect(one.status == 0 && five.status == 0, "\(five.stderr)")
        #expect(five.stdout.contains("ranks without a block: 2 3 4"))
        #expect(Launch.digest(one.stdout) != nil && Launch.digest(one.stdout) == Launch.digest(five.stdout))
        #expect(Launch.epochLines(one.stdout) == Launch.epochLines(five.stdout))
    }

    /// Every placement policy at 1, 2, 3 and 5 ranks gives the one-rank digest and metrics.
    @Test("Bitwise-identical results for every placement policy at 1, 2, 3 and 5 ranks")
    func placements() throws {
        let args = ["--hidden", "20,12", "--tile-size", "8", "--epochs", "1", "--batch-size", "8", "--progress-seconds", "0",
                    "--data-dir", Launch.data]
        let reference = try Launch.run(ranks: 1, args)
        #expect(reference.status == 0, "\(reference.stderr)")
        for policy in ["round-robin", "balanced", "by-layer"] {
            for n in [2, 3, 5] {
                let r = try Launch.run(ranks: n, args + ["--placement", policy])
                #expect(r.status == 0, "\(policy) n=\(n): \(r.stderr)")
                #expect(Launch.digest(r.stdout) == Launch.digest(reference.stdout), "\(policy) n=\(n)")
                #expect(Launch.epochLines(r.stdout) == Launch.epochLines(reference.stdout), "\(policy) n=\(n)")
            }
        }
    }

    /// Data-parallel replicas: R = 2 with the same global batch equals R = 1 (digest and metrics), with one and with
    /// two ranks per replica.
    /// Replicas split the global batch unevenly (7 samples: 4 + 3, or 3 + 2 + 2); each sample's reads must not depend
    /// on the share it falls in. Ideal IO and digital SGD expose a last-bit difference that the ADC would round away.
    @Test("Replicas: R = 2 and R = 3 equal R = 1 with the same global batch, with and without the periphery")
    func replicas() throws {
        let args = ["--hidden", "20,12", "--tile-size", "8", "--epochs", "1", "--batch-size", "7", "--progress-seconds", "0",
                    "--data-dir", Launch.data, "--update-mode", "pulsed"]
        for variant in [["--algorithm", "residual"], ["--algorithm", "residual", "--ideal-io"],
                        ["--algorithm", "analog-sgd", "--ideal-io"], ["--algorithm", "digital-sgd"]] {
            let one = try Launch.run(ranks: 1, args + variant)
            let two = try Launch.run(ranks: 2, args + variant + ["--replicas", "2"])
            let three = try Launch.run(ranks: 3, args + variant + ["--replicas", "3"])
            let four = try Launch.run(ranks: 4, args + variant + ["--replicas", "2", "--placement", "balanced"])
            #expect(one.status == 0 && two.status == 0 && three.status == 0 && four.status == 0,
                    "\(two.stderr) \(three.stderr) \(four.stderr)")
            #expect(Launch.digest(one.stdout) != nil)
            for other in [two, three, four] {
                #expect(Launch.digest(one.stdout) == Launch.digest(other.stdout), "\(variant)")
                #expect(Launch.epochLines(one.stdout) == Launch.epochLines(other.stdout), "\(variant)")
            }
        }
        let bad = try Launch.run(ranks: 3, args + ["--replicas", "2"], timeout: 60)
        #expect(bad.status == 2 && bad.stderr.contains("--replicas 2 must divide the number of ranks 3"))
    }

    /// The bytes each rank moves in a training step equal the communication model's prediction.
    @Test("Traffic of a step equals the communication model", arguments: [["-n", "3"], ["-n", "4", "--replicas", "2"], ["-n", "5", "--placement", "by-layer"]])
    func trafficModel(launch: [String]) throws {
        let n = Int(launch[1])!
        let r = try Launch.run(ranks: n, Array(launch.dropFirst(2)) + ["--hidden", "20,12", "--tile-size", "8", "--epochs", "1", "--batch-size", "7",
                                                                    "--progress-seconds", "0", "--data-dir", Launch.data, "--report-comm"])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").drop { !$0.hasPrefix("  rank ") }.dropFirst().prefix(n)
        #expect(rows.count == n)
        for row in rows {
            let cells = row.split(separator: " ").map(String.init)
            #expect(cells.count == 6 && cells[1] == cells[3] && cells[2] == cells[4], "\(row)")
            #expect(Int(cells[1])! > 0)
        }
    }

    @Test("A bad option is one line from rank 0, exit status 2, on every rank count")
    func badOption() throws {
        for (args, option) in [(["--epochs", "0"], "--epochs"), (["--algorithm", "sgd"], "--algorithm"),
                               (["--tile-size", "-3"], "--tile-size"), (["--dw-min", "0"], "--dw-min"),
                               (["--no-such-option"], "no-such-option"), (["--lr", "-1"], "--lr"),
                               (["--epochs", "1e3"], "1...100000"), (["--dw-min", "1e-20"], "--dw-min"),
                               (["--dac-bits", "1"], "--dac-bits"), (["--overwrite"], "--output")] {
            for n in [1, 3] {
                let r = try Launch.run(ranks: n, args, timeout: 60)
                let ours = r.stderr.split(separator: "\n").filter { $0.hasPrefix("aimc-dist: error:") }
                #expect(r.status == 2, "\(args) n=\(n): status \(r.status)")
                #expect(ours.count == 1 && ours[0].contains(option), "\(args) n=\(n): \(r.stderr)")
                #expect(!r.stdout.contains("epoch"))
            }
        }
    }

    @Test("A config file that only one rank cannot read ends every rank with one message naming that rank")
    func oneRankFails() throws {
        let dir = IDXWriter.temporaryDirectory("cfg")
        try "{\"training\": {\"epochs\": 1}}".write(toFile: dir + "/ok.json", atomically: true, encoding: .utf8)
        let r = try Launch.runMPI(["-n", "1", Launch.binary, "--config", dir + "/ok.json", ":",
                                   "-n", "1", Launch.binary, "--config", dir + "/missing.json"], timeout: 60)
        let ours = r.stderr.split(separator: "\n").filter { $0.hasPrefix("aimc-dist: error:") }
        #expect(r.status == 2)
        #expect(ours.count == 1 && ours[0].contains("rank 1") && ours[0].contains("missing.json"), "\(r.stderr)")
    }

    /// Each rank reads --config itself: files that differ between ranks (nodes) would run different experiments
    /// (a hang when the epoch counts differ). The ranks compare their resolved configurations first.
    @Test("Ranks that resolve different configurations stop at once with one message naming the rank and the keys")
    func differentConfigurations() throws {
        let dir = IDXWriter.temporaryDirectory("cfgdiff")
        try "{\"training\": {\"epochs\": 1}}".write(toFile: dir + "/one.json", atomically: true, encoding: .utf8)
        try "{\"training\": {\"epochs\": 2}, \"algorithm\": {\"lr\": 0.2}}".write(toFile: dir + "/two.json", atomically: true, encoding: .utf8)
        let common = ["--hidden", "8", "--train-limit", "30", "--test-limit", "10", "--progress-seconds", "0", "--data-dir", Launch.data]
        let r = try Launch.runMPI(["-n", "1", Launch.binary, "--config", dir + "/one.json"] + common + [":",
                                   "-n", "1", Launch.binary, "--config", dir + "/two.json"] + common, timeout: 60)
        let ours = r.stderr.split(separator: "\n").filter { $0.hasPrefix("aimc-dist: error:") }
        #expect(r.status == 2 && !r.stdout.contains("epoch"), "\(r.stdout)")
        #expect(ours.count == 1 && ours[0].contains("rank 1") && ours[0].contains("algorithm.lr") && ours[0].contains("training.epochs"),
                "\(r.stderr)")
        // The same file on both: no complaint.
        let same = try Launch.runMPI(["-n", "1", Launch.binary, "--config", dir + "/one.json"] + common + [":",
                                      "-n", "1", Launch.binary, "--config", dir + "/one.json"] + common, timeout: 60)
        #expect(same.status == 0, "\(same.stderr)")
    }

    @Test("Negative values parse as values, and device variability at every level is rank-count invariant")
    func variabilityInvariance() throws {
        let args = ["--hidden", "12", "--tile-size", "16", "--epochs", "1", "--progress-seconds", "0", "--data-dir", Launch.data,
                    "--device-preset", "paper-power", "--asymmetry", "-0.1", "--asymmetry-dtod", "0.05", "--dw-min-dtod", "0.3",
                    "--symmetric-point-dtod", "0.01", "--t2t-dw-min", "0.2", "--t2t-symmetric-point", "0.02", "--t2t-range", "0.1",
                    "--dw-min-std", "0.2", "--zero-shift", "pulsed", "--zero-shift-pulses", "200"]
        let one = try Launch.run(ranks: 1, args)
        let three = try Launch.run(ranks: 3, args + ["--placement", "balanced"])
        #expect(one.status == 0 && three.status == 0, "\(one.stderr) \(three.stderr)")
        #expect(one.stdout.contains("zero-shift pulses"))
        #expect(Launch.digest(one.stdout) != nil && Launch.digest(one.stdout) == Launch.digest(three.stdout))
        #expect(Launch.epochLines(one.stdout) == Launch.epochLines(three.stdout))
    }

    @Test("Missing data is one clear error and every rank exits")
    func missingData() throws {
        let r = try Launch.run(ranks: 3, ["--data-dir", "/nonexistent/fmnist", "--epochs", "1"], timeout: 60)
        let ours = r.stderr.split(separator: "\n").filter { $0.hasPrefix("aimc-dist: error:") }
        #expect(r.status == 1)
        #expect(ours.count == 1 && ours[0].contains("/nonexistent/fmnist"), "\(r.stderr)")
        #expect(r.seconds < 30)
    }

    @Test("An existing run is not overwritten without --overwrite")
    func keepsExistingRun() throws {
        let out = IDXWriter.temporaryDirectory("keep")
        let args = ["--hidden", "8", "--epochs", "1", "--progress-seconds", "0", "--data-dir", Launch.data, "--output", out]
        let first = try Launch.run(ranks: 2, args)
        #expect(first.status == 0)
        let before = try String(contentsOfFile: out + "/metrics.csv", encoding: .utf8)
        let second = try Launch.run(ranks: 2, args + ["--seed", "9"])
        #expect(second.status == 1 && second.stderr.contains("already holds a run"))
        #expect(try String(contentsOfFile: out + "/metrics.csv", encoding: .utf8) == before)
        #expect(FileManager.default.fileExists(atPath: out + "/config.json"))
        #expect(FileManager.default.fileExists(atPath: out + "/summary.json"))
    }

    static let sweepArgs = ["sweep", "--hidden", "8", "--epochs", "1", "--progress-seconds", "0", "--data-dir", Launch.data]

    /// Errors of a run: the lines aimc-dist printed on standard error.
    static func errors(_ r: Launch.Result) -> [Substring] {
        r.stderr.split(separator: "\n").filter { $0.hasPrefix("aimc-dist: error:") }
    }

    @Test("A sweep checks every grid point, rank-dependent checks included, before its first run")
    func sweepChecksFirst() throws {
        let out = IDXWriter.temporaryDirectory("sweep-check") + "/S"
        let replicas = try Launch.run(ranks: 2, Self.sweepArgs + ["--set", "replicas=1,3", "--output", out], timeout: 60)
        #expect(replicas.status == 2 && Self.errors(replicas).count == 1, "\(replicas.stderr)")
        #expect(replicas.stderr.contains("--set (config key replicas) must divide the number of ranks 2")
            && replicas.stderr.contains("(grid point 2 of 2: replicas=3)"), "\(replicas.stderr)")
        #expect(!replicas.stdout.contains("== run-") && !FileManager.default.fileExists(atPath: out))
        for (args, expected) in [(["--set", "training.epochs=1,0"], "--set (config key training.epochs) must be an integer in 1...100000; got 0 (grid point 2 of 2: training.epochs=0)"),
                                 (["--set", "seed=1,2", "--seeds", "3,4"], "--seeds (config key seed) is already swept by --set"),
                                 (["--n-states", "10", "--set", "device.dw_min=0.01,0.1"], "--set (config key device.dw_min) is swept, but a command-line option also sets"),
                                 (["--set", "algorithm.name=bogus"], "must be one of digital-sgd,"),
                                 (["--set", "algorithm..name=residual"], "--set key algorithm..name is malformed")] {
            let r = try Launch.run(ranks: 2, Self.sweepArgs + args + ["--output", out], timeout: 60)
            #expect(r.status == 2 && Self.errors(r).count == 1 && r.stderr.contains(expected), "\(args): \(r.stderr)")
            #expect(!r.stdout.contains("== run-") && !FileManager.default.fileExists(atPath: out))
        }
        let empty = try Launch.run(ranks: 2, Self.sweepArgs + ["--seeds", "1", "--output", ""], timeout: 60)
        #expect(empty.status == 2 && Self.errors(empty).count == 1 && empty.stderr.contains("--output must name a folder"), "\(empty.stderr)")
    }

    @Test("Sweep seeds beyond 2^63 train exactly the seed they are labelled with")
    func sweepExactSeeds() throws {
        let dir = IDXWriter.temporaryDirectory("sweep-seeds")
        let seeds = ["9223372036854775808", "18446744073709551615"]
        let sweep = try Launch.run(ranks: 2, Self.sweepArgs + ["--seeds", seeds.joined(separator: ","), "--output", dir + "/S"])
        #expect(sweep.status == 0, "\(sweep.stderr)")
        let lines = try String(contentsOfFile: dir + "/S/summary.csv", encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        let digestColumn = try #require(header.firstIndex(of: "weights_digest"))
        #expect(header.last == "diverged")
        let rows = lines.dropFirst().map { $0.split(separator: ",") }
        #expect(rows.map { String($0[1]) } == seeds && rows.allSatisfy { $0.last == "false" })
        for (i, seed) in seeds.enumerated() {
            let config = try String(contentsOfFile: dir + "/S/run-00\(i + 1)/config.json", encoding: .utf8)
            #expect(config.contains("\"seed\" : \(seed),"), "\(seed)")
            let train = try Launch.run(ranks: 1, Array(Self.sweepArgs.dropFirst()) + ["--seed", seed])
            #expect(train.status == 0 && Launch.digest(train.stdout) == String(rows[i][digestColumn]), "\(seed)")
        }
    }

    @Test("A sweep and a training run never share a folder; --overwrite replaces either, without stale run folders")
    func sweepFolders() throws {
        let fm = FileManager.default
        let out = IDXWriter.temporaryDirectory("sweep-folders") + "/X"
        let train = Array(Self.sweepArgs.dropFirst()) + ["--output", out]
        #expect(try Launch.run(ranks: 2, train).status == 0)
        let sweepOverRun = try Launch.run(ranks: 2, Self.sweepArgs + ["--seeds", "1,2,3", "--output", out])
        #expect(sweepOverRun.status == 1 && Self.errors(sweepOverRun).count == 1
            && sweepOverRun.stderr.contains("already holds a run (config.json, metrics.csv, summary.json, tiles.csv, checkpoints); choose another folder or pass --overwrite"), "\(sweepOverRun.stderr)")
        #expect(fm.fileExists(atPath: out + "/config.json") && !fm.fileExists(atPath: out + "/summary.csv"))
        let replaced = try Launch.run(ranks: 2, Self.sweepArgs + ["--seeds", "1,2,3", "--output", out, "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(RunDirectoryFiles.list(out) == ["run-001", "run-002", "run-003", "summary.csv"])
        // A smaller sweep over it: no stale run folders or rows.
        let smaller = try Launch.run(ranks: 2, Self.sweepArgs + ["--seeds", "4", "--output", out, "--overwrite"])
        #expect(smaller.status == 0, "\(smaller.stderr)")
        #expect(RunDirectoryFiles.list(out) == ["run-001", "summary.csv"])
        #expect(try String(contentsOfFile: out + "/summary.csv", encoding: .utf8).split(separator: "\n").count == 2)
        let runOverSweep = try Launch.run(ranks: 2, train)
        #expect(runOverSweep.status == 1 && Self.errors(runOverSweep).count == 1
            && runOverSweep.stderr.contains("already holds a sweep (summary.csv, 1 run folder); choose another folder or pass --overwrite"), "\(runOverSweep.stderr)")
        let runReplaces = try Launch.run(ranks: 2, train + ["--overwrite"])
        #expect(runReplaces.status == 0, "\(runReplaces.stderr)")
        #expect(RunDirectoryFiles.list(out) == ["checkpoints", "config.json", "metrics.csv", "summary.json", "tiles.csv"])
    }

    @Test("--help shows examples and exits 0")
    func help() throws {
        let r = try Launch.run(ranks: nil, ["train", "--help"], timeout: 30)
        #expect(r.status == 0 && r.stdout.contains("Examples") && r.stdout.contains("scripts/run.sh -n 8"))
    }
}

/// The visible entries of a folder, sorted.
enum RunDirectoryFiles {
    static func list(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
}
