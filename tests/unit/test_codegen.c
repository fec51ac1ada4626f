/* Unit tests for compiler/resolve.c, codegen.c and modules.c: the exact
 * instruction sequences of the code generation conventions, maxstack,
 * locals, upvalue descriptors, line tables, scope errors, module search
 * and bundling (source and .pbc modules, cycles), that every program in
 * tests/programs compiles to verifiable bytecode, and a bounded fuzz run
 * of the whole compiler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compiler/compiler.h"
#include "vm/bytecode/opcodes.h"
#include "vm/bytecode/pbc.h"
#include "test_util.h"

/* ------------------------------------------------------------ helpers */

typedef struct {
    PbcImage img;
    bool ok;
    char *errors;
    size_t errlen;
} Compiled;

static Compiled *compile_opt(const char *src, const CcOptions *opt)
{
    Compiled *c = calloc(1, sizeof *c);
    FILE *err = open_memstream(&c->errors, &c->errlen);
    c->ok = pvmC_compile_source(src, strlen(src), "t.pv", opt, &c->img, err);
    fclose(err);
    return c;
}

static Compiled *compile(const char *src) { return compile_opt(src, NULL); }

static void compiled_free(Compiled *c)
{
    pvmB_free(&c->img);
    free(c->errors);
    free(c);
}

/* Compiles [src], which must succeed and verify. */
static Compiled *compile_ok(const char *src)
{
    Compiled *c = compile(src);
    if (!c->ok)
        print_error("compile failed for:\n%s\n%s\n", src, c->errors);
    assert_true(c->ok);
    char err[256];
    bool verified = pvmB_verify(&c->img, err, sizeof err);
    if (!verified)
        print_error("verify failed: %s\n", err);
    assert_true(verified);
    return c;
}

static const char *const_text(const PbcImage *img, uint32_t k, char *buf, size_t size)
{
    const PbcConst *c = &img->consts[k];
    if (c->kind == PBC_CONST_STRING)
        snprintf(buf, size, "\"%s\"", c->str);
    else if (c->kind == PBC_CONST_INT)
        snprintf(buf, size, "%lld", (long long)c->i);
    else
        snprintf(buf, size, "%g", c->f);
    return buf;
}

/* Function [fi]'s code as "op operand; op; ..." with jump targets as
 * instruction numbers ("jmp ->3") and constants by value. */
static char *listing(const PbcImage *img, uint32_t fi)
{
    const PbcFunc *f = &img->funcs[fi];
    uint32_t index_of[4096] = { 0 };
    uint32_t n = 0;
    PbcInsn in;
    for (uint32_t off = 0; off < f->codelen && off < 4096; off += in.size) {
        pvmB_decode(f->code, f->codelen, off, &in);
        index_of[off] = n++;
    }
    char *out = calloc(1, 16384);
    size_t k = 0;
    for (uint32_t off = 0; off < f->codelen; off += in.size) {
        pvmB_decode(f->code, f->codelen, off, &in);
        const OpcodeInfo *info = &pvmB_opcode_info[in.op];
        char buf[128];
        k += (size_t)snprintf(out + k, 16384 - k, "%s%s", k ? "; " : "", info->mnemonic);
        switch (info->operand) {
        case OPND_NONE: break;
        case OPND_CONST: case OPND_NAME: case OPND_FIELD:
            k += (size_t)snprintf(out + k, 16384 - k, " %s", const_text(img, (uint32_t)in.operand, buf, sizeof buf));
            break;
        case OPND_TARGET:
            k += (size_t)snprintf(out + k, 16384 - k, " ->%u", index_of[in.operand]);
            break;
        default:
            k += (size_t)snprintf(out + k, 16384 - k, " %lld", (long long)in.operand);
        }
    }
    return out;
}

/* The function named [name] (or main when NULL). */
static uint32_t func_named(const PbcImage *img, const char *name)
{
    if (!name)
        return img->modules[0].main;
    for (uint32_t i = 0; i < img->nfuncs; i++)
        if (img->funcs[i].name != PBC_NONE && strcmp(img->consts[img->funcs[i].name].str, name) == 0)
            return i;
    fail_msg("no function %s", name);
    return 0;
}

/* [src] compiles and function [fn]'s listing contains [want]. */
static void expect_code(const char *src, const char *fn, const char *want)
{
    Compiled *c = compile_ok(src);
    char *got = listing(&c->img, func_named(&c->img, fn));
    bool ok = strstr(got, want) != NULL;
    if (!ok)
        print_error("source: %s\nwant: %s\ngot:  %s\n", src, want, got);
    free(got);
    compiled_free(c);
    assert_true(ok);
}

