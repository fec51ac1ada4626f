/* Unit tests for string.c: creation, concatenation and comparison of byte
 * strings (embedded NULs included), the hash, and size overflow errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vm/runtime/vm.h"
#include "vm_fixture.h"

static void test_new_copies_and_terminates(void **state)
{
    VM *vm = *state;
    char src[] = "hello";
    PvString *s = pvmV_string_new(vm, src, 5);
    src[0] = 'J';
    assert_int_equal(s->len, 5);
    assert_memory_equal(s->chars, "hello", 6); /* includes the NUL */
    PvString *e = pvmV_string_new(vm, NULL, 0);
    assert_int_equal(e->len, 0);
    assert_int_equal(e->chars[0], '\0');
    PvString *c = pvmV_string_cstr(vm, "héllo");
    assert_int_equal(c->len, 6); /* bytes, not characters */
}

static void test_embedded_nul(void **state)
{
    VM *vm = *state;
    PvString *a = pvmV_string_new(vm, "a\0b", 3);
    PvString *b = pvmV_string_new(vm, "a\0c", 3);
    PvString *a2 = pvmV_string_new(vm, "a\0b", 3);
    PvString *prefix = pvmV_string_new(vm, "a", 1);
    assert_int_equal(a->len, 3);
    assert_true(pvmV_string_equal(a, a2));
    assert_false(pvmV_string_equal(a, b));
    assert_false(pvmV_string_equal(a, prefix)); /* strcmp would say equal */
    assert_int_equal(pvmV_string_compare(a, b), -1);
    assert_int_equal(pvmV_string_compare(b, a), 1);
    assert_int_equal(pvmV_string_compare(a, a2), 0);
    assert_int_equal(pvmV_string_compare(prefix, a), -1);
    assert_int_equal(pvmV_string_compare(a, prefix), 1);
    assert_true(a->hash == a2->hash);
    assert_true(a->hash != b->hash);
}

static void test_compare_bytewise(void **state)
{
    VM *vm = *state;
    PvString *lo = pvmV_string_cstr(vm, "a");
    PvString *hi = pvmV_string_cstr(vm, "\xe9"); /* 0xE9 sorts after 'a' unsigned */
    PvString *empty = pvmV_string_cstr(vm, "");
    assert_int_equal(pvmV_string_compare(lo, hi), -1);
    assert_int_equal(pvmV_string_compare(hi, lo), 1);
    assert_int_equal(pvmV_string_compare(empty, lo), -1);
    assert_int_equal(pvmV_string_compare(empty, empty), 0);
    assert_int_equal(pvmV_string_compare(pvmV_string_cstr(vm, "abc"), pvmV_string_cstr(vm, "abd")), -1);
    assert_int_equal(pvmV_string_compare(pvmV_string_cstr(vm, "B"), pvmV_string_cstr(vm, "a")), -1);
}

static void test_concat(void **state)
{
    VM *vm = *state;
    PvString *a = pvmV_string_new(vm, "ab\0", 3);
    PvString *b = pvmV_string_new(vm, "\0cd", 3);
    PvString *c = pvmV_string_concat(vm, a, b);
    assert_int_equal(c->len, 6);
    assert_memory_equal(c->chars, "ab\0\0cd", 7);
    assert_true(c->hash == pvmV_hash_bytes("ab\0\0cd", 6));
    PvString *empty = pvmV_string_cstr(vm, "");
    PvString *same = pvmV_string_concat(vm, empty, a);
    assert_true(pvmV_string_equal(same, a));
    assert_true(pvmV_string_concat(vm, empty, empty)->len == 0);
}

/* Fake strings with absurd lengths: the size check must fire before any
 * byte is read or allocated. */
static void test_concat_overflow(void **state)
{
    VM *vm = *state;
    PvString huge = { .hash = 0, .len = SIZE_MAX / 2 + 1 };
    EXPECT_ERROR(vm, pvmV_string_concat(vm, &huge, &huge), "out of memory");
    PvString big = { .hash = 0, .len = SIZE_MAX - 4 };
    PvString small = { .hash = 0, .len = 8 };
    EXPECT_ERROR(vm, pvmV_string_concat(vm, &big, &small), "out of memory");
    EXPECT_ERROR(vm, pvmV_string_new(vm, "", SIZE_MAX), "out of memory");
}

static void test_hash(void **state)
{
    VM *vm = *state;
    assert_true(pvmV_hash_bytes("abc", 3) == pvmV_hash_bytes("abc", 3));
    assert_true(pvmV_hash_bytes("abc", 3) != pvmV_hash_bytes("abd", 3));
    assert_true(pvmV_hash_bytes("", 0) != pvmV_hash_bytes("\0", 1));
    assert_true(pvmV_string_cstr(vm, "key")->hash == pvmV_hash_bytes("key", 3));
    /* Strings differing only in a byte's top bit still differ in low bits. */
    uint64_t h1 = pvmV_hash_bytes("a\x01", 2), h2 = pvmV_hash_bytes("a\x81", 2);
    assert_true((h1 & 0xff) != (h2 & 0xff));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_copies_and_terminates, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_embedded_nul, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_compare_bytewise, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_concat, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_concat_overflow, vm_fixture_setup, vm_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_hash, vm_fixture_setup, vm_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
