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
        Run under MPI: each rank simulates a set of crossbar tiles (weight blocks); rank 0 coordinates.
          mpirun -n 8 aimc-dist                 the default experiment (Residual Learning, Fashion-MNIST)
          aimc-dist train --help                every training option
          aimc-dist bench                       pulsed-update speed (ns per pulse coincidence)
        """,
        version: "0.1.0",
        subcommands: [Train.self, Bench.self],
        defaultSubcommand: Train.self)

    /// Parses and runs; every error is one line on standard error (printed by rank 0 only when started by a
    /// launcher) and exit status 2 for bad input.
    static func main() {
        let printing = Launcher.current.isPrintingRank
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let e as ConfigError {
            fail(e.description, printing: printing)
        } catch let e as ConfigFileError {
            fail(e.description, printing: printing)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            if exitCode(for: error) == .success {
                if printing { print(fullMessage(for: error)) }
                Foundation.exit(0)
            }
            let text = message(for: error).split(whereSeparator: \.isNewline).joined(separator: "; ")
            fail(text + " (see aimc-dist --help)", printing: printing)
        }
    }

    static func fail(_ message: String, printing: Bool) -> Never {
        if printing { FileHandle.standardError.write(Data("aimc-dist: error: \(message)\n".utf8)) }
        Foundation.exit(2)
    }
}
