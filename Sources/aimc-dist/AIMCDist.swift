import AIMCCluster
import AIMCCore
import AIMCTraining
import ArgumentParser
import Foundation

@main
struct AIMCDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aimc-dist",
        abstract: "Distributed simulator of neural-network training on analog in-memory computing tiles.",
        discussion: """
        Run under MPI: each rank simulates a set of weight blocks, each holding its algorithm's crossbar tiles (W, P, ...); rank 0 coordinates.
          scripts/run.sh -n 8                   the default experiment (Residual Learning, Fashion-MNIST)
          aimc-dist train --help                every training option, with examples
          aimc-dist presets                     the named devices and aihwkit configurations (--preset)
          aimc-dist device --help               inspect a device: q_+, q_-, F, G, symmetric point, pulse response
          aimc-dist bench                       pulsed-update speed (ns per pulse coincidence)
        """,
        version: "0.1.0",
        subcommands: [Train.self, SweepCommand.self, PlanCommand.self, LsqCommand.self, DeviceCommand.self, Presets.self, Bench.self],
        defaultSubcommand: Train.self)

    /// Allowed values of options whose type conversion fails before our own validation can name the range.
    static let ranges: [String: String] = [
        "--epochs": "an integer in 1...100000", "--batch-size": "an integer in 1...65536",
        "--transfer-every": "an integer >= 1", "--tile-size": "an integer in 1...65536",
        "--train-limit": "an integer >= 0", "--test-limit": "an integer >= 0", "--seed": "an integer in 0...18446744073709551615",
        "--zero-shift-pulses": "an integer in 1...10000000", "--tiles": "an integer in 2...12", "--dac-bits": "0 or an integer in 2...24",
        "--adc-bits": "0 or an integer in 2...24", "--desired-bl": "an integer in 1...32",
        "--size": "an integer in 1...16384", "--batch": "an integer in 1...4096", "--bl": "an integer in 1...32",
        "--steps": "an integer >= 1", "--repeats": "an integer >= 1", "--pulses": "an integer in 1...100000",
        "--stall-timeout": "0 (wait forever) or a number of seconds in [1, 1e7]", "--progress-seconds": "a finite number >= 0",
    ]

    /// Parses and runs; every error is one line on standard error (printed by rank 0 only when started by a
    /// launcher) and exit status 2 for bad input.
    static func main() {
        // A file-size limit (ulimit -f) makes writes fail with EFBIG, reported as output errors, instead of a signal.
        signal(SIGXFSZ, SIG_IGN)
        Console.reportSignals()
        if let repeated = repeatedOption(Array(CommandLine.arguments.dropFirst())) {
            finish(TrainingRun.argumentFailure(repeated))
        }
        do {
            var command = try parseAsRoot()
            try command.run()
            finish(0)
        } catch let code as ExitCode {
            finish(code.rawValue)
        } catch let e as ConfigError {
            finish(TrainingRun.argumentFailure(e.description))
        } catch let e as ConfigFileError {
            finish(TrainingRun.argumentFailure(e.description))
        } catch let e as DataError {
            // Data and output folder problems found at run time: status 1, as in training.
            FileHandle.standardError.write(Data("aimc-dist: error: \(e.description)\n".utf8))
            finish(1)
        } catch let e as OutputError {
            FileHandle.standardError.write(Data("aimc-dist: error: \(e.description)\n".utf8))
            finish(1)
        } catch let e as RunError {
            FileHandle.standardError.write(Data("aimc-dist: error: \(e.description)\n".utf8))
            finish(e.exitCode)
        } catch {
            if exitCode(for: error) == .success {
                if Launcher.current.isPrintingRank { print(fullMessage(for: error)) }
                finish(0)
            }
            let names = configuration.subcommands.map { $0._commandName }
            let arguments = Array(CommandLine.arguments.dropFirst())
            // A first word that is not a command (nor an option or its value) is a mistyped command.
            if let first = arguments.first, !first.hasPrefix("-"), !names.contains(first) {
                let guess = Suggestion.closest(first, among: names).map { " (did you mean \($0)?)" } ?? ""
                finish(TrainingRun.argumentFailure("unknown command '\(first)'\(guess); the commands are \(names.joined(separator: ", "))"
                    + " (train, the default, also runs with options alone; see aimc-dist --help)"))
            }
            let command = arguments.first { names.contains($0) } ?? "train"
            var text = message(for: error).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
            // "Please provide one of the following:; - a; - b" -> "choose one of: a, b".
            if let range = text.range(of: "Please provide one of the following:; ") {
                let choices = text[range.upperBound...].split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                    .map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
                text = text[..<range.lowerBound] + "choose one of: " + choices.joined(separator: ", ")
            }
            if text.contains("is invalid for"),
               let option = ranges.keys.sorted(by: { $0.count > $1.count }).first(where: { text.contains("'\($0) ") }) {
                text += "; expected \(ranges[option]!)"
            }
            finish(TrainingRun.argumentFailure(text + " (see aimc-dist \(command) --help)"))
        }
    }
}

