/* Unit tests for vm/bytecode/pbc.c: the builder's constant deduplication, the exact
 * file layout, write/read round trips, instruction decoding and every class
 * of error the reader reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode/opcodes.h"
#include "vm/bytecode/pbc.h"
#include "test_util.h"

/* ------------------------------------------------------------ helpers */

/* A hand-assembled file, so tests can state byte offsets exactly. */
typedef struct {
    uint8_t b[512];
    size_t n;
} Bytes;

static void b_u8(Bytes *o, uint8_t v)
{
    o->b[o->n++] = v;
}

static void b_u32(Bytes *o, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b_u8(o, (uint8_t)(v >> (8 * i)));
}

static void b_u64(Bytes *o, uint64_t v)
{
    b_u32(o, (uint32_t)v);
    b_u32(o, (uint32_t)(v >> 32));
}

static void b_raw(Bytes *o, const void *p, size_t n)
{
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void patch_u32(Bytes *o, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        o->b[at + i] = (uint8_t)(v >> (8 * i));
}

/* Offsets inside the file built by small_file(). */
enum {
    AT_VERSION = 4,
    AT_NCONSTS = 8,
    AT_CONST0 = 12,
    AT_CONST0_BYTES = 17,
    AT_CONST1 = 21,
    AT_NFUNCS = 30,
    AT_FNAME = 34,
    AT_NPARAMS = 42,
    AT_FLAGS = 46,
    AT_NLOCALS = 47,
    AT_MAXSTACK = 51,
    AT_NUPVALS = 55,
    AT_CODELEN = 59,
    AT_CODE = 63,
    AT_NLINES = 69,
    AT_NMODULES = 81,
    AT_NGLOBALS = 97,
    SMALL_LEN = 105
};

/* constants "main", 42; function main: int 1; ret; module 0 with one global. */
static Bytes small_file(void)
{
    Bytes o = { .n = 0 };
    b_raw(&o, "PVMB", 4);
    b_u32(&o, 1);
    b_u32(&o, 2);
    b_u8(&o, PBC_CONST_STRING);
    b_u32(&o, 4);
    b_raw(&o, "main", 4);
    b_u8(&o, PBC_CONST_INT);
    b_u64(&o, 42);
    b_u32(&o, 1);                 /* nfuncs */
    b_u32(&o, 0);                 /* name */
    b_u32(&o, 0);                 /* module */
    b_u32(&o, 0);                 /* nparams */
    b_u8(&o, 0);                  /* flags */
    b_u32(&o, 1);                 /* nlocals */
    b_u32(&o, 1);                 /* maxstack */
    b_u32(&o, 0);                 /* nupvals */
    b_u32(&o, 6);                 /* codelen */
    b_u8(&o, OP_INT);
    b_u32(&o, 1);
    b_u8(&o, OP_RET);
    b_u32(&o, 1);                 /* nlines */
    b_u32(&o, 0);
    b_u32(&o, 1);
    b_u32(&o, 1);                 /* nmodules */
    b_u32(&o, 0);                 /* name */
    b_u32(&o, 0);                 /* file */
    b_u32(&o, 0);                 /* main */
    b_u32(&o, 1);                 /* nglobals */
    b_u32(&o, 0);
    assert_int_equal(o.n, SMALL_LEN);
    return o;
}

static void *copy_of(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    assert_non_null(q);
    memcpy(q, p, n);
    return q;
}

/* The builder's version of small_file(). */
static void small_image(PbcImage *img)
{
    static const uint8_t code[] = { OP_INT, 1, 0, 0, 0, OP_RET };
    static const PbcLine line = { 0, 1 };
    pvmB_init(img);
    uint32_t name = pvmB_const_string(img, "main", 4);
    pvmB_const_int(img, 42);
    uint32_t fi = pvmB_add_func(img); /* may move img->funcs: index after the call */
    PbcFunc *f = &img->funcs[fi];
    f->name = name;
    f->nlocals = 1;
    f->maxstack = 1;
    f->code = copy_of(code, sizeof code);
    f->codelen = sizeof code;
    f->lines = copy_of(&line, sizeof line);
    f->nlines = 1;
    uint32_t mi = pvmB_add_module(img);
    PbcModule *m = &img->modules[mi];
    m->globals = copy_of(&name, sizeof name);
    m->nglobals = 1;
}

/* Reads [bytes], expecting failure with a message that starts with [want]. */
static void expect_read_error(const uint8_t *bytes, size_t len, const char *want)
{
    PbcImage img;
    char err[256] = "";
    bool ok = pvmB_read(bytes, len, &img, err, sizeof err);
    if (ok || strncmp(err, want, strlen(want)) != 0)
        fail_msg("read: ok=%d err=\"%s\", wanted \"%s\"", ok, err, want);
    assert_int_equal(img.nconsts, 0);
    assert_int_equal(img.nfuncs, 0);
    assert_null(img.consts);
}

/* ------------------------------------------------------------ builder */

static void test_init_is_empty(void **state)
{
    PbcImage img;
    memset(&img, 0xAB, sizeof img);
    pvmB_init(&img);
    assert_int_equal(img.nconsts, 0);
    assert_int_equal(img.nfuncs, 0);
    assert_int_equal(img.nmodules, 0);
    assert_null(img.consts);
    assert_null(img.const_index);
    pvmB_free(&img);
}

static void test_dedup_ints(void **state)
{
    PbcImage img;
    pvmB_init(&img);
    uint32_t a = pvmB_const_int(&img, 7);
    uint32_t b = pvmB_const_int(&img, -7);
    uint32_t c = pvmB_const_int(&img, INT64_MIN);
    assert_int_equal(pvmB_const_int(&img, 7), a);
    assert_int_equal(pvmB_const_int(&img, -7), b);
    assert_int_equal(pvmB_const_int(&img, INT64_MIN), c);
    assert_int_not_equal(a, b);
    assert_int_equal(img.nconsts, 3);
    assert_int_equal(img.consts[c].kind, PBC_CONST_INT);
    assert_true(img.consts[c].i == INT64_MIN);
    pvmB_free(&img);
}

static void test_dedup_floats_by_bits(void **state)
{
    PbcImage img;
    pvmB_init(&img);
    uint32_t zero = pvmB_const_float(&img, 0.0);
    uint32_t negzero = pvmB_const_float(&img, -0.0);
    uint32_t nan1 = pvmB_const_float(&img, double_of(0x7ff8000000000001ull));
    uint32_t nan2 = pvmB_const_float(&img, double_of(0x7ff8000000000002ull));
    uint32_t one = pvmB_const_float(&img, 1.0);
    uint32_t int_one = pvmB_const_int(&img, 1);
    assert_int_not_equal(zero, negzero);
    assert_int_not_equal(nan1, nan2);
    assert_int_not_equal(one, int_one); /* same number, different kind */
    assert_int_equal(pvmB_const_float(&img, -0.0), negzero);
    assert_int_equal(pvmB_const_float(&img, double_of(0x7ff8000000000002ull)), nan2);
    assert_int_equal(pvmB_const_float(&img, 1.0), one);
    assert_int_equal(img.nconsts, 6);
    assert_true(bits_of(img.consts[nan2].f) == 0x7ff8000000000002ull);
    pvmB_free(&img);
}

static void test_dedup_strings_with_nuls(void **state)
{
    PbcImage img;
    pvmB_init(&img);
    uint32_t ab = pvmB_const_string(&img, "ab", 2);
    uint32_t abnul = pvmB_const_string(&img, "ab\0", 3);
    uint32_t abnulc = pvmB_const_string(&img, "ab\0c", 4);
    uint32_t empty = pvmB_const_string(&img, "", 0);
    assert_int_equal(pvmB_const_string(&img, "ab\0c", 4), abnulc);
    assert_int_equal(pvmB_const_string(&img, "abc", 2), ab);
    assert_int_equal(pvmB_const_string(&img, NULL, 0), empty);
    assert_int_not_equal(ab, abnul);
    assert_int_not_equal(abnul, abnulc);
    assert_int_equal(img.nconsts, 4);
    assert_int_equal(img.consts[abnulc].len, 4);
    assert_memory_equal(img.consts[abnulc].str, "ab\0c", 5); /* NUL-terminated copy */
    pvmB_free(&img);
}

static void test_add_const_always_appends(void **state)
{
    PbcImage img;
    pvmB_init(&img);
    uint32_t a = pvmB_add_const_int(&img, 5);
    uint32_t b = pvmB_add_const_int(&img, 5);
    uint32_t s1 = pvmB_add_const_string(&img, "x", 1);
    uint32_t s2 = pvmB_add_const_string(&img, "x", 1);
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(s1, 2);
    assert_int_equal(s2, 3);
    /* Deduplication finds appended constants, preferring the first. */
    assert_int_equal(pvmB_const_int(&img, 5), 0);
    assert_int_equal(pvmB_const_string(&img, "x", 1), 2);
    assert_int_equal(pvmB_add_const_float(&img, 2.5), 4);
    assert_int_equal(pvmB_const_float(&img, 2.5), 4);
    assert_int_equal(img.nconsts, 5);
    pvmB_free(&img);
}

static void test_dedup_many_constants(void **state)
{
    enum { N = 200000 };
    PbcImage img;
    pvmB_init(&img);
    char buf[32];
    for (int64_t i = 0; i < N; i++) {
        assert_int_equal(pvmB_const_int(&img, i * 7919), (uint32_t)(2 * i));
        int len = snprintf(buf, sizeof buf, "s%lld", (long long)i);
        assert_int_equal(pvmB_const_string(&img, buf, (uint32_t)len), (uint32_t)(2 * i + 1));
    }
    for (int64_t i = N - 1; i >= 0; i--) {
        int len = snprintf(buf, sizeof buf, "s%lld", (long long)i);
        assert_int_equal(pvmB_const_string(&img, buf, (uint32_t)len), (uint32_t)(2 * i + 1));
        assert_int_equal(pvmB_const_int(&img, i * 7919), (uint32_t)(2 * i));
    }
    assert_int_equal(img.nconsts, 2 * N);
    pvmB_free(&img);
}

static void test_add_func_and_module(void **state)
{
    PbcImage img;
    pvmB_init(&img);
    for (uint32_t i = 0; i < 20; i++) {
        assert_int_equal(pvmB_add_func(&img), i);
        img.funcs[i].nlocals = 99; /* must not leak into the next one */
    }
    assert_int_equal(img.nfuncs, 20);
    uint32_t f = pvmB_add_func(&img);
    assert_int_equal(img.funcs[f].name, PBC_NONE);
    assert_int_equal(img.funcs[f].nlocals, 0);
    assert_int_equal(img.funcs[f].codelen, 0);
    assert_null(img.funcs[f].code);
    assert_int_equal(pvmB_add_module(&img), 0);
    assert_int_equal(pvmB_add_module(&img), 1);
    assert_int_equal(img.modules[1].nglobals, 0);
    assert_null(img.modules[1].globals);
    pvmB_free(&img);
    assert_int_equal(img.nfuncs, 0);
    assert_null(img.funcs);
}

static void test_func_name(void **state)
{
    PbcImage img;
    pvmB_init(&img);
    uint32_t name = pvmB_const_string(&img, "fib", 3);
    uint32_t num = pvmB_const_int(&img, 1);
    uint32_t named = pvmB_add_func(&img);
    uint32_t anon = pvmB_add_func(&img);
    uint32_t bad = pvmB_add_func(&img);
    uint32_t wrongkind = pvmB_add_func(&img);
    img.funcs[named].name = name;
    img.funcs[bad].name = 77;
    img.funcs[wrongkind].name = num;
    assert_string_equal(pvmB_func_name(&img, named), "fib");
    assert_string_equal(pvmB_func_name(&img, anon), "<anon>");
    assert_string_equal(pvmB_func_name(&img, bad), "<anon>");
    assert_string_equal(pvmB_func_name(&img, wrongkind), "<anon>");
    assert_string_equal(pvmB_func_name(&img, 1000), "<anon>");
    pvmB_free(&img);
}

/* ------------------------------------------------------------ writing */

static void test_write_exact_layout(void **state)
{
    PbcImage img;
    small_image(&img);
    uint8_t *out;
    size_t len;
    assert_true(pvmB_write(&img, &out, &len));
    Bytes want = small_file();
    assert_int_equal(len, want.n);
    assert_memory_equal(out, want.b, want.n);
    free(out);
    pvmB_free(&img);
}

static void test_write_rejects_missing_arrays(void **state)
{
    PbcImage img;
    small_image(&img);
    free(img.funcs[0].code);
    img.funcs[0].code = NULL; /* codelen still 6 */
    uint8_t *out = NULL;
    size_t len = 0;
    assert_false(pvmB_write(&img, &out, &len));
    pvmB_free(&img);
}

/* A program using every kind of field, for round trips. */
static void rich_image(PbcImage *img)
{
    pvmB_init(img);
    pvmB_const_int(img, INT64_MIN);
    pvmB_const_int(img, -1);
    pvmB_const_float(img, -0.0);
    pvmB_const_float(img, double_of(0x7ff4000000000123ull));
    pvmB_const_float(img, 3.25);
    pvmB_const_string(img, "", 0);
    pvmB_const_string(img, "nul\0inside", 10);
    uint32_t main_name = pvmB_const_string(img, "main", 4);
    uint32_t file = pvmB_const_string(img, "prog.pv", 7);
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t fi = pvmB_add_func(img);
        PbcFunc *f = &img->funcs[fi];
        f->name = i == 1 ? PBC_NONE : main_name;
        f->module = i == 2;
        f->nparams = i;
        f->flags = i == 1 ? PBC_FUNC_VARIADIC : 0;
        f->nlocals = 3 + i;
        f->maxstack = 2 + i;
        f->nupvals = i;
        f->upvals = i ? calloc(i, sizeof(PbcUpval)) : NULL;
        for (uint32_t u = 0; u < i; u++)
            f->upvals[u] = (PbcUpval){ .from_local = (uint8_t)(u & 1), .index = 1000 + u };
        f->codelen = 6 + i;
        f->code = calloc(f->codelen, 1);
        for (uint32_t b = 0; b < f->codelen; b++)
            f->code[b] = (uint8_t)(b * 37 + i);
        f->nlines = i + 1;
        f->lines = calloc(f->nlines, sizeof(PbcLine));
        for (uint32_t l = 0; l < f->nlines; l++)
            f->lines[l] = (PbcLine){ .offset = l, .line = 0xFFFF0000u + l };
    }
    for (uint32_t i = 0; i < 2; i++) {
        uint32_t mi = pvmB_add_module(img);
        PbcModule *m = &img->modules[mi];
        m->name = main_name;
        m->file = file;
        m->main = i * 2;
        m->nglobals = i + 2;
        m->globals = calloc(m->nglobals, sizeof(uint32_t));
        for (uint32_t g = 0; g < m->nglobals; g++)
            m->globals[g] = g;
    }
}

