import AIMCTraining
import CMPI
import Foundation

/// A thin Swift view of the MPI calls aimc-dist uses. Names mirror MPI's (as mpi4py does); MPI error codes
/// become `CommunicationError`s (the world communicator is set to MPI_ERRORS_RETURN). Every collective is started
/// non-blocking and completed by `Watchdog.complete` (no busy-polling while idle, and a deadline).
public enum MPI {
    /// Whether MPI_Init has run in this process.
    public static var isInitialized: Bool {
        var flag: Int32 = 0
        MPI_Initialized(&flag)
        return flag != 0
    }

    /// Initialises MPI once per process (thread level FUNNELED: only the main thread calls MPI), then the wait
    /// loop's side channel and node census (`Watchdog.start`).
    ///
    /// A process that was not started by a launcher (no OMPI_/PMIX_/PMI_ variables) becomes an isolated
    /// singleton (`OMPI_MCA_ess_singleton_isolated=1`), so it does not fork an `orted` daemon. Having no peers, it
    /// also starts without the network transports and the hwloc plugins of I/O devices (`singletonEnvironment`),
    /// unless the environment sets those variables itself.
    public static func initialize() throws(CommunicationError) {
        if isInitialized { return }
        if Launcher.current.launcher == nil {
            for (name, value) in singletonEnvironment { setenv(name, value, 0) }
        }
        var provided: Int32 = 0
        let rc = MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
        try check(rc, "MPI_Init_thread")
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN)
        try Watchdog.start()
    }

    /// What a singleton sets before MPI_Init where the environment does not: no `orted`; of the transports only
    /// `self` (ob1's), so Open MPI does not load its network libraries (libpsm2's start-up alone sleeps about 0.2 s
    /// looking for Omni-Path hardware); and no discovery of I/O devices by hwloc (its PCI, GPU and OpenCL plugins,
    /// libxml2, and the Linux I/O component: reading PCI configuration space and loading the X11 and ICU libraries
    /// cost tens of milliseconds of CPU). A singleton's
    /// messages are all to itself, so nothing it computes depends on these.
    public static let singletonEnvironment: [(String, String)] = [
        ("OMPI_MCA_ess_singleton_isolated", "1"),
        ("OMPI_MCA_pml", "ob1"),
        ("OMPI_MCA_btl", "self"),
        ("HWLOC_PLUGINS_BLACKLIST", "hwloc_pci,hwloc_opencl,hwloc_gl,hwloc_cuda,hwloc_nvml,hwloc_rsmi,hwloc_levelzero,hwloc_xml_libxml"),
        ("HWLOC_COMPONENTS", "-linuxio"),
    ]

    /// Finalises MPI after every rank got here (a watched barrier, so a missing rank cannot hang the others). From here
    /// on the process is ending: a signal (mpirun ending the other ranks after one exited with an error) is not news.
    public static func finalize() {
        Console.printing = false
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if isInitialized && finalized == 0 {
            Watchdog.stop()
            MPI_Finalize()
        }
    }

    /// Ends every rank of the job promptly (MPI_Abort on the world communicator).
    public static func abort(code: Int32) -> Never {
        Console.printing = false  // mpirun's SIGTERM that follows is not news
        fflush(nil)
        if isInitialized { MPI_Abort(MPI_COMM_WORLD, code) }
        exit(code)
    }

    static func check(_ rc: Int32, _ call: String) throws(CommunicationError) {
        guard rc != MPI_SUCCESS else { return }
        var buffer = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(rc, &buffer, &length)
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw CommunicationError("\(call) failed: \(text)")
    }

    public static var wallTime: Double { MPI_Wtime() }
}

/// A communicator (MPI_Comm) with the collectives of `Collective`, counting the payload bytes it moves. Each
/// collective is a non-blocking MPI call completed by `Watchdog.complete`.
public final class Communicator: Collective, @unchecked Sendable {
    let handle: MPI_Comm
    public let rank: Int
    public let size: Int
    public private(set) var bytesSent: UInt64 = 0
    public private(set) var bytesReceived: UInt64 = 0
    /// Its members as world ranks, for the watchdog's report: "all 4 ranks" or "ranks 0,2".
    lazy var members: String = {
        var worldGroup: MPI_Group? = nil, group: MPI_Group? = nil
        MPI_Comm_group(MPI_COMM_WORLD, &worldGroup)
        MPI_Comm_group(handle, &group)
        var mine = (0..<Int32(size)).map { $0 }
        var world = [Int32](repeating: 0, count: size)
        MPI_Group_translate_ranks(group, Int32(size), &mine, worldGroup, &world)
        MPI_Group_free(&group)
        MPI_Group_free(&worldGroup)
        return size == Watchdog.worldSize && size > 2 ? "all \(size) ranks" : Watchdog.ranks(world.map(Int.init))
    }()

    /// Waits for a request this communicator started (see `Watchdog.complete`).
    func complete(_ request: inout MPI_Request?, _ call: String) throws(CommunicationError) {
        try Watchdog.complete(&request, call, self)
    }

