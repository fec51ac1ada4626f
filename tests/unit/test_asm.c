/* Unit tests for the assembler and disassembler (compiler/asm.c,
 * compiler/disasm.c): the image each construct produces, the computed
 * stack depth and locals, every class of error with its message and line,
 * and byte-identical round trips (disassemble, assemble, compare) on
 * hand-written, hand-built and randomly generated images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/asm.h"
#include "vm/bytecode/opcodes.h"
#include "vm/bytecode/pbc.h"
#include "test_util.h"

/* ------------------------------------------------------------ helpers */

/* Assembles [src]; the error text (possibly empty) goes to *[errors]. */
static bool assemble(const char *src, PbcImage *img, char **errors)
{
    size_t len;
    FILE *f = open_memstream(errors, &len);
    assert_non_null(f);
    bool ok = pvmC_assemble(src, strlen(src), "t.pva", img, f);
    fclose(f);
    return ok;
}

static void assemble_ok(const char *src, PbcImage *img)
{
    char *errors;
    bool ok = assemble(src, img, &errors);
    if (!ok || errors[0])
        fprintf(stderr, "unexpected errors:\n%s", errors);
    free(errors);
    assert_true(ok);
}

/* Asserts that [src] fails with [message] among the errors. */
static void expect_error(const char *src, const char *message)
{
    PbcImage img;
    char *errors;
    bool ok = assemble(src, &img, &errors);
    if (ok || !strstr(errors, message))
        fprintf(stderr, "source:\n%s\nwanted: %s\ngot:\n%s", src, message, errors);
    assert_false(ok);
    assert_non_null(strstr(errors, message));
    assert_int_equal(img.nconsts + img.nfuncs + img.nmodules, 0); /* left empty */
    free(errors);
    pvmB_free(&img);
}

static char *disassemble(const PbcImage *img, bool *ok)
{
    char *text;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    *ok = pvmC_disassemble(img, f);
    fclose(f);
    return text;
}

static uint8_t *write_image(const PbcImage *img, size_t *len)
{
    uint8_t *bytes;
    assert_true(pvmB_write(img, &bytes, len));
    return bytes;
}

/* Disassembles [img], assembles the text and checks the bytes agree. */
static void expect_round_trip(const PbcImage *img)
{
    bool ok;
    char *text = disassemble(img, &ok);
    assert_true(ok);
    PbcImage back;
    char *errors;
    bool assembled = assemble(text, &back, &errors);
    if (!assembled)
        fprintf(stderr, "disassembly does not assemble:\n%s\n%s", errors, text);
    assert_true(assembled);
    size_t len1, len2;
    uint8_t *b1 = write_image(img, &len1), *b2 = write_image(&back, &len2);
    bool same = len1 == len2 && memcmp(b1, b2, len1) == 0;
    if (!same)
        fprintf(stderr, "round trip differs (%zu vs %zu bytes):\n%s", len1, len2, text);
    assert_true(same);
    free(b1);
    free(b2);
    free(errors);
    free(text);
    pvmB_free(&back);
}

static uint32_t code_u32(const PbcFunc *f, uint32_t at)
{
    return (uint32_t)f->code[at] | (uint32_t)f->code[at + 1] << 8 | (uint32_t)f->code[at + 2] << 16 |
           (uint32_t)f->code[at + 3] << 24;
}

static bool is_string(const PbcImage *img, uint32_t k, const char *s)
{
    return k < img->nconsts && img->consts[k].kind == PBC_CONST_STRING && img->consts[k].len == strlen(s) &&
           memcmp(img->consts[k].str, s, strlen(s)) == 0;
}

#define HEADER ".module main \"t.pv\"\n"

/* ------------------------------------------------- assembling: images */

static void test_minimal_program(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(HEADER ".func top \"<main>\"\n"
                       "    .line 3\n"
                       "    int 7        ; a comment\n"
                       "    ret\n"
                       ".end\n",
                &img);
    assert_int_equal(img.nmodules, 1);
    assert_int_equal(img.nfuncs, 1);
    assert_true(is_string(&img, img.modules[0].name, "main"));
    assert_true(is_string(&img, img.modules[0].file, "t.pv"));
    assert_int_equal(img.modules[0].main, 0);
    const PbcFunc *f = &img.funcs[0];
    assert_true(is_string(&img, f->name, "<main>"));
    assert_int_equal(f->module, 0);
    assert_int_equal(f->nparams, 0);
    assert_int_equal(f->nlocals, 0);
    assert_int_equal(f->maxstack, 1);
    const uint8_t code[] = { OP_INT, 7, 0, 0, 0, OP_RET };
    assert_int_equal(f->codelen, sizeof code);
    assert_memory_equal(f->code, code, sizeof code);
    assert_int_equal(f->nlines, 1);
    assert_int_equal(f->lines[0].offset, 0);
    assert_int_equal(f->lines[0].line, 3);
    char err[256];
    assert_true(pvmB_verify(&img, err, sizeof err));
    pvmB_free(&img);
}