/// Options that may be given more than once (each adds a value).
let repeatableOptions: Set<String> = ["--set"]
/// Options that are one option under two names (none today: --preset and --device-preset are two options).
let optionAliases: [String: String] = [:]

/// The error for an option given more than once on the command line (the argument parser would keep the last value
/// silently), or nil. Only `repeatableOptions` may repeat; everything after a lone `--` is not an option.
func repeatedOption(_ arguments: [String]) -> String? {
    var counts = [String: Int](), order = [String]()
    for argument in arguments {
        if argument == "--" { break }
        guard argument.hasPrefix("--"), argument.count > 2 else { continue }
        var name = String(argument.split(separator: "=", maxSplits: 1)[0])
        name = optionAliases[name] ?? name
        if repeatableOptions.contains(name) || name == "--help" { continue }
        if counts[name] == nil { order.append(name) }
        counts[name, default: 0] += 1
    }
    guard let name = order.first(where: { counts[$0]! > 1 }) else { return nil }
    let alias = optionAliases.first { $0.value == name }.map { " (or \($0.key))" } ?? ""
    return "\(name)\(alias) is given \(counts[name]!) times; give each option once (otherwise the last would silently win)"
}

/// Ends the process: flushes standard output and error, then exits without running library destructors. MPI is
/// finalised by then; a library's shutdown can wait for worker threads that under a tight address-space limit
/// (ulimit -v) retry a failed mmap forever (OpenBLAS's did), so a normal exit could hang after the work is done.
/// Standard output that could not be written (a full disk, `> /dev/full`) turns success into an error (status 1): the
/// console log is lost, and a script must not read silence as success. (A command that failed already said why.)
func finish(_ status: Int32) -> Never {
    fflush(nil)  // every open output stream
    if status == 0, let why = Console.standardOutputFailure() {
        FileHandle.standardError.write(Data("aimc-dist: error: standard output could not be written (\(why)); what this command printed there is lost\n".utf8))
        _exit(1)
    }
    _exit(status)
}

/// Refuses a one-process job that needs more than 90% of this node's available memory: one line, status 1.
func requireMemory(_ bytes: Int, _ what: String, fix: String) throws {
    if let available = TrainingRun.availableMemory(), Double(bytes) > 0.9 * Double(available) {
        throw RunError("\(what) needs about \(TrainingRun.gib(Double(bytes))), more than this node's available memory "
            + "(\(TrainingRun.gib(Double(available)))); \(fix)")
    }
    if let left = TrainingRun.addressSpaceLeft(), Double(bytes) > 0.9 * Double(left) {
        throw RunError("\(what) needs about \(TrainingRun.gib(Double(bytes))), more than this process's address-space limit "
            + "(ulimit -v) leaves (\(TrainingRun.gib(Double(left)))); \(fix), or raise the limit")
    }
}

/// Commands that run on one process (inspection, planning, benchmarks): started by a launcher with more than one
/// task they refuse, so that N copies do not print N reports.
func requireSingleProcess(_ command: String) throws {
    if let size = Launcher.current.expectedSize, size > 1 {
        // Called from validate(), where the argument parser would wrap the error: ends here, one line, status 2.
        finish(TrainingRun.argumentFailure("\(command) runs on one process; run it without mpirun (the launcher started \(size))"))
    }
}

