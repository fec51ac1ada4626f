/* Unit tests for vm/bytecode/verify.c: valid programs pass, and each verification
 * rule of docs/bytecode.md, broken on its own, fails with a message naming
 * the function, the offset and the rule. Last, every malformed file in
 * tests/bad is rejected with the message its .err file records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode/opcodes.h"
#include "vm/bytecode/pbc.h"

/* ------------------------------------------------------------ helpers */

typedef struct {
    uint8_t b[1024];
    uint32_t n;
} Code;

static uint32_t op(Code *c, Opcode o)
{
    uint32_t at = c->n;
    c->b[c->n++] = (uint8_t)o;
    return at;
}

/* Emits [o] with a 32-bit operand and returns the operand's position. */
static uint32_t opn(Code *c, Opcode o, int64_t v)
{
    op(c, o);
    uint32_t at = c->n;
    for (int i = 0; i < 4; i++)
        c->b[c->n++] = (uint8_t)((uint64_t)v >> (8 * i));
    return at;
}

/* Points the jump whose operand is at [at] to the current end. */
static void land(Code *c, uint32_t at)
{
    for (int i = 0; i < 4; i++)
        c->b[at + i] = (uint8_t)(c->n >> (8 * i));
}

static void *copy_of(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    assert_non_null(q);
    memcpy(q, p, n);
    return q;
}

static void set_code(PbcFunc *f, const Code *c)
{
    free(f->code);
    f->code = copy_of(c->b, c->n);
    f->codelen = c->n;
}

/* Constants of base_image(). */
enum { K_MAIN, K_PROG, K_FILE, K_INT, K_X, K_FLOAT, K_PRINT };

/* Module 0 ("prog", globals x and main) whose main function 0 runs [code]. */
static void base_image(PbcImage *img, const Code *code, uint32_t maxstack, uint32_t nlocals)
{
    pvmB_init(img);
    pvmB_const_string(img, "main", 4);
    pvmB_const_string(img, "prog", 4);
    pvmB_const_string(img, "prog.pv", 7);
    pvmB_const_int(img, 42);
    pvmB_const_string(img, "x", 1);
    pvmB_const_float(img, 1.5);
    pvmB_const_string(img, "print", 5);
    uint32_t fi = pvmB_add_func(img);
    PbcFunc *f = &img->funcs[fi];
    f->name = K_MAIN;
    f->maxstack = maxstack;
    f->nlocals = nlocals;
    set_code(f, code);
    uint32_t mi = pvmB_add_module(img);
    PbcModule *m = &img->modules[mi];
    m->name = K_PROG;
    m->file = K_FILE;
    m->main = fi;
    uint32_t globals[] = { K_X, K_MAIN };
    m->globals = copy_of(globals, sizeof globals);
    m->nglobals = 2;
}

/* Appends a function of module 0 running [code]; returns its index. */
static uint32_t add_func(PbcImage *img, const char *name, const Code *code, uint32_t nparams, uint32_t nlocals,
                         uint32_t maxstack)
{
    uint32_t fi = pvmB_add_func(img);
    PbcFunc *f = &img->funcs[fi];
    if (name)
        f->name = pvmB_const_string(img, name, (uint32_t)strlen(name));
    f->nparams = nparams;
    f->nlocals = nlocals;
    f->maxstack = maxstack;
    set_code(f, code);
    return fi;
}

static void set_upvals(PbcFunc *f, const PbcUpval *u, uint32_t n)
{
    f->upvals = copy_of(u, n * sizeof *u);
    f->nupvals = n;
}

static void expect_valid(PbcImage *img)
{
    char err[256] = "";
    if (!pvmB_verify(img, err, sizeof err))
        fail_msg("rejected a valid image: %s", err);
    pvmB_free(img);
}

/* Verification must fail with exactly [want]. */
static void expect_invalid(PbcImage *img, const char *want)
{
    char err[256] = "";
    bool ok = pvmB_verify(img, err, sizeof err);
    pvmB_free(img);
    if (ok)
        fail_msg("accepted an invalid image; wanted \"%s\"", want);
    if (strcmp(err, want) != 0)
        fail_msg("got    \"%s\"\nwanted \"%s\"", err, want);
}

/* The common case: main runs [code] with generous limits. */
static void expect_code_error(const Code *code, const char *want)
{
    PbcImage img;
    base_image(&img, code, 8, 2);
    expect_invalid(&img, want);
}

