/*
 * The three variants of the kernels (see include/CPulseKernels.h) and the run-time choice between them.
 * Contraction of a * b + c into a fused multiply-add is off for the whole file: a fused result is rounded once,
 * the separate one twice, and the results would differ between CPUs with and without FMA.
 */
#pragma clang fp contract(off)
#pragma clang fp exceptions(ignore)
/* The SSE2 variant passes 256-bit vectors between its own static functions: no ABI crosses a library boundary. */
#pragma clang diagnostic ignored "-Wpsabi"
#include "CPulseKernels.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* Words of the output-noise streams of one group of reads (ReadBody.h). */
#define READ_WORDS 4096
/* Scratch of the rank-one updates (UpdateBody.h): the trains of x (cols) and d (rows), the offsets of a line's
 * positions, the train forming's words and temporaries, the line kernel's scratch. */
typedef struct {
    int32_t *xIndex, *dIndex, *offsets;
    uint32_t *xBits, *dBits, *trainWords, *trainTemp, *trainTempD;
    uint8_t *xNegative, *dNegative;
    void *row;
} update_scratch;

/* ---- SSE2 (every x86-64) or plain C elsewhere ---- */
#define VARIANT(name) sse2_##name
#define VW 8
/* Stores the lanes of idx where m is set, in lane order, at out (which has room for VW); returns how many. */
#define COMPRESS(m, idx, out) ({ int _n = 0; for (int _l = 0; _l < VW; _l++) { (out)[_n] = (idx)[_l]; _n += (m)[_l] != 0; } _n; })
/* Lane l of the result is table[idx[l]] (32-bit entries; T the result's vector type). */
#define GATHER(T, table, idx) ({ T _g; for (int _l = 0; _l < VW; _l++) _g[_l] = (table)[(idx)[_l]]; _g; })
/* Bit l set where lane l of m (a 32-bit comparison result) is set. */
#define MASKBITS(m) ({ unsigned _b = 0; for (int _l = 0; _l < VW; _l++) _b |= (unsigned)((m)[_l] != 0) << _l; _b; })
/* Floats 0 ..< n (< VW) of p in lanes 0 ..< n, the others 0; lanes 0 ..< n of v stored to p. */
#define LOADPART(p, n) ({ f32v _v = (f32v)0.0f; for (int _l = 0; _l < (n); _l++) _v[_l] = (p)[_l]; _v; })
#define STOREPART(p, v, n) do { for (int _l = 0; _l < (n); _l++) (p)[_l] = (v)[_l]; } while (0)
/* The largest pulse count a line sorts by compressing passes (one per count) rather than by counting. */
#define COMPRESS_PASSES 1
/* Lanes l where bit l of the mask m is set take src's lanes 0, 1, ... in order; the others 0. */
#define EXPAND(m, src) ({ u32v _r = 0u; int _k = 0; for (int _l = 0; _l < VW; _l++) if (((m) >> _l) & 1u) _r[_l] = (src)[_k++]; _r; })
#include "KernelBody.h"
#include "StreamBody.h"
#include "PeripheryBody.h"
#include "ActivationBody.h"
#include "MatrixBody.h"
#include "ReadBody.h"
#include "UpdateBody.h"
#undef VARIANT
#undef VW
#undef COMPRESS
#undef GATHER
#undef MASKBITS
#undef LOADPART
#undef STOREPART
#undef COMPRESS_PASSES
#undef EXPAND

#if defined(__x86_64__)
/* ---- AVX2 (no FMA: only the width of the instructions changes) ---- */
/* AVX2's compress and expand by a permutation: for a mask m of 8 lanes, 3 bits per lane k (bits 3k ..< 3k + 3)
 * naming the source lane. Compress: lane k takes the k-th set lane of m (the lanes past popcount(m) take lane 0).
 * Expand: a set lane l takes lane popcount(m & (2^l - 1)) (the clear lanes are zeroed after). */
