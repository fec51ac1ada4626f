/* ffi.cdef: a parser for a subset of C declarations, and the declarations
 * it records (function prototypes, struct, union and enum types, typedefs,
 * integer constants), which ffi.fn, ffi.const and every type name of the
 * ffi then use. It owns FfiCType construction and struct layout.
 *
 * The subset (docs/ffi.md, "C declarations"): prototypes, typedefs,
 * struct/union definitions with named fields, nested and anonymous members
 * and fixed-size arrays, enums, and `static const` integer constants; the
 * C scalar types and pointers of any depth. Anything else is an error
 * "ffi.cdef: LINE:COL: ..." naming what was found there. A text that fails
 * declares nothing, except that a struct it completed stays complete (the
 * types already built may point to it). */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "stdlib/ffi_int.h"
#include "stdlib/lib.h"

/* Bounds that keep bad input from costing much: no type may exceed
 * FFI_MAX_TYPE_SIZE bytes, nor the parser's recursion (declarators,
 * structs, constant expressions) FFI_MAX_DEPTH levels, nor a type (built
 * through typedefs too) FFI_MAX_NESTING levels: what compares and
 * converts types recurses that deep. Names for messages are cut at
 * FFI_MAX_NAME bytes (function types could otherwise grow them without
 * bound). */
#define FFI_MAX_TYPE_SIZE ((size_t)INT32_MAX)
#define FFI_MAX_DEPTH 64
#define FFI_MAX_NESTING 100
#define FFI_MAX_NAME 200
#define FFI_MAX_SUFFIXES 16

/* ---- Scalars ---- */

/* The in-struct alignment of a C type: what layout needs. */
#define ALIGN_OF(T) offsetof(struct { char c; T x; }, x)
#define SCALAR(NAME, KIND, T) { .tag = CT_SCALAR, .kind = KIND, .complete = true, .size = sizeof(T), \
                                .align = ALIGN_OF(T), .name = NAME }
#define CHAR_KIND (CHAR_MIN < 0 ? FK_INT8 : FK_UINT8)

/* The C scalar types, by their canonical spelling; the first few are what
 * combinations of type words resolve to. */
enum { S_VOID, S_CHAR, S_SCHAR, S_UCHAR, S_SHORT, S_USHORT, S_INT, S_UINT, S_LONG, S_ULONG, S_LLONG,
       S_ULLONG, S_FLOAT, S_DOUBLE, S_BOOL, S_LDOUBLE };

static const FfiCType scalars[] = {
    [S_VOID] = { .tag = CT_SCALAR, .kind = FK_VOID, .complete = false, .size = 0, .align = 1, .name = "void" },
    [S_CHAR] = { .tag = CT_SCALAR, .kind = CHAR_KIND, .complete = true, .is_char = true, .size = 1, .align = 1,
                 .name = "char" },
    [S_SCHAR] = SCALAR("signed char", FK_INT8, signed char),
    [S_UCHAR] = SCALAR("unsigned char", FK_UINT8, unsigned char),
    [S_SHORT] = SCALAR("short", FK_INT16, short),
    [S_USHORT] = SCALAR("unsigned short", FK_UINT16, unsigned short),
    [S_INT] = SCALAR("int", FK_INT, int),
    [S_UINT] = SCALAR("unsigned int", FK_UINT, unsigned),
    [S_LONG] = SCALAR("long", FK_LONG, long),
    [S_ULONG] = SCALAR("unsigned long", FK_ULONG, unsigned long),
    [S_LLONG] = SCALAR("long long", FK_INT64, long long),
    [S_ULLONG] = SCALAR("unsigned long long", FK_UINT64, unsigned long long),
    [S_FLOAT] = SCALAR("float", FK_FLOAT, float),
    [S_DOUBLE] = SCALAR("double", FK_DOUBLE, double),
    [S_BOOL] = SCALAR("_Bool", FK_BOOL, _Bool),
    /* libffi's long double is not a PV float: only pointers to one work */
    [S_LDOUBLE] = { .tag = CT_SCALAR, .kind = FK_VOID, .unsupported = true, .size = 0, .align = 1,
                    .name = "long double" },
};

#define UNSUPPORTED_TEXT "long double is not supported (PV floats are doubles); use a pointer to it"


#define INT_KIND(T, S) (sizeof(T) == 8 ? FK_##S##64 : FK_##S##32)

/* Type names every cdef text knows, as if typedef'd by the C headers. */
static const FfiCType builtin_typedefs[] = {
    SCALAR("bool", FK_BOOL, _Bool),
    SCALAR("int8_t", FK_INT8, int8_t),
    SCALAR("int16_t", FK_INT16, int16_t),
    SCALAR("int32_t", FK_INT32, int32_t),
    SCALAR("int64_t", FK_INT64, int64_t),
    SCALAR("uint8_t", FK_UINT8, uint8_t),
    SCALAR("uint16_t", FK_UINT16, uint16_t),
    SCALAR("uint32_t", FK_UINT32, uint32_t),
    SCALAR("uint64_t", FK_UINT64, uint64_t),
    SCALAR("size_t", FK_SIZE_T, size_t),
    SCALAR("ssize_t", INT_KIND(ptrdiff_t, INT), ptrdiff_t),
    SCALAR("ptrdiff_t", INT_KIND(ptrdiff_t, INT), ptrdiff_t),
    SCALAR("intptr_t", INT_KIND(intptr_t, INT), intptr_t),
    SCALAR("uintptr_t", INT_KIND(uintptr_t, UINT), uintptr_t),
};

/* ---- The parser's state and messages ---- */

enum { TK_EOF, TK_IDENT, TK_NUM, TK_PUNCT };

typedef struct {
    int kind;
    const char *s;
    size_t len;
    int line, col;
    int64_t num;
} CTok;

typedef struct {
    const char *p;
    int line;
    const char *bol; /* start of the current line */
    CTok tok;        /* the current token */
} CLex;

typedef struct {
    VM *vm;
    FfiState *st;
    const char *src, *end;
    const char *ctx; /* message prefix: "ffi.cdef" or "ffi.sizeof: in C type 'x'" */
    CLex lx;
    FfiDecl *decls;  /* the committed declarations and this text's, newest first */
    int depth;
    bool type_name;  /* parsing a type name given to a function, not ffi.cdef's text */
} CParser;

static PVM_NORETURN PVM_PRINTF(3, 4) void error_at(CParser *P, const CTok *at, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pvmV_error(P->vm, "%s: %d:%d: %s", P->ctx, at->line, at->col, msg);
}

/* How a message names token [t]: 'x', or "the end of the text". */
static const char *describe(const CTok *t, char *buf, size_t size)
{
    if (t->kind == TK_EOF)
        return "the end of the text";
    int n = t->len > 40 ? 40 : (int)t->len;
    snprintf(buf, size, "'%.*s'", n, t->s);
    return buf;
}

static PVM_NORETURN void expected(CParser *P, const char *what)
{
    char buf[64];
    error_at(P, &P->lx.tok, "expected %s, found %s", what, describe(&P->lx.tok, buf, sizeof buf));
}

