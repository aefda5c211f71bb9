/* The little a bare-metal test program needs: text output, exit status, a repeatable random source. */
#ifndef BAREMETAL_H
#define BAREMETAL_H

#include <stdint.h>

void bm_puts(const char *text);
void bm_put_int(const char *label, long long value); /* "label<value>\n" */
void bm_exit(int status);

/* xorshift32: the same sequence on every run, so a failing case can be replayed from its seed. */
static inline uint32_t bm_random(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

#endif
