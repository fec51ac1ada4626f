/* The JIT end to end inside one VM: loops are compiled and run as machine
 * code, and what the interpreter would do at a limit still happens inside
 * a trace: the instruction budget runs out with the same error, an
 * interrupt set from another thread stops a compiled infinite loop, and a
 * runtime error raised at a trace's exit is caught by the script's try.
 * Calls inlined into a trace are charged where the interpreter charges
 * them, so a budget that runs out in a loop whose body is a call stops the
 * program at the same instruction, with the same trace, as without a JIT. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "compiler/compiler.h"
#include "jit/jit.h"
#include "stdlib/stdlib.h"
#include "vm/interp/interp.h"

typedef struct {
    VM *vm;
    char out[4096];
    FILE *outf;
} Run;

static int setup(void **state)
{
    Run *r = calloc(1, sizeof *r);
    r->vm = pvmV_new();
    if (!r->vm)
        return -1;
    r->outf = fmemopen(r->out, sizeof r->out - 1, "w");
    pvmL_open(r->vm, 0, NULL);
    r->vm->out = r->outf;
    PvmJitOptions o;
    pvmJ_options_default(&o);
    o.hot = 1;
    if (!pvmJ_attach(r->vm, &o))
        return pvmJ_available() ? -1 : 0;
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    Run *r = *state;
    r->vm->out = stdout;
    fclose(r->outf);
    pvmJ_detach(r->vm);
    pvmV_free(r->vm);
    free(r);
    return 0;
}

/* Compiles and runs [src]; returns whether it ran without an uncaught error. */
static bool run(Run *r, const char *src)
{
    PbcImage img;
    char err[256];
    assert_true(pvmC_compile_source(src, strlen(src), "t.pv", NULL, &img, stderr));
    assert_true(pvmV_load_verified(r->vm, &img, err, sizeof err));
    pvmB_free(&img);
    bool ok = pvmV_run_program(r->vm);
    fflush(r->outf);
    return ok;
}

static const char *error_text(Run *r)
{
    assert_int_equal(r->vm->error.type, VT_STRING);
    return r->vm->error.as.s->chars;
}

static void test_loop_compiles_and_runs(void **state)
{
    Run *r = *state;
    if (!pvmJ_available())
        skip();
    assert_true(run(r, "let s = 0; for i in 0..100000 { s += i * i % 7; } print(s);"));
    assert_string_equal(r->out, "199999\n");
    PvmJitCounts c = pvmJ_counts(r->vm);
    assert_int_equal(c.traces, 1);
    assert_true(c.entries >= 1);
}

static void test_budget_inside_trace(void **state)
{
    Run *r = *state;
    if (!pvmJ_available())
        skip();
    r->vm->fuel = 100000;
    assert_false(run(r, "let n = 0; while true { n += 1; }"));
    assert_string_equal(error_text(r), "instruction budget exceeded");
    assert_int_equal(pvmJ_counts(r->vm).traces, 1);
    /* the trace charged each trip: nothing ran far past the budget */
    assert_true(r->vm->fuel > -1000);
}

static void *interrupt_later(void *arg)
{
    VM *vm = arg;
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    pvmV_interrupt_set(vm); /* as pvm_interrupt does: the flag and the copy traces poll */
    return NULL;
}

static void test_interrupt_inside_trace(void **state)
{
    Run *r = *state;
    if (!pvmJ_available())
        skip();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, interrupt_later, r->vm), 0);
    bool ok = run(r, "let n = 0; while true { n += 1; }");
    pthread_join(t, NULL);
    assert_false(ok);
    assert_string_equal(error_text(r), "interrupted");
    assert_int_equal(pvmJ_counts(r->vm).traces, 1);
}

/* The divisor becomes 0 after many iterations: the trace's guard exits and
 * the interpreter raises the error, which the script catches. */
