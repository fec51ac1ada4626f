/* Running out of memory anywhere: the allocation funnel's fault injection
 * (vm->fail_alloc_countdown) fails the Nth allocation and every later one,
 * for N = 1, 2, 3, ... until a representative program (loading source,
 * strings, arrays, maps, closures, natives of the standard library and of
 * the host) gets through. Each run must end with PVM_ENOMEM and the
 * message "out of memory", or succeed; never crash. The VM must then run
 * a program normally once the injection is cleared, and free cleanly.
 * pvm_new itself is failed the same way (pvmV_new_vm_fail_countdown). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pvm.h"
#include "api_fixture.h"
#include "vm/api/api_int.h"

/* A host native that allocates through the API and, as a careful native
 * does, passes any failure on with pvm_rethrow. */
static pvm_value host_pair(pvm_vm *vm, int argc, const pvm_value *argv, void *ud)
{
    pvm_value a = pvm_new_array(vm);
    if (pvm_is_nil(vm, a))
        return pvm_rethrow(vm);
    for (int i = 0; i < 2 && i < argc; i++) {
        if (pvm_array_push(vm, a, argv[i]) != PVM_OK)
            return pvm_rethrow(vm);
    }
    pvm_value s = pvm_cstring(vm, "tag");
    if (pvm_is_nil(vm, s) || pvm_array_push(vm, a, s) != PVM_OK)
        return pvm_rethrow(vm);
    return a;
}

static const char program[] =
    "fn counter(start) {\n"
    "  let n = start;\n"
    "  return fn() { n += 1; return n; };\n"
    "}\n"
    "let next = counter(10);\n"
    "let parts = [];\n"
    "let seen = {};\n"
    "for i in 0..40 {\n"
    "  let key = \"item\" + str(i);\n"
    "  push(parts, key);\n"
    "  seen[key] = pair(i, next());\n"
    "}\n"
    "let joined = string.join(parts, \",\");\n"
    "let sorted = keys(seen);\n"
    "array.sort(sorted, fn(a, b) { return len(a) < len(b); });\n"
    "let shown = str(seen);\n"
    "let total = len(joined) + len(sorted) + len(shown) + next();\n";

/* One run with the Nth allocation failing; true when it got through. */
static bool run_failing_at(pvm_vm *vm, uint64_t n)
{
    vm->vm->fail_alloc_countdown = n;
    pvm_status st = pvm_load_source(vm, program, strlen(program), "oom.pv");
    if (st == PVM_OK)
        st = pvm_run(vm);
    vm->vm->fail_alloc_countdown = 0;
    if (st != PVM_OK && st != PVM_ENOMEM)
        fprintf(stderr, "N=%llu: %s: %s\n%s", (unsigned long long)n, pvm_status_name(st),
                pvm_error_message(vm), pvm_error_trace(vm));
    if (st == PVM_OK)
        return true;
    assert_int_equal(st, PVM_ENOMEM);
    assert_int_equal(pvm_error_status(vm), PVM_ENOMEM);
    assert_string_equal(pvm_error_message(vm), "out of memory");
    return false;
}

static pvm_vm *new_vm(void)
{
    pvm_vm *vm = pvm_new(NULL);
    assert_non_null(vm);
    assert_int_equal(pvm_register(vm, "pair", host_pair, NULL), PVM_OK);
    return vm;
}

static void test_every_allocation_can_fail(void **state)
{
    (void)state;
    uint64_t n = 1;
    for (; n < 100000; n++) {
        pvm_vm *vm = new_vm();
        bool done = run_failing_at(vm, n);
        /* Usable again: the same program runs to its end. */
        pvm_status st = run(vm, program);
        if (st != PVM_OK)
            fprintf(stderr, "after N=%llu: %s\n", (unsigned long long)n, pvm_error_message(vm));
        assert_int_equal(st, PVM_OK);
        pvm_free(vm);
        if (done)
            break;
    }
    assert_true(n > 50); /* the program did allocate: the injection worked */
    assert_true(n < 100000);
}

/* One VM through all the failures, reused each time. */
static void test_one_vm_survives_every_failure(void **state)
{
    (void)state;
    pvm_vm *vm = new_vm();
    uint64_t n = 1;
    while (!run_failing_at(vm, n))
        n++;
    assert_int_equal(run(vm, program), PVM_OK);
    assert_int_equal(global_int(vm, "total") > 0, 1);
    pvm_free(vm);
}

static pvm_value stop_failing(pvm_vm *vm, int argc, const pvm_value *argv, void *ud)
{
    vm->vm->fail_alloc_countdown = 0;
    return PVM_NIL;
}

/* A script's try catches running out of memory (it is not a limit), and
 * the VM goes on. Failures are sticky, so the handler first turns them
 * off. */
static void test_script_can_catch_out_of_memory(void **state)
{
    (void)state;
    pvm_vm *vm = new_vm();
    assert_int_equal(pvm_register(vm, "stop_failing", stop_failing, NULL), PVM_OK);
    const char *src = "let r = \"\";\n"
                      "try { let a = []; for i in 0..100 { push(a, [i]); } }\n"
                      "catch e { stop_failing(); r = e; }\n";
    assert_int_equal(pvm_load_source(vm, src, strlen(src), "t.pv"), PVM_OK);
    vm->vm->fail_alloc_countdown = 20;
    pvm_status st = pvm_run(vm);
    vm->vm->fail_alloc_countdown = 0;
    if (st != PVM_OK)
        fprintf(stderr, "%s\n%s", pvm_error_message(vm), pvm_error_trace(vm));
    assert_int_equal(st, PVM_OK);
    pvm_value r;
    const char *text;
    assert_int_equal(pvm_get_global(vm, "r", &r), PVM_OK);
    assert_int_equal(pvm_get_string(vm, r, &text, NULL), PVM_OK);
    assert_string_equal(text, "out of memory");
    pvm_release(vm, r);
    pvm_free(vm);
}

/* Creating a VM fails cleanly at each of its allocations: pvm_new returns
 * NULL, or a VM that works once the injection is cleared. */
static void test_pvm_new_fails_cleanly(void **state)
{
    (void)state;
    uint64_t n = 1;
    for (; n < 100000; n++) {
        pvmV_new_vm_fail_countdown = n;
        pvm_vm *vm = pvm_new(NULL);
        pvmV_new_vm_fail_countdown = 0;
        if (!vm)
            continue;
        vm->vm->fail_alloc_countdown = 0;
        assert_int_equal(run(vm, "let s = str([1, {a: 2}]);"), PVM_OK);
        pvm_free(vm);
        break;
    }
    assert_true(n > 256); /* the one-character strings alone are 256 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_can_fail),
        cmocka_unit_test(test_one_vm_survives_every_failure),
        cmocka_unit_test(test_script_can_catch_out_of_memory),
        cmocka_unit_test(test_pvm_new_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
