/* Unit tests for display.c: the display form of every type, Python-repr
 * floats, string escapes inside containers, shared and self-containing
 * containers, very deep nesting, and the VmBuf helpers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vm/runtime/vm.h"
#include "vm_fixture.h"

static Value new_array(VM *vm)
{
    return vm_obj(VT_ARRAY, pvmV_array_new(vm, 0));
}

static Value new_map(VM *vm)
{
    return vm_obj(VT_MAP, pvmV_map_new(vm, 0));
}

static void push(VM *vm, Value a, Value v)
{
    pvmV_array_push(vm, a.as.a, v);
}

/* Asserts that the display form of [v] is exactly [expect]. */
static void check_display(Value v, const char *expect)
{
    VmBuf b;
    pvmV_buf_init(&b);
    pvmV_display(&b, v);
    assert_int_equal(b.len, strlen(expect));
    assert_string_equal(b.data, expect);
    pvmV_buf_free(&b);
}

/* Expected strings are Python 3's repr() of the same double. */
static const struct {
    double value;
    const char *repr;
} float_cases[] = {
    { 0.1, "0.1" },
    { 1.0 / 3.0, "0.3333333333333333" },
    { 5e-324, "5e-324" },
    { 1.7976931348623157e308, "1.7976931348623157e+308" },
    { 1e15, "1000000000000000.0" },
    { 1e16, "1e+16" },
    { 123456789012345678.0, "1.2345678901234568e+17" },
    { -0.0, "-0.0" },
    { 0.0, "0.0" },
    { 1e-4, "0.0001" },
    { 9.999999999999999e-05, "9.999999999999999e-05" },
    { 2.5e-3, "0.0025" },
    { 1e22, "1e+22" },
    { 1e21, "1e+21" },
    { 0.1 + 0.2, "0.30000000000000004" },
    { 0.3, "0.3" },
    { 1.0, "1.0" },
    { 3.0, "3.0" },
    { -2.5, "-2.5" },
    { 123456789.0, "123456789.0" },
    { 1.5e-05, "1.5e-05" },
    { 1e-100, "1e-100" },
    { 1e+100, "1e+100" },
    { 2.2250738585072014e-308, "2.2250738585072014e-308" },
    { 2.225073858507201e-308, "2.225073858507201e-308" },
    { 9007199254740992.0, "9007199254740992.0" },
    { 9007199254740993.0, "9007199254740992.0" },
    { 9223372036854775808.0, "9.223372036854776e+18" },
    { -9223372036854775808.0, "-9.223372036854776e+18" },
    /* Powers of two whose shortest form lies above the nearest rounding. */
    { 0x1p-24, "5.960464477539063e-08" },
    { 0x1p-44, "5.684341886080802e-14" },
    { 0x1p89, "6.189700196426902e+26" },
    { 0x1p-1017, "7.120236347223045e-307" },
    { 9999999999999998.0, "9999999999999998.0" },
    { 0.00012345, "0.00012345" },
    { 1e-05, "1e-05" },
    { 1.0000000000000002, "1.0000000000000002" },
    { 0.9999999999999999, "0.9999999999999999" },
    { 100.0, "100.0" },
    { 1e-07, "1e-07" },
    { 4.35, "4.35" },
    { 2.675, "2.675" },
    { 1.0 / 7.0, "0.14285714285714285" },
    { 2.0 / 3.0, "0.6666666666666666" },
    { 1e23, "1e+23" },
    { 5e-310, "5e-310" },
    { 6.02214076e23, "6.02214076e+23" },
    { 1.602176634e-19, "1.602176634e-19" },
    { 3.141592653589793, "3.141592653589793" },
    { 2.718281828459045, "2.718281828459045" },
    { -1e-300, "-1e-300" },
    { 1234.5678, "1234.5678" },
    { 0.5, "0.5" },
    { 1e301, "1e+301" },
    { 7.0e-10, "7e-10" },
    { 123e18, "1.23e+20" },
    { 1e17, "1e+17" },
    { 12345678901234567890.0, "1.2345678901234567e+19" },
    { 0.000123, "0.000123" },
    { 1e-323, "1e-323" },
    { 1e-5 * 9.5, "9.5e-05" },
    { 1.5e16, "1.5e+16" },
    { 999999999999999.9, "999999999999999.9" },
    { INFINITY, "inf" },
    { -INFINITY, "-inf" },
    { NAN, "nan" },
    { -NAN, "nan" },
};