static const uint32_t avx2_compressOrder[256] = {
    0x000000, 0x000000, 0x000001, 0x000008, 0x000002, 0x000010, 0x000011, 0x000088,
    0x000003, 0x000018, 0x000019, 0x0000c8, 0x00001a, 0x0000d0, 0x0000d1, 0x000688,
    0x000004, 0x000020, 0x000021, 0x000108, 0x000022, 0x000110, 0x000111, 0x000888,
    0x000023, 0x000118, 0x000119, 0x0008c8, 0x00011a, 0x0008d0, 0x0008d1, 0x004688,
    0x000005, 0x000028, 0x000029, 0x000148, 0x00002a, 0x000150, 0x000151, 0x000a88,
    0x00002b, 0x000158, 0x000159, 0x000ac8, 0x00015a, 0x000ad0, 0x000ad1, 0x005688,
    0x00002c, 0x000160, 0x000161, 0x000b08, 0x000162, 0x000b10, 0x000b11, 0x005888,
    0x000163, 0x000b18, 0x000b19, 0x0058c8, 0x000b1a, 0x0058d0, 0x0058d1, 0x02c688,
    0x000006, 0x000030, 0x000031, 0x000188, 0x000032, 0x000190, 0x000191, 0x000c88,
    0x000033, 0x000198, 0x000199, 0x000cc8, 0x00019a, 0x000cd0, 0x000cd1, 0x006688,
    0x000034, 0x0001a0, 0x0001a1, 0x000d08, 0x0001a2, 0x000d10, 0x000d11, 0x006888,
    0x0001a3, 0x000d18, 0x000d19, 0x0068c8, 0x000d1a, 0x0068d0, 0x0068d1, 0x034688,
    0x000035, 0x0001a8, 0x0001a9, 0x000d48, 0x0001aa, 0x000d50, 0x000d51, 0x006a88,
    0x0001ab, 0x000d58, 0x000d59, 0x006ac8, 0x000d5a, 0x006ad0, 0x006ad1, 0x035688,
    0x0001ac, 0x000d60, 0x000d61, 0x006b08, 0x000d62, 0x006b10, 0x006b11, 0x035888,
    0x000d63, 0x006b18, 0x006b19, 0x0358c8, 0x006b1a, 0x0358d0, 0x0358d1, 0x1ac688,
    0x000007, 0x000038, 0x000039, 0x0001c8, 0x00003a, 0x0001d0, 0x0001d1, 0x000e88,
    0x00003b, 0x0001d8, 0x0001d9, 0x000ec8, 0x0001da, 0x000ed0, 0x000ed1, 0x007688,
    0x00003c, 0x0001e0, 0x0001e1, 0x000f08, 0x0001e2, 0x000f10, 0x000f11, 0x007888,
    0x0001e3, 0x000f18, 0x000f19, 0x0078c8, 0x000f1a, 0x0078d0, 0x0078d1, 0x03c688,
    0x00003d, 0x0001e8, 0x0001e9, 0x000f48, 0x0001ea, 0x000f50, 0x000f51, 0x007a88,
    0x0001eb, 0x000f58, 0x000f59, 0x007ac8, 0x000f5a, 0x007ad0, 0x007ad1, 0x03d688,
    0x0001ec, 0x000f60, 0x000f61, 0x007b08, 0x000f62, 0x007b10, 0x007b11, 0x03d888,
    0x000f63, 0x007b18, 0x007b19, 0x03d8c8, 0x007b1a, 0x03d8d0, 0x03d8d1, 0x1ec688,
    0x00003e, 0x0001f0, 0x0001f1, 0x000f88, 0x0001f2, 0x000f90, 0x000f91, 0x007c88,
    0x0001f3, 0x000f98, 0x000f99, 0x007cc8, 0x000f9a, 0x007cd0, 0x007cd1, 0x03e688,
    0x0001f4, 0x000fa0, 0x000fa1, 0x007d08, 0x000fa2, 0x007d10, 0x007d11, 0x03e888,
    0x000fa3, 0x007d18, 0x007d19, 0x03e8c8, 0x007d1a, 0x03e8d0, 0x03e8d1, 0x1f4688,
    0x0001f5, 0x000fa8, 0x000fa9, 0x007d48, 0x000faa, 0x007d50, 0x007d51, 0x03ea88,
    0x000fab, 0x007d58, 0x007d59, 0x03eac8, 0x007d5a, 0x03ead0, 0x03ead1, 0x1f5688,
    0x000fac, 0x007d60, 0x007d61, 0x03eb08, 0x007d62, 0x03eb10, 0x03eb11, 0x1f5888,
    0x007d63, 0x03eb18, 0x03eb19, 0x1f58c8, 0x03eb1a, 0x1f58d0, 0x1f58d1, 0xfac688,
};
static const uint32_t avx2_expandOrder[256] = {
    0x000000, 0x000000, 0x000000, 0x000008, 0x000000, 0x000040, 0x000040, 0x000088,
    0x000000, 0x000200, 0x000200, 0x000408, 0x000200, 0x000440, 0x000440, 0x000688,
    0x000000, 0x001000, 0x001000, 0x002008, 0x001000, 0x002040, 0x002040, 0x003088,
    0x001000, 0x002200, 0x002200, 0x003408, 0x002200, 0x003440, 0x003440, 0x004688,
    0x000000, 0x008000, 0x008000, 0x010008, 0x008000, 0x010040, 0x010040, 0x018088,
    0x008000, 0x010200, 0x010200, 0x018408, 0x010200, 0x018440, 0x018440, 0x020688,
    0x008000, 0x011000, 0x011000, 0x01a008, 0x011000, 0x01a040, 0x01a040, 0x023088,
    0x011000, 0x01a200, 0x01a200, 0x023408, 0x01a200, 0x023440, 0x023440, 0x02c688,
    0x000000, 0x040000, 0x040000, 0x080008, 0x040000, 0x080040, 0x080040, 0x0c0088,
    0x040000, 0x080200, 0x080200, 0x0c0408, 0x080200, 0x0c0440, 0x0c0440, 0x100688,
    0x040000, 0x081000, 0x081000, 0x0c2008, 0x081000, 0x0c2040, 0x0c2040, 0x103088,
    0x081000, 0x0c2200, 0x0c2200, 0x103408, 0x0c2200, 0x103440, 0x103440, 0x144688,
    0x040000, 0x088000, 0x088000, 0x0d0008, 0x088000, 0x0d0040, 0x0d0040, 0x118088,
    0x088000, 0x0d0200, 0x0d0200, 0x118408, 0x0d0200, 0x118440, 0x118440, 0x160688,
    0x088000, 0x0d1000, 0x0d1000, 0x11a008, 0x0d1000, 0x11a040, 0x11a040, 0x163088,
    0x0d1000, 0x11a200, 0x11a200, 0x163408, 0x11a200, 0x163440, 0x163440, 0x1ac688,
    0x000000, 0x200000, 0x200000, 0x400008, 0x200000, 0x400040, 0x400040, 0x600088,
    0x200000, 0x400200, 0x400200, 0x600408, 0x400200, 0x600440, 0x600440, 0x800688,
    0x200000, 0x401000, 0x401000, 0x602008, 0x401000, 0x602040, 0x602040, 0x803088,
    0x401000, 0x602200, 0x602200, 0x803408, 0x602200, 0x803440, 0x803440, 0xa04688,
    0x200000, 0x408000, 0x408000, 0x610008, 0x408000, 0x610040, 0x610040, 0x818088,
    0x408000, 0x610200, 0x610200, 0x818408, 0x610200, 0x818440, 0x818440, 0xa20688,
    0x408000, 0x611000, 0x611000, 0x81a008, 0x611000, 0x81a040, 0x81a040, 0xa23088,
    0x611000, 0x81a200, 0x81a200, 0xa23408, 0x81a200, 0xa23440, 0xa23440, 0xc2c688,
    0x200000, 0x440000, 0x440000, 0x680008, 0x440000, 0x680040, 0x680040, 0x8c0088,
    0x440000, 0x680200, 0x680200, 0x8c0408, 0x680200, 0x8c0440, 0x8c0440, 0xb00688,
    0x440000, 0x681000, 0x681000, 0x8c2008, 0x681000, 0x8c2040, 0x8c2040, 0xb03088,
    0x681000, 0x8c2200, 0x8c2200, 0xb03408, 0x8c2200, 0xb03440, 0xb03440, 0xd44688,
    0x440000, 0x688000, 0x688000, 0x8d0008, 0x688000, 0x8d0040, 0x8d0040, 0xb18088,
    0x688000, 0x8d0200, 0x8d0200, 0xb18408, 0x8d0200, 0xb18440, 0xb18440, 0xd60688,
    0x688000, 0x8d1000, 0x8d1000, 0xb1a008, 0x8d1000, 0xb1a040, 0xb1a040, 0xd63088,
    0x8d1000, 0xb1a200, 0xb1a200, 0xd63408, 0xb1a200, 0xd63440, 0xd63440, 0xfac688,
};
#define AVX2_ORDER(entry) _mm256_srlv_epi32(_mm256_set1_epi32((int)(entry)), _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21))
#pragma clang attribute push(__attribute__((target("avx2,popcnt"))), apply_to = function)
#define VARIANT(name) avx2_##name
#define VW 8
/* By a permutation from the tables above, then a whole store (out has room for VW). */
#define COMPRESS(m, idx, out) ({ const unsigned _k = (unsigned)_mm256_movemask_ps((__m256)(m)); \
    _mm256_storeu_si256((__m256i *)(void *)(out), _mm256_permutevar8x32_epi32((__m256i)(idx), AVX2_ORDER(avx2_compressOrder[_k]))); \
    __builtin_popcount(_k); })
