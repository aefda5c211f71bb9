/*
 * The engine's public API: run a .tflite model (schema version 3, one subgraph) in one caller-given arena.
 * Plain C99; no MicroPython header; never allocates; no global mutable state (any number of interpreters can live
 * side by side).
 *
 *     tfl_interpreter it;                      // small; lives wherever the caller likes
 *     if (tfl_init(&it, model, model_size, arena, arena_size) != TFL_OK) { tfl_format_error(&it, buf, n); ... }
 *     memcpy(tfl_input_tensor(&it, 0)->data, pixels, tfl_input_tensor(&it, 0)->bytes);
 *     tfl_invoke(&it);
 *     read tfl_output_tensor(&it, 0)->data
 *
 * The model is used in place and must outlive the interpreter (constant tensors point into it). The arena holds
 * everything else: the persistent structures (tensor and node arrays, the kernels' data) at its start, then the
 * activations, placed by lifetime. Input tensors must be filled before every invoke(): their memory is reused
 * once the graph no longer needs them.
 *
 * Arena size: after a successful init, tfl_arena_used() is the exact requirement for a 16-byte aligned arena.
 * When the arena is too small, init returns TFL_ERR_ARENA and tfl_arena_needed() says how much to give next:
 * the exact figure when the failure came at planning, otherwise a lower bound (the kernels' persistent data is
 * only known once they have run). tfl_arena_required() is the plan-only call: grow its work buffer to the figure
 * it returns until it succeeds (two or three rounds), then allocate exactly that.
 */
#ifndef TFL_ENGINE_H
#define TFL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "tfl_kernel.h"

#define TFL_ARENA_ALIGN 16

/* One interpreter. Treat the fields as private: use the functions below. */
struct tfl_context {
    const uint8_t *model;
    uint32_t model_size;
    uint8_t *arena;           /* 16-aligned start of the caller's arena */
    size_t arena_size;        /* usable bytes from `arena` */
    size_t arena_skew;        /* bytes skipped at the caller's arena start to reach 16-byte alignment */
    size_t persistent_used;   /* bump pointer of tfl_alloc_persistent */
    size_t plan_bytes;        /* what the plan itself spans */
    size_t activations_bytes; /* the activation area: the plan, or the planner's working memory if larger */
    size_t arena_needed;      /* on TFL_ERR_ARENA: bytes to ask for next (from a 16-aligned start) */
    uint8_t arena_needed_exact; /* 1: arena_needed is the exact requirement; 0: a lower bound */
    tfl_tensor *tensors;
    tfl_node *nodes;
    int16_t *inputs;
    int16_t *outputs;
    int32_t tensors_count, nodes_count, inputs_count, outputs_count;
    /* Last error: a static message and what it concerns (-1 when not about a node/op/tensor). */
    tfl_status status;
    const char *message;
    int32_t error_node, error_op, error_tensor;
    int32_t error_version;    /* for "unsupported op version": the model's version of the op */
    uint8_t list_ops;         /* the error is about the op itself: the message lists the supported ops */
    uint8_t ready;
};
typedef struct tfl_context tfl_interpreter;

/* Read, validate and prepare the model, and plan the arena. `arena` may have any alignment. */
tfl_status tfl_init(tfl_interpreter *it, const void *model, size_t model_size, void *arena, size_t arena_size);

/* Run the graph once. The inputs must have been written since the last invoke. */
tfl_status tfl_invoke(tfl_interpreter *it);

int tfl_inputs_count(const tfl_interpreter *it);
int tfl_outputs_count(const tfl_interpreter *it);
/* NULL when index is out of range or the interpreter is not ready. */
tfl_tensor *tfl_input_tensor(tfl_interpreter *it, int index);
tfl_tensor *tfl_output_tensor(tfl_interpreter *it, int index);

/* Arena bytes in use (counted from the caller's arena pointer) after a successful init. */
size_t tfl_arena_used(const tfl_interpreter *it);
/* After TFL_ERR_ARENA: the arena size to try next (exact if the failure came at planning, else a lower bound). */
size_t tfl_arena_needed(const tfl_interpreter *it);

/* Plan only: the exact arena size (from a 16-aligned start) the model needs, found by initialising `it` in `work`
 * (any spare memory). On TFL_ERR_ARENA grow `work` to *required and call again; any other status is the model's
 * error, which `it` holds for tfl_format_error. `it` is not usable for invoke afterwards: tfl_init it again in
 * the real arena. */
tfl_status tfl_arena_required(tfl_interpreter *it, const void *model, size_t model_size, void *work,
    size_t work_size, size_t *required);

/* The whole last error as one line, e.g. "unsupported op SVDF (node 1); supported ops: ADD, CONV_2D, ...".
 * Always NUL-terminates (when size > 0); returns `buffer`. */
char *tfl_format_error(const tfl_interpreter *it, char *buffer, size_t size);

/* Schema names: the BuiltinOperator name of an op code ("SVDF"), or NULL when the code is unknown; the dtype
 * name of a TensorType as numpy spells it ("int8", "float32"), or NULL when the engine does not handle it. */
const char *tfl_op_name(int op);
const char *tfl_type_name(int type);
/* Bytes per element of a TensorType the engine handles; 0 otherwise. */
int tfl_type_size(int type);

/* Number of operators of the model and the op code of each (for the `ops` list). */
int tfl_nodes_count(const tfl_interpreter *it);
int tfl_node_op(const tfl_interpreter *it, int index);

#endif /* TFL_ENGINE_H */
