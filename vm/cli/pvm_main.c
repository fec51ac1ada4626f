/* pvm: the command-line program that runs .pbc and .pv files.
 *
 *   pvm [options] FILE [args...]    run a program (os.args = args)
 *   pvm [options] -e CODE [args...] run a snippet
 *   pvm                             REPL on a terminal, else the program on stdin
 *   pvm -i                          REPL even when stdin is not a terminal
 *
 * Exit status: 0 on success, 1 for a program error (uncaught error, compile
 * error, invalid bytecode), 2 for a usage error (unknown flag, missing file). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stdlib/stdlib.h"
#include "vm/interp/interp.h"
#include "compiler/compiler.h"
#include "vm/cli/repl.h"
#include "jit/jit.h"
#include "vm/cli/jit_listing.h"

/* The pvm command runs one VM: one collector marker is cheaper for it
 * (vm/runtime/vm.c, vm_gc_markers). */
const bool pvmV_gc_one_vm = true;

#define PVM_VERSION "0.1.0"

typedef struct {
    const char *file;     /* program path, or NULL */
    const char *code;     /* -e CODE, or NULL */
    bool trace;
    const char *trace_only; /* --trace=NAME */
    bool no_fuse;         /* hidden --no-fuse: a test switch (docs/vm.md) */
    bool no_ffi;
    bool interactive;     /* -i: the REPL even when stdin is not a terminal */
    bool jit_off;         /* -j off */
    bool jit_asked;       /* some -j mode other than off was given */
    PvmJitOptions jit;
    int argc;             /* program arguments */
    char **argv;
} PvmOptions;

static void pvm_usage(FILE *out)
{
    fprintf(out,
            "usage: pvm [options] [FILE.pbc | FILE.pv] [args...]\n"
            "       pvm [options] -e CODE [args...]\n"
            "       pvm [options] -i\n"
            "With no FILE, pvm starts a REPL on a terminal or reads the program from stdin.\n"
            "options:\n"
            "  -e CODE     run CODE (PV source)\n"
            "  -i          start the REPL even when stdin is not a terminal (no prompts)\n"
            "  -j MODE     JIT control (repeatable): on (the default), off, v (a line per\n"
            "              trace compiled or aborted), dump (IR, snapshots, machine code),\n"
            "              stats (counts at exit), hot=N (iterations before a loop is\n"
            "              compiled), trace=N (compile only the Nth recording), perf\n"
            "              (write /tmp/perf-PID.map), maxtrace=N and maxmcode=N (traces,\n"
            "              and KB of machine code, kept before all are flushed),\n"
            "              shareexits=N (exits share their code in traces of N snapshots\n"
            "              or more; default 128)\n"
            "  --trace     print every executed instruction with its function, offset,\n"
            "              source line and the operand stack after it (to stderr);\n"
            "              --trace=NAME only those of the functions named NAME\n"
            "  --no-ffi    disable the ffi module\n"
            "  --version   print the version\n"
            "  --help      print this help\n");
}

static int pvm_usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "pvm: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try 'pvm --help')\n");
    return 2;
}

/* hot=N takes a decimal count that fits in an int: "hot=-5" or "hot=1e3"
 * is a mistake worth reporting, not a threshold to guess at. */
static bool pvm_valid_hot_count(const char *digits)
{
    size_t n = strspn(digits, "0123456789");
    if (n == 0 || digits[n] != '\0')
        return false;
    errno = 0;
    long count = strtol(digits, NULL, 10);
    return errno == 0 && count <= INT_MAX;
}

/* Applies one -j MODE; false for a mode pvm does not know. */
static bool pvm_jit_mode(const char *mode, PvmOptions *o)
{
    if (!strcmp(mode, "off")) {
        o->jit_off = true;
        return true;
    }
    o->jit_asked = true;
    o->jit_off = false;
    if (!strcmp(mode, "on"))
        return true;
    if (!strcmp(mode, "v"))
        return o->jit.verbose = true;
    if (!strcmp(mode, "dump"))
        return o->jit.dump = true;
    if (!strcmp(mode, "stats"))
        return o->jit.stats = true;
    if (!strcmp(mode, "perf"))
        return o->jit.perf_map = true;
    if (!strncmp(mode, "hot=", 4) && pvm_valid_hot_count(mode + 4)) {
        o->jit.hot = (uint32_t)strtol(mode + 4, NULL, 10);
        return true;
    }
    if (!strncmp(mode, "maxtrace=", 9) && pvm_valid_hot_count(mode + 9)) {
        o->jit.max_traces = (uint32_t)strtol(mode + 9, NULL, 10);
        return true;
    }
    if (!strncmp(mode, "maxmcode=", 9) && pvm_valid_hot_count(mode + 9)) {
        o->jit.max_mcode = (size_t)strtol(mode + 9, NULL, 10) * 1024u;
        return true;
    }
    if (!strncmp(mode, "shareexits=", 11) && pvm_valid_hot_count(mode + 11)) {
        o->jit.share_exits = (uint32_t)strtol(mode + 11, NULL, 10);
        return true;
    }
    if (!strncmp(mode, "trace=", 6) && pvm_valid_hot_count(mode + 6)) {
        o->jit.only_trace = (int)strtol(mode + 6, NULL, 10);
        return true;
    }
    return false;
}

