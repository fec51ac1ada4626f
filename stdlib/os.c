/* The os module: program arguments, clocks, the environment and exit. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stdlib/lib.h"

static Value os_clock(VM *vm, int argc, Value *args, void *fname)
{
    return vm_float((double)clock() / CLOCKS_PER_SEC);
}

static Value os_time(VM *vm, int argc, Value *args, void *fname)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return vm_float((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
}

static Value os_getenv(VM *vm, int argc, Value *args, void *fname)
{
    PvString *name = pvmL_arg_string(vm, fname, args, 0);
    if (memchr(name->chars, '\0', name->len))
        return VAL_NIL; /* no variable's name contains a NUL */
    const char *value = getenv(name->chars);
    return value ? vm_str_value(pvmV_string_cstr(vm, value)) : VAL_NIL;
}

/* Ends the process. Output written through print or io.write may sit in a
 * stdio buffer, so every stream is flushed first. The OS keeps only the low
 * 8 bits of the status, so a code outside 0..255 is refused: os.exit(256)
 * would otherwise report success. */
static Value os_exit(VM *vm, int argc, Value *args, void *fname)
{
    int64_t code = argc > 0 ? pvmL_arg_int(vm, fname, args, 0) : 0;
    if (code < 0 || code > 255)
        pvmV_error(vm, "os.exit: exit status must be 0..255, got %lld", (long long)code);
    fflush(vm->out);
    fflush(NULL);
    exit((int)code);
}

static const LibFunc os_funcs[] = {
    { "os.clock", os_clock, 0, 0, VM_LEAF_PURE },
    { "os.time", os_time, 0, 0, VM_LEAF_PURE },
    { "os.getenv", os_getenv, 1, 1, VM_LEAF_PURE },
    { "os.exit", os_exit, 0, 1, VM_LEAF_NO },
    { NULL, NULL, 0, 0, VM_LEAF_NO },
};

void pvmL_open_os(VM *vm, int argc, char **argv)
{
    PvMap *m = pvmL_module(vm, os_funcs);
    PvArray *args = pvmV_array_new(vm, argc > 0 ? (size_t)argc : 0);
    for (int i = 0; i < argc; i++)
        pvmV_array_push(vm, args, vm_str_value(pvmV_string_cstr(vm, argv[i])));
    pvmL_set(vm, m, "args", vm_obj(VT_ARRAY, args));
    pvmV_define_builtin(vm, "os", vm_obj(VT_MAP, m));
}
