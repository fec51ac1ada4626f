/* The trace recorder (see record.h): one function per kind of bytecode,
 * each emitting its guards before it changes the model of the frame, so a
 * guard's snapshot is the frame as the interpreter has it before the
 * instruction; the inlining of calls, which extends the model by the
 * callee's frame and records on inside it; and the C calls of ffi
 * bindings a trace makes itself. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jit/alloc.h"
#include "jit/record.h"
#include "jit/sink.h"
#include "vm/runtime/object.h"
#include "vm/interp/arith.h"

const char *const pvmJ_abort_messages[JIT_ABORT__COUNT] = {
#define X(name, msg) msg,
    JIT_ABORTS(X)
#undef X
};

static JitType type_of(Value v)
{
    switch ((ValueType)v.type) {
    case VT_NIL: return JIT_T_NIL;
    case VT_BOOL: return JIT_T_BOOL;
    case VT_INT: return JIT_T_INT;
    case VT_FLOAT: return JIT_T_FLT;
    case VT_STRING: return JIT_T_STR;
    case VT_ARRAY: return JIT_T_ARR;
    case VT_MAP: return JIT_T_MAP;
    case VT_CLOSURE: return JIT_T_FN;
    case VT_NATIVE: return JIT_T_NATIVE;
    default: return JIT_T_PTR;
    }
}

static JitType ref_type(const JitRecorder *r, JitRef ref)
{
    return (JitType)pvmJ_ir_at(&r->ir, ref)->type;
}

static JitRecStatus rec_abort(JitRecorder *r, JitAbort why, const char *detail)
{
    r->status = JIT_REC_ABORTED;
    r->abort = why;
    r->abort_detail = detail;
    return r->status;
}

/* --- The frame model ----------------------------------------------------- */

/* Slots the trace did not write are right in the interpreter's stack,
 * which the trace never writes: only ones that were live at entry can be
 * such. Everything above them was written by the trace (a callee's
 * arguments where the caller pushed them, its other locals set to nil), so
 * a snapshot inside an inlined call holds all of the callee's frame. */
/* The liveness of [fn]'s locals, computed once per recording; NULL when
 * out of room or memory (every local is then live). */
static const JitLive *rec_liveness(JitRecorder *r, const VmProto *fn)
{
    for (uint32_t i = 0; i < r->nlive_fns; i++)
        if (r->live_fns[i].proto == fn)
            return &r->live_fns[i];
    if (r->nlive_fns == JIT_MAX_LIVE_FNS || !pvmJ_live_compute(&r->live_fns[r->nlive_fns], fn))
        return NULL;
    return &r->live_fns[r->nlive_fns++];
}

/* Leaves out of r->live the locals of the frame of [fn] at slot [base]
 * that the interpreter, resuming it at [pc], overwrites before it reads. */
static void rec_drop_dead(JitRecorder *r, const VmProto *fn, uint32_t base, uint32_t pc)
{
    const JitLive *l = rec_liveness(r, fn);
    if (!l)
        return;
    for (uint32_t k = 0; k < fn->nlocals && base + k < r->top; k++)
        if (!pvmJ_live_local(l, pc, k))
            r->live[base + k] = JIT_REF_NONE;
}

static bool rec_snapshot(JitRecorder *r)
{
    for (uint32_t i = 0; i < r->top; i++)
        r->live[i] = r->written[i] ? r->slots[i] : JIT_REF_NONE;
    /* the trace's frame resumes at the first inlined call's return, each
     * callee at the next one's, the innermost at this instruction */
    for (uint32_t k = 0; k <= r->depth; k++) {
        const VmProto *fn = k == 0 ? r->frame_fn : r->frames[k - 1].proto;
        uint32_t base = k == 0 ? 0 : r->frames[k - 1].base;
        uint32_t pc = k < r->depth ? r->frames[k].ret : r->pc;
        rec_drop_dead(r, fn, base, pc);
    }
    JitRef next = (JitRef)(JIT_REF_BIAS + r->ir.nins);
    int n = pvmJ_snap_take(&r->snaps, r->pc, next, r->live, (uint16_t)r->top);
    if (n < 0)
        return false;
    r->snaps.snaps[n].charged = r->charged_early;
    if (r->depth > 0) {
        r->snaps.snaps[n].nframes = (uint16_t)r->depth;
        r->snaps.snaps[n].frame_start = (uint32_t)r->frames[r->depth - 1].chain;
    }
    return true;
}

/* The unit of budget CALL takes, for a call the trace makes or inlines
 * itself, with the snapshot before the call: where the budget runs out
 * the interpreter makes the call and raises there. After the call's
 * guards, whose exits resume at the call, so that no exit after it
 * charges the call twice. */
static bool rec_charge_call(JitRecorder *r)
{
    if (!rec_snapshot(r))
        return false;
    pvmJ_ir_append(&r->ir, JIT_IR_CHARGE, JIT_T_VOID, 1, 0);
    return !r->ir.failed;
}

/* CALL's unit, taken before the calls of an intrinsic that changes an
 * object (push, remove): an exit for the budget there has done nothing,
 * and every exit after it until the intrinsic is recorded gives the unit
 * back (rec_snapshot marks them), since the interpreter then makes the
 * call, and charges it, itself. */
static bool rec_charge_early(JitRecorder *r)
{
    if (!rec_charge_call(r)) {
        rec_abort(r, JIT_ABORT_LIMIT, NULL);
        return false;
    }
    r->charged_early = 1;
    return true;
}

/* A snapshot no guard ended up using (the guard folded away). */
static void rec_drop_snapshot(JitRecorder *r)
{
    JitSnap *last = &r->snaps.snaps[r->snaps.nsnaps - 1];
    r->snaps.nmap = last->map_start;
    r->snaps.nsnaps--;
}

/* Emits a guard with a snapshot of the frame before this instruction.
 * False when the recording aborted. */
static bool rec_guard(JitRecorder *r, JitOp op, JitType type, JitRef a, JitRef b)
{
    bool fails;
    if (!rec_snapshot(r)) {
        rec_abort(r, JIT_ABORT_LIMIT, NULL);
        return false;
    }
    uint32_t before = r->ir.nins;
    pvmJ_fold_emit(&r->ir, op, type, a, b, &fails);
    if (fails) {
        rec_abort(r, JIT_ABORT_ALWAYS_EXITS, NULL);
        return false;
    }
    if (r->ir.nins == before)
        rec_drop_snapshot(r);
    return true;
}

static JitRef emit(JitRecorder *r, JitOp op, JitType type, JitRef a, JitRef b)
{
    bool fails;
    return pvmJ_fold_emit(&r->ir, op, type, a, b, &fails);
}

/* The ref for stack slot [i], loading it (with a type guard) on first use.
 * Only what was live when the trace was entered can be loaded: anything
 * above it is the trace's own doing (a callee's frame, pushed operands). */
static JitRef rec_slot(JitRecorder *r, uint32_t i)
{
    if (r->slots[i] != JIT_REF_NONE)
        return r->slots[i];
    if (i >= r->top0) {
        rec_abort(r, JIT_ABORT_ERROR, "stack out of step"); /* a bug, caught safely */
        return JIT_REF_NONE;
    }
    if (!rec_snapshot(r)) {
        rec_abort(r, JIT_ABORT_LIMIT, NULL);
        return JIT_REF_NONE;
    }
    JitType t = type_of(r->base[i]);
    JitRef flags = r->known[i] == t ? JIT_SLOAD_TYPED : 0;
    r->slots[i] = pvmJ_ir_append(&r->ir, JIT_IR_SLOAD, t, (JitRef)i, flags);
    return r->slots[i];
}

static void rec_set(JitRecorder *r, uint32_t i, JitRef ref)
{
    r->slots[i] = ref;
    r->written[i] = true;
}

static void rec_push(JitRecorder *r, JitRef ref)
{
    rec_set(r, r->top++, ref);
}

/* --- Instructions -------------------------------------------------------- */

static JitRef rec_element(JitRecorder *r, JitRef arr, JitRef idx, const PvArray *a);
static JitRecStatus rec_load_element(JitRecorder *r, JitRef at, const PvArray *a, size_t i, uint32_t pops);

/* A type-guarded load of the Value at [at], which holds [now], as IR. */
static JitRef rec_load(JitRecorder *r, JitRef at, Value now)
{
    if (!rec_snapshot(r)) {
        rec_abort(r, JIT_ABORT_LIMIT, NULL);
        return JIT_REF_NONE;
    }
    return pvmJ_ir_append(&r->ir, JIT_IR_XLOAD, type_of(now), at, 0);
}

/* The same, replacing [pops] operands with the value. */
static JitRecStatus rec_load_value(JitRecorder *r, JitRef at, Value now, uint32_t pops)
{
    JitRef v = rec_load(r, at, now);
    if (r->status != JIT_REC_GO)
        return r->status;
    r->top -= pops;
    rec_push(r, v);
    return JIT_REC_GO;
}

static JitRecStatus rec_const(JitRecorder *r, Value k)
{
    switch (k.type) {
    case VT_INT: rec_push(r, pvmJ_k_int(&r->ir, k.as.i)); break;
    case VT_FLOAT: rec_push(r, pvmJ_k_float(&r->ir, k.as.f)); break;
    case VT_STRING: rec_push(r, pvmJ_k_gc(&r->ir, JIT_T_STR, k.as.p)); break;
    default: return rec_abort(r, JIT_ABORT_NYI_TYPES, "constant");
    }
    return JIT_REC_GO;
}

static JitOp ir_arith(Opcode op)
{
    switch (op) {
    case OP_ADD: return JIT_IR_ADD;
    case OP_SUB: return JIT_IR_SUB;
    case OP_MUL: return JIT_IR_MUL;
    case OP_DIV: return JIT_IR_DIV;
    case OP_MOD: return JIT_IR_MOD;
    case OP_BAND: return JIT_IR_BAND;
    case OP_BOR: return JIT_IR_BOR;
    case OP_BXOR: return JIT_IR_BXOR;
    case OP_SHL: return JIT_IR_SHL;
    default: return JIT_IR_SHR;
    }
}

static JitRef rec_to_float(JitRecorder *r, JitRef ref)
{
    return ref_type(r, ref) == JIT_T_FLT ? ref : emit(r, JIT_IR_TOFLT, JIT_T_FLT, ref, 0);
}

/* Two ints stay int (wrapping; DIV and MOD guard a zero divisor, whose
 * error the interpreter raises); any other pair of numbers is a float
 * operation, as in pvmV_arith_fast. */
static JitRef rec_runtime_call(JitRecorder *r, JitRuntimeFn fn, uint32_t first, const JitRef *args, uint32_t n,
                               JitRef extra, JitType type);

/* a + b of two strings: the interpreter's concatenation, called from the
 * trace (CALLR of rt_concat, jit/alloc.c) while the result is short
 * enough that ADD charges no fuel for its bytes; a longer one exits and
 * the interpreter makes it. One already long while recording is not
 * recorded: the trace would leave at every trip. */
static JitRecStatus rec_concat(JitRecorder *r, Value va, Value vb, JitRef a, JitRef b)
{
    if (va.as.s->len + vb.as.s->len > JIT_RT_CONCAT_MAX)
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "concatenation of 64 bytes or more");
    JitRef args[2] = { a, b };
    JitRef res = rec_runtime_call(r, JIT_RT_CONCAT, r->top - 2, args, 2, JIT_REF_NONE, JIT_T_STR);
    if (res == JIT_REF_NONE)
        return r->status;
    r->top -= 2;
    rec_push(r, res);
    return JIT_REC_GO;
}

/* The order of two strings, from the runtime's compare (CALLR of
 * rt_strcmp: 1, 2 or 3), the ref compared with 2 by the caller's guard. */
static JitRef rec_string_order(JitRecorder *r, JitRef a, JitRef b)
{
    JitRef args[2] = { a, b };
    return rec_runtime_call(r, JIT_RT_STRCMP, r->top - 2, args, 2, JIT_REF_NONE, JIT_T_INT);
}

static JitRecStatus rec_arith(JitRecorder *r, Opcode op)
{
    Value va = r->base[r->top - 2], vb = r->base[r->top - 1];
    JitRef a = rec_slot(r, r->top - 2), b = rec_slot(r, r->top - 1);
    JitRef res;
    if (r->status != JIT_REC_GO)
        return r->status;
    if (va.type == VT_INT && vb.type == VT_INT) {
        if ((op == OP_DIV || op == OP_MOD) && !rec_guard(r, JIT_IR_NE, JIT_T_INT, b, pvmJ_k_int(&r->ir, 0)))
            return r->status;
        res = emit(r, ir_arith(op), JIT_T_INT, a, b);
    } else if (vm_is_number(va) && vm_is_number(vb) && pvmV_is_arith_op(op)) {
        res = emit(r, ir_arith(op), JIT_T_FLT, rec_to_float(r, a), rec_to_float(r, b));
    } else if (op == OP_ADD && va.type == VT_STRING && vb.type == VT_STRING) {
        return rec_concat(r, va, vb, a, b);
    } else {
        return rec_abort(r, JIT_ABORT_NYI_TYPES, pvmB_opcode_info[op].mnemonic);
    }
    r->top -= 2;
    rec_push(r, res);
    return JIT_REC_GO;
}

static JitRecStatus rec_unary(JitRecorder *r, Opcode op)
{
    Value v = r->base[r->top - 1];
    JitRef a = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    if (op == OP_NEG && (v.type == VT_INT || v.type == VT_FLOAT))
        a = emit(r, JIT_IR_NEG, type_of(v), a, 0);
    else if (op == OP_BNOT && v.type == VT_INT)
        a = emit(r, JIT_IR_BNOT, JIT_T_INT, a, 0);
    else if (op == OP_NOT && v.type != VT_BOOL)
        a = pvmJ_k_pri(&r->ir, JIT_T_BOOL, !vm_is_truthy(v)); /* the type guard decides it */
    else if (op == OP_NOT && pvmJ_ref_is_const(a))
        a = pvmJ_k_pri(&r->ir, JIT_T_BOOL, !vm_is_truthy(v));
    else
        return rec_abort(r, JIT_ABORT_NYI_TYPES, pvmB_opcode_info[op].mnemonic);
    r->top--;
    rec_push(r, a);
    return JIT_REC_GO;
}

static JitOp ir_order(Opcode op)
{
    switch (op) {
    case OP_LT: return JIT_IR_LT;
    case OP_LE: return JIT_IR_LE;
    case OP_GT: return JIT_IR_GT;
    default: return JIT_IR_GE;
    }
}

/* The outcome the interpreter is about to compute becomes a guard, and
 * the comparison's result a constant the following jump can follow. */
/* An int compared with a float is compared exactly by the interpreter
 * (pvmV_number_order). Within +-2^53 every int is a double, so there the
 * comparison of doubles is the exact one: the int is guarded to be in that
 * range (outside it the exit lets the interpreter compare) and converted.
 * [ref] holds [v]; the float, or JIT_REF_NONE once the recording stopped. */
#define EXACT_INT_FLOAT ((int64_t)1 << 53)
static JitRef rec_exact_float(JitRecorder *r, JitRef ref, Value v, Opcode op)
{
    if (v.type == VT_FLOAT)
        return ref;
    if (v.as.i < -EXACT_INT_FLOAT || v.as.i > EXACT_INT_FLOAT) {
        rec_abort(r, JIT_ABORT_NYI_COMPARE, pvmB_opcode_info[op].mnemonic);
        return JIT_REF_NONE;
    }
    if (!rec_guard(r, JIT_IR_GE, JIT_T_INT, ref, pvmJ_k_int(&r->ir, -EXACT_INT_FLOAT)) ||
        !rec_guard(r, JIT_IR_LE, JIT_T_INT, ref, pvmJ_k_int(&r->ir, EXACT_INT_FLOAT)))
        return JIT_REF_NONE;
    return emit(r, JIT_IR_TOFLT, JIT_T_FLT, ref, 0);
}

/* Both operands of an int/float comparison as floats (see above). */
static bool rec_mixed_floats(JitRecorder *r, Opcode op, Value va, Value vb, JitRef *a, JitRef *b)
{
    *a = rec_exact_float(r, *a, va, op);
    if (r->status == JIT_REC_GO)
        *b = rec_exact_float(r, *b, vb, op);
    return r->status == JIT_REC_GO;
}

static bool is_int_float_pair(Value a, Value b)
{
    return (a.type == VT_INT && b.type == VT_FLOAT) || (a.type == VT_FLOAT && b.type == VT_INT);
}

/* An int comparison as a plain order: ints have no NaN, so the U forms
 * ("not" the opposite order, pvmJ_guard_negation) are the orders. */
static JitOp int_order(JitOp op)
{
    switch (op) {
    case JIT_IR_ULT: return JIT_IR_LT;
    case JIT_IR_UGE: return JIT_IR_GE;
    case JIT_IR_ULE: return JIT_IR_LE;
    case JIT_IR_UGT: return JIT_IR_GT;
    default: return op;
    }
}

/* Whether the guard [g] of [a] against [b] is what the parent's failed
 * guard already proves (pvmJ_record_implied): [a] is the side trace's
 * load of a slot it told of, unchanged since entry (a load is the value
 * on entry: the trace's own writes are other refs), [b] its constant. */
static bool rec_implied(const JitRecorder *r, JitOp g, JitRef a, JitRef b)
{
    if (r->nimplied == 0 || int_order(g) != (JitOp)r->implied_op || pvmJ_ref_is_const(a) || !pvmJ_ref_is_const(b) ||
        pvmJ_ir_at(&r->ir, b)->op != JIT_IR_KINT || pvmJ_k_int_value(&r->ir, b) != r->implied_k)
        return false;
    const JitIns *in = pvmJ_ir_at(&r->ir, a);
    if (in->op != JIT_IR_SLOAD || in->type != JIT_T_INT)
        return false;
    for (uint32_t i = 0; i < r->nimplied; i++)
        if (r->implied_slots[i] == in->a)
            return true;
    return false;
}

