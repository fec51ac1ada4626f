/* The memory limit bounds the process, not only the bytes pvm counts: a
 * script that tries to exhaust memory (a "bomb") under
 * pvm_set_memory_limit(vm, L) must end with PVM_EMEMORY while the peak RSS
 * of its process stays within
 *
 *     baseline + BOUND_RATIO * L + BOUND_SLACK
 *
 * where baseline is the peak RSS of a process that made one VM and ran
 * an empty program (docs/embedding.md, "Sandboxing untrusted scripts").
 * Scripts whose live data fits must still succeed, however much garbage
 * they make.
 *
 * Each case runs in a child process (this binary, re-executed with
 * --child) so that its ru_maxrss is its own; the parent reads it with
 * wait4. `test_memory_bound --table 16 64 256` prints the measurements as
 * a markdown table instead of testing (limits in MB; BOUND_ONLY=NAME
 * measures one case). Under the
 * sanitizers only the statuses are checked: ASan's shadow memory and
 * quarantine are not pvm's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pvm.h"
#include "api_fixture.h"

#if defined(__SANITIZE_ADDRESS__)
#define BOUND_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BOUND_SANITIZED 1
#endif
#endif
#ifndef BOUND_SANITIZED
#define BOUND_SANITIZED 0
#endif

/* The documented bound: peak RSS - baseline <= 1.25 L + 2 MB. The slack
 * covers what does not scale with L: the collector's own tables, the
 * JIT's code and the last block being filled. */
#define BOUND_RATIO 1.25
#define BOUND_SLACK_KB (2 * 1024L)

/* A child that has not finished after this long has escaped the limit. */
#define CHILD_SECONDS 120

typedef struct {
    const char *name;
    const char *src;      /* LIMIT is the limit in bytes, an int global */
    pvm_status expect;
} BombCase;

/* Each "bomb" grows until the limit stops it; the "fits" cases keep about
 * half the limit live and make several limits' worth of garbage. */
