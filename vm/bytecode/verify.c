/* The bytecode verifier: proves a .pbc image safe to run before any of it
 * runs, so the interpreter can skip the checks (docs/bytecode.md,
 * "Verification rules").
 *
 * It checks the module table, each function's header, and then each
 * function's code in three passes: a linear decode that marks instruction
 * starts (so unreachable code must decode too), a linear check of every
 * operand and of the line table, and an abstract interpretation over
 * (stack depth, try depth) driven by a worklist from offset 0. Stack
 * effects come from pvmB_opcode_info; only TRY/ENDTRY (try depth) and
 * CLOSURE (upvalue capture) need code of their own.
 *
 * Messages name where the problem is, then the rule:
 *   "fib at offset 12: jump target 7 is not an instruction boundary"
 *   "function 3 (fib): nparams 2 exceeds nlocals 1"   (function header)
 *   "module 1: main function 9 out of range (4 functions)"
 * Beyond the rules in docs/bytecode.md it enforces the limits of pbc.h,
 * call counts up to PBC_MAX_PARAMS, array/map counts up to PBC_MAX_STACK,
 * and that a module's main function takes no arguments, captures nothing
 * and belongs to that module. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/bytecode/opcodes.h"
#include "vm/bytecode/pbc.h"

#define UNVISITED (-1)

typedef struct {
    char *buf;
    size_t len;
} ErrOut;

/* Per-function verification state. */
typedef struct {
    const PbcImage *img;
    uint32_t index;     /* function being checked */
    const PbcFunc *f;
    ErrOut err;
    uint8_t *is_start;  /* 1 at every instruction's first byte */
    int32_t *depth;     /* stack depth on entry, or UNVISITED */
    int32_t *trydepth;  /* try depth on entry */
    uint32_t *work;     /* offsets whose successors are still to be checked */
    uint32_t nwork;
    uint32_t last;      /* offset of the last instruction */
} Check;

PVM_PRINTF(3, 0) static bool vfail(ErrOut *e, const char *prefix, const char *fmt, va_list ap)
{
    if (!e->buf || e->len == 0)
        return false;
    int n = snprintf(e->buf, e->len, "%s", prefix);
    if (n >= 0 && (size_t)n < e->len)
        vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
    return false;
}

/* "RULE", for errors that concern the image as a whole or a module. */
PVM_PRINTF(2, 3) static bool fail(ErrOut *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(e, "", fmt, ap);
    va_end(ap);
    return false;
}

/* "FUNCTION at offset N: RULE", for errors inside a function's code. */
PVM_PRINTF(3, 4) static bool code_fail(Check *c, uint32_t offset, const char *fmt, ...)
{
    char prefix[160];
    snprintf(prefix, sizeof prefix, "%s at offset %u: ", pvmB_func_name(c->img, c->index), offset);
    va_list ap;
    va_start(ap, fmt);
    vfail(&c->err, prefix, fmt, ap);
    va_end(ap);
    return false;
}

static const char *const_kind_name(uint8_t kind)
{
    switch (kind) {
    case PBC_CONST_INT: return "an int";
    case PBC_CONST_FLOAT: return "a float";
    case PBC_CONST_STRING: return "a string";
    default: return "of unknown kind";
    }
}

static bool is_string_const(const PbcImage *img, uint32_t k)
{
    return k < img->nconsts && img->consts[k].kind == PBC_CONST_STRING;
}

/* ------------------------------------------------------- module table */

static bool check_module(const PbcImage *img, uint32_t m, ErrOut *e)
{
    const PbcModule *mod = &img->modules[m];
    if (!is_string_const(img, mod->name))
        return fail(e, "module %u: name %u is not a string constant", m, mod->name);
    if (!is_string_const(img, mod->file))
        return fail(e, "module %u: file name %u is not a string constant", m, mod->file);
    if (mod->main >= img->nfuncs)
        return fail(e, "module %u: main function %u out of range (%u functions)", m, mod->main, img->nfuncs);
    for (uint32_t g = 0; g < mod->nglobals; g++)
        if (!is_string_const(img, mod->globals[g]))
            return fail(e, "module %u: name %u of global %u is not a string constant", m, mod->globals[g], g);
    return true;
}

/* A module's main function runs with no arguments and no enclosing closure,
 * against its own module's globals. */
static bool check_module_main(const PbcImage *img, uint32_t m, ErrOut *e)
{
    uint32_t fi = img->modules[m].main;
    const PbcFunc *f = &img->funcs[fi];
    const char *name = pvmB_func_name(img, fi);
    if (f->nparams != 0 || (f->flags & PBC_FUNC_VARIADIC))
        return fail(e, "module %u: main function %u (%s) must take no parameters", m, fi, name);
    if (f->nupvals != 0)
        return fail(e, "module %u: main function %u (%s) must have no upvalues", m, fi, name);
    if (f->module != m)
        return fail(e, "module %u: main function %u (%s) belongs to module %u", m, fi, name, f->module);
    return true;
}

