/* pvmc: the command-line compiler, assembler and disassembler.
 *
 *   pvmc FILE.pv  [-o OUT.pbc]   compile PV source (bundling its imports)
 *   pvmc FILE.pva [-o OUT.pbc]   assemble
 *   pvmc -S FILE  [-o OUT.pva]   write the textual assembly of FILE
 *   pvmc -d FILE  [-o OUT]       disassemble to stdout (or OUT)
 *
 * OUT "-" is standard output, as for luac and cc.
 * Every input is first turned into a PbcImage (by its extension), then
 * verified, then written in the requested form; a file that fails
 * verification is never written. Exit status: 0 ok, 1 bad input or I/O
 * error, 2 bad command line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/asm.h"
#include "compiler/compiler.h"
#include "vm/bytecode/pbc.h"

/* pvmc runs no VM in threads: one collector marker, as for pvm (declared
 * in vm/runtime/vm.h, which the compiler layer does not include). */
const bool pvmV_gc_one_vm = true;

#define PVMC_VERSION "0.1.0"

typedef enum { OUT_PBC, OUT_PVA, OUT_DISASM } OutputKind;

typedef struct {
    const char *input;
    const char *output; /* NULL: derived from the input (or stdout for -d) */
    OutputKind kind;
} Options;

static void print_usage(FILE *out)
{
    fputs("usage: pvmc FILE.pv|FILE.pva [-o OUT.pbc]   compile or assemble to bytecode\n"
          "       pvmc -S FILE [-o OUT.pva]            write the textual assembly\n"
          "       pvmc -d FILE [-o OUT]                disassemble to stdout (or OUT)\n"
          "       pvmc --help | --version\n"
          "FILE may be .pv (source), .pva (assembly) or, with -S/-d, .pbc (bytecode).\n"
          "OUT - is standard output.\n"
          "The bytecode and assembly formats are described in docs/bytecode.md.\n",
          out);
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "pvmc: %s%s%s (try 'pvmc --help')\n", msg, arg ? " " : "", arg ? arg : "");
    return 2;
}

/* Parses argv into [o]; returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, Options *o)
{
    bool kind_set = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(stdout);
            return 0;
        } else if (strcmp(arg, "--version") == 0) {
            puts("pvmc " PVMC_VERSION);
            return 0;
        } else if (strcmp(arg, "-o") == 0) {
            if (i + 1 >= argc)
                return usage_error("option '-o' needs a file name", NULL);
            if (o->output)
                return usage_error("option '-o' given twice", NULL);
            o->output = argv[++i];
        } else if (strcmp(arg, "-d") == 0 || strcmp(arg, "-S") == 0) {
            if (kind_set)
                return usage_error("give only one of -d and -S", NULL);
            o->kind = arg[1] == 'd' ? OUT_DISASM : OUT_PVA;
            kind_set = true;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "pvmc: unknown option '%s' (try 'pvmc --help')\n", arg);
            return 2;
        } else if (o->input) {
            return usage_error("more than one input file:", arg);
        } else {
            o->input = arg;
        }
    }
    if (!o->input)
        return usage_error("no input file", NULL);
    return -1;
}

static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) && dot != path && dot[-1] != '/' ? dot : "";
}

/* [path] with its extension replaced by [ext]; malloc'd. */
static char *replace_extension(const char *path, const char *ext)
{
    size_t stem = strlen(path) - strlen(extension(path));
    char *s = malloc(stem + strlen(ext) + 1);
    if (!s)
        return NULL;
    memcpy(s, path, stem);
    strcpy(s + stem, ext);
    return s;
}

/* Reads a whole file; prints the error and returns NULL on failure. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "pvmc: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *data;
    bool ok = pvmB_read_stream(f, SIZE_MAX, &data, len);
    if (!ok)
        fprintf(stderr, "pvmc: cannot read %s: %s\n", path, strerror(errno));
    fclose(f);
    return ok ? data : NULL;
}

/* .pv input: compiles the program and bundles every module it imports. */
static bool load_source(const char *path, PbcImage *img)
{
    return pvmC_compile_file(path, NULL, img, stderr);
}

static bool load_assembly(const char *path, PbcImage *img)
{
    size_t len;
    char *src = read_file(path, &len);
    if (!src)
        return false;
    bool ok = pvmC_assemble(src, len, path, img, stderr);
    free(src);
    return ok;
}

