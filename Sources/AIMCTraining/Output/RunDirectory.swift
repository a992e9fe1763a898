import Foundation

/// A failure to write the run directory.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The folder a run leaves behind: `config.json` (the resolved configuration), `metrics.csv` (one row per
/// epoch) and `summary.json`. Every file is written whole to a temporary name and renamed into place, so a
/// killed run never leaves a half-written file.
public struct RunDirectory: Sendable {
    public let path: String

    /// Creates the folder (and parents).
    /// - Throws: `OutputError` if it cannot be created, or if it already holds a run and `overwrite` is false.
    public init(path: String, overwrite: Bool) throws(OutputError) {
        self.path = path
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw OutputError("--output \(path) exists and is not a folder") }
            if !overwrite && fm.fileExists(atPath: (path as NSString).appendingPathComponent("metrics.csv")) {
                throw OutputError("--output \(path) already holds a run (metrics.csv); choose another folder or pass --overwrite")
            }
        } else {
            do {
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw OutputError("--output \(path) cannot be created: \(error.localizedDescription)")
            }
        }
        guard fm.isWritableFile(atPath: path) else { throw OutputError("--output \(path) is not writable") }
    }

    /// Writes `data` to `name` atomically (temporary file in the same folder, then rename).
    public func write(_ name: String, _ data: Data) throws(OutputError) {
        let final = (path as NSString).appendingPathComponent(name)
        let temporary = (path as NSString).appendingPathComponent(".\(name).partial")
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, final) != 0 {
                throw OutputError("cannot rename \(temporary) to \(final): \(String(cString: strerror(errno)))")
            }
        } catch let e as OutputError {
            throw e
        } catch {
            unlink(temporary)
            throw OutputError("cannot write \(final): \(error.localizedDescription)")
        }
    }

    public func write(_ name: String, text: String) throws(OutputError) { try write(name, Data(text.utf8)) }

    /// The metrics file: header and one row per epoch. Numbers are printed in Swift's shortest round-trip form,
    /// so equal doubles give equal text.
    public static func metricsCSV(_ rows: [EpochMetrics]) -> String {
        var s = "epoch,train_loss,test_accuracy,seconds,test_loss,train_accuracy\n"
        for m in rows {
            s += "\(m.epoch),\(m.trainLoss),\(m.testAccuracy),\(String(format: "%.3f", m.seconds)),\(m.testLoss),\(m.trainAccuracy)\n"
        }
        return s
    }
}
