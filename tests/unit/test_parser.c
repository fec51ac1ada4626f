/* Unit tests for compiler/parser.c: the tree shapes that precedence,
 * associativity and every statement form produce (printed as
 * S-expressions), syntax errors with their positions, recovery after
 * errors, the nesting bound, and a bounded fuzz run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/parser.h"
#include "test_util.h"

/* ------------------------------------------------------ S-expressions */

typedef struct {
    char buf[4096];
    size_t n;
} Out;

static void put(Out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (o->n < sizeof o->buf)
        o->n += (size_t)vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
    va_end(ap);
    if (o->n > sizeof o->buf)
        o->n = sizeof o->buf;
}

static const char *op_text(Opcode op)
{
    switch (op) {
    case OP_ADD: return "+"; case OP_SUB: return "-"; case OP_MUL: return "*";
    case OP_DIV: return "/"; case OP_MOD: return "%"; case OP_NEG: return "neg";
    case OP_NOT: return "!"; case OP_BNOT: return "~"; case OP_BAND: return "&";
    case OP_BOR: return "|"; case OP_BXOR: return "^"; case OP_SHL: return "<<";
    case OP_SHR: return ">>"; case OP_EQ: return "=="; case OP_NE: return "!=";
    case OP_LT: return "<"; case OP_LE: return "<="; case OP_GT: return ">";
    case OP_GE: return ">="; case OP_NOP: return "="; default: return "?";
    }
}

static void sx_expr(Out *o, const CcExpr *e);
static void sx_block(Out *o, const CcBlock *b);

static void sx_list(Out *o, const char *head, CcExpr **items, uint32_t n)
{
    put(o, "(%s", head);
    for (uint32_t i = 0; i < n; i++) {
        put(o, " ");
        sx_expr(o, items[i]);
    }
    put(o, ")");
}

static void sx_fn(Out *o, const CcFunc *fn)
{
    put(o, "(fn %s (", fn->name.s ? fn->name.s : "-");
    for (uint32_t i = 0; i < fn->nparams; i++)
        put(o, "%s%s", i ? " " : "", fn->params[i]->name.s);
    if (fn->rest)
        put(o, "%s...%s", fn->nparams ? " " : "", fn->rest->name.s);
    put(o, ") ");
    sx_block(o, fn->body);
    put(o, ")");
}

static void sx_expr(Out *o, const CcExpr *e)
{
    switch (e->kind) {
    case CC_EX_NIL: put(o, "nil"); return;
    case CC_EX_TRUE: put(o, "true"); return;
    case CC_EX_FALSE: put(o, "false"); return;
    case CC_EX_INT: put(o, "%lld", (long long)e->u.i); return;
    case CC_EX_FLOAT: put(o, "%gf", e->u.f); return;
    case CC_EX_STRING: put(o, "\"%.*s\"", (int)e->u.str.len, e->u.str.bytes); return;
    case CC_EX_NAME: put(o, "%s", e->u.name.name.s); return;
    case CC_EX_ARRAY: sx_list(o, "array", e->u.list.items, e->u.list.n); return;
    case CC_EX_MAP: sx_list(o, "map", e->u.list.items, e->u.list.n); return;
    case CC_EX_FN: sx_fn(o, e->u.fn); return;
    case CC_EX_UNARY:
        put(o, "(%s ", op_text(e->op));
        sx_expr(o, e->u.ops.a);
        put(o, ")");
        return;
    case CC_EX_BINARY: case CC_EX_AND: case CC_EX_OR: case CC_EX_INDEX:
        put(o, "(%s ", e->kind == CC_EX_AND ? "&&" : e->kind == CC_EX_OR ? "||"
                       : e->kind == CC_EX_INDEX ? "index" : op_text(e->op));
        sx_expr(o, e->u.ops.a);
        put(o, " ");
        sx_expr(o, e->u.ops.b);
        put(o, ")");
        return;
    case CC_EX_TERNARY:
        put(o, "(? ");
        sx_expr(o, e->u.ops.a);
        put(o, " ");
        sx_expr(o, e->u.ops.b);
        put(o, " ");
        sx_expr(o, e->u.ops.c);
        put(o, ")");
        return;
    case CC_EX_CALL:
        put(o, "(call ");
        sx_expr(o, e->u.call.callee);
        for (uint32_t i = 0; i < e->u.call.nargs; i++) {
            put(o, " ");
            sx_expr(o, e->u.call.args[i]);
        }
        put(o, ")");
        return;
    case CC_EX_FIELD:
        put(o, "(. ");
        sx_expr(o, e->u.field.obj);
        put(o, " %s)", e->u.field.name.s);
        return;
    }
}

