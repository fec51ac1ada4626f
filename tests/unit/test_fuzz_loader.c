/* Fuzzing the loader and the verifier: every program under tests/asm is
 * assembled, then mutated many times (bit flips, byte overwrites, operand
 * changes, truncation, duplication). Each mutant must be rejected with a
 * message or, when it passes verification, load and run without crashing:
 * the verifier's promise is that verified code cannot break the VM. Mutants
 * run in a child process with a time limit, since a verified program may
 * legitimately loop forever. The generator is seeded, so runs repeat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compiler/asm.h"
#include "stdlib/stdlib.h"
#include "vm/interp/interp.h"

#define MUTANTS_PER_PROGRAM 150
#define RUN_SECONDS 2
#define EXIT_RAN 10

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static bool read_text(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *text = malloc((size_t)n + 1);
    *len = fread(*text, 1, (size_t)n, f);
    fclose(f);
    return true;
}

static void mutate(uint8_t *b, size_t *len)
{
    size_t n = *len;
    switch (rng() % 5) {
    case 0: b[rng() % n] ^= (uint8_t)(1u << (rng() % 8)); break;
    case 1: b[rng() % n] = (uint8_t)rng(); break;
    case 2: b[rng() % n] = (uint8_t)(rng() % 4 == 0 ? 0xff : rng() % 64); break;
    case 3: *len = rng() % n; break;
    default: {
        size_t at = rng() % n, span = 1 + rng() % 8;
        if (at + span < n)
            memmove(b + at, b + at + span, n - at - span);
        break;
    }
    }
}

/* In a child: read, verify, load and run [bytes]; exit 0 unless it crashed. */
static void run_child(const uint8_t *bytes, size_t len)
{
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    alarm(RUN_SECONDS);
    VM *vm = pvmV_new();
    char err[512];
    pvmL_open(vm, 0, NULL);
    if (pvmV_load_bytes(vm, bytes, len, err, sizeof err)) {
        pvmV_run_program(vm);
        _exit(EXIT_RAN);
    }
    _exit(err[0] ? 0 : 4); /* a rejection must come with a message */
}

static int fuzz_one(const uint8_t *bytes, size_t len)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        run_child(bytes, len);
    int status;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        return 0; /* a verified program that runs long: allowed */
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_RAN)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return -1;
    return 1;
}

static void test_mutants_never_crash(void **state)
{
    (void)state;
    DIR *dir = opendir("tests/asm");
    assert_non_null(dir);
    struct dirent *e;
    int programs = 0, crashes = 0, rejected = 0, ran = 0;
    while ((e = readdir(dir))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".pva"))
            continue;
        char path[512], *text = NULL;
        size_t tlen = 0;
        snprintf(path, sizeof path, "tests/asm/%s", e->d_name);
        assert_true(read_text(path, &text, &tlen));
        PbcImage img;
        FILE *quiet = fopen("/dev/null", "w");
        bool ok = pvmC_assemble(text, tlen, path, &img, quiet);
        fclose(quiet);
        free(text);
        if (!ok)
            continue;
        uint8_t *bytes;
        size_t len;
        assert_true(pvmB_write(&img, &bytes, &len));
        pvmB_free(&img);
        programs++;
        uint8_t *copy = malloc(len);
        for (int m = 0; m < MUTANTS_PER_PROGRAM; m++) {
            memcpy(copy, bytes, len);
            size_t mlen = len;
            int rounds = 1 + (int)(rng() % 3);
            for (int r = 0; r < rounds && mlen > 0; r++)
                mutate(copy, &mlen);
            int outcome = fuzz_one(copy, mlen);
            rejected += outcome < 0;
            ran += outcome == 0;
            if (outcome > 0) {
                crashes++;
                char out[128];
                snprintf(out, sizeof out, "/tmp/pvm-crash-%s-%d.pbc", e->d_name, m);
                FILE *f = fopen(out, "wb");
                if (f) {
                    fwrite(copy, 1, mlen, f);
                    fclose(f);
                }
                print_message("crash: mutant saved as %s\n", out);
            }
        }
        free(copy);
        free(bytes);
    }
    closedir(dir);
    print_message("%d programs, %d mutants rejected, %d verified and ran\n", programs, rejected, ran);
    assert_true(programs >= 10);
    assert_true(ran > 0 && rejected > 0); /* both paths were exercised */
    assert_int_equal(crashes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutants_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
