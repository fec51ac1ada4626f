/* The ffi module map: registration, the per-VM state every ffi native
 * shares, and the switch an embedder (or `pvm --no-ffi`) uses to turn the
 * whole module off for untrusted code. */
#include <string.h>

#include "stdlib/ffi_int.h"

void pvffi_check_enabled(VM *vm)
{
    if (vm->ffi_disabled)
        vm_error(vm, "ffi is disabled");
}

static const struct {
    const char *name; /* full name; the map key is the part after "ffi." */
    VmNativeFn fn;
    int min_args, max_args;
} ffi_funcs[] = {
    { "ffi.open", pvffi_open, 1, 1 },
    { "ffi.fn", pvffi_fn, 3, 4 },
    { "ffi.callback", pvffi_callback, 2, 3 },
    { "ffi.alloc", pvffi_alloc, 1, 1 },
    { "ffi.read", pvffi_read, 2, 3 },
    { "ffi.write", pvffi_write, 4, 4 },
    { "ffi.string", pvffi_string, 1, 2 },
    { "ffi.offset", pvffi_offset, 2, 2 },
    { "ffi.is_null", pvffi_is_null, 1, 1 },
    { "ffi.address", pvffi_address, 1, 1 },
    { "ffi.sizeof", pvffi_sizeof, 1, 1 },
};

static void set_field(VM *vm, PvMap *m, const char *key, Value v)
{
    vm_map_set(vm, m, vm_str_value(vm_string_cstr(vm, key)), v);
}

void stdlib_open_ffi(VM *vm)
{
    FfiState *st = vm_alloc(vm, sizeof *st);
    st->vm = vm;
    st->error = VAL_NIL;
    PvMap *m = vm_map_new(vm, 16);
    for (size_t i = 0; i < sizeof ffi_funcs / sizeof ffi_funcs[0]; i++) {
        PvNative *n = vm_native_new(vm, ffi_funcs[i].name, ffi_funcs[i].fn, ffi_funcs[i].min_args,
                                    ffi_funcs[i].max_args, st);
        set_field(vm, m, ffi_funcs[i].name + strlen("ffi."), vm_obj(VT_NATIVE, n));
    }
    set_field(vm, m, "null", pvffi_null(vm));
    vm_define_builtin(vm, "ffi", vm_obj(VT_MAP, m));
}
