import CZlib
import Crypto
import Foundation

/// A failure to read or write a NumPy file: the path and what is wrong.
public struct NPYError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// NumPy's `.npy` format (version 1.0: magic, header dict, raw little-endian C-order data), so that weights and
/// checkpoints load with `numpy.load` and nothing of ours. Arrays are written and read straight from and into their
/// storage, in chunks, with the SHA-256 of the whole file computed on the way (checkpoint manifests keep it).
public enum NPY {
    /// The element types used: Float32 weights, Float64 and Int64 for exact scalars.
    public enum DType: String, Sendable {
        case float32 = "<f4", float64 = "<f8", int64 = "<i8"
        public var size: Int { self == .float32 ? 4 : 8 }
    }

    /// A file's header: element type and shape (C order).
    public struct Header: Sendable, Equatable {
        public var dtype: DType
        public var shape: [Int]
        public var count: Int { shape.reduce(1, *) }
        public var byteCount: Int { count * dtype.size }
        public init(dtype: DType, shape: [Int]) {
            self.dtype = dtype
            self.shape = shape
        }
    }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY

    /// The header bytes: magic, version 1.0, length, then the dict padded with spaces and a newline to a multiple of
    /// 64 bytes (what numpy writes).
    public static func headerBytes(_ h: Header) -> [UInt8] {
        let shape = h.shape.count == 1 ? "(\(h.shape[0]),)" : "(" + h.shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(h.dtype.rawValue)', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = magic.count + 4 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let n = UInt16(dict.utf8.count)
        return magic + [1, 0, UInt8(n & 0xff), UInt8(n >> 8)] + Array(dict.utf8)
    }

