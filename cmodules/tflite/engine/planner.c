/*
 * The arena planner. Every non-constant tensor the graph touches, and every node's scratch, becomes a buffer
 * with a lifetime [first node, last node]: graph inputs live from node 0, graph outputs to the last node, a
 * node's scratch only during that node. Buffers whose lifetimes overlap must not overlap in memory; the others
 * may share it. A RESHAPE output that has the same bytes as its non-constant input simply shares the input's
 * buffer (RESHAPE then copies nothing).
 *
 * Placement is greedy best-fit: take the buffers in some order and put each in the smallest gap (between the
 * buffers already placed that are alive at the same time) that holds it. No single order is best for every
 * graph, so a few orders are tried and the smallest plan is kept. O(n^2) in the number of buffers.
 *
 * The planner's working arrays live temporarily at the far end of the free arena: planning writes only offsets,
 * never activation memory, so the same bytes become activations afterwards.
 */
#include <string.h>

#include "context.h"
#include "planner.h"

/* Compact, since the working arrays count against the arena: node and buffer indices fit int16 (the reader
 * caps tensors plus operators at 32767, and there is at most one buffer per tensor and one per node). */
typedef struct {
    uint32_t size;           /* rounded up to TFL_ARENA_ALIGN */
    uint32_t offset, best;   /* this pass's placement, best pass's placement */
    int16_t first, last;     /* lifetime in node indices */
} plan_buffer;

typedef struct {
    plan_buffer *buffers;
    uint16_t *order;         /* placement order of this pass */
    uint16_t *by_offset;     /* buffers placed so far, by offset */
    int16_t *buffer_of;      /* per tensor: its buffer, or -1 when not planned */
    int16_t *scratch_of;     /* per node: its scratch buffer, or -1 */
    int32_t count;
} plan;

static int plannable(const tfl_tensor *t) {
    return !t->is_constant && t->data == NULL;
}

static int16_t add_buffer(plan *p, uint32_t bytes, int32_t node) {
    plan_buffer *b = &p->buffers[p->count];
    b->size = (uint32_t)tfl_align_up(bytes, TFL_ARENA_ALIGN);
    b->offset = b->best = 0;
    b->first = b->last = (int16_t)node;
    return (int16_t)p->count++;
}

static void use(plan_buffer *b, int32_t node) {
    if (node < b->first) {
        b->first = (int16_t)node;
    }
    if (node > b->last) {
        b->last = (int16_t)node;
    }
}

/* Lifetimes of all buffers. Fails on a graph that reads a tensor no earlier node wrote. */
static tfl_status find_lifetimes(tfl_interpreter *it, plan *p) {
    const int32_t end = it->nodes_count > 0 ? it->nodes_count - 1 : 0;
    for (int32_t t = 0; t < it->tensors_count; t++) {
        p->buffer_of[t] = -1;
    }
    for (int32_t i = 0; i < it->inputs_count; i++) {
        int32_t t = it->inputs[i];
        if (p->buffer_of[t] < 0 && plannable(&it->tensors[t])) {
            p->buffer_of[t] = add_buffer(p, it->tensors[t].bytes, 0);
        }
    }
    for (int32_t n = 0; n < it->nodes_count; n++) {
        tfl_node *node = &it->nodes[n];
        for (int k = 0; k < node->inputs_count; k++) {
            int32_t t = node->inputs[k];
            if (t < 0 || !plannable(&it->tensors[t])) {
                continue;
            }
            if (p->buffer_of[t] < 0) {
                return tfl_error_at(it, TFL_ERR_BAD_MODEL, "operator reads a tensor that nothing writes before it",
                    n, node->op, t);
            }
            use(&p->buffers[p->buffer_of[t]], n);
        }
        int32_t out = node->outputs[0];
        int32_t in = node->inputs_count > 0 ? node->inputs[0] : -1;
        if (p->buffer_of[out] >= 0) {
            use(&p->buffers[p->buffer_of[out]], n); /* written again (or is a graph input): keep it alive */
        } else if (node->op == TFL_OP_RESHAPE && in >= 0 && p->buffer_of[in] >= 0 &&
                   it->tensors[in].bytes == it->tensors[out].bytes) {
            p->buffer_of[out] = p->buffer_of[in];
        } else {
            p->buffer_of[out] = add_buffer(p, it->tensors[out].bytes, n);
        }
        p->scratch_of[n] = node->scratch_bytes > 0 ? add_buffer(p, node->scratch_bytes, n) : -1;
    }
    for (int32_t i = 0; i < it->outputs_count; i++) {
        int32_t t = it->outputs[i];
        if (!plannable(&it->tensors[t])) {
            continue;
        }
        if (p->buffer_of[t] < 0) {
            return tfl_error_at(it, TFL_ERR_BAD_MODEL, "graph output is never written", -1, -1, t);
        }
        use(&p->buffers[p->buffer_of[t]], end);
    }
    return TFL_OK;
}

static int alive_together(const plan_buffer *a, const plan_buffer *b) {
    return a->first <= b->last && b->first <= a->last;
}

/* Best-fit placement of buffer `k`. `by_offset` lists the `placed` buffers sorted by offset; sweeping it while
 * skipping those not alive at the same time as `k` visits every free gap among the others in address order. Keep
 * the smallest gap that holds `k` (the lowest on ties), else the space above them all; then insert `k` in the
 * list. O(placed) per buffer. */
