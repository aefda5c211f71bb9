/*
 * What the binding (modtflite.c) needs from MicroPython, for either runtime it is built for:
 *
 *   - the built-in module (tflite_builtin.c registers it): py/runtime.h, the firmware's own functions;
 *   - the dynamic native module tflite.mpy (natmod/tflite_native.c): py/dynruntime.h, which reaches the firmware
 *     through mp_fun_table and names a few things differently or not at all, supplied here.
 *
 * It also declares what the binding lends the two registrations: the Interpreter's make_new and attr handlers,
 * its methods (one list, TFLITE_INTERPRETER_METHODS) and the tuple behind tflite.OPS.
 */
#ifndef TFLITE_RUNTIME_H
#define TFLITE_RUNTIME_H

#if MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#include "py/objarray.h"
/* m_new_maybe's allocator: the firmware's realloc is the one allocation mp_fun_table offers. */
#define m_malloc_maybe(n) (m_realloc_maybe(NULL, (n), false))
/* Types dynruntime.h does not name, looked up among the builtins when used. */
#define mp_type_MemoryError (*(mp_obj_type_t *)(mp_load_global(MP_QSTR_MemoryError)))
#define mp_type_memoryview (*(mp_obj_type_t *)(mp_load_global(MP_QSTR_memoryview)))
#else
#include "py/objarray.h"
#include "py/runtime.h"
#endif

/* The Interpreter's methods, one entry each: X(qstr of the name, the function object). Both registrations
 * expand it (the qstrs are written out in full so the native build's qstr scan finds them). */
#define TFLITE_INTERPRETER_METHODS(X) \
    X(MP_QSTR_set_input, tflite_interpreter_set_input_obj) \
    X(MP_QSTR_invoke, tflite_interpreter_invoke_obj) \
    X(MP_QSTR_get_output, tflite_interpreter_get_output_obj) \
    X(MP_QSTR_get_input_details, tflite_interpreter_get_input_details_obj) \
    X(MP_QSTR_get_output_details, tflite_interpreter_get_output_details_obj) \
    X(MP_QSTR_input, tflite_interpreter_input_obj) \
    X(MP_QSTR_output, tflite_interpreter_output_obj)

#define TFLITE_DECLARE_METHOD(name, obj) extern const mp_obj_fun_builtin_fixed_t obj;
TFLITE_INTERPRETER_METHODS(TFLITE_DECLARE_METHOD)
#undef TFLITE_DECLARE_METHOD

mp_obj_t tflite_interpreter_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *all_args);
void tflite_interpreter_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest);

/* ('CONV_2D', ...): the names of the ops the engine runs, from its kernel table (a new tuple each call). */
mp_obj_t tflite_ops(void);

#endif
