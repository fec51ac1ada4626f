/* Libraries and C functions: ffi.open, ffi.fn and the native that calls a
 * bound C function.
 *
 * ffi.fn parses the signature and prepares the libffi call interface once;
 * each call then only converts (and checks) the arguments into a buffer on
 * the C stack and runs ffi_call. The library stays loaded while its handle
 * or any function bound from it is reachable; a GC finalizer closes it.
 * A binding of numbers only is also described to the JIT (VmCCall), which
 * then calls it from traces itself, with the bookkeeping of
 * ffi_callback.c around the call. */
#include <dlfcn.h>
#include <gc.h>
#include <string.h>

#include "stdlib/ffi_int.h"
#include "stdlib/lib.h"

/* An open library: the owner of a PV_PTR_LIBRARY pointer. */
typedef struct {
    void *handle;
    PvString *name; /* as given to ffi.open, for messages; NULL for the process */
} FfiLib;

/* A bound C function: the [data] of its native. */
typedef struct {
    FfiState *st;
    void *keep;      /* the library (or callback) the code lives in */
    void *code;
    const char *name;
    FfiSig sig;
    FfiTraceCall trace; /* how a trace may call it itself, when it can */
} FfiFunc;

static void close_library(void *obj, void *unused)
{
    FfiLib *lib = obj;
    if (lib->handle)
        dlclose(lib->handle);
    lib->handle = NULL;
}

/* ffi.open(path) loads a shared library; ffi.open(nil) is the running
 * process (the program and every library it has loaded, libc included). */
Value pvmF_open(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    PvString *path = NULL;
    if (args[0].type != VT_NIL) {
        path = pvmL_arg_string(vm, "ffi.open", args, 0);
        if (memchr(path->chars, '\0', path->len))
            pvmV_error(vm, "ffi.open: the path contains a NUL byte");
    }
    FfiLib *lib = pvmV_alloc(vm, sizeof *lib);
    lib->name = path;
    dlerror();
    lib->handle = dlopen(path ? path->chars : NULL, RTLD_NOW | RTLD_LOCAL);
    if (!lib->handle) {
        const char *why = dlerror();
        pvmV_error(vm, "ffi.open: cannot load '%s': %s", path ? path->chars : "<process>",
                 why ? why : "unknown error");
    }
    GC_register_finalizer_no_order(lib, close_library, NULL, NULL, NULL);
    return pvmF_pointer_new(vm, lib->handle, lib, 0, PV_PTR_LIBRARY);
}

/* The PV type an argument of the open "..." part is passed as. */
static FfiKind infer_kind(VM *vm, Value v, const FfiFunc *f, int argno)
{
    switch ((ValueType)v.type) {
    case VT_INT: return FK_INT64;
    case VT_BOOL: return FK_INT;
    case VT_FLOAT: return FK_DOUBLE;
    case VT_STRING: return FK_STRING;
    case VT_POINTER:
    case VT_NIL: return FK_POINTER;
    default:
        pvmV_error(vm, "%s: argument %d: cannot pass %s values through '...'", f->name, argno,
                 pvmV_type_name(v));
    }
}

/* Converts the arguments past the fixed ones of an open variadic function
 * and prepares [cif] for exactly these. */
static void prepare_open_call(VM *vm, const FfiFunc *f, int argc, const Value *args, FfiSlot *slots,
                              ffi_cif *cif, ffi_type **types)
{
    if (argc > FFI_MAX_ARGS)
        pvmV_error(vm, "%s: too many arguments (at most %d)", f->name, FFI_MAX_ARGS);
    for (int i = 0; i < f->sig.nfixed; i++)
        types[i] = f->sig.types[i];
    for (int i = f->sig.nfixed; i < argc; i++) {
        Value v = args[i];
        FfiKind k = infer_kind(vm, v, f, i + 1);
        if (v.type == VT_BOOL)
            v = vm_int(v.as.b ? 1 : 0);
        pvmF_to_c(vm, k, v, &slots[i], (FfiWhere){ f->name, i + 1 });
        types[i] = pvmF_types[k].type;
    }
    ffi_status st = ffi_prep_cif_var(cif, FFI_DEFAULT_ABI, (unsigned)f->sig.nfixed, (unsigned)argc,
                                     pvmF_types[f->sig.ret].type, types);
    if (st != FFI_OK)
        pvmV_error(vm, "%s: libffi cannot prepare this call (status %d)", f->name, (int)st);
}

