/* Unit tests for compiler/lexer.c: token kinds, literal values (integer
 * ranges, underscores, floats, escapes), positions, and every lexical
 * error with its position and recovery token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/lexer.h"

#define MAX_TOKENS 64

/* Everything one lexing run produced. */
typedef struct {
    CcToken toks[MAX_TOKENS];
    int n;              /* tokens before EOF */
    char *errors;       /* diagnostics text */
    size_t errlen;
    unsigned nerrors;
    CcArena arena;
    CcDiag diag;
    jmp_buf oom;
} Lexed;

static Lexed *lex_n(const char *src, size_t len)
{
    Lexed *l = calloc(1, sizeof *l);
    FILE *err = open_memstream(&l->errors, &l->errlen);
    pvmC_diag_init(&l->diag, err, &l->oom);
    pvmC_arena_init(&l->arena, &l->diag);
    CcLexer lx;
    pvmC_lexer_init(&lx, src, len, "t.pv", &l->diag, &l->arena);
    for (;;) {
        CcToken t;
        pvmC_lex_next(&lx, &t);
        if (t.kind == CC_TK_EOF || l->n == MAX_TOKENS)
            break;
        l->toks[l->n++] = t;
    }
    pvmC_lexer_free(&lx);
    fclose(err);
    l->nerrors = l->diag.count;
    return l;
}

static Lexed *lex(const char *src) { return lex_n(src, strlen(src)); }

static void lexed_free(Lexed *l)
{
    pvmC_arena_free(&l->arena);
    free(l->errors);
    free(l);
}

/* Lexes [src], expecting one token of [kind] and no error. */
static CcToken one_token(const char *src, CcTokenKind kind)
{
    Lexed *l = lex(src);
    if (l->nerrors)
        print_error("unexpected error for %s: %s\n", src, l->errors);
    assert_int_equal(l->nerrors, 0);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->toks[0].kind, kind);
    CcToken t = l->toks[0];
    if (kind == CC_TK_STRING) { /* keep the bytes alive past the arena */
        char *copy = malloc(t.v.str.len + 1);
        memcpy(copy, t.v.str.bytes, t.v.str.len + 1);
        t.v.str.bytes = copy;
    }
    lexed_free(l);
    return t;
}

static int64_t int_of(const char *src) { return one_token(src, CC_TK_INT).v.i; }
static double float_of(const char *src) { return one_token(src, CC_TK_FLOAT).v.f; }

/* Lexes [src], expecting exactly one error containing [msg]. */
static void expect_error(const char *src, const char *msg)
{
    Lexed *l = lex(src);
    bool ok = l->nerrors == 1 && strstr(l->errors, msg);
    if (!ok)
        print_error("for %s expected one error '%s', got %u: %s\n", src, msg, l->nerrors, l->errors);
    lexed_free(l);
    assert_true(ok);
}

/* ------------------------------------------------------------- tests */

static void test_operators_longest_match(void **state)
{
    (void)state;
    Lexed *l = lex("( ) [ ] { } , ; : . .. ... ? + - * / % & | ^ ~ << >> ! == != < <= > >= && || = += -= *= /= %=");
    CcTokenKind want[] = {
        CC_TK_LPAREN, CC_TK_RPAREN, CC_TK_LBRACKET, CC_TK_RBRACKET, CC_TK_LBRACE, CC_TK_RBRACE,
        CC_TK_COMMA, CC_TK_SEMI, CC_TK_COLON, CC_TK_DOT, CC_TK_DOTDOT, CC_TK_ELLIPSIS,
        CC_TK_QUESTION, CC_TK_PLUS, CC_TK_MINUS, CC_TK_STAR, CC_TK_SLASH, CC_TK_PERCENT,
        CC_TK_AMP, CC_TK_PIPE, CC_TK_CARET, CC_TK_TILDE, CC_TK_SHL, CC_TK_SHR, CC_TK_BANG,
        CC_TK_EQEQ, CC_TK_NE, CC_TK_LT, CC_TK_LE, CC_TK_GT, CC_TK_GE, CC_TK_ANDAND,
        CC_TK_OROR, CC_TK_ASSIGN, CC_TK_PLUSEQ, CC_TK_MINUSEQ, CC_TK_STAREQ, CC_TK_SLASHEQ,
        CC_TK_PERCENTEQ,
    };
    assert_int_equal(l->nerrors, 0);
    assert_int_equal(l->n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < l->n; i++)
        assert_int_equal(l->toks[i].kind, want[i]);
    lexed_free(l);
}

static void test_keywords_and_names(void **state)
{
    (void)state;
    Lexed *l = lex("let fn return if else while for in break continue nil true false try catch throw import "
                   "lets _x x_1 Fn LET");
    assert_int_equal(l->nerrors, 0);
    assert_int_equal(l->n, 22);
    for (int i = 0; i < 17; i++)
        assert_true(pvmC_token_is_keyword(l->toks[i].kind));
    assert_int_equal(l->toks[0].kind, CC_TK_LET);
    assert_int_equal(l->toks[16].kind, CC_TK_IMPORT);
    for (int i = 17; i < 22; i++)
        assert_int_equal(l->toks[i].kind, CC_TK_NAME);
    assert_int_equal(l->toks[18].len, 2);
    assert_memory_equal(l->toks[18].start, "_x", 2);
    lexed_free(l);
}