/* [src] fails to compile with an error containing [msg]. */
static void expect_error(const char *src, const char *msg)
{
    Compiled *c = compile(src);
    bool ok = !c->ok && strstr(c->errors, msg) != NULL && c->img.nfuncs == 0;
    if (!ok)
        print_error("source: %s\nwant error: %s\ngot: %s\n", src, msg, c->errors);
    compiled_free(c);
    assert_true(ok);
}

/* ------------------------------------------------------ code shapes */

static void test_literals_and_globals(void **state)
{
    (void)state;
    expect_code("let x = 1 + 2 * 3;", NULL, "int 1; int 2; int 3; mul; add; setglobal 0; nil; ret");
    expect_code("let a = 2147483647; let b = 2147483648; let c = -2147483648; let d = -2147483649;", NULL,
                "int 2147483647; setglobal 0; const 2147483648; setglobal 1; int -2147483648; setglobal 2; "
                "const -2147483649; setglobal 3");
    expect_code("let f = 1.5; let s = \"hi\"; let n; let t = true; let u = false;", NULL,
                "const 1.5; setglobal 0; const \"hi\"; setglobal 1; nil; setglobal 2; true; setglobal 3; "
                "false; setglobal 4");
    expect_code("let a = [1, 2]; let m = {k: 1, [2]: 3};", NULL,
                "int 1; int 2; array 2; setglobal 0; const \"k\"; int 1; int 2; int 3; map 2; setglobal 1");
    expect_code("let x = 1; print(-x, !x, ~x);", NULL,
                "getname \"print\"; getglobal 0; neg; getglobal 0; not; getglobal 0; bnot; call 3; pop");
}

static void test_assignment_forms(void **state)
{
    (void)state;
    expect_code("let t = []; let i = 0; t[i] = 5;", NULL, "getglobal 0; getglobal 1; int 5; setindex");
    expect_code("let t = []; let i = 0; t[i] += 5;", NULL,
                "getglobal 0; getglobal 1; dup2; getindex; int 5; add; setindex");
    expect_code("let m = {}; m.k = 1;", NULL, "getglobal 0; int 1; setfield \"k\"");
    expect_code("let m = {}; m.k -= 1;", NULL, "getglobal 0; dup; getfield \"k\"; int 1; sub; setfield \"k\"");
    expect_code("let x = 1; x *= 3;", NULL, "getglobal 0; int 3; mul; setglobal 0");
    expect_code("fn f(a) { a %= 2; a /= 3; return a; }", "f",
                "getlocal 0; int 2; mod; setlocal 0; getlocal 0; int 3; div; setlocal 0");
}

static void test_calls_and_builtins(void **state)
{
    (void)state;
    expect_code("print(1, \"a\");", NULL, "getname \"print\"; int 1; const \"a\"; call 2; pop; nil; ret");
    expect_code("let m = {}; m.f(1)(2);", NULL, "getglobal 0; getfield \"f\"; int 1; call 1; int 2; call 1; pop");
    /* A declaration shadows the built-in. */
    expect_code("let len = 5; print(len);", NULL, "getname \"print\"; getglobal 0; call 1");
    /* Before the declaration, top-level code still sees the built-in. */
    expect_code("print(len); let len = 5;", NULL, "getname \"print\"; getname \"len\"; call 1");
    expect_error("print(nosuch);", "t.pv:1:7: error: undefined variable 'nosuch'");
    const char *extra[] = { "host_fn", NULL };
    CcOptions opt = { .extra_builtins = extra };
    Compiled *c = compile_opt("host_fn(1);", &opt);
    assert_true(c->ok);
    compiled_free(c);
    expect_error("host_fn(1);", "undefined variable 'host_fn'");
}

static void test_logic_and_conditions(void **state)
{
    (void)state;
    expect_code("let a = 1; let b = a && 2;", NULL, "getglobal 0; jmpfk ->5; int 2; setglobal 1");
    expect_code("let a = 1; let b = a || 2;", NULL, "getglobal 0; jmptk ->5; int 2; setglobal 1");
    expect_code("let a = 1; let b = a ? 2 : 3;", NULL, "getglobal 0; jmpf ->6; int 2; jmp ->7; int 3; setglobal 1");
    /* Conditions compile to jumps: no value for &&, ||, ! */
    expect_code("let a = 1; if a && !a { print(1); }", NULL,
                "getglobal 0; jmpf ->10; getglobal 0; jmpt ->10; getname \"print\"");
    expect_code("let a = 1; if a || a { print(1); }", NULL,
                "getglobal 0; jmpt ->6; getglobal 0; jmpf ->10; getname \"print\"");
    /* Constant conditions need no test. */
    expect_code("while true { print(1); }", NULL, "getname \"print\"; int 1; call 1; pop; jmp ->0");
    expect_code("if false { print(1); } print(2);", NULL, "getname \"print\"; int 2; call 1; pop; nil; ret");
    expect_code("if 1 { print(1); } else { print(2); }", NULL, "getname \"print\"; int 1; call 1; pop; nil; ret");
}

