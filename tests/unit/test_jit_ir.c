/* Unit tests for the trace IR (jit/ir.c) and the fold engine (jit/fold.c):
 * constant interning, constant folding with the interpreter's semantics
 * (int wrap-around, C division, float -0.0 and NaN), the identities that
 * may and may not be applied, CSE, and guards on constants. */
#include <gc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jit/ir.h"

static int setup(void **state)
{
    GC_INIT();
    JitIR *ir = malloc(sizeof *ir);
    pvmJ_ir_init(ir);
    *state = ir;
    return 0;
}

static int teardown(void **state)
{
    pvmJ_ir_free(*state);
    free(*state);
    return 0;
}

static JitRef emit(JitIR *ir, JitOp op, JitType t, JitRef a, JitRef b)
{
    bool fails;
    JitRef r = pvmJ_fold_emit(ir, op, t, a, b, &fails);
    assert_false(fails);
    return r;
}

static JitRef slot(JitIR *ir, unsigned n, JitType t)
{
    return pvmJ_ir_append(ir, JIT_IR_SLOAD, t, (JitRef)n, 0);
}

static int64_t kint(JitIR *ir, JitRef r)
{
    assert_true(pvmJ_ref_is_const(r));
    assert_int_equal(pvmJ_ir_at(ir, r)->op, JIT_IR_KINT);
    return pvmJ_k_int_value(ir, r);
}

static double kflt(JitIR *ir, JitRef r)
{
    assert_true(pvmJ_ref_is_const(r));
    assert_int_equal(pvmJ_ir_at(ir, r)->op, JIT_IR_KFLT);
    return pvmJ_k_float_value(ir, r);
}

static void test_constants_interned(void **state)
{
    JitIR *ir = *state;
    assert_int_equal(pvmJ_k_int(ir, 42), pvmJ_k_int(ir, 42));
    assert_int_not_equal(pvmJ_k_int(ir, 42), pvmJ_k_int(ir, 43));
    assert_int_equal(pvmJ_k_float(ir, 1.5), pvmJ_k_float(ir, 1.5));
    /* by bits: 0.0 and -0.0 are different constants, and an int 1 is not a float 1 */
    assert_int_not_equal(pvmJ_k_float(ir, 0.0), pvmJ_k_float(ir, -0.0));
    assert_int_not_equal(pvmJ_k_float(ir, 1.0), pvmJ_k_int(ir, 1));
    assert_int_equal(pvmJ_k_float(ir, NAN), pvmJ_k_float(ir, NAN));
    assert_int_not_equal(pvmJ_k_pri(ir, JIT_T_BOOL, true), pvmJ_k_pri(ir, JIT_T_BOOL, false));
    int x;
    assert_int_equal(pvmJ_k_gc(ir, JIT_T_STR, &x), pvmJ_k_gc(ir, JIT_T_STR, &x));
    assert_int_equal(kint(ir, pvmJ_k_int(ir, INT64_MIN)), INT64_MIN);
    assert_int_equal(ir->nins, 0);
}

static void test_int_folding_wraps(void **state)
{
    JitIR *ir = *state;
    JitRef max = pvmJ_k_int(ir, INT64_MAX), min = pvmJ_k_int(ir, INT64_MIN);
    JitRef one = pvmJ_k_int(ir, 1), m1 = pvmJ_k_int(ir, -1);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_ADD, JIT_T_INT, max, one)), INT64_MIN);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_SUB, JIT_T_INT, min, one)), INT64_MAX);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_MUL, JIT_T_INT, max, pvmJ_k_int(ir, 2))), -2);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_NEG, JIT_T_INT, min, 0)), INT64_MIN);
    /* INT64_MIN / -1 wraps, % -1 is 0: no trap at fold time or run time */
    assert_int_equal(kint(ir, emit(ir, JIT_IR_DIV, JIT_T_INT, min, m1)), INT64_MIN);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_MOD, JIT_T_INT, min, m1)), 0);
    /* C division truncates toward zero; the remainder takes the dividend's sign */
    assert_int_equal(kint(ir, emit(ir, JIT_IR_DIV, JIT_T_INT, pvmJ_k_int(ir, -7), pvmJ_k_int(ir, 2))), -3);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_MOD, JIT_T_INT, pvmJ_k_int(ir, -7), pvmJ_k_int(ir, 2))), -1);
    /* shift counts are taken mod 64, >> is arithmetic */
    assert_int_equal(kint(ir, emit(ir, JIT_IR_SHL, JIT_T_INT, one, pvmJ_k_int(ir, 65))), 2);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_SHR, JIT_T_INT, pvmJ_k_int(ir, -8), one)), -4);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_BNOT, JIT_T_INT, pvmJ_k_int(ir, 0), 0)), -1);
    assert_int_equal(ir->nins, 0);
}