static void test_error_at_exit_is_caught(void **state)
{
    Run *r = *state;
    if (!pvmJ_available())
        skip();
    assert_true(run(r,
        "let s = 0;\n"
        "try {\n"
        "  for i in 0..1000 { s += 100 / (500 - i); }\n"
        "} catch e { print(e); }\n"
        "print(s);\n"));
    assert_string_equal(r->out, "division by zero\n482\n");
    assert_true(pvmJ_counts(r->vm).traces >= 1);
}

/* A value changes type mid-loop (int, then float): the type guard exits
 * and the loop finishes correctly in the interpreter or a new trace. */
static void test_type_change_mid_loop(void **state)
{
    Run *r = *state;
    if (!pvmJ_available())
        skip();
    assert_true(run(r,
        "let x = 0;\n"
        "for i in 0..300 { if i == 150 { x = 0.5; } x = x + 1; }\n"
        "print(x);\n"));
    assert_string_equal(r->out, "150.5\n");
    assert_true(pvmJ_counts(r->vm).traces >= 1);
}

/* An uncaught error while a loop is being recorded (the division raises
 * in the very iteration the recorder watches) must not leave the JIT
 * recording forever: the next program's loop still compiles. */
static void test_uncaught_error_while_recording(void **state)
{
    Run *r = *state;
    if (!pvmJ_available())
        skip();
    assert_false(run(r, "let s = 0; for i in 0..10 { s += 10 / (1 - i); }"));
    assert_string_equal(error_text(r), "division by zero");
    assert_true(run(r, "let t = 0; for i in 0..1000 { t += i; } print(t);"));
    assert_string_equal(r->out, "499500\n");
    assert_int_equal(pvmJ_counts(r->vm).traces, 1);
}

/* Map fields and math.sqrt inside a compiled loop, and a field whose key
 * moves (the map is rebuilt with another key first) exits correctly. */
static void test_fields_and_intrinsics(void **state)
{
    Run *r = *state;
    if (!pvmJ_available())
        skip();
    assert_true(run(r,
        "let p = {x: 1.5, y: 2};\n"
        "let s = 0.0;\nlet a = [1, 2];\n"
        "for i in 0..300 {\n"
        "  if i == 150 { p = {y: 2, x: 1.5}; }\n"
        "  p.y = p.y + 1;\n"
        "  s += math.sqrt(p.x * i) + len(a);\n"
        "}\n"
        "print(p.y, s > 0);\n"));
    assert_string_equal(r->out, "152 true\n");
    assert_true(pvmJ_counts(r->vm).traces >= 1);
}

/* Where a run stopped: the budget left, the error's trace and the value
 * of the module global [name]. */
typedef struct {
    int64_t fuel;
    char trace[512];
    Value global;
} Stop;

static Stop run_to_budget(bool jit, int64_t fuel, const char *src, const char *name)
{
    Stop st;
    memset(&st, 0, sizeof st);
    VM *vm = pvmV_new();
    assert_non_null(vm);
    pvmL_open(vm, 0, NULL);
    if (jit) {
        PvmJitOptions o;
        pvmJ_options_default(&o);
        o.hot = 1;
        assert_true(pvmJ_attach(vm, &o));
    }
    PbcImage img;
    char err[256];
    assert_true(pvmC_compile_source(src, strlen(src), "t.pv", NULL, &img, stderr));
    assert_true(pvmV_load_verified(vm, &img, err, sizeof err));
    pvmB_free(&img);
    vm->fuel = fuel;
    assert_false(pvmV_run_program(vm));
    assert_int_equal(vm->error.type, VT_STRING);
    assert_string_equal(vm->error.as.s->chars, "instruction budget exceeded");
    st.fuel = vm->fuel;
    if (vm->error_trace)
        snprintf(st.trace, sizeof st.trace, "%s", vm->error_trace);
    VmModule *m = vm->program->modules[0];
    for (uint32_t g = 0; g < m->nglobals; g++)
        if (strcmp(m->global_names[g]->chars, name) == 0)
            st.global = m->globals[g];
    if (jit) {
        assert_true(pvmJ_counts(vm).traces >= 1);
        assert_true(pvmJ_counts(vm).entries >= 1);
        pvmJ_detach(vm);
    }
    pvmV_free(vm);
    return st;
}

