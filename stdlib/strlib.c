/* The string module: byte-string operations (strings are immutable byte
 * sequences; case mapping and trimming act on ASCII only). string.format
 * lives in format.c. */
#include <string.h>

#include "stdlib/lib.h"

static Value new_string(VM *vm, const char *chars, size_t len)
{
    return vm_str_value(pvmV_string_new(vm, chars, len));
}

/* The first occurrence of [needle] in [hay] at or after [from], or -1.
 * memchr finds candidates for the first byte; memcmp confirms them. */
static int64_t find_bytes(const PvString *hay, const PvString *needle, size_t from)
{
    size_t n = needle->len;
    if (n == 0)
        return (int64_t)from;
    if (hay->len - from < n)
        return -1;
    const char *p = hay->chars + from, *last = hay->chars + hay->len - n;
    while (p <= last) {
        p = memchr(p, needle->chars[0], (size_t)(last - p) + 1);
        if (!p)
            return -1;
        if (memcmp(p, needle->chars, n) == 0)
            return p - hay->chars;
        p++;
    }
    return -1;
}

static Value s_sub(VM *vm, int argc, Value *args, void *fname)
{
    PvString *s = pvmL_arg_string(vm, fname, args, 0);
    size_t i = pvmL_clamp_index(pvmL_arg_int(vm, fname, args, 1), s->len);
    size_t j = argc > 2 ? pvmL_clamp_index(pvmL_arg_int(vm, fname, args, 2), s->len) : s->len;
    if (j <= i)
        return new_string(vm, "", 0);
    if (i == 0 && j == s->len)
        return args[0];
    pvmV_charge_bytes(vm, j - i);
    return new_string(vm, s->chars + i, j - i);
}

static Value s_find(VM *vm, int argc, Value *args, void *fname)
{
    PvString *s = pvmL_arg_string(vm, fname, args, 0);
    PvString *needle = pvmL_arg_string(vm, fname, args, 1);
    size_t from = argc > 2 ? pvmL_clamp_index(pvmL_arg_int(vm, fname, args, 2), s->len) : 0;
    pvmV_charge_bytes(vm, s->len - from); /* the worst case of the scan */
    return vm_int(find_bytes(s, needle, from));
}

/* upper and lower: the ASCII letters of [s] shifted by [delta] when they lie
 * in [first, last]. */
static Value map_case(VM *vm, const PvString *s, char first, char last, int delta)
{
    pvmV_charge_bytes(vm, s->len);
    char *out = pvmV_alloc_atomic(vm, pvmV_checked_size(vm, s->len, 1, 1));
    for (size_t i = 0; i < s->len; i++) {
        char c = s->chars[i];
        out[i] = (char)(c >= first && c <= last ? c + delta : c);
    }
    return new_string(vm, out, s->len);
}

static Value s_upper(VM *vm, int argc, Value *args, void *fname)
{
    return map_case(vm, pvmL_arg_string(vm, fname, args, 0), 'a', 'z', 'A' - 'a');
}

static Value s_lower(VM *vm, int argc, Value *args, void *fname)
{
    return map_case(vm, pvmL_arg_string(vm, fname, args, 0), 'A', 'Z', 'a' - 'A');
}

static Value s_trim(VM *vm, int argc, Value *args, void *fname)
{
    PvString *s = pvmL_arg_string(vm, fname, args, 0);
    const char *p = s->chars, *end = p + s->len;
    pvmL_trim_spaces(&p, &end);
    pvmV_charge_bytes(vm, (size_t)(end - p));
    return new_string(vm, p, (size_t)(end - p));
}

static PvString *nonempty_string(VM *vm, const char *fname, const Value *args, int i, const char *what)
{
    PvString *s = pvmL_arg_string(vm, fname, args, i);
    if (s->len == 0)
        pvmV_error(vm, "%s: %s must not be empty", fname, what);
    return s;
}

static Value s_split(VM *vm, int argc, Value *args, void *fname)
{
    PvString *s = pvmL_arg_string(vm, fname, args, 0);
    PvString *sep = nonempty_string(vm, fname, args, 1, "separator");
    pvmV_charge_bytes(vm, s->len); /* the scan and the copies */
    PvArray *parts = pvmV_array_new(vm, 0);
    size_t from = 0;
    for (int64_t at; (at = find_bytes(s, sep, from)) >= 0; from = (size_t)at + sep->len) {
        pvmV_charge(vm, 1); /* each piece is an object */
        pvmV_array_push(vm, parts, new_string(vm, s->chars + from, (size_t)at - from));
    }
    pvmV_array_push(vm, parts, new_string(vm, s->chars + from, s->len - from));
    return vm_obj(VT_ARRAY, parts);
}

static Value s_join(VM *vm, int argc, Value *args, void *fname)
{
    PvArray *a = pvmL_arg_array(vm, fname, args, 0);
    PvString *sep = pvmL_arg_string(vm, fname, args, 1);
    LibBuf b;
    pvmL_buf_init(&b, vm);
    pvmV_charge_items(vm, a->len); /* the bytes are charged as they are added */
    for (size_t i = 0; i < a->len; i++) {
        if (i > 0)
            pvmL_buf_add(&b, sep->chars, sep->len);
        pvmL_buf_add_value(&b, pvmV_array_load(a, i));
    }
    return vm_str_value(pvmL_buf_string(&b));
}

