/* The C types of the ffi and the checked conversions between PV values and
 * C values.
 *
 * Every conversion from PV to C is checked: integer types take PV ints
 * within the C type's range, float types take ints or floats, "pointer"
 * takes a pointer or nil (NULL), and "string" takes a string without NUL
 * bytes (never nil), which C must only read; "buffer" takes a pointer into
 * an ffi.alloc block, the memory C may write. A mismatch is a PV error naming the function and the
 * argument; nothing reaches C unchecked. */
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "stdlib/ffi_int.h"
#include "stdlib/lib.h"

#if SIZE_MAX == UINT64_MAX
#define FFI_TYPE_SIZE_T (&ffi_type_uint64)
#define SIZE_T_MAX_PV INT64_MAX
#else
#define FFI_TYPE_SIZE_T (&ffi_type_uint32)
#define SIZE_T_MAX_PV ((int64_t)SIZE_MAX)
#endif

#if ULONG_MAX > INT64_MAX
#define ULONG_MAX_PV INT64_MAX
#else
#define ULONG_MAX_PV ((int64_t)ULONG_MAX)
#endif

/* Unsigned 64-bit types accept 0..INT64_MAX: a PV int cannot hold more, and
 * refusing negative values catches size_t(-1) mistakes. */
#define INT_TYPE(NAME, FT, CT, SIGNED, MIN, MAX) \
    { NAME, FT, sizeof(CT), true, SIGNED, MIN, MAX }

const FfiTypeInfo pvmF_types[FK__COUNT] = {
    [FK_VOID] = { "void", &ffi_type_void, 0, false, false, 0, 0 },
    [FK_INT8] = INT_TYPE("int8", &ffi_type_sint8, int8_t, true, INT8_MIN, INT8_MAX),
    [FK_INT16] = INT_TYPE("int16", &ffi_type_sint16, int16_t, true, INT16_MIN, INT16_MAX),
    [FK_INT32] = INT_TYPE("int32", &ffi_type_sint32, int32_t, true, INT32_MIN, INT32_MAX),
    [FK_INT64] = INT_TYPE("int64", &ffi_type_sint64, int64_t, true, INT64_MIN, INT64_MAX),
    [FK_UINT8] = INT_TYPE("uint8", &ffi_type_uint8, uint8_t, false, 0, UINT8_MAX),
    [FK_UINT16] = INT_TYPE("uint16", &ffi_type_uint16, uint16_t, false, 0, UINT16_MAX),
    [FK_UINT32] = INT_TYPE("uint32", &ffi_type_uint32, uint32_t, false, 0, UINT32_MAX),
    [FK_UINT64] = INT_TYPE("uint64", &ffi_type_uint64, uint64_t, false, 0, INT64_MAX),
    [FK_INT] = INT_TYPE("int", &ffi_type_sint, int, true, INT_MIN, INT_MAX),
    [FK_LONG] = INT_TYPE("long", &ffi_type_slong, long, true, LONG_MIN, LONG_MAX),
    [FK_UINT] = INT_TYPE("uint", &ffi_type_uint, unsigned, false, 0, UINT_MAX),
    [FK_ULONG] = INT_TYPE("ulong", &ffi_type_ulong, unsigned long, false, 0, ULONG_MAX_PV),
    [FK_SIZE_T] = INT_TYPE("size_t", FFI_TYPE_SIZE_T, size_t, false, 0, SIZE_T_MAX_PV),
    [FK_FLOAT] = { "float", &ffi_type_float, sizeof(float), false, true, 0, 0 },
    [FK_DOUBLE] = { "double", &ffi_type_double, sizeof(double), false, true, 0, 0 },
    [FK_POINTER] = { "pointer", &ffi_type_pointer, sizeof(void *), false, false, 0, 0 },
    [FK_STRING] = { "string", &ffi_type_pointer, sizeof(char *), false, false, 0, 0 },
    [FK_BUFFER] = { "buffer", &ffi_type_pointer, sizeof(char *), false, false, 0, 0 },
    [FK_BOOL] = { "bool", &ffi_type_uint8, sizeof(_Bool), false, false, 0, 0 },
    /* No name a program can write: an aggregate is spelled in C. */
    [FK_AGGREGATE] = { "", NULL, 0, false, false, 0, 0 },
    [FK_CSTRING] = { "const char *", &ffi_type_pointer, sizeof(char *), false, false, 0, 0 },
};

