// The emulated board's additions to MicroPython's qemu port, hooked in with the linker's --wrap so the port's
// files stay as they are:
//   __wrap_main                  enables the FPU (the port never does), installs our vector table, starts
//                                SysTick at 1 kHz and the UART's receive interrupt, then runs the port's main()
//   __wrap_mp_init               after every (soft) reset runs the frozen _boot.py, which mounts /flash
//   __wrap_mp_hal_stdin_rx_chr   reads stdin from a ring buffer filled by the UART interrupt, sleeping meanwhile
// and the HAL functions behind the `time` module and FAT's file times, and the `emulator` module (LCD and RAM disk
// addresses).

#include <stdint.h>

#include "py/mphal.h"
#include "py/objint.h"
#include "py/runtime.h"
#include "lib/oofatfs/ff.h"
#include "shared/runtime/interrupt_char.h"
#include "shared/runtime/pyexec.h"
#include "shared/timeutils/timeutils.h"
#include "board.h"

#define REG32(address) (*(volatile uint32_t *)(address))

// Cortex-M7 system control (ARMv7-M architecture reference manual, B3.2).
#define SCB_CPACR       REG32(0xe000ed88)
#define SCB_VTOR        REG32(0xe000ed08)
#define SYST_CSR        REG32(0xe000e010)
#define SYST_RVR        REG32(0xe000e014)
#define SYST_CVR        REG32(0xe000e018)
#define NVIC_ISER0      REG32(0xe000e100)
#define NVIC_ISPR0      REG32(0xe000e200)
#define CPACR_CP10_CP11_FULL (0xfu << 20)
#define SYST_CSR_ENABLE  (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_COUNTFLAG (1u << 16)

// SysTick counts QEMU's 1 MHz reference clock (CLKSOURCE = 0): one count per microsecond, so a reload of 999
// gives a 1 ms tick, and the current value gives the microseconds within it. Under `-icount` this clock is
// derived from the instruction count, which makes time deterministic.
#define SYSTICK_COUNTS_PER_MS (1000u)

// CMSDK APB UART0 of the mps2 boards, and its receive interrupt line (IRQ 0 on mps2-an385/an500).
#define UART0_DATA      REG32(0x40004000)
#define UART0_STATE     REG32(0x40004004)
#define UART0_CTRL      REG32(0x40004008)
#define UART0_INTSTATUS REG32(0x4000400c)
#define UART_STATE_RXFULL   (1u << 1)
#define UART_CTRL_RX_INTEN  (1u << 3)
#define UART_INT_RX         (1u << 1)
#define UART0_RX_IRQ        (0)

#define NUM_CORE_VECTORS (16)
#define NUM_IRQS         (32)
#define SYSTICK_VECTOR   (15)

static volatile uint32_t ticks_ms;

// ---------------------------------------------------------------------------------------------------------------
// stdin: the UART interrupt fills a ring buffer; Ctrl-C (when armed) becomes KeyboardInterrupt instead.

#define STDIN_RING_SIZE (1024u)
static uint8_t stdin_ring[STDIN_RING_SIZE];
static volatile uint32_t stdin_head; // written by the interrupt only
static volatile uint32_t stdin_tail; // written by the reader only

static void uart0_rx_handler(void) {
    // Clear first, then drain: a character arriving meanwhile raises the interrupt again rather than being lost.
    UART0_INTSTATUS = UART_INT_RX;
    while (UART0_STATE & UART_STATE_RXFULL) {
        int c = UART0_DATA & 0xff;
        if (c == mp_interrupt_char) {
            mp_sched_keyboard_interrupt();
        } else if (stdin_head - stdin_tail < STDIN_RING_SIZE) {
            stdin_ring[stdin_head % STDIN_RING_SIZE] = (uint8_t)c;
            stdin_head = stdin_head + 1;
        }
    }
}

int __wrap_mp_hal_stdin_rx_chr(void) {
    while (stdin_head == stdin_tail) {
        mp_handle_pending(true);
        __asm volatile ("wfi");
    }
    int c = stdin_ring[stdin_tail % STDIN_RING_SIZE];
    stdin_tail = stdin_tail + 1;
    return c;
}

