import AIMCTraining
import CMPI
import Foundation

/// How a rank waits for MPI: every collective starts non-blocking and `Watchdog.complete` finishes it by polling
/// (MPI_Test), then sleeping, with a deadline.
///
/// - **No spinning while idle.** OpenMPI's blocking calls busy-poll; with more ranks than cores the waiting ranks
///   then take the cores from the ranks that compute. Here a rank polls for at most `spinSeconds` (1 ms) when it has
///   a core of its own, then sleeps in growing naps (50 us doubling to 1 ms; MPI_Test between naps drives the
///   collective on). On an oversubscribed node (more ranks than cores, `oversubscribed`) it sleeps at once.
/// - **Stall watchdog.** A wait longer than `timeout` seconds (`--stall-timeout`, config key
///   training.stall_timeout; 0 waits forever) ends the job: the rank asks every other rank, over a side channel (a
///   duplicate of the world communicator), where it waits. Ranks that wait answer from their own wait loop; a rank
///   that is stopped (`kill -STOP`), hung, or on a node that froze cannot. After a grace period the asking rank
///   prints one line naming the ranks that did not answer and where the others wait, and calls MPI_Abort with
///   status `stalledStatus` (4). When several ranks time out together, the lowest reports and the others keep
///   waiting for the abort. A run folder keeps its whole epochs (metrics.csv rows are written whole).
public enum Watchdog {
    /// Seconds one wait may last before the job is declared stalled; 0 waits forever.
    nonisolated(unsafe) public static var timeout: Double = 600
    /// The exit status of a job ended by the watchdog.
    public static let stalledStatus: Int32 = 4
    /// Ranks of this job on this node, and the cores this node offers them (online processors, capped by a cgroup
    /// CPU quota).
    nonisolated(unsafe) public private(set) static var nodeRanks = 1, nodeCores = 1
    /// More ranks than cores on this node: waits sleep at once, and the run's report says the ranks shared cores.
    public static var oversubscribed: Bool { nodeRanks > nodeCores }
    /// Busy-polling before the first nap when every rank has a core (a step's exchanges mostly complete within it).
    static let spinSeconds = 1e-3
    static let firstNap = 50_000, longestNap = 1_000_000  // nanoseconds

    nonisolated(unsafe) static var channel: MPI_Comm? = nil
    nonisolated(unsafe) static var worldRank = 0, worldSize = 1
    nonisolated(unsafe) static var askBuffer = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
    nonisolated(unsafe) static var censusID = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
    nonisolated(unsafe) static var askReceive: MPI_Request? = nil
    nonisolated(unsafe) static var replies = [(request: MPI_Request?, bytes: UnsafeMutableRawBufferPointer)]()
    nonisolated(unsafe) static var censusCount: Int64 = 0
    /// When this rank last was in an MPI wait (monotonic seconds; read by the SIGCONT handler).
    nonisolated(unsafe) static var lastCall = 0.0
    /// The lowest rank that asked this rank where it waits, and when: a rank whose own deadline passes soon after
    /// leaves the report to a lower rank that already asks.
    nonisolated(unsafe) static var lowestAsker = (rank: Int.max, time: 0.0)
    static let askTag: Int32 = 7101, replyTag: Int32 = 7102