    /// Parses a header from the start of `bytes`; returns it and its length in bytes.
    /// - Throws: `NPYError` for anything but a little-endian, C-order float32, float64 or int64 array.
    public static func parseHeader(_ bytes: [UInt8], path: String) throws(NPYError) -> (Header, Int) {
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw NPYError("\(path) is not a NumPy .npy file (no \\x93NUMPY magic)") }
        let major = bytes[6]
        let (length, start): (Int, Int)
        switch major {
        case 1: (length, start) = (Int(bytes[8]) | Int(bytes[9]) << 8, 10)
        case 2, 3:
            guard bytes.count >= 12 else { throw NPYError("\(path): truncated .npy header") }
            (length, start) = (Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24, 12)
        default: throw NPYError("\(path): .npy format version \(major) is not supported")
        }
        guard length <= 65_536, bytes.count >= start + length else { throw NPYError("\(path): truncated .npy header") }
        let text = String(decoding: bytes[start..<(start + length)], as: UTF8.self)
        func field(_ name: String) -> String? {
            guard let r = text.range(of: "'\(name)':") else { return nil }
            return String(text[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descr = field("descr"), let q1 = descr.firstIndex(of: "'"),
              let q2 = descr[descr.index(after: q1)...].firstIndex(of: "'") else { throw NPYError("\(path): .npy header has no descr") }
        let code = String(descr[descr.index(after: q1)..<q2])
        let dtype: DType
        switch code {
        case "<f4", "f4": dtype = .float32
        case "<f8", "f8": dtype = .float64
        case "<i8", "i8": dtype = .int64
        default: throw NPYError("\(path) holds elements of type \(code); expected float32 (<f4), float64 (<f8) or int64 (<i8)")
        }
        guard let order = field("fortran_order"), order.hasPrefix("False") else {
            throw NPYError("\(path) is stored in Fortran order; save it with numpy.ascontiguousarray")
        }
        guard let shapeText = field("shape"), let open = shapeText.firstIndex(of: "("), let close = shapeText.firstIndex(of: ")") else {
            throw NPYError("\(path): .npy header has no shape")
        }
        let parts = shapeText[shapeText.index(after: open)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape = [Int]()
        for p in parts {
            guard let v = Int(p), v >= 0 else { throw NPYError("\(path): .npy shape \(shapeText) is not a list of sizes") }
            shape.append(v)
        }
        let (count, overflow) = shape.reduce((1, false)) { acc, v in
            let (m, o) = acc.0.multipliedReportingOverflow(by: v)
            return (m, acc.1 || o)
        }
        guard !overflow, count <= Int.max / 8 else { throw NPYError("\(path): .npy shape \(shape) is too large") }
        return (Header(dtype: dtype, shape: shape), start + length)
    }

    /// Writes an array to `path` (created or truncated), flushed to the device (fsync) before returning when `sync`.
    /// - Parameters:
    ///   - data: `header.byteCount` bytes of little-endian elements in C order.
    /// - Returns: the SHA-256 (hex) of the whole file and its size in bytes.
    @discardableResult
    public static func write(_ header: Header, data: UnsafeRawBufferPointer, to path: String, sync: Bool = true) throws(NPYError) -> (sha256: String, bytes: Int) {
        precondition(data.count == header.byteCount)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw NPYError("cannot write \(path) (\(String(cString: strerror(errno))))") }
        var hash = SHA256()
        let head = headerBytes(header)
        do throws(NPYError) {
            let failure = head.withUnsafeBytes { h -> NPYError? in
                do throws(NPYError) { try writeAll(fd, h, path); return nil } catch { return error }
            }
            if let failure { throw failure }
            hash.update(data: head)
            var offset = 0
            while offset < data.count {
                let chunk = UnsafeRawBufferPointer(rebasing: data[offset..<min(offset + chunkBytes, data.count)])
                try writeAll(fd, chunk, path)
                hash.update(bufferPointer: chunk)
                offset += chunk.count
            }
            if sync && fsync(fd) != 0 { throw NPYError("cannot write \(path) (\(String(cString: strerror(errno))))") }
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        close(fd)
        return (hex(hash.finalize()), head.count + data.count)
    }

    /// Float32 values as a .npy file of `shape` (see `write(_:data:to:)`).
    @discardableResult
    public static func write(_ values: UnsafePointer<Float>, shape: [Int], to path: String, sync: Bool = true) throws(NPYError) -> (sha256: String, bytes: Int) {
        let h = Header(dtype: .float32, shape: shape)
        return try write(h, data: UnsafeRawBufferPointer(start: values, count: h.byteCount), to: path, sync: sync)
    }

    static let chunkBytes = 1 << 24

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ path: String) throws(NPYError) {
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n > 0 { done += n; continue }
            if n < 0 && errno == EINTR { continue }
            throw NPYError("cannot write \(path) (\(String(cString: strerror(n < 0 ? errno : ENOSPC))))")
        }
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Reads the header of the .npy file at `path`.
    public static func header(of path: String) throws(NPYError) -> Header {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NPYError("cannot read \(path) (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var first = [UInt8](repeating: 0, count: 4096)
        let n = first.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress!, $0.count) }
        return try parseHeader(Array(first.prefix(max(n, 0))), path: path).0
    }

    /// Reads the .npy file at `path` into `destination`, which must hold exactly the file's data, after checking
    /// that its header is `expected` and its length matches.
    /// - Returns: the SHA-256 (hex) of the whole file.
    /// - Throws: `NPYError` for a missing, truncated or mismatched file.
    @discardableResult
    public static func read(_ path: String, expecting expected: Header, into destination: UnsafeMutableRawBufferPointer) throws(NPYError) -> String {
        precondition(destination.count == expected.byteCount)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw NPYError("cannot read \(path) (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw NPYError("cannot read \(path) (\(String(cString: strerror(errno))))") }
        var first = [UInt8](repeating: 0, count: min(4096, Int(st.st_size)))
        guard (first.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress!, $0.count) }) == first.count else {
            throw NPYError("cannot read \(path) (\(String(cString: strerror(errno))))")
        }
        let (h, headerLength) = try parseHeader(first, path: path)
        guard h == expected else {
            throw NPYError("\(path) holds a \(h.dtype.rawValue) array of shape \(h.shape); expected \(expected.dtype.rawValue) of shape \(expected.shape)")
        }
        guard Int(st.st_size) == headerLength + h.byteCount else {
            throw NPYError("\(path) is \(st.st_size) bytes; a \(h.shape) array needs \(headerLength + h.byteCount) (truncated or corrupt)")
        }
        var hash = SHA256()
        hash.update(data: first[0..<headerLength])
        guard lseek(fd, off_t(headerLength), SEEK_SET) == off_t(headerLength) else { throw NPYError("cannot read \(path)") }
        var offset = 0
        while offset < destination.count {
            let want = min(chunkBytes, destination.count - offset)
            let n = Foundation.read(fd, destination.baseAddress! + offset, want)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw NPYError("\(path) ends early (truncated)") }
            hash.update(bufferPointer: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(destination)[offset..<(offset + n)]))
            offset += n
        }
        return hex(hash.finalize())
    }

    /// An array read whole into memory (small arrays: problems for least squares, tests).
    public struct Contents: Sendable {
        public let header: Header
        public let bytes: [UInt8]

        /// The elements as Double (float32, float64 and int64 convert exactly).
        public var doubles: [Double] {
            bytes.withUnsafeBytes { raw in
                (0..<header.count).map { i -> Double in
                    switch header.dtype {
                    case .float32: return Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian))
                    case .float64: return Double(bitPattern: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).littleEndian)
                    case .int64: return Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                    }
                }
            }
        }
    }

    /// Parses a whole .npy file held in memory (`name` names it in errors).
    public static func parse(_ bytes: [UInt8], name: String) throws(NPYError) -> Contents {
        let (h, length) = try parseHeader(bytes, path: name)
        guard bytes.count == length + h.byteCount else {
            throw NPYError("\(name) is \(bytes.count) bytes; a \(h.shape) array needs \(length + h.byteCount) (truncated or corrupt)")
        }
        return Contents(header: h, bytes: Array(bytes[length...]))
    }
}