static void sx_stmt(Out *o, const CcStmt *s)
{
    switch (s->kind) {
    case CC_ST_LET:
        put(o, "(let %s", s->u.let.var->name.s);
        if (s->u.let.init) {
            put(o, " ");
            sx_expr(o, s->u.let.init);
        }
        put(o, ")");
        return;
    case CC_ST_ASSIGN:
        put(o, "(%s%s ", s->u.assign.op == OP_NOP ? "" : op_text(s->u.assign.op), "=");
        sx_expr(o, s->u.assign.target);
        put(o, " ");
        sx_expr(o, s->u.assign.value);
        put(o, ")");
        return;
    case CC_ST_EXPR: sx_expr(o, s->u.expr); return;
    case CC_ST_IF:
        put(o, "(if ");
        sx_expr(o, s->u.if_.cond);
        put(o, " ");
        sx_block(o, s->u.if_.then);
        if (s->u.if_.els) {
            put(o, " ");
            sx_stmt(o, s->u.if_.els);
        }
        put(o, ")");
        return;
    case CC_ST_BLOCK: sx_block(o, s->u.block); return;
    case CC_ST_WHILE:
        put(o, "(while ");
        sx_expr(o, s->u.while_.cond);
        put(o, " ");
        sx_block(o, s->u.while_.body);
        put(o, ")");
        return;
    case CC_ST_FOR:
        put(o, "(for %s ", s->u.for_.var->name.s);
        sx_expr(o, s->u.for_.iter);
        if (s->u.for_.end) {
            put(o, " .. ");
            sx_expr(o, s->u.for_.end);
        }
        put(o, " ");
        sx_block(o, s->u.for_.body);
        put(o, ")");
        return;
    case CC_ST_BREAK: put(o, "(break)"); return;
    case CC_ST_CONTINUE: put(o, "(continue)"); return;
    case CC_ST_RETURN:
        put(o, "(return");
        if (s->u.expr) {
            put(o, " ");
            sx_expr(o, s->u.expr);
        }
        put(o, ")");
        return;
    case CC_ST_THROW:
        put(o, "(throw ");
        sx_expr(o, s->u.expr);
        put(o, ")");
        return;
    case CC_ST_TRY:
        put(o, "(try ");
        sx_block(o, s->u.try_.body);
        put(o, " %s ", s->u.try_.var ? s->u.try_.var->name.s : "-");
        sx_block(o, s->u.try_.handler);
        put(o, ")");
        return;
    case CC_ST_FN:
        put(o, "(def %s ", s->u.fn.var->name.s);
        sx_fn(o, s->u.fn.fn);
        put(o, ")");
        return;
    case CC_ST_IMPORT: put(o, "(import %s)", s->u.import.var->name.s); return;
    }
}

static void sx_block(Out *o, const CcBlock *b)
{
    put(o, "{");
    for (uint32_t i = 0; i < b->n; i++) {
        put(o, i ? " " : "");
        sx_stmt(o, b->stmts[i]);
    }
    put(o, "}");
}

/* ---------------------------------------------------------- helpers */

typedef struct {
    CcArena arena;
    CcDiag diag;
    jmp_buf oom;
    CcModuleAst *ast;
    char *errors;
    size_t errlen;
} Parsed;

static Parsed *parse_n(const char *src, size_t len)
{
    Parsed *p = calloc(1, sizeof *p);
    FILE *err = open_memstream(&p->errors, &p->errlen);
    pvmC_diag_init(&p->diag, err, &p->oom);
    pvmC_arena_init(&p->arena, &p->diag);
    p->ast = pvmC_parse(src, len, "t.pv", &p->arena, &p->diag);
    fclose(err);
    return p;
}

static Parsed *parse(const char *src) { return parse_n(src, strlen(src)); }

static void parsed_free(Parsed *p)
{
    pvmC_arena_free(&p->arena);
    free(p->errors);
    free(p);
}

/* Parses [src] without errors and compares its top-level block. */
static void expect_tree(const char *src, const char *want)
{
    Parsed *p = parse(src);
    Out o = { .n = 0 };
    sx_block(&o, p->ast->main->body);
    bool ok = p->diag.count == 0 && strcmp(o.buf, want) == 0;
    if (!ok)
        print_error("source: %s\nwant:   %s\ngot:    %s\nerrors: %s\n", src, want, o.buf, p->errors);
    parsed_free(p);
    assert_true(ok);
}

