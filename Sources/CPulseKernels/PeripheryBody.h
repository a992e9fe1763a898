/*
 * The elementwise steps of an analog read (AIMCCore's Periphery: noise management, DAC, output noise, ADC) for one
 * instruction set: included by Kernels.c after KernelBody.h, with the same VARIANT and VW. Operation for operation
 * the Swift code's (`Quantiser.convert`, `Periphery.absMax`): every element is computed on its own, so the vector
 * width changes nothing.
 */

#define f32v VARIANT(f32v)
#define i32v VARIANT(i32v)
#define u32v VARIANT(u32v)
#define FABS(x) ((f32v)((u32v)(x) & 0x7FFFFFFFu))

/* Quantisation (round half to even by the float-add trick, when q->fast) and clipping to +-bound; *over gets the
 * lanes beyond the bound. */
static inline __attribute__((always_inline)) f32v VARIANT(convert)(f32v u, const aimc_quantiser *q, i32v *over) {
    f32v x = u;
    if (q->fast) {
        f32v t = u * q->levels;
        t = t > 0x1p21f ? (f32v)0x1p21f : (t < -0x1p21f ? (f32v)-0x1p21f : t);
        x = ((t + 0x1.8p23f) - 0x1.8p23f) / q->levels;
    }
    const float b = q->bound;
    *over = (i32v)((x > b) | (x < -b));
    return x > b ? (f32v)b : (x < -b ? (f32v)-b : x);
}

/* Lanes 0 ..< n of p, the others 0 (n <= VW; a masked load where the instruction set has one). */
static inline __attribute__((always_inline)) f32v VARIANT(loadPart)(const float *p, int n) {
    f32v v = (f32v)0.0f;
    if (n == VW) __builtin_memcpy(&v, p, sizeof v);
    else v = LOADPART(p, n);
    return v;
}

/* Lanes 0 ..< n of v to p (n <= VW). */
static inline __attribute__((always_inline)) void VARIANT(storePart)(float *p, f32v v, int n) {
    if (n == VW) __builtin_memcpy(p, &v, sizeof v);
    else STOREPART(p, v, n);
}

/* The lanes set in m (a comparison result). */
static inline __attribute__((always_inline)) int VARIANT(count)(i32v m) { return __builtin_popcount(MASKBITS(m)); }

/* max_j |x_j| (NaN never wins; 0 for none; the maximum does not depend on the order it is taken in, and the lanes
 * past count load as 0). */
static float VARIANT(absMax)(const float *x, int count) {
    f32v m = (f32v)0.0f;
    int j = 0;
    for (; j + VW <= count; j += VW) {
        f32v v;
        __builtin_memcpy(&v, x + j, sizeof v);
        const f32v a = FABS(v);
        m = a > m ? a : m;
    }
    if (j < count) {
        const f32v a = FABS(VARIANT(loadPart)(x + j, count - j));
        m = a > m ? a : m;
    }
    float r = 0.0f;
    for (int l = 0; l < VW; l++) r = m[l] > r ? m[l] : r;
    return r;
}

/* DAC of one vector: v_j = convert(x_j * inv); returns how many were clipped. */
static int VARIANT(dac)(const float *x, int count, float inv, const aimc_quantiser *q, float *v) {
    int clipped = 0;
    for (int j = 0; j < count; j += VW) {
        const int n = count - j < VW ? count - j : VW;
        i32v over;
        const f32v c = VARIANT(convert)(VARIANT(loadPart)(x + j, n) * inv, q, &over);
        VARIANT(storePart)(v + j, c, n);
        clipped += VARIANT(count)(over);
    }
    return clipped;
}

static int VARIANT(dacBatch)(const float *x, int stride, int count, int batch, int managed, const aimc_quantiser *q,
                             float *scales, float *v) {
    int clipped = 0;
    for (int b = 0; b < batch; b++) {
        const float *xb = x + (long)b * stride;
        const float s = managed ? VARIANT(absMax)(xb, count) : 1.0f;
        scales[b] = s;
        clipped += VARIANT(dac)(xb, count, s > 0 ? 1.0f / s : 0.0f, q, v + (long)b * count);
    }
    return clipped;
}

/* ADC of one vector: out_i = convert(y_i + sigma z_i) (z null: no noise); returns how many saturated. */
static int VARIANT(adc)(const float *y, const float *z, float sigma, int count, const aimc_quantiser *q, float *out) {
    int clipped = 0;
    for (int i = 0; i < count; i += VW) {
        const int n = count - i < VW ? count - i : VW;
        f32v u = VARIANT(loadPart)(y + i, n);
        if (z) u = u + sigma * VARIANT(loadPart)(z + i, n);
        i32v over;
        const f32v c = VARIANT(convert)(u, q, &over);
        VARIANT(storePart)(out + i, c, n);
        clipped += VARIANT(count)(over);
    }
    return clipped;
}

#undef f32v
#undef i32v
#undef u32v
#undef FABS