/* For every budget in [from, to): the JIT stops where the interpreter
 * does, with the same budget left, stack trace and global [name] (an int
 * that got past 100). */
static void expect_same_stops(const char *src, const char *name, int64_t from, int64_t to)
{
    for (int64_t fuel = from; fuel < to; fuel++) {
        Stop off = run_to_budget(false, fuel, src, name);
        Stop on = run_to_budget(true, fuel, src, name);
        assert_int_equal(on.fuel, off.fuel);
        assert_string_equal(on.trace, off.trace);
        assert_int_equal(on.global.type, VT_INT);
        assert_int_equal(on.global.as.i, off.global.as.i);
        assert_true(off.global.as.i > 100);
    }
}

static void test_budget_with_inlined_calls(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "fn leaf(x) { return x + 1; }\n"
        "fn step(x) {\n"
        "  return leaf(x) * 1;\n"
        "}\n"
        "let n = 0;\n"
        "while true {\n"
        "  n = step(n);\n"
        "}\n";
    /* every budget from a few trips to many, so that it runs out at each
     * of the trip's charge points (the two calls and the back edge) */
    expect_same_stops(src, "n", 3000, 3012);
}

/* A trip's charges are taken at once, by its first CHARGE: an exit later
 * in the trip (here the branch, both ways in turn, then its side trace)
 * gives back what the trip had not yet used, so the budget still runs
 * out at the instruction where the interpreter runs out. */
static void test_budget_with_exits_mid_trip(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "fn leaf(x) { return x + 1; }\n"
        "let n = 0;\n"
        "let k = 0;\n"
        "while true {\n"
        "  n = leaf(n);\n"
        "  if n % 7 == 0 { k = leaf(k); } else { k += 2; }\n"
        "  n = leaf(n);\n"
        "}\n";
    expect_same_stops(src, "k", 5000, 5040);
}

/* Unrolled inner loops charge each back edge they unroll where the
 * interpreter charges it, so the budget runs out at the same instruction
 * whether it falls in the outer loop or in any trip of the inner ones
 * (of 3 and then 2 trips, and a callee's loop of 2). */
static void test_budget_with_unrolled_loops(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "fn twice(x) { let s = 0; for k in 0..2 { s += x; } return s; }\n"
        "let n = 0;\n"
        "let a = [1, 2];\n"
        "while true {\n"
        "  for i in 0..3 { n += i; }\n"
        "  for v in a { n += v; }\n"
        "  n = twice(n) - n;\n"
        "}\n";
    expect_same_stops(src, "n", 4000, 4090);
}

/* A C call a trace makes itself charges what the interpreter's call of
 * the binding charges, where it charges it, so the budget runs out at the
 * same instruction whether at one of the calls or at the back edge; the
 * range guard's exit (every 97th trip the argument is out of int8's
 * range, and the interpreter raises, caught by the callee's try) is
 * charged the same too. */
static void test_budget_with_c_calls(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "let abs = ffi.fn(ffi.open(nil), \"abs\", \"int\", [\"int\"]);\n"
        "let small = ffi.fn(ffi.open(nil), \"abs\", \"int\", [\"int8\"]);\n"
        "fn careful(x) { try { return small(x); } catch e { return 0; } }\n"
        "let n = 0;\n"
        "let k = 0;\n"
        "while true {\n"
        "  n += abs(-1);\n"
        "  k = abs(k - 3);\n"
        "  if n % 97 == 0 { k += careful(n * 3); }\n"
        "}\n";
    expect_same_stops(src, "n", 6000, 6060);
}

/* C functions the next test binds through their addresses: [every]
 * calls the hook [set] installed when x is a multiple of n. */
static int (*test_hook)(int);
static void test_set_hook(int (*f)(int)) { test_hook = f; }
static int test_every(int x, int n) { return x % n == 0 && test_hook ? test_hook(x) : 1; }

/* A callback run by C during a trace's C call charges the budget as it
 * does when the interpreter made the call (the trace writes its fuel
 * back around the call and reads it again): the budget runs out at the
 * same instruction, whether in the callback's own loop (inside the C
 * call: the limit is raised once C returns) or in the trace. */