static void test_if_else_chain(void **state)
{
    (void)state;
    expect_code("fn f(x) {} let a = 1; if a { f(1); } else if a { f(2); } else { f(3); }", NULL,
                "getglobal 1; jmpf ->11; getglobal 0; int 1; call 1; pop; jmp ->22; getglobal 1; jmpf ->18; "
                "getglobal 0; int 2; call 1; pop; jmp ->22; getglobal 0; int 3; call 1; pop; nil; ret");
}

static void test_loops(void **state)
{
    (void)state;
    expect_code("for i in 0..3 { print(i); }", NULL,
                "int 0; int 3; range; fornext ->10; setlocal 0; getname \"print\"; getlocal 0; call 1; pop; "
                "jmp ->3; nil; ret");
    expect_code("let a = []; for x in a { }", NULL, "getglobal 0; iter; fornext ->7; setlocal 0; jmp ->4; nil; ret");
    /* break pops the two loop-state values; continue goes to fornext. */
    expect_code("for i in 0..3 { if i { break; } continue; }", NULL,
                "int 0; int 3; range; fornext ->11; setlocal 0; getlocal 0; jmpf ->10; pop; pop; jmp ->11; "
                "jmp ->3; nil; ret");
    expect_code("let x = 1; while x { if x { break; } continue; }", NULL,
                "getglobal 0; jmpf ->8; getglobal 0; jmpf ->7; jmp ->8; jmp ->2; nil; ret");
    /* Nested loops: break leaves only the inner one. */
    expect_code("for i in 0..2 { for j in 0..2 { break; } }", NULL,
                "fornext ->14; setlocal 0; int 0; int 2; range; fornext ->13; setlocal 1; pop; pop; jmp ->13");
}

static void test_try(void **state)
{
    (void)state;
    expect_code("try { print(1); } catch e { print(e); }", NULL,
                "try ->7; getname \"print\"; int 1; call 1; pop; endtry; jmp ->12; setlocal 0; getname \"print\"; "
                "getlocal 0; call 1; pop; nil; ret");
    expect_code("try { } catch { }", NULL, "try ->3; endtry; jmp ->4; pop; nil; ret");
    /* break and continue out of try blocks close each handler. */
    expect_code("for i in 0..2 { try { try { break; } catch e {} } catch e {} }", NULL,
                "try ->15; try ->12; endtry; endtry; pop; pop; jmp ->17");
    expect_code("let x = 1; while x { try { continue; } catch e {} }", NULL,
                "getglobal 0; jmpf ->9; try ->7; endtry; jmp ->2; setlocal 0; jmp ->2");
    /* return needs no endtry. */
    expect_code("fn f() { try { return 1; } catch e { return 2; } }", "f",
                "try ->3; int 1; ret; setlocal 0; int 2; ret");
    expect_code("throw \"x\";", NULL, "const \"x\"; throw");
}

static void test_unreachable_code_is_not_emitted(void **state)
{
    (void)state;
    Compiled *c = compile_ok("fn f() { return 1; print(2); }");
    char *got = listing(&c->img, func_named(&c->img, "f"));
    assert_string_equal(got, "int 1; ret");
    free(got);
    compiled_free(c);
    c = compile_ok("fn g(x) { if x { return 1; } else { return 2; } }");
    got = listing(&c->img, func_named(&c->img, "g"));
    assert_string_equal(got, "getlocal 0; jmpf ->4; int 1; ret; int 2; ret");
    free(got);
    compiled_free(c);
}

static void test_hoisting_and_names(void **state)
{
    (void)state;
    /* Top-level fns are bound before the first statement. */
    expect_code("print(1); fn a() { return b(); } fn b() { return 1; }", NULL,
                "closure 1; setglobal 0; closure 2; setglobal 1; getname \"print\"");
    Compiled *c = compile_ok("let named = fn () {}; let list = [fn () {}]; fn decl() {}");
    char *named = listing(&c->img, func_named(&c->img, "named"));
    assert_string_equal(named, "nil; ret");
    free(named);
    int anon = 0;
    for (uint32_t i = 0; i < c->img.nfuncs; i++)
        anon += c->img.funcs[i].name == PBC_NONE;
    assert_int_equal(anon, 1);
    func_named(&c->img, "decl");
    func_named(&c->img, "<main>");
    compiled_free(c);
}

