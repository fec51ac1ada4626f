/* PV's arithmetic and ordering rules on numbers (LANGUAGE.md section 3),
 * each written once. The interpreter's plain opcodes and superinstructions,
 * the slow paths in ops.c and a future JIT (constant folding, slow paths)
 * all use these, so no two paths can disagree.
 *
 * Two levels:
 *   scalar  pvmV_int_op, pvmV_float_op, pvmV_int_order, pvmV_float_order:
 *           one operation on C numbers; no type checks, no errors
 *   value   pvmV_arith_fast, pvmV_order_fast: the fast path on two Values,
 *           false when the case belongs to the slow path (ops.c), which
 *           raises the errors and handles strings
 * The interpreter passes [op] as a constant, so once inlined each switch
 * folds to its one operation (always_inline: the dispatch loop is too big
 * for GCC's inliner to be trusted with that). */
#ifndef PVM_ARITH_H
#define PVM_ARITH_H

#include <math.h>

#include "vm/bytecode/opcodes.h"
#include "vm/config.h"
#include "vm/runtime/value.h"

#define PVM_ARITH_INLINE static inline PVM_ALWAYS_INLINE

/* Whether int division by [y] is plain C division. 0 (an error) and -1
 * (INT64_MIN / -1 overflows in C) are the two special divisors. */
PVM_ARITH_INLINE bool pvmV_int_divisor_plain(int64_t y)
{
    return (uint64_t)y + 1 > 1;
}

/* -x, wrapping: -INT64_MIN is INT64_MIN. */
PVM_ARITH_INLINE int64_t pvmV_int_neg(int64_t x)
{
    return (int64_t)(0 - (uint64_t)x);
}

/* x / y truncating toward zero; y != 0. Divided by -1 the quotient wraps
 * like negation: INT64_MIN / -1 is INT64_MIN. */
PVM_ARITH_INLINE int64_t pvmV_int_div(int64_t x, int64_t y)
{
    return pvmV_int_divisor_plain(y) ? x / y : pvmV_int_neg(x);
}

/* x % y with the sign of x (C's remainder); y != 0. Modulo -1 is always 0
 * (INT64_MIN % -1 traps in C). */
PVM_ARITH_INLINE int64_t pvmV_int_mod(int64_t x, int64_t y)
{
    return pvmV_int_divisor_plain(y) ? x % y : 0;
}

/* x OP y on ints: 64-bit two's complement, wrapping. Shifts use the low six
 * bits of y; >> is arithmetic. DIV and MOD need y != 0 (the caller raises
 * "division by zero"). */
PVM_ARITH_INLINE int64_t pvmV_int_op(Opcode op, int64_t x, int64_t y)
{
    uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    switch (op) {
    case OP_ADD: return (int64_t)(ux + uy);
    case OP_SUB: return (int64_t)(ux - uy);
    case OP_MUL: return (int64_t)(ux * uy);
    case OP_DIV: return pvmV_int_div(x, y);
    case OP_MOD: return pvmV_int_mod(x, y);
    case OP_BAND: return x & y;
    case OP_BOR: return x | y;
    case OP_BXOR: return x ^ y;
    case OP_SHL: return (int64_t)(ux << (y & 63));
    case OP_SHR: return x >> (y & 63);
    default: return 0;
    }
}

/* x OP y on floats: IEEE double (x / 0.0 is an infinity or NaN, not an
 * error); % is fmod, with the sign of x. */
PVM_ARITH_INLINE double pvmV_float_op(Opcode op, double x, double y)
{
    switch (op) {
    case OP_ADD: return x + y;
    case OP_SUB: return x - y;
    case OP_MUL: return x * y;
    case OP_DIV: return x / y;
    case OP_MOD: return fmod(x, y);
    default: return NAN;
    }
}

/* A number as a double: how an int meets a float. */
PVM_ARITH_INLINE double pvmV_to_double(Value v)
{
    return v.type == VT_INT ? (double)v.as.i : v.as.f;
}

/* The operations pvmV_arith_fast knows: the bitwise ones are int-only and
 * always take the slow path. */
PVM_ARITH_INLINE bool pvmV_is_arith_op(Opcode op)
{
    return op == OP_ADD || op == OP_SUB || op == OP_MUL || op == OP_DIV || op == OP_MOD;
}

