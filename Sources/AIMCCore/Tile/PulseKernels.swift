import CPulseKernels

/// The instruction set of the pulse kernels (the C module CPulseKernels: SSE2 for any x86-64, AVX2, AVX-512; the
/// widest the CPU runs is chosen, `AIMC_KERNEL_ISA=sse2|avx2|avx512` asks for a narrower one). Every instruction set
/// computes the same bits; selecting one only changes the speed.
public enum KernelInstructionSet: Int32, CaseIterable, Sendable {
    case sse2 = 0, avx2 = 1, avx512 = 2

    /// The one in use.
    public static var current: KernelInstructionSet { KernelInstructionSet(rawValue: aimc_kernel_isa()) ?? .sse2 }

    /// Whether this CPU runs it.
    public var isSupported: Bool { aimc_kernel_isa_supported(rawValue) != 0 }

    /// Uses this instruction set from now on (for tests and benchmarks); false (and no change) if the CPU cannot.
    @discardableResult public func select() -> Bool { aimc_kernel_select(rawValue) != 0 }

    public var name: String { String(cString: aimc_kernel_isa_name(rawValue)) }
}

extension AnalogArray {
    /// For tests: when true, the affine families (constant step, soft bounds, linear step) run through the Swift
    /// line loop instead of the C kernel (the results are the same bits; the tests check it).
    public static var swiftLoopForAffineFamilies: Bool {
        get { LineScratch.forceSwiftLoop }
        set { LineScratch.forceSwiftLoop = newValue }
    }
}