/* ---------------------------------------------------- function headers */

static bool check_limit(ErrOut *e, uint32_t fi, const char *name, const char *what, uint32_t v, uint32_t limit)
{
    if (v <= limit)
        return true;
    return fail(e, "function %u (%s): %s %u exceeds the limit %u", fi, name, what, v, limit);
}

static bool check_func_header(const PbcImage *img, uint32_t fi, ErrOut *e)
{
    const PbcFunc *f = &img->funcs[fi];
    if (f->name != PBC_NONE && !is_string_const(img, f->name))
        return fail(e, "function %u: name %u is not a string constant", fi, f->name);
    const char *name = pvmB_func_name(img, fi);
    if (f->module >= img->nmodules)
        return fail(e, "function %u (%s): module %u out of range (%u modules)", fi, name, f->module, img->nmodules);
    if (f->flags & ~PBC_FUNC_VARIADIC)
        return fail(e, "function %u (%s): unknown flag bits 0x%02x", fi, name, f->flags & ~PBC_FUNC_VARIADIC);
    if (!check_limit(e, fi, name, "parameter count", f->nparams, PBC_MAX_PARAMS)
        || !check_limit(e, fi, name, "local count", f->nlocals, PBC_MAX_LOCALS)
        || !check_limit(e, fi, name, "maximum stack depth", f->maxstack, PBC_MAX_STACK)
        || !check_limit(e, fi, name, "upvalue count", f->nupvals, PBC_MAX_UPVALS))
        return false;
    uint32_t variadic = f->flags & PBC_FUNC_VARIADIC;
    if (f->nparams + variadic > f->nlocals)
        return fail(e, "function %u (%s): nparams %u%s exceeds nlocals %u", fi, name, f->nparams,
                    variadic ? " plus the rest array" : "", f->nlocals);
    for (uint32_t u = 0; u < f->nupvals; u++)
        if (f->upvals[u].from_local > 1)
            return fail(e, "function %u (%s): upvalue %u has kind %u, neither 0 (upvalue) nor 1 (local)", fi, name, u,
                        f->upvals[u].from_local);
    if (f->codelen == 0)
        return fail(e, "function %u (%s): code is empty", fi, name);
    return true;
}

/* ------------------------------------------------- pass 1: decoding */

/* Marks every instruction start; every byte must belong to an instruction. */
static bool decode_all(Check *c)
{
    const PbcFunc *f = c->f;
    PbcInsn in;
    for (uint32_t off = 0; off < f->codelen; off += in.size) {
        if (f->code[off] >= OP__COUNT)
            return code_fail(c, off, "unknown opcode %u", f->code[off]);
        if (!pvmB_decode(f->code, f->codelen, off, &in))
            return code_fail(c, off, "%s operand runs past the end of the code",
                             pvmB_opcode_info[f->code[off]].mnemonic);
        uint32_t needs = pvmB_opcode_version((Opcode)in.op);
        if (c->img->version != 0 && needs > c->img->version)
            return code_fail(c, off, "%s needs format version %u, but the file is version %u",
                             pvmB_opcode_info[in.op].mnemonic, needs, c->img->version);
        c->is_start[off] = 1;
        c->last = off;
    }
    return true;
}

/* ------------------------------------------------- pass 2: operands */

static bool check_const_operand(Check *c, uint32_t off, const PbcInsn *in, bool want_string)
{
    uint32_t k = (uint32_t)in->operand;
    if (k >= c->img->nconsts)
        return code_fail(c, off, "constant index %u out of range (pool has %u)", k, c->img->nconsts);
    uint8_t kind = c->img->consts[k].kind;
    if (want_string && kind != PBC_CONST_STRING)
        return code_fail(c, off, "%s needs a string constant but constant %u is %s", pvmB_opcode_info[in->op].mnemonic,
                         k, const_kind_name(kind));
    return true;
}

/* Rule 7: each upvalue that closure [fi] captures exists in the running function. */
static bool check_closure_upvals(Check *c, uint32_t off, uint32_t fi)
{
    const PbcFunc *inner = &c->img->funcs[fi];
    for (uint32_t u = 0; u < inner->nupvals; u++) {
        const PbcUpval *d = &inner->upvals[u];
        if (d->from_local && d->index >= c->f->nlocals)
            return code_fail(c, off, "closure %u: upvalue %u captures local %u, out of range (function has %u locals)",
                             fi, u, d->index, c->f->nlocals);
        if (!d->from_local && d->index >= c->f->nupvals)
            return code_fail(c, off,
                             "closure %u: upvalue %u captures upvalue %u, out of range (function has %u upvalues)",
                             fi, u, d->index, c->f->nupvals);
    }
    return true;
}

