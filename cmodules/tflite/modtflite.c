/*
 * The `tflite` module: MicroPython's binding of the engine (engine/tfl_engine.h). The binding only: it holds
 * the model object and the arena, converts arguments, lends tensor memory through memoryviews, and turns the
 * engine's status codes into exceptions (ValueError, NotImplementedError, MemoryError) with the engine's message.
 * The same code serves the built-in module (registered by tflite_builtin.c) and the dynamic native module
 * tflite.mpy (natmod/tflite_native.c): it calls only what both runtimes offer (tflite_runtime.h).
 *
 *     import tflite
 *     it = tflite.Interpreter(model)            # model: any bytes-like object, used in place (never copied)
 *     it.input(0)[:] = pixels                   # or it.set_input(pixels, 0)
 *     it.invoke()
 *     scores = it.get_output(0)                 # a memoryview over a fresh copy ('b', 'f', ...): index it, len() it
 *
 * The API mirrors tflite_micro.runtime.Interpreter, so one script runs on the host and on the device.
 */
#include <stdarg.h>
#include <string.h>

#include "tflite_runtime.h"

#include "engine/tfl_engine.h"

typedef struct {
    mp_obj_base_t base;
    mp_obj_t model;          /* the caller's bytes-like object: keeps the model memory alive */
    const void *model_data;  /* where it was at init, to notice a bytearray that has been resized since */
    size_t model_len;
    uint8_t *arena;          /* heap block; tensors point into it */
    size_t arena_size;
    tfl_interpreter it;
} tflite_interpreter_obj_t;

#define ERROR_TEXT_SIZE 512

static NORETURN void raise_text(const mp_obj_type_t *type, const char *text) {
    mp_raise_type_arg(type, mp_obj_new_str(text, strlen(text)));
}

/* Where mp_vprintf writes a message: a fixed buffer, the excess dropped. */
typedef struct {
    char *at;
    char *end; /* room for the terminating zero stays after it */
} text_buffer;

static void text_buffer_write(void *data, const char *str, size_t len) {
    text_buffer *buffer = data;
    size_t room = (size_t)(buffer->end - buffer->at);
    len = len < room ? len : room;
    memcpy(buffer->at, str, len);
    buffer->at += len;
}

/* mp_raise_msg_varg, which the native runtime lacks: the message is formatted here by MicroPython's printf (the
 * same formatting and the same exception either way). */
static NORETURN void raise_formatted(const mp_obj_type_t *type, const char *format, ...) {
    char text[ERROR_TEXT_SIZE];
    text_buffer buffer = {text, text + sizeof(text) - 1};
    mp_print_t print = {&buffer, text_buffer_write};
    va_list args;
    va_start(args, format);
    mp_vprintf(&print, format, args);
    va_end(args);
    *buffer.at = '\0';
    raise_text(type, text);
}

static NORETURN void raise_status(const tfl_interpreter *it, tfl_status status) {
    char text[ERROR_TEXT_SIZE];
    tfl_format_error(it, text, sizeof(text));
    const mp_obj_type_t *type = status == TFL_ERR_UNSUPPORTED ? &mp_type_NotImplementedError
                              : status == TFL_ERR_ARENA ? &mp_type_MemoryError : &mp_type_ValueError;
    raise_text(type, text);
}

static void check(tflite_interpreter_obj_t *self, tfl_status status) {
    if (status != TFL_OK) {
        raise_status(&self->it, status);
    }
}

/* A heap block of `size` bytes (at least 1). MemoryError carries the firmware's own message in either runtime
 * (the native runtime's allocation failure leaves out the size). */
static uint8_t *new_bytes(size_t size) {
    uint8_t *block = m_new_maybe(uint8_t, size ? size : 1);
    if (block == NULL) {
        raise_formatted(&mp_type_MemoryError, "memory allocation failed, allocating %u bytes", (unsigned)size);
    }
    return block;
}

/* Initialise into a fresh arena of `size` bytes (the old one, if any, is left to the GC). */
static tfl_status init_in(tflite_interpreter_obj_t *self, size_t size) {
    self->arena = new_bytes(size);
    self->arena_size = size;
    return tfl_init(&self->it, self->model_data, self->model_len, self->arena, size);
}

