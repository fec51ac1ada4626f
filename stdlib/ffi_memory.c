/* Pointer values and host memory: ffi.alloc, ffi.read, ffi.write,
 * ffi.string, ffi.offset, ffi.is_null, ffi.address, ffi.pointer, ffi.size,
 * ffi.sizeof.
 *
 * A pointer value is a small collector box (PvPointer, vm/runtime/object.h) holding
 * the address, so a pointer into an ffi.alloc block keeps the block alive
 * and knows its bounds: every access through such a pointer is checked.
 * Memory that C handed out (a "foreign" pointer) has no known bounds; those
 * accesses are only checked for NULL. */
#include <inttypes.h>
#include <string.h>

#include "stdlib/ffi_int.h"
#include "stdlib/lib.h"

Value pvmF_pointer_new(VM *vm, void *addr, void *owner, size_t size, uint32_t kind)
{
    PvPointer *p = pvmV_alloc(vm, sizeof *p);
    p->addr = addr;
    p->owner = owner;
    p->size = size;
    p->kind = kind;
    return vm_obj(VT_POINTER, p);
}

Value pvmF_pointer(VM *vm, void *addr)
{
    return pvmF_pointer_new(vm, addr, NULL, 0, PV_PTR_FOREIGN);
}

/* The slot of [addr] in the box cache: direct-mapped on the address, so
 * the elements of an array of up to FFI_BOX_CACHE ints map to distinct
 * slots, and a merge sort's merges of up to that many find their boxes
 * again (32 KB of cache and at most 128 KB of boxes kept: a qsort of
 * 100 000 ints allocates 42 % fewer boxes than with 256 entries). */
static unsigned box_slot(const void *addr)
{
    return (unsigned)((uintptr_t)addr >> 2) & (FFI_BOX_CACHE - 1);
}

Value pvmF_pointer_spared(FfiState *st, void *addr)
{
    PvPointer **slot = &st->box_cache[box_slot(addr)];
    if (*slot && (*slot)->addr == addr)
        return vm_obj(VT_POINTER, *slot);
    PvPointer *p = st->spare_boxes[--st->nspare];
    st->spare_boxes[st->nspare] = NULL;
    p->addr = addr; /* a fresh box, zeroed: a foreign pointer once it has an address */
    *slot = p;
    return vm_obj(VT_POINTER, p);
}

void pvmF_stock_boxes(VM *vm, FfiState *st)
{
    if (!st->box_cache)
        st->box_cache = pvmV_alloc(vm, FFI_BOX_CACHE * sizeof *st->box_cache);
    while (st->nspare < FFI_SPARE_BOXES) {
        st->spare_boxes[st->nspare] = pvmV_alloc(vm, sizeof(PvPointer));
        st->nspare++;
    }
}

Value pvmF_null(VM *vm)
{
    return pvmF_pointer(vm, NULL);
}

void pvmF_pointer_arg_error(VM *vm, const Value *args, int i, const char *fname)
{
    pvmL_arg_error(vm, fname, i, "pointer", args[i]);
}

/* ---- Access checks ----
 * ffi.read and ffi.write are meant to cost a few ns, so the checks that
 * pass are a handful of compares and every message is built out of line,
 * only once a check has failed. */

/* Why [n] bytes at [offset] past [p] cannot be accessed: raises it. */
static PVM_NORETURN void access_error(VM *vm, const PvPointer *p, int64_t offset, size_t n,
                                      const char *fname, const char *verb)
{
    if (p->kind == PV_PTR_CALLBACK || p->kind == PV_PTR_LIBRARY)
        pvmV_error(vm, "%s: cannot %s memory through a %s", fname, verb,
                 p->kind == PV_PTR_CALLBACK ? "callback pointer" : "library handle");
    if (!p->addr)
        pvmV_error(vm, "%s: cannot %s through a NULL pointer", fname, verb);
    int64_t from = (int64_t)((uintptr_t)p->addr - (uintptr_t)p->owner);
    int64_t pos;
    bool overflow = __builtin_add_overflow(from, offset, &pos);
    pvmV_error(vm, "%s: cannot %s %zu byte%s at offset %" PRId64 ": outside the %zu-byte block", fname,
             verb, n, n == 1 ? "" : "s", overflow ? offset : pos, p->size);
}

