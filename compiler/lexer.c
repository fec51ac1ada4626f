/* The PV lexer (LANGUAGE.md section 1): comments, identifiers, keywords,
 * integer, float and string literals, operators. */
#include "compiler/lexer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const token_texts[CC_TK__COUNT] = {
#define X(name, text) [CC_TK_##name] = text,
    CC_TOKENS(X)
#undef X
};

const char *pvmC_token_text(CcTokenKind kind)
{
    return kind < CC_TK__COUNT ? token_texts[kind] : "?";
}

bool pvmC_token_is_keyword(CcTokenKind kind)
{
    return kind >= CC_TK_FIRST_KEYWORD && kind < CC_TK__COUNT;
}

void pvmC_lexer_init(CcLexer *lx, const char *src, size_t len, const char *file,
                   CcDiag *diag, CcArena *arena)
{
    memset(lx, 0, sizeof *lx);
    lx->src = lx->cur = lx->line_start = src;
    lx->end = src + len;
    lx->line = 1;
    lx->file = file;
    lx->diag = diag;
    lx->arena = arena;
    /* A UTF-8 byte order mark, then a "#!" first line, are skipped. */
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
        lx->cur += 3;
    if (lx->end - lx->cur >= 2 && lx->cur[0] == '#' && lx->cur[1] == '!')
        while (lx->cur < lx->end && *lx->cur != '\n')
            lx->cur++;
}

void pvmC_lexer_free(CcLexer *lx)
{
    free(lx->scratch);
    lx->scratch = NULL;
    lx->scratch_cap = 0;
}

/* ---- character helpers ---- */

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The character at [p], or 0 past the end (sources may contain NULs, so
 * callers that care compare against lx->end). */
static int peek_at(const CcLexer *lx, const char *p)
{
    return p < lx->end ? (unsigned char)*p : 0;
}

static CcPos pos_of(const CcLexer *lx, const char *p)
{
    return (CcPos){ lx->line, (uint32_t)(p - lx->line_start) + 1 };
}

static void newline(CcLexer *lx, const char *after)
{
    lx->line++;
    lx->line_start = after;
}

/* ---- whitespace and comments ---- */

/* Skips a block comment starting at lx->cur ("/ *"). */
static void skip_block_comment(CcLexer *lx)
{
    CcPos start = pos_of(lx, lx->cur);
    lx->cur += 2;
    while (lx->cur < lx->end) {
        if (*lx->cur == '*' && peek_at(lx, lx->cur + 1) == '/') {
            lx->cur += 2;
            return;
        }
        if (*lx->cur == '\n')
            newline(lx, lx->cur + 1);
        lx->cur++;
    }
    pvmC_error(lx->diag, lx->file, start, "unterminated comment");
}

static void skip_space(CcLexer *lx)
{
    while (lx->cur < lx->end) {
        char c = *lx->cur;
        if (c == ' ' || c == '\t' || c == '\r') {
            lx->cur++;
        } else if (c == '\n') {
            lx->cur++;
            newline(lx, lx->cur);
        } else if (c == '/' && peek_at(lx, lx->cur + 1) == '/') {
            while (lx->cur < lx->end && *lx->cur != '\n')
                lx->cur++;
        } else if (c == '/' && peek_at(lx, lx->cur + 1) == '*') {
            skip_block_comment(lx);
        } else {
            return;
        }
    }
}

/* ---- numbers ---- */

/* Checks that every '_' in [s, e) stands between two digits of [digit]. */
static bool underscores_ok(const char *s, const char *e, bool (*digit)(int))
{
    for (const char *p = s; p < e; p++)
        if (*p == '_' && (p == s || p + 1 == e || !digit((unsigned char)p[-1]) ||
                          !digit((unsigned char)p[1])))
            return false;
    return true;
}

static bool is_hex_digit(int c) { return hex_value(c) >= 0; }
static bool is_bin_digit(int c) { return c == '0' || c == '1'; }

/* Hex or binary literal: digits in [s, e), [bits] per digit (4 or 1).
 * Returns false and fills [msg] on error. */
static bool radix_value(const char *s, const char *e, int bits, uint64_t *out, const char **msg)
{
    bool (*digit)(int) = bits == 4 ? is_hex_digit : is_bin_digit;
    uint64_t v = 0;
    bool any = false;
    for (const char *p = s; p < e; p++) {
        if (*p == '_')
            continue;
        if (!digit((unsigned char)*p)) {
            *msg = bits == 4 ? "invalid digit in hex literal" : "invalid digit in binary literal";
            return false;
        }
        if (v >> (64 - bits)) {
            *msg = bits == 4 ? "hex literal does not fit in 64 bits"
                             : "binary literal does not fit in 64 bits";
            return false;
        }
        v = (v << bits) | (uint64_t)hex_value((unsigned char)*p);
        any = true;
    }
    if (!any) {
        *msg = bits == 4 ? "missing digits in hex literal" : "missing digits in binary literal";
        return false;
    }
    if (!underscores_ok(s, e, digit)) {
        *msg = "'_' must stand between two digits";
        return false;
    }
    *out = v;
    return true;
}

