/* The embedding API, part 3: native functions written by the host.
 *
 * A host function becomes an ordinary PvNative whose C function is the
 * trampoline below. The trampoline gives the host its arguments as local
 * handles, runs it, and turns what it asked for into VM actions after it
 * has returned: its result, a pvm_raise (thrown here, so the longjmp of a
 * PV error never passes through host code), or a limit that stopped a
 * pvm_call the host made (raised again, so a native cannot swallow it). */
#define _GNU_SOURCE /* asprintf, vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/api/api_int.h"

typedef struct {
    pvm_vm *P;
    pvm_cfunction fn;
    void *ud;
    const char *name; /* the PvNative's name, for messages */
} ApiNativeData;

/* A raise requested by a native; saved while a nested native runs. */
typedef struct {
    ApiRaise kind;
    char *text;
    Value value;
} ApiRaiseState;

static ApiRaiseState api_take_raise(pvm_vm *P)
{
    ApiRaiseState r = { P->raise, P->raise_text, P->raise_value };
    P->raise = API_RAISE_NONE;
    P->raise_text = NULL;
    P->raise_value = VAL_NIL;
    return r;
}

/* Puts back a raise saved by api_take_raise; P holds none now. */
static void api_put_raise(pvm_vm *P, ApiRaiseState r)
{
    P->raise = r.kind;
    P->raise_text = r.text;
    P->raise_value = r.value;
}

/* Acts on what the native that just returned asked for; returns only when
 * there is nothing to raise. */
static void api_after_native(VM *vm, pvm_vm *P, ApiRaiseState r, const char *name, bool valid_result)
{
    if (P->fatal_pending != VM_ERR_NONE) {
        VmErrorKind kind = P->fatal_pending;
        P->fatal_pending = VM_ERR_NONE;
        free(r.text);
        pvmV_raise_kind(vm, kind);
    }
    if (r.kind == API_RAISE_VALUE)
        pvmV_throw(vm, r.value);
    if (r.kind == API_RAISE_OUT_OF_MEMORY)
        pvmV_out_of_memory(vm);
    if (r.kind == API_RAISE_TEXT) {
        free(P->raised_text); /* owned by P until the next throw: no leak if the string cannot be made */
        P->raised_text = r.text;
        if (!r.text)
            pvmV_out_of_memory(vm); /* pvm_raise could not format its message */
        pvmV_throw(vm, vm_str_value(pvmV_string_cstr(vm, r.text)));
    }
    if (!valid_result)
        pvmV_error(vm, "%s returned an invalid or released handle", name);
}

/* The end of a native call with something to do: a raise or a limit to
 * act on, an invalid result, or a raise of the calling native (which then
 * called back into PV) to put back: [outer], NULL when there is none. */
PVM_COLD static void api_native_end(VM *vm, pvm_vm *P, const ApiRaiseState *outer, const char *name, bool valid)
{
    static const ApiRaiseState none = { API_RAISE_NONE, NULL, { VT_NIL, { 0 } } };
    ApiRaiseState mine = api_take_raise(P);
    api_put_raise(P, outer ? *outer : none);
    api_after_native(vm, P, mine, name, valid);
}

/* The result of a native: often one of its arguments, so their kind of
 * id is looked at first. False (recorded) for a bad handle. */
static inline bool api_native_result(pvm_vm *P, pvm_value r, Value *out)
{
    uint32_t i;
    const ApiArgFrame *a = (uint32_t)r.id & API_ARG_ID ? pvmA_find_arg(&P->handles, r.id, &i) : NULL;
    if (a) {
        *out = a->args[i];
        return true;
    }
    return pvmA_lookup(P, r, out) || pvmA_value_fail(P, r);
}

/* A native call between its argument handles and their end. A raise the
 * calling native had requested is put aside in *[outer] while it runs
 * (the result says whether): rare, so the common case touches no copy of
 * it (copying one stalls a store-to-load forward). */
PVM_ALWAYS_INLINE static inline bool api_native_run(pvm_vm *P, const ApiNativeData *d, int argc,
                                                    const pvm_value *h, pvm_value *r, ApiRaiseState *outer)
{
    bool nested = P->raise != API_RAISE_NONE;
    if (nested)
        *outer = api_take_raise(P);
    P->depth++;
    *r = d->fn(P, argc, h, d->ud);
    P->depth--;
    return nested;
}

