/* Name resolution for one module: locals, upvalues, globals, built-ins. */
#include "compiler/resolve.h"

#include <stdlib.h>
#include <string.h>

/* ---- a small name -> index hash table (globals, built-ins) ---- */

typedef struct {
    const char *name;   /* NULL: empty slot */
    uint32_t len;
    uint32_t value;
} NameSlot;

typedef struct {
    NameSlot *slots;
    uint32_t cap, count; /* cap is a power of two */
} NameTable;

static uint32_t hash_name(const char *s, uint32_t len)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static NameSlot *table_slot(const NameTable *t, const char *s, uint32_t len)
{
    uint32_t mask = t->cap - 1;
    for (uint32_t i = hash_name(s, len) & mask;; i = (i + 1) & mask) {
        NameSlot *slot = &t->slots[i];
        if (!slot->name || (slot->len == len && memcmp(slot->name, s, len) == 0))
            return slot;
    }
}

static bool table_get(const NameTable *t, const char *s, uint32_t len, uint32_t *value)
{
    if (t->cap == 0)
        return false;
    NameSlot *slot = table_slot(t, s, len);
    if (!slot->name)
        return false;
    *value = slot->value;
    return true;
}

/* Adds [s] unless present; returns false if it already was. */
static bool table_add(CcArena *a, NameTable *t, const char *s, uint32_t len, uint32_t value)
{
    if ((t->count + 1) * 2 > t->cap) {
        NameTable bigger = { pvmC_alloc(a, sizeof(NameSlot) * (t->cap ? t->cap * 2 : 64)), t->cap ? t->cap * 2 : 64, 0 };
        for (uint32_t i = 0; i < t->cap; i++)
            if (t->slots[i].name)
                *table_slot(&bigger, t->slots[i].name, t->slots[i].len) = t->slots[i];
        bigger.count = t->count;
        *t = bigger;
    }
    NameSlot *slot = table_slot(t, s, len);
    if (slot->name)
        return false;
    *slot = (NameSlot){ s, len, value };
    t->count++;
    return true;
}

/* ---- resolver state ---- */

typedef struct {
    CcVar *var;
    uint32_t block;     /* block depth that declared it */
} Local;

typedef struct FnScope {
    struct FnScope *enclosing;
    CcFunc *fn;
    Local *locals;      /* active locals; a local's slot is its position */
    uint32_t nlocals, cap;
    uint32_t max_locals;
    uint32_t block;     /* current block depth (0: the function's own scope) */
    uint32_t loops;     /* enclosing loops, for break/continue */
    PbcUpval *upvals;
    uint32_t nupvals, upcap;
    CcVar **declared;   /* every local ever declared, in order */
    uint32_t ndeclared, declared_cap;
} FnScope;

typedef struct {
    uint32_t index;
    bool visible;       /* top-level code may name it: it is predeclared,
                           or that code has passed its declaration */
    bool declared;      /* this module has declared it */
} Global;

typedef struct {
    CcArena *arena;
    CcDiag *diag;
    const char *file;
    unsigned errors_before;
    NameTable globals;  /* name -> index into ginfo */
    Global *ginfo;
    CcName *gnames;
    uint32_t nglobals, gcap;
    NameTable builtins;
    FnScope *fs;
    unsigned depth;     /* recursion depth over the tree */
    bool too_deep;
    CcExpr **chain;     /* links of the chains being walked, innermost last */
    uint32_t nchain, chain_cap;
} Resolver;

static void resolve_expr(Resolver *r, CcExpr *e);
static void resolve_stmt(Resolver *r, CcStmt *s);
static void resolve_function(Resolver *r, CcFunc *fn);

#define error(r, pos, ...) pvmC_error((r)->diag, (r)->file, (pos), __VA_ARGS__)

static const char *const builtin_names[] = { CC_BUILTIN_NAMES };
static const char *const builtin_modules[] = { "math", "string", "array", "io", "os", "ffi" };

bool pvmC_is_builtin_module(const char *name)
{
    for (size_t i = 0; i < sizeof builtin_modules / sizeof builtin_modules[0]; i++)
        if (strcmp(name, builtin_modules[i]) == 0)
            return true;
    return false;
}