/* The guard that a compare gives the outcome [holds] the recording saw,
 * [g] failing exactly when the interpreter's compare gives the other.
 * When the next instruction branches on it (jmpf, jmpt) and the other
 * outcome's way is forward, the guard's snapshot resumes there, past the
 * compare and the branch and without their operands: the exit writes two
 * slots fewer, and a side trace from it starts where the program goes. A
 * backward way stays as it was: the branch charges a back edge. */
static bool rec_guard_outcome(JitRecorder *r, JitOp g, JitType type, JitRef a, JitRef b, bool holds)
{
    const VmInsn *next = &r->fn->code[r->pc + 1];
    bool branch = next->orig == OP_JMPF || next->orig == OP_JMPT;
    bool jumps = branch && (next->orig == OP_JMPT) == !holds; /* on the other outcome */
    uint32_t resume = jumps ? (uint32_t)next->arg : r->pc + 2;
    if (!branch || resume <= r->pc + 1)
        return rec_guard(r, g, type, a, b);
    uint32_t pc = r->pc, top = r->top;
    r->pc = resume;
    r->top = top - 2;
    bool ok = rec_guard(r, g, type, a, b);
    r->pc = pc;
    r->top = top;
    return ok;
}

static JitRecStatus rec_order(JitRecorder *r, Opcode op)
{
    Value va = r->base[r->top - 2], vb = r->base[r->top - 1];
    JitRef a = rec_slot(r, r->top - 2), b = rec_slot(r, r->top - 1);
    bool holds;
    JitType type;
    if (r->status != JIT_REC_GO)
        return r->status;
    if (va.type == VT_INT && vb.type == VT_INT) {
        holds = pvmV_int_order(op, va.as.i, vb.as.i);
        type = JIT_T_INT;
    } else if (va.type == VT_FLOAT && vb.type == VT_FLOAT) {
        holds = pvmV_float_order(op, va.as.f, vb.as.f);
        type = JIT_T_FLT;
    } else if (is_int_float_pair(va, vb)) {
        if (!rec_mixed_floats(r, op, va, vb, &a, &b))
            return r->status;
        double x = va.type == VT_INT ? (double)va.as.i : va.as.f;
        double y = vb.type == VT_INT ? (double)vb.as.i : vb.as.f;
        holds = pvmV_float_order(op, x, y); /* exact: both ints are within 2^53 */
        type = JIT_T_FLT;
    } else if (va.type == VT_STRING && vb.type == VT_STRING) {
        holds = pvmV_order_holds(op, pvmV_string_compare(va.as.s, vb.as.s));
        a = rec_string_order(r, a, b);
        if (a == JIT_REF_NONE)
            return r->status;
        b = pvmJ_k_int(&r->ir, 2);
        type = JIT_T_INT;
    } else {
        return rec_abort(r, JIT_ABORT_NYI_COMPARE, pvmB_opcode_info[op].mnemonic);
    }
    JitOp g = holds ? ir_order(op) : pvmJ_guard_negation(ir_order(op));
    if (!(type == JIT_T_INT && rec_implied(r, g, a, b)) && !rec_guard_outcome(r, g, type, a, b, holds))
        return r->status;
    r->top -= 2;
    rec_push(r, pvmJ_k_pri(&r->ir, JIT_T_BOOL, holds));
    return JIT_REC_GO;
}

/* Two strings: equal when they are one object (guarded, the commonest
 * case: a key compared with itself, a shared one-byte string); unequal
 * when their lengths differ (guarded); otherwise, up to
 * STRING_EQ_MAX_BYTES long, by their bytes: all of them guarded equal, or
 * the first that differs guarded to differ. Longer strings of one length
 * are compared by the runtime (rec_string_order). */
#define STRING_EQ_MAX_BYTES 8
static bool rec_string_equal(JitRecorder *r, Opcode op, const PvString *x, const PvString *y, JitRef a, JitRef b,
                             bool equal)
{
    if (x == y)
        return rec_guard(r, JIT_IR_EQ, JIT_T_STR, a, b);
    JitRef la = emit(r, JIT_IR_FLOAD, JIT_T_INT, a, (JitRef)offsetof(PvString, len));
    JitRef lb = emit(r, JIT_IR_FLOAD, JIT_T_INT, b, (JitRef)offsetof(PvString, len));
    if (x->len != y->len)
        return rec_guard(r, JIT_IR_NE, JIT_T_INT, la, lb);
    if (x->len > STRING_EQ_MAX_BYTES) { /* the runtime's compare decides */
        JitRef c = rec_string_order(r, a, b);
        return c != JIT_REF_NONE && rec_guard(r, equal ? JIT_IR_EQ : JIT_IR_NE, JIT_T_INT, c, pvmJ_k_int(&r->ir, 2));
    }
    JitRef n = pvmJ_k_int(&r->ir, (int64_t)x->len);
    if (!rec_guard(r, JIT_IR_EQ, JIT_T_INT, la, n) || !rec_guard(r, JIT_IR_EQ, JIT_T_INT, lb, n))
        return false;
    for (size_t i = 0; i < x->len; i++) {
        bool same = x->chars[i] == y->chars[i];
        if (!equal && same)
            continue;
        JitRef at = pvmJ_k_int(&r->ir, (int64_t)(offsetof(PvString, chars) + i));
        JitRef ba = emit(r, JIT_IR_BLOAD, JIT_T_INT, emit(r, JIT_IR_ADD, JIT_T_PTR, a, at), 0);
        JitRef bb = emit(r, JIT_IR_BLOAD, JIT_T_INT, emit(r, JIT_IR_ADD, JIT_T_PTR, b, at), 0);
        if (!rec_guard(r, same ? JIT_IR_EQ : JIT_IR_NE, JIT_T_INT, ba, bb))
            return false;
        if (!same)
            return true; /* one differing byte decides */
    }
    return true;
}

/* Values of one type compare by value (numbers, bools) or identity
 * (arrays, maps, functions, pointers); of different types they are unequal
 * except int against float, compared exactly (rec_exact_float). Strings
 * by rec_string_equal. */
static JitRecStatus rec_equal(JitRecorder *r, Opcode op)
{
    Value va = r->base[r->top - 2], vb = r->base[r->top - 1];
    JitRef a = rec_slot(r, r->top - 2), b = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    bool equal = pvmV_values_equal(va, vb), holds = equal == (op == OP_EQ);
    if (va.type == VT_STRING && vb.type == VT_STRING) { /* its guards decide less than the outcome */
        if (!rec_string_equal(r, op, va.as.s, vb.as.s, a, b, equal))
            return r->status;
    } else if (is_int_float_pair(va, vb)) {
        if (!rec_mixed_floats(r, op, va, vb, &a, &b) ||
            !rec_guard_outcome(r, equal ? JIT_IR_EQ : JIT_IR_NE, JIT_T_FLT, a, b, holds))
            return r->status;
    } else if (va.type == vb.type && va.type != VT_NIL) {
        JitOp g = equal ? JIT_IR_EQ : JIT_IR_NE;
        if (!rec_guard_outcome(r, g, type_of(va), a, b, holds))
            return r->status;
    }
    r->top -= 2;
    rec_push(r, pvmJ_k_pri(&r->ir, JIT_T_BOOL, holds));
    return JIT_REC_GO;
}

/* A loop's root trace stays inside its loop; a side or function trace may
 * go anywhere in the frame's function until it reaches a loop header; an
 * inlined callee may go anywhere forward. */
static bool in_loop(const JitRecorder *r, uint32_t pc)
{
    return r->side || r->func || r->depth > 0 || (pc >= r->start && pc <= r->loop_end);
}

/* Where a branch goes next: an instruction inside the loop, forward. */
static JitRecStatus rec_follow(JitRecorder *r, uint32_t next)
{
    if (!in_loop(r, next))
        return rec_abort(r, JIT_ABORT_LEAVE_LOOP, NULL);
    if (next <= r->pc)
        return rec_abort(r, r->depth > 0 ? JIT_ABORT_CALLEE_LOOP : JIT_ABORT_INNER_LOOP, NULL);
    return JIT_REC_GO;
}

/* The branch the interpreter takes is the one recorded: a bool that is
 * not a constant is guarded to keep its value; other types are truthy or
 * not by their type, which SLOAD already guards. jmpf/jmpt pop the value;
 * jmpfk/jmptk (&& and ||) keep it when they jump. */
static JitRecStatus rec_branch(JitRecorder *r, const VmInsn *ip, bool jump_if_truthy, bool keep_if_taken)
{
    Value v = r->base[r->top - 1];
    JitRef c = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    bool truthy = vm_is_truthy(v);
    if (v.type == VT_BOOL && !pvmJ_ref_is_const(c) &&
        !rec_guard(r, JIT_IR_EQ, JIT_T_BOOL, c, pvmJ_k_pri(&r->ir, JIT_T_BOOL, truthy)))
        return r->status;
    bool taken = truthy == jump_if_truthy;
    if (!taken || !keep_if_taken)
        r->top--;
    return rec_follow(r, taken ? (uint32_t)ip->arg : r->pc + 1);
}

/* A back edge to [target] ends the recording: the trip is charged to the
 * budget as the interpreter charges the jmp (CHARGE exits to the
 * interpreter's own check there when the budget is spent), and the last
 * snapshot is the frame at the loop header. A root trace loops there (the
 * LOOP pass carries that frame round, or the trace writes it back); a side
 * trace leaves through it (EXIT), and the trace runner enters the header's
 * trace if it has one. */
static JitRecStatus rec_close(JitRecorder *r, uint32_t target)
{
    if (!rec_snapshot(r))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    pvmJ_ir_append(&r->ir, JIT_IR_CHARGE, JIT_T_VOID, (JitRef)(r->pc - target + 1), 0);
    uint32_t saved = r->pc;
    r->pc = target;
    bool ok = rec_snapshot(r);
    r->pc = saved;
    if (r->side || r->func)
        pvmJ_ir_append(&r->ir, JIT_IR_EXIT, JIT_T_VOID, 0, 0);
    if (!ok || r->ir.failed)
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    r->status = JIT_REC_DONE;
    return r->status;
}

/* The trips a `for` loop whose header is [header] has left, with its
 * state on top of the operand stack as at its header and its back edge
 * ([counter, end] or [array, index]); UINT64_MAX if it is another loop. */
static uint64_t trips_left(const JitRecorder *r, const VmInsn *header)
{
    if (header->orig != OP_FORNEXT || r->top < 2)
        return UINT64_MAX;
    Value a = r->base[r->top - 2], b = r->base[r->top - 1];
    if (b.type != VT_INT)
        return UINT64_MAX;
    if (a.type == VT_INT)
        return b.as.i > a.as.i ? (uint64_t)b.as.i - (uint64_t)a.as.i : 0;
    if (a.type == VT_ARRAY)
        return (uint64_t)b.as.i < a.as.a->len ? a.as.a->len - (uint64_t)b.as.i : 0;
    return UINT64_MAX;
}

/* Whether the back edge to [target] is unrolled: the trips its loop has
 * left, each ending in a back edge, fit in what the trace may unroll. */
static bool rec_unrolls(const JitRecorder *r, uint32_t target)
{
    if (r->popped > 0)
        return false;
    uint64_t left = trips_left(r, &r->fn->code[target]);
    return left < r->unroll_left; /* this back edge, and [left] more */
}

/* An unrolled back edge is charged as the interpreter charges the jmp
 * (its exit resumes at the jmp, which raises when the budget is spent),
 * and the recording goes on at the loop's header. */
static JitRecStatus rec_unroll(JitRecorder *r, uint32_t target)
{
    if (!rec_snapshot(r))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    pvmJ_ir_append(&r->ir, JIT_IR_CHARGE, JIT_T_VOID, (JitRef)(r->pc - target + 1), 0);
    r->unroll_left--;
    r->unrolled++;
    return JIT_REC_GO;
}

/* A backward jmp closes the trace's own loop (a root's; the loop a side
 * trace started in or its tree's root loop), is unrolled, or ends a side
 * trace, which then exits at that loop's header; a root or a callee
 * meeting an inner loop it cannot unroll gives up. */
static JitRecStatus rec_jump(JitRecorder *r, const VmInsn *ip)
{
    uint32_t target = (uint32_t)ip->arg;
    if (target > r->pc)
        return rec_follow(r, target);
    bool here = r->depth == 0 && r->popped == 0;
    bool own = here && !r->func &&
               (target == r->start || (r->side && r->fn == r->tree_fn && target == r->tree_start));
    if (!own && rec_unrolls(r, target))
        return rec_unroll(r, target);
    if (r->depth > 0)
        return rec_abort(r, JIT_ABORT_CALLEE_LOOP, NULL);
    if (r->side || r->func || own)
        return rec_close(r, target);
    return rec_abort(r, JIT_ABORT_INNER_LOOP, NULL);
}

bool pvmJ_record_unrolls(const JitRecorder *r, const VmInsn *header)
{
    return r->popped == 0 && trips_left(r, header) <= r->unroll_left;
}

/* Whether a `for` header that ends its loop is recorded as a guard: not
 * at a root's own header, which would leave the loop. */
static bool rec_leaves_loop(const JitRecorder *r)
{
    return r->side || r->func || r->depth > 0 || r->pc != r->start;
}

/* An array loop that has run its last trip: the index is guarded to be
 * at or past the length (a negative one exits: the interpreter ends the
 * loop on it, as it compares unsigned). */
/* The end of a for over a collection: the position [b] is guarded to be
 * at or past [n] (its length or used count), and the loop state popped. */
static JitRecStatus rec_iter_end(JitRecorder *r, JitRef b, JitRef n)
{
    if (!rec_guard(r, JIT_IR_GE, JIT_T_INT, b, n))
        return r->status;
    r->top -= 2;
    return JIT_REC_GO;
}

static JitRecStatus rec_fornext_array_done(JitRecorder *r)
{
    JitRef a = rec_slot(r, r->top - 2), b = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    return rec_iter_end(r, b, emit(r, JIT_IR_ALEN, JIT_T_INT, a, 0));
}

/* for over an array: [array, index]; the iteration pushes the element. */
static JitRecStatus rec_fornext_array(JitRecorder *r, Value va, Value vb)
{
    if ((uint64_t)vb.as.i >= va.as.a->len)
        return rec_leaves_loop(r) && vb.as.i >= 0 ? rec_fornext_array_done(r) : rec_abort(r, JIT_ABORT_LEAVE_LOOP, NULL);
    JitRef a = rec_slot(r, r->top - 2), b = rec_slot(r, r->top - 1);
    JitRef at = r->status == JIT_REC_GO ? rec_element(r, a, b, va.as.a) : JIT_REF_NONE;
    if (r->status != JIT_REC_GO || rec_load_element(r, at, va.as.a, (size_t)vb.as.i, 0) != JIT_REC_GO)
        return r->status;
    /* the index steps after the load, whose snapshot has it unstepped */
    rec_set(r, r->top - 2, emit(r, JIT_IR_ADD, JIT_T_INT, b, pvmJ_k_int(&r->ir, 1)));
    return JIT_REC_GO;
}

/* Guards that the key at position [pos] of the map [m] has [type] (the
 * byte in its key_types; a tombstone's matches none). Keys change only in
 * a mutating call (remove, a rebuild), after which the key types are
 * loaded again, so the guard is pure. */
static bool rec_key_type(JitRecorder *r, JitRef m, JitRef pos, uint64_t type)
{
    JitRef types = emit(r, JIT_IR_FLOAD, JIT_T_PTR, m, (JitRef)offsetof(PvMap, key_types));
    JitRef t = emit(r, JIT_IR_BLOAD, JIT_T_INT, emit(r, JIT_IR_ADD, JIT_T_PTR, types, pos), 0);
    return rec_guard(r, JIT_IR_EQ, JIT_T_INT, t, pvmJ_k_int(&r->ir, (int64_t)type));
}

/* Guards that the key at constant position [pos] of the map [m] (value
 * [map] now) is a string: for a map whose keys all are, that it still has
 * none of another type, one guard for all of its fields (an FLOAD: an
 * insertion in the trace makes it read again); else that key's type. */
static bool rec_key_is_string(JitRecorder *r, JitRef m, const PvMap *map, int64_t pos)
{
    if (map->nonstring_keys != 0)
        return rec_key_type(r, m, pvmJ_k_int(&r->ir, pos), VT_STRING);
    JitRef n = emit(r, JIT_IR_FLOAD, JIT_T_INT, m, (JitRef)offsetof(PvMap, nonstring_keys));
    return rec_guard(r, JIT_IR_EQ, JIT_T_INT, n, pvmJ_k_int(&r->ir, 0));
}

/* for over a map: [map, position]. The interpreter's fornext skips
 * removed entries (tombstones) to the next live one, or ends the loop past
 * the last. A trip is recorded when the entry at the position is live: the
 * position is bounds-checked against the map's used count and the key is
 * loaded with the guard of its type, which a tombstone never passes (its
 * exit lets the interpreter skip it; a trip recorded past a few removed
 * entries guards each of them removed). Only a mutating call (remove, an
 * insertion that rebuilds) changes or moves the entries, and it gives up
 * the trip's entry (r->iter_map). The end is the position at or past the
 * used count. */
