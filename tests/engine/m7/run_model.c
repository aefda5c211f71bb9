/* One model through the whole engine on the bare Cortex-M7 (QEMU), for test_kernels_m7.py: the inputs and the
 * model come from generated files; prints the output tensor's bytes, one per line, as "out <byte>". */
#include "baremetal.h"
#include "tfl_engine.h"

#define ARENA_BYTES (256 * 1024)

extern const unsigned char model_data[];
extern const unsigned int model_size;
extern const unsigned char *const input_data[];
extern const unsigned int input_count;

static uint8_t arena[ARENA_BYTES] __attribute__((aligned(16)));

int main(void) {
    static tfl_interpreter interpreter;
    char message[200];
    if (tfl_init(&interpreter, model_data, model_size, arena, sizeof arena) != TFL_OK) {
        bm_puts(tfl_format_error(&interpreter, message, sizeof message));
        bm_puts("\n");
        return 2;
    }
    for (unsigned int i = 0; i < input_count; i++) {
        tfl_tensor *input = tfl_input_tensor(&interpreter, (int)i);
        for (uint32_t b = 0; b < input->bytes; b++) {
            input->data[b] = input_data[i][b];
        }
    }
    if (tfl_invoke(&interpreter) != TFL_OK) {
        bm_puts(tfl_format_error(&interpreter, message, sizeof message));
        bm_puts("\n");
        return 2;
    }
    tfl_tensor *output = tfl_output_tensor(&interpreter, 0);
    for (uint32_t i = 0; i < output->bytes; i++) {
        bm_put_int("out ", output->data[i]);
    }
    return 0;
}