static void place(plan *p, int32_t placed, int32_t k) {
    plan_buffer *b = &p->buffers[k];
    uint64_t end = 0, best_gap = UINT64_MAX;
    uint32_t best_offset = 0;
    int found = 0;
    for (int32_t i = 0; i < placed; i++) {
        const plan_buffer *other = &p->buffers[p->by_offset[i]];
        if (other->size == 0 || !alive_together(other, b)) {
            continue;
        }
        if (other->offset >= end) {
            uint64_t gap = other->offset - end;
            if (gap >= b->size && (!found || gap < best_gap)) {
                found = 1;
                best_gap = gap;
                best_offset = (uint32_t)end;
            }
        }
        if ((uint64_t)other->offset + other->size > end) {
            end = (uint64_t)other->offset + other->size;
        }
    }
    b->offset = found ? best_offset : (uint32_t)end;
    int32_t i = placed;
    while (i > 0 && p->buffers[p->by_offset[i - 1]].offset > b->offset) {
        p->by_offset[i] = p->by_offset[i - 1];
        i--;
    }
    p->by_offset[i] = (uint16_t)k;
}

/* Orders tried: by size, by lifetime length then size, by first use then size (largest first on ties). */
static int comes_before(const plan_buffer *a, const plan_buffer *b, int strategy) {
    int32_t la = a->last - a->first, lb = b->last - b->first;
    switch (strategy) {
        case 0:
            return a->size > b->size;
        case 1:
            return la != lb ? la > lb : a->size > b->size;
        default:
            return a->first != b->first ? a->first < b->first : a->size > b->size;
    }
}

#define STRATEGIES 3

static uint64_t place_all(plan *p, int strategy) {
    for (int32_t i = 0; i < p->count; i++) { /* insertion sort: stable and allocation free */
        int32_t k = i;
        while (k > 0 && comes_before(&p->buffers[i], &p->buffers[p->order[k - 1]], strategy)) {
            p->order[k] = p->order[k - 1];
            k--;
        }
        p->order[k] = (uint16_t)i;
    }
    uint64_t total = 0;
    for (int32_t i = 0; i < p->count; i++) {
        place(p, i, p->order[i]);
        plan_buffer *b = &p->buffers[p->order[i]];
        if ((uint64_t)b->offset + b->size > total) {
            total = (uint64_t)b->offset + b->size;
        }
    }
    return total;
}

/* At most one buffer per non-constant tensor, plus one per node with scratch. */
static int32_t count_buffers(const tfl_interpreter *it) {
    int32_t count = 0;
    for (int32_t t = 0; t < it->tensors_count; t++) {
        count += plannable(&it->tensors[t]);
    }
    for (int32_t n = 0; n < it->nodes_count; n++) {
        count += it->nodes[n].scratch_bytes > 0;
    }
    return count;
}

tfl_status tfl_plan(tfl_interpreter *it) {
    int32_t max_buffers = count_buffers(it);
    size_t buffers_bytes = (size_t)max_buffers * sizeof(plan_buffer);
    size_t work = tfl_align_up(buffers_bytes + 2 * (size_t)max_buffers * sizeof(uint16_t) +
                           (size_t)(it->tensors_count + it->nodes_count) * sizeof(int16_t), TFL_ARENA_ALIGN);
    size_t base = tfl_align_up(it->persistent_used, TFL_ARENA_ALIGN);
    if (base > it->arena_size || it->arena_size - base < work) {
        it->arena_needed = base + work;
        return tfl_error_at(it, TFL_ERR_ARENA, "arena too small", -1, -1, -1);
    }
    /* Working arrays at the far end of the free arena (4-byte fields first, then the 2-byte ones). */
    uint8_t *top = it->arena + ((it->arena_size - work) & ~(size_t)(TFL_ARENA_ALIGN - 1));
    plan p;
    p.buffers = (plan_buffer *)(void *)top;
    p.order = (uint16_t *)(void *)(top + buffers_bytes);
    p.by_offset = p.order + max_buffers;
    p.buffer_of = (int16_t *)(p.by_offset + max_buffers);
    p.scratch_of = p.buffer_of + it->tensors_count;
    p.count = 0;
    tfl_status status = find_lifetimes(it, &p);
    if (status != TFL_OK) {
        return status;
    }
    uint64_t all = 0; /* no plan exceeds the sum of all buffers: below 4 GB, uint32 offsets cannot wrap */
    for (int32_t i = 0; i < p.count; i++) {
        all += p.buffers[i].size;
    }
    if (all > UINT32_MAX) {
        return tfl_error_at(it, TFL_ERR_UNSUPPORTED, "activations may need more than 4 GB", -1, -1, -1);
    }
    uint64_t best_total = UINT64_MAX;
    for (int s = 0; s < STRATEGIES; s++) {
        uint64_t total = place_all(&p, s);
        if (total < best_total) {
            best_total = total;
            for (int32_t i = 0; i < p.count; i++) {
                p.buffers[i].best = p.buffers[i].offset;
            }
        }
    }
    if (p.count == 0) {
        best_total = 0;
    }
    uint64_t needed = base + (best_total > work ? best_total : work);
    if (needed > it->arena_size) {
        it->arena_needed = needed > SIZE_MAX ? SIZE_MAX : (size_t)needed;
        it->arena_needed_exact = 1;
        return tfl_error_at(it, TFL_ERR_ARENA, "arena too small", -1, -1, -1);
    }
    /* Hand out the memory. Only pointers in the persistent area are written: the working arrays stay intact. */
    uint8_t *activations = it->arena + base;
    for (int32_t t = 0; t < it->tensors_count; t++) {
        if (p.buffer_of[t] >= 0) {
            it->tensors[t].data = activations + p.buffers[p.buffer_of[t]].best;
        }
    }
    for (int32_t n = 0; n < it->nodes_count; n++) {
        it->nodes[n].scratch = p.scratch_of[n] >= 0 ? activations + p.buffers[p.scratch_of[n]].best : NULL;
    }
    it->plan_bytes = (size_t)best_total;
    it->activations_bytes = (size_t)(needed - base);
    return TFL_OK;
}