static void test_budget_with_callbacks(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static char src[1024];
    snprintf(src, sizeof src,
             "let every = ffi.fn(ffi.pointer(%llu), \"every\", \"int\", [\"int\", \"int\"]);\n"
             "let set = ffi.fn(ffi.pointer(%llu), \"set\", \"void\", [\"pointer\"]);\n"
             "let n = 0;\n"
             "let cb = ffi.callback(fn (x) { for k in 0..3 { n += 1; } return x; }, \"int\", [\"int\"]);\n"
             "set(cb);\n"
             "let i = 0;\n"
             "while true {\n"
             "  i += 1;\n"
             "  n += every(i, 5);\n"
             "}\n",
             (unsigned long long)(uintptr_t)test_every, (unsigned long long)(uintptr_t)test_set_hook);
    expect_same_stops(src, "n", 5000, 5120);
}

/* --- Allocation in traces (docs/jit.md) --- */

/* How a run that allocates in a trace stopped. */
typedef struct {
    char error[128];
    char trace[512];
    Value global;
    PvmJitCounts counts;
} AllocStop;

/* Runs [src] to an error with the JIT [jit] (at hot=1), under a memory
 * limit of [limit] bytes or with the [countdown]th allocation after the
 * load failing (0: neither). */
static AllocStop run_alloc_to_error(bool jit, const char *src, const char *name, size_t limit, uint64_t countdown)
{
    AllocStop st;
    memset(&st, 0, sizeof st);
    VM *vm = pvmV_new();
    assert_non_null(vm);
    pvmL_open(vm, 0, NULL);
    if (jit) {
        PvmJitOptions o;
        pvmJ_options_default(&o);
        o.hot = 1;
        assert_true(pvmJ_attach(vm, &o));
    }
    PbcImage img;
    char err[256];
    assert_true(pvmC_compile_source(src, strlen(src), "t.pv", NULL, &img, stderr));
    assert_true(pvmV_load_verified(vm, &img, err, sizeof err));
    pvmB_free(&img);
    vm->memory_limit = limit;
    vm->bytes_until_check = 0;
    vm->fail_alloc_countdown = countdown;
    assert_false(pvmV_run_program(vm));
    vm->fail_alloc_countdown = 0;
    if (vm->error.type == VT_STRING)
        snprintf(st.error, sizeof st.error, "%s", vm->error.as.s->chars);
    if (vm->error_trace)
        snprintf(st.trace, sizeof st.trace, "%s", vm->error_trace);
    VmModule *m = vm->program->modules[0];
    for (uint32_t g = 0; g < m->nglobals; g++)
        if (strcmp(m->global_names[g]->chars, name) == 0)
            st.global = m->globals[g];
    if (jit) {
        st.counts = pvmJ_counts(vm);
        pvmJ_detach(vm);
    }
    /* What the program made must not stay reachable: a stale word on the
     * C stack that points to this VM would otherwise make the next run's
     * limit check count it all (it did under ASan, now and then) */
    for (uint32_t g = 0; g < m->nglobals; g++)
        m->globals[g] = VAL_NIL;
    for (Value *v = vm->stack; v < vm->stack_rooted; v++)
        *v = VAL_NIL;
    vm->memory_limit = 0;
    pvmV_free(vm);
    return st;
}

/* Both runs met the memory limit with the interpreter's message and
 * stack trace, the JIT's after running a trace, with the global n an int. */
static void assert_limit_met_alike(const AllocStop *off, const AllocStop *on)
{
    assert_string_equal(off->error, "memory limit exceeded");
    assert_string_equal(on->error, off->error);
    assert_string_equal(on->trace, off->trace);
    assert_true(on->counts.traces >= 1);
    assert_int_equal(off->global.type, VT_INT);
    assert_int_equal(on->global.type, VT_INT);
}

