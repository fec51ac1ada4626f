/* The standard library's shared helpers: registration of natives and
 * modules, argument checks with uniform messages, number comparison, and a
 * byte buffer that lives in the collector's heap. */
#include <inttypes.h>
#include <string.h>

#include "stdlib/lib.h"

Value lib_native(VM *vm, const LibFunc *f)
{
    /* The name is a string literal of the registration table, so it outlives
     * the native; natives read it back from [data] for their messages. */
    PvNative *n = vm_native_new(vm, f->name, f->fn, f->min_args, f->max_args, (void *)f->name);
    return vm_obj(VT_NATIVE, n);
}

void lib_set(VM *vm, PvMap *module, const char *key, Value v)
{
    vm_map_set(vm, module, vm_str_value(vm_string_cstr(vm, key)), v);
}

PvMap *lib_module(VM *vm, const LibFunc *funcs)
{
    PvMap *m = vm_map_new(vm, 16);
    for (const LibFunc *f = funcs; f->name; f++) {
        const char *dot = strchr(f->name, '.');
        lib_set(vm, m, dot ? dot + 1 : f->name, lib_native(vm, f));
    }
    return m;
}

void lib_arg_error(VM *vm, const char *fname, int i, const char *expected, Value got)
{
    vm_error(vm, "%s: argument %d must be %s, got %s", fname, i + 1, expected, vm_type_name(got));
}

int64_t lib_arg_int(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type != VT_INT)
        lib_arg_error(vm, fname, i, "int", args[i]);
    return args[i].as.i;
}

double lib_arg_number(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type == VT_INT)
        return (double)args[i].as.i;
    if (args[i].type != VT_FLOAT)
        lib_arg_error(vm, fname, i, "number", args[i]);
    return args[i].as.f;
}

PvString *lib_arg_string(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type != VT_STRING)
        lib_arg_error(vm, fname, i, "string", args[i]);
    return args[i].as.s;
}

PvArray *lib_arg_array(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type != VT_ARRAY)
        lib_arg_error(vm, fname, i, "array", args[i]);
    return args[i].as.a;
}

PvMap *lib_arg_map(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type != VT_MAP)
        lib_arg_error(vm, fname, i, "map", args[i]);
    return args[i].as.m;
}

Value lib_arg_function(VM *vm, const char *fname, const Value *args, int i)
{
    if (!vm_is_function(args[i]))
        lib_arg_error(vm, fname, i, "function", args[i]);
    return args[i];
}

/* Narrows [*p, *end) to the text between surrounding whitespace. */
void lib_trim_spaces(const char **p, const char **end)
{
    while (*p < *end && lib_is_space(**p))
        (*p)++;
    while (*end > *p && lib_is_space((*end)[-1]))
        (*end)--;
}

static int compare_doubles(double a, double b)
{
    if (a < b)
        return -1;
    if (a > b)
        return 1;
    return a == b ? 0 : 2;
}

int lib_compare_numbers(Value a, Value b)
{
    if (a.type == VT_INT && b.type == VT_INT)
        return a.as.i < b.as.i ? -1 : a.as.i > b.as.i;
    if (a.type == VT_INT)
        return vm_compare_int_float(a.as.i, b.as.f);
    if (b.type == VT_INT) {
        int c = vm_compare_int_float(b.as.i, a.as.f);
        return c == 2 ? 2 : -c;
    }
    return compare_doubles(a.as.f, b.as.f);
}

int64_t lib_float_to_int(VM *vm, const char *fname, double x, double integral)
{
    /* -2^63 and 2^63 are exact doubles; the test also rejects NaN. */
    if (!(integral >= -0x1p63 && integral < 0x1p63)) {
        char text[32];
        vm_format_float(text, x);
        vm_error(vm, "%s: cannot convert %s to int", fname, text);
    }
    return (int64_t)integral;
}

size_t lib_clamp_index(int64_t i, size_t len)
{
    if (i < 0)
        return 0;
    if ((uint64_t)i > len)
        return len;
    return (size_t)i;
}

void lib_string_index_error(VM *vm, int64_t i, size_t len)
{
    vm_error(vm, "index %" PRId64 " out of range for string of length %zu", i, len);
}

void lib_buf_init(LibBuf *b, VM *vm)
{
    b->vm = vm;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

static void buf_reserve(LibBuf *b, size_t extra)
{
    size_t need = vm_checked_size(b->vm, b->len, 1, extra);
    if (need <= b->cap)
        return;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *data = vm_alloc_atomic(b->vm, cap);
    if (b->len)
        memcpy(data, b->data, b->len);
    b->data = data;
    b->cap = cap;
}

void lib_buf_add(LibBuf *b, const char *s, size_t n)
{
    if (n == 0)
        return;
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

void lib_buf_addc(LibBuf *b, char c)
{
    lib_buf_add(b, &c, 1);
}

void lib_buf_add_value(LibBuf *b, Value v)
{
    PvString *s = v.type == VT_STRING ? v.as.s : vm_to_string(b->vm, v);
    lib_buf_add(b, s->chars, s->len);
}

PvString *lib_buf_string(const LibBuf *b)
{
    return vm_string_new(b->vm, b->data, b->len);
}