static void assert_consts_equal(const PbcConst *a, const PbcConst *b)
{
    assert_int_equal(a->kind, b->kind);
    if (a->kind == PBC_CONST_INT)
        assert_true(a->i == b->i);
    if (a->kind == PBC_CONST_FLOAT)
        assert_true(bits_of(a->f) == bits_of(b->f));
    if (a->kind == PBC_CONST_STRING) {
        assert_int_equal(a->len, b->len);
        assert_memory_equal(a->str, b->str, a->len + 1);
    }
}

static void assert_funcs_equal(const PbcFunc *a, const PbcFunc *b)
{
    assert_int_equal(a->name, b->name);
    assert_int_equal(a->module, b->module);
    assert_int_equal(a->nparams, b->nparams);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->nlocals, b->nlocals);
    assert_int_equal(a->maxstack, b->maxstack);
    assert_int_equal(a->nupvals, b->nupvals);
    for (uint32_t u = 0; u < a->nupvals; u++) {
        assert_int_equal(a->upvals[u].from_local, b->upvals[u].from_local);
        assert_int_equal(a->upvals[u].index, b->upvals[u].index);
    }
    assert_int_equal(a->codelen, b->codelen);
    assert_memory_equal(a->code, b->code, a->codelen);
    assert_int_equal(a->nlines, b->nlines);
    for (uint32_t l = 0; l < a->nlines; l++) {
        assert_int_equal(a->lines[l].offset, b->lines[l].offset);
        assert_int_equal(a->lines[l].line, b->lines[l].line);
    }
}