static void test_floats(void **state)
{
    (void)state;
    char out[32];
    for (size_t i = 0; i < sizeof float_cases / sizeof float_cases[0]; i++) {
        pvmV_format_float(out, float_cases[i].value);
        if (strcmp(out, float_cases[i].repr) != 0)
            fail_msg("case %zu: got %s, want %s", i, out, float_cases[i].repr);
        check_display(vm_float(float_cases[i].value), float_cases[i].repr);
    }
}

/* Every NaN payload prints as nan, negative ones too. */
static void test_nan_payloads(void **state)
{
    (void)state;
    uint64_t patterns[] = { 0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff0000000000001ull,
                            0xffffffffffffffffull };
    char out[32];
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        double d;
        memcpy(&d, &patterns[i], sizeof d);
        pvmV_format_float(out, d);
        assert_string_equal(out, "nan");
    }
}

static void test_scalars(void **state)
{
    VM *vm = *state;
    check_display(VAL_NIL, "nil");
    check_display(VAL_TRUE, "true");
    check_display(VAL_FALSE, "false");
    check_display(vm_int(0), "0");
    check_display(vm_int(-42), "-42");
    check_display(vm_int(INT64_MIN), "-9223372036854775808");
    check_display(vm_int(INT64_MAX), "9223372036854775807");
    check_display(str(vm, "plain \"text\"\n"), "plain \"text\"\n"); /* raw at top level */
    check_display(str(vm, ""), "");
}

static void test_top_level_string_keeps_nul(void **state)
{
    VM *vm = *state;
    VmBuf b;
    pvmV_buf_init(&b);
    pvmV_display(&b, vm_str_value(pvmV_string_new(vm, "a\0b", 3)));
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 3);
    pvmV_buf_free(&b);
}

static void test_string_escapes_in_containers(void **state)
{
    VM *vm = *state;
    Value a = new_array(vm);
    static const char raw[] = "q\"b\\n\nt\tr\r\0\x01\x1f\x7f \xc3\xa9~";
    push(vm, a, vm_str_value(pvmV_string_new(vm, raw, sizeof raw - 1)));
    check_display(a, "[\"q\\\"b\\\\n\\nt\\tr\\r\\x00\\x01\\x1f\\x7f \xc3\xa9~\"]");
    Value b = new_array(vm);
    push(vm, b, str(vm, ""));
    push(vm, b, str(vm, "\x1b[0m"));
    check_display(b, "[\"\", \"\\x1b[0m\"]");
}

static void test_arrays_and_maps(void **state)
{
    VM *vm = *state;
    Value a = new_array(vm);
    check_display(a, "[]");
    push(vm, a, vm_int(1));
    push(vm, a, vm_float(2.5));
    push(vm, a, str(vm, "x"));
    push(vm, a, VAL_NIL);
    check_display(a, "[1, 2.5, \"x\", nil]");

    Value m = new_map(vm);
    check_display(m, "{}");
    Value inner = new_array(vm);
    push(vm, inner, VAL_TRUE);
    pvmV_map_set(vm, m.as.m, str(vm, "a"), vm_int(1));
    pvmV_map_set(vm, m.as.m, vm_int(2), inner);
    check_display(m, "{\"a\": 1, 2: [true]}");

    pvmV_map_set(vm, m.as.m, vm_float(0.5), new_map(vm));
    pvmV_map_set(vm, m.as.m, VAL_FALSE, new_array(vm));
    check_display(m, "{\"a\": 1, 2: [true], 0.5: {}, false: []}");
    pvmV_map_remove(m.as.m, str(vm, "a"), NULL);
    pvmV_map_set(vm, m.as.m, str(vm, "a"), str(vm, "again"));
    check_display(m, "{2: [true], 0.5: {}, false: [], \"a\": \"again\"}");
}

