/*
 * The `tflite` module built into the firmware: the Interpreter type and the module table in ROM, over the binding
 * in modtflite.c. (natmod/tflite_native.c registers the same binding as a dynamic native module.)
 */
#include "tflite_runtime.h"

#define TFLITE_ROM_METHOD(name, obj) {MP_ROM_QSTR(name), MP_ROM_PTR(&obj)},
static const mp_rom_map_elem_t tflite_interpreter_locals_table[] = {
    TFLITE_INTERPRETER_METHODS(TFLITE_ROM_METHOD)
};
static MP_DEFINE_CONST_DICT(tflite_interpreter_locals, tflite_interpreter_locals_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    tflite_type_Interpreter,
    MP_QSTR_Interpreter,
    MP_TYPE_FLAG_NONE,
    make_new, tflite_interpreter_make_new,
    attr, tflite_interpreter_attr,
    locals_dict, &tflite_interpreter_locals
    );

/* tflite.OPS, made when asked for rather than kept in RAM. */
static mp_obj_t tflite_getattr(mp_obj_t attr) {
    return MP_OBJ_QSTR_VALUE(attr) == MP_QSTR_OPS ? tflite_ops() : MP_OBJ_NULL;
}
static MP_DEFINE_CONST_FUN_OBJ_1(tflite_getattr_obj, tflite_getattr);

static const mp_rom_map_elem_t tflite_module_globals_table[] = {
    {MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_tflite)},
    {MP_ROM_QSTR(MP_QSTR_Interpreter), MP_ROM_PTR(&tflite_type_Interpreter)},
    {MP_ROM_QSTR(MP_QSTR___getattr__), MP_ROM_PTR(&tflite_getattr_obj)},
};
static MP_DEFINE_CONST_DICT(tflite_module_globals, tflite_module_globals_table);

const mp_obj_module_t tflite_user_cmodule = {
    .base = {&mp_type_module},
    .globals = (mp_obj_dict_t *)&tflite_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_tflite, tflite_user_cmodule);