/// NumPy's `.npz` archives (`numpy.savez`, stored; `numpy.savez_compressed`, deflated): a zip file of `.npy`
/// members, read through zlib.
public enum NPZ {
    /// Largest archive read whole (least-squares problems are small).
    public static let maximumBytes = 1 << 31

    /// The arrays of the archive at `path`, by member name without `.npy`.
    /// - Throws: `NPYError` for a file that is not a zip archive of .npy members, or uses a zip feature numpy does
    ///   not write (encryption, multi-disk archives, compression other than deflate).
    public static func read(_ path: String) throws(NPYError) -> [String: NPY.Contents] {
        let data: [UInt8]
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let size = attributes[.size] as? Int, size > maximumBytes { throw NPYError("\(path) is larger than \(maximumBytes >> 20) MiB") }
            data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let e as NPYError {
            throw e
        } catch {
            throw NPYError("cannot read \(path) (\(RunDirectory.reason(error)))")
        }
        func u16(_ o: Int) -> Int { Int(data[o]) | Int(data[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        // The end-of-central-directory record: the last PK\5\6 within the final 64 KiB + 22 bytes.
        var end = -1
        var o = data.count - 22
        while o >= max(0, data.count - 65_557) {
            if data[o] == 0x50 && data[o + 1] == 0x4B && data[o + 2] == 5 && data[o + 3] == 6 { end = o; break }
            o -= 1
        }
        guard end >= 0 else { throw NPYError("\(path) is not a NumPy .npz archive (no zip directory); save it with numpy.savez") }
        let entries = u16(end + 10), directory = u32(end + 16)
        var arrays = [String: NPY.Contents]()
        var p = directory
        for _ in 0..<entries {
            guard p + 46 <= data.count, u32(p) == 0x0201_4B50 else { throw NPYError("\(path): corrupt zip directory") }
            let method = u16(p + 10), crc = u32(p + 16), compressed = u32(p + 20), size = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32), local = u32(p + 42)
            guard p + 46 + nameLength <= data.count else { throw NPYError("\(path): corrupt zip directory") }
            let name = String(decoding: data[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            p += 46 + nameLength + extraLength + commentLength
            if compressed == 0xFFFF_FFFF || size == 0xFFFF_FFFF { throw NPYError("\(path): member \(name) is a zip64 entry (larger than 4 GiB); not supported") }
            guard local + 30 <= data.count, u32(local) == 0x0403_4B50 else { throw NPYError("\(path): corrupt zip entry \(name)") }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard start + compressed <= data.count else { throw NPYError("\(path): member \(name) is truncated") }
            let raw = Array(data[start..<(start + compressed)])
            let bytes: [UInt8]
            switch method {
            case 0: bytes = raw
            case 8: bytes = try inflate(raw, size: size, name: "\(path):\(name)")
            default: throw NPYError("\(path): member \(name) uses zip compression method \(method); save with numpy.savez or savez_compressed")
            }
            // Stored members have no other check, and raw deflate none of its own: the zip's CRC-32 catches a corrupt member.
            guard Int(bytes.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) }) == crc else {
                throw NPYError("\(path): member \(name) fails its CRC-32 check (corrupt file)")
            }
            let key = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            arrays[key] = try NPY.parse(bytes, name: "\(path):\(name)")
        }
        return arrays
    }

    /// Raw deflate (zip method 8) through zlib.
    static func inflate(_ input: [UInt8], size: Int, name: String) throws(NPYError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: max(size, 1))
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { throw NPYError("\(name): zlib failed") }
        defer { inflateEnd(&stream) }
        var input = input
        let status = input.withUnsafeMutableBufferPointer { i in
            output.withUnsafeMutableBufferPointer { o in
                stream.next_in = i.baseAddress
                stream.avail_in = uInt(i.count)
                stream.next_out = o.baseAddress
                stream.avail_out = uInt(o.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == size else { throw NPYError("\(name): corrupt deflate data") }
        return Array(output.prefix(size))
    }
}