#define MAP_TRIP_MAX_SKIPPED 8u /* removed entries one recorded trip passes */
static JitRecStatus rec_fornext_map(JitRecorder *r, Value va, Value vb)
{
    const PvMap *m = va.as.m;
    JitRef a = rec_slot(r, r->top - 2), b = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    JitRef used = emit(r, JIT_IR_FLOAD, JIT_T_INT, a, (JitRef)offsetof(PvMap, used));
    if ((uint64_t)vb.as.i >= m->used) {
        if (!rec_leaves_loop(r) || vb.as.i < 0)
            return rec_abort(r, JIT_ABORT_LEAVE_LOOP, NULL);
        return rec_iter_end(r, b, used);
    }
    /* removed entries before the live one, as many as this trip's: the live
     * one's position is bounds-checked, then each guarded to be removed, as
     * the interpreter's fornext skips them */
    size_t pos = (size_t)vb.as.i, skipped = 0;
    while (pvmV_map_key(m, pos + skipped).type == VM_MAP_TOMBSTONE) {
        if (skipped == MAP_TRIP_MAX_SKIPPED || pos + skipped + 1 >= m->used)
            return rec_abort(r, JIT_ABORT_NYI_ITERATION, NULL);
        skipped++;
    }
    Value key = pvmV_map_key(m, pos + skipped);
    JitRef live = skipped ? emit(r, JIT_IR_ADD, JIT_T_INT, b, pvmJ_k_int(&r->ir, (int64_t)skipped)) : b;
    if (!rec_guard(r, JIT_IR_ABC, JIT_T_INT, live, used))
        return r->status;
    for (size_t j = 0; j < skipped; j++) {
        JitRef at = j ? emit(r, JIT_IR_ADD, JIT_T_INT, b, pvmJ_k_int(&r->ir, (int64_t)j)) : b;
        if (!rec_key_type(r, a, at, VM_MAP_TOMBSTONE))
            return r->status;
    }
    b = live;
    if (!rec_key_type(r, a, b, key.type))
        return r->status;
    JitRef entries = emit(r, JIT_IR_FLOAD, JIT_T_PTR, a, (JitRef)offsetof(PvMap, entries));
    JitRef offset = emit(r, JIT_IR_MUL, JIT_T_INT, b, pvmJ_k_int(&r->ir, (int64_t)sizeof(PvMapEntry)));
    JitRef at = emit(r, JIT_IR_ADD, JIT_T_PTR, entries, offset);
    JitRef key_at = emit(r, JIT_IR_ADD, JIT_T_PTR, at, pvmJ_k_int(&r->ir, (int64_t)offsetof(PvMapEntry, key)));
    rec_push(r, pvmJ_ir_append(&r->ir, JIT_IR_ALOAD, type_of(key), key_at, 0));
    r->iter_map = a;
    r->iter_map_now = m;
    r->iter_key = r->slots[r->top - 1];
    r->iter_entry = at;
    /* the position steps after the load, whose snapshot has it unstepped */
    rec_set(r, r->top - 2, emit(r, JIT_IR_ADD, JIT_T_INT, b, pvmJ_k_int(&r->ir, 1)));
    return JIT_REC_GO;
}

/* m[k] where k is the key the current trip of `for k in m` loaded: the
 * value of the very entry the key came from, which stays there for the
 * trip (nothing a trace runs inserts or removes). [m] holds [map]; when it
 * is another ref than the iterated one (a trace that starts inside the
 * loop loads the loop's hidden map slot and the variable separately) but
 * the same map now, that is guarded. The entry's address, or
 * JIT_REF_NONE for any other m[k] (or once the recording stopped). */
static JitRef rec_iter_entry(JitRecorder *r, JitRef m, const PvMap *map, JitRef k)
{
    if (r->iter_map == JIT_REF_NONE || m == JIT_REF_NONE || k != r->iter_key || map != r->iter_map_now)
        return JIT_REF_NONE;
    if (m != r->iter_map && !rec_guard(r, JIT_IR_EQ, JIT_T_MAP, m, r->iter_map))
        return JIT_REF_NONE;
    return r->iter_entry;
}

/* for over a string: [string, position]; each trip pushes the one-byte
 * string of the byte there. The end is the position at or past the
 * length. */
static JitRef rec_string_byte(JitRecorder *r, JitRef s, JitRef i);
static JitRef rec_single_char(JitRecorder *r, JitRef b);
static JitRecStatus rec_fornext_string(JitRecorder *r, Value va, Value vb)
{
    JitRef a = rec_slot(r, r->top - 2), b = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    if ((uint64_t)vb.as.i >= va.as.s->len) {
        if (!rec_leaves_loop(r) || vb.as.i < 0)
            return rec_abort(r, JIT_ABORT_LEAVE_LOOP, NULL);
        return rec_iter_end(r, b, emit(r, JIT_IR_FLOAD, JIT_T_INT, a, (JitRef)offsetof(PvString, len)));
    }
    JitRef byte = rec_string_byte(r, a, b);
    if (r->status != JIT_REC_GO)
        return r->status;
    rec_push(r, rec_single_char(r, byte));
    rec_set(r, r->top - 2, emit(r, JIT_IR_ADD, JIT_T_INT, b, pvmJ_k_int(&r->ir, 1)));
    return JIT_REC_GO;
}

/* for over a range: [counter, end] on the operand stack; the iteration
 * pushes the counter and steps it. In a root trace the loop's end is an
 * exit; a side trace may follow it out of the loop. */
static JitRecStatus rec_fornext_done(JitRecorder *r)
{
    JitRef a = rec_slot(r, r->top - 2), b = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO || !rec_guard(r, JIT_IR_GE, JIT_T_INT, a, b))
        return r->status;
    r->top -= 2;
    return JIT_REC_GO;
}

/* iter of an array, a map or a string: its load's type guard is the
 * check the interpreter makes, and the position starts at 0. */
static JitRecStatus rec_iter(JitRecorder *r)
{
    ValueType t = r->base[r->top - 1].type;
    if (t != VT_ARRAY && t != VT_MAP && t != VT_STRING)
        return rec_abort(r, JIT_ABORT_NYI_ITERATION, NULL);
    JitRef a = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    if (ref_type(r, a) != type_of(r->base[r->top - 1]))
        return rec_abort(r, JIT_ABORT_NYI_ITERATION, NULL);
    rec_push(r, pvmJ_k_int(&r->ir, 0));
    return JIT_REC_GO;
}

static JitRecStatus rec_fornext(JitRecorder *r)
{
    Value va = r->base[r->top - 2], vb = r->base[r->top - 1];
    if (va.type == VT_ARRAY && vb.type == VT_INT)
        return rec_fornext_array(r, va, vb);
    if (va.type == VT_MAP && vb.type == VT_INT)
        return rec_fornext_map(r, va, vb);
    if (va.type == VT_STRING && vb.type == VT_INT)
        return rec_fornext_string(r, va, vb);
    if (va.type != VT_INT || vb.type != VT_INT)
        return rec_abort(r, JIT_ABORT_NYI_ITERATION, NULL);
    if (va.as.i >= vb.as.i) /* an inner loop that runs no more trips is just a branch */
        return rec_leaves_loop(r) ? rec_fornext_done(r) : rec_abort(r, JIT_ABORT_LEAVE_LOOP, NULL);
    JitRef a = rec_slot(r, r->top - 2), b = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO || !rec_guard(r, JIT_IR_LT, JIT_T_INT, a, b))
        return r->status;
    rec_set(r, r->top - 2, emit(r, JIT_IR_ADD, JIT_T_INT, a, pvmJ_k_int(&r->ir, 1)));
    rec_push(r, a);
    return JIT_REC_GO;
}

/* The address of an element of the array [arr] (which is [a] now): the
 * index is bounds-checked (a guard whose exit lets the interpreter raise
 * "index out of range" or take its slow path) and the array's element
 * kind is guarded to be the one it has now, so that a trace recorded on
 * an int array exits when it meets a boxed one (array.h). A boxed
 * element's type is guarded by its load. */
static JitRef rec_element(JitRecorder *r, JitRef arr, JitRef idx, const PvArray *a)
{
    JitRef len = emit(r, JIT_IR_ALEN, JIT_T_INT, arr, 0);
    if (!rec_guard(r, JIT_IR_ABC, JIT_T_INT, idx, len))
        return JIT_REF_NONE;
    JitRef kind = emit(r, JIT_IR_AKIND, JIT_T_INT, arr, 0);
    if (!rec_guard(r, JIT_IR_EQ, JIT_T_INT, kind, pvmJ_k_int(&r->ir, (int64_t)a->kind)))
        return JIT_REF_NONE;
    if (a->kind == VM_ARR_BOXED)
        return emit(r, JIT_IR_AREF, JIT_T_PTR, arr, idx);
    JitRef items = emit(r, JIT_IR_FLOAD, JIT_T_PTR, arr, (JitRef)offsetof(PvArray, items));
    return emit(r, a->kind == VM_ARR_BOOL ? JIT_IR_ADD : JIT_IR_UREF, JIT_T_PTR, items, idx);
}

/* The IR type of an unboxed array's elements. */
static JitType element_type(const PvArray *a)
{
    return a->kind == VM_ARR_BOOL ? JIT_T_BOOL : a->kind == VM_ARR_INT ? JIT_T_INT : JIT_T_FLT;
}

/* Loads element [i] of [a] from [at] (rec_element), replacing [pops]
 * operands: unboxed, it needs no type check. */
static JitRecStatus rec_load_element(JitRecorder *r, JitRef at, const PvArray *a, size_t i, uint32_t pops)
{
    if (a->kind == VM_ARR_BOXED)
        return rec_load_value(r, at, a->items.v[i], pops);
    JitRef v = pvmJ_ir_append(&r->ir, JIT_IR_ALOAD, element_type(a), at, 0);
    r->top -= pops;
    rec_push(r, v);
    return JIT_REC_GO;
}

static bool array_slot_ok(Value o, Value k)
{
    return o.type == VT_ARRAY && k.type == VT_INT && (uint64_t)k.as.i < o.as.a->len;
}

/* --- Strings ---
 * A string's bytes never change. s[i] and a `for c in s` trip are the
 * VM's shared one-byte string for byte i, after a bounds check. */

/* Byte [i] (an int ref, bounds-checked against [s]'s length) of [s]. */
static JitRef rec_string_byte(JitRecorder *r, JitRef s, JitRef i)
{
    JitRef len = emit(r, JIT_IR_FLOAD, JIT_T_INT, s, (JitRef)offsetof(PvString, len));
    if (!rec_guard(r, JIT_IR_ABC, JIT_T_INT, i, len))
        return JIT_REF_NONE;
    JitRef at = emit(r, JIT_IR_ADD, JIT_T_PTR, s, i);
    at = emit(r, JIT_IR_ADD, JIT_T_PTR, at, pvmJ_k_int(&r->ir, (int64_t)offsetof(PvString, chars)));
    return emit(r, JIT_IR_BLOAD, JIT_T_INT, at, 0);
}

/* The shared one-byte string of the byte [b] holds. */
static JitRef rec_single_char(JitRecorder *r, JitRef b)
{
    JitRef table = pvmJ_k_gc(&r->ir, JIT_T_PTR, r->vm->single_chars);
    return emit(r, JIT_IR_ALOAD, JIT_T_STR, emit(r, JIT_IR_UREF, JIT_T_PTR, table, b), 0);
}

/* s[i] for a string and an int index inside it (outside, the guard's
 * exit lets the interpreter raise its error). */
static JitRecStatus rec_string_index(JitRecorder *r)
{
    JitRef s = rec_slot(r, r->top - 2), i = rec_slot(r, r->top - 1);
    JitRef b = r->status == JIT_REC_GO ? rec_string_byte(r, s, i) : JIT_REF_NONE;
    if (r->status != JIT_REC_GO)
        return r->status;
    r->top -= 2;
    rec_push(r, rec_single_char(r, b));
    return JIT_REC_GO;
}

/* m[k] or m[k] = v on the entry of the current `for k in m` trip. */
static JitRef rec_iter_value(JitRecorder *r, uint32_t map_slot)
{
    if (r->base[map_slot].type != VT_MAP)
        return JIT_REF_NONE;
    JitRef e = rec_iter_entry(r, r->slots[map_slot], r->base[map_slot].as.m, r->slots[map_slot + 1]);
    if (e == JIT_REF_NONE)
        return JIT_REF_NONE;
    return emit(r, JIT_IR_ADD, JIT_T_PTR, e, pvmJ_k_int(&r->ir, (int64_t)offsetof(PvMapEntry, value)));
}

/* Guards that [k] holds the very string object [s] (a constant is that
 * object already): a key compared by identity from here on. */
static bool rec_key_is(JitRecorder *r, JitRef k, const PvString *s)
{
    JitRef want = pvmJ_k_gc(&r->ir, JIT_T_STR, s);
    return k == want || rec_guard(r, JIT_IR_EQ, JIT_T_STR, k, want);
}

static JitRef rec_field(JitRecorder *r, JitRef m, const PvMap *map, Value key);
static bool rec_absent(JitRecorder *r, JitRef m, const PvMap *map, const PvString *key);
static JitRecStatus rec_missing(JitRecorder *r, JitRef o, const PvMap *map, Value key, uint32_t pops);

/* m[k] with a string key the map holds: the key is guarded to be that
 * string object (a constant needs no guard) and the entry is then found
 * as a field is (rec_field, whose key guard compares the entry's key
 * with it). The value's address, or JIT_REF_NONE when k is no such key. */
static JitRef rec_string_key(JitRecorder *r, uint32_t map_slot)
{
    Value vo = r->base[map_slot], vk = r->base[map_slot + 1];
    if (vo.type != VT_MAP || vk.type != VT_STRING || pvmV_map_find_string(vo.as.m, vk) < 0)
        return JIT_REF_NONE;
    JitRef m = rec_slot(r, map_slot), k = rec_slot(r, map_slot + 1);
    if (r->status != JIT_REC_GO)
        return JIT_REF_NONE;
    if (!rec_key_is(r, k, vk.as.s))
        return JIT_REF_NONE;
    return rec_field(r, m, vo.as.m, vk);
}

/* A call of the runtime function [fn] (jit/alloc.h) on the [n] values
 * the frame holds from slot [first], whose refs are [args], and [extra]
 * (one more argument after them, or JIT_REF_NONE), as CALLR with the
 * snapshot before the instruction: its NULL exits there and the
 * interpreter runs the instruction itself (given back CALL's unit if the
 * trace took it early, rec_snapshot). The result has IR type [type];
 * JIT_REF_NONE, the recording aborted, when the IR or snapshots are full. */
static JitRef rec_runtime_call(JitRecorder *r, JitRuntimeFn fn, uint32_t first, const JitRef *args, uint32_t n,
                               JitRef extra, JitType type)
{
    JitRef chain = JIT_REF_NONE;
    for (uint32_t i = 0; i < n; i++)
        chain = pvmJ_ir_append(&r->ir, JIT_IR_CARG, JIT_T_VOID, args[i], chain);
    if (extra != JIT_REF_NONE)
        chain = pvmJ_ir_append(&r->ir, JIT_IR_CARG, JIT_T_VOID, extra, chain);
    if (!rec_snapshot(r)) {
        rec_abort(r, JIT_ABORT_LIMIT, NULL);
        return JIT_REF_NONE;
    }
    JitRef desc = pvmJ_k_int(&r->ir, (int64_t)pvmJ_rt_desc(fn, first, n));
    JitRef res = pvmJ_ir_append(&r->ir, JIT_IR_CALLR, type, chain, desc);
    if (r->ir.failed) {
        rec_abort(r, JIT_ABORT_LIMIT, NULL);
        return JIT_REF_NONE;
    }
    return res;
}

/* m[k] of a key other than a string that the map holds (an int, as
 * hashmap's): the interpreter's own lookup, called from the trace (CALLR
 * of rt_get, jit/alloc.c), gives the address of the entry's value, which
 * the trace loads with its type guarded. An absent key (nil) is not
 * recorded; one that has gone since exits before the lookup and the
 * interpreter reads nil. */
static JitRecStatus rec_map_get(JitRecorder *r, Value vo, Value vk)
{
    Value now;
    if (!pvmV_map_get(vo.as.m, vk, &now))
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "getindex of a key the map does not hold");
    uint32_t first = r->top - 2;
    JitRef args[2] = { rec_slot(r, first), rec_slot(r, first + 1) };
    if (r->status != JIT_REC_GO)
        return r->status;
    JitRef at = rec_runtime_call(r, JIT_RT_GET, first, args, 2, JIT_REF_NONE, JIT_T_PTR);
    if (r->status != JIT_REC_GO)
        return r->status;
    return rec_load_value(r, at, now, 2);
}

/* a[k] of an array literal the trace made that nothing else reaches yet
 * (sink.c), by a constant index within it: the element's ref, with no
 * load and no guard (checked against the array itself: a literal of
 * ints and floats, whose ints the array holds as floats, is read from
 * memory). */
static bool rec_fresh_element(JitRecorder *r, JitRef a, JitRef k, Value va, Value vk, JitRef *value)
{
    uint32_t len;
    if (!pvmJ_ref_is_const(k) || pvmJ_ir_at(&r->ir, k)->op != JIT_IR_KINT || !pvmJ_sink_fresh(&r->ir, a) ||
        !pvmJ_sink_element(&r->ir, a, vk.as.i, value, &len) || (uint64_t)vk.as.i >= len)
        return false;
    Value now = pvmV_array_get(r->vm, va.as.a, vk.as.i);
    return pvmJ_ir_at(&r->ir, *value)->type == type_of(now);
}

static JitRecStatus rec_getindex(JitRecorder *r)
{
    Value vo = r->base[r->top - 2], vk = r->base[r->top - 1];
    JitRef value = rec_iter_value(r, r->top - 2);
    if (r->status == JIT_REC_GO && value == JIT_REF_NONE)
        value = rec_string_key(r, r->top - 2);
    if (r->status != JIT_REC_GO)
        return r->status;
    if (value == JIT_REF_NONE && vo.type == VT_MAP && vk.type == VT_STRING) { /* a key it does not hold */
        JitRef o = rec_slot(r, r->top - 2), k = rec_slot(r, r->top - 1);
        if (r->status != JIT_REC_GO || !rec_key_is(r, k, vk.as.s))
            return r->status;
        return rec_missing(r, o, vo.as.m, vk, 2);
    }
    if (value != JIT_REF_NONE) {
        Value now;
        pvmV_map_get(vo.as.m, vk, &now);
        return rec_load_value(r, value, now, 2);
    }
    if (vo.type == VT_STRING && vk.type == VT_INT && (uint64_t)vk.as.i < vo.as.s->len)
        return rec_string_index(r);
    if (vo.type == VT_MAP && vk.type == VT_INT)
        return rec_map_get(r, vo, vk);
    if (!array_slot_ok(vo, vk))
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "getindex");
    JitRef o = rec_slot(r, r->top - 2), k = rec_slot(r, r->top - 1), known;
    if (r->status == JIT_REC_GO && rec_fresh_element(r, o, k, vo, vk, &known)) {
        r->top -= 2;
        rec_push(r, known);
        return JIT_REC_GO;
    }
    JitRef at = r->status == JIT_REC_GO ? rec_element(r, o, k, vo.as.a) : JIT_REF_NONE;
    if (r->status != JIT_REC_GO)
        return r->status;
    return rec_load_element(r, at, vo.as.a, (size_t)vk.as.i, 2);
}

