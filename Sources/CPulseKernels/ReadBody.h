/*
 * The output stage of the analog reads of a whole batch (AIMCCore's Periphery.multiply after the products) for one
 * instruction set: included by Kernels.c after PeripheryBody.h, with the same VARIANT and VW. Vector b's output noise
 * comes from its own stream (counter word c2 = s.c2 + b), drawn as RandomStream.fill(normals:) draws it from a new
 * stream: the ziggurat's fast path, one word per normal, vectorised over the words of all the batch's streams (their
 * Philox blocks computed side by side), and its slow path word by word in scalar code, operation for operation
 * RandomStream.normalSlowPath (libm's log and exp, as AIMCCore calls them). Then the ADC (PeripheryBody.h) and the
 * digital rescale, element by element.
 */

#define f32v VARIANT(f32v)
#define i32v VARIANT(i32v)
#define u32v VARIANT(u32v)

/* The words of one stream in order: words 0 ..< have from a precomputed run, the later ones VW blocks at a time. */
typedef struct {
    aimc_stream s;
    const uint32_t *words;
    uint64_t have, p, base;    /* base: the position of extra[0], UINT64_MAX while extra is empty */
    uint32_t extra[4 * VW];
} VARIANT(reader);

static inline uint32_t VARIANT(next)(VARIANT(reader) *r) {
    const uint64_t p = r->p++;
    if (p < r->have) return r->words[p];
    if (r->base == UINT64_MAX || p < r->base || p >= r->base + 4 * VW) {
        r->base = p & ~(uint64_t)3;
        VARIANT(streamWords)(r->s, p, r->extra);
    }
    return r->extra[p - r->base];
}

/* RandomStream.normalSlowPath: the normal whose first word `bits` failed the fast path, drawing further words from r
 * (the tail beyond r by Marsaglia's exponential pairs, the wedges by rejection against exp(-z^2/2)). */
static float VARIANT(slowNormal)(uint32_t bits, VARIANT(reader) *r, const uint32_t *threshold, const float *width,
                                 const double *f) {
    for (;;) {
        const uint32_t layer = bits & 0xFFu, magnitude = bits >> 9;
        const int negative = (bits & 0x100u) != 0;
        if (magnitude < threshold[layer]) {
            const float z = (float)magnitude * width[layer];
            return negative ? -z : z;
        }
        if (layer == 0) {
            const double edge = 3.654152885361008796;    /* Ziggurat.r */
            for (;;) {
                const double a = -log(((double)VARIANT(next)(r) + 1) * 0x1p-32) / edge;
                const double b = -log(((double)VARIANT(next)(r) + 1) * 0x1p-32);
                if (2 * b > a * a) {
                    const float z = (float)(edge + a);
                    return negative ? -z : z;
                }
            }
        }
        const double z = (double)magnitude * (double)width[layer];
        const double y = f[layer] + (double)((float)(VARIANT(next)(r) >> 8) * 0x1p-24f) * (f[layer + 1] - f[layer]);
        if (y < exp(-0.5 * z * z)) {
            const float zf = (float)z;
            return negative ? -zf : zf;
        }
        bits = VARIANT(next)(r);
    }
}

/* The first set bit at or after `from` below `count`, or count. */
static inline int VARIANT(nextSet)(const uint64_t *bits, int from, int count) {
    if (from >= count) return count;
    int k = from >> 6;
    uint64_t m = bits[k] & (~0ull << (from & 63));
    while (!m) {
        if (++k << 6 >= count) return count;
        m = bits[k];
    }
    const int q = (k << 6) + __builtin_ctzll(m);
    return q < count ? q : count;
}

/* `count` normals of a new stream s into out, as RandomStream.fill(normals:) draws them: its words 0 ..< have are at
 * words (have >= count; whole vectors readable up to count rounded up to VW). The fast path of words 0 ..< count is
 * computed first, in place (out[j] is word j's normal if word j starts a normal and takes the fast path); from the
 * first word that takes the slow path on, the normals are word j's fast values moved down by the words the slow paths
 * took, and the slow paths' normals. `slowBits` is scratch of count / 64 + 1 words. */
