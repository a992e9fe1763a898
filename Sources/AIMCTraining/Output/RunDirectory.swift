import Foundation
import AIMCCore

/// A failure to write the run directory.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The folder a run leaves behind: `config.json` (the resolved configuration), `metrics.csv` (one row per
/// epoch), `tiles.csv` (per-tile telemetry, one row per tile per record; see `TileTelemetry`), `summary.json` and `checkpoints/` (the newest `Checkpoint`: the final weights, or where to resume); or a sweep's folder: `summary.csv` and one `run-NNN` run folder per point.
///
/// - The folder is claimed with an exclusive lock (`.aimc-dist.lock`, flock), so two runs never write into one
///   folder; the lock goes with the process, so a killed run does not block the next one.
/// - A folder that holds a run or a sweep is refused unless `overwrite`, whether a run or a sweep is about to be
///   written there; with `overwrite`, the old files and run folders are removed before anything new is written, so
///   the folder never mixes two runs, two sweeps, or a run and a sweep.
/// - `config.json` and `summary.json` are written whole to a temporary name and renamed into place;
///   `metrics.csv` grows by one row per epoch and `tiles.csv` by one record at a time, each appended with a single
///   write, whole or cut back.
public final class RunDirectory {
    public let path: String
    let lock: Int32
    /// The folder that holds `path`: the text before its last "/" ("" for a bare name, "/" for a top-level entry).
    /// (Foundation's `deletingLastPathComponent` traps on one-character paths in this toolchain.)
    public static func parent(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let i = p.lastIndex(of: "/") else { return "" }
        return i == p.startIndex ? "/" : String(p[..<i])
    }

    public static let runFiles = ["config.json", "metrics.csv", "summary.json", "tiles.csv"]
    /// The file that marks a sweep's folder (its run folders are `run-NNN`).
    public static let sweepFiles = ["summary.csv"]
    /// The files `lsq` and `device` leave (with lsq's `config.json`; `lsq_weights` is lsq's folder of .npy files).
    public static let resultFiles = ["lsq.csv", "lsq_final.csv", LeastSquares.weightsFolder, "response.csv", "pulse_response.csv"]
    static let metricsHeader = "epoch,train_loss,test_accuracy,seconds,test_loss,train_accuracy\n"

