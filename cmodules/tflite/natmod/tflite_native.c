/*
 * The `tflite` module as a dynamic native module (tflite.mpy): the same binding as the built-in module
 * (../modtflite.c), registered at import. A native module has no ROM of its own: the Interpreter type and its
 * methods table live in the module's BSS and are filled in here, and tflite.OPS is made once as a global.
 */
#include "tflite_runtime.h"

/* The C library calls the engine and the compiler's struct copies make; a native module links no libc, so they go
 * to the firmware's own (mp_fun_table). */
void *memcpy(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}

void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}

int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++) {
        if (*x != *y) {
            return *x - *y;
        }
    }
    return 0;
}

size_t strlen(const char *s) {
    const char *end = s;
    while (*end) {
        end++;
    }
    return (size_t)(end - s);
}

#if defined(__x86_64__)
/* Off Arm the engine's float SOFTMAX and LOGISTIC call the C library's expf, as the TFLM runtime on the host does
 * (on Arm it computes exp itself). A native module links no C library (glibc's static libm needs its start-up), so
 * the x64 module, which runs in the unix port, takes the running process's libm expf, found at import through the
 * unix port's ffi module. Not static: mpy_ld.py cannot relocate references to static BSS variables. */
float (*tflite_libm_expf)(float);

float expf(float x) {
    return tflite_libm_expf(x);
}

static mp_obj_t call_1(mp_obj_t function, mp_obj_t arg) {
    return mp_call_function_n_kw(function, 1, 0, &arg);
}

static void find_libm_expf(void) {
    mp_obj_t ffi = mp_import_name(MP_QSTR_ffi, mp_const_none, MP_OBJ_NEW_SMALL_INT(0));
    mp_obj_t libm = call_1(mp_load_attr(ffi, MP_QSTR_open), mp_obj_new_str("libm.so.6", 9));
    mp_obj_t address = call_1(mp_load_attr(libm, MP_QSTR_addr), mp_obj_new_str("expf", 4));
    tflite_libm_expf = (float (*)(float))(uintptr_t)mp_obj_get_int_truncated(address);
}
#endif

/* Filled in at import. Not static: mpy_ld.py cannot relocate references to static BSS variables. */
mp_obj_full_type_t tflite_type_Interpreter;

#define TFLITE_COUNT_METHOD(name, obj) +1
mp_map_elem_t tflite_interpreter_locals_table[0 TFLITE_INTERPRETER_METHODS(TFLITE_COUNT_METHOD)];
static MP_DEFINE_CONST_DICT(tflite_interpreter_locals, tflite_interpreter_locals_table);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    #if defined(__x86_64__)
    find_libm_expf();
    #endif
    tflite_type_Interpreter.base.type = (void *)&mp_type_type;
    tflite_type_Interpreter.name = MP_QSTR_Interpreter;
    MP_OBJ_TYPE_SET_SLOT(&tflite_type_Interpreter, make_new, tflite_interpreter_make_new, 0);
    MP_OBJ_TYPE_SET_SLOT(&tflite_type_Interpreter, attr, tflite_interpreter_attr, 1);
    mp_map_elem_t *method = tflite_interpreter_locals_table;
    #define TFLITE_STORE_METHOD(name, obj) *method++ = (mp_map_elem_t) {MP_OBJ_NEW_QSTR(name), MP_OBJ_FROM_PTR(&obj)};
    TFLITE_INTERPRETER_METHODS(TFLITE_STORE_METHOD)
    MP_OBJ_TYPE_SET_SLOT(&tflite_type_Interpreter, locals_dict, (void *)&tflite_interpreter_locals, 2);

    mp_store_global(MP_QSTR_Interpreter, MP_OBJ_FROM_PTR(&tflite_type_Interpreter));
    mp_store_global(MP_QSTR_OPS, tflite_ops());

    MP_DYNRUNTIME_INIT_EXIT
}
