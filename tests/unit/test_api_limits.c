/* The embedding API's limits and threads: the instruction budget, the
 * interrupt (from another thread and from a signal handler), the memory
 * limit; that a script's try cannot catch them nor a native swallow them;
 * that the VM runs new code afterwards; and VMs in several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pvm.h"
#include "api_fixture.h"

/* The VM still works: a fresh program runs and computes. */
static void assert_vm_works(pvm_vm *vm)
{
    pvm_status st = run(vm, "let total = 0; for i in 0..1000 { total += i; }");
    if (st != PVM_OK)
        fprintf(stderr, "%s: %s\n", pvm_status_name(st), pvm_error_message(vm));
    assert_int_equal(st, PVM_OK);
    assert_int_equal(global_int(vm, "total"), 499500);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- instruction budget ---- */

static void test_budget_stops_infinite_loop(void **state)
{
    (void)state;
    Capture out = { .len = 0 };
    pvm_options o = { .write = capture, .ud = &out };
    pvm_vm *vm = pvm_new(&o);
    pvm_set_instruction_limit(vm, 1000000);
    assert_int_equal(run(vm, "let n = 0; while true { n += 1; }"), PVM_EBUDGET);
    assert_string_equal(pvm_error_message(vm), "instruction budget exceeded");
    assert_non_null(strstr(pvm_error_trace(vm), "at <main> (t.pv:1)"));
    /* The loop ran close to its budget before it was stopped. */
    int64_t n = global_int(vm, "n");
    assert_true(n > 1000000 / 10 && n < 1000000);
    /* try does not catch it, nor does a finally-like handler run code. */
    assert_int_equal(run(vm, "try { while true {} } catch e { print(\"caught\", e); }\nprint(\"after\");"),
                     PVM_EBUDGET);
    assert_string_equal(out.text, "");
    /* Recursion is charged at calls. */
    assert_int_equal(run(vm, "fn f(n) { if n == 0 { return 0; } return f(n - 1) + 1; }\n"
                             "for i in 0..100000000 { f(50); }"),
                     PVM_EBUDGET);
    assert_vm_works(vm);
    pvm_free(vm);
}

static void test_budget_is_per_call(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_set_instruction_limit(vm, 200000);
    assert_int_equal(run(vm, "fn work(n) { let t = 0; for i in 0..n { t += i; } return t; }"), PVM_OK);
    pvm_value work, r;
    assert_int_equal(pvm_get_global(vm, "work", &work), PVM_OK);
    pvm_value small = pvm_int(vm, 10000), big = pvm_int(vm, 10000000);
    /* 100 calls of ~10 000 iterations each: far more than the budget in
     * total, but each call is within it. */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(pvm_call(vm, work, 1, &small, &r), PVM_OK);
        pvm_release(vm, r);
    }
    assert_int_equal(pvm_call(vm, work, 1, &big, &r), PVM_EBUDGET);
    assert_int_equal(pvm_call(vm, work, 1, &small, &r), PVM_OK);
    /* 0 lifts the limit. */
    pvm_set_instruction_limit(vm, 0);
    assert_int_equal(pvm_call(vm, work, 1, &big, &r), PVM_OK);
    pvm_free(vm);
}

/* A native that runs a PV callback and ignores how it ended. */
static pvm_value native_swallow(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    pvm_value r;
    pvm_status st = pvm_call(vm, args[0], 0, NULL, &r);
    *(pvm_status *)ud = st;
    return pvm_int(vm, 0);
}

static void test_native_cannot_swallow_limits(void **state)
{
    (void)state;
    Capture out = { .len = 0 };
    pvm_options o = { .write = capture, .ud = &out };
    pvm_vm *vm = pvm_new(&o);
    pvm_status inner = PVM_OK;
    pvm_register(vm, "swallow", native_swallow, &inner);
    pvm_set_instruction_limit(vm, 100000);
    assert_int_equal(run(vm, "try { swallow(fn () { while true {} }); print(\"went on\"); }\n"
                             "catch e { print(\"caught\"); }"),
                     PVM_EBUDGET);
    assert_int_equal(inner, PVM_EBUDGET);
    assert_string_equal(out.text, "");
    /* An ordinary error the native ignores is really ignored. */
    assert_int_equal(run(vm, "swallow(fn () { throw \"x\"; }); print(\"went on\");"), PVM_OK);
    assert_int_equal(inner, PVM_ERUNTIME);
    assert_string_equal(out.text, "went on\n");
    pvm_free(vm);
}