#define GATHER(T, table, idx) ((T)_mm256_i32gather_epi32((const int *)(const void *)(table), (__m256i)(idx), 4))
#define MASKBITS(m) ((unsigned)_mm256_movemask_ps((__m256)(m)))
#define LOADPART(p, n) ((f32v)_mm256_maskload_ps((p), (__m256i)(VARIANT(lanes)() < (uint32_t)(n))))
#define STOREPART(p, v, n) _mm256_maskstore_ps((p), (__m256i)(VARIANT(lanes)() < (uint32_t)(n)), (__m256)(v))
#define COMPRESS_PASSES 4
/* Lanes l where bit l of the mask m is set take src's lanes 0, 1, ... in order (a permutation from the tables above);
 * the others 0. */
#define EXPAND(m, src) ({ const unsigned _e = (m); \
    (u32v)_mm256_and_si256(_mm256_permutevar8x32_epi32((__m256i)(src), AVX2_ORDER(avx2_expandOrder[_e])), \
                           (__m256i)(((1u << VARIANT(lanes)()) & _e) != 0u)); })
#include "KernelBody.h"
#include "StreamBody.h"
#include "PeripheryBody.h"
#include "ActivationBody.h"
#include "MatrixBody.h"
#include "ReadBody.h"
#include "UpdateBody.h"
#undef VARIANT
#undef VW
#undef COMPRESS
#undef GATHER
#undef MASKBITS
#undef LOADPART
#undef STOREPART
#undef COMPRESS_PASSES
#undef EXPAND
#undef AVX2_ORDER
#pragma clang attribute pop