static void test_division_by_constant_zero_not_folded(void **state)
{
    JitIR *ir = *state;
    JitRef zero = pvmJ_k_int(ir, 0);
    JitRef r = emit(ir, JIT_IR_DIV, JIT_T_INT, pvmJ_k_int(ir, 5), zero);
    assert_false(pvmJ_ref_is_const(r));
    r = emit(ir, JIT_IR_MOD, JIT_T_INT, pvmJ_k_int(ir, 5), zero);
    assert_false(pvmJ_ref_is_const(r));
    assert_int_equal(ir->nins, 2);
}

static void test_float_folding(void **state)
{
    JitIR *ir = *state;
    JitRef a = pvmJ_k_float(ir, 1.0), z = pvmJ_k_float(ir, 0.0);
    assert_true(isinf(kflt(ir, emit(ir, JIT_IR_DIV, JIT_T_FLT, a, z))));
    assert_true(isnan(kflt(ir, emit(ir, JIT_IR_DIV, JIT_T_FLT, z, z))));
    double nz = kflt(ir, emit(ir, JIT_IR_NEG, JIT_T_FLT, z, 0));
    assert_true(nz == 0.0 && signbit(nz));
    assert_true(kflt(ir, emit(ir, JIT_IR_SQRT, JIT_T_FLT, pvmJ_k_float(ir, 2.0), 0)) == sqrt(2.0));
    assert_true(kflt(ir, emit(ir, JIT_IR_FLOOR, JIT_T_FLT, pvmJ_k_float(ir, -1.5), 0)) == -2.0);
    assert_true(kflt(ir, emit(ir, JIT_IR_TOFLT, JIT_T_FLT, pvmJ_k_int(ir, INT64_MAX), 0)) == 9223372036854775808.0);
    double m = kflt(ir, emit(ir, JIT_IR_MOD, JIT_T_FLT, pvmJ_k_float(ir, -5.5), pvmJ_k_float(ir, 2.0)));
    assert_true(m == fmod(-5.5, 2.0));
    assert_int_equal(ir->nins, 0);
}

static void test_int_identities(void **state)
{
    JitIR *ir = *state;
    JitRef x = slot(ir, 0, JIT_T_INT);
    JitRef zero = pvmJ_k_int(ir, 0), one = pvmJ_k_int(ir, 1);
    assert_int_equal(emit(ir, JIT_IR_ADD, JIT_T_INT, x, zero), x);
    assert_int_equal(emit(ir, JIT_IR_ADD, JIT_T_INT, zero, x), x); /* commuted */
    assert_int_equal(emit(ir, JIT_IR_SUB, JIT_T_INT, x, zero), x);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_SUB, JIT_T_INT, x, x)), 0);
    assert_int_equal(emit(ir, JIT_IR_MUL, JIT_T_INT, one, x), x);
    assert_int_equal(kint(ir, emit(ir, JIT_IR_MUL, JIT_T_INT, x, zero)), 0);
    assert_int_equal(emit(ir, JIT_IR_DIV, JIT_T_INT, x, one), x);
    assert_int_equal(emit(ir, JIT_IR_BAND, JIT_T_INT, x, x), x);
    assert_int_equal(ir->nins, 1); /* only the SLOAD */
}

