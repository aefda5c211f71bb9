/*
 * tfl_arm_gemm_2x2 (arm_int8.h): two output positions x every full channel pair, for int8 ReLU convolutions.
 *
 * Registers: r0 the patch, r1 the weight blocks, r2/r3 channel A of positions 0/1, r12/lr channel B of positions
 * 0/1, r4-r7 four patch words (k-pairs k and k+1 of both positions), r8-r11 four weight words (k-pairs k and k+1 of
 * both channels). The frame holds the patch start, the entry, and the two output pointers.
 *
 * Per channel pair: the head's biases go straight into the first k-pair's SMLADs as their accumulators (an odd
 * number of k-pairs; with an even number, tfl_arm_gemm_2x2_even, the biases are the accumulators); the
 * remaining k-pairs (an even number) run as groups of two in an unrolled sequence
 * entered `groups` from its end, so there is no loop counter; the tail's fast requantisation, and its `next`
 * word is where to branch (the next pair's start, or the exit). A layer whose weights and biases are pre-scaled
 * by the left shifts (tfl_arm_gemm.scaled) enters a second, shorter sequence of groups whose tail has no shifts.
 */
#include "arm_int8.h"

#if defined(TFL_ARM_DSP)

#define STRINGIFY(x) #x
#define STRING(x) STRINGIFY(x)

/* Two k-pairs of both positions and both channels; 40 bytes, every instruction in its 32-bit encoding. */
#define GROUP                       \
    "   ldmia.w r0!, {r4-r7}\n"     \
    "   ldmia.w r1!, {r8-r11}\n"    \
    "   smlad r2, r4, r8, r2\n"     \
    "   smlad r3, r5, r8, r3\n"     \
    "   smlad r12, r4, r9, r12\n"   \
    "   smlad lr, r5, r9, lr\n"     \
    "   smlad r2, r6, r10, r2\n"    \
    "   smlad r3, r7, r10, r3\n"    \
    "   smlad r12, r6, r11, r12\n"  \
    "   smlad lr, r7, r11, lr\n"

/* The tail once the accumulators are scaled: SMMLAR, ASR, SSAT, the four bytes stored, on to the block's next. */
#define REQUANTIZE_STORE_NEXT       \
    "   smmlar r2, r2, r4, r5\n"    \
    "   smmlar r3, r3, r4, r5\n"    \
    "   smmlar r12, r12, r7, r8\n"  \
    "   smmlar lr, lr, r7, r8\n"    \
    "   asr r2, r2, r6\n"           \
    "   asr r3, r3, r6\n"           \
    "   asr r12, r12, r9\n"         \
    "   asr lr, lr, r9\n"           \
    "   ssat r2, #8, r2\n"          \
    "   ssat r3, #8, r3\n"          \
    "   ssat r12, #8, r12\n"        \
    "   ssat lr, #8, lr\n"          \
    "   ldrd r4, r5, [sp, #8]\n"    \
    "   strb r2, [r4], #1\n"        \
    "   strb r12, [r4], #1\n"       \
    "   strb r3, [r5], #1\n"        \
    "   strb lr, [r5], #1\n"        \
    "   strd r4, r5, [sp, #8]\n"    \
    "   ldr pc, [r1], #4\n"         /* next */

__asm__(
    "   .pushsection .text.tfl_arm_gemm_2x2, \"ax\", %progbits\n"
    "   .syntax unified\n"
    "   .thumb\n"
    "   .p2align 2\n"
    /* an even number of k-pairs (GROUPS): the biases alone start the accumulators, the groups do every k-pair */
    "   .global tfl_arm_gemm_2x2_even\n"
    "   .type tfl_arm_gemm_2x2_even, %function\n"
    "   .thumb_func\n"
    "tfl_arm_gemm_2x2_even:\n"
    "   push {r4-r11, lr}\n"
    "   sub sp, sp, #16\n"
    "   ldm r0, {r1-r5}\n"
    "   stm sp, {r2-r5}\n"
    "   .global tfl_arm_gemm_2x2_next_even\n"
    "   .type tfl_arm_gemm_2x2_next_even, %function\n"
    "   .thumb_func\n"
    "tfl_arm_gemm_2x2_next_even:\n"
    "   ldr r0, [sp]\n"
    "   ldmia r1!, {r2, r12}\n"
    "   mov r3, r2\n"
    "   mov lr, r12\n"
    "   ldr pc, [sp, #4]\n"
    "   .size tfl_arm_gemm_2x2_even, . - tfl_arm_gemm_2x2_even\n"
    "   .p2align 2\n"
    "   .global tfl_arm_gemm_2x2\n"
    "   .type tfl_arm_gemm_2x2, %function\n"
    "   .thumb_func\n"
    "tfl_arm_gemm_2x2:\n"
    "   push {r4-r11, lr}\n"
    "   sub sp, sp, #16\n"
    "   ldm r0, {r1-r5}\n"          /* weights, patch, entry, out0, out1 */
    "   stm sp, {r2-r5}\n"          /* frame: [sp] patch, [sp, #4] entry, [sp, #8] out0, [sp, #12] out1 */
    "   .global tfl_arm_gemm_2x2_next\n"
    "   .type tfl_arm_gemm_2x2_next, %function\n"
    "   .thumb_func\n"
    "tfl_arm_gemm_2x2_next:\n"
    "   ldr r0, [sp]\n"
    "   ldmia r1!, {r2, r12}\n"     /* the biases of channels A and B */
    "   ldrd r4, r5, [r0], #8\n"
    "   ldrd r8, r9, [r1], #8\n"
    "   smlad r3, r5, r8, r2\n"
    "   smlad r2, r4, r8, r2\n"
    "   smlad lr, r5, r9, r12\n"
    "   smlad r12, r4, r9, r12\n"
    "   ldr pc, [sp, #4]\n"
    "   .rept " STRING(TFL_ARM_MAX_GROUPS) "\n"
    GROUP
    "   .endr\n"
    "   .global tfl_arm_gemm_2x2_groups_end\n"
    "   .type tfl_arm_gemm_2x2_groups_end, %function\n"
    "   .thumb_func\n"
    "tfl_arm_gemm_2x2_groups_end:\n"
    "   ldmia r1!, {r4-r11}\n"      /* multiplier, rounding, shift of A; the same of B; left shifts of A, B */
    "   lsl r2, r2, r10\n"
    "   lsl r3, r3, r10\n"
    "   lsl r12, r12, r11\n"
    "   lsl lr, lr, r11\n"
    REQUANTIZE_STORE_NEXT
    /* blocks whose weights and biases are pre-scaled by the left shifts (tfl_arm_gemm.scaled): no shifts */
    "   .rept " STRING(TFL_ARM_SCALED_MAX_GROUPS) "\n"
    GROUP
    "   .endr\n"
    "   .global tfl_arm_gemm_2x2_scaled_end\n"
    "   .type tfl_arm_gemm_2x2_scaled_end, %function\n"
    "   .thumb_func\n"
    "tfl_arm_gemm_2x2_scaled_end:\n"
    "   ldmia r1!, {r4-r11}\n"
    REQUANTIZE_STORE_NEXT
    "   .global tfl_arm_gemm_2x2_done\n"
    "   .type tfl_arm_gemm_2x2_done, %function\n"
    "   .thumb_func\n"
    "tfl_arm_gemm_2x2_done:\n"
    "   add sp, sp, #16\n"
    "   pop {r4-r11, pc}\n"
    "   .size tfl_arm_gemm_2x2, . - tfl_arm_gemm_2x2\n"
    "   .popsection\n");

#endif /* TFL_ARM_DSP */