static JitRecStatus rec_store_call(JitRecorder *r, JitRuntimeFn fn, uint32_t n, JitRef extra);

/* m[k] = v of an int key, or of a string key not found as a field (a key
 * the trace computes, new to the map): the interpreter's map_set, called
 * from the trace (CALLR of rt_setindex, jit/alloc.c), which may rebuild
 * the map: its used count and entries change, so its later reads load
 * them again (JitIR.mutated), the model holds the call's result from then
 * on, and the current `for k in m` trip's entry address, the one a trace
 * keeps across instructions, is given up (`m[k]` is looked up again). */
static JitRecStatus rec_map_set(JitRecorder *r)
{
    JitRecStatus st = rec_store_call(r, JIT_RT_SETINDEX, 3, JIT_REF_NONE);
    r->iter_map = JIT_REF_NONE;
    return st;
}

static JitRecStatus rec_setindex(JitRecorder *r)
{
    Value vo = r->base[r->top - 3], vk = r->base[r->top - 2];
    JitRef value = rec_iter_value(r, r->top - 3);
    if (r->status == JIT_REC_GO && value == JIT_REF_NONE)
        value = rec_string_key(r, r->top - 3);
    if (r->status != JIT_REC_GO)
        return r->status;
    if (value != JIT_REF_NONE) {
        JitRef v = rec_slot(r, r->top - 1);
        if (r->status != JIT_REC_GO)
            return r->status;
        pvmJ_ir_append(&r->ir, JIT_IR_XSTORE, JIT_T_VOID, value, v);
        r->top -= 3;
        return JIT_REC_GO;
    }
    if (vo.type == VT_MAP && (vk.type == VT_INT || vk.type == VT_STRING))
        return rec_map_set(r);
    if (!array_slot_ok(vo, vk))
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "setindex");
    /* A value of another type changes the array's kind: the interpreter
     * does that, and a trace stays on arrays whose kind it guards. */
    if (!pvmV_array_fits(vo.as.a, r->base[r->top - 1]))
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "setindex changing an array's kind");
    JitRef o = rec_slot(r, r->top - 3), k = rec_slot(r, r->top - 2), v = rec_slot(r, r->top - 1);
    JitRef at = r->status == JIT_REC_GO ? rec_element(r, o, k, vo.as.a) : JIT_REF_NONE;
    if (r->status != JIT_REC_GO)
        return r->status;
    /* v's IR type is the one guarded when it was loaded, which fits the
     * kind just guarded: an unboxed store needs no check of its own. */
    if (vo.as.a->kind != VM_ARR_BOXED && ref_type(r, v) != element_type(vo.as.a))
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "setindex");
    JitOp store = vo.as.a->kind == VM_ARR_BOXED ? JIT_IR_XSTORE : JIT_IR_ASTORE;
    pvmJ_ir_append(&r->ir, store, JIT_T_VOID, at, v);
    r->top -= 3;
    return JIT_REC_GO;
}

/* The address of field [key] of the map [m] (value [map] now): the
 * position the key has now, bounds-checked against the map's used count
 * and guarded to still hold that very key string. Inserting is not
 * recorded, so within a trace a map's entries never move. */
static JitRef rec_field(JitRecorder *r, JitRef m, const PvMap *map, Value key)
{
    int64_t pos = pvmV_map_find_string(map, key);
    if (pos < 0) {
        rec_abort(r, JIT_ABORT_NYI_TYPES, "missing field");
        return JIT_REF_NONE;
    }
    const PvString *kstr = map->entries[pos].key.s;
    JitRef entries = emit(r, JIT_IR_FLOAD, JIT_T_PTR, m, (JitRef)offsetof(PvMap, entries));
    JitRef used = emit(r, JIT_IR_FLOAD, JIT_T_INT, m, (JitRef)offsetof(PvMap, used));
    if (!rec_guard(r, JIT_IR_ABC, JIT_T_INT, pvmJ_k_int(&r->ir, pos), used) || !rec_key_is_string(r, m, map, pos))
        return JIT_REF_NONE;
    JitRef e = emit(r, JIT_IR_ADD, JIT_T_PTR, entries, pvmJ_k_int(&r->ir, pos * (int64_t)sizeof(PvMapEntry)));
    if (!rec_guard(r, JIT_IR_HKEY, JIT_T_PTR, e, pvmJ_k_gc(&r->ir, JIT_T_STR, kstr)))
        return JIT_REF_NONE;
    return emit(r, JIT_IR_ADD, JIT_T_PTR, e, pvmJ_k_int(&r->ir, (int64_t)offsetof(PvMapEntry, value)));
}

/* Field [key] of the map [m] (value [vo] now) when it is one the trace
 * made and nothing else can reach yet (sink.c): its value's ref, from
 * the values the map was made of, with no load and no guard; or that it
 * has no such field. UNKNOWN for any other map (and, as a check, when the
 * IR and the map itself disagree), which is then read from memory. */
static JitFieldKnown rec_fresh_field(JitRecorder *r, JitRef m, Value vo, Value key, JitRef *value)
{
    if (vo.type != VT_MAP || key.type != VT_STRING || !pvmJ_sink_fresh(&r->ir, m))
        return JIT_FIELD_UNKNOWN;
    JitFieldKnown k = pvmJ_sink_field(&r->ir, m, pvmJ_k_gc(&r->ir, JIT_T_STR, key.as.s), value);
    Value now;
    bool has = pvmV_map_get(vo.as.m, key, &now);
    if ((k == JIT_FIELD_FOUND && (!has || pvmJ_ir_at(&r->ir, *value)->type != type_of(now))) ||
        (k == JIT_FIELD_ABSENT && has))
        return JIT_FIELD_UNKNOWN;
    return k;
}

/* o.key of a fresh map (rec_fresh_field) whose answer is known: its value
 * or nil, replacing [pops] operands. */
static JitRecStatus rec_push_known(JitRecorder *r, JitFieldKnown k, JitRef value, uint32_t pops)
{
    r->top -= pops;
    rec_push(r, k == JIT_FIELD_FOUND ? value : pvmJ_k_pri(&r->ir, JIT_T_NIL, false));
    return JIT_REC_GO;
}

static JitRecStatus rec_getfield(JitRecorder *r, Value key)
{
    Value vo = r->base[r->top - 1];
    if (vo.type != VT_MAP)
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "getfield");
    JitRef o = rec_slot(r, r->top - 1), fv;
    JitFieldKnown known = r->status == JIT_REC_GO ? rec_fresh_field(r, o, vo, key, &fv) : JIT_FIELD_UNKNOWN;
    if (known != JIT_FIELD_UNKNOWN)
        return rec_push_known(r, known, fv, 1);
    if (r->status == JIT_REC_GO && pvmV_map_find_string(vo.as.m, key) < 0)
        return rec_missing(r, o, vo.as.m, key, 1);
    JitRef at = r->status == JIT_REC_GO ? rec_field(r, o, vo.as.m, key) : JIT_REF_NONE;
    if (r->status != JIT_REC_GO)
        return r->status;
    Value now;
    pvmV_map_get(vo.as.m, key, &now);
    return rec_load_value(r, at, now, 1);
}

/* The ref [old] is now [now] (the same object, changed under the
 * trace): every slot and global the model has it in. */
static void rec_rename(JitRecorder *r, JitRef old, JitRef now)
{
    for (uint32_t i = 0; i < r->nslots; i++)
        if (r->slots[i] == old)
            r->slots[i] = now;
    for (uint32_t i = 0; i < r->nglobals; i++)
        if (r->globals[i].ref == old)
            r->globals[i].ref = now;
}

/* A store into the map under the top [n] stack values (the map, then
 * what the store takes) as a CALLR of [fn] with [extra]: the values are
 * popped, and the map has the call's result as its ref from then on
 * (rec_rename). */
static JitRecStatus rec_store_call(JitRecorder *r, JitRuntimeFn fn, uint32_t n, JitRef extra)
{
    uint32_t at = r->top - n;
    JitRef args[3];
    for (uint32_t i = 0; i < n; i++)
        args[i] = rec_slot(r, at + i);
    if (r->status != JIT_REC_GO)
        return r->status;
    JitRef res = rec_runtime_call(r, fn, at, args, n, extra, JIT_T_MAP);
    if (r->status != JIT_REC_GO)
        return r->status;
    r->top -= n;
    rec_rename(r, args[0], res);
    return JIT_REC_GO;
}

/* setfield [key] as a CALLR of [fn] (rt_setfield or rt_setfield_fresh)
 * on the map and value the stack holds. */
static JitRecStatus rec_setfield_call(JitRecorder *r, Value key, JitRuntimeFn fn)
{
    return rec_store_call(r, fn, 2, pvmJ_k_gc(&r->ir, JIT_T_STR, key.as.s));
}

/* setfield of a key the map does not have now (an object's constructor
 * adding its fields): a call of the interpreter's map_set (CALLR,
 * jit/alloc.c), which exits before the instruction when the map has no
 * room, since the trace does not grow maps (their entries never move
 * under it). The map's used count changes: the model holds the call's
 * result, the same map under a new ref, from then on, so its later field
 * reads load that count again rather than reuse (CSE) or widen a bounds
 * check made before the insertion. */
static JitRecStatus rec_setfield_new(JitRecorder *r, Value key)
{
    const PvMap *now = r->base[r->top - 2].as.m;
    if (key.type != VT_STRING || now == r->iter_map_now)
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "setfield of a new key");
    if (now->used == now->cap) /* the call would always exit */
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "setfield growing a map");
    return rec_setfield_call(r, key, JIT_RT_SETFIELD);
}

/* setfield on a map the trace made that nothing else reaches yet
 * (sink.c): a fresh setfield step, whatever the key, which may grow the
 * map (the trace never reads where its entries are); the map has a new
 * ref from then on, as for rec_setfield_new. */
static JitRecStatus rec_setfield_fresh(JitRecorder *r, Value key)
{
    const PvMap *now = r->base[r->top - 2].as.m;
    if (now->used == now->cap && now->count >= JIT_RT_MAX_PAIRS && pvmV_map_find_string(now, key) < 0)
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "setfield growing a map");
    return rec_setfield_call(r, key, JIT_RT_SETFIELD_FRESH);
}

static JitRecStatus rec_setfield(JitRecorder *r, Value key)
{
    Value vo = r->base[r->top - 2];
    if (vo.type != VT_MAP)
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "setfield");
    JitRef m = rec_slot(r, r->top - 2);
    if (r->status != JIT_REC_GO)
        return r->status;
    if (key.type == VT_STRING && vo.as.m != r->iter_map_now && pvmJ_sink_fresh(&r->ir, m))
        return rec_setfield_fresh(r, key);
    if (pvmV_map_find_string(vo.as.m, key) < 0)
        return rec_setfield_new(r, key);
    JitRef o = rec_slot(r, r->top - 2), v = rec_slot(r, r->top - 1);
    JitRef at = r->status == JIT_REC_GO ? rec_field(r, o, vo.as.m, key) : JIT_REF_NONE;
    if (r->status != JIT_REC_GO)
        return r->status;
    pvmJ_ir_append(&r->ir, JIT_IR_XSTORE, JIT_T_VOID, at, v);
    r->top -= 2;
    return JIT_REC_GO;
}

/* --- Upvalues ---
 * An upvalue is a cell the running closure shares with the function that
 * made it: a slot of that function's frame while it runs (open), then the
 * cell's own Value (closed). A trace reads and writes it through memory,
 * at the address the cell points to, after a guard that it still points
 * there: a closed cell, and a cell open on a frame below every frame of
 * the trace, whose slots the trace never holds in registers. A cell open
 * on a local of the trace's own frame (a closure the loop function made,
 * called in the loop) is that slot of the model instead (rec_upval_slot),
 * and so is one of a closure the trace made in an inlined frame, while
 * that frame runs (rec_fresh_upval_slot); any other cell open on an
 * inlined frame is not recorded. A closure's upvalue cells
 * never change, and a cell only closes when its frame returns, which no
 * frame below the trace does while it runs. */

/* The closure of the trace's own frame, as IR: it sits below its local 0
 * (an inlined callee's is the constant rec_inline guarded). */
static JitRef rec_frame_closure(JitRecorder *r)
{
    JitRef base = pvmJ_ir_append(&r->ir, JIT_IR_BASE, JIT_T_PTR, 0, 0);
    JitRef slot = emit(r, JIT_IR_ADD, JIT_T_PTR, base, pvmJ_k_int(&r->ir, -(int64_t)sizeof(Value)));
    return emit(r, JIT_IR_FLOAD, JIT_T_PTR, slot, (JitRef)offsetof(Value, as));
}

/* The cell of upvalue [index] (now [uv]) of the running closure: read
 * from the closure, its own frame's, an inlined call's guarded by its
 * function only (JitRecFrame.closure) or one the trace made
 * (JitRecFrame.fresh), or a constant when the call guarded the closure
 * itself. JIT_REF_NONE once the recording has stopped. */
static JitRef rec_cell(JitRecorder *r, uint32_t index, const PvUpval *uv)
{
    size_t off = offsetof(PvClosure, upvals) + index * sizeof(PvUpval *);
    if (off > UINT16_MAX) {
        rec_abort(r, JIT_ABORT_LIMIT, NULL);
        return JIT_REF_NONE;
    }
    if (r->depth == 0)
        return emit(r, JIT_IR_FLOAD, JIT_T_PTR, rec_frame_closure(r), (JitRef)off);
    const JitRecFrame *fr = &r->frames[r->depth - 1];
    JitRef closure = fr->closure != JIT_REF_NONE ? fr->closure : fr->fresh;
    if (closure == JIT_REF_NONE)
        return pvmJ_k_gc(&r->ir, JIT_T_PTR, uv);
    return emit(r, JIT_IR_FLOAD, JIT_T_PTR, closure, (JitRef)off);
}

/* The address of the Value upvalue [index] of the running closure holds
 * now, guarded; JIT_REF_NONE once the recording has stopped. */
static JitRef rec_upval(JitRecorder *r, uint32_t index)
{
    Value fn = r->base[(ptrdiff_t)r->fbase - 1];
    if (fn.type != VT_CLOSURE || fn.as.cl->proto != r->fn || index >= fn.as.cl->nupvals) {
        rec_abort(r, JIT_ABORT_FRAME, NULL);
        return JIT_REF_NONE;
    }
    const PvUpval *uv = fn.as.cl->upvals[index];
    bool closed = uv->v == &uv->closed;
    if (!closed && uv->v >= r->base - 1) { /* rec_upval_slot's case, or none */
        rec_abort(r, JIT_ABORT_NYI_TYPES, "upvalue of a frame in the trace");
        return JIT_REF_NONE;
    }
    JitRef cell = rec_cell(r, index, uv);
    if (cell == JIT_REF_NONE)
        return JIT_REF_NONE;
    JitRef at = emit(r, JIT_IR_FLOAD, JIT_T_PTR, cell, (JitRef)offsetof(PvUpval, v));
    JitRef want = closed ? emit(r, JIT_IR_ADD, JIT_T_PTR, cell, pvmJ_k_int(&r->ir, (int64_t)offsetof(PvUpval, closed)))
                         : pvmJ_k_gc(&r->ir, JIT_T_PTR, uv->v);
    if (!rec_guard(r, JIT_IR_EQ, JIT_T_PTR, at, want))
        return JIT_REF_NONE;
    return at;
}

/* An upvalue of a closure the trace made (rec_closure) and now runs
 * inlined: the cell it captured, open on a local of the trace's own frame
 * until the trace closes it, is that slot, with no guard (the cells are
 * new each time round). A cell the trace has closed since is not
 * recorded. */
static int64_t rec_fresh_upval_slot(JitRecorder *r, uint32_t index)
{
    const JitRecFrame *fr = &r->frames[r->depth - 1];
    if (r->last_close != JIT_REF_NONE && r->last_close > fr->fresh)
        return -1; /* closed since, or maybe: through its cell (rec_upval) */
    /* the frame that made it: the trace's own, or an inlined call still
     * running (its return closes the cells, which the check above sees) */
    const JitIns *made = pvmJ_ir_at(&r->ir, fr->fresh);
    uint32_t maker = pvmJ_rt_slot((uint64_t)pvmJ_k_int_value(&r->ir, made->b));
    return (int64_t)maker + fr->proto->upvals[index].index;
}

/* An inlined callee's cell open on a local of the trace's own frame (a
 * closure the loop function made, called in the loop): the cell is that
 * slot, so reading and writing it is reading and writing the slot, which
 * exits write back as any other; guarded to be still that slot. The
 * slot's number, or -1 for any other cell. */
static int64_t rec_upval_slot(JitRecorder *r, uint32_t index)
{
    if (r->depth > 0 && r->frames[r->depth - 1].fresh != JIT_REF_NONE)
        return rec_fresh_upval_slot(r, index);
    Value fn = r->base[(ptrdiff_t)r->fbase - 1];
    if (r->depth == 0 || fn.type != VT_CLOSURE || index >= fn.as.cl->nupvals)
        return -1;
    const PvUpval *uv = fn.as.cl->upvals[index];
    ptrdiff_t slot = uv->v - r->base;
    if (uv->v == &uv->closed || slot < 0 || slot >= (ptrdiff_t)r->frames[0].base - 1)
        return -1;
    JitRef base = pvmJ_ir_append(&r->ir, JIT_IR_BASE, JIT_T_PTR, 0, 0);
    JitRef want = emit(r, JIT_IR_ADD, JIT_T_PTR, base, pvmJ_k_int(&r->ir, slot * (int64_t)sizeof(Value)));
    JitRef cell = rec_cell(r, index, uv);
    if (cell == JIT_REF_NONE)
        return -1;
    JitRef at = emit(r, JIT_IR_FLOAD, JIT_T_PTR, cell, (JitRef)offsetof(PvUpval, v));
    if (!rec_guard(r, JIT_IR_EQ, JIT_T_PTR, at, want))
        return -1;
    return slot;
}