    /// The world communicator (MPI must be initialised).
    public static func world() -> Communicator { Communicator(handle: MPI_COMM_WORLD) }

    init(handle: MPI_Comm) {
        self.handle = handle
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(handle, &r)
        MPI_Comm_size(handle, &s)
        rank = Int(r)
        size = Int(s)
    }

    /// MPI_Comm_split: members with the same `color` form a new communicator, ordered by `key`; nil color is
    /// MPI_UNDEFINED (no communicator).
    public func split(color: Int?, key: Int) throws(CommunicationError) -> (any Collective)? {
        // MPI_Comm_split blocks; a watched barrier first, so that it cannot wait for a missing rank.
        try barrier()
        var out: MPI_Comm? = nil
        try MPI.check(MPI_Comm_split(handle, color.map(Int32.init) ?? Int32(MPI_UNDEFINED), Int32(key), &out), "MPI_Comm_split")
        guard color != nil, let out else { return nil }
        MPI_Comm_set_errhandler(out, MPI_ERRORS_RETURN)
        return Communicator(handle: out)
    }

    /// A non-blocking collective in flight; keeps its count arrays alive until it completes.
    final class Exchange: PendingExchange {
        var request: MPI_Request? = nil
        let counts: [Int32], displacements: [Int32]
        var receiveCounts: [Int32] = [], receiveDisplacements: [Int32] = []
        let communicator: Communicator
        let call: String
        init(_ communicator: Communicator, _ call: String, counts: [Int32], displacements: [Int32]) {
            self.communicator = communicator
            self.call = call
            self.counts = counts
            self.displacements = displacements
        }
        func wait() throws(CommunicationError) {
            try communicator.complete(&request, call)
        }
    }

    public func startAllgather(_ send: UnsafePointer<Float>, counts: [Int], into receive: UnsafeMutablePointer<Float>) throws(CommunicationError) -> PendingExchange {
        precondition(counts.count == size)
        let e = Exchange(self, "MPI_Iallgatherv", counts: counts.map { Int32($0) }, displacements: Communicator.displacements(counts))
        let rc = e.counts.withUnsafeBufferPointer { c in
            e.displacements.withUnsafeBufferPointer { d in
                MPI_Iallgatherv(send, c[rank], MPI_FLOAT, receive, c.baseAddress, d.baseAddress, MPI_FLOAT, handle, &e.request)
            }
        }
        try MPI.check(rc, "MPI_Iallgatherv")
        let total = counts.reduce(0, +)
        bytesSent &+= UInt64(counts[rank] * 4 * (size - 1))
        bytesReceived &+= UInt64((total - counts[rank]) * 4)
        return e
    }

    static func displacements(_ counts: [Int]) -> [Int32] {
        var d = [Int32](repeating: 0, count: counts.count)
        var s = 0
        for i in 0..<counts.count { d[i] = Int32(s); s += counts[i] }
        return d
    }

    public func allgather(_ send: UnsafePointer<Float>, counts: [Int], into receive: UnsafeMutablePointer<Float>) throws(CommunicationError) {
        precondition(counts.count == size)
        let c32 = counts.map { Int32($0) }
        let d32 = Communicator.displacements(counts)
        // The count arrays stay valid until the request completes (MPI-3 requires it of non-blocking collectives).
        try c32.withUnsafeBufferPointer { (c) throws(CommunicationError) in
            try d32.withUnsafeBufferPointer { (d) throws(CommunicationError) in
                var request: MPI_Request? = nil
                try MPI.check(MPI_Iallgatherv(send, c[rank], MPI_FLOAT, receive, c.baseAddress, d.baseAddress, MPI_FLOAT, handle, &request),
                              "MPI_Iallgatherv")
                try complete(&request, "MPI_Iallgatherv")
            }
        }
        let total = counts.reduce(0, +)
        bytesSent &+= UInt64(counts[rank] * 4 * (size - 1))
        bytesReceived &+= UInt64((total - counts[rank]) * 4)
    }

    public func startAlltoall(_ send: UnsafePointer<Float>, sendCounts: [Int], into receive: UnsafeMutablePointer<Float>,
                              receiveCounts: [Int]) throws(CommunicationError) -> PendingExchange {
        precondition(sendCounts.count == size && receiveCounts.count == size)
        let e = Exchange(self, "MPI_Ialltoallv", counts: sendCounts.map { Int32($0) }, displacements: Communicator.displacements(sendCounts))
        e.receiveCounts = receiveCounts.map { Int32($0) }
        e.receiveDisplacements = Communicator.displacements(receiveCounts)
        let rc = e.counts.withUnsafeBufferPointer { sc in
            e.displacements.withUnsafeBufferPointer { sd in
                e.receiveCounts.withUnsafeBufferPointer { rcounts in
                    e.receiveDisplacements.withUnsafeBufferPointer { rd in
                        MPI_Ialltoallv(send, sc.baseAddress, sd.baseAddress, MPI_FLOAT, receive, rcounts.baseAddress, rd.baseAddress,
                                       MPI_FLOAT, handle, &e.request)
                    }
                }
            }
        }
        try MPI.check(rc, "MPI_Ialltoallv")
        bytesSent &+= UInt64((sendCounts.reduce(0, +) - sendCounts[rank]) * 4)
        bytesReceived &+= UInt64((receiveCounts.reduce(0, +) - receiveCounts[rank]) * 4)
        return e
    }