/* ---- AVX-512 (F, VL, BW, DQ, VPOPCNTDQ) ---- */
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx512vpopcntdq,avx2,popcnt"))), \
                             apply_to = function)
#define VARIANT(name) avx512_##name
#define VW 16
/* The compress instruction in its register form (its memory form is slow on some CPUs), then a whole store. */
#define COMPRESS(m, idx, out) ({ __mmask16 _k = _mm512_movepi32_mask((__m512i)(m)); \
    _mm512_storeu_si512((out), _mm512_maskz_compress_epi32(_k, (__m512i)(idx))); __builtin_popcount((unsigned)_k); })
#define GATHER(T, table, idx) ((T)_mm512_i32gather_epi32((__m512i)(idx), (const void *)(table), 4))
#define MASKBITS(m) ((unsigned)_mm512_movepi32_mask((__m512i)(m)))
#define LOADPART(p, n) ((f32v)_mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1u), (p)))
#define STOREPART(p, v, n) _mm512_mask_storeu_ps((p), (__mmask16)((1u << (n)) - 1u), (__m512)(v))
#define COMPRESS_PASSES 4
#define EXPAND(m, src) ((u32v)_mm512_maskz_expand_epi32((__mmask16)(m), (__m512i)(src)))
#include "KernelBody.h"
#include "StreamBody.h"
#include "PeripheryBody.h"
#include "ActivationBody.h"
#include "MatrixBody.h"
#include "ReadBody.h"
#include "UpdateBody.h"
#undef VARIANT
#undef VW
#undef COMPRESS
#undef GATHER
#undef MASKBITS
#undef LOADPART
#undef STOREPART
#undef COMPRESS_PASSES
#undef EXPAND
#pragma clang attribute pop
#endif