/* ---- Type names and signatures ---- */

/* The table's kind named [s], or -1. */
static int table_kind(const PvString *s)
{
    for (int k = 0; k < FK_AGGREGATE; k++) {
        if (!strcmp(s->chars, pvmF_types[k].name) && strlen(pvmF_types[k].name) == s->len)
            return k;
    }
    return -1;
}

FfiKind pvmF_parse_ctype(VM *vm, FfiState *st, Value name, const char *fname, const char *what,
                         bool prototype, const FfiCType **ctype)
{
    if (name.type != VT_STRING)
        pvmV_error(vm, "%s: the C type %s must be a string, got %s", fname, what, pvmV_type_name(name));
    *ctype = NULL;
    int k = table_kind(name.as.s);
    if (k >= 0)
        return (FfiKind)k;
    const FfiCType *t = pvmF_ctype_parse(vm, st, name.as.s, fname);
    if (!t)
        pvmV_error(vm, "%s: unknown C type '%s' %s", fname, name.as.s->chars, what);
    if (t->tag == CT_FUNC)
        pvmV_error(vm, "%s: '%s' is a function type, not a value's type %s (use a pointer to it)", fname,
                   t->name, what);
    if (t->unsupported)
        pvmV_error(vm, "%s: %s %s is not supported (PV floats are doubles); use a pointer to it", fname, t->name,
                   what);
    FfiKind kind = pvmF_ctype_kind(t, prototype);
    if (kind == FK_AGGREGATE)
        *ctype = t;
    return kind;
}

static bool is_ellipsis(Value v)
{
    return v.type == VT_STRING && v.as.s->len == 3 && !memcmp(v.as.s->chars, "...", 3);
}

/* C passes these through "..." only after promotion (to int or double). */
static bool promoted_in_varargs(FfiKind k)
{
    return k == FK_INT8 || k == FK_INT16 || k == FK_UINT8 || k == FK_UINT16 || k == FK_FLOAT;
}

/* Finds the "..." marker: its index, or -1. */
static int find_ellipsis(VM *vm, const PvArray *args, const char *fname, bool allow_variadic)
{
    int at = -1;
    for (size_t i = 0; i < args->len; i++) {
        if (!is_ellipsis(pvmV_array_load(args, i)))
            continue;
        if (!allow_variadic)
            pvmV_error(vm, "%s: a callback cannot be variadic ('...')", fname);
        if (at >= 0)
            pvmV_error(vm, "%s: '...' may appear only once in the parameter types", fname);
        if (i == 0)
            pvmV_error(vm, "%s: '...' needs at least one fixed parameter before it", fname);
        at = (int)i;
    }
    return at;
}

static FfiKind parse_param(VM *vm, FfiState *st, FfiSig *sig, Value name, const char *fname, int param,
                           bool variadic_part, bool allow_variadic)
{
    char what[48];
    snprintf(what, sizeof what, "for parameter %d", param);
    const FfiCType *ct;
    FfiKind k = pvmF_parse_ctype(vm, st, name, fname, what, true, &ct);
    if (k == FK_AGGREGATE && !allow_variadic)
        pvmV_error(vm, "%s: parameter %d: a callback cannot take a struct, union or array by value (%s); "
                       "take a pointer", fname, param, ct->name);
    if (k == FK_AGGREGATE)
        pvmF_sig_note_aggregate(vm, sig, param - 1, ct, fname);
    if (k == FK_VOID)
        pvmV_error(vm, "%s: void is only valid as a return type (parameter %d)", fname, param);
    if (variadic_part && promoted_in_varargs(k))
        pvmV_error(vm, "%s: %s cannot be passed through '...' (parameter %d): C promotes it, use %s",
                 fname, pvmF_types[k].name, param, k == FK_FLOAT ? "double" : "int");
    return k;
}

