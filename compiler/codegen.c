/* The PV code generator: walks the resolved AST and emits stack bytecode
 * (docs/bytecode.md), tracking the operand-stack depth of every
 * instruction so maxstack is exact and every join agrees. */
#include "compiler/codegen.h"

#include <stdlib.h>
#include <string.h>

#define ARRAY_CHUNK 255u    /* elements per `array N`; the rest are pushed */
#define MAP_CHUNK 128u      /* pairs per `map N`; the rest are stored */

typedef struct {
    int32_t pos;        /* code offset, or -1 until placed */
    int32_t depth;      /* stack depth on arrival, or -1 while unknown */
} Label;

typedef struct {
    uint32_t at;        /* offset of the jump's operand */
    uint32_t label;
} Patch;

/* Constructs a break/continue/return may leave, innermost last. */
typedef enum { EXIT_CLOSE, EXIT_TRY } ExitKind;

typedef struct {
    ExitKind kind;
    uint32_t slot;      /* EXIT_CLOSE: first local slot to close */
} Exit;

typedef struct {
    uint32_t brk, cont; /* labels */
    bool is_for;        /* two loop-state values sit on the stack */
    uint32_t exits;     /* exit stack height inside the loop */
} Loop;

typedef struct {
    PbcImage *img;
    CcDiag *diag;
    const char *file;
    uint32_t module;
    bool failed;
    const CcExpr **chain; /* links of the chains being generated, innermost last */
    uint32_t nchain, chain_cap;
} Gen;

typedef struct {
    Gen *g;
    const CcFunc *fn;
    uint8_t *code;
    uint32_t len, cap;
    PbcLine *lines;
    uint32_t nlines, lines_cap;
    uint32_t line;      /* line of the last line-table entry */
    int32_t depth;
    int32_t maxdepth;
    bool reachable;     /* false after ret/throw/jmp until a label with jumps */
    Label *labels;
    uint32_t nlabels, labels_cap;
    Patch *patches;
    uint32_t npatches, patches_cap;
    Exit *exits;
    uint32_t nexits, exits_cap;
    Loop *loops;
    uint32_t nloops, loops_cap;
} FnGen;

static void gen_expr(FnGen *f, const CcExpr *e);
static void gen_stmt(FnGen *f, const CcStmt *s);
static uint32_t gen_function(Gen *g, const CcFunc *fn);

/* ---- errors and constants ---- */

static void internal_error(FnGen *f, const char *what)
{
    if (!f->g->failed)
        pvmC_error(f->g->diag, f->g->file, f->fn->pos, "internal compiler error: %s", what);
    f->g->failed = true;
}

static uint32_t checked(Gen *g, uint32_t index)
{
    if (index == PBC_NONE)
        longjmp(*g->diag->oom, 1);
    return index;
}

static uint32_t k_string(Gen *g, const char *s, uint32_t len)
{
    return checked(g, pvmB_const_string(g->img, s, len));
}

/* ---- emission ---- */

static void set_depth(FnGen *f, int32_t depth)
{
    f->depth = depth;
    if (depth > f->maxdepth)
        f->maxdepth = depth;
}

static void put_byte(FnGen *f, uint8_t b)
{
    pvmC_grow(f->g->diag, (void **)&f->code, &f->cap, f->len + 1, 1);
    f->code[f->len++] = b;
}

static void put_u32(FnGen *f, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        put_byte(f, (uint8_t)(v >> (8 * i)));
}

/* Starts a line-table entry when [line] (0: no opinion) differs. */
static void mark_line(FnGen *f, uint32_t line)
{
    if (line == 0 || line == f->line)
        return;
    pvmC_grow(f->g->diag, (void **)&f->lines, &f->lines_cap, f->nlines + 1, sizeof *f->lines);
    f->lines[f->nlines++] = (PbcLine){ f->len, line };
    f->line = line;
}

/* Appends one instruction (dropped when unreachable) and applies its
 * stack effect. */