static void test_decimal_integers(void **state)
{
    (void)state;
    assert_int_equal(int_of("0"), 0);
    assert_int_equal(int_of("123"), 123);
    assert_int_equal(int_of("007"), 7);
    assert_int_equal(int_of("1_000_000"), 1000000);
    assert_int_equal(int_of("9223372036854775807"), INT64_MAX);
    expect_error("9223372036854775808", "integer literal out of range");
    expect_error("99999999999999999999999", "integer literal out of range");
}

static void test_hex_and_binary(void **state)
{
    (void)state;
    assert_int_equal(int_of("0xFF"), 255);
    assert_int_equal(int_of("0Xff"), 255);
    assert_int_equal(int_of("0xFFFFFFFFFFFFFFFF"), -1);
    assert_int_equal(int_of("0x8000000000000000"), INT64_MIN);
    assert_int_equal(int_of("0x00000000000000000000001"), 1);
    assert_int_equal(int_of("0b1010"), 10);
    assert_int_equal(int_of("0B1_0"), 2);
    assert_int_equal(int_of("0xdead_beef"), 0xdeadbeef);
    expect_error("0x10000000000000000", "hex literal does not fit in 64 bits");
    expect_error("0b11111111111111111111111111111111111111111111111111111111111111111",
                 "binary literal does not fit in 64 bits");
    expect_error("0x", "missing digits in hex literal");
    expect_error("0b", "missing digits in binary literal");
    expect_error("0xfg", "invalid digit in hex literal");
    expect_error("0b12", "invalid digit in binary literal");
}

static void test_underscores_between_digits_only(void **state)
{
    (void)state;
    expect_error("1__0", "'_' must stand between two digits");
    expect_error("10_", "'_' must stand between two digits");
    expect_error("0x_1", "'_' must stand between two digits");
    expect_error("0xf_", "'_' must stand between two digits");
    expect_error("1_.5", "'_' must stand between two digits");
    /* A leading underscore makes a name, not a number. */
    assert_int_equal(one_token("_1", CC_TK_NAME).len, 2);
}

static void test_floats(void **state)
{
    (void)state;
    assert_true(float_of("1.5") == 1.5);
    assert_true(float_of("0.25") == 0.25);
    assert_true(float_of("1e9") == 1e9);
    assert_true(float_of("2.5e-3") == 2.5e-3);
    assert_true(float_of("1.0E+3") == 1000.0);
    assert_true(float_of("1_000.000_5") == 1000.0005);
    assert_true(isinf(float_of("1e400")));
    expect_error("1e", "malformed number");
    expect_error("1e+", "malformed number");
    expect_error("1.5x", "malformed number");
}