static void test_container_keys(void **state)
{
    VM *vm = *state;
    Value m = new_map(vm);
    Value key = new_array(vm);
    push(vm, key, vm_int(1));
    push(vm, key, vm_int(2));
    pvmV_map_set(vm, m.as.m, key, str(vm, "v"));
    Value kmap = new_map(vm);
    pvmV_map_set(vm, kmap.as.m, str(vm, "k"), VAL_NIL);
    pvmV_map_set(vm, m.as.m, kmap, kmap);
    check_display(m, "{[1, 2]: \"v\", {\"k\": nil}: {\"k\": nil}}");
}

static void test_shared_is_printed_in_full(void **state)
{
    VM *vm = *state;
    Value one = new_array(vm);
    push(vm, one, vm_int(1));
    Value a = new_array(vm);
    push(vm, a, one);
    push(vm, a, one);
    check_display(a, "[[1], [1]]");
    Value m = new_map(vm);
    pvmV_map_set(vm, m.as.m, str(vm, "x"), one);
    pvmV_map_set(vm, m.as.m, str(vm, "y"), one);
    push(vm, a, m);
    check_display(a, "[[1], [1], {\"x\": [1], \"y\": [1]}]");
}

static void test_self_containing(void **state)
{
    VM *vm = *state;
    Value a = new_array(vm);
    push(vm, a, vm_int(1));
    push(vm, a, a);
    check_display(a, "[1, [...]]");

    Value m = new_map(vm);
    pvmV_map_set(vm, m.as.m, str(vm, "self"), m);
    pvmV_map_set(vm, m.as.m, m, vm_int(2));
    check_display(m, "{\"self\": {...}, {...}: 2}");

    /* A cycle through two containers: each prints once, then the marker. */
    Value outer = new_array(vm);
    Value inner = new_map(vm);
    push(vm, outer, inner);
    pvmV_map_set(vm, inner.as.m, str(vm, "up"), outer);
    check_display(outer, "[{\"up\": [...]}]");
    check_display(inner, "{\"up\": [{...}]}");

    /* After the cycle closes, the same container may appear again in full. */
    Value b = new_array(vm);
    push(vm, b, a);
    push(vm, b, a);
    check_display(b, "[[1, [...]], [1, [...]]]");
}

/* A million nested arrays print in full without using the C stack. */
static void test_deep_nesting(void **state)
{
    VM *vm = *state;
    const size_t depth = 1000000;
    Value v = vm_int(7);
    for (size_t i = 0; i < depth; i++) {
        Value a = new_array(vm);
        push(vm, a, v);
        v = a;
    }
    VmBuf b;
    pvmV_buf_init(&b);
    pvmV_display(&b, v);
    assert_int_equal(b.len, 2 * depth + 1);
    for (size_t i = 0; i < depth; i++) {
        if (b.data[i] != '[' || b.data[b.len - 1 - i] != ']')
            fail_msg("wrong bracket at depth %zu", i);
    }
    assert_int_equal(b.data[depth], '7');
    pvmV_buf_free(&b);

    /* Deep maps, closed into a cycle at the bottom. */
    Value top = new_map(vm);
    Value m = top;
    for (int i = 0; i < 1000; i++) {
        Value next = new_map(vm);
        pvmV_map_set(vm, m.as.m, vm_int(i), next);
        m = next;
    }
    pvmV_map_set(vm, m.as.m, str(vm, "loop"), top);
    pvmV_buf_init(&b);
    pvmV_display(&b, top);
    assert_true(b.len > 5000);
    assert_non_null(strstr(b.data, "{\"loop\": {...}}"));
    pvmV_buf_free(&b);
}

