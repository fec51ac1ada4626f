/* Embedding-API rules settled by issue 13 (points 7 and 9): the memory
 * limit and real exhaustion have distinct statuses; live handles can be
 * counted; misuse around loading and globals gets a clear status; the
 * host may replace standard-library names, as lua_register does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pvm.h"
#include "api_fixture.h"

/* ---- PVM_EMEMORY (the limit) and PVM_ENOMEM (real exhaustion) ---- */

static void test_memory_limit_is_emem_and_uncatchable(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_set_memory_limit(vm, 1u << 20);
    assert_int_equal(run(vm, "let caught = false;\n"
                             "try { let s = string.repeat(\"x\", 10 << 20); } catch e { caught = true; }"),
                     PVM_EMEMORY);
    assert_string_equal(pvm_error_message(vm), "memory limit exceeded");
    assert_string_equal(pvm_status_name(PVM_EMEMORY), "PVM_EMEMORY");
    pvm_free(vm);
}

static void test_out_of_memory_is_enomem_and_catchable(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    /* 2^50 bytes: no allocation can meet it, whatever the limit. */
    assert_int_equal(run(vm, "let s = string.repeat(\"x\", 1 << 50);"), PVM_ENOMEM);
    assert_string_equal(pvm_error_message(vm), "out of memory");
    assert_string_equal(pvm_status_name(PVM_ENOMEM), "PVM_ENOMEM");
    assert_int_equal(run(vm, "let caught = \"\";\n"
                             "try { let a = array.new(1 << 60, 0); } catch e { caught = e; }"),
                     PVM_OK);
    pvm_value c;
    const char *text;
    assert_int_equal(pvm_get_global(vm, "caught", &c), PVM_OK);
    assert_int_equal(pvm_get_string(vm, c, &text, NULL), PVM_OK);
    assert_string_equal(text, "out of memory");
    pvm_release(vm, c);
    /* The existing statuses kept their numbers. */
    assert_int_equal(PVM_EMEMORY, 4);
    assert_int_equal(PVM_ESTATE, 12);
    assert_int_equal(PVM_ENOMEM, 13);
    pvm_free(vm);
}

/* ---- counting handles ---- */

static pvm_value make_three(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    size_t *seen = ud;
    pvm_int(vm, 1);
    pvm_cstring(vm, "two");
    pvm_new_array(vm);
    *seen = pvm_handle_count(vm);
    return PVM_NIL;
}

static void test_handle_count(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(pvm_handle_count(vm), 0);
    assert_int_equal(pvm_handle_count(NULL), 0);
    pvm_value a = pvm_int(vm, 5), b = pvm_cstring(vm, "x"), n = pvm_int(vm, 0);
    (void)n;
    assert_int_equal(pvm_handle_count(vm), 3);
    pvm_value r = pvm_retain(vm, b);
    assert_int_equal(pvm_handle_count(vm), 4);
    pvm_release(vm, a);
    pvm_release(vm, a); /* twice: PVM_EARG, count unchanged */
    assert_int_equal(pvm_handle_count(vm), 3);
    pvm_release(vm, PVM_NIL);
    assert_int_equal(pvm_handle_count(vm), 3);
    /* A native's local handles count while it runs, not after. */
    size_t seen = 0;
    assert_int_equal(pvm_register(vm, "make_three", make_three, &seen), PVM_OK);
    assert_int_equal(run(vm, "make_three();"), PVM_OK);
    assert_int_equal(seen, 3 + 3);
    assert_int_equal(pvm_handle_count(vm), 3);
    pvm_release(vm, b);
    pvm_release(vm, r);
    pvm_release(vm, n);
    assert_int_equal(pvm_handle_count(vm), 0);
    pvm_free(vm);
}

/* ---- loading and globals ---- */

static void test_null_source_is_an_error(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(pvm_load_source(vm, NULL, 0, "x.pv"), PVM_EARG);
    assert_int_equal(pvm_load_source(vm, NULL, 10, "x.pv"), PVM_EARG);
    /* Nothing was loaded. */
    assert_int_equal(pvm_run(vm), PVM_ESTATE);
    pvm_free(vm);
}

static void test_set_global_without_program(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value one = pvm_int(vm, 1);
    assert_int_equal(pvm_set_global(vm, "x", one), PVM_ESTATE);
    assert_non_null(strstr(pvm_error_message(vm), "no program loaded"));
    pvm_free(vm);
}

static void test_get_global_before_run(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    const char *src = "fn f() { return 7; } let x = 3;";
    assert_int_equal(pvm_load_source(vm, src, strlen(src), "t.pv"), PVM_OK);
    pvm_value v = PVM_NIL;
    assert_int_equal(pvm_get_global(vm, "f", &v), PVM_ESTATE);
    assert_non_null(strstr(pvm_error_message(vm), "not set until pvm_run"));
    assert_true(pvm_is_nil(vm, v));
    assert_int_equal(pvm_get_global(vm, "x", &v), PVM_ESTATE);
    /* Built-ins need no run; an unknown name is still not found. */
    assert_int_equal(pvm_get_global(vm, "print", &v), PVM_OK);
    pvm_release(vm, v);
    assert_int_equal(pvm_get_global(vm, "nope", &v), PVM_ENOTFOUND);
    assert_int_equal(pvm_run(vm), PVM_OK);
    assert_int_equal(pvm_get_global(vm, "f", &v), PVM_OK);
    assert_int_equal(pvm_typeof(vm, v), PVM_TFUNCTION);
    pvm_release(vm, v);
    assert_int_equal(global_int(vm, "x"), 3);
    pvm_free(vm);
}

/* ---- replacing standard names ---- */

static pvm_value quiet_print(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    int *calls = ud;
    (*calls)++;
    return PVM_NIL;
}

static void test_register_replaces_standard_names(void **state)
{
    (void)state;
    Capture out = { .len = 0 };
    pvm_options o = { .write = capture, .ud = &out };
    pvm_vm *vm = pvm_new(&o);
    int calls = 0;
    /* As lua_register(L, "print", f) does: the host's print wins, for
     * programs loaded before and after. */
    assert_int_equal(pvm_register(vm, "print", quiet_print, &calls), PVM_OK);
    assert_int_equal(run(vm, "print(\"hidden\");"), PVM_OK);
    assert_int_equal(calls, 1);
    assert_string_equal(out.text, "");
    pvm_value m;
    assert_int_equal(pvm_get_global(vm, "math", &m), PVM_OK);
    assert_int_equal(pvm_typeof(vm, m), PVM_TMAP);
    pvm_release(vm, m);
    pvm_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_limit_is_emem_and_uncatchable),
        cmocka_unit_test(test_out_of_memory_is_enomem_and_catchable),
        cmocka_unit_test(test_handle_count),
        cmocka_unit_test(test_null_source_is_an_error),
        cmocka_unit_test(test_set_global_without_program),
        cmocka_unit_test(test_get_global_before_run),
        cmocka_unit_test(test_register_replaces_standard_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