static Code ret_one(void)
{
    Code c = { .n = 0 };
    opn(&c, OP_INT, 1);
    op(&c, OP_RET);
    return c;
}

/* ------------------------------------------------------ valid programs */

static void test_valid_minimal(void **state)
{
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 0);
    expect_valid(&img);
}

/* Loops, a try block, a closure capturing a local, calls, short-circuit
 * jumps, arrays, maps and fields in one function. Returns its maximum
 * stack depth via [maxstack]. */
static Code rich_main(uint32_t *maxstack)
{
    Code c = { .n = 0 };
    opn(&c, OP_INT, 0);
    opn(&c, OP_SETLOCAL, 0);
    opn(&c, OP_INT, 1);
    opn(&c, OP_INT, 10);
    op(&c, OP_RANGE);
    uint32_t loop = c.n;
    uint32_t done = opn(&c, OP_FORNEXT, 0);
    opn(&c, OP_GETLOCAL, 0); /* depth 4: the deepest point */
    op(&c, OP_ADD);
    opn(&c, OP_SETLOCAL, 0);
    opn(&c, OP_JMP, loop);
    land(&c, done);
    uint32_t handler = opn(&c, OP_TRY, 0);
    opn(&c, OP_GETNAME, K_PRINT);
    opn(&c, OP_GETGLOBAL, 0);
    opn(&c, OP_CALL, 1);
    op(&c, OP_POP);
    op(&c, OP_ENDTRY);
    uint32_t after = opn(&c, OP_JMP, 0);
    land(&c, handler);
    op(&c, OP_POP);
    land(&c, after);
    opn(&c, OP_CLOSURE, 1);
    opn(&c, OP_SETLOCAL, 1);
    opn(&c, OP_CLOSE, 0);
    opn(&c, OP_GETLOCAL, 1);
    opn(&c, OP_INT, 5);
    opn(&c, OP_CALL, 1);
    uint32_t skip = opn(&c, OP_JMPTK, 0);
    opn(&c, OP_INT, 7);
    land(&c, skip);
    opn(&c, OP_CONST, K_FLOAT);
    opn(&c, OP_MAP, 1);
    op(&c, OP_DUP);
    opn(&c, OP_CONST, K_INT);
    opn(&c, OP_SETFIELD, K_X);
    opn(&c, OP_GETFIELD, K_X);
    op(&c, OP_NIL);
    op(&c, OP_TRUE);
    opn(&c, OP_ARRAY, 2);
    op(&c, OP_SWAP);
    op(&c, OP_POP);
    opn(&c, OP_IMPORT, 0);
    op(&c, OP_POP);
    op(&c, OP_RET);
    op(&c, OP_ADD); /* unreachable, but decodes: allowed */
    op(&c, OP_THROW);
    *maxstack = 4;
    return c;
}

/* fn (x) { return x + captured; } */
static uint32_t add_adder(PbcImage *img)
{
    Code c = { .n = 0 };
    opn(&c, OP_GETLOCAL, 0);
    opn(&c, OP_GETUPVAL, 0);
    op(&c, OP_ADD);
    op(&c, OP_RET);
    uint32_t fi = add_func(img, "adder", &c, 1, 1, 2);
    PbcUpval up = { .from_local = 1, .index = 0 };
    set_upvals(&img->funcs[fi], &up, 1);
    return fi;
}

static void test_valid_rich(void **state)
{
    uint32_t maxstack;
    Code c = rich_main(&maxstack);
    PbcImage img;
    base_image(&img, &c, maxstack, 2);
    assert_int_equal(add_adder(&img), 1);
    img.funcs[0].nlines = 3;
    PbcLine lines[] = { { 0, 1 }, { 5, 2 }, { c.n - 1, 9 } };
    img.funcs[0].lines = copy_of(lines, sizeof lines);
    expect_valid(&img);
}

static void test_rich_needs_its_maxstack(void **state)
{
    uint32_t maxstack;
    Code c = rich_main(&maxstack);
    PbcImage img;
    base_image(&img, &c, maxstack - 1, 2);
    add_adder(&img);
    expect_invalid(&img, "main at offset 26: stack depth 4 exceeds declared maximum 3");
}