static void test_inline_constants_are_shared(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(HEADER ".func top\n"
                       "  const 42\n  const 42\n  const 1.5\n  const \"hi\"\n  getname print\n"
                       "  getfield \"hi\"\n  const int 42\n  const float 42\n  ret\n.end\n",
                &img);
    /* main, t.pv, 42, 1.5, "hi", "print", 42.0 */
    assert_int_equal(img.nconsts, 7);
    const PbcFunc *f = &img.funcs[0];
    assert_int_equal(code_u32(f, 1), 2);
    assert_int_equal(code_u32(f, 6), 2);
    assert_int_equal(img.consts[2].kind, PBC_CONST_INT);
    assert_int_equal(img.consts[2].i, 42);
    assert_int_equal(img.consts[3].kind, PBC_CONST_FLOAT);
    assert_true(img.consts[3].f == 1.5);
    assert_true(is_string(&img, code_u32(f, 16), "hi"));
    assert_true(is_string(&img, code_u32(f, 21), "print"));
    assert_int_equal(code_u32(f, 26), code_u32(f, 16)); /* getfield "hi" reuses it */
    assert_int_equal(code_u32(f, 31), 2);               /* const int 42 */
    assert_int_equal(img.consts[code_u32(f, 36)].kind, PBC_CONST_FLOAT);
    assert_true(img.consts[code_u32(f, 36)].f == 42.0);
    pvmB_free(&img);
}

static void test_explicit_pool_and_indices(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(".const string \"x\"\n"
                ".const string \"x\"\n"
                ".const int -1\n"
                HEADER ".func top\n  const #1\n  const \"x\"\n  getfield #0\n  const 0xFFFFFFFFFFFFFFFF\n  ret\n.end\n",
                &img);
    assert_true(is_string(&img, 0, "x"));
    assert_true(is_string(&img, 1, "x")); /* .const always appends */
    const PbcFunc *f = &img.funcs[0];
    assert_int_equal(code_u32(f, 1), 1);
    assert_int_equal(code_u32(f, 6), 0); /* a literal takes the first equal constant */
    assert_int_equal(code_u32(f, 11), 0);
    assert_int_equal(code_u32(f, 16), 2); /* hex is two's complement: -1 */
    pvmB_free(&img);
}

static void test_float_literals_exact(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(".const float 0.1\n.const float -0.0\n.const float 0.0\n.const float inf\n"
                ".const float -inf\n.const float nan\n.const float 0x7ff8000000000001\n"
                ".const float 0xfff0000000000123\n.const float 5e-324\n.const float 1.7976931348623157e308\n"
                ".const float 3\n.const float -nan\n",
                &img);
    const uint64_t want[] = { bits_of(0.1), 0x8000000000000000u, 0, 0x7ff0000000000000u, 0xfff0000000000000u,
                              0x7ff8000000000000u, 0x7ff8000000000001u, 0xfff0000000000123u, 1,
                              0x7fefffffffffffffu, bits_of(3.0), 0xfff8000000000000u };
    assert_int_equal(img.nconsts, sizeof want / sizeof want[0]);
    for (uint32_t k = 0; k < img.nconsts; k++) {
        assert_int_equal(img.consts[k].kind, PBC_CONST_FLOAT);
        assert_int_equal(bits_of(img.consts[k].f), want[k]);
    }
    pvmB_free(&img);
}

static void test_int_literals(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(".const int -9223372036854775808\n.const int 9223372036854775807\n.const int 0x10\n"
                ".const int 0b101\n.const int +7\n" HEADER ".func top\n  int -2147483648\n  int 2147483647\n"
                "  ret\n.end\n",
                &img);
    assert_true(img.consts[0].i == INT64_MIN);
    assert_true(img.consts[1].i == INT64_MAX);
    assert_int_equal(img.consts[2].i, 16);
    assert_int_equal(img.consts[3].i, 5);
    assert_int_equal(img.consts[4].i, 7);
    assert_int_equal(code_u32(&img.funcs[0], 1), 0x80000000u);
    assert_int_equal(code_u32(&img.funcs[0], 6), 0x7fffffffu);
    pvmB_free(&img);
}

static void test_string_escapes(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(".const string \"a\\n\\t\\r\\\\\\\"\\0\\x41\\xff; not a comment\"  ; a comment\n"
                ".const string \"\"\n",
                &img);
    const char want[] = "a\n\t\r\\\"\0A\xff; not a comment";
    assert_int_equal(img.consts[0].len, sizeof want - 1);
    assert_memory_equal(img.consts[0].str, want, sizeof want - 1);
    assert_int_equal(img.consts[1].len, 0);
    pvmB_free(&img);
}

