/* The PV parser: one function per grammar rule, each preceded by its rule
 * (LANGUAGE.md sections 3 to 5). */
#include "compiler/parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "compiler/lexer.h"

typedef struct {
    void **items;
    uint32_t n, cap;
} PtrVec;

typedef struct {
    CcLexer lx;
    CcToken tok;        /* current token */
    CcToken ahead;      /* one token of lookahead, when has_ahead */
    bool has_ahead;
    CcToken prev;       /* last consumed token */
    CcArena *arena;
    CcDiag *diag;
    const char *file;
    bool panic;         /* an error was reported; quiet until resync */
    bool no_brace;      /* '{' opens a block, not a map (if/while/for headers) */
    unsigned depth;     /* current nesting, bounded by CC_MAX_NESTING */
    bool abandoned;     /* nested too deep: the rest of the file is skipped */
    PtrVec imports;
} Parser;

static CcExpr *parse_expr(Parser *p);
static CcBlock *parse_block(Parser *p);
static CcStmt *parse_statement(Parser *p);
static CcFunc *parse_fn_rest(Parser *p, CcPos pos, CcName name);

/* ---- infrastructure ---- */

static void vec_push(Parser *p, PtrVec *v, void *item)
{
    if (v->n == v->cap) {
        uint32_t ncap = v->cap ? v->cap * 2 : 8;
        void **items = pvmC_alloc(p->arena, (size_t)ncap * sizeof *items);
        if (v->n)
            memcpy(items, v->items, (size_t)v->n * sizeof *items);
        v->items = items;
        v->cap = ncap;
    }
    v->items[v->n++] = item;
}

static void advance(Parser *p)
{
    p->prev = p->tok;
    if (p->has_ahead) {
        p->tok = p->ahead;
        p->has_ahead = false;
    } else {
        pvmC_lex_next(&p->lx, &p->tok);
    }
}

static const CcToken *peek_ahead(Parser *p)
{
    if (!p->has_ahead) {
        pvmC_lex_next(&p->lx, &p->ahead);
        p->has_ahead = true;
    }
    return &p->ahead;
}

static bool check(const Parser *p, CcTokenKind k) { return p->tok.kind == k; }

static bool accept(Parser *p, CcTokenKind k)
{
    if (!check(p, k))
        return false;
    advance(p);
    return true;
}

/* "'foo'", "')'", "number", "end of file": how a token is named in messages. */
static const char *describe(const CcToken *t, char *buf, size_t size)
{
    switch (t->kind) {
    case CC_TK_EOF:
    case CC_TK_INT:
    case CC_TK_FLOAT:
    case CC_TK_STRING:
        return pvmC_token_text(t->kind);
    case CC_TK_NAME:
        snprintf(buf, size, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->start);
        return buf;
    default:
        snprintf(buf, size, "'%s'", pvmC_token_text(t->kind));
        return buf;
    }
}

PVM_PRINTF(3, 4)
static void error_at(Parser *p, CcPos pos, const char *fmt, ...);

static void error_at(Parser *p, CcPos pos, const char *fmt, ...)
{
    if (p->panic || p->abandoned)
        return;
    p->panic = true;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pvmC_error(p->diag, p->file, pos, "%s", msg);
}

/* "expected X, found Y" at the current token. */
static void error_expected(Parser *p, const char *what)
{
    if (check(p, CC_TK_DOTDOT)) {
        error_at(p, p->tok.pos, "'..' is only allowed as the iterable of a 'for' loop");
        return;
    }
    char buf[64];
    error_at(p, p->tok.pos, "expected %s, found %s", what, describe(&p->tok, buf, sizeof buf));
}

static bool expect(Parser *p, CcTokenKind k, const char *what)
{
    if (accept(p, k))
        return true;
    error_expected(p, what);
    return false;
}

static bool starts_statement(CcTokenKind k)
{
    switch (k) {
    case CC_TK_LET: case CC_TK_FN: case CC_TK_IF: case CC_TK_WHILE: case CC_TK_FOR:
    case CC_TK_RETURN: case CC_TK_BREAK: case CC_TK_CONTINUE: case CC_TK_TRY:
    case CC_TK_THROW: case CC_TK_IMPORT:
        return true;
    default:
        return false;
    }
}

/* After an error: skips to just past a ';' or a block's '}', or to a '}'
 * or a statement keyword, and leaves panic mode. */
