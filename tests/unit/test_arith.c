/* Unit tests for vm/interp/arith.h, the one definition of PV's number
 * rules: int wrap-around, C-style truncating division and remainder, the
 * special divisors 0 and -1, int/float mixing, NaN in comparisons; and that
 * the fast paths agree with the slow paths of ops.c (pvmV_arith,
 * pvmV_compare) wherever both apply. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vm/interp/arith.h"
#include "vm/interp/ops.h"
#include "vm_fixture.h"
#include "test_util.h"

static void test_int_wraps(void **state)
{
    (void)state;
    assert_true(pvmV_int_op(OP_ADD, INT64_MAX, 1) == INT64_MIN);
    assert_true(pvmV_int_op(OP_SUB, INT64_MIN, 1) == INT64_MAX);
    assert_true(pvmV_int_op(OP_MUL, INT64_MAX, 2) == -2);
    assert_true(pvmV_int_op(OP_MUL, INT64_MIN, -1) == INT64_MIN);
    assert_true(pvmV_int_neg(INT64_MIN) == INT64_MIN);
    assert_true(pvmV_int_op(OP_SHL, 1, 63) == INT64_MIN);
    assert_true(pvmV_int_op(OP_SHL, 1, 64) == 1); /* low six bits of the count */
    assert_true(pvmV_int_op(OP_SHR, -8, 1) == -4); /* arithmetic shift */
}

static void test_int_division(void **state)
{
    (void)state;
    /* Truncation toward zero; the remainder takes the dividend's sign. */
    assert_true(pvmV_int_op(OP_DIV, 7, 2) == 3);
    assert_true(pvmV_int_op(OP_DIV, -7, 2) == -3);
    assert_true(pvmV_int_op(OP_DIV, 7, -2) == -3);
    assert_true(pvmV_int_op(OP_MOD, 7, 2) == 1);
    assert_true(pvmV_int_op(OP_MOD, -7, 2) == -1);
    assert_true(pvmV_int_op(OP_MOD, 7, -2) == 1);
    assert_true(pvmV_int_op(OP_MOD, -7, -2) == -1);
    /* -1 is special because C overflows on INT64_MIN / -1. */
    assert_true(pvmV_int_op(OP_DIV, INT64_MIN, -1) == INT64_MIN);
    assert_true(pvmV_int_op(OP_DIV, 5, -1) == -5);
    assert_true(pvmV_int_op(OP_MOD, INT64_MIN, -1) == 0);
    assert_true(pvmV_int_op(OP_MOD, 5, -1) == 0);
    assert_false(pvmV_int_divisor_plain(0));
    assert_false(pvmV_int_divisor_plain(-1));
    assert_true(pvmV_int_divisor_plain(1));
    assert_true(pvmV_int_divisor_plain(INT64_MIN));
}

static void test_value_fast_paths(void **state)
{
    (void)state;
    Value r, a = vm_int(INT64_MAX), one = vm_int(1);
    assert_true(pvmV_arith_fast(OP_ADD, &a, &one, &r));
    assert_int_equal(r.type, VT_INT);
    assert_true(r.as.i == INT64_MIN);
    /* An int meeting a float makes a float. */
    Value i3 = vm_int(3), half = vm_float(0.5);
    assert_true(pvmV_arith_fast(OP_MUL, &i3, &half, &r));
    assert_int_equal(r.type, VT_FLOAT);
    assert_true(r.as.f == 1.5);
    /* Float division by zero is IEEE, not an error. */
    Value zero_f = vm_float(0.0), zero_i = vm_int(0);
    assert_true(pvmV_arith_fast(OP_DIV, &i3, &zero_f, &r));
    assert_true(isinf(r.as.f) && r.as.f > 0);
    Value m7 = vm_float(-7.5), two = vm_int(2);
    assert_true(pvmV_arith_fast(OP_MOD, &m7, &two, &r));
    assert_true(r.as.f == -1.5);
    /* Int division by 0 or -1, strings and others take the slow path. */
    Value minus1 = vm_int(-1), nil = VAL_NIL;
    assert_false(pvmV_arith_fast(OP_DIV, &i3, &zero_i, &r));
    assert_false(pvmV_arith_fast(OP_MOD, &i3, &minus1, &r));
    assert_false(pvmV_arith_fast(OP_ADD, &i3, &nil, &r));
    /* In place, the left operand becomes the result. */
    Value x = vm_int(10), y = vm_int(-3);
    assert_true(pvmV_arith_fast_in_place(OP_DIV, &x, &y));
    assert_int_equal(x.type, VT_INT);
    assert_true(x.as.i == -3);
}