static bool is_dec_digit(int c) { return is_digit(c); }

/* Decimal integer in [s, e) (digits and '_'). */
static bool decimal_value(const char *s, const char *e, int64_t *out, const char **msg)
{
    if (!underscores_ok(s, e, is_dec_digit)) {
        *msg = "'_' must stand between two digits";
        return false;
    }
    uint64_t v = 0;
    for (const char *p = s; p < e; p++) {
        if (*p == '_')
            continue;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) {
            *msg = "integer literal out of range (a decimal literal must fit in a signed 64-bit int)";
            return false;
        }
        v = v * 10 + d;
    }
    *out = (int64_t)v;
    return true;
}

/* Float text in [s, e): digits, '_', '.', exponent. */
static bool float_value(CcLexer *lx, const char *s, const char *e, double *out, const char **msg)
{
    /* '_' must sit between digits in each digit run. */
    for (const char *p = s; p < e; p++)
        if (*p == '_' && (p == s || p + 1 == e || !is_digit((unsigned char)p[-1]) ||
                          !is_digit((unsigned char)p[1]))) {
            *msg = "'_' must stand between two digits";
            return false;
        }
    size_t n = (size_t)(e - s);
    pvmC_grow(lx->diag, (void **)&lx->scratch, &lx->scratch_cap, (uint32_t)n + 1, 1);
    size_t k = 0;
    for (const char *p = s; p < e; p++)
        if (*p != '_')
            lx->scratch[k++] = *p;
    lx->scratch[k] = '\0';
    errno = 0;
    char *stop = NULL;
    *out = strtod(lx->scratch, &stop);
    if (stop != lx->scratch + k) {
        *msg = "malformed float literal";
        return false;
    }
    return true;
}

/* Scans a number starting at lx->cur (a digit) into [t]. */
static void lex_number(CcLexer *lx, CcToken *t)
{
    const char *s = lx->cur;
    const char *p = s;
    const char *msg = NULL;
    int c1 = peek_at(lx, s + 1);
    t->kind = CC_TK_INT;
    t->v.i = 0;
    if (*s == '0' && (c1 == 'x' || c1 == 'X' || c1 == 'b' || c1 == 'B')) {
        int bits = (c1 == 'x' || c1 == 'X') ? 4 : 1;
        p = s + 2;
        while (p < lx->end && is_alnum((unsigned char)*p))
            p++;
        uint64_t v = 0;
        if (radix_value(s + 2, p, bits, &v, &msg))
            t->v.i = (int64_t)v;
    } else {
        bool is_float = false;
        while (p < lx->end && (is_digit((unsigned char)*p) || *p == '_'))
            p++;
        if (peek_at(lx, p) == '.' && is_digit(peek_at(lx, p + 1))) {
            is_float = true;
            p++;
            while (p < lx->end && (is_digit((unsigned char)*p) || *p == '_'))
                p++;
        }
        int e0 = peek_at(lx, p);
        if (e0 == 'e' || e0 == 'E') {
            const char *q = p + 1;
            if (peek_at(lx, q) == '+' || peek_at(lx, q) == '-')
                q++;
            if (is_digit(peek_at(lx, q))) {
                is_float = true;
                p = q;
                while (p < lx->end && (is_digit((unsigned char)*p) || *p == '_'))
                    p++;
            }
        }
        if (p < lx->end && is_alnum((unsigned char)*p)) {
            msg = "malformed number";
            while (p < lx->end && is_alnum((unsigned char)*p))
                p++;
        } else if (is_float) {
            t->kind = CC_TK_FLOAT;
            t->v.f = 0.0;
            double f = 0.0;
            if (float_value(lx, s, p, &f, &msg))
                t->v.f = f;
        } else {
            int64_t v = 0;
            if (decimal_value(s, p, &v, &msg))
                t->v.i = v;
        }
    }
    if (msg)
        pvmC_error(lx->diag, lx->file, t->pos, "%s", msg);
    lx->cur = p;
}

/* ---- strings ---- */

static void scratch_put(CcLexer *lx, uint32_t *n, char c)
{
    pvmC_grow(lx->diag, (void **)&lx->scratch, &lx->scratch_cap, *n + 1, 1);
    lx->scratch[(*n)++] = c;
}