/* Converts the aggregates passed by value into [scratch] and points
 * [ptrs] at them; returns where the aggregate result goes, if any. */
static void *convert_aggregates(VM *vm, const FfiFunc *f, const Value *args, char *scratch, void **ptrs)
{
    size_t used = 0;
    for (int i = 0; i < f->sig.nargs && f->sig.ctypes; i++) {
        const FfiCType *t = f->sig.ctypes[i];
        if (!t)
            continue;
        pvmF_agg_to_c(vm, t, args[i], scratch + used, (FfiWhere){ f->name, i + 1 });
        ptrs[i] = scratch + used;
        used += (t->size + 15) & ~(size_t)15;
    }
    return f->sig.ret_ctype ? scratch + used : NULL;
}

/* The native behind every bound C function. */
static Value call_bound(VM *vm, int argc, Value *args, void *data)
{
    FfiFunc *f = data;
    pvmF_check_enabled(vm);
    FfiSlot slots[FFI_MAX_ARGS];
    void *ptrs[FFI_MAX_ARGS];
    int nconv = f->sig.open ? f->sig.nfixed : f->sig.nargs;
    for (int i = 0; i < nconv; i++) {
        if (f->sig.kinds[i] != FK_AGGREGATE)
            pvmF_to_c(vm, f->sig.kinds[i], args[i], &slots[i], (FfiWhere){ f->name, i + 1 });
    }
    ffi_cif *cif = &f->sig.cif;
    ffi_cif open_cif;
    ffi_type *open_types[FFI_MAX_ARGS];
    if (f->sig.open) {
        prepare_open_call(vm, f, argc, args, slots, &open_cif, open_types);
        cif = &open_cif;
    }
    for (int i = 0; i < argc; i++)
        ptrs[i] = &slots[i];
    FfiSlot ret = { 0 };
    void *agg_ret = NULL;
    if (f->sig.agg_bytes) {
        /* structs by value: on the C stack when small, else collector memory */
        _Alignas(16) char local[256];
        char *scratch = f->sig.agg_bytes <= sizeof local ? local : pvmV_alloc_atomic(vm, f->sig.agg_bytes);
        agg_ret = convert_aggregates(vm, f, args, scratch, ptrs);
        pvmF_call_c(vm, f->st, f->name, cif, f->code, agg_ret ? agg_ret : (void *)&ret, ptrs);
        return agg_ret ? pvmF_agg_from_c(vm, f->sig.ret_ctype, agg_ret) : pvmF_from_return(vm, f->sig.ret, &ret);
    }
    pvmF_call_c(vm, f->st, f->name, cif, f->code, &ret, ptrs);
    return pvmF_from_return(vm, f->sig.ret, &ret);
}

/* The code address [fn] names: a symbol of a library, or the function
 * pointer itself. */
static void *resolve(VM *vm, const PvPointer *lib, const PvString *name, void **keep)
{
    *keep = lib->owner;
    if (lib->kind != PV_PTR_LIBRARY) {
        if (!lib->addr)
            pvmV_error(vm, "ffi.fn: argument 1 is a NULL pointer, not a library or a function");
        if (lib->kind == PV_PTR_BLOCK)
            pvmV_error(vm, "ffi.fn: argument 1 points into an ffi.alloc block, not to a function");
        return lib->addr;
    }
    const FfiLib *l = lib->owner;
    dlerror();
    void *code = dlsym(l->handle, name->chars);
    if (!code)
        pvmV_error(vm, "ffi.fn: cannot find symbol '%s' in %s%s%s", name->chars, l->name ? "'" : "",
                 l->name ? l->name->chars : "the running process", l->name ? "'" : "");
    return code;
}

