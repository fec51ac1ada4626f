/* The budget and the interrupt reach every entry into PV code and every
 * long native: callbacks made by natives (array.map, filter, reduce, the
 * sort comparator, ffi callbacks, a host native's pvm_call) are charged
 * even when their bodies are straight-line, and natives whose work grows
 * with their input charge for it and poll the interrupt.
 *
 * Each test sets its data up without a limit, then calls one function
 * under a small budget (or with an interrupt), and checks that it stops
 * quickly. Sizes are small: without the fix each would still finish, only
 * with PVM_OK and a count showing the bypass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pvm.h"
#include "api_fixture.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Calls [name] under a budget of [limit]: the status, and the time taken
 * in *secs. */
static pvm_status call_budget(pvm_vm *vm, const char *name, int64_t limit, double *secs)
{
    pvm_set_instruction_limit(vm, limit);
    double t0 = now();
    pvm_status st = call0(vm, name);
    *secs = now() - t0;
    pvm_set_instruction_limit(vm, 0);
    return st;
}

/* ---- callbacks of natives ---- */

/* The script of issue 13: 40 000 000 straight-line callbacks used to run
 * under a budget of 1000 and return PVM_OK. */
static void test_issue_script_stops(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_set_instruction_limit(vm, 1000);
    double t0 = now();
    assert_int_equal(run(vm, "let n = 0; let a = array.new(4000000, 1);\n"
                             "for i in 0..10 { array.map(a, fn (x) { n += 1; return x; }); }"),
                     PVM_EBUDGET);
    assert_true(now() - t0 < 0.5);
    assert_string_equal(pvm_error_message(vm), "instruction budget exceeded");
    pvm_free(vm);
}

/* [fname] runs straight-line callbacks over 4000 elements, counting them
 * in n: under a budget of 1000 it stops after fewer than 1000. */
static void assert_callbacks_charged(const char *setup, const char *fname)
{
    pvm_vm *vm = vm_with(setup);
    double secs;
    assert_int_equal(call_budget(vm, fname, 1000, &secs), PVM_EBUDGET);
    int64_t n = global_int(vm, "n");
    assert_true(n > 0 && n < 1000);
    /* Unlimited, the same call completes: the stop was the budget's. */
    assert_int_equal(call0(vm, fname), PVM_OK);
    pvm_free(vm);
}

#define DATA "let n = 0; let a = []; for i in 0..4000 { push(a, 4000 - i); }\n"

static void test_map_filter_reduce_charged(void **state)
{
    (void)state;
    assert_callbacks_charged(DATA "fn go() { array.map(a, fn (x) { n += 1; return x; }); }", "go");
    assert_callbacks_charged(DATA "fn go() { array.filter(a, fn (x) { n += 1; return true; }); }", "go");
    assert_callbacks_charged(DATA "fn go() { array.reduce(a, fn (s, x) { n += 1; return s; }, 0); }", "go");
}

static void test_sort_comparator_charged(void **state)
{
    (void)state;
    assert_callbacks_charged(DATA "fn go() { let b = array.slice(a, 0);\n"
                                  "  array.sort(b, fn (x, y) { n += 1; return x < y; }); }",
                             "go");
}

static void test_ffi_callback_charged(void **state)
{
    (void)state;
    assert_callbacks_charged(
        "let n = 0; let libc = ffi.open(nil);\n"
        "let qsort = ffi.fn(libc, \"qsort\", \"void\", [\"pointer\", \"size_t\", \"size_t\", \"pointer\"]);\n"
        "let arr = ffi.alloc(4 * 4000);\n"
        "fn fill() { for i in 0..4000 { ffi.write(arr, \"int32\", 4 * i, 4000 - i); } }\n"
        "fill();\n"
        "let cmp = ffi.callback(fn (p, q) { n += 1; return 0; }, \"int\", [\"pointer\", \"pointer\"]);\n"
        "fn go() { qsort(arr, 4000, 4, cmp); }",
        "go");
}

/* apply_many(f, k): a host native calling f k times with pvm_call. */
static pvm_value apply_many(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    int64_t k;
    if (argc != 2 || pvm_get_int(vm, args[1], &k))
        return pvm_raise(vm, "apply_many(f, k)");
    for (int64_t i = 0; i < k; i++)
        if (pvm_call(vm, args[0], 0, NULL, NULL))
            return pvm_rethrow(vm);
    return PVM_NIL;
}