/* What is left when the native has returned and its handles ended. */
PVM_ALWAYS_INLINE static inline void api_native_done(VM *vm, pvm_vm *P, const ApiNativeData *d, bool nested,
                                                     const ApiRaiseState *outer, bool valid)
{
    if (!valid || nested || P->raise != API_RAISE_NONE || P->fatal_pending != VM_ERR_NONE)
        api_native_end(vm, P, nested ? outer : NULL, d->name, valid);
}

/* More than API_ARG_MAX arguments: slot handles in a malloc'd array. */
PVM_COLD static Value api_native_call_many(VM *vm, int argc, Value *args, const ApiNativeData *d)
{
    pvm_vm *P = d->P;
    pvm_value *h = malloc((size_t)argc * sizeof *h);
    size_t mark = P->handles.nlocals;
    if (!h || !pvmA_arg_handles(P, argc, args, h)) {
        free(h);
        pvmV_out_of_memory(vm);
    }
    pvm_value r;
    ApiRaiseState outer;
    bool nested = api_native_run(P, d, argc, h, &r, &outer);
    Value result = VAL_NIL;
    bool valid = pvmA_lookup(P, r, &result) || pvmA_value_fail(P, r);
    pvmA_locals_unwind(P, mark);
    pvmA_release_args(P, argc, h);
    free(h);
    api_native_done(vm, P, d, nested, &outer, valid);
    return result;
}

/* The result is looked up before anything of the call ends: it may be
 * an argument. */
static Value api_native_call(VM *vm, int argc, Value *args, void *data)
{
    const ApiNativeData *d = data;
    if (argc > (int)API_ARG_MAX)
        return api_native_call_many(vm, argc, args, d);
    pvm_vm *P = d->P;
    pvm_value h[API_ARG_MAX];
    size_t mark = P->handles.nlocals;
    if (!pvmA_args_begin(P, argc, args, h))
        pvmV_out_of_memory(vm);
    pvm_value r;
    ApiRaiseState outer;
    bool nested = api_native_run(P, d, argc, h, &r, &outer);
    Value result = VAL_NIL;
    bool valid = api_native_result(P, r, &result);
    pvmA_locals_unwind(P, mark);
    pvmA_args_end(P);
    api_native_done(vm, P, d, nested, &outer, valid);
    return result;
}

PvNative *pvmA_native_new(pvm_vm *P, const char *name, pvm_cfunction fn, void *ud)
{
    ApiNativeData *d = pvmV_alloc(P->vm, sizeof *d);
    d->P = P;
    d->fn = fn;
    d->ud = ud;
    PvNative *n = pvmV_native_new(P->vm, name, api_native_call, 0, -1, d);
    d->name = n->name->chars;
    return n;
}

/* ---- Making and registering natives ---- */

typedef struct {
    pvm_vm *P;
    const char *name;
    pvm_cfunction fn;
    const pvm_function_entry *funcs;
    void *ud;
    Value result;
} ApiRegister;

static void api_function_body(VM *vm, void *ud)
{
    ApiRegister *r = ud;
    r->result = vm_obj(VT_NATIVE, pvmA_native_new(r->P, r->name, r->fn, r->ud));
}

pvm_value pvm_function(pvm_vm *P, const char *name, pvm_cfunction fn, void *ud)
{
    if (!P)
        return PVM_NIL;
    if (!fn) {
        pvmA_fail(P, PVM_EARG, "pvm_function: NULL function");
        return PVM_NIL;
    }
    ApiRegister r = { P, name ? name : "<native>", fn, NULL, ud, VAL_NIL };
    pvm_value h = PVM_NIL;
    if (pvmA_protect(P, api_function_body, &r) == PVM_OK && !pvmA_handle(P, r.result, &h))
        pvmA_fail(P, PVM_ENOMEM, "out of memory");
    return h;
}

static void api_register_body(VM *vm, void *ud)
{
    ApiRegister *r = ud;
    pvmV_define_builtin(vm, r->name, vm_obj(VT_NATIVE, pvmA_native_new(r->P, r->name, r->fn, r->ud)));
}