static bool check_count(Check *c, uint32_t off, const PbcInsn *in)
{
    uint32_t n = (uint32_t)in->operand;
    uint32_t limit = in->op == OP_CALL || in->op == OP_CALLV ? PBC_MAX_PARAMS : PBC_MAX_STACK;
    if (n <= limit)
        return true;
    return code_fail(c, off, "%s count %u exceeds the limit %u", pvmB_opcode_info[in->op].mnemonic, n, limit);
}

static bool check_target(Check *c, uint32_t off, const PbcInsn *in)
{
    uint32_t t = (uint32_t)in->operand;
    if (t >= c->f->codelen)
        return code_fail(c, off, "jump target %u is outside the code (length %u)", t, c->f->codelen);
    if (!c->is_start[t])
        return code_fail(c, off, "jump target %u is not an instruction boundary", t);
    return true;
}

/* Fails unless [v] < [n]; [owner] and [noun] complete "(OWNER has N NOUN)". */
static bool check_range(Check *c, uint32_t off, uint32_t v, uint32_t n, const char *what, const char *owner,
                        const char *noun)
{
    if (v < n)
        return true;
    return code_fail(c, off, "%s index %u out of range (%s has %u %s)", what, v, owner, n, noun);
}

/* The owner's name is formatted only for the error: snprintf on every
 * global operand cost instructions, and pulled libc's printf into the RSS
 * of programs that never print a number. */
static bool check_global(Check *c, uint32_t off, uint32_t v)
{
    uint32_t n = c->img->modules[c->f->module].nglobals;
    if (v < n)
        return true;
    char owner[32];
    snprintf(owner, sizeof owner, "module %u", c->f->module);
    return check_range(c, off, v, n, "global", owner, "globals");
}

/* Rule 5 (and 2, 7) for one instruction, reachable or not. */
static bool check_operand(Check *c, uint32_t off, const PbcInsn *in)
{
    const PbcImage *img = c->img;
    uint32_t v = (uint32_t)in->operand;
    switch (pvmB_opcode_info[in->op].operand) {
    case OPND_NONE:
    case OPND_INT:
    case OPND_LINE:
        return true;
    case OPND_TYPES:
        if (v == 0 || (v & ~PBC_TYPE_ALL))
            return code_fail(c, off, "%s type set 0x%x is not a non-empty set of the %d type bits",
                             pvmB_opcode_info[in->op].mnemonic, v, PBC_TYPE__COUNT);
        return true;
    case OPND_CONST:
        return check_const_operand(c, off, in, false);
    case OPND_NAME:
    case OPND_FIELD:
        return check_const_operand(c, off, in, true);
    case OPND_LOCAL:
        return check_range(c, off, v, c->f->nlocals, "local", "function", "locals");
    case OPND_UPVAL:
        return check_range(c, off, v, c->f->nupvals, "upvalue", "function", "upvalues");
    case OPND_GLOBAL:
        return check_global(c, off, v);
    case OPND_FUNC:
        return check_range(c, off, v, img->nfuncs, "function", "image", "functions")
            && (in->op != OP_CLOSURE || check_closure_upvals(c, off, v));
    case OPND_MODULE:
        return check_range(c, off, v, img->nmodules, "module", "image", "modules");
    case OPND_COUNT:
        return check_count(c, off, in);
    case OPND_TARGET:
        return check_target(c, off, in);
    }
    return code_fail(c, off, "opcode %u has an unknown operand kind", in->op);
}

static bool check_operands(Check *c)
{
    PbcInsn in;
    for (uint32_t off = 0; off < c->f->codelen; off += in.size) {
        pvmB_decode(c->f->code, c->f->codelen, off, &in);
        if (!check_operand(c, off, &in))
            return false;
    }
    return true;
}

/* Rule 6: only the last instruction could run past the end, reachable or not. */
static bool check_end(Check *c)
{
    FlowKind flow = pvmB_opcode_info[c->f->code[c->last]].flow;
    if (flow == FLOW_NEXT || flow == FLOW_BRANCH)
        return code_fail(c, c->last, "code falls off the end");
    return true;
}

/* Rule 8: line entries start at increasing instruction boundaries. */
static bool check_lines(Check *c)
{
    const PbcFunc *f = c->f;
    for (uint32_t i = 0; i < f->nlines; i++) {
        uint32_t off = f->lines[i].offset;
        if (off >= f->codelen)
            return code_fail(c, off, "line table entry %u is outside the code (length %u)", i, f->codelen);
        if (!c->is_start[off])
            return code_fail(c, off, "line table entry %u is not at an instruction boundary", i);
        if (i > 0 && off <= f->lines[i - 1].offset)
            return code_fail(c, off, "line table entry %u does not follow entry %u's offset %u", i, i - 1,
                             f->lines[i - 1].offset);
    }
    return true;
}

