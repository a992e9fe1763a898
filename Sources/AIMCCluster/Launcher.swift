import Foundation

/// What the process launcher (mpirun, srun, hydra) told this process through its environment, read before
/// MPI starts: used to print argument errors once (by rank 0 only) and to catch a launcher whose tasks come
/// up as N unrelated singletons (srun without a working PMI plugin).
public struct Launcher: Sendable {
    /// "mpirun", "srun" or "pmi"; nil when started directly.
    public let launcher: String?
    /// World size the launcher intends, if it says.
    public let expectedSize: Int?
    /// This task's rank according to the launcher, if it says.
    public let rank: Int?

    public static var current: Launcher { Launcher(environment: ProcessInfo.processInfo.environment) }

    public init(environment env: [String: String]) {
        func int(_ key: String) -> Int? { env[key].flatMap { Int($0) } }
        if let size = int("OMPI_COMM_WORLD_SIZE") {
            launcher = "mpirun"
            expectedSize = size
            rank = int("OMPI_COMM_WORLD_RANK")
        } else if env["SLURM_STEP_ID"] != nil, let tasks = int("SLURM_STEP_NUM_TASKS") ?? int("SLURM_NTASKS") {
            launcher = "srun"
            expectedSize = tasks
            rank = int("SLURM_PROCID")
        } else if let size = int("PMI_SIZE") ?? int("PMIX_SIZE") {
            launcher = "pmi"
            expectedSize = size
            rank = int("PMI_RANK") ?? int("PMIX_RANK")
        } else {
            launcher = nil
            expectedSize = nil
            rank = nil
        }
    }

    /// Whether this process should print: rank 0, or not launched by a launcher.
    public var isPrintingRank: Bool { (rank ?? 0) == 0 }

    /// An error message when MPI's world size disagrees with the launcher's, else nil.
    public func mismatch(worldSize: Int) -> String? {
        guard let launcher, let expected = expectedSize, expected != worldSize else { return nil }
        let hint = launcher == "srun"
            ? "use `srun --mpi=pmix` (Debian's OpenMPI is built with PMIx) or run mpirun inside the allocation"
            : "the MPI library this binary uses does not match the launcher; use the mpirun of the same OpenMPI"
        return "\(launcher) started \(expected) tasks but MPI reports a world of \(worldSize): \(hint)"
    }
}
