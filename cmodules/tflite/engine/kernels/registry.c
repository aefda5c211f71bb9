/* The one table of supported ops: the loader looks kernels up here, its "unsupported op" message and the docs
 * list these names. Keep it sorted by op code. */
#include "kernels.h"

const tfl_kernel tfl_kernels[] = {
    {TFL_OP_RESHAPE, "RESHAPE", 1, tfl_reshape_prepare, tfl_reshape_eval},
};

const int tfl_kernels_count = (int)(sizeof(tfl_kernels) / sizeof(tfl_kernels[0]));

const tfl_kernel *tfl_find_kernel(int op) {
    for (int i = 0; i < tfl_kernels_count; i++) {
        if (tfl_kernels[i].op == op) {
            return &tfl_kernels[i];
        }
    }
    return NULL;
}