/* ---------------------------------------------- pass 3: stack and try */

/* Records the state on entry to [to], reached from the instruction at [from];
 * a second path must agree with the first (rules 3 and 4). */
static bool flow_into(Check *c, uint32_t from, uint32_t to, int64_t depth, int32_t trydepth)
{
    if (depth < 0)
        return code_fail(c, from, "stack underflow on the jump (depth %lld)", (long long)depth);
    if (depth > c->f->maxstack)
        return code_fail(c, from, "stack depth %lld exceeds declared maximum %u", (long long)depth, c->f->maxstack);
    if (c->depth[to] == UNVISITED) {
        c->depth[to] = (int32_t)depth;
        c->trydepth[to] = trydepth;
        c->work[c->nwork++] = to;
        return true;
    }
    if (c->depth[to] != depth)
        return code_fail(c, to, "inconsistent stack depth at join (%d vs %lld)", c->depth[to], (long long)depth);
    if (c->trydepth[to] != trydepth)
        return code_fail(c, to, "inconsistent try depth at join (%d vs %d)", c->trydepth[to], trydepth);
    return true;
}

/* Applies one instruction's effect and passes its state to its successors. */
static bool step(Check *c, uint32_t off)
{
    PbcInsn in;
    pvmB_decode(c->f->code, c->f->codelen, off, &in);
    const OpcodeInfo *info = &pvmB_opcode_info[in.op];
    int64_t depth = c->depth[off];
    int32_t tryd = c->trydepth[off];
    int64_t count = info->operand == OPND_COUNT ? in.operand : 0;
    int64_t pops = info->pops + info->pops_per_arg * count;
    if (depth < pops)
        return code_fail(c, off, "stack underflow (depth %lld, pops %lld)", (long long)depth, (long long)pops);
    int64_t next_depth = depth - pops + info->pushes;
    int32_t next_try = tryd, target_try = tryd;
    if (in.op == OP_TRY) {
        next_try = tryd + 1; /* the handler is active until endtry; a throw removes it */
    } else if (in.op == OP_ENDTRY) {
        if (tryd == 0)
            return code_fail(c, off, "endtry at try depth 0 (no try block is open)");
        next_try = tryd - 1;
    }
    uint32_t target = (uint32_t)in.operand;
    switch (info->flow) {
    case FLOW_NEXT:
        return flow_into(c, off, off + in.size, next_depth, next_try);
    case FLOW_BRANCH:
        return flow_into(c, off, target, depth + info->branch_delta, target_try)
            && flow_into(c, off, off + in.size, next_depth, next_try);
    case FLOW_JUMP:
        return flow_into(c, off, target, depth + info->branch_delta, next_try);
    case FLOW_END:
        return true;
    }
    return true;
}

static bool check_flow(Check *c)
{
    for (uint32_t i = 0; i < c->f->codelen; i++)
        c->depth[i] = UNVISITED;
    c->depth[0] = 0;
    c->trydepth[0] = 0;
    c->work[c->nwork++] = 0;
    while (c->nwork > 0)
        if (!step(c, c->work[--c->nwork]))
            return false;
    return true;
}

/* ---------------------------------------------------------- driver */

static bool check_code(const PbcImage *img, uint32_t fi, ErrOut *e)
{
    const PbcFunc *f = &img->funcs[fi];
    Check c = { .img = img, .index = fi, .f = f, .err = *e };
    c.is_start = calloc(f->codelen, 1);
    c.depth = malloc(f->codelen * sizeof *c.depth);
    c.trydepth = malloc(f->codelen * sizeof *c.trydepth);
    c.work = malloc(f->codelen * sizeof *c.work);
    bool ok;
    if (!c.is_start || !c.depth || !c.trydepth || !c.work)
        ok = code_fail(&c, 0, "out of memory verifying %u bytes of code", f->codelen);
    else
        ok = decode_all(&c) && check_operands(&c) && check_end(&c) && check_lines(&c) && check_flow(&c);
    free(c.is_start);
    free(c.depth);
    free(c.trydepth);
    free(c.work);
    return ok;
}

bool pvmB_verify(const PbcImage *img, char *err, size_t errlen)
{
    ErrOut e = { err, errlen };
    if (img->nmodules == 0)
        return fail(&e, "image has no modules (module 0 is the program)");
    for (uint32_t m = 0; m < img->nmodules; m++)
        if (!check_module(img, m, &e))
            return false;
    for (uint32_t fi = 0; fi < img->nfuncs; fi++)
        if (!check_func_header(img, fi, &e))
            return false;
    for (uint32_t m = 0; m < img->nmodules; m++)
        if (!check_module_main(img, m, &e))
            return false;
    for (uint32_t fi = 0; fi < img->nfuncs; fi++)
        if (!check_code(img, fi, &e))
            return false;
    return true;
}
