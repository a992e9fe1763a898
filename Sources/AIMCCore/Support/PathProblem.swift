import Foundation

/// Why a path named on the command line or in a configuration cannot be used, in words a user can act on: a symbolic
/// link loop is named as such, not reported as a missing file.
public enum PathProblem {
    /// Why `path` cannot be reached, or nil if it can (stat succeeds; it may still be the wrong kind of file).
    ///
    /// - "does not exist"; "is a symbolic link to <target>, which does not exist"; "is a loop of symbolic links
    ///   (following them never ends; a link points back at itself or at another link of the loop)"; "cannot be
    ///   reached: permission denied on a folder of its path"; "does not exist: a part of its path is a file, not a
    ///   folder"; "is longer than the system allows"; otherwise the system's words (strerror).
    public static func describe(_ path: String) -> String? {
        var st = stat()
        if stat(path, &st) == 0 { return nil }
        let code = errno
        switch code {
        case ENOENT:
            var link = stat()
            if lstat(path, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
                return "is a symbolic link to \(target), which does not exist"
            }
            return "does not exist"
        case ELOOP:
            return "is a loop of symbolic links (following them never ends: a link points back at itself or at another link of the loop)"
        case EACCES:
            return "cannot be reached: permission denied on a folder of its path"
        case ENOTDIR:
            return "does not exist: a part of its path is a file, not a folder"
        case ENAMETOOLONG:
            return "is longer than the system allows for a path (\(PATH_MAX) bytes, or 255 per name)"
        default:
            return String(cString: strerror(code))
        }
    }
}