static bool enter(Resolver *r, CcPos pos)
{
    if (r->depth >= CC_MAX_TREE_DEPTH) {
        if (!r->too_deep)
            error(r, pos, "expression too deeply nested (more than %u levels)", CC_MAX_TREE_DEPTH);
        r->too_deep = true;
        return false;
    }
    r->depth++;
    return true;
}

static void leave(Resolver *r) { r->depth--; }

/* ---- declarations ---- */

static bool at_module_level(const Resolver *r)
{
    return r->fs->fn->is_main && r->fs->block == 0;
}

/* Declares a local in the current block; [what] is "parameter" for
 * parameters, which get their own redeclaration message. */
static void declare_local(Resolver *r, CcVar *var, const char *what)
{
    FnScope *fs = r->fs;
    for (uint32_t i = fs->nlocals; i-- > 0 && fs->locals[i].block == fs->block;) {
        CcName n = fs->locals[i].var->name;
        if (n.len == var->name.len && memcmp(n.s, var->name.s, n.len) == 0) {
            if (what)
                error(r, var->pos, "duplicate %s '%s'", what, var->name.s);
            else
                error(r, var->pos, "'%s' is already declared in this block", var->name.s);
            return;
        }
    }
    if (fs->nlocals >= CC_MAX_LOCALS) {
        error(r, var->pos, "too many local variables in one function (at most %u)", CC_MAX_LOCALS);
        return;
    }
    pvmC_grow(r->diag, (void **)&fs->locals, &fs->cap, fs->nlocals + 1, sizeof *fs->locals);
    var->global = false;
    var->index = fs->nlocals;
    pvmC_grow(r->diag, (void **)&fs->declared, &fs->declared_cap, fs->ndeclared + 1, sizeof *fs->declared);
    fs->declared[fs->ndeclared++] = var;
    fs->locals[fs->nlocals++] = (Local){ var, fs->block };
    if (fs->nlocals > fs->max_locals)
        fs->max_locals = fs->nlocals;
}

static void declare_global(Resolver *r, CcVar *var)
{
    uint32_t gi = 0;
    table_get(&r->globals, var->name.s, var->name.len, &gi);
    var->global = true;
    var->index = gi;
    if (r->ginfo[gi].declared) {
        error(r, var->pos, "'%s' is already declared in this block", var->name.s);
        return;
    }
    r->ginfo[gi].declared = true;
    r->ginfo[gi].visible = true;
}

static void declare(Resolver *r, CcVar *var)
{
    if (at_module_level(r))
        declare_global(r, var);
    else
        declare_local(r, var, NULL);
}

/* Gives [name] the next global slot unless it has one. */
static void add_global(Resolver *r, const char *name, uint32_t len, bool visible)
{
    if (!table_add(r->arena, &r->globals, name, len, r->nglobals))
        return;
    pvmC_grow(r->diag, (void **)&r->ginfo, &r->gcap, r->nglobals + 1, sizeof *r->ginfo);
    r->ginfo[r->nglobals] = (Global){ r->nglobals, visible, false };
    r->nglobals++;
}

/* Pre-scan: the predeclared globals take the first slots, then every
 * top-level declaration gets its slot up front, so functions can name
 * globals declared later in the file. */
static void collect_globals(Resolver *r, const CcBlock *top, const char *const *predeclared)
{
    for (size_t i = 0; predeclared && predeclared[i]; i++) {
        size_t len = strlen(predeclared[i]);
        add_global(r, pvmC_strndup(r->arena, predeclared[i], len), (uint32_t)len, true);
    }
    for (uint32_t i = 0; i < top->n; i++) {
        const CcStmt *s = top->stmts[i];
        CcVar *var = s->kind == CC_ST_LET ? s->u.let.var
                   : s->kind == CC_ST_FN ? s->u.fn.var
                   : s->kind == CC_ST_IMPORT ? s->u.import.var : NULL;
        if (var)
            add_global(r, var->name.s, var->name.len, false);
    }
    r->gnames = pvmC_alloc(r->arena, sizeof *r->gnames * (r->nglobals ? r->nglobals : 1));
    for (uint32_t i = 0; i < r->globals.cap; i++) {
        const NameSlot *slot = &r->globals.slots[i];
        if (slot->name)
            r->gnames[slot->value] = (CcName){ slot->name, slot->len };
    }
}

