import Foundation
import Synchronization

/// Requests to checkpoint and stop: SIGUSR1 and SIGTERM set a flag (an atomic store, async-signal-safe) that a
/// training run reads at step boundaries (`TrainingRun.train`), so that the whole job agrees on the step to stop at.
/// mpirun passes SIGUSR1 on to its ranks (it answers SIGTERM by killing them); srun and Slurm's `--signal` deliver
/// either to every task.
enum StopRequest {
    static let signal = Atomic<Int32>(0)

    /// Installs the handlers and unblocks the two signals (a launcher may start a process with them blocked).
    static func install() {
        for s in [SIGUSR1, SIGTERM] {
            _ = Glibc.signal(s) { received in StopRequest.signal.store(received, ordering: .relaxed) }
        }
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGUSR1)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signal received so far, or 0.
    static var received: Int32 { signal.load(ordering: .relaxed) }

    /// SIGUSR1, SIGTERM or "signal N".
    static func name(_ s: Int64) -> String {
        s == Int64(SIGUSR1) ? "SIGUSR1" : s == Int64(SIGTERM) ? "SIGTERM" : "signal \(s)"
    }
}