/* arena_size=None: ask the engine (plan only) in a growing work block, then allocate exactly that. */
static size_t required_arena(tflite_interpreter_obj_t *self) {
    size_t size = 1024;
    for (;;) {
        uint8_t *work = new_bytes(size);
        size_t required = 0;
        tfl_status status = tfl_arena_required(&self->it, self->model_data, self->model_len, work, size, &required);
        m_del(uint8_t, work, size);
        if (status == TFL_OK) {
            return required;
        }
        check(self, status == TFL_ERR_ARENA ? TFL_OK : status);
        size = required > size + size / 4 ? required : size + size / 4; /* required > size: progress */
    }
}

mp_obj_t tflite_interpreter_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw,
    const mp_obj_t *all_args) {
    enum { ARG_model, ARG_arena_size };
    const mp_arg_t allowed[] = { /* not static: a native module's qstrs are known only once it is loaded */
        {MP_QSTR_model, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_obj = MP_OBJ_NULL}},
        {MP_QSTR_arena_size, MP_ARG_OBJ, {.u_obj = mp_const_none}},
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed)];
    mp_arg_parse_all_kw_array(n_args, n_kw, all_args, MP_ARRAY_SIZE(allowed), allowed, args);

    mp_buffer_info_t model;
    mp_get_buffer_raise(args[ARG_model].u_obj, &model, MP_BUFFER_READ);
    tflite_interpreter_obj_t *self = mp_obj_malloc(tflite_interpreter_obj_t, type);
    self->model = args[ARG_model].u_obj;
    self->model_data = model.buf;
    self->model_len = model.len;
    self->arena = NULL;
    self->arena_size = 0;
    if (args[ARG_arena_size].u_obj == mp_const_none) {
        size_t required = required_arena(self);
        tfl_status status = init_in(self, required);
        if (status == TFL_ERR_ARENA) {
            status = init_in(self, required + TFL_ARENA_ALIGN - 1); /* the heap block was not 16-aligned */
        }
        check(self, status);
    } else {
        mp_int_t size = mp_obj_get_int(args[ARG_arena_size].u_obj);
        if (size < 0) {
            mp_raise_ValueError(MP_ERROR_TEXT("arena_size must be a positive number of bytes, or None"));
        }
        tfl_status status = init_in(self, (size_t)size);
        if (status == TFL_ERR_ARENA) {
            self->arena = NULL; /* let the GC have the block before sizing: the exact figure makes the message */
            size_t required = required_arena(self);
            raise_formatted(&mp_type_MemoryError,
                "arena_size=%u is too small: this model needs %u bytes (or pass arena_size=None)",
                (unsigned)size, (unsigned)required);
        }
        check(self, status);
    }
    return MP_OBJ_FROM_PTR(self);
}

static tfl_tensor *io_tensor(tflite_interpreter_obj_t *self, mp_obj_t index_obj, int output) {
    mp_int_t index = mp_obj_get_int(index_obj);
    int count = output ? tfl_outputs_count(&self->it) : tfl_inputs_count(&self->it);
    tfl_tensor *t = index < 0 || index >= count ? NULL
                  : output ? tfl_output_tensor(&self->it, (int)index) : tfl_input_tensor(&self->it, (int)index);
    if (t == NULL) {
        raise_formatted(&mp_type_ValueError, "%s index %ld out of range: the model has %d %ss",
            output ? "output" : "input", (long)index, count, output ? "output" : "input");
    }
    return t;
}

/* array typecode of a tensor type (the engine only admits these types). */
static char typecode_of(const tfl_tensor *t) {
    switch (t->type) {
        case TFL_TYPE_FLOAT32: return 'f';
        case TFL_TYPE_INT32: return 'i';
        case TFL_TYPE_UINT8: return 'B';
        case TFL_TYPE_INT64: return 'q';
        case TFL_TYPE_INT16: return 'h';
        default: return 'b';
    }
}

