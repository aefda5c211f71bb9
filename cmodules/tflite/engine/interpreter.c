/*
 * The interpreter: init reads the model into persistent structures at the start of the arena, prepares each
 * node once and plans the activations in the rest; invoke evaluates the nodes in order. Also the one place that
 * words errors.
 */
#include <string.h>

#include "context.h"
#include "model.h"
#include "planner.h"
#include "profile.h"

/* A kernel failed in prepare or eval: attach the node to its message. */
static tfl_status node_failed(tfl_interpreter *it, tfl_status status, int node) {
    if (it->message == NULL) {
        it->message = status == TFL_ERR_ARENA ? "arena too small" : "kernel failed";
    }
    return tfl_error_at(it, status, it->message, node, it->nodes[node].op, -1);
}

/* The bytes of the non-constant tensors one node touches, at most: a lower bound of any plan, and for a chain of
 * ops usually the plan itself. */
static size_t largest_node_activations(const tfl_interpreter *it) {
    size_t largest = 0;
    if (it->tensors == NULL || it->nodes == NULL) { /* the reader could not even allocate them */
        return 0;
    }
    for (int32_t n = 0; n < it->nodes_count; n++) { /* nodes the reader did not reach are all zero */
        const tfl_node *node = &it->nodes[n];
        size_t bytes = 0;
        for (int k = 0; k < node->inputs_count + node->outputs_count; k++) {
            int32_t index = k < node->inputs_count ? node->inputs[k] : node->outputs[k - node->inputs_count];
            const tfl_tensor *t = index >= 0 && index < it->tensors_count ? &it->tensors[index] : NULL;
            if (t != NULL && !t->is_constant && t->data == NULL) {
                bytes += tfl_align_up(t->bytes, TFL_ARENA_ALIGN);
            }
        }
        largest = bytes > largest ? bytes : largest;
    }
    return largest;
}

/* The arena ran out before planning: guess the size to try next. The kernels' data seen so far (including the
 * request that failed) is extrapolated over the nodes not yet prepared, and the activations of the busiest node
 * added. A guess on the low side only costs another round; one far too high would cost the caller memory. */
static void guess_needed(tfl_interpreter *it, size_t read_bytes, int32_t prepared) {
    size_t persistent = it->arena_needed > it->persistent_used ? it->arena_needed : it->persistent_used;
    if (read_bytes > 0 && persistent > read_bytes && prepared < it->nodes_count) {
        persistent += (persistent - read_bytes) * (size_t)(it->nodes_count - prepared - 1) / (size_t)(prepared + 1);
    }
    it->arena_needed = tfl_align_up(persistent, TFL_ARENA_ALIGN) + largest_node_activations(it);
}

/* Read the model and prepare every node: everything that goes in the persistent area. On return, *read_bytes is
 * what the reader took (0 if it failed) and *prepared the number of nodes prepared. */
static tfl_status read_and_prepare(tfl_interpreter *it, size_t *read_bytes, int32_t *prepared) {
    *read_bytes = 0;
    *prepared = 0;
    tfl_status status = tfl_model_read(it);
    if (status != TFL_OK) {
        return status;
    }
    *read_bytes = it->persistent_used;
    for (int32_t n = 0; n < it->nodes_count; n++) {
        it->message = NULL;
        status = tfl_find_kernel(it->nodes[n].op)->prepare(it, &it->nodes[n]);
        if (status != TFL_OK) {
            return node_failed(it, status, n);
        }
        *prepared = n + 1;
    }
    return TFL_OK;
}

tfl_status tfl_init(tfl_interpreter *it, const void *model, size_t model_size, void *arena, size_t arena_size) {
    memset(it, 0, sizeof(*it));
    it->error_node = it->error_op = it->error_tensor = -1;
    uintptr_t raw = (uintptr_t)arena;
    it->arena_skew = (size_t)(tfl_align_up(raw, TFL_ARENA_ALIGN) - raw);
    it->arena = (uint8_t *)arena + it->arena_skew;
    it->arena_size = arena != NULL && arena_size > it->arena_skew ? arena_size - it->arena_skew : 0;
    if (model == NULL || model_size > 0x7fffffff) {
        return tfl_error_at(it, TFL_ERR_BAD_ARGUMENT, "model must be a buffer of under 2 GB", -1, -1, -1);
    }
    it->model = model;
    it->model_size = (uint32_t)model_size;
    size_t read_bytes;
    int32_t prepared;
    tfl_status status = read_and_prepare(it, &read_bytes, &prepared);
    if (status == TFL_ERR_ARENA) {
        guess_needed(it, read_bytes, prepared);
    } else if (status == TFL_OK) {
        status = tfl_plan(it);
    }
    it->ready = status == TFL_OK;
    return status;
}

