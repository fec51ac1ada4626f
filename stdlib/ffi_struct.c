/* Structs, unions and arrays (FfiCType aggregates, built by ffi_cdef.c):
 * their libffi types for passing and returning by value, the checked
 * conversions between them and PV values, field paths, and the natives
 * ffi.new, ffi.get, ffi.set, ffi.offsetof and ffi.alignof.
 *
 * By value an aggregate is a PV value: a struct or union is a map from
 * field names to values, an array a PV array (a char array a string).
 * In memory it is bytes of an ffi.alloc-style block, reached through a
 * pointer and a field path ("pos.x", "pts[2].y"), every access checked
 * against the block. */
#include <inttypes.h>
#include <string.h>

#include "stdlib/ffi_int.h"
#include "stdlib/lib.h"

/* At most this many libffi elements in the flattened view of one
 * aggregate passed by value (arrays are spelled element by element). */
#define FFI_MAX_ELEMENTS 4096

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* ---- libffi types ---- */

static ffi_type *ffi_of(VM *vm, const FfiCType *t, const char *fname);

/* How many libffi elements [t] is, flattened (arrays expanded). */
static size_t element_count(const FfiCType *t)
{
    if (t->tag == CT_ARRAY) {
        size_t n = element_count(t->elem);
        return n > FFI_MAX_ELEMENTS ? n : n * t->count;
    }
    return 1;
}

static void add_elements(VM *vm, const FfiCType *t, ffi_type **out, size_t *n, const char *fname)
{
    if (t->tag != CT_ARRAY) {
        out[(*n)++] = ffi_of(vm, t, fname);
        return;
    }
    for (size_t i = 0; i < t->count; i++)
        add_elements(vm, t->elem, out, n, fname);
}

static ffi_type *new_struct_type(VM *vm, size_t nelems)
{
    ffi_type *ft = pvmV_alloc(vm, sizeof *ft);
    ft->type = FFI_TYPE_STRUCT;
    ft->elements = pvmV_alloc(vm, (nelems + 1) * sizeof *ft->elements);
    return ft;
}

#if defined(__x86_64__)
/* Marks the eightbytes of a union that hold a scalar other than float or
 * double: those travel in integer registers (the SysV classification). */
static void mark_integer(const FfiCType *t, size_t at, bool *integer, bool *used)
{
    if (t->tag == CT_ARRAY) {
        for (size_t i = 0; i < t->count; i++)
            mark_integer(t->elem, at + i * t->elem->size, integer, used);
        return;
    }
    if (t->tag == CT_STRUCT || t->tag == CT_UNION) {
        for (int i = 0; i < t->nfields; i++)
            mark_integer(t->fields[i].type, at + t->fields[i].offset, integer, used);
        return;
    }
    bool is_float = t->kind == FK_FLOAT || t->kind == FK_DOUBLE;
    for (size_t e = at / 8; e <= (at + t->size - 1) / 8 && e < 2; e++) {
        used[e] = true;
        integer[e] |= !is_float;
    }
}

/* libffi has no union type. A struct of chunks with the union's size and
 * alignment, each eightbyte made of floats or doubles where every member
 * overlapping it is floating-point and of integers elsewhere, is passed
 * exactly as the union: the SysV ABI classifies by eightbyte. */
static ffi_type *union_type(VM *vm, const FfiCType *t, const char *fname)
{
    static ffi_type *const ints[] = { NULL, &ffi_type_uint8, &ffi_type_uint16, NULL, &ffi_type_uint32,
                                      NULL, NULL, NULL, &ffi_type_uint64 };
    bool integer[2] = { false, false }, used[2] = { false, false };
    if (t->size <= 16)
        mark_integer(t, 0, integer, used);
    size_t chunk = t->align > 8 ? 8 : t->align;
    ffi_type *ft = new_struct_type(vm, t->size / chunk + 1);
    size_t n = 0;
    for (size_t at = 0; at < t->size; at += chunk) {
        size_t e = at / 8;
        bool sse = t->size <= 16 && used[e] && !integer[e] && chunk >= 4;
        ft->elements[n++] = sse ? (chunk == 8 ? &ffi_type_double : &ffi_type_float) : ints[chunk];
    }
    return ft;
}
#else
static ffi_type *union_type(VM *vm, const FfiCType *t, const char *fname)
{
    pvmV_error(vm, "%s: %s: unions cannot be passed by value on this host (libffi has no union type)",
               fname, t->name);
}
#endif

