/* One model through the whole engine (reader, planner, interpreter, kernels) on the bare Cortex-M7: the
 * interpreter marks each node as a region for the instruction-counting plugin. Two invokes on the same
 * pseudo-random input (the plugin then reports two windows, which must agree); prints the arena the model needs
 * and its persistent part, each node's op code and scratch, and the output bytes. The model comes from a generated
 * file (model_data[], model_size). */
#include "baremetal.h"
#include "tfl_engine.h"

#ifndef ARENA_BYTES
#define ARENA_BYTES (2 * 1024 * 1024) /* of the 4 MiB data RAM: room for big models with packed weights */
#endif

extern const unsigned char model_data[];
extern const unsigned int model_size;

static uint8_t arena[ARENA_BYTES] __attribute__((aligned(16)));

int main(void) {
    static tfl_interpreter interpreter;
    if (tfl_init(&interpreter, model_data, model_size, arena, sizeof arena) != TFL_OK) {
        char message[160];
        bm_puts(tfl_format_error(&interpreter, message, sizeof message));
        bm_puts("\n");
        return 2;
    }
    bm_put_int("arena ", (long long)tfl_arena_used(&interpreter));
    bm_put_int("persistent ", (long long)interpreter.persistent_used);
    for (int n = 0; n < tfl_nodes_count(&interpreter); n++) {
        bm_put_int("op ", tfl_node_op(&interpreter, n));
        bm_put_int("scratch ", (long long)interpreter.nodes[n].scratch_bytes);
    }
    tfl_tensor *input = tfl_input_tensor(&interpreter, 0);
    uint32_t seed = 1;
    for (int run = 0; run < 2; run++) {
        for (uint32_t i = 0; i < input->bytes; i++) {
            input->data[i] = (uint8_t)bm_random(&seed);
        }
        seed = 1;
        if (tfl_invoke(&interpreter) != TFL_OK) {
            bm_puts("invoke failed\n");
            return 2;
        }
    }
    tfl_tensor *output = tfl_output_tensor(&interpreter, 0);
    for (uint32_t i = 0; i < output->bytes; i++) {
        bm_put_int("out ", output->data[i]);
    }
    return 0;
}