static void assert_images_equal(const PbcImage *a, const PbcImage *b)
{
    assert_int_equal(a->nconsts, b->nconsts);
    for (uint32_t i = 0; i < a->nconsts; i++)
        assert_consts_equal(&a->consts[i], &b->consts[i]);
    assert_int_equal(a->nfuncs, b->nfuncs);
    for (uint32_t i = 0; i < a->nfuncs; i++)
        assert_funcs_equal(&a->funcs[i], &b->funcs[i]);
    assert_int_equal(a->nmodules, b->nmodules);
    for (uint32_t i = 0; i < a->nmodules; i++) {
        const PbcModule *x = &a->modules[i], *y = &b->modules[i];
        assert_int_equal(x->name, y->name);
        assert_int_equal(x->file, y->file);
        assert_int_equal(x->main, y->main);
        assert_int_equal(x->nglobals, y->nglobals);
        assert_memory_equal(x->globals, y->globals, x->nglobals * sizeof(uint32_t));
    }
}

static void test_round_trip(void **state)
{
    PbcImage img, back;
    rich_image(&img);
    uint8_t *out, *again;
    size_t len, len2;
    char err[256] = "";
    assert_true(pvmB_write(&img, &out, &len));
    if (!pvmB_read(out, len, &back, err, sizeof err))
        fail_msg("read failed: %s", err);
    assert_images_equal(&img, &back);
    assert_true(pvmB_write(&back, &again, &len2));
    assert_int_equal(len, len2);
    assert_memory_equal(out, again, len);
    /* A read image still deduplicates against what it loaded. */
    assert_int_equal(pvmB_const_string(&back, "nul\0inside", 10), 6);
    assert_int_equal(pvmB_const_float(&back, -0.0), 2);
    assert_int_equal(back.nconsts, img.nconsts);
    free(out);
    free(again);
    pvmB_free(&back);
    pvmB_free(&img);
}