/* The address [offset] bytes past [p] where [n] bytes may be read or
 * written ([verb]), or an error: NULL, callbacks and library handles, and
 * anything outside an ffi.alloc block are refused. */
static inline char *access_at(VM *vm, const PvPointer *p, int64_t offset, size_t n, const char *fname,
                              const char *verb)
{
    char *at = (char *)((uintptr_t)p->addr + (uint64_t)offset);
    if (p->kind == PV_PTR_FOREIGN && p->addr)
        return at;
    if (p->kind != PV_PTR_BLOCK)
        access_error(vm, p, offset, n, fname, verb);
    /* [pos] is the position in the block; ffi.offset may have moved [addr]
     * anywhere, so every step is checked for overflow. */
    int64_t from = (int64_t)((uintptr_t)p->addr - (uintptr_t)p->owner);
    int64_t pos;
    if (__builtin_add_overflow(from, offset, &pos) || pos < 0 || (uint64_t)pos > p->size ||
        n > p->size - (uint64_t)pos)
        access_error(vm, p, offset, n, fname, verb);
    return at;
}

char *pvmF_access_at(VM *vm, const PvPointer *p, int64_t offset, size_t n, const char *fname, const char *verb)
{
    return access_at(vm, p, offset, n, fname, verb);
}

static inline int64_t arg_offset(VM *vm, int argc, const Value *args, int i, const char *fname)
{
    if (argc <= i)
        return 0;
    return args[i].type == VT_INT ? args[i].as.i : pvmL_arg_int(vm, fname, args, i);
}

/* A type name the cache does not hold: parsed (with its messages), checked
 * for a value, then cached. A C type from a declaration may be cached
 * too once complete: declarations are never undone or changed. */
static FfiKind data_type_slow(VM *vm, FfiState *st, Value name, int i, const char *fname,
                              const FfiCType **ct)
{
    char what[32];
    snprintf(what, sizeof what, "(argument %d)", i + 1);
    FfiKind k = pvmF_parse_ctype(vm, st, name, fname, what, false, ct);
    if (k == FK_VOID)
        pvmV_error(vm, "%s: void has no %s", fname, strcmp(fname, "ffi.sizeof") ? "value" : "size");
    if (k == FK_BUFFER)
        pvmV_error(vm, "%s: buffer is only a parameter type; the memory holds a \"pointer\"", fname);
    if (*ct && !(*ct)->complete)
        return k; /* "struct s" before ffi.cdef defines it: looked up again next time */
    unsigned slot = (unsigned)name.as.s->hash & (FFI_TYPE_CACHE - 1);
    st->type_cache[slot].name = name.as.s;
    st->type_cache[slot].kind = (uint8_t)k;
    st->type_cache[slot].ctype = *ct;
    bool is_int = k != FK_AGGREGATE && pvmF_types[k].is_int;
    st->type_cache[slot].int_size = is_int ? (uint8_t)pvmF_types[k].size : 0;
    st->type_cache[slot].int_signed = is_int && pvmF_types[k].is_signed;
    return k;
}

/* The C type args[i] names; [*ct] is set for an aggregate. A program
 * names its types with literals, the same string objects on every call,
 * so a hit in the cache is the rule. */
static inline FfiKind arg_data_type(VM *vm, FfiState *st, const Value *args, int i, const char *fname,
                                    const FfiCType **ct)
{
    Value name = args[i];
    if (name.type == VT_STRING) {
        unsigned slot = (unsigned)name.as.s->hash & (FFI_TYPE_CACHE - 1);
        if (st->type_cache[slot].name == name.as.s) {
            *ct = st->type_cache[slot].ctype;
            return (FfiKind)st->type_cache[slot].kind;
        }
    }
    return data_type_slow(vm, st, name, i, fname, ct);
}

FfiKind pvmF_arg_ctype(VM *vm, FfiState *st, const Value *args, int i, const char *fname, const FfiCType **ct)
{
    return arg_data_type(vm, st, args, i, fname, ct);
}

/* [ct] (an aggregate's type) must be complete to have a size. */
static void check_complete(VM *vm, const FfiCType *ct, const char *fname)
{
    if (!ct->complete)
        pvmV_error(vm, "%s: %s has no definition (an incomplete type)", fname, ct->name);
}