/* ---- interrupt ---- */

typedef struct {
    pvm_vm *vm;
    unsigned delay_ms;
} Interrupter;

static void *interrupt_later(void *arg)
{
    Interrupter *it = arg;
    usleep(it->delay_ms * 1000);
    pvm_interrupt(it->vm);
    return NULL;
}

static void test_interrupt_from_another_thread(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    Interrupter it = { vm, 100 };
    pthread_t t;
    double start = now();
    assert_int_equal(pthread_create(&t, NULL, interrupt_later, &it), 0);
    pvm_status st = run(vm, "let n = 0; try { while true { n += 1; } } catch e { n = -1; }");
    pthread_join(t, NULL);
    double took = now() - start;
    assert_int_equal(st, PVM_EINTERRUPT);
    assert_string_equal(pvm_error_message(vm), "interrupted");
    assert_true(global_int(vm, "n") > 0);
    assert_true(took >= 0.09 && took < 5.0);
    assert_vm_works(vm);
    /* While nothing runs, an interrupt is dropped by the next run. */
    pvm_interrupt(vm);
    assert_vm_works(vm);
    /* It also stops a pvm_call. */
    assert_int_equal(run(vm, "fn spin() { while true {} }"), PVM_OK);
    pvm_value spin;
    assert_int_equal(pvm_get_global(vm, "spin", &spin), PVM_OK);
    assert_int_equal(pthread_create(&t, NULL, interrupt_later, &it), 0);
    assert_int_equal(pvm_call(vm, spin, 0, NULL, NULL), PVM_EINTERRUPT);
    pthread_join(t, NULL);
    pvm_free(vm);
}

static pvm_vm *alarm_vm;

static void on_alarm(int sig)
{
    (void)sig;
    pvm_interrupt(alarm_vm);
}

static void test_interrupt_from_signal_handler(void **state)
{
    (void)state;
    alarm_vm = pvm_new(NULL);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval timer = { .it_value = { 0, 50000 } };
    assert_int_equal(setitimer(ITIMER_REAL, &timer, NULL), 0);
    assert_int_equal(run(alarm_vm, "fn f() { return 1; }\nwhile true { f(); }"), PVM_EINTERRUPT);
    sigaction(SIGALRM, &old, NULL);
    assert_vm_works(alarm_vm);
    pvm_free(alarm_vm);
}

/* ---- memory limit ---- */

static void test_memory_limit(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    pvm_set_memory_limit(vm, (size_t)64 << 20);
    /* The allocation happens 100 calls deep: the dead frames and stack
     * slots above the top must not keep the data alive afterwards. */
    pvm_status st = run(vm, "fn grow(keep, depth) {\n"
                            "  if depth > 0 { return grow(keep, depth - 1); }\n"
                            "  while true { push(keep, [1, 2, 3, 4, 5, 6, 7, 8]); }\n"
                            "}\n"
                            "let caught = nil;\n"
                            "try { grow([], 100); } catch e { caught = e; }");
    assert_int_equal(st, PVM_EMEMORY);
    assert_string_equal(pvm_error_message(vm), "memory limit exceeded");
    pvm_value caught;
    assert_int_equal(pvm_get_global(vm, "caught", &caught), PVM_OK);
    assert_true(pvm_is_nil(vm, caught));
    pvm_release(vm, caught);
    /* A new script runs, and may again use most of the limit: the dead
     * script's data was given back. */
    st = run(vm, "let keep = []; for i in 0..200000 { push(keep, [i, i, i, i]); } let n = len(keep);");
    if (st != PVM_OK)
        fprintf(stderr, "%s: %s\n", pvm_status_name(st), pvm_error_message(vm));
    assert_int_equal(st, PVM_OK);
    assert_int_equal(global_int(vm, "n"), 200000);
    assert_vm_works(vm);
    /* A single huge request is refused at once. */
    assert_int_equal(run(vm, "let s = string.repeat(\"x\", 100000000);"), PVM_EMEMORY);
    /* Without a limit the same request succeeds. */
    pvm_set_memory_limit(vm, 0);
    assert_int_equal(run(vm, "let s = string.repeat(\"x\", 100000000); let n = len(s);"), PVM_OK);
    assert_int_equal(global_int(vm, "n"), 100000000);
    pvm_free(vm);
}