/* ---- name lookup ---- */

static bool find_local(const FnScope *fs, const CcName *name, uint32_t *slot)
{
    for (uint32_t i = fs->nlocals; i-- > 0;) {
        const CcName *n = &fs->locals[i].var->name;
        if (n->len == name->len && memcmp(n->s, name->s, n->len) == 0) {
            *slot = i;
            return true;
        }
    }
    return false;
}

static uint32_t add_upval(Resolver *r, FnScope *fs, bool from_local, uint32_t index, CcPos pos)
{
    for (uint32_t i = 0; i < fs->nupvals; i++)
        if (fs->upvals[i].from_local == from_local && fs->upvals[i].index == index)
            return i;
    if (fs->nupvals >= CC_MAX_UPVALS) {
        error(r, pos, "too many captured variables in one function (at most %u)", CC_MAX_UPVALS);
        return 0;
    }
    pvmC_grow(r->diag, (void **)&fs->upvals, &fs->upcap, fs->nupvals + 1, sizeof *fs->upvals);
    fs->upvals[fs->nupvals] = (PbcUpval){ from_local ? 1 : 0, index };
    return fs->nupvals++;
}

/* Finds [name] among the locals of the functions enclosing [fs], adding
 * the upvalues that carry it down to [fs]. */
static bool find_upval(Resolver *r, FnScope *fs, const CcName *name, CcPos pos, uint32_t *index)
{
    FnScope *outer = fs->enclosing;
    if (!outer)
        return false;
    uint32_t slot;
    if (find_local(outer, name, &slot)) {
        outer->locals[slot].var->captured = true;
        *index = add_upval(r, fs, true, slot, pos);
        return true;
    }
    uint32_t up;
    if (!find_upval(r, outer, name, pos, &up))
        return false;
    *index = add_upval(r, fs, false, up, pos);
    return true;
}

static CcRef lookup(Resolver *r, const CcName *name, CcPos pos)
{
    uint32_t index;
    if (find_local(r->fs, name, &index))
        return (CcRef){ CC_REF_LOCAL, index };
    if (find_upval(r, r->fs, name, pos, &index))
        return (CcRef){ CC_REF_UPVAL, index };
    if (table_get(&r->globals, name->s, name->len, &index) &&
        (!r->fs->fn->is_main || r->ginfo[index].visible))
        return (CcRef){ CC_REF_GLOBAL, index };
    if (table_get(&r->builtins, name->s, name->len, &index))
        return (CcRef){ CC_REF_BUILTIN, 0 };
    return (CcRef){ CC_REF_NONE, 0 };
}

static void resolve_name(Resolver *r, CcExpr *e, bool assigning)
{
    CcName *name = &e->u.name.name;
    CcRef ref = lookup(r, name, e->pos);
    if (ref.kind == CC_REF_NONE)
        error(r, e->pos, "undefined variable '%s'", name->s);
    else if (ref.kind == CC_REF_BUILTIN && assigning)
        error(r, e->pos, "cannot assign to built-in '%s' (declare your own with let)", name->s);
    e->u.name.ref = ref;
}

/* ---- expressions ---- */

static void resolve_exprs(Resolver *r, CcExpr **items, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        resolve_expr(r, items[i]);
}

/* What a chain link evaluates after its left operand. */
static void resolve_link(Resolver *r, CcExpr *e)
{
    switch (e->kind) {
    case CC_EX_BINARY: case CC_EX_AND: case CC_EX_OR: case CC_EX_INDEX:
        resolve_expr(r, e->u.ops.b);
        break;
    case CC_EX_CALL:
        resolve_exprs(r, e->u.call.args, e->u.call.nargs);
        break;
    default:
        break;
    }
}

/* A left-leaning chain, in evaluation order: its leftmost operand, then
 * the rest of each link from the innermost out (see cc_chain_left). */