/* closure [index] in the running frame (the trace's own or an inlined
 * call's): the interpreter's CLOSURE, called (CALLR of rt_closure), for a
 * closure whose upvalues are all locals of that frame. Their cells point
 * into the frame, where the trace may not keep a value: but nothing other
 * than the trace reads a cell while it runs (it calls no PV code but what
 * it inlines, whose reads of these cells are reads of the slots,
 * rec_fresh_upval_slot; a C call while a cell is open is not recorded),
 * and every exit, and the close that ends the cells (rec_close_cells; an
 * inlined call's ret is one, rec_return), writes the captured locals to
 * the frame first (they are always live, live.c). A closure of an
 * enclosing function's upvalue is not recorded. */
static JitRecStatus rec_closure(JitRecorder *r, uint32_t index)
{
    VmProto *p = r->fn->program->protos[index];
    for (uint32_t u = 0; u < p->nupvals; u++)
        if (!p->upvals[u].from_local)
            return rec_abort(r, JIT_ABORT_NYI_BYTECODE, "closure of an upvalue");
    JitRef res = rec_runtime_call(r, JIT_RT_CLOSURE, r->fbase, NULL, 0, pvmJ_k_gc(&r->ir, JIT_T_PTR, p), JIT_T_FN);
    if (r->status != JIT_REC_GO)
        return r->status;
    if (r->depth > 0 && p->nupvals > 0) /* its return closes them (rec_return) */
        r->frames[r->depth - 1].cells = true;
    rec_push(r, res);
    return JIT_REC_GO;
}

/* close [local]: the cells open on the running frame's locals from
 * [local] on keep their values (CALLR of rt_close, which finds the values
 * in the frame: the call stores them there first). An inlined frame in
 * which the trace made no closure has no cell open on it (its cells are
 * the trace's own): nothing to do. */
static JitRecStatus rec_close_cells(JitRecorder *r, uint32_t local)
{
    if (r->depth > 0 && !r->frames[r->depth - 1].cells)
        return JIT_REC_GO;
    uint32_t n = r->fn->nlocals > local ? r->fn->nlocals - local : 0, first = r->fbase + local;
    JitRef args[JIT_RT_MAX_VALUES];
    if (n > JIT_RT_MAX_VALUES)
        return rec_abort(r, JIT_ABORT_NYI_BYTECODE, "close of more than 32 locals");
    for (uint32_t i = 0; i < n; i++) {
        args[i] = rec_slot(r, first + i);
        if (r->status != JIT_REC_GO)
            return r->status;
    }
    JitRef res = rec_runtime_call(r, JIT_RT_CLOSE, first, args, n, JIT_REF_NONE, JIT_T_PTR);
    if (r->status != JIT_REC_GO)
        return r->status;
    r->last_close = res;
    return JIT_REC_GO;
}

static JitRecStatus rec_getupval(JitRecorder *r, uint32_t index)
{
    int64_t slot = rec_upval_slot(r, index);
    if (r->status != JIT_REC_GO)
        return r->status;
    if (slot >= 0) {
        rec_push(r, rec_slot(r, (uint32_t)slot));
        return r->status;
    }
    JitRef at = rec_upval(r, index);
    if (r->status != JIT_REC_GO)
        return r->status;
    Value fn = r->base[(ptrdiff_t)r->fbase - 1];
    return rec_load_value(r, at, *fn.as.cl->upvals[index]->v, 0);
}

static JitRecStatus rec_setupval(JitRecorder *r, uint32_t index)
{
    JitRef v = rec_slot(r, r->top - 1);
    int64_t slot = r->status == JIT_REC_GO ? rec_upval_slot(r, index) : -1;
    if (r->status != JIT_REC_GO)
        return r->status;
    if (slot >= 0) {
        rec_set(r, (uint32_t)slot, v);
        r->top--;
        return JIT_REC_GO;
    }
    JitRef at = rec_upval(r, index);
    if (r->status != JIT_REC_GO)
        return r->status;
    pvmJ_ir_append(&r->ir, JIT_IR_XSTORE, JIT_T_VOID, at, v);
    r->top--;
    return JIT_REC_GO;
}

/* --- Objects: getor and getmethod ---
 * A front end's field-or-method read and method lookup (docs/bytecode.md).
 * A key the object holds is read as a field (rec_field); a key it does
 * not hold must be proved absent, which a small map's key filter does in
 * one test (pvmV_map_may_hold): the trace guards that the map still has no
 * index and that the key's filter bit is still clear. A key the filter
 * cannot rule out, or a map with an index, is not recorded. */

static bool rec_absent(JitRecorder *r, JitRef m, const PvMap *map, const PvString *key)
{
    if (pvmV_map_may_hold(map, key)) {
        rec_abort(r, JIT_ABORT_NYI_TYPES, "a missing key the map's filter cannot rule out");
        return false;
    }
    JitRef index = emit(r, JIT_IR_FLOAD, JIT_T_PTR, m, (JitRef)offsetof(PvMap, index));
    JitRef bits = emit(r, JIT_IR_FLOAD, JIT_T_INT, m, (JitRef)offsetof(PvMap, key_bits));
    JitRef bit = emit(r, JIT_IR_BAND, JIT_T_INT, bits, pvmJ_k_int(&r->ir, (int64_t)(UINT64_C(1) << (key->hash & 63))));
    return rec_guard(r, JIT_IR_EQ, JIT_T_PTR, index, pvmJ_k_gc(&r->ir, JIT_T_PTR, NULL)) &&
           rec_guard(r, JIT_IR_EQ, JIT_T_INT, bit, pvmJ_k_int(&r->ir, 0));
}

/* o.key or o[key] of a string key the map [o] (value [map]) does not
 * hold: nil, once rec_absent proves it; replaces [pops] operands. */
static JitRecStatus rec_missing(JitRecorder *r, JitRef o, const PvMap *map, Value key, uint32_t pops)
{
    if (!rec_absent(r, o, map, key.as.s))
        return r->status;
    r->top -= pops;
    rec_push(r, pvmJ_k_pri(&r->ir, JIT_T_NIL, false));
    return JIT_REC_GO;
}

/* getor [target]: [o, key] -> [o[key]], or [o] and a jump to [target]
 * when o has no such key. Maps with string keys only (the key guarded to
 * be the string it is now); a backward jump is not recorded. */
static JitRecStatus rec_getor(JitRecorder *r, const VmInsn *ip)
{
    Value vo = r->base[r->top - 2], vk = r->base[r->top - 1];
    if (vo.type != VT_MAP || vk.type != VT_STRING)
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "getor");
    JitRef o = rec_slot(r, r->top - 2), k = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    if (!rec_key_is(r, k, vk.as.s))
        return r->status;
    JitRef fv;
    JitFieldKnown known = rec_fresh_field(r, o, vo, vk, &fv);
    if (known == JIT_FIELD_FOUND)
        return rec_push_known(r, known, fv, 2);
    if (known == JIT_FIELD_ABSENT) {
        r->top--;
        return rec_follow(r, (uint32_t)ip->arg);
    }
    int64_t pos = pvmV_map_find_string(vo.as.m, vk);
    if (pos >= 0) {
        JitRef at = rec_field(r, o, vo.as.m, vk);
        if (r->status != JIT_REC_GO)
            return r->status;
        return rec_load_value(r, at, vo.as.m->entries[pos].value, 2);
    }
    if (!rec_absent(r, o, vo.as.m, vk.as.s))
        return r->status;
    r->top--;
    return rec_follow(r, (uint32_t)ip->arg);
}

/* A method of a fresh instance [o] (value [vo]) that does not hold [key]
 * itself: the key in its class, the instance's __class field, known
 * without a load. False (the recording going on) when that class is not
 * known so; a class without the key is not recorded. */
static bool rec_fresh_method(JitRecorder *r, JitRef o, Value vo, Value key, JitRef *method)
{
    Value ck = vm_str_value(r->vm->class_key), cls;
    JitRef c;
    if (rec_fresh_field(r, o, vo, ck, &c) != JIT_FIELD_FOUND || !pvmV_map_get(vo.as.m, ck, &cls) ||
        cls.type != VT_MAP)
        return false;
    int64_t in_class = pvmV_map_find_string(cls.as.m, key);
    if (in_class < 0) {
        rec_abort(r, JIT_ABORT_NYI_TYPES, "getmethod beyond the class");
        return true;
    }
    JitRef at = rec_field(r, c, cls.as.m, key);
    *method = r->status == JIT_REC_GO ? rec_load(r, at, cls.as.m->entries[in_class].value) : JIT_REF_NONE;
    return true;
}

/* getmethod key: [o] -> [method, o]: the key in the instance o itself,
 * else in its class (o.__class). Deeper class chains are not recorded. */
static JitRecStatus rec_getmethod(JitRecorder *r, Value key)
{
    Value vo = r->base[r->top - 1];
    if (vo.type != VT_MAP || key.type != VT_STRING)
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "getmethod");
    const PvMap *m = vo.as.m;
    JitRef o = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    JitRef fv;
    JitFieldKnown known = rec_fresh_field(r, o, vo, key, &fv);
    if (known == JIT_FIELD_FOUND || (known == JIT_FIELD_ABSENT && rec_fresh_method(r, o, vo, key, &fv))) {
        if (r->status != JIT_REC_GO)
            return r->status;
        rec_set(r, r->top - 1, fv);
        rec_push(r, o);
        return JIT_REC_GO;
    }
    if (r->status != JIT_REC_GO)
        return r->status;
    int64_t own = pvmV_map_may_hold(m, key.as.s) ? pvmV_map_find_string(m, key) : -1;
    JitRef at;
    Value method;
    if (own >= 0) {
        at = rec_field(r, o, m, key);
        method = m->entries[own].value;
    } else {
        Value ck = vm_str_value(r->vm->class_key);
        int64_t cpos = pvmV_map_find_string(m, ck);
        if (cpos < 0 || m->entries[cpos].value.type != VT_MAP)
            return rec_abort(r, JIT_ABORT_NYI_TYPES, "getmethod without a class");
        const PvMap *cls = m->entries[cpos].value.as.m;
        int64_t in_class = pvmV_map_find_string(cls, key);
        if (in_class < 0)
            return rec_abort(r, JIT_ABORT_NYI_TYPES, "getmethod beyond the class");
        if (!rec_absent(r, o, m, key.as.s))
            return r->status;
        JitRef cat = rec_field(r, o, m, ck);
        JitRef c = r->status == JIT_REC_GO ? rec_load(r, cat, m->entries[cpos].value) : JIT_REF_NONE;
        at = r->status == JIT_REC_GO ? rec_field(r, c, cls, key) : JIT_REF_NONE;
        method = cls->entries[in_class].value;
    }
    JitRef v = r->status == JIT_REC_GO ? rec_load(r, at, method) : JIT_REF_NONE;
    if (r->status != JIT_REC_GO)
        return r->status;
    rec_set(r, r->top - 1, v);
    rec_push(r, o);
    return JIT_REC_GO;
}

/* --- try ---
 * try pushes a handler (the running frame, the stack top, where to catch)
 * and endtry drops it. A trace does both in memory as the interpreter
 * does, so every exit between them leaves the handler where the
 * interpreter expects it, and an error raised after an exit (a trace
 * never raises itself) finds it. Only in the trace's own frame, which is
 * the VM's top frame (an inlined callee's is not the VM's yet, and its
 * RET assumes it opened no try), and not after a RETF. */

/* The address of the VM's field at [offset], as IR. */
static JitRef vm_field(JitRecorder *r, size_t offset)
{
    return emit(r, JIT_IR_ADD, JIT_T_PTR, pvmJ_k_gc(&r->ir, JIT_T_PTR, r->vm), pvmJ_k_int(&r->ir, (int64_t)offset));
}

static JitRecStatus rec_try(JitRecorder *r, const VmInsn *ip)
{
    if (r->depth > 0 || r->popped > 0)
        return rec_abort(r, JIT_ABORT_NYI_BYTECODE, "try");
    JitRef count_at = vm_field(r, offsetof(VM, nhandlers));
    JitRef n = pvmJ_ir_append(&r->ir, JIT_IR_ALOAD, JIT_T_INT, count_at, 0);
    JitRef cap = pvmJ_ir_append(&r->ir, JIT_IR_ALOAD, JIT_T_INT, vm_field(r, offsetof(VM, handlers_cap)), 0);
    if (!rec_guard(r, JIT_IR_LT, JIT_T_INT, n, cap)) /* else the interpreter grows the array */
        return r->status;
    JitRef handlers = pvmJ_ir_append(&r->ir, JIT_IR_ALOAD, JIT_T_PTR, vm_field(r, offsetof(VM, handlers)), 0);
    JitRef h = emit(r, JIT_IR_ADD, JIT_T_PTR, handlers,
                    emit(r, JIT_IR_MUL, JIT_T_INT, n, pvmJ_k_int(&r->ir, (int64_t)sizeof(VmHandler))));
    JitRef nframes = pvmJ_ir_append(&r->ir, JIT_IR_ALOAD, JIT_T_INT, vm_field(r, offsetof(VM, nframes)), 0);
    JitRef frame = emit(r, JIT_IR_SUB, JIT_T_INT, nframes, pvmJ_k_int(&r->ir, 1));
    JitRef base = pvmJ_ir_append(&r->ir, JIT_IR_BASE, JIT_T_PTR, 0, 0);
    JitRef top = emit(r, JIT_IR_ADD, JIT_T_PTR, base, pvmJ_k_int(&r->ir, (int64_t)r->top * (int64_t)sizeof(Value)));
    JitRef catch_ip = pvmJ_k_gc(&r->ir, JIT_T_PTR, r->fn->code + ip->arg);
    JitRef f_at = emit(r, JIT_IR_ADD, JIT_T_PTR, h, pvmJ_k_int(&r->ir, (int64_t)offsetof(VmHandler, frame)));
    JitRef t_at = emit(r, JIT_IR_ADD, JIT_T_PTR, h, pvmJ_k_int(&r->ir, (int64_t)offsetof(VmHandler, top)));
    JitRef c_at = emit(r, JIT_IR_ADD, JIT_T_PTR, h, pvmJ_k_int(&r->ir, (int64_t)offsetof(VmHandler, catch_ip)));
    pvmJ_ir_append(&r->ir, JIT_IR_ASTORE, JIT_T_VOID, f_at, frame);
    pvmJ_ir_append(&r->ir, JIT_IR_ASTORE, JIT_T_VOID, t_at, top);
    pvmJ_ir_append(&r->ir, JIT_IR_ASTORE, JIT_T_VOID, c_at, catch_ip);
    pvmJ_ir_append(&r->ir, JIT_IR_ASTORE, JIT_T_VOID, count_at, emit(r, JIT_IR_ADD, JIT_T_INT, n, pvmJ_k_int(&r->ir, 1)));
    r->handlers_changed = true;
    return r->ir.failed ? rec_abort(r, JIT_ABORT_LIMIT, NULL) : JIT_REC_GO;
}

static JitRecStatus rec_endtry(JitRecorder *r)
{
    if (r->depth > 0 || r->popped > 0)
        return rec_abort(r, JIT_ABORT_NYI_BYTECODE, "endtry");
    JitRef count_at = vm_field(r, offsetof(VM, nhandlers));
    JitRef n = pvmJ_ir_append(&r->ir, JIT_IR_ALOAD, JIT_T_INT, count_at, 0);
    pvmJ_ir_append(&r->ir, JIT_IR_ASTORE, JIT_T_VOID, count_at, emit(r, JIT_IR_SUB, JIT_T_INT, n, pvmJ_k_int(&r->ir, 1)));
    r->handlers_changed = true;
    return r->ir.failed ? rec_abort(r, JIT_ABORT_LIMIT, NULL) : JIT_REC_GO;
}

/* A name outside every module: a field of the built-in scope, read like
 * any map field (a host may replace a built-in between runs). */
static JitRecStatus rec_getname(JitRecorder *r, Value key)
{
    PvMap *b = r->vm->builtins;
    Value now;
    if (!pvmV_map_get(b, key, &now))
        return rec_abort(r, JIT_ABORT_NYI_TYPES, "undefined name");
    JitRef at = rec_field(r, pvmJ_k_gc(&r->ir, JIT_T_MAP, b), b, key);
    if (r->status != JIT_REC_GO)
        return r->status;
    return rec_load_value(r, at, now, 0);
}

/* Grows the model to hold slots [0, n). */
static bool rec_reserve(JitRecorder *r, uint32_t n)
{
    if (n <= r->nslots)
        return true;
    uint32_t cap = r->nslots * 2u > n ? r->nslots * 2u : n;
    JitRef *slots = realloc(r->slots, cap * sizeof *slots);
    if (slots)
        r->slots = slots;
    bool *written = realloc(r->written, cap * sizeof *written);
    if (written)
        r->written = written;
    JitRef *live = realloc(r->live, cap * sizeof *live);
    if (live)
        r->live = live;
    uint8_t *known = realloc(r->known, cap);
    if (known)
        r->known = known;
    if (!slots || !written || !live || !known)
        return false;
    memset(r->slots + r->nslots, 0, (cap - r->nslots) * sizeof *slots);
    memset(r->written + r->nslots, 0, (cap - r->nslots) * sizeof *written);
    memset(r->known + r->nslots, JIT_T__COUNT, cap - r->nslots); /* no type passed on */
    r->nslots = cap;
    return true;
}

/* A guard that the interpreter's own fast call path applies, so that the
 * frame an exit rebuilds fits where CALL would have put it: the frame
 * array has room for one more above the [depth] already inlined, and the
 * stack up to the callee's last slot [end] (counted from the base) is
 * rooted. Both hold for the trace's whole run (in a loop trace the loads
 * are hoisted and the guards CSE'd by LOOP); the base is the frame's own,
 * not vm->top, which a trace entered through a linked exit (a recursion
 * going on in its function trace) finds as the first trace's entry left
 * it. If either fails the interpreter makes the call, growing what it
 * must or raising "stack overflow" itself. */
