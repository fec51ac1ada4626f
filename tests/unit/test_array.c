/* Unit tests for array.c: growth, element access and the index errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vm/runtime/vm.h"
#include "vm_fixture.h"

static void test_new(void **state)
{
    VM *vm = *state;
    PvArray *a = pvmV_array_new(vm, 0);
    assert_int_equal(a->len, 0);
    assert_int_equal(a->cap, 0);
    PvArray *b = pvmV_array_new(vm, 100);
    assert_int_equal(b->len, 0);
    assert_int_equal(b->cap, 100);
    assert_null(b->items.v); /* made with the first element, of its kind */
}

static void test_push_get_set(void **state)
{
    VM *vm = *state;
    PvArray *a = pvmV_array_new(vm, 0);
    pvmV_array_push(vm, a, vm_int(10));
    pvmV_array_push(vm, a, VAL_NIL);
    pvmV_array_push(vm, a, vm_float(2.5));
    assert_int_equal(a->len, 3);
    assert_int_equal(pvmV_array_get(vm, a, 0).as.i, 10);
    assert_int_equal(pvmV_array_get(vm, a, 1).type, VT_NIL);
    assert_true(pvmV_array_get(vm, a, 2).as.f == 2.5);
    pvmV_array_set(vm, a, 1, VAL_TRUE);
    assert_int_equal(pvmV_array_get(vm, a, 1).type, VT_BOOL);
    assert_int_equal(a->len, 3);
}

/* A million pushes: every element survives, and capacity stays within a
 * factor of two of the length (doubling growth). */
static void test_growth_to_a_million(void **state)
{
    VM *vm = *state;
    PvArray *a = pvmV_array_new(vm, 0);
    size_t grows = 0, cap = a->cap;
    for (int64_t i = 0; i < 1000000; i++) {
        pvmV_array_push(vm, a, vm_int(i * 3));
        if (a->cap != cap) {
            grows++;
            cap = a->cap;
        }
    }
    assert_int_equal(a->len, 1000000);
    assert_true(a->cap < 2 * a->len);
    assert_true(grows < 25); /* about log2(1e6 / 8) */
    for (int64_t i = 0; i < 1000000; i += 997)
        assert_int_equal(pvmV_array_get(vm, a, i).as.i, i * 3);
    assert_int_equal(pvmV_array_get(vm, a, 999999).as.i, 999999 * 3);
}

static void test_index_errors(void **state)
{
    VM *vm = *state;
    PvArray *a = pvmV_array_new(vm, 0);
    for (int i = 0; i < 3; i++)
        pvmV_array_push(vm, a, vm_int(i));
    EXPECT_ERROR(vm, pvmV_array_get(vm, a, 5), "index 5 out of range for array of length 3");
    EXPECT_ERROR(vm, pvmV_array_get(vm, a, 3), "index 3 out of range for array of length 3");
    EXPECT_ERROR(vm, pvmV_array_get(vm, a, -1), "index -1 out of range for array of length 3");
    EXPECT_ERROR(vm, pvmV_array_get(vm, a, INT64_MIN),
                 "index -9223372036854775808 out of range for array of length 3");
    EXPECT_ERROR(vm, pvmV_array_set(vm, a, 3, VAL_NIL), "index 3 out of range for array of length 3");
    EXPECT_ERROR(vm, pvmV_array_set(vm, a, -1, VAL_NIL), "index -1 out of range for array of length 3");
    PvArray *empty = pvmV_array_new(vm, 4);
    EXPECT_ERROR(vm, pvmV_array_get(vm, empty, 0), "index 0 out of range for array of length 0");
    /* The failed set changed nothing. */
    assert_int_equal(a->len, 3);
    assert_int_equal(pvmV_array_get(vm, a, 2).as.i, 2);
}

static void test_new_overflow(void **state)
{
    VM *vm = *state;
    EXPECT_ERROR(vm, pvmV_array_new(vm, SIZE_MAX / 4), "out of memory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_push_get_set, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_growth_to_a_million, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_index_errors, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_new_overflow, vm_fixture_setup, vm_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
