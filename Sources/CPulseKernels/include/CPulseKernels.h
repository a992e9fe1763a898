/*
 * CPulseKernels: the hot loops of the pulsed update, written with clang vector extensions and compiled three times
 * (SSE2 for any x86-64, AVX2, AVX-512); the widest one the CPU supports is chosen at run time. Every variant computes
 * the same IEEE single-precision operations in the same order (no fused multiply-add: contraction is off in every
 * file; no approximate reciprocals; no library calls), so the results are the same bits on every x86-64 CPU.
 * The tests run each variant the machine supports on the same inputs and compare the bits.
 *
 * Conventions: a "chunk" is 32 consecutive positions of a row's processing order; the normals of a chunk at pulse
 * step k come from one "entry" of 8 Philox4x32-10 blocks. See AIMCCore/README.md for the keying.
 */
#ifndef CPULSE_KERNELS_H
#define CPULSE_KERNELS_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction sets of the kernels.
enum { AIMC_ISA_SSE2 = 0, AIMC_ISA_AVX2 = 1, AIMC_ISA_AVX512 = 2 };

/// The instruction set in use: the widest the CPU supports, unless AIMC_KERNEL_ISA (sse2, avx2, avx512) asks for a
/// narrower one.
int aimc_kernel_isa(void);
/// Whether this CPU can run the variant `isa`.
int aimc_kernel_isa_supported(int isa);
/// Selects the variant `isa` (for tests and benchmarks); returns 0 if the CPU cannot run it (nothing changes).
int aimc_kernel_select(int isa);
/// "sse2", "avx2" or "avx512".
const char *aimc_kernel_isa_name(int isa);

/// A Philox4x32-10 stream: key (key0, key1) and the counter words c1, c2, c3; word c0 is the block index.
typedef struct {
    uint32_t key0, key1, c1, c2, c3;
} aimc_stream;

/// `count` Philox4x32-10 blocks with c0 = first, first + 1, ...: out[4b + r] is word r of block b (for tests).
void aimc_philox_blocks(aimc_stream s, uint32_t first, int count, uint32_t *out);

/// Standard normals of `entries` entries. Entry e takes the 8 blocks c0 = first + 8e + l (l = 0..7); its 32 normals
/// are z[32e + 8r + l], r = 0..3: Box-Muller on the block's words (w0, w1) gives r = 0 (cosine) and r = 1 (sine),
/// on (w2, w3) r = 2 and r = 3. Radius sqrt(-2 ln u), u = (floor(w/2) + 1/2) 2^-31; angle (pi/2)(q + f) with the
/// quadrant q from the top two bits and f from the next 24; the largest |z| is sqrt(64 ln 2) = 6.66.
void aimc_normals(aimc_stream s, uint32_t first, int entries, float *z);

/// Per-array parameters of the affine response families (constant step, soft bounds, linear step) as
/// DeviceModel.cell derives a device from its draws; `slot[k]` is the compact-storage slot of normal k (gain, b_max,
/// b_min, asymmetry, up_down, gamma_up, gamma_down, symmetric point) or -1 when that spread is 0.
typedef struct {
    float base;        /* dw_min times the tile gain */
    float dwDtod, wMax, wMin, wMaxDtod, wMinDtod, rangeScale;
    float asymmetry, asymmetryDtod, upDown, upDownDtod;
    float gammaUp, gammaDown, gammaDtod;
    float symmetricPointDtod, tileShift, sigma;
    int32_t family;    /* 0 constant step, 1 soft bounds, 2 linear step */
    int32_t additive;  /* cycle-to-cycle form: 1 additive, 0 multiplicative */
    int32_t meanBoundReference;
    int32_t noisy;     /* 0: no cycle-to-cycle noise (no normals are drawn) */
    int32_t slot[8];
} aimc_affine_device;

/// Counts of one row's pulses.
typedef struct {
    uint64_t coincidences, clipped;
} aimc_pulse_counts;

/// Device records: each device's stored normals (those whose spread is not 0), as 16-bit integers in units of 2^-12,
/// slot s at bytes 2s and 2s + 1 of the device's record of 4 (1-2 slots), 8 (3-4 slots) or 12 (5-6 slots) bytes.