/* Literals of every kind kept alive in a list, made by a trace: the
 * memory limit is met in the trace's loop and raised by the interpreter
 * (the trace's call answers NULL whenever the funnel would check, and the
 * trace leaves before the literal), with the interpreter's message and
 * stack trace; the trace did run. */
static void test_memory_limit_in_allocating_trace(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "let keep = nil;\n"
        "let n = 0;\n"
        "fn fill() {\n"
        "  for i in 0..100000000 {\n"
        "    keep = [keep, [i, i + 1], [i * 0.5], [true, false], {x: i, y: [\"s\", nil]}];\n"
        "    n = i;\n"
        "  }\n"
        "}\n"
        "fill();\n";
    AllocStop off = run_alloc_to_error(false, src, "n", (size_t)24 << 20, 0);
    AllocStop on = run_alloc_to_error(true, src, "n", (size_t)24 << 20, 0);
    assert_limit_met_alike(&off, &on);
    assert_true(on.counts.entries >= 1);
    /* where the limit is met depends on the collector's view of the heap,
     * which registers and stale stack words shift a little */
    assert_true(off.global.as.i > 10000);
    assert_true(on.global.as.i > off.global.as.i * 9 / 10 && on.global.as.i < off.global.as.i * 11 / 10);
}

/* push growing an array from a trace (rt_push): the memory limit is met
 * by a growth, raised by the interpreter with its message and trace,
 * and an injected failure fails the same allocation as without the JIT. */
static void test_memory_limit_in_pushing_trace(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "let a = [0];\n"
        "let n = 0;\n"
        "for i in 0..100000000 {\n"
        "  push(a, i);\n"
        "  n = i;\n"
        "}\n";
    AllocStop off = run_alloc_to_error(false, src, "n", (size_t)24 << 20, 0);
    AllocStop on = run_alloc_to_error(true, src, "n", (size_t)24 << 20, 0);
    assert_limit_met_alike(&off, &on);
    /* the growth that is one too many comes at a doubling: about the same
     * length, as the collector's view of the heap allows */
    assert_true(on.global.as.i > off.global.as.i / 2 && on.global.as.i < off.global.as.i * 2);
    for (uint64_t at = 20; at < 26; at++) {
        AllocStop f_off = run_alloc_to_error(false, src, "n", 0, at);
        AllocStop f_on = run_alloc_to_error(true, src, "n", 0, at);
        assert_string_equal(f_on.error, f_off.error);
        assert_int_equal(f_on.global.as.i, f_off.global.as.i);
    }
}

/* An allocation made to fail (fault injection) fails at the same
 * allocation with and without the JIT: while a failure is armed the
 * trace's calls leave every allocation to the interpreter, so the count
 * down and the error are exactly the interpreter's. */
static void test_injected_failure_in_allocating_trace(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "let keep = nil;\n"
        "let n = 0;\n"
        "for i in 0..100000000 {\n"
        "  let p = {x: i, y: [i, 2]};\n"
        "  keep = [p, keep];\n"
        "  n = i;\n"
        "}\n";
    for (uint64_t at = 200; at < 230; at++) {
        AllocStop off = run_alloc_to_error(false, src, "n", 0, at);
        AllocStop on = run_alloc_to_error(true, src, "n", 0, at);
        assert_string_equal(off.error, "out of memory");
        assert_string_equal(on.error, off.error);
        assert_string_equal(on.trace, off.trace);
        assert_int_equal(on.global.type, VT_INT);
        assert_int_equal(on.global.as.i, off.global.as.i);
        assert_true(on.counts.traces >= 1);
    }
}

/* The bytes a run of [src] allocates after its load, with the JIT [jit]
 * (at hot=1) or without. */
static uint64_t bytes_allocated_by(bool jit, const char *src)
{
    VM *vm = pvmV_new();
    assert_non_null(vm);
    pvmL_open(vm, 0, NULL);
    if (jit) {
        PvmJitOptions o;
        pvmJ_options_default(&o);
        o.hot = 1;
        assert_true(pvmJ_attach(vm, &o));
    }
    PbcImage img;
    char err[256];
    assert_true(pvmC_compile_source(src, strlen(src), "t.pv", NULL, &img, stderr));
    assert_true(pvmV_load_verified(vm, &img, err, sizeof err));
    pvmB_free(&img);
    uint64_t before = vm->bytes_allocated;
    assert_true(pvmV_run_program(vm));
    uint64_t made = vm->bytes_allocated - before;
    if (jit)
        pvmJ_detach(vm);
    pvmV_free(vm);
    return made;
}

