/* Calling PV from C and the protected boundaries around it: pvmV_call
 * (run a function to completion), pvmV_protect and pvmV_pcall (turn a throw
 * into a false return), pvmV_run_program, and the try-block handlers the
 * dispatch loop pushes (pvmV_push_handler) and resumes at (pvmV_catch).
 *
 * Errors longjmp to the innermost VmJmp: the one pvmV_execute sets up
 * (which resumes at a PV handler of its own run) or pvmV_protect's. A
 * pvmV_pcall that nothing can stop before the interpreter starts sets up
 * none itself: the interpreter's boundary hands the error back to it. */
#include "vm/interp/pcall.h"
#include "jit/jit.h"

void pvmV_push_handler(VM *vm, Value *top, const VmInsn *catch_ip)
{
    if (vm->nhandlers == vm->handlers_cap) {
        size_t cap = vm->handlers_cap * 2;
        vm->handlers = pvmV_realloc(vm, vm->handlers, cap * sizeof(VmHandler));
        vm->handlers_cap = cap;
    }
    VmHandler *h = &vm->handlers[vm->nhandlers++];
    h->frame = vm->nframes - 1;
    h->top = top;
    h->catch_ip = catch_ip;
}

bool pvmV_catch(VM *vm, size_t stop)
{
    if (vm->jit) /* a recording in progress is abandoned */
        pvmJ_unwind(vm);
    if (vm_error_is_fatal(vm->error_kind) || vm->nhandlers <= vm->pcall_handlers)
        return false;
    VmHandler h = vm->handlers[vm->nhandlers - 1];
    if (h.frame < stop)
        return false;
    vm->nhandlers--;
    pvmV_close_upvals(vm, h.top);
    vm->nframes = h.frame + 1;
    vm->top = h.top;
    *vm->top++ = vm->error;
    vm->frames[h.frame].ip = h.catch_ip;
    return true;
}

static void vm_enter(VM *vm)
{
    if (vm->ccalls >= VM_MAX_CCALLS)
        pvmV_error(vm, "stack overflow");
    vm->ccalls++;
}

Value pvmV_call(VM *vm, Value fn, int argc, const Value *args)
{
    pvmV_charge(vm, 1); /* like CALL: a callback without loops is not free */
    Value *callee = vm->top;
    if (!pvmV_stack_ensure(vm, callee + argc + 1))
        pvmV_error(vm, "stack overflow");
    callee[0] = fn;
    for (int i = 0; i < argc; i++)
        callee[1 + i] = args[i];
    vm->top = callee + 1 + argc;
    vm_enter(vm);
    size_t stop = vm->nframes;
    if (pvmV_call_value(vm, callee, argc))
        pvmV_execute(vm, stop, false);
    vm->ccalls--;
    Value r = *callee;
    vm->top = callee;
    return r;
}

void pvmV_boundary_unwind(VM *vm, const VmSaved *s)
{
    if (vm->jit) /* the frames a recording watched are gone */
        pvmJ_unwind(vm);
    pvmV_close_upvals(vm, s->top);
    vm->nframes = s->nframes;
    vm->nhandlers = s->nhandlers;
    vm->ccalls = s->ccalls;
    vm->top = s->top;
    vm->pcall_handlers = s->pcall_handlers;
    vm->exec_stop = s->exec_stop;
}

bool pvmV_protect(VM *vm, void (*fn)(VM *vm, void *ud), void *ud)
{
    VmJmp jmp; /* not zero-initialised: the jmp_buf is large and setjmp fills it */
    VmSaved s;
    pvmV_boundary_open(vm, &s);
    jmp.prev = vm->jmp;
    vm->jmp = &jmp;
    if (setjmp(jmp.buf) != 0) {
        vm->jmp = jmp.prev;
        pvmV_boundary_unwind(vm, &s);
        return false;
    }
    fn(vm, ud);
    vm->jmp = jmp.prev;
    vm->pcall_handlers = s.pcall_handlers;
    return true;
}

typedef struct {
    Value fn;
    int argc;
    const Value *args;
    Value result;
} VmCallArgs;

static void vm_pcall_body(VM *vm, void *ud)
{
    VmCallArgs *c = ud;
    c->result = pvmV_call(vm, c->fn, c->argc, c->args);
}

bool pvmV_pcall(VM *vm, Value fn, int argc, const Value *args, Value *result)
{
    Value *callee = pvmV_pcall_slots(vm, fn, argc);
    if (callee && vm->fuel >= 1 && !vm->interrupt) {
        for (int i = 0; i < argc; i++)
            callee[1 + i] = args[i];
        return pvmV_pcall_run(vm, callee, argc, result);
    }
    VmCallArgs c = { fn, argc, args, VAL_NIL };
    bool ok = pvmV_protect(vm, vm_pcall_body, &c);
    if (result)
        *result = ok ? c.result : vm->error;
    return ok;
}

static void vm_run_main(VM *vm, void *ud)
{
    (void)ud;
    pvmV_import(vm, vm->program->modules[0]);
}

bool pvmV_run_program(VM *vm)
{
    bool ok = pvmV_protect(vm, vm_run_main, NULL);
    pvmV_trace_flush(vm);
    return ok;
}