static void test_function_headers(void **state)
{
    (void)state;
    Compiled *c = compile_ok("fn f(a, b, ...rest) { let x = 1; if x { let y = 2; } let z = 3; }");
    const PbcFunc *f = &c->img.funcs[func_named(&c->img, "f")];
    assert_int_equal(f->nparams, 2);
    assert_int_equal(f->flags, PBC_FUNC_VARIADIC);
    assert_int_equal(f->nlocals, 5); /* a b rest x, then y and z share a slot */
    assert_int_equal(f->nupvals, 0);
    compiled_free(c);
    c = compile_ok("fn f(...a) { return a; } let r = f(1, 2, [3, 4, {a: 5}]);");
    /* f, 1, 2, then array elements 3, 4 and map pair "a", 5 */
    assert_int_equal(c->img.funcs[c->img.modules[0].main].maxstack, 7);
    assert_int_equal(c->img.funcs[c->img.modules[0].main].nlocals, 0);
    compiled_free(c);
    c = compile_ok("let x = 1;");
    assert_int_equal(c->img.funcs[0].maxstack, 1);
    assert_int_equal(c->img.funcs[0].nparams, 0);
    compiled_free(c);
}

static void test_upvalues(void **state)
{
    (void)state;
    Compiled *c = compile_ok("fn outer(a) { let b = 2; fn mid() { fn inner() { return a + b; } return inner; } return mid; }");
    const PbcFunc *mid = &c->img.funcs[func_named(&c->img, "mid")];
    const PbcFunc *inner = &c->img.funcs[func_named(&c->img, "inner")];
    /* mid captures outer's locals a (0) and b (1); inner chains through mid's upvalues. */
    assert_int_equal(mid->nupvals, 2);
    assert_int_equal(mid->upvals[0].from_local, 1);
    assert_int_equal(mid->upvals[0].index, 0);
    assert_int_equal(mid->upvals[1].from_local, 1);
    assert_int_equal(mid->upvals[1].index, 1);
    assert_int_equal(inner->nupvals, 2);
    assert_int_equal(inner->upvals[0].from_local, 0);
    assert_int_equal(inner->upvals[0].index, 0);
    assert_int_equal(inner->upvals[1].from_local, 0);
    assert_int_equal(inner->upvals[1].index, 1);
    char *got = listing(&c->img, func_named(&c->img, "inner"));
    assert_string_equal(got, "getupval 0; getupval 1; add; ret");
    free(got);
    /* mid refers to itself through its own local slot. */
    compiled_free(c);
    expect_code("fn f() { fn rec(n) { return rec; } return rec; }", "f", "closure 2; setlocal 0; getlocal 0; ret");
    expect_code("fn f() { let n = 0; let g = fn () { n += 1; }; }", NULL, "");
    expect_code("fn f() { let n = 0; return fn () { n += 1; }; }", "<main>", "closure 1; setglobal 0");
}

static void test_closing_captured_locals(void **state)
{
    (void)state;
    /* A captured for variable is closed at the end of each iteration. */
    expect_code("let fs = []; for i in 0..2 { push(fs, fn () { return i; }); }", NULL,
                "setlocal 0; getname \"push\"; getglobal 0; closure 1; call 2; pop; close 0; jmp ->5");
    /* ... and on continue. */
    expect_code("for i in 0..2 { if i { continue; } let f = fn () { return i; }; }", NULL,
                "getlocal 0; jmpf ->9; close 0; jmp ->3; closure 1; setlocal 1; close 0; jmp ->3");
    /* A captured let in a while body is closed per iteration and on break. */
    expect_code("let x = 1; while x { let v = x; if v { break; } let f = fn () { return v; }; }", NULL,
                "getglobal 0; setlocal 0; getlocal 0; jmpf ->10; close 0; jmp ->14; closure 1; setlocal 1; close 0; jmp ->2");
    /* Uncaptured locals need no close. */
    Compiled *c = compile_ok("for i in 0..2 { let v = i; }");
    char *got = listing(&c->img, c->img.modules[0].main);
    assert_null(strstr(got, "close"));
    free(got);
    compiled_free(c);
    /* A block's captured locals are closed when it ends. */
    expect_code("if true { let a = 1; let b = fn () { return a; }; } print(1);", NULL,
                "int 1; setlocal 0; closure 1; setlocal 1; close 0; getname \"print\"");
    /* A throw skips the try body's closes, so the handler closes them. */
    expect_code("try { let a = 1; let f = fn () { return a; }; throw 1; } catch e { }", NULL,
                "try ->7; int 1; setlocal 0; closure 1; setlocal 1; int 1; throw; close 0; setlocal 0; nil; ret");
}