static mp_obj_t shape_tuple(const tfl_tensor *t) {
    mp_obj_t dims[TFL_MAX_DIMS];
    for (int i = 0; i < t->dims_count; i++) {
        dims[i] = MP_OBJ_NEW_SMALL_INT(t->dims[i]);
    }
    return mp_obj_new_tuple(t->dims_count, dims);
}

/* "(1, 28, 28, 1)" into `out` (room for TFL_MAX_DIMS * 12 + 4 characters). */
static void format_shape(const tfl_tensor *t, char *out) {
    char *p = out;
    *p++ = '(';
    for (int i = 0; i < t->dims_count; i++) {
        char digits[12];
        int n = 0;
        uint32_t v = (uint32_t)t->dims[i];
        do {
            digits[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (n) {
            *p++ = digits[--n];
        }
        if (i + 1 < t->dims_count || t->dims_count == 1) {
            *p++ = ',';
        }
        if (i + 1 < t->dims_count) {
            *p++ = ' ';
        }
    }
    *p++ = ')';
    *p = '\0';
}

/* A memoryview of the tensor's type over `block` (a heap block, which the view keeps alive for the GC), starting
 * `offset` elements in. */
static mp_obj_t new_view(const tfl_tensor *t, size_t typecode_flags, void *block, size_t offset) {
    mp_obj_array_t *view = m_new_obj(mp_obj_array_t);
    view->base.type = &mp_type_memoryview; /* as mp_obj_memoryview_init, which a native module cannot call */
    view->typecode = typecode_of(t) | typecode_flags;
    view->free = offset;
    view->len = t->bytes / (size_t)tfl_type_size(t->type);
    view->items = block;
    return MP_OBJ_FROM_PTR(view);
}

/* A writable view of `t` lent from the arena: its items pointer is the arena block's start, its offset counts
 * elements up to the tensor (tensors are 16-aligned in the arena). */
static mp_obj_t tensor_view(tflite_interpreter_obj_t *self, const tfl_tensor *t) {
    size_t offset = (size_t)(t->data - self->arena) / (size_t)tfl_type_size(t->type);
    return new_view(t, MP_OBJ_ARRAY_TYPECODE_FLAG_RW, self->arena, offset);
}

static mp_obj_t tflite_interpreter_input(mp_obj_t self_in, mp_obj_t index) {
    tflite_interpreter_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return tensor_view(self, io_tensor(self, index, 0));
}
MP_DEFINE_CONST_FUN_OBJ_2(tflite_interpreter_input_obj, tflite_interpreter_input);

static mp_obj_t tflite_interpreter_output(mp_obj_t self_in, mp_obj_t index) {
    tflite_interpreter_obj_t *self = MP_OBJ_TO_PTR(self_in);
    return tensor_view(self, io_tensor(self, index, 1));
}
MP_DEFINE_CONST_FUN_OBJ_2(tflite_interpreter_output_obj, tflite_interpreter_output);

static mp_obj_t tflite_interpreter_set_input(mp_obj_t self_in, mp_obj_t data, mp_obj_t index) {
    tflite_interpreter_obj_t *self = MP_OBJ_TO_PTR(self_in);
    tfl_tensor *t = io_tensor(self, index, 0);
    mp_buffer_info_t src;
    mp_get_buffer_raise(data, &src, MP_BUFFER_READ);
    if (src.len != t->bytes) {
        char shape[TFL_MAX_DIMS * 12 + 4];
        format_shape(t, shape);
        raise_formatted(&mp_type_ValueError, "input %d is %s with shape %s (%u bytes), got %u bytes",
            (int)mp_obj_get_int(index), tfl_type_name(t->type), shape, (unsigned)t->bytes, (unsigned)src.len);
    }
    memmove(t->data, src.buf, src.len);
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_3(tflite_interpreter_set_input_obj, tflite_interpreter_set_input);

static mp_obj_t tflite_interpreter_invoke(mp_obj_t self_in) {
    tflite_interpreter_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_buffer_info_t model;
    mp_get_buffer_raise(self->model, &model, MP_BUFFER_READ);
    if (model.buf != self->model_data || model.len != self->model_len) {
        mp_raise_ValueError(MP_ERROR_TEXT("the model's buffer was resized or moved since the Interpreter was made"));
    }
    check(self, tfl_invoke(&self->it));
    return mp_const_none;
}
MP_DEFINE_CONST_FUN_OBJ_1(tflite_interpreter_invoke_obj, tflite_interpreter_invoke);

/* A copy of the output, as a memoryview of its own typed memory: scores[i], len(scores), bytes(scores). */
static mp_obj_t tflite_interpreter_get_output(mp_obj_t self_in, mp_obj_t index) {
    tflite_interpreter_obj_t *self = MP_OBJ_TO_PTR(self_in);
    const tfl_tensor *t = io_tensor(self, index, 1);
    uint8_t *copy = new_bytes(t->bytes);
    memcpy(copy, t->data, t->bytes);
    return new_view(t, 0, copy, 0);
}
MP_DEFINE_CONST_FUN_OBJ_2(tflite_interpreter_get_output_obj, tflite_interpreter_get_output);

/* {'shape': (1, 28, 28, 1), 'dtype': 'int8', 'quantization': (scale, zero_point)}; (0.0, 0) when not quantised. */
static mp_obj_t details(tflite_interpreter_obj_t *self, mp_obj_t index, int output) {
    const tfl_tensor *t = io_tensor(self, index, output);
    mp_obj_t dict = mp_obj_new_dict(3);
    mp_obj_t quantization[2] = {mp_obj_new_float_from_f(t->scale), MP_OBJ_NEW_SMALL_INT(t->zero_point)};
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_shape), shape_tuple(t));
    const char *dtype = tfl_type_name(t->type);
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_dtype), mp_obj_new_str(dtype, strlen(dtype)));
    mp_obj_dict_store(dict, MP_OBJ_NEW_QSTR(MP_QSTR_quantization), mp_obj_new_tuple(2, quantization));
    return dict;
}