void pvmF_prepare_cif(VM *vm, FfiSig *sig, const char *fname)
{
    if (sig->open)
        return; /* prepared per call, once the extra arguments are known */
    ffi_status st;
    ffi_type *rtype = sig->ret_ctype ? pvmF_ctype_ffi(vm, sig->ret_ctype, fname) : pvmF_types[sig->ret].type;
    if (sig->variadic)
        st = ffi_prep_cif_var(&sig->cif, FFI_DEFAULT_ABI, (unsigned)sig->nfixed, (unsigned)sig->nargs,
                              rtype, sig->types);
    else
        st = ffi_prep_cif(&sig->cif, FFI_DEFAULT_ABI, (unsigned)sig->nargs, rtype, sig->types);
    if (st != FFI_OK)
        pvmV_error(vm, "%s: libffi cannot prepare this signature (status %d)", fname, (int)st);
}

void pvmF_parse_sig(VM *vm, FfiState *st, FfiSig *sig, Value ret, Value args, const char *fname,
                    bool allow_variadic)
{
    memset(sig, 0, sizeof *sig);
    const FfiCType *rct;
    sig->ret = pvmF_parse_ctype(vm, st, ret, fname, "for the return value", true, &rct);
    if (sig->ret == FK_CSTRING && !allow_variadic)
        pvmV_error(vm, "ffi.callback: a callback cannot return a string (return a pointer from ffi.alloc)");
    if (rct && !allow_variadic)
        pvmV_error(vm, "%s: a callback cannot return a struct, union or array by value (%s)", fname, rct->name);
    if (rct)
        pvmF_sig_note_aggregate(vm, sig, -1, rct, fname);
    if (sig->ret == FK_BUFFER)
        pvmV_error(vm, "%s: buffer is only valid as a parameter type (C returns a \"pointer\")", fname);
    if (args.type != VT_NIL && args.type != VT_ARRAY)
        pvmV_error(vm, "%s: parameter types must be an array, got %s", fname, pvmV_type_name(args));
    PvArray empty = { .kind = VM_ARR_BOXED };
    const PvArray *list = args.type == VT_ARRAY ? args.as.a : &empty;
    int ellipsis = find_ellipsis(vm, list, fname, allow_variadic);
    int nparams = (int)list->len - (ellipsis >= 0 ? 1 : 0);
    if (list->len > FFI_MAX_ARGS)
        pvmV_error(vm, "%s: too many parameters (at most %d)", fname, FFI_MAX_ARGS);
    sig->variadic = ellipsis >= 0;
    sig->open = sig->variadic && ellipsis == (int)list->len - 1;
    sig->nfixed = sig->variadic ? ellipsis : nparams;
    sig->nargs = nparams;
    sig->kinds = pvmV_alloc_atomic(vm, (size_t)nparams + 1);
    /* not atomic: it may hold the collector-made ffi_types of aggregates */
    sig->types = pvmV_alloc(vm, ((size_t)nparams + 1) * sizeof(ffi_type *));
    int n = 0;
    for (size_t i = 0; i < list->len; i++) {
        if ((int)i == ellipsis)
            continue;
        FfiKind k = parse_param(vm, st, sig, pvmV_array_load(list, i), fname, n + 1, n >= sig->nfixed,
                                allow_variadic);
        sig->kinds[n] = (uint8_t)k;
        sig->types[n] = k == FK_AGGREGATE ? pvmF_ctype_ffi(vm, sig->ctypes[n], fname) : pvmF_types[k].type;
        n++;
    }
    pvmF_prepare_cif(vm, sig, fname);
}

/* ---- PV -> C ---- */

void pvmF_where_text(char *buf, size_t size, FfiWhere where)
{
    if (where.arg > 0)
        snprintf(buf, size, "%s: argument %d", where.fname, where.arg);
    else if (where.arg == 0)
        snprintf(buf, size, "%s: return value", where.fname);
    else
        snprintf(buf, size, "%s", where.fname);
}


