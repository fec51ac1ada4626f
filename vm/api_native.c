/* The embedding API, part 3: native functions written by the host.
 *
 * A host function becomes an ordinary PvNative whose C function is the
 * trampoline below. The trampoline gives the host its arguments as local
 * handles, runs it, and turns what it asked for into VM actions after it
 * has returned: its result, a pvm_raise (thrown here, so the longjmp of a
 * PV error never passes through host code), or a limit that stopped a
 * pvm_call the host made (raised again, so a native cannot swallow it). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/api_int.h"

typedef struct {
    pvm_vm *P;
    pvm_cfunction fn;
    void *ud;
} ApiNativeData;

#define API_SMALL_ARGS 8

/* A pending raise, saved while a nested native runs. */
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

static void api_put_raise(pvm_vm *P, ApiRaiseState r)
{
    free(P->raise_text);
    P->raise = r.kind;
    P->raise_text = r.text;
    P->raise_value = r.value;
}

/* Acts on what the native asked for; returns only when it raised nothing. */
static void api_after_native(VM *vm, pvm_vm *P, const char *name, bool valid_result)
{
    if (P->fatal_pending != PVM_OK) {
        pvm_status st = P->fatal_pending;
        P->fatal_pending = PVM_OK;
        vm_fatal_error(vm, st == PVM_EBUDGET ? "instruction budget exceeded"
                           : st == PVM_EINTERRUPT ? "interrupted"
                                                  : "memory limit exceeded");
    }
    ApiRaise kind = P->raise;
    P->raise = API_RAISE_NONE;
    if (kind == API_RAISE_VALUE) {
        Value v = P->raise_value;
        P->raise_value = VAL_NIL;
        vm_throw(vm, v);
    }
    if (kind == API_RAISE_TEXT) /* raise_text stays owned by P, freed later */
        vm_throw(vm, vm_str_value(vm_string_cstr(vm, P->raise_text ? P->raise_text : "out of memory")));
    if (!valid_result)
        vm_error(vm, "%s returned an invalid or released handle", name);
}

static Value api_native_call(VM *vm, int argc, Value *args, void *data)
{
    ApiNativeData *d = data;
    pvm_vm *P = d->P;
    pvm_value small[API_SMALL_ARGS];
    pvm_value *h = argc <= API_SMALL_ARGS ? small : malloc((size_t)argc * sizeof *h);
    if (!h)
        vm_error(vm, "out of memory");
    size_t mark = P->handles.nlocals;
    P->depth++;
    for (int i = 0; i < argc; i++) {
        if (!api_handle(P, args[i], &h[i])) {
            P->depth--;
            api_locals_unwind(P, mark);
            if (h != small)
                free(h);
            vm_error(vm, "out of memory");
        }
    }
    ApiRaiseState outer = api_take_raise(P);
    pvm_value r = d->fn(P, argc, h, d->ud);
    P->depth--;
    Value result = VAL_NIL;
    bool valid = api_value(P, r, &result);
    api_locals_unwind(P, mark);
    if (h != small)
        free(h);
    ApiRaiseState mine = api_take_raise(P);
    api_put_raise(P, outer);
    api_put_raise(P, mine); /* mine wins; outer's text is freed */
    if (mine.kind == API_RAISE_NONE)
        api_put_raise(P, outer);
    api_after_native(vm, P, d->ud && 0 ? "" : "native function", valid);
    return result;
}

PvNative *api_native_new(pvm_vm *P, const char *name, pvm_cfunction fn, void *ud)
{
    ApiNativeData *d = vm_alloc(P->vm, sizeof *d);
    d->P = P;
    d->fn = fn;
    d->ud = ud;
    return vm_native_new(P->vm, name, api_native_call, 0, -1, d);
}