static void test_round_trip_empty_image(void **state)
{
    PbcImage img, back;
    pvmB_init(&img);
    uint8_t *out;
    size_t len;
    char err[256];
    assert_true(pvmB_write(&img, &out, &len));
    assert_int_equal(len, 20);
    assert_true(pvmB_read(out, len, &back, err, sizeof err));
    assert_int_equal(back.nconsts + back.nfuncs + back.nmodules, 0);
    free(out);
    pvmB_free(&back);
}

/* ------------------------------------------------------------ reading */

static void test_read_small_file(void **state)
{
    Bytes f = small_file();
    PbcImage img;
    char err[256];
    assert_true(pvmB_read(f.b, f.n, &img, err, sizeof err));
    assert_int_equal(img.nconsts, 2);
    assert_string_equal(img.consts[0].str, "main");
    assert_true(img.consts[1].i == 42);
    assert_int_equal(img.funcs[0].codelen, 6);
    assert_int_equal(img.funcs[0].code[0], OP_INT);
    assert_int_equal(img.modules[0].nglobals, 1);
    pvmB_free(&img);
}

static void test_read_empty_and_null(void **state)
{
    expect_read_error(NULL, 0, "file at offset 0: truncated header");
    expect_read_error((const uint8_t *)"PV", 2, "file at offset 0: truncated header");
}