static void test_imports_bind_names(void **state)
{
    (void)state;
    /* Built-in modules without a file: getname. */
    expect_code("import math; print(math.pi);", NULL, "getname \"math\"; setglobal 0");
    expect_code("fn f() { import math; return math; }", "f", "getname \"math\"; setlocal 0; getlocal 0; ret");
    expect_error("import surely_not_a_module;", "t.pv:1:8: error: module 'surely_not_a_module' not found");
}

/* ------------------------------------------------------------ lines */

static void test_line_table(void **state)
{
    (void)state;
    Compiled *c = compile_ok("let a = 1;\nlet b = a +\n  a;\nprint(\n  a,\n  b);\n");
    const PbcFunc *f = &c->img.funcs[c->img.modules[0].main];
    /* Each entry starts where the line changes, at increasing offsets. */
    uint32_t want_lines[] = { 1, 2, 3, 2, 4, 5, 6, 4 };
    assert_int_equal(f->nlines, sizeof want_lines / sizeof want_lines[0]);
    for (uint32_t i = 0; i < f->nlines; i++) {
        assert_int_equal(f->lines[i].line, want_lines[i]);
        if (i)
            assert_true(f->lines[i].offset > f->lines[i - 1].offset);
    }
    /* The call instruction carries the line of the call ('('). */
    PbcInsn in;
    uint32_t call_line = 0;
    for (uint32_t off = 0, li = 0; off < f->codelen; off += in.size) {
        while (li + 1 < f->nlines && f->lines[li + 1].offset <= off)
            li++;
        pvmB_decode(f->code, f->codelen, off, &in);
        if (in.op == OP_CALL)
            call_line = f->lines[li].line;
    }
    assert_int_equal(call_line, 4);
    compiled_free(c);
}

/* ------------------------------------------------------ scope errors */

static void test_scope_errors(void **state)
{
    (void)state;
    expect_error("print(later); let later = 1;", "t.pv:1:7: error: undefined variable 'later'");
    expect_error("let x = x;", "undefined variable 'x'");
    expect_error("if true { let y = 1; } print(y);", "undefined variable 'y'");
    expect_error("let a = 1; let a = 2;", "t.pv:1:16: error: 'a' is already declared in this block");
    expect_error("fn f(a, a) {}", "duplicate parameter 'a'");
    expect_error("fn f(a) { let a = 1; }", "'a' is already declared in this block");
    expect_error("break;", "'break' outside a loop");
    expect_error("for i in 0..1 { fn f() { continue; } }", "'continue' outside a loop");
    expect_error("len = 1;", "cannot assign to built-in 'len'");
    expect_error("nothere += 1;", "undefined variable 'nothere'");
    /* Several scope errors are reported in one run. */
    Compiled *c = compile("print(u1);\nfn f() { return u2; }\nlet d = 1;\nlet d = 2;\n");
    assert_false(c->ok);
    assert_non_null(strstr(c->errors, "t.pv:1:7:"));
    assert_non_null(strstr(c->errors, "t.pv:2:17:"));
    assert_non_null(strstr(c->errors, "t.pv:4:5:"));
    compiled_free(c);
    /* Allowed: shadowing in inner blocks and functions, later globals from functions. */
    compiled_free(compile_ok("let x = 1; if x { let x = 2; } fn f(x) { return y; } let y = 3;"));
    compiled_free(compile_ok("let x = 1; if true { let t = x; let x = t + 1; }"));
    compiled_free(compile_ok("for i in 0..2 { let i = 5; }"));
}

/* [src] compiles, and its main function needs at most two stack slots. */
static void expect_shallow(const char *src)
{
    Compiled *c = compile_ok(src);
    assert_in_range(c->img.funcs[c->img.modules[0].main].maxstack, 1, 2);
    compiled_free(c);
}

