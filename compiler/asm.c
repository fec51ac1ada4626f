/* The assembler: .pva text to a PbcImage.
 *
 * One pass over the lines builds the image directly. Names that may be used
 * before they are defined are recorded as fixups and patched when their
 * scope closes: labels at the function's `.end`, function symbols, global
 * names and module names at the end of the file. Errors are reported per
 * line and the line is skipped, so one run reports many of them. The
 * assembler checks syntax and names only; pvmB_verify checks the result.
 * docs/bytecode.md ("Assembly syntax") is the reference for the grammar. */
#include "compiler/asm.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode/opcodes.h"

#define ASM_MAX_ERRORS 50
#define ASM_MAX_NUMBER 128 /* longest numeric word we accept */

/* ---- Small helpers ---------------------------------------------------- */

/* Where running out of memory jumps: the pvmC_assemble running on this
 * thread, which reports it and fails (the library never exits). Per
 * thread, because the helpers below are called from everywhere and carry
 * no assembler state. */
static _Thread_local jmp_buf *asm_oom;

/* realloc that never returns NULL: the assembler cannot continue without
 * memory, so it abandons the file. */
static void *asm_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        longjmp(*asm_oom, 1);
    return q;
}

/* Makes room for element [n] of an array whose capacity is *[cap]. */
static void *grow(void *p, uint32_t n, uint32_t *cap, size_t elem)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 8;
    return asm_realloc(p, (size_t)*cap * elem);
}

/* Makes room for element [n] of an array sized exactly n (image arrays
 * carry no capacity): grows to the next power of two when n is one. */
static void *grow_pow2(void *p, uint32_t n, size_t elem)
{
    if (n != 0 && (n & (n - 1)) != 0)
        return p;
    return asm_realloc(p, (size_t)(n ? n * 2 : 1) * elem);
}