static void test_read_bad_magic(void **state)
{
    Bytes f = small_file();
    f.b[3] = 'X';
    expect_read_error(f.b, f.n, "file at offset 0: bad magic");
    expect_read_error((const uint8_t *)"\x7f" "ELF\2\1\1", 7, "file at offset 0: bad magic");
}

static void test_read_version(void **state)
{
    Bytes f = small_file();
    expect_read_error(f.b, 6, "file at offset 4: truncated header (format version needs 4 bytes, 2 left)");
    patch_u32(&f, AT_VERSION, 7);
    expect_read_error(f.b, f.n, "file at offset 4: unsupported format version 7 (this pvm reads versions 1 to 3)");
    patch_u32(&f, AT_VERSION, 0);
    expect_read_error(f.b, f.n, "file at offset 4: unsupported format version 0 (this pvm reads versions 1 to 3)");
}

/* Every proper prefix of a valid file is rejected as too short. */
static void test_read_every_truncation(void **state)
{
    PbcImage img;
    rich_image(&img);
    uint8_t *out;
    size_t len;
    assert_true(pvmB_write(&img, &out, &len));
    for (size_t cut = 0; cut < len; cut++) {
        PbcImage back;
        char err[256] = "";
        uint8_t *copy = copy_of(out, cut); /* exact-size buffer: ASan sees any overread */
        if (pvmB_read(copy, cut, &back, err, sizeof err))
            fail_msg("prefix of %zu bytes accepted", cut);
        if (!strstr(err, ": truncated "))
            fail_msg("prefix of %zu bytes: %s", cut, err);
        free(copy);
    }
    free(out);
    pvmB_free(&img);
}