static void emit(FnGen *f, Opcode op, int64_t operand, uint32_t line)
{
    const OpcodeInfo *info = &pvmB_opcode_info[op];
    int64_t count = info->operand == OPND_COUNT ? operand : 0;
    int32_t after = f->depth - (int32_t)(info->pops + info->pops_per_arg * count) + info->pushes;
    if (!f->reachable) {
        f->depth = after;
        return;
    }
    if (f->depth < (int32_t)(info->pops + info->pops_per_arg * count))
        internal_error(f, "operand stack underflow");
    mark_line(f, line);
    put_byte(f, (uint8_t)op);
    if (info->operand != OPND_NONE)
        put_u32(f, (uint32_t)operand);
    set_depth(f, after);
    if (info->flow == FLOW_JUMP || info->flow == FLOW_END)
        f->reachable = false;
}

static uint32_t new_label(FnGen *f)
{
    pvmC_grow(f->g->diag, (void **)&f->labels, &f->labels_cap, f->nlabels + 1, sizeof *f->labels);
    f->labels[f->nlabels] = (Label){ -1, -1 };
    return f->nlabels++;
}

/* Records that [label] is reached with stack [depth]. */
static void arrive(FnGen *f, uint32_t label, int32_t depth)
{
    Label *l = &f->labels[label];
    if (l->depth < 0)
        l->depth = depth;
    else if (l->depth != depth)
        internal_error(f, "stack depths disagree at a join");
    if (depth > f->maxdepth)
        f->maxdepth = depth;
}

static void emit_jump(FnGen *f, Opcode op, uint32_t label, uint32_t line)
{
    if (!f->reachable)
        return;
    const OpcodeInfo *info = &pvmB_opcode_info[op];
    if (f->labels[label].pos >= 0 && f->labels[label].depth < 0)
        internal_error(f, "jump to an unreachable label");
    arrive(f, label, f->depth + info->branch_delta);
    pvmC_grow(f->g->diag, (void **)&f->patches, &f->patches_cap, f->npatches + 1, sizeof *f->patches);
    f->patches[f->npatches++] = (Patch){ f->len + 1, label };
    emit(f, op, 0, line);
}

static void place_label(FnGen *f, uint32_t label)
{
    Label *l = &f->labels[label];
    if (f->reachable) {
        arrive(f, label, f->depth);
    } else if (l->depth >= 0) {
        f->reachable = true;
        set_depth(f, l->depth);
    }
    l->pos = (int32_t)f->len;
}

static void apply_patches(FnGen *f)
{
    for (uint32_t i = 0; i < f->npatches; i++) {
        int32_t target = f->labels[f->patches[i].label].pos;
        if (target < 0) {
            internal_error(f, "jump to a label never placed");
            target = 0;
        }
        for (int b = 0; b < 4; b++)
            f->code[f->patches[i].at + b] = (uint8_t)((uint32_t)target >> (8 * b));
    }
}

static void push_exit(FnGen *f, ExitKind kind, uint32_t slot)
{
    pvmC_grow(f->g->diag, (void **)&f->exits, &f->exits_cap, f->nexits + 1, sizeof *f->exits);
    f->exits[f->nexits++] = (Exit){ kind, slot };
}

/* ---- variables ---- */

static void emit_get(FnGen *f, CcRef ref, const CcName *name, uint32_t line)
{
    switch (ref.kind) {
    case CC_REF_LOCAL: emit(f, OP_GETLOCAL, ref.index, line); return;
    case CC_REF_UPVAL: emit(f, OP_GETUPVAL, ref.index, line); return;
    case CC_REF_GLOBAL: emit(f, OP_GETGLOBAL, ref.index, line); return;
    case CC_REF_BUILTIN: emit(f, OP_GETNAME, k_string(f->g, name->s, name->len), line); return;
    case CC_REF_NONE: break;
    }
    internal_error(f, "unresolved name");
    emit(f, OP_NIL, 0, line);
}

static void emit_set(FnGen *f, CcRef ref, uint32_t line)
{
    switch (ref.kind) {
    case CC_REF_LOCAL: emit(f, OP_SETLOCAL, ref.index, line); return;
    case CC_REF_UPVAL: emit(f, OP_SETUPVAL, ref.index, line); return;
    case CC_REF_GLOBAL: emit(f, OP_SETGLOBAL, ref.index, line); return;
    default: break;
    }
    internal_error(f, "assignment to a name that is not a variable");
    emit(f, OP_POP, 0, line);
}

static void emit_store_var(FnGen *f, const CcVar *v, uint32_t line)
{
    emit(f, v->global ? OP_SETGLOBAL : OP_SETLOCAL, v->index, line);
}

/* ---- expressions ---- */

