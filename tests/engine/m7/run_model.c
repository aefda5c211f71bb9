/* One model through the whole engine on the bare Cortex-M7 (QEMU), for test_kernels_m7.py: the inputs and the
 * model come from generated files; prints the output tensor's bytes, one per line, as "out <byte>". With
 * MODEL_SHIFT, the engine reads a copy of the model that many bytes past a 16-aligned address (as a bytes object
 * in MicroPython may lie). */
#include "baremetal.h"
#include "tfl_engine.h"

#define ARENA_BYTES (256 * 1024)

extern const unsigned char model_data[];
extern const unsigned int model_size;
extern const unsigned char *const input_data[];
extern const unsigned int input_count;

static uint8_t arena[ARENA_BYTES] __attribute__((aligned(16)));

#if defined(MODEL_SHIFT)
static uint8_t shifted[MODEL_SHIFT + 128 * 1024] __attribute__((aligned(16)));

static const unsigned char *model_at_its_address(void) {
    if (model_size > sizeof shifted - MODEL_SHIFT) {
        return NULL;
    }
    for (unsigned int i = 0; i < model_size; i++) {
        shifted[MODEL_SHIFT + i] = model_data[i];
    }
    return shifted + MODEL_SHIFT;
}
#else
static const unsigned char *model_at_its_address(void) {
    return model_data;
}
#endif

int main(void) {
    static tfl_interpreter interpreter;
    char message[200];
    if (model_at_its_address() == NULL) {
        bm_puts("model too large to shift\n");
        return 2;
    }
    if (tfl_init(&interpreter, model_at_its_address(), model_size, arena, sizeof arena) != TFL_OK) {
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
