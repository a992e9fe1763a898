import AIMCTestSupport
import CZlib
import Foundation
import Testing

/// A corpus of hostile inputs (configuration files, data files, options, environments), each run as a user would run
/// it. Every case must end within its timeout with the stated exit status and exactly one line on standard error,
/// naming what is wrong, and must leave no output folder or partial file behind.
@Suite("Hostile inputs", .serialized)
struct HostileInputTests {
    /// A file a case writes into its folder before running.
    enum Content: Sendable {
        case text(String)
        /// An IDX file: dimensions the header declares, bytes it really holds, gzip or plain.
        case idx(declared: [Int], held: Int, gzip: Bool)
        /// A symbolic link to a path (relative to the case folder, or absolute).
        case link(String)
        case folder
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        var files: [(String, Content)] = []
        /// Arguments; "$DIR" is replaced by the case folder, "$DATA" by the shared synthetic data.
        let args: [String]
        /// Ranks under mpirun, or nil for the binary alone.
        var ranks: Int? = nil
        /// A bash command line run instead of the binary ("$BIN" is the binary, "$RUN" scripts/run.sh).
        var shell: String? = nil
        let status: Int32
        let expected: [String]
        /// A path (with $DIR) that must not exist afterwards.
        var absent: String? = nil
        var testDescription: String { name }
    }

    /// Small and fast when accepted: 8x8 synthetic images, 30 samples, one epoch.
    static let tiny = ["--hidden", "8", "--epochs", "1", "--train-limit", "30", "--test-limit", "10", "--progress-seconds", "0"]