void pvmF_type_error(VM *vm, FfiWhere where, const char *expected, Value got)
{
    char at[160];
    pvmF_where_text(at, sizeof at, where);
    pvmV_error(vm, "%s must be %s, got %s", at, expected, pvmV_type_name(got));
}

static void int_to_c(VM *vm, const FfiTypeInfo *t, Value v, void *dst, FfiWhere where)
{
    if (v.type != VT_INT)
        pvmF_type_error(vm, where, "int", v);
    if (v.as.i < t->min || v.as.i > t->max) {
        char at[160];
        pvmF_where_text(at, sizeof at, where);
        pvmV_error(vm, "%s: %" PRId64 " is out of range for %s (%" PRId64 "..%" PRId64 ")", at, v.as.i,
                 t->name, t->min, t->max);
    }
    pvmF_store_int(dst, t->size, v.as.i);
}

static void string_to_c(VM *vm, Value v, void *dst, FfiWhere where)
{
    if (v.type == VT_NIL) {
        char at[160];
        pvmF_where_text(at, sizeof at, where);
        pvmV_error(vm, "%s: nil (NULL) is not allowed for a string", at);
    }
    if (v.type != VT_STRING)
        pvmF_type_error(vm, where, "string", v);
    if (memchr(v.as.s->chars, '\0', v.as.s->len)) {
        char at[160];
        pvmF_where_text(at, sizeof at, where);
        pvmV_error(vm, "%s: the string contains a NUL byte, which C would take for its end", at);
    }
    const char *chars = v.as.s->chars;
    memcpy(dst, &chars, sizeof chars);
}

/* A declared `const char *` takes what C would: a string (read-only, as
 * for "string"), a pointer to chars (a block, a foreign pointer) or nil. */
static void cstring_to_c(VM *vm, Value v, void *dst, FfiWhere where)
{
    if (v.type == VT_STRING) {
        string_to_c(vm, v, dst, where);
        return;
    }
    if (v.type != VT_POINTER && v.type != VT_NIL)
        pvmF_type_error(vm, where, "string, pointer or nil", v);
    void *p = v.type == VT_NIL ? NULL : vm_pointer_addr(v);
    memcpy(dst, &p, sizeof p);
}

/* Raises "WHERE: WHY" for a value a "buffer" parameter refuses. */
static PVM_NORETURN void buffer_error(VM *vm, FfiWhere where, const char *why)
{
    char at[160];
    pvmF_where_text(at, sizeof at, where);
    pvmV_error(vm, "%s: %s", at, why);
}

/* A "buffer" is memory C may write: only a pointer into an ffi.alloc
 * block, whose size pvm knows, so what C wrote can be read back checked.
 * A PV string is refused (C writing into it would change every equal
 * string of the program), as are NULL and foreign pointers. */
static void buffer_to_c(VM *vm, Value v, void *dst, FfiWhere where)
{
    if (v.type == VT_STRING)
        buffer_error(vm, where, "a string is read-only for C; pass a buffer from ffi.alloc(n)");
    if (v.type == VT_NIL || (v.type == VT_POINTER && !vm_pointer_addr(v)))
        buffer_error(vm, where, "nil (NULL) is not allowed for a buffer");
    if (v.type != VT_POINTER)
        pvmF_type_error(vm, where, "a buffer (a pointer from ffi.alloc)", v);
    const PvPointer *p = v.as.p;
    if (p->kind != PV_PTR_BLOCK)
        buffer_error(vm, where,
                     "a buffer must point into an ffi.alloc block; declare \"pointer\" for memory of unknown size");
    uintptr_t start = (uintptr_t)p->owner, at = (uintptr_t)p->addr;
    if (at < start || at - start >= p->size)
        buffer_error(vm, where, "the pointer is outside its ffi.alloc block (no room for C to write)");
    memcpy(dst, &p->addr, sizeof p->addr);
}

