/*
 * W x for a batch of vectors in AIMCCore's lane order (Linear.batchedMatVec, transW false) for one instruction set:
 * included by Kernels.c after KernelBody.h, with the same VARIANT. Every dot product is formed as in the Swift kernels
 * (AIMCKernels.rowDots): 16 lane sums from +0, lane l adding the products l, l + 16, ... in order (the last cols mod 16
 * products padded with +0 products), then the tree lane l + 8 into l, l + 4, l + 2, l + 1. The 16-lane arithmetic is
 * the same at every vector width; only the tree is done for 16 dot products at once, by shuffles that pair the same
 * lanes.
 */

typedef float VARIANT(f16v) __attribute__((ext_vector_type(16)));
#define f16v VARIANT(f16v)

static inline __attribute__((always_inline)) f16v VARIANT(load16)(const float *p) {
    f16v v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) f16v VARIANT(load16Part)(const float *p, int n) {
    f16v v = (f16v)0.0f;
    for (int l = 0; l < n; l++) v[l] = p[l];
    return v;
}

/* Lane r of the result is the tree sum of s[r] (r < 16). */
static inline __attribute__((always_inline)) f16v VARIANT(treeSums)(const f16v *s) {
    f16v u[8], v[4], w[2];
    for (int p = 0; p < 8; p++)
        u[p] = __builtin_shufflevector(s[2 * p], s[2 * p + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23)
             + __builtin_shufflevector(s[2 * p], s[2 * p + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    for (int q = 0; q < 4; q++)
        v[q] = __builtin_shufflevector(u[2 * q], u[2 * q + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27)
             + __builtin_shufflevector(u[2 * q], u[2 * q + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    for (int t = 0; t < 2; t++)
        w[t] = __builtin_shufflevector(v[2 * t], v[2 * t + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29)
             + __builtin_shufflevector(v[2 * t], v[2 * t + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
    return __builtin_shufflevector(w[0], w[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
         + __builtin_shufflevector(w[0], w[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}

/* The lane sums of rows i0 ..< i0 + nr of w with x0 (into s0) and, when x1 is not null, with x1 (into s1): two rows
 * at a time, the loads of w shared by the two vectors (each sum in its own order, the same as alone). Rows nr ..< 16 are
 * +0. xt0, xt1: the vectors' last cols mod 16 entries padded with +0; tails as in rowDots. */
static inline __attribute__((always_inline)) void VARIANT(rowSums)(int nr, int body, int rest, const float *w, long ldw,
                                                                   const float *tails, const float *x0, f16v xt0,
                                                                   const float *x1, f16v xt1, f16v *s0, f16v *s1) {
    int r = 0;
    if (x1) {
        for (; r + 2 <= nr; r += 2) {
            const float *wa = w + (long)r * ldw, *wb = wa + ldw;
            f16v a0 = (f16v)0.0f, b0 = (f16v)0.0f, a1 = (f16v)0.0f, b1 = (f16v)0.0f;
            for (int j = 0; j < body; j += 16) {
                const f16v u0 = VARIANT(load16)(x0 + j), u1 = VARIANT(load16)(x1 + j);
                const f16v va = VARIANT(load16)(wa + j), vb = VARIANT(load16)(wb + j);
                a0 += va * u0;
                b0 += vb * u0;
                a1 += va * u1;
                b1 += vb * u1;
            }
            if (rest > 0) {
                const f16v ta = VARIANT(load16)(tails + 16L * r), tb = VARIANT(load16)(tails + 16L * (r + 1));
                a0 += ta * xt0;
                b0 += tb * xt0;
                a1 += ta * xt1;
                b1 += tb * xt1;
            }
            s0[r] = a0;
            s0[r + 1] = b0;
            s1[r] = a1;
            s1[r + 1] = b1;
        }
    } else {
        /* Four rows at a time: four independent sums. */
        for (; r + 4 <= nr; r += 4) {
            const float *w0 = w + (long)r * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
            f16v a = (f16v)0.0f, b = (f16v)0.0f, c = (f16v)0.0f, d = (f16v)0.0f;
            for (int j = 0; j < body; j += 16) {
                const f16v u = VARIANT(load16)(x0 + j);
                a += VARIANT(load16)(w0 + j) * u;
                b += VARIANT(load16)(w1 + j) * u;
                c += VARIANT(load16)(w2 + j) * u;
                d += VARIANT(load16)(w3 + j) * u;
            }
            if (rest > 0) {
                const float *t0 = tails + 16L * r;
                a += VARIANT(load16)(t0) * xt0;
                b += VARIANT(load16)(t0 + 16) * xt0;
                c += VARIANT(load16)(t0 + 32) * xt0;
                d += VARIANT(load16)(t0 + 48) * xt0;
            }
            s0[r] = a;
            s0[r + 1] = b;
            s0[r + 2] = c;
            s0[r + 3] = d;
        }
    }
    for (; r < nr; r++) {
        const float *w0 = w + (long)r * ldw;
        f16v a = (f16v)0.0f, a1 = (f16v)0.0f;
        for (int j = 0; j < body; j += 16) {
            const f16v v = VARIANT(load16)(w0 + j);
            a += v * VARIANT(load16)(x0 + j);
            if (x1) a1 += v * VARIANT(load16)(x1 + j);
        }
        if (rest > 0) {
            const f16v t = VARIANT(load16)(tails + 16L * r);
            a += t * xt0;
            if (x1) a1 += t * xt1;
        }
        s0[r] = a;
        if (x1) s1[r] = a1;
    }
    for (; r < 16; r++) {
        s0[r] = (f16v)0.0f;
        if (x1) s1[r] = (f16v)0.0f;
    }
}

/* y[b ldy + i] = row i of w (stride ldw) dotted with x_b (stride ldx), for i < rows, b < batch. `tails` (16 rows floats,
 * used when cols is not a multiple of 16) receives the last cols mod 16 weights of each row padded with +0, the values
 * load16Part gives, so the rows' tails are loaded whole in the loop over the batch. The vectors go in pairs, which
 * share the loads of w (half the traffic from the caches); every dot product is the same bits as alone. */
static void VARIANT(rowDots)(int rows, int cols, const float *w, long ldw, int batch, const float *x, long ldx, float *y,
                             long ldy, float *tails) {
    const int body = cols & ~15, rest = cols - body;
    if (rest > 0)
        for (int i = 0; i < rows; i++) {
            const f16v t = VARIANT(load16Part)(w + (long)i * ldw + body, rest);
            __builtin_memcpy(tails + 16L * i, &t, sizeof t);
        }
    for (int b = 0; b < batch; b += 2) {
        const int pair = b + 1 < batch;
        const float *x0 = x + (long)b * ldx, *x1 = pair ? x0 + ldx : 0;
        const f16v xt0 = rest > 0 ? VARIANT(load16Part)(x0 + body, rest) : (f16v)0.0f;
        const f16v xt1 = rest > 0 && pair ? VARIANT(load16Part)(x1 + body, rest) : (f16v)0.0f;
        for (int i0 = 0; i0 < rows; i0 += 16) {
            const int nr = rows - i0 < 16 ? rows - i0 : 16;
            f16v s0[16], s1[16];
            VARIANT(rowSums)(nr, body, rest, w + (long)i0 * ldw, ldw, tails + 16L * i0, x0, xt0, x1, xt1, s0, s1);
            const f16v t0 = VARIANT(treeSums)(s0);
            float *y0 = y + (long)b * ldy + i0;
            if (nr == 16) __builtin_memcpy(y0, &t0, sizeof t0);
            else for (int l = 0; l < nr; l++) y0[l] = t0[l];
            if (pair) {
                const f16v t1 = VARIANT(treeSums)(s1);
                float *y1 = y0 + ldy;
                if (nr == 16) __builtin_memcpy(y1, &t1, sizeof t1);
                else for (int l = 0; l < nr; l++) y1[l] = t1[l];
            }
        }
    }
}

#undef f16v

#define f32v VARIANT(f32v)
/* W^T x for a batch (Linear.batchedMatVec, transW true; AIMCKernels.combineRows): y[b ldy + j] = sum_i x[b ldx + i]
 * w[i ldw + j] for j < cols, b < batch, each sum sequential in i from +0: the rows of W combined with the entries of
 * x_b as coefficients, element by element, so any vector width gives the same bits. Two vectors of the batch share
 * the loads of W. */
static void VARIANT(combineRows)(int rows, int cols, const float *w, long ldw, int batch, const float *x, long ldx, float *y,
                                 long ldy) {
    int b = 0;
    for (; b + 2 <= batch; b += 2) {
        const float *x0 = x + (long)b * ldx, *x1 = x0 + ldx;
        float *y0 = y + (long)b * ldy, *y1 = y0 + ldy;
        int j = 0;
        for (; j + 2 * VW <= cols; j += 2 * VW) {
            f32v s00 = 0.0f, s01 = 0.0f, s10 = 0.0f, s11 = 0.0f;
            for (int i = 0; i < rows; i++) {
                f32v r0, r1;
                __builtin_memcpy(&r0, w + (long)i * ldw + j, sizeof r0);
                __builtin_memcpy(&r1, w + (long)i * ldw + j + VW, sizeof r1);
                const float a0 = x0[i], a1 = x1[i];
                s00 += a0 * r0;
                s01 += a0 * r1;
                s10 += a1 * r0;
                s11 += a1 * r1;
            }
            __builtin_memcpy(y0 + j, &s00, sizeof s00);
            __builtin_memcpy(y0 + j + VW, &s01, sizeof s01);
            __builtin_memcpy(y1 + j, &s10, sizeof s10);
            __builtin_memcpy(y1 + j + VW, &s11, sizeof s11);
        }
        for (; j < cols; j += VW) {
            const int n = cols - j < VW ? cols - j : VW;
            f32v s0 = 0.0f, s1 = 0.0f;
            for (int i = 0; i < rows; i++) {
                f32v r = 0.0f;
                if (n == VW) __builtin_memcpy(&r, w + (long)i * ldw + j, sizeof r);
                else for (int l = 0; l < n; l++) r[l] = w[(long)i * ldw + j + l];
                s0 += x0[i] * r;
                s1 += x1[i] * r;
            }
            for (int l = 0; l < n; l++) {
                y0[j + l] = s0[l];
                y1[j + l] = s1[l];
            }
        }
    }
    for (; b < batch; b++) {
        const float *x0 = x + (long)b * ldx;
        float *y0 = y + (long)b * ldy;
        for (int j = 0; j < cols; j += VW) {
            const int n = cols - j < VW ? cols - j : VW;
            f32v s0 = 0.0f;
            for (int i = 0; i < rows; i++) {
                f32v r = 0.0f;
                if (n == VW) __builtin_memcpy(&r, w + (long)i * ldw + j, sizeof r);
                else for (int l = 0; l < n; l++) r[l] = w[(long)i * ldw + j + l];
                s0 += x0[i] * r;
            }
            for (int l = 0; l < n; l++) y0[j + l] = s0[l];
        }
    }
}

#undef f32v
