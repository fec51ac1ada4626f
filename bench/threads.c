/* threads.c: how VMs in threads scale, the host behind `make bench-threads`
 * (bench/threads.sh). Each of N threads makes its own VM and runs the same
 * fixed amount of work in it; the harness compares the throughput of N
 * threads (N units of work over the wall time) with that of one.
 *
 *   threads WORKLOAD N UNITS   runs N threads, each calling work(UNITS)
 *                              in its own VM; prints the wall seconds
 *                              from the start barrier to the last join,
 *                              the process's CPU seconds over the same
 *                              span, and the wall seconds less the time
 *                              each thread waited for a core (the
 *                              slowest thread's): what the run would
 *                              take with a core per thread, since other
 *                              processes share the machine
 *
 * WORKLOAD:
 *   cpu    integer arithmetic and calls, no allocation in the loop
 *   alloc  small arrays and maps made and dropped (binary trees), the
 *          collector's work
 *   mixed  strings, a map and a sort per unit: allocation, natives and
 *          interpreted code in about equal parts
 *   c      no VM: a C loop of about cpu's unit time, the ceiling the
 *          machine gives at that moment (other processes share its cores)
 *
 * Every thread checks its result, so a run that computed something else
 * fails (status 1) rather than reporting a time. */
#include <pthread.h>
#include <pvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *name;
    const char *src;   /* defines work(units), returning an int; NULL: c_work */
} Workload;

static const Workload workloads[] = {
    { "c", NULL },
    { "cpu", "fn fib(n) { if n < 2 { return n; } return fib(n - 1) + fib(n - 2); }\n"
             "fn work(units) {\n"
             "  let t = 0;\n"
             "  for u in 0..units {\n"
             "    t += fib(18);\n"
             "    for i in 0..20000 { t += i * i % 7; }\n"
             "  }\n"
             "  return t;\n"
             "}\n" },
    { "alloc", "fn make(d) { if d == 0 { return [nil, nil]; } return [make(d - 1), make(d - 1)]; }\n"
               "fn check(t) { if t[0] == nil { return 1; } return 1 + check(t[0]) + check(t[1]); }\n"
               "fn work(units) {\n"
               "  let t = 0;\n"
               "  for u in 0..units {\n"
               "    t += check(make(12));\n"
               "    let m = {};\n"
               "    for i in 0..200 { m[i] = {x: i, y: u}; }\n"
               "    t += len(m);\n"
               "  }\n"
               "  return t;\n"
               "}\n" },
    { "mixed", "fn work(units) {\n"
               "  let t = 0;\n"
               "  for u in 0..units {\n"
               "    let parts = [];\n"
               "    for k in 0..300 { push(parts, str(u * 1000 + k)); }\n"
               "    let m = {};\n"
               "    for p in parts { m[p] = len(p); }\n"
               "    let s = string.join(parts, \",\");\n"
               "    t += len(string.split(s, \",\"));\n"
               "    for k in keys(m) { t += m[k]; }\n"
               "    let a = [];\n"
               "    for k in 0..300 { push(a, (k * 7919) % 301); }\n"
               "    array.sort(a);\n"
               "    t += a[150];\n"
               "    for i in 0..3000 { t += i % 3; }\n"
               "  }\n"
               "  return t;\n"
               "}\n" },
};

typedef struct {
    const Workload *w;
    long units;
    pthread_barrier_t *start;
    double done;        /* CLOCK_MONOTONIC when its work ended */
    double queued;      /* seconds it was runnable but waiting for a core */
    int64_t result;
    int failed;
    char message[256];
} Job;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds this thread has spent runnable, waiting for a core (Linux's
 * schedstat; 0 where it is missing). */
static double runqueue_wait(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    unsigned long long run = 0, wait = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &run, &wait) != 2)
        wait = 0;
    fclose(f);
    return (double)wait / 1e9;
}

/* Brackets the timed part of a thread's work. */
static void work_begin(Job *job)
{
    pthread_barrier_wait(job->start);
    job->queued = -runqueue_wait();
}

static void work_end(Job *job)
{
    job->queued += runqueue_wait();
    job->done = now();
}

static void fail(Job *job, pvm_vm *vm)
{
    job->failed = 1;
    snprintf(job->message, sizeof job->message, "%s", vm ? pvm_error_message(vm) : "pvm_new failed");
}

/* The C reference: arithmetic the compiler cannot fold away. */
static void *c_work(void *arg)
{
    Job *job = arg;
    work_begin(job);
    volatile uint64_t sink = 0;
    uint64_t x = 88172645463325252u;
    for (long u = 0; u < job->units; u++) {
        for (int i = 0; i < 200000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            sink += x % 7;
        }
    }
    work_end(job);
    job->result = 1;
    (void)sink;
    return NULL;
}

/* Loads the workload before the barrier, so that the timed part is the
 * work alone; every VM is made and freed on its own thread. */
static void *run_job(void *arg)
{
    Job *job = arg;
    pvm_vm *vm = pvm_new(NULL);
    pvm_value work = PVM_NIL, units = PVM_NIL, r = PVM_NIL;
    if (!vm || pvm_load_source(vm, job->w->src, strlen(job->w->src), "work.pv") || pvm_run(vm)
        || pvm_get_global(vm, "work", &work)) {
        fail(job, vm);
        pthread_barrier_wait(job->start);
        pvm_free(vm);
        return NULL;
    }
    units = pvm_int(vm, job->units);
    work_begin(job);
    if (pvm_call(vm, work, 1, &units, &r) || pvm_get_int(vm, r, &job->result))
        fail(job, vm);
    work_end(job);
    pvm_release(vm, r);
    pvm_release(vm, units);
    pvm_release(vm, work);
    pvm_free(vm);
    return NULL;
}

static const Workload *find_workload(const char *name)
{
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
        if (strcmp(workloads[i].name, name) == 0)
            return &workloads[i];
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: threads c|cpu|alloc|mixed THREADS UNITS\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return usage();
    const Workload *w = find_workload(argv[1]);
    int n = atoi(argv[2]);
    long units = atol(argv[3]);
    if (!w || n < 1 || n > 256 || units < 1)
        return usage();
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    Job *jobs = calloc((size_t)n, sizeof *jobs);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    if (!jobs || !t)
        return 1;
    for (int i = 0; i < n; i++) {
        jobs[i] = (Job){ .w = w, .units = units, .start = &start };
        if (pthread_create(&t[i], NULL, w->src ? run_job : c_work, &jobs[i]) != 0) {
            fprintf(stderr, "threads: cannot start thread %d\n", i);
            return 1;
        }
    }
    pthread_barrier_wait(&start);
    double t0 = now(), c0 = cpu_now();
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    double elapsed = now() - t0, cpu = cpu_now() - c0, own = 0;
    for (int i = 0; i < n; i++) {
        double t = jobs[i].done - t0 - jobs[i].queued;
        own = t > own ? t : own;
    }
    for (int i = 0; i < n; i++) {
        if (jobs[i].failed || jobs[i].result != jobs[0].result) {
            fprintf(stderr, "threads: thread %d: %s (result %lld, thread 0: %lld)\n", i,
                    jobs[i].failed ? jobs[i].message : "wrong result",
                    (long long)jobs[i].result, (long long)jobs[0].result);
            return 1;
        }
    }
    printf("%.4f %.4f %.4f\n", elapsed, cpu, own);
    free(jobs);
    free(t);
    return 0;
}
