// mpy-mnist's additions to MicroPython's STM32F7DISC configuration (appended to the copy of its mpconfigboard.h).
#undef MICROPY_HW_BOARD_NAME
#define MICROPY_HW_BOARD_NAME       "STM32F746G-DISCO (mpy-mnist)"

// No Ethernet. STM32F7DISC wires the board's LAN8742A and eth.c/network_lan.c compile their driver, which is built
// on lwIP (lib/lwip), whenever MICROPY_HW_ETH_MDC is defined, whatever MICROPY_PY_LWIP says. The build recipe (a
// v1.25.0 checkout with only lib/stm32lib, or Debian's source) has no lwIP, and the app needs no network: undoing
// the pins makes both files compile to nothing. The `network` module stays, with no interface in it.
#undef MICROPY_HW_ETH_MDC
#undef MICROPY_HW_ETH_MDIO
#undef MICROPY_HW_ETH_RMII_REF_CLK
#undef MICROPY_HW_ETH_RMII_CRS_DV
#undef MICROPY_HW_ETH_RMII_RXD0
#undef MICROPY_HW_ETH_RMII_RXD1
#undef MICROPY_HW_ETH_RMII_RXER
#undef MICROPY_HW_ETH_RMII_TX_EN
#undef MICROPY_HW_ETH_RMII_TXD0
#undef MICROPY_HW_ETH_RMII_TXD1

// A soft reset also switches the LCD layer off (mnist_soft_reset.c): its frame buffer lived in the heap just freed.
struct _boardctrl_state_t;
void mnist_board_end_soft_reset(struct _boardctrl_state_t *state);
#define MICROPY_BOARD_END_SOFT_RESET mnist_board_end_soft_reset
