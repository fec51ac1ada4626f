/* Instruction semantics outside the interpreter's fast paths: arithmetic
 * and comparison errors, strings, indexing, calls. The rules on numbers
 * themselves are arith.h's, which both the interpreter's fast paths and
 * these slow paths use, so every rule of LANGUAGE.md section 3 has exactly
 * one implementation. */
#ifndef PVM_OPS_H
#define PVM_OPS_H

#include "vm/interp/interp.h"

Value pvmV_arith(VM *vm, Opcode op, Value a, Value b);
Value pvmV_unary(VM *vm, Opcode op, Value a);
bool pvmV_compare(VM *vm, Opcode op, Value a, Value b); /* LT LE GT GE */
Value pvmV_index_get(VM *vm, Value obj, Value key);
void pvmV_index_set(VM *vm, Value obj, Value key, Value v);
void pvmV_check_range(VM *vm, Value start, Value end);
void pvmV_check_iterable(VM *vm, Value v);

/* Calls: [callee] points at the function value, followed by [argc]
 * arguments, and vm->top just past them. A native runs to completion and
 * its result replaces the callee (returns false); a closure gets a new frame
 * (returns true) that the interpreter then runs. */
bool pvmV_call_value(VM *vm, Value *callee, int argc);

/* The last step of every PV call: locals from [first_free] on start as
 * nil, and a frame for [cl] at [base] is pushed. The caller has checked
 * arity, frame capacity and stack room. */
static inline void vm_enter_frame(VM *vm, PvClosure *cl, Value *base, uint32_t first_free)
{
    const VmProto *p = cl->proto;
    for (uint32_t i = first_free; i < p->nlocals; i++)
        base[i] = VAL_NIL;
    VmFrame *f = &vm->frames[vm->nframes++];
    f->closure = cl;
    f->ip = p->code;
    f->base = base;
    vm->top = base + p->nlocals;
}

/* Open upvalues */
PvUpval *pvmV_capture_upval(VM *vm, Value *slot);
void pvmV_close_upvals(VM *vm, Value *level);

/* Imports: runs a module's main once and returns its exports map. */
Value pvmV_import(VM *vm, VmModule *mod);

#endif
