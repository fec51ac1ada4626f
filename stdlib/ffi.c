/* The ffi module map: registration, the per-VM state every ffi native
 * shares, and the switch an embedder (or `pvm --no-ffi`) uses to turn the
 * whole module off for untrusted code. */
#include <string.h>

#include "stdlib/ffi_int.h"

void pvmF_disabled_error(VM *vm)
{
    pvmV_error(vm, "ffi is disabled");
}

static const struct {
    const char *name; /* full name; the map key is the part after "ffi." */
    VmNativeFn fn;
    int min_args, max_args;
} ffi_funcs[] = {
    { "ffi.open", pvmF_open, 1, 1 },
    { "ffi.fn", pvmF_fn, 2, 4 },
    { "ffi.callback", pvmF_callback, 2, 3 },
    { "ffi.alloc", pvmF_alloc, 1, 1 },
    { "ffi.read", pvmF_read, 2, 3 },
    { "ffi.write", pvmF_write, 4, 4 },
    { "ffi.string", pvmF_string, 1, 2 },
    { "ffi.offset", pvmF_offset, 2, 2 },
    { "ffi.is_null", pvmF_is_null, 1, 1 },
    { "ffi.address", pvmF_address, 1, 1 },
    { "ffi.pointer", pvmF_pointer_from_int, 1, 1 },
    { "ffi.size", pvmF_size, 1, 1 },
    { "ffi.sizeof", pvmF_sizeof, 1, 1 },
    { "ffi.cdef", pvmF_cdef, 1, 1 },
    { "ffi.const", pvmF_const, 1, 1 },
    { "ffi.new", pvmF_new, 1, 2 },
    { "ffi.get", pvmF_get, 2, 3 },
    { "ffi.set", pvmF_set, 4, 4 },
    { "ffi.offsetof", pvmF_offsetof, 2, 2 },
    { "ffi.alignof", pvmF_alignof, 1, 1 },
};

static void set_field(VM *vm, PvMap *m, const char *key, Value v)
{
    pvmV_map_set(vm, m, vm_str_value(pvmV_string_cstr(vm, key)), v);
}

void pvmL_open_ffi(VM *vm)
{
    FfiState *st = pvmV_alloc(vm, sizeof *st);
    st->vm = vm;
    st->error = VAL_NIL;
    pvmF_note_signal_mask(st);
    PvMap *m = pvmV_map_new(vm, 24);
    for (size_t i = 0; i < sizeof ffi_funcs / sizeof ffi_funcs[0]; i++) {
        PvNative *n = pvmV_native_new(vm, ffi_funcs[i].name, ffi_funcs[i].fn, ffi_funcs[i].min_args,
                                    ffi_funcs[i].max_args, st);
        set_field(vm, m, ffi_funcs[i].name + strlen("ffi."), vm_obj(VT_NATIVE, n));
    }
    set_field(vm, m, "null", pvmF_null(vm));
    pvmV_define_builtin(vm, "ffi", vm_obj(VT_MAP, m));
}