tfl_status tfl_invoke(tfl_interpreter *it) {
    if (!it->ready) {
        return tfl_error_at(it, TFL_ERR_BAD_ARGUMENT, "interpreter is not initialised", -1, -1, -1);
    }
    for (int32_t n = 0; n < it->nodes_count; n++) {
        it->message = NULL;
        tfl_profile_mark((unsigned)n + 1); /* instruction counts per node (profile.h) */
        tfl_status status = tfl_find_kernel(it->nodes[n].op)->eval(it, &it->nodes[n]);
        if (status != TFL_OK) {
            tfl_profile_mark(0);
            return node_failed(it, status, n);
        }
    }
    tfl_profile_mark(0);
    it->status = TFL_OK;
    return TFL_OK;
}

int tfl_inputs_count(const tfl_interpreter *it) {
    return it->ready ? it->inputs_count : 0;
}

int tfl_outputs_count(const tfl_interpreter *it) {
    return it->ready ? it->outputs_count : 0;
}

tfl_tensor *tfl_input_tensor(tfl_interpreter *it, int index) {
    return it->ready && index >= 0 && index < it->inputs_count ? &it->tensors[it->inputs[index]] : NULL;
}

tfl_tensor *tfl_output_tensor(tfl_interpreter *it, int index) {
    return it->ready && index >= 0 && index < it->outputs_count ? &it->tensors[it->outputs[index]] : NULL;
}

int tfl_nodes_count(const tfl_interpreter *it) {
    return it->ready ? it->nodes_count : 0;
}

int tfl_node_op(const tfl_interpreter *it, int index) {
    return it->ready && index >= 0 && index < it->nodes_count ? it->nodes[index].op : -1;
}

size_t tfl_arena_used(const tfl_interpreter *it) {
    return it->ready ? it->arena_skew + tfl_align_up(it->persistent_used, TFL_ARENA_ALIGN) + it->activations_bytes : 0;
}

size_t tfl_arena_needed(const tfl_interpreter *it) {
    return it->arena_needed;
}

tfl_status tfl_arena_required(tfl_interpreter *it, const void *model, size_t model_size, void *work,
    size_t work_size, size_t *required) {
    tfl_status status = tfl_init(it, model, model_size, work, work_size);
    *required = status == TFL_OK ? tfl_arena_used(it) - it->arena_skew : tfl_arena_needed(it);
    it->ready = 0; /* the work buffer is the caller's scratch, not an arena to run in */
    return status;
}

/* ---- error text ---- */

typedef struct {
    char *buf;
    size_t size, len;
} text;

static void put(text *t, const char *s) {
    while (*s && t->len + 1 < t->size) {
        t->buf[t->len++] = *s++;
    }
    t->buf[t->len] = '\0';
}

static void put_int(text *t, long long value) {
    char digits[24];
    int n = 0;
    unsigned long long v = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (value < 0) {
        digits[n++] = '-';
    }
    char out[24];
    for (int i = 0; i < n; i++) {
        out[i] = digits[n - 1 - i];
    }
    out[n] = '\0';
    put(t, out);
}

static void put_op(text *t, int op) {
    const char *name = tfl_op_name(op);
    if (name) {
        put(t, name);
    } else {
        put(t, "op code ");
        put_int(t, op);
    }
}

char *tfl_format_error(const tfl_interpreter *it, char *buffer, size_t size) {
    text t = {buffer, size, 0};
    if (size == 0) {
        return buffer;
    }
    buffer[0] = '\0';
    put(&t, it->message ? it->message : (it->status == TFL_OK ? "no error" : "error"));
    if (it->list_ops) { /* about the op itself: "unsupported op: SVDF (operator 1)" */
        put(&t, ": ");
        put_op(&t, it->error_op);
        if (it->error_version != 0) {
            put(&t, " version ");
            put_int(&t, it->error_version);
        }
    }
    if (it->error_node >= 0) {
        put(&t, " (operator ");
        put_int(&t, it->error_node);
        if (!it->list_ops && it->error_op >= 0) {
            put(&t, ": ");
            put_op(&t, it->error_op);
        }
        put(&t, ")");
    }
    if (it->error_tensor >= 0) {
        put(&t, " (tensor ");
        put_int(&t, it->error_tensor);
        put(&t, ")");
    }
    if (it->status == TFL_ERR_ARENA && it->arena_needed > 0) {
        put(&t, it->arena_needed_exact ? ": needs " : ": needs at least ");
        put_int(&t, (long long)(it->arena_needed + it->arena_skew));
        put(&t, " bytes, has ");
        put_int(&t, (long long)(it->arena_size + it->arena_skew));
    }
    if (it->list_ops) {
        put(&t, "; supported ops:");
        for (int i = 0; i < tfl_kernels_count; i++) {
            put(&t, i ? ", " : " ");
            put(&t, tfl_kernels[i].name);
            put(&t, " v1-");
            put_int(&t, tfl_kernels[i].max_version);
        }
    }
    return buffer;
}