    public func allgatherBytes(_ send: [UInt8], counts: [Int]) throws(CommunicationError) -> [UInt8] {
        precondition(counts.count == size && send.count == counts[rank])
        bytesSent &+= UInt64(counts[rank] * (size - 1))
        bytesReceived &+= UInt64(counts.reduce(0, +) - counts[rank])
        var out = [UInt8](repeating: 0, count: counts.reduce(0, +))
        let c32 = counts.map { Int32($0) }
        let d32 = Communicator.displacements(counts)
        try send.withUnsafeBufferPointer { (s) throws(CommunicationError) in
            try out.withUnsafeMutableBufferPointer { (o) throws(CommunicationError) in
                try c32.withUnsafeBufferPointer { (c) throws(CommunicationError) in
                    try d32.withUnsafeBufferPointer { (d) throws(CommunicationError) in
                        var request: MPI_Request? = nil
                        try MPI.check(MPI_Iallgatherv(s.baseAddress, c[rank], MPI_BYTE, o.baseAddress, c.baseAddress, d.baseAddress, MPI_BYTE,
                                                      handle, &request), "MPI_Iallgatherv")
                        try complete(&request, "MPI_Iallgatherv")
                    }
                }
            }
        }
        return out
    }

    public func gatherBytes(_ send: [UInt8], counts: [Int], root: Int) throws(CommunicationError) -> [UInt8] {
        precondition(counts.count == size && send.count == counts[rank] && counts.reduce(0, +) <= Int(Int32.max))
        let total = counts.reduce(0, +)
        if rank == root { bytesReceived &+= UInt64(total - counts[rank]) } else { bytesSent &+= UInt64(counts[rank]) }
        var out = [UInt8](repeating: 0, count: rank == root ? max(total, 1) : 1)
        let c32 = counts.map { Int32($0) }
        let d32 = Communicator.displacements(counts)
        // Non-blocking and completed by the watchdog's wait, as every collective here.
        try send.withUnsafeBufferPointer { (s) throws(CommunicationError) in
            try out.withUnsafeMutableBufferPointer { (o) throws(CommunicationError) in
                try c32.withUnsafeBufferPointer { (c) throws(CommunicationError) in
                    try d32.withUnsafeBufferPointer { (d) throws(CommunicationError) in
                        var request: MPI_Request? = nil
                        try MPI.check(MPI_Igatherv(s.baseAddress, c[rank], MPI_BYTE, o.baseAddress, c.baseAddress, d.baseAddress, MPI_BYTE,
                                                   Int32(root), handle, &request), "MPI_Igatherv")
                        try complete(&request, "MPI_Igatherv")
                    }
                }
            }
        }
        return rank == root ? Array(out.prefix(total)) : []
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws(CommunicationError) {
        // Large buffers go in chunks below 2^31 bytes (MPI counts are 32-bit).
        var offset = 0
        let chunk = 1 << 30
        repeat {
            let n = min(chunk, buffer.count - offset)
            var request: MPI_Request? = nil
            let rc = MPI_Ibcast(buffer.baseAddress.map { $0 + offset }, Int32(n), MPI_BYTE, Int32(root), handle, &request)
            try MPI.check(rc, "MPI_Ibcast")
            try complete(&request, "MPI_Ibcast")
            if rank == root { bytesSent &+= UInt64(n * (size - 1)) } else { bytesReceived &+= UInt64(n) }
            offset += n
        } while offset < buffer.count
    }

    public func maximum(_ value: Double) throws(CommunicationError) -> Double {
        try reduce(value, MPI_MAX)
    }

    public func sum(_ value: Double) throws(CommunicationError) -> Double {
        try reduce(value, MPI_SUM)
    }

    func reduce(_ value: Double, _ op: MPI_Op) throws(CommunicationError) -> Double {
        let io = UnsafeMutablePointer<Double>.allocate(capacity: 2)
        defer { io.deallocate() }
        io[0] = value
        var request: MPI_Request? = nil
        try MPI.check(MPI_Iallreduce(io, io + 1, 1, MPI_DOUBLE, op, handle, &request), "MPI_Iallreduce")
        try complete(&request, "MPI_Iallreduce")
        return io[1]
    }

    public func barrier() throws(CommunicationError) {
        var request: MPI_Request? = nil
        try MPI.check(MPI_Ibarrier(handle, &request), "MPI_Ibarrier")
        try complete(&request, "MPI_Ibarrier")
    }
}