/* *r = *a OP *b (ADD SUB MUL DIV MOD) when both are numbers and nothing
 * can fail: two ints stay int (wrapping), otherwise both become doubles.
 * False leaves *r alone: other types (string +, errors) and int division
 * by 0 or -1 go to the slow path. Cases are tested in order of frequency.
 * [r] may be [a] or [b]: every read comes before the store. Operands are
 * pointers so that only the type words are read before the tests.
 * [in_place] (a constant) says r == a, whose type then need not be
 * stored again when it stays the same: use the two wrappers below. */
PVM_ARITH_INLINE bool pvmV_arith_step(Opcode op, const Value *a, const Value *b, Value *r, bool in_place)
{
    if (a->type == VT_INT && b->type == VT_INT) {
        if ((op == OP_DIV || op == OP_MOD) && !pvmV_int_divisor_plain(b->as.i))
            return false;
        r->as.i = pvmV_int_op(op, a->as.i, b->as.i);
        if (!in_place)
            r->type = VT_INT;
        return true;
    }
    if (a->type == VT_FLOAT && b->type == VT_FLOAT) {
        r->as.f = pvmV_float_op(op, a->as.f, b->as.f);
        if (!in_place)
            r->type = VT_FLOAT;
        return true;
    }
    if (!vm_is_number(*a) || !vm_is_number(*b))
        return false;
    *r = vm_float(pvmV_float_op(op, pvmV_to_double(*a), pvmV_to_double(*b)));
    return true;
}

/* *r = *a OP *b (see pvmV_arith_step). */
PVM_ARITH_INLINE bool pvmV_arith_fast(Opcode op, const Value *a, const Value *b, Value *r)
{
    return pvmV_arith_step(op, a, b, r, false);
}

/* *a = *a OP *b (see pvmV_arith_step). */
PVM_ARITH_INLINE bool pvmV_arith_fast_in_place(Opcode op, Value *a, const Value *b)
{
    return pvmV_arith_step(op, a, b, a, true);
}

/* Whether an order (-1, 0, 1, or 2 for unordered) satisfies LT LE GT GE.
 * Unordered (a NaN) satisfies none of them. */
PVM_ARITH_INLINE bool pvmV_order_holds(Opcode op, int order)
{
    if (order == 2)
        return false;
    switch (op) {
    case OP_LT: return order < 0;
    case OP_LE: return order <= 0;
    case OP_GT: return order > 0;
    default: return order >= 0;
    }
}

PVM_ARITH_INLINE bool pvmV_int_order(Opcode op, int64_t x, int64_t y)
{
    switch (op) {
    case OP_LT: return x < y;
    case OP_LE: return x <= y;
    case OP_GT: return x > y;
    default: return x >= y;
    }
}

/* C's comparisons already make every order false with a NaN. */
PVM_ARITH_INLINE bool pvmV_float_order(Opcode op, double x, double y)
{
    switch (op) {
    case OP_LT: return x < y;
    case OP_LE: return x <= y;
    case OP_GT: return x > y;
    default: return x >= y;
    }
}

/* The order of two numbers: -1, 0, 1, or 2 when unordered (NaN). An int
 * and a float compare exactly (pvmV_compare_int_float), not through a
 * rounded double. */
static inline int pvmV_number_order(Value a, Value b)
{
    if (a.type == VT_INT && b.type == VT_INT)
        return (a.as.i > b.as.i) - (a.as.i < b.as.i);
    if (a.type == VT_INT)
        return pvmV_compare_int_float(a.as.i, b.as.f);
    if (b.type == VT_INT) {
        int r = pvmV_compare_int_float(b.as.i, a.as.f);
        return r == 2 ? 2 : -r;
    }
    if (isnan(a.as.f) || isnan(b.as.f))
        return 2;
    return (a.as.f > b.as.f) - (a.as.f < b.as.f);
}

/* *r = *a OP *b (LT LE GT GE) for two ints or two floats; false for
 * everything else (int/float mixes, strings, errors: the slow path). */
PVM_ARITH_INLINE bool pvmV_order_fast(Opcode op, const Value *a, const Value *b, bool *r)
{
    if (a->type == VT_INT && b->type == VT_INT) {
        *r = pvmV_int_order(op, a->as.i, b->as.i);
        return true;
    }
    if (a->type == VT_FLOAT && b->type == VT_FLOAT) {
        *r = pvmV_float_order(op, a->as.f, b->as.f);
        return true;
    }
    return false;
}

#endif
