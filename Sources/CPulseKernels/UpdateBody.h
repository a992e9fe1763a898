/*
 * Rank-one pulsed updates, one after the other, for one instruction set (AIMCCore's AnalogArray.pulsedUpdate for each,
 * operation for operation: update BL management and update management in Double, the Bernoulli trains of x and d,
 * the lines of coincidences through the line kernel): included by Kernels.c after StreamBody.h, PeripheryBody.h and
 * ReadBody.h, with the same VARIANT and VW. One call applies the updates of a convolution's output positions (or of a
 * dense layer's samples) in turn, so none of the work around a line is repeated per update in Swift.
 */

/* SplitMix64's finaliser (AIMCCore's StreamKey.mix). */
static inline uint64_t VARIANT(mix)(uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void VARIANT(updates)(const aimc_affine_device *device, float *state, const uint8_t *records, int recordBytes,
                             int rows, int cols, const float *x, long ldx, const float *d, long ldd, int count,
                             const aimc_update_rule *rule, aimc_stream trainStream, aimc_stream noiseStream,
                             const update_scratch *sc, aimc_update_counts *out) {
    out->updates += (uint64_t)count;
    if (!(rule->lr > 0)) return;
    const double lr = rule->lr, dw = rule->dwMin;
    const int desired = rule->desiredBL;
    /* The pulse streams' keys (RandomStream.pulseStream at word 0 of each update's stream): the key part, then the
     * position 0, then per line orientation and band. */
    const uint64_t keyMix = VARIANT(mix)(VARIANT(mix)(((uint64_t)noiseStream.key0 | (uint64_t)noiseStream.key1 << 32)
                                                      ^ 0x70756C7365730000ull) + 0xBF58476D1CE4E5B9ull);
    for (int u = 0; u < count; u++) {
        const float *xu = x + (long)u * ldx, *du = d + (long)u * ldd;
        const float xMax = VARIANT(absMax)(xu, cols), dMax = VARIANT(absMax)(du, rows);
        if (!(xMax > 0) || !(dMax > 0) || !(xMax < INFINITY) || !(dMax < INFINITY)) continue;
        /* BL and the train probabilities' scales (AnalogArray.pulsedUpdate, in Double). */
        const double k = lr * (double)xMax * (double)dMax / dw;
        int bl = desired;
        if (rule->blManagement) bl = k >= (double)desired ? desired : ((int)ceil(k) > 1 ? (int)ceil(k) : 1);
        double a = sqrt(lr / (dw * (double)bl)), b = a;
        if (rule->updateManagement || rule->blManagement) {
            double dVal = (double)dMax;
            if (k > (double)desired) dVal *= (double)desired / k;
            a *= sqrt((double)xMax / dVal);
            b = (lr / (dw * (double)bl)) / a;
        }
        const float scaleX = (float)(1e30 < b ? 1e30 : b), scaleD = (float)(1e30 < a ? 1e30 : a);
        out->slots += (uint64_t)bl;
        /* The trains of x from word 0 of the update's stream, then those of d (formed when x has one): the words of
         * both in one pass. */
        aimc_stream ts = trainStream;
        ts.c3 = trainStream.c3 + (uint32_t)u;
        const int drawX = VARIANT(trainsDraw)(xu, cols, scaleX, bl, sc->trainTemp);
        const int drawD = VARIANT(trainsDraw)(du, rows, scaleD, bl, sc->trainTempD);
        VARIANT(trainsWords)(ts, 0, (long)(drawX + drawD) * bl, sc->trainWords);
        const int nx = VARIANT(trainsFinish)(xu, cols, bl, sc->trainWords, sc->trainTemp, sc->xIndex, sc->xBits, sc->xNegative);
        if (nx == 0) continue;
        const int nd = VARIANT(trainsFinish)(du, rows, bl, sc->trainWords + (long)drawX * bl, sc->trainTempD, sc->dIndex,
                                             sc->dBits, sc->dNegative);
        if (nd == 0) continue;
        out->visited += (uint64_t)nx * (uint64_t)nd;
        /* The lines (AnalogArray.applyTrains): the rows, or the columns when fewer x trains fire than d trains. */
        const int byRows = nd <= nx;
        const int lines = byRows ? nd : nx, positions = byRows ? nx : nd;
        const int32_t *lineIndex = byRows ? sc->dIndex : sc->xIndex, *posIndex = byRows ? sc->xIndex : sc->dIndex;
        const uint32_t *lineBits = byRows ? sc->dBits : sc->xBits, *posBits = byRows ? sc->xBits : sc->dBits;
        const uint8_t *lineNegative = byRows ? sc->dNegative : sc->xNegative;
        const uint8_t *posNegative = byRows ? sc->xNegative : sc->dNegative;
        for (int q = 0; q < positions; q++) sc->offsets[q] = byRows ? posIndex[q] : posIndex[q] * cols;
        /* LinePlan: a line of width W owns 256 ceil(W / 32) blocks; bands of 2^24 / ceil(W / 32) lines. */
        const int width = byRows ? cols : rows, chunks = (width + 31) / 32;
        const int linesPerBand = (1 << 24) / chunks > 1 ? (1 << 24) / chunks : 1;
        const uint64_t orientation = byRows ? 0 : 1;
        aimc_stream ps = noiseStream;
        ps.c3 = noiseStream.c3 + (uint32_t)u;
        int keyBand = -1;
        aimc_pulse_counts counts = {0, 0};
        for (int p = 0; p < lines; p++) {
            const int line = lineIndex[p], band = line / linesPerBand;
            if (band != keyBand) {
                const uint64_t h = VARIANT(mix)(keyMix + (orientation << 40 | (uint64_t)band) + 1);
                ps.key0 = (uint32_t)h;
                ps.key1 = (uint32_t)(h >> 32);
                keyBand = band;
            }
            const uint32_t firstBlock = (uint32_t)((line % linesPerBand) * chunks * 256);
            const long base = byRows ? (long)line * cols : line;
            VARIANT(row)(device, state + base, recordBytes > 0 ? records + base * recordBytes : records, recordBytes,
                         byRows ? cols : 0, sc->offsets, posBits, 0, lineBits[p], posNegative,
                         lineNegative[p] != 0 ? 0 : 1, positions, ps, firstBlock, sc->row, &counts);
        }
        out->coincidences += counts.coincidences;
        out->clipped += counts.clipped;
    }
}