    /// Sets up the side channel and measures the node (collective over the world; after MPI_Init).
    static func start() throws(CommunicationError) {
        aimc_set_timer_slack(1000)
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(MPI_COMM_WORLD, &r)
        MPI_Comm_size(MPI_COMM_WORLD, &s)
        worldRank = Int(r)
        worldSize = Int(s)
        nodeCores = availableCores()
        guard worldSize > 1 else { return }
        // Everyone arrives first (watched), so that the blocking calls below cannot hang on a missing rank.
        var barrier: MPI_Request? = nil
        try MPI.check(MPI_Ibarrier(MPI_COMM_WORLD, &barrier), "MPI_Ibarrier")
        try complete(&barrier, "MPI_Ibarrier", nil)
        var node: MPI_Comm? = nil
        try MPI.check(MPI_Comm_split_type(MPI_COMM_WORLD, Int32(MPI_COMM_TYPE_SHARED), r, MPI_INFO_NULL, &node), "MPI_Comm_split_type")
        var local: Int32 = 1
        MPI_Comm_size(node, &local)
        nodeRanks = Int(local)
        MPI_Comm_free(&node)
        var dup: MPI_Comm? = nil
        try MPI.check(MPI_Comm_dup(MPI_COMM_WORLD, &dup), "MPI_Comm_dup")
        MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN)
        channel = dup
        try MPI.check(MPI_Irecv(askBuffer, 8, MPI_BYTE, MPI_ANY_SOURCE, askTag, dup, &askReceive), "MPI_Irecv")
    }

    /// Ends the side channel (before MPI_Finalize, when every rank got there: a watched barrier first).
    static func stop() {
        guard let channel else { return }
        var barrier: MPI_Request? = nil
        CollectiveActivity.begin("finishing (MPI_Finalize)")
        if MPI_Ibarrier(MPI_COMM_WORLD, &barrier) == MPI_SUCCESS { try? complete(&barrier, "MPI_Ibarrier", nil) }
        if askReceive != MPI_REQUEST_NULL {
            MPI_Cancel(&askReceive)
            MPI_Wait(&askReceive, aimc_mpi_status_ignore())
        }
        for i in replies.indices { MPI_Wait(&replies[i].request, aimc_mpi_status_ignore()); replies[i].bytes.deallocate() }
        replies.removeAll()
        var c: MPI_Comm? = channel
        MPI_Comm_free(&c)
        self.channel = nil
    }

    /// Cores this process's node offers: online processors, fewer under a cgroup v2 CPU quota (`cpu.max`).
    static func availableCores() -> Int {
        var cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/cpu.max", encoding: .utf8) {
            let parts = text.split(whereSeparator: \.isWhitespace)
            if parts.count == 2, let quota = Double(parts[0]), let period = Double(parts[1]), period > 0 {
                cores = min(cores, max(1, Int((quota / period).rounded(.up))))
            }
        }
        return cores
    }

    static func monotonic() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    static func nap(_ nanoseconds: Int) {
        var t = timespec(tv_sec: 0, tv_nsec: nanoseconds)
        nanosleep(&t, nil)
    }

    /// Waits for `request` (started by `call` on `comm`, nil for the world): polls, then sleeps, and past the deadline
    /// ends the job (see the type's description). Returns when the request completed.
    static func complete(_ request: inout MPI_Request?, _ call: String, _ comm: Communicator?) throws(CommunicationError) {
        var flag: Int32 = 0
        lastCall = monotonic()
        try MPI.check(MPI_Test(&request, &flag, aimc_mpi_status_ignore()), call)
        if flag != 0 { return }
        let start = lastCall
        var deadline = timeout > 0 ? start + timeout : .infinity
        let spinUntil = oversubscribed ? start : start + spinSeconds
        var sleep = firstNap
        var polls = 0
        while true {
            try MPI.check(MPI_Test(&request, &flag, aimc_mpi_status_ignore()), call)
            if flag != 0 { return }
            polls &+= 1
            let now = monotonic()
            lastCall = now
            if now < spinUntil {
                if polls & 255 == 0 { _ = answer(call, comm) }
                continue
            }
            _ = answer(call, comm)
            if now >= deadline {
                if try census(&request, call, comm, waited: now - start) { return }
                deadline = monotonic() + timeout  // a lower rank reports this stall; wait for its abort
            }
            nap(sleep)
            sleep = min(sleep * 2, longestNap)
        }
    }

    /// "MPI_Iallgatherv among ranks 0,1 (training step 37 of epoch 1, forward exchange of layer 1)".
    static func waiting(_ call: String, _ comm: Communicator?) -> String {
        "\(call) among \(comm?.members ?? (worldSize > 2 ? "all \(worldSize) ranks" : "ranks 0,1")) (\(CollectiveActivity.current.description))"
    }

    /// Answers every question of other ranks that arrived (where this rank waits); returns the ranks that asked.
    static func answer(_ call: String, _ comm: Communicator?) -> [Int] {
        guard let channel else { return [] }
        var askers = [Int]()
        var flag: Int32 = 0
        var status = MPI_Status()
        while MPI_Test(&askReceive, &flag, &status) == MPI_SUCCESS && flag != 0 {
            let asker = Int(status.MPI_SOURCE)
            askers.append(asker)
            let now = monotonic()
            if asker < lowestAsker.rank || now - lowestAsker.time > 60 { lowestAsker = (asker, now) }
            let text = Array("\(askBuffer.pointee)|\(waiting(call, comm))".utf8.prefix(1000))
            let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(text.count, 1), alignment: 8)
            bytes.copyBytes(from: text)
            var send: MPI_Request? = nil
            MPI_Isend(bytes.baseAddress, Int32(text.count), MPI_BYTE, Int32(asker), replyTag, channel, &send)
            replies.append((send, bytes))
            MPI_Irecv(askBuffer, 8, MPI_BYTE, MPI_ANY_SOURCE, askTag, channel, &askReceive)
        }
        // Replies sent earlier: free their buffers once delivered.
        replies.removeAll { entry in
            var e = entry
            var done: Int32 = 0
            MPI_Test(&e.request, &done, aimc_mpi_status_ignore())
            if done != 0 { e.bytes.deallocate() }
            return done != 0
        }
        return askers
    }

    /// The deadline passed: asks the other ranks where they wait, then reports and aborts. Returns true if the wait
    /// completed meanwhile (the stall resolved itself), false if a lower rank asked too (it reports).
    static func census(_ request: inout MPI_Request?, _ call: String, _ comm: Communicator?, waited: Double) throws(CommunicationError) -> Bool {
        var heard = [Int: String]()
        // A lower rank asked lately: it is reporting this stall (its abort follows).
        if lowestAsker.rank < worldRank && monotonic() - lowestAsker.time < 60 { return false }
        if let channel {
            censusCount += 1
            let id = Int64(worldRank) << 40 | censusCount
            censusID.pointee = id
            for r in 0..<worldSize where r != worldRank {
                var ask: MPI_Request? = nil
                MPI_Isend(censusID, 8, MPI_BYTE, Int32(r), askTag, channel, &ask)
                MPI_Request_free(&ask)  // completes on its own; `censusID` stays allocated
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 8)
            defer { buffer.deallocate() }
            var receive: MPI_Request? = nil
            MPI_Irecv(buffer.baseAddress, 1024, MPI_BYTE, MPI_ANY_SOURCE, replyTag, channel, &receive)
            defer {
                if receive != MPI_REQUEST_NULL {
                    MPI_Cancel(&receive)
                    MPI_Wait(&receive, aimc_mpi_status_ignore())
                }
            }
            // Ranks that wait answer within a nap (at most 1 ms); a rank busy computing answers when it next waits.
            let grace = min(5, max(1, timeout / 10))
            let end = monotonic() + grace
            while monotonic() < end && heard.count < worldSize - 1 {
                var flag: Int32 = 0
                try MPI.check(MPI_Test(&request, &flag, aimc_mpi_status_ignore()), call)
                if flag != 0 { return true }
                if answer(call, comm).contains(where: { $0 < worldRank }) { return false }
                var status = MPI_Status()
                while MPI_Test(&receive, &flag, &status) == MPI_SUCCESS && flag != 0 {
                    var count: Int32 = 0
                    MPI_Get_count(&status, MPI_BYTE, &count)
                    let text = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<Int(count)]), as: UTF8.self)
                    if let bar = text.firstIndex(of: "|"), Int64(text[..<bar]) == id {
                        heard[Int(status.MPI_SOURCE)] = String(text[text.index(after: bar)...])
                    }
                    MPI_Irecv(buffer.baseAddress, 1024, MPI_BYTE, MPI_ANY_SOURCE, replyTag, channel, &receive)
                }
                nap(1_000_000)
            }
        }
        let silent = (0..<worldSize).filter { $0 != worldRank && heard[$0] == nil }
        FileHandle.standardError.write(Data(("aimc-dist: error: " + report(silent: silent, heard: heard, mine: waiting(call, comm), waited: waited) + "\n").utf8))
        MPI.abort(code: stalledStatus)
    }

    /// The one line of a stall: the ranks that did not answer, where the others wait, and what to do.
    static func report(silent: [Int], heard: [Int: String], mine: String, waited: Double) -> String {
        var places = [(String, [Int])]()
        for (r, text) in [(worldRank, mine)] + heard.sorted(by: { $0.key < $1.key }) {
            if let i = places.firstIndex(where: { $0.0 == text }) { places[i].1.append(r) } else { places.append((text, [r])) }
        }
        let whereTheyWait = places.map { "\(ranks($0.1)) \($0.1.count == 1 ? "waits" : "wait") in \($0.0)" }.joined(separator: "; ")
        let seconds = String(format: "%.0f s", waited)
        let fix = "ending the job (--stall-timeout \(String(format: "%g", timeout)) s; 0 waits forever)"
        if silent.isEmpty {
            return "the job stalled: a collective made no progress for \(seconds), yet every rank answers: \(whereTheyWait) "
                + "(different collectives: a bug, please report it); \(fix)"
        }
        return "the job stalled: \(ranks(silent)) \(silent.count == 1 ? "does" : "do") not answer (stopped, hung, or on a node that froze?) "
            + "while \(whereTheyWait), after \(seconds) without progress; \(fix)"
    }

    /// "rank 3", "ranks 0-2,5".
    public static func ranks(_ list: [Int]) -> String {
        let sorted = list.sorted()
        var parts = [String]()
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(j > i + 1 ? "\(sorted[i])-\(sorted[j])" : j == i + 1 ? "\(sorted[i]),\(sorted[j])" : "\(sorted[i])")
            i = j + 1
        }
        let text = parts.count > 12 ? parts.prefix(12).joined(separator: ",") + ",..." : parts.joined(separator: ",")
        return (sorted.count == 1 ? "rank " : "ranks ") + text
    }
}