/* Two VMs in one process: the limit holds a VM to its own data. Another
 * VM's 40 MB do not count against a 24 MB limit; the VM's own do. */
static void test_memory_limit_is_per_vm(void **state)
{
    (void)state;
    pvm_vm *big = pvm_new(NULL);
    assert_int_equal(run(big, "let keep = []; for i in 0..400000 { push(keep, [i, i, i, i]); }"), PVM_OK);
    pvm_vm *vm = pvm_new(NULL);
    pvm_set_memory_limit(vm, (size_t)24 << 20);
    /* Much garbage, little live data: fine whatever the other VM holds. */
    pvm_status st = run(vm, "let n = 0; for i in 0..400000 { let t = [i, i, i, i]; n += len(t); }");
    if (st != PVM_OK)
        fprintf(stderr, "%s: %s\n", pvm_status_name(st), pvm_error_message(vm));
    assert_int_equal(st, PVM_OK);
    assert_int_equal(global_int(vm, "n"), 1600000);
    /* Its own 40 MB are over. */
    st = run(vm, "let keep = []; for i in 0..400000 { push(keep, [i, i, i, i]); }");
    assert_int_equal(st, PVM_EMEMORY);
    assert_string_equal(pvm_error_message(vm), "memory limit exceeded");
    assert_vm_works(vm);
    /* The other VM's data is intact. */
    pvm_value keep;
    size_t n = 0;
    assert_int_equal(pvm_get_global(big, "keep", &keep), PVM_OK);
    assert_int_equal(pvm_len(big, keep, &n), PVM_OK);
    assert_int_equal(n, 400000);
    pvm_release(big, keep);
    pvm_free(vm);
    pvm_free(big);
}

/* A limit smaller than the limit error's own message: raising the error
 * must not trip the limit again (it once recursed until the C stack ran
 * out). Every size from 1 byte up fails cleanly, and the VM recovers. */
static void test_tiny_memory_limit(void **state)
{
    (void)state;
    for (size_t limit = 1; limit <= 256; limit *= 2) {
        pvm_vm *vm = pvm_new(NULL);
        pvm_set_memory_limit(vm, limit);
        assert_int_equal(run(vm, "let a = [1, 2, 3];"), PVM_EMEMORY);
        pvm_set_memory_limit(vm, 0);
        assert_vm_works(vm);
        pvm_free(vm);
    }
}

/* ---- threads ---- */

typedef struct {
    int seed;
    int64_t result;
    pvm_status status;
    char message[128];
} Job;

/* Each thread makes its own VM, allocates enough to make the collector
 * run while the other thread works, and calls into PV many times. */
static void *run_job(void *arg)
{
    Job *job = arg;
    pvm_vm *vm = pvm_new(NULL);
    if (!vm) {
        job->status = PVM_EMEMORY;
        return NULL;
    }
    const char *src = "fn step(seed, i) {\n"
                      "  let parts = [];\n"
                      "  for k in 0..50 { push(parts, str(seed * 1000 + i + k)); }\n"
                      "  let m = {};\n"
                      "  for p in parts { m[p] = len(p); }\n"
                      "  let t = 0; for k in keys(m) { t += m[k]; }\n"
                      "  return t;\n"
                      "}\n";
    job->status = run(vm, src);
    pvm_value step, args[2];
    if (job->status == PVM_OK)
        job->status = pvm_get_global(vm, "step", &step);
    args[0] = pvm_int(vm, job->seed);
    for (int i = 0; i < 3000 && job->status == PVM_OK; i++) {
        pvm_value r;
        int64_t x = 0;
        args[1] = pvm_int(vm, i);
        job->status = pvm_call(vm, step, 2, args, &r);
        if (job->status == PVM_OK)
            job->status = pvm_get_int(vm, r, &x);
        job->result += x;
        pvm_release(vm, r);
        pvm_release(vm, args[1]);
    }
    snprintf(job->message, sizeof job->message, "%s", pvm_error_message(vm));
    pvm_free(vm);
    return NULL;
}

static int64_t expected_job(int seed)
{
    int64_t total = 0;
    for (int i = 0; i < 3000; i++) {
        for (int k = 0; k < 50; k++) {
            char buf[32];
            total += snprintf(buf, sizeof buf, "%d", seed * 1000 + i + k);
        }
    }
    return total;
}