static void enter(CParser *P)
{
    if (++P->depth > FFI_MAX_DEPTH)
        error_at(P, &P->lx.tok, "nested too deeply (more than %d levels)", FFI_MAX_DEPTH);
}

static char *copy_text(VM *vm, const char *s, size_t len)
{
    char *c = pvmV_alloc_atomic(vm, len + 1);
    memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

/* ---- Lexer ---- */

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool only_space_before(const CLex *lx, const char *at)
{
    for (const char *q = lx->bol; q < at; q++)
        if (*q != ' ' && *q != '\t')
            return false;
    return true;
}

static void newline(CLex *lx)
{
    lx->line++;
    lx->bol = lx->p;
}

/* A `#` line: cc -E's line markers (`# 12 "file.h"`) are skipped, every
 * other preprocessor line is an error: the parser cannot run the
 * preprocessor, and skipping a #define would lose its constant. */
static void preprocessor_line(CParser *P)
{
    CLex *lx = &P->lx;
    const char *q = lx->p + 1;
    while (q < P->end && (*q == ' ' || *q == '\t'))
        q++;
    if (q >= P->end || !is_digit(*q)) {
        CTok at = { .line = lx->line, .col = (int)(lx->p - lx->bol) + 1 };
        const char *w = q;
        while (w < P->end && is_ident_start(*w))
            w++;
        error_at(P, &at, "preprocessor lines are not supported ('#%.*s'): declare constants with enum or "
                         "static const, or give the text of cc -E", (int)(w - q), q);
    }
    while (lx->p < P->end && *lx->p != '\n')
        lx->p++;
}

static void skip_space(CParser *P)
{
    CLex *lx = &P->lx;
    while (lx->p < P->end) {
        char c = *lx->p;
        if (c == '\n') {
            lx->p++;
            newline(lx);
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lx->p++;
        } else if (c == '/' && lx->p + 1 < P->end && lx->p[1] == '/') {
            while (lx->p < P->end && *lx->p != '\n')
                lx->p++;
        } else if (c == '/' && lx->p + 1 < P->end && lx->p[1] == '*') {
            CTok at = { .line = lx->line, .col = (int)(lx->p - lx->bol) + 1 };
            lx->p += 2;
            while (lx->p + 1 < P->end && !(lx->p[0] == '*' && lx->p[1] == '/')) {
                if (*lx->p++ == '\n')
                    newline(lx);
            }
            if (lx->p + 1 >= P->end)
                error_at(P, &at, "unterminated /* comment");
            lx->p += 2;
        } else if (c == '#' && only_space_before(lx, lx->p)) {
            preprocessor_line(P);
        } else {
            return;
        }
    }
}

static int digit_value(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* An integer constant: decimal, 0x hex or 0 octal, with u/l suffixes.
 * Values up to 2^64-1 are kept as their 64-bit two's complement, as PV's
 * hex literals are. */
static void lex_number(CParser *P, CTok *t)
{
    const char *q = t->s;
    unsigned base = 10;
    if (q[0] == '0' && q + 1 < P->end && (q[1] == 'x' || q[1] == 'X')) {
        base = 16;
        q += 2;
    } else if (q[0] == '0') {
        base = 8;
    }
    uint64_t v = 0;
    const char *digits = q;
    while (q < P->end && digit_value(*q) < 16) {
        unsigned d = (unsigned)digit_value(*q);
        if (d >= base)
            error_at(P, t, "invalid digit '%c' in a base-%u constant", *q, base);
        if (v > (UINT64_MAX - d) / base)
            error_at(P, t, "integer constant does not fit in 64 bits");
        v = v * base + d;
        q++;
    }
    if (base == 16 && q == digits)
        error_at(P, t, "hex constant without digits");
    if (q < P->end && (*q == '.' || *q == 'e' || *q == 'E'))
        error_at(P, t, "floating-point constants are not supported");
    while (q < P->end && (*q == 'u' || *q == 'U' || *q == 'l' || *q == 'L'))
        q++;
    if (q < P->end && (is_ident_start(*q) || is_digit(*q)))
        error_at(P, t, "invalid suffix on an integer constant");
    t->num = (int64_t)v;
    t->len = (size_t)(q - t->s);
}

/* A character constant: 'a', or one of the escapes \n \t \r \0 \\ \' \xHH. */
static void lex_char(CParser *P, CTok *t)
{
    const char *q = t->s + 1;
    int64_t v = -1;
    if (q < P->end && *q == '\\' && q + 1 < P->end) {
        char e = q[1];
        q += 2;
        if (e == 'x') {
            v = 0;
            while (q < P->end && digit_value(*q) < 16 && v < 256)
                v = v * 16 + digit_value(*q++);
        } else {
            const char *from = "ntr0\\'\"", *to = "\n\t\r\0\\'\"";
            const char *f = memchr(from, e, 7);
            v = f ? (unsigned char)to[f - from] : -1;
        }
    } else if (q < P->end && *q != '\'' && *q != '\n') {
        v = (unsigned char)*q++;
    }
    if (v < 0 || v > 255 || q >= P->end || *q != '\'')
        error_at(P, t, "unsupported character constant");
    t->num = (int8_t)v; /* char is signed on the hosts pvm targets; 'x' fits either way */
    t->len = (size_t)(q + 1 - t->s);
}

static const char *const puncts[] = { "...", "<<", ">>", "{", "}", "(", ")", "[", "]", ";", ",", "*", "=",
                                      ":", "+", "-", "~", "!", "/", "%", "&", "|", "^", "<", ">", "?", ".",
                                      NULL };

static void next(CParser *P)
{
    skip_space(P);
    CLex *lx = &P->lx;
    CTok *t = &lx->tok;
    t->s = lx->p;
    t->line = lx->line;
    t->col = (int)(lx->p - lx->bol) + 1;
    t->num = 0;
    if (lx->p >= P->end) {
        t->kind = TK_EOF;
        t->len = 0;
        return;
    }
    char c = *lx->p;
    if (is_ident_start(c)) {
        const char *q = lx->p;
        while (q < P->end && (is_ident_start(*q) || is_digit(*q)))
            q++;
        t->kind = TK_IDENT;
        t->len = (size_t)(q - lx->p);
    } else if (is_digit(c)) {
        t->kind = TK_NUM;
        lex_number(P, t);
    } else if (c == '\'') {
        t->kind = TK_NUM;
        lex_char(P, t);
    } else {
        t->kind = TK_PUNCT;
        t->len = 0;
        for (int i = 0; puncts[i]; i++) {
            size_t n = strlen(puncts[i]);
            if ((size_t)(P->end - lx->p) >= n && !memcmp(lx->p, puncts[i], n)) {
                t->len = n;
                break;
            }
        }
        if (!t->len) {
            if (c == '"')
                error_at(P, t, "string literals are not supported");
            if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
                error_at(P, t, "unexpected byte 0x%02x", (unsigned char)c);
            error_at(P, t, "unexpected character '%c'", c);
        }
    }
    lx->p = t->s + t->len;
}

static bool is(const CParser *P, const char *text)
{
    const CTok *t = &P->lx.tok;
    return t->kind != TK_EOF && t->kind != TK_NUM && strlen(text) == t->len && !memcmp(t->s, text, t->len);
}

static bool accept(CParser *P, const char *text)
{
    if (!is(P, text))
        return false;
    next(P);
    return true;
}

static void expect(CParser *P, const char *text, const char *where)
{
    if (accept(P, text))
        return;
    char what[80];
    snprintf(what, sizeof what, "'%s' %s", text, where);
    expected(P, what);
}

/* ---- Declarations ---- */

static bool is_tag_kind(int kind)
{
    return kind == FD_STRUCT || kind == FD_UNION || kind == FD_ENUM;
}

static FfiDecl *find_decl(FfiDecl *d, bool tag, const char *name, size_t len)
{
    for (; d; d = d->next) {
        if (is_tag_kind(d->kind) == tag && !strncmp(d->name, name, len) && d->name[len] == '\0')
            return d;
    }
    return NULL;
}

static const FfiCType *builtin_typedef(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof builtin_typedefs / sizeof builtin_typedefs[0]; i++) {
        if (strlen(builtin_typedefs[i].name) == len && !memcmp(builtin_typedefs[i].name, name, len))
            return &builtin_typedefs[i];
    }
    return NULL;
}

static const char *const decl_words[] = { "struct", "union", "enum", "type", "function", "constant" };

static bool fields_same(const FfiCType *a, const FfiCType *b);

/* Whether [a] and [b] are the same C type, as far as calling and layout
 * go: scalars of the same size and class (so `long` and `int64_t` agree
 * on LP64 hosts), and the rest by structure; named structs by identity. */
static bool ctype_same(const FfiCType *a, const FfiCType *b)
{
    if (a == b)
        return true;
    if (a->tag != b->tag)
        return false;
    switch (a->tag) {
    case CT_SCALAR: {
        const FfiTypeInfo *x = &pvmF_types[a->kind], *y = &pvmF_types[b->kind];
        return a->size == b->size && x->is_int == y->is_int && x->is_signed == y->is_signed &&
               x->type == y->type && a->kind != FK_VOID && b->kind != FK_VOID;
    }
    case CT_POINTER: return a->pointee_const == b->pointee_const && ctype_same(a->elem, b->elem);
    case CT_ARRAY: return a->count == b->count && ctype_same(a->elem, b->elem);
    case CT_STRUCT:
    case CT_UNION: return a->anonymous && b->anonymous && fields_same(a, b);
    default:
        if (a->variadic != b->variadic || a->nparams != b->nparams || !ctype_same(a->ret, b->ret))
            return false;
        for (int i = 0; i < a->nparams; i++)
            if (!ctype_same(a->params[i], b->params[i]))
                return false;
        return true;
    }
}

static bool fields_same(const FfiCType *a, const FfiCType *b)
{
    if (a->nfields != b->nfields || a->size != b->size)
        return false;
    for (int i = 0; i < a->nfields; i++) {
        const FfiField *f = &a->fields[i], *g = &b->fields[i];
        if ((f->name == NULL) != (g->name == NULL) || (f->name && strcmp(f->name, g->name)))
            return false;
        if (f->offset != g->offset || !ctype_same(f->type, g->type))
            return false;
    }
    return true;
}

/* Records [name] (of [at]); a redeclaration must say the same. Returns the
 * declaration in force. */
static FfiDecl *declare(CParser *P, const CTok *at, int kind, const FfiCType *type, int64_t value)
{
    bool tag = is_tag_kind(kind);
    FfiDecl *old = find_decl(P->decls, tag, at->s, at->len);
    const FfiCType *builtin = tag ? NULL : builtin_typedef(at->s, at->len);
    if (!old && builtin && (kind != FD_TYPEDEF || !ctype_same(builtin, type)))
        error_at(P, at, "'%.*s' is a built-in type (%s)%s", (int)at->len, at->s, builtin->name,
                 kind == FD_TYPEDEF ? " and cannot be redefined as another" : "");
    if (!old) {
        FfiDecl *d = pvmV_alloc(P->vm, sizeof *d);
        d->kind = (uint8_t)kind;
        d->name = copy_text(P->vm, at->s, at->len);
        d->type = type;
        d->value = value;
        d->next = P->decls;
        P->decls = d;
        return d;
    }
    if (old->kind != kind)
        error_at(P, at, "'%s' was declared as a %s, here as a %s", old->name, decl_words[old->kind],
                 decl_words[kind]);
    if (kind == FD_CONST && old->value != value)
        error_at(P, at, "constant '%s' redefined as %" PRId64 " (it was %" PRId64 ")", old->name, value,
                 old->value);
    if (kind != FD_CONST && !ctype_same(old->type, type))
        error_at(P, at, "conflicting redeclaration of '%s': it was %s, here %s", old->name, old->type->name,
                 type->name);
    return old;
}

/* ---- Building types ---- */

static FfiCType *new_ctype(CParser *P, int tag)
{
    FfiCType *t = pvmV_alloc(P->vm, sizeof *t);
    t->tag = (uint8_t)tag;
    t->kind = FK_AGGREGATE;
    return t;
}

static const char *spell(CParser *P, const char *fmt, const char *a, const char *b)
{
    size_t n = strlen(fmt) + strlen(a) + strlen(b) + 1;
    n = n > FFI_MAX_NAME ? FFI_MAX_NAME : n;
    char *s = pvmV_alloc_atomic(P->vm, n);
    snprintf(s, n, fmt, a, b);
    return s;
}

/* Sets [t]'s nesting to one more than [inner]'s, within the bound. */
static void nest(CParser *P, const CTok *at, FfiCType *t, const FfiCType *inner)
{
    if (inner->nesting >= t->nesting)
        t->nesting = (uint8_t)(inner->nesting + 1);
    if (t->nesting > FFI_MAX_NESTING)
        error_at(P, at, "the type is nested too deeply (more than %d pointers, arrays, functions or structs)",
                 FFI_MAX_NESTING);
}

static const FfiCType *pointer_to(CParser *P, const FfiCType *to, bool to_const)
{
    FfiCType *t = new_ctype(P, CT_POINTER);
    t->kind = FK_POINTER;
    t->complete = true;
    t->size = sizeof(void *);
    t->align = ALIGN_OF(void *);
    t->elem = to;
    /* nothing recurses through a pointer into a struct with a tag (its
     * identity decides), so struct node { struct node *next; } stays flat */
    bool tagged = (to->tag == CT_STRUCT || to->tag == CT_UNION) && !to->anonymous;
    if (!tagged)
        nest(P, &P->lx.tok, t, to);
    t->pointee_const = to_const;
    t->name = spell(P, to->tag == CT_FUNC ? "%s%s(*)" : "%s%s *", to_const ? "const " : "", to->name);
    return t;
}

static void check_object_type(CParser *P, const CTok *at, const FfiCType *t, const char *what)
{
    if (t->unsupported)
        error_at(P, at, "%s: " UNSUPPORTED_TEXT, what);
    if (t->tag == CT_FUNC)
        error_at(P, at, "%s cannot be a function (%s); use a pointer to it", what, t->name);
    if (!t->complete)
        error_at(P, at, "%s has incomplete type %s%s", what, t->name,
                 t->kind == FK_VOID ? "" : " (not defined before this point)");
}

static const FfiCType *array_of(CParser *P, const CTok *at, const FfiCType *elem, int64_t count)
{
    check_object_type(P, at, elem, "an array element");
    if (count <= 0)
        error_at(P, at, "array size must be positive, got %" PRId64, count);
    if ((uint64_t)count > FFI_MAX_TYPE_SIZE / elem->size)
        error_at(P, at, "array of %" PRId64 " %s is too large (at most %zu bytes)", count, elem->name,
                 FFI_MAX_TYPE_SIZE);
    FfiCType *t = new_ctype(P, CT_ARRAY);
    t->complete = true;
    t->elem = elem;
    nest(P, at, t, elem);
    t->count = (size_t)count;
    t->size = elem->size * (size_t)count;
    t->align = elem->align;
    char n[32];
    snprintf(n, sizeof n, "[%" PRId64 "]", count);
    t->name = spell(P, "%s%s", elem->name, n);
    return t;
}

/* ---- Constant expressions ---- */

static const FfiCType *parse_type_name(CParser *P);
static int64_t parse_expr(CParser *P);

/* primary := NUM | CONSTANT | '(' expr ')' | sizeof '(' type ')' | unary primary */
static int64_t parse_unary(CParser *P)
{
    CTok at = P->lx.tok;
    enter(P);
    int64_t v;
    if (at.kind == TK_NUM) {
        next(P);
        v = at.num;
    } else if (accept(P, "-")) {
        v = (int64_t)(0 - (uint64_t)parse_unary(P));
    } else if (accept(P, "+")) {
        v = parse_unary(P);
    } else if (accept(P, "~")) {
        v = ~parse_unary(P);
    } else if (accept(P, "!")) {
        v = !parse_unary(P);
    } else if (accept(P, "(")) {
        v = parse_expr(P);
        expect(P, ")", "to close the expression");
    } else if (is(P, "sizeof")) {
        next(P);
        expect(P, "(", "after sizeof");
        CTok tt = P->lx.tok;
        const FfiCType *t = parse_type_name(P);
        check_object_type(P, &tt, t, "the operand of sizeof");
        expect(P, ")", "after sizeof's type");
        v = (int64_t)t->size;
    } else if (at.kind == TK_IDENT) {
        FfiDecl *d = find_decl(P->decls, false, at.s, at.len);
        if (!d || d->kind != FD_CONST)
            error_at(P, &at, "'%.*s' is not a declared integer constant", (int)at.len, at.s);
        next(P);
        v = d->value;
    } else {
        expected(P, "an integer constant expression");
    }
    P->depth--;
    return v;
}

static int precedence(const CParser *P)
{
    static const struct { const char *op; int prec; } ops[] = {
        { "|", 1 }, { "^", 2 }, { "&", 3 }, { "<<", 4 }, { ">>", 4 }, { "+", 5 }, { "-", 5 },
        { "*", 6 }, { "/", 6 }, { "%", 6 },
    };
    if (P->lx.tok.kind != TK_PUNCT)
        return 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (is(P, ops[i].op))
            return ops[i].prec;
    return 0;
}

/* Integer arithmetic wraps (unsigned 64-bit), as PV's does; only what C
 * leaves undefined is an error. */
static int64_t apply(CParser *P, const CTok *op, int64_t a, int64_t b)
{
    uint64_t x = (uint64_t)a, y = (uint64_t)b;
    switch (op->s[0]) {
    case '|': return (int64_t)(x | y);
    case '^': return (int64_t)(x ^ y);
    case '&': return (int64_t)(x & y);
    case '+': return (int64_t)(x + y);
    case '-': return (int64_t)(x - y);
    case '*': return (int64_t)(x * y);
    default: break;
    }
    if (op->s[0] == '<' || op->s[0] == '>') {
        if (b < 0 || b > 63)
            error_at(P, op, "shift by %" PRId64 " is out of range (0..63)", b);
        return op->s[0] == '<' ? (int64_t)(x << b) : a >> b;
    }
    if (b == 0)
        error_at(P, op, "division by zero in a constant expression");
    if (a == INT64_MIN && b == -1)
        return op->s[0] == '/' ? INT64_MIN : 0;
    return op->s[0] == '/' ? a / b : a % b;
}

/* expr := unary {binop unary}, by precedence climbing */
static int64_t parse_binary(CParser *P, int min_prec)
{
    int64_t lhs = parse_unary(P);
    for (int prec = precedence(P); prec >= min_prec; prec = precedence(P)) {
        CTok op = P->lx.tok;
        next(P);
        enter(P);
        int64_t rhs = parse_binary(P, prec + 1);
        P->depth--;
        lhs = apply(P, &op, lhs, rhs);
    }
    return lhs;
}

static int64_t parse_expr(CParser *P)
{
    return parse_binary(P, 1);
}

/* ---- Specifiers ---- */

typedef struct {
    const FfiCType *type;
    bool is_const;
    bool is_typedef, is_static, is_extern;
} Spec;

static const char *const type_words[] = { "void", "char", "short", "int", "long", "float", "double",
                                          "signed", "unsigned", "_Bool", NULL };

static int type_word(const CParser *P)
{
    for (int i = 0; type_words[i]; i++)
        if (is(P, type_words[i]))
            return i;
    return -1;
}

static bool is_qualifier(const CParser *P)
{
    return is(P, "const") || is(P, "volatile") || is(P, "restrict") || is(P, "__restrict") ||
           is(P, "__restrict__") || is(P, "__const");
}

/* Words that cannot name what a declarator declares. */
static bool is_reserved(const CParser *P)
{
    static const char *const words[] = { "struct", "union", "enum", "typedef", "static", "extern", "sizeof",
                                         "inline", NULL };
    if (type_word(P) >= 0 || is_qualifier(P))
        return true;
    for (int i = 0; words[i]; i++)
        if (is(P, words[i]))
            return true;
    return false;
}

/* Whether the current token starts a type: what tells a type name from an
 * expression or a parameter name. */
static bool starts_type(CParser *P)
{
    const CTok *t = &P->lx.tok;
    if (t->kind != TK_IDENT)
        return false;
    if (type_word(P) >= 0 || is_qualifier(P) || is(P, "struct") || is(P, "union") || is(P, "enum"))
        return true;
    FfiDecl *d = find_decl(P->decls, false, t->s, t->len);
    return d ? d->kind == FD_TYPEDEF : builtin_typedef(t->s, t->len) != NULL;
}

/* The scalar a combination of type words names ([n] counts each word of
 * type_words), or an error at [at]. */
static const FfiCType *scalar_of_words(CParser *P, const CTok *at, const int *n)
{
    enum { W_VOID, W_CHAR, W_SHORT, W_INT, W_LONG, W_FLOAT, W_DOUBLE, W_SIGNED, W_UNSIGNED, W_BOOL };
    bool sign = n[W_SIGNED] || n[W_UNSIGNED], uns = n[W_UNSIGNED] > 0;
    int others = n[W_VOID] + n[W_CHAR] + n[W_SHORT] + n[W_FLOAT] + n[W_DOUBLE] + n[W_BOOL];
    if ((n[W_SIGNED] && n[W_UNSIGNED]) || n[W_SIGNED] > 1 || n[W_UNSIGNED] > 1 || n[W_INT] > 1 ||
        n[W_LONG] > 2 || others > 1)
        error_at(P, at, "invalid combination of type words");
    if (n[W_DOUBLE] && n[W_LONG] == 1 && !sign && !n[W_INT] && others == 1)
        return &scalars[S_LDOUBLE];
    if ((n[W_VOID] || n[W_FLOAT] || n[W_DOUBLE] || n[W_BOOL]) && (sign || n[W_INT] || n[W_LONG]))
        error_at(P, at, "invalid combination of type words");
    if ((n[W_CHAR] || n[W_SHORT]) && n[W_LONG])
        error_at(P, at, "invalid combination of type words");
    if (n[W_CHAR] && n[W_INT])
        error_at(P, at, "invalid combination of type words");
    if (n[W_VOID]) return &scalars[S_VOID];
    if (n[W_FLOAT]) return &scalars[S_FLOAT];
    if (n[W_DOUBLE]) return &scalars[S_DOUBLE];
    if (n[W_BOOL]) return &scalars[S_BOOL];
    if (n[W_CHAR]) return &scalars[!sign ? S_CHAR : uns ? S_UCHAR : S_SCHAR];
    if (n[W_SHORT]) return &scalars[uns ? S_USHORT : S_SHORT];
    if (n[W_LONG] == 2) return &scalars[uns ? S_ULLONG : S_LLONG];
    if (n[W_LONG]) return &scalars[uns ? S_ULONG : S_LONG];
    return &scalars[uns ? S_UINT : S_INT];
}

static const FfiCType *parse_struct(CParser *P, bool is_union);
static const FfiCType *parse_enum(CParser *P);

/* Storage words, qualifiers and at most one type: words, a struct, union
 * or enum, or a typedef name. */
static Spec parse_specifiers(CParser *P)
{
    Spec sp = { 0 };
    CTok first = P->lx.tok;
    int words[10] = { 0 }, nwords = 0;
    for (;;) {
        int w = type_word(P);
        if (w >= 0) {
            if (sp.type)
                error_at(P, &P->lx.tok, "invalid combination of type words");
            words[w]++;
            nwords++;
            next(P);
        } else if (is_qualifier(P)) {
            sp.is_const |= is(P, "const") || is(P, "__const");
            next(P);
        } else if (is(P, "typedef") || is(P, "static") || is(P, "extern")) {
            sp.is_typedef |= is(P, "typedef");
            sp.is_static |= is(P, "static");
            sp.is_extern |= is(P, "extern");
            next(P);
        } else if (is(P, "inline") || is(P, "__inline") || is(P, "__extension__")) {
            next(P);
        } else if (!sp.type && !nwords && (is(P, "struct") || is(P, "union"))) {
            sp.type = parse_struct(P, is(P, "union"));
        } else if (!sp.type && !nwords && is(P, "enum")) {
            sp.type = parse_enum(P);
        } else if (!sp.type && !nwords && starts_type(P)) {
            const CTok *t = &P->lx.tok;
            FfiDecl *d = find_decl(P->decls, false, t->s, t->len);
            sp.type = d ? d->type : builtin_typedef(t->s, t->len);
            next(P);
        } else if (is(P, "__attribute__") || is(P, "__declspec") || is(P, "_Alignas") || is(P, "__asm__")) {
            error_at(P, &P->lx.tok, "'%.*s' is not supported", (int)P->lx.tok.len, P->lx.tok.s);
        } else {
            break;
        }
    }
    if (nwords)
        sp.type = scalar_of_words(P, &first, words);
    if (sp.type)
        return sp;
    if (P->lx.tok.kind == TK_IDENT)
        error_at(P, &P->lx.tok, "unknown type name '%.*s'", (int)P->lx.tok.len, P->lx.tok.s);
    expected(P, "a type");
}

/* ---- Declarators ---- */

static const FfiCType *parse_declarator(CParser *P, const FfiCType *base, bool base_const, CTok *name);

/* How messages spell function type [t]: "ret(p1, p2, ...)", cut short
 * when long. */
static const char *function_name(CParser *P, const FfiCType *t)
{
    LibBuf b;
    pvmL_buf_init(&b, P->vm);
    pvmL_buf_add(&b, t->ret->name, strlen(t->ret->name));
    pvmL_buf_add(&b, "(", 1);
    for (int i = 0; i < t->nparams && b.len < FFI_MAX_NAME; i++) {
        if (i)
            pvmL_buf_add(&b, ", ", 2);
        pvmL_buf_add(&b, t->params[i]->name, strlen(t->params[i]->name));
    }
    if (t->variadic)
        pvmL_buf_add(&b, ", ...", 5);
    if (!t->nparams)
        pvmL_buf_add(&b, "void", 4);
    pvmL_buf_add(&b, ")", 2); /* with the NUL */
    return b.data;
}

/* The function type returning [ret] whose parameter list starts here:
 * params := '(' [ 'void' | param {',' param} [',' '...'] ] ')'. An empty
 * list means no parameters (as in C23). */
static const FfiCType *parse_params(CParser *P, const CTok *at, const FfiCType *ret)
{
    FfiCType *t = new_ctype(P, CT_FUNC);
    t->ret = ret;
    const FfiCType *params[FFI_MAX_ARGS];
    if (is(P, "void")) {
        CLex save = P->lx;
        next(P);
        if (!is(P, ")"))
            P->lx = save;
    }
    while (!is(P, ")")) {
        if (t->nparams && !accept(P, ","))
            expected(P, "',' or ')' in the parameter list");
        if (accept(P, "...")) {
            if (!t->nparams)
                error_at(P, at, "'...' needs at least one parameter before it");
            t->variadic = true;
            if (!is(P, ")"))
                expected(P, "')' after '...'");
            break;
        }
        CTok pat = P->lx.tok;
        if (t->nparams == FFI_MAX_ARGS)
            error_at(P, &pat, "too many parameters (at most %d)", FFI_MAX_ARGS);
        Spec sp = parse_specifiers(P);
        CTok pname = { 0 };
        const FfiCType *pt = parse_declarator(P, sp.type, sp.is_const, &pname);
        if (pt->tag == CT_ARRAY) /* C: an array parameter is a pointer */
            pt = pointer_to(P, pt->elem, sp.is_const);
        else if (pt->tag == CT_FUNC)
            pt = pointer_to(P, pt, false);
        if (pt->unsupported)
            error_at(P, &pat, "a parameter: " UNSUPPORTED_TEXT);
        if (pt->kind == FK_VOID)
            error_at(P, &pat, "a parameter cannot be void (write f(void) for no parameters)");
        params[t->nparams++] = pt;
        nest(P, &pat, t, pt);
    }
    nest(P, at, t, ret);
    next(P);
    t->params = pvmV_alloc(P->vm, ((size_t)t->nparams + 1) * sizeof *t->params);
    memcpy(t->params, params, (size_t)t->nparams * sizeof *t->params);
    t->name = function_name(P, t);
    return t;
}

typedef struct {
    CTok at;
    bool is_func;
    int64_t count; /* arrays; -1 for [] */
    CLex params;   /* functions: where the parameter list starts */
} Suffix;

/* Skips a balanced parenthesised group starting at '('; [what] says what
 * the missing ')' would close. */
static void skip_group(CParser *P, const char *what)
{
    int level = 0;
    do {
        if (P->lx.tok.kind == TK_EOF)
            expected(P, what);
        if (is(P, "("))
            level++;
        else if (is(P, ")"))
            level--;
        next(P);
    } while (level > 0);
}

/* One suffix at the current token, recorded in [s]. A parameter list is
 * only skipped here: it is read once the return type is known. */
static void read_suffix(CParser *P, Suffix *s)
{
    s->at = P->lx.tok;
    s->is_func = is(P, "(");
    if (s->is_func) {
        s->params = P->lx;
        skip_group(P, "')' to close the parameter list");
        return;
    }
    next(P);
    if (accept(P, "]")) {
        s->count = -1;
        return;
    }
    s->count = parse_expr(P);
    expect(P, "]", "after the array size");
}

/* T[]: only a parameter may be unsized (it decays to a pointer), so the
 * type stays incomplete and is refused anywhere else. */
static const FfiCType *unsized_array(CParser *P, const CTok *at, const FfiCType *elem)
{
    check_object_type(P, at, elem, "an array element");
    FfiCType *t = new_ctype(P, CT_ARRAY);
    t->elem = elem;
    nest(P, at, t, elem);
    t->name = spell(P, "%s%s", elem->name, "[]");
    t->align = elem->align;
    return t;
}

static const FfiCType *apply_suffix(CParser *P, const Suffix *s, const FfiCType *base)
{
    if (!s->is_func)
        return s->count < 0 ? unsized_array(P, &s->at, base) : array_of(P, &s->at, base, s->count);
    if (base->tag == CT_ARRAY || base->tag == CT_FUNC)
        error_at(P, &s->at, "a function cannot return %s", base->tag == CT_ARRAY ? "an array" : "a function");
    if (base->unsupported)
        error_at(P, &s->at, "a return type: " UNSUPPORTED_TEXT);
    P->lx = s->params;
    next(P);
    return parse_params(P, &s->at, base);
}

/* suffixes := {'[' [expr] ']' | params}, applied right to left: int a[2][3]
 * is an array of 2 arrays of 3 ints. */
static const FfiCType *parse_suffixes(CParser *P, const FfiCType *base)
{
    Suffix sfx[FFI_MAX_SUFFIXES];
    int n = 0;
    while (is(P, "[") || is(P, "(")) {
        if (n == FFI_MAX_SUFFIXES)
            error_at(P, &P->lx.tok, "too many array or function suffixes");
        read_suffix(P, &sfx[n++]);
    }
    CLex after = P->lx;
    for (int i = n - 1; i >= 0; i--)
        base = apply_suffix(P, &sfx[i], base);
    P->lx = after;
    return base;
}

/* Whether the '(' at the current token opens a nested declarator, as in
 * `int (*f)(int)`, rather than a parameter list. */
static bool nested_declarator(CParser *P)
{
    CLex save = P->lx;
    next(P);
    bool nested = is(P, "*") || is(P, "(") || (P->lx.tok.kind == TK_IDENT && !starts_type(P));
    P->lx = save;
    return nested;
}

/* declarator := {'*' {qualifier}} direct
 * direct     := [IDENT | '(' declarator ')'] suffixes
 * A nested declarator applies to the type with the suffixes after it, so
 * it is skipped first, the suffixes read, and it is then read again. */
static const FfiCType *parse_declarator(CParser *P, const FfiCType *base, bool base_const, CTok *name)
{
    enter(P);
    while (accept(P, "*")) {
        base = pointer_to(P, base, base_const);
        base_const = false;
        while (is_qualifier(P))
            next(P);
    }
    if (is(P, "(") && nested_declarator(P)) {
        CLex inner = P->lx;
        skip_group(P, "')' to close the declarator");
        base = parse_suffixes(P, base);
        CLex after = P->lx;
        P->lx = inner;
        next(P);
        const FfiCType *t = parse_declarator(P, base, false, name);
        expect(P, ")", "to close the declarator");
        P->lx = after;
        P->depth--;
        return t;
    }
    if (P->lx.tok.kind == TK_IDENT && !is_reserved(P)) {
        *name = P->lx.tok;
        next(P);
    }
    const FfiCType *t = parse_suffixes(P, base);
    P->depth--;
    return t;
}

/* type-name := specifiers abstract-declarator (no name) */
static const FfiCType *parse_type_name(CParser *P)
{
    Spec sp = parse_specifiers(P);
    CTok name = { 0 };
    const FfiCType *t = parse_declarator(P, sp.type, sp.is_const, &name);
    if (name.s)
        error_at(P, &name, "a type name cannot declare a name ('%.*s')", (int)name.len, name.s);
    if (t->tag == CT_ARRAY && !t->complete)
        error_at(P, &P->lx.tok, "an array type needs a size");
    return t;
}

/* ---- Structs, unions, enums ---- */

typedef struct {
    FfiField *fields;
    int n, cap;
} FieldList;

/* Whether [t] has a field [name], directly or in an anonymous member. */
static bool has_field(const FfiCType *t, const char *name, size_t len)
{
    for (int i = 0; i < t->nfields; i++) {
        const FfiField *f = &t->fields[i];
        if (f->name ? (strlen(f->name) == len && !memcmp(f->name, name, len)) : has_field(f->type, name, len))
            return true;
    }
    return false;
}

static void add_field(CParser *P, FieldList *fl, const FfiCType *owner, const CTok *at, const FfiCType *t)
{
    const char *name = at ? copy_text(P->vm, at->s, at->len) : NULL;
    if (at) {
        FfiCType tmp = { .nfields = fl->n, .fields = fl->fields };
        if (has_field(&tmp, at->s, at->len))
            error_at(P, at, "duplicate field '%s' in %s", name, owner->name);
    } else {
        for (int i = 0; i < t->nfields; i++) {
            FfiCType tmp = { .nfields = fl->n, .fields = fl->fields };
            const char *fname = t->fields[i].name;
            if (fname && has_field(&tmp, fname, strlen(fname)))
                error_at(P, &P->lx.tok, "duplicate field '%s' in %s (from an anonymous member)", fname,
                         owner->name);
        }
    }
    if (fl->n == fl->cap) {
        int cap = fl->cap ? fl->cap * 2 : 8;
        FfiField *nf = pvmV_alloc(P->vm, (size_t)cap * sizeof *nf);
        if (fl->n)
            memcpy(nf, fl->fields, (size_t)fl->n * sizeof *nf);
        fl->fields = nf;
        fl->cap = cap;
    }
    fl->fields[fl->n++] = (FfiField){ name, 0, t };
    nest(P, at ? at : &P->lx.tok, (FfiCType *)owner, t);
}

/* field-decl := specifiers [declarator {',' declarator}] ';'. Without a
 * declarator, an anonymous struct or union member (C11). */
static void parse_field_decl(CParser *P, FieldList *fl, const FfiCType *owner)
{
    CTok at = P->lx.tok;
    Spec sp = parse_specifiers(P);
    if (sp.is_typedef || sp.is_static || sp.is_extern)
        error_at(P, &at, "a field cannot be typedef, static or extern");
    if (accept(P, ";")) {
        if ((sp.type->tag != CT_STRUCT && sp.type->tag != CT_UNION) || !sp.type->anonymous)
            error_at(P, &at, "the declaration declares no field");
        add_field(P, fl, owner, NULL, sp.type);
        return;
    }
    do {
        CTok name = { 0 };
        CTok tat = P->lx.tok;
        const FfiCType *t = parse_declarator(P, sp.type, sp.is_const, &name);
        if (!name.s)
            error_at(P, &tat, "expected a field name");
        if (is(P, ":"))
            error_at(P, &P->lx.tok, "bit-fields are not supported (field '%.*s')", (int)name.len, name.s);
        if (t->tag == CT_ARRAY && !t->complete)
            error_at(P, &name, "flexible array members are not supported (field '%.*s'); declare a size",
                     (int)name.len, name.s);
        char what[80];
        snprintf(what, sizeof what, "field '%.*s'", (int)(name.len > 40 ? 40 : name.len), name.s);
        check_object_type(P, &name, t, what);
        add_field(P, fl, owner, &name, t);
    } while (accept(P, ","));
    expect(P, ";", "after the field");
}

static size_t align_up(size_t n, size_t a)
{
    return (n + a - 1) / a * a;
}

/* The host ABI's layout: each field at the next multiple of its
 * alignment (all at 0 in a union), the whole rounded up to the largest. */
static void lay_out(CParser *P, const CTok *at, FfiCType *t)
{
    size_t off = 0, size = 0, align = 1;
    for (int i = 0; i < t->nfields; i++) {
        FfiField *f = &t->fields[i];
        if (f->type->align > align)
            align = f->type->align;
        if (t->tag == CT_UNION) {
            f->offset = 0;
            size = f->type->size > size ? f->type->size : size;
            continue;
        }
        off = align_up(off, f->type->align);
        f->offset = off;
        off += f->type->size;
        if (off > FFI_MAX_TYPE_SIZE)
            error_at(P, at, "%s is too large (at most %zu bytes)", t->name, FFI_MAX_TYPE_SIZE);
    }
    t->size = align_up(t->tag == CT_UNION ? size : off, align);
    t->align = align;
    if (t->size > FFI_MAX_TYPE_SIZE)
        error_at(P, at, "%s is too large (at most %zu bytes)", t->name, FFI_MAX_TYPE_SIZE);
}

/* The body '{' field-decl... '}' of [t] (a fresh type). */
static void parse_body(CParser *P, const CTok *at, FfiCType *t)
{
    enter(P);
    FieldList fl = { 0 };
    expect(P, "{", "to open the fields");
    while (!accept(P, "}")) {
        if (P->lx.tok.kind == TK_EOF)
            expected(P, "'}' to close the fields");
        parse_field_decl(P, &fl, t);
    }
    if (!fl.n)
        error_at(P, at, "%s has no fields (empty structs are not standard C)", t->name);
    t->fields = fl.fields;
    t->nfields = fl.n;
    lay_out(P, at, t);
    P->depth--;
}

/* struct-spec := ('struct' | 'union') [IDENT] ['{' fields '}'] */
static const FfiCType *parse_struct(CParser *P, bool is_union)
{
    CTok kw = P->lx.tok;
    const char *word = is_union ? "union" : "struct";
    int kind = is_union ? FD_UNION : FD_STRUCT;
    next(P);
    CTok tag = P->lx.tok;
    bool named = tag.kind == TK_IDENT;
    if (named)
        next(P);
    if (!named && !is(P, "{"))
        expected(P, is_union ? "a tag or '{' after union" : "a tag or '{' after struct");
    FfiDecl *old = named ? find_decl(P->decls, true, tag.s, tag.len) : NULL;
    if (old && old->kind != kind)
        error_at(P, &tag, "'%s' was declared as a %s, here as a %s", old->name, decl_words[old->kind], word);
    FfiCType *t = old ? (FfiCType *)old->type : NULL;
    if (!t) {
        t = new_ctype(P, is_union ? CT_UNION : CT_STRUCT);
        t->anonymous = !named;
        t->name = named ? spell(P, "%s %s", word, copy_text(P->vm, tag.s, tag.len)) : spell(P, "%s%s", word, " <anonymous>");
        if (named)
            declare(P, &tag, kind, t, 0);
    }
    if (!is(P, "{"))
        return t; /* a reference, or a forward declaration */
    if (P->type_name)
        error_at(P, &P->lx.tok, "a type name cannot define a %s; declare it with ffi.cdef", word);
    if (!t->complete) {
        parse_body(P, &kw, t);
        t->complete = true;
        return t;
    }
    /* a redefinition: it must have the same fields */
    FfiCType *again = new_ctype(P, t->tag);
    again->name = t->name;
    parse_body(P, &kw, again);
    if (!fields_same(t, again))
        error_at(P, &tag, "%s is redefined with different fields", t->name);
    return t;
}

/* The int type of an enum: int when every value fits, as C says; beyond
 * that what GCC does (unsigned int, then long or unsigned long). */
static const FfiCType *enum_type(int64_t lo, int64_t hi)
{
    if (lo >= INT_MIN && hi <= INT_MAX)
        return &scalars[S_INT];
    if (lo >= 0 && hi <= (int64_t)UINT_MAX)
        return &scalars[S_UINT];
    return &scalars[lo >= 0 ? S_ULONG : S_LONG];
}

/* enum-spec := 'enum' [IDENT] ['{' IDENT ['=' expr] {',' ...} [','] '}'];
 * each enumerator becomes a constant (ffi.const). */
static const FfiCType *parse_enum(CParser *P)
{
    next(P);
    CTok tag = P->lx.tok;
    bool named = tag.kind == TK_IDENT;
    if (named)
        next(P);
    if (!is(P, "{")) {
        if (!named)
            expected(P, "a tag or '{' after enum");
        FfiDecl *old = find_decl(P->decls, true, tag.s, tag.len);
        if (!old || old->kind != FD_ENUM)
            error_at(P, &tag, "enum %.*s is not defined", (int)tag.len, tag.s);
        return old->type;
    }
    if (P->type_name)
        error_at(P, &P->lx.tok, "a type name cannot define an enum; declare it with ffi.cdef");
    next(P);
    int64_t v = 0, lo = 0, hi = 0;
    bool first = true;
    while (!accept(P, "}")) {
        if (!first && !accept(P, ","))
            expected(P, "',' or '}' in the enum");
        if (accept(P, "}"))
            break;
        CTok name = P->lx.tok;
        if (name.kind != TK_IDENT)
            expected(P, "an enumerator name");
        next(P);
        if (accept(P, "="))
            v = parse_expr(P);
        else if (!first && v == INT64_MAX)
            error_at(P, &name, "enumerator value overflows");
        else if (!first)
            v++;
        declare(P, &name, FD_CONST, NULL, v);
        lo = first || v < lo ? v : lo;
        hi = first || v > hi ? v : hi;
        first = false;
    }
    if (first)
        error_at(P, &tag, "an enum needs at least one enumerator");
    const FfiCType *t = enum_type(lo, hi);
    if (named)
        declare(P, &tag, FD_ENUM, t, 0);
    return t;
}

/* ---- Top level ---- */

/* `typedef struct { ... } div_t;` names the struct in messages "div_t". */
static void name_anonymous(CParser *P, const CTok *name, const FfiCType *t)
{
    if ((t->tag == CT_STRUCT || t->tag == CT_UNION) && t->anonymous && strstr(t->name, "<anonymous>"))
        ((FfiCType *)t)->name = copy_text(P->vm, name->s, name->len);
}

/* One init-declarator of a top-level declaration with specifiers [sp]. */
static void parse_init_declarator(CParser *P, const Spec *sp)
{
    CTok name = { 0 };
    CTok at = P->lx.tok;
    const FfiCType *t = parse_declarator(P, sp->type, sp->is_const, &name);
    if (!name.s)
        error_at(P, &at, "expected a name in the declaration");
    if (t->tag == CT_ARRAY && !t->complete)
        error_at(P, &name, "an array needs a size");
    if (sp->is_typedef) {
        if (is(P, "="))
            error_at(P, &P->lx.tok, "a typedef cannot have a value");
        declare(P, &name, FD_TYPEDEF, t, 0);
        name_anonymous(P, &name, t);
        return;
    }
    if (accept(P, "=")) {
        if (!sp->is_const)
            error_at(P, &name, "'%.*s' is a variable with a value; a constant is declared static const",
                     (int)name.len, name.s);
        if (t->tag != CT_SCALAR || !pvmF_types[t->kind].is_int)
            error_at(P, &name, "only integer constants are supported ('%.*s' is %s)", (int)name.len, name.s,
                     t->name);
        CTok vat = P->lx.tok;
        int64_t v = parse_expr(P);
        const FfiTypeInfo *ti = &pvmF_types[t->kind];
        if (v < ti->min || v > ti->max)
            error_at(P, &vat, "%" PRId64 " is out of range for %s", v, t->name);
        declare(P, &name, FD_CONST, NULL, v);
        return;
    }
    if (t->tag != CT_FUNC)
        error_at(P, &name, "'%.*s' declares a variable; only functions, types and constants (static const "
                           "int X = 1;) can be declared", (int)name.len, name.s);
    if (is(P, "{"))
        error_at(P, &P->lx.tok, "function bodies are not supported");
    declare(P, &name, FD_FUNC, t, 0);
}

/* declaration := ';' | specifiers [init-declarator {',' init-declarator}] ';' */
static void parse_declaration(CParser *P)
{
    if (accept(P, ";"))
        return;
    Spec sp = parse_specifiers(P);
    if (accept(P, ";"))
        return; /* struct s {...}; enum {...}; struct s; */
    do {
        parse_init_declarator(P, &sp);
    } while (accept(P, ","));
    expect(P, ";", "after the declaration");
}

static void init_parser(CParser *P, VM *vm, FfiState *st, const PvString *text, const char *ctx)
{
    memset(P, 0, sizeof *P);
    P->vm = vm;
    P->st = st;
    P->src = text->chars;
    P->end = text->chars + text->len;
    P->ctx = ctx;
    P->lx.p = P->src;
    P->lx.bol = P->src;
    P->lx.line = 1;
    P->decls = st->decls;
    next(P);
}

/* PV strings cannot span lines, so ffi.cdef also takes an array of
 * lines: joined with newlines, each element is a line of the text. */
static PvString *joined_lines(VM *vm, const PvArray *lines)
{
    LibBuf b;
    pvmL_buf_init(&b, vm);
    for (size_t i = 0; i < lines->len; i++) {
        Value line = pvmV_array_load(lines, i);
        if (line.type != VT_STRING)
            pvmV_error(vm, "ffi.cdef: line %zu must be a string, got %s", i + 1, pvmV_type_name(line));
        pvmL_buf_add(&b, line.as.s->chars, line.as.s->len);
        pvmL_buf_add(&b, "\n", 1);
    }
    return pvmV_string_new(vm, b.data ? b.data : "", b.len);
}

/* ffi.cdef(text) or ffi.cdef([lines]): declares what the text declares;
 * returns nil. */
Value pvmF_cdef(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    FfiState *st = data;
    PvString *text = args[0].type == VT_ARRAY ? joined_lines(vm, args[0].as.a) : NULL;
    if (!text && args[0].type != VT_STRING)
        pvmL_arg_error(vm, "ffi.cdef", 0, "string or array of strings", args[0]);
    if (!text)
        text = args[0].as.s;
    CParser P;
    init_parser(&P, vm, st, text, "ffi.cdef");
    while (P.lx.tok.kind != TK_EOF)
        parse_declaration(&P);
    st->decls = P.decls; /* only now: a text that fails declares nothing */
    return VAL_NIL;
}

/* ffi.const(name): the value of a declared integer constant (an enum's
 * enumerator or a static const). */
Value pvmF_const(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    const FfiState *st = data;
    PvString *name = pvmL_arg_string(vm, "ffi.const", args, 0);
    const FfiDecl *d = find_decl(st->decls, false, name->chars, name->len);
    if (d && d->kind == FD_CONST && strlen(d->name) == name->len)
        return vm_int(d->value);
    if (d)
        pvmV_error(vm, "ffi.const: '%s' is a %s, not a constant", name->chars, decl_words[d->kind]);
    pvmV_error(vm, "ffi.const: '%s' is not declared (declare it with ffi.cdef)", name->chars);
}

const FfiCType *pvmF_find_function(const FfiState *st, const char *name)
{
    const FfiDecl *d = find_decl(st->decls, false, name, strlen(name));
    return d && d->kind == FD_FUNC ? d->type : NULL;
}

const FfiCType *pvmF_ctype_parse(VM *vm, FfiState *st, const PvString *text, const char *fname)
{
    if (memchr(text->chars, '\0', text->len))
        return NULL;
    char *ctx = pvmV_alloc_atomic(vm, strlen(fname) + text->len + 32);
    sprintf(ctx, "%s: in C type '%s'", fname, text->chars);
    CParser P;
    init_parser(&P, vm, st, text, ctx);
    P.type_name = true;
    if (!starts_type(&P))
        return NULL;
    const FfiCType *t = parse_type_name(&P);
    if (P.lx.tok.kind != TK_EOF)
        expected(&P, "the end of the type");
    return t;
}

FfiKind pvmF_ctype_kind(const FfiCType *t, bool prototype)
{
    switch (t->tag) {
    case CT_SCALAR: return (FfiKind)t->kind;
    case CT_POINTER:
        return prototype && t->pointee_const && t->elem->is_char ? FK_CSTRING : FK_POINTER;
    default: return FK_AGGREGATE;
    }
}
