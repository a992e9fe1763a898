/// A communication failure (an MPI call returned an error).
public struct CommunicationError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An exchange started by `Collective.startAllgather`: the receive buffer is valid after `wait()`.
public protocol PendingExchange: AnyObject {
    func wait() throws(CommunicationError)
}

/// The collectives the distributed training step needs, over some group of processes. AIMCCluster implements
/// it over MPI; `SingleProcess` implements it for one process (tests, a run without mpirun).
///
/// Every call is collective over the group: all members call it in the same order with consistent counts.
public protocol Collective: AnyObject {
    var rank: Int { get }
    var size: Int { get }

    /// Gathers every member's floats into every member, concatenated in rank order (MPI_Allgatherv).
    /// - Parameters:
    ///   - send: this member's `counts[rank]` floats.
    ///   - counts: floats per member.
    ///   - receive: room for `counts.reduce(0, +)` floats.
    func allgather(_ send: UnsafePointer<Float>, counts: [Int], into receive: UnsafeMutablePointer<Float>) throws(CommunicationError)

    /// Starts the same gather without waiting (MPI_Iallgatherv), so that work can overlap it. The buffers must stay
    /// untouched until `wait()` returns.
    func startAllgather(_ send: UnsafePointer<Float>, counts: [Int], into receive: UnsafeMutablePointer<Float>) throws(CommunicationError) -> PendingExchange

    /// Starts a personalised exchange (MPI_Ialltoallv): member i sends `sendCounts[j]` floats, from its send buffer's
    /// j-th segment (segments in rank order), to member j, and receives `receiveCounts[j]` floats from member j into
    /// its receive buffer's j-th segment. The buffers must stay untouched until `wait()` returns.
    func startAlltoall(_ send: UnsafePointer<Float>, sendCounts: [Int], into receive: UnsafeMutablePointer<Float>,
                       receiveCounts: [Int]) throws(CommunicationError) -> PendingExchange

    /// Gathers every member's bytes into every member, concatenated in rank order.
    func allgatherBytes(_ send: [UInt8], counts: [Int]) throws(CommunicationError) -> [UInt8]

    /// Gathers every member's bytes into `root` only, concatenated in rank order (MPI_Gatherv); the other members
    /// get an empty array. `counts` (bytes per member, total below 2^31) must be known to every member.
    func gatherBytes(_ send: [UInt8], counts: [Int], root: Int) throws(CommunicationError) -> [UInt8]

    /// Copies `root`'s bytes into every member's buffer (MPI_Bcast).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws(CommunicationError)

    /// Largest value over all members (MPI_Allreduce with MPI_MAX).
    func maximum(_ value: Double) throws(CommunicationError) -> Double

    /// Sum over all members (MPI_Allreduce with MPI_SUM; the order of the additions is MPI's, so use it for
    /// reports and integer counts below 2^53 only, never for simulation results).
    func sum(_ value: Double) throws(CommunicationError) -> Double

    /// A sub-group (MPI_Comm_split): the members that pass the same non-nil `color`, ordered by `key`. Collective
    /// over this group; members that pass nil get nil.
    func split(color: Int?, key: Int) throws(CommunicationError) -> (any Collective)?

    /// Payload bytes this member sent and received through these collectives so far.
    var bytesSent: UInt64 { get }
    var bytesReceived: UInt64 { get }
}

extension Collective {
    /// Broadcasts a trivial value (no pointers inside) from `root`.
    public func broadcast<T: BitwiseCopyable>(_ value: T, root: Int = 0) throws(CommunicationError) -> T {
        var v = value
        try withUnsafeMutableBytes(of: &v) { (raw) throws(CommunicationError) in try broadcast(raw, root: root) }
        return v
    }

    /// Gathers one double per member, in rank order.
    public func allgather(_ value: Double) throws(CommunicationError) -> [Double] {
        let bytes = withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
        let all = try allgatherBytes(bytes, counts: Array(repeating: 8, count: size))
        return (0..<size).map { r in
            Double(bitPattern: UInt64(littleEndian: all[(8 * r)..<(8 * r + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        }
    }
}

/// An exchange that completed when it started.
final class DoneExchange: PendingExchange {
    func wait() {}
}

/// The collectives of a group of one.
public final class SingleProcess: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var bytesSent: UInt64 { 0 }
    public var bytesReceived: UInt64 { 0 }

    public func allgather(_ send: UnsafePointer<Float>, counts: [Int], into receive: UnsafeMutablePointer<Float>) {
        receive.update(from: send, count: counts[0])
    }

    public func startAllgather(_ send: UnsafePointer<Float>, counts: [Int], into receive: UnsafeMutablePointer<Float>) -> PendingExchange {
        allgather(send, counts: counts, into: receive)
        return DoneExchange()
    }

    public func startAlltoall(_ send: UnsafePointer<Float>, sendCounts: [Int], into receive: UnsafeMutablePointer<Float>,
                              receiveCounts: [Int]) -> PendingExchange {
        receive.update(from: send, count: sendCounts[0])
        return DoneExchange()
    }

    public func allgatherBytes(_ send: [UInt8], counts: [Int]) -> [UInt8] { send }
    public func gatherBytes(_ send: [UInt8], counts: [Int], root: Int) -> [UInt8] { send }
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) {}
    public func maximum(_ value: Double) -> Double { value }
    public func sum(_ value: Double) -> Double { value }
    public func split(color: Int?, key: Int) -> (any Collective)? { color == nil ? nil : self }
}

/// What this process is doing between collectives, for the stall watchdog's report: when a collective waits past its
/// deadline, the line that ends the job says where each rank was ("training step 37 of epoch 2, forward exchange of
/// layer 1"). Set by the trainer and the run; read only when a wait times out or another rank asks. Plain values
/// written on the one thread that calls MPI.
public struct CollectiveActivity: Sendable {
    public enum Exchange: Sendable { case none, forward, backward }

    /// A phase outside the training steps ("reading and broadcasting the data"); empty while training.
    public var phase: String = "starting"
    /// Epoch and step (1-based; 0 = not in an epoch) and whether the step is evaluation.
    public var epoch = 0, step = 0
    public var evaluating = false
    /// The layer whose exchange is under way (0-based), and which exchange.
    public var layer = 0
    public var exchange = Exchange.none

    nonisolated(unsafe) public static var current = CollectiveActivity()

    /// Starts a phase outside the training steps.
    public static func begin(_ phase: String) { current = CollectiveActivity(phase: phase) }

    /// "training step 37 of epoch 2, forward exchange of layer 1 (layers counted from 1)".
    public var description: String {
        guard phase.isEmpty else { return phase }
        var text = evaluating ? "evaluation after epoch \(epoch)" : "training step \(step) of epoch \(epoch)"
        switch exchange {
        case .none: break
        case .forward: text += ", forward exchange of layer \(layer + 1)"
        case .backward: text += ", backward exchange of layer \(layer + 1)"
        }
        return text
    }
}