static const BombCase cases[] = {
    { "split_one", "let s = string.repeat(\"ab,\", LIMIT / 6);\n"
                   "let parts = string.split(s, \",\");", PVM_EMEMORY },
    { "split_loop", "let s = string.repeat(\"abcdefg,\", 1000); let keep = [];\n"
                    "while true { push(keep, string.split(s, \",\")); }", PVM_EMEMORY },
    { "concat_double", "let s = \"0123456789abcdef\"; while true { s = s + s; }", PVM_EMEMORY },
    { "repeat_keep", "let keep = []; while true { push(keep, string.repeat(\"x\", 65536)); }",
      PVM_EMEMORY },
    { "repeat_double", "let n = 1024; while true { let s = string.repeat(\"x\", n); n *= 2; }",
      PVM_EMEMORY },
    { "push_ints", "let a = []; let i = 0; while true { push(a, i); i += 1; }", PVM_EMEMORY },
    { "push_arrays", "let a = []; let i = 0; while true { push(a, [i, i]); i += 1; }", PVM_EMEMORY },
    { "array_new_keep", "let keep = []; while true { push(keep, array.new(65536, nil)); }",
      PVM_EMEMORY },
    { "array_new_double", "let n = 1024; while true { let a = array.new(n, nil); n *= 2; }",
      PVM_EMEMORY },
    { "array_new_huge", "let a = array.new(LIMIT, nil);", PVM_EMEMORY },
    { "concat_arrays", "let a = [1, 2, 3, 4]; while true { a = array.concat(a, a); }", PVM_EMEMORY },
    { "map_grow", "let m = {}; let i = 0; while true { m[i] = i; i += 1; }", PVM_EMEMORY },
    { "many_maps", "let keep = []; let i = 0; while true { push(keep, {x: i, y: i + 1}); i += 1; }",
      PVM_EMEMORY },
    { "keys_keep", "let m = {}; for i in 0..10000 { m[i] = i; } let keep = [];\n"
                   "while true { push(keep, keys(m)); }", PVM_EMEMORY },
    { "closures", "let keep = []; let i = 0;\n"
                  "while true { let j = i; push(keep, fn () { return j; }); i += 1; }", PVM_EMEMORY },
    { "join_double", "let s = \"x\"; while true { s = string.join([s, s, s], \",\"); }", PVM_EMEMORY },
    { "join_keep", "let parts = array.new(1000, \"abcdefgh\"); let keep = [];\n"
                   "while true { push(keep, string.join(parts, \",\")); }", PVM_EMEMORY },
    { "format_double", "let s = \"x\"; while true { s = string.format(\"%s%s\", s, s); }", PVM_EMEMORY },
    { "str_keep", "let a = array.new(10000, 123456); let keep = [];\n"
                  "while true { push(keep, str(a)); }", PVM_EMEMORY },
    { "read_zero", "let s = io.read_file(\"/dev/zero\");", PVM_EMEMORY },
    { "fits_near_small", "let keep = []; for i in 0..LIMIT * 3 / 4 / 96 { push(keep, [i, i]); }\n"
                         "for i in 0..LIMIT / 4 { let t = [i, i]; }", PVM_OK },
    { "fits_near_large", "let keep = []; for i in 0..LIMIT * 3 / 4 / 65600 { push(keep, string.repeat(\"y\", 65536)); }\n"
                         "for i in 0..64 { let t = string.repeat(\"z\", LIMIT / 16); }", PVM_OK },
    { "fits_arrays", "let keep = []; for i in 0..LIMIT / 2 / 96 { push(keep, [i, i]); }\n"
                     "for i in 0..LIMIT / 8 { let t = [i, i]; }", PVM_OK },
    { "fits_strings", "let keep = []; for i in 0..LIMIT / 2 / 65600 { push(keep, string.repeat(\"y\", 65536)); }\n"
                      "for i in 0..LIMIT / 16384 { let t = string.repeat(\"z\", 65536); }", PVM_OK },
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ---- the child ---- */

static int child_main(const char *name, size_t limit)
{
    alarm(CHILD_SECONDS);
    const char *src = "let idle = 1;";
    for (size_t i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0)
            src = cases[i].src;
    pvm_vm *vm = pvm_new(NULL);
    if (!vm)
        return 100;
    pvm_value l = pvm_int(vm, (int64_t)limit);
    if (pvm_define(vm, "LIMIT", l) != PVM_OK)
        return 101;
    pvm_release(vm, l);
    pvm_set_memory_limit(vm, limit);
    pvm_status st = run(vm, src);
    if (st != PVM_OK && st != PVM_EMEMORY)
        fprintf(stderr, "%s: %s: %s\n", name, pvm_status_name(st), pvm_error_message(vm));
    pvm_free(vm);
    return (int)st;
}

/* ---- the parent ---- */

typedef struct {
    int status;     /* the child's pvm_status, or -1 when it did not exit */
    long peak_kb;   /* its ru_maxrss */
    double cpu_s;   /* its user + system time */
} ChildResult;

static ChildResult run_child(const char *name, size_t limit)
{
    ChildResult r = { -1, 0, 0 };
    char limit_text[32];
    snprintf(limit_text, sizeof limit_text, "%zu", limit);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", "test_memory_bound", "--child", name, limit_text, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return r;
    int wstatus;
    struct rusage ru;
    while (wait4(pid, &wstatus, 0, &ru) < 0)
        if (errno != EINTR)
            return r;
    if (WIFEXITED(wstatus))
        r.status = WEXITSTATUS(wstatus);
    r.peak_kb = ru.ru_maxrss;
    r.cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
              + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    return r;
}

static long baseline_kb(void)
{
    ChildResult idle = run_child("idle", 0);
    assert_int_equal(idle.status, PVM_OK);
    return idle.peak_kb;
}

static long bound_kb(size_t limit)
{
    return (long)(BOUND_RATIO * (double)(limit / 1024)) + BOUND_SLACK_KB;
}

static void check_case(const BombCase *c, size_t limit, long base)
{
    ChildResult r = run_child(c->name, limit);
    long used = r.peak_kb - base;
    if (r.status != (int)c->expect || (!BOUND_SANITIZED && used > bound_kb(limit)))
        fprintf(stderr, "%s under %zu MB: status %d (expected %d), peak RSS %ld KB over the baseline, "
                "bound %ld KB\n", c->name, limit >> 20, r.status, (int)c->expect, used, bound_kb(limit));
    assert_int_equal(r.status, (int)c->expect);
    if (!BOUND_SANITIZED)
        assert_true(used <= bound_kb(limit));
}

static void check_limit(size_t limit)
{
    long base = baseline_kb();
    for (size_t i = 0; i < NCASES; i++)
        check_case(&cases[i], limit, base);
}

static void test_bound_16mb(void **state)
{
    (void)state;
    check_limit((size_t)16 << 20);
}

static void test_bound_64mb(void **state)
{
    (void)state;
    check_limit((size_t)64 << 20);
}

/* --table: one row per case and limit ($BOUND_ONLY: only that case). */
static int print_table(int argc, char **argv)
{
    const char *only = getenv("BOUND_ONLY");
    long base = baseline_kb();
    printf("baseline (idle VM) peak RSS: %.1f MB\n\n", base / 1024.0);
    printf("| case | limit MB | status | peak RSS - baseline MB | ratio | CPU s |\n"
           "|---|---:|---|---:|---:|---:|\n");
    for (int a = 0; a < argc; a++) {
        size_t limit = (size_t)strtoul(argv[a], NULL, 10) << 20;
        for (size_t i = 0; i < NCASES; i++) {
            if (only && strcmp(only, cases[i].name) != 0)
                continue;
            ChildResult r = run_child(cases[i].name, limit);
            double used = (r.peak_kb - base) / 1024.0;
            printf("| %s | %zu | %s | %.1f | %.2f | %.2f |\n", cases[i].name, limit >> 20,
                   r.status < 0 ? "killed" : pvm_status_name((pvm_status)r.status), used,
                   used / (double)(limit >> 20), r.cpu_s);
            fflush(stdout);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2], (size_t)strtoull(argv[3], NULL, 10));
    if (argc >= 2 && strcmp(argv[1], "--table") == 0)
        return print_table(argc - 2, argv + 2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_16mb),
        cmocka_unit_test(test_bound_64mb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
