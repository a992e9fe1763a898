import CZlib
import Foundation

/// NumPy files for tests, written and read here independently of the simulator's own reader and writer (so that each
/// checks the other): `.npy` arrays (format 1.0) and `.npz` archives as `numpy.savez` writes them (a zip file of
/// stored `.npy` members, each with its CRC-32 from zlib).
public enum NumPyFiles {
    /// A `.npy` file's bytes: `values` in C order as `dtype` ("<f4", "<f8" or "<i8"; other strings are written into
    /// the header as given, with 8-byte elements, to make bad files), `shape` as given.
    public static func npy(_ values: [Double], shape: [Int], dtype: String = "<f8", fortranOrder: Bool = false) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(dtype)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
        dict += String(repeating: " ", count: (64 - (10 + dict.utf8.count + 1) % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(dict.utf8.count & 0xFF), UInt8(dict.utf8.count >> 8)] + Array(dict.utf8)
        for v in values {
            switch dtype {
            case "<f4": withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { out += $0 }
            case "<i8": withUnsafeBytes(of: Int64(v).littleEndian) { out += $0 }
            default: withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 }
            }
        }
        return out
    }

    /// A zip archive of stored (uncompressed) members, as `numpy.savez` writes: local headers, data, central
    /// directory, end record.
    public static func zip(_ members: [(name: String, bytes: [UInt8])]) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func u32(_ v: Int) -> [UInt8] { u16(v & 0xFFFF) + u16(v >> 16 & 0xFFFF) }
        var out = [UInt8](), directory = [UInt8]()
        for (name, bytes) in members {
            let crc = Int(bytes.withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) })
            let nameBytes = Array(name.utf8)
            // version 2.0, no flags, method 0 (stored), time 0, date 1980-01-01, CRC, sizes, name length, no extra.
            let common = u16(20) + u16(0) + u16(0) + u16(0) + u16(0x21) + u32(crc) + u32(bytes.count) + u32(bytes.count) + u16(nameBytes.count)
            directory += u32(0x0201_4B50) + u16(20) + common + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) + u32(out.count) + nameBytes
            out += u32(0x0403_4B50) + common + u16(0) + nameBytes + bytes
        }
        let start = out.count
        out += directory
        out += u32(0x0605_4B50) + u16(0) + u16(0) + u16(members.count) + u16(members.count) + u32(directory.count) + u32(start) + u16(0)
        return out
    }

    /// Writes an `.npz` of the named `.npy` members (names without `.npy`).
    public static func writeNPZ(_ arrays: [(name: String, npy: [UInt8])], to path: String) throws {
        try Data(zip(arrays.map { ($0.name + ".npy", $0.npy) })).write(to: URL(fileURLWithPath: path))
    }

    /// Reads a little-endian float32 or float64 `.npy` file (C order): its dtype, shape and values.
    public static func readNPY(_ path: String) throws -> (dtype: String, shape: [Int], values: [Double]) {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard bytes.count >= 10, bytes[0] == 0x93, bytes[6] == 1 else { throw CocoaError(.fileReadCorruptFile) }
        let length = Int(bytes[8]) | Int(bytes[9]) << 8
        let header = String(decoding: bytes[10..<(10 + length)], as: UTF8.self)
        func after(_ key: String) -> Substring? { header.range(of: "'\(key)': ").map { header[$0.upperBound...] } }
        guard let descr = after("descr")?.dropFirst().prefix(3), let shapeText = after("shape"),
              let close = shapeText.firstIndex(of: ")"), after("fortran_order")?.hasPrefix("False") == true else {
            throw CocoaError(.fileReadCorruptFile)
        }
        let shape = shapeText.dropFirst()[..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *), data = Array(bytes[(10 + length)...])
        let size = descr == "<f4" ? 4 : 8
        guard descr == "<f4" || descr == "<f8", data.count == count * size else { throw CocoaError(.fileReadCorruptFile) }
        let values = data.withUnsafeBytes { raw in
            (0..<count).map { i in
                size == 4 ? Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
                    : Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
            }
        }
        return (String(descr), shape, values)
    }
}
