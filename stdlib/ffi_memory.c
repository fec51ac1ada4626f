/* Pointer values and host memory: ffi.alloc, ffi.read, ffi.write,
 * ffi.string, ffi.offset, ffi.is_null, ffi.address, ffi.sizeof.
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

Value pvmF_null(VM *vm)
{
    return pvmF_pointer(vm, NULL);
}

PvPointer *pvmF_arg_pointer(VM *vm, const Value *args, int i, const char *fname)
{
    if (args[i].type != VT_POINTER)
        pvmL_arg_error(vm, fname, i, "pointer", args[i]);
    return args[i].as.p;
}

/* The address [offset] bytes past [p] where [n] bytes may be read or
 * written ([verb]), or an error: NULL, callbacks and library handles, and
 * anything outside an ffi.alloc block are refused. */
static char *access_at(VM *vm, const PvPointer *p, int64_t offset, size_t n, const char *fname,
                       const char *verb)
{
    if (p->kind == PV_PTR_CALLBACK || p->kind == PV_PTR_LIBRARY)
        pvmV_error(vm, "%s: cannot %s memory through a %s", fname, verb,
                 p->kind == PV_PTR_CALLBACK ? "callback pointer" : "library handle");
    if (!p->addr)
        pvmV_error(vm, "%s: cannot %s through a NULL pointer", fname, verb);
    char *at = (char *)((uintptr_t)p->addr + (uint64_t)offset);
    if (p->kind != PV_PTR_BLOCK)
        return at;
    /* [pos] is the position in the block; ffi.offset may have moved [addr]
     * anywhere, so every step is checked for overflow. */
    int64_t from = (int64_t)((uintptr_t)p->addr - (uintptr_t)p->owner);
    int64_t pos;
    bool overflow = __builtin_add_overflow(from, offset, &pos);
    if (overflow || pos < 0 || (uint64_t)pos > p->size || n > p->size - (uint64_t)pos)
        pvmV_error(vm, "%s: cannot %s %zu byte%s at offset %" PRId64 ": outside the %zu-byte block",
                 fname, verb, n, n == 1 ? "" : "s", overflow ? offset : pos, p->size);
    return at;
}

static int64_t arg_offset(VM *vm, int argc, const Value *args, int i, const char *fname)
{
    return argc > i ? pvmL_arg_int(vm, fname, args, i) : 0;
}

static FfiKind arg_data_type(VM *vm, const Value *args, int i, const char *fname)
{
    char what[32];
    snprintf(what, sizeof what, "(argument %d)", i + 1);
    FfiKind k = pvmF_parse_type(vm, args[i], fname, what);
    if (k == FK_VOID)
        pvmV_error(vm, "%s: void has no %s", fname, strcmp(fname, "ffi.sizeof") ? "value" : "size");
    return k;
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

/* ffi.read(ptr, type, offset = 0). A "string" reads a char * stored there
 * and copies the C string it points to (nil for NULL). */
Value pvmF_read(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    PvPointer *p = pvmF_arg_pointer(vm, args, 0, "ffi.read");
    FfiKind k = arg_data_type(vm, args, 1, "ffi.read");
    int64_t offset = arg_offset(vm, argc, args, 2, "ffi.read");
    const char *at = access_at(vm, p, offset, pvmF_types[k].size, "ffi.read", "read");
    return pvmF_from_c(vm, k, at);
}

/* ffi.write(ptr, type, offset, value): the value is converted (and checked)
 * before any byte is written. */
Value pvmF_write(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    PvPointer *p = pvmF_arg_pointer(vm, args, 0, "ffi.write");
    FfiKind k = arg_data_type(vm, args, 1, "ffi.write");
    if (k == FK_STRING)
        pvmV_error(vm, "ffi.write: cannot store a PV string in C memory; store ffi.alloc(s) as a \"pointer\"");
    int64_t offset = pvmL_arg_int(vm, "ffi.write", args, 2);
    FfiSlot value;
    pvmF_to_c(vm, k, args[3], &value, (FfiWhere){ "ffi.write", 4 });
    char *at = access_at(vm, p, offset, pvmF_types[k].size, "ffi.write", "write");
    memcpy(at, &value, pvmF_types[k].size);
    return VAL_NIL;
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

/* ffi.sizeof(type): the C type's size in bytes. */
Value pvmF_sizeof(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    FfiKind k = arg_data_type(vm, args, 0, "ffi.sizeof");
    return vm_int((int64_t)pvmF_types[k].size);
}
