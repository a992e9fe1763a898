import Foundation

/// The CPU time of this process (getrusage(RUSAGE_SELF): user plus system time of all its threads), for reports that
/// compare with other simulators' CPU seconds. A clock, not a result: nothing that shapes the weights reads it.
public enum ProcessClock {
    /// User plus system CPU seconds this process has used since it started (microsecond resolution).
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
    }
}
