// CPU feature detection for aimc-dist's kernel dispatch (see Sources/AIMCCore/Support/Linear.swift).
#ifndef AIMC_CPU_FEATURES_H
#define AIMC_CPU_FEATURES_H

/// 1 if the CPU executes AVX2 and the operating system saves the AVX registers (CPUID leaf 7 EBX bit 5, leaf 1 ECX
/// bits 27 OSXSAVE and 28 AVX, XCR0 bits 1-2), else 0.
int aimc_cpu_has_avx2(void);

#endif