static void test_valid_variadic_and_nested_closure(void **state)
{
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 0);
    Code inner = { .n = 0 };
    opn(&inner, OP_GETUPVAL, 1);
    op(&inner, OP_RET);
    Code outer = { .n = 0 };
    opn(&outer, OP_CLOSURE, 2);
    op(&outer, OP_RET);
    uint32_t fo = add_func(&img, "outer", &outer, 2, 3, 1); /* 2 params + rest array */
    img.funcs[fo].flags = PBC_FUNC_VARIADIC;
    PbcUpval outer_up = { .from_local = 1, .index = 2 };
    set_upvals(&img.funcs[fo], &outer_up, 1);
    uint32_t fi = add_func(&img, NULL, &inner, 0, 0, 1);
    PbcUpval inner_up[] = { { .from_local = 1, .index = 2 }, { .from_local = 0, .index = 0 } };
    set_upvals(&img.funcs[fi], inner_up, 2);
    expect_valid(&img);
}

static void test_unreachable_code_may_underflow(void **state)
{
    Code c = ret_one();
    op(&c, OP_ADD);
    op(&c, OP_ADD);
    op(&c, OP_RET);
    PbcImage img;
    base_image(&img, &c, 1, 0);
    expect_valid(&img);
}

static void test_unreachable_code_must_decode(void **state)
{
    Code c = ret_one();
    op(&c, (Opcode)0xEE);
    expect_code_error(&c, "main at offset 6: unknown opcode 238");
}

static void test_unreachable_operands_checked(void **state)
{
    Code c = ret_one();
    opn(&c, OP_CONST, 99);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 6: constant index 99 out of range (pool has 7)");
}

/* ------------------------------------------------ rule 1: decoding */

static void test_unknown_opcode(void **state)
{
    Code c = { .n = 0 };
    op(&c, OP__COUNT);
    op(&c, OP_RET);
    char want[64];
    snprintf(want, sizeof want, "main at offset 0: unknown opcode %d", OP__COUNT);
    expect_code_error(&c, want);
}

static void test_operand_truncated(void **state)
{
    Code c = ret_one();
    c.b[c.n++] = OP_JMP;
    c.b[c.n++] = 0;
    c.b[c.n++] = 0;
    expect_code_error(&c, "main at offset 6: jmp operand runs past the end of the code");
}

/* ------------------------------------------------ rule 2: jump targets */

static void test_jump_mid_instruction(void **state)
{
    Code c = { .n = 0 };
    opn(&c, OP_INT, 1);
    opn(&c, OP_JMP, 3);
    expect_code_error(&c, "main at offset 5: jump target 3 is not an instruction boundary");
}

static void test_jump_outside_code(void **state)
{
    Code c = { .n = 0 };
    opn(&c, OP_JMP, 5); /* == codelen */
    expect_code_error(&c, "main at offset 0: jump target 5 is outside the code (length 5)");
    c.n = 0;
    op(&c, OP_TRUE);
    opn(&c, OP_JMPF, 0xFFFFFFFFu);
    op(&c, OP_NIL);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 1: jump target 4294967295 is outside the code (length 8)");
}

/* ------------------------------------------------ rule 3: stack depth */

static void test_stack_underflow(void **state)
{
    Code c = { .n = 0 };
    op(&c, OP_ADD);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 0: stack underflow (depth 0, pops 2)");
    c.n = 0;
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 0: stack underflow (depth 0, pops 1)");
}

static void test_call_count_pops_arguments(void **state)
{
    Code c = { .n = 0 };
    opn(&c, OP_INT, 1);
    opn(&c, OP_CALL, 1);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 5: stack underflow (depth 1, pops 2)");
    c.n = 0;
    op(&c, OP_NIL);
    op(&c, OP_NIL);
    opn(&c, OP_MAP, 1);
    opn(&c, OP_MAP, 1);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 7: stack underflow (depth 1, pops 2)");
}

static void test_huge_counts_do_not_overflow(void **state)
{
    Code c = { .n = 0 };
    op(&c, OP_NIL);
    opn(&c, OP_MAP, 0xFFFFFFFFu);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 1: map count 4294967295 exceeds the limit 65535");
    c.n = 0;
    op(&c, OP_NIL);
    opn(&c, OP_CALL, 256);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 1: call count 256 exceeds the limit 255");
    c.n = 0;
    op(&c, OP_NIL);
    opn(&c, OP_ARRAY, 65535);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 1: stack underflow (depth 1, pops 65535)");
}

