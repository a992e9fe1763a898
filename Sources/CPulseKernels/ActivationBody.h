/*
 * The activations of AIMCCore's Elementary (tanh, sigmoid: computed in Double, rounded once to Float) for one
 * instruction set: included by Kernels.c after KernelBody.h, with the same VARIANT and VW. Operation for operation
 * the Swift code's (`Elementary.expm1Reduced`, `expReduced`, `expModerate`, `tanhMagnitude`, `tanh`, `sigmoid`),
 * each lane on its own, so the results are the same bits at any vector width.
 */

typedef double VARIANT(f64v) __attribute__((ext_vector_type(VW)));
typedef uint64_t VARIANT(u64w) __attribute__((ext_vector_type(VW)));
#define f32v VARIANT(f32v)
#define i32v VARIANT(i32v)
#define u32v VARIANT(u32v)
#define f64v VARIANT(f64v)
#define u64w VARIANT(u64w)

/* e^r - 1 for |r| <= ln(2)/2 + 2^-30 (Elementary.expm1Reduced). */
static inline __attribute__((always_inline)) f64v VARIANT(expm1Reduced)(f64v r) {
    f64v p = (f64v)(1.0 / 6227020800.0);
    p = 1.0 / 479001600.0 + r * p;
    p = 1.0 / 39916800.0 + r * p;
    p = 1.0 / 3628800.0 + r * p;
    p = 1.0 / 362880.0 + r * p;
    p = 1.0 / 40320.0 + r * p;
    p = 1.0 / 5040.0 + r * p;
    p = 1.0 / 720.0 + r * p;
    p = 1.0 / 120.0 + r * p;
    p = 1.0 / 24.0 + r * p;
    p = 1.0 / 6.0 + r * p;
    p = 0.5 + r * p;
    return r + (r * r) * p;
}

/* e^x for |x| <= 700 (Elementary.expModerate: Cody and Waite's reduction, 2^k from the shifted sum's low bits). */
static inline __attribute__((always_inline)) f64v VARIANT(expModerate)(f64v x) {
    const double ln2Hi = 6.93147180369123816490e-01, ln2Lo = 1.90821492927058770002e-10;
    const double log2e = 1.44269504088896338700e+00, shifter = 0x1.8p52;
    const f64v shifted = x * log2e + shifter;
    const f64v k = shifted - shifter;
    const f64v r = (x - k * ln2Hi) - k * ln2Lo;
    const u64w bits = (u64w)shifted;
    const f64v scale = (f64v)((bits + 1023u) << 52);
    return (1.0 + VARIANT(expm1Reduced)(r)) * scale;
}

/* Swift's LaneSelect.clamp: x > hi ? hi : (x < lo ? lo : x) (NaN stays NaN). */
#define CLAMP(x, lo, hi) ((x) > (hi) ? (f64v)(hi) : ((x) < (lo) ? (f64v)(lo) : (x)))

/* tanh of VW values (Elementary.tanh). */
static inline __attribute__((always_inline)) f32v VARIANT(tanhLanes)(f32v z) {
    const u32v bits = (u32v)z;
    const f64v a = __builtin_convertvector((f32v)(bits & 0x7FFFFFFFu), f64v);
    const f64v q = a * a;
    f64v p = (f64v)(-929569.0 / 638512875.0);
    p = 21844.0 / 6081075.0 + q * p;
    p = -1382.0 / 155925.0 + q * p;
    p = 62.0 / 2835.0 + q * p;
    p = -17.0 / 315.0 + q * p;
    p = 2.0 / 15.0 + q * p;
    p = -1.0 / 3.0 + q * p;
    const f64v series = a + a * (q * p);
    const f64v e = VARIANT(expModerate)(2.0 * CLAMP(a, 0.0, 20.0));
    const f64v t = (e - 1.0) / (e + 1.0);
    const f64v m = a > 20.0 ? (f64v)1.0 : (a < 0.0625 ? series : t);
    const f32v y = (f32v)((u32v)__builtin_convertvector(m, f32v) | (bits & 0x80000000u));
    return z != z ? z : y;
}

/* The logistic sigmoid of VW values (Elementary.sigmoid). */
static inline __attribute__((always_inline)) f32v VARIANT(sigmoidLanes)(f32v z) {
    const f32v c = z > 40.0f ? (f32v)40.0f : (z < -104.0f ? (f32v)-104.0f : z);
    const f64v y = 1.0 / (1.0 + VARIANT(expModerate)(-__builtin_convertvector(c, f64v)));
    const f32v r = __builtin_convertvector(y, f32v);
    return z != z ? z : r;
}

static void VARIANT(activation)(float *v, long count, int kind) {
    for (long i = 0; i < count; i += VW) {
        const int n = count - i < VW ? (int)(count - i) : VW;
        f32v x = (f32v)0.0f;
        if (n == VW) __builtin_memcpy(&x, v + i, sizeof x);
        else for (int l = 0; l < n; l++) x[l] = v[i + l];
        const f32v y = kind == 0 ? VARIANT(tanhLanes)(x) : VARIANT(sigmoidLanes)(x);
        if (n == VW) __builtin_memcpy(v + i, &y, sizeof y);
        else for (int l = 0; l < n; l++) v[i + l] = y[l];
    }
}

#undef CLAMP
#undef f32v
#undef i32v
#undef u32v
#undef f64v
#undef u64w