/* Checks libffi's layout of [ft] against ours: they must agree, or the
 * call would move the wrong bytes. */
static void check_layout(VM *vm, const FfiCType *t, ffi_type *ft, const char *fname)
{
    size_t n = 0;
    while (ft->elements[n])
        n++;
    size_t *offsets = pvmV_alloc_atomic(vm, (n + 1) * sizeof *offsets);
    if (ffi_get_struct_offsets(FFI_DEFAULT_ABI, ft, offsets) != FFI_OK || ft->size != t->size ||
        ft->alignment != t->align)
        pvmV_error(vm, "%s: %s: libffi lays it out differently (%zu bytes, alignment %u; pvm: %zu, %zu)",
                   fname, t->name, ft->size, (unsigned)ft->alignment, t->size, t->align);
}

static ffi_type *aggregate_type(VM *vm, const FfiCType *t, const char *fname)
{
    if (t->ffi)
        return t->ffi;
    ffi_type *ft;
    if (t->tag == CT_UNION) {
        ft = union_type(vm, t, fname);
    } else {
        size_t total = 0;
        for (int i = 0; i < t->nfields; i++) {
            total += element_count(t->fields[i].type);
            if (total > FFI_MAX_ELEMENTS)
                pvmV_error(vm, "%s: %s is too large to pass by value (more than %d scalars); pass a pointer",
                           fname, t->name, FFI_MAX_ELEMENTS);
        }
        ft = new_struct_type(vm, total);
        size_t n = 0;
        for (int i = 0; i < t->nfields; i++)
            add_elements(vm, t->fields[i].type, ft->elements, &n, fname);
    }
    check_layout(vm, t, ft, fname);
    ((FfiCType *)t)->ffi = ft; /* a cache: the type itself does not change */
    return ft;
}

static ffi_type *ffi_of(VM *vm, const FfiCType *t, const char *fname)
{
    switch (t->tag) {
    case CT_SCALAR: return pvmF_types[t->kind].type;
    case CT_POINTER: return &ffi_type_pointer;
    case CT_STRUCT:
    case CT_UNION: return aggregate_type(vm, t, fname);
    default:
        pvmV_error(vm, "%s: %s cannot be passed by value", fname, t->name);
    }
}

ffi_type *pvmF_ctype_ffi(VM *vm, const FfiCType *t, const char *fname)
{
    if (!t->complete)
        pvmV_error(vm, "%s: %s has no definition (an incomplete type), so it cannot be passed by value",
                   fname, t->name);
    if (t->tag == CT_ARRAY)
        pvmV_error(vm, "%s: C cannot pass an array (%s) by value; pass a pointer", fname, t->name);
    return ffi_of(vm, t, fname);
}

/* ---- Signatures ---- */

void pvmF_sig_note_aggregate(VM *vm, FfiSig *sig, int i, const FfiCType *t, const char *fname)
{
    pvmF_ctype_ffi(vm, t, fname);
    if (i < 0) {
        sig->ret_ctype = t;
        size_t room = t->size > sizeof(ffi_arg) ? t->size : sizeof(ffi_arg);
        sig->agg_bytes += align_up(room, 16);
        return;
    }
    if (!sig->ctypes)
        sig->ctypes = pvmV_alloc(vm, ((size_t)sig->nargs + 1) * sizeof *sig->ctypes);
    sig->ctypes[i] = t;
    sig->agg_bytes += align_up(t->size, 16);
}

void pvmF_sig_from_ctype(VM *vm, FfiSig *sig, const FfiCType *fn, const char *fname)
{
    memset(sig, 0, sizeof *sig);
    sig->ret = pvmF_ctype_kind(fn->ret, true);
    sig->nargs = sig->nfixed = fn->nparams;
    sig->variadic = sig->open = fn->variadic;
    sig->kinds = pvmV_alloc_atomic(vm, (size_t)fn->nparams + 1);
    sig->types = pvmV_alloc(vm, ((size_t)fn->nparams + 1) * sizeof(ffi_type *));
    if (sig->ret == FK_AGGREGATE)
        pvmF_sig_note_aggregate(vm, sig, -1, fn->ret, fname);
    for (int i = 0; i < fn->nparams; i++) {
        FfiKind k = pvmF_ctype_kind(fn->params[i], true);
        sig->kinds[i] = (uint8_t)k;
        if (k == FK_AGGREGATE)
            pvmF_sig_note_aggregate(vm, sig, i, fn->params[i], fname);
        sig->types[i] = k == FK_AGGREGATE ? pvmF_ctype_ffi(vm, fn->params[i], fname) : pvmF_types[k].type;
    }
    pvmF_prepare_cif(vm, sig, fname);
}