static void test_float_identities_respect_signed_zero(void **state)
{
    JitIR *ir = *state;
    JitRef x = slot(ir, 0, JIT_T_FLT);
    /* x + 0.0 is not x (for x = -0.0) and x * 0.0 is not 0.0 (NaN, inf, -x):
     * both must stay instructions */
    JitRef r1 = emit(ir, JIT_IR_ADD, JIT_T_FLT, x, pvmJ_k_float(ir, 0.0));
    JitRef r2 = emit(ir, JIT_IR_MUL, JIT_T_FLT, x, pvmJ_k_float(ir, 0.0));
    JitRef r3 = emit(ir, JIT_IR_SUB, JIT_T_FLT, x, x);
    assert_int_not_equal(r1, x);
    assert_false(pvmJ_ref_is_const(r2));
    assert_false(pvmJ_ref_is_const(r3)); /* inf - inf is NaN */
    /* these do hold for every double */
    assert_int_equal(emit(ir, JIT_IR_ADD, JIT_T_FLT, x, pvmJ_k_float(ir, -0.0)), x);
    assert_int_equal(emit(ir, JIT_IR_SUB, JIT_T_FLT, x, pvmJ_k_float(ir, 0.0)), x);
    assert_int_equal(emit(ir, JIT_IR_MUL, JIT_T_FLT, x, pvmJ_k_float(ir, 1.0)), x);
    assert_int_equal(ir->nins, 4);
}

static void test_cse(void **state)
{
    JitIR *ir = *state;
    JitRef x = slot(ir, 0, JIT_T_INT), y = slot(ir, 1, JIT_T_INT);
    JitRef s = emit(ir, JIT_IR_ADD, JIT_T_INT, x, y);
    assert_int_equal(emit(ir, JIT_IR_ADD, JIT_T_INT, x, y), s);
    assert_int_equal(emit(ir, JIT_IR_ADD, JIT_T_INT, y, x), s); /* commutative */
    JitRef d = emit(ir, JIT_IR_SUB, JIT_T_INT, x, y);
    assert_int_not_equal(emit(ir, JIT_IR_SUB, JIT_T_INT, y, x), d); /* not commutative */
    /* a float add of the same refs is another instruction */
    assert_int_not_equal(emit(ir, JIT_IR_ADD, JIT_T_FLT, x, y), s);
    /* loads are not CSE'd: two SLOADs of one slot stay two */
    assert_int_not_equal(slot(ir, 0, JIT_T_INT), x);
    assert_int_equal(ir->nins, 7);
}

static void test_guards(void **state)
{
    JitIR *ir = *state;
    bool fails;
    JitRef x = slot(ir, 0, JIT_T_INT), n = pvmJ_k_int(ir, 100);
    JitRef g = pvmJ_fold_emit(ir, JIT_IR_LT, JIT_T_INT, x, n, &fails);
    assert_false(fails);
    assert_int_not_equal(g, JIT_REF_NONE);
    assert_true(pvmJ_ir_ops[pvmJ_ir_at(ir, g)->op].flags & JIT_F_GUARD);
    /* the same check again is redundant */
    assert_int_equal(pvmJ_fold_emit(ir, JIT_IR_LT, JIT_T_INT, x, n, &fails), JIT_REF_NONE);
    assert_false(fails);
    /* on constants a guard either always holds (dropped) or never does */
    assert_int_equal(pvmJ_fold_emit(ir, JIT_IR_LT, JIT_T_INT, pvmJ_k_int(ir, 1), n, &fails), JIT_REF_NONE);
    assert_false(fails);
    pvmJ_fold_emit(ir, JIT_IR_GT, JIT_T_INT, pvmJ_k_int(ir, 1), n, &fails);
    assert_true(fails);
    /* NaN: every comparison but NE is false */
    JitRef nan = pvmJ_k_float(ir, NAN);
    pvmJ_fold_emit(ir, JIT_IR_EQ, JIT_T_FLT, nan, nan, &fails);
    assert_true(fails);
    pvmJ_fold_emit(ir, JIT_IR_NE, JIT_T_FLT, nan, nan, &fails);
    assert_false(fails);
    assert_int_equal(ir->nins, 2);
    /* a bounds check and a map entry's key check, repeated, are redundant
     * too (a trace never changes a length or an entry's key); a load's
     * type guard is not (a store may have changed the value) */
    JitRef arr = slot(ir, 1, JIT_T_ARR), len = emit(ir, JIT_IR_ALEN, JIT_T_INT, arr, 0);
    assert_int_not_equal(pvmJ_fold_emit(ir, JIT_IR_ABC, JIT_T_INT, x, len, &fails), JIT_REF_NONE);
    assert_int_equal(pvmJ_fold_emit(ir, JIT_IR_ABC, JIT_T_INT, x, len, &fails), JIT_REF_NONE);
    JitRef at = emit(ir, JIT_IR_AREF, JIT_T_PTR, arr, x), key = pvmJ_k_gc(ir, JIT_T_STR, ir);
    assert_int_not_equal(pvmJ_fold_emit(ir, JIT_IR_HKEY, JIT_T_PTR, at, key, &fails), JIT_REF_NONE);
    assert_int_equal(pvmJ_fold_emit(ir, JIT_IR_HKEY, JIT_T_PTR, at, key, &fails), JIT_REF_NONE);
    JitRef v = pvmJ_fold_emit(ir, JIT_IR_XLOAD, JIT_T_INT, at, 0, &fails);
    assert_int_not_equal(pvmJ_fold_emit(ir, JIT_IR_XLOAD, JIT_T_INT, at, 0, &fails), v);
    assert_int_equal(ir->nins, 9);
}