static void test_dot_needs_digits_on_both_sides(void **state)
{
    (void)state;
    /* 1..5 is a range, not the float 1. followed by .5 */
    Lexed *l = lex("1..5 1.x .5");
    assert_int_equal(l->nerrors, 0);
    CcTokenKind want[] = { CC_TK_INT, CC_TK_DOTDOT, CC_TK_INT, CC_TK_INT, CC_TK_DOT, CC_TK_NAME,
                           CC_TK_DOT, CC_TK_INT };
    assert_int_equal(l->n, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(l->toks[i].kind, want[i]);
    lexed_free(l);
}

static void test_string_escapes(void **state)
{
    (void)state;
    CcToken t = one_token("\"a\\n\\t\\r\\\\\\\"\\0z\"", CC_TK_STRING);
    assert_int_equal(t.v.str.len, 8);
    assert_memory_equal(t.v.str.bytes, "a\n\t\r\\\"\0z", 8);
    free(t.v.str.bytes);
    t = one_token("\"\\xe9\\x41\"", CC_TK_STRING);
    assert_int_equal(t.v.str.len, 2);
    assert_memory_equal(t.v.str.bytes, "\xe9" "A", 2);
    free(t.v.str.bytes);
    t = one_token("\"\\u{e9}\\u{1F600}\\u{41}\\u{0}\"", CC_TK_STRING);
    assert_int_equal(t.v.str.len, 2 + 4 + 1 + 1);
    assert_memory_equal(t.v.str.bytes, "\xc3\xa9\xf0\x9f\x98\x80" "A\0", 8);
    free(t.v.str.bytes);
    t = one_token("\"\\u{10FFFF}\\u{000041}\"", CC_TK_STRING);
    assert_memory_equal(t.v.str.bytes, "\xf4\x8f\xbf\xbf" "A", 5);
    free(t.v.str.bytes);
    t = one_token("\"\"", CC_TK_STRING);
    assert_int_equal(t.v.str.len, 0);
    free(t.v.str.bytes);
}

static void test_string_errors(void **state)
{
    (void)state;
    expect_error("\"\\q\"", "unknown escape sequence '\\q'");
    expect_error("\"\\x4\"", "invalid \\x escape");
    expect_error("\"\\u{D800}\"", "surrogate");
    expect_error("\"\\u{DFFF}\"", "surrogate");
    expect_error("\"\\u{110000}\"", "above 10FFFF");
    expect_error("\"\\u{1234567}\"", "1 to 6 hex digits");
    expect_error("\"\\u{}\"", "1 to 6 hex digits");
    expect_error("\"\\u41\"", "expected '{'");
    expect_error("\"\\u{41\"", "expected hex digits and '}'");
    expect_error("\"abc", "unterminated string");
    expect_error("\"abc\\", "unterminated string");
    /* Two bad escapes in one string: one error, at the string's start. */
    Lexed *l = lex("x = \"\\q\\w\";");
    assert_int_equal(l->nerrors, 1);
    assert_non_null(strstr(l->errors, "t.pv:1:5: error:"));
    lexed_free(l);
}

static void test_raw_newline_in_string(void **state)
{
    (void)state;
    Lexed *l = lex("let s = \"abc\nprint(s);");
    assert_int_equal(l->nerrors, 1);
    assert_non_null(strstr(l->errors, "t.pv:1:9: error: unterminated string"));
    /* Lexing resumes on the next line. */
    assert_int_equal(l->toks[l->n - 1].kind, CC_TK_SEMI);
    assert_int_equal(l->toks[l->n - 1].pos.line, 2);
    lexed_free(l);
}

static void test_nul_bytes_in_source_strings(void **state)
{
    (void)state;
    const char src[] = "\"a\0b\"";
    Lexed *l = lex_n(src, sizeof src - 1);
    assert_int_equal(l->nerrors, 0);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->toks[0].v.str.len, 3);
    assert_memory_equal(l->toks[0].v.str.bytes, "a\0b", 3);
    lexed_free(l);
}

static void test_comments_and_positions(void **state)
{
    (void)state;
    Lexed *l = lex("a // x\n  /* multi\nline */ b\n\tc");
    assert_int_equal(l->nerrors, 0);
    assert_int_equal(l->n, 3);
    assert_int_equal(l->toks[0].pos.line, 1);
    assert_int_equal(l->toks[0].pos.col, 1);
    assert_int_equal(l->toks[1].pos.line, 3);
    assert_int_equal(l->toks[1].pos.col, 9);
    assert_int_equal(l->toks[2].pos.line, 4);
    assert_int_equal(l->toks[2].pos.col, 2);
    lexed_free(l);
    expect_error("a /* never closed", "unterminated comment");
    /* Block comments do not nest. */
    l = lex("/* /* */ x */");
    assert_int_equal(l->n, 3);
    assert_int_equal(l->toks[0].kind, CC_TK_NAME);
    lexed_free(l);
}

static void test_shebang_and_bom(void **state)
{
    (void)state;
    Lexed *l = lex("#!/usr/bin/env pvm\nx");
    assert_int_equal(l->nerrors, 0);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->toks[0].pos.line, 2);
    lexed_free(l);
    l = lex("\xEF\xBB\xBFx");
    assert_int_equal(l->nerrors, 0);
    assert_int_equal(l->n, 1);
    lexed_free(l);
    /* '#' anywhere else is an error. */
    expect_error("x\n#!y", "unexpected character '#'");
}

static void test_bad_characters_are_skipped(void **state)
{
    (void)state;
    Lexed *l = lex("a @ b $ \xc3\xa9 c");
    assert_int_equal(l->nerrors, 3);
    assert_non_null(strstr(l->errors, "t.pv:1:3: error: unexpected character '@'"));
    assert_non_null(strstr(l->errors, "unexpected byte 0xC3"));
    assert_int_equal(l->n, 3);
    lexed_free(l);
}

static void test_crlf_and_whitespace(void **state)
{
    (void)state;
    Lexed *l = lex("a\r\n\tb \r c");
    assert_int_equal(l->nerrors, 0);
    assert_int_equal(l->n, 3);
    assert_int_equal(l->toks[1].pos.line, 2);
    lexed_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operators_longest_match),
        cmocka_unit_test(test_keywords_and_names),
        cmocka_unit_test(test_decimal_integers),
        cmocka_unit_test(test_hex_and_binary),
        cmocka_unit_test(test_underscores_between_digits_only),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_dot_needs_digits_on_both_sides),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_raw_newline_in_string),
        cmocka_unit_test(test_nul_bytes_in_source_strings),
        cmocka_unit_test(test_comments_and_positions),
        cmocka_unit_test(test_shebang_and_bom),
        cmocka_unit_test(test_bad_characters_are_skipped),
        cmocka_unit_test(test_crlf_and_whitespace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