static void gen_int(FnGen *f, int64_t v, uint32_t line)
{
    if (v >= INT32_MIN && v <= INT32_MAX)
        emit(f, OP_INT, v, line);
    else
        emit(f, OP_CONST, checked(f->g, pvmB_const_int(f->g->img, v)), line);
}

/* [a] pushes, after the first ARRAY_CHUNK elements, go through the
 * built-in push so no literal needs more stack than a chunk. */
static void gen_array(FnGen *f, const CcExpr *e)
{
    uint32_t line = e->pos.line;
    uint32_t n = e->u.list.n, first = n < ARRAY_CHUNK ? n : ARRAY_CHUNK;
    for (uint32_t i = 0; i < first; i++)
        gen_expr(f, e->u.list.items[i]);
    emit(f, OP_ARRAY, first, line);
    for (uint32_t i = first; i < n; i++) {
        emit(f, OP_DUP, 0, line);
        emit(f, OP_GETNAME, k_string(f->g, "push", 4), line);
        emit(f, OP_SWAP, 0, line);
        gen_expr(f, e->u.list.items[i]);
        emit(f, OP_CALL, 2, line);
        emit(f, OP_POP, 0, line);
    }
}

static void gen_map(FnGen *f, const CcExpr *e)
{
    uint32_t line = e->pos.line;
    uint32_t pairs = e->u.list.n / 2, first = pairs < MAP_CHUNK ? pairs : MAP_CHUNK;
    for (uint32_t i = 0; i < 2 * first; i++)
        gen_expr(f, e->u.list.items[i]);
    emit(f, OP_MAP, first, line);
    for (uint32_t i = first; i < pairs; i++) {
        emit(f, OP_DUP, 0, line);
        gen_expr(f, e->u.list.items[2 * i]);
        gen_expr(f, e->u.list.items[2 * i + 1]);
        emit(f, OP_SETINDEX, 0, line);
    }
}

/* A literal whose truthiness is known at compile time: 1 true, 0 false,
 * -1 unknown. */
static int constant_truth(const CcExpr *e)
{
    switch (e->kind) {
    case CC_EX_NIL: case CC_EX_FALSE: return 0;
    case CC_EX_TRUE: case CC_EX_INT: case CC_EX_FLOAT: case CC_EX_STRING: return 1;
    default: return -1;
    }
}

/* Pushes the links of the left-leaning chain [e] on the generator's chain
 * stack, outermost first: every link, or with [same_kind] only those of
 * [e]'s own kind. Returns the leftmost operand; the caller pops back to
 * the height it found. */
static const CcExpr *push_chain(FnGen *f, const CcExpr *e, bool same_kind)
{
    Gen *g = f->g;
    CcExprKind kind = e->kind;
    for (; cc_chain_left(e) && (!same_kind || e->kind == kind); e = cc_chain_left(e)) {
        pvmC_grow(g->diag, (void **)&g->chain, &g->chain_cap, g->nchain + 1, sizeof *g->chain);
        g->chain[g->nchain++] = e;
    }
    return e;
}

static void gen_cond(FnGen *f, const CcExpr *e, bool when, uint32_t label);

/* The condition a && b && ... (or a || b || ...), term by term: a && b is
 * false when a is, a || b true when a is. When the chain's own outcome
 * does not jump on a term's, that term skips to the end instead. */
static void gen_cond_chain(FnGen *f, const CcExpr *e, bool when, uint32_t label)
{
    Gen *g = f->g;
    bool is_and = e->kind == CC_EX_AND;
    uint32_t base = g->nchain;
    const CcExpr *first = push_chain(f, e, true);
    if (when != is_and) {
        gen_cond(f, first, when, label);
        while (g->nchain > base)
            gen_cond(f, g->chain[--g->nchain]->u.ops.b, when, label);
        return;
    }
    uint32_t skip = new_label(f);
    gen_cond(f, first, !when, skip);
    while (g->nchain > base + 1)
        gen_cond(f, g->chain[--g->nchain]->u.ops.b, !when, skip);
    gen_cond(f, g->chain[--g->nchain]->u.ops.b, when, label);
    place_label(f, skip);
}

/* Jumps to [label] when the truthiness of [e] is [when]; falls through
 * otherwise. Conditions of if/while/?: compile to jumps, not values. */