static char *copy_text(const char *s, size_t n)
{
    char *c = asm_realloc(NULL, n + 1);
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static double bits_to_double(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* ---- State ------------------------------------------------------------ */

typedef enum { TK_WORD, TK_STRING, TK_EQ } TokenKind;

typedef struct {
    TokenKind kind;
    const char *text; /* source characters (TK_WORD, TK_STRING) */
    size_t len;
    char *str;        /* TK_STRING: decoded bytes, malloc'd, NUL-terminated */
    uint32_t strlen;
} Token;

typedef struct {
    char *name;
    uint32_t offset;
    uint32_t line;
} Label;

typedef enum { FIX_LABEL, FIX_FUNC, FIX_GLOBAL, FIX_MODULE } FixKind;

/* A name used before it could be resolved; [where] is the function whose
 * code holds the 4-byte operand at [at]. */
typedef struct {
    FixKind kind;
    char *name;
    uint32_t line;
    uint32_t where;
    uint32_t at;
} Fixup;

/* The function being assembled, between `.func` and `.end`. */
typedef struct {
    bool open;
    uint32_t index;
    uint32_t line;
    bool has_locals, has_stack;
    uint32_t locals, stack;
    uint64_t locals_used; /* 1 + highest local slot named by an operand */
    uint8_t *code;
    uint32_t len, cap;
    PbcLine *lines;
    uint32_t nlines, lines_cap;
    PbcUpval *upvals;
    uint32_t nupvals, upvals_cap;
    Label *labels;
    uint32_t nlabels, labels_cap;
    Fixup *fixups;
    uint32_t nfixups, fixups_cap;
} FuncState;

/* What the assembler knows of a module beyond its PbcModule. */
typedef struct {
    char *main_sym;    /* main=SYMBOL, resolved at the end of the file */
    bool main_default; /* no main= given: its first function becomes main */
    uint32_t line;
} ModuleState;

typedef struct {
    const char *filename;
    FILE *errors;
    uint32_t line;
    uint32_t nerrors;
    PbcImage *img;
    int64_t module;        /* current module (see dir_func), or -1 */
    ModuleState *mods;
    uint32_t nmods, mods_cap;
    FuncState fn;
    Label *syms;           /* function symbols; offset = function index */
    uint32_t nsyms, syms_cap;
    Fixup *fixups;         /* file-scope fixups */
    uint32_t nfixups, fixups_cap;
    Token *toks;           /* tokens of the current line */
    uint32_t ntoks, toks_cap, pos;
} Asm;

/* ---- Errors ----------------------------------------------------------- */

static void error_at(Asm *a, uint32_t line, const char *fmt, ...)
    PVM_PRINTF(3, 4);

static void error_at(Asm *a, uint32_t line, const char *fmt, ...)
{
    a->nerrors++;
    if (a->nerrors > ASM_MAX_ERRORS)
        return;
    fprintf(a->errors, "%s:%u: error: ", a->filename, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(a->errors, fmt, ap);
    va_end(ap);
    fputc('\n', a->errors);
    if (a->nerrors == ASM_MAX_ERRORS)
        fprintf(a->errors, "%s: too many errors, stopping\n", a->filename);
}

#define report(a, ...) error_at((a), (a)->line, __VA_ARGS__)

/* ---- Lexer: one line into tokens -------------------------------------- */

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one escape after the backslash at *[pp]; returns the byte or -1. */
static int lex_escape(Asm *a, const char **pp, const char *end)
{
    const char *p = *pp;
    if (p >= end) {
        report(a, "unterminated string");
        return -1;
    }
    char c = *p++;
    *pp = p;
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    case '0': return 0;
    case '\\': return '\\';
    case '"': return '"';
    case 'x':
        if (end - p >= 2 && hex_digit(p[0]) >= 0 && hex_digit(p[1]) >= 0) {
            *pp = p + 2;
            return hex_digit(p[0]) * 16 + hex_digit(p[1]);
        }
        report(a, "bad string escape '\\x': expected two hex digits");
        return -1;
    default:
        if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
            report(a, "bad string escape '\\%c'", c);
        else
            report(a, "bad string escape '\\' followed by byte 0x%02x", (unsigned char)c);
        return -1;
    }
}

/* Lexes a string literal starting at the quote *[pp] into [t]. */
static bool lex_string(Asm *a, const char **pp, const char *end, Token *t)
{
    const char *p = *pp + 1;
    char *buf = asm_realloc(NULL, (size_t)(end - p) + 1);
    uint32_t n = 0;
    while (p < end && *p != '"') {
        int c = (unsigned char)*p++;
        if (c == '\\' && (c = lex_escape(a, &p, end)) < 0) {
            free(buf);
            return false;
        }
        buf[n++] = (char)c;
    }
    if (p >= end) {
        free(buf);
        report(a, "unterminated string");
        return false;
    }
    buf[n] = '\0';
    t->kind = TK_STRING;
    t->text = *pp;
    t->len = (size_t)(p + 1 - *pp);
    t->str = buf;
    t->strlen = n;
    *pp = p + 1;
    return true;
}

static bool is_word_char(char c)
{
    return c != ' ' && c != '\t' && c != '\r' && c != ';' && c != '"' && c != '=';
}

static void clear_tokens(Asm *a)
{
    for (uint32_t i = 0; i < a->ntoks; i++)
        free(a->toks[i].str);
    a->ntoks = 0;
    a->pos = 0;
}

static Token *new_token(Asm *a)
{
    a->toks = grow(a->toks, a->ntoks, &a->toks_cap, sizeof *a->toks);
    Token *t = &a->toks[a->ntoks++];
    memset(t, 0, sizeof *t);
    return t;
}

/* Splits the line [p, end) into words, strings and '='; stops at ';'. */
static bool lex_line(Asm *a, const char *p, const char *end)
{
    clear_tokens(a);
    while (p < end) {
        char c = *p;
        if (c == ' ' || c == '\t' || c == '\r') {
            p++;
        } else if (c == ';') {
            break;
        } else if ((unsigned char)c < 0x20 || c == 0x7f) {
            report(a, "unexpected character 0x%02x", (unsigned char)c);
            return false;
        } else if (c == '"') {
            Token *t = new_token(a);
            if (!lex_string(a, &p, end, t)) {
                a->ntoks--;
                return false;
            }
        } else if (c == '=') {
            Token *t = new_token(a);
            t->kind = TK_EQ;
            t->text = p++;
            t->len = 1;
        } else {
            Token *t = new_token(a);
            t->kind = TK_WORD;
            t->text = p;
            while (p < end && is_word_char(*p) && (unsigned char)*p >= 0x20)
                p++;
            t->len = (size_t)(p - t->text);
        }
    }
    return true;
}

/* ---- Token cursor ----------------------------------------------------- */

static Token *peek(Asm *a)
{
    return a->pos < a->ntoks ? &a->toks[a->pos] : NULL;
}

static Token *next(Asm *a)
{
    return a->pos < a->ntoks ? &a->toks[a->pos++] : NULL;
}

static bool word_is(const Token *t, const char *s)
{
    return t && t->kind == TK_WORD && t->len == strlen(s) && memcmp(t->text, s, t->len) == 0;
}

/* Reports anything left on the line after a complete statement. */
static bool expect_end(Asm *a)
{
    Token *t = peek(a);
    if (!t)
        return true;
    report(a, "unexpected '%.*s'", (int)t->len, t->text);
    return false;
}

bool pvmC_is_identifier(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool tok_is_ident(const Token *t)
{
    return t && t->kind == TK_WORD && pvmC_is_identifier(t->text, t->len);
}

/* ---- Numbers ---------------------------------------------------------- */

typedef enum { NUM_OK, NUM_NOT_A_NUMBER, NUM_OUT_OF_RANGE } NumResult;

/* Parses [+-] then decimal digits, or 0x hex / 0b binary digits (up to 64
 * bits, read as two's complement). */
static NumResult parse_integer(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    unsigned base = 10;
    if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X'))
        base = 16, i += 2;
    else if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'b' || s[i + 1] == 'B'))
        base = 2, i += 2;
    if (i == n)
        return NUM_NOT_A_NUMBER;
    uint64_t v = 0;
    bool overflow = false;
    for (; i < n; i++) {
        int d = hex_digit((unsigned char)s[i]);
        if (d < 0 || (unsigned)d >= base)
            return NUM_NOT_A_NUMBER;
        if (v > (UINT64_MAX - (unsigned)d) / base)
            overflow = true;
        v = v * base + (unsigned)d;
    }
    if (overflow)
        return NUM_OUT_OF_RANGE;
    if (base == 10 && v > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
        return NUM_OUT_OF_RANGE;
    *out = (int64_t)(neg ? 0 - v : v);
    return NUM_OK;
}

/* Parses a decimal float ("1.5", "-0.0", "1e9", "2.5E-3"), inf or nan.
 * Other spellings strtod knows (hex floats, "infinity") are refused so the
 * syntax stays small. */
static bool parse_float(const char *s, size_t n, double *out)
{
    static const struct { const char *text; uint64_t bits; } words[] = {
        { "inf", 0x7ff0000000000000u }, { "+inf", 0x7ff0000000000000u },
        { "-inf", 0xfff0000000000000u }, { "nan", 0x7ff8000000000000u },
        { "-nan", 0xfff8000000000000u },
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (n == strlen(words[i].text) && memcmp(s, words[i].text, n) == 0) {
            *out = bits_to_double(words[i].bits);
            return true;
        }
    }
    bool digit = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9')
            digit = true;
        else if (!strchr(".eE+-", c))
            return false;
    }
    if (!digit || n >= ASM_MAX_NUMBER)
        return false;
    char buf[ASM_MAX_NUMBER];
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *endp;
    *out = strtod(buf, &endp);
    return endp == buf + n;
}

/* Parses "0x" and 1 to 16 hex digits: the raw IEEE bits of a float. */
static bool parse_float_bits(const char *s, size_t n, double *out)
{
    if (n < 3 || n > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return false;
    uint64_t bits = 0;
    for (size_t i = 2; i < n; i++) {
        int d = hex_digit((unsigned char)s[i]);
        if (d < 0)
            return false;
        bits = bits << 4 | (unsigned)d;
    }
    *out = bits_to_double(bits);
    return true;
}

/* Parses a word as a 32-bit operand: signed for `int`, unsigned otherwise. */
static bool parse_u32_word(Asm *a, const Token *t, bool is_signed, uint32_t *out)
{
    int64_t v;
    NumResult r = t->kind == TK_WORD ? parse_integer(t->text, t->len, &v) : NUM_NOT_A_NUMBER;
    if (r == NUM_NOT_A_NUMBER) {
        report(a, "expected a number, got '%.*s'", (int)t->len, t->text);
        return false;
    }
    bool fits = r == NUM_OK && (is_signed ? v >= INT32_MIN && v <= INT32_MAX
                                          : v >= 0 && v <= (int64_t)UINT32_MAX);
    if (!fits) {
        report(a, "operand %.*s out of range for 32 bits", (int)t->len, t->text);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* ---- Constants -------------------------------------------------------- */

/* A constant written in the source: a value, or a direct pool index #k. */
typedef struct {
    bool is_index;
    uint32_t index;
    PbcConstKind kind;
    int64_t i;
    double f;
    const char *s;
    uint32_t len;
} Literal;

/* Parses "#k". */
static bool parse_pool_index(Asm *a, const Token *t, uint32_t *out)
{
    if (t->kind != TK_WORD || t->len < 2 || t->text[0] != '#')
        return false;
    Token rest = *t;
    rest.text++;
    rest.len--;
    return parse_u32_word(a, &rest, false, out);
}

static bool is_pool_index(const Token *t)
{
    return t && t->kind == TK_WORD && t->len >= 1 && t->text[0] == '#';
}

/* Parses the value after a kind word: `int 5`, `float 0.1`, `float 0x7ff8...`,
 * `string "s"`. */
static bool parse_typed_literal(Asm *a, const Token *kind, Literal *lit)
{
    Token *t = next(a);
    if (!t) {
        report(a, "missing value after '%.*s'", (int)kind->len, kind->text);
        return false;
    }
    if (word_is(kind, "string")) {
        if (t->kind != TK_STRING) {
            report(a, "expected a string, got '%.*s'", (int)t->len, t->text);
            return false;
        }
        lit->kind = PBC_CONST_STRING, lit->s = t->str, lit->len = t->strlen;
        return true;
    }
    if (word_is(kind, "int")) {
        NumResult r = t->kind == TK_WORD ? parse_integer(t->text, t->len, &lit->i) : NUM_NOT_A_NUMBER;
        if (r == NUM_OUT_OF_RANGE)
            report(a, "integer %.*s out of range for 64 bits", (int)t->len, t->text);
        else if (r == NUM_NOT_A_NUMBER)
            report(a, "expected an integer, got '%.*s'", (int)t->len, t->text);
        lit->kind = PBC_CONST_INT;
        return r == NUM_OK;
    }
    lit->kind = PBC_CONST_FLOAT;
    if (t->kind == TK_WORD && (parse_float_bits(t->text, t->len, &lit->f) ||
                               parse_float(t->text, t->len, &lit->f)))
        return true;
    int64_t i;
    if (t->kind == TK_WORD && parse_integer(t->text, t->len, &i) == NUM_OK) {
        lit->f = (double)i; /* `float 3` means 3.0 */
        return true;
    }
    report(a, "expected a float, got '%.*s'", (int)t->len, t->text);
    return false;
}

/* Parses a constant: #k, a typed value, a string, an int or a float. When
 * [ident_is_string], a bare identifier means that string (field names). */
static bool parse_literal(Asm *a, Literal *lit, bool ident_is_string)
{
    memset(lit, 0, sizeof *lit);
    Token *t = next(a);
    if (!t) {
        report(a, "missing constant");
        return false;
    }
    if (t->kind == TK_STRING) {
        lit->kind = PBC_CONST_STRING, lit->s = t->str, lit->len = t->strlen;
        return true;
    }
    if (is_pool_index(t)) {
        lit->is_index = true;
        return parse_pool_index(a, t, &lit->index);
    }
    bool typed = word_is(t, "int") || word_is(t, "float") || word_is(t, "string");
    if (typed && peek(a))
        return parse_typed_literal(a, t, lit);
    if (ident_is_string && tok_is_ident(t)) {
        lit->kind = PBC_CONST_STRING, lit->s = t->text, lit->len = (uint32_t)t->len;
        return true;
    }
    NumResult r = t->kind == TK_WORD ? parse_integer(t->text, t->len, &lit->i) : NUM_NOT_A_NUMBER;
    if (r == NUM_OK) {
        lit->kind = PBC_CONST_INT;
        return true;
    }
    if (r == NUM_OUT_OF_RANGE) {
        report(a, "integer %.*s out of range for 64 bits", (int)t->len, t->text);
        return false;
    }
    if (t->kind == TK_WORD && parse_float(t->text, t->len, &lit->f)) {
        lit->kind = PBC_CONST_FLOAT;
        return true;
    }
    report(a, "expected a constant, got '%.*s'", (int)t->len, t->text);
    return false;
}

/* The pool index of [lit]: an equal constant already in the pool, or a new
 * one appended (or a new one always, for `.const`). */
static uint32_t literal_index(Asm *a, const Literal *lit, bool append)
{
    if (lit->is_index)
        return lit->index;
    switch (lit->kind) {
    case PBC_CONST_INT:
        return append ? pvmB_add_const_int(a->img, lit->i) : pvmB_const_int(a->img, lit->i);
    case PBC_CONST_FLOAT:
        return append ? pvmB_add_const_float(a->img, lit->f) : pvmB_const_float(a->img, lit->f);
    default:
        return append ? pvmB_add_const_string(a->img, lit->s, lit->len)
                      : pvmB_const_string(a->img, lit->s, lit->len);
    }
}

/* A string-constant reference: an identifier, a quoted string or #k. */
static bool parse_string_ref(Asm *a, const char *what, uint32_t *out)
{
    Token *t = next(a);
    bool bad_word = t && t->kind == TK_WORD && !is_pool_index(t) && !tok_is_ident(t);
    if (!t || t->kind == TK_EQ || bad_word) {
        if (t)
            report(a, "expected %s (a name, a string or #k), got '%.*s'", what, (int)t->len, t->text);
        else
            report(a, "missing %s", what);
        return false;
    }
    if (is_pool_index(t))
        return parse_pool_index(a, t, out);
    const char *s = t->kind == TK_STRING ? t->str : t->text;
    uint32_t len = t->kind == TK_STRING ? t->strlen : (uint32_t)t->len;
    *out = pvmB_const_string(a->img, s, len);
    return true;
}

/* ---- Fixups and symbols ----------------------------------------------- */

static void add_fixup(Asm *a, FixKind kind, const char *name, size_t len, uint32_t where, uint32_t at)
{
    Fixup f = { kind, copy_text(name, len), a->line, where, at };
    if (kind == FIX_LABEL) {
        FuncState *fn = &a->fn;
        fn->fixups = grow(fn->fixups, fn->nfixups, &fn->fixups_cap, sizeof f);
        fn->fixups[fn->nfixups++] = f;
    } else {
        a->fixups = grow(a->fixups, a->nfixups, &a->fixups_cap, sizeof f);
        a->fixups[a->nfixups++] = f;
    }
}

static int compare_labels(const void *x, const void *y)
{
    const Label *l = x, *r = y;
    int c = strcmp(l->name, r->name);
    return c ? c : (l->line > r->line) - (l->line < r->line);
}

/* Sorts [labels] by name and reports every name defined twice. */
static void sort_and_check_duplicates(Asm *a, Label *labels, uint32_t n, const char *what)
{
    if (n > 1)
        qsort(labels, n, sizeof *labels, compare_labels);
    for (uint32_t i = 1; i < n; i++) {
        if (strcmp(labels[i].name, labels[i - 1].name) == 0)
            error_at(a, labels[i].line, "duplicate %s '%s' (first defined on line %u)", what,
                     labels[i].name, labels[i - 1].line);
    }
}

/* The first (earliest) label named [name] in sorted [labels], or NULL. */
static const Label *find_label(const Label *labels, uint32_t n, const char *name)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (strcmp(labels[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(labels[lo].name, name) == 0 ? &labels[lo] : NULL;
}

static void patch(Asm *a, uint32_t func, uint32_t at, uint32_t value)
{
    PbcFunc *f = &a->img->funcs[func];
    if (f->code && at + 4 <= f->codelen)
        put_u32(f->code + at, value);
}

/* ---- Function bodies -------------------------------------------------- */

static void emit_byte(FuncState *fn, uint8_t b)
{
    fn->code = grow(fn->code, fn->len, &fn->cap, 1);
    fn->code[fn->len++] = b;
}

static void emit_u32(FuncState *fn, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        emit_byte(fn, (uint8_t)(v >> (8 * i)));
}

/* Visits [target] at stack [depth] if it has not been seen. */
static void stack_visit(int64_t *depth, uint32_t *work, uint32_t *nwork, uint32_t len,
                        int64_t target, int64_t d)
{
    if (target < 0 || target >= len || depth[target] >= 0 || d < 0)
        return;
    depth[target] = d;
    work[(*nwork)++] = (uint32_t)target;
}

/* The largest operand-stack depth over every path through [code], by the
 * verifier's rules (the first depth that reaches an instruction wins;
 * conflicts and underflows are left for the verifier to report). */
static uint32_t compute_maxstack(const uint8_t *code, uint32_t len)
{
    if (len == 0)
        return 0;
    int64_t *depth = asm_realloc(NULL, (size_t)len * sizeof *depth);
    uint32_t *work = asm_realloc(NULL, (size_t)len * sizeof *work);
    for (uint32_t i = 0; i < len; i++)
        depth[i] = -1;
    uint32_t nwork = 0;
    int64_t max = 0;
    stack_visit(depth, work, &nwork, len, 0, 0);
    while (nwork > 0) {
        uint32_t off = work[--nwork];
        PbcInsn in;
        if (!pvmB_decode(code, len, off, &in))
            continue;
        const OpcodeInfo *info = &pvmB_opcode_info[in.op];
        int64_t d = depth[off];
        int64_t after = d - info->pops - (int64_t)info->pops_per_arg * in.operand + info->pushes;
        if (after > max)
            max = after;
        if (info->flow == FLOW_NEXT || info->flow == FLOW_BRANCH)
            stack_visit(depth, work, &nwork, len, (int64_t)off + in.size, after);
        if (info->flow == FLOW_JUMP || info->flow == FLOW_BRANCH) {
            int64_t taken = d + info->branch_delta;
            if (taken > max)
                max = taken;
            stack_visit(depth, work, &nwork, len, in.operand, taken);
        }
    }
    free(depth);
    free(work);
    return max > UINT32_MAX ? UINT32_MAX : (uint32_t)max;
}

static void resolve_labels(Asm *a)
{
    FuncState *fn = &a->fn;
    sort_and_check_duplicates(a, fn->labels, fn->nlabels, "label");
    for (uint32_t i = 0; i < fn->nfixups; i++) {
        Fixup *f = &fn->fixups[i];
        const Label *l = find_label(fn->labels, fn->nlabels, f->name);
        if (!l)
            error_at(a, f->line, "undefined label '%s'", f->name);
        else if (f->at + 4 <= fn->len) /* else its instruction had an error */
            put_u32(fn->code + f->at, l->offset);
    }
}

static void free_func_state(FuncState *fn)
{
    for (uint32_t i = 0; i < fn->nlabels; i++)
        free(fn->labels[i].name);
    for (uint32_t i = 0; i < fn->nfixups; i++)
        free(fn->fixups[i].name);
    free(fn->labels);
    free(fn->fixups);
    free(fn->code);
    free(fn->lines);
    free(fn->upvals);
    memset(fn, 0, sizeof *fn);
}

/* Closes the open function: resolves its labels, fills in the computed
 * fields and hands its arrays to the image. */
static void finish_func(Asm *a)
{
    FuncState *fn = &a->fn;
    resolve_labels(a);
    PbcFunc *f = &a->img->funcs[fn->index];
    uint64_t min_locals = f->nparams + (uint64_t)((f->flags & PBC_FUNC_VARIADIC) != 0);
    if (fn->locals_used > min_locals)
        min_locals = fn->locals_used;
    f->nlocals = fn->has_locals ? fn->locals : (uint32_t)(min_locals > UINT32_MAX ? UINT32_MAX : min_locals);
    f->maxstack = fn->has_stack ? fn->stack : compute_maxstack(fn->code, fn->len);
    f->code = fn->code, f->codelen = fn->len, fn->code = NULL;
    f->lines = fn->lines, f->nlines = fn->nlines, fn->lines = NULL;
    f->upvals = fn->upvals, f->nupvals = fn->nupvals, fn->upvals = NULL;
    free_func_state(fn);
}

static bool need_func(Asm *a, const char *what)
{
    if (a->fn.open)
        return true;
    report(a, "%s outside .func", what);
    return false;
}

/* ---- Instructions ----------------------------------------------------- */

static const OpcodeInfo *find_opcode(const Token *t, Opcode *op)
{
    for (int i = 0; i < OP__COUNT; i++) {
        if (word_is(t, pvmB_opcode_info[i].mnemonic)) {
            *op = (Opcode)i;
            return &pvmB_opcode_info[i];
        }
    }
    return NULL;
}

/* Operands that may name something defined elsewhere: a fixup is recorded
 * and 0 emitted for now. */
static bool parse_named_operand(Asm *a, const Token *t, OperandKind kind, uint32_t *out)
{
    static const FixKind fix_of[] = { [OPND_FUNC] = FIX_FUNC, [OPND_GLOBAL] = FIX_GLOBAL,
                                      [OPND_MODULE] = FIX_MODULE, [OPND_TARGET] = FIX_LABEL };
    bool by_string = t->kind == TK_STRING && (kind == OPND_GLOBAL || kind == OPND_MODULE);
    if (kind == OPND_FUNC && is_pool_index(t))
        return parse_pool_index(a, t, out);
    if (kind != OPND_TARGET && kind != OPND_FUNC && !tok_is_ident(t) && !by_string)
        return parse_u32_word(a, t, false, out);
    if (!tok_is_ident(t) && !by_string) {
        report(a, "expected a %s name, got '%.*s'", kind == OPND_FUNC ? "function" : "label",
              (int)t->len, t->text);
        return false;
    }
    FuncState *fn = &a->fn;
    add_fixup(a, fix_of[kind], by_string ? t->str : t->text, by_string ? t->strlen : t->len,
              kind == OPND_TARGET ? 0 : fn->index, fn->len + 1);
    *out = 0;
    return true;
}

/* istype's operand: type names joined by '|' (`int|float`), or a number. */
static bool parse_types(Asm *a, const Token *t, uint32_t *out)
{
    static const char *const names[] = {
#define X(name, text) text,
        PBC_TYPE_NAMES(X)
#undef X
    };
    if (t->kind == TK_WORD && t->len > 0 && t->text[0] >= '0' && t->text[0] <= '9')
        return parse_u32_word(a, t, false, out);
    *out = 0;
    size_t from = 0;
    while (t->kind == TK_WORD && from <= t->len) {
        const char *bar = memchr(t->text + from, '|', t->len - from);
        size_t end = bar ? (size_t)(bar - t->text) : t->len;
        int found = -1;
        for (int k = 0; k < PBC_TYPE__COUNT; k++)
            if (strlen(names[k]) == end - from && !memcmp(names[k], t->text + from, end - from))
                found = k;
        if (found < 0) {
            report(a, "unknown type '%.*s' (the types are those of type(): nil bool int float string array map "
                      "function pointer)", (int)(end - from), t->text + from);
            return false;
        }
        *out |= 1u << found;
        from = end + 1;
    }
    if (t->kind != TK_WORD) {
        report(a, "expected type names, got a string");
        return false;
    }
    return true;
}

static bool parse_operand(Asm *a, const OpcodeInfo *info, uint32_t *out)
{
    Token *t = peek(a);
    if (!t) {
        report(a, "missing operand for '%s'", info->mnemonic);
        return false;
    }
    Literal lit;
    switch (info->operand) {
    case OPND_CONST:
    case OPND_NAME:
    case OPND_FIELD:
        if (!parse_literal(a, &lit, info->operand != OPND_CONST))
            return false;
        *out = literal_index(a, &lit, false);
        return true;
    case OPND_INT:
        return parse_u32_word(a, next(a), true, out);
    case OPND_LOCAL:
        if (!parse_u32_word(a, next(a), false, out))
            return false;
        if ((uint64_t)*out + 1 > a->fn.locals_used)
            a->fn.locals_used = (uint64_t)*out + 1;
        return true;
    case OPND_UPVAL:
    case OPND_COUNT:
    case OPND_LINE:
        return parse_u32_word(a, next(a), false, out);
    case OPND_TYPES:
        return parse_types(a, next(a), out);
    default:
        return parse_named_operand(a, next(a), info->operand, out);
    }
}

static void assemble_instruction(Asm *a)
{
    Token *t = next(a);
    Opcode op;
    const OpcodeInfo *info = find_opcode(t, &op);
    if (!info) {
        report(a, "unknown instruction '%.*s'", (int)t->len, t->text);
        return;
    }
    if (!need_func(a, "instruction"))
        return;
    uint32_t operand = 0;
    if (info->operand == OPND_NONE && peek(a)) {
        report(a, "'%s' takes no operand", info->mnemonic);
        return;
    }
    if (info->operand != OPND_NONE && !parse_operand(a, info, &operand))
        return;
    if (!expect_end(a))
        return;
    emit_byte(&a->fn, (uint8_t)op);
    if (info->operand != OPND_NONE)
        emit_u32(&a->fn, operand);
}

static void define_label(Asm *a, const Token *t)
{
    if (!pvmC_is_identifier(t->text, t->len - 1)) {
        report(a, "bad label name '%.*s'", (int)t->len - 1, t->text);
        return;
    }
    if (!need_func(a, "label"))
        return;
    FuncState *fn = &a->fn;
    fn->labels = grow(fn->labels, fn->nlabels, &fn->labels_cap, sizeof *fn->labels);
    fn->labels[fn->nlabels++] = (Label){ copy_text(t->text, t->len - 1), fn->len, a->line };
}

/* ---- Directives ------------------------------------------------------- */

/* .const KIND VALUE: always appends, so a pool can be written out exactly. */
static void dir_const(Asm *a)
{
    Literal lit;
    if (!parse_literal(a, &lit, false))
        return;
    if (lit.is_index) {
        report(a, ".const needs a value, not a pool index");
        return;
    }
    if (expect_end(a))
        literal_index(a, &lit, true);
}

/* Parses `key=` and returns the value token, or NULL after an error. */
static Token *option_value(Asm *a, Token *key)
{
    Token *eq = next(a), *v = next(a);
    if (!eq || eq->kind != TK_EQ || !v || v->kind == TK_EQ) {
        report(a, "expected %.*s=VALUE", (int)key->len, key->text);
        return NULL;
    }
    return v;
}

/* .module NAME FILE [main=SYMBOL]: a new module, now the current one. */
static void dir_module(Asm *a)
{
    uint32_t m = pvmB_add_module(a->img);
    if (m == PBC_NONE) {
        report(a, "too many modules");
        return;
    }
    a->mods = grow(a->mods, a->nmods, &a->mods_cap, sizeof *a->mods);
    a->mods[a->nmods++] = (ModuleState){ NULL, true, a->line };
    a->module = m;
    PbcModule *mod = &a->img->modules[m];
    mod->main = PBC_NONE;
    if (!parse_string_ref(a, "a module name", &mod->name) || !parse_string_ref(a, "a file name", &mod->file))
        return;
    Token *key = next(a);
    if (!key)
        return;
    if (!word_is(key, "main")) {
        report(a, "unknown .module option '%.*s'", (int)key->len, key->text);
        return;
    }
    Token *v = option_value(a, key);
    if (!v || !expect_end(a))
        return;
    a->mods[m].main_default = false;
    if (is_pool_index(v))
        parse_pool_index(a, v, &mod->main);
    else if (tok_is_ident(v))
        a->mods[m].main_sym = copy_text(v->text, v->len);
    else
        report(a, "expected a function name, got '%.*s'", (int)v->len, v->text);
}

/* .global NAME: the next global slot of the current module. */
static void dir_global(Asm *a)
{
    if (a->module < 0) {
        report(a, ".global outside a module");
        return;
    }
    uint32_t name;
    if (!parse_string_ref(a, "a global name", &name) || !expect_end(a))
        return;
    PbcModule *m = &a->img->modules[a->module];
    m->globals = grow_pow2(m->globals, m->nglobals, sizeof *m->globals);
    m->globals[m->nglobals++] = name;
}

/* Reads the options of .func into [f] and [fn]. */
static bool parse_func_options(Asm *a, PbcFunc *f, FuncState *fn, int64_t *module,
                               bool *explicit_module)
{
    Token *key;
    while ((key = next(a))) {
        if (word_is(key, "variadic")) {
            f->flags |= PBC_FUNC_VARIADIC;
            continue;
        }
        uint32_t *dest = word_is(key, "params") ? &f->nparams
                       : word_is(key, "locals") ? &fn->locals
                       : word_is(key, "stack")  ? &fn->stack
                       : NULL;
        uint32_t value;
        if (!dest && !word_is(key, "module")) {
            report(a, "unknown .func option '%.*s'", (int)key->len, key->text);
            return false;
        }
        Token *v = option_value(a, key);
        if (!v || !parse_u32_word(a, v, false, &value))
            return false;
        if (dest)
            *dest = value;
        fn->has_locals |= dest == &fn->locals;
        fn->has_stack |= dest == &fn->stack;
        if (!dest)
            *module = value, *explicit_module = true;
    }
    return true;
}

/* The module whose main= names function [index] called [sym], or -1. */
static int64_t module_with_main(const Asm *a, const char *sym, uint32_t index)
{
    for (uint32_t m = 0; m < a->nmods; m++) {
        const char *want = a->mods[m].main_sym;
        if (want ? strcmp(want, sym) == 0 : a->img->modules[m].main == index)
            return m;
    }
    return -1;
}

/* .func SYMBOL ["display name" | #k] [params=N] [variadic] [locals=N] [stack=N] [module=N]
 * The function belongs to the current module: the one of the latest
 * .module, or of the latest function that some module names as its main
 * (so all modules may be declared first). module=N overrides this for one
 * function. */
static void dir_func(Asm *a)
{
    if (a->fn.open) {
        report(a, ".func inside a function (missing .end?)");
        finish_func(a);
    }
    Token *sym = next(a);
    if (!tok_is_ident(sym)) {
        if (sym)
            report(a, "expected a function name after .func, got '%.*s'", (int)sym->len, sym->text);
        else
            report(a, "expected a function name after .func");
        return;
    }
    uint32_t index = pvmB_add_func(a->img);
    if (index == PBC_NONE) {
        report(a, "too many functions");
        return;
    }
    a->syms = grow(a->syms, a->nsyms, &a->syms_cap, sizeof *a->syms);
    a->syms[a->nsyms++] = (Label){ copy_text(sym->text, sym->len), index, a->line };
    FuncState *fn = &a->fn;
    fn->open = true, fn->index = index, fn->line = a->line;
    PbcFunc *f = &a->img->funcs[index];
    Token *t = peek(a);
    if (t && (t->kind == TK_STRING || is_pool_index(t)) && !parse_string_ref(a, "a display name", &f->name))
        return;
    int64_t owner = module_with_main(a, a->syms[a->nsyms - 1].name, index);
    if (owner >= 0)
        a->module = owner;
    int64_t module = a->module;
    bool explicit_module = false;
    if (!parse_func_options(a, f, fn, &module, &explicit_module))
        return;
    if (module < 0) {
        report(a, ".func before any .module (or give module=N)");
        return;
    }
    f->module = (uint32_t)module;
    if (!explicit_module && a->mods[module].main_default) {
        a->img->modules[module].main = index;
        a->mods[module].main_default = false;
    }
}

/* .upval local N | .upval upval N */
static void dir_upval(Asm *a)
{
    if (!need_func(a, ".upval"))
        return;
    Token *kind = next(a), *v = next(a);
    if (!word_is(kind, "local") && !word_is(kind, "upval")) {
        report(a, "expected '.upval local N' or '.upval upval N'");
        return;
    }
    uint32_t index;
    if (!v) {
        report(a, "missing index after '.upval %.*s'", (int)kind->len, kind->text);
        return;
    }
    if (!parse_u32_word(a, v, false, &index) || !expect_end(a))
        return;
    FuncState *fn = &a->fn;
    fn->upvals = grow(fn->upvals, fn->nupvals, &fn->upvals_cap, sizeof *fn->upvals);
    fn->upvals[fn->nupvals++] = (PbcUpval){ word_is(kind, "local") ? 1 : 0, index };
}

/* .line N: one line-table entry at the current code offset. */
static void dir_line(Asm *a)
{
    if (!need_func(a, ".line"))
        return;
    Token *v = next(a);
    uint32_t line;
    if (!v) {
        report(a, "missing line number after .line");
        return;
    }
    if (!parse_u32_word(a, v, false, &line) || !expect_end(a))
        return;
    FuncState *fn = &a->fn;
    fn->lines = grow(fn->lines, fn->nlines, &fn->lines_cap, sizeof *fn->lines);
    fn->lines[fn->nlines++] = (PbcLine){ fn->len, line };
}

static void dir_end(Asm *a)
{
    if (!need_func(a, ".end") || !expect_end(a))
        return;
    finish_func(a);
}

static void assemble_directive(Asm *a)
{
    static const struct {
        const char *name;
        void (*run)(Asm *);
    } directives[] = {
        { ".const", dir_const }, { ".module", dir_module }, { ".global", dir_global },
        { ".func", dir_func },   { ".upval", dir_upval },   { ".line", dir_line },
        { ".end", dir_end },
    };
    Token *t = next(a);
    for (size_t i = 0; i < sizeof directives / sizeof directives[0]; i++) {
        if (word_is(t, directives[i].name)) {
            directives[i].run(a);
            return;
        }
    }
    report(a, "unknown directive '%.*s'", (int)t->len, t->text);
}

/* ---- Lines and the file ----------------------------------------------- */

static void assemble_line(Asm *a, const char *p, const char *end)
{
    if (!lex_line(a, p, end))
        return;
    Token *t;
    while ((t = peek(a)) && t->kind == TK_WORD && t->len > 1 && t->text[t->len - 1] == ':') {
        define_label(a, t);
        a->pos++;
    }
    if (!(t = peek(a)))
        return;
    if (t->kind != TK_WORD)
        report(a, "expected an instruction or a directive, got '%.*s'", (int)t->len, t->text);
    else if (t->text[0] == '.')
        assemble_directive(a);
    else
        assemble_instruction(a);
}

static bool string_const_is(const PbcImage *img, uint32_t k, const char *name)
{
    if (k >= img->nconsts || img->consts[k].kind != PBC_CONST_STRING)
        return false;
    size_t n = strlen(name);
    return img->consts[k].len == n && memcmp(img->consts[k].str, name, n) == 0;
}

/* Resolves a global or module name used by [f]. */
static bool resolve_name(Asm *a, const Fixup *f, uint32_t *out)
{
    const PbcImage *img = a->img;
    if (f->kind == FIX_MODULE) {
        for (uint32_t m = 0; m < img->nmodules; m++) {
            if (string_const_is(img, img->modules[m].name, f->name))
                return *out = m, true;
        }
        error_at(a, f->line, "unknown module '%s'", f->name);
        return false;
    }
    uint32_t m = img->funcs[f->where].module;
    for (uint32_t g = 0; m < img->nmodules && g < img->modules[m].nglobals; g++) {
        if (string_const_is(img, img->modules[m].globals[g], f->name))
            return *out = g, true;
    }
    error_at(a, f->line, "unknown global '%s' in this function's module", f->name);
    return false;
}

static void resolve_file_fixups(Asm *a)
{
    sort_and_check_duplicates(a, a->syms, a->nsyms, "function");
    for (uint32_t i = 0; i < a->nfixups; i++) {
        Fixup *f = &a->fixups[i];
        uint32_t value;
        if (f->kind == FIX_FUNC) {
            const Label *sym = find_label(a->syms, a->nsyms, f->name);
            if (!sym) {
                error_at(a, f->line, "undefined function '%s'", f->name);
                continue;
            }
            value = sym->offset;
        } else if (!resolve_name(a, f, &value)) {
            continue;
        }
        patch(a, f->where, f->at, value);
    }
}

/* Gives every module its main function, or reports why it has none. */
static void resolve_module_mains(Asm *a)
{
    for (uint32_t m = 0; m < a->nmods; m++) {
        ModuleState *ms = &a->mods[m];
        if (ms->main_default)
            error_at(a, ms->line, "module has no function to be its main");
        if (!ms->main_sym)
            continue;
        const Label *sym = find_label(a->syms, a->nsyms, ms->main_sym);
        if (sym)
            a->img->modules[m].main = sym->offset;
        else
            error_at(a, ms->line, "undefined function '%s'", ms->main_sym);
    }
}

static void free_asm(Asm *a)
{
    clear_tokens(a);
    free(a->toks);
    free_func_state(&a->fn);
    for (uint32_t i = 0; i < a->nsyms; i++)
        free(a->syms[i].name);
    for (uint32_t i = 0; i < a->nfixups; i++)
        free(a->fixups[i].name);
    for (uint32_t i = 0; i < a->nmods; i++)
        free(a->mods[i].main_sym);
    free(a->syms);
    free(a->fixups);
    free(a->mods);
}

static void assemble_file(Asm *a, const char *src, size_t len)
{
    const char *p = src, *end = src + len;
    while (p < end && a->nerrors < ASM_MAX_ERRORS) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        a->line++;
        assemble_line(a, p, eol ? eol : end);
        if (!eol)
            break;
        p = eol + 1;
    }
    if (a->nerrors < ASM_MAX_ERRORS) {
        if (a->fn.open) {
            error_at(a, a->fn.line, "function has no .end");
            finish_func(a);
        }
        resolve_file_fixups(a);
        resolve_module_mains(a);
    }
}

bool pvmC_assemble(const char *src, size_t len, const char *filename, PbcImage *out, FILE *errors)
{
    Asm a;
    memset(&a, 0, sizeof a);
    a.filename = filename ? filename : "<input>";
    a.errors = errors ? errors : stderr;
    a.img = out;
    a.module = -1;
    pvmB_init(out);
    jmp_buf oom, *outer = asm_oom;
    asm_oom = &oom;
    /* [a] is only reached through pointers after the jump, so its fields
     * hold their last values. */
    if (setjmp(oom) == 0)
        assemble_file(&a, src, len);
    else
        error_at(&a, a.line, "out of memory");
    asm_oom = outer;
    bool ok = a.nerrors == 0;
    free_asm(&a);
    if (!ok) {
        pvmB_free(out);
        pvmB_init(out);
    }
    return ok;
}