static bool rec_call_room(JitRecorder *r, uint32_t end)
{
    JitRef vm = pvmJ_k_gc(&r->ir, JIT_T_PTR, r->vm);
    JitRef nframes = emit(r, JIT_IR_FLOAD, JIT_T_INT, vm, (JitRef)offsetof(VM, nframes));
    JitRef cap = emit(r, JIT_IR_FLOAD, JIT_T_INT, vm, (JitRef)offsetof(VM, frames_cap));
    JitRef used = emit(r, JIT_IR_ADD, JIT_T_INT, nframes, pvmJ_k_int(&r->ir, (int64_t)r->depth - (int64_t)r->popped));
    if (!rec_guard(r, JIT_IR_LT, JIT_T_INT, used, cap))
        return false;
    JitRef base = pvmJ_ir_append(&r->ir, JIT_IR_BASE, JIT_T_PTR, 0, 0);
    JitRef rooted = emit(r, JIT_IR_FLOAD, JIT_T_PTR, vm, (JitRef)offsetof(VM, stack_rooted));
    JitRef need = emit(r, JIT_IR_ADD, JIT_T_PTR, base, pvmJ_k_int(&r->ir, (int64_t)end * (int64_t)sizeof(Value)));
    return rec_guard(r, JIT_IR_LE, JIT_T_PTR, need, rooted);
}

/* A call of the PV closure [cl] at slot [at] with [argc] arguments is
 * inlined: guards that the callee is still that closure and that the call
 * takes the interpreter's fast path, then CHARGE #1 for the call as CALL
 * charges it (last, so that no exit after it re-runs the call and charges
 * it twice), then the model enters the callee's frame: the arguments are
 * the caller's refs where the caller pushed them, the other locals nil. A
 * call the interpreter would make another way (variadic, wrong arity: an
 * error) is not recorded. */
/* Whether [fn] is a closure of [p] the trace made itself (rec_closure):
 * its function is known without a guard, and its cells are the slots it
 * captured (rec_fresh_upval_slot). */
static bool rec_made_closure(JitRecorder *r, JitRef fn, const VmProto *p)
{
    if (pvmJ_ref_is_const(fn) || fn == JIT_REF_NONE)
        return false;
    const JitIns *in = pvmJ_ir_at(&r->ir, fn);
    if (in->op != JIT_IR_CALLR || pvmJ_rt_fn(pvmJ_k_int_value(&r->ir, in->b)) != JIT_RT_CLOSURE)
        return false;
    JitRef c = in->a; /* its one CARG: the function */
    return c != JIT_REF_NONE && pvmJ_ir_at(&r->ir, c)->op == JIT_IR_CARG &&
           r->ir.kval[JIT_REF_BIAS - 1u - pvmJ_ir_at(&r->ir, c)->a] == (uint64_t)(uintptr_t)p;
}

/* The callee [fn] is closure [cl], or with [by_function], a closure of
 * its function. */
static bool rec_guard_callee(JitRecorder *r, JitRef fn, const PvClosure *cl, bool by_function)
{
    if (!by_function)
        return rec_guard(r, JIT_IR_EQ, JIT_T_FN, fn, pvmJ_k_gc(&r->ir, JIT_T_FN, cl));
    JitRef p = emit(r, JIT_IR_FLOAD, JIT_T_PTR, fn, (JitRef)offsetof(PvClosure, proto));
    return rec_guard(r, JIT_IR_EQ, JIT_T_PTR, p, pvmJ_k_gc(&r->ir, JIT_T_PTR, cl->proto));
}

static JitRecStatus rec_inline(JitRecorder *r, uint32_t at, uint32_t argc, PvClosure *cl)
{
    const VmProto *p = cl->proto;
    if (p->variadic)
        return rec_abort(r, JIT_ABORT_NYI_CALL, "a variadic function");
    if (argc != p->nparams)
        return rec_abort(r, JIT_ABORT_NYI_CALL, "a function with a wrong argument count");
    if (r->depth == JIT_MAX_DEPTH)
        return rec_abort(r, JIT_ABORT_CALL_DEPTH, NULL);
    uint32_t base = at + 1, end = base + p->frame_slots;
    if (end > UINT16_MAX || !rec_reserve(r, end))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    JitRef fn = rec_slot(r, at);
    bool fresh = r->status == JIT_REC_GO && rec_made_closure(r, fn, p);
    /* A closure with upvalues is guarded by its function only (its cells
     * are read from it): such closures are made again and again, and a
     * guard on one of them would fail on the next. */
    bool by_function = !fresh && p->nupvals > 0;
    if (r->status != JIT_REC_GO || (!fresh && !rec_guard_callee(r, fn, cl, by_function)) ||
        !rec_call_room(r, end))
        return r->status;
    if (!rec_charge_call(r))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);

    JitRecFrame *fr = &r->frames[r->depth];
    *fr = (JitRecFrame){ .proto = p, .base = base, .ret = r->pc + 1, .fresh = fresh ? fn : JIT_REF_NONE,
                         .closure = by_function ? fn : JIT_REF_NONE };
    JitSnapFrame chain[JIT_MAX_DEPTH];
    for (uint32_t k = 0; k <= r->depth; k++)
        chain[k] = (JitSnapFrame){ .base = (uint16_t)r->frames[k].base,
                                   .ret = r->frames[k].ret,
                                   .ret_ip = &(k ? r->frames[k - 1].proto : r->frame_fn)->code[r->frames[k].ret],
                                   .code = r->frames[k].proto->code };
    fr->chain = pvmJ_snap_add_frames(&r->snaps, chain, (uint16_t)(r->depth + 1));
    if (fr->chain < 0)
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    r->depth++;
    r->inlined++;
    r->fn = p;
    r->fbase = base;
    JitRef nil = pvmJ_k_pri(&r->ir, JIT_T_NIL, false);
    for (uint32_t i = argc; i < p->nlocals; i++)
        rec_set(r, base + i, nil);
    r->top = base + p->nlocals;
    return JIT_REC_GO;
}

/* len(v) of the value [v] that [a] holds (its type guarded where it was
 * loaded): an array's length, a string's bytes, a map's live entries. No
 * instruction a trace can contain changes any of them. */
static JitRef rec_len(JitRecorder *r, JitRef a, Value v)
{
    if (v.type == VT_STRING)
        return emit(r, JIT_IR_FLOAD, JIT_T_INT, a, (JitRef)offsetof(PvString, len));
    if (v.type == VT_MAP)
        return emit(r, JIT_IR_FLOAD, JIT_T_INT, a, (JitRef)offsetof(PvMap, count));
    JitRef unused;
    uint32_t n;
    if (pvmJ_sink_fresh(&r->ir, a) && pvmJ_sink_element(&r->ir, a, -1, &unused, &n))
        return pvmJ_k_int(&r->ir, n); /* an array literal of the trace's */
    return emit(r, JIT_IR_ALEN, JIT_T_INT, a, 0);
}

/* math.floor / math.ceil of a float: rounded, then guarded to be in the
 * int range (NaN fails the ordered guards too), where the interpreter
 * would raise "cannot convert", and truncated to the int. An int is
 * returned as it is. */
static JitRef rec_round_to_int(JitRecorder *r, JitRef a, Value v, bool up)
{
    if (v.type == VT_INT)
        return a;
    JitRef x = up ? emit(r, JIT_IR_NEG, JIT_T_FLT,
                         emit(r, JIT_IR_FLOOR, JIT_T_FLT, emit(r, JIT_IR_NEG, JIT_T_FLT, a, 0), 0), 0)
                  : emit(r, JIT_IR_FLOOR, JIT_T_FLT, a, 0);
    if (!rec_guard(r, JIT_IR_GE, JIT_T_FLT, x, pvmJ_k_float(&r->ir, -0x1p63)) ||
        !rec_guard(r, JIT_IR_LT, JIT_T_FLT, x, pvmJ_k_float(&r->ir, 0x1p63)))
        return JIT_REF_NONE;
    return emit(r, JIT_IR_TOINT, JIT_T_INT, x, 0);
}

/* math.abs: of an int, 0 - x when negative (wrapping at the minimum, as
 * the native does), of a float its value with the sign cleared. The sign
 * seen while recording is guarded: an int's x < 0 or x >= 0, a float's
 * x < 0 or x > 0 (a zero, whose sign the guards cannot see, and NaN exit;
 * one seen while recording is not recorded). */
static JitRef rec_abs(JitRecorder *r, JitRef a, Value v)
{
    bool negative = v.type == VT_INT ? v.as.i < 0 : v.as.f < 0;
    JitType t = v.type == VT_INT ? JIT_T_INT : JIT_T_FLT;
    JitRef zero = t == JIT_T_INT ? pvmJ_k_int(&r->ir, 0) : pvmJ_k_float(&r->ir, 0.0);
    JitOp sign = negative ? JIT_IR_LT : t == JIT_T_INT ? JIT_IR_GE : JIT_IR_GT;
    if (!rec_guard(r, sign, t, a, zero))
        return JIT_REF_NONE;
    return negative ? emit(r, JIT_IR_NEG, t, a, 0) : a;
}

/* math.min / math.max of two ints or two floats: the native returns the
 * first of the extreme ones (or the first NaN). Which one won while
 * recording is guarded: a <= b for min's a, a < b failing for its b (and
 * the same turned round for max); ordered float guards fail on NaN, whose
 * exit leaves the answer to the interpreter. */
static JitRef rec_min_max(JitRecorder *r, JitRef a, JitRef b, Value va, Value vb, bool max)
{
    JitType t = va.type == VT_INT ? JIT_T_INT : JIT_T_FLT;
    double x = t == JIT_T_INT ? (double)va.as.i : va.as.f, y = t == JIT_T_INT ? (double)vb.as.i : vb.as.f;
    bool first = t == JIT_T_INT ? (max ? va.as.i >= vb.as.i : va.as.i <= vb.as.i) : (max ? x >= y : x <= y);
    JitOp keep = max ? JIT_IR_GE : JIT_IR_LE;     /* a wins */
    JitOp other = max ? JIT_IR_LT : JIT_IR_GT;    /* b wins */
    if (!rec_guard(r, first ? keep : other, t, a, b))
        return JIT_REF_NONE;
    return first ? a : b;
}

/* Guards that the map [m] holds the key [k] or not, as [held] while
 * recording: the runtime's lookup (CALLR of rt_has, 2 or 1, never NULL)
 * on the two values the frame holds from slot [first]. */
static bool rec_guard_held(JitRecorder *r, uint32_t first, JitRef m, JitRef k, bool held)
{
    JitRef args[2] = { m, k };
    JitRef c = rec_runtime_call(r, JIT_RT_HAS, first, args, 2, JIT_REF_NONE, JIT_T_INT);
    return c != JIT_REF_NONE && rec_guard(r, JIT_IR_EQ, JIT_T_INT, c, pvmJ_k_int(&r->ir, held ? 2 : 1));
}

/* has(m, k) with a string key: true where the key is found as a field is
 * (rec_field's guards), false where the map's key filter proves it absent
 * (rec_absent); the key is guarded to be the string it is now. With an
 * int key: the runtime's lookup guarded to answer as it did
 * (rec_guard_held). */
static JitRef rec_has(JitRecorder *r, uint32_t first, JitRef m, JitRef k, Value vm_, Value vk)
{
    if (vk.type == VT_INT) {
        bool present = pvmV_map_get(vm_.as.m, vk, NULL);
        return rec_guard_held(r, first, m, k, present) ? pvmJ_k_pri(&r->ir, JIT_T_BOOL, present) : JIT_REF_NONE;
    }
    if (!rec_key_is(r, k, vk.as.s))
        return JIT_REF_NONE;
    bool present = pvmV_map_find_string(vm_.as.m, vk) >= 0;
    if (present ? (rec_field(r, m, vm_.as.m, vk), r->status != JIT_REC_GO)
                : !rec_absent(r, m, vm_.as.m, vk.as.s))
        return JIT_REF_NONE;
    return pvmJ_k_pri(&r->ir, JIT_T_BOOL, present);
}

/* Whether the intrinsic [k] is recorded for these [argc] arguments. */
static bool intrinsic_fits(VmIntrinsic k, uint32_t argc, const Value *args)
{
    switch (k) {
    case VM_INTRINSIC_SQRT: return argc == 1 && vm_is_number(args[0]);
    case VM_INTRINSIC_LEN:
        return argc == 1 && (args[0].type == VT_ARRAY || args[0].type == VT_STRING || args[0].type == VT_MAP);
    case VM_INTRINSIC_FLOOR: case VM_INTRINSIC_CEIL:
        return argc == 1 && vm_is_number(args[0]);
    case VM_INTRINSIC_ABS: /* the sign is guarded: not of a zero or NaN (a leaf call then) */
        return argc == 1 && vm_is_number(args[0]) &&
               !(args[0].type == VT_FLOAT && (isnan(args[0].as.f) || args[0].as.f == 0));
    case VM_INTRINSIC_MIN: case VM_INTRINSIC_MAX: /* which won is guarded: not of NaN */
        return argc == 2 && vm_is_number(args[0]) && args[0].type == args[1].type &&
               !(args[0].type == VT_FLOAT && (isnan(args[0].as.f) || isnan(args[1].as.f)));
    case VM_INTRINSIC_HAS:
        return argc == 2 && args[0].type == VT_MAP && (args[1].type == VT_STRING || args[1].type == VT_INT);
    case VM_INTRINSIC_TYPE: return argc == 1;
    case VM_INTRINSIC_STR:
        return argc == 1 && (args[0].type == VT_INT || args[0].type == VT_FLOAT || args[0].type == VT_STRING);
    case VM_INTRINSIC_REMOVE:
        return argc == 2 && args[0].type == VT_MAP && (args[1].type == VT_STRING || args[1].type == VT_INT);
    case VM_INTRINSIC_PUSH: /* else the interpreter starts the array or changes its kind */
        return argc == 2 && args[0].type == VT_ARRAY && args[0].as.a->len > 0 &&
               pvmV_array_fits(args[0].as.a, args[1]);
    default: return false;
    }
}

/* push(a, v) onto an array with elements, of v's kind (intrinsic_fits
 * saw that while recording): a call of pvmV_array_push (CALLR,
 * jit/alloc.c) on the two arguments where the call has them, growing the
 * array when it is full, which exits before the call when the array has
 * no elements or another kind by then, or its growth could meet the
 * memory limit's check (the interpreter then pushes).
 * Nothing the trace read of any array's length before it is reused after
 * it (JitIR.mutated). The result is push's: nil. */
static JitRef rec_push_call(JitRecorder *r, uint32_t first, JitRef a, JitRef v)
{
    if (!rec_charge_early(r))
        return JIT_REF_NONE;
    JitRef args[2] = { a, v };
    if (rec_runtime_call(r, JIT_RT_PUSH, first, args, 2, JIT_REF_NONE, JIT_T_ARR) == JIT_REF_NONE)
        return JIT_REF_NONE;
    return pvmJ_k_pri(&r->ir, JIT_T_NIL, false);
}

/* remove(m, k) of a string or int key: its value is found first, by the
 * runtime's lookup (CALLR of rt_get, then a load with its type guarded;
 * or, for a key the map does not hold, CALLR of rt_has guarded to answer
 * so), so that every exit is before the removal, which the interpreter
 * would make again; then CALLR of rt_remove makes the entry a tombstone,
 * in place. CALL's unit is charged first, as for push, and each of those
 * exits gives it back. The call marks the IR mutated: later reads of a
 * map's words, fields and key types load again, and the current `for k in
 * m` trip's entry may be gone, so `m[k]` is looked up again. */
static JitRef rec_remove_call(JitRecorder *r, uint32_t first, JitRef m, JitRef k, Value vm_, Value vk)
{
    if (!rec_charge_early(r))
        return JIT_REF_NONE;
    Value now;
    bool held = pvmV_map_get(vm_.as.m, vk, &now);
    JitRef args[2] = { m, k };
    JitRef result = pvmJ_k_pri(&r->ir, JIT_T_NIL, false);
    if (held) {
        JitRef at = rec_runtime_call(r, JIT_RT_GET, first, args, 2, JIT_REF_NONE, JIT_T_PTR);
        if (at == JIT_REF_NONE || (result = rec_load(r, at, now)) == JIT_REF_NONE)
            return JIT_REF_NONE;
    } else if (!rec_guard_held(r, first, m, k, false)) {
        return JIT_REF_NONE;
    }
    if (rec_runtime_call(r, JIT_RT_REMOVE, first, args, 2, JIT_REF_NONE, JIT_T_MAP) == JIT_REF_NONE)
        return JIT_REF_NONE;
    r->iter_map = JIT_REF_NONE;
    return result;
}

/* str(v): a string is itself; an int or a float (its type guarded where
 * it was loaded) is made by the builtin's own code, called from the trace
 * (CALLR of rt_str, jit/alloc.c), which exits before the call when the
 * allocation could meet the memory limit's check (the interpreter then
 * makes it, and raises what it raises). */
static JitRef rec_str_call(JitRecorder *r, uint32_t first, JitRef a, Value v)
{
    if (v.type == VT_STRING)
        return a;
    return rec_runtime_call(r, JIT_RT_STR, first, &a, 1, JIT_REF_NONE, JIT_T_STR);
}

/* The intrinsic's result, as IR; JIT_REF_NONE once the recording stopped. */
static JitRef rec_intrinsic(JitRecorder *r, VmIntrinsic k, uint32_t first, const Value *args)
{
    JitRef a = rec_slot(r, first);
    JitRef b = k == VM_INTRINSIC_MIN || k == VM_INTRINSIC_MAX || k == VM_INTRINSIC_HAS || k == VM_INTRINSIC_PUSH ||
                       k == VM_INTRINSIC_REMOVE
                   ? rec_slot(r, first + 1)
                   : JIT_REF_NONE;
    if (r->status != JIT_REC_GO)
        return JIT_REF_NONE;
    switch (k) {
    case VM_INTRINSIC_SQRT: return emit(r, JIT_IR_SQRT, JIT_T_FLT, rec_to_float(r, a), 0);
    case VM_INTRINSIC_LEN: return rec_len(r, a, args[0]);
    case VM_INTRINSIC_FLOOR: return rec_round_to_int(r, a, args[0], false);
    case VM_INTRINSIC_CEIL: return rec_round_to_int(r, a, args[0], true);
    case VM_INTRINSIC_ABS: return rec_abs(r, a, args[0]);
    case VM_INTRINSIC_HAS: return rec_has(r, first, a, b, args[0], args[1]);
    case VM_INTRINSIC_PUSH: return rec_push_call(r, first, a, b);
    case VM_INTRINSIC_REMOVE: return rec_remove_call(r, first, a, b, args[0], args[1]);
    case VM_INTRINSIC_STR: return rec_str_call(r, first, a, args[0]);
    case VM_INTRINSIC_TYPE: /* the value's type is its ref's, guarded where it was loaded */
        return pvmJ_k_gc(&r->ir, JIT_T_STR, r->vm->type_names[args[0].type]);
    default: return rec_min_max(r, a, b, args[0], args[1], k == VM_INTRINSIC_MAX);
    }
}