static Value read_aggregate(VM *vm, const PvPointer *p, const FfiCType *ct, int64_t offset)
{
    check_complete(vm, ct, "ffi.read");
    return pvmF_agg_from_c(vm, ct, access_at(vm, p, offset, ct->size, "ffi.read", "read"));
}

/* Converted into a scratch copy first, so a bad value writes nothing. */
static void write_aggregate(VM *vm, const PvPointer *p, const FfiCType *ct, int64_t offset, Value v)
{
    check_complete(vm, ct, "ffi.write");
    char *tmp = pvmV_alloc_atomic(vm, ct->size);
    pvmF_agg_to_c(vm, ct, v, tmp, (FfiWhere){ "ffi.write", 4 });
    memcpy(access_at(vm, p, offset, ct->size, "ffi.write", "write"), tmp, ct->size);
}

/* ffi.alloc(n) or ffi.alloc(s): n zeroed bytes, or a C copy of s with its
 * NUL. The block is collector memory and scanned, so pointers stored in it
 * keep their targets alive. */
Value pvmF_alloc(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    if (args[0].type == VT_STRING) {
        const PvString *s = args[0].as.s;
        pvmV_charge_bytes(vm, s->len);
        char *block = pvmV_alloc(vm, s->len + 1);
        memcpy(block, s->chars, s->len + 1);
        return pvmF_pointer_new(vm, block, block, s->len + 1, PV_PTR_BLOCK);
    }
    if (args[0].type != VT_INT)
        pvmL_arg_error(vm, "ffi.alloc", 0, "int or string", args[0]);
    int64_t n = args[0].as.i;
    if (n < 0)
        pvmV_error(vm, "ffi.alloc: size must not be negative, got %" PRId64, n);
    size_t size = pvmV_checked_size(vm, (uint64_t)n, 1, 0);
    pvmV_charge_bytes(vm, size); /* zeroed by the collector */
    char *block = pvmV_alloc(vm, size);
    return pvmF_pointer_new(vm, block, block, size, PV_PTR_BLOCK);
}

/* ---- The fast path of ffi.read and ffi.write ----
 * The common call reads or writes an integer: a pointer, a type name that
 * is a literal already in the type cache, an int offset or none, and an
 * access the checks let through. That call is served here, without a call
 * of its own, so the native costs a few compares; anything else goes to
 * the general path, which checks everything again and explains what fails. */

typedef struct {
    char *at;
    uint8_t size;
    bool is_signed;
    uint8_t kind;
} FastInt;

/* [n] bytes at [offset] past [p] are inside what may be accessed. */
static inline bool access_ok(const PvPointer *p, int64_t offset, size_t n)
{
    if (p->kind == PV_PTR_FOREIGN)
        return p->addr != NULL;
    if (p->kind != PV_PTR_BLOCK)
        return false;
    int64_t from = (int64_t)((uintptr_t)p->addr - (uintptr_t)p->owner);
    int64_t pos;
    return !__builtin_add_overflow(from, offset, &pos) && pos >= 0 && (uint64_t)pos <= p->size &&
           n <= p->size - (uint64_t)pos;
}

/* The integer access args[0..2] describe, or .size 0 for the general path. */
static inline FastInt fast_int_access(const FfiState *st, int argc, const Value *args)
{
    FastInt none = { NULL, 0, false, 0 };
    if (args[0].type != VT_POINTER || args[1].type != VT_STRING)
        return none;
    int64_t offset = 0;
    if (argc > 2) {
        if (args[2].type != VT_INT)
            return none;
        offset = args[2].as.i;
    }
    const PvString *name = args[1].as.s;
    unsigned slot = (unsigned)name->hash & (FFI_TYPE_CACHE - 1);
    if (st->type_cache[slot].name != name || !st->type_cache[slot].int_size)
        return none;
    const PvPointer *p = args[0].as.p;
    size_t n = st->type_cache[slot].int_size;
    if (!access_ok(p, offset, n))
        return none;
    return (FastInt){ (char *)((uintptr_t)p->addr + (uint64_t)offset), (uint8_t)n,
                      st->type_cache[slot].int_signed, st->type_cache[slot].kind };
}