/* The signature of [name] as ffi.cdef declared it. */
static void declared_sig(VM *vm, const FfiState *st, FfiSig *sig, const PvString *name, const char *context)
{
    const FfiCType *fn = pvmF_find_function(st, name->chars);
    if (!fn)
        pvmV_error(vm, "ffi.fn: '%s' is not declared: declare it with ffi.cdef, or give its return and "
                       "parameter types", name->chars);
    pvmF_sig_from_ctype(vm, sig, fn, context);
}

/* How a trace passes a C [k] (ints in general registers, whatever their
 * width, as libffi does; floats in SSE ones); false for what it cannot:
 * pointers, strings, buffers, bools, aggregates. */
static bool trace_arg(FfiKind k, VmCArg *a)
{
    const FfiTypeInfo *t = &pvmF_types[k];
    if (t->is_int) {
        *a = (VmCArg){ VM_CARG_INT, (uint8_t)t->size, t->is_signed, t->min, t->max };
        return t->size == 1 || t->size == 2 || t->size == 4 || t->size == 8;
    }
    if (k == FK_DOUBLE || k == FK_FLOAT || k == FK_VOID) {
        *a = (VmCArg){ .kind = k == FK_DOUBLE ? VM_CARG_DOUBLE : k == FK_FLOAT ? VM_CARG_FLOAT : VM_CARG_VOID };
        return true;
    }
    return false;
}

/* A binding the JIT may call from traces itself (docs/jit.md, "C calls in
 * traces"): a fixed signature of at most six scalar parameters, numbers
 * only, and a number or nothing back. Every other one is only ever called
 * by call_bound. */
static void plan_trace_call(FfiFunc *f)
{
    const FfiSig *sig = &f->sig;
    if (sig->variadic || sig->open || sig->ctypes || sig->ret_ctype || sig->nargs > VM_CCALL_MAX_ARGS)
        return;
    FfiTraceCall *t = &f->trace;
    for (int i = 0; i < sig->nargs; i++)
        if (sig->kinds[i] == FK_VOID || !trace_arg((FfiKind)sig->kinds[i], &t->call.args[i]))
            return;
    if (!trace_arg(sig->ret, &t->call.ret))
        return;
    t->call.code = f->code;
    t->call.nargs = sig->nargs;
    t->call.enter = pvmF_trace_enter;
    t->call.leave = pvmF_trace_leave;
    t->call.raise = pvmF_trace_raise;
    t->st = f->st;
    t->name = f->name;
}

/* ffi.fn(lib, name, ret, [types]) binds the C function [name] of [lib];
 * ffi.fn(fnptr, name, ret, [types]) binds a function pointer (a callback,
 * or one C handed out), [name] then only names it in messages. Without
 * [ret] and [types], the prototype ffi.cdef declared for [name]. */
Value pvmF_fn(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    const PvPointer *lib = pvmF_arg_pointer(vm, args, 0, "ffi.fn");
    PvString *name = pvmL_arg_string(vm, "ffi.fn", args, 1);
    if (memchr(name->chars, '\0', name->len) || name->len == 0)
        pvmV_error(vm, "ffi.fn: the function name must be non-empty and without NUL bytes");
    FfiFunc *f = pvmV_alloc(vm, sizeof *f);
    f->st = data;
    f->name = name->chars;
    char context[160];
    snprintf(context, sizeof context, "ffi.fn: %s", name->chars);
    /* the signature first: a prototype never declared is the likelier mistake */
    if (argc == 2)
        declared_sig(vm, data, &f->sig, name, context);
    else
        pvmF_parse_sig(vm, data, &f->sig, args[2], argc > 3 ? args[3] : VAL_NIL, context, true);
    f->code = resolve(vm, lib, name, &f->keep);
    int min = f->sig.open ? f->sig.nfixed : f->sig.nargs;
    int max = f->sig.open ? -1 : f->sig.nargs;
    plan_trace_call(f);
    PvNative *n = pvmV_native_new(vm, name->chars, call_bound, min, max, f);
    if (f->trace.call.code)
        n->ccall = &f->trace.call;
    return vm_obj(VT_NATIVE, n);
}
