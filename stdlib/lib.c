/* The standard library's shared helpers: registration of natives and
 * modules, argument checks with uniform messages, number comparison, and a
 * byte buffer that lives in the collector's heap. */
#include <inttypes.h>
#include <string.h>

#include "stdlib/lib.h"

Value pvmL_native(VM *vm, const LibFunc *f)
{
    /* The name is a string literal of the registration table, so it outlives
     * the native; natives read it back from [data] for their messages. */
    PvNative *n = pvmV_native_new(vm, f->name, f->fn, f->min_args, f->max_args, (void *)f->name);
    n->leaf = (uint8_t)f->leaf;
    return vm_obj(VT_NATIVE, n);
}

void pvmL_mark_intrinsic(VM *vm, PvMap *m, const char *key, VmIntrinsic k)
{
    Value v;
    if (pvmV_map_get(m, vm_str_value(pvmV_string_cstr(vm, key)), &v) && v.type == VT_NATIVE)
        v.as.nat->intrinsic = k;
}

void pvmL_set(VM *vm, PvMap *module, const char *key, Value v)
{
    pvmV_map_set(vm, module, vm_str_value(pvmV_string_cstr(vm, key)), v);
}

PvMap *pvmL_module(VM *vm, const LibFunc *funcs)
{
    PvMap *m = pvmV_map_new(vm, 16);
    for (const LibFunc *f = funcs; f->name; f++) {
        const char *dot = strchr(f->name, '.');
        pvmL_set(vm, m, dot ? dot + 1 : f->name, pvmL_native(vm, f));
    }
    return m;
}

void pvmL_arg_error(VM *vm, const char *fname, int i, const char *expected, Value got)
{
    pvmV_error(vm, "%s: argument %d must be %s, got %s", fname, i + 1, expected, pvmV_type_name(got));
}

int64_t pvmL_arg_int(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type != VT_INT)
        pvmL_arg_error(vm, fname, i, "int", args[i]);
    return args[i].as.i;
}

double pvmL_arg_number(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type == VT_INT)
        return (double)args[i].as.i;
    if (args[i].type != VT_FLOAT)
        pvmL_arg_error(vm, fname, i, "number", args[i]);
    return args[i].as.f;
}

PvString *pvmL_arg_string(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type != VT_STRING)
        pvmL_arg_error(vm, fname, i, "string", args[i]);
    return args[i].as.s;
}

PvArray *pvmL_arg_array(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type != VT_ARRAY)
        pvmL_arg_error(vm, fname, i, "array", args[i]);
    return args[i].as.a;
}

PvMap *pvmL_arg_map(VM *vm, const char *fname, const Value *args, int i)
{
    if (args[i].type != VT_MAP)
        pvmL_arg_error(vm, fname, i, "map", args[i]);
    return args[i].as.m;
}

Value pvmL_arg_function(VM *vm, const char *fname, const Value *args, int i)
{
    if (!vm_is_function(args[i]))
        pvmL_arg_error(vm, fname, i, "function", args[i]);
    return args[i];
}

/* Narrows [*p, *end) to the text between surrounding whitespace. */
void pvmL_trim_spaces(const char **p, const char **end)
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

int pvmL_compare_numbers(Value a, Value b)
{
    if (a.type == VT_INT && b.type == VT_INT)
        return a.as.i < b.as.i ? -1 : a.as.i > b.as.i;
    if (a.type == VT_INT)
        return pvmV_compare_int_float(a.as.i, b.as.f);
    if (b.type == VT_INT) {
        int c = pvmV_compare_int_float(b.as.i, a.as.f);
        return c == 2 ? 2 : -c;
    }
    return compare_doubles(a.as.f, b.as.f);
}

int64_t pvmL_float_to_int(VM *vm, const char *fname, double x, double integral)
{
    /* -2^63 and 2^63 are exact doubles; the test also rejects NaN. */
    if (!(integral >= -0x1p63 && integral < 0x1p63)) {
        char text[32];
        pvmV_format_float(text, x);
        pvmV_error(vm, "%s: cannot convert %s to int", fname, text);
    }
    return (int64_t)integral;
}

size_t pvmL_clamp_index(int64_t i, size_t len)
{
    if (i < 0)
        return 0;
    if ((uint64_t)i > len)
        return len;
    return (size_t)i;
}

void pvmL_string_index_error(VM *vm, int64_t i, size_t len)
{
    pvmV_error(vm, "index %" PRId64 " out of range for string of length %zu", i, len);
}

void pvmL_buf_init(LibBuf *b, VM *vm)
{
    b->vm = vm;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->uncharged = 0;
}

static void buf_reserve(LibBuf *b, size_t extra)
{
    size_t need = pvmV_checked_size(b->vm, b->len, 1, extra);
    if (need <= b->cap)
        return;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *data = pvmV_alloc_atomic(b->vm, cap);
    if (b->len)
        memcpy(data, b->data, b->len);
    b->data = data;
    b->cap = cap;
}

void pvmL_buf_add_uncharged(LibBuf *b, const char *s, size_t n)
{
    if (n == 0)
        return;
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Charging per add would round small pieces down to nothing; batching
 * them charges the bytes exactly and still polls every few kilobytes. */
#define BUF_CHARGE_STEP 4096u

void pvmL_buf_add(LibBuf *b, const char *s, size_t n)
{
    b->uncharged += n;
    if (b->uncharged >= BUF_CHARGE_STEP) {
        pvmV_charge_bytes(b->vm, b->uncharged);
        b->uncharged = 0;
    }
    pvmL_buf_add_uncharged(b, s, n);
}

void pvmL_buf_addc(LibBuf *b, char c)
{
    pvmL_buf_add(b, &c, 1);
}

void pvmL_buf_add_value(LibBuf *b, Value v)
{
    PvString *s = v.type == VT_STRING ? v.as.s : pvmV_to_string(b->vm, v);
    pvmL_buf_add(b, s->chars, s->len);
}

PvString *pvmL_buf_string(const LibBuf *b)
{
    return pvmV_string_new(b->vm, b->data, b->len);
}