/* Allocation sinking: the temporary maps of a loop are not made at all
 * by its trace (docs/jit.md, "Allocation sinking"); those an exit holds
 * are, by the exit: one in a thousand trips here. */
static void test_sunk_maps_are_not_made(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "fn mk(i) { let o = {k: 1}; o.x = i; o.y = i + 1; return o; }\n"
        "let s = 0;\n"
        "let kept = nil;\n"
        "for i in 0..200000 {\n"
        "  let p = {x: i, y: 1};\n"
        "  let q = mk(i);\n"
        "  s += p.x + q.y;\n"
        "  if (i % 1000 == 0) { kept = q; }\n"
        "}\n";
    uint64_t off = bytes_allocated_by(false, src), on = bytes_allocated_by(true, src);
    assert_true(off > 200000u * 2u * 64u);
    assert_true(on < off / 100u);
}

/* A budget that runs out among sunk maps stops where the interpreter
 * stops, with the map the exit makes in its local. */
static void test_budget_with_sunk_maps(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "fn mk(x) { let o = {k: 1}; o.x = x; return o; }\n"
        "let n = 0;\n"
        "while true {\n"
        "  let p = mk(n);\n"
        "  let q = {a: p.x, b: 2};\n"
        "  n = q.a + q.b + p.k - 2;\n"
        "}\n";
    expect_same_stops(src, "n", 8000, 8060);
}

/* A memory limit met while exits make sunk maps (every seventh trip's
 * is kept): the interpreter's error, raised where the map is made. */
static void test_memory_limit_with_sunk_maps(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "let keep = nil;\n"
        "let n = 0;\n"
        "fn fill() {\n"
        "  for i in 0..100000000 {\n"
        "    let p = {x: i, y: 2};\n"
        "    p.z = i + 1;\n"
        "    if (i % 7 == 0) { keep = [p, keep]; }\n"
        "    n = p.x;\n"
        "  }\n"
        "}\n"
        "fill();\n";
    AllocStop off = run_alloc_to_error(false, src, "n", (size_t)24 << 20, 0);
    AllocStop on = run_alloc_to_error(true, src, "n", (size_t)24 << 20, 0);
    assert_string_equal(off.error, "memory limit exceeded");
    assert_string_equal(on.error, off.error);
    /* the interpreter meets it making some map (line 5); a trace makes a
     * sunk map only where it leaves with it, the kept one (line 7) */
    assert_string_equal(off.trace, "  at fill (t.pv:5)\n  at <main> (t.pv:11)\n");
    assert_true(strcmp(on.trace, off.trace) == 0 ||
                strcmp(on.trace, "  at fill (t.pv:7)\n  at <main> (t.pv:11)\n") == 0);
    assert_true(on.counts.traces >= 1);
    /* the sunk maps of the other six trips in seven are never made, so
     * the trace goes further before the limit */
    assert_int_equal(on.global.type, VT_INT);
    assert_true(on.global.as.i >= off.global.as.i * 9 / 10);
}

/* An injected failure while exits make sunk maps (the runner makes them
 * while one is armed, and raises it): the interpreter's error. Fewer
 * allocations happen with the JIT, so it comes later. */
static void test_injected_failure_with_sunk_maps(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "let keep = nil;\n"
        "let n = 0;\n"
        "for i in 0..100000000 {\n"
        "  let p = {x: i, y: [i, 2]};\n"
        "  p.z = i;\n"
        "  if (i % 3 == 0) { keep = [p, keep]; }\n"
        "  n = p.z;\n"
        "}\n";
    for (uint64_t at = 300; at < 340; at += 7) {
        AllocStop off = run_alloc_to_error(false, src, "n", 0, at);
        AllocStop on = run_alloc_to_error(true, src, "n", 0, at);
        assert_string_equal(off.error, "out of memory");
        assert_string_equal(on.error, off.error);
        assert_int_equal(on.global.type, VT_INT);
        assert_true(on.global.as.i >= off.global.as.i);
    }
}

