/* calls_pvm.c: what a call across the embedding boundary costs in pvm, the
 * pvm half of `make bench-calls` (bench/calls.sh); bench/calls_lua.c makes
 * the same calls through Lua 5.4's C API.
 *
 *   calls_pvm time N       ns per call of each measurement below: the best
 *                          of 5 runs of N calls each
 *   calls_pvm MODE N       only N calls of MODE (for callgrind's counts)
 *
 * MODE:
 *   host     host -> PV: pvm_call of identity(x), the result not taken
 *   result   host -> PV, also taking the result, reading it, releasing it
 *   native   PV -> host: a PV loop calling a native returning its argument
 *   empty    the same loop without the call (the baseline subtracted)
 *   callback C -> PV inside a PV -> C call: a C loop (calls_pvm_callbacks,
 *            exported: the host is linked with -rdynamic) calls a PV
 *            function passed with ffi.callback, int (int) returning its
 *            argument; one ffi call runs all N callbacks
 *   compare  the same with a qsort comparator's signature, int (pointer,
 *            pointer), the PV function returning 0
 *
 * The interpreter only (PVM_JIT_OFF), as lua5.4 has no JIT. */
#include <pvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The loop keeps the native in a top-level variable, as calls_lua.c keeps
 * the C function in a local: each script's cheapest way to reach it. */
static const char script[] = "fn identity(x) { return x; }\n"
                             "let host = host_identity;\n"
                             "fn call_host(n) { for i in 0..n { host(i); } }\n"
                             "fn empty_loop(n) { for i in 0..n { } }\n"
                             "let loop = ffi.fn(ffi.open(nil), \"calls_pvm_callbacks\", \"void\",\n"
                             "                  [\"pointer\", \"pointer\", \"long\"]);\n"
                             "let identity_cb = ffi.callback(fn (x) { return x; }, \"int\", [\"int\"]);\n"
                             "let compare_cb = ffi.callback(fn (a, b) { return 0; }, \"int\", [\"pointer\", \"pointer\"]);\n"
                             "fn call_identity(n) { loop(identity_cb, nil, n); }\n"
                             "fn call_compare(n) { loop(nil, compare_cb, n); }\n";

static pvm_value host_identity(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    return argc > 0 ? args[0] : PVM_NIL;
}

/* The C side of the callback modes: calls whichever of [identity] and
 * [compare] is not NULL [n] times, as qsort calls its comparator. */
int calls_pvm_callbacks(int (*identity)(int), int (*compare)(const void *, const void *), long n);
int calls_pvm_callbacks(int (*identity)(int), int (*compare)(const void *, const void *), long n)
{
    int a = 1, b = 2, sum = 0;
    for (long i = 0; i < n; i++)
        sum += identity ? identity((int)i & 0xffff) : compare(&a, &b);
    return sum;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(pvm_vm *vm)
{
    fprintf(stderr, "calls_pvm: %s\n%s", pvm_error_message(vm), pvm_error_trace(vm));
    exit(1);
}

static pvm_value global(pvm_vm *vm, const char *name)
{
    pvm_value v;
    if (pvm_get_global(vm, name, &v))
        die(vm);
    return v;
}

static void host_calls(pvm_vm *vm, long n)
{
    pvm_value fn = global(vm, "identity"), arg = pvm_int(vm, 42);
    for (long i = 0; i < n; i++) {
        if (pvm_call(vm, fn, 1, &arg, NULL))
            die(vm);
    }
    pvm_release(vm, arg);
    pvm_release(vm, fn);
}

static void result_calls(pvm_vm *vm, long n)
{
    pvm_value fn = global(vm, "identity"), arg = pvm_int(vm, 42), r;
    int64_t sum = 0, x;
    for (long i = 0; i < n; i++) {
        if (pvm_call(vm, fn, 1, &arg, &r) || pvm_get_int(vm, r, &x))
            die(vm);
        sum += x;
        pvm_release(vm, r);
    }
    if (sum != 42 * (int64_t)n)
        die(vm);
    pvm_release(vm, arg);
    pvm_release(vm, fn);
}

/* Runs the PV function [name](n): one call, n loop iterations inside. */
static void script_loop(pvm_vm *vm, const char *name, long n)
{
    pvm_value fn = global(vm, name), arg = pvm_int(vm, n);
    if (pvm_call(vm, fn, 1, &arg, NULL))
        die(vm);
    pvm_release(vm, arg);
    pvm_release(vm, fn);
}

static void native_calls(pvm_vm *vm, long n) { script_loop(vm, "call_host", n); }
static void identity_callbacks(pvm_vm *vm, long n) { script_loop(vm, "call_identity", n); }
static void compare_callbacks(pvm_vm *vm, long n) { script_loop(vm, "call_compare", n); }
static void empty_loop(pvm_vm *vm, long n) { script_loop(vm, "empty_loop", n); }

/* The best of REPEATS runs of [n] calls: on a shared machine the other
 * load only ever adds time, so the least is the closest to the cost. */
#define REPEATS 5

static double ns_per(void (*run)(pvm_vm *, long), pvm_vm *vm, long n)
{
    run(vm, n / 10 + 1); /* warm-up: handle slots, stack, caches */
    double best = 1e30;
    for (int r = 0; r < REPEATS; r++) {
        double t0 = now();
        run(vm, n);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    return best * 1e9 / (double)n;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "time";
    long n = argc > 2 ? atol(argv[2]) : 2000000;
    if (n <= 0)
        n = 1;
    pvm_options opt = { .jit = PVM_JIT_OFF };
    pvm_vm *vm = pvm_new(&opt);
    if (!vm)
        return 1;
    if (pvm_register(vm, "host_identity", host_identity, NULL) ||
        pvm_load_source(vm, script, strlen(script), "calls.pv") || pvm_run(vm))
        die(vm);
    if (!strcmp(mode, "time")) {
        printf("host %.2f\n", ns_per(host_calls, vm, n));
        printf("result %.2f\n", ns_per(result_calls, vm, n));
        double native = ns_per(native_calls, vm, n), empty = ns_per(empty_loop, vm, n);
        printf("native %.2f\n", native - empty);
        printf("callback %.2f\n", ns_per(identity_callbacks, vm, n));
        printf("compare %.2f\n", ns_per(compare_callbacks, vm, n));
    } else if (!strcmp(mode, "host")) {
        host_calls(vm, n);
    } else if (!strcmp(mode, "result")) {
        result_calls(vm, n);
    } else if (!strcmp(mode, "native")) {
        native_calls(vm, n);
    } else if (!strcmp(mode, "empty")) {
        empty_loop(vm, n);
    } else if (!strcmp(mode, "callback")) {
        identity_callbacks(vm, n);
    } else if (!strcmp(mode, "compare")) {
        compare_callbacks(vm, n);
    } else {
        fprintf(stderr, "calls_pvm: unknown mode '%s'\n", mode);
        return 2;
    }
    pvm_free(vm);
    return 0;
}