static void test_depth_mismatch_at_join(void **state)
{
    Code c = { .n = 0 };
    op(&c, OP_TRUE);
    uint32_t j = opn(&c, OP_JMPF, 0);
    opn(&c, OP_INT, 1);
    land(&c, j);
    opn(&c, OP_INT, 2);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 11: inconsistent stack depth at join (0 vs 1)");
}

static void test_loop_growing_stack(void **state)
{
    Code c = { .n = 0 };
    op(&c, OP_NIL);
    opn(&c, OP_JMP, 0);
    expect_code_error(&c, "main at offset 0: inconsistent stack depth at join (0 vs 1)");
}

static void test_exceeds_maxstack(void **state)
{
    Code c = { .n = 0 };
    opn(&c, OP_INT, 1);
    opn(&c, OP_INT, 2);
    op(&c, OP_ADD);
    op(&c, OP_RET);
    PbcImage img;
    base_image(&img, &c, 1, 0);
    expect_invalid(&img, "main at offset 5: stack depth 2 exceeds declared maximum 1");
    base_image(&img, &c, 2, 0);
    expect_valid(&img);
}

static void test_handler_depth_counts(void **state)
{
    /* The handler entry pushes the thrown value above the try's depth. */
    Code c = { .n = 0 };
    opn(&c, OP_INT, 1);
    uint32_t h = opn(&c, OP_TRY, 0);
    op(&c, OP_ENDTRY);
    op(&c, OP_RET);
    land(&c, h);
    op(&c, OP_RET);
    PbcImage img;
    base_image(&img, &c, 1, 0);
    expect_invalid(&img, "main at offset 5: stack depth 2 exceeds declared maximum 1");
}

/* ------------------------------------------------ rule 4: try depth */

static void test_endtry_at_depth_zero(void **state)
{
    Code c = { .n = 0 };
    op(&c, OP_ENDTRY);
    op(&c, OP_NIL);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 0: endtry at try depth 0 (no try block is open)");
}

static void test_endtry_in_handler(void **state)
{
    /* The handler runs after the throw removed its try: endtry there is wrong. */
    Code c = { .n = 0 };
    uint32_t h = opn(&c, OP_TRY, 0);
    op(&c, OP_ENDTRY);
    op(&c, OP_NIL);
    op(&c, OP_RET);
    land(&c, h);
    op(&c, OP_ENDTRY);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 8: endtry at try depth 0 (no try block is open)");
}

static void test_try_depth_mismatch(void **state)
{
    Code c = { .n = 0 };
    uint32_t h = opn(&c, OP_TRY, 0);
    uint32_t l = opn(&c, OP_JMP, 0);
    land(&c, h);
    op(&c, OP_POP);
    land(&c, l);
    op(&c, OP_NIL);
    op(&c, OP_RET);
    expect_code_error(&c, "main at offset 11: inconsistent try depth at join (1 vs 0)");
}

/* ------------------------------------------------ rule 5: indices */

static void test_index_ranges(void **state)
{
    struct {
        Opcode op;
        int64_t v;
        const char *want;
    } cases[] = {
        { OP_CONST, 7, "main at offset 0: constant index 7 out of range (pool has 7)" },
        { OP_GETLOCAL, 2, "main at offset 0: local index 2 out of range (function has 2 locals)" },
        { OP_CLOSE, 9, "main at offset 0: local index 9 out of range (function has 2 locals)" },
        { OP_GETUPVAL, 0, "main at offset 0: upvalue index 0 out of range (function has 0 upvalues)" },
        { OP_GETGLOBAL, 2, "main at offset 0: global index 2 out of range (module 0 has 2 globals)" },
        { OP_CLOSURE, 1, "main at offset 0: function index 1 out of range (image has 1 functions)" },
        { OP_IMPORT, 1, "main at offset 0: module index 1 out of range (image has 1 modules)" },
        { OP_GETNAME, 99, "main at offset 0: constant index 99 out of range (pool has 7)" },
        { OP_GETNAME, K_INT, "main at offset 0: getname needs a string constant but constant 3 is an int" },
        { OP_GETFIELD, K_FLOAT, "main at offset 0: getfield needs a string constant but constant 5 is a float" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Code c = { .n = 0 };
        opn(&c, cases[i].op, cases[i].v);
        op(&c, OP_RET);
        expect_code_error(&c, cases[i].want);
    }
}

static void test_set_instructions_checked(void **state)
{
    Code c = { .n = 0 };
    op(&c, OP_NIL);
    opn(&c, OP_SETLOCAL, 5);
    expect_code_error(&c, "main at offset 1: local index 5 out of range (function has 2 locals)");
    c.n = 0;
    op(&c, OP_NIL);
    opn(&c, OP_SETGLOBAL, 0xFFFFFFFFu);
    expect_code_error(&c, "main at offset 1: global index 4294967295 out of range (module 0 has 2 globals)");
    c.n = 0;
    op(&c, OP_NIL);
    op(&c, OP_NIL);
    opn(&c, OP_SETFIELD, K_INT);
    expect_code_error(&c, "main at offset 2: setfield needs a string constant but constant 3 is an int");
    c.n = 0;
    op(&c, OP_NIL);
    opn(&c, OP_SETUPVAL, 0);
    expect_code_error(&c, "main at offset 1: upvalue index 0 out of range (function has 0 upvalues)");
}

static void test_globals_of_own_module(void **state)
{
    /* Function 1 belongs to module 1, which has no globals. */
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 0);
    Code g = { .n = 0 };
    opn(&g, OP_GETGLOBAL, 0);
    op(&g, OP_RET);
    uint32_t fi = add_func(&img, "lib", &g, 0, 0, 1);
    img.funcs[fi].module = 1;
    uint32_t mi = pvmB_add_module(&img);
    img.modules[mi] = (PbcModule){ .name = K_X, .file = K_FILE, .main = fi };
    expect_invalid(&img, "lib at offset 0: global index 0 out of range (module 1 has 0 globals)");
}

