/* Reset and semihosting for the bare-metal programs that run under QEMU's mps2-an500: no C library, no
 * interrupts; output and exit go through the debugger interface (QEMU's -semihosting). */
#include <stdint.h>

#include "baremetal.h"

extern uint32_t _bss_start, _bss_end, _stack_top;
int main(void);

/* ARM semihosting call: operation in r0, parameter block in r1, result in r0. */
static int semihost(int operation, const void *parameter) {
    register int r0 __asm__("r0") = operation;
    register const void *r1 __asm__("r1") = parameter;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void bm_puts(const char *text) {
    semihost(0x04, text); /* SYS_WRITE0 */
}

void bm_put_int(const char *label, long long value) {
    char buffer[64], digits[24];
    int n = 0, d = 0;
    while (*label && n < 32) {
        buffer[n++] = *label++;
    }
    unsigned long long magnitude = value < 0 ? -(unsigned long long)value : (unsigned long long)value;
    do {
        digits[d++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0) {
        buffer[n++] = '-';
    }
    while (d) {
        buffer[n++] = digits[--d];
    }
    buffer[n++] = '\n';
    buffer[n] = 0;
    bm_puts(buffer);
}

void bm_exit(int status) {
    /* SYS_EXIT_EXTENDED: QEMU exits with `status`. */
    uint32_t block[2] = {0x20026 /* ADP_Stopped_ApplicationExit */, (uint32_t)status};
    semihost(0x20, block);
    for (;;) {
    }
}

void reset_handler(void) {
    for (uint32_t *word = &_bss_start; word < &_bss_end; word++) {
        *word = 0;
    }
    /* Full access to the FPU (coprocessors 10 and 11) for code built with -mfloat-abi=hard. */
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
    __asm__ volatile("dsb\n isb");
    bm_exit(main());
}

static void fault_handler(void) {
    bm_puts("fault\n");
    bm_exit(3);
}

__attribute__((section(".vectors"), used)) static const void *const vectors[16] = {
    &_stack_top, reset_handler, fault_handler, fault_handler, fault_handler, fault_handler, fault_handler,
};