    static let cases: [Case] = [
        // Configuration files.
        Case(name: "empty YAML file", files: [("c.yaml", .text(""))], args: ["--config", "$DIR/c.yaml"], status: 2,
             expected: ["c.yaml holds no keys"]),
        Case(name: "YAML file of comments only", files: [("c.yaml", .text("# nothing\n"))], args: ["--config", "$DIR/c.yaml"], status: 2,
             expected: ["holds no keys"]),
        Case(name: "misspelt table", files: [("c.json", .text(#"{"devcie": {"tau": 0.5}}"#))], args: ["--config", "$DIR/c.json"], status: 2,
             expected: ["unknown key devcie.tau; did you mean device.tau?"]),
        Case(name: "misspelt key", files: [("c.yaml", .text("algorithm:\n  transfer_lr_grwoth: 2\n"))],
             args: ["--config", "$DIR/c.yaml"], status: 2, expected: ["did you mean algorithm.transfer_lr_growth?"]),
        Case(name: "aihwkit's rpu_config", files: [("c.yaml", .text("rpu_config:\n  device: SoftBoundsDevice\n"))],
             args: ["--config", "$DIR/c.yaml"], status: 2, expected: ["rpu_config is aihwkit's", "aimc-dist presets"]),
        Case(name: "configuration behind a symbolic link loop", files: [("a.json", .link("b.json")), ("b.json", .link("a.json"))],
             args: ["--config", "$DIR/a.json"], status: 2, expected: ["a.json is a loop of symbolic links"]),
        Case(name: "dangling symbolic link", files: [("a.json", .link("gone.json"))], args: ["--config", "$DIR/a.json"], status: 2,
             expected: ["is a symbolic link to gone.json, which does not exist"]),
        Case(name: "configuration that is a folder", files: [("d.json", .folder)], args: ["--config", "$DIR/d.json"], status: 2,
             expected: ["is not a regular file"]),
        Case(name: "key given twice", files: [("c.json", .text(#"{"seed": 1, "seed": 2}"#))], args: ["--config", "$DIR/c.json"], status: 2,
             expected: ["gives the key seed twice"]),
        Case(name: "tau and a bound together", files: [("c.yaml", .text("device: {tau: 0.5, w_max: 0.7}\n"))],
             args: ["--config", "$DIR/c.yaml"], status: 2, expected: ["give tau or the bounds, not both"]),
        Case(name: "empty YAML for lsq", files: [("c.yaml", .text(""))], args: ["lsq", "--config", "$DIR/c.yaml"], status: 2,
             expected: ["holds no keys"]),
        Case(name: "empty YAML under mpirun", files: [("c.yaml", .text(""))], args: ["--config", "$DIR/c.yaml"], ranks: 2, status: 2,
             expected: ["holds no keys"]),
        // Options.
        Case(name: "--config given twice", files: [("a.json", .text("{}")), ("b.json", .text("{}"))],
             args: ["--config", "$DIR/a.json", "--config", "$DIR/b.json"], status: 2, expected: ["--config is given 2 times"]),
        Case(name: "--epochs given twice", args: ["--epochs", "1", "--epochs=2"], status: 2, expected: ["--epochs is given 2 times"]),
        Case(name: "--preset given twice", args: ["--preset", "ecram", "--preset=aihwkit-agad"], status: 2,
             expected: ["--preset is given 2 times"]),
        Case(name: "an option given twice under mpirun", args: ["--seed", "1", "--seed", "2"], ranks: 3, status: 2, expected: ["--seed is given 2 times"]),
        Case(name: "a misspelt option", args: ["--epoch", "3"], status: 2, expected: ["Unknown option '--epoch'", "--epochs"]),
        Case(name: "a misspelt command", args: ["swep"], status: 2, expected: ["unknown command 'swep' (did you mean sweep?)"]),
        Case(name: "a misspelt sweep key", args: ["sweep", "--set", "algorithm.nme=residual", "--output", "$DIR/s"], status: 2,
             expected: ["unknown key algorithm.nme; did you mean algorithm.name?"], absent: "$DIR/s"),
        Case(name: "a negative stall timeout", args: ["--stall-timeout", "-1"], status: 2, expected: ["--stall-timeout", "[1, 1e7]"]),
        Case(name: "a stall timeout below a second", args: ["--stall-timeout", "0.01"], status: 2, expected: ["--stall-timeout", "0 (wait forever)"]),
        Case(name: "a stall timeout that is not a number", args: ["--stall-timeout", "nan"], status: 2, expected: ["--stall-timeout"]),
        Case(name: "an --output path longer than the system allows",
             args: tiny + ["--data-dir", "$DATA", "--output", "$DIR/o/" + Array(repeating: String(repeating: "d", count: 200), count: 25).joined(separator: "/")],
             status: 1, expected: ["is too long"], absent: "$DIR/o"),
        Case(name: "an --output folder name longer than 255 bytes", args: tiny + ["--data-dir", "$DATA", "--output", "$DIR/o/" + String(repeating: "n", count: 300)],
             status: 1, expected: ["longer than the 255"], absent: "$DIR/o"),
        Case(name: "an --output that is a file", files: [("f", .text("x"))], args: tiny + ["--data-dir", "$DATA", "--output", "$DIR/f"], status: 1,
             expected: ["exists and is not a folder"]),
        Case(name: "an --output that is a symbolic link loop", files: [("o", .link("o"))], args: tiny + ["--data-dir", "$DATA", "--output", "$DIR/o"],
             status: 1, expected: ["is a loop of symbolic links"]),
        Case(name: "an --output below a file", files: [("f", .text("x"))], args: ["lsq", "--steps", "10", "--output", "$DIR/f/sub/run"], status: 1,
             expected: ["cannot be created"]),
        // Data files.
        Case(name: "a header declaring 2,000,000 images in a small gzip file",
             files: [("d/train-images-idx3-ubyte.gz", .idx(declared: [2_000_000, 28, 28], held: 300 * 784, gzip: true))],
             args: tiny + ["--data-dir", "$DIR/d"], status: 1, expected: ["train-images-idx3-ubyte.gz", "its header declares 2000000 images of 28x28"]),
        Case(name: "the same with --train-limit 500 (the header is still checked)",
             files: [("d/train-images-idx3-ubyte.gz", .idx(declared: [2_000_000, 28, 28], held: 300 * 784, gzip: true))],
             args: ["--hidden", "8", "--epochs", "1", "--train-limit", "500", "--progress-seconds", "0", "--data-dir", "$DIR/d"], status: 1,
             expected: ["its header declares 2000000 images"]),
        Case(name: "a header declaring more than gzip can pack into the file",
             files: [("d/train-images-idx3-ubyte.gz", .idx(declared: [6_000_000, 28, 28], held: 100, gzip: true))],
             args: tiny + ["--data-dir", "$DIR/d"], status: 1, expected: ["gzip cannot pack that much"]),
        Case(name: "a plain file shorter than its header says",
             files: [("d/train-images-idx3-ubyte", .idx(declared: [400, 8, 8], held: 399 * 64 + 10, gzip: false))],
             args: tiny + ["--data-dir", "$DIR/d"], status: 1, expected: ["is truncated or its header is wrong", "399 items"]),
        Case(name: "a data folder that is a symbolic link loop", files: [("d", .link("d"))], args: tiny + ["--data-dir", "$DIR/d"], status: 1,
             expected: ["data folder", "is a loop of symbolic links"]),
        Case(name: "a data file that is a symbolic link loop", files: [("d/train-images-idx3-ubyte.gz", .link("train-images-idx3-ubyte.gz"))],
             args: tiny + ["--data-dir", "$DIR/d"], status: 1, expected: ["train-images-idx3-ubyte.gz is a loop of symbolic links"]),
        Case(name: "a bad data file under mpirun",
             files: [("d/train-images-idx3-ubyte.gz", .idx(declared: [2_000_000, 28, 28], held: 300 * 784, gzip: true))],
             args: tiny + ["--data-dir", "$DIR/d"], ranks: 3, status: 1, expected: ["its header declares 2000000 images"]),
        // Environments.
        Case(name: "standard output that cannot be written", args: tiny + ["--data-dir", "$DATA"], shell: "exec \"$BIN\" \"$@\" > /dev/full",
             status: 1, expected: ["standard output could not be written (No space left on device)"]),
        Case(name: "run.sh with standard output that cannot be written", args: ["-n", "1"] + tiny + ["--data-dir", "$DATA"],
             shell: "exec \"$RUN\" \"$@\" > /dev/full", status: 1, expected: ["run: standard output is /dev/full"]),
        Case(name: "run.sh with a TMPDIR that does not exist", args: ["-n", "1"] + tiny + ["--data-dir", "$DATA"],
             shell: "TMPDIR=\"$DIR/no-such-folder\" exec \"$RUN\" \"$@\"", status: 1, expected: ["run: TMPDIR", "is not a folder"]),
        Case(name: "run.sh with a TMPDIR that is a file", files: [("t", .text("x"))], args: ["-n", "1"] + tiny + ["--data-dir", "$DATA"],
             shell: "TMPDIR=\"$DIR/t\" exec \"$RUN\" \"$@\"", status: 1, expected: ["run: TMPDIR", "is not a folder"]),
    ]

    /// Writes `content` at `path`.
    static func write(_ content: Content, at path: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        switch content {
        case .text(let t): try t.write(toFile: path, atomically: false, encoding: .utf8)
        case .folder: try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
        case .link(let target): try fm.createSymbolicLink(atPath: path, withDestinationPath: target)
        case .idx(let declared, let held, let gzip):
            // Bytes that do not compress well, like real images.
            var state: UInt32 = 12345
            let data = (0..<held).map { _ -> UInt8 in state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
            try IDXWriter.write(IDXWriter.bytes(dimensions: declared, data: data), to: path, gzip: gzip)
        }
    }

    @Test("Each hostile input: one line, the stated status, no hang, nothing left behind", arguments: cases)
    func hostile(_ c: Case) throws {
        let dir = IDXWriter.temporaryDirectory("hostile")
        for (path, content) in c.files { try Self.write(content, at: dir + "/" + path) }
        // A data folder "d" gets the shared synthetic data's other files (those the case does not give, .gz or not).
        let fm = FileManager.default
        if (try? fm.attributesOfItem(atPath: dir + "/d"))?[.type] as? FileAttributeType == .typeDirectory {
            let given = Set(c.files.map { ($0.0 as NSString).lastPathComponent.replacingOccurrences(of: ".gz", with: "") })
            for name in try fm.contentsOfDirectory(atPath: Launch.data) where !given.contains(name.replacingOccurrences(of: ".gz", with: "")) {
                try fm.copyItem(atPath: Launch.data + "/" + name, toPath: dir + "/d/" + name)
            }
        }
        let args = c.args.map { $0.replacingOccurrences(of: "$DIR", with: dir).replacingOccurrences(of: "$DATA", with: Launch.data) }
        let timeout = 60.0
        let r: Launch.Result
        if let shell = c.shell {
            let env = ["BIN": Launch.binary, "RUN": Launch.packageRoot + "/scripts/run.sh", "DIR": dir, "AIMC_DIST_BINARY": Launch.binary]
            r = try Launch.launch("/bin/bash", ["-c", shell, "bash"] + args, environment: env, timeout: timeout)
        } else {
            r = try Launch.run(ranks: c.ranks, args, timeout: timeout)
        }
        #expect(r.seconds < timeout, "\(c.name): took \(r.seconds) s")
        #expect(r.status == c.status, "\(c.name): status \(r.status), stderr: \(r.stderr.prefix(800))")
        // Under mpirun, only our lines count (OpenMPI may add its own); alone, stderr is exactly one line.
        let lines = r.stderr.split(separator: "\n")
        let ours = c.ranks == nil ? lines : lines.filter { $0.hasPrefix("aimc-dist:") }
        #expect(ours.count == 1, "\(c.name): \(r.stderr.prefix(1200))")
        for e in c.expected { #expect(ours.first?.contains(e) == true, "\(c.name): expected \(e) in \(ours.first ?? "")") }
        #expect(!r.stdout.contains("epoch 1/"), "\(c.name): it trained")
        if let absent = c.absent?.replacingOccurrences(of: "$DIR", with: dir) {
            #expect(!FileManager.default.fileExists(atPath: absent), "\(c.name): \(absent) was left behind")
        }
        // No partial files anywhere in the case folder.
        let partial = FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".partial") } ?? []
        #expect(partial.isEmpty, "\(c.name): \(partial)")
    }
}