static void test_labels_and_forward_references(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(HEADER ".func top\n"
                       "start: true\n"           /* 0 */
                       "  jmpf end\n"            /* 1 */
                       "  closure later\n"       /* 6 */
                       "  pop\n"                 /* 11 */
                       "  jmp start\n"           /* 12 */
                       "end:\n"
                       "done: nil\n"             /* 17 */
                       "  ret\n"
                       ".end\n"
                       ".func later \"later\" params=2 variadic\n  nil\n  ret\n.end\n",
                &img);
    const PbcFunc *f = &img.funcs[0];
    assert_int_equal(f->code[1], OP_JMPF);
    assert_int_equal(code_u32(f, 2), 17);
    assert_int_equal(code_u32(f, 7), 1); /* function index of `later` */
    assert_int_equal(code_u32(f, 13), 0);
    assert_int_equal(img.funcs[1].nparams, 2);
    assert_int_equal(img.funcs[1].flags, PBC_FUNC_VARIADIC);
    assert_int_equal(img.funcs[1].nlocals, 3); /* params and the rest array */
    assert_int_equal(img.funcs[1].module, 0);
    pvmB_free(&img);
}

static void test_lines_and_upvalues(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(HEADER ".func top\n  .line 1\n  .line 2\n  nil\n  .line 9\n  ret\n.end\n"
                       ".func inner\n  .upval local 3\n  .upval upval 0\n  getupval 1\n  ret\n.end\n",
                &img);
    const PbcFunc *f = &img.funcs[0];
    assert_int_equal(f->nlines, 3); /* each .line is one entry, even at one offset */
    assert_int_equal(f->lines[0].offset, 0);
    assert_int_equal(f->lines[1].offset, 0);
    assert_int_equal(f->lines[1].line, 2);
    assert_int_equal(f->lines[2].offset, 1);
    assert_int_equal(f->lines[2].line, 9);
    const PbcFunc *g = &img.funcs[1];
    assert_int_equal(g->nupvals, 2);
    assert_int_equal(g->upvals[0].from_local, 1);
    assert_int_equal(g->upvals[0].index, 3);
    assert_int_equal(g->upvals[1].from_local, 0);
    assert_int_equal(g->upvals[1].index, 0);
    assert_int_equal(g->name, PBC_NONE);
    pvmB_free(&img);
}

/* Computed stack depth of a one-function program with body [body]. */
static uint32_t maxstack_of(const char *body)
{
    char src[2048];
    snprintf(src, sizeof src, HEADER ".func top locals=4\n%s.end\n", body);
    PbcImage img;
    assemble_ok(src, &img);
    uint32_t depth = img.funcs[0].maxstack;
    char err[256];
    if (!pvmB_verify(&img, err, sizeof err))
        fprintf(stderr, "verify: %s\n", err);
    assert_true(pvmB_verify(&img, err, sizeof err)); /* the verifier agrees */
    pvmB_free(&img);
    return depth;
}

static void test_computed_maxstack(void **state)
{
    (void)state;
    assert_int_equal(maxstack_of("nil\nret\n"), 1);
    assert_int_equal(maxstack_of("nil\nnil\ndup2\npop\npop\npop\nret\n"), 4);
    assert_int_equal(maxstack_of("nil\nint 1\nint 2\nint 3\ncall 3\nret\n"), 4);
    assert_int_equal(maxstack_of("int 1\nint 2\nint 3\nint 4\nmap 2\nint 5\nint 6\narray 3\nret\n"), 4);
    /* the deeper path is the one that branches */
    assert_int_equal(maxstack_of("true\njmpf a\nint 1\nint 2\nint 3\nadd\nadd\nret\na: nil\nret\n"), 3);
    /* a for loop: [a b] -> [a b v] */
    assert_int_equal(maxstack_of("int 0\nint 3\nrange\nl: fornext d\nsetlocal 0\njmp l\nd: nil\nret\n"), 3);
    /* the thrown value lands on the handler's depth + 1 */
    assert_int_equal(maxstack_of("nil\ntry h\nendtry\nret\nh: pop\nret\n"), 2);
    /* unreachable code does not count */
    assert_int_equal(maxstack_of("nil\nret\nnil\nnil\nnil\nret\n"), 1);
}

static void test_explicit_fields_are_kept(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(HEADER ".func top locals=9 stack=7 params=0\n  getlocal 2\n  ret\n.end\n"
                       ".func f\n  getlocal 5\n  setlocal 1\n  nil\n  ret\n.end\n",
                &img);
    assert_int_equal(img.funcs[0].nlocals, 9);
    assert_int_equal(img.funcs[0].maxstack, 7);
    assert_int_equal(img.funcs[1].nlocals, 6); /* one past the highest slot used */
    pvmB_free(&img);
}