static void gen_cond(FnGen *f, const CcExpr *e, bool when, uint32_t label)
{
    int truth = constant_truth(e);
    if (truth >= 0) {
        if ((truth == 1) == when)
            emit_jump(f, OP_JMP, label, e->pos.line);
        return;
    }
    if (e->kind == CC_EX_UNARY && e->op == OP_NOT) {
        gen_cond(f, e->u.ops.a, !when, label);
        return;
    }
    if (e->kind == CC_EX_AND || e->kind == CC_EX_OR) {
        gen_cond_chain(f, e, when, label);
        return;
    }
    gen_expr(f, e);
    emit_jump(f, when ? OP_JMPT : OP_JMPF, label, e->pos.line);
}

static void gen_ternary(FnGen *f, const CcExpr *e)
{
    uint32_t other = new_label(f), end = new_label(f);
    gen_cond(f, e->u.ops.a, false, other);
    gen_expr(f, e->u.ops.b);
    emit_jump(f, OP_JMP, end, e->pos.line);
    place_label(f, other);
    gen_expr(f, e->u.ops.c);
    place_label(f, end);
}

/* What a chain link does once its left operand is on the stack. */
static void gen_link(FnGen *f, const CcExpr *e)
{
    uint32_t line = e->pos.line;
    switch (e->kind) {
    case CC_EX_BINARY:
        gen_expr(f, e->u.ops.b);
        emit(f, e->op, 0, line);
        return;
    case CC_EX_AND: case CC_EX_OR: {
        uint32_t end = new_label(f);
        emit_jump(f, e->kind == CC_EX_AND ? OP_JMPFK : OP_JMPTK, end, line);
        gen_expr(f, e->u.ops.b);
        place_label(f, end);
        return;
    }
    case CC_EX_INDEX:
        gen_expr(f, e->u.ops.b);
        emit(f, OP_GETINDEX, 0, line);
        return;
    case CC_EX_FIELD:
        emit(f, OP_GETFIELD, k_string(f->g, e->u.field.name.s, e->u.field.name.len), line);
        return;
    case CC_EX_CALL:
        for (uint32_t i = 0; i < e->u.call.nargs; i++)
            gen_expr(f, e->u.call.args[i]);
        emit(f, OP_CALL, e->u.call.nargs, line);
        return;
    default:
        internal_error(f, "not a chain link");
    }
}

/* A left-leaning chain (see cc_chain_left): its leftmost operand, then
 * each link from the innermost out. */
static void gen_chain(FnGen *f, const CcExpr *e)
{
    Gen *g = f->g;
    uint32_t base = g->nchain;
    gen_expr(f, push_chain(f, e, false));
    while (g->nchain > base)
        gen_link(f, g->chain[--g->nchain]);
}

static void gen_expr(FnGen *f, const CcExpr *e)
{
    uint32_t line = e->pos.line;
    switch (e->kind) {
    case CC_EX_NIL: emit(f, OP_NIL, 0, line); return;
    case CC_EX_TRUE: emit(f, OP_TRUE, 0, line); return;
    case CC_EX_FALSE: emit(f, OP_FALSE, 0, line); return;
    case CC_EX_INT: gen_int(f, e->u.i, line); return;
    case CC_EX_FLOAT: emit(f, OP_CONST, checked(f->g, pvmB_const_float(f->g->img, e->u.f)), line); return;
    case CC_EX_STRING: emit(f, OP_CONST, k_string(f->g, e->u.str.bytes, e->u.str.len), line); return;
    case CC_EX_NAME: emit_get(f, e->u.name.ref, &e->u.name.name, line); return;
    case CC_EX_ARRAY: gen_array(f, e); return;
    case CC_EX_MAP: gen_map(f, e); return;
    case CC_EX_FN: emit(f, OP_CLOSURE, gen_function(f->g, e->u.fn), line); return;
    case CC_EX_UNARY:
        gen_expr(f, e->u.ops.a);
        emit(f, e->op, 0, line);
        return;
    case CC_EX_TERNARY: gen_ternary(f, e); return;
    case CC_EX_BINARY: case CC_EX_AND: case CC_EX_OR: case CC_EX_INDEX:
    case CC_EX_CALL: case CC_EX_FIELD:
        gen_chain(f, e);
        return;
    }
    internal_error(f, "unknown expression kind");
}

/* ---- statements ---- */

/* [close] is a slot the block's end must also close (a captured loop
 * variable), or -1. */