static void resolve_chain(Resolver *r, CcExpr *e)
{
    uint32_t base = r->nchain;
    for (; cc_chain_left(e); e = cc_chain_left(e)) {
        pvmC_grow(r->diag, (void **)&r->chain, &r->chain_cap, r->nchain + 1, sizeof *r->chain);
        r->chain[r->nchain++] = e;
    }
    resolve_expr(r, e);
    while (r->nchain > base)
        resolve_link(r, r->chain[--r->nchain]);
}

static void resolve_expr(Resolver *r, CcExpr *e)
{
    if (!enter(r, e->pos))
        return;
    switch (e->kind) {
    case CC_EX_NIL: case CC_EX_TRUE: case CC_EX_FALSE:
    case CC_EX_INT: case CC_EX_FLOAT: case CC_EX_STRING:
        break;
    case CC_EX_NAME:
        resolve_name(r, e, false);
        break;
    case CC_EX_ARRAY:
    case CC_EX_MAP:
        resolve_exprs(r, e->u.list.items, e->u.list.n);
        break;
    case CC_EX_FN:
        resolve_function(r, e->u.fn);
        break;
    case CC_EX_UNARY:
        resolve_expr(r, e->u.ops.a);
        break;
    case CC_EX_TERNARY:
        resolve_expr(r, e->u.ops.a);
        resolve_expr(r, e->u.ops.b);
        resolve_expr(r, e->u.ops.c);
        break;
    case CC_EX_BINARY: case CC_EX_AND: case CC_EX_OR: case CC_EX_INDEX:
    case CC_EX_CALL: case CC_EX_FIELD:
        resolve_chain(r, e);
        break;
    }
    leave(r);
}

/* ---- blocks and statements ---- */

/* Resolves [b] as a new block whose scope starts with [pre] (a catch
 * variable, a loop body's nothing), then records which slot to close. */
static void resolve_block(Resolver *r, CcBlock *b, CcVar *pre)
{
    FnScope *fs = r->fs;
    fs->block++;
    uint32_t first = fs->nlocals;
    if (pre)
        declare_local(r, pre, NULL);
    for (uint32_t i = 0; i < b->n; i++)
        resolve_stmt(r, b->stmts[i]);
    b->close_from = -1;
    for (uint32_t i = first; i < fs->nlocals; i++)
        if (fs->locals[i].var->captured) {
            b->close_from = (int32_t)i;
            break;
        }
    fs->nlocals = first;
    fs->block--;
}

static void resolve_assign(Resolver *r, CcStmt *s)
{
    CcExpr *t = s->u.assign.target;
    switch (t->kind) {
    case CC_EX_NAME:
        resolve_name(r, t, true);
        break;
    case CC_EX_INDEX:
        resolve_expr(r, t->u.ops.a);
        resolve_expr(r, t->u.ops.b);
        break;
    case CC_EX_FIELD:
        resolve_expr(r, t->u.field.obj);
        break;
    default:
        break; /* reported by the parser */
    }
    resolve_expr(r, s->u.assign.value);
}

static void resolve_loop_body(Resolver *r, CcBlock *body)
{
    r->fs->loops++;
    resolve_block(r, body, NULL);
    r->fs->loops--;
}

static void resolve_for(Resolver *r, CcStmt *s)
{
    resolve_expr(r, s->u.for_.iter);
    if (s->u.for_.end)
        resolve_expr(r, s->u.for_.end);
    /* The loop variable lives in a scope of its own around the body. */
    FnScope *fs = r->fs;
    fs->block++;
    uint32_t first = fs->nlocals;
    declare_local(r, s->u.for_.var, NULL);
    resolve_loop_body(r, s->u.for_.body);
    fs->nlocals = first;
    fs->block--;
}

/* A throw leaves the try body without running its closes, so the
 * handler closes what the body (and its nested blocks) captured. */
static void resolve_try(Resolver *r, CcStmt *s)
{
    uint32_t mark = r->fs->ndeclared;
    resolve_block(r, s->u.try_.body, NULL);
    s->u.try_.close_from = -1;
    for (uint32_t i = mark; i < r->fs->ndeclared; i++) {
        const CcVar *v = r->fs->declared[i];
        if (v->captured && (s->u.try_.close_from < 0 || v->index < (uint32_t)s->u.try_.close_from))
            s->u.try_.close_from = (int32_t)v->index;
    }
    resolve_block(r, s->u.try_.handler, s->u.try_.var);
}

