/* The protected call's fast path, inline for its two users: pvmV_pcall
 * (protect.c) and the embedding API's pvm_call, which makes one per call
 * a host asks for, so that the layers of calls around the work do not
 * cost as much as the work. A call that can start without raising (a PV
 * function taking exactly its arguments; fuel, no interrupt, C depth, a
 * frame and rooted stack to spare) needs no boundary of its own: the
 * interpreter's, which hands back an error no try of the call caught
 * (pvmV_execute's [boundary]), is its only one, one setjmp in all. The
 * rest goes through pvmV_protect (protect.c). */
#ifndef PVM_PCALL_H
#define PVM_PCALL_H

#include "vm/interp/loop.h"
#include "vm/interp/ops.h"

/* The VM state a protected boundary puts back after a throw. */
typedef struct {
    size_t nframes, nhandlers, pcall_handlers;
    unsigned ccalls;
    Value *top;
    size_t exec_stop;
} VmSaved;

/* Opens a boundary: saves the state, and puts the try handlers of outer
 * runs out of reach of what runs inside. */
static inline void pvmV_boundary_open(VM *vm, VmSaved *s)
{
    s->nframes = vm->nframes;
    s->nhandlers = vm->nhandlers;
    s->pcall_handlers = vm->pcall_handlers;
    s->ccalls = vm->ccalls;
    s->top = vm->top;
    s->exec_stop = vm->exec_stop;
    vm->pcall_handlers = vm->nhandlers;
    vm->error_kind = VM_ERR_NONE;
}

/* After a throw reached the boundary: back to the state it saved
 * (protect.c). */
void pvmV_boundary_unwind(VM *vm, const VmSaved *s);

/* When a call of [fn] with [argc] arguments can start without raising
 * as far as the function and room go, puts [fn] at the top of the stack
 * and returns that slot, the arguments' going after it: the caller fills
 * those (they are above vm->top until the call: nothing to undo) and calls
 * pvmV_pcall_run. Else NULL: use pvmV_pcall. */
static inline Value *pvmV_pcall_slots(VM *vm, Value fn, int argc)
{
    if (fn.type != VT_CLOSURE)
        return NULL;
    const VmProto *p = fn.as.cl->proto;
    Value *callee = vm->top;
    if ((uint32_t)argc != p->nparams || p->variadic || vm->ccalls >= VM_MAX_CCALLS ||
        vm->nframes >= vm->frames_cap || callee + 1 + p->frame_slots > vm->stack_rooted)
        return NULL;
    *callee = fn;
    return callee;
}

/* Runs the call pvmV_pcall_slots set up at [callee], as pvmV_pcall. */
PVM_ALWAYS_INLINE static inline bool pvmV_pcall_run(VM *vm, Value *callee, int argc, Value *result)
{
    if (vm->fuel < 1 || vm->interrupt) /* the slow path raises the limit */
        return pvmV_pcall(vm, callee[0], argc, callee + 1, result);
    /* pvmV_boundary_open, but only what cannot be told afterwards is
     * kept: the top is [callee], the frames [stop], and the interpreter
     * leaves ccalls and pcall_handlers as they were when it started. */
    size_t outer_handlers = vm->pcall_handlers, stop = vm->nframes;
    vm->pcall_handlers = vm->nhandlers;
    vm->error_kind = VM_ERR_NONE;
    vm->fuel--; /* pvmV_call's charge, known to be affordable */
    vm->ccalls++;
    vm_enter_frame(vm, callee->as.cl, callee + 1, (uint32_t)argc);
    if (!pvmV_execute(vm, stop, true)) {
        VmSaved s = { stop, vm->pcall_handlers, outer_handlers, vm->ccalls - 1, callee, vm->exec_stop };
        pvmV_boundary_unwind(vm, &s);
        if (result)
            *result = vm->error;
        return false;
    }
    vm->ccalls--;
    if (result)
        *result = *callee;
    vm->top = callee;
    vm->pcall_handlers = outer_handlers;
    return true;
}

#endif