static void test_read_truncation_offsets(void **state)
{
    Bytes f = small_file();
    expect_read_error(f.b, AT_NCONSTS + 2,
                      "file at offset 8: truncated constant pool (constant count needs 4 bytes, 2 left)");
    expect_read_error(f.b, AT_CONST0_BYTES + 3,
                      "file at offset 8: truncated constant pool (constant count 2 needs at least 10 bytes, 8 left)");
    expect_read_error(f.b, AT_CONST1 + 3,
                      "file at offset 22: truncated constant pool (int constant needs 8 bytes, 2 left)");
    patch_u32(&f, AT_NCONSTS, 1);
    expect_read_error(f.b, AT_CONST0_BYTES + 2,
                      "file at offset 17: truncated constant pool (string needs 4 bytes, 2 left)");
    patch_u32(&f, AT_NCONSTS, 2);
    expect_read_error(f.b, AT_NPARAMS + 1,
                      "file at offset 30: truncated function table (function count 1 needs at least 33 bytes, 9 left)");
    expect_read_error(f.b, AT_CODE + 4, "file at offset 63: truncated function table (code needs 6 bytes, 4 left)");
    expect_read_error(f.b, AT_NLINES + 6,
                      "file at offset 69: truncated function table (line count 1 needs at least 8 bytes, 2 left)");
    expect_read_error(f.b, AT_NMODULES + 10,
                      "file at offset 81: truncated module table (module count 1 needs at least 16 bytes, 6 left)");
    expect_read_error(f.b, AT_NGLOBALS + 4,
                      "file at offset 97: truncated module table (global count 1 needs at least 4 bytes, 0 left)");
}

static void test_read_unknown_const_kind(void **state)
{
    Bytes f = small_file();
    f.b[AT_CONST1] = 9;
    expect_read_error(f.b, f.n, "file at offset 21: unknown constant kind 9");
    f.b[AT_CONST1] = 0;
    expect_read_error(f.b, f.n, "file at offset 21: unknown constant kind 0");
}

