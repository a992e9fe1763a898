/*
 * The kernels for one instruction set: included by Kernels.c once per variant, with
 *   VARIANT(name)  the variant's function name,
 *   VW             the vector width in floats (8 for SSE2 and AVX2, 16 for AVX-512).
 * Every floating-point expression is the same in all variants; the file is compiled with contraction off.
 */

typedef float VARIANT(f32v) __attribute__((ext_vector_type(VW)));
typedef int32_t VARIANT(i32v) __attribute__((ext_vector_type(VW)));
typedef uint32_t VARIANT(u32v) __attribute__((ext_vector_type(VW)));
typedef uint64_t VARIANT(u64v) __attribute__((ext_vector_type(VW)));
#define f32v VARIANT(f32v)
#define i32v VARIANT(i32v)
#define u32v VARIANT(u32v)
#define u64v VARIANT(u64v)

/* Philox4x32-10 on VW blocks (Random123's rounds and key schedule), counter words c0 and c2 lane by lane (c1 and c3
 * from s). The state is kept in 64-bit lanes whose upper halves are ignored: the multiplication reads the low 32 bits
 * only. */
static inline __attribute__((always_inline)) void VARIANT(philoxLanes)(u32v c0, u32v c2, aimc_stream s, u32v *o) {
    u64v x0 = __builtin_convertvector(c0, u64v), x1 = (u64v)(uint64_t)s.c1, x2 = __builtin_convertvector(c2, u64v);
    u64v x3 = (u64v)(uint64_t)s.c3;
#pragma clang loop unroll(full)
    for (uint32_t r = 0; r < 10; r++) {
        u64v p0 = (x0 & 0xFFFFFFFFull) * 0xD2511F53ull, p1 = (x2 & 0xFFFFFFFFull) * 0xCD9E8D57ull;
        x0 = (p1 >> 32) ^ x1 ^ (uint64_t)(uint32_t)(s.key0 + r * 0x9E3779B9u);
        x1 = p1;
        x2 = (p0 >> 32) ^ x3 ^ (uint64_t)(uint32_t)(s.key1 + r * 0xBB67AE85u);
        x3 = p0;
    }
    o[0] = __builtin_convertvector(x0 & 0xFFFFFFFFull, u32v);
    o[1] = __builtin_convertvector(x1 & 0xFFFFFFFFull, u32v);
    o[2] = __builtin_convertvector(x2 & 0xFFFFFFFFull, u32v);
    o[3] = __builtin_convertvector(x3 & 0xFFFFFFFFull, u32v);
}

/* Philox4x32-10 on VW blocks of the stream s (counter words c1, c2, c3 from s), block c0 lane by lane. */
static inline __attribute__((always_inline)) void VARIANT(philox)(u32v c0, aimc_stream s, u32v *o) {
    VARIANT(philoxLanes)(c0, (u32v)s.c2, s, o);
}

/* ln u for u in [2^-32, 1]: exponent and mantissa m in [sqrt(1/2), sqrt(2)), Cephes' logf polynomial in m - 1. */
static inline __attribute__((always_inline)) f32v VARIANT(log)(f32v u) {
    u32v b = (u32v)u;
    f32v e = __builtin_convertvector((i32v)(b >> 23) - 126, f32v);
    f32v m = (f32v)((b & 0x807FFFFFu) | 0x3F000000u);
    i32v small = m < 0.70710678118654752440f;
    e = small ? e - 1.0f : e;
    m = small ? m + m : m;
    f32v x = m - 1.0f, z = x * x;
    f32v y = 7.0376836292E-2f * x - 1.1514610310E-1f;
    y = y * x + 1.1676998740E-1f;
    y = y * x - 1.2420140846E-1f;
    y = y * x + 1.4249322787E-1f;
    y = y * x - 1.6668057665E-1f;
    y = y * x + 2.0000714765E-1f;
    y = y * x - 2.4999993993E-1f;
    y = y * x + 3.3333331174E-1f;
    y = y * x * z;
    y = y + -2.12194440e-4f * e;
    y = y - 0.5f * z;
    return x + y + 0.693359375f * e;
}