/* ------------------------------------------------ rule 6: the end */

static void test_falls_off_end(void **state)
{
    Code c = { .n = 0 };
    opn(&c, OP_INT, 1);
    op(&c, OP_POP);
    expect_code_error(&c, "main at offset 5: code falls off the end");
    c.n = 0;
    op(&c, OP_TRUE);
    opn(&c, OP_JMPT, 0);
    expect_code_error(&c, "main at offset 1: code falls off the end");
    c.n = 0;
    opn(&c, OP_JMP, 0); /* an endless loop ends the code properly */
    PbcImage img;
    base_image(&img, &c, 0, 0);
    expect_valid(&img);
}

/* ------------------------------------------------ rule 7: closures */

static void test_closure_local_out_of_range(void **state)
{
    Code c = { .n = 0 };
    opn(&c, OP_CLOSURE, 1);
    op(&c, OP_RET);
    PbcImage img;
    base_image(&img, &c, 1, 0); /* main has no locals; adder captures local 0 */
    add_adder(&img);
    expect_invalid(&img,
                   "main at offset 0: closure 1: upvalue 0 captures local 0, out of range (function has 0 locals)");
}

static void test_closure_upvalue_out_of_range(void **state)
{
    Code c = { .n = 0 };
    opn(&c, OP_CLOSURE, 1);
    op(&c, OP_RET);
    PbcImage img;
    base_image(&img, &c, 1, 1);
    Code inner = ret_one();
    uint32_t fi = add_func(&img, "inner", &inner, 0, 0, 1);
    PbcUpval ups[] = { { .from_local = 1, .index = 0 }, { .from_local = 0, .index = 3 } };
    set_upvals(&img.funcs[fi], ups, 2);
    expect_invalid(
        &img, "main at offset 0: closure 1: upvalue 1 captures upvalue 3, out of range (function has 0 upvalues)");
}

/* ------------------------------------------------ rule 8: line table */

static void expect_line_error(const PbcLine *lines, uint32_t n, const char *want)
{
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 0);
    img.funcs[0].lines = copy_of(lines, n * sizeof *lines);
    img.funcs[0].nlines = n;
    expect_invalid(&img, want);
}

static void test_line_table(void **state)
{
    PbcLine mid[] = { { 0, 1 }, { 2, 1 } };
    expect_line_error(mid, 2, "main at offset 2: line table entry 1 is not at an instruction boundary");
    PbcLine same[] = { { 0, 1 }, { 5, 2 }, { 5, 3 } };
    expect_line_error(same, 3, "main at offset 5: line table entry 2 does not follow entry 1's offset 5");
    PbcLine back[] = { { 5, 1 }, { 0, 2 } };
    expect_line_error(back, 2, "main at offset 0: line table entry 1 does not follow entry 0's offset 5");
    PbcLine out[] = { { 6, 1 } };
    expect_line_error(out, 1, "main at offset 6: line table entry 0 is outside the code (length 6)");
}