static void test_read_trailing_bytes(void **state)
{
    Bytes f = small_file();
    b_raw(&f, "xyz", 3);
    expect_read_error(f.b, f.n, "file at offset 105: 3 trailing bytes after the module table");
}

static void test_read_huge_counts_fail_fast(void **state)
{
    Bytes f = small_file();
    patch_u32(&f, AT_NCONSTS, 0xFFFFFFFFu);
    expect_read_error(f.b, f.n, "file at offset 8: truncated constant pool (constant count 4294967295 needs at "
                                "least 21474836475 bytes, 93 left)");
    f = small_file();
    patch_u32(&f, AT_NFUNCS, 0x40000000u);
    expect_read_error(f.b, f.n, "file at offset 30: truncated function table (function count 1073741824 needs");
    f = small_file();
    patch_u32(&f, AT_NLINES, 0xFFFFFFFFu);
    expect_read_error(f.b, f.n, "file at offset 69: truncated function table (line count 4294967295 needs");
    f = small_file();
    patch_u32(&f, AT_NMODULES, 2);
    expect_read_error(f.b, f.n,
                      "file at offset 81: truncated module table (module count 2 needs at least 32 bytes, 20 left)");
    f = small_file();
    patch_u32(&f, AT_NGLOBALS, 0xFFFFFFFFu);
    expect_read_error(f.b, f.n, "file at offset 97: truncated module table (global count 4294967295 needs");
    f = small_file();
    patch_u32(&f, AT_CONST0 + 1, 0xFFFFFFF0u);
    expect_read_error(f.b, f.n,
                      "file at offset 17: truncated constant pool (string needs 4294967280 bytes, 88 left)");
    f = small_file();
    patch_u32(&f, AT_CODELEN, 0xFFFFFFF0u);
    expect_read_error(f.b, f.n, "file at offset 63: truncated function table (code needs 4294967280 bytes, 42 left)");
    f = small_file();
    patch_u32(&f, AT_NUPVALS, 1000);
    expect_read_error(f.b, f.n,
                      "file at offset 55: truncated function table (upvalue count 1000 needs at least 5000 bytes, 46 left)");
}

static void test_read_limits(void **state)
{
    Bytes f = small_file();
    patch_u32(&f, AT_NPARAMS, PBC_MAX_PARAMS + 1);
    expect_read_error(f.b, f.n, "file at offset 42: parameter count 256 exceeds the limit 255");
    f = small_file();
    patch_u32(&f, AT_NLOCALS, PBC_MAX_LOCALS + 1);
    expect_read_error(f.b, f.n, "file at offset 47: local count 65536 exceeds the limit 65535");
    f = small_file();
    patch_u32(&f, AT_MAXSTACK, 0xFFFFFFFFu);
    expect_read_error(f.b, f.n, "file at offset 51: maximum stack depth 4294967295 exceeds the limit 65535");
    f = small_file();
    patch_u32(&f, AT_NUPVALS, PBC_MAX_UPVALS + 1);
    expect_read_error(f.b, f.n, "file at offset 55: upvalue count 65536 exceeds the limit 65535");
    /* The limits themselves are accepted. */
    f = small_file();
    patch_u32(&f, AT_NPARAMS, PBC_MAX_PARAMS);
    patch_u32(&f, AT_NLOCALS, PBC_MAX_LOCALS);
    patch_u32(&f, AT_MAXSTACK, PBC_MAX_STACK);
    PbcImage img;
    char err[256];
    assert_true(pvmB_read(f.b, f.n, &img, err, sizeof err));
    pvmB_free(&img);
}

static void test_read_flags(void **state)
{
    Bytes f = small_file();
    f.b[AT_FLAGS] = PBC_FUNC_VARIADIC;
    PbcImage img;
    char err[256];
    assert_true(pvmB_read(f.b, f.n, &img, err, sizeof err));
    assert_int_equal(img.funcs[0].flags, PBC_FUNC_VARIADIC);
    pvmB_free(&img);
    f.b[AT_FLAGS] = 0x83;
    expect_read_error(f.b, f.n, "file at offset 46: unknown function flag bits 0x82");
}