/* Box-Muller: two normals from two words. Angle = quadrant (top two bits of b) + phi, phi uniform in (-pi/4, pi/4)
 * from the next 24 bits; sin and cos of phi by Cephes' polynomials; the quadrant swaps and negates them. */
static inline __attribute__((always_inline)) void VARIANT(boxMuller)(u32v a, u32v b, f32v *z0, f32v *z1) {
    f32v u = (__builtin_convertvector((i32v)(a >> 1), f32v) + 0.5f) * 0x1p-31f;
    f32v r = __builtin_elementwise_sqrt(-2.0f * VARIANT(log)(u));
    f32v phi = (__builtin_convertvector(((i32v)(b << 2)) >> 8, f32v) + 0.5f) * 0x1.921FB6p-24f;
    f32v z = phi * phi;
    f32v sn = -1.9515295891E-4f * z + 8.3321608736E-3f;
    sn = sn * z - 1.6666654611E-1f;
    sn = sn * z * phi + phi;
    f32v cs = 2.443315711809948E-5f * z - 1.388731625493765E-3f;
    cs = cs * z + 4.166664568298827E-2f;
    cs = cs * z * z - 0.5f * z + 1.0f;
    u32v q = b >> 30;
    i32v swap = ((i32v)(q << 31)) >> 31;
    f32v first = swap ? sn : cs, second = swap ? cs : sn;
    u32v signA = ((q ^ (q >> 1)) & 1u) << 31, signB = (q >> 1) << 31;
    *z0 = (f32v)((u32v)(r * first) ^ signA);
    *z1 = (f32v)((u32v)(r * second) ^ signB);
}

static inline __attribute__((always_inline)) u32v VARIANT(lanes)(void) {
    u32v l;
    for (int i = 0; i < VW; i++) l[i] = (uint32_t)i;
    return l;
}

/* Normals of a list of entries: entry e takes the blocks first[e] + l (l = 0..7) and writes its 32 normals at
 * z[e][8r + l]. With 16 lanes two entries share a vector, whichever chunks they belong to. */
static void VARIANT(normalsList)(aimc_stream s, const uint32_t *first, float *const *z, int entries) {
    const u32v lanes = VARIANT(lanes)();
    const int per = VW / 8;    /* entries per vector */
    for (int e = 0; e < entries; e += per) {
        u32v base;
        for (int l = 0; l < VW; l++) {
            const int h = l / 8;
            base[l] = first[e + h < entries ? e + h : e];
        }
        u32v w[4];
        VARIANT(philox)((lanes & 7u) + base, s, w);
        f32v n[4];
        VARIANT(boxMuller)(w[0], w[1], &n[0], &n[1]);
        VARIANT(boxMuller)(w[2], w[3], &n[2], &n[3]);
        for (int r = 0; r < 4; r++) {
#if VW == 16
            typedef float f8 __attribute__((ext_vector_type(8)));
            const f8 low = __builtin_shufflevector(n[r], n[r], 0, 1, 2, 3, 4, 5, 6, 7);
            const f8 high = __builtin_shufflevector(n[r], n[r], 8, 9, 10, 11, 12, 13, 14, 15);
            __builtin_memcpy(z[e] + 8 * r, &low, 32);
            if (e + 1 < entries) __builtin_memcpy(z[e + 1] + 8 * r, &high, 32);
#else
            __builtin_memcpy(z[e] + 8 * r, &n[r], 32);
#endif
        }
    }
}

static void VARIANT(normals)(aimc_stream s, uint32_t first, int entries, float *z) {
    uint32_t firsts[64];
    float *dst[64];
    for (int e0 = 0; e0 < entries; e0 += 64) {
        const int n = entries - e0 < 64 ? entries - e0 : 64;
        for (int e = 0; e < n; e++) {
            firsts[e] = first + 8u * (uint32_t)(e0 + e);
            dst[e] = z + 32 * (e0 + e);
        }
        VARIANT(normalsList)(s, firsts, dst, n);
    }
}