/* Whether the argument [v] is one the binding takes without raising
 * (its checks are pvmF_to_c's): an int in the C type's range, a number for
 * a float or a double. Any other makes the interpreter raise at this call,
 * which ends the recording anyway. */
static bool ccall_arg_ok(const VmCArg *p, Value v)
{
    if (p->kind == VM_CARG_INT)
        return v.type == VT_INT && v.as.i >= p->min && v.as.i <= p->max;
    return vm_is_number(v);
}

/* Guards that argument [a] (an int or a float, as its load guarded) passes
 * the binding's checks, and converts it to the parameter's class: an int
 * in range (the interpreter raises the range error after the exit), a
 * float (from an int as pvmF_to_c converts it). */
static JitRef rec_ccall_arg(JitRecorder *r, const VmCArg *p, JitRef a)
{
    if (p->kind != VM_CARG_INT)
        return rec_to_float(r, a);
    if (p->min > INT64_MIN && !rec_guard(r, JIT_IR_GE, JIT_T_INT, a, pvmJ_k_int(&r->ir, p->min)))
        return JIT_REF_NONE;
    if (p->max < INT64_MAX && !rec_guard(r, JIT_IR_LE, JIT_T_INT, a, pvmJ_k_int(&r->ir, p->max)))
        return JIT_REF_NONE;
    return a;
}

/* C code may call back into PV, whose closures see captured locals in the
 * stack, where the trace does not keep them: no open upvalue may point at
 * the trace's frames (the base and above). The list is the trace's entry
 * state, unchanged by anything it does (a callback closes what it opens
 * before it returns), so the check is hoisted: the same head as recorded,
 * and that one below the base. */
static bool rec_no_upvalue_above(JitRecorder *r)
{
    const PvUpval *head = r->vm->open_upvals;
    JitRef kvm = pvmJ_k_gc(&r->ir, JIT_T_PTR, r->vm);
    JitRef up = emit(r, JIT_IR_FLOAD, JIT_T_PTR, kvm, (JitRef)offsetof(VM, open_upvals));
    if (!rec_guard(r, JIT_IR_EQ, JIT_T_PTR, up, pvmJ_k_gc(&r->ir, JIT_T_PTR, head)))
        return false;
    if (!head)
        return true;
    JitRef base = pvmJ_ir_append(&r->ir, JIT_IR_BASE, JIT_T_PTR, 0, 0);
    return rec_guard(r, JIT_IR_LT, JIT_T_PTR, pvmJ_k_gc(&r->ir, JIT_T_PTR, head->v), base);
}

/* The recording ends just before the instruction being recorded, which
 * the interpreter runs: the trace exits there (EXIT). A trace that would
 * be empty is not made ([why], [detail]). */
static JitRecStatus rec_stop_before(JitRecorder *r, JitAbort why, const char *detail)
{
    if (r->recorded <= 1)
        return rec_abort(r, why, detail);
    return pvmJ_record_link(r, &r->fn->code[r->pc], false);
}

/* A call of a native the trace does not record ends it just before the
 * call, as LuaJIT 2.1 stitches: the exit writes the frame back, the
 * interpreter makes the call (its budget, errors and callbacks are its
 * own), and a trace recorded from the instruction after the call (a side
 * trace of this exit) goes on in machine code when it returns (jit.c,
 * pvmJ_stitch). That trace knows nothing of the frame: whatever the call
 * did, its loads guard what they find. */
static JitRecStatus rec_stitch(JitRecorder *r, const char *name)
{
    /* A side trace may be the stitch alone: one starting at the call (an
     * exit just before it, or another stitched call just before it) is
     * what takes machine code on past it. */
    JitRecStatus st = r->side ? pvmJ_record_link(r, &r->fn->code[r->pc], false)
                              : rec_stop_before(r, JIT_ABORT_NYI_CALL, name);
    if (st != JIT_REC_DONE)
        return r->status;
    r->snaps.snaps[r->snaps.nsnaps - 1].stitch = 1;
    return JIT_REC_DONE;
}

/* A snapshot of the frame after the call being recorded: the
 * interpreter resumes past it. */
static bool rec_snapshot_after(JitRecorder *r)
{
    uint32_t pc = r->pc;
    r->pc = pc + 1;
    bool ok = rec_snapshot(r);
    r->pc = pc;
    return ok;
}

/* Guards that the callee in slot [at] is still the native [nat], whose
 * identity is what the recording of its call relies on. */
static bool rec_guard_native(JitRecorder *r, uint32_t at, const PvNative *nat)
{
    JitRef fn = rec_slot(r, at);
    return r->status == JIT_REC_GO &&
           rec_guard(r, JIT_IR_EQ, JIT_T_NATIVE, fn, pvmJ_k_gc(&r->ir, JIT_T_NATIVE, nat));
}

/* A call of an ffi binding the JIT can make itself (vm/runtime/object.h,
 * VmCCall): guards that the callee is that native and that each argument
 * passes its checks, then CHARGE #1 as CALL charges the call, the
 * arguments (CARG) and the call (CALLC), whose result is the PV value the
 * native returns. Its snapshot is the frame after the call: the trace
 * leaves there when a callback ran during it. What the interpreter would
 * refuse (an argument of the wrong type or out of range: it raises) or
 * that C could see inconsistently (a closure holding a local of the
 * trace's frames) is not recorded. */
static JitRecStatus rec_ccall(JitRecorder *r, uint32_t at, uint32_t argc, const PvNative *nat)
{
    const VmCCall *c = nat->ccall;
    if ((int)argc != c->nargs)
        return rec_abort(r, JIT_ABORT_NYI_CALL, "a C function with a wrong argument count");
    if (r->vm->ffi_disabled)
        return rec_abort(r, JIT_ABORT_NYI_CALL, "a C function while the ffi is disabled");
    if (r->vm->open_upvals && r->vm->open_upvals->v >= r->base)
        return rec_stitch(r, "a C function while a closure holds a local of the trace");
    for (uint32_t i = 0; i < argc; i++)
        if (!ccall_arg_ok(&c->args[i], r->base[at + 1 + i]))
            return rec_abort(r, JIT_ABORT_NYI_CALL, "a C function with an argument it refuses");
    if (!rec_guard_native(r, at, nat))
        return r->status;
    JitRef args[VM_CCALL_MAX_ARGS];
    for (uint32_t i = 0; i < argc; i++) {
        JitRef a = rec_slot(r, at + 1 + i);
        if (r->status != JIT_REC_GO)
            return r->status;
        args[i] = rec_ccall_arg(r, &c->args[i], a);
        if (r->status != JIT_REC_GO)
            return r->status;
    }
    if (!rec_no_upvalue_above(r))
        return r->status;
    if (!rec_charge_call(r))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    JitRef chain = JIT_REF_NONE;
    for (uint32_t i = 0; i < argc; i++)
        chain = pvmJ_ir_append(&r->ir, JIT_IR_CARG, JIT_T_VOID, args[i], chain);
    JitType type = c->ret.kind == VM_CARG_VOID ? JIT_T_VOID : c->ret.kind == VM_CARG_INT ? JIT_T_INT : JIT_T_FLT;
    JitRef res = (JitRef)(JIT_REF_BIAS + r->ir.nins);
    r->top = at;
    rec_push(r, type == JIT_T_VOID ? pvmJ_k_pri(&r->ir, JIT_T_NIL, false) : res);
    if (!rec_snapshot_after(r) || r->ir.failed)
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    r->snaps.snaps[r->snaps.nsnaps - 1].ccall = 1;
    if (pvmJ_ir_append(&r->ir, JIT_IR_CALLC, type, chain, pvmJ_k_gc(&r->ir, JIT_T_PTR, c)) != res)
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    return JIT_REC_GO;
}

/* Whether the trace calls the leaf native [nat] itself (VmLeaf) with
 * [argc] arguments: its arity is right (else the interpreter raises),
 * they fit one runtime call, and no memory check is armed. */
static bool leaf_fits(const JitRecorder *r, const PvNative *nat, uint32_t argc)
{
    return nat->leaf != VM_LEAF_NO && (int)argc >= nat->min_args &&
           (nat->max_args < 0 || (int)argc <= nat->max_args) && argc <= JIT_RT_MAX_VALUES &&
           pvmJ_leaf_calls_allowed(r->vm);
}

/* A call of a leaf native (VmLeaf): CALLR of rt_native, which calls it as
 * CALL does, on the arguments where the call has them, and leaves the
 * result in the callee's slot. CALL's unit is charged first and the
 * call's own charges are the VM's (the trace hands over its fuel), so the
 * budget runs out where the interpreter's does; a call that raises exits
 * before it, and the interpreter makes it again and raises. The result's
 * type is not known until the interpreter has made the call too: the
 * next instruction loads it (rec_leaf_result), and until then the slot
 * is the frame's. A native that may change its arguments marks the IR
 * mutated, and gives up the current `for k in m` trip's entry. */
static JitRecStatus rec_leaf_call(JitRecorder *r, uint32_t at, uint32_t argc, const PvNative *nat)
{
    if (!rec_guard_native(r, at, nat))
        return r->status;
    JitRef args[JIT_RT_MAX_VALUES];
    for (uint32_t i = 0; i < argc; i++) {
        args[i] = rec_slot(r, at + 1 + i);
        if (r->status != JIT_REC_GO)
            return r->status;
    }
    if (!rec_charge_early(r))
        return r->status;
    bool mutates = nat->leaf == VM_LEAF_MUTATES;
    JitRef res = rec_runtime_call(r, mutates ? JIT_RT_NATIVE_MUT : JIT_RT_NATIVE, at + 1, args, argc,
                                  pvmJ_k_gc(&r->ir, JIT_T_PTR, nat), JIT_T_PTR);
    r->charged_early = 0;
    if (res == JIT_REF_NONE)
        return r->status;
    if (mutates)
        r->iter_map = JIT_REF_NONE;
    r->top = at + 1;
    r->slots[at] = JIT_REF_NONE;
    r->written[at] = false;
    r->leaf_result = res;
    r->leaf_slot = at;
    /* where the budget the call's own charges spent runs out (the
     * backend's check right after the call) */
    if (!rec_snapshot_after(r))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    return JIT_REC_GO;
}

/* The result of the leaf native's call recorded just before this
 * instruction, now that the interpreter has made the call: a load from
 * the slot the call left it in, its type guarded. Popped at once, it is
 * not loaded. */
static bool rec_leaf_result(JitRecorder *r, const VmInsn *ip)
{
    JitRef at = r->leaf_result;
    uint32_t slot = r->leaf_slot;
    r->leaf_result = JIT_REF_NONE;
    if (ip->orig == OP_POP && r->top == slot + 1)
        return true;
    JitRef v = rec_load(r, at, r->base[slot]);
    if (v == JIT_REF_NONE)
        return false;
    rec_set(r, slot, v);
    return true;
}

/* A call to a native the standard library marked as an intrinsic becomes
 * IR, after a guard that the callee is that very native; a plain C call
 * an ffi binding makes is made by the trace itself, and so is a call of
 * a leaf native (VmLeaf); a PV closure is inlined; the trace ends before
 * any other native's call, and goes on after it (rec_stitch). */
static JitRecStatus rec_call(JitRecorder *r, uint32_t argc)
{
    uint32_t at = r->top - argc - 1;
    Value callee = r->base[at];
    if (callee.type == VT_CLOSURE)
        return rec_inline(r, at, argc, callee.as.cl);
    if (callee.type != VT_NATIVE)
        return rec_abort(r, JIT_ABORT_NYI_CALL, "a non-function");
    if (callee.as.nat->ccall)
        return rec_ccall(r, at, argc, callee.as.nat);
    VmIntrinsic k = callee.as.nat->intrinsic;
    if (!intrinsic_fits(k, argc, &r->base[at + 1]))
        return leaf_fits(r, callee.as.nat, argc) ? rec_leaf_call(r, at, argc, callee.as.nat)
                                                 : rec_stitch(r, callee.as.nat->name->chars);
    if (!rec_guard_native(r, at, callee.as.nat))
        return r->status;
    JitRef res = rec_intrinsic(r, k, at + 1, &r->base[at + 1]);
    r->charged_early = 0;
    if (r->status != JIT_REC_GO)
        return r->status;
    /* push's and remove's are before their runtime calls */
    if (k != VM_INTRINSIC_PUSH && k != VM_INTRINSIC_REMOVE && !rec_charge_call(r))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    r->top = at;
    rec_push(r, res);
    return JIT_REC_GO;
}

/* ret of an inlined callee: its result goes where its closure was, as the
 * interpreter's RET puts it, and the model is back in the caller. (The
 * callee made no closures and opened no try, which are not recorded, so
 * RET has no upvalues to close nor handlers to drop.) The loop's own
 * function returning leaves the trace: not recorded. */
/* A side or function trace returning from the frame it runs in goes on in
 * the caller, where the interpreter's RET would: at the caller's saved ip,
 * with the result in the caller's slot that held the callee. That RET
 * would do nothing else is guarded (the frame below is at the recorded
 * caller's call site, with the callee's base where that call site puts it, so it is a PV call
 * in this same activation; it is not the frame the running pvmV_execute
 * returns to C at, vm->exec_stop, as when a native called this one; no
 * open upvalue; as many handlers as recorded, none of them this frame's),
 * then RETF moves the base down to the caller's. The model then is the
 * caller's frame: its slots below the callee are read from the stack when
 * used. */
/* A return the trace does not follow: a side or function trace ends
 * before it, and the interpreter makes it; a loop's root trace is not
 * made. */
static JitRecStatus rec_return_here(JitRecorder *r, const char *why)
{
    if (!(r->side || r->func))
        return rec_abort(r, JIT_ABORT_RETURN, NULL);
    return rec_stop_before(r, JIT_ABORT_RETURN, why);
}

/* Whether a frame of [p] can own an open upvalue or a handler: only its
 * own CLOSURE of a function capturing one of its locals opens upvalues on
 * its slots, and only its own TRY pushes a handler for it. The return is
 * guarded to find none anywhere, as when it was recorded, only where the
 * frame returning or the caller, which the trace goes on in, can own
 * them; frames further down do not matter until the trace returns to
 * them, and that return is guarded in its turn. */
static void frame_may_own(const VmProto *p, bool *upvals, bool *handlers)
{
    for (uint32_t i = 0; i < p->ncode; i++) {
        const VmInsn *in = &p->code[i];
        if (in->orig == OP_TRY)
            *handlers = true;
        if (in->orig != OP_CLOSURE)
            continue;
        const VmProto *inner = p->program->protos[in->arg];
        for (uint32_t u = 0; u < inner->nupvals; u++)
            if (inner->upvals[u].from_local)
                *upvals = true;
    }
}

static JitRecStatus rec_return_to_caller(JitRecorder *r)
{
    VM *vm = r->vm;
    size_t fi = r->frame_index;
    if (fi <= vm->exec_stop)
        return rec_return_here(r, "to C");
    if (vm->open_upvals || r->handlers_changed ||
        (vm->nhandlers > vm->pcall_handlers && vm->handlers[vm->nhandlers - 1].frame >= fi))
        return rec_return_here(r, "with upvalues or handlers to drop");
    if (r->popped == JIT_MAX_POPS)
        return rec_return_here(r, "past the frames a trace may return from");
    const VmFrame *caller = &vm->frames[fi - 1];
    ptrdiff_t off = r->base - caller->base;
    if (off < 1 || (size_t)off > caller->closure->proto->frame_slots)
        return rec_return_here(r, "to a frame elsewhere on the stack");
    JitRef v = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    JitRef kvm = pvmJ_k_gc(&r->ir, JIT_T_PTR, vm);
    /* The count as the trace found it, [popped] RETFs ago: loaded before
     * the first, and kept. A load after it could read the count a RETF
     * has taken a frame off (it stores the count when a C call follows
     * it, jit/assemble.c, plan_pops), where a C call that changes
     * objects has kept the load from being the first one again. */
    if (r->popped == 0)
        r->nframes_entry = emit(r, JIT_IR_FLOAD, JIT_T_INT, kvm, (JitRef)offsetof(VM, nframes));
    JitRef n = r->nframes_entry;
    JitRef frames = emit(r, JIT_IR_FLOAD, JIT_T_PTR, kvm, (JitRef)offsetof(VM, frames));
    JitRef index = emit(r, JIT_IR_SUB, JIT_T_INT, n, pvmJ_k_int(&r->ir, 2 + (int64_t)r->popped));
    JitRef stop = emit(r, JIT_IR_FLOAD, JIT_T_INT, kvm, (JitRef)offsetof(VM, exec_stop));
    if (!rec_guard(r, JIT_IR_GE, JIT_T_INT, index, stop))
        return r->status;
    /* &frames[nframes] once per trace; each return's frame is a constant
     * offset from it, which the backend folds into the load */
    JitRef end = emit(r, JIT_IR_ADD, JIT_T_PTR, frames,
                      emit(r, JIT_IR_MUL, JIT_T_INT, n, pvmJ_k_int(&r->ir, (int64_t)sizeof(VmFrame))));
    JitRef at = emit(r, JIT_IR_ADD, JIT_T_PTR, end,
                     pvmJ_k_int(&r->ir, -(int64_t)sizeof(VmFrame) * (2 + (int64_t)r->popped)));
    JitRef ip = emit(r, JIT_IR_FLOAD, JIT_T_PTR, at, (JitRef)offsetof(VmFrame, ip));
    /* The saved ip names the caller's function (its code is its own); which
     * closure of it runs does not matter: the trace reads the caller's
     * upvalues through the closure in its frame, and exits leave it there.
     * It also fixes where the caller's base is: within one pvmV_execute
     * (the guard above) the frame was pushed by the CALL before that ip,
     * whose callee's base is the caller's plus the stack depth the
     * verifier fixed there, [off] (an exit pushing frames writes the same
     * bases), so the base needs no guard of its own. */
    bool may_upvals = false, may_handlers = false;
    frame_may_own(r->frame_fn, &may_upvals, &may_handlers);
    frame_may_own(caller->closure->proto, &may_upvals, &may_handlers);
    if (!rec_guard(r, JIT_IR_EQ, JIT_T_PTR, ip, pvmJ_k_gc(&r->ir, JIT_T_PTR, caller->ip)))
        return r->status;
    if (may_upvals) {
        JitRef upvals = emit(r, JIT_IR_FLOAD, JIT_T_PTR, kvm, (JitRef)offsetof(VM, open_upvals));
        if (!rec_guard(r, JIT_IR_EQ, JIT_T_PTR, upvals, pvmJ_k_gc(&r->ir, JIT_T_PTR, NULL)))
            return r->status;
    }
    if (may_handlers) {
        JitRef nh = emit(r, JIT_IR_FLOAD, JIT_T_INT, kvm, (JitRef)offsetof(VM, nhandlers));
        if (!rec_guard(r, JIT_IR_EQ, JIT_T_INT, nh, pvmJ_k_int(&r->ir, (int64_t)vm->nhandlers)))
            return r->status;
    }
    pvmJ_ir_append(&r->ir, JIT_IR_RETF, JIT_T_VOID, (JitRef)off, 0);
    if (r->ir.failed)
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    /* the model is the caller's frame now */
    uint32_t callee = (uint32_t)off - 1;
    memset(r->slots, 0, r->nslots * sizeof *r->slots);
    memset(r->written, 0, r->nslots * sizeof *r->written);
    /* what the parent's exit wrote was the callee's frame, not this one */
    memset(r->known, JIT_T__COUNT, r->nslots);
    if (!rec_reserve(r, caller->closure->proto->frame_slots + 1u))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    r->base = caller->base;
    r->frame_index = fi - 1;
    r->frame_fn = caller->closure->proto;
    r->fn = r->frame_fn;
    r->top0 += (uint32_t)off;
    r->popped++;
    r->top = callee;
    rec_push(r, v);
    return JIT_REC_GO;
}

