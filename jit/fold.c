/* The fold engine: every instruction the recorder emits passes through
 * here. In order: constant operands are folded (with the interpreter's own
 * definitions of each operation, vm/interp/arith.h, so a folded result is
 * the one the interpreter would compute), algebraic identities that hold
 * for every input are applied, and a pure instruction identical to an
 * earlier one is replaced by it (CSE). Only what survives is appended.
 *
 * Float identities are few on purpose: x + 0.0 is not x when x is -0.0,
 * and x * 0.0 is not 0.0 when x is NaN, inf or negative; the results must
 * be bit-identical to the interpreter's. */
#include <math.h>

#include "jit/ir.h"
#include "vm/interp/arith.h"

static bool is_any_kint(const JitIR *ir, JitRef r)
{
    return pvmJ_ref_is_const(r) && pvmJ_ir_at(ir, r)->op == JIT_IR_KINT;
}

static bool is_kint(const JitIR *ir, JitRef r, int64_t v)
{
    return is_any_kint(ir, r) && pvmJ_k_int_value(ir, r) == v;
}

static bool is_kflt(const JitIR *ir, JitRef r, double v)
{
    if (!pvmJ_ref_is_const(r))
        return false;
    const JitIns *k = pvmJ_ir_at(ir, r);
    return k->op == JIT_IR_KFLT && pvmJ_k_float_value(ir, r) == v && !signbit(pvmJ_k_float_value(ir, r)) == !signbit(v);
}

static bool both_const(const JitIR *ir, JitOp op, JitRef a, JitRef b)
{
    const JitOpInfo *info = &pvmJ_ir_ops[op];
    if (info->o1 != JIT_O_REF || !pvmJ_ref_is_const(a))
        return false;
    return info->o2 != JIT_O_REF || pvmJ_ref_is_const(b);
}

/* The bytecode operation an IR arithmetic op computes: the key into the
 * interpreter's definitions. */
static Opcode bytecode_op(JitOp op)
{
    switch (op) {
    case JIT_IR_ADD: return OP_ADD;
    case JIT_IR_SUB: return OP_SUB;
    case JIT_IR_MUL: return OP_MUL;
    case JIT_IR_DIV: return OP_DIV;
    case JIT_IR_MOD: return OP_MOD;
    case JIT_IR_BAND: return OP_BAND;
    case JIT_IR_BOR: return OP_BOR;
    case JIT_IR_BXOR: return OP_BXOR;
    case JIT_IR_SHL: return OP_SHL;
    case JIT_IR_SHR: return OP_SHR;
    case JIT_IR_LT: return OP_LT;
    case JIT_IR_LE: return OP_LE;
    case JIT_IR_GT: return OP_GT;
    case JIT_IR_GE: return OP_GE;
    default: return OP_NOP;
    }
}

/* Integer constant folding. DIV and MOD by zero are left alone: the
 * recorder guards the divisor, and a trace never raises. */
static bool fold_int(JitIR *ir, JitOp op, int64_t x, int64_t y, JitRef *out)
{
    int64_t r;
    if (op == JIT_IR_NEG)
        r = pvmV_int_op(OP_SUB, 0, x);
    else if (op == JIT_IR_BNOT)
        r = ~x;
    else if (bytecode_op(op) == OP_NOP || ((op == JIT_IR_DIV || op == JIT_IR_MOD) && y == 0))
        return false;
    else
        r = pvmV_int_op(bytecode_op(op), x, y);
    *out = pvmJ_k_int(ir, r);
    return true;
}

static bool fold_float(JitIR *ir, JitOp op, double x, double y, JitRef *out)
{
    double r;
    switch (op) {
    case JIT_IR_ADD: case JIT_IR_SUB: case JIT_IR_MUL: case JIT_IR_DIV: case JIT_IR_MOD:
        r = pvmV_float_op(bytecode_op(op), x, y);
        break;
    case JIT_IR_NEG: r = -x; break;
    case JIT_IR_SQRT: r = sqrt(x); break;
    case JIT_IR_FLOOR: r = floor(x); break;
    default: return false;
    }
    *out = pvmJ_k_float(ir, r);
    return true;
}

/* A guard on constants either always holds (true) or never does. */
static bool guard_holds_int(JitOp op, int64_t x, int64_t y)
{
    if (op == JIT_IR_EQ || op == JIT_IR_NE)
        return (x == y) == (op == JIT_IR_EQ);
    if (op >= JIT_IR_ULT) /* no NaN among ints: !(x >= y) is x < y */
        return !pvmV_int_order(bytecode_op(pvmJ_guard_negation(op)), x, y);
    return pvmV_int_order(bytecode_op(op), x, y);
}

/* With a NaN every ordered comparison is false and every unordered one
 * true; EQ is false and NE true, as in the interpreter. */