static void synchronize(Parser *p)
{
    while (!check(p, CC_TK_EOF)) {
        if ((p->prev.kind == CC_TK_SEMI || p->prev.kind == CC_TK_RBRACE) && p->prev.start != NULL)
            break;
        if (check(p, CC_TK_RBRACE) || starts_statement(p->tok.kind))
            break;
        advance(p);
    }
    p->panic = false;
}

/* Bounded recursion: every recursive rule brackets itself with these.
 * Input nested deeper than CC_MAX_NESTING is not worth recovering from:
 * the rest of the file is skipped. */
static bool enter(Parser *p)
{
    if (p->depth >= CC_MAX_NESTING) {
        error_at(p, p->tok.pos, "nesting too deep (more than %u levels)", CC_MAX_NESTING);
        p->panic = true;
        p->abandoned = true;
        while (!check(p, CC_TK_EOF))
            advance(p);
        return false;
    }
    p->depth++;
    return true;
}

static void leave(Parser *p) { p->depth--; }

static CcExpr *new_expr(Parser *p, CcExprKind kind, CcPos pos)
{
    CcExpr *e = pvmC_alloc(p->arena, sizeof *e);
    e->kind = kind;
    e->pos = pos;
    return e;
}

static CcStmt *new_stmt(Parser *p, CcStmtKind kind, CcPos pos)
{
    CcStmt *s = pvmC_alloc(p->arena, sizeof *s);
    s->kind = kind;
    s->pos = pos;
    return s;
}

static CcName name_of(Parser *p, const CcToken *t)
{
    return (CcName){ pvmC_strndup(p->arena, t->start, t->len), t->len };
}

static CcVar *new_var(Parser *p, const CcToken *t)
{
    CcVar *v = pvmC_alloc(p->arena, sizeof *v);
    v->name = name_of(p, t);
    v->pos = t->pos;
    return v;
}

/* Expects an identifier and makes a variable of it (a placeholder on error). */
static CcVar *expect_var(Parser *p, const char *what)
{
    if (check(p, CC_TK_NAME)) {
        advance(p);
        return new_var(p, &p->prev);
    }
    error_expected(p, what);
    CcToken fake = p->tok;
    fake.start = "?";
    fake.len = 1;
    return new_var(p, &fake);
}

/* ---- expressions ---- */

/* After an error inside a bracketed group: skips to the [close] that
 * matches (consuming it), over nested groups, but not past a ';' or an
 * unmatched closer, so the statement around it can resynchronise. */
static void skip_group(Parser *p, CcTokenKind close)
{
    int depth = 0;
    while (!check(p, CC_TK_EOF)) {
        CcTokenKind k = p->tok.kind;
        if (depth == 0 && k == close) {
            advance(p);
            return;
        }
        if (depth == 0 && k == CC_TK_SEMI)
            return;
        if (k == CC_TK_LPAREN || k == CC_TK_LBRACKET || k == CC_TK_LBRACE)
            depth++;
        if (k == CC_TK_RPAREN || k == CC_TK_RBRACKET || k == CC_TK_RBRACE) {
            if (depth == 0)
                return;
            depth--;
        }
        advance(p);
    }
}

/* Expects the [close] of a group, or skips to it after an error. */
static void close_group(Parser *p, CcTokenKind close, const char *what)
{
    if (p->panic)
        skip_group(p, close);
    else
        expect(p, close, what);
}

/* A nil node standing in for a missing expression after an error. */
static CcExpr *error_expr(Parser *p)
{
    return new_expr(p, CC_EX_NIL, p->tok.pos);
}

/* list := [expr {',' expr} [',']] CLOSE  -- the opening token is consumed */
static void parse_expr_list(Parser *p, PtrVec *out, CcTokenKind close, const char *what)
{
    while (!check(p, close) && !check(p, CC_TK_EOF)) {
        vec_push(p, out, parse_expr(p));
        if (p->panic || !accept(p, CC_TK_COMMA))
            break;
    }
    if (!p->panic && !check(p, close))
        error_expected(p, what);
    close_group(p, close, what);
}

