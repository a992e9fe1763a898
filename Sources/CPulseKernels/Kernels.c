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
#pragma clang attribute push(__attribute__((target("avx2,popcnt"))), apply_to = function)
#define VARIANT(name) avx2_##name
#define VW 8
#define COMPRESS(m, idx, out) ({ int _n = 0; for (int _l = 0; _l < VW; _l++) { (out)[_n] = (idx)[_l]; _n += (m)[_l] != 0; } _n; })
#define GATHER(T, table, idx) ((T)_mm256_i32gather_epi32((const int *)(const void *)(table), (__m256i)(idx), 4))
#define MASKBITS(m) ((unsigned)_mm256_movemask_ps((__m256)(m)))
#define LOADPART(p, n) ((f32v)_mm256_maskload_ps((p), (__m256i)(VARIANT(lanes)() < (uint32_t)(n))))
#define STOREPART(p, v, n) _mm256_maskstore_ps((p), (__m256i)(VARIANT(lanes)() < (uint32_t)(n)), (__m256)(v))
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
