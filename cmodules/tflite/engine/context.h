/* The context side of the kernel contract (tfl_kernel.h) and the error record, shared by the interpreter, the
 * reader (model.c) and the planner (planner.c) so that none of them depends on another. Internal to the engine. */
#ifndef TFL_CONTEXT_H
#define TFL_CONTEXT_H

#include "tfl_engine.h"

static inline size_t tfl_align_up(size_t n, size_t a) {
    return (n + a - 1) / a * a;
}

/* Record an error and what it concerns (-1 when not about a node/op/tensor); returns `status`. */
tfl_status tfl_error_at(tfl_interpreter *it, tfl_status status, const char *message, int node, int op, int tensor);

#endif
