/* The io module: writing to the VM's output, reading standard input, and
 * whole-file reads and writes. Failures raise an error carrying the OS's
 * text ("io.read_file: cannot open 'x': No such file or directory"). */
#include <errno.h>
#include <string.h>

#include "stdlib/lib.h"

static Value new_string(VM *vm, const char *chars, size_t len)
{
    return vm_str_value(pvmV_string_new(vm, chars, len));
}

static Value io_write(VM *vm, int argc, Value *args, void *fname)
{
    for (int i = 0; i < argc; i++) {
        PvString *s = args[i].type == VT_STRING ? args[i].as.s : pvmV_to_string(vm, args[i]);
        pvmV_charge_bytes(vm, s->len);
        fwrite(s->chars, 1, s->len, vm->out);
    }
    return VAL_NIL;
}

/* Standard error, for a program's own diagnostics. What was written to
 * the output so far goes out first, so that on a terminal (or one file
 * holding both streams) the two stay in the order they were written. */
static void write_err_values(VM *vm, int argc, const Value *args, const char *sep)
{
    fflush(vm->out);
    for (int i = 0; i < argc; i++) {
        PvString *s = args[i].type == VT_STRING ? args[i].as.s : pvmV_to_string(vm, args[i]);
        pvmV_charge_bytes(vm, s->len);
        if (i > 0 && sep)
            fputs(sep, stderr);
        fwrite(s->chars, 1, s->len, stderr);
    }
}

static Value io_write_err(VM *vm, int argc, Value *args, void *fname)
{
    write_err_values(vm, argc, args, NULL);
    fflush(stderr);
    return VAL_NIL;
}

static Value io_print_err(VM *vm, int argc, Value *args, void *fname)
{
    write_err_values(vm, argc, args, " ");
    fputc('\n', stderr);
    fflush(stderr);
    return VAL_NIL;
}

/* Reading stdin waits for the user: show what was written so far first
 * (a prompt written with io.write has no newline to flush it). */
static void before_reading_stdin(VM *vm)
{
    fflush(vm->out);
}

static Value io_read_line(VM *vm, int argc, Value *args, void *fname)
{
    before_reading_stdin(vm);
    LibBuf b;
    pvmL_buf_init(&b, vm);
    int c;
    while ((c = getc(stdin)) != EOF && c != '\n')
        pvmL_buf_addc(&b, (char)c);
    if (c == EOF && b.len == 0)
        return VAL_NIL;
    return vm_str_value(pvmL_buf_string(&b));
}

/* Appends the rest of [f] to [b]; false on a read error (errno set).
 * Charged per chunk, without raising: the caller closes [f] first, then
 * raises the limit (*limited), so /dev/zero is no escape from the budget. */
static bool read_stream(VM *vm, LibBuf *b, FILE *f, bool *limited)
{
    char chunk[8192];
    size_t n;
    *limited = false;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (!pvmV_charge_ok(vm, n / VM_BYTES_PER_UNIT)) {
            *limited = true;
            return true;
        }
        pvmL_buf_add_uncharged(b, chunk, n);
    }
    return !ferror(f);
}

static Value io_read_all(VM *vm, int argc, Value *args, void *fname)
{
    before_reading_stdin(vm);
    LibBuf b;
    pvmL_buf_init(&b, vm);
    bool limited;
    if (!read_stream(vm, &b, stdin, &limited))
        pvmV_error(vm, "io.read_all: cannot read stdin: %s", strerror(errno));
    if (limited)
        pvmV_limit_reached(vm);
    return vm_str_value(pvmL_buf_string(&b));
}

/* The path argument as a C string: a NUL inside would silently cut it. */
static const char *path_arg(VM *vm, const char *fname, const Value *args)
{
    PvString *path = pvmL_arg_string(vm, fname, args, 0);
    if (memchr(path->chars, '\0', path->len))
        pvmV_error(vm, "%s: path contains a NUL byte", fname);
    return path->chars;
}

/* The contents of the file at [path]. Errors name [fname]. */
static LibBuf read_whole_file(VM *vm, const char *fname, const char *path)
{
    LibBuf b;
    pvmL_buf_init(&b, vm);
    FILE *f = fopen(path, "rb");
    if (!f)
        pvmV_error(vm, "%s: cannot open '%s': %s", fname, path, strerror(errno));
    bool limited;
    bool ok = read_stream(vm, &b, f, &limited);
    int err = errno;
    fclose(f);
    if (limited)
        pvmV_limit_reached(vm);
    if (!ok)
        pvmV_error(vm, "%s: cannot read '%s': %s", fname, path, strerror(err));
    return b;
}

static Value io_read_file(VM *vm, int argc, Value *args, void *fname)
{
    LibBuf b = read_whole_file(vm, fname, path_arg(vm, fname, args));
    return vm_str_value(pvmL_buf_string(&b));
}

static Value io_write_file(VM *vm, int argc, Value *args, void *fname)
{
    const char *path = path_arg(vm, fname, args);
    PvString *s = pvmL_arg_string(vm, fname, args, 1);
    pvmV_charge_bytes(vm, s->len); /* before the file is open */
    FILE *f = fopen(path, "wb");
    if (!f)
        pvmV_error(vm, "%s: cannot open '%s': %s", (const char *)fname, path, strerror(errno));
    bool ok = fwrite(s->chars, 1, s->len, f) == s->len;
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok)
        pvmV_error(vm, "%s: cannot write '%s': %s", (const char *)fname, path, strerror(err));
    return VAL_NIL;
}

/* The file's lines without their "\n"; a final "\n" does not start an
 * extra empty line. */
static Value io_lines(VM *vm, int argc, Value *args, void *fname)
{
    LibBuf b = read_whole_file(vm, fname, path_arg(vm, fname, args));
    PvArray *lines = pvmV_array_new(vm, 0);
    size_t from = 0;
    while (from < b.len) {
        pvmV_charge(vm, 1); /* each line is an object; the bytes were charged reading */
        const char *nl = memchr(b.data + from, '\n', b.len - from);
        size_t end = nl ? (size_t)(nl - b.data) : b.len;
        pvmV_array_push(vm, lines, new_string(vm, b.data + from, end - from));
        from = end + 1;
    }
    return vm_obj(VT_ARRAY, lines);
}

static const LibFunc io_funcs[] = {
    { "io.write", io_write, 0, -1, VM_LEAF_NO },
    { "io.write_err", io_write_err, 0, -1, VM_LEAF_NO },
    { "io.print_err", io_print_err, 0, -1, VM_LEAF_NO },
    { "io.read_line", io_read_line, 0, 0, VM_LEAF_NO },
    { "io.read_all", io_read_all, 0, 0, VM_LEAF_NO },
    { "io.read_file", io_read_file, 1, 1, VM_LEAF_NO },
    { "io.write_file", io_write_file, 2, 2, VM_LEAF_NO },
    { "io.lines", io_lines, 1, 1, VM_LEAF_NO },
    { NULL, NULL, 0, 0, VM_LEAF_NO },
};

void pvmL_open_io(VM *vm)
{
    pvmV_define_builtin(vm, "io", vm_obj(VT_MAP, pvmL_module(vm, io_funcs)));
}