static void test_order(void **state)
{
    (void)state;
    bool c;
    Value nan = vm_float(NAN), one = vm_float(1.0), i1 = vm_int(1), i2 = vm_int(2);
    static const Opcode ops[] = { OP_LT, OP_LE, OP_GT, OP_GE };
    for (size_t o = 0; o < 4; o++) {
        assert_true(pvmV_order_fast(ops[o], &nan, &one, &c));
        assert_false(c); /* NaN is unordered: every comparison is false */
        assert_false(pvmV_order_holds(ops[o], pvmV_number_order(nan, i1)));
    }
    assert_true(pvmV_order_fast(OP_LT, &i1, &i2, &c) && c);
    assert_false(pvmV_order_fast(OP_LT, &i1, &one, &c)); /* mixes: slow path */
    assert_int_equal(pvmV_number_order(i1, one), 0);
    /* Exact, not through a double: 2^53 + 1 is above the float 2^53. */
    assert_int_equal(pvmV_number_order(vm_int(9007199254740993), vm_float(9007199254740992.0)), 1);
}

/* The operands the agreement test crosses: edges of both types. */
static Value sample(size_t i)
{
    static const int64_t ints[] = { 0, 1, -1, 2, -7, 7, INT64_MAX, INT64_MIN, 1000003 };
    static const double floats[] = { 0.0, -0.0, 1.5, -2.25, 1e308, NAN, INFINITY, -INFINITY };
    const size_t ni = sizeof ints / sizeof ints[0];
    return i < ni ? vm_int(ints[i]) : vm_float(floats[i - ni]);
}
#define NSAMPLES 17

static bool same_value(Value a, Value b)
{
    if (a.type != b.type)
        return false;
    return a.type == VT_FLOAT ? bits_of(a.as.f) == bits_of(b.as.f) || (isnan(a.as.f) && isnan(b.as.f))
                              : a.as.i == b.as.i;
}

/* Wherever a fast path answers, the slow path gives the same answer. */
static void test_fast_agrees_with_slow(void **state)
{
    VM *vm = *state;
    static const Opcode arith[] = { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD };
    static const Opcode order[] = { OP_LT, OP_LE, OP_GT, OP_GE };
    for (size_t i = 0; i < NSAMPLES; i++) {
        for (size_t j = 0; j < NSAMPLES; j++) {
            Value a = sample(i), b = sample(j), r;
            for (size_t o = 0; o < 5; o++) {
                if (pvmV_arith_fast(arith[o], &a, &b, &r))
                    assert_true(same_value(r, pvmV_arith(vm, arith[o], a, b)));
            }
            for (size_t o = 0; o < 4; o++) {
                bool c;
                if (pvmV_order_fast(order[o], &a, &b, &c))
                    assert_int_equal(c, pvmV_compare(vm, order[o], a, b));
            }
        }
    }
}

static void test_slow_path_errors(void **state)
{
    VM *vm = *state;
    EXPECT_ERROR(vm, pvmV_arith(vm, OP_DIV, vm_int(1), vm_int(0)), "division by zero");
    EXPECT_ERROR(vm, pvmV_arith(vm, OP_MOD, vm_int(1), vm_int(0)), "division by zero");
    EXPECT_ERROR(vm, pvmV_arith(vm, OP_BAND, vm_int(1), vm_float(1.0)), "cannot apply '&' to int and float");
    assert_true(pvmV_arith(vm, OP_DIV, vm_int(INT64_MIN), vm_int(-1)).as.i == INT64_MIN);
    assert_true(pvmV_arith(vm, OP_MOD, vm_int(INT64_MIN), vm_int(-1)).as.i == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_wraps),
        cmocka_unit_test(test_int_division),
        cmocka_unit_test(test_value_fast_paths),
        cmocka_unit_test(test_order),
        cmocka_unit_test_setup_teardown(test_fast_agrees_with_slow, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_slow_path_errors, vm_fixture_setup, vm_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