/* array := '[' list ']' */
static CcExpr *parse_array(Parser *p)
{
    CcExpr *e = new_expr(p, CC_EX_ARRAY, p->prev.pos);
    PtrVec items = { 0 };
    parse_expr_list(p, &items, CC_TK_RBRACKET, "',' or ']' in array literal");
    e->u.list.items = (CcExpr **)items.items;
    e->u.list.n = items.n;
    return e;
}

static CcExpr *string_expr(Parser *p, CcPos pos, const char *bytes, uint32_t len)
{
    CcExpr *e = new_expr(p, CC_EX_STRING, pos);
    e->u.str.bytes = bytes;
    e->u.str.len = len;
    return e;
}

static CcExpr *number_expr(Parser *p, const CcToken *t, bool negate)
{
    CcExpr *e = new_expr(p, t->kind == CC_TK_INT ? CC_EX_INT : CC_EX_FLOAT, t->pos);
    if (t->kind == CC_TK_INT)
        e->u.i = negate ? (int64_t)(0 - (uint64_t)t->v.i) : t->v.i;
    else
        e->u.f = negate ? -t->v.f : t->v.f;
    return e;
}

/* key := NAME | keyword | STRING | ['-'] NUMBER | '[' expr ']' */
static CcExpr *parse_map_key(Parser *p)
{
    CcToken t = p->tok;
    if (t.kind == CC_TK_NAME || pvmC_token_is_keyword(t.kind)) {
        advance(p);
        return string_expr(p, t.pos, pvmC_strndup(p->arena, t.start, t.len), t.len);
    }
    if (t.kind == CC_TK_STRING) {
        advance(p);
        return string_expr(p, t.pos, t.v.str.bytes, t.v.str.len);
    }
    if (t.kind == CC_TK_INT || t.kind == CC_TK_FLOAT) {
        advance(p);
        return number_expr(p, &t, false);
    }
    if (t.kind == CC_TK_MINUS) {
        const CcToken *n = peek_ahead(p);
        if (n->kind == CC_TK_INT || n->kind == CC_TK_FLOAT) {
            advance(p);
            CcToken num = p->tok;
            advance(p);
            CcExpr *e = number_expr(p, &num, true);
            e->pos = t.pos;
            return e;
        }
    }
    if (accept(p, CC_TK_LBRACKET)) {
        CcExpr *e = parse_expr(p);
        expect(p, CC_TK_RBRACKET, "']' after computed map key");
        return e;
    }
    error_expected(p, "map key");
    return error_expr(p);
}

/* map := '{' [key ':' expr {',' key ':' expr} [',']] '}' */
static CcExpr *parse_map(Parser *p)
{
    CcExpr *e = new_expr(p, CC_EX_MAP, p->prev.pos);
    PtrVec items = { 0 };
    while (!check(p, CC_TK_RBRACE) && !check(p, CC_TK_EOF)) {
        vec_push(p, &items, parse_map_key(p));
        expect(p, CC_TK_COLON, "':' after map key");
        vec_push(p, &items, parse_expr(p));
        if (p->panic || !accept(p, CC_TK_COMMA))
            break;
    }
    if (!p->panic && !check(p, CC_TK_RBRACE))
        error_expected(p, "',' or '}' in map literal");
    close_group(p, CC_TK_RBRACE, "',' or '}' in map literal");
    e->u.list.items = (CcExpr **)items.items;
    e->u.list.n = items.n;
    return e;
}

/* primary := INT | FLOAT | STRING | 'nil' | 'true' | 'false' | NAME
 *          | '(' expr ')' | array | map | 'fn' fnrest */
static CcExpr *parse_primary(Parser *p)
{
    CcToken t = p->tok;
    switch (t.kind) {
    case CC_TK_INT:
    case CC_TK_FLOAT:
        advance(p);
        return number_expr(p, &t, false);
    case CC_TK_STRING:
        advance(p);
        return string_expr(p, t.pos, t.v.str.bytes, t.v.str.len);
    case CC_TK_NIL: advance(p); return new_expr(p, CC_EX_NIL, t.pos);
    case CC_TK_TRUE: advance(p); return new_expr(p, CC_EX_TRUE, t.pos);
    case CC_TK_FALSE: advance(p); return new_expr(p, CC_EX_FALSE, t.pos);
    case CC_TK_NAME: {
        advance(p);
        CcExpr *e = new_expr(p, CC_EX_NAME, t.pos);
        e->u.name.name = name_of(p, &t);
        return e;
    }
    case CC_TK_LPAREN: {
        advance(p);
        bool saved = p->no_brace;
        p->no_brace = false;
        CcExpr *e = parse_expr(p);
        p->no_brace = saved;
        close_group(p, CC_TK_RPAREN, "')'");
        return e;
    }
    case CC_TK_LBRACKET: {
        advance(p);
        bool saved = p->no_brace;
        p->no_brace = false;
        CcExpr *e = parse_array(p);
        p->no_brace = saved;
        return e;
    }
    case CC_TK_LBRACE:
        if (p->no_brace)
            break;
        advance(p);
        return parse_map(p);
    case CC_TK_FN: {
        advance(p);
        CcExpr *e = new_expr(p, CC_EX_FN, t.pos);
        e->u.fn = parse_fn_rest(p, t.pos, (CcName){ NULL, 0 });
        return e;
    }
    default:
        break;
    }
    error_expected(p, "expression");
    return error_expr(p);
}