/* ---- Fields ---- */

/* The field [name] of struct or union [t], looked for in anonymous
 * members too; its offset from [t]'s start goes to [*offset]. */
static const FfiField *find_field(const FfiCType *t, const char *name, size_t len, size_t *offset)
{
    for (int i = 0; i < t->nfields; i++) {
        const FfiField *f = &t->fields[i];
        if (f->name && strlen(f->name) == len && !memcmp(f->name, name, len)) {
            *offset = f->offset;
            return f;
        }
        if (!f->name) {
            size_t inner;
            const FfiField *g = find_field(f->type, name, len, &inner);
            if (g) {
                *offset = f->offset + inner;
                return g;
            }
        }
    }
    return NULL;
}

/* A message's path, grown as conversions descend ("pos.x", "pts[2]"). */
typedef struct {
    char text[160];
    size_t len;
} Path;

static size_t path_push_field(Path *p, const char *name)
{
    size_t was = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "%s%s", p->len ? "." : "", name);
    if (n > 0)
        p->len = p->len + (size_t)n < sizeof p->text ? p->len + (size_t)n : sizeof p->text - 1;
    return was;
}

static size_t path_push_index(Path *p, size_t i)
{
    size_t was = p->len;
    int n = snprintf(p->text + p->len, sizeof p->text - p->len, "[%zu]", i);
    if (n > 0)
        p->len = p->len + (size_t)n < sizeof p->text ? p->len + (size_t)n : sizeof p->text - 1;
    return was;
}

static void path_pop(Path *p, size_t was)
{
    p->len = was;
    p->text[was] = '\0';
}

/* ---- PV -> C ---- */

static void to_c(VM *vm, const FfiCType *t, Value v, char *dst, FfiWhere where, Path *path);

/* [where] with the field [path] appended: "div: argument 1, field quot",
 * written into [buf]. */
static FfiWhere at_field(FfiWhere where, const Path *path, char *buf, size_t size)
{
    if (!path->len)
        return where;
    char at[200];
    pvmF_where_text(at, sizeof at, where);
    snprintf(buf, size, "%s, field %s", at, path->text);
    return (FfiWhere){ buf, -1 };
}

/* Raises "WHERE, field PATH: MSG". */
static PVM_NORETURN void where_error(VM *vm, FfiWhere where, const Path *path, const char *msg)
{
    char buf[400], at[400];
    pvmF_where_text(at, sizeof at, at_field(where, path, buf, sizeof buf));
    pvmV_error(vm, "%s: %s", at, msg);
}

/* A struct's fields, in the map's order (so, in a union, the last one
 * written wins); missing fields stay zero. */
static void struct_to_c(VM *vm, const FfiCType *t, Value v, char *dst, FfiWhere where, Path *path)
{
    if (v.type != VT_MAP) {
        char expected[120];
        snprintf(expected, sizeof expected, "map (for %s)", t->name);
        char buf[400];
        pvmF_type_error(vm, at_field(where, path, buf, sizeof buf), expected, v);
    }
    memset(dst, 0, t->size);
    const PvMap *m = v.as.m;
    for (int64_t pos = pvmV_map_next(m, 0); pos >= 0; pos = pvmV_map_next(m, (size_t)pos + 1)) {
        Value key = pvmV_map_key(m, (size_t)pos);
        char msg[200];
        if (key.type != VT_STRING) {
            snprintf(msg, sizeof msg, "the fields of %s are named by strings, got a key of type %s", t->name,
                     pvmV_type_name(key));
            where_error(vm, where, path, msg);
        }
        size_t offset;
        const FfiField *f = find_field(t, key.as.s->chars, key.as.s->len, &offset);
        if (!f) {
            snprintf(msg, sizeof msg, "%s has no field '%.60s'", t->name, key.as.s->chars);
            where_error(vm, where, path, msg);
        }
        size_t was = path_push_field(path, f->name);
        to_c(vm, f->type, m->entries[pos].value, dst + offset, where, path);
        path_pop(path, was);
    }
}