/* Literals and new fields charge nothing themselves, push the unit of
 * its call: a budget that runs out in a loop of them stops where the
 * interpreter stops (push's exits, when the array must grow, included). */
static void test_budget_with_allocations(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "fn mk(x) { let o = {k: 1}; o.x = x; o.y = [x, x]; return o; }\n"
        "let n = 0;\n"
        "let keep = nil;\n"
        "let list = [0];\n"
        "while true {\n"
        "  let p = mk(n);\n"
        "  keep = [p, {a: n}, keep, str(n), str(n + 0.5)];\n"
        "  push(list, n);\n"
        "  n = p.x + p.y[1] - n + 1;\n"
        "}\n";
    expect_same_stops(src, "n", 5000, 5060);
}

/* remove() in a trace charges CALL's unit before its calls, and each of
 * their exits (a key gone, a value of another type) gives it back: the
 * budget stops where the interpreter's does. */
static void test_budget_with_remove(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "let m = {};\n"
        "let n = 0;\n"
        "while true {\n"
        "  m[n] = n;\n"
        "  m[n + 1] = \"s\";\n"
        "  let v = remove(m, n);\n"
        "  remove(m, n + 7);\n"
        "  if n % 50 == 49 && remove(m, n + 1) != \"s\" { n = -1000; }\n"
        "  n = v + 1;\n"
        "}\n";
    expect_same_stops(src, "n", 8000, 8060);
}

/* Calls a trace stitches around (natives it does not record): the
 * interpreter makes each call and charges its unit, callbacks charge
 * theirs, and the trace after the call goes on: the budget runs out at
 * the same instruction as in the interpreter, wherever in the trip. */
static void test_budget_with_stitched_calls(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "fn twice(a, b) { return a + b + b; }\n"
        "let n = 0;\n"
        "while true {\n"
        "  let s = string.repeat(\"ab\", n % 3);\n"
        "  n += len(s) + 1;\n"
        "  n = array.reduce([n, 1], twice, 0) - n - 1;\n"
        "  if n % 5 == 0 { n += len(string.upper(s)); }\n"
        "}\n";
    expect_same_stops(src, "n", 6000, 6060);
}

/* Leaf natives a trace calls itself charge the budget for the bytes and
 * items they handle (string.repeat, string.sub, array.slice, keys): the
 * trace hands them its fuel and takes it back, so the budget runs out at
 * the same call, or inside it, as in the interpreter. */
static void test_budget_with_leaf_natives(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "let m = {a: 1, b: 2, c: 3};\n"
        "let n = 0;\n"
        "while true {\n"
        "  let s = string.repeat(\"ab\", 40 + n % 50);\n"
        "  n += len(string.sub(s, 1, 70)) % 3 + 1;\n"
        "  n += len(array.slice([1, 2, 3, 4, 5, 6], 1, n % 6)) + len(keys(m)) - 3;\n"
        "  n += math.max(n % 2, 0, 1) - 1;\n"
        "}\n";
    static const char one[] =
        "let n = 0;\n"
        "while true {\n"
        "  n += len(string.repeat(\"ab\", 40 + n % 50));\n"
        "}\n";
    expect_same_stops(one, "n", 5000, 5080);
    /* natives that change the array the loop reads, charging per item */
    static const char edits[] =
        "let a = [1, 2, 3, 4, 5, 6, 7, 8];\n"
        "let n = 0;\n"
        "while true {\n"
        "  array.insert(a, n % 3, n % 100);\n"
        "  n += array.remove_at(a, 1) % 5 + 1;\n"
        "  array.reverse(a);\n"
        "  n += pop(a) % 3;\n"
        "  push(a, n % 9);\n"
        "}\n";
    expect_same_stops(edits, "n", 7000, 7060);
    expect_same_stops(src, "n", 5000, 5080);
    expect_same_stops(src, "n", 20000, 20020);
}

