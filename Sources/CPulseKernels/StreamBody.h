/*
 * Sequential draws of a keyed stream (AIMCCore's RandomStream) for one instruction set: included by Kernels.c after
 * KernelBody.h, with the same VARIANT and VW. A stream is a Philox4x32-10 key and counter words c1..c3; its words in
 * order are word r of block c0 at position 4 c0 + r. The functions start at any position and report how many words
 * they consumed, so the Swift stream continues exactly where they stopped.
 */

#define f32v VARIANT(f32v)
#define i32v VARIANT(i32v)
#define u32v VARIANT(u32v)
#define FABS(x) ((f32v)((u32v)(x) & 0x7FFFFFFFu))

/* The words of VW blocks (the four word vectors of VARIANT(philox)) in stream order at buf (4 VW words): word r of
 * lane l goes to 4 l + r, by shuffles. */
static inline __attribute__((always_inline)) void VARIANT(storeWords)(const u32v *w, uint32_t *buf) {
#if VW == 16
    const u32v a0 = __builtin_shufflevector(w[0], w[1], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const u32v a1 = __builtin_shufflevector(w[0], w[1], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const u32v b0 = __builtin_shufflevector(w[2], w[3], 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const u32v b1 = __builtin_shufflevector(w[2], w[3], 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const u32v o0 = __builtin_shufflevector(a0, b0, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const u32v o1 = __builtin_shufflevector(a0, b0, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    const u32v o2 = __builtin_shufflevector(a1, b1, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const u32v o3 = __builtin_shufflevector(a1, b1, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
#elif VW == 8
    const u32v a0 = __builtin_shufflevector(w[0], w[1], 0, 8, 1, 9, 2, 10, 3, 11);
    const u32v a1 = __builtin_shufflevector(w[0], w[1], 4, 12, 5, 13, 6, 14, 7, 15);
    const u32v b0 = __builtin_shufflevector(w[2], w[3], 0, 8, 1, 9, 2, 10, 3, 11);
    const u32v b1 = __builtin_shufflevector(w[2], w[3], 4, 12, 5, 13, 6, 14, 7, 15);
    const u32v o0 = __builtin_shufflevector(a0, b0, 0, 1, 8, 9, 2, 3, 10, 11);
    const u32v o1 = __builtin_shufflevector(a0, b0, 4, 5, 12, 13, 6, 7, 14, 15);
    const u32v o2 = __builtin_shufflevector(a1, b1, 0, 1, 8, 9, 2, 3, 10, 11);
    const u32v o3 = __builtin_shufflevector(a1, b1, 4, 5, 12, 13, 6, 7, 14, 15);
#else
#error "VW must be 8 or 16"
#endif
    __builtin_memcpy(buf, &o0, sizeof o0);
    __builtin_memcpy(buf + VW, &o1, sizeof o1);
    __builtin_memcpy(buf + 2 * VW, &o2, sizeof o2);
    __builtin_memcpy(buf + 3 * VW, &o3, sizeof o3);
}

/* Words position ..< position + 4 VW - (position mod 4) of the stream, in stream order: the VW blocks from block
 * position / 4 on, written at buf (4 VW words); returns the offset of word `position` in buf. */
static inline __attribute__((always_inline)) int VARIANT(streamWords)(aimc_stream s, uint64_t position, uint32_t *buf) {
    u32v w[4];
    VARIANT(philox)(VARIANT(lanes)() + (uint32_t)(position >> 2), s, w);
    VARIANT(storeWords)(w, buf);
    return (int)(position & 3);
}

/* The ziggurat's fast path of VW words (RandomStream.nextNormal): word w gives layer w & 255, sign bit 8 and magnitude
 * w >> 9; the normal is magnitude * width[layer], negated when the sign bit is set; *slow gets the lanes whose magnitude
 * is not below threshold[layer] (bit l for lane l), whose normals take the slow path instead. */
static inline __attribute__((always_inline)) f32v VARIANT(zigguratFast)(u32v w, const uint32_t *threshold, const float *width,
                                                                      unsigned *slow) {
    const u32v layer = w & 255u, magnitude = w >> 9;
    const u32v limit = GATHER(u32v, threshold, layer);
    const f32v scale = GATHER(f32v, width, layer);
    /* Exact: magnitude < 2^23. */
    const f32v z = __builtin_convertvector((i32v)magnitude, f32v) * scale;
    *slow = MASKBITS((i32v)(magnitude >= limit));
    return (f32v)((u32v)z ^ ((w & 0x100u) << 23));
}

/* The ziggurat's fast path (RandomStream.nextNormal): word w gives layer w & 255, sign bit 8 and magnitude w >> 9;
 * when the magnitude is below threshold[layer] the normal is magnitude * width[layer], negated when the sign bit is
 * set. Writes the normals of words position, position + 1, ... until `count` are written or a word needs the slow
 * path (that word is not consumed); returns how many were written. */
static int VARIANT(ziggurat)(aimc_stream s, uint64_t position, int count, const uint32_t *threshold, const float *width,
                             float *out) {
    uint32_t buf[4 * VW + VW];
    int written = 0;
    while (written < count) {
        const uint64_t p = position + (uint64_t)written;
        const int off = VARIANT(streamWords)(s, p, buf);
        const int avail = 4 * VW - off, n = count - written < avail ? count - written : avail;
        int i = 0;
        while (i < n) {
            u32v w;
            __builtin_memcpy(&w, buf + off + i, sizeof w);
            unsigned slow;
            const f32v signed_ = VARIANT(zigguratFast)(w, threshold, width, &slow);
            const int take = n - i < VW ? n - i : VW;
            /* The first word (of the `take` in use) that needs the slow path, or take. */
            slow |= 1u << take;
            const int fast = __builtin_ctz(slow);
            if (fast == VW) {
                __builtin_memcpy(out + written + i, &signed_, sizeof signed_);
            } else {
                for (int l = 0; l < fast; l++) out[written + i + l] = signed_[l];
            }
            i += fast;
            if (fast < take) return written + i;
        }
        written += n;
    }
    return written;
}

/* floor(p 2^32) for 0 <= p < 1 from the bits of p (AnalogArray.slotThreshold), lane by lane. */
static inline __attribute__((always_inline)) u32v VARIANT(slotThreshold)(f32v p) {
    const u32v bits = (u32v)p;
    const i32v e = (i32v)(bits >> 23);
    const u32v m = (bits & 0x7FFFFFu) | 0x800000u;
    const i32v sh = e - 118;
    const u32v left = m << (u32v)(sh > 0 ? sh : 0);
    const i32v r = -sh;
    const u32v right = m >> (u32v)(r > 0 ? (r < 31 ? r : 31) : 0);
    u32v t = sh >= 0 ? left : right;
    t = ((sh <= -24) | (e == 0)) ? 0u : t;
    return t;
}

/* Bernoulli trains (AnalogArray.makeTrains), in three steps so that several trains can take their words in one pass:
 * value j with v_j != 0, finite, and p_j = |v_j| scale fires in every slot when p_j >= 1; when p_j < 1 it takes the
 * next `length` words of the stream and slot k fires when word k is below slotThreshold(p_j); the drawing values take
 * their words in index order. `temp` (3 (count + VW) 32-bit entries) holds per value its train (a threshold until the
 * words are drawn, for drawing values), the drawing lanes of each vector of values (bit l of entry g for value
 * VW g + l) and the indices of the non-zero trains; each with room for VW entries past count (whole vectors are
 * stored). */

/* Step 1: the trains that draw no words, the thresholds of those that do; returns how many values draw. */
static int VARIANT(trainsDraw)(const float *values, int count, float scale, int length, uint32_t *temp) {
    const uint32_t full = length >= 32 ? ~0u : (1u << length) - 1u;
    const u32v lanes = VARIANT(lanes)();
    uint32_t *train = temp, *dmask = temp + count + VW;
    int nd = 0;
    for (int j = 0; j < count; j += VW) {
        f32v v;
        const int take = count - j < VW ? count - j : VW;
        if (take == VW) __builtin_memcpy(&v, values + j, sizeof v);
        else { v = (f32v)0.0f; for (int l = 0; l < take; l++) v[l] = values[j + l]; }
        const f32v p = FABS(v) * scale;
        const u32v mag = (u32v)v & 0x7FFFFFFFu;
        const i32v valid = (i32v)((mag != 0u) & (mag < 0x7F800000u));
        const i32v draws = valid & (i32v)(p < 1.0f);
        const u32v t = draws ? VARIANT(slotThreshold)(p) : (valid ? (u32v)full : (u32v)0u);
        __builtin_memcpy(train + j, &t, sizeof t);   /* temp has room for VW past count */
        const unsigned dm = MASKBITS(draws);
        dmask[j / VW] = dm;
        nd += __builtin_popcount(dm);
    }
    return nd;
}

/* Step 2: words position ..< position + need of the stream at words + (position mod 4) (whole groups of 4 VW words are
 * written: words has room for need + 4 VW + 4). */
static inline void VARIANT(trainsWords)(aimc_stream s, uint64_t position, long need, uint32_t *words) {
    const int off = (int)(position & 3);
    for (long g = 0; g < need + off; g += 4 * VW)
        VARIANT(streamWords)(s, (position & ~(uint64_t)3) + (uint64_t)g, words + g);
}

/* Step 3: each drawing value's train from its words (value m of the drawing values takes w[m length ..< (m + 1)
 * length]; for length 1 a vector of values takes its drawing lanes' words at once, expanded into those lanes), then
 * the non-zero trains in index order (index, bits, negative); returns how many. */
static int VARIANT(trainsFinish)(const float *values, int count, int length, const uint32_t *w, uint32_t *temp,
                                 int32_t *index, uint32_t *bits, uint8_t *negative) {
    const uint32_t full = length >= 32 ? ~0u : (1u << length) - 1u;
    const u32v lanes = VARIANT(lanes)();
    uint32_t *train = temp, *dmask = temp + count + VW;
    int32_t *live = (int32_t *)(temp + 2 * (count + VW));
    int n = 0;
    if (length == 1) {
        int m = 0;
        for (int j = 0; j < count; j += VW) {
            u32v t, words;
            __builtin_memcpy(&t, train + j, sizeof t);
            const unsigned dm = dmask[j / VW];
            __builtin_memcpy(&words, w + m, sizeof words);
            const u32v drawn = EXPAND(dm, words);
            const i32v draws = (i32v)(((1u << lanes) & dm) != 0u);
            const u32v tr = draws ? ((u32v)(drawn < t) & 1u) : t;
            m += __builtin_popcount(dm);
            __builtin_memcpy(train + j, &tr, sizeof tr);
            const i32v nonzero = (i32v)(tr != 0u) & (i32v)(lanes + (uint32_t)j < (uint32_t)count);
            n += COMPRESS(nonzero, (i32v)lanes + j, live + n);
        }
    } else {
        for (int g = 0, m = 0; g * VW < count; g++) {
            for (unsigned dm = dmask[g]; dm; dm &= dm - 1, m++) {
                const int j = g * VW + __builtin_ctz(dm);
                const uint32_t t = train[j];
                const uint32_t *x = w + (long)m * length;
                /* Slot k + l fires when word k + l is below the threshold (the lanes past `length` are masked off). */
                uint32_t word = 0;
                for (int k = 0; k < length; k += VW) {
                    u32v a;
                    __builtin_memcpy(&a, x + k, sizeof a);
                    word |= MASKBITS((i32v)(a < t)) << k;
                }
                train[j] = word & full;
            }
        }
        for (int j = 0; j < count; j += VW) {
            u32v t;
            __builtin_memcpy(&t, train + j, sizeof t);
            const i32v nonzero = (i32v)(t != 0u) & (i32v)(lanes + (uint32_t)j < (uint32_t)count);
            n += COMPRESS(nonzero, (i32v)lanes + j, live + n);
        }
    }
    for (int k = 0; k < n; k++) {
        const int j = live[k];
        index[k] = j;
        bits[k] = train[j];
        negative[k] = values[j] < 0 ? 1 : 0;
    }
    return n;
}

/* The three steps for one set of values from word `position` on; *consumed gets the words taken. `words`: scratch of
 * AIMC_TRAIN_WORDS(count, length) words. */
static int VARIANT(trains)(const float *values, int count, float scale, int length, aimc_stream s, uint64_t position,
                           int32_t *index, uint32_t *bits, uint8_t *negative, uint64_t *consumed, uint32_t *words,
                           uint32_t *temp) {
    const long need = (long)VARIANT(trainsDraw)(values, count, scale, length, temp) * length;
    VARIANT(trainsWords)(s, position, need, words);
    *consumed = (uint64_t)need;
    return VARIANT(trainsFinish)(values, count, length, words + (position & 3), temp, index, bits, negative);
}

#undef f32v
#undef i32v
#undef u32v
#undef FABS