static Value s_replace(VM *vm, int argc, Value *args, void *fname)
{
    PvString *s = pvmL_arg_string(vm, fname, args, 0);
    PvString *old = nonempty_string(vm, fname, args, 1, "pattern");
    PvString *new = pvmL_arg_string(vm, fname, args, 2);
    LibBuf b;
    pvmL_buf_init(&b, vm);
    pvmV_charge_bytes(vm, s->len); /* the scan; the output is charged as it is added */
    size_t from = 0;
    for (int64_t at; (at = find_bytes(s, old, from)) >= 0; from = (size_t)at + old->len) {
        pvmL_buf_add(&b, s->chars + from, (size_t)at - from);
        pvmL_buf_add(&b, new->chars, new->len);
    }
    pvmL_buf_add(&b, s->chars + from, s->len - from);
    return vm_str_value(pvmL_buf_string(&b));
}

static Value s_repeat(VM *vm, int argc, Value *args, void *fname)
{
    PvString *s = pvmL_arg_string(vm, fname, args, 0);
    int64_t n = pvmL_arg_int(vm, fname, args, 1);
    if (n <= 0 || s->len == 0)
        return new_string(vm, "", 0);
    if ((uint64_t)n > SIZE_MAX)
        pvmV_out_of_memory(vm);
    size_t total = pvmV_checked_size(vm, (size_t)n, s->len, 0);
    /* Before allocating, so that a gigabyte under a small budget fails at
     * once instead of after the work. */
    pvmV_charge_bytes(vm, total);
    PvString *r = pvmV_string_alloc(vm, total);
    char *out = r->chars;
    memcpy(out, s->chars, s->len);
    /* Doubling copies, in slices short enough that an interrupt is
     * noticed within a millisecond. Every slice is a whole number of
     * copies of [s], so it lands where the pattern continues. */
    size_t slice = LIB_POLL_BYTES - LIB_POLL_BYTES % s->len;
    if (slice == 0)
        slice = s->len;
    for (size_t done = s->len; done < total;) {
        size_t n = total - done < done ? total - done : done;
        if (n > slice)
            n = slice;
        memcpy(out + done, out, n);
        done += n;
        pvmV_charge(vm, 0);
    }
    return vm_str_value(pvmV_string_seal(r));
}

static Value s_byte(VM *vm, int argc, Value *args, void *fname)
{
    PvString *s = pvmL_arg_string(vm, fname, args, 0);
    int64_t i = argc > 1 ? pvmL_arg_int(vm, fname, args, 1) : 0;
    if (i < 0 || (uint64_t)i >= s->len)
        pvmL_string_index_error(vm, i, s->len);
    return vm_int((unsigned char)s->chars[i]);
}

static Value s_char(VM *vm, int argc, Value *args, void *fname)
{
    int64_t n = pvmL_arg_int(vm, fname, args, 0);
    if (n < 0 || n > 255)
        pvmV_error(vm, "%s: %lld is not a byte (0..255)", (const char *)fname, (long long)n);
    return vm_str_value(vm->single_chars[n]);
}

static Value s_starts_with(VM *vm, int argc, Value *args, void *fname)
{
    PvString *s = pvmL_arg_string(vm, fname, args, 0);
    PvString *p = pvmL_arg_string(vm, fname, args, 1);
    return vm_bool(p->len <= s->len && memcmp(s->chars, p->chars, p->len) == 0);
}

static Value s_ends_with(VM *vm, int argc, Value *args, void *fname)
{
    PvString *s = pvmL_arg_string(vm, fname, args, 0);
    PvString *p = pvmL_arg_string(vm, fname, args, 1);
    return vm_bool(p->len <= s->len && memcmp(s->chars + s->len - p->len, p->chars, p->len) == 0);
}

/* Strings never change: every one of these makes a new value, and a
 * trace calls each itself (VM_LEAF_PURE). */
static const LibFunc string_funcs[] = {
    { "string.sub", s_sub, 2, 3, VM_LEAF_PURE },
    { "string.find", s_find, 2, 3, VM_LEAF_PURE },
    { "string.upper", s_upper, 1, 1, VM_LEAF_PURE },
    { "string.lower", s_lower, 1, 1, VM_LEAF_PURE },
    { "string.trim", s_trim, 1, 1, VM_LEAF_PURE },
    { "string.split", s_split, 2, 2, VM_LEAF_PURE },
    { "string.join", s_join, 2, 2, VM_LEAF_PURE },
    { "string.replace", s_replace, 3, 3, VM_LEAF_PURE },
    { "string.repeat", s_repeat, 2, 2, VM_LEAF_PURE },
    { "string.byte", s_byte, 1, 2, VM_LEAF_PURE },
    { "string.char", s_char, 1, 1, VM_LEAF_PURE },
    { "string.starts_with", s_starts_with, 2, 2, VM_LEAF_PURE },
    { "string.ends_with", s_ends_with, 2, 2, VM_LEAF_PURE },
    { "string.format", pvmL_string_format, 1, -1, VM_LEAF_PURE },
    { NULL, NULL, 0, 0, VM_LEAF_NO },
};

void pvmL_open_string(VM *vm)
{
    pvmV_define_builtin(vm, "string", vm_obj(VT_MAP, pvmL_module(vm, string_funcs)));
}
