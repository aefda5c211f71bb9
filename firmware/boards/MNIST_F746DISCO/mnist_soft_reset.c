// mpy-mnist: the LCD frame buffer of device_python/display/disco.py is an ordinary bytearray in the heap (the board's
// SDRAM). A soft reset frees the heap while the LTDC would go on reading the buffer's old address for every frame,
// memory the next program owns: so the end of a soft reset switches layer 1 off. Plain register writes (RM0385:
// LTDC_L1CR bit 0 LEN, LTDC_SRCR bit 0 IMR, reload now); with the LTDC's clock off (no display opened) they are
// ignored.

#include <stdbool.h>
#include <stdint.h>
#include "boardctrl.h"

#define LTDC_SRCR (*(volatile uint32_t *)0x40016824)
#define LTDC_L1CR (*(volatile uint32_t *)0x40016884)

void mnist_board_end_soft_reset(boardctrl_state_t *state) {
    LTDC_L1CR &= ~(uint32_t)1;
    LTDC_SRCR = 1;
    boardctrl_end_soft_reset(state);
}
