/* Unit tests for value.c: type names, language equality, exact int/float
 * comparison, and a hash consistent with map-key equality. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vm/runtime/vm.h"
#include "vm_fixture.h"

#define TWO_POW_53 9007199254740992.0
#define TWO_POW_63 9223372036854775808.0

static void test_type_names(void **state)
{
    VM *vm = *state;
    PvNative nat = { 0 };
    PvClosure *cl = pvmV_alloc(vm, sizeof(PvClosure));
    assert_string_equal(pvmV_type_name(VAL_NIL), "nil");
    assert_string_equal(pvmV_type_name(VAL_TRUE), "bool");
    assert_string_equal(pvmV_type_name(vm_int(3)), "int");
    assert_string_equal(pvmV_type_name(vm_float(3)), "float");
    assert_string_equal(pvmV_type_name(str(vm, "x")), "string");
    assert_string_equal(pvmV_type_name(vm_obj(VT_ARRAY, pvmV_array_new(vm, 0))), "array");
    assert_string_equal(pvmV_type_name(vm_obj(VT_MAP, pvmV_map_new(vm, 0))), "map");
    assert_string_equal(pvmV_type_name(vm_obj(VT_CLOSURE, cl)), "function");
    assert_string_equal(pvmV_type_name(vm_obj(VT_NATIVE, &nat)), "function");
    assert_string_equal(pvmV_type_name(vm_obj(VT_POINTER, &nat)), "pointer");
}

static void test_compare_int_float(void **state)
{
    (void)state;
    assert_int_equal(pvmV_compare_int_float(1, 1.0), 0);
    assert_int_equal(pvmV_compare_int_float(1, 1.5), -1);
    assert_int_equal(pvmV_compare_int_float(2, 1.5), 1);
    assert_int_equal(pvmV_compare_int_float(-1, -1.5), 1);
    assert_int_equal(pvmV_compare_int_float(-2, -1.5), -1);
    assert_int_equal(pvmV_compare_int_float(0, -0.0), 0);
    assert_int_equal(pvmV_compare_int_float(0, NAN), 2);
    assert_int_equal(pvmV_compare_int_float(INT64_MAX, INFINITY), -1);
    assert_int_equal(pvmV_compare_int_float(INT64_MIN, -INFINITY), 1);
    /* Around 2^53 the int does not round to the float: */
    assert_int_equal(pvmV_compare_int_float(9007199254740993, TWO_POW_53), 1);
    assert_int_equal(pvmV_compare_int_float(9007199254740992, TWO_POW_53), 0);
    assert_int_equal(pvmV_compare_int_float(9007199254740991, TWO_POW_53), -1);
    /* Around 2^63: INT64_MAX converts to 2^63 as a double, but is below it. */
    assert_int_equal(pvmV_compare_int_float(INT64_MAX, TWO_POW_63), -1);
    assert_int_equal(pvmV_compare_int_float(INT64_MAX, 9223372036854774784.0), 1);
    assert_int_equal(pvmV_compare_int_float(9223372036854774784, 9223372036854774784.0), 0);
    assert_int_equal(pvmV_compare_int_float(INT64_MIN, -TWO_POW_63), 0);
    assert_int_equal(pvmV_compare_int_float(INT64_MIN + 1, -TWO_POW_63), 1);
    assert_int_equal(pvmV_compare_int_float(INT64_MIN, -TWO_POW_63 * 2), 1);
    assert_int_equal(pvmV_compare_int_float(INT64_MIN, nextafter(-TWO_POW_63, 0)), -1);
    assert_int_equal(pvmV_compare_int_float(0, 5e-324), -1);
    assert_int_equal(pvmV_compare_int_float(0, -5e-324), 1);
}

static void test_equality_numbers(void **state)
{
    (void)state;
    assert_true(pvmV_values_equal(vm_int(1), vm_float(1.0)));
    assert_true(pvmV_values_equal(vm_float(1.0), vm_int(1)));
    assert_false(pvmV_values_equal(vm_int(9007199254740993), vm_float(TWO_POW_53)));
    assert_false(pvmV_values_equal(vm_float(TWO_POW_53), vm_int(9007199254740993)));
    assert_true(pvmV_values_equal(vm_int(9007199254740992), vm_float(TWO_POW_53)));
    assert_false(pvmV_values_equal(vm_int(INT64_MAX), vm_float(TWO_POW_63)));
    assert_true(pvmV_values_equal(vm_int(INT64_MIN), vm_float(-TWO_POW_63)));
    assert_false(pvmV_values_equal(vm_float(NAN), vm_float(NAN)));
    assert_false(pvmV_values_equal(vm_int(0), vm_float(NAN)));
    assert_true(pvmV_values_equal(vm_float(0.0), vm_float(-0.0)));
    assert_true(pvmV_values_equal(vm_int(0), vm_float(-0.0)));
    assert_false(pvmV_values_equal(vm_float(0.1 + 0.2), vm_float(0.3)));
}

