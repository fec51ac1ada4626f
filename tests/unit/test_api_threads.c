/* Threads and the collector. Threads that never called pvm_thread_attach:
 * the API registers them on their first call and unregisters them when
 * they exit, instead of bdwgc aborting the process (issue 13, point 5).
 * Collector warnings reach the host's error callback (point 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "pvm.h"
#include "api_fixture.h"

/* Enough allocation that the collector runs while this thread works. */
static const char churn[] = "let acc = []; for i in 0..100000 { push(acc, [i, str(i)]); } let n = len(acc);";

typedef struct {
    pvm_vm *vm;
    pvm_status status;
    int64_t n;
    bool first_is_constructor; /* start with pvm_int rather than loading */
} Job;

/* No asserts here: cmocka's belong to the main thread. */
static void *unattached(void *arg)
{
    Job *j = arg;
    if (j->first_is_constructor) {
        pvm_value v = pvm_int(j->vm, 42);
        int64_t i = 0;
        if (pvm_get_int(j->vm, v, &i) != PVM_OK || i != 42) {
            j->status = PVM_ERUNTIME;
            return NULL;
        }
        pvm_release(j->vm, v);
    }
    j->status = run(j->vm, churn);
    pvm_value n;
    if (j->status == PVM_OK && pvm_get_global(j->vm, "n", &n) == PVM_OK) {
        pvm_get_int(j->vm, n, &j->n);
        pvm_release(j->vm, n);
    }
    return NULL;
}

static void run_in_thread(Job *j)
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, unattached, j), 0);
    pthread_join(t, NULL);
    assert_int_equal(j->status, PVM_OK);
    assert_int_equal(j->n, 100000);
}

static void test_unattached_thread_uses_vm(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    Job a = { vm, PVM_OK, 0, false }, b = { vm, PVM_OK, 0, true };
    run_in_thread(&a);
    run_in_thread(&b);
    /* The threads are gone and unregistered: collections here do not wait
     * for them or signal them. */
    assert_int_equal(run(vm, churn), PVM_OK);
    assert_int_equal(global_int(vm, "n"), 100000);
    pvm_free(vm);
}

/* A thread that creates, uses and frees its own VM, then uses another
 * one after pvm_free detached it. */
static void *own_vm(void *arg)
{
    Job *j = arg;
    pvm_vm *mine = pvm_new(NULL);
    j->status = mine ? run(mine, churn) : PVM_EMEMORY;
    pvm_free(mine);
    if (j->status == PVM_OK)
        unattached(j);
    return NULL;
}

static void test_thread_after_its_vm_is_freed(void **state)
{
    (void)state;
    Job j = { pvm_new(NULL), PVM_OK, 0, false };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, own_vm, &j), 0);
    pthread_join(t, NULL);
    assert_int_equal(j.status, PVM_OK);
    assert_int_equal(j.n, 100000);
    assert_int_equal(run(j.vm, churn), PVM_OK);
    pvm_free(j.vm);
}

/* bdwgc's getter, declared here: including <gc.h> with GC_THREADS would
 * wrap pthread_create and attach every test thread behind our back. */
typedef void (*warn_proc)(char *msg, unsigned long arg);
warn_proc GC_get_warn_proc(void);

static void test_collector_warning_reaches_error_callback(void **state)
{
    (void)state;
    Capture err = { .len = 0 };
    pvm_options o = { .error = capture, .ud = &err };
    pvm_vm *vm = pvm_new(&o);
    /* What bdwgc calls for "Repeated allocation of very large block". */
    GC_get_warn_proc()("test warning %lu\n", 7);
    assert_int_equal(run(vm, "let x = 1;"), PVM_OK);
    assert_string_equal(err.text, "GC Warning: test warning 7\n");
    /* Delivered once. */
    assert_int_equal(run(vm, "let y = 1;"), PVM_OK);
    assert_int_equal(err.calls, 1);
    pvm_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unattached_thread_uses_vm),
        cmocka_unit_test(test_thread_after_its_vm_is_freed),
        cmocka_unit_test(test_collector_warning_reaches_error_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