/* Parses [src] expecting [count] errors, each of [msgs] among them. */
static void expect_errors(const char *src, unsigned count, const char *const *msgs)
{
    Parsed *p = parse(src);
    bool ok = p->diag.count == count;
    for (const char *const *m = msgs; *m; m++)
        ok = ok && strstr(p->errors, *m) != NULL;
    if (!ok)
        print_error("source: %s\nwant %u errors, got %u:\n%s\n", src, count, p->diag.count, p->errors);
    parsed_free(p);
    assert_true(ok);
}

#define ERRORS(src, count, ...) expect_errors(src, count, (const char *const[]){ __VA_ARGS__, NULL })

/* ------------------------------------------------------------ tests */

static void test_precedence_levels(void **state)
{
    (void)state;
    expect_tree("let r = 1 + 2 * 3;", "{(let r (+ 1 (* 2 3)))}");
    expect_tree("let r = a || b && c;", "{(let r (|| a (&& b c)))}");
    expect_tree("let r = a && b == c;", "{(let r (&& a (== b c)))}");
    expect_tree("let r = a == b | c;", "{(let r (== a (| b c)))}");
    expect_tree("let r = a | b ^ c;", "{(let r (| a (^ b c)))}");
    expect_tree("let r = a ^ b & c;", "{(let r (^ a (& b c)))}");
    expect_tree("let r = a & b << c;", "{(let r (& a (<< b c)))}");
    expect_tree("let r = a >> b + c;", "{(let r (>> a (+ b c)))}");
    expect_tree("let r = a - b % c;", "{(let r (- a (% b c)))}");
    expect_tree("let r = -a * b;", "{(let r (* (neg a) b))}");
    expect_tree("let r = !a.b[c](d);", "{(let r (! (call (index (. a b) c) d)))}");
}

static void test_associativity(void **state)
{
    (void)state;
    expect_tree("let r = a - b - c;", "{(let r (- (- a b) c))}");
    expect_tree("let r = a / b * c % d;", "{(let r (% (* (/ a b) c) d))}");
    expect_tree("let r = a == b < c;", "{(let r (< (== a b) c))}");
    expect_tree("let r = a || b || c;", "{(let r (|| (|| a b) c))}");
    expect_tree("let r = a ? b : c ? d : e;", "{(let r (? a b (? c d e)))}");
    expect_tree("let r = a ? b ? c : d : e;", "{(let r (? a (? b c d) e))}");
    expect_tree("let r = (a - b) - (c - d);", "{(let r (- (- a b) (- c d)))}");
}

static void test_unary_and_literals(void **state)
{
    (void)state;
    expect_tree("let r = -5;", "{(let r -5)}");
    expect_tree("let r = - -5;", "{(let r 5)}");
    expect_tree("let r = -0x8000000000000000;", "{(let r -9223372036854775808)}");
    expect_tree("let r = -1.5;", "{(let r -1.5f)}");
    expect_tree("let r = ~!-x;", "{(let r (~ (! (neg x))))}");
    expect_tree("let r = [1, \"s\", nil, true, false,];", "{(let r (array 1 \"s\" nil true false))}");
    expect_tree("let r = {a: 1, \"b\": 2, 3: 4, if: 5, [k]: 6, -1: 7, 2.5: 8,};",
                "{(let r (map \"a\" 1 \"b\" 2 3 4 \"if\" 5 k 6 -1 7 2.5f 8))}");
    expect_tree("let r = {};", "{(let r (map))}");
    expect_tree("let r = m.if.while.nil;", "{(let r (. (. (. m if) while) nil))}");
}

static void test_functions(void **state)
{
    (void)state;
    expect_tree("fn f(a, b) { return a; }", "{(def f (fn f (a b) {(return a)}))}");
    expect_tree("let g = fn (x, ...rest) { return; };", "{(let g (fn g (x ...rest) {(return)}))}");
    expect_tree("let h = [fn () {}];", "{(let h (array (fn - () {})))}");
    expect_tree("fn v(...all) {}", "{(def v (fn v (...all) {}))}");
    expect_tree("fn () {}();", "{(call (fn - () {}))}");
    expect_tree("f(a, b,)(c);", "{(call (call f a b) c)}");
}