static void test_host_native_calls_charged(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(pvm_register(vm, "apply_many", apply_many, NULL), PVM_OK);
    assert_int_equal(run(vm, "let n = 0; fn go() { apply_many(fn () { n += 1; }, 1000000); }"), PVM_OK);
    double secs;
    assert_int_equal(call_budget(vm, "go", 1000, &secs), PVM_EBUDGET);
    assert_true(global_int(vm, "n") < 1000);
    pvm_free(vm);
}

/* A native that raises the interrupt itself, then the script goes on with
 * callbacks only: the first callback entry notices it. */
static pvm_value interrupt_me(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    pvm_interrupt(vm);
    return PVM_NIL;
}

static void test_interrupt_pending_before_callbacks(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(pvm_register(vm, "interrupt_me", interrupt_me, NULL), PVM_OK);
    assert_int_equal(run(vm, "let n = 0; let a = [1, 2, 3];\n"
                             "fn go() { array.map(a, interrupt_me); array.map(a, fn (x) { n += 1; }); }"),
                     PVM_OK);
    assert_int_equal(call0(vm, "go"), PVM_EINTERRUPT);
    assert_int_equal(global_int(vm, "n"), 0);
    pvm_free(vm);
}

/* qsort over 500 ints (all 0), for a PV comparator counting its calls in n. */
#define QSORT500                                                                                           \
    "let n = 0; let libc = ffi.open(nil);\n"                                                               \
    "let qsort = ffi.fn(libc, \"qsort\", \"void\", [\"pointer\", \"size_t\", \"size_t\", \"pointer\"]);\n" \
    "let arr = ffi.alloc(4 * 500);\n"

/* An interrupt pending when C starts calling back: no callback runs PV,
 * and the ffi call ends the script with PVM_EINTERRUPT. */
static void test_interrupt_before_callbacks(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(pvm_register(vm, "interrupt_me", interrupt_me, NULL), PVM_OK);
    assert_int_equal(run(vm, QSORT500 "let cmp = ffi.callback(fn (a, b) { n += 1; return 0; },\n"
                                      "  \"int\", [\"pointer\", \"pointer\"]);\n"
                                      "fn go() { interrupt_me(); qsort(arr, 500, 4, cmp); }\n"
                                      "fn again() { qsort(arr, 500, 4, cmp); }\n"),
                     PVM_OK);
    assert_int_equal(call0(vm, "go"), PVM_EINTERRUPT);
    assert_int_equal(global_int(vm, "n"), 0);
    /* Cleared, the same sort runs. */
    assert_int_equal(call0(vm, "again"), PVM_OK);
    assert_true(global_int(vm, "n") > 0);
    pvm_free(vm);
}

/* ---- long natives under a small budget ---- */

typedef struct {
    const char *setup; /* defines go() and the data it works on */
    const char *what;
} LongNative;

static const LongNative long_natives[] = {
    { "fn go() { return string.repeat(\"x\", 1 << 30); }", "repeat of 1 GB" },
    { "let s = string.repeat(\"ab,\", 400000); fn go() { return string.split(s, \",\"); }", "split" },
    { "let a = array.new(200000, \"abc\"); fn go() { return string.join(a, \",\"); }", "join" },
    { "let s = string.repeat(\"ab\", 400000); fn go() { return string.replace(s, \"a\", \"xyz\"); }",
      "replace" },
    { "fn go() { return string.format(\"%1000000d\", 1); }", "format width" },
    { "let s = string.repeat(\"ab\", 400000); fn go() { return string.upper(s); }", "upper" },
    { "let s = string.repeat(\"ab\", 400000); fn go() { return string.find(s, \"c\"); }", "find" },
    { "let a = array.new(100000, 1); fn go() { for i in 0..100000 { a[i] = 100000 - i; } array.sort(a); }",
      "sort" },
    { "let a = array.new(100000, 1); fn go() { return array.concat(a, a); }", "concat" },
    { "fn go() { return array.new(100000000, 0); }", "array.new" },
    { "let s = string.repeat(\"ab\", 400000); fn go() { return s + s; }", "string +" },
    { "let s = string.repeat(\"ab\", 400000); fn go() { io.write_file(\"/dev/null\", s); }", "io.write_file" },
    { "fn go() { return io.read_file(\"/dev/zero\"); }", "read of /dev/zero" },
    { "let a = array.new(100000, 1); fn go() { return str(a); }", "str" },
};