/* ---- Choice ---- */

static int supported(int isa) {
    if (isa == AIMC_ISA_SSE2) return 1;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (isa == AIMC_ISA_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    if (isa == AIMC_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vpopcntdq") && supported(AIMC_ISA_AVX2);
#endif
    return 0;
}

static int selected = -1;

static int choose(void) {
    int best = supported(AIMC_ISA_AVX512) ? AIMC_ISA_AVX512 : supported(AIMC_ISA_AVX2) ? AIMC_ISA_AVX2 : AIMC_ISA_SSE2;
    const char *asked = getenv("AIMC_KERNEL_ISA");
    if (asked) {
        for (int isa = AIMC_ISA_SSE2; isa <= AIMC_ISA_AVX512; isa++)
            if (strcmp(asked, aimc_kernel_isa_name(isa)) == 0 && isa < best) best = isa;
    }
    return best;
}

int aimc_kernel_isa(void) {
    int s = __atomic_load_n(&selected, __ATOMIC_RELAXED);
    if (s < 0) {
        s = choose();
        __atomic_store_n(&selected, s, __ATOMIC_RELAXED);
    }
    return s;
}

int aimc_kernel_isa_supported(int isa) { return isa >= AIMC_ISA_SSE2 && isa <= AIMC_ISA_AVX512 && supported(isa); }

int aimc_kernel_select(int isa) {
    if (!aimc_kernel_isa_supported(isa)) return 0;
    __atomic_store_n(&selected, isa, __ATOMIC_RELAXED);
    return 1;
}

const char *aimc_kernel_isa_name(int isa) {
    switch (isa) {
    case AIMC_ISA_AVX2: return "avx2";
    case AIMC_ISA_AVX512: return "avx512";
    default: return "sse2";
    }
}

#if defined(__x86_64__)
#define DISPATCH(name, ...)                                                                                             \
    switch (aimc_kernel_isa()) {                                                                                       \
    case AIMC_ISA_AVX512: avx512_##name(__VA_ARGS__); break;                                                           \
    case AIMC_ISA_AVX2: avx2_##name(__VA_ARGS__); break;                                                               \
    default: sse2_##name(__VA_ARGS__); break;                                                                          \
    }
#else
#define DISPATCH(name, ...) sse2_##name(__VA_ARGS__);
#endif

void aimc_philox_blocks(aimc_stream s, uint32_t first, int count, uint32_t *out) { DISPATCH(philoxBlocks, s, first, count, out) }

void aimc_normals(aimc_stream s, uint32_t first, int entries, float *z) { DISPATCH(normals, s, first, entries, z) }

/* Scratch: buffers per thread (0 the line kernel's, 1 the train forming's, 2 the padded row tails of W x, 3 the
 * output stage of reads, 4 the rank-one updates'), grown as needed, freed when the thread ends. */
enum { SCRATCH_BUFFERS = 5 };
static pthread_key_t scratchKey;
static pthread_once_t scratchOnce = PTHREAD_ONCE_INIT;
typedef struct { void *p; long bytes; } scratch_t;
static void scratchFree(void *s) {
    scratch_t *t = s;
    for (int k = 0; k < SCRATCH_BUFFERS; k++) free(t[k].p);
    free(s);
}
static void scratchInit(void) { pthread_key_create(&scratchKey, scratchFree); }

static void *scratchFor(int which, long bytes) {
    pthread_once(&scratchOnce, scratchInit);
    scratch_t *all = pthread_getspecific(scratchKey);
    if (!all) {
        all = calloc(SCRATCH_BUFFERS, sizeof(scratch_t));
        if (!all) abort();
        pthread_setspecific(scratchKey, all);
    }
    scratch_t *s = all + which;
    if (s->bytes < bytes) {
        free(s->p);
        long size = (bytes + 4095) & ~4095L;
        s->p = aligned_alloc(64, (size_t)size);
        if (!s->p) abort();
        s->bytes = size;
    }
    return s->p;
}

void aimc_affine_row(const aimc_affine_device *device, float *w, const uint8_t *records, int recordBytes, int width,
                     const int32_t *cols, const uint32_t *xBits, const uint8_t *counts, uint32_t dBits,
                     const uint8_t *negative, uint8_t flip, int count, aimc_stream s, uint32_t firstBlock,
                     aimc_pulse_counts *out) {
    void *scratch = scratchFor(0, aimc_affine_row_scratch(count, width, recordBytes));
    DISPATCH(row, device, w, records, recordBytes, width, cols, xBits, counts, dBits, negative, flip, count, s, firstBlock,
             scratch, out)
}

void aimc_affine_cells(const aimc_affine_device *device, const uint8_t *records, int recordBytes, long first, int count,
                       float *out) {
    DISPATCH(cellsOut, device, records, recordBytes, first, count, out)
}

void aimc_prefetch(const void *p, long bytes) {
    for (long off = 0; off < bytes; off += 64) __builtin_prefetch((const char *)p + off, 1, 3);
}

#if defined(__x86_64__)
#define DISPATCH_RETURN(name, ...)                                                                                      \
    switch (aimc_kernel_isa()) {                                                                                       \
    case AIMC_ISA_AVX512: return avx512_##name(__VA_ARGS__);                                                           \
    case AIMC_ISA_AVX2: return avx2_##name(__VA_ARGS__);                                                               \
    default: return sse2_##name(__VA_ARGS__);                                                                          \
    }
#else
#define DISPATCH_RETURN(name, ...) return sse2_##name(__VA_ARGS__);
#endif

int aimc_ziggurat(aimc_stream s, uint64_t position, int count, const uint32_t *threshold, const float *width, float *out) {
    DISPATCH_RETURN(ziggurat, s, position, count, threshold, width, out)
}

int aimc_trains(const float *values, int count, float scale, int length, aimc_stream s, uint64_t position,
                int32_t *index, uint32_t *bits, uint8_t *negative, uint64_t *consumed) {
    uint32_t *scratch = scratchFor(1, 4L * (AIMC_TRAIN_WORDS(count, length) + 3L * (count + 16)));
    uint32_t *temp = scratch + AIMC_TRAIN_WORDS(count, length);
    DISPATCH_RETURN(trains, values, count, scale, length, s, position, index, bits, negative, consumed, scratch, temp)
}

float aimc_abs_max(const float *x, int count) { DISPATCH_RETURN(absMax, x, count) }

int aimc_dac(const float *x, int count, float inv, const aimc_quantiser *q, float *v) { DISPATCH_RETURN(dac, x, count, inv, q, v) }

int aimc_dac_batch(const float *x, int stride, int count, int batch, int managed, const aimc_quantiser *q, float *scales,
                   float *v) {
    DISPATCH_RETURN(dacBatch, x, stride, count, batch, managed, q, scales, v)
}

int aimc_adc(const float *y, const float *z, float sigma, int count, const aimc_quantiser *q, float *out) {
    DISPATCH_RETURN(adc, y, z, sigma, count, q, out)
}

void aimc_tanh(float *values, long count) { DISPATCH(activation, values, count, 0) }

void aimc_sigmoid(float *values, long count) { DISPATCH(activation, values, count, 1) }

void aimc_combine_rows(int rows, int cols, const float *w, long ldw, int batch, const float *x, long ldx, float *y, long ldy) {
    DISPATCH(combineRows, rows, cols, w, ldw, batch, x, ldx, y, ldy)
}

void aimc_row_dots(int rows, int cols, const float *w, long ldw, int batch, const float *x, long ldx, float *y, long ldy) {
    float *tails = (cols & 15) ? scratchFor(2, 64L * rows) : 0;
    DISPATCH(rowDots, rows, cols, w, ldw, batch, x, ldx, y, ldy, tails)
}

void aimc_read_outputs(const float *raw, int batch, int nOut, const float *scales, int managed, int rounds, float sigma,
                       aimc_stream s, const aimc_ziggurat_tables *t, const aimc_quantiser *q, float *out, int32_t *clipped) {
    /* Words of a group (READ_WORDS, or one stream's), 5 vectors of padding at the widest width, the normals, the slow
     * flags. */
    const long per = 4L * ((nOut + 3) / 4);
    const long words = (per >= READ_WORDS ? per : READ_WORDS) + 5 * 16;
    void *scratch = scratchFor(3, 8L * ((nOut >> 6) + 1) + 4 * words + 4L * (nOut + 16));
    DISPATCH(readOutputs, raw, batch, nOut, scales, managed, rounds, sigma, s, t->threshold, t->width, t->f, q, out, clipped,
             scratch)
}

void aimc_affine_updates(const aimc_affine_device *device, float *state, const uint8_t *records, int recordBytes, int rows,
                         int cols, const float *x, long ldx, const float *d, long ldd, int count, const aimc_update_rule *rule,
                         aimc_stream trains, aimc_stream noise, aimc_update_counts *out) {
    /* One buffer: the line kernel's scratch, the trains' words (of x and d) and temporaries, the offsets, the trains
     * of x and d. */
    const int wide = rows > cols ? rows : cols;
    const long rowBytes = (aimc_affine_row_scratch(wide, wide, recordBytes) + 63) & ~63L;
    const long words = AIMC_TRAIN_WORDS(rows + cols, 32), temp = 3L * (rows + cols + 32);
    char *p = scratchFor(4, rowBytes + 4 * (words + temp) + 4L * wide + 9L * (rows + cols));
    update_scratch sc;
    sc.row = p;
    sc.trainWords = (uint32_t *)(p + rowBytes);
    sc.trainTemp = sc.trainWords + words;
    sc.trainTempD = sc.trainTemp + 3L * (cols + 16);
    sc.offsets = (int32_t *)(sc.trainTemp + temp);
    sc.xIndex = sc.offsets + wide;
    sc.dIndex = sc.xIndex + cols;
    sc.xBits = (uint32_t *)(sc.dIndex + rows);
    sc.dBits = sc.xBits + cols;
    sc.xNegative = (uint8_t *)(sc.dBits + rows);
    sc.dNegative = sc.xNegative + cols;
    DISPATCH(updates, device, state, records, recordBytes, rows, cols, x, ldx, d, ldd, count, rule, trains, noise, &sc, out)
}
