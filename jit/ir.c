/* The IR buffer: the opcode table, constant interning, appending and the
 * readable listing. Folding and CSE live in fold.c. */
#include <gc.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jit/alloc.h"
#include "jit/ir.h"

const JitOpInfo pvmJ_ir_ops[JIT_IR__COUNT] = {
#define X(name, o1, o2, flags) { #name, JIT_O_##o1, JIT_O_##o2, flags },
    JIT_IROPS(X)
#undef X
};

const char *const pvmJ_ir_type_names[JIT_T__COUNT] = {
#define T(name, text) text,
    JIT_IRTYPES(T)
#undef T
};

void pvmJ_ir_init(JitIR *ir)
{
    memset(ir, 0, sizeof *ir);
}

void pvmJ_ir_free(JitIR *ir)
{
    free(ir->ins);
    free(ir->kins);
    free(ir->sunk);
    GC_FREE(ir->kval);
    memset(ir, 0, sizeof *ir);
}

/* The constant values may be pointers a trace keeps alive, so their array
 * is collector memory that is scanned but never collected on its own. */
static bool ir_grow_consts(JitIR *ir)
{
    if (ir->nk >= JIT_MAX_CONSTS) {
        ir->failed = true;
        return false;
    }
    if (ir->nk < ir->k_cap)
        return true;
    uint32_t cap = ir->k_cap ? ir->k_cap * 2u : 64u;
    JitIns *kins = realloc(ir->kins, cap * sizeof *kins);
    uint64_t *kval = GC_MALLOC_UNCOLLECTABLE(cap * sizeof *kval);
    if (!kins || !kval) {
        if (kins)
            ir->kins = kins;
        GC_FREE(kval);
        ir->failed = true;
        return false;
    }
    if (ir->nk)
        memcpy(kval, ir->kval, ir->nk * sizeof *kval);
    GC_FREE(ir->kval);
    ir->kins = kins;
    ir->kval = kval;
    ir->k_cap = cap;
    return true;
}

static JitRef ir_intern(JitIR *ir, JitOp op, JitType type, uint64_t bits, JitRef lit)
{
    for (uint32_t i = 0; i < ir->nk; i++) {
        const JitIns *k = &ir->kins[i];
        if (k->op == op && k->type == type && ir->kval[i] == bits && k->a == lit)
            return (JitRef)(JIT_REF_BIAS - 1u - i);
    }
    if (!ir_grow_consts(ir))
        return JIT_REF_NONE;
    ir->kins[ir->nk] = (JitIns){ .op = op, .type = type, .a = lit };
    ir->kval[ir->nk] = bits;
    return (JitRef)(JIT_REF_BIAS - 1u - ir->nk++);
}

JitRef pvmJ_k_int(JitIR *ir, int64_t v)
{
    return ir_intern(ir, JIT_IR_KINT, JIT_T_INT, (uint64_t)v, 0);
}

JitRef pvmJ_k_float(JitIR *ir, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return ir_intern(ir, JIT_IR_KFLT, JIT_T_FLT, bits, 0);
}

JitRef pvmJ_k_gc(JitIR *ir, JitType type, const void *p)
{
    return ir_intern(ir, JIT_IR_KGC, type, (uint64_t)(uintptr_t)p, 0);
}

JitRef pvmJ_k_pri(JitIR *ir, JitType type, bool truth)
{
    return ir_intern(ir, JIT_IR_KPRI, type, 0, type == JIT_T_BOOL && truth);
}

int64_t pvmJ_k_int_value(const JitIR *ir, JitRef r)
{
    return (int64_t)ir->kval[JIT_REF_BIAS - 1u - r];
}

double pvmJ_k_float_value(const JitIR *ir, JitRef r)
{
    double d;
    memcpy(&d, &ir->kval[JIT_REF_BIAS - 1u - r], sizeof d);
    return d;
}

JitRef pvmJ_ir_append(JitIR *ir, JitOp op, JitType type, JitRef a, JitRef b)
{
    if (ir->failed || ir->nins >= JIT_MAX_INS) {
        ir->failed = true;
        return JIT_REF_NONE;
    }
    if (ir->nins == ir->ins_cap) {
        uint32_t cap = ir->ins_cap ? ir->ins_cap * 2u : 128u;
        JitIns *ins = realloc(ir->ins, cap * sizeof *ins);
        if (!ins) {
            ir->failed = true;
            return JIT_REF_NONE;
        }
        ir->ins = ins;
        ir->ins_cap = cap;
    }
    JitRef ref = (JitRef)(JIT_REF_BIAS + ir->nins);
    ir->ins[ir->nins++] = (JitIns){ .op = op, .type = type, .a = a, .b = b, .prev = ir->chain[op] };
    ir->chain[op] = ref;
    if (pvmJ_ir_mutates(ir, op, b))
        ir->mutated = ref;
    return ref;
}

bool pvmJ_ir_mutates(const JitIR *ir, JitOp op, JitRef b)
{
    return op == JIT_IR_CALLR && pvmJ_ref_is_const(b) &&
           pvmJ_rt_mutates(pvmJ_rt_fn((uint64_t)pvmJ_k_int_value(ir, b)));
}

static void ir_dump_ref(const JitIR *ir, JitRef r, FILE *out)
{
    if (r == JIT_REF_NONE) { /* the end of a CARG chain */
        fputs(" -", out);
        return;
    }
    if (!pvmJ_ref_is_const(r)) {
        fprintf(out, " %04u", (unsigned)(r - JIT_REF_BIAS));
        return;
    }
    const JitIns *k = pvmJ_ir_at(ir, r);
    switch (k->op) {
    case JIT_IR_KINT: fprintf(out, " %" PRId64, pvmJ_k_int_value(ir, r)); break;
    case JIT_IR_KFLT: fprintf(out, " %.17g", pvmJ_k_float_value(ir, r)); break;
    case JIT_IR_KGC: fprintf(out, " %s:%p", pvmJ_ir_type_names[k->type],
                             (void *)(uintptr_t)ir->kval[JIT_REF_BIAS - 1u - r]); break;
    default: fprintf(out, " %s", k->type == JIT_T_NIL ? "nil" : k->a ? "true" : "false");
    }
}

static void ir_dump_operand(const JitIR *ir, uint8_t kind, JitRef v, FILE *out)
{
    if (kind == JIT_O_REF)
        ir_dump_ref(ir, v, out);
    else if (kind == JIT_O_LIT)
        fprintf(out, " #%u", (unsigned)v);
}

void pvmJ_ir_dump(const JitIR *ir, FILE *out)
{
    for (uint32_t i = 0; i < ir->nins; i++) {
        const JitIns *in = &ir->ins[i];
        const JitOpInfo *info = &pvmJ_ir_ops[in->op];
        fprintf(out, "%04u %c %-4s %-6s", (unsigned)i, (info->flags & JIT_F_GUARD) ? '>' : ' ',
                pvmJ_ir_type_names[in->type], info->name);
        ir_dump_operand(ir, info->o1, in->a, out);
        ir_dump_operand(ir, info->o2, in->b, out);
        if (ir->sunk && ir->sunk[i])
            fputs("  sunk", out);
        fputc('\n', out);
    }
}
