/* Scalar accessors for the host's ctypes binding (host/mpy_mnist/engine.py), so Python never mirrors a C struct
 * layout. Built into the host library only, never into the firmware. */
#include "../tfl_engine.h"

size_t tflh_interpreter_size(void) {
    return sizeof(tfl_interpreter);
}

/* which: 0 for an input, 1 for an output. */
static tfl_tensor *io_tensor(tfl_interpreter *it, int which, int index) {
    return which ? tfl_output_tensor(it, index) : tfl_input_tensor(it, index);
}

void *tflh_data(tfl_interpreter *it, int which, int index) {
    tfl_tensor *t = io_tensor(it, which, index);
    return t ? t->data : NULL;
}

long tflh_bytes(tfl_interpreter *it, int which, int index) {
    tfl_tensor *t = io_tensor(it, which, index);
    return t ? (long)t->bytes : -1;
}

int tflh_type(tfl_interpreter *it, int which, int index) {
    tfl_tensor *t = io_tensor(it, which, index);
    return t ? t->type : -1;
}

int tflh_dims_count(tfl_interpreter *it, int which, int index) {
    tfl_tensor *t = io_tensor(it, which, index);
    return t ? t->dims_count : -1;
}

int tflh_dim(tfl_interpreter *it, int which, int index, int i) {
    tfl_tensor *t = io_tensor(it, which, index);
    return t && i >= 0 && i < t->dims_count ? t->dims[i] : -1;
}

int tflh_quant_count(tfl_interpreter *it, int which, int index) {
    tfl_tensor *t = io_tensor(it, which, index);
    return t ? t->quant.count : -1;
}

int tflh_quant_dimension(tfl_interpreter *it, int which, int index) {
    tfl_tensor *t = io_tensor(it, which, index);
    return t ? t->quant.quantized_dimension : -1;
}

float tflh_quant_scale(tfl_interpreter *it, int which, int index, int i) {
    tfl_tensor *t = io_tensor(it, which, index);
    return t && i >= 0 && i < t->quant.count ? tfl_quant_scale(&t->quant, i) : 0.0f;
}

int tflh_quant_zero_point(tfl_interpreter *it, int which, int index, int i) {
    tfl_tensor *t = io_tensor(it, which, index);
    return t && i >= 0 && i < t->quant.count ? tfl_quant_zero_point(&t->quant, i) : 0;
}

int tflh_status_node(const tfl_interpreter *it) {
    return it->error_node;
}

int tflh_kernels_count(void) {
    return tfl_kernels_count;
}

const char *tflh_kernel_name(int i) {
    return i >= 0 && i < tfl_kernels_count ? tfl_kernels[i].name : NULL;
}

/* The two parts of arena_used, for side-by-side figures with TFLM's tail (persistent) and head (activations). */
size_t tflh_persistent_bytes(const tfl_interpreter *it) {
    return it->persistent_used;
}

size_t tflh_activation_bytes(const tfl_interpreter *it) {
    return it->activations_bytes;
}

size_t tflh_plan_bytes(const tfl_interpreter *it) {
    return it->plan_bytes;
}

/* Scratch all nodes asked for (kernel-specific: TFLM's kernels ask for different amounts). */
size_t tflh_scratch_bytes(const tfl_interpreter *it) {
    size_t total = 0;
    for (int32_t n = 0; n < it->nodes_count; n++) {
        total += (it->nodes[n].scratch_bytes + TFL_ARENA_ALIGN - 1) / TFL_ARENA_ALIGN * TFL_ARENA_ALIGN;
    }
    return total;
}