static void test_two_vms_in_two_threads(void **state)
{
    (void)state;
    Job jobs[2] = { { .seed = 7 }, { .seed = 123456 } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, run_job, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        if (jobs[i].status != PVM_OK)
            fprintf(stderr, "job %d: %s: %s\n", i, pvm_status_name(jobs[i].status), jobs[i].message);
        assert_int_equal(jobs[i].status, PVM_OK);
        assert_int_equal(jobs[i].result, expected_job(jobs[i].seed));
    }
}

/* Limits with VMs in threads: each VM's limit counts its own data, while
 * the others allocate at the same time in the one heap. A VM without a
 * limit holds 40 MB and makes garbage; one under 16 MB runs a bomb and is
 * stopped; one under 24 MB keeps 8 MB and makes garbage, and finishes. */
typedef struct {
    size_t limit;
    const char *src;
    pvm_status status;
} LimitJob;

static void *run_limit_job(void *arg)
{
    LimitJob *job = arg;
    pvm_vm *vm = pvm_new(NULL);
    if (!vm) {
        job->status = PVM_ENOMEM;
        return NULL;
    }
    pvm_set_memory_limit(vm, job->limit);
    job->status = run(vm, job->src);
    if (job->status != PVM_OK && job->status != PVM_EMEMORY)
        fprintf(stderr, "limit job: %s: %s\n", pvm_status_name(job->status), pvm_error_message(vm));
    pvm_free(vm);
    return NULL;
}

static void test_memory_limits_in_threads(void **state)
{
    (void)state;
    LimitJob jobs[3] = {
        { 0, "let keep = []; for i in 0..400000 { push(keep, [i, i, i, i]); }\n"
             "for i in 0..1000000 { let t = [i, i, i, i]; }", PVM_OK },
        { (size_t)16 << 20, "let keep = []; let i = 0; while true { push(keep, [i, i]); i += 1; }", PVM_OK },
        { (size_t)24 << 20, "let keep = []; for i in 0..80000 { push(keep, [i, i, i, i]); }\n"
                            "for i in 0..1000000 { let t = [i, i, i, i]; }", PVM_OK },
    };
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, run_limit_job, &jobs[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(jobs[0].status, PVM_OK);
    assert_int_equal(jobs[1].status, PVM_EMEMORY);
    assert_int_equal(jobs[2].status, PVM_OK);
}

/* A VM made on one thread and used on another, which attaches itself. */
typedef struct {
    pvm_vm *vm;
    pvm_status status;
    int64_t result;
} Borrow;

static void *use_borrowed(void *arg)
{
    Borrow *b = arg;
    if (!pvm_thread_attach()) {
        b->status = PVM_ESTATE;
        return NULL;
    }
    b->status = run(b->vm, "let acc = []; for i in 0..100000 { push(acc, [i]); } let n = len(acc);");
    if (b->status == PVM_OK)
        b->result = global_int(b->vm, "n");
    pvm_thread_detach();
    return NULL;
}

static void test_vm_used_from_another_thread(void **state)
{
    (void)state;
    Borrow b = { pvm_new(NULL), PVM_OK, 0 };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, use_borrowed, &b), 0);
    pthread_join(t, NULL);
    assert_int_equal(b.status, PVM_OK);
    assert_int_equal(b.result, 100000);
    assert_vm_works(b.vm);
    pvm_free(b.vm);
    /* attach/detach nest */
    assert_true(pvm_thread_attach());
    assert_true(pvm_thread_attach());
    pvm_thread_detach();
    pvm_thread_detach();
    pvm_thread_detach(); /* one too many: ignored */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_stops_infinite_loop),
        cmocka_unit_test(test_budget_is_per_call),
        cmocka_unit_test(test_native_cannot_swallow_limits),
        cmocka_unit_test(test_interrupt_from_another_thread),
        cmocka_unit_test(test_interrupt_from_signal_handler),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_tiny_memory_limit),
        cmocka_unit_test(test_memory_limit_is_per_vm),
        cmocka_unit_test(test_two_vms_in_two_threads),
        cmocka_unit_test(test_memory_limits_in_threads),
        cmocka_unit_test(test_vm_used_from_another_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