static void VARIANT(philoxBlocks)(aimc_stream s, uint32_t first, int count, uint32_t *out) {
    const u32v lanes = VARIANT(lanes)();
    for (int b = 0; b < count; b += VW) {
        u32v w[4];
        VARIANT(philox)(lanes + (first + (uint32_t)b), s, w);
        for (int l = 0; l < VW && b + l < count; l++)
            for (int r = 0; r < 4; r++) out[4 * (b + l) + r] = w[r][l];
    }
}

/* Swift's max(x, y) and min(x, y) (y >= x ? y : x, y < x ? y : x): the decode must give DeviceModel.cell's bits. */
#define SMAX(x, y) ((y) >= (x) ? (y) : (x))
#define SMIN(x, y) ((y) < (x) ? (y) : (x))
#define FABS(x) ((f32v)((u32v)(x) & 0x7FFFFFFFu))

typedef struct {
    f32v scaleUp, scaleDown, wMax, wMin, normUp, normDown, shift, noise, dw;
} VARIANT(cells);

/* DeviceModel.cell for the affine families, operation for operation. */
static inline __attribute__((always_inline)) VARIANT(cells) VARIANT(decode)(const aimc_affine_device *d, const f32v *xi) {
    VARIANT(cells) c;
    f32v gain = FABS(1.0f + d->dwDtod * xi[0]);
    f32v bMax = SMAX(FABS(d->wMax * (1.0f + d->wMaxDtod * xi[1])) * d->rangeScale, (f32v)(d->wMax * 1e-6f));
    f32v bMin = -SMAX(FABS(d->wMin * (1.0f + d->wMinDtod * xi[2])) * d->rangeScale, (f32v)((-d->wMin) * 1e-6f));
    f32v a = SMIN(SMAX(d->asymmetry + d->asymmetryDtod * xi[3], (f32v)-0.95f), (f32v)0.95f);
    f32v r = d->upDownDtod * xi[4];
    float ud = d->upDown;
    float upBias = ud > 0 ? 0.0f : ud, downBias = ud > 0 ? -ud : 0.0f;
    c.dw = d->base * gain;
    c.scaleUp = d->base * FABS(gain * (1.0f + a) + upBias + r);
    c.scaleDown = d->base * FABS(gain * (1.0f - a) + downBias - r);
    c.wMax = bMax;
    c.wMin = bMin;
    c.shift = d->symmetricPointDtod * xi[7] + d->tileShift;
    c.noise = d->additive ? d->sigma * c.dw : (f32v)d->sigma;
    if (d->family == 1) {
        c.normUp = 1.0f / bMax;
        c.normDown = 1.0f / -bMin;
    } else if (d->family == 2) {
        f32v gUp = FABS(d->gammaUp + d->gammaDtod * xi[5]);
        f32v gDown = FABS(d->gammaDown + d->gammaDtod * xi[6]);
        f32v refUp = d->meanBoundReference ? (f32v)(d->wMax * d->rangeScale) : bMax;
        f32v refDown = d->meanBoundReference ? (f32v)((-d->wMin) * d->rangeScale) : -bMin;
        c.normUp = gUp / refUp;
        c.normDown = gDown / refDown;
    } else {
        c.normUp = 0.0f;
        c.normDown = 0.0f;
    }
    return c;
}

/* The draws of VW devices from their records split into 64 bits (slots 0-3) and 32 bits (slots 4-5): slot values
 * times 2^-12, 0 for a spread of 0. */
static inline __attribute__((always_inline)) void VARIANT(draws)(const aimc_affine_device *d, u64v lo, u32v hi, f32v *xi) {
    i32v f[6];
    for (int k = 0; k < 4; k++) f[k] = (__builtin_convertvector(lo >> (uint64_t)(16 * k), i32v) << 16) >> 16;
    f[4] = ((i32v)hi << 16) >> 16;
    f[5] = (i32v)hi >> 16;
    for (int k = 0; k < 8; k++) {
        int s = d->slot[k];
        xi[k] = s < 0 ? (f32v)0.0f : __builtin_convertvector(f[s], f32v) * 0x1p-12f;
    }
}