static void array_to_c(VM *vm, const FfiCType *t, Value v, char *dst, FfiWhere where, Path *path)
{
    memset(dst, 0, t->size);
    char msg[200];
    if (t->elem->is_char && v.type == VT_STRING) {
        if (v.as.s->len > t->count) {
            snprintf(msg, sizeof msg, "a string of %zu bytes does not fit in %s", v.as.s->len, t->name);
            where_error(vm, where, path, msg);
        }
        memcpy(dst, v.as.s->chars, v.as.s->len);
        return;
    }
    if (v.type != VT_ARRAY) {
        char expected[120];
        snprintf(expected, sizeof expected, "array (for %s)%s", t->name, t->elem->is_char ? " or string" : "");
        char buf[400];
        pvmF_type_error(vm, at_field(where, path, buf, sizeof buf), expected, v);
    }
    const PvArray *a = v.as.a;
    if (a->len > t->count) {
        snprintf(msg, sizeof msg, "%zu elements do not fit in %s", a->len, t->name);
        where_error(vm, where, path, msg);
    }
    for (size_t i = 0; i < a->len; i++) {
        size_t was = path_push_index(path, i);
        to_c(vm, t->elem, pvmV_array_load(a, i), dst + i * t->elem->size, where, path);
        path_pop(path, was);
    }
}

static void to_c(VM *vm, const FfiCType *t, Value v, char *dst, FfiWhere where, Path *path)
{
    switch (t->tag) {
    case CT_STRUCT:
    case CT_UNION: struct_to_c(vm, t, v, dst, where, path); return;
    case CT_ARRAY: array_to_c(vm, t, v, dst, where, path); return;
    default: {
        char buf[400];
        pvmF_to_c(vm, pvmF_ctype_kind(t, false), v, dst, at_field(where, path, buf, sizeof buf));
    }
    }
}

void pvmF_agg_to_c(VM *vm, const FfiCType *t, Value v, void *dst, FfiWhere where)
{
    Path path = { "", 0 };
    to_c(vm, t, v, dst, where, &path);
}

/* ---- C -> PV ---- */

static Value from_c(VM *vm, const FfiCType *t, const char *src);

static void fields_from_c(VM *vm, const FfiCType *t, const char *src, PvMap *m)
{
    for (int i = 0; i < t->nfields; i++) {
        const FfiField *f = &t->fields[i];
        if (!f->name) { /* an anonymous member's fields are the struct's own */
            fields_from_c(vm, f->type, src + f->offset, m);
            continue;
        }
        pvmV_map_set(vm, m, vm_str_value(pvmV_string_cstr(vm, f->name)), from_c(vm, f->type, src + f->offset));
    }
}

static Value array_from_c(VM *vm, const FfiCType *t, const char *src)
{
    if (t->elem->is_char) {
        const char *nul = memchr(src, '\0', t->count);
        return vm_str_value(pvmV_string_new(vm, src, nul ? (size_t)(nul - src) : t->count));
    }
    PvArray *a = pvmV_array_new(vm, t->count);
    for (size_t i = 0; i < t->count; i++)
        pvmV_array_push(vm, a, from_c(vm, t->elem, src + i * t->elem->size));
    return vm_obj(VT_ARRAY, a);
}

static Value from_c(VM *vm, const FfiCType *t, const char *src)
{
    switch (t->tag) {
    case CT_STRUCT:
    case CT_UNION: {
        PvMap *m = pvmV_map_new(vm, (size_t)t->nfields);
        fields_from_c(vm, t, src, m);
        return vm_obj(VT_MAP, m);
    }
    case CT_ARRAY: return array_from_c(vm, t, src);
    default: return pvmF_from_c(vm, pvmF_ctype_kind(t, false), src);
    }
}

Value pvmF_agg_from_c(VM *vm, const FfiCType *t, const void *src)
{
    return from_c(vm, t, src);
}

/* ---- Field paths ---- */