static bool guard_holds_float(JitOp op, double x, double y)
{
    if (op == JIT_IR_EQ || op == JIT_IR_NE)
        return (x == y) == (op == JIT_IR_EQ);
    if (op >= JIT_IR_ULT)
        return !pvmV_float_order(bytecode_op(pvmJ_guard_negation(op)), x, y);
    return pvmV_float_order(bytecode_op(op), x, y);
}

JitOp pvmJ_guard_negation(JitOp op)
{
    switch (op) {
    case JIT_IR_LT: return JIT_IR_UGE;
    case JIT_IR_GE: return JIT_IR_ULT;
    case JIT_IR_LE: return JIT_IR_UGT;
    case JIT_IR_GT: return JIT_IR_ULE;
    case JIT_IR_ULT: return JIT_IR_GE;
    case JIT_IR_UGE: return JIT_IR_LT;
    case JIT_IR_ULE: return JIT_IR_GT;
    case JIT_IR_UGT: return JIT_IR_LE;
    case JIT_IR_EQ: return JIT_IR_NE;
    default: return JIT_IR_EQ;
    }
}

static bool is_compare(JitOp op)
{
    return op >= JIT_IR_LT && op <= JIT_IR_UGT;
}

static bool fold_constants(JitIR *ir, JitOp op, JitType type, JitRef a, JitRef b,
                           JitRef *out, bool *always_fails)
{
    const JitIns *ka = pvmJ_ir_at(ir, a);
    bool unary = pvmJ_ir_ops[op].o2 != JIT_O_REF;
    if (op == JIT_IR_TOFLT && ka->op == JIT_IR_KINT) {
        *out = pvmJ_k_float(ir, (double)pvmJ_k_int_value(ir, a));
        return true;
    }
    if (ka->op == JIT_IR_KINT && (unary || pvmJ_ir_at(ir, b)->op == JIT_IR_KINT)) {
        int64_t x = pvmJ_k_int_value(ir, a), y = unary ? 0 : pvmJ_k_int_value(ir, b);
        if (is_compare(op)) {
            *always_fails = !guard_holds_int(op, x, y);
            *out = JIT_REF_NONE;
            return true;
        }
        return type == JIT_T_INT && fold_int(ir, op, x, y, out);
    }
    if (ka->op == JIT_IR_KFLT && (unary || pvmJ_ir_at(ir, b)->op == JIT_IR_KFLT)) {
        double x = pvmJ_k_float_value(ir, a), y = unary ? 0 : pvmJ_k_float_value(ir, b);
        if (is_compare(op)) {
            *always_fails = !guard_holds_float(op, x, y);
            *out = JIT_REF_NONE;
            return true;
        }
        return type == JIT_T_FLT && fold_float(ir, op, x, y, out);
    }
    if (ka->op == JIT_IR_KGC && !unary && pvmJ_ir_at(ir, b)->op == JIT_IR_KGC &&
        (op == JIT_IR_EQ || op == JIT_IR_NE)) { /* identities: a global bound once against its callee */
        bool same = pvmJ_k_int_value(ir, a) == pvmJ_k_int_value(ir, b);
        *always_fails = same != (op == JIT_IR_EQ);
        *out = JIT_REF_NONE;
        return true;
    }
    return false;
}

/* Identities that hold for every value of the other operand. */
static bool simplify_int(JitIR *ir, JitOp op, JitRef a, JitRef b, JitRef *out)
{
    switch (op) {
    case JIT_IR_ADD: case JIT_IR_BOR: case JIT_IR_BXOR: case JIT_IR_SHL: case JIT_IR_SHR:
        if (is_kint(ir, b, 0)) { *out = a; return true; }
        break;
    case JIT_IR_SUB:
        if (is_kint(ir, b, 0)) { *out = a; return true; }
        if (a == b) { *out = pvmJ_k_int(ir, 0); return true; }
        break;
    case JIT_IR_MUL:
        if (is_kint(ir, b, 1)) { *out = a; return true; }
        if (is_kint(ir, b, 0)) { *out = b; return true; }
        break;
    case JIT_IR_DIV:
        if (is_kint(ir, b, 1)) { *out = a; return true; }
        break;
    case JIT_IR_BAND:
        if (is_kint(ir, b, -1) || a == b) { *out = a; return true; }
        if (is_kint(ir, b, 0)) { *out = b; return true; }
        break;
    default:
        break;
    }
    return false;
}

static bool simplify_float(JitIR *ir, JitOp op, JitRef a, JitRef b, JitRef *out)
{
    switch (op) {
    case JIT_IR_ADD: /* x + -0.0 is x for every x; x + 0.0 is not (-0.0) */
        if (is_kflt(ir, b, -0.0)) { *out = a; return true; }
        break;
    case JIT_IR_SUB: /* x - 0.0 is x for every x, -0.0 included */
        if (is_kflt(ir, b, 0.0)) { *out = a; return true; }
        break;
    case JIT_IR_MUL: case JIT_IR_DIV:
        if (is_kflt(ir, b, 1.0)) { *out = a; return true; }
        break;
    default:
        break;
    }
    return false;
}