/* Record q (of `bytes` bytes: 0, 4, 8 or 12) as its 64-bit and 32-bit parts. */
static inline __attribute__((always_inline)) void VARIANT(record)(const uint8_t *r, int bytes, uint64_t *lo, uint32_t *hi) {
    uint64_t a = 0;
    uint32_t b = 0;
    if (bytes == 4) {
        uint32_t t;
        __builtin_memcpy(&t, r, 4);
        a = t;
    } else if (bytes >= 8) {
        __builtin_memcpy(&a, r, 8);
        if (bytes == 12) __builtin_memcpy(&b, r + 8, 4);
    }
    *lo = a;
    *hi = b;
}

static void VARIANT(cellsOut)(const aimc_affine_device *d, const uint8_t *records, int bytes, long first, int count, float *out) {
    for (int b = 0; b < count; b += VW) {
        int m = count - b < VW ? count - b : VW;
        u64v lo = 0;
        u32v hi = 0;
        for (int l = 0; l < m; l++) {
            uint64_t x;
            uint32_t y;
            VARIANT(record)(records + (first + b + l) * (long)bytes, bytes, &x, &y);
            lo[l] = x;
            hi[l] = y;
        }
        f32v xi[8];
        VARIANT(draws)(d, lo, hi, xi);
        VARIANT(cells) c = VARIANT(decode)(d, xi);
        for (int l = 0; l < m; l++) {
            float *o = out + 12 * (b + l);
            o[0] = c.scaleUp[l]; o[1] = c.scaleDown[l]; o[2] = c.wMax[l]; o[3] = c.wMin[l];
            o[4] = c.normUp[l]; o[5] = c.normDown[l]; o[6] = 1.0f; o[7] = 1.0f;
            o[8] = c.shift[l]; o[9] = 0.0f; o[10] = c.noise[l]; o[11] = c.dw[l];
        }
    }
}

#define G (32 / VW)

/* The normals a super-chunk's pulses use (aimc_normals' values, computed only where a device with pulses takes them):
 * whole entries e (the 8 blocks first[e] + l, l = 0..7; normal 8r + l at z[e][8r + l]; the second word pair, r = 2
 * and 3, only where pairs[e] is 2), and single blocks b (block blockFirst[b]; its first normal, r = 0, at
 * *blockAt[b]). Box-Muller is computed lane by lane, so a normal is the same bits in any lane arrangement. */
static void VARIANT(normalsSparse)(aimc_stream s, const uint32_t *first, float *const *z, const uint8_t *pairs, int entries,
                                   const uint32_t *blockFirst, float *const *blockAt, int blocks) {
    const u32v lanes = VARIANT(lanes)();
    const int per = VW / 8;    /* entries per vector */
    for (int e = 0; e < entries; e += per) {
        u32v base;
        int both = 0;
        for (int l = 0; l < VW; l++) {
            const int h = l / 8;
            base[l] = first[e + h < entries ? e + h : e];
        }
        for (int h = 0; h < per && e + h < entries; h++) both |= pairs[e + h] > 1;
        u32v w[4];
        VARIANT(philox)((lanes & 7u) + base, s, w);
        f32v n[4];
        VARIANT(boxMuller)(w[0], w[1], &n[0], &n[1]);
        if (both) VARIANT(boxMuller)(w[2], w[3], &n[2], &n[3]);
        for (int r = 0; r < (both ? 4 : 2); r++) {
#if VW == 16
            typedef float f8 __attribute__((ext_vector_type(8)));
            const f8 low = __builtin_shufflevector(n[r], n[r], 0, 1, 2, 3, 4, 5, 6, 7);
            const f8 high = __builtin_shufflevector(n[r], n[r], 8, 9, 10, 11, 12, 13, 14, 15);
            __builtin_memcpy(z[e] + 8 * r, &low, 32);
            if (e + 1 < entries) __builtin_memcpy(z[e + 1] + 8 * r, &high, 32);
#else
            __builtin_memcpy(z[e] + 8 * r, &n[r], 32);
#endif
        }
    }
    for (int b = 0; b < blocks; b += VW) {
        const int m = blocks - b < VW ? blocks - b : VW;
        u32v c0;
        for (int l = 0; l < VW; l++) c0[l] = blockFirst[b + (l < m ? l : 0)];
        u32v w[4];
        VARIANT(philox)(c0, s, w);
        f32v n0, n1;
        VARIANT(boxMuller)(w[0], w[1], &n0, &n1);
        for (int l = 0; l < m; l++) *blockAt[b + l] = n0[l];
    }
}