/* Returns -1 to continue, or an exit status. */
static int pvm_parse_args(int argc, char **argv, PvmOptions *o)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            pvm_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version") || !strcmp(a, "-v")) {
            printf("pvm %s (bytecode format %u)\n", PVM_VERSION, PBC_VERSION);
            return 0;
        } else if (!strcmp(a, "--trace")) {
            o->trace = true;
        } else if (!strncmp(a, "--trace=", 8) && a[8]) {
            o->trace = true;
            o->trace_only = a + 8;
        } else if (!strcmp(a, "--no-fuse")) {
            o->no_fuse = true;
        } else if (!strcmp(a, "--no-ffi")) {
            o->no_ffi = true;
        } else if (!strcmp(a, "-i")) {
            o->interactive = true;
        } else if (!strcmp(a, "-e")) {
            if (++i >= argc)
                return pvm_usage_error("option '%s' needs an argument", a);
            o->code = argv[i];
            i++;
            break;
        } else if (!strcmp(a, "-j")) {
            if (++i >= argc)
                return pvm_usage_error("option '%s' needs an argument", a);
            if (!pvm_jit_mode(argv[i], o))
                return pvm_usage_error("unknown JIT mode '%s'", argv[i]);
        } else {
            return pvm_usage_error("unknown option '%s'", a);
        }
    }
    if (!o->code && i < argc)
        o->file = argv[i++];
    if (o->interactive && (o->code || o->file))
        return pvm_usage_error("option '%s' cannot be combined with a FILE or -e", "-i");
    o->argc = argc - i;
    o->argv = argv + i;
    return -1;
}

/* Reads the program file, or standard input for "-". */
static bool pvm_read_file(const char *path, char **data, size_t *len)
{
    if (!strcmp(path, "-"))
        return pvmB_read_stream(stdin, SIZE_MAX, data, len);
    return pvmB_read_path(path, SIZE_MAX, data, len);
}

static bool pvm_is_bytecode(const char *path, const uint8_t *data, size_t len)
{
    size_t n = strlen(path);
    if (n >= 4 && !strcmp(path + n - 4, ".pbc"))
        return true;
    return len >= 4 && !memcmp(data, PBC_MAGIC, 4);
}

/* Compiles source into [img]; compile errors are printed to stderr. */
static bool pvm_compile(const char *name, const uint8_t *src, size_t len, PbcImage *img)
{
    return pvmC_compile_source((const char *)src, len, name, NULL, img, stderr);
}

static int pvm_run_image(VM *vm, const PbcImage *img)
{
    char err[512];
    if (!pvmV_load_verified(vm, img, err, sizeof err)) {
        fprintf(stderr, "pvm: invalid bytecode: %s\n", err);
        return 1;
    }
    if (!pvmV_run_program(vm)) {
        pvmV_report_error(vm, stderr);
        return 1;
    }
    return 0;
}

static int pvm_run_bytes(VM *vm, const char *name, const uint8_t *data, size_t len)
{
    PbcImage img;
    char err[512];
    if (pvm_is_bytecode(name, data, len)) {
        if (!pvmB_read(data, len, &img, err, sizeof err)) {
            fprintf(stderr, "pvm: invalid bytecode: %s\n", err);
            return 1;
        }
    } else if (!pvm_compile(name, data, len, &img)) {
        return 1;
    }
    int status = pvm_run_image(vm, &img);
    pvmB_free(&img);
    return status;
}

static int pvm_run(const PvmOptions *o)
{
    VM *vm = pvmV_new();
    if (!vm) {
        fprintf(stderr, "pvm: cannot create VM: out of memory\n");
        return 1;
    }
    vm->tools.trace = o->trace;
    vm->tools.trace_only = o->trace_only;
    vm->tools.no_fuse = o->no_fuse;
    vm->ffi_disabled = o->no_ffi;
    /* --trace shows every instruction the interpreter runs: no JIT then */
    if (!o->jit_off && !o->trace && !pvmJ_attach(vm, &o->jit) && o->jit_asked)
        fprintf(stderr, "pvm: %s; running the interpreter\n",
                pvmJ_available() ? "cannot start the JIT (out of memory)" : "no JIT for this host");
    pvmL_open(vm, o->argc, o->argv);
    int status;
    if (o->code) {
        status = pvm_run_bytes(vm, "<-e>", (const uint8_t *)o->code, strlen(o->code));
    } else if (!o->file && (o->interactive || isatty(STDIN_FILENO))) {
        status = repl_run(vm, isatty(STDIN_FILENO));
    } else {
        const char *path = o->file ? o->file : "-";
        char *data;
        size_t len;
        if (!pvm_read_file(path, &data, &len)) {
            fprintf(stderr, "pvm: cannot open %s: %s\n", path, strerror(errno));
            pvmJ_detach(vm);
            pvmV_free(vm);
            return 2;
        }
        status = pvm_run_bytes(vm, o->file ? o->file : "<stdin>", (const uint8_t *)data, len);
        free(data);
    }
    fflush(vm->out);
    if (o->jit.stats)
        pvmJ_report_stats(vm, stderr);
    pvmJ_detach(vm);
    pvmV_free(vm);
    return status;
}

int main(int argc, char **argv)
{
    PvmOptions o = { 0 };
    pvmJ_options_default(&o.jit);
    o.jit.disassemble = pvm_cli_disassembler();
    int status = pvm_parse_args(argc, argv, &o);
    if (status >= 0)
        return status;
    return pvm_run(&o);
}