/* ------------------------------------------------ function headers */

static void test_params_need_locals(void **state)
{
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 0);
    uint32_t fi = add_func(&img, "f", &c, 2, 1, 1);
    expect_invalid(&img, "function 1 (f): nparams 2 exceeds nlocals 1");
    base_image(&img, &c, 1, 0);
    fi = add_func(&img, "g", &c, 2, 2, 1);
    img.funcs[fi].flags = PBC_FUNC_VARIADIC;
    expect_invalid(&img, "function 1 (g): nparams 2 plus the rest array exceeds nlocals 2");
}

static void test_empty_code(void **state)
{
    Code c = ret_one();
    Code none = { .n = 0 };
    PbcImage img;
    base_image(&img, &c, 1, 0);
    add_func(&img, NULL, &none, 0, 0, 0);
    expect_invalid(&img, "function 1 (<anon>): code is empty");
}

static void test_function_name_and_module(void **state)
{
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 0);
    img.funcs[0].name = K_INT;
    expect_invalid(&img, "function 0: name 3 is not a string constant");
    base_image(&img, &c, 1, 0);
    img.funcs[0].name = 1000;
    expect_invalid(&img, "function 0: name 1000 is not a string constant");
    base_image(&img, &c, 1, 0);
    img.funcs[0].module = 4;
    expect_invalid(&img, "function 0 (main): module 4 out of range (1 modules)");
}

static void test_header_limits(void **state)
{
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 0);
    img.funcs[0].nlocals = PBC_MAX_LOCALS + 1;
    expect_invalid(&img, "function 0 (main): local count 65536 exceeds the limit 65535");
    base_image(&img, &c, PBC_MAX_STACK + 1, 0);
    expect_invalid(&img, "function 0 (main): maximum stack depth 65536 exceeds the limit 65535");
    base_image(&img, &c, 1, 300);
    add_func(&img, "f", &c, 256, 300, 1);
    expect_invalid(&img, "function 1 (f): parameter count 256 exceeds the limit 255");
    base_image(&img, &c, 1, 0);
    img.funcs[0].flags = 4;
    expect_invalid(&img, "function 0 (main): unknown flag bits 0x04");
    base_image(&img, &c, 1, 0);
    uint32_t fi = add_func(&img, "f", &c, 0, 0, 1);
    PbcUpval bad = { .from_local = 2, .index = 0 };
    set_upvals(&img.funcs[fi], &bad, 1);
    expect_invalid(&img, "function 1 (f): upvalue 0 has kind 2, neither 0 (upvalue) nor 1 (local)");
}

/* ------------------------------------------------ the module table */

static void test_needs_a_module(void **state)
{
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 0);
    free(img.modules[0].globals);
    img.nmodules = 0;
    expect_invalid(&img, "image has no modules (module 0 is the program)");
}

static void test_module_fields(void **state)
{
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 0);
    img.modules[0].name = K_INT;
    expect_invalid(&img, "module 0: name 3 is not a string constant");
    base_image(&img, &c, 1, 0);
    img.modules[0].file = 77;
    expect_invalid(&img, "module 0: file name 77 is not a string constant");
    base_image(&img, &c, 1, 0);
    img.modules[0].main = 1;
    expect_invalid(&img, "module 0: main function 1 out of range (1 functions)");
    base_image(&img, &c, 1, 0);
    img.modules[0].globals[1] = K_FLOAT;
    expect_invalid(&img, "module 0: name 5 of global 1 is not a string constant");
}

static void test_module_main_shape(void **state)
{
    Code c = ret_one();
    PbcImage img;
    base_image(&img, &c, 1, 1);
    img.funcs[0].nparams = 1;
    expect_invalid(&img, "module 0: main function 0 (main) must take no parameters");
    base_image(&img, &c, 1, 1);
    img.funcs[0].flags = PBC_FUNC_VARIADIC;
    expect_invalid(&img, "module 0: main function 0 (main) must take no parameters");
    base_image(&img, &c, 1, 1);
    PbcUpval up = { .from_local = 1, .index = 0 };
    set_upvals(&img.funcs[0], &up, 1);
    expect_invalid(&img, "module 0: main function 0 (main) must have no upvalues");
    /* Module 1's main must run against module 1's globals. */
    base_image(&img, &c, 1, 0);
    uint32_t fi = add_func(&img, "libmain", &c, 0, 0, 1);
    uint32_t mi = pvmB_add_module(&img);
    img.modules[mi] = (PbcModule){ .name = K_X, .file = K_FILE, .main = fi };
    expect_invalid(&img, "module 1: main function 1 (libmain) belongs to module 0");
}