static void put_utf8(CcLexer *lx, uint32_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        scratch_put(lx, n, (char)cp);
    } else if (cp < 0x800) {
        scratch_put(lx, n, (char)(0xC0 | (cp >> 6)));
        scratch_put(lx, n, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        scratch_put(lx, n, (char)(0xE0 | (cp >> 12)));
        scratch_put(lx, n, (char)(0x80 | ((cp >> 6) & 0x3F)));
        scratch_put(lx, n, (char)(0x80 | (cp & 0x3F)));
    } else {
        scratch_put(lx, n, (char)(0xF0 | (cp >> 18)));
        scratch_put(lx, n, (char)(0x80 | ((cp >> 12) & 0x3F)));
        scratch_put(lx, n, (char)(0x80 | ((cp >> 6) & 0x3F)));
        scratch_put(lx, n, (char)(0x80 | (cp & 0x3F)));
    }
}

/* Decodes "\u{H...}" with lx->cur just past the 'u'. Returns an error
 * message, or NULL after appending the code point. */
static const char *lex_unicode_escape(CcLexer *lx, uint32_t *n)
{
    if (peek_at(lx, lx->cur) != '{')
        return "invalid \\u escape: expected '{'";
    lx->cur++;
    uint32_t cp = 0;
    int digits = 0;
    while (lx->cur < lx->end && hex_value((unsigned char)*lx->cur) >= 0) {
        if (digits < 7)
            cp = cp * 16 + (uint32_t)hex_value((unsigned char)*lx->cur);
        digits++;
        lx->cur++;
    }
    if (peek_at(lx, lx->cur) != '}' || lx->cur >= lx->end)
        return "invalid \\u escape: expected hex digits and '}'";
    lx->cur++;
    if (digits < 1 || digits > 6)
        return "invalid \\u escape: 1 to 6 hex digits required";
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return "invalid \\u escape: surrogate code point";
    if (cp > 0x10FFFF)
        return "invalid \\u escape: code point above 10FFFF";
    put_utf8(lx, n, cp);
    return NULL;
}

/* Decodes one escape with lx->cur just past the backslash. Returns an
 * error message or NULL. */
static const char *lex_escape(CcLexer *lx, uint32_t *n)
{
    if (lx->cur >= lx->end)
        return NULL; /* reported as an unterminated string */
    char c = *lx->cur;
    if (c == '\n')
        return NULL; /* likewise */
    lx->cur++;
    switch (c) {
    case 'n': scratch_put(lx, n, '\n'); return NULL;
    case 't': scratch_put(lx, n, '\t'); return NULL;
    case 'r': scratch_put(lx, n, '\r'); return NULL;
    case '\\': scratch_put(lx, n, '\\'); return NULL;
    case '"': scratch_put(lx, n, '"'); return NULL;
    case '0': scratch_put(lx, n, '\0'); return NULL;
    case 'x': {
        int h = hex_value(peek_at(lx, lx->cur));
        int l = lx->cur + 1 < lx->end ? hex_value((unsigned char)lx->cur[1]) : -1;
        if (lx->cur >= lx->end || h < 0 || l < 0)
            return "invalid \\x escape: two hex digits required";
        lx->cur += 2;
        scratch_put(lx, n, (char)(h * 16 + l));
        return NULL;
    }
    case 'u':
        return lex_unicode_escape(lx, n);
    default:
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7F)
            snprintf(lx->msg, sizeof lx->msg, "unknown escape sequence '\\%c' in string", c);
        else
            snprintf(lx->msg, sizeof lx->msg, "unknown escape sequence in string");
        return lx->msg;
    }
}

static void lex_string(CcLexer *lx, CcToken *t)
{
    uint32_t n = 0;
    bool reported = false;
    lx->cur++; /* opening quote */
    for (;;) {
        if (lx->cur >= lx->end || *lx->cur == '\n') {
            pvmC_error(lx->diag, lx->file, t->pos, "unterminated string");
            break;
        }
        char c = *lx->cur;
        if (c == '"') {
            lx->cur++;
            break;
        }
        if (c != '\\') {
            scratch_put(lx, &n, c);
            lx->cur++;
            continue;
        }
        lx->cur++;
        const char *msg = lex_escape(lx, &n);
        if (msg && !reported) {
            pvmC_error(lx->diag, lx->file, t->pos, "%s", msg);
            reported = true;
        }
    }
    t->kind = CC_TK_STRING;
    t->v.str.bytes = pvmC_strndup(lx->arena, n ? lx->scratch : "", n);
    t->v.str.len = n;
}

/* ---- names and operators ---- */

static const struct {
    const char *text;
    CcTokenKind kind;
} keywords[] = {
    { "let", CC_TK_LET },         { "fn", CC_TK_FN },         { "return", CC_TK_RETURN },
    { "if", CC_TK_IF },           { "else", CC_TK_ELSE },     { "while", CC_TK_WHILE },
    { "for", CC_TK_FOR },         { "in", CC_TK_IN },         { "break", CC_TK_BREAK },
    { "continue", CC_TK_CONTINUE }, { "nil", CC_TK_NIL },     { "true", CC_TK_TRUE },
    { "false", CC_TK_FALSE },     { "try", CC_TK_TRY },       { "catch", CC_TK_CATCH },
    { "throw", CC_TK_THROW },     { "import", CC_TK_IMPORT },
};