static mp_obj_t tflite_interpreter_get_input_details(mp_obj_t self_in, mp_obj_t index) {
    return details(MP_OBJ_TO_PTR(self_in), index, 0);
}
MP_DEFINE_CONST_FUN_OBJ_2(tflite_interpreter_get_input_details_obj, tflite_interpreter_get_input_details);

static mp_obj_t tflite_interpreter_get_output_details(mp_obj_t self_in, mp_obj_t index) {
    return details(MP_OBJ_TO_PTR(self_in), index, 1);
}
MP_DEFINE_CONST_FUN_OBJ_2(tflite_interpreter_get_output_details_obj, tflite_interpreter_get_output_details);

static mp_obj_t op_name(int op) {
    const char *name = tfl_op_name(op);
    return name ? mp_obj_new_str(name, strlen(name)) : MP_OBJ_NEW_SMALL_INT(op);
}

/* Read-only attributes: arena_used, arena_size, ops; anything else falls through to the methods. */
void tflite_interpreter_attr(mp_obj_t self_in, qstr attr, mp_obj_t *dest) {
    tflite_interpreter_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (dest[0] != MP_OBJ_NULL) {
        return; /* no stores or deletes */
    }
    if (attr == MP_QSTR_arena_used) {
        dest[0] = mp_obj_new_int_from_uint(tfl_arena_used(&self->it));
    } else if (attr == MP_QSTR_arena_size) {
        dest[0] = mp_obj_new_int_from_uint(self->arena_size);
    } else if (attr == MP_QSTR_ops) {
        int count = tfl_nodes_count(&self->it);
        mp_obj_t list = mp_obj_new_list(0, NULL);
        for (int i = 0; i < count; i++) {
            mp_obj_list_append(list, op_name(tfl_node_op(&self->it, i)));
        }
        dest[0] = list;
    } else {
        dest[1] = MP_OBJ_SENTINEL;
    }
}

mp_obj_t tflite_ops(void) {
    mp_obj_t names = mp_obj_new_tuple(tfl_kernels_count, NULL);
    mp_obj_tuple_t *tuple = MP_OBJ_TO_PTR(names);
    for (int i = 0; i < tfl_kernels_count; i++) {
        tuple->items[i] = mp_obj_new_str(tfl_kernels[i].name, strlen(tfl_kernels[i].name));
    }
    return names;
}