static void gen_block(FnGen *f, const CcBlock *b, int32_t close)
{
    if (b->close_from >= 0 && (close < 0 || b->close_from < close))
        close = b->close_from;
    uint32_t exits = f->nexits;
    if (close >= 0)
        push_exit(f, EXIT_CLOSE, (uint32_t)close);
    for (uint32_t i = 0; i < b->n; i++)
        gen_stmt(f, b->stmts[i]);
    f->nexits = exits;
    if (close >= 0)
        emit(f, OP_CLOSE, close, 0);
}

/* Assignment: the target's parts (object, then index) before the value;
 * compound forms read the target through dup/dup2. */
static void gen_assign(FnGen *f, const CcStmt *s)
{
    const CcExpr *t = s->u.assign.target;
    Opcode op = s->u.assign.op;
    uint32_t line = s->pos.line, op_line = s->u.assign.op_pos.line;
    switch (t->kind) {
    case CC_EX_NAME:
        if (op != OP_NOP)
            emit_get(f, t->u.name.ref, &t->u.name.name, line);
        gen_expr(f, s->u.assign.value);
        if (op != OP_NOP)
            emit(f, op, 0, op_line);
        emit_set(f, t->u.name.ref, line);
        return;
    case CC_EX_INDEX:
        gen_expr(f, t->u.ops.a);
        gen_expr(f, t->u.ops.b);
        if (op != OP_NOP) {
            emit(f, OP_DUP2, 0, t->pos.line);
            emit(f, OP_GETINDEX, 0, t->pos.line);
        }
        gen_expr(f, s->u.assign.value);
        if (op != OP_NOP)
            emit(f, op, 0, op_line);
        emit(f, OP_SETINDEX, 0, t->pos.line);
        return;
    case CC_EX_FIELD: {
        uint32_t k = k_string(f->g, t->u.field.name.s, t->u.field.name.len);
        gen_expr(f, t->u.field.obj);
        if (op != OP_NOP) {
            emit(f, OP_DUP, 0, t->pos.line);
            emit(f, OP_GETFIELD, k, t->pos.line);
        }
        gen_expr(f, s->u.assign.value);
        if (op != OP_NOP)
            emit(f, op, 0, op_line);
        emit(f, OP_SETFIELD, k, t->pos.line);
        return;
    }
    default:
        internal_error(f, "invalid assignment target");
    }
}

static void gen_if(FnGen *f, const CcStmt *s)
{
    int truth = constant_truth(s->u.if_.cond);
    if (truth == 1 || (truth == 0 && !s->u.if_.els)) {
        if (truth == 1)
            gen_block(f, s->u.if_.then, -1);
        return;
    }
    if (truth == 0) {
        gen_stmt(f, s->u.if_.els);
        return;
    }
    uint32_t other = new_label(f);
    gen_cond(f, s->u.if_.cond, false, other);
    gen_block(f, s->u.if_.then, -1);
    if (!s->u.if_.els) {
        place_label(f, other);
        return;
    }
    uint32_t end = new_label(f);
    emit_jump(f, OP_JMP, end, 0);
    place_label(f, other);
    gen_stmt(f, s->u.if_.els);
    place_label(f, end);
}

static void push_loop(FnGen *f, uint32_t brk, uint32_t cont, bool is_for)
{
    pvmC_grow(f->g->diag, (void **)&f->loops, &f->loops_cap, f->nloops + 1, sizeof *f->loops);
    f->loops[f->nloops++] = (Loop){ brk, cont, is_for, f->nexits };
}

static void gen_while(FnGen *f, const CcStmt *s)
{
    uint32_t head = new_label(f), end = new_label(f);
    place_label(f, head);
    gen_cond(f, s->u.while_.cond, false, end);
    push_loop(f, end, head, false);
    gen_block(f, s->u.while_.body, -1);
    f->nloops--;
    emit_jump(f, OP_JMP, head, s->pos.line);
    place_label(f, end);
}

/* for v in a..b / for v in e: the loop state (two values) stays on the
 * operand stack; fornext pushes the next value or jumps out. */
