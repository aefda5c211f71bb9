/* libFuzzer target: any byte string as a model, through load, plan and invoke, and every node's packed weights
 * looked up and read (the DSP kernels' lookup, which the host build's kernels never make). The model and the arena
 * are heap blocks of exactly the size used, so AddressSanitizer catches a read or write one byte past either; UBSan
 * catches overflowing arithmetic and bad shifts in the reader, the planner and the kernels.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I.. fuzz_engine.c ../\*.c ../kernels/\*.c -lm
 *
 * (host/mpy_mnist/engine.py: build_fuzzer() does this.) */
#include <stdlib.h>
#include <string.h>

#include "../tfl_engine.h"

#define MAX_ARENA (512u << 10)

/* Every byte the lookup hands out, so that ASan sees a range that leaves the model. */
static void read_packed_weights(tfl_interpreter *it) {
    volatile uint8_t sum = 0;
    for (int n = 0; n < tfl_nodes_count(it); n++) {
        uint32_t bytes = 0;
        const uint8_t *packed = tfl_packed_weights(it, &it->nodes[n], TFL_PACKED_FC_PAIRS, &bytes);
        for (uint32_t i = 0; packed != NULL && i < bytes; i++) {
            sum += packed[i];
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *model = malloc(size ? size : 1);
    memcpy(model, data, size);
    size_t required = 0;
    uint8_t *work = malloc(MAX_ARENA);
    tfl_interpreter probe;
    tfl_status status = tfl_arena_required(&probe, model, size, work, MAX_ARENA, &required);
    free(work);
    if (status == TFL_OK) {
        uint8_t *arena = malloc(required ? required : 1);
        tfl_interpreter it;
        status = tfl_init(&it, model, size, arena, required);
        if (status != TFL_OK) {
            abort(); /* the exact size must be enough */
        }
        for (int i = 0; i < tfl_inputs_count(&it); i++) {
            tfl_tensor *t = tfl_input_tensor(&it, i);
            for (uint32_t b = 0; b < t->bytes; b++) {
                t->data[b] = size ? data[b % size] : 0; /* deterministic inputs (not NaN-free: floats must cope) */
            }
        }
        tfl_invoke(&it);
        read_packed_weights(&it);
        char message[512];
        tfl_format_error(&it, message, sizeof(message));
        free(arena);
    } else {
        tfl_interpreter it;
        uint8_t small[64];
        tfl_init(&it, model, size, small, sizeof(small));
        char message[512];
        tfl_format_error(&it, message, sizeof(message));
    }
    free(model);
    return 0;
}
