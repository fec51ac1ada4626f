/* The built-in functions that are always in scope: print str len type int
 * float push pop keys has remove assert (LANGUAGE.md section 8). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stdlib/lib.h"

static void write_value(VM *vm, Value v)
{
    PvString *s = v.type == VT_STRING ? v.as.s : pvmV_to_string(vm, v);
    pvmV_charge_bytes(vm, s->len); /* for the text built and written */
    fwrite(s->chars, 1, s->len, vm->out);
}

static Value b_print(VM *vm, int argc, Value *args, void *fname)
{
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            fputc(' ', vm->out);
        write_value(vm, args[i]);
    }
    fputc('\n', vm->out);
    return VAL_NIL;
}

static Value b_str(VM *vm, int argc, Value *args, void *fname)
{
    if (args[0].type == VT_STRING)
        return args[0];
    /* The size is known only once the text is built: charged after. */
    PvString *s = pvmV_to_string(vm, args[0]);
    pvmV_charge_bytes(vm, s->len);
    return vm_str_value(s);
}

static Value b_len(VM *vm, int argc, Value *args, void *fname)
{
    switch (args[0].type) {
    case VT_STRING:
        return vm_int((int64_t)args[0].as.s->len);
    case VT_ARRAY:
        return vm_int((int64_t)args[0].as.a->len);
    case VT_MAP:
        return vm_int((int64_t)args[0].as.m->count);
    default:
        pvmL_arg_error(vm, fname, 0, "string, array or map", args[0]);
    }
}

static Value b_type(VM *vm, int argc, Value *args, void *fname)
{
    return vm_str_value(vm->type_names[args[0].type < VT__COUNT ? args[0].type : VT_NIL]);
}

/* Parses optional sign and decimal digits filling [p, end) exactly;
 * false when that is not the text of an int64. */
static bool parse_int(const char *p, const char *end, int64_t *out)
{
    bool negative = false;
    if (p < end && (*p == '+' || *p == '-'))
        negative = *p++ == '-';
    if (p == end)
        return false;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t n = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned digit = (unsigned)(*p - '0');
        if (n > (limit - digit) / 10)
            return false;
        n = n * 10 + digit;
    }
    *out = negative ? (int64_t)(0 - n) : (int64_t)n;
    return true;
}

static bool match_word(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(end - p) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)p[i]) != word[i])
            return false;
    return true;
}

static const char *skip_digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* Whether [p, end) is a decimal float without sign: digits with an
 * optional point (a digit on at least one side), then an optional
 * exponent. Hex floats and the like, which strtod would take, are not. */
static bool is_decimal_float(const char *p, const char *end)
{
    const char *q = skip_digits(p, end);
    size_t digits = (size_t)(q - p);
    if (q < end && *q == '.') {
        const char *r = skip_digits(q + 1, end);
        digits += (size_t)(r - q - 1);
        q = r;
    }
    if (digits == 0)
        return false;
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        const char *r = skip_digits(q, end);
        if (r == q)
            return false;
        q = r;
    }
    return q == end;
}

/* Parses a PV float text filling [p, end): sign, then a decimal float or
 * inf / infinity / nan (any case). */
static bool parse_float(VM *vm, const char *p, const char *end, double *out)
{
    bool negative = false;
    if (p < end && (*p == '+' || *p == '-'))
        negative = *p++ == '-';
    double d;
    if (match_word(p, end, "inf") || match_word(p, end, "infinity")) {
        d = INFINITY;
    } else if (match_word(p, end, "nan")) {
        d = NAN;
    } else if (is_decimal_float(p, end)) {
        /* strtod needs a NUL-terminated copy; the text is validated, so it
         * reads all of it. Overflow gives inf and underflow 0, as in Python. */
        size_t n = (size_t)(end - p);
        char *copy = pvmV_alloc_atomic(vm, pvmV_checked_size(vm, n, 1, 1));
        memcpy(copy, p, n);
        d = strtod(copy, NULL);
    } else {
        return false;
    }
    *out = negative ? -d : d;
    return true;
}

static Value b_int(VM *vm, int argc, Value *args, void *fname)
{
    Value v = args[0];
    if (v.type == VT_INT)
        return v;
    if (v.type == VT_FLOAT)
        return vm_int(pvmL_float_to_int(vm, fname, v.as.f, trunc(v.as.f)));
    if (v.type != VT_STRING)
        pvmL_arg_error(vm, fname, 0, "number or string", v);
    const char *p = v.as.s->chars, *end = p + v.as.s->len;
    pvmL_trim_spaces(&p, &end);
    int64_t n;
    return parse_int(p, end, &n) ? vm_int(n) : VAL_NIL;
}