static void test_equality_other_types(void **state)
{
    VM *vm = *state;
    assert_true(pvmV_values_equal(VAL_NIL, VAL_NIL));
    assert_true(pvmV_values_equal(VAL_TRUE, vm_bool(true)));
    assert_false(pvmV_values_equal(VAL_TRUE, VAL_FALSE));
    assert_false(pvmV_values_equal(VAL_TRUE, vm_int(1)));
    assert_false(pvmV_values_equal(VAL_FALSE, vm_int(0)));
    assert_false(pvmV_values_equal(VAL_NIL, VAL_FALSE));
    assert_true(pvmV_values_equal(str(vm, "abc"), str(vm, "abc")));
    assert_false(pvmV_values_equal(str(vm, "abc"), str(vm, "abd")));
    assert_false(pvmV_values_equal(str(vm, "1"), vm_int(1)));
    Value a = vm_obj(VT_ARRAY, pvmV_array_new(vm, 0));
    Value b = vm_obj(VT_ARRAY, pvmV_array_new(vm, 0));
    assert_true(pvmV_values_equal(a, a));
    assert_false(pvmV_values_equal(a, b));
    Value m = vm_obj(VT_MAP, pvmV_map_new(vm, 0));
    assert_false(pvmV_values_equal(a, m));
    /* Pointers are boxes (ffi.md); equality is by the address they hold. */
    int x[2];
    PvPointer p1 = { .addr = &x[0] }, p2 = { .addr = &x[0] }, p3 = { .addr = &x[1] };
    assert_true(pvmV_values_equal(vm_obj(VT_POINTER, &p1), vm_obj(VT_POINTER, &p2)));
    assert_false(pvmV_values_equal(vm_obj(VT_POINTER, &p1), vm_obj(VT_POINTER, &p3)));
}

/* Keys that are equal as map keys must hash alike. */
static void test_hash_consistency(void **state)
{
    VM *vm = *state;
    assert_true(pvmV_value_hash(vm_int(1)) == pvmV_value_hash(vm_float(1.0)));
    assert_true(pvmV_value_hash(vm_int(0)) == pvmV_value_hash(vm_float(-0.0)));
    assert_true(pvmV_value_hash(vm_int(-7)) == pvmV_value_hash(vm_float(-7.0)));
    assert_true(pvmV_value_hash(vm_int(9007199254740992)) == pvmV_value_hash(vm_float(TWO_POW_53)));
    assert_true(pvmV_value_hash(vm_int(INT64_MIN)) == pvmV_value_hash(vm_float(-TWO_POW_63)));
    assert_true(pvmV_value_hash(str(vm, "key")) == pvmV_value_hash(str(vm, "key")));
    assert_true(pvmV_value_hash(str(vm, "")) == pvmV_string_cstr(vm, "")->hash);
    Value a = vm_obj(VT_ARRAY, pvmV_array_new(vm, 0));
    assert_true(pvmV_value_hash(a) == pvmV_value_hash(a));
}

/* Different keys should (for these simple cases) hash apart. */
static void test_hash_spread(void **state)
{
    VM *vm = *state;
    assert_true(pvmV_value_hash(VAL_TRUE) != pvmV_value_hash(vm_int(1)));
    assert_true(pvmV_value_hash(VAL_FALSE) != pvmV_value_hash(vm_int(0)));
    assert_true(pvmV_value_hash(VAL_TRUE) != pvmV_value_hash(VAL_FALSE));
    assert_true(pvmV_value_hash(vm_int(1)) != pvmV_value_hash(vm_int(2)));
    assert_true(pvmV_value_hash(vm_float(1.5)) != pvmV_value_hash(vm_float(2.5)));
    assert_true(pvmV_value_hash(str(vm, "a")) != pvmV_value_hash(str(vm, "b")));
    /* Ints hash to themselves, so dense int keys sit in neighbouring map
     * slots; the map's probing mixes in the high bits (test below). */
    assert_true(pvmV_value_hash(vm_int(12345)) == 12345);
}

/* Keys that share all their low bits must still spread over the index:
 * with a probe sequence that ignored high bits every insertion below would
 * collide, and the map would have to fall back to a full scan. */
static void test_map_keys_sharing_low_bits(void **state)
{
    VM *vm = *state;
    PvMap *m = pvmV_map_new(vm, 0);
    for (int64_t k = 0; k < 4096; k++)
        pvmV_map_set(vm, m, vm_int(k << 32), vm_int(k));
    for (int64_t k = 0; k < 4096; k++) {
        Value v;
        assert_true(pvmV_map_get(m, vm_int(k << 32), &v));
        assert_int_equal(v.as.i, k);
    }
    assert_false(pvmV_map_get(m, vm_int(1), NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_type_names, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test(test_compare_int_float),
        cmocka_unit_test(test_equality_numbers),
        cmocka_unit_test_setup_teardown(test_equality_other_types, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_hash_consistency, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_hash_spread, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_map_keys_sharing_low_bits, vm_fixture_setup, vm_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