    /// Creates (or claims) the folder, for a run, a sweep's `summary.csv` (its run folders are claimed one by one) or
    /// the results of `lsq` or `device`. Whatever it holds of any of these marks it as held; `overwrite` removes all.
    /// - Throws: `OutputError` if it cannot be created or locked, is in use, or holds a run, a sweep or results and
    ///   `overwrite` is false.
    public init(path: String, overwrite: Bool) throws(OutputError) {
        guard !path.isEmpty else { throw OutputError("--output must name a folder") }
        self.path = path
        let fm = FileManager.default
        let shown = path.utf8.count > 120 ? String(path.prefix(60)) + "..." : path
        // The longest name written here must fit the system's limits, or the run would fail at its end: checked
        // before anything is created, so a refused path leaves no folders behind.
        if (path as NSString).appendingPathComponent(".summary.json.partial").utf8.count >= Int(PATH_MAX) {
            throw OutputError("--output \(shown) is too long (\(path.utf8.count) bytes): its files' paths would exceed \(PATH_MAX) bytes; choose a shorter folder")
        }
        if let name = path.split(separator: "/").first(where: { $0.utf8.count > Int(NAME_MAX) }) {
            throw OutputError("--output \(shown) has a folder name of \(name.utf8.count) bytes, longer than the \(NAME_MAX) a name may have; choose a shorter one")
        }
        if let problem = PathProblem.describe(path), problem.hasPrefix("is a loop") {
            throw OutputError("--output \(shown) \(problem)")
        }
        // Folders this run creates (outermost first), removed again if the folder cannot be claimed.
        var created = [String]()
        var claimed = false
        defer {
            if !claimed && !created.isEmpty {
                unlink((path as NSString).appendingPathComponent(".aimc-dist.lock"))
                for folder in created.reversed() { rmdir(folder) }
            }
        }
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw OutputError("--output \(shown) exists and is not a folder") }
        } else {
            var missing = [String](), folder = path
            while !folder.isEmpty && folder != "/" && !fm.fileExists(atPath: folder) {
                missing.append(folder)
                folder = RunDirectory.parent(of: folder)
            }
            for f in missing.reversed() {
                if mkdir(f, 0o755) != 0 && errno != EEXIST {
                    throw OutputError("--output \(shown) cannot be created (\(String(cString: strerror(errno))))")
                }
                created.append(f)
            }
        }
        let lockPath = (path as NSString).appendingPathComponent(".aimc-dist.lock")
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputError("--output \(shown) is not writable (\(String(cString: strerror(errno))))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            throw OutputError("--output \(shown) is in use by another aimc-dist run")
        }
        lock = fd
        claimed = true
        let runFiles = (RunDirectory.runFiles + [Checkpoint.folder]).filter { fm.fileExists(atPath: (path as NSString).appendingPathComponent($0)) }
        let resultFiles = RunDirectory.resultFiles.filter { fm.fileExists(atPath: (path as NSString).appendingPathComponent($0)) }
        let sweepFiles = RunDirectory.sweepFiles.filter { fm.fileExists(atPath: (path as NSString).appendingPathComponent($0)) }
        let runFolders = RunDirectory.runFolders(in: path)
        if runFiles.isEmpty && sweepFiles.isEmpty && runFolders.isEmpty && resultFiles.isEmpty { return }
        guard overwrite else {
            close(fd)
            var held = [String]()
            if !sweepFiles.isEmpty || !runFolders.isEmpty {
                let folders = runFolders.isEmpty ? [] : [runFolders.count == 1 ? "1 run folder" : "\(runFolders.count) run folders"]
                held.append("a sweep (\((sweepFiles + folders).joined(separator: ", ")))")
            }
            if !resultFiles.isEmpty {
                let lsq = resultFiles.contains { $0.hasPrefix("lsq") }, device = resultFiles.contains { !$0.hasPrefix("lsq") }
                let what = lsq ? (device ? "lsq and device results" : "lsq results") : "device results"
                held.append("\(what) (\((resultFiles + runFiles.filter { $0 == "config.json" }).joined(separator: ", ")))")
            }
            let runOnly = runFiles.filter { !resultFiles.isEmpty ? $0 != "config.json" : true }
            if !runOnly.isEmpty {
                // A run without summary.json stopped before its end (interrupted, or failed).
                held.append((runOnly.contains("summary.json") ? "a run" : "an unfinished run") + " (\(runOnly.joined(separator: ", ")))")
            }
            let resumable = runOnly.contains(Checkpoint.folder) && !runOnly.contains("summary.json") && Checkpoint.latest(in: path) != nil
            throw OutputError("--output \(path) already holds \(held.joined(separator: " and ")); "
                + (resumable ? "continue it with --resume \(path), " : "") + "choose another folder or pass --overwrite to replace it")
        }
        for name in runFiles + sweepFiles + resultFiles {
            if name == Checkpoint.folder || name == LeastSquares.weightsFolder {
                do { try fm.removeItem(atPath: (path as NSString).appendingPathComponent(name)) } catch {
                    close(fd)
                    throw OutputError("--output \(path): cannot remove the old \(name) (\(RunDirectory.reason(error)))")
                }
                continue
            }
            if unlink((path as NSString).appendingPathComponent(name)) != 0 {
                close(fd)
                throw OutputError("--output \(path): cannot remove the old \(name) (\(String(cString: strerror(errno))))")
            }
        }
        for name in runFolders {
            do {
                try fm.removeItem(atPath: (path as NSString).appendingPathComponent(name))
            } catch {
                close(fd)
                throw OutputError("--output \(path): cannot remove the old \(name) (\(RunDirectory.reason(error)))")
            }
        }
    }

    /// Claims the folder of an unfinished (or finished) run to continue it from a checkpoint (it must hold the run's
    /// `config.json`), or of a sweep (`summary.csv`); nothing is removed.
    /// - Throws: `OutputError` if the folder does not exist, holds no run, or is in use.
    public init(resuming path: String, sweep: Bool = false) throws(OutputError) {
        let what = sweep ? "sweep" : "run"
        guard !path.isEmpty else { throw OutputError("--resume must name a \(what) folder") }
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw OutputError("--resume \(path) is not a folder; name the --output folder of the \(what) to continue")
        }
        let marker = sweep ? "summary.csv" : "config.json"
        guard FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(marker)) else {
            throw OutputError("--resume \(path) holds no \(what) (no \(marker)); name the --output folder of the \(what) to continue")
        }
        let lockPath = (path as NSString).appendingPathComponent(".aimc-dist.lock")
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputError("--resume \(path) is not writable (\(String(cString: strerror(errno))))") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            throw OutputError("--resume \(path) is in use by another aimc-dist run")
        }
        lock = fd
    }

    deinit { close(lock) }

    /// Files are written by path: before each write, the folder must still hold this run's lock file (the same
    /// file, not one a later run made in a folder recreated under the same name), so that a folder removed or
    /// replaced mid-run is reported instead of receiving part of this run's results next to another's.
    func requireOwnFolder() throws(OutputError) {
        var mine = stat(), there = stat()
        let lockPath = (path as NSString).appendingPathComponent(".aimc-dist.lock")
        guard fstat(lock, &mine) == 0, mine.st_nlink > 0, stat(lockPath, &there) == 0,
              there.st_dev == mine.st_dev, there.st_ino == mine.st_ino else {
            throw OutputError("--output \(path) was removed or replaced while this run was writing it; its results are not there "
                + "(what it printed above is its record)")
        }
    }

    /// The `run-NNN` folders of a sweep in `path`, sorted.
    public static func runFolders(in path: String) -> [String] {
        let fm = FileManager.default
        return ((try? fm.contentsOfDirectory(atPath: path)) ?? []).filter { name in
            var isDir: ObjCBool = false
            return name.hasPrefix("run-") && name.count > 4 && name.dropFirst(4).allSatisfy { $0.isASCII && $0.isNumber }
                && fm.fileExists(atPath: (path as NSString).appendingPathComponent(name), isDirectory: &isDir) && isDir.boolValue
        }.sorted()
    }

    static func reason(_ error: Error) -> String {
        let e = error as NSError
        if let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return e.localizedDescription
    }

    /// Writes `data` to `name` atomically (temporary file in the same folder, then rename); the temporary file
    /// is removed if anything fails.
    public func write(_ name: String, _ data: Data) throws(OutputError) {
        try requireOwnFolder()
        try RunDirectory.writeAtomically(data, to: (path as NSString).appendingPathComponent(name))
    }

    /// Writes `data` to `final` through a temporary file in the same folder and a rename, so readers see the old
    /// file or the new one, never half of one.
    public static func writeAtomically(_ data: Data, to final: String) throws(OutputError) {
        let folder = RunDirectory.parent(of: final)
        let temporary = (folder as NSString).appendingPathComponent(".\((final as NSString).lastPathComponent).partial")
        // POSIX calls, so that a failure names the system's reason (a full disk, a file-size limit).
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OutputError("cannot write \(final) (\(String(cString: strerror(errno))))") }
        var failure: Int32 = 0
        data.withUnsafeBytes { bytes in
            var done = 0
            while done < bytes.count {
                let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
                if n > 0 { done += n; continue }
                if n < 0 && errno == EINTR { continue }
                failure = n < 0 ? errno : ENOSPC
                return
            }
        }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw OutputError("cannot write \(final) (\(String(cString: strerror(failure))))")
        }
        if rename(temporary, final) != 0 {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw OutputError("cannot write \(final) (\(why))")
        }
    }

    public func write(_ name: String, text: String) throws(OutputError) { try write(name, Data(text.utf8)) }

    /// Removes `name` if it is there.
    public func remove(_ name: String) throws(OutputError) {
        try requireOwnFolder()
        let file = (path as NSString).appendingPathComponent(name)
        if unlink(file) != 0 && errno != ENOENT { throw OutputError("cannot remove \(file) (\(String(cString: strerror(errno))))") }
    }

    /// Starts `metrics.csv` with its header.
    public func startMetrics() throws(OutputError) { try write("metrics.csv", text: RunDirectory.metricsHeader) }

    /// Appends one epoch's row to `metrics.csv` with a single write.
    public func appendMetrics(_ m: EpochMetrics) throws(OutputError) {
        try append("metrics.csv", RunDirectory.metricsRow(m))
    }

    /// Appends `text` to `name` (which must exist) whole or not at all: a write that stops short (a full disk
    /// writes what fits, then fails) is cut back to the file's previous end, so the file never ends in half a row.
    public func append(_ name: String, _ text: String) throws(OutputError) {
        try requireOwnFolder()
        let file = (path as NSString).appendingPathComponent(name)
        let fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw OutputError("cannot append to \(file) (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        let end = lseek(fd, 0, SEEK_END)
        let row = Array(text.utf8)
        var done = 0
        var failure: Int32 = 0
        while done < row.count {
            let n = row.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n > 0 { done += n; continue }
            if n < 0 && errno == EINTR { continue }
            failure = n < 0 ? errno : ENOSPC  // a write of 0 bytes to a regular file: no room
            break
        }
        if done < row.count {
            if done > 0 && end >= 0 { _ = ftruncate(fd, end) }
            throw OutputError("cannot append to \(file) (\(String(cString: strerror(failure))))")
        }
    }

    /// One row: numbers in Swift's shortest round-trip form, so equal doubles give equal text.
    public static func metricsRow(_ m: EpochMetrics) -> String {
        "\(m.epoch),\(m.trainLoss),\(m.testAccuracy),\(String(format: "%.3f", m.seconds)),\(m.testLoss),\(m.trainAccuracy)\n"
    }

    /// The whole metrics file for `rows`.
    public static func metricsCSV(_ rows: [EpochMetrics]) -> String {
        rows.reduce(metricsHeader) { $0 + metricsRow($1) }
    }
}
