/* calls.c: measures what a call across the embedding boundary costs.
 *
 *   host -> PV   pvm_call of a PV function that returns its argument
 *   PV -> host   a PV loop calling a C native that returns its argument,
 *                beside the same loop calling a PV function (the baseline)
 *
 *   cc -O2 calls.c $(pkg-config --cflags --libs pvm) -o calls && ./calls [N] */
#include <pvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pvm_value host_identity(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    return argc > 0 ? args[0] : PVM_NIL;
}

static void report(const char *what, long n, double secs)
{
    printf("%-34s %10.0f calls/s  %7.1f ns/call\n", what, n / secs, secs * 1e9 / n);
}

static int fail(pvm_vm *vm)
{
    fprintf(stderr, "%s\n%s", pvm_error_message(vm), pvm_error_trace(vm));
    return 1;
}

/* Runs `loop(n)` once and returns the seconds it took. */
static double time_loop(pvm_vm *vm, const char *name, long n)
{
    pvm_value fn, arg = pvm_int(vm, n);
    double t0 = now();
    if (pvm_get_global(vm, name, &fn) || pvm_call(vm, fn, 1, &arg, NULL))
        return -1;
    double secs = now() - t0;
    pvm_release(vm, fn);
    pvm_release(vm, arg);
    return secs;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    if (n <= 0)
        n = 1;
    pvm_vm *vm = pvm_new(NULL);
    if (!vm)
        return 1;
    pvm_register(vm, "host_identity", host_identity, NULL);
    const char *src = "fn identity(x) { return x; }\n"
                      "fn call_host(n) { for i in 0..n { host_identity(i); } }\n"
                      "fn call_pv(n) { for i in 0..n { identity(i); } }\n"
                      "fn empty_loop(n) { for i in 0..n { } }\n";
    if (pvm_load_source(vm, src, strlen(src), "calls.pv") || pvm_run(vm))
        return fail(vm);

    /* host -> PV: one argument, result not kept. */
    pvm_value identity, arg = pvm_int(vm, 42), result;
    if (pvm_get_global(vm, "identity", &identity))
        return fail(vm);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        if (pvm_call(vm, identity, 1, &arg, NULL))
            return fail(vm);
    }
    report("host -> PV (no result)", n, now() - t0);
    /* The same, taking the result handle and releasing it. */
    t0 = now();
    for (long i = 0; i < n; i++) {
        if (pvm_call(vm, identity, 1, &arg, &result))
            return fail(vm);
        pvm_release(vm, result);
    }
    report("host -> PV (result handle)", n, now() - t0);

    /* PV -> host, net of the loop itself. */
    double empty = time_loop(vm, "empty_loop", n);
    double host = time_loop(vm, "call_host", n);
    double pv = time_loop(vm, "call_pv", n);
    if (empty < 0 || host < 0 || pv < 0)
        return fail(vm);
    report("PV -> host (loop included)", n, host);
    report("PV -> host (loop subtracted)", n, host - empty);
    report("PV -> PV, for comparison", n, pv - empty);
    pvm_release(vm, identity);
    pvm_release(vm, arg);
    pvm_free(vm);
    return 0;
}
