/* RESHAPE: the output holds the input's bytes under another shape. The optional second input (the new shape)
 * is already reflected in the output tensor's dims, so it is not read. */
#include "kernels.h"

tfl_status tfl_reshape_prepare(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    const tfl_tensor *output = tfl_output(ctx, node, 0);
    if (input == NULL || output == NULL) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "RESHAPE: missing input or output tensor");
    }
    if (input->type != output->type) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "RESHAPE: input and output types differ");
    }
    if (input->bytes != output->bytes) {
        return tfl_fail(ctx, TFL_ERR_BAD_MODEL, "RESHAPE: input and output sizes differ");
    }
    return TFL_OK;
}

tfl_status tfl_reshape_eval(tfl_context *ctx, tfl_node *node) {
    const tfl_tensor *input = tfl_input(ctx, node, 0);
    tfl_tensor *output = tfl_output(ctx, node, 0);
    if (output->data != input->data) {
        memmove(output->data, input->data, input->bytes);
    }
    return TFL_OK;
}