/* Bounds checks of constant positions against one length (a map's fields)
 * keep one check, of the largest position, where the first one was: a
 * smaller position is covered, a larger one widens the first check. A
 * variable index or another length is a check of its own. */
static void test_bounds_widen(void **state)
{
    JitIR *ir = *state;
    bool fails;
    JitRef m = slot(ir, 0, JIT_T_MAP), used = emit(ir, JIT_IR_FLOAD, JIT_T_INT, m, 8);
    JitRef first = pvmJ_fold_emit(ir, JIT_IR_ABC, JIT_T_INT, pvmJ_k_int(ir, 1), used, &fails);
    assert_int_not_equal(first, JIT_REF_NONE);
    uint32_t n = ir->nins;
    assert_int_equal(pvmJ_fold_emit(ir, JIT_IR_ABC, JIT_T_INT, pvmJ_k_int(ir, 0), used, &fails), JIT_REF_NONE);
    assert_int_equal(pvmJ_fold_emit(ir, JIT_IR_ABC, JIT_T_INT, pvmJ_k_int(ir, 6), used, &fails), JIT_REF_NONE);
    assert_int_equal(pvmJ_fold_emit(ir, JIT_IR_ABC, JIT_T_INT, pvmJ_k_int(ir, 4), used, &fails), JIT_REF_NONE);
    assert_int_equal(ir->nins, n);
    assert_int_equal(pvmJ_k_int_value(ir, pvmJ_ir_at(ir, first)->a), 6);
    JitRef other = emit(ir, JIT_IR_FLOAD, JIT_T_INT, slot(ir, 1, JIT_T_MAP), 8);
    assert_int_not_equal(pvmJ_fold_emit(ir, JIT_IR_ABC, JIT_T_INT, pvmJ_k_int(ir, 2), other, &fails), JIT_REF_NONE);
    JitRef i = slot(ir, 2, JIT_T_INT);
    assert_int_not_equal(pvmJ_fold_emit(ir, JIT_IR_ABC, JIT_T_INT, i, used, &fails), JIT_REF_NONE);
    assert_int_equal(pvmJ_k_int_value(ir, pvmJ_ir_at(ir, first)->a), 6);
}

static void test_limits_fail_cleanly(void **state)
{
    JitIR *ir = *state;
    for (uint32_t i = 0; i < JIT_MAX_CONSTS + 10; i++)
        pvmJ_k_int(ir, (int64_t)i);
    assert_true(ir->failed);
    assert_int_equal(pvmJ_ir_append(ir, JIT_IR_LOOP, JIT_T_VOID, 0, 0), JIT_REF_NONE);
}

static void test_dump(void **state)
{
    JitIR *ir = *state;
    JitRef x = slot(ir, 3, JIT_T_INT);
    emit(ir, JIT_IR_ADD, JIT_T_INT, x, pvmJ_k_int(ir, -7));
    char buf[512] = { 0 };
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    pvmJ_ir_dump(ir, f);
    fclose(f);
    assert_non_null(strstr(buf, "0000 > int  SLOAD  #3 #0\n"));
    assert_non_null(strstr(buf, "0001   int  ADD    0000 -7\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_constants_interned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_folding_wraps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_division_by_constant_zero_not_folded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_folding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_identities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_identities_respect_signed_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds_widen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_fail_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
