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

/* getor: whether [obj] has [key] (a map entry, an in-range array or string
 * index), and its value in *out. Never raises. */
bool pvmV_index_present(VM *vm, Value obj, Value key, Value *out);

/* istype: whether [v]'s type is in the set [mask] of PBC_TYPE_* bits. */
static inline bool pvmV_has_type(Value v, uint32_t mask)
{
    static const uint8_t bit[VT__COUNT] = {
        [VT_NIL] = PBC_TYPEBIT_NIL,       [VT_BOOL] = PBC_TYPEBIT_BOOL,
        [VT_INT] = PBC_TYPEBIT_INT,       [VT_FLOAT] = PBC_TYPEBIT_FLOAT,
        [VT_STRING] = PBC_TYPEBIT_STRING, [VT_ARRAY] = PBC_TYPEBIT_ARRAY,
        [VT_MAP] = PBC_TYPEBIT_MAP,       [VT_CLOSURE] = PBC_TYPEBIT_FUNCTION,
        [VT_NATIVE] = PBC_TYPEBIT_FUNCTION, [VT_POINTER] = PBC_TYPEBIT_POINTER,
    };
    return (mask >> bit[v.type]) & 1u;
}

/* callv: replaces the argument array on top of the stack ([top] is one
 * past it) by its elements, adding them to *[argc]; returns the new top
 * (also in vm->top). Raises when it is not an array or the call would
 * have more than PBC_MAX_PARAMS arguments. */
Value *pvmV_spread_args(VM *vm, Value *top, int *argc);
/* getmethod found nothing for [key] on [o]: raises the error that says why. */
PVM_NORETURN void pvmV_method_missing(VM *vm, Value o, Value key);
/* The longest __class chain getmethod follows (a cycle ends there). */
#define VM_MAX_CLASS_DEPTH 64

/* Calls: [callee] points at the function value, followed by [argc]
 * arguments, and vm->top just past them. A native runs to completion and
 * its result replaces the callee (returns false); a closure gets a new frame
 * (returns true) that the interpreter then runs. */
bool pvmV_call_value(VM *vm, Value *callee, int argc);

/* The native part of that, inline for the interpreter's CALL: runs the
 * native at [callee] (a VT_NATIVE) when it takes [argc] arguments; false,
 * having done nothing, when it does not (pvmV_call_value raises then).
 * Inline, a call of a native costs the interpreter some 20 instructions
 * less (measured by bench-calls); the CALL around it costs a PV call
 * about 3 more (fib: +2 %), whatever form its native branch takes. */
static inline bool pvmV_call_native(VM *vm, Value *callee, int argc)
{
    PvNative *n = callee->as.nat;
    if (argc < n->min_args || (n->max_args >= 0 && argc > n->max_args))
        return false;
    Value r = n->fn(vm, argc, callee + 1, n->data); /* vm->top is past the arguments */
    *callee = r;
    vm->top = callee + 1;
    return true;
}

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
/* closure p in the frame at [base] whose closure is [enclosing]: its
 * upvalues the cells of locals there (captured) or of [enclosing]. */
PvClosure *pvmV_closure_new(VM *vm, VmProto *p, Value *base, const PvClosure *enclosing);
void pvmV_close_upvals(VM *vm, Value *level);

/* Imports: runs a module's main once and returns its exports map. */
Value pvmV_import(VM *vm, VmModule *mod);

#endif