/// Pulses of one line (a row, or a column) of an array of an affine family.
///
/// Given position q (0 <= q < count) is the device at offset cols[q]; it receives n_q = popcount(dBits & xBits[q])
/// pulses (xBits non-null: coincidences of Bernoulli trains) or counts[q] pulses (n_q <= 32), all down when
/// negative[q] != flip, else all up, one by one: each with its own normal, the response at the current state, and
/// clipping to the device's bounds. The devices with pulses are processed in decreasing n, ties in the given order
/// (the others are left out); pulse k of the device at place t of that order takes normal (t mod 32) of entry k of
/// chunk t / 32, i.e. a normal of the blocks firstBlock + 256 (t / 32) + 8k + l (see aimc_normals).
/// w: the line's states (indexed by cols[q]); records: the line's device records (indexed likewise; recordBytes 0
/// when no normal is stored); width > 0: the line is the contiguous devices 0 ..< width (copied in order first),
/// 0: any offsets. Adds the coincidences and the pulses cut by a bound to `out`. Its scratch,
/// aimc_affine_row_scratch(count, width, recordBytes) bytes, is one buffer per thread (kept until the thread ends).
void aimc_affine_row(const aimc_affine_device *device, float *w, const uint8_t *records, int recordBytes, int width,
                     const int32_t *cols, const uint32_t *xBits, const uint8_t *counts, uint32_t dBits,
                     const uint8_t *negative, uint8_t flip, int count, aimc_stream s, uint32_t firstBlock,
                     aimc_pulse_counts *out);

/// Bytes of scratch aimc_affine_row uses for `count` positions of a line of `width` contiguous devices.
static inline long aimc_affine_row_scratch(int count, int width, int recordBytes) {
    return 29L * ((count + 31) & ~31) + (4L + recordBytes) * width + 256;
}

/// The rule of a rank-one pulsed update (AnalogArray.pulsedUpdate; aihwkit's update BL management and update
/// management): learning rate, the nominal dw_min, desired_bl, and the two management switches (0 or 1).
typedef struct {
    float lr, dwMin;
    int32_t desiredBL, blManagement, updateManagement;
} aimc_update_rule;

/// Counts of rank-one pulsed updates (AIMCCore's PulseStatistics): updates requested, pulse slots driven, devices
/// visited (both trains non-zero), pulses fired, pulses cut by a bound.
typedef struct {
    uint64_t updates, slots, visited, coincidences, clipped;
} aimc_update_counts;

/// `count` rank-one pulsed updates of an array of an affine family, applied in turn, each as AnalogArray.pulsedUpdate
/// applies it (the same operations, streams and order): update u requests -lr d_u x_u^T with x_u = x + u ldx (cols
/// values) and d_u = d + u ldd (rows values); its trains are drawn from the stream `trains` with counter word
/// c3 = trains.c3 + u from word 0, and its cycle-to-cycle normals from the pulse streams of the stream `noise` with
/// c3 = noise.c3 + u at word 0 (RandomStream.pulseStream). state and records: the array's states and device records
/// (rows x cols, row-major; rows cols <= 2^31 - 1). Adds the updates' counts to *out.
void aimc_affine_updates(const aimc_affine_device *device, float *state, const uint8_t *records, int recordBytes, int rows,
                         int cols, const float *x, long ldx, const float *d, long ldd, int count, const aimc_update_rule *rule,
                         aimc_stream trains, aimc_stream noise, aimc_update_counts *out);

/// Asks the CPU to load `bytes` bytes from p into its caches (for the next row while this one is computed).
void aimc_prefetch(const void *p, long bytes);

/// Decoded parameters of `count` consecutive devices (records first ..< first + count), 12 floats each in DeviceCell
/// order: scaleUp, scaleDown, wMax, wMin, normUp, normDown, shapeUp, shapeDown, shift, aux, noise, dw.
void aimc_affine_cells(const aimc_affine_device *device, const uint8_t *records, int recordBytes, long first, int count,
                       float *out);


/* ---- Sequential draws of a keyed stream (AIMCCore's RandomStream: word r of block c0 is word 4 c0 + r) ---- */

/// Standard normals by the 256-layer ziggurat's fast path (RandomStream.nextNormal), one word each, from word
/// `position` on: word w gives layer w & 255, sign bit 8 and the 23-bit magnitude w >> 9; when the magnitude is below
/// threshold[layer] the normal is magnitude * width[layer] (negated when the sign bit is set). Stops after `count`
/// normals or before the first word that needs the slow path (the caller draws that one); returns how many it wrote.
int aimc_ziggurat(aimc_stream s, uint64_t position, int count, const uint32_t *threshold, const float *width, float *out);

/// Words of scratch aimc_trains uses for `count` values and trains of `length` slots.
#define AIMC_TRAIN_WORDS(count, length) ((long)(count) * (long)(length) + 160L)