static bool load_bytecode(const char *path, PbcImage *img)
{
    size_t len;
    char *bytes = read_file(path, &len);
    if (!bytes)
        return false;
    char err[512];
    bool ok = pvmB_read((const uint8_t *)bytes, len, img, err, sizeof err);
    free(bytes);
    if (!ok)
        fprintf(stderr, "pvmc: invalid bytecode: %s\n", err);
    return ok;
}

/* Turns the input into a verified image. Returns the exit status on
 * failure, -1 on success. */
static int load_input(const Options *o, PbcImage *img)
{
    const char *ext = extension(o->input);
    bool ok;
    if (strcmp(ext, ".pv") == 0)
        ok = load_source(o->input, img);
    else if (strcmp(ext, ".pva") == 0)
        ok = load_assembly(o->input, img);
    else if (strcmp(ext, ".pbc") == 0)
        ok = load_bytecode(o->input, img);
    else
        return usage_error("input must be a .pv, .pva or .pbc file:", o->input);
    if (!ok)
        return 1;
    char err[512];
    if (!pvmB_verify(img, err, sizeof err)) {
        fprintf(stderr, "pvmc: invalid bytecode: %s\n", err);
        return 1;
    }
    return -1;
}

static bool is_stdout(const char *path)
{
    return strcmp(path, "-") == 0;
}

/* How messages name an output. */
static const char *output_name(const char *path)
{
    return is_stdout(path) ? "standard output" : path;
}

static FILE *open_output(const char *path)
{
    if (is_stdout(path))
        return stdout;
    FILE *f = fopen(path, "wb");
    if (!f)
        fprintf(stderr, "pvmc: cannot open %s: %s\n", path, strerror(errno));
    return f;
}

/* Closes [f], reporting a failed write of [path]. */
static int finish_output(FILE *f, const char *path, bool ok)
{
    ok = !ferror(f) && ok;
    if (f != stdout)
        ok = fclose(f) == 0 && ok;
    else
        ok = fflush(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "pvmc: cannot write %s: %s\n", output_name(path), errno ? strerror(errno) : "write failed");
    return ok ? 0 : 1;
}

static int write_bytecode(const PbcImage *img, const char *path)
{
    uint8_t *bytes;
    size_t len;
    if (!pvmB_write(img, &bytes, &len)) {
        fprintf(stderr, "pvmc: cannot encode %s: out of memory\n", output_name(path));
        return 1;
    }
    FILE *f = open_output(path);
    if (!f) {
        free(bytes);
        return 1;
    }
    errno = 0;
    bool ok = fwrite(bytes, 1, len, f) == len;
    free(bytes);
    return finish_output(f, path, ok);
}

static int write_assembly(const PbcImage *img, const char *path)
{
    if (!path)
        path = "-";
    FILE *f = open_output(path);
    if (!f)
        return 1;
    errno = 0;
    return finish_output(f, path, pvmC_disassemble(img, f));
}

/* Sets *[out] to the output path (NULL: standard output) and *[owned] to
 * what must be freed. Returns -1, or the exit status of a refusal. */
static int choose_output(const Options *o, const char **out, char **owned)
{
    *owned = NULL;
    *out = o->output;
    if (o->kind == OUT_PBC && strcmp(extension(o->input), ".pbc") == 0)
        return usage_error("input is already bytecode; use -d or -S to read it:", o->input);
    if (!*out && o->kind != OUT_DISASM) {
        *out = *owned = replace_extension(o->input, o->kind == OUT_PBC ? ".pbc" : ".pva");
        if (!*out) {
            fputs("pvmc: out of memory\n", stderr);
            return 1;
        }
    }
    if (*out && strcmp(*out, o->input) == 0)
        return usage_error("the output would overwrite the input; choose another with -o:", *out);
    return -1;
}

int main(int argc, char **argv)
{
    Options o = { NULL, NULL, OUT_PBC };
    int status = parse_args(argc, argv, &o);
    if (status >= 0)
        return status;
    const char *out;
    char *owned;
    status = choose_output(&o, &out, &owned);
    PbcImage img;
    pvmB_init(&img);
    if (status < 0)
        status = load_input(&o, &img);
    if (status < 0)
        status = o.kind == OUT_PBC ? write_bytecode(&img, out) : write_assembly(&img, out);
    pvmB_free(&img);
    free(owned);
    return status;
}