static void VARIANT(row)(const aimc_affine_device *d, float *wOut, const uint8_t *recordsIn, int bytes, int width,
                         const int32_t *cols, const uint32_t *xBits, const uint8_t *counts, uint32_t dBits,
                         const uint8_t *negative, uint8_t flip, int count, aimc_stream s, uint32_t firstBlock,
                         void *scratch, aimc_pulse_counts *out) {
    float zs[4 * 32 * 32] __attribute__((aligned(64)));
    /* Scratch (padded to whole chunks): for the devices with pulses, in processing order (decreasing count, ties in
     * the given order): record, state, count, direction, offset; the given positions' counts. */
    const int padded = (count + 31) & ~31;
    uint64_t *lo = (uint64_t *)scratch;
    uint32_t *hi = (uint32_t *)(lo + padded);
    float *ws = (float *)(hi + padded);
    int32_t *num = (int32_t *)(ws + padded);
    int32_t *dn = num + padded;
    int32_t *order = dn + padded;
    uint8_t *given = (uint8_t *)(order + padded + 32);
    /* Counts. */
    if (xBits) {
        int q = 0;
        for (; q + VW <= count; q += VW) {
            u32v x;
            __builtin_memcpy(&x, xBits + q, sizeof(u32v));
            const i32v n = (i32v)__builtin_elementwise_popcount(x & dBits);
            for (int l = 0; l < VW; l++) given[q + l] = (uint8_t)n[l];
        }
        for (; q < count; q++) given[q] = (uint8_t)__builtin_popcount(dBits & xBits[q]);
    } else {
        __builtin_memcpy(given, counts, (size_t)count);
    }
    /* Their sum and largest. */
    uint64_t coincidences = 0;
    int top = 0;
    {
        i32v sum = 0, most = 0;
        int q = 0;
        for (; q + VW <= count; q += VW) {
            uint8_t g8[VW];
            __builtin_memcpy(g8, given + q, VW);
            i32v n;
            for (int l = 0; l < VW; l++) n[l] = g8[l];
            sum += n;
            most = n > most ? n : most;
        }
        coincidences = (uint64_t)(uint32_t)__builtin_reduce_add(sum);
        top = __builtin_reduce_max(most);
        for (; q < count; q++) {
            coincidences += given[q];
            top = given[q] > top ? given[q] : top;
        }
    }
    /* The devices with pulses sorted by decreasing count, ties in the given order: for few counts, one compressing pass
     * per count (up to COMPRESS_PASSES of them: the instruction sets whose compress is one instruction take more); else
     * a stable counting sort, in four consecutive parts of the positions with their own histograms and places (four
     * independent chains of increments). The positions without pulses are not listed. */
    int active = 0;
    if (top <= COMPRESS_PASSES) {
        for (int v = top; v >= 1; v--) {
            int q = 0;
            for (; q + VW <= count; q += VW) {
                uint8_t g8[VW];
                __builtin_memcpy(g8, given + q, VW);
                i32v n;
                for (int l = 0; l < VW; l++) n[l] = g8[l];
                active += COMPRESS(n == v, (i32v)VARIANT(lanes)() + q, order + active);
            }
            for (; q < count; q++) {
                order[active] = q;
                active += given[q] == v;
            }
        }
    } else {
        int hist[4][33], place[4][33];
        __builtin_memset(hist, 0, sizeof hist);
        const int part = (count + 3) / 4;
        for (int i = 0; i < part; i++)
            for (int j = 0; j < 4; j++) {
                const int q = j * part + i;
                if (q < count) hist[j][given[q]]++;
            }
        int at = 0;
        for (int v = 32; v >= 0; v--)
            for (int j = 0; j < 4; j++) {
                place[j][v] = at;
                at += hist[j][v];
            }
        active = place[0][0];
        for (int i = 0; i < part; i++)
            for (int j = 0; j < 4; j++) {
                const int q = j * part + i;
                if (q < count) order[place[j][given[q]]++] = q;
            }
    }
    /* A contiguous line (width > 0) with many pulses (at least 4 per device on average) is copied in order first, so
     * the reads in processing order hit the cache (a cache optimisation only: the results are the same). */
    float *w = wOut;
    const uint8_t *records = recordsIn;
    const int copied = width > 0 && coincidences >= 4 * (uint64_t)width;
    if (copied) {
        w = (float *)(given + padded);
        uint8_t *r = (uint8_t *)(w + width);
        __builtin_memcpy(w, wOut, 4L * width);
        if (bytes > 0) __builtin_memcpy(r, recordsIn, (long)bytes * width);
        records = r;
    }
    for (int t = 0; t < active; t++) {
        const int q = order[t];
        num[t] = given[q];
        dn[t] = negative[q] != flip ? -1 : 0;
        order[t] = cols[q];    /* from here on: the device's offset */
    }
    if (bytes == 8) {
        for (int t = 0; t < active; t++) {
            const int32_t c = order[t];
            ws[t] = w[c];
            __builtin_memcpy(lo + t, records + 8L * c, 8);
            hi[t] = 0;
        }
    } else {
        for (int t = 0; t < active; t++) {
            const int32_t c = order[t];
            ws[t] = w[c];
            VARIANT(record)(records + (long)c * bytes, bytes, lo + t, hi + t);
        }
    }
    const int activePadded = (active + 31) & ~31;
    for (int t = active; t < activePadded; t++) {
        ws[t] = 0.0f;
        lo[t] = 0;
        hi[t] = 0;
        num[t] = 0;
        dn[t] = 0;
    }
    i32v clipped = 0;
    const int mode = !d->noisy ? 0 : d->additive ? 1 : 2;
    /* Super-chunks of SC chunks: the pulses of their SC 32 / VW groups are interleaved step by step, so the dependent
     * chain of one device's pulses overlaps with the other groups'. A group takes part in the steps below its largest
     * count (the counts decrease along a chunk); groups without a device with pulses are not decoded. */
    enum { SC = 4 };
    float *z = zs;
    for (int first = 0; first < active; first += 32 * SC) {
        i32v nv[SC * G];
        f32v W[SC * G], S[SC * G], N[SC * G], SH[SC * G], LO[SC * G], HI[SC * G], SG[SC * G], NF[SC * G];
        int top[SC * G];
        int maxC[SC], chunks = 0, maxAll = 0, entries = 0, blocks = 0;
        uint32_t entryFirst[SC * 32], blockFirst[SC * 32 * 7];
        float *entryAt[SC * 32], *blockAt[SC * 32 * 7];
        uint8_t entryPairs[SC * 32];
        for (int c = 0; c < SC && first + 32 * c < active; c++, chunks++) {
            const int begin = first + 32 * c, p = begin / 32;
            const int maxN = num[begin];    /* sorted: the chunk's first count is its largest */
            for (int g = 0; g < G; g++) {
                const int at = begin + VW * g, gi = c * G + g;
                top[gi] = num[at];
                if (!top[gi]) continue;
                __builtin_memcpy(&nv[gi], num + at, sizeof(i32v));
                i32v down;
                __builtin_memcpy(&down, dn + at, sizeof(i32v));
                u64v l64;
                u32v h32;
                __builtin_memcpy(&l64, lo + at, sizeof(u64v));
                __builtin_memcpy(&h32, hi + at, sizeof(u32v));
                __builtin_memcpy(&W[gi], ws + at, sizeof(f32v));
                f32v xi[8];
                VARIANT(draws)(d, l64, h32, xi);
                VARIANT(cells) cl = VARIANT(decode)(d, xi);
                /* Signs folded into the constants: w - s_down q (..) = w + (-s_down) q (..), exactly. */
                S[gi] = down ? -cl.scaleDown : cl.scaleUp;
                N[gi] = down ? cl.normDown : -cl.normUp;
                SH[gi] = cl.shift;
                LO[gi] = cl.wMin;
                HI[gi] = cl.wMax;
                SG[gi] = mode == 1 ? (down ? -cl.noise : cl.noise) : cl.noise;
                NF[gi] = __builtin_convertvector(nv[gi], f32v);
            }
            maxC[c] = maxN;
            maxAll = maxN > maxAll ? maxN : maxAll;
            if (!mode) continue;
            /* Step k's normals where the chunk's m devices with more than k pulses take them: a whole entry when
             * m >= 8 (its second word pair when m > 16), else the first normal of blocks l < m. */
            int m = active - begin < 32 ? active - begin : 32;
            for (int k = 0; k < maxN; k++) {
                while (num[begin + m - 1] <= k) m--;
                const uint32_t entry = firstBlock + 256u * (uint32_t)p + 8u * (uint32_t)k;
                float *at = z + 1024 * c + 32 * k;
                if (m >= 8) {
                    entryFirst[entries] = entry;
                    entryPairs[entries] = m > 16 ? 2 : 1;
                    entryAt[entries++] = at;
                } else {
                    for (int l = 0; l < m; l++) {
                        blockFirst[blocks] = entry + (uint32_t)l;
                        blockAt[blocks++] = at + l;
                    }
                }
            }
        }
        if (mode) VARIANT(normalsSparse)(s, entryFirst, entryAt, entryPairs, entries, blockFirst, blockAt, blocks);
        for (int k = 0; k < maxAll; k++) {
            const f32v kf = (float)k;
            for (int c = 0; c < chunks; c++) {
                if (maxC[c] <= k) break;    /* chunks are sorted too */
                for (int g = 0; g < G; g++) {
                    const int gi = c * G + g;
                    if (top[gi] <= k) break;    /* and the groups of a chunk */
                    f32v zz = 0.0f;
                    if (mode) __builtin_memcpy(&zz, z + 1024 * c + 32 * k + VW * g, sizeof(f32v));
                    i32v act = kf < NF[gi];
                    f32v x = W[gi];
                    f32v u = 1.0f + N[gi] * (x - SH[gi]);
                    u = u > 0.0f ? u : 0.0f;
                    f32v v;
                    if (mode == 2) v = x + (S[gi] * u) * (1.0f + SG[gi] * zz);
                    else if (mode == 1) v = x + (S[gi] * u + SG[gi] * zz);
                    else v = x + S[gi] * u;
                    f32v y = v > LO[gi] ? v : LO[gi];
                    y = y < HI[gi] ? y : HI[gi];
                    clipped -= (y != v) & act;
                    W[gi] = act ? y : x;
                }
            }
        }
        for (int c = 0; c < chunks; c++)
            for (int g = 0; g < G; g++)
                if (top[c * G + g]) __builtin_memcpy(ws + first + 32 * c + VW * g, &W[c * G + g], sizeof(f32v));
    }
    for (int t = 0; t < active; t++) w[order[t]] = ws[t];
    if (copied) __builtin_memcpy(wOut, w, 4L * width);
    out->coincidences += coincidences;
    out->clipped += (uint64_t)(uint32_t)__builtin_reduce_add(clipped);
}
#undef G
#undef f32v
#undef i32v
#undef u32v
#undef u64v
#undef SMAX
#undef SMIN
#undef FABS