typedef struct {
    const FfiCType *type;
    size_t offset;
} Place;

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= '0' && c <= '9');
}

/* "[N]" at [*p] within array [pl]. */
static void index_step(VM *vm, Place *pl, const char **p, const char *fname, const PvString *path)
{
    const char *q = *p + 1;
    uint64_t i = 0;
    const char *digits = q;
    while (*q >= '0' && *q <= '9' && i <= (uint64_t)INT32_MAX)
        i = i * 10 + (uint64_t)(*q++ - '0');
    if (q == digits || *q != ']')
        pvmV_error(vm, "%s: bad field path '%s': expected a number and ']' after '['", fname, path->chars);
    if (pl->type->tag != CT_ARRAY)
        pvmV_error(vm, "%s: bad field path '%s': %s is not an array", fname, path->chars, pl->type->name);
    if (i >= pl->type->count)
        pvmV_error(vm, "%s: field path '%s': index %" PRIu64 " is out of range for %s", fname, path->chars, i,
                   pl->type->name);
    pl->offset += (size_t)i * pl->type->elem->size;
    pl->type = pl->type->elem;
    *p = q + 1;
}

/* A field name at [*p] within struct or union [pl]. */
static void field_step(VM *vm, Place *pl, const char **p, const char *fname, const PvString *path)
{
    const char *q = *p;
    while (is_name_char(*q))
        q++;
    if (q == *p)
        pvmV_error(vm, "%s: bad field path '%s': expected a field name at offset %td", fname, path->chars,
                   *p - path->chars);
    const FfiCType *t = pl->type;
    if (t->tag == CT_POINTER)
        pvmV_error(vm, "%s: field path '%s': %s is a pointer; read it, then access what it points to", fname,
                   path->chars, t->name);
    if (t->tag != CT_STRUCT && t->tag != CT_UNION)
        pvmV_error(vm, "%s: field path '%s': %s has no fields", fname, path->chars, t->name);
    size_t offset;
    const FfiField *f = find_field(t, *p, (size_t)(q - *p), &offset);
    if (!f)
        pvmV_error(vm, "%s: %s has no field '%.*s'", fname, t->name, (int)(q - *p), *p);
    pl->offset += offset;
    pl->type = f->type;
    *p = q;
}

/* What [path] names within [t]: "" is [t] itself. */
static Place resolve_path(VM *vm, const FfiCType *t, const PvString *path, const char *fname)
{
    Place pl = { t, 0 };
    if (memchr(path->chars, '\0', path->len))
        pvmV_error(vm, "%s: the field path contains a NUL byte", fname);
    const char *p = path->chars;
    bool first = true;
    while (*p) {
        if (*p == '[') {
            index_step(vm, &pl, &p, fname, path);
        } else {
            if (!first && *p++ != '.')
                pvmV_error(vm, "%s: bad field path '%s': expected '.' or '[' at offset %td", fname, path->chars,
                           p - 1 - path->chars);
            field_step(vm, &pl, &p, fname, path);
        }
        first = false;
    }
    return pl;
}

/* ---- The natives ---- */

/* The C type named by args[i]: [*ct] for aggregates, and a scalar's kind. */
static FfiKind arg_type(VM *vm, FfiState *st, const Value *args, int i, const char *fname,
                        const FfiCType **ct)
{
    FfiKind k = pvmF_arg_ctype(vm, st, args, i, fname, ct);
    if (k == FK_STRING)
        pvmV_error(vm, "%s: string is a parameter type; C memory holds a \"pointer\" (read it with ffi.string)",
                   fname);
    if (*ct && !(*ct)->complete)
        pvmV_error(vm, "%s: %s has no definition (an incomplete type)", fname, (*ct)->name);
    return k;
}

static size_t type_size(FfiKind k, const FfiCType *ct)
{
    return ct ? ct->size : pvmF_types[k].size;
}

/* Converts [v] to C as [k]/[ct] into [dst], checked in full first. */
static void store(VM *vm, FfiKind k, const FfiCType *ct, Value v, char *dst, FfiWhere where)
{
    if (!ct) {
        FfiSlot slot;
        pvmF_to_c(vm, k, v, &slot, where);
        memcpy(dst, &slot, pvmF_types[k].size);
        return;
    }
    char *tmp = pvmV_alloc_atomic(vm, ct->size);
    pvmF_agg_to_c(vm, ct, v, tmp, where);
    memcpy(dst, tmp, ct->size);
}

