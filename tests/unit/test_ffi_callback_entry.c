/* The cheap callback entry (stdlib/ffi_callback.c, stdlib/ffi_direct.c)
 * keeps every limit of the general one: PV callbacks with pointer
 * arguments, called by qsort, stop under the memory limit and with any
 * allocation failing (the spare pointer boxes are refilled inside
 * callbacks); the direct entries' slots run out, come back, and refuse
 * calls once released. The
 * budget and a pending interrupt: test_api_charge.c. PV closures are needed for the fast path, so these tests go
 * through the embedding API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pvm.h"
#include "api_fixture.h"
#include "stdlib/ffi_int.h"
#include "vm/api/api_int.h"

/* qsort over N ints with a PV comparator counting its calls in n. */
#define QSORT_SETUP(N)                                                                                     \
    "let n = 0; let keep = []; let libc = ffi.open(nil);\n"                                                \
    "let qsort = ffi.fn(libc, \"qsort\", \"void\", [\"pointer\", \"size_t\", \"size_t\", \"pointer\"]);\n" \
    "let arr = ffi.alloc(4 * " #N ");\n"                                                                   \
    "for i in 0.." #N " { ffi.write(arr, \"int32\", 4 * i, (i * 7919) % " #N "); }\n"

/* A comparator that keeps every pointer it gets: the memory limit stops
 * it inside qsort, uncatchable in the script. */
static void test_memory_limit_in_callbacks(void **state)
{
    (void)state;
    pvm_vm *vm = vm_with(QSORT_SETUP(20000) "fn go() {\n"
                                            "  try {\n"
                                            "    qsort(arr, 20000, 4, ffi.callback(fn (a, b) {\n"
                                            "      push(keep, [a, b, string.repeat(\"x\", 64)]); return 0;\n"
                                            "    }, \"int\", [\"pointer\", \"pointer\"]));\n"
                                            "  } catch e { n = -1; }\n"
                                            "}\n");
    pvm_set_memory_limit(vm, 4u << 20);
    assert_int_equal(call0(vm, "go"), PVM_EMEMORY);
    assert_true(global_int(vm, "n") >= 0);
    pvm_free(vm);
}

static const char oom_program[] = QSORT_SETUP(400) "qsort(arr, 400, 4, ffi.callback(fn (a, b) {\n"
                                                   "  n += 1; return ffi.read(a, \"int32\") - ffi.read(b, \"int32\");\n"
                                                   "}, \"int\", [\"pointer\", \"pointer\"]));\n"
                                                   "for i in 0..400 { assert(ffi.read(arr, \"int32\", 4 * i) == i, \"unsorted\"); }\n";

/* The Nth allocation failing, for every N until the program gets through:
 * each run ends with "out of memory" or succeeds, and the VM runs the
 * program normally afterwards. 400 ints take more pointer boxes than the
 * spares, so some failures hit the refill inside a callback. */
static void test_every_allocation_can_fail(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_non_null(vm);
    uint64_t n = 1;
    for (; n < 200000; n++) {
        vm->vm->fail_alloc_countdown = n;
        pvm_status st = run(vm, oom_program);
        vm->vm->fail_alloc_countdown = 0;
        if (st == PVM_OK)
            break;
        if (st != PVM_ENOMEM)
            fprintf(stderr, "N=%llu: %s\n", (unsigned long long)n, pvm_error_message(vm));
        assert_int_equal(st, PVM_ENOMEM);
        assert_string_equal(pvm_error_message(vm), "out of memory");
    }
    assert_true(n > 200); /* the callbacks' boxes were among the allocations */
    assert_int_equal(run(vm, oom_program), PVM_OK);
    pvm_free(vm);
}

/* A signature of [nargs] [kind]s returning int, as ffi.callback parses it. */
static FfiSig sig_of(FfiKind kind, int nargs, uint8_t *kinds)
{
    FfiSig sig = { .ret = FK_INT, .nargs = nargs, .nfixed = nargs, .kinds = kinds };
    for (int i = 0; i < nargs; i++)
        kinds[i] = (uint8_t)kind;
    return sig;
}

/* The direct entries: integer and pointer signatures of up to six
 * arguments get one while slots last, each a different function; a
 * released slot is handed out again; other signatures never get one. */
static void test_direct_slots(void **state)
{
    (void)state;
    uint8_t kinds[8];
    FfiSig ptrs = sig_of(FK_POINTER, 2, kinds);
    void *codes[128];
    int got = 0;
    int owner;
    while (got < 128 && (codes[got] = pvmF_direct_claim(&ptrs, &owner)) != NULL)
        got++;
#if defined(__x86_64__) || defined(__aarch64__)
    assert_true(got > 0 && got <= 64); /* other tests' callbacks may hold some */
#endif
    assert_true(got < 128);
    for (int i = 0; i < got; i++)
        for (int j = i + 1; j < got; j++)
            assert_ptr_not_equal(codes[i], codes[j]);
    if (got > 0) {
        pvmF_direct_release(codes[got / 2]);
        assert_ptr_equal(pvmF_direct_claim(&ptrs, &owner), codes[got / 2]);
    }
    for (int i = 0; i < got; i++)
        pvmF_direct_release(codes[i]);
    /* A released entry that C still calls (it kept the pointer of a
     * collected callback) refuses: 0, and a line on stderr. */
    if (got > 0) {
        int (*stale)(const void *, const void *) = (int (*)(const void *, const void *))codes[0];
        assert_int_equal(stale(&owner, &owner), 0);
    }
    uint8_t more[8];
    FfiSig doubles = sig_of(FK_DOUBLE, 1, more);
    assert_null(pvmF_direct_claim(&doubles, &owner));
    FfiSig seven = sig_of(FK_INT, 7, more);
    assert_null(pvmF_direct_claim(&seven, &owner));
    FfiSig float_ret = sig_of(FK_INT, 1, more);
    float_ret.ret = FK_FLOAT;
    assert_null(pvmF_direct_claim(&float_ret, &owner));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_direct_slots),
        cmocka_unit_test(test_memory_limit_in_callbacks),
        cmocka_unit_test(test_every_allocation_can_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