static JitRecStatus rec_return(JitRecorder *r)
{
    if (r->depth == 0)
        return rec_return_to_caller(r);
    JitRef v = rec_slot(r, r->top - 1);
    if (r->status != JIT_REC_GO)
        return r->status;
    /* ret closes the cells open on the frame, as the interpreter's RET */
    if (r->frames[r->depth - 1].cells && rec_close_cells(r, 0) != JIT_REC_GO)
        return r->status;
    const JitRecFrame *fr = &r->frames[--r->depth];
    rec_set(r, fr->base - 1, v);
    r->top = fr->base;
    r->fn = r->depth > 0 ? r->frames[r->depth - 1].proto : r->frame_fn;
    r->fbase = r->depth > 0 ? r->frames[r->depth - 1].base : 0;
    return JIT_REC_GO;
}

static JitGlobal *rec_global(JitRecorder *r, const Value *addr)
{
    for (uint32_t i = 0; i < r->nglobals; i++)
        if (r->globals[i].addr == addr)
            return &r->globals[i];
    if (r->nglobals == JIT_MAX_GLOBALS)
        return NULL;
    r->globals[r->nglobals] = (JitGlobal){ .addr = addr, .ref = JIT_REF_NONE };
    return &r->globals[r->nglobals++];
}

/* A function in a global bound once for good (load.c) is a constant of
 * the trace: the host's pvm_set_global, the one other writer, drops
 * every trace (jit.c, drop_if_rebound). */
static bool rec_global_fixed(const VmModule *mod, uint32_t index)
{
    if (!mod->global_once || !mod->global_once[index])
        return false;
    return vm_is_function(mod->globals[index]);
}

/* Module globals live at fixed addresses while the module does: a load
 * guards the type it finds, and a function bound once is a constant
 * instead; later reads in the trace reuse what the trace last loaded or
 * stored there (nothing else in a trace writes globals). */
static JitRecStatus rec_getglobal(JitRecorder *r, const VmModule *mod, uint32_t index)
{
    const Value *addr = &mod->globals[index];
    JitGlobal *g = rec_global(r, addr);
    if (!g)
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    if (g->ref == JIT_REF_NONE && rec_global_fixed(mod, index)) {
        g->ref = pvmJ_k_gc(&r->ir, type_of(*addr), addr->as.p);
    } else if (g->ref == JIT_REF_NONE) {
        if (!rec_snapshot(r))
            return rec_abort(r, JIT_ABORT_LIMIT, NULL);
        JitRef where = pvmJ_k_gc(&r->ir, JIT_T_PTR, addr);
        g->ref = pvmJ_ir_append(&r->ir, JIT_IR_GLOAD, type_of(*addr), where, 0);
    }
    rec_push(r, g->ref);
    return JIT_REC_GO;
}

static JitRecStatus rec_setglobal(JitRecorder *r, const Value *addr)
{
    JitGlobal *g = rec_global(r, addr);
    JitRef v = rec_slot(r, r->top - 1);
    if (!g)
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    if (r->status != JIT_REC_GO)
        return r->status;
    pvmJ_ir_append(&r->ir, JIT_IR_GSTORE, JIT_T_VOID, pvmJ_k_gc(&r->ir, JIT_T_PTR, addr), v);
    g->ref = v;
    r->top--;
    return JIT_REC_GO;
}

static JitRecStatus rec_stack(JitRecorder *r, Opcode op)
{
    JitRef a, b;
    switch (op) {
    case OP_NOP: break;
    case OP_POP: r->top--; break;
    case OP_DUP: rec_push(r, rec_slot(r, r->top - 1)); break;
    case OP_DUP2:
        a = rec_slot(r, r->top - 2);
        b = rec_slot(r, r->top - 1);
        rec_push(r, a);
        rec_push(r, b);
        break;
    default: /* SWAP */
        a = rec_slot(r, r->top - 2);
        b = rec_slot(r, r->top - 1);
        rec_set(r, r->top - 2, b);
        rec_set(r, r->top - 1, a);
    }
    return r->status;
}

/* An array or map literal (array n, map n): the trace calls the
 * interpreter's own constructor (CALLR, jit/alloc.c) on the operands,
 * which it stores where the interpreter has them; the call's NULL (an
 * allocation the interpreter must make, with its memory checks) exits
 * before the instruction. The instruction charges no budget, and the
 * call takes none. A map's keys must be of types map_set never refuses
 * (nil raises, a float may be NaN), which their loads' guards keep. */
static JitRecStatus rec_new(JitRecorder *r, Opcode op, uint32_t n)
{
    bool map = op == OP_MAP;
    uint32_t nvals = map ? 2u * n : n;
    if (nvals > JIT_RT_MAX_VALUES || (map && n > JIT_RT_MAX_PAIRS))
        return rec_abort(r, JIT_ABORT_NYI_TYPES, map ? "map literal of more than 8 pairs"
                                                     : "array literal of more than 32 elements");
    uint32_t at = r->top - nvals;
    JitRef vals[JIT_RT_MAX_VALUES];
    for (uint32_t i = 0; i < nvals; i++) {
        Value v = r->base[at + i];
        if (map && i % 2 == 0 && (v.type == VT_NIL || v.type == VT_FLOAT))
            return rec_abort(r, JIT_ABORT_NYI_TYPES, "map literal with a nil or float key");
        vals[i] = rec_slot(r, at + i);
        if (r->status != JIT_REC_GO)
            return r->status;
    }
    JitRef res = rec_runtime_call(r, map ? JIT_RT_MAP : JIT_RT_ARRAY, at, vals, nvals, JIT_REF_NONE,
                                  map ? JIT_T_MAP : JIT_T_ARR);
    if (r->status != JIT_REC_GO)
        return r->status;
    r->top = at;
    rec_push(r, res);
    return JIT_REC_GO;
}

static JitRecStatus rec_dispatch(JitRecorder *r, const VmInsn *ip)
{
    Opcode op = (Opcode)ip->orig;
    switch (op) {
    case OP_NOP: case OP_POP: case OP_DUP: case OP_DUP2: case OP_SWAP:
        return rec_stack(r, op);
    case OP_CONST: return rec_const(r, r->fn->consts[ip->arg]);
    case OP_INT: rec_push(r, pvmJ_k_int(&r->ir, ip->arg)); return JIT_REC_GO;
    case OP_NIL: rec_push(r, pvmJ_k_pri(&r->ir, JIT_T_NIL, false)); return JIT_REC_GO;
    case OP_TRUE: rec_push(r, pvmJ_k_pri(&r->ir, JIT_T_BOOL, true)); return JIT_REC_GO;
    case OP_FALSE: rec_push(r, pvmJ_k_pri(&r->ir, JIT_T_BOOL, false)); return JIT_REC_GO;
    case OP_GETLOCAL: rec_push(r, rec_slot(r, r->fbase + (uint32_t)ip->arg)); return r->status;
    case OP_SETLOCAL:
        rec_set(r, r->fbase + (uint32_t)ip->arg, rec_slot(r, r->top - 1));
        r->top--;
        return r->status;
    case OP_GETUPVAL: return rec_getupval(r, (uint32_t)ip->arg);
    case OP_CLOSURE: return rec_closure(r, (uint32_t)ip->arg);
    case OP_CLOSE: return rec_close_cells(r, (uint32_t)ip->arg);
    case OP_SETUPVAL: return rec_setupval(r, (uint32_t)ip->arg);
    case OP_GETGLOBAL: return rec_getglobal(r, r->fn->module, (uint32_t)ip->arg);
    case OP_SETGLOBAL: return rec_setglobal(r, &r->fn->module->globals[ip->arg]);
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
    case OP_BAND: case OP_BOR: case OP_BXOR: case OP_SHL: case OP_SHR:
        return rec_arith(r, op);
    case OP_NEG: case OP_BNOT: case OP_NOT: return rec_unary(r, op);
    case OP_LT: case OP_LE: case OP_GT: case OP_GE: return rec_order(r, op);
    case OP_EQ: case OP_NE: return rec_equal(r, op);
    case OP_JMP: return rec_jump(r, ip);
    case OP_JMPF: return rec_branch(r, ip, false, false);
    case OP_JMPT: return rec_branch(r, ip, true, false);
    case OP_JMPFK: return rec_branch(r, ip, false, true);
    case OP_JMPTK: return rec_branch(r, ip, true, true);
    case OP_RANGE:
        if (r->base[r->top - 2].type != VT_INT || r->base[r->top - 1].type != VT_INT)
            return rec_abort(r, JIT_ABORT_NYI_TYPES, "range");
        rec_slot(r, r->top - 2);
        rec_slot(r, r->top - 1);
        return r->status;
    case OP_ITER: return rec_iter(r);
    case OP_FORNEXT: return rec_fornext(r);
    case OP_GETINDEX: return rec_getindex(r);
    case OP_SETINDEX: return rec_setindex(r);
    case OP_GETNAME: return rec_getname(r, r->fn->consts[ip->arg]);
    case OP_GETFIELD: return rec_getfield(r, r->fn->consts[ip->arg]);
    case OP_GETOR: return rec_getor(r, ip);
    case OP_TRY: return rec_try(r, ip);
    case OP_ENDTRY: return rec_endtry(r);
    case OP_GETMETHOD: return rec_getmethod(r, r->fn->consts[ip->arg]);
    case OP_SETFIELD: return rec_setfield(r, r->fn->consts[ip->arg]);
    case OP_CALL: return rec_call(r, (uint32_t)ip->arg);
    case OP_THROW: case OP_RAISE: /* the interpreter throws, with its own handlers,
                                   * message and stack trace */
        return rec_stop_before(r, JIT_ABORT_NYI_BYTECODE, pvmB_opcode_info[op].mnemonic);
    case OP_RET: return rec_return(r);
    case OP_ARRAY: case OP_MAP: return rec_new(r, op, (uint32_t)ip->arg);
    default: return rec_abort(r, JIT_ABORT_NYI_BYTECODE, pvmB_opcode_info[op].mnemonic);
    }
}

/* --- Lifecycle ----------------------------------------------------------- */

static bool record_init(JitRecorder *r, VM *vm, const VmFrame *f, uint32_t start, uint32_t loop_end)
{
    const VmProto *p = f->closure->proto;
    memset(r, 0, sizeof *r);
    r->vm = vm;
    pvmJ_ir_init(&r->ir);
    pvmJ_snap_init(&r->snaps);
    r->proto = p;
    r->frame_fn = p;
    r->start = start;
    r->loop_end = loop_end;
    r->frame_index = vm->nframes - 1;
    r->base = f->base;
    r->fn = p;
    r->nslots = p->frame_slots;
    r->top = (uint32_t)(vm->top - f->base);
    r->top0 = r->top;
    r->slots = calloc(r->nslots, sizeof *r->slots);
    r->written = calloc(r->nslots, sizeof *r->written);
    r->live = calloc(r->nslots, sizeof *r->live);
    r->known = malloc(r->nslots ? r->nslots : 1);
    if (!r->slots || !r->written || !r->live || !r->known) {
        pvmJ_record_free(r);
        return false;
    }
    memset(r->known, JIT_T__COUNT, r->nslots);
    r->status = JIT_REC_GO;
    return true;
}

bool pvmJ_record_start(JitRecorder *r, VM *vm, const VmFrame *f, const VmInsn *back_edge, uint32_t unroll)
{
    const VmProto *p = f->closure->proto;
    if (!record_init(r, vm, f, (uint32_t)back_edge->arg, (uint32_t)(back_edge - p->code)))
        return false;
    r->unroll_left = unroll;
    return true;
}

bool pvmJ_record_start_function(JitRecorder *r, VM *vm, const VmFrame *f, uint32_t unroll)
{
    if (!record_init(r, vm, f, 0, JIT_FUNCTION_ROOT))
        return false;
    r->func = true;
    r->unroll_left = unroll;
    return true;
}

bool pvmJ_record_recursive(const JitRecorder *r)
{
    if (r->depth == 0)
        return false;
    if (r->frame_fn == r->fn)
        return true;
    for (uint32_t k = 0; k + 1 < r->depth; k++)
        if (r->frames[k].proto == r->fn)
            return true;
    return false;
}

bool pvmJ_record_start_side(JitRecorder *r, VM *vm, const VmFrame *f, uint32_t pc, uint32_t unroll,
                            const VmProto *tree_fn, uint32_t tree_start)
{
    if (!record_init(r, vm, f, pc, f->closure->proto->ncode))
        return false;
    r->side = true;
    r->unroll_left = unroll;
    r->tree_fn = tree_fn;
    r->tree_start = tree_start;
    return true;
}

void pvmJ_record_known_type(JitRecorder *r, uint32_t slot, JitType type)
{
    if (slot < r->top0)
        r->known[slot] = (uint8_t)type;
}

void pvmJ_record_implied(JitRecorder *r, uint32_t slot, JitOp op, int64_t k)
{
    op = int_order(op);
    if (slot >= r->top0 || r->nimplied == JIT_MAX_IMPLIED)
        return;
    if (r->nimplied > 0 && (r->implied_op != op || r->implied_k != k))
        return;
    r->implied_op = (uint8_t)op;
    r->implied_k = k;
    r->implied_slots[r->nimplied++] = slot;
}

void pvmJ_record_known_int(JitRecorder *r, uint32_t slot)
{
    if (slot < r->top0 && r->base[slot].type == VT_INT)
        r->slots[slot] = pvmJ_k_int(&r->ir, r->base[slot].as.i);
}

JitRecStatus pvmJ_record_ins(JitRecorder *r, VM *vm, const VmFrame *f, const VmInsn *ip)
{
    if (r->status != JIT_REC_GO)
        return r->status;
    if (vm->nframes - 1 != r->frame_index + r->depth || f->base != r->base + r->fbase)
        return rec_abort(r, JIT_ABORT_FRAME, NULL);
    r->pc = (uint32_t)(ip - r->fn->code);
    if (!in_loop(r, r->pc))
        return rec_abort(r, JIT_ABORT_LEAVE_LOOP, NULL);
    if ((uint32_t)(vm->top - r->base) != r->top)
        return rec_abort(r, JIT_ABORT_ERROR, "stack out of step"); /* a bug, caught safely */
    if (++r->recorded > JIT_MAX_RECORD)
        return rec_abort(r, JIT_ABORT_TOO_LONG, NULL);
    if (r->leaf_result != JIT_REF_NONE && !rec_leaf_result(r, ip))
        return r->status;
    JitRecStatus st = rec_dispatch(r, ip);
    if (st == JIT_REC_GO && (r->ir.failed || r->snaps.failed))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    return r->status;
}

JitRecStatus pvmJ_record_link(JitRecorder *r, const VmInsn *ip, bool entry)
{
    if (r->status != JIT_REC_GO)
        return r->status;
    r->pc = (uint32_t)(ip - r->fn->code);
    if (!rec_snapshot(r))
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    pvmJ_ir_append(&r->ir, JIT_IR_EXIT, JIT_T_VOID, 0, 0);
    if (r->ir.failed)
        return rec_abort(r, JIT_ABORT_LIMIT, NULL);
    r->links = true;
    r->link_entry = entry;
    r->status = JIT_REC_DONE;
    return r->status;
}

void pvmJ_record_cancel(JitRecorder *r, JitAbort why)
{
    if (r->status == JIT_REC_GO)
        rec_abort(r, why, NULL);
}

void pvmJ_record_free(JitRecorder *r)
{
    for (uint32_t i = 0; i < r->nlive_fns; i++)
        pvmJ_live_free(&r->live_fns[i]);
    r->nlive_fns = 0;
    pvmJ_ir_free(&r->ir);
    pvmJ_snap_free(&r->snaps);
    free(r->slots);
    free(r->written);
    free(r->live);
    free(r->known);
    r->slots = NULL;
    r->written = NULL;
    r->live = NULL;
    r->known = NULL;
}