static void test_limits(void **state)
{
    (void)state;
    /* Left-leaning chains are walked in a loop: a 20 000-term sum, and as
     * long a || chain as a condition, compile (nesting is what is bounded). */
    size_t n = 20000;
    char *src = malloc(n * 4 + 32);
    size_t k = (size_t)sprintf(src, "let x = 0");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(src + k, "+1");
    strcpy(src + k, ";");
    expect_shallow(src);
    k = (size_t)sprintf(src, "let y = 0; if (y");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(src + k, "||y");
    strcpy(src + k, ") {}");
    expect_shallow(src);
    /* 256 arguments are too many. */
    k = (size_t)sprintf(src, "print(");
    for (int i = 0; i < 256; i++)
        k += (size_t)sprintf(src + k, "%s1", i ? "," : "");
    strcpy(src + k, ");");
    expect_error(src, "too many arguments");
    /* 255 are fine. */
    k = (size_t)sprintf(src, "print(");
    for (int i = 0; i < 255; i++)
        k += (size_t)sprintf(src + k, "%s1", i ? "," : "");
    strcpy(src + k, ");");
    compiled_free(compile_ok(src));
    free(src);
}

/* ---------------------------------------------------------- modules */

static char tmpdir[256];

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static Compiled *compile_path(const char *path, const CcOptions *opt)
{
    Compiled *c = calloc(1, sizeof *c);
    FILE *err = open_memstream(&c->errors, &c->errlen);
    c->ok = pvmC_compile_file(path, opt, &c->img, err);
    fclose(err);
    return c;
}

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pvm_test_codegen_XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/lib", tmpdir);
    mkdir(sub, 0700);
    return 0;
}