static void resolve_stmt(Resolver *r, CcStmt *s)
{
    if (!enter(r, s->pos))
        return;
    switch (s->kind) {
    case CC_ST_LET:
        if (s->u.let.init)
            resolve_expr(r, s->u.let.init);
        declare(r, s->u.let.var);
        break;
    case CC_ST_ASSIGN:
        resolve_assign(r, s);
        break;
    case CC_ST_EXPR:
    case CC_ST_THROW:
        resolve_expr(r, s->u.expr);
        break;
    case CC_ST_RETURN:
        if (s->u.expr)
            resolve_expr(r, s->u.expr);
        break;
    case CC_ST_IF:
        resolve_expr(r, s->u.if_.cond);
        resolve_block(r, s->u.if_.then, NULL);
        if (s->u.if_.els)
            resolve_stmt(r, s->u.if_.els);
        break;
    case CC_ST_BLOCK:
        resolve_block(r, s->u.block, NULL);
        break;
    case CC_ST_WHILE:
        resolve_expr(r, s->u.while_.cond);
        resolve_loop_body(r, s->u.while_.body);
        break;
    case CC_ST_FOR:
        resolve_for(r, s);
        break;
    case CC_ST_BREAK:
    case CC_ST_CONTINUE:
        if (r->fs->loops == 0)
            error(r, s->pos, "'%s' outside a loop", s->kind == CC_ST_BREAK ? "break" : "continue");
        break;
    case CC_ST_TRY:
        resolve_try(r, s);
        break;
    case CC_ST_FN:
        /* Bound before its body, so a nested function can call itself. */
        declare(r, s->u.fn.var);
        resolve_function(r, s->u.fn.fn);
        break;
    case CC_ST_IMPORT:
        declare(r, s->u.import.var);
        break;
    }
    leave(r);
}

/* ---- functions ---- */

static void resolve_function(Resolver *r, CcFunc *fn)
{
    FnScope fs = { .enclosing = r->fs, .fn = fn };
    r->fs = &fs;
    for (uint32_t i = 0; i < fn->nparams; i++)
        declare_local(r, fn->params[i], "parameter");
    if (fn->rest)
        declare_local(r, fn->rest, "parameter");
    /* The body shares the parameters' scope: `let a` may not redeclare a
     * parameter. Main's top level is the module scope (globals). */
    for (uint32_t i = 0; i < fn->body->n; i++)
        resolve_stmt(r, fn->body->stmts[i]);
    fn->nlocals = fs.max_locals;
    fn->nupvals = fs.nupvals;
    if (fs.nupvals) {
        fn->upvals = pvmC_alloc(r->arena, sizeof *fn->upvals * fs.nupvals);
        memcpy(fn->upvals, fs.upvals, sizeof *fn->upvals * fs.nupvals);
    }
    free(fs.locals);
    free(fs.upvals);
    free(fs.declared);
    r->fs = fs.enclosing;
}

bool pvmC_resolve(CcModuleAst *m, const char *file, const char *const *extra_builtins,
                const char *const *predeclared, CcArena *arena, CcDiag *diag,
                CcModuleScope *out)
{
    Resolver r;
    memset(&r, 0, sizeof r);
    r.arena = arena;
    r.diag = diag;
    r.file = file;
    unsigned before = diag->count;
    for (size_t i = 0; i < sizeof builtin_names / sizeof builtin_names[0]; i++)
        table_add(arena, &r.builtins, builtin_names[i], (uint32_t)strlen(builtin_names[i]), 0);
    for (size_t i = 0; extra_builtins && extra_builtins[i]; i++)
        table_add(arena, &r.builtins, extra_builtins[i], (uint32_t)strlen(extra_builtins[i]), 0);
    collect_globals(&r, m->main->body, predeclared);
    resolve_function(&r, m->main);
    free(r.ginfo);
    free(r.chain);
    out->nglobals = r.nglobals;
    out->global_names = r.gnames;
    return diag->count == before;
}