static void VARIANT(streamNormals)(aimc_stream s, const uint32_t *words, int have, int count, const uint32_t *threshold,
                                   const float *width, const double *f, float *out, uint64_t *slowBits) {
    const int nBits = (count >> 6) + 1;
    for (int k = 0; k < nBits; k++) slowBits[k] = 0;
    int any = 0;
    for (int j = 0; j < count; j += VW) {
        u32v w;
        __builtin_memcpy(&w, words + j, sizeof w);
        unsigned slow;
        const f32v z = VARIANT(zigguratFast)(w, threshold, width, &slow);
        const int n = count - j < VW ? count - j : VW;
        if (n == VW) {
            __builtin_memcpy(out + j, &z, sizeof z);
        } else {
            for (int l = 0; l < n; l++) out[j + l] = z[l];
            slow &= (1u << n) - 1u;
        }
        slowBits[j >> 6] |= (uint64_t)slow << (j & 63);
        any |= slow != 0;
    }
    if (!any) return;
    int i = VARIANT(nextSet)(slowBits, 0, count), p = i;
    VARIANT(reader) r;
    r.s = s;
    r.words = words;
    r.have = (uint64_t)have;
    r.base = UINT64_MAX;
    while (i < count) {
        if (p < count) {
            if (!((slowBits[p >> 6] >> (p & 63)) & 1u)) {
                /* A run of fast words: their normals, moved down to their places. */
                int n = VARIANT(nextSet)(slowBits, p + 1, count) - p;
                if (n > count - i) n = count - i;
                if (p != i) __builtin_memmove(out + i, out + p, 4L * n);
                i += n;
                p += n;
                continue;
            }
            r.p = (uint64_t)p + 1;
            out[i++] = VARIANT(slowNormal)(words[p], &r, threshold, width, f);
        } else {
            r.p = (uint64_t)p;
            const uint32_t w = VARIANT(next)(&r), layer = w & 0xFFu, magnitude = w >> 9;
            if (magnitude < threshold[layer]) {
                const float z = (float)magnitude * width[layer];
                out[i++] = (w & 0x100u) ? -z : z;
            } else {
                out[i++] = VARIANT(slowNormal)(w, &r, threshold, width, f);
            }
        }
        p = (int)r.p;
    }
}

/* The output stage of `batch` reads (Periphery.multiply): row b of out (nOut values) is 0 when managed and
 * scales[b] is 0; else the ADC of raw row b plus sigma times stream b's normals (sigma > 0: count nOut, stream c2 =
 * s.c2 + b, words from 0), rescaled by scales[b] (when it is not 1) unless the ADC saturated and bound management
 * repeats the read (rounds > 1), which the caller does from its round 1. clipped[b] gets the outputs the ADC saturated.
 * `scratch`: readScratch(nOut) bytes. */
static void VARIANT(readOutputs)(const float *raw, int batch, int nOut, const float *scales, int managed, int rounds,
                                 float sigma, aimc_stream s, const uint32_t *threshold, const float *width, const double *f,
                                 const aimc_quantiser *q, float *out, int32_t *clipped, void *scratch) {
    const int nb = (nOut + 3) / 4, per = 4 * nb;
    /* Streams per group: their words fit READ_WORDS. */
    const int group = per >= READ_WORDS ? 1 : READ_WORDS / per;
    uint64_t *slowBits = (uint64_t *)scratch;
    uint32_t *words = (uint32_t *)(slowBits + (nOut >> 6) + 1);
    float *z = (float *)(words + (long)group * per + 5 * VW);
    for (int b0 = 0; b0 < batch; b0 += group) {
        const int streams = batch - b0 < group ? batch - b0 : group;
        if (sigma > 0) {
            /* The words of the group's streams (block c0 of stream i at words + 4 (nb i + c0)), VW blocks at a time. */
            const long total = (long)streams * nb;
            int st = 0, bl = 0;
            for (long g = 0; g < total; g += VW) {
                u32v c0, c2;
                for (int l = 0; l < VW; l++) {
                    c0[l] = (uint32_t)bl;
                    c2[l] = s.c2 + (uint32_t)(b0 + st);
                    if (++bl == nb) {
                        bl = 0;
                        st++;
                    }
                }
                u32v w[4];
                VARIANT(philoxLanes)(c0, c2, s, w);
                VARIANT(storeWords)(w, words + 4 * g);
            }
        }
        for (int i = 0; i < streams; i++) {
            const int b = b0 + i;
            float *y = out + (long)b * nOut;
            const float scale = scales[b];
            if (managed && scale == 0) {
                for (int k = 0; k < nOut; k++) y[k] = 0;
                clipped[b] = 0;
                continue;
            }
            if (sigma > 0) {
                aimc_stream sb = s;
                sb.c2 = s.c2 + (uint32_t)b;
                VARIANT(streamNormals)(sb, words + (long)i * per, per, nOut, threshold, width, f, z, slowBits);
            }
            const int c = VARIANT(adc)(raw + (long)b * nOut, sigma > 0 ? z : 0, sigma, nOut, q, y);
            clipped[b] = c;
            if ((c == 0 || rounds <= 1) && scale != 1) {
                for (int k = 0; k < nOut; k += VW) {
                    const int n = nOut - k < VW ? nOut - k : VW;
                    VARIANT(storePart)(y + k, VARIANT(loadPart)(y + k, n) * scale, n);
                }
            }
        }
    }
}

#undef f32v
#undef i32v
#undef u32v