static void test_modules_and_names(void **state)
{
    (void)state;
    PbcImage img;
    /* All modules first: a module's main function makes it current. */
    assemble_ok(".module main \"a.pv\" main=top\n.global x\n.global util\n"
                ".module util \"util.pv\" main=umain\n.global y\n.global \"two words\"\n"
                ".func top\n  import util\n  setglobal util\n  getglobal x\n  ret\n.end\n"
                ".func helper\n  getglobal util\n  ret\n.end\n"
                ".func umain\n  getglobal y\n  setglobal \"two words\"\n  nil\n  ret\n.end\n"
                ".func more\n  getglobal 1\n  ret\n.end\n"
                ".func odd module=0\n  getglobal util\n  ret\n.end\n"
                ".func last\n  nil\n  ret\n.end\n",
                &img);
    assert_int_equal(img.nmodules, 2);
    assert_int_equal(img.modules[0].main, 0);
    assert_int_equal(img.modules[1].main, 2);
    assert_int_equal(img.modules[1].nglobals, 2);
    assert_true(is_string(&img, img.modules[1].globals[1], "two words"));
    const uint32_t module_of[] = { 0, 0, 1, 1, 0, 1 };
    for (uint32_t i = 0; i < 6; i++)
        assert_int_equal(img.funcs[i].module, module_of[i]);
    assert_int_equal(code_u32(&img.funcs[0], 1), 1); /* import util */
    assert_int_equal(code_u32(&img.funcs[0], 6), 1); /* setglobal util */
    assert_int_equal(code_u32(&img.funcs[0], 11), 0);
    assert_int_equal(code_u32(&img.funcs[1], 1), 1);
    assert_int_equal(code_u32(&img.funcs[2], 1), 0);
    assert_int_equal(code_u32(&img.funcs[2], 6), 1);
    assert_int_equal(code_u32(&img.funcs[4], 1), 1);
    char err[256];
    assert_true(pvmB_verify(&img, err, sizeof err));
    pvmB_free(&img);

    /* Without main=, a module's first function is its main. */
    assemble_ok(".module a \"a\"\n.func one\nnil\nret\n.end\n.func two\nnil\nret\n.end\n"
                ".module b \"b\" main=#3\n.func three\nnil\nret\n.end\n.func four\nnil\nret\n.end\n",
                &img);
    assert_int_equal(img.modules[0].main, 0);
    assert_int_equal(img.modules[1].main, 3);
    assert_int_equal(img.funcs[2].module, 1);
    assert_int_equal(img.funcs[3].module, 1);
    pvmB_free(&img);
}

/* ---------------------------------------------------------- errors */

static void test_error_messages(void **state)
{
    (void)state;
    static const struct {
        const char *src;
        const char *message;
    } cases[] = {
        { HEADER ".func f\n  ad\n.end\n", "t.pva:3: error: unknown instruction 'ad'" },
        { HEADER ".func f\n  getlocal\n.end\n", ":3: error: missing operand for 'getlocal'" },
        { HEADER ".func f\n  add 1\n.end\n", ":3: error: 'add' takes no operand" },
        { HEADER ".func f\n  jmp nowhere\n  nil\n  ret\n.end\n", ":3: error: undefined label 'nowhere'" },
        { HEADER ".func f\nx: nil\nx: ret\n.end\n", ":4: error: duplicate label 'x' (first defined on line 3)" },
        { HEADER ".func f\n  const \"a\\q\"\n.end\n", ":3: error: bad string escape '\\q'" },
        { HEADER ".func f\n  const \"\\x4\"\n.end\n", ":3: error: bad string escape '\\x'" },
        { HEADER ".func f\n  const \"abc\n.end\n", ":3: error: unterminated string" },
        { HEADER ".func f\n  getlocal 4294967296\n.end\n", ":3: error: operand 4294967296 out of range for 32 bits" },
        { HEADER ".func f\n  getlocal -1\n.end\n", ":3: error: operand -1 out of range for 32 bits" },
        { HEADER ".func f\n  int 2147483648\n.end\n", ":3: error: operand 2147483648 out of range for 32 bits" },
        { HEADER ".func f\n  call 99999999999999999999999\n.end\n", "out of range for 32 bits" },
        { HEADER "  nil\n", ":2: error: instruction outside .func" },
        { HEADER "x:\n", ":2: error: label outside .func" },
        { HEADER ".line 3\n", ":2: error: .line outside .func" },
        { HEADER ".end\n", ":2: error: .end outside .func" },
        { HEADER ".frob\n", ":2: error: unknown directive '.frob'" },
        { HEADER ".func f\n  closure g\n  ret\n.end\n", ":3: error: undefined function 'g'" },
        { HEADER ".func f\nnil\nret\n.end\n.func f\nnil\nret\n.end\n",
          ":6: error: duplicate function 'f' (first defined on line 2)" },
        { HEADER ".func f\n  getglobal nope\n  ret\n.end\n", ":3: error: unknown global 'nope'" },
        { HEADER ".func f\n  import nope\n  ret\n.end\n", ":3: error: unknown module 'nope'" },
        { ".global g\n", ":1: error: .global outside a module" },
        { ".func f\n", ":1: error: .func before any .module" },
        { HEADER ".func f\n  nil\n", ":2: error: function has no .end" },
        { HEADER ".func f\n.func g\nnil\nret\n.end\n", ":3: error: .func inside a function (missing .end?)" },
        { HEADER ".func f\n  .upval global 1\n.end\n", ":3: error: expected '.upval local N' or '.upval upval N'" },
        { HEADER ".func f\n  .upval local\n.end\n", ":3: error: missing index after '.upval local'" },
        { ".const int 9223372036854775808\n", ":1: error: integer 9223372036854775808 out of range for 64 bits" },
        { ".const int 0x1ffffffffffffffff\n", "out of range for 64 bits" },
        { ".const float 1.5.5\n", ":1: error: expected a float, got '1.5.5'" },
        { ".const string 5\n", ":1: error: expected a string, got '5'" },
        { ".const int\n", ":1: error: expected a constant, got 'int'" },
        { ".const #3\n", ":1: error: .const needs a value, not a pool index" },
        { HEADER ".func f\n  const foo\n.end\n", ":3: error: expected a constant, got 'foo'" },
        { HEADER ".func f\n  getlocal x\n.end\n", ":3: error: expected a number, got 'x'" },
        { HEADER ".func f\n  getlocal 1 2\n.end\n", ":3: error: unexpected '2'" },
        { HEADER ".func f\n  jmp 12\n.end\n", ":3: error: expected a label name, got '12'" },
        { HEADER ".func f bogus=1\n.end\n", ":2: error: unknown .func option 'bogus'" },
        { HEADER ".func f params\n.end\n", ":2: error: expected params=VALUE" },
        { HEADER ".func\n", ":2: error: expected a function name after .func" },
        { ".module\n", ":1: error: missing a module name" },
        { ".module m \"f\" main=\n", ":1: error: expected main=VALUE" },
        { ".module m \"f\" mian=x\n", ":1: error: unknown .module option 'mian'" },
        { ".module m \"f\"\n", ":1: error: module has no function to be its main" },
        { ".module m \"f\" main=nothere\n", ":1: error: undefined function 'nothere'" },
        { ".module m \"f\" main=top\n.func top\n\x01\n", ":3: error: unexpected character 0x01" },
        { HEADER ".func f\n  \"str\"\n.end\n", ":3: error: expected an instruction or a directive, got '\"str\"'" },
        { HEADER ".func f\n1x: nil\n.end\n", ":3: error: bad label name '1x'" },
        { HEADER ".func f\n  getlocal #1\n.end\n", ":3: error: expected a number, got '#1'" },
        { HEADER ".func f\n  const #x\n.end\n", ":3: error: expected a number, got 'x'" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].src, cases[i].message);
}