void pvmF_to_c(VM *vm, FfiKind k, Value v, void *dst, FfiWhere where)
{
    const FfiTypeInfo *t = &pvmF_types[k];
    if (t->is_int) {
        int_to_c(vm, t, v, dst, where);
        return;
    }
    switch (k) {
    case FK_FLOAT:
    case FK_DOUBLE: {
        if (!vm_is_number(v))
            pvmF_type_error(vm, where, "number", v);
        double d = v.type == VT_INT ? (double)v.as.i : v.as.f;
        if (k == FK_FLOAT) {
            float f = (float)d;
            memcpy(dst, &f, sizeof f);
        } else {
            memcpy(dst, &d, sizeof d);
        }
        return;
    }
    case FK_POINTER: {
        if (v.type != VT_POINTER && v.type != VT_NIL)
            pvmF_type_error(vm, where, "pointer or nil", v);
        void *p = v.type == VT_NIL ? NULL : vm_pointer_addr(v);
        memcpy(dst, &p, sizeof p);
        return;
    }
    case FK_STRING: string_to_c(vm, v, dst, where); return;
    case FK_BUFFER: buffer_to_c(vm, v, dst, where); return;
    case FK_CSTRING: cstring_to_c(vm, v, dst, where); return;
    case FK_BOOL: {
        if (v.type != VT_BOOL)
            pvmF_type_error(vm, where, "bool", v);
        _Bool b = v.as.b;
        memcpy(dst, &b, sizeof b);
        return;
    }
    default: pvmV_error(vm, "%s: void has no value", where.fname);
    }
}

/* ---- C -> PV ---- */

Value pvmF_from_c(VM *vm, FfiKind k, const void *src)
{
    const FfiTypeInfo *t = &pvmF_types[k];
    if (t->is_int)
        return vm_int(pvmF_load_int(src, t->size, t->is_signed));
    switch (k) {
    case FK_FLOAT: { float f; memcpy(&f, src, sizeof f); return vm_float((double)f); }
    case FK_DOUBLE: { double d; memcpy(&d, src, sizeof d); return vm_float(d); }
    case FK_POINTER: { void *p; memcpy(&p, src, sizeof p); return pvmF_pointer(vm, p); }
    case FK_STRING:
    case FK_CSTRING: {
        const char *s;
        memcpy(&s, src, sizeof s);
        return s ? vm_str_value(pvmV_string_cstr(vm, s)) : VAL_NIL;
    }
    case FK_BOOL: { uint8_t b; memcpy(&b, src, 1); return vm_bool(b != 0); }
    default: return VAL_NIL;
    }
}

/* Integer types narrower than ffi_arg travel widened in return buffers. */
static bool widened(FfiKind k)
{
    return pvmF_types[k].is_int && pvmF_types[k].size < sizeof(ffi_arg);
}

Value pvmF_from_return(VM *vm, FfiKind k, const FfiSlot *ret)
{
    if (k == FK_BOOL) /* widened like a uint8 */
        return vm_bool((uint8_t)ret->arg != 0);
    if (!widened(k))
        return pvmF_from_c(vm, k, ret);
    const FfiTypeInfo *t = &pvmF_types[k];
    int64_t wide = t->is_signed ? (int64_t)ret->sarg : (int64_t)ret->arg;
    FfiSlot exact;
    pvmF_store_int(&exact, t->size, wide); /* drop any bits above the C type */
    return vm_int(pvmF_load_int(&exact, t->size, t->is_signed));
}

void pvmF_to_return(VM *vm, FfiKind k, Value v, void *ret, FfiWhere where)
{
    if (k == FK_VOID)
        return;
    if (k == FK_BOOL) {
        _Bool b;
        pvmF_to_c(vm, k, v, &b, where);
        ffi_arg w = b;
        memcpy(ret, &w, sizeof w);
        return;
    }
    if (!widened(k)) {
        pvmF_to_c(vm, k, v, ret, where);
        return;
    }
    const FfiTypeInfo *t = &pvmF_types[k];
    FfiSlot exact;
    int_to_c(vm, t, v, &exact, where);
    int64_t x = pvmF_load_int(&exact, t->size, t->is_signed);
    if (t->is_signed) {
        ffi_sarg w = (ffi_sarg)x;
        memcpy(ret, &w, sizeof w);
    } else {
        ffi_arg w = (ffi_arg)x;
        memcpy(ret, &w, sizeof w);
    }
}