/* call := '(' list ')' */
static CcExpr *parse_call(Parser *p, CcExpr *callee)
{
    CcExpr *e = new_expr(p, CC_EX_CALL, p->prev.pos);
    PtrVec args = { 0 };
    parse_expr_list(p, &args, CC_TK_RPAREN, "',' or ')' after argument");
    if (args.n > CC_MAX_ARGS)
        error_at(p, e->pos, "too many arguments (at most %u)", CC_MAX_ARGS);
    e->u.call.callee = callee;
    e->u.call.args = (CcExpr **)args.items;
    e->u.call.nargs = args.n;
    return e;
}

/* postfix := primary { call | '[' expr ']' | '.' (NAME | keyword) } */
static CcExpr *parse_postfix(Parser *p)
{
    CcExpr *e = parse_primary(p);
    bool saved = p->no_brace;
    while (!p->panic) {
        if (accept(p, CC_TK_LPAREN)) {
            p->no_brace = false;
            e = parse_call(p, e);
        } else if (accept(p, CC_TK_LBRACKET)) {
            p->no_brace = false;
            CcExpr *ix = new_expr(p, CC_EX_INDEX, p->prev.pos);
            ix->u.ops.a = e;
            ix->u.ops.b = parse_expr(p);
            close_group(p, CC_TK_RBRACKET, "']' after index");
            e = ix;
        } else if (accept(p, CC_TK_DOT)) {
            CcExpr *f = new_expr(p, CC_EX_FIELD, p->prev.pos);
            f->u.field.obj = e;
            if (check(p, CC_TK_NAME) || pvmC_token_is_keyword(p->tok.kind)) {
                f->u.field.name = name_of(p, &p->tok);
                advance(p);
            } else {
                error_expected(p, "field name after '.'");
            }
            e = f;
        } else {
            break;
        }
        p->no_brace = saved;
    }
    p->no_brace = saved;
    return e;
}

/* unary := ('-' | '!' | '~') unary | postfix */
static CcExpr *parse_unary(Parser *p)
{
    Opcode op;
    switch (p->tok.kind) {
    case CC_TK_MINUS: op = OP_NEG; break;
    case CC_TK_BANG: op = OP_NOT; break;
    case CC_TK_TILDE: op = OP_BNOT; break;
    default: return parse_postfix(p);
    }
    if (!enter(p))
        return error_expr(p);
    CcPos pos = p->tok.pos;
    advance(p);
    CcExpr *a = parse_unary(p);
    leave(p);
    /* Fold '-' into a number literal: -5 is the constant -5. */
    if (op == OP_NEG && a->kind == CC_EX_INT) {
        a->u.i = (int64_t)(0 - (uint64_t)a->u.i);
        a->pos = pos;
        return a;
    }
    if (op == OP_NEG && a->kind == CC_EX_FLOAT) {
        a->u.f = -a->u.f;
        a->pos = pos;
        return a;
    }
    CcExpr *e = new_expr(p, CC_EX_UNARY, pos);
    e->op = op;
    e->u.ops.a = a;
    return e;
}