static void test_several_errors_in_one_run(void **state)
{
    (void)state;
    PbcImage img;
    char *errors;
    assert_false(assemble(HEADER ".func f\n  ad\n  getlocal\n  jmp nowhere\n  nil\n  ret\n.end\n.bogus\n", &img,
                          &errors));
    assert_non_null(strstr(errors, "t.pva:3: error: unknown instruction 'ad'"));
    assert_non_null(strstr(errors, "t.pva:4: error: missing operand for 'getlocal'"));
    assert_non_null(strstr(errors, "t.pva:5: error: undefined label 'nowhere'"));
    assert_non_null(strstr(errors, "t.pva:9: error: unknown directive '.bogus'"));
    free(errors);
    pvmB_free(&img);
}

static void test_error_count_is_capped(void **state)
{
    (void)state;
    size_t n = 1000;
    char *src = malloc(n * 4 + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(src + 4 * i, "xyz\n", 4);
    src[n * 4] = '\0';
    PbcImage img;
    char *errors;
    assert_false(assemble(src, &img, &errors));
    size_t lines = 0;
    for (const char *p = errors; (p = strstr(p, ": error: ")); p++)
        lines++;
    assert_int_equal(lines, 50);
    assert_non_null(strstr(errors, "too many errors"));
    free(errors);
    free(src);
    pvmB_free(&img);
}

/* Random bytes and random token soup: errors, never a crash. */
static void test_garbage_never_crashes(void **state)
{
    (void)state;
    static const char *const pieces[] = { ".func", ".end", ".module", ".const", ".global", ".upval", ".line",
                                          "f", "x:", "\"s\"", "\"\\", "#", "#9", "=", "main=", "jmp", "const",
                                          "int", "float", "0x", "-", "1e999", "nan", "closure", "\n", "\n",
                                          "local", "params=", "getglobal", "import", ";", "\t", "\r" };
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (int round = 0; round < 300; round++) {
        char src[600];
        size_t n = 0;
        while (n < 500) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            uint32_t r = (uint32_t)(seed >> 33);
            const char *p = round % 3 == 0 ? NULL : pieces[r % (sizeof pieces / sizeof pieces[0])];
            if (p) {
                n += (size_t)snprintf(src + n, sizeof src - n, "%s ", p);
            } else {
                src[n++] = (char)(r >> 8);
            }
        }
        PbcImage img;
        size_t len;
        char *errors;
        FILE *f = open_memstream(&errors, &len);
        pvmC_assemble(src, n, "g.pva", &img, f); /* embedded NULs included */
        fclose(f);
        free(errors);
        pvmB_free(&img);
    }
}

/* --------------------------------------------------- disassembling */