static void test_error_buffer_truncates(void **state)
{
    Code c = { .n = 0 };
    op(&c, OP_ADD);
    op(&c, OP_RET);
    PbcImage img;
    base_image(&img, &c, 2, 0);
    char err[10];
    assert_false(pvmB_verify(&img, err, sizeof err));
    assert_string_equal(err, "main at o");
    assert_false(pvmB_verify(&img, NULL, 0));
    pvmB_free(&img);
}

/* ------------------------------------------------ tests/bad */

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

/* [path] must be rejected with a message that starts with its .err text. */
static void check_bad_file(const char *path)
{
    char errpath[512], msg[512] = "";
    snprintf(errpath, sizeof errpath, "%.*s.err", (int)(strlen(path) - 4), path);
    size_t len, wantlen;
    uint8_t *bytes = slurp(path, &len);
    char *want = (char *)slurp(errpath, &wantlen);
    if (!bytes || !want || wantlen == 0)
        fail_msg("%s: cannot read it or its .err file", path);
    while (wantlen > 0 && want[wantlen - 1] == '\n')
        wantlen--;
    PbcImage img;
    bool ok = pvmB_read(bytes, len, &img, msg, sizeof msg);
    if (ok) {
        ok = pvmB_verify(&img, msg, sizeof msg);
        pvmB_free(&img);
    }
    if (ok)
        fail_msg("%s: accepted", path);
    if (strlen(msg) < wantlen || memcmp(msg, want, wantlen) != 0)
        fail_msg("%s:\n  got    \"%s\"\n  wanted \"%.*s\"", path, msg, (int)wantlen, want);
    free(bytes);
    free(want);
}

static void test_bad_files_rejected(void **state)
{
    DIR *dir = opendir("tests/bad");
    if (!dir)
        fail_msg("tests/bad not found: run the tests from the repository root");
    int count = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".pbc") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "tests/bad/%s", e->d_name);
        check_bad_file(path);
        count++;
    }
    closedir(dir);
    if (count < 32)
        fail_msg("only %d files in tests/bad", count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_minimal),
        cmocka_unit_test(test_valid_rich),
        cmocka_unit_test(test_rich_needs_its_maxstack),
        cmocka_unit_test(test_valid_variadic_and_nested_closure),
        cmocka_unit_test(test_unreachable_code_may_underflow),
        cmocka_unit_test(test_unreachable_code_must_decode),
        cmocka_unit_test(test_unreachable_operands_checked),
        cmocka_unit_test(test_unknown_opcode),
        cmocka_unit_test(test_operand_truncated),
        cmocka_unit_test(test_jump_mid_instruction),
        cmocka_unit_test(test_jump_outside_code),
        cmocka_unit_test(test_stack_underflow),
        cmocka_unit_test(test_call_count_pops_arguments),
        cmocka_unit_test(test_huge_counts_do_not_overflow),
        cmocka_unit_test(test_depth_mismatch_at_join),
        cmocka_unit_test(test_loop_growing_stack),
        cmocka_unit_test(test_exceeds_maxstack),
        cmocka_unit_test(test_handler_depth_counts),
        cmocka_unit_test(test_endtry_at_depth_zero),
        cmocka_unit_test(test_endtry_in_handler),
        cmocka_unit_test(test_try_depth_mismatch),
        cmocka_unit_test(test_index_ranges),
        cmocka_unit_test(test_set_instructions_checked),
        cmocka_unit_test(test_globals_of_own_module),
        cmocka_unit_test(test_falls_off_end),
        cmocka_unit_test(test_closure_local_out_of_range),
        cmocka_unit_test(test_closure_upvalue_out_of_range),
        cmocka_unit_test(test_line_table),
        cmocka_unit_test(test_params_need_locals),
        cmocka_unit_test(test_empty_code),
        cmocka_unit_test(test_function_name_and_module),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_needs_a_module),
        cmocka_unit_test(test_module_fields),
        cmocka_unit_test(test_module_main_shape),
        cmocka_unit_test(test_error_buffer_truncates),
        cmocka_unit_test(test_bad_files_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
