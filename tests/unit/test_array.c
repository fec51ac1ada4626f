/* Unit tests for array.c: growth, element access and the index errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <gc.h>
#include <gc/gc_mark.h>
#include <math.h>
#include <string.h>

#include "vm/runtime/vm.h"
#include "vm_fixture.h"

/* An array of [n] values of the kind they share (pvmV_array_of). */
static PvArray *of(VM *vm, int n, ...)
{
    Value vals[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        vals[i] = va_arg(ap, Value);
    va_end(ap);
    return pvmV_array_of(vm, vals, (size_t)n);
}

static const char *show(VM *vm, PvArray *a)
{
    return pvmV_to_string(vm, vm_obj(VT_ARRAY, a))->chars;
}

/* Whether the collector scans the array's storage: only boxed storage
 * holds pointers; the unboxed kinds are GC_MALLOC_ATOMIC. */
static bool scanned(const PvArray *a)
{
    return GC_get_kind_and_size(a->items.v, NULL) != 0; /* 0: PTRFREE */
}

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


/* The first element chooses the kind; anything but a bool, int or float
 * gives boxed storage. */
static void test_kind_of_first_element(void **state)
{
    VM *vm = *state;
    Value firsts[] = { vm_int(1), vm_float(1.5), VAL_TRUE, VAL_NIL, str(vm, "s") };
    unsigned kinds[] = { VM_ARR_INT, VM_ARR_FLOAT, VM_ARR_BOOL, VM_ARR_BOXED, VM_ARR_BOXED };
    for (int k = 0; k < 5; k++) {
        PvArray *a = pvmV_array_new(vm, k); /* with and without capacity */
        pvmV_array_push(vm, a, firsts[k]);
        pvmV_array_push(vm, a, firsts[k]);
        assert_int_equal(a->kind, kinds[k]);
        assert_true(scanned(a) == (kinds[k] == VM_ARR_BOXED));
        assert_true(pvmV_values_equal(pvmV_array_get(vm, a, 1), firsts[k]));
        assert_int_equal(pvmV_array_get(vm, a, 1).type, firsts[k].type);
    }
}

/* An int array receiving a float, a string or nil becomes boxed, and its
 * ints stay ints (never widened to floats). */
static void test_int_array_boxes(void **state)
{
    VM *vm = *state;
    Value others[] = { vm_float(2.5), str(vm, "two"), VAL_NIL, VAL_FALSE };
    for (int k = 0; k < 4; k++) {
        PvArray *a = of(vm, 3, vm_int(1), vm_int(INT64_MIN), vm_int(3));
        assert_int_equal(a->kind, VM_ARR_INT);
        assert_false(scanned(a));
        pvmV_array_set(vm, a, 2, others[k]);
        assert_int_equal(a->kind, VM_ARR_BOXED);
        assert_true(scanned(a));
        assert_int_equal(a->len, 3);
        assert_int_equal(pvmV_array_get(vm, a, 0).type, VT_INT);
        assert_true(pvmV_array_get(vm, a, 1).as.i == INT64_MIN);
        assert_int_equal(pvmV_array_get(vm, a, 2).type, others[k].type);
        /* and it stays boxed when an int comes back */
        pvmV_array_set(vm, a, 2, vm_int(3));
        assert_int_equal(a->kind, VM_ARR_BOXED);
    }
    PvArray *p = of(vm, 2, vm_int(1), vm_int(2));
    pvmV_array_push(vm, p, vm_float(3.0));
    assert_int_equal(p->kind, VM_ARR_BOXED);
    assert_string_equal(show(vm, p), "[1, 2, 3.0]");
}

static void test_float_and_bool_arrays_box(void **state)
{
    VM *vm = *state;
    PvArray *f = of(vm, 3, vm_float(-0.0), vm_float(NAN), vm_float(INFINITY));
    assert_int_equal(f->kind, VM_ARR_FLOAT);
    pvmV_array_set(vm, f, 0, vm_int(7)); /* an int in a float array */
    assert_int_equal(f->kind, VM_ARR_BOXED);
    assert_int_equal(pvmV_array_get(vm, f, 0).type, VT_INT);
    assert_true(isnan(pvmV_array_get(vm, f, 1).as.f));
    assert_string_equal(show(vm, f), "[7, nan, inf]");

    PvArray *b = of(vm, 2, VAL_TRUE, VAL_FALSE);
    assert_int_equal(b->kind, VM_ARR_BOOL);
    pvmV_array_set(vm, b, 1, vm_int(1)); /* an int in a bool array */
    assert_int_equal(b->kind, VM_ARR_BOXED);
    assert_int_equal(pvmV_array_get(vm, b, 0).type, VT_BOOL);
    assert_int_equal(pvmV_array_get(vm, b, 1).type, VT_INT);
    assert_string_equal(show(vm, b), "[true, 1]");
}

/* The bits of every float and int come back exactly. */
static void test_payloads_round_trip(void **state)
{
    VM *vm = *state;
    double fs[] = { -0.0, 0.1, 1e308, -INFINITY, 5e-324 };
    PvArray *f = pvmV_array_new(vm, 0);
    for (int i = 0; i < 5; i++)
        pvmV_array_push(vm, f, vm_float(fs[i]));
    for (int i = 0; i < 5; i++) {
        double got = pvmV_array_get(vm, f, i).as.f;
        assert_memory_equal(&got, &fs[i], sizeof(double));
    }
    int64_t is[] = { INT64_MIN, -1, 0, INT64_MAX };
    PvArray *n = pvmV_array_new(vm, 0);
    for (int i = 0; i < 4; i++)
        pvmV_array_push(vm, n, vm_int(is[i]));
    for (int i = 0; i < 4; i++)
        assert_true(pvmV_array_get(vm, n, i).as.i == is[i]);
}

/* Bools are a byte each: growing past any byte or word boundary keeps them. */
static void test_bool_growth(void **state)
{
    VM *vm = *state;
    PvArray *a = pvmV_array_new(vm, 0);
    for (int i = 0; i < 1000; i++)
        pvmV_array_push(vm, a, vm_bool(i % 3 == 0));
    assert_int_equal(a->kind, VM_ARR_BOOL);
    assert_true(GC_size(a->items.b) < 2 * 1000 + 16);
    for (int i = 0; i < 1000; i++) {
        Value v = pvmV_array_get(vm, a, i);
        assert_int_equal(v.type, VT_BOOL);
        assert_int_equal(v.as.i, i % 3 == 0);
    }
}

/* A literal (pvmV_array_of) and array.new (filled) take the kind of their
 * elements; mixed ones are boxed. */
static void test_made_with_kinds(void **state)
{
    VM *vm = *state;
    assert_int_equal(of(vm, 2, vm_int(1), vm_int(2))->kind, VM_ARR_INT);
    assert_int_equal(of(vm, 2, vm_float(1), vm_float(2))->kind, VM_ARR_FLOAT);
    assert_int_equal(of(vm, 2, VAL_TRUE, VAL_TRUE)->kind, VM_ARR_BOOL);
    assert_int_equal(of(vm, 2, vm_int(1), vm_float(2))->kind, VM_ARR_BOXED);
    assert_int_equal(of(vm, 2, vm_int(1), VAL_TRUE)->kind, VM_ARR_BOXED);
    assert_int_equal(of(vm, 0)->kind, VM_ARR_BOXED);
    Value fills[] = { vm_int(3), vm_float(0.5), VAL_FALSE, VAL_NIL, str(vm, "x") };
    unsigned kinds[] = { VM_ARR_INT, VM_ARR_FLOAT, VM_ARR_BOOL, VM_ARR_BOXED, VM_ARR_BOXED };
    for (int k = 0; k < 5; k++) {
        PvArray *a = pvmV_array_filled(vm, 20, fills[k]);
        assert_int_equal(a->kind, kinds[k]);
        assert_int_equal(a->len, 20);
        assert_true(pvmV_values_equal(pvmV_array_get(vm, a, 19), fills[k]) || fills[k].type == VT_NIL);
        assert_int_equal(pvmV_array_get(vm, a, 19).type, fills[k].type);
    }
    assert_int_equal(pvmV_array_filled(vm, 0, vm_int(1))->len, 0);
}

/* Emptied, an array takes the kind of what it receives next. */
static void test_empty_array_rekinds(void **state)
{
    VM *vm = *state;
    PvArray *a = of(vm, 2, str(vm, "a"), str(vm, "b"));
    pvmV_array_pop(a);
    pvmV_array_pop(a);
    pvmV_array_push(vm, a, vm_int(5));
    assert_int_equal(a->kind, VM_ARR_INT);
    assert_false(scanned(a));
    assert_string_equal(show(vm, a), "[5]");
}

static void test_slice_concat(void **state)
{
    VM *vm = *state;
    PvArray *i = of(vm, 4, vm_int(1), vm_int(2), vm_int(3), vm_int(4));
    PvArray *f = of(vm, 2, vm_float(0.5), vm_float(1.5));
    PvArray *b = of(vm, 2, VAL_TRUE, VAL_FALSE);
    PvArray *s = pvmV_array_slice(vm, i, 1, 3);
    assert_int_equal(s->kind, VM_ARR_INT);
    assert_string_equal(show(vm, s), "[2, 3]");
    assert_string_equal(show(vm, pvmV_array_slice(vm, b, 1, 2)), "[false]");
    assert_int_equal(pvmV_array_slice(vm, f, 2, 1)->len, 0);
    PvArray *ii = pvmV_array_concat(vm, i, s);
    assert_int_equal(ii->kind, VM_ARR_INT);
    assert_string_equal(show(vm, ii), "[1, 2, 3, 4, 2, 3]");
    PvArray *mixed = pvmV_array_concat(vm, i, f);
    assert_int_equal(mixed->kind, VM_ARR_BOXED);
    assert_string_equal(show(vm, mixed), "[1, 2, 3, 4, 0.5, 1.5]");
    assert_int_equal(pvmV_array_get(vm, mixed, 0).type, VT_INT);
    PvArray *empty = pvmV_array_new(vm, 0);
    assert_int_equal(pvmV_array_concat(vm, empty, b)->kind, VM_ARR_BOOL);
    assert_int_equal(pvmV_array_concat(vm, f, empty)->kind, VM_ARR_FLOAT);
    assert_string_equal(show(vm, pvmV_array_concat(vm, b, f)), "[true, false, 0.5, 1.5]");
}

static void test_insert_remove_pop(void **state)
{
    VM *vm = *state;
    PvArray *b = of(vm, 3, VAL_TRUE, VAL_FALSE, VAL_TRUE);
    pvmV_array_insert(vm, b, 1, VAL_FALSE);
    pvmV_array_insert(vm, b, 4, VAL_FALSE);
    assert_int_equal(b->kind, VM_ARR_BOOL);
    assert_string_equal(show(vm, b), "[true, false, false, true, false]");
    assert_int_equal(pvmV_array_remove(b, 0).as.i, 1);
    assert_string_equal(show(vm, b), "[false, false, true, false]");
    PvArray *i = of(vm, 3, vm_int(10), vm_int(20), vm_int(30));
    pvmV_array_insert(vm, i, 0, str(vm, "s")); /* boxes */
    assert_int_equal(i->kind, VM_ARR_BOXED);
    assert_string_equal(show(vm, i), "[\"s\", 10, 20, 30]");
    assert_int_equal(pvmV_array_remove(i, 2).as.i, 20);
    assert_int_equal(pvmV_array_pop(i).as.i, 30);
    assert_string_equal(show(vm, i), "[\"s\", 10]");
    PvArray *f = of(vm, 2, vm_float(1.0), vm_float(2.0));
    pvmV_array_insert(vm, f, 1, vm_float(1.5));
    assert_true(pvmV_array_remove(f, 2).as.f == 2.0);
    assert_true(pvmV_array_pop(f).as.f == 1.5);
    assert_int_equal(f->kind, VM_ARR_FLOAT);
}

/* assign (sort's write-back) takes the kind of the new contents. */
static void test_assign(void **state)
{
    VM *vm = *state;
    PvArray *a = of(vm, 2, str(vm, "x"), vm_int(1));
    Value ints[] = { vm_int(3), vm_int(4), vm_int(5) };
    pvmV_array_assign(vm, a, ints, 3);
    assert_int_equal(a->kind, VM_ARR_INT);
    assert_int_equal(a->len, 3);
    assert_string_equal(show(vm, a), "[3, 4, 5]");
}

/* The JIT reads the kind as the byte at VM_ARR_KIND_OFFSET (array.h). */
static void test_kind_byte_for_the_jit(void **state)
{
    VM *vm = *state;
    PvArray *a = of(vm, 1, vm_float(1.0));
    a->cap = ((uint64_t)1 << 56) - 1; /* every capacity bit set */
    assert_int_equal(((const uint8_t *)a)[VM_ARR_KIND_OFFSET], VM_ARR_FLOAT);
    a->kind = VM_ARR_BOOL;
    assert_int_equal(((const uint8_t *)a)[VM_ARR_KIND_OFFSET], VM_ARR_BOOL);
    assert_true(a->cap == ((uint64_t)1 << 56) - 1);
    assert_int_equal(sizeof(PvArray), 3 * sizeof(uint64_t));
}

/* A million ints take 8 bytes each in the memory limit's count, which
 * does not look into them (and would not find pointers there). */
static void test_reach_of_unboxed(void **state)
{
    VM *vm = *state;
    vm->top[0] = vm_obj(VT_ARRAY, pvmV_array_filled(vm, 1000000, vm_int(1)));
    vm->top++;
    size_t bytes = pvmV_reachable_bytes(vm);
    assert_true(bytes >= 8000000);
    assert_true(bytes < 9000000);
    vm->top--;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_push_get_set, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_growth_to_a_million, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_index_errors, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_new_overflow, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_kind_of_first_element, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_int_array_boxes, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_float_and_bool_arrays_box, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_payloads_round_trip, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bool_growth, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_made_with_kinds, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_empty_array_rekinds, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_slice_concat, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_insert_remove_pop, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_assign, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_kind_byte_for_the_jit, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_reach_of_unboxed, vm_fixture_setup, vm_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