static const char rich_source[] =
    "; a program that uses every kind of directive and operand\n"
    ".const float 0.1\n"
    ".const string \"dup\"\n"
    ".const string \"dup\"\n"
    ".module main \"rich.pv\" main=top\n"
    ".global counter\n"
    ".global \"odd name\"\n"
    ".module lib \"lib.pv\" main=libmain\n"
    ".global api\n"
    ".func top \"<main>\" locals=3\n"
    "    .line 1\n"
    "    const #2\n"
    "    const \"dup\"\n"
    "    pop\n"
    "    pop\n"
    "    const -0.0\n"
    "    const nan\n"
    "    const float 0x7ff0000000000001\n"
    "    const inf\n"
    "    const -inf\n"
    "    const 1e300\n"
    "    array 6\n"
    "    setlocal 0\n"
    "    .line 2\n"
    "    closure make\n"
    "    call 0\n"
    "    setglobal counter\n"
    "    import lib\n"
    "    getfield api\n"
    "    setlocal 1\n"
    "    int 0\n"
    "    int 4\n"
    "    range\n"
    "loop:\n"
    "    .line 3\n"
    "    fornext done\n"
    "    setlocal 2\n"
    "    try caught\n"
    "    getglobal counter\n"
    "    call 0\n"
    "    getname print\n"
    "    swap\n"
    "    call 1\n"
    "    pop\n"
    "    endtry\n"
    "    jmp next\n"
    "caught:\n"
    "    throw\n"
    "next:\n"
    "    close 2\n"
    "    jmp loop\n"
    "done:\n"
    "    .line 4\n"
    "    getname \"print\"\n"
    "    getlocal 0\n"
    "    const \"k\"\n"
    "    int -5\n"
    "    map 1\n"
    "    dup\n"
    "    const \"k\"\n"
    "    getindex\n"
    "    call 3\n"
    "    true\n"
    "    jmptk out\n"
    "    nil\n"
    "out:\n"
    "    pop\n"
    "    ret\n"
    ".end\n"
    ".func make \"make\" stack=5\n"
    "    int 0\n"
    "    setlocal 0\n"
    "    closure bump\n"
    "    ret\n"
    ".end\n"
    ".func bump #1 variadic\n"
    "    .upval local 0\n"
    "    getupval 0\n"
    "    int 1\n"
    "    add\n"
    "    dup\n"
    "    setupval 0\n"
    "    ret\n"
    ".end\n"
    ".func libmain\n"
    "    closure api\n"
    "    setglobal api\n"
    "    nil\n"
    "    ret\n"
    ".end\n"
    ".func api \"api\" params=1\n"
    "    getlocal 0\n"
    "    ret\n"
    ".end\n"
    ".func stray module=0\n"
    "    nil\n"
    "    ret\n"
    ".end\n";

static void test_round_trip_rich_program(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(rich_source, &img);
    char err[256];
    if (!pvmB_verify(&img, err, sizeof err))
        fprintf(stderr, "verify: %s\n", err);
    assert_true(pvmB_verify(&img, err, sizeof err));
    expect_round_trip(&img);
    pvmB_free(&img);
}

static void test_disassembly_is_readable(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(rich_source, &img);
    bool ok;
    char *text = disassemble(&img, &ok);
    assert_true(ok);
    /* the duplicate string is referred to by index, with its value shown */
    assert_non_null(strstr(text, "const     #2                    ; \"dup\"\n"));
    assert_non_null(strstr(text, "const     \"dup\"                 ; #1\n"));
    assert_non_null(strstr(text, ".func dup \"dup\" params=0 variadic locals=1 stack=2\n"));
    assert_non_null(strstr(text, "    .upval local 0\n"));
    assert_non_null(strstr(text, "getname   \"print\""));
    assert_non_null(strstr(text, "getfield  \"api\""));
    assert_non_null(strstr(text, "setglobal 0                     ; \"counter\"\n"));
    assert_non_null(strstr(text, "import    1                     ; \"lib\"\n"));
    assert_non_null(strstr(text, "const     float 0x7ff0000000000001"));
    assert_non_null(strstr(text, "const     -0.0"));
    assert_non_null(strstr(text, "const     1e+300"));
    assert_non_null(strstr(text, ".const float 0.1 "));
    assert_non_null(strstr(text, ".module main \"rich.pv\" main=f0"));
    assert_non_null(strstr(text, ".global \"odd name\""));
    assert_non_null(strstr(text, ".func f5 params=0 locals=0 stack=1 module=0\n"));
    assert_non_null(strstr(text, "fornext   L"));
    assert_non_null(strstr(text, "\n    .line 3\n"));
    free(text);
    pvmB_free(&img);
}

/* An image built directly, with what a compiler may produce but the
 * assembler would never write on its own. */