static Value load(VM *vm, FfiKind k, const FfiCType *ct, const char *src)
{
    return ct ? pvmF_agg_from_c(vm, ct, src) : pvmF_from_c(vm, k, src);
}

/* ffi.new(type, [value]): a zeroed ffi.alloc block the size of [type],
 * holding [value] when given. */
Value pvmF_new(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    const FfiCType *ct;
    FfiKind k = arg_type(vm, data, args, 0, "ffi.new", &ct);
    size_t size = type_size(k, ct);
    pvmV_charge_bytes(vm, size);
    char *block = pvmV_alloc(vm, size); /* scanned: it may hold pointers */
    if (argc > 1)
        store(vm, k, ct, args[1], block, (FfiWhere){ "ffi.new", 2 });
    return pvmF_pointer_new(vm, block, block, size, PV_PTR_BLOCK);
}

/* The place ffi.get/ffi.set reach: the type at [path] (args[2]) within
 * args[1] from pointer args[0], and the checked address of its bytes. */
static char *place_of(VM *vm, FfiState *st, int argc, const Value *args, const char *fname, const char *verb,
                      FfiKind *k, const FfiCType **ct)
{
    PvPointer *p = pvmF_arg_pointer(vm, args, 0, fname);
    *k = arg_type(vm, st, args, 1, fname, ct);
    size_t offset = 0;
    if (argc > 2 && !(args[2].type == VT_STRING && args[2].as.s->len == 0)) {
        PvString *path = pvmL_arg_string(vm, fname, args, 2);
        if (!*ct)
            pvmV_error(vm, "%s: %s has no fields (path '%s')", fname, pvmF_types[*k].name, path->chars);
        Place pl = resolve_path(vm, *ct, path, fname);
        offset = pl.offset;
        *k = pvmF_ctype_kind(pl.type, false);
        *ct = *k == FK_AGGREGATE ? pl.type : NULL;
    }
    return pvmF_access_at(vm, p, (int64_t)offset, type_size(*k, *ct), fname, verb);
}

/* ffi.get(p, type, [path]): the value at [path] of the [type] at [p]. */
Value pvmF_get(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    FfiKind k;
    const FfiCType *ct;
    char *at = place_of(vm, data, argc, args, "ffi.get", "read", &k, &ct);
    return load(vm, k, ct, at);
}

/* ffi.set(p, type, path, value): stores [value] there, checked first. */
Value pvmF_set(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    FfiKind k;
    const FfiCType *ct;
    char *at = place_of(vm, data, argc, args, "ffi.set", "write", &k, &ct);
    const FfiTypeInfo *t = &pvmF_types[k];
    Value v = args[3];
    if (!ct && t->is_int && v.type == VT_INT && v.as.i >= t->min && v.as.i <= t->max) {
        pvmF_store_int(at, t->size, v.as.i); /* the common case, without a label for messages */
        return VAL_NIL;
    }
    char where[200];
    snprintf(where, sizeof where, "ffi.set: argument 4%s%.100s", args[2].as.s->len ? ", field " : "",
             args[2].as.s->chars);
    store(vm, k, ct, args[3], at, (FfiWhere){ where, -1 });
    return VAL_NIL;
}

/* ffi.offsetof(type, path): the byte offset of [path] in [type]. */
Value pvmF_offsetof(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    const FfiCType *ct;
    FfiKind k = arg_type(vm, data, args, 0, "ffi.offsetof", &ct);
    PvString *path = pvmL_arg_string(vm, "ffi.offsetof", args, 1);
    if (!ct)
        pvmV_error(vm, "ffi.offsetof: %s has no fields", pvmF_types[k].name);
    return vm_int((int64_t)resolve_path(vm, ct, path, "ffi.offsetof").offset);
}

/* ffi.alignof(type): its alignment as a struct member on this host. */
Value pvmF_alignof(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    const FfiCType *ct;
    FfiKind k = arg_type(vm, data, args, 0, "ffi.alignof", &ct);
    if (ct)
        return vm_int((int64_t)ct->align);
    return vm_int((int64_t)pvmF_types[k].type->alignment);
}
