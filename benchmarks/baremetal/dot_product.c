/* The lead's sanity figure: a plain C int8 dot product (what a reference kernel's inner loop is) costs about 6
 * instructions per multiply-accumulate on the Cortex-M7 at -O2. Region 1 runs it over DOT_LENGTH elements; the
 * host divides the instructions counted in `dot_reference` by DOT_LENGTH. */
#include "baremetal.h"
#include "profile.h"

#define DOT_LENGTH 4096

static int8_t inputs[DOT_LENGTH], weights[DOT_LENGTH];

__attribute__((noinline)) int32_t dot_reference(const int8_t *x, const int8_t *w, int32_t n, int32_t x_offset) {
    int32_t acc = 0;
    for (int32_t i = 0; i < n; i++) {
        acc += (x[i] + x_offset) * w[i];
    }
    return acc;
}

int main(void) {
    uint32_t seed = 1;
    for (int i = 0; i < DOT_LENGTH; i++) {
        inputs[i] = (int8_t)bm_random(&seed);
        weights[i] = (int8_t)bm_random(&seed);
    }
    tfl_profile_mark(1);
    int32_t result = dot_reference(inputs, weights, DOT_LENGTH, 128);
    tfl_profile_mark(0);
    bm_put_int("dot ", result);
    bm_put_int("length ", DOT_LENGTH);
    return 0;
}
