/* The context side of the kernel contract (tfl_kernel.h) and the error record (context.h). */
#include "context.h"

tfl_tensor *tfl_tensor_at(tfl_context *ctx, int index) {
    return index >= 0 && index < ctx->tensors_count ? &ctx->tensors[index] : NULL;
}

void *tfl_alloc_persistent(tfl_context *ctx, size_t bytes) {
    size_t start = tfl_align_up(ctx->persistent_used, 8);
    if (start > ctx->arena_size || bytes > ctx->arena_size - start) {
        size_t needed = start + bytes;
        if (needed > ctx->arena_needed) {
            ctx->arena_needed = needed;
        }
        return NULL;
    }
    ctx->persistent_used = start + bytes;
    return ctx->arena + start;
}

tfl_status tfl_fail(tfl_context *ctx, tfl_status status, const char *message) {
    ctx->status = status;
    ctx->message = message;
    return status;
}

tfl_status tfl_error_at(tfl_interpreter *it, tfl_status status, const char *message, int node, int op, int tensor) {
    it->status = status;
    it->message = message;
    it->list_ops = 0;
    it->error_version = 0;
    it->error_node = node;
    it->error_op = op;
    it->error_tensor = tensor;
    return status;
}