/* Precedence of a binary operator token (LANGUAGE.md section 3), or 0. */
static int binary_prec(CcTokenKind k, Opcode *op)
{
    switch (k) {
    case CC_TK_OROR: *op = OP_NOP; return 2;
    case CC_TK_ANDAND: *op = OP_NOP; return 3;
    case CC_TK_EQEQ: *op = OP_EQ; return 4;
    case CC_TK_NE: *op = OP_NE; return 4;
    case CC_TK_LT: *op = OP_LT; return 4;
    case CC_TK_LE: *op = OP_LE; return 4;
    case CC_TK_GT: *op = OP_GT; return 4;
    case CC_TK_GE: *op = OP_GE; return 4;
    case CC_TK_PIPE: *op = OP_BOR; return 5;
    case CC_TK_CARET: *op = OP_BXOR; return 6;
    case CC_TK_AMP: *op = OP_BAND; return 7;
    case CC_TK_SHL: *op = OP_SHL; return 8;
    case CC_TK_SHR: *op = OP_SHR; return 8;
    case CC_TK_PLUS: *op = OP_ADD; return 9;
    case CC_TK_MINUS: *op = OP_SUB; return 9;
    case CC_TK_STAR: *op = OP_MUL; return 10;
    case CC_TK_SLASH: *op = OP_DIV; return 10;
    case CC_TK_PERCENT: *op = OP_MOD; return 10;
    default: return 0;
    }
}

/* binary(min) := unary { OP binary(prec(OP) + 1) }, all left-associative */
static CcExpr *parse_binary(Parser *p, int min_prec)
{
    CcExpr *left = parse_unary(p);
    for (;;) {
        Opcode op;
        CcTokenKind k = p->tok.kind;
        int prec = binary_prec(k, &op);
        if (prec == 0 || prec < min_prec || p->panic)
            return left;
        CcPos pos = p->tok.pos;
        advance(p);
        if (!enter(p))
            return left;
        CcExpr *right = parse_binary(p, prec + 1);
        leave(p);
        CcExprKind kind = k == CC_TK_ANDAND ? CC_EX_AND : k == CC_TK_OROR ? CC_EX_OR : CC_EX_BINARY;
        CcExpr *e = new_expr(p, kind, pos);
        e->op = op;
        e->u.ops.a = left;
        e->u.ops.b = right;
        left = e;
    }
}

/* ternary := binary(2) ['?' expr ':' expr] */
static CcExpr *parse_ternary(Parser *p)
{
    CcExpr *cond = parse_binary(p, 2);
    if (!check(p, CC_TK_QUESTION) || p->panic)
        return cond;
    CcExpr *e = new_expr(p, CC_EX_TERNARY, p->tok.pos);
    advance(p);
    e->u.ops.a = cond;
    e->u.ops.b = parse_expr(p);
    expect(p, CC_TK_COLON, "':' in conditional expression");
    e->u.ops.c = parse_expr(p);
    return e;
}

/* expr := ternary */
static CcExpr *parse_expr(Parser *p)
{
    if (!enter(p))
        return error_expr(p);
    CcExpr *e = parse_ternary(p);
    leave(p);
    return e;
}

/* An expression where '{' opens the following block (if/while/for). */
static CcExpr *parse_header_expr(Parser *p)
{
    bool saved = p->no_brace;
    p->no_brace = true;
    CcExpr *e = parse_expr(p);
    p->no_brace = saved;
    return e;
}

/* ---- functions ---- */

/* params := [param {',' param} [',']]   param := NAME | '...' NAME (last) */
static void parse_params(Parser *p, CcFunc *fn)
{
    PtrVec params = { 0 };
    while (!check(p, CC_TK_RPAREN) && !check(p, CC_TK_EOF) && !p->panic) {
        if (fn->rest) {
            error_at(p, p->tok.pos, "the rest parameter must be the last one");
            break;
        }
        if (accept(p, CC_TK_ELLIPSIS))
            fn->rest = expect_var(p, "rest parameter name after '...'");
        else
            vec_push(p, &params, expect_var(p, "parameter name"));
        if (!accept(p, CC_TK_COMMA))
            break;
    }
    if (params.n > CC_MAX_PARAMS)
        error_at(p, fn->pos, "too many parameters (at most %u)", CC_MAX_PARAMS);
    fn->params = (CcVar **)params.items;
    fn->nparams = params.n;
}

