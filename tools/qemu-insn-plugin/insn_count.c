/*
 * A QEMU TCG plugin that counts executed guest instructions exactly, split into regions the guest chooses and,
 * inside each region, by function.
 *
 * Counting: every translated instruction gets one inline "add 1" into the counter of the function its address
 * falls in (or an "elsewhere" counter). Inline ops run before the instruction on every execution, so the count is
 * exact however a translation block is left, and it does not depend on host timing.
 *
 * Regions: the guest calls a marker function that stores one byte to sink[region] (region 0..255). Only the
 * stores made by instructions inside the marker function's address range are watched (a memory callback on
 * those few instructions), so the rest of the program runs at full speed. Region 0 means "not measuring".
 * When the guest moves back to region 0 the plugin appends one window to the report file:
 *
 *     window <n>
 *     region <id> <instructions>
 *     func <id> <instructions> <name>
 *     end
 *
 * so a host tool can read each measured window (e.g. one inference, with one region per operator) as soon as
 * the guest has finished it.
 *
 * Arguments (-plugin insn_count.so,arg=value,...):
 *   out=PATH        report file (truncated at start)
 *   funcs=PATH      optional function map, one "start end name" per line, hex addresses, sorted by start
 *   marker=LO-HI    hex address range of the marker function's code
 *   sink=ADDR       hex address of the marker's 256-byte sink
 * Without marker/sink the whole run is one window, written when QEMU exits.
 *
 * Written against QEMU's plugin API version 1 (QEMU 7.x): include/qemu/qemu-plugin.h from QEMU's source.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define REGIONS 256

typedef struct {
    uint64_t start, end; /* [start, end) */
    char *name;
} function_range;

static function_range *functions;
static size_t functions_count;     /* the last counter, index functions_count, is "elsewhere" */
static uint64_t *counts;           /* running instruction count per function (inline ops add here) */
static uint64_t *counts_at_switch; /* counts when the current region was entered */
static uint64_t *window_counts[REGIONS]; /* per region, per function, for the open window; NULL until used */

static uint64_t marker_lo, marker_hi, sink;
static int current_region;
static int window_number;
static FILE *report;

static void fail(const char *message, const char *detail) {
    char line[512];
    snprintf(line, sizeof line, "insn_count: %s%s\n", message, detail ? detail : "");
    qemu_plugin_outs(line);
}

static int read_functions(const char *path) {
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        fail("cannot open function map ", path);
        return -1;
    }
    size_t capacity = 1024;
    functions = malloc(capacity * sizeof *functions);
    char name[256];
    uint64_t start, end;
    while (fscanf(file, "%" SCNx64 " %" SCNx64 " %255s", &start, &end, name) == 3) {
        if (functions_count == capacity) {
            capacity *= 2;
            functions = realloc(functions, capacity * sizeof *functions);
        }
        functions[functions_count++] = (function_range){start, end, strdup(name)};
    }
    fclose(file);
    return 0;
}

/* Index of the function holding `address`, or functions_count ("elsewhere"). Binary search: the map is sorted. */
static size_t function_at(uint64_t address) {
    size_t lo = 0, hi = functions_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (address < functions[mid].start) {
            hi = mid;
        } else if (address >= functions[mid].end) {
            lo = mid + 1;
        } else {
            return mid;
        }
    }
    return functions_count;
}

static const char *function_name(size_t index) {
    return index < functions_count ? functions[index].name : "?";
}

/* Move what ran since the last switch into the window's counts of the region that was current. */
static void close_region(void) {
    if (current_region != 0 && window_counts[current_region] == NULL) {
        window_counts[current_region] = calloc(functions_count + 1, sizeof(uint64_t));
    }
    for (size_t f = 0; f <= functions_count; f++) {
        if (current_region != 0) {
            window_counts[current_region][f] += counts[f] - counts_at_switch[f];
        }
        counts_at_switch[f] = counts[f];
    }
}

static void write_window(void) {
    fprintf(report, "window %d\n", ++window_number);
    for (int r = 1; r < REGIONS; r++) {
        if (window_counts[r] == NULL) {
            continue;
        }
        uint64_t total = 0;
        for (size_t f = 0; f <= functions_count; f++) {
            total += window_counts[r][f];
        }
        fprintf(report, "region %d %" PRIu64 "\n", r, total);
        for (size_t f = 0; f <= functions_count; f++) {
            if (window_counts[r][f] != 0) {
                fprintf(report, "func %d %" PRIu64 " %s\n", r, window_counts[r][f], function_name(f));
            }
        }
        free(window_counts[r]);
        window_counts[r] = NULL;
    }
    fprintf(report, "end\n");
    fflush(report);
}

static void on_marker_store(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t address, void *userdata) {
    (void)vcpu;
    (void)userdata;
    if (!qemu_plugin_mem_is_store(info) || address < sink || address >= sink + REGIONS) {
        return;
    }
    int region = (int)(address - sink);
    close_region();
    if (region == 0 && current_region != 0) {
        current_region = 0;
        write_window();
    }
    current_region = region;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t address = qemu_plugin_insn_vaddr(insn);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[function_at(address)], 1);
        if (address >= marker_lo && address < marker_hi) {
            qemu_plugin_register_vcpu_mem_cb(insn, on_marker_store, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_W, NULL);
        }
    }
}

static void on_qemu_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id;
    (void)userdata;
    if (marker_hi == 0) { /* no marker: the whole run is region 1 */
        current_region = 1;
        close_region();
        write_window();
    }
    fclose(report);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    const char *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "out=", 4) == 0) {
            out = arg + 4;
        } else if (strncmp(arg, "funcs=", 6) == 0) {
            if (read_functions(arg + 6) != 0) {
                return -1;
            }
        } else if (strncmp(arg, "marker=", 7) == 0) {
            if (sscanf(arg + 7, "%" SCNx64 "-%" SCNx64, &marker_lo, &marker_hi) != 2) {
                fail("marker wants LO-HI in hex, got ", arg);
                return -1;
            }
        } else if (strncmp(arg, "sink=", 5) == 0) {
            sink = strtoull(arg + 5, NULL, 16);
        } else {
            fail("unknown argument ", arg);
            return -1;
        }
    }
    if (out == NULL) {
        fail("missing out=PATH", NULL);
        return -1;
    }
    if ((marker_hi != 0) != (sink != 0)) {
        fail("marker= and sink= go together", NULL);
        return -1;
    }
    report = fopen(out, "w");
    if (report == NULL) {
        fail("cannot write ", out);
        return -1;
    }
    counts = calloc(functions_count + 1, sizeof(uint64_t));
    counts_at_switch = calloc(functions_count + 1, sizeof(uint64_t));
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
    return 0;
}