static Value b_float(VM *vm, int argc, Value *args, void *fname)
{
    Value v = args[0];
    if (v.type == VT_FLOAT)
        return v;
    if (v.type == VT_INT)
        return vm_float((double)v.as.i);
    if (v.type != VT_STRING)
        pvmL_arg_error(vm, fname, 0, "number or string", v);
    const char *p = v.as.s->chars, *end = p + v.as.s->len;
    pvmL_trim_spaces(&p, &end);
    double d;
    return parse_float(vm, p, end, &d) ? vm_float(d) : VAL_NIL;
}

static Value b_push(VM *vm, int argc, Value *args, void *fname)
{
    pvmV_array_push(vm, pvmL_arg_array(vm, fname, args, 0), args[1]);
    return VAL_NIL;
}

static Value b_pop(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    if (a->len == 0)
        pvmV_error(vm, "pop: array is empty");
    return pvmV_array_pop(a);
}

static Value b_keys(VM *vm, int argc, Value *args, void *fname)
{
    PvMap *m = pvmL_arg_map(vm, fname, args, 0);
    pvmV_charge_items(vm, m->count);
    PvArray *keys = pvmV_array_new(vm, m->count);
    for (int64_t at = pvmV_map_next(m, 0); at >= 0; at = pvmV_map_next(m, (size_t)at + 1))
        pvmV_array_push(vm, keys, pvmV_map_key(m, (size_t)at));
    return vm_obj(VT_ARRAY, keys);
}

static Value b_has(VM *vm, int argc, Value *args, void *fname)
{
    Value ignored;
    return vm_bool(pvmV_map_get(pvmL_arg_map(vm, fname, args, 0), args[1], &ignored));
}

static Value b_remove(VM *vm, int argc, Value *args, void *fname)
{
    Value removed;
    if (pvmV_map_remove(pvmL_arg_map(vm, fname, args, 0), args[1], &removed))
        return removed;
    return VAL_NIL;
}

static Value b_assert(VM *vm, int argc, Value *args, void *fname)
{
    if (vm_is_truthy(args[0]))
        return VAL_NIL;
    if (argc > 1 && args[1].type != VT_NIL)
        pvmV_throw(vm, args[1]);
    pvmV_error(vm, "assertion failed");
}

/* Beyond what the intrinsics take (other types of arguments, an empty
 * array or another kind for push), a trace calls the leaves itself; not
 * print, whose writes could fail half done. */
static const LibFunc builtins[] = {
    { "print", b_print, 0, -1, VM_LEAF_NO },
    { "str", b_str, 1, 1, VM_LEAF_PURE },
    { "len", b_len, 1, 1, VM_LEAF_PURE },
    { "type", b_type, 1, 1, VM_LEAF_PURE },
    { "int", b_int, 1, 1, VM_LEAF_PURE },
    { "float", b_float, 1, 1, VM_LEAF_PURE },
    { "push", b_push, 2, 2, VM_LEAF_MUTATES },
    { "pop", b_pop, 1, 1, VM_LEAF_MUTATES },
    { "keys", b_keys, 1, 1, VM_LEAF_PURE },
    { "has", b_has, 2, 2, VM_LEAF_PURE },
    { "remove", b_remove, 2, 2, VM_LEAF_MUTATES },
    { "assert", b_assert, 1, 2, VM_LEAF_PURE },
    { NULL, NULL, 0, 0, VM_LEAF_NO },
};

void pvmL_open_builtins(VM *vm)
{
    for (const LibFunc *f = builtins; f->name; f++)
        pvmV_define_builtin(vm, f->name, pvmL_native(vm, f));
    pvmL_mark_intrinsic(vm, vm->builtins, "len", VM_INTRINSIC_LEN);
    pvmL_mark_intrinsic(vm, vm->builtins, "has", VM_INTRINSIC_HAS);
    pvmL_mark_intrinsic(vm, vm->builtins, "type", VM_INTRINSIC_TYPE);
    pvmL_mark_intrinsic(vm, vm->builtins, "push", VM_INTRINSIC_PUSH);
    pvmL_mark_intrinsic(vm, vm->builtins, "remove", VM_INTRINSIC_REMOVE);
    pvmL_mark_intrinsic(vm, vm->builtins, "str", VM_INTRINSIC_STR);
}