/* fnrest := '(' params ')' block */
static CcFunc *parse_fn_rest(Parser *p, CcPos pos, CcName name)
{
    CcFunc *fn = pvmC_alloc(p->arena, sizeof *fn);
    fn->pos = pos;
    fn->name = name;
    bool saved = p->no_brace;
    p->no_brace = false;
    if (expect(p, CC_TK_LPAREN, "'(' to start the parameter list")) {
        parse_params(p, fn);
        expect(p, CC_TK_RPAREN, "',' or ')' after parameter");
        if (p->panic) {
            /* Resume at the body: skip the rest of a broken parameter list. */
            while (!check(p, CC_TK_EOF) && !check(p, CC_TK_LBRACE) && !check(p, CC_TK_RBRACE) &&
                   !check(p, CC_TK_SEMI) && !accept(p, CC_TK_RPAREN))
                advance(p);
            if (check(p, CC_TK_LBRACE))
                p->panic = false;
        }
    }
    fn->body = parse_block(p);
    p->no_brace = saved;
    return fn;
}

/* ---- statements ---- */

/* block := '{' {statement} '}' */
static CcBlock *parse_block(Parser *p)
{
    CcBlock *b = pvmC_alloc(p->arena, sizeof *b);
    b->pos = p->tok.pos;
    b->close_from = -1;
    if (!expect(p, CC_TK_LBRACE, "'{'"))
        return b;
    if (!enter(p))
        return b;
    PtrVec stmts = { 0 };
    bool saved = p->no_brace;
    p->no_brace = false;
    while (!check(p, CC_TK_RBRACE) && !check(p, CC_TK_EOF)) {
        const char *before = p->tok.start;
        CcStmt *s = parse_statement(p);
        if (s)
            vec_push(p, &stmts, s);
        if (p->panic)
            synchronize(p);
        if (p->tok.start == before && !check(p, CC_TK_RBRACE) && !check(p, CC_TK_EOF))
            advance(p); /* no progress: drop the token */
    }
    p->no_brace = saved;
    leave(p);
    b->stmts = (CcStmt **)stmts.items;
    b->n = stmts.n;
    expect(p, CC_TK_RBRACE, "'}'");
    return b;
}

static void expect_semi(Parser *p, const char *after)
{
    if (accept(p, CC_TK_SEMI))
        return;
    char what[64];
    snprintf(what, sizeof what, "';' after %s", after);
    error_expected(p, what);
}

/* let := 'let' NAME ['=' expr] ';' */
static CcStmt *parse_let(Parser *p, CcPos pos)
{
    CcStmt *s = new_stmt(p, CC_ST_LET, pos);
    s->u.let.var = expect_var(p, "variable name after 'let'");
    if (accept(p, CC_TK_ASSIGN)) {
        s->u.let.init = parse_expr(p);
        /* let NAME = fn ... names the function. */
        if (s->u.let.init->kind == CC_EX_FN)
            s->u.let.init->u.fn->name = s->u.let.var->name;
    }
    expect_semi(p, "variable declaration");
    return s;
}

/* The block after an if/while/for header. When the header had an error,
 * parsing resumes at the next '{' of this statement; if the header failed
 * at a '{' (typically an unparenthesised map literal), that brace group
 * is skipped as a block and a second brace group, if any, is the body. */
static void skip_to_brace(Parser *p)
{
    int depth = 0;
    while (!check(p, CC_TK_EOF)) {
        CcTokenKind k = p->tok.kind;
        if (depth == 0 && (k == CC_TK_LBRACE || k == CC_TK_SEMI || k == CC_TK_RBRACE))
            return;
        if (k == CC_TK_LPAREN || k == CC_TK_LBRACKET)
            depth++;
        else if ((k == CC_TK_RPAREN || k == CC_TK_RBRACKET) && depth > 0)
            depth--;
        advance(p);
    }
}

static CcBlock *parse_body(Parser *p, bool header_failed)
{
    bool at_brace = header_failed && check(p, CC_TK_LBRACE);
    if (header_failed)
        skip_to_brace(p);
    CcBlock *b = parse_block(p);
    if (at_brace) {
        skip_to_brace(p);
        if (check(p, CC_TK_LBRACE))
            b = parse_block(p);
    }
    return b;
}