static void lex_name(CcLexer *lx, CcToken *t)
{
    const char *p = lx->cur;
    while (p < lx->end && is_alnum((unsigned char)*p))
        p++;
    size_t len = (size_t)(p - lx->cur);
    t->kind = CC_TK_NAME;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strlen(keywords[i].text) == len && memcmp(keywords[i].text, lx->cur, len) == 0)
            t->kind = keywords[i].kind;
    lx->cur = p;
}

/* Operator at lx->cur: picks the longest match. Returns false if the
 * character starts no token. */
static bool lex_operator(CcLexer *lx, CcToken *t)
{
    int c = (unsigned char)*lx->cur;
    int c1 = peek_at(lx, lx->cur + 1);
    int c2 = peek_at(lx, lx->cur + 2);
    CcTokenKind k;
    int len = 1;
#define TWO(ch, two, one) (c1 == (ch) ? (len = 2, (two)) : (one))
    switch (c) {
    case '(': k = CC_TK_LPAREN; break;
    case ')': k = CC_TK_RPAREN; break;
    case '[': k = CC_TK_LBRACKET; break;
    case ']': k = CC_TK_RBRACKET; break;
    case '{': k = CC_TK_LBRACE; break;
    case '}': k = CC_TK_RBRACE; break;
    case ',': k = CC_TK_COMMA; break;
    case ';': k = CC_TK_SEMI; break;
    case ':': k = CC_TK_COLON; break;
    case '?': k = CC_TK_QUESTION; break;
    case '~': k = CC_TK_TILDE; break;
    case '^': k = CC_TK_CARET; break;
    case '.':
        if (c1 == '.' && c2 == '.') {
            k = CC_TK_ELLIPSIS;
            len = 3;
        } else {
            k = TWO('.', CC_TK_DOTDOT, CC_TK_DOT);
        }
        break;
    case '+': k = TWO('=', CC_TK_PLUSEQ, CC_TK_PLUS); break;
    case '-': k = TWO('=', CC_TK_MINUSEQ, CC_TK_MINUS); break;
    case '*': k = TWO('=', CC_TK_STAREQ, CC_TK_STAR); break;
    case '/': k = TWO('=', CC_TK_SLASHEQ, CC_TK_SLASH); break;
    case '%': k = TWO('=', CC_TK_PERCENTEQ, CC_TK_PERCENT); break;
    case '&': k = TWO('&', CC_TK_ANDAND, CC_TK_AMP); break;
    case '|': k = TWO('|', CC_TK_OROR, CC_TK_PIPE); break;
    case '!': k = TWO('=', CC_TK_NE, CC_TK_BANG); break;
    case '=': k = TWO('=', CC_TK_EQEQ, CC_TK_ASSIGN); break;
    case '<':
        k = c1 == '<' ? (len = 2, CC_TK_SHL) : TWO('=', CC_TK_LE, CC_TK_LT);
        break;
    case '>':
        k = c1 == '>' ? (len = 2, CC_TK_SHR) : TWO('=', CC_TK_GE, CC_TK_GT);
        break;
    default:
        return false;
    }
#undef TWO
    t->kind = k;
    lx->cur += len;
    return true;
}

static void report_bad_char(CcLexer *lx, CcPos pos)
{
    unsigned char c = (unsigned char)*lx->cur;
    if (c >= 0x20 && c < 0x7F)
        pvmC_error(lx->diag, lx->file, pos, "unexpected character '%c'", c);
    else
        pvmC_error(lx->diag, lx->file, pos, "unexpected byte 0x%02X", c);
    /* Skip a whole UTF-8 sequence so one stray character is one error. */
    lx->cur++;
    while (lx->cur < lx->end && ((unsigned char)*lx->cur & 0xC0) == 0x80)
        lx->cur++;
}

void pvmC_lex_next(CcLexer *lx, CcToken *t)
{
    for (;;) {
        skip_space(lx);
        memset(t, 0, sizeof *t);
        t->start = lx->cur;
        t->pos = pos_of(lx, lx->cur);
        if (lx->cur >= lx->end) {
            t->kind = CC_TK_EOF;
            return;
        }
        int c = (unsigned char)*lx->cur;
        if (is_digit(c))
            lex_number(lx, t);
        else if (is_alpha(c))
            lex_name(lx, t);
        else if (c == '"')
            lex_string(lx, t);
        else if (!lex_operator(lx, t)) {
            report_bad_char(lx, t->pos);
            continue;
        }
        t->len = (uint32_t)(lx->cur - t->start);
        return;
    }
}