/// Bernoulli pulse trains of `length` slots (1...32; AnalogArray.makeTrains): value j with v_j != 0 and finite and
/// p_j = |v_j| scale fires in every slot when p_j >= 1; when p_j < 1 it takes the next `length` words of the stream
/// (from word `position` on) and slot k fires when word k is below floor(p_j 2^32). The non-zero trains are written in
/// index order to index, bits (slot k = bit k), negative (v_j < 0); returns how many; *consumed gets the words taken.
int aimc_trains(const float *values, int count, float scale, int length, aimc_stream s, uint64_t position,
                int32_t *index, uint32_t *bits, uint8_t *negative, uint64_t *consumed);

/* ---- The elementwise steps of an analog read (AIMCCore's Periphery) ---- */

/// A converter (Quantiser): levels = 1 / (2 bound resolution), or 0 (no quantisation); fast: round half to even by
/// the float-add trick (levels > 0 and bound levels < 2^20; the kernels handle only fast or levels 0).
typedef struct {
    float levels, bound;
    int32_t fast;
} aimc_quantiser;

/// max_j |x_j| over count values (NaN never wins; 0 for none).
float aimc_abs_max(const float *x, int count);

/// DAC: v_j = clip(quantise(x_j * inv)); returns how many inputs were clipped.
int aimc_dac(const float *x, int count, float inv, const aimc_quantiser *q, float *v);

/// Noise management and DAC of `batch` vectors (vector b at x + b stride): scales[b] = max |x| (managed) or 1, and
/// the DAC of x_b * (1 / scales[b]) (0 for a scale of 0) at v + b count; returns how many inputs were clipped.
int aimc_dac_batch(const float *x, int stride, int count, int batch, int managed, const aimc_quantiser *q, float *scales,
                   float *v);

/// ADC: out_i = clip(quantise(y_i + sigma z_i)) (z null: y_i); returns how many outputs saturated (beyond the bound
/// before clipping). out may be y.
int aimc_adc(const float *y, const float *z, float sigma, int count, const aimc_quantiser *q, float *out);

/// The ziggurat's tables (AIMCCore's Ziggurat): per layer the fast-path threshold and width, and f(X[k]) for k <= 256.
typedef struct {
    const uint32_t *threshold;
    const float *width;
    const double *f;
} aimc_ziggurat_tables;

/// The output stage of `batch` analog reads (Periphery.multiply after the products W v, bound-management repeats
/// aside): row b of out (nOut values) is 0 when managed and scales[b] is 0; else out_b = ADC(raw_b + sigma z_b) with z_b
/// the first nOut normals of stream b (sigma > 0: s with counter word c2 = s.c2 + b, from word 0, as
/// RandomStream.fill(normals:) draws them, slow path included), then times scales[b] (when it is not 1) unless the ADC
/// saturated and rounds > 1 (the caller repeats that read with bound management). clipped[b] gets the outputs the ADC
/// saturated in row b. q must be a kernel converter (fast, or no quantisation).
void aimc_read_outputs(const float *raw, int batch, int nOut, const float *scales, int managed, int rounds, float sigma,
                       aimc_stream s, const aimc_ziggurat_tables *t, const aimc_quantiser *q, float *out, int32_t *clipped);

/* ---- Activations (AIMCCore's Elementary: computed in Double, rounded once; the same bits as its Swift forms) ---- */

/// values[i] = tanh(values[i]) for i < count (Elementary.tanh).
void aimc_tanh(float *values, long count);

/// values[i] = 1 / (1 + e^-values[i]) for i < count (Elementary.sigmoid).
void aimc_sigmoid(float *values, long count);

/* ---- Matrix products (AIMCCore's Linear: the same summation order, so the same bits as its Swift kernels) ---- */

/// y[b ldy + i] = sum_j w[i ldw + j] x[b ldx + j] for i < rows, b < batch (all > 0), in Linear's lane order: lane l
/// (0..<16) sums the products l, l + 16, ... in order from +0, then the lanes are added as a tree (l + 8 into l, then
/// l + 4, l + 2, l + 1).
void aimc_row_dots(int rows, int cols, const float *w, long ldw, int batch, const float *x, long ldx, float *y, long ldy);

/// y[b ldy + j] = sum_i x[b ldx + i] w[i ldw + j] for j < cols, b < batch (all > 0), each sum sequential in i from +0:
/// W^T x in Linear's order (the rows of W combined with the entries of x as coefficients).
void aimc_combine_rows(int rows, int cols, const float *w, long ldw, int batch, const float *x, long ldx, float *y, long ldy);

#ifdef __cplusplus
}
#endif
#endif