static void test_read_upvalue_kind(void **state)
{
    PbcImage img;
    small_image(&img);
    PbcFunc *f = &img.funcs[0];
    f->nupvals = 1;
    f->upvals = calloc(1, sizeof(PbcUpval));
    f->upvals[0].from_local = 2;
    uint8_t *out;
    size_t len;
    assert_true(pvmB_write(&img, &out, &len));
    expect_read_error(out, len, "file at offset 59: upvalue kind 2 is neither 0 (upvalue) nor 1 (local)");
    free(out);
    pvmB_free(&img);
}

static void test_read_error_buffer_small(void **state)
{
    Bytes f = small_file();
    patch_u32(&f, AT_VERSION, 9);
    PbcImage img;
    char err[12];
    memset(err, 'Q', sizeof err);
    assert_false(pvmB_read(f.b, f.n, &img, err, sizeof err));
    assert_string_equal(err, "file at off");
    assert_false(pvmB_read(f.b, f.n, &img, NULL, 0)); /* no buffer at all */
}

/* ------------------------------------------------------------ decoding */

static void test_decode(void **state)
{
    const uint8_t code[] = {
        OP_INT, 0xFE, 0xFF, 0xFF, 0xFF, /* int -2 */
        OP_CONST, 0xFF, 0xFF, 0xFF, 0xFF, /* const 4294967295 */
        OP_ADD,
        OP__COUNT,
        OP_JMP, 1, 0,
    };
    uint32_t len = sizeof code;
    PbcInsn in;
    assert_true(pvmB_decode(code, len, 0, &in));
    assert_int_equal(in.op, OP_INT);
    assert_true(in.operand == -2);
    assert_int_equal(in.size, 5);
    assert_true(pvmB_decode(code, len, 5, &in));
    assert_int_equal(in.op, OP_CONST);
    assert_true(in.operand == 4294967295LL);
    assert_true(pvmB_decode(code, len, 10, &in));
    assert_int_equal(in.op, OP_ADD);
    assert_int_equal(in.size, 1);
    assert_true(in.operand == 0);
    assert_false(pvmB_decode(code, len, 11, &in)); /* unknown opcode */
    assert_false(pvmB_decode(code, len, 12, &in)); /* operand cut short */
    assert_false(pvmB_decode(code, len, len, &in)); /* past the end */
    assert_true(pvmB_decode(code, 11, 10, &in));
    assert_false(pvmB_decode(code, 9, 5, &in));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_is_empty),
        cmocka_unit_test(test_dedup_ints),
        cmocka_unit_test(test_dedup_floats_by_bits),
        cmocka_unit_test(test_dedup_strings_with_nuls),
        cmocka_unit_test(test_add_const_always_appends),
        cmocka_unit_test(test_dedup_many_constants),
        cmocka_unit_test(test_add_func_and_module),
        cmocka_unit_test(test_func_name),
        cmocka_unit_test(test_write_exact_layout),
        cmocka_unit_test(test_write_rejects_missing_arrays),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_round_trip_empty_image),
        cmocka_unit_test(test_read_small_file),
        cmocka_unit_test(test_read_empty_and_null),
        cmocka_unit_test(test_read_bad_magic),
        cmocka_unit_test(test_read_version),
        cmocka_unit_test(test_read_every_truncation),
        cmocka_unit_test(test_read_truncation_offsets),
        cmocka_unit_test(test_read_unknown_const_kind),
        cmocka_unit_test(test_read_trailing_bytes),
        cmocka_unit_test(test_read_huge_counts_fail_fast),
        cmocka_unit_test(test_read_limits),
        cmocka_unit_test(test_read_flags),
        cmocka_unit_test(test_read_upvalue_kind),
        cmocka_unit_test(test_read_error_buffer_small),
        cmocka_unit_test(test_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