static void gen_for(FnGen *f, const CcStmt *s)
{
    uint32_t line = s->pos.line;
    const CcVar *var = s->u.for_.var;
    gen_expr(f, s->u.for_.iter);
    if (s->u.for_.end) {
        gen_expr(f, s->u.for_.end);
        emit(f, OP_RANGE, 0, s->u.for_.iter->pos.line);
    } else {
        emit(f, OP_ITER, 0, s->u.for_.iter->pos.line);
    }
    uint32_t head = new_label(f), end = new_label(f);
    place_label(f, head);
    emit_jump(f, OP_FORNEXT, end, line);
    emit(f, OP_SETLOCAL, var->index, line);
    push_loop(f, end, head, true);
    gen_block(f, s->u.for_.body, var->captured ? (int32_t)var->index : -1);
    f->nloops--;
    emit_jump(f, OP_JMP, head, line);
    place_label(f, end);
}

/* Leaves the constructs between here and the innermost loop (or all of
 * them for return): endtry per try, one close for the lowest captured
 * slot. */
static void leave_exits(FnGen *f, uint32_t down_to, uint32_t line)
{
    int64_t close = -1;
    for (uint32_t i = f->nexits; i-- > down_to;) {
        if (f->exits[i].kind == EXIT_TRY)
            emit(f, OP_ENDTRY, 0, line);
        else if (close < 0 || f->exits[i].slot < close)
            close = f->exits[i].slot;
    }
    if (close >= 0)
        emit(f, OP_CLOSE, close, line);
}

static void gen_break_continue(FnGen *f, const CcStmt *s)
{
    if (f->nloops == 0) {
        internal_error(f, "break outside a loop");
        return;
    }
    const Loop *loop = &f->loops[f->nloops - 1];
    uint32_t line = s->pos.line;
    leave_exits(f, loop->exits, line);
    if (s->kind == CC_ST_CONTINUE) {
        emit_jump(f, OP_JMP, loop->cont, line);
        return;
    }
    if (loop->is_for) {
        emit(f, OP_POP, 0, line);
        emit(f, OP_POP, 0, line);
    }
    emit_jump(f, OP_JMP, loop->brk, line);
}

/* try Lcatch; body; endtry; jmp Lend; Lcatch: setlocal e; handler; Lend: */
static void gen_try(FnGen *f, const CcStmt *s)
{
    uint32_t line = s->pos.line;
    uint32_t handler = new_label(f), end = new_label(f);
    emit_jump(f, OP_TRY, handler, line);
    push_exit(f, EXIT_TRY, 0);
    gen_block(f, s->u.try_.body, -1);
    f->nexits--;
    emit(f, OP_ENDTRY, 0, 0);
    emit_jump(f, OP_JMP, end, 0);
    place_label(f, handler);
    uint32_t catch_line = s->u.try_.handler->pos.line;
    if (s->u.try_.close_from >= 0)
        emit(f, OP_CLOSE, s->u.try_.close_from, catch_line);
    if (s->u.try_.var)
        emit_store_var(f, s->u.try_.var, catch_line);
    else
        emit(f, OP_POP, 0, catch_line);
    gen_block(f, s->u.try_.handler, -1);
    place_label(f, end);
}

static void gen_import(FnGen *f, const CcStmt *s)
{
    uint32_t line = s->pos.line;
    const CcVar *var = s->u.import.var;
    if (s->u.import.builtin)
        emit(f, OP_GETNAME, k_string(f->g, var->name.s, var->name.len), line);
    else
        emit(f, OP_IMPORT, s->u.import.module, line);
    emit_store_var(f, var, line);
}

static void gen_stmt(FnGen *f, const CcStmt *s)
{
    uint32_t line = s->pos.line;
    switch (s->kind) {
    case CC_ST_LET:
        if (s->u.let.init)
            gen_expr(f, s->u.let.init);
        else
            emit(f, OP_NIL, 0, line);
        emit_store_var(f, s->u.let.var, line);
        return;
    case CC_ST_ASSIGN: gen_assign(f, s); return;
    case CC_ST_EXPR:
        gen_expr(f, s->u.expr);
        emit(f, OP_POP, 0, 0);
        return;
    case CC_ST_IF: gen_if(f, s); return;
    case CC_ST_BLOCK: gen_block(f, s->u.block, -1); return;
    case CC_ST_WHILE: gen_while(f, s); return;
    case CC_ST_FOR: gen_for(f, s); return;
    case CC_ST_BREAK: case CC_ST_CONTINUE: gen_break_continue(f, s); return;
    case CC_ST_RETURN:
        if (s->u.expr)
            gen_expr(f, s->u.expr);
        else
            emit(f, OP_NIL, 0, line);
        emit(f, OP_RET, 0, line);
        return;
    case CC_ST_THROW:
        gen_expr(f, s->u.expr);
        emit(f, OP_THROW, 0, line);
        return;
    case CC_ST_TRY: gen_try(f, s); return;
    case CC_ST_FN:
        if (s->u.fn.var->global)
            return; /* bound at the start of main */
        emit(f, OP_CLOSURE, gen_function(f->g, s->u.fn.fn), line);
        emit_store_var(f, s->u.fn.var, line);
        return;
    case CC_ST_IMPORT: gen_import(f, s); return;
    }
    internal_error(f, "unknown statement kind");
}