static void test_long_natives_charged(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof long_natives / sizeof long_natives[0]; i++) {
        const LongNative *t = &long_natives[i];
        pvm_vm *vm = vm_with(t->setup);
        pvm_set_memory_limit(vm, 256u << 20); /* a regression must not take the machine */
        double secs;
        pvm_status st = call_budget(vm, "go", 1000, &secs);
        if (st != PVM_EBUDGET || secs > 0.2)
            fprintf(stderr, "%s: %s after %.3f s: %s\n", t->what, pvm_status_name(st), secs,
                    pvm_error_message(vm));
        assert_int_equal(st, PVM_EBUDGET);
        assert_true(secs < 0.2);
        pvm_free(vm);
    }
}

/* ---- long natives under an interrupt from another thread ---- */

typedef struct {
    pvm_vm *vm;
    double at; /* when it interrupted */
} Watchdog;

static void *interrupt_after_20ms(void *arg)
{
    Watchdog *w = arg;
    usleep(20000);
    w->at = now();
    pvm_interrupt(w->vm);
    return NULL;
}

/* go() runs one native call much longer than 20 ms; the interrupt stops
 * it within a few milliseconds. */
static double interrupt_latency(const char *setup)
{
    pvm_vm *vm = vm_with(setup);
    Watchdog w = { vm, 0 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, interrupt_after_20ms, &w), 0);
    pvm_status st = call0(vm, "go");
    double end = now();
    pthread_join(t, NULL);
    if (st != PVM_EINTERRUPT)
        fprintf(stderr, "%s: %s\n", pvm_status_name(st), pvm_error_message(vm));
    assert_int_equal(st, PVM_EINTERRUPT);
    pvm_free(vm);
    return end - w.at;
}

static void test_long_natives_interrupted(void **state)
{
    (void)state;
    static const char *const setups[] = {
        /* 1 GB of copying: seconds without the poll. */
        "fn go() { for i in 0..1000000 { string.repeat(\"x\", 4 << 20); } }",
        "let a = array.new(200000, 1);\n"
        "fn go() { for k in 0..1000 { for i in 0..200000 { a[i] = 200000 - i; } array.sort(a); } }",
        "let a = array.new(1000000, 1); fn go() { for k in 0..100 { array.map(a, fn (x) { return x; }); } }",
    };
    for (size_t i = 0; i < sizeof setups / sizeof setups[0]; i++) {
        /* Generous: a collection of these heaps is not interruptible
         * (tens of milliseconds); without the fix each runs for seconds. */
        double latency = interrupt_latency(setups[i]);
        if (latency > 0.2)
            fprintf(stderr, "case %zu: interrupt noticed after %.3f s\n", i, latency);
        assert_true(latency < 0.2);
    }
}

/* A single long native, alone in go(), is interrupted while it works:
 * string.repeat of 256 MB polls between 1 MB slices of copying and builds
 * its result uncleared, so it stops within milliseconds having touched
 * little memory; without the poll it would copy for about half a second.
 * (Natives' polls are tested deterministically in test_charge.c.) */
static void test_single_native_interrupted(void **state)
{
    (void)state;
    double latency = interrupt_latency("fn go() { return string.repeat(\"x\", 256 << 20); }");
    if (latency > 0.1)
        fprintf(stderr, "repeat interrupted after %.3f s\n", latency);
    assert_true(latency < 0.1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_script_stops),
        cmocka_unit_test(test_map_filter_reduce_charged),
        cmocka_unit_test(test_sort_comparator_charged),
        cmocka_unit_test(test_ffi_callback_charged),
        cmocka_unit_test(test_host_native_calls_charged),
        cmocka_unit_test(test_interrupt_pending_before_callbacks),
        cmocka_unit_test(test_interrupt_before_callbacks),
        cmocka_unit_test(test_long_natives_charged),
        cmocka_unit_test(test_long_natives_interrupted),
        cmocka_unit_test(test_single_native_interrupted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