static void test_statements(void **state)
{
    (void)state;
    expect_tree("let x; x = 1; x += 2; a[i] -= 3; m.k *= 4; x /= 5; x %= 6;",
                "{(let x) (= x 1) (+= x 2) (-= (index a i) 3) (*= (. m k) 4) (/= x 5) (%= x 6)}");
    expect_tree("if a { f(); } else if b { g(); } else { h(); }",
                "{(if a {(call f)} (if b {(call g)} {(call h)}))}");
    expect_tree("while x < 3 { break; continue; }", "{(while (< x 3) {(break) (continue)})}");
    expect_tree("for i in 0..n { }", "{(for i 0 .. n {})}");
    expect_tree("for i in 1 + 1..n * 2 { }", "{(for i (+ 1 1) .. (* n 2) {})}");
    expect_tree("for x in xs { }", "{(for x xs {})}");
    expect_tree("for k in ({a: 1}) { }", "{(for k (map \"a\" 1) {})}");
    expect_tree("if f({a: 1}) { }", "{(if (call f (map \"a\" 1)) {})}");
    expect_tree("try { throw 1; } catch e { }", "{(try {(throw 1)} e {})}");
    expect_tree("try { } catch { }", "{(try {} - {})}");
    expect_tree("import util;", "{(import util)}");
}

static void test_imports_are_collected(void **state)
{
    (void)state;
    Parsed *p = parse("import a;\nfn f() { import b; }\nif x { import c; }");
    assert_int_equal(p->diag.count, 0);
    assert_int_equal(p->ast->nimports, 3);
    assert_string_equal(p->ast->imports[0]->u.import.var->name.s, "a");
    assert_string_equal(p->ast->imports[2]->u.import.var->name.s, "c");
    parsed_free(p);
}

static void test_positions(void **state)
{
    (void)state;
    Parsed *p = parse("let r = a +\n  b;\nf(\n1);");
    assert_int_equal(p->diag.count, 0);
    const CcExpr *add = p->ast->main->body->stmts[0]->u.let.init;
    assert_int_equal(add->pos.line, 1); /* the operator's line */
    assert_int_equal(add->pos.col, 11);
    const CcExpr *call = p->ast->main->body->stmts[1]->u.expr;
    assert_int_equal(call->pos.line, 3); /* the '(' */
    assert_int_equal(call->pos.col, 2);
    parsed_free(p);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    ERRORS("let = 1;", 1, "t.pv:1:5: error: expected variable name after 'let', found '='");
    ERRORS("let x = 1", 1, "t.pv:1:10: error: expected ';' after variable declaration, found end of file");
    ERRORS("x + 1;", 1, "t.pv:1:1: error: expression statement must be a call or an assignment");
    ERRORS("f() = 2;", 1, "t.pv:1:1: error: invalid assignment target");
    ERRORS("{ f(); }", 1, "a bare '{' block is not a statement");
    ERRORS("if {a: 1} { }", 1, "t.pv:1:4: error: expected expression, found '{'");
    ERRORS("let r = 0..3;", 1, "t.pv:1:10: error: '..' is only allowed as the iterable of a 'for' loop");
    ERRORS("f(0..3);", 1, "'..' is only allowed");
    ERRORS("fn f(...a, b) {}", 1, "the rest parameter must be the last one");
    ERRORS("fn f(a b) {}", 1, "t.pv:1:8: error: expected ',' or ')' after parameter, found 'b'");
    ERRORS("try { }", 1, "expected 'catch' after the try block, found end of file");
    ERRORS("x = {1 2};", 1, "expected ':' after map key, found number");
    ERRORS("x = {(a): 1};", 1, "expected map key, found '('");
    ERRORS("x = a.1;", 1, "expected field name after '.', found number");
    ERRORS("}", 1, "t.pv:1:1: error: unexpected '}'");
    ERRORS("else { }", 1, "'else' without a matching 'if'");
    ERRORS("catch e { }", 1, "'catch' without a matching 'try'");
    ERRORS("let a = fn { };", 1, "expected '(' to start the parameter list, found '{'");
    ERRORS("while x { ", 1, "expected '}', found end of file");
    ERRORS("x = a ? b;", 1, "expected ':' in conditional expression, found ';'");
    ERRORS("import;", 1, "expected module name after 'import', found ';'");
    ERRORS("for 1 in x { }", 1, "expected loop variable name after 'for', found number");
    ERRORS("for i x { }", 1, "expected 'in' after the loop variable, found 'x'");
}

static void test_recovery_reports_independent_errors(void **state)
{
    (void)state;
    ERRORS("let a = ;\nlet b = 1;\nprint(a b);\nlet c = 2\nlet d = 3;\n}\nlet e = (;\n", 5,
           "t.pv:1:9:", "t.pv:3:9:", "t.pv:5:1:", "t.pv:6:1:", "t.pv:7:10:");
    /* Errors inside a function body do not hide the ones after it. */
    ERRORS("fn f() { let = 1; }\nfn g() { x + ; }\nlet ok = 1;\n", 2, "t.pv:1:14:", "t.pv:2:14:");
    /* Lexical errors are reported and lexing goes on. */
    ERRORS("let a = \"\\q\";\nlet b = 0x;\nlet c = @;\n", 4, "t.pv:1:9:", "t.pv:2:9:", "t.pv:3:9:");
}