static int teardown_tmp(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_modules_bundle_once(void **state)
{
    (void)state;
    write_text(tmpdir, "app.pv", "import util;\nimport helper;\nprint(util.f());\n");
    write_text(tmpdir, "helper.pv", "import util;\nlet _private = 1;\nlet shared = util;\n");
    write_text(tmpdir, "util.pv", "fn f() { return 1; }\n");
    char path[512];
    snprintf(path, sizeof path, "%s/app.pv", tmpdir);
    Compiled *c = compile_path(path, NULL);
    if (!c->ok)
        print_error("%s\n", c->errors);
    assert_true(c->ok);
    char err[256];
    assert_true(pvmB_verify(&c->img, err, sizeof err));
    /* app, util (compiled once, though imported twice), helper */
    assert_int_equal(c->img.nmodules, 3);
    assert_string_equal(c->img.consts[c->img.modules[0].name].str, "app");
    assert_string_equal(c->img.consts[c->img.modules[0].file].str, path);
    assert_string_equal(c->img.consts[c->img.modules[1].name].str, "util");
    assert_string_equal(c->img.consts[c->img.modules[2].name].str, "helper");
    assert_int_equal(c->img.modules[2].nglobals, 3);
    assert_string_equal(c->img.consts[c->img.modules[2].globals[1]].str, "_private");
    char *main = listing(&c->img, c->img.modules[0].main);
    assert_non_null(strstr(main, "import 1; setglobal 0; import 2; setglobal 1"));
    free(main);
    char *helper = listing(&c->img, c->img.modules[2].main);
    assert_non_null(strstr(helper, "import 1; setglobal 0"));
    free(helper);
    for (uint32_t i = 0; i < c->img.nfuncs; i++)
        if (i == c->img.modules[1].main || i == func_named(&c->img, "f"))
            assert_int_equal(c->img.funcs[i].module, 1);
    compiled_free(c);
}

static void test_module_path(void **state)
{
    (void)state;
    write_text(tmpdir, "uses_lib.pv", "import deep;\nprint(deep.v);\n");
    char lib[300], path[512];
    snprintf(lib, sizeof lib, "%s/lib", tmpdir);
    write_text(lib, "deep.pv", "let v = 42;\n");
    snprintf(path, sizeof path, "%s/uses_lib.pv", tmpdir);
    Compiled *c = compile_path(path, NULL);
    assert_false(c->ok);
    assert_non_null(strstr(c->errors, "uses_lib.pv:1:8: error: module 'deep' not found"));
    compiled_free(c);
    char dirs[700];
    snprintf(dirs, sizeof dirs, "/nonexistent::%s", lib);
    CcOptions opt = { .module_path = dirs };
    c = compile_path(path, &opt);
    if (!c->ok)
        print_error("%s\n", c->errors);
    assert_true(c->ok);
    assert_int_equal(c->img.nmodules, 2);
    compiled_free(c);
    /* The importing file's own directory wins over the path. */
    write_text(tmpdir, "deep.pv", "let v = 1; let near = true;\n");
    c = compile_path(path, &opt);
    assert_true(c->ok);
    assert_int_equal(c->img.modules[1].nglobals, 2);
    compiled_free(c);
}

static void test_import_cycles(void **state)
{
    (void)state;
    write_text(tmpdir, "ca.pv", "import cb;\n");
    write_text(tmpdir, "cb.pv", "let x = 1;\nimport cc;\n");
    write_text(tmpdir, "cc.pv", "import ca;\n");
    char path[512];
    snprintf(path, sizeof path, "%s/ca.pv", tmpdir);
    Compiled *c = compile_path(path, NULL);
    assert_false(c->ok);
    assert_non_null(strstr(c->errors, "cc.pv:1:8: error: import cycle: ca -> cb -> cc -> ca"));
    assert_int_equal(c->img.nmodules, 0);
    compiled_free(c);
}

static void test_pbc_module_is_merged(void **state)
{
    (void)state;
    /* Compile a module to a .pbc file, then import it as a module. */
    Compiled *m = compile_ok("let k = \"from pbc\";\nfn get() { return k; }\nlet _h = [1.5, 7];\n");
    uint8_t *bytes;
    size_t len;
    assert_true(pvmB_write(&m->img, &bytes, &len));
    char path[512];
    snprintf(path, sizeof path, "%s/binmod.pbc", tmpdir);
    FILE *f = fopen(path, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    free(bytes);
    compiled_free(m);
    /* A source module first, so the .pbc's functions, constants and
     * module index all move when merged. */
    write_text(tmpdir, "firstmod.pv", "fn one() { return 1; }\nlet s = \"first\";\n");
    write_text(tmpdir, "usebin.pv", "import firstmod;\nimport binmod;\nprint(binmod.get());\n");
    snprintf(path, sizeof path, "%s/usebin.pv", tmpdir);
    Compiled *c = compile_path(path, NULL);
    if (!c->ok)
        print_error("%s\n", c->errors);
    assert_true(c->ok);
    char err[256];
    bool verified = pvmB_verify(&c->img, err, sizeof err);
    if (!verified)
        print_error("%s\n", err);
    assert_true(verified);
    assert_int_equal(c->img.nmodules, 3);
    assert_string_equal(c->img.consts[c->img.modules[2].name].str, "binmod");
    assert_string_equal(c->img.consts[c->img.modules[2].globals[2]].str, "_h");
    uint32_t get_index = func_named(&c->img, "get");
    assert_true(get_index > 1);
    char *get = listing(&c->img, get_index);
    assert_string_equal(get, "getglobal 0; ret");
    free(get);
    assert_int_equal(c->img.funcs[get_index].module, 2);
    assert_int_equal(c->img.funcs[c->img.modules[2].main].module, 2);
    char *modmain = listing(&c->img, c->img.modules[2].main);
    char want[128];
    snprintf(want, sizeof want, "closure %u; setglobal 1; const \"from pbc\"; setglobal 0; const 1.5; int 7; array 2",
             get_index);
    assert_string_equal(modmain, strcat(want, "; setglobal 2; nil; ret"));
    free(modmain);
    char *prog = listing(&c->img, c->img.modules[0].main);
    assert_non_null(strstr(prog, "import 1; setglobal 0; import 2; setglobal 1"));
    free(prog);
    compiled_free(c);
    /* A corrupt .pbc is reported at the import. */
    write_text(tmpdir, "badbin.pbc", "PVMB garbage");
    write_text(tmpdir, "usebad.pv", "import badbin;\n");
    snprintf(path, sizeof path, "%s/usebad.pv", tmpdir);
    c = compile_path(path, NULL);
    assert_false(c->ok);
    assert_non_null(strstr(c->errors, "usebad.pv:1:8: error: invalid module"));
    compiled_free(c);
}

static void test_missing_program_file(void **state)
{
    (void)state;
    Compiled *c = compile_path("/nonexistent/dir/prog.pv", NULL);
    assert_false(c->ok);
    assert_non_null(strstr(c->errors, "/nonexistent/dir/prog.pv: error: cannot read file"));
    compiled_free(c);
    c = compile_path(tmpdir, NULL);
    assert_false(c->ok);
    assert_non_null(strstr(c->errors, "not a regular file"));
    compiled_free(c);
}

/* ------------------------------------------ every program verifies */

static void test_all_programs_verify(void **state)
{
    (void)state;
    const char *dirs[] = { "tests/programs", "tests/compile_errors" };
    int compiled = 0;
    for (int d = 0; d < 2; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir)
            fail_msg("run from the repository root: cannot open %s", dirs[d]);
        struct dirent *ent;
        while ((ent = readdir(dir))) {
            size_t n = strlen(ent->d_name);
            if (n < 4 || strcmp(ent->d_name + n - 3, ".pv") != 0)
                continue;
            char path[600];
            snprintf(path, sizeof path, "%s/%s", dirs[d], ent->d_name);
            Compiled *c = compile_path(path, NULL);
            if (d == 0 && !c->ok)
                fail_msg("%s does not compile: %s", path, c->errors);
            if (d == 1 && c->ok)
                fail_msg("%s compiles but should not", path);
            if (c->ok) {
                char err[256];
                if (!pvmB_verify(&c->img, err, sizeof err))
                    fail_msg("%s: %s", path, err);
                compiled++;
            }
            compiled_free(c);
        }
        closedir(dir);
    }
    assert_true(compiled >= 20);
}

/* ------------------------------------------------------------ fuzzing */

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static uint64_t rng(void) { return xorshift64(&rng_state); }

static const char *const seeds[] = {
    "fn f(a, ...r) { let s = 0; for x in r { if x { s += x; } else { continue; } } return s; }\n"
    "let m = {k: [1, 2], [3]: f};\nfor i in 0..10 { try { m.k[0] += f(i); } catch e { break; } }\n",
    "let fs = [];\nwhile len(fs) < 3 { let v = len(fs); push(fs, fn () { return v; }); }\n"
    "fn g(n) { return n < 2 ? n : g(n - 1) + g(n - 2); }\nprint(g(10) && fs[0]() || nil);\n",
    "let x = 1;\nif x == 1 { let y = fn (a) { fn z() { return a + x; } return z; }; print(y(2)()); }\n"
    "try { throw {a: x}; } catch e { print(e.a, -x, ~x, !x); }\n",
};

/* Mutated real programs compile to errors or to code that verifies. */
static void test_fuzz_compiler(void **state)
{
    (void)state;
    clock_t start = clock();
    char buf[1024];
    int runs = 0, compiled = 0;
    for (int i = 0; i < 3000 && clock() - start < 3 * CLOCKS_PER_SEC; i++, runs++) {
        const char *seed = seeds[rng() % 3];
        size_t k = strlen(seed);
        memcpy(buf, seed, k);
        int edits = 1 + (int)(rng() % 4);
        for (int j = 0; j < edits; j++) {
            size_t at = rng() % k, from = rng() % k, len = 1 + rng() % 8;
            switch (rng() % 4) {
            case 0: buf[at] = "(){}[];,.=+-!?:\"x1\n"[rng() % 19]; break;
            case 1: memmove(buf + at, buf + at + 1, k - at - 1); k--; break;
            case 2: buf[at] = (char)(rng() & 0xFF); break;
            default: /* copy a span elsewhere */
                if (from + len <= k && k + len < sizeof buf) {
                    memmove(buf + at + len, buf + at, k - at);
                    memmove(buf + at, buf + (from < at ? from : from + len), len);
                    k += len;
                }
            }
        }
        Compiled *c = calloc(1, sizeof *c);
        FILE *err = fopen("/dev/null", "w");
        c->ok = pvmC_compile_source(buf, k, "fuzz.pv", NULL, &c->img, err);
        fclose(err);
        if (c->ok) {
            char msg[256];
            if (!pvmB_verify(&c->img, msg, sizeof msg))
                fail_msg("fuzz input does not verify: %s\n%.*s", msg, (int)k, buf);
            compiled++;
        }
        compiled_free(c);
    }
    assert_true(runs > 100);
    assert_true(compiled > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_and_globals),
        cmocka_unit_test(test_assignment_forms),
        cmocka_unit_test(test_calls_and_builtins),
        cmocka_unit_test(test_logic_and_conditions),
        cmocka_unit_test(test_if_else_chain),
        cmocka_unit_test(test_loops),
        cmocka_unit_test(test_try),
        cmocka_unit_test(test_unreachable_code_is_not_emitted),
        cmocka_unit_test(test_hoisting_and_names),
        cmocka_unit_test(test_function_headers),
        cmocka_unit_test(test_upvalues),
        cmocka_unit_test(test_closing_captured_locals),
        cmocka_unit_test(test_imports_bind_names),
        cmocka_unit_test(test_line_table),
        cmocka_unit_test(test_scope_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_modules_bundle_once),
        cmocka_unit_test(test_module_path),
        cmocka_unit_test(test_import_cycles),
        cmocka_unit_test(test_pbc_module_is_merged),
        cmocka_unit_test(test_missing_program_file),
        cmocka_unit_test(test_all_programs_verify),
        cmocka_unit_test(test_fuzz_compiler),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