static void test_round_trip_built_image(void **state)
{
    (void)state;
    PbcImage img;
    pvmB_init(&img);
    const uint64_t float_bits[] = { 0x8000000000000000u, 0, 0x7ff8000000000000u, 0xfff8000000000000u,
                                    0x7ff0000000000000u, 0xfff0000000000000u, 0x7ff4000000000000u,
                                    0xffffffffffffffffu, 1, 0x000fffffffffffffu, 0x3fb999999999999au,
                                    0x4340000000000000u, 0x7ff8000000000000u };
    for (size_t i = 0; i < sizeof float_bits / sizeof float_bits[0]; i++)
        pvmB_add_const_float(&img, double_of(float_bits[i]));
    pvmB_add_const_string(&img, "f", 1);
    pvmB_add_const_string(&img, "f", 1);
    pvmB_add_const_string(&img, "a\0b", 3);
    pvmB_add_const_string(&img, "inf", 3);
    pvmB_add_const_string(&img, "f3", 2);
    pvmB_add_const_int(&img, INT64_MIN);
    pvmB_add_const_int(&img, INT64_MIN);
    uint32_t m = pvmB_add_module(&img);
    img.modules[m].name = 13 + 1; /* the second "f" */
    img.modules[m].file = 15;     /* "a\0b" */
    img.modules[m].main = 1;
    img.modules[m].nglobals = 2;
    img.modules[m].globals = malloc(2 * sizeof(uint32_t));
    img.modules[m].globals[0] = 13;
    img.modules[m].globals[1] = 16; /* "inf" */
    for (int i = 0; i < 3; i++) {
        uint32_t fi = pvmB_add_func(&img);
        PbcFunc *f = &img.funcs[fi];
        f->name = i == 0 ? 13 : i == 1 ? 14 : 17; /* "f", the second "f", "f3" */
        f->maxstack = 1;
        uint8_t code[] = { OP_CONST, 0, 0, 0, 0, OP_RET };
        code[1] = (uint8_t)(i * 6); /* 0, 6 (a NaN payload), 12 (the second NaN) */
        f->codelen = sizeof code;
        f->code = malloc(sizeof code);
        memcpy(f->code, code, sizeof code);
    }
    expect_round_trip(&img);
    bool ok;
    char *text = disassemble(&img, &ok);
    assert_non_null(strstr(text, ".func f0 \"f\""));
    assert_non_null(strstr(text, ".func f1 #14"));
    assert_non_null(strstr(text, ".func f2 \"f3\"")); /* f3 would collide with generated names */
    assert_non_null(strstr(text, ".module #14 \"a\\0b\""));
    assert_non_null(strstr(text, ".global inf"));
    assert_non_null(strstr(text, "const     #12"));
    free(text);
    pvmB_free(&img);
}

/* ---- random images: the disassembler must be exact on all of them */

typedef struct {
    uint64_t s;
} Rng;

static uint32_t rnd(Rng *r, uint32_t n)
{
    r->s = r->s * 6364136223846793005u + 1442695040888963407u;
    return n ? (uint32_t)(r->s >> 33) % n : 0;
}

static uint64_t rnd64(Rng *r)
{
    uint64_t hi = rnd(r, 1u << 31), lo = rnd(r, 1u << 31);
    return hi << 33 ^ lo << 2 ^ rnd(r, 4);
}

static void random_const(Rng *r, PbcImage *img)
{
    static const char alphabet[] = "ab\0\n\"\\ #.:\xff";
    static const double floats[] = { 0.0, -0.0, 1.0, 0.1, 1e300, 5e-324, 123456789.0, 1e16, -2.5 };
    switch (rnd(r, 3)) {
    case 0:
        pvmB_add_const_int(img, rnd(r, 2) ? (int64_t)rnd(r, 5) - 2 : (int64_t)rnd64(r));
        break;
    case 1:
        if (rnd(r, 2))
            pvmB_add_const_float(img, floats[rnd(r, 9)]);
        else /* any bits, or inf and NaNs with small payloads */
            pvmB_add_const_float(img, double_of(rnd(r, 2) ? rnd64(r) : 0x7ff0000000000000u | rnd(r, 5)));
        break;
    default: {
        char s[8];
        uint32_t n = rnd(r, 5);
        for (uint32_t i = 0; i < n; i++)
            s[i] = alphabet[rnd(r, sizeof alphabet - 1)];
        pvmB_add_const_string(img, s, n);
    }
    }
}

/* An index that is usually a valid constant and sometimes not. */
static uint32_t random_index(Rng *r, uint32_t n)
{
    return rnd(r, 10) == 0 ? rnd(r, 100) : rnd(r, n ? n : 1);
}

static void random_code(Rng *r, PbcFunc *f, const PbcImage *img)
{
    uint32_t ninsns = 1 + rnd(r, 12), starts[16], len = 0;
    uint8_t ops[16];
    for (uint32_t i = 0; i < ninsns; i++) {
        ops[i] = (uint8_t)rnd(r, OP__COUNT);
        starts[i] = len;
        len += vm_opcode_size((Opcode)ops[i]);
    }
    f->code = malloc(len);
    f->codelen = len;
    for (uint32_t i = 0; i < ninsns; i++) {
        uint8_t *p = f->code + starts[i];
        p[0] = ops[i];
        if (vm_opcode_size((Opcode)ops[i]) == 1)
            continue;
        OperandKind kind = pvmB_opcode_info[ops[i]].operand;
        uint32_t v = kind == OPND_TARGET ? starts[rnd(r, ninsns)]
                   : kind == OPND_CONST || kind == OPND_NAME || kind == OPND_FIELD ? random_index(r, img->nconsts)
                   : kind == OPND_FUNC ? random_index(r, img->nfuncs)
                   : (uint32_t)rnd64(r);
        for (int b = 0; b < 4; b++)
            p[1 + b] = (uint8_t)(v >> (8 * b));
    }
    f->nlines = rnd(r, 4);
    f->lines = malloc((f->nlines ? f->nlines : 1) * sizeof *f->lines);
    uint32_t at = 0;
    for (uint32_t i = 0; i < f->nlines; i++) {
        at += rnd(r, 3);
        f->lines[i].offset = at < ninsns ? starts[at] : len;
        f->lines[i].line = rnd(r, 2) ? rnd(r, 100) : (uint32_t)rnd64(r);
    }
}