/* ---- functions ---- */

/* Binds every top-level fn before the first statement runs. */
static void gen_hoisted(FnGen *f)
{
    const CcBlock *top = f->fn->body;
    for (uint32_t i = 0; i < top->n; i++) {
        const CcStmt *s = top->stmts[i];
        if (s->kind != CC_ST_FN || !s->u.fn.var->global)
            continue;
        emit(f, OP_CLOSURE, gen_function(f->g, s->u.fn.fn), s->pos.line);
        emit_store_var(f, s->u.fn.var, s->pos.line);
    }
}

/* Moves the finished code of [f] into the image's function [index]. */
static void finish_function(FnGen *f, uint32_t index)
{
    Gen *g = f->g;
    const CcFunc *fn = f->fn;
    if (f->maxdepth > (int32_t)PBC_MAX_STACK) {
        pvmC_error(g->diag, g->file, fn->pos, "function needs too much stack (more than %u values)", PBC_MAX_STACK);
        g->failed = true;
    }
    PbcFunc *pf = &g->img->funcs[index];
    pf->name = fn->name.s ? k_string(g, fn->name.s, fn->name.len) : PBC_NONE;
    pf = &g->img->funcs[index];
    pf->module = g->module;
    pf->nparams = fn->nparams;
    pf->flags = fn->rest ? PBC_FUNC_VARIADIC : 0;
    pf->nlocals = fn->nlocals;
    pf->maxstack = (uint32_t)f->maxdepth;
    pf->nupvals = fn->nupvals;
    if (fn->nupvals) {
        pf->upvals = pvmC_xrealloc(g->diag, NULL, sizeof *pf->upvals * fn->nupvals);
        memcpy(pf->upvals, fn->upvals, sizeof *pf->upvals * fn->nupvals);
    }
    pf->codelen = f->len;
    pf->code = f->code;
    pf->nlines = f->nlines;
    pf->lines = f->lines;
    f->code = NULL;
    f->lines = NULL;
}

static uint32_t gen_function(Gen *g, const CcFunc *fn)
{
    uint32_t index = checked(g, pvmB_add_func(g->img));
    FnGen f;
    memset(&f, 0, sizeof f);
    f.g = g;
    f.fn = fn;
    f.reachable = true;
    if (fn->is_main)
        gen_hoisted(&f);
    for (uint32_t i = 0; i < fn->body->n; i++)
        gen_stmt(&f, fn->body->stmts[i]);
    if (f.reachable) {
        emit(&f, OP_NIL, 0, 0);
        emit(&f, OP_RET, 0, 0);
    }
    apply_patches(&f);
    finish_function(&f, index);
    free(f.code);
    free(f.lines);
    free(f.labels);
    free(f.patches);
    free(f.exits);
    free(f.loops);
    return index;
}

bool pvmC_codegen(const CcModuleAst *m, const CcModuleScope *scope, uint32_t module,
                const char *file, PbcImage *img, CcDiag *diag)
{
    Gen g = { .img = img, .diag = diag, .file = file, .module = module };
    uint32_t main = gen_function(&g, m->main);
    uint32_t *globals = pvmC_xrealloc(diag, NULL, sizeof *globals * (scope->nglobals ? scope->nglobals : 1));
    for (uint32_t i = 0; i < scope->nglobals; i++)
        globals[i] = k_string(&g, scope->global_names[i].s, scope->global_names[i].len);
    PbcModule *mod = &img->modules[module];
    mod->main = main;
    mod->nglobals = scope->nglobals;
    free(mod->globals);
    mod->globals = globals;
    free(g.chain);
    return !g.failed;
}