/* ffi.read(ptr, type, offset = 0). A "string" reads a char * stored there
 * and copies the C string it points to (nil for NULL). */
static PVM_NOINLINE Value read_general(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    PvPointer *p = pvmF_arg_pointer(vm, args, 0, "ffi.read");
    const FfiCType *ct;
    FfiKind k = arg_data_type(vm, data, args, 1, "ffi.read", &ct);
    int64_t offset = arg_offset(vm, argc, args, 2, "ffi.read");
    if (k == FK_AGGREGATE)
        return read_aggregate(vm, p, ct, offset);
    const FfiTypeInfo *t = &pvmF_types[k];
    const char *at = access_at(vm, p, offset, t->size, "ffi.read", "read");
    if (t->is_int)
        return vm_int(pvmF_load_int(at, t->size, t->is_signed));
    return pvmF_from_c(vm, k, at);
}

Value pvmF_read(VM *vm, int argc, Value *args, void *data)
{
    if (!vm->ffi_disabled) {
        FastInt a = fast_int_access(data, argc, args);
        if (a.size)
            return vm_int(pvmF_load_int(a.at, a.size, a.is_signed));
    }
    return read_general(vm, argc, args, data);
}

/* ffi.write(ptr, type, offset, value): the value is converted (and checked)
 * before any byte is written. */
static PVM_NOINLINE Value write_general(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    PvPointer *p = pvmF_arg_pointer(vm, args, 0, "ffi.write");
    const FfiCType *ct;
    FfiKind k = arg_data_type(vm, data, args, 1, "ffi.write", &ct);
    if (k == FK_STRING)
        pvmV_error(vm, "ffi.write: cannot store a PV string in C memory; store ffi.alloc(s) as a \"pointer\"");
    int64_t offset = arg_offset(vm, argc, args, 2, "ffi.write");
    if (k == FK_AGGREGATE) {
        write_aggregate(vm, p, ct, offset, args[3]);
        return VAL_NIL;
    }
    const FfiTypeInfo *t = &pvmF_types[k];
    Value v = args[3];
    if (t->is_int && v.type == VT_INT && v.as.i >= t->min && v.as.i <= t->max) {
        /* the common case: an int in range, stored without the general path */
        pvmF_store_int(access_at(vm, p, offset, t->size, "ffi.write", "write"), t->size, v.as.i);
        return VAL_NIL;
    }
    FfiSlot value;
    pvmF_to_c(vm, k, v, &value, (FfiWhere){ "ffi.write", 4 });
    char *at = access_at(vm, p, offset, t->size, "ffi.write", "write");
    memcpy(at, &value, t->size);
    return VAL_NIL;
}

Value pvmF_write(VM *vm, int argc, Value *args, void *data)
{
    if (!vm->ffi_disabled && argc == 4 && args[3].type == VT_INT) {
        FastInt a = fast_int_access(data, argc, args);
        const FfiTypeInfo *t = &pvmF_types[a.kind];
        if (a.size && args[3].as.i >= t->min && args[3].as.i <= t->max) {
            pvmF_store_int(a.at, a.size, args[3].as.i);
            return VAL_NIL;
        }
    }
    return write_general(vm, argc, args, data);
}

/* The bytes before the first NUL at [at], within the block when known. */
static size_t c_string_length(VM *vm, const PvPointer *p, const char *at)
{
    if (p->kind != PV_PTR_BLOCK)
        return strlen(at);
    size_t room = p->size - (size_t)(at - (const char *)p->owner);
    const char *nul = memchr(at, '\0', room);
    if (!nul)
        pvmV_error(vm, "ffi.string: no NUL byte before the end of the %zu-byte block", p->size);
    return (size_t)(nul - at);
}

/* ffi.string(ptr) copies a NUL-terminated C string; ffi.string(ptr, n)
 * copies exactly n bytes (NULs included). */