// ---------------------------------------------------------------------------------------------------------------
// Time

static void systick_handler(void) {
    ticks_ms = ticks_ms + 1;
    // Reading the control register clears COUNTFLAG: from here on it is set only by a reload whose interrupt has
    // not run yet, which is what read_clock looks for (as the stm32 port's SysTick_Handler does).
    (void)SYST_CSR;
}

mp_uint_t mp_hal_ticks_ms(void) {
    return ticks_ms;
}

// The time since reset as whole milliseconds and the microseconds into the current one.
// The counter can reload while its interrupt is still pending (QEMU takes interrupts between translated blocks,
// and never while they are masked): the count then has wrapped but ticks_ms not yet, and pairing the two would
// step time back by a millisecond. As in the stm32 port's mp_hal_ticks_us, with interrupts masked COUNTFLAG says
// that such a reload happened, and its millisecond is added here. Unlike the stm32 port, which bounds the time
// between its reads in CPU cycles, QEMU's counter follows the host clock, so any time may pass between two
// instructions: the counter is read again after a reload is seen, so that both figures come from after it.
static void read_clock(uint32_t *ms, uint32_t *us_in_ms) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask\n cpsid i" : "=r" (primask) : : "memory");
    uint32_t counts_left = SYST_CVR;
    uint32_t reloaded = SYST_CSR & SYST_CSR_COUNTFLAG;
    if (reloaded) {
        counts_left = SYST_CVR;
    }
    *ms = ticks_ms + (reloaded ? 1u : 0u);
    __asm volatile ("msr primask, %0" : : "r" (primask) : "memory");
    *us_in_ms = SYSTICK_COUNTS_PER_MS - 1u - counts_left;
}

mp_uint_t mp_hal_ticks_us(void) {
    uint32_t ms, us_in_ms;
    read_clock(&ms, &us_in_ms);
    return ms * 1000u + us_in_ms;
}

mp_uint_t mp_hal_ticks_cpu(void) {
    // QEMU has no cycle counter (DWT); microseconds are the finest clock there is.
    return mp_hal_ticks_us();
}

void mp_hal_delay_ms(mp_uint_t ms) {
    // Counted in microseconds: a sleep starting late in a millisecond still lasts the full time.
    uint32_t start = mp_hal_ticks_us();
    while (mp_hal_ticks_us() - start < ms * 1000u) {
        mp_handle_pending(true);
        __asm volatile ("wfi");
    }
}

uint64_t mp_hal_time_ns(void) {
    // No real-time clock: time starts at the epoch (2000-01-01) at reset, as on a DISCO whose RTC is not set.
    uint32_t ms, us_in_ms;
    read_clock(&ms, &us_in_ms);
    return (uint64_t)ms * 1000000u + us_in_ms * 1000u;
}

void mp_hal_delay_us(mp_uint_t us) {
    uint32_t start = mp_hal_ticks_us();
    while (mp_hal_ticks_us() - start < us) {
    }
}

// The time stamp of files on the FAT /flash, from the same clock (as the stm32 port's fatfs_port.c takes its RTC's).
DWORD get_fattime(void) {
    timeutils_struct_time_t tm;
    timeutils_seconds_since_epoch_to_struct_time(mp_hal_ticks_ms() / 1000u, &tm);
    return ((tm.tm_year - 1980) << 25) | (tm.tm_mon << 21) | (tm.tm_mday << 16) | (tm.tm_hour << 11)
           | (tm.tm_min << 5) | (tm.tm_sec / 2);
}

// ---------------------------------------------------------------------------------------------------------------
// Start-up

static void unexpected_irq(void) {
    mp_printf(&mp_plat_print, "unexpected interrupt\n");
    for (;;) {
    }
}

// The port's vector table has the 16 core entries only; ours adds the external interrupts. VTOR needs the
// table aligned to its size rounded up to a power of two (48 words -> 256 bytes).
static uint32_t vector_table[NUM_CORE_VECTORS + NUM_IRQS] __attribute__((aligned(256)));