pvm_status pvm_register(pvm_vm *P, const char *name, pvm_cfunction fn, void *ud)
{
    if (!P)
        return PVM_EARG;
    if (!name || !fn)
        return pvmA_fail(P, PVM_EARG, "pvm_register: NULL %s", name ? "function" : "name");
    ApiRegister r = { P, name, fn, NULL, ud, VAL_NIL };
    return pvmA_protect(P, api_register_body, &r);
}

/* Each function is named "module.fn", as the standard library's are. */
static void api_module_body(VM *vm, void *ud)
{
    ApiRegister *r = ud;
    PvMap *m = pvmV_map_new(vm, 8);
    for (const pvm_function_entry *f = r->funcs; f->name; f++) {
        char *full = NULL;
        if (asprintf(&full, "%s.%s", r->name, f->name) < 0)
            pvmV_out_of_memory(vm);
        PvNative *n = pvmA_native_new(r->P, full, f->fn, r->ud);
        free(full);
        pvmV_map_set(vm, m, vm_str_value(pvmV_string_cstr(vm, f->name)), vm_obj(VT_NATIVE, n));
    }
    pvmV_define_builtin(vm, r->name, vm_obj(VT_MAP, m));
}

pvm_status pvm_register_module(pvm_vm *P, const char *name, const pvm_function_entry *funcs, void *ud)
{
    if (!P)
        return PVM_EARG;
    if (!name || !funcs)
        return pvmA_fail(P, PVM_EARG, "pvm_register_module: NULL %s", name ? "function list" : "name");
    for (const pvm_function_entry *f = funcs; f->name; f++) {
        if (!f->fn)
            return pvmA_fail(P, PVM_EARG, "pvm_register_module: %s.%s has a NULL function", name, f->name);
    }
    ApiRegister r = { P, name, NULL, funcs, ud, VAL_NIL };
    return pvmA_protect(P, api_module_body, &r);
}

/* ---- Raising errors from natives ---- */

/* Outside a native there is no script to raise into: record the error. */
static void api_request(pvm_vm *P, ApiRaise kind, char *text, Value v)
{
    if (P->depth == 0) {
        if (kind == API_RAISE_TEXT) {
            pvmA_fail(P, PVM_ERUNTIME, "%s", text ? text : "out of memory");
        } else {
            VmBuf b;
            pvmV_buf_init(&b);
            pvmV_display(&b, v);
            pvmA_fail(P, PVM_ERUNTIME, "%s", b.data);
            pvmV_buf_free(&b);
            P->error_value = v;
            P->has_error_value = true;
        }
        free(text);
        return;
    }
    free(P->raise_text);
    P->raise = kind;
    P->raise_text = text;
    P->raise_value = v;
}

pvm_value pvm_raise(pvm_vm *P, const char *fmt, ...)
{
    if (!P)
        return PVM_NIL;
    char *text = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (!fmt || vasprintf(&text, fmt, ap) < 0)
        text = fmt ? NULL : strdup("error");
    va_end(ap);
    api_request(P, API_RAISE_TEXT, text, VAL_NIL);
    return PVM_NIL;
}

pvm_value pvm_raise_value(pvm_vm *P, pvm_value v)
{
    Value val;
    if (!P)
        return PVM_NIL;
    if (!pvmA_value(P, v, &val))
        return pvm_raise(P, "pvm_raise_value: invalid or released handle");
    api_request(P, API_RAISE_VALUE, NULL, val);
    return PVM_NIL;
}

pvm_value pvm_rethrow(pvm_vm *P)
{
    if (!P)
        return PVM_NIL;
    /* Running out of memory stays that kind, not a script's throw of its
     * text. (A limit needs nothing here: it is raised again anyway.) */
    if (P->status == PVM_ENOMEM && P->depth > 0) {
        api_request(P, API_RAISE_OUT_OF_MEMORY, NULL, VAL_NIL);
        return PVM_NIL;
    }
    if (P->has_error_value) {
        api_request(P, API_RAISE_VALUE, NULL, P->error_value);
        return PVM_NIL;
    }
    return pvm_raise(P, "%s", pvm_error_message(P));
}