static void test_functions_and_pointers(void **state)
{
    VM *vm = *state;
    VmProto named = { .name = pvmV_string_cstr(vm, "fib") };
    VmProto anon = { .name = NULL };
    PvClosure *cl = pvmV_alloc(vm, sizeof(PvClosure));
    cl->proto = &named;
    cl->nupvals = 0;
    check_display(vm_obj(VT_CLOSURE, cl), "<fn fib>");
    PvClosure *cl2 = pvmV_alloc(vm, sizeof(PvClosure));
    cl2->proto = &anon;
    cl2->nupvals = 0;
    check_display(vm_obj(VT_CLOSURE, cl2), "<fn>");
    PvNative nat = { .name = pvmV_string_cstr(vm, "print") };
    check_display(vm_obj(VT_NATIVE, &nat), "<fn print>");
    Value a = new_array(vm);
    push(vm, a, vm_obj(VT_CLOSURE, cl));
    push(vm, a, vm_obj(VT_NATIVE, &nat));
    check_display(a, "[<fn fib>, <fn print>]");

    /* A pointer value is a box holding the host address (see ffi.md). */
    PvPointer box = { .addr = (void *)(uintptr_t)0xdeadbeef };
    check_display(vm_obj(VT_POINTER, &box), "<pointer 0xdeadbeef>");
    PvPointer null_box = { .addr = NULL };
    check_display(vm_obj(VT_POINTER, &null_box), "<pointer 0x0>");
}

static void test_to_string(void **state)
{
    VM *vm = *state;
    PvString *s = pvmV_string_cstr(vm, "same");
    assert_ptr_equal(pvmV_to_string(vm, vm_str_value(s)), s);
    PvString *f = pvmV_to_string(vm, vm_float(0.1 + 0.2));
    assert_string_equal(f->chars, "0.30000000000000004");
    assert_true(f->hash == pvmV_hash_bytes(f->chars, f->len));
    Value a = new_array(vm);
    push(vm, a, str(vm, "x"));
    assert_string_equal(pvmV_to_string(vm, a)->chars, "[\"x\"]");
    assert_string_equal(pvmV_to_string(vm, VAL_NIL)->chars, "nil");
}

static void test_buf(void **state)
{
    (void)state;
    VmBuf b;
    pvmV_buf_init(&b);
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    pvmV_buf_add(&b, "ab", 2);
    pvmV_buf_addc(&b, 'c');
    pvmV_buf_addf(&b, "-%d-%s", 42, "x");
    assert_string_equal(b.data, "abc-42-x");
    assert_int_equal(b.len, 8);
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    pvmV_buf_addf(&b, "%s!", big); /* longer than the free space: retried after growing */
    assert_int_equal(b.len, 8 + 4999 + 1);
    assert_int_equal(b.data[b.len - 1], '!');
    assert_int_equal(b.data[b.len], '\0');
    pvmV_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

/* A buffer that cannot grow is marked failed, not the process ended: it
 * keeps its text and ignores what follows. */
static void test_buf_failure(void **state)
{
    (void)state;
    VmBuf b;
    pvmV_buf_init(&b);
    pvmV_buf_add(&b, "ok", 2);
    assert_false(b.failed);
    pvmV_buf_add(&b, "never read", SIZE_MAX / 2 + 1);
    assert_true(b.failed);
    pvmV_buf_addc(&b, '!');
    pvmV_buf_addf(&b, "%d", 7);
    assert_string_equal(b.data, "ok");
    assert_int_equal(b.len, 2);
    pvmV_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_buf_failure),
        cmocka_unit_test(test_nan_payloads),
        cmocka_unit_test_setup_teardown(test_scalars, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_top_level_string_keeps_nul, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_string_escapes_in_containers, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_arrays_and_maps, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_container_keys, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_shared_is_printed_in_full, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_self_containing, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_functions_and_pointers, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_to_string, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test(test_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
