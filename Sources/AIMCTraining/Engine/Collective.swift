/// A communication failure (an MPI call returned an error).
public struct CommunicationError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The collectives the distributed training step needs, over some group of processes. AIMCCluster implements
/// it over MPI; `SingleProcess` implements it for one process (tests, `--ranks 1` without MPI).
///
/// Every call is collective: all members call it in the same order with consistent counts.
public protocol Collective: AnyObject {
    var rank: Int { get }
    var size: Int { get }

    /// Gathers every member's floats into every member, concatenated in rank order (MPI_Allgatherv).
    /// - Parameters:
    ///   - send: this member's `counts[rank]` floats.
    ///   - counts: floats per member.
    ///   - receive: room for `counts.reduce(0, +)` floats.
    func allgather(_ send: UnsafePointer<Float>, counts: [Int], into receive: UnsafeMutablePointer<Float>) throws(CommunicationError)

    /// Gathers every member's bytes into every member, concatenated in rank order.
    func allgatherBytes(_ send: [UInt8], counts: [Int]) throws(CommunicationError) -> [UInt8]

    /// Copies `root`'s bytes into every member's buffer (MPI_Bcast).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws(CommunicationError)

    /// Largest value over all members (MPI_Allreduce with MPI_MAX).
    func maximum(_ value: Double) throws(CommunicationError) -> Double

    /// Sum over all members (MPI_Allreduce with MPI_SUM; the order of the additions is MPI's, so use it for
    /// reports and integer counts below 2^53 only, never for simulation results).
    func sum(_ value: Double) throws(CommunicationError) -> Double

    /// Bytes this member sent and received through these collectives so far (payload only).
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

    public func allgatherBytes(_ send: [UInt8], counts: [Int]) -> [UInt8] { send }
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) {}
    public func maximum(_ value: Double) -> Double { value }
    public func sum(_ value: Double) -> Double { value }
}