static void random_image(Rng *r, PbcImage *img)
{
    pvmB_init(img);
    uint32_t nconsts = rnd(r, 16), nmodules = 1 + rnd(r, 3), nfuncs = 1 + rnd(r, 5);
    for (uint32_t i = 0; i < nconsts; i++)
        random_const(r, img);
    for (uint32_t i = 0; i < nfuncs; i++)
        pvmB_add_func(img);
    for (uint32_t m = 0; m < nmodules; m++) {
        uint32_t index = pvmB_add_module(img);
        PbcModule *mod = &img->modules[index];
        mod->name = random_index(r, nconsts);
        mod->file = random_index(r, nconsts);
        mod->main = random_index(r, nfuncs);
        mod->nglobals = rnd(r, 4);
        mod->globals = malloc((mod->nglobals ? mod->nglobals : 1) * sizeof *mod->globals);
        for (uint32_t g = 0; g < mod->nglobals; g++)
            mod->globals[g] = random_index(r, nconsts);
    }
    for (uint32_t i = 0; i < nfuncs; i++) {
        PbcFunc *f = &img->funcs[i];
        f->name = rnd(r, 3) ? random_index(r, nconsts) : PBC_NONE;
        f->module = rnd(r, 8) ? rnd(r, nmodules) : rnd(r, 10);
        f->nparams = rnd(r, 4);
        f->flags = (uint8_t)rnd(r, 2);
        f->nlocals = rnd(r, 10);
        f->maxstack = rnd(r, 10);
        f->nupvals = rnd(r, 3);
        f->upvals = malloc(3 * sizeof *f->upvals);
        for (uint32_t u = 0; u < f->nupvals; u++)
            f->upvals[u] = (PbcUpval){ (uint8_t)rnd(r, 2), rnd(r, 5) };
        random_code(r, f, img);
    }
}

static void test_round_trip_random_images(void **state)
{
    (void)state;
    Rng r = { 12345 };
    for (int i = 0; i < 300; i++) {
        PbcImage img;
        random_image(&r, &img);
        expect_round_trip(&img);
        pvmB_free(&img);
    }
}

static void test_disassemble_rejects_undecodable_code(void **state)
{
    (void)state;
    PbcImage img;
    assemble_ok(HEADER ".func top\n  nil\n  ret\n.end\n", &img);
    img.funcs[0].code[1] = 0xee;
    bool ok;
    char *text = disassemble(&img, &ok);
    assert_false(ok);
    assert_non_null(strstr(text, "cannot decode byte 0xee at offset 1"));
    free(text);
    img.funcs[0].code[1] = OP_JMP; /* operand runs past the end */
    text = disassemble(&img, &ok);
    assert_false(ok);
    free(text);
    pvmB_free(&img);

    /* jumps and line entries that no label or .line can express */
    assemble_ok(HEADER ".func top\n  jmp l\nl: nil\n  ret\n.end\n", &img);
    text = disassemble(&img, &ok);
    assert_true(ok);
    free(text);
    img.funcs[0].code[1] = 3; /* inside the jmp itself */
    text = disassemble(&img, &ok);
    assert_false(ok);
    free(text);
    img.funcs[0].code[1] = 99; /* past the end */
    text = disassemble(&img, &ok);
    assert_false(ok);
    free(text);
    img.funcs[0].code[1] = 5;
    img.funcs[0].nlines = 1;
    img.funcs[0].lines = malloc(sizeof(PbcLine));
    img.funcs[0].lines[0] = (PbcLine){ 2, 1 };
    text = disassemble(&img, &ok);
    assert_false(ok);
    free(text);
    pvmB_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_program),
        cmocka_unit_test(test_inline_constants_are_shared),
        cmocka_unit_test(test_explicit_pool_and_indices),
        cmocka_unit_test(test_float_literals_exact),
        cmocka_unit_test(test_int_literals),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_labels_and_forward_references),
        cmocka_unit_test(test_lines_and_upvalues),
        cmocka_unit_test(test_computed_maxstack),
        cmocka_unit_test(test_explicit_fields_are_kept),
        cmocka_unit_test(test_modules_and_names),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_several_errors_in_one_run),
        cmocka_unit_test(test_error_count_is_capped),
        cmocka_unit_test(test_garbage_never_crashes),
        cmocka_unit_test(test_round_trip_rich_program),
        cmocka_unit_test(test_disassembly_is_readable),
        cmocka_unit_test(test_round_trip_built_image),
        cmocka_unit_test(test_round_trip_random_images),
        cmocka_unit_test(test_disassemble_rejects_undecodable_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
