import CMPI
import Foundation

/// What the process says on its way out: a line when a signal stops it, and an error when its standard output
/// could not be written.
public enum Console {
    /// The lines written by the signal handler (prepared before any signal can arrive; a handler may only call
    /// async-signal-safe functions such as write and _exit).
    nonisolated(unsafe) static var lines = (term: UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0),
                                            int: UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0),
                                            hup: UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0))
    nonisolated(unsafe) static var printing = true
    /// Whether a SIGCONT came after seconds without an MPI call (this rank had been stopped).
    nonisolated(unsafe) static var wasStopped = false

    /// SIGTERM, SIGINT and SIGHUP end the process with status 128 + N; the printing rank (rank 0, or a process started
    /// without a launcher) first writes one line on standard error. mpirun forwards these signals to the ranks, so a
    /// job stopped through mpirun (or scripts/run.sh) says why once. A run folder keeps its whole epochs.
    public static func reportSignals() {
        printing = Launcher.current.isPrintingRank
        func line(_ name: String) -> UnsafeMutableBufferPointer<UInt8> {
            let text = Array("aimc-dist: stopped by \(name); a run folder keeps the epochs it finished (no summary.json)\n".utf8)
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: text.count)
            _ = buffer.initialize(from: text)
            return buffer
        }
        lines = (line("SIGTERM"), line("SIGINT"), line("SIGHUP"))
        let handler: @convention(c) (Int32) -> Void = { signal in
            let line = signal == SIGTERM ? Console.lines.term : signal == SIGINT ? Console.lines.int : Console.lines.hup
            // mpirun sends SIGCONT then SIGTERM to end a job. A rank that had been stopped (kill -STOP: no MPI call for
            // seconds before the SIGCONT) is being ended after another rank reported the stall it caused: not news.
            if Console.printing && !Console.wasStopped { _ = write(2, line.baseAddress, line.count) }
            _exit(128 + signal)
        }
        for signal in [SIGTERM, SIGINT, SIGHUP] { Foundation.signal(signal, handler) }
        Foundation.signal(SIGCONT) { _ in
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let t = Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
            if Watchdog.worldSize > 1 && Watchdog.lastCall > 0 && t - Watchdog.lastCall > 2 { Console.wasStopped = true }
        }
    }

    /// Why standard output could not be written since the start (a full disk, /dev/full), or nil. A failed write is
    /// remembered by the C library but not why; one newline is written again to learn the reason.
    public static func standardOutputFailure() -> String? {
        guard aimc_stdout_failed() != 0 else { return nil }
        var newline: UInt8 = 10
        if write(1, &newline, 1) < 0 { return String(cString: strerror(errno)) }
        return "a write failed"
    }
}