/* Under a memory limit a trace leaves leaf natives to the interpreter
 * (what they allocate is not known before they run), so the limit is met
 * at the same call as without the JIT, and injected failures fail the
 * same allocation. */
static void test_memory_limit_with_leaf_natives(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "let keep = [];\n"
        "let n = 0;\n"
        "for i in 0..100000000 {\n"
        "  push(keep, string.repeat(\"x\", 100 + i % 7));\n"
        "  n = i;\n"
        "}\n";
    AllocStop off = run_alloc_to_error(false, src, "n", (size_t)8 << 20, 0);
    AllocStop on = run_alloc_to_error(true, src, "n", (size_t)8 << 20, 0);
    assert_limit_met_alike(&off, &on);
    /* where exactly is the collector's view of the heap: both got far */
    assert_true(on.global.as.i > 1000 && off.global.as.i > 1000);
    for (uint64_t at = 30; at < 36; at++) {
        AllocStop f_off = run_alloc_to_error(false, src, "n", 0, at);
        AllocStop f_on = run_alloc_to_error(true, src, "n", 0, at);
        assert_string_equal(f_on.error, f_off.error);
        assert_int_equal(f_on.global.as.i, f_off.global.as.i);
    }
}

/* A budget that runs out inside recursion running in function traces
 * (up-recursion through linked exits, returns through RETF) stops at the
 * same call or back edge, with the same stack, as the interpreter. */
static void test_budget_with_recursion(void **state)
{
    (void)state;
    if (!pvmJ_available())
        skip();
    static const char src[] =
        "fn fib(k) { if k < 2 { return k; } return fib(k - 1) + fib(k - 2); }\n"
        "let n = 0;\n"
        "let i = 0;\n"
        "while true {\n"
        "  n += fib(i % 9) + 1;\n"
        "  i += 1;\n"
        "}\n";
    expect_same_stops(src, "n", 20000, 20040);
    expect_same_stops(src, "n", 60000, 60020);
    /* intrinsics in traces that end by going on in another (no back edge
     * of their own to charge at): each call is charged where it is made */
    static const char with_intrinsics[] =
        "fn f(k) { if k < 2 { return math.abs(k - 1) + len(str(k)); } return f(k - 1) + math.max(f(k - 2), 0); }\n"
        "let n = 0;\n"
        "let i = 0;\n"
        "while true {\n"
        "  n += f(i % 9) + 1;\n"
        "  i += 1;\n"
        "}\n";
    expect_same_stops(with_intrinsics, "n", 30000, 30040);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_loop_compiles_and_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_inside_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_inside_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_at_exit_is_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_type_change_mid_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_uncaught_error_while_recording, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_and_intrinsics, setup, teardown),
        cmocka_unit_test(test_budget_with_inlined_calls),
        cmocka_unit_test(test_budget_with_exits_mid_trip),
        cmocka_unit_test(test_budget_with_unrolled_loops),
        cmocka_unit_test(test_budget_with_c_calls),
        cmocka_unit_test(test_budget_with_callbacks),
        cmocka_unit_test(test_memory_limit_in_allocating_trace),
        cmocka_unit_test(test_memory_limit_in_pushing_trace),
        cmocka_unit_test(test_injected_failure_in_allocating_trace),
        cmocka_unit_test(test_budget_with_allocations),
        cmocka_unit_test(test_budget_with_remove),
        cmocka_unit_test(test_sunk_maps_are_not_made),
        cmocka_unit_test(test_budget_with_sunk_maps),
        cmocka_unit_test(test_memory_limit_with_sunk_maps),
        cmocka_unit_test(test_injected_failure_with_sunk_maps),
        cmocka_unit_test(test_budget_with_recursion),
        cmocka_unit_test(test_budget_with_stitched_calls),
        cmocka_unit_test(test_budget_with_leaf_natives),
        cmocka_unit_test(test_memory_limit_with_leaf_natives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
