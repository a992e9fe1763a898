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

/* y[b ldy + i] = row i of w (stride ldw) dotted with x_b (stride ldx), for i < rows, b < batch. `tails` (16 rows floats,
 * used when cols is not a multiple of 16) receives the last cols mod 16 weights of each row padded with +0, the values
 * load16Part gives, so the rows' tails are loaded whole in the loop over the batch. */
static void VARIANT(rowDots)(int rows, int cols, const float *w, long ldw, int batch, const float *x, long ldx, float *y,
                             long ldy, float *tails) {
    const int body = cols & ~15, rest = cols - body;
    if (rest > 0)
        for (int i = 0; i < rows; i++) {
            const f16v t = VARIANT(load16Part)(w + (long)i * ldw + body, rest);
            __builtin_memcpy(tails + 16L * i, &t, sizeof t);
        }
    for (int b = 0; b < batch; b++) {
        const float *xb = x + (long)b * ldx;
        const f16v xt = rest > 0 ? VARIANT(load16Part)(xb + body, rest) : (f16v)0.0f;
        for (int i0 = 0; i0 < rows; i0 += 16) {
            const int nr = rows - i0 < 16 ? rows - i0 : 16;
            f16v s[16];
            int r = 0;
            /* Four rows at a time: four independent sums. */
            for (; r + 4 <= nr; r += 4) {
                const float *w0 = w + (long)(i0 + r) * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
                f16v s0 = (f16v)0.0f, s1 = (f16v)0.0f, s2 = (f16v)0.0f, s3 = (f16v)0.0f;
                for (int j = 0; j < body; j += 16) {
                    const f16v u = VARIANT(load16)(xb + j);
                    s0 += VARIANT(load16)(w0 + j) * u;
                    s1 += VARIANT(load16)(w1 + j) * u;
                    s2 += VARIANT(load16)(w2 + j) * u;
                    s3 += VARIANT(load16)(w3 + j) * u;
                }
                if (rest > 0) {
                    const float *t0 = tails + 16L * (i0 + r);
                    s0 += VARIANT(load16)(t0) * xt;
                    s1 += VARIANT(load16)(t0 + 16) * xt;
                    s2 += VARIANT(load16)(t0 + 32) * xt;
                    s3 += VARIANT(load16)(t0 + 48) * xt;
                }
                s[r] = s0;
                s[r + 1] = s1;
                s[r + 2] = s2;
                s[r + 3] = s3;
            }
            for (; r < nr; r++) {
                const float *w0 = w + (long)(i0 + r) * ldw;
                f16v s0 = (f16v)0.0f;
                for (int j = 0; j < body; j += 16) s0 += VARIANT(load16)(w0 + j) * VARIANT(load16)(xb + j);
                if (rest > 0) s0 += VARIANT(load16)(tails + 16L * (i0 + r)) * xt;
                s[r] = s0;
            }
            for (; r < 16; r++) s[r] = (f16v)0.0f;
            const f16v t = VARIANT(treeSums)(s);
            float *yb = y + (long)b * ldy + i0;
            if (nr == 16) __builtin_memcpy(yb, &t, sizeof t);
            else for (int l = 0; l < nr; l++) yb[l] = t[l];
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
