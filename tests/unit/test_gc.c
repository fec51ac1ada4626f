/* The collector keeps memory bounded by the live set: allocating over 10 GB
 * in total through the VM's allocation funnel, with a few MB live at any
 * time, must leave peak RSS under 200 MB. And a VM's own share of the heap
 * (pvmV_reachable_bytes, for its memory limit) counts what it reaches,
 * natives' C locals included. */
#include <gc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/resource.h>

#include "vm/interp/interp.h"

#define BLOCK ((size_t)4 * 1024)
#define LIVE 1024
#define TOTAL ((size_t)10 * 1024 * 1024 * 1024 + BLOCK)

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

typedef struct {
    size_t total;
    void **ring;
    void *anchor;
} Churn;

static void churn(VM *vm, void *ud)
{
    Churn *c = ud;
    for (size_t i = 0; c->total < TOTAL; i++) {
        /* Pointer-holding blocks that point at a long-lived one, so the
         * collector has to scan them; the ring keeps the last LIVE alive. */
        void **block = pvmV_alloc(vm, BLOCK);
        block[0] = c->anchor;
        c->ring[i % LIVE] = block;
        c->total += BLOCK;
    }
}

static void test_ten_gigabytes_bounded(void **state)
{
    (void)state;
    VM *vm = pvmV_new();
    assert_non_null(vm);
    /* The ring and anchor live in GC memory reachable from this frame. */
    Churn c = { 0, GC_MALLOC(LIVE * sizeof(void *)), GC_MALLOC(64) };
    assert_true(pvmV_protect(vm, churn, &c));
    assert_true(c.total > (size_t)10 * 1024 * 1024 * 1024);
    long peak = peak_rss_kb();
    assert_true(peak < 200 * 1024);
    assert_true(vm->bytes_allocated >= c.total);
    pvmV_free(vm);
}

static void test_impossible_size_is_an_error(void **state)
{
    (void)state;
    VM *vm = pvmV_new();
    assert_non_null(vm);
    Value err;
    assert_false(pvmV_protect(vm, (void (*)(VM *, void *))(void *)pvmV_alloc_atomic, (void *)((size_t)1 << 62)));
    err = vm->error;
    assert_int_equal(err.type, VT_STRING);
    assert_string_equal(err.as.s->chars, "out of memory");
    pvmV_free(vm);
}

/* pvmV_reachable_bytes counts what the VM's roots reach, each block once:
 * an array of 10 000 distinct 100-byte strings on the stack adds at least
 * their bytes and not much more; the same string 10 000 times adds one;
 * dropping the array gives it all back. */
static void test_reachable_bytes(void **state)
{
    (void)state;
    VM *vm = pvmV_new();
    assert_non_null(vm);
    size_t before = pvmV_reachable_bytes(vm);
    char text[100];
    memset(text, 'x', sizeof text);
    PvArray *a = pvmV_array_new(vm, 10000);
    *vm->top++ = vm_obj(VT_ARRAY, a);
    for (int i = 0; i < 10000; i++) {
        memcpy(text, &i, sizeof i); /* distinct contents, not that it matters */
        pvmV_array_push(vm, a, vm_str_value(pvmV_string_new(vm, text, sizeof text)));
    }
    size_t with_distinct = pvmV_reachable_bytes(vm) - before;
    size_t least = 10000 * (sizeof(PvString) + sizeof text + sizeof(Value));
    assert_true(with_distinct >= least);
    assert_true(with_distinct <= least * 2);
    Value shared = vm_str_value(pvmV_string_new(vm, text, sizeof text));
    for (int i = 0; i < 10000; i++)
        pvmV_array_put(a, (size_t)i, shared);
    size_t with_shared = pvmV_reachable_bytes(vm) - before;
    assert_true(with_shared < 10000 * sizeof(Value) + 4096);
    vm->top--;
    assert_true(pvmV_reachable_bytes(vm) <= before);
    pvmV_free(vm);
}

/* A native's C locals: with one VM in the process, what the running code
 * holds on the C stack counts (the buffer string.join is filling, the
 * array string.split is building), found the way the collector finds it. */
typedef struct {
    size_t without, with;
} Held;

static void measure_held(VM *vm, void *ud)
{
    Held *h = ud;
    h->without = pvmV_reachable_bytes(vm);
    char *volatile block = pvmV_alloc_atomic(vm, (size_t)1 << 20);
    GC_gcollect(); /* as the limit check does first: the scan counts marked blocks */
    h->with = pvmV_reachable_bytes(vm);
    block[0] = 1;
}

static void test_reachable_counts_c_locals(void **state)
{
    (void)state;
    VM *vm = pvmV_new();
    assert_non_null(vm);
    assert_int_equal(pvmV_vm_count(), 1);
    Held h = { 0, 0 };
    assert_true(pvmV_protect(vm, measure_held, &h));
    assert_true(h.with >= h.without + ((size_t)1 << 20));
    assert_true(h.with <= h.without + ((size_t)1 << 20) + 64 * 1024);
    pvmV_free(vm);
}

/* The root filter leaves out only the C library, libm and the loader:
 * the program ("" to dl_iterate_phdr) and other libraries are scanned. */
static void test_root_filter(void **state)
{
    (void)state;
    assert_int_equal(pvmV_gc_scans_library("/lib/x86_64-linux-gnu/libc.so.6", NULL, 0), 0);
    assert_int_equal(pvmV_gc_scans_library("/usr/lib/x86_64-linux-gnu/libm.so.6", NULL, 0), 0);
    assert_int_equal(pvmV_gc_scans_library("/lib64/ld-linux-x86-64.so.2", NULL, 0), 0);
    assert_int_not_equal(pvmV_gc_scans_library("", NULL, 0), 0);
    assert_int_not_equal(pvmV_gc_scans_library(NULL, NULL, 0), 0);
    assert_int_not_equal(pvmV_gc_scans_library("/usr/lib/libcmocka.so.0", NULL, 0), 0);
    assert_int_not_equal(pvmV_gc_scans_library("/tmp/libcalc.so", NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ten_gigabytes_bounded),
        cmocka_unit_test(test_impossible_size_is_an_error),
        cmocka_unit_test(test_reachable_bytes),
        cmocka_unit_test(test_reachable_counts_c_locals),
        cmocka_unit_test(test_root_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
