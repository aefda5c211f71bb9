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

/* An independent check of the plan, for tests: two tensors whose arena bytes overlap must never be alive at the
 * same time, unless one is a RESHAPE of the other sharing the very same bytes. Lifetimes are recomputed here
 * from the graph, the simple way. Returns the number of violating pairs. */
static void lifetime(const tfl_interpreter *it, int32_t t, int32_t *first, int32_t *last) {
    *first = INT32_MAX;
    *last = -1;
    for (int32_t i = 0; i < it->inputs_count; i++) {
        if (it->inputs[i] == t) {
            *first = 0;
        }
    }
    for (int32_t i = 0; i < it->outputs_count; i++) {
        if (it->outputs[i] == t) {
            *last = it->nodes_count - 1;
        }
    }
    for (int32_t n = 0; n < it->nodes_count; n++) {
        const tfl_node *node = &it->nodes[n];
        for (int k = 0; k < node->inputs_count + node->outputs_count; k++) {
            int32_t used = k < node->inputs_count ? node->inputs[k] : node->outputs[k - node->inputs_count];
            if (used == t) {
                *first = n < *first ? n : *first;
                *last = n > *last ? n : *last;
            }
        }
    }
}

static int reshape_of(const tfl_interpreter *it, int32_t a, int32_t b) {
    for (int32_t n = 0; n < it->nodes_count; n++) {
        const tfl_node *node = &it->nodes[n];
        if (node->op == TFL_OP_RESHAPE && node->inputs_count > 0 &&
            ((node->inputs[0] == a && node->outputs[0] == b) || (node->inputs[0] == b && node->outputs[0] == a))) {
            return 1;
        }
    }
    return 0;
}

int tflh_plan_violations(const tfl_interpreter *it) {
    int violations = 0;
    const uint8_t *lo = it->arena, *hi = it->arena + it->arena_size;
    for (int32_t a = 0; a < it->tensors_count; a++) {
        const tfl_tensor *ta = &it->tensors[a];
        if (ta->is_constant || ta->data < lo || ta->data >= hi || ta->bytes == 0) {
            continue;
        }
        for (int32_t b = a + 1; b < it->tensors_count; b++) {
            const tfl_tensor *tb = &it->tensors[b];
            if (tb->is_constant || tb->data < lo || tb->data >= hi || tb->bytes == 0) {
                continue;
            }
            int overlap = ta->data < tb->data + tb->bytes && tb->data < ta->data + ta->bytes;
            if (!overlap || (ta->data == tb->data && ta->bytes == tb->bytes && reshape_of(it, a, b))) {
                continue;
            }
            int32_t fa, la, fb, lb;
            lifetime(it, a, &fa, &la);
            lifetime(it, b, &fb, &lb);
            if (fa <= lb && fb <= la) {
                violations++;
            }
        }
    }
    return violations;
}