static void install_vector_table(void) {
    extern const uint32_t isr_vector[];
    for (int i = 0; i < NUM_CORE_VECTORS; ++i) {
        vector_table[i] = isr_vector[i];
    }
    for (int i = 0; i < NUM_IRQS; ++i) {
        vector_table[NUM_CORE_VECTORS + i] = (uint32_t)&unexpected_irq;
    }
    vector_table[SYSTICK_VECTOR] = (uint32_t)&systick_handler;
    vector_table[NUM_CORE_VECTORS + UART0_RX_IRQ] = (uint32_t)&uart0_rx_handler;
    SCB_VTOR = (uint32_t)vector_table;
    __asm volatile ("dsb\n isb" ::: "memory");
}

int __real_main(int argc, char **argv);

int __wrap_main(int argc, char **argv) {
    // Give the CPU full access to the FPU (coprocessors 10 and 11) before any floating-point instruction.
    SCB_CPACR |= CPACR_CP10_CP11_FULL;
    __asm volatile ("dsb\n isb" ::: "memory");

    install_vector_table();

    SYST_RVR = SYSTICK_COUNTS_PER_MS - 1u;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT;

    // uart_init() of the port has run already (in _start); add the receive interrupt. A character that arrived
    // before it raised none and holds the receiver full (QEMU then takes no more): pend the interrupt once to drain it.
    UART0_CTRL |= UART_CTRL_RX_INTEN;
    NVIC_ISER0 = 1u << UART0_RX_IRQ;
    NVIC_ISPR0 = 1u << UART0_RX_IRQ;

    return __real_main(argc, argv);
}

void __real_mp_init(void);

void __wrap_mp_init(void) {
    __real_mp_init();
    pyexec_frozen_module("_boot.py", false);
}

// ---------------------------------------------------------------------------------------------------------------
// The `emulator` module: where the board keeps its LCD frame buffer, its touch panel and its /flash RAM disk.

// Addresses from 0x40000000 up do not fit MicroPython's small ints (31 bits, signed): like the stm32 port's
// peripheral constants (its make-stmconst.py), they are constant big integers, of two 16-bit digits.
#define CONST_ADDRESS_OBJ(name, address) \
    static const mp_obj_int_t name = {{&mp_type_int}, {.neg = 0, .fixed_dig = 1, .alloc = 2, .len = 2, \
        .dig = (mpz_dig_t *)(const mpz_dig_t[]) {(address) & 0xffffu, (address) >> 16}}}
CONST_ADDRESS_OBJ(lcd_address_obj, LCD_ADDRESS);
CONST_ADDRESS_OBJ(touch_address_obj, TOUCH_ADDRESS);

static const mp_rom_map_elem_t emulator_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_emulator) },
    { MP_ROM_QSTR(MP_QSTR_LCD_ADDRESS), MP_ROM_PTR(&lcd_address_obj) },
    { MP_ROM_QSTR(MP_QSTR_LCD_WIDTH), MP_ROM_INT(LCD_WIDTH) },
    { MP_ROM_QSTR(MP_QSTR_LCD_HEIGHT), MP_ROM_INT(LCD_HEIGHT) },
    { MP_ROM_QSTR(MP_QSTR_TOUCH_ADDRESS), MP_ROM_PTR(&touch_address_obj) },
    { MP_ROM_QSTR(MP_QSTR_FLASH_ADDRESS), MP_ROM_INT(FLASH_ADDRESS) },
    { MP_ROM_QSTR(MP_QSTR_FLASH_BYTES), MP_ROM_INT(FLASH_BYTES) },
    { MP_ROM_QSTR(MP_QSTR_FLASH_BLOCK), MP_ROM_INT(FLASH_BLOCK) },
};
static MP_DEFINE_CONST_DICT(emulator_module_globals, emulator_module_globals_table);

const mp_obj_module_t emulator_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&emulator_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_emulator, emulator_module);