/* Commutative operations put a constant on the right and otherwise the
 * older ref first, so CSE sees a + b and b + a as one instruction. */
static void canonical_order(JitOp op, JitRef *a, JitRef *b)
{
    if (!(pvmJ_ir_ops[op].flags & JIT_F_COMM))
        return;
    bool swap = pvmJ_ref_is_const(*a) ? !pvmJ_ref_is_const(*b) : (!pvmJ_ref_is_const(*b) && *b < *a);
    if (swap) {
        JitRef t = *a;
        *a = *b;
        *b = t;
    }
}

/* An instruction of the loop's first trip whose value changes from trip
 * to trip (the LOOP pass marks them): the copied body may not reuse it. */
static bool is_stale(const JitIR *ir, JitRef r)
{
    return ir->variant && r < JIT_REF_BIAS + ir->nvariant && ir->variant[r - JIT_REF_BIAS];
}

/* An object's words a call may since have changed (ir->mutated). */
static bool reads_object(JitOp op)
{
    return op == JIT_IR_FLOAD || op == JIT_IR_ALEN || op == JIT_IR_AKIND || op == JIT_IR_ABC || op == JIT_IR_AREF;
}

static JitRef cse_find(const JitIR *ir, JitOp op, JitType type, JitRef a, JitRef b)
{
    JitRef since = reads_object(op) ? ir->mutated : JIT_REF_NONE;
    for (JitRef r = ir->chain[op]; r != JIT_REF_NONE && r > since; r = pvmJ_ir_at(ir, r)->prev) {
        const JitIns *in = pvmJ_ir_at(ir, r);
        if (in->a == a && in->b == b && in->type == type && !is_stale(ir, r))
            return r;
    }
    return JIT_REF_NONE;
}

/* Guards are CSE'd too: a second identical check adds nothing, as no
 * instruction between them can change an SSA value, an array's length or
 * the key at a map entry (a trace removes and inserts only through calls
 * after which no earlier bounds check is reused and every field is found
 * from fresh loads of the map, so its guards are new: ir->mutated). */
static bool is_pure_guard(JitOp op)
{
    return is_compare(op) || op == JIT_IR_ABC || op == JIT_IR_HKEY;
}

/* Bounds checks of constant indexes against one length (the fields of one
 * map, read by position) need only the largest: an earlier check of a
 * larger index implies this one, and an earlier check of a smaller one is
 * widened to this index. Exiting at the earlier guard instead of this one
 * is sound: its snapshot is the state before everything after it, and the
 * interpreter, resuming there, fails or passes at this access itself.
 * True when the new check is covered (nothing to append). */
static bool abc_widen(JitIR *ir, JitRef index, JitRef len)
{
    if (!is_any_kint(ir, index) || pvmJ_k_int_value(ir, index) < 0)
        return false;
    int64_t k = pvmJ_k_int_value(ir, index);
    for (JitRef r = ir->chain[JIT_IR_ABC]; r != JIT_REF_NONE && r > ir->mutated; r = pvmJ_ir_at(ir, r)->prev) {
        JitIns *in = &ir->ins[r - JIT_REF_BIAS];
        if (in->b != len || is_stale(ir, r) || !is_any_kint(ir, in->a))
            continue;
        if (pvmJ_k_int_value(ir, in->a) < k)
            in->a = index;
        return true;
    }
    return false;
}

static bool cse_applies(JitOp op)
{
    return (pvmJ_ir_ops[op].flags & JIT_F_CSE) || is_pure_guard(op);
}

JitRef pvmJ_fold_emit(JitIR *ir, JitOp op, JitType type, JitRef a, JitRef b, bool *always_fails)
{
    JitRef out;
    *always_fails = false;
    if (ir->failed)
        return JIT_REF_NONE;
    canonical_order(op, &a, &b);
    if (both_const(ir, op, a, b) && fold_constants(ir, op, type, a, b, &out, always_fails))
        return out;
    if (type == JIT_T_INT && simplify_int(ir, op, a, b, &out))
        return out;
    if (type == JIT_T_PTR && op == JIT_IR_ADD && is_kint(ir, b, 0)) /* an address plus no offset */
        return a;
    if (type == JIT_T_FLT && simplify_float(ir, op, a, b, &out))
        return out;
    if (op == JIT_IR_ABC && abc_widen(ir, a, b))
        return JIT_REF_NONE;
    if (cse_applies(op)) {
        JitRef same = cse_find(ir, op, type, a, b);
        if (same != JIT_REF_NONE)
            return is_pure_guard(op) ? JIT_REF_NONE : same;
    }
    return pvmJ_ir_append(ir, op, type, a, b);
}