/* if := 'if' expr block ['else' (if | block)] */
static CcStmt *parse_if(Parser *p, CcPos pos)
{
    CcStmt *s = new_stmt(p, CC_ST_IF, pos);
    s->u.if_.cond = parse_header_expr(p);
    s->u.if_.then = parse_body(p, p->panic);
    if (!accept(p, CC_TK_ELSE))
        return s;
    CcPos else_pos = p->tok.pos;
    if (accept(p, CC_TK_IF)) {
        if (!enter(p))
            return s;
        s->u.if_.els = parse_if(p, else_pos);
        leave(p);
    } else {
        CcStmt *b = new_stmt(p, CC_ST_BLOCK, else_pos);
        b->u.block = parse_block(p);
        s->u.if_.els = b;
    }
    return s;
}

/* while := 'while' expr block */
static CcStmt *parse_while(Parser *p, CcPos pos)
{
    CcStmt *s = new_stmt(p, CC_ST_WHILE, pos);
    s->u.while_.cond = parse_header_expr(p);
    s->u.while_.body = parse_body(p, p->panic);
    return s;
}

/* for := 'for' NAME 'in' expr ['..' expr] block */
static CcStmt *parse_for(Parser *p, CcPos pos)
{
    CcStmt *s = new_stmt(p, CC_ST_FOR, pos);
    s->u.for_.var = expect_var(p, "loop variable name after 'for'");
    expect(p, CC_TK_IN, "'in' after the loop variable");
    s->u.for_.iter = parse_header_expr(p);
    if (accept(p, CC_TK_DOTDOT))
        s->u.for_.end = parse_header_expr(p);
    s->u.for_.body = parse_body(p, p->panic);
    return s;
}

/* try := 'try' block 'catch' [NAME] block */
static CcStmt *parse_try(Parser *p, CcPos pos)
{
    CcStmt *s = new_stmt(p, CC_ST_TRY, pos);
    s->u.try_.body = parse_block(p);
    if (!expect(p, CC_TK_CATCH, "'catch' after the try block"))
        return s;
    if (check(p, CC_TK_NAME)) {
        advance(p);
        s->u.try_.var = new_var(p, &p->prev);
    }
    s->u.try_.handler = parse_block(p);
    return s;
}

/* fndecl := 'fn' NAME fnrest */
static CcStmt *parse_fn_decl(Parser *p, CcPos pos)
{
    CcStmt *s = new_stmt(p, CC_ST_FN, pos);
    s->u.fn.var = expect_var(p, "function name");
    s->u.fn.fn = parse_fn_rest(p, pos, s->u.fn.var->name);
    return s;
}

/* import := 'import' NAME ';' */
static CcStmt *parse_import(Parser *p, CcPos pos)
{
    CcStmt *s = new_stmt(p, CC_ST_IMPORT, pos);
    s->u.import.var = expect_var(p, "module name after 'import'");
    expect_semi(p, "import");
    vec_push(p, &p->imports, s);
    return s;
}

/* Statements that are a keyword and an optional expression. */
static CcStmt *parse_jump(Parser *p, CcStmtKind kind, CcPos pos, const char *what)
{
    CcStmt *s = new_stmt(p, kind, pos);
    if (kind == CC_ST_THROW || (kind == CC_ST_RETURN && !check(p, CC_TK_SEMI)))
        s->u.expr = parse_expr(p);
    expect_semi(p, what);
    return s;
}

static bool is_assign_op(CcTokenKind k, Opcode *op)
{
    switch (k) {
    case CC_TK_ASSIGN: *op = OP_NOP; return true;
    case CC_TK_PLUSEQ: *op = OP_ADD; return true;
    case CC_TK_MINUSEQ: *op = OP_SUB; return true;
    case CC_TK_STAREQ: *op = OP_MUL; return true;
    case CC_TK_SLASHEQ: *op = OP_DIV; return true;
    case CC_TK_PERCENTEQ: *op = OP_MOD; return true;
    default: return false;
    }
}

/* simple := expr [assignop expr] ';'   (a lone expr must be a call) */
static CcStmt *parse_simple(Parser *p, CcPos pos)
{
    CcExpr *e = parse_expr(p);
    if (p->panic)
        return NULL;
    Opcode op;
    if (is_assign_op(p->tok.kind, &op)) {
        CcStmt *s = new_stmt(p, CC_ST_ASSIGN, pos);
        s->u.assign.op = op;
        s->u.assign.op_pos = p->tok.pos;
        s->u.assign.target = e;
        if (e->kind != CC_EX_NAME && e->kind != CC_EX_INDEX && e->kind != CC_EX_FIELD)
            error_at(p, pos, "invalid assignment target");
        advance(p);
        s->u.assign.value = parse_expr(p);
        expect_semi(p, "assignment");
        return s;
    }
    if (e->kind != CC_EX_CALL) {
        error_at(p, pos, "expression statement must be a call or an assignment");
        return NULL;
    }
    CcStmt *s = new_stmt(p, CC_ST_EXPR, pos);
    s->u.expr = e;
    expect_semi(p, "expression");
    return s;
}