static void test_nesting_is_bounded(void **state)
{
    (void)state;
    size_t n = 5000;
    char *src = malloc(3 * n + 32);
    size_t k = 0;
    k += (size_t)sprintf(src, "let x = ");
    for (size_t i = 0; i < n; i++)
        src[k++] = '(';
    src[k++] = '1';
    for (size_t i = 0; i < n; i++)
        src[k++] = ')';
    src[k++] = ';';
    src[k] = '\0';
    ERRORS(src, 1, "nesting too deep");
    k = 0;
    for (size_t i = 0; i < n; i++)
        src[k++] = '-';
    src[k++] = 'x';
    src[k] = '\0';
    ERRORS(src, 1, "nesting too deep");
    k = (size_t)sprintf(src, "fn f() {");
    for (size_t i = 0; i < n / 10; i++)
        k += (size_t)sprintf(src + k, "if x {");
    src[k] = '\0';
    ERRORS(src, 1, "nesting too deep");
    free(src);
    /* Just below the bound parses fine. */
    char ok[512] = "let x = ";
    for (int i = 0; i < 150; i++)
        strcat(ok, "(");
    strcat(ok, "1");
    for (int i = 0; i < 150; i++)
        strcat(ok, ")");
    strcat(ok, ";");
    expect_tree(ok, "{(let x 1)}");
}

/* ------------------------------------------------------------ fuzzing */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void) { return xorshift64(&rng_state); }

static const char *const fragments[] = {
    "let ", "fn ", "if ", "else ", "while ", "for ", " in ", "return ", "break;", "continue;",
    "try ", "catch ", "throw ", "import ", "x", "y", "f", "(", ")", "[", "]", "{", "}", ",", ";",
    ":", ".", "..", "...", "?", "+", "-", "*", "/", "%", "&", "|", "^", "~", "<<", ">>", "!", "==",
    "!=", "<", "<=", ">", ">=", "&&", "||", "=", "+=", "1", "0x", "0b1", "1.5", "1e", "_", "\"s\"",
    "\"\\q", "\"\\u{", "/*", "//", "\n", " ", "nil", "true", "9223372036854775808", "\xff", "#",
};

static const char *const seed_program =
    "fn fact(n) { if n <= 1 { return 1; } return n * fact(n - 1); }\n"
    "let m = {a: 1, \"b\": [1, 2.5, nil], [k]: fn (x, ...r) { return x ? r : -x; }};\n"
    "for i in 0..10 { try { m.a += i; } catch e { break; } }\n"
    "while m.a > 0 && !done { m.a -= 1; continue; }\n";

/* Random fragment soup and mutated copies of a real program must parse
 * to errors or trees without crashing or hanging. */
static void test_fuzz_parser(void **state)
{
    (void)state;
    clock_t start = clock();
    char buf[2048];
    int runs = 0;
    size_t nfrag = sizeof fragments / sizeof fragments[0];
    for (int i = 0; i < 4000 && clock() - start < 3 * CLOCKS_PER_SEC; i++, runs++) {
        size_t k = 0;
        if (i % 2 == 0) {
            int count = (int)(rng() % 80);
            for (int j = 0; j < count; j++) {
                const char *f = fragments[rng() % nfrag];
                size_t len = strlen(f);
                if (k + len >= sizeof buf)
                    break;
                memcpy(buf + k, f, len);
                k += len;
            }
        } else {
            k = strlen(seed_program);
            memcpy(buf, seed_program, k);
            int edits = 1 + (int)(rng() % 8);
            for (int j = 0; j < edits; j++) {
                size_t at = rng() % k;
                switch (rng() % 3) {
                case 0: buf[at] = (char)(rng() & 0xFF); break;        /* replace */
                case 1: memmove(buf + at, buf + at + 1, k - at - 1); k--; break; /* delete */
                default:                                              /* duplicate */
                    if (k + 1 < sizeof buf) {
                        memmove(buf + at + 1, buf + at, k - at);
                        k++;
                    }
                }
            }
        }
        Parsed *p = parse_n(buf, k);
        assert_non_null(p->ast);
        parsed_free(p);
    }
    assert_true(runs > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence_levels),
        cmocka_unit_test(test_associativity),
        cmocka_unit_test(test_unary_and_literals),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_statements),
        cmocka_unit_test(test_imports_are_collected),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_recovery_reports_independent_errors),
        cmocka_unit_test(test_nesting_is_bounded),
        cmocka_unit_test(test_fuzz_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