Value pvmF_string(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    PvPointer *p = pvmF_arg_pointer(vm, args, 0, "ffi.string");
    if (argc < 2) {
        const char *at = access_at(vm, p, 0, 0, "ffi.string", "read");
        size_t len = c_string_length(vm, p, at);
        pvmV_charge_bytes(vm, len);
        return vm_str_value(pvmV_string_new(vm, at, len));
    }
    int64_t n = pvmL_arg_int(vm, "ffi.string", args, 1);
    if (n < 0)
        pvmV_error(vm, "ffi.string: length must not be negative, got %" PRId64, n);
    const char *at = access_at(vm, p, 0, (size_t)n, "ffi.string", "read");
    pvmV_charge_bytes(vm, (size_t)n);
    return vm_str_value(pvmV_string_new(vm, at, (size_t)n));
}

/* ffi.offset(ptr, n): the address n bytes further (n may be negative). The
 * result keeps the block and its bounds; it may point outside the block,
 * but reading or writing there is refused. */
Value pvmF_offset(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    PvPointer *p = pvmF_arg_pointer(vm, args, 0, "ffi.offset");
    int64_t n = pvmL_arg_int(vm, "ffi.offset", args, 1);
    if (p->kind == PV_PTR_CALLBACK || p->kind == PV_PTR_LIBRARY)
        pvmV_error(vm, "ffi.offset: cannot offset a %s",
                 p->kind == PV_PTR_CALLBACK ? "callback pointer" : "library handle");
    if (!p->addr)
        pvmV_error(vm, "ffi.offset: cannot offset a NULL pointer");
    void *addr = (void *)((uintptr_t)p->addr + (uint64_t)n);
    return pvmF_pointer_new(vm, addr, p->owner, p->size, p->kind);
}

/* ffi.is_null(p): true for a NULL pointer and for nil. */
Value pvmF_is_null(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    if (args[0].type == VT_NIL)
        return VAL_TRUE;
    return vm_bool(pvmF_arg_pointer(vm, args, 0, "ffi.is_null")->addr == NULL);
}

/* ffi.address(p): the address as an int, for comparing and printing. */
Value pvmF_address(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    return vm_int((int64_t)(uintptr_t)pvmF_arg_pointer(vm, args, 0, "ffi.address")->addr);
}

/* Whether [n] names an address: every int on a 64-bit host; on a 32-bit
 * one INTPTR_MIN..UINTPTR_MAX (the negative ones as ffi.address gives the
 * top half). */
static bool fits_address(int64_t n)
{
#if UINTPTR_MAX >= UINT64_MAX
    (void)n;
    return true;
#else
    return n >= INTPTR_MIN && n <= (int64_t)UINTPTR_MAX;
#endif
}

/* ffi.pointer(n): the address n as a foreign pointer, for the C constants
 * that are addresses made from ints ((void *)-1 is sqlite's
 * SQLITE_TRANSIENT and mmap's MAP_FAILED). pvm knows nothing about the
 * memory there, so accesses through it are unchecked, as in C. ints below
 * zero stand for the addresses at the top, as ffi.address gives them. */
Value pvmF_pointer_from_int(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    int64_t n = pvmL_arg_int(vm, "ffi.pointer", args, 0);
    if (!fits_address(n))
        pvmV_error(vm, "ffi.pointer: %" PRId64 " is not an address on this host (%zu-bit pointers)", n,
                 sizeof(void *) * 8);
    return pvmF_pointer(vm, (void *)(uintptr_t)(uint64_t)n);
}

/* ffi.size(p): the bytes that may be accessed from p on, for a pointer into
 * an ffi.alloc block (0 once p is outside it); nil when pvm does not know
 * (foreign pointers, callbacks, library handles). */
Value pvmF_size(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    const PvPointer *p = pvmF_arg_pointer(vm, args, 0, "ffi.size");
    if (p->kind != PV_PTR_BLOCK)
        return VAL_NIL;
    uintptr_t start = (uintptr_t)p->owner, at = (uintptr_t)p->addr;
    if (at < start || at - start > p->size)
        return vm_int(0);
    return vm_int((int64_t)(p->size - (at - start)));
}

/* ffi.sizeof(type): the C type's size in bytes. */
Value pvmF_sizeof(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    const FfiCType *ct;
    FfiKind k = arg_data_type(vm, data, args, 0, "ffi.sizeof", &ct);
    if (k == FK_AGGREGATE) {
        check_complete(vm, ct, "ffi.sizeof");
        return vm_int((int64_t)ct->size);
    }
    return vm_int((int64_t)pvmF_types[k].size);
}