/* statement := let | fndecl | if | while | for | try | import
 *            | 'break' ';' | 'continue' ';' | 'return' [expr] ';'
 *            | 'throw' expr ';' | simple */
static CcStmt *parse_statement(Parser *p)
{
    CcPos pos = p->tok.pos;
    switch (p->tok.kind) {
    case CC_TK_LET: advance(p); return parse_let(p, pos);
    case CC_TK_IF: advance(p); return parse_if(p, pos);
    case CC_TK_WHILE: advance(p); return parse_while(p, pos);
    case CC_TK_FOR: advance(p); return parse_for(p, pos);
    case CC_TK_TRY: advance(p); return parse_try(p, pos);
    case CC_TK_IMPORT: advance(p); return parse_import(p, pos);
    case CC_TK_BREAK: advance(p); return parse_jump(p, CC_ST_BREAK, pos, "'break'");
    case CC_TK_CONTINUE: advance(p); return parse_jump(p, CC_ST_CONTINUE, pos, "'continue'");
    case CC_TK_RETURN: advance(p); return parse_jump(p, CC_ST_RETURN, pos, "return statement");
    case CC_TK_THROW: advance(p); return parse_jump(p, CC_ST_THROW, pos, "throw statement");
    case CC_TK_FN:
        if (peek_ahead(p)->kind == CC_TK_NAME) {
            advance(p);
            return parse_fn_decl(p, pos);
        }
        return parse_simple(p, pos);
    case CC_TK_LBRACE:
        error_at(p, pos, "a bare '{' block is not a statement");
        parse_block(p);
        return NULL;
    case CC_TK_ELSE:
        /* Report, then parse the orphan branch so its '}' is not stray. */
        error_at(p, pos, "'else' without a matching 'if'");
        advance(p);
        if (accept(p, CC_TK_IF))
            parse_if(p, pos);
        else if (check(p, CC_TK_LBRACE))
            parse_block(p);
        return NULL;
    case CC_TK_CATCH:
        error_at(p, pos, "'catch' without a matching 'try'");
        advance(p);
        accept(p, CC_TK_NAME);
        if (check(p, CC_TK_LBRACE))
            parse_block(p);
        return NULL;
    default:
        return parse_simple(p, pos);
    }
}

/* module := {statement} EOF */
CcModuleAst *pvmC_parse(const char *src, size_t len, const char *file,
                      CcArena *arena, CcDiag *diag)
{
    Parser p;
    memset(&p, 0, sizeof p);
    p.arena = arena;
    p.diag = diag;
    p.file = file;
    pvmC_lexer_init(&p.lx, src, len, file, diag, arena);
    advance(&p);

    CcFunc *main = pvmC_alloc(arena, sizeof *main);
    main->is_main = true;
    main->pos = (CcPos){ 1, 1 };
    main->name = (CcName){ "<main>", 6 };
    CcBlock *top = pvmC_alloc(arena, sizeof *top);
    top->pos = main->pos;
    top->close_from = -1;
    main->body = top;

    PtrVec stmts = { 0 };
    while (!check(&p, CC_TK_EOF)) {
        const char *before = p.tok.start;
        if (check(&p, CC_TK_RBRACE)) {
            error_at(&p, p.tok.pos, "unexpected '}'");
            advance(&p);
        } else {
            CcStmt *s = parse_statement(&p);
            if (s)
                vec_push(&p, &stmts, s);
        }
        if (p.panic)
            synchronize(&p);
        if (p.tok.start == before && !check(&p, CC_TK_EOF))
            advance(&p);
    }
    top->stmts = (CcStmt **)stmts.items;
    top->n = stmts.n;

    CcModuleAst *m = pvmC_alloc(arena, sizeof *m);
    m->main = main;
    m->imports = (CcStmt **)p.imports.items;
    m->nimports = p.imports.n;
    pvmC_lexer_free(&p.lx);
    return m;
}
