/* The backend: a recorded trace's IR to x86-64 machine code.
 *
 * This first backend is deliberately simple, so that it is easy to check:
 * every IR value is written to its own 8-byte slot of a value area (r12
 * points at it; slot i holds instruction i's raw bits: an int, a double's
 * bits, 0/1, or an object pointer), and a register cache saves reloading
 * what was used recently. The area is collector-scanned memory, so any
 * pointer a trace holds stays visible to bdwgc. rbx holds the frame's base
 * (local 0).
 *
 *   entry(base, vals):  push rbx, r12-r15; rbx = base; r12 = vals
 *   top:                the instructions, each guard a jcc to its exit stub
 *                       LOOP: write the header snapshot's slots back to the
 *                       frame, jmp top
 *   exit stub s:        eax = s; pop r13, r12, rbx; ret
 *
 * The caller (jit.c) restores the frame from snapshot s. A register
 * allocator that keeps loop-carried values in registers across iterations
 * (no value-area traffic for them) is the next step; it changes only this
 * file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jit/assemble.h"
#include "jit/magic.h"
#include "vm/runtime/object.h"

#if PVM_JIT

typedef struct {
    PvmjAsm *a;
    const JitIR *ir;
    const JitSnapList *snaps;
    VM *vm;
    uint64_t *trips;    /* counts trips round the loop */
    uint64_t *all_trips;/* counts them for every trace of the VM */
    PvmjLabel top;
    PvmjLabel loop;     /* the start of the loop body, after LOOP #1 */
    PvmjLabel *exits;   /* one per snapshot */
    uint32_t snap;      /* the snapshot of the instruction being compiled */
    /* The register cache: which IR values the pool registers hold now (as
     * the code is generated, in order), and when each was last used. */
    JitRef gpr_holds[8], xmm_holds[14];
    uint32_t gpr_used[8], xmm_used[14];
    uint32_t clock;
} Gen;

/* Registers that cache values: never the scratch ones (rax, rcx, rdx,
 * r11, xmm0, xmm1) nor rbx (base) and r12 (vals). rsi, rdi, r8-r10 and the
 * xmm registers do not survive a C call. */
static const PvmjReg gpr_pool[8] = { PVMJ_R13, PVMJ_R14, PVMJ_R15, PVMJ_RSI,
                                      PVMJ_RDI, PVMJ_R8, PVMJ_R9, PVMJ_R10 };
#define GPR_POOL_SAVED 3 /* r13-r15: callee-saved */
static const PvmjReg xmm_pool[14] = { PVMJ_XMM2, PVMJ_XMM3, PVMJ_XMM4, PVMJ_XMM5, PVMJ_XMM6,
                                       PVMJ_XMM7, PVMJ_XMM8, PVMJ_XMM9, PVMJ_XMM10, PVMJ_XMM11,
                                       PVMJ_XMM12, PVMJ_XMM13, PVMJ_XMM14, PVMJ_XMM15 };

static PvmjMem val_mem(JitRef ref)
{
    return pvmj_mem(PVMJ_R12, (int32_t)(8u * (ref - JIT_REF_BIAS)));
}

static PvmjMem slot_tag(uint32_t slot)
{
    return pvmj_mem(PVMJ_RBX, (int32_t)(16u * slot));
}

static PvmjMem slot_payload(uint32_t slot)
{
    return pvmj_mem(PVMJ_RBX, (int32_t)(16u * slot + 8u));
}

static uint64_t const_bits(const JitIR *ir, JitRef ref)
{
    const JitIns *k = pvmJ_ir_at(ir, ref);
    if (k->op == JIT_IR_KPRI)
        return k->a;
    return ir->kval[JIT_REF_BIAS - 1u - ref];
}

/* --- The register cache ---------------------------------------------------
 * Every value is written to its slot of the value area when it is made
 * (write-through), so exits and snapshots never depend on registers; the
 * cache only saves reloading. Where control paths join (the loop body's
 * start) or a C call clobbers registers, it is forgotten. */

static void cache_forget_all(Gen *g)
{
    for (int i = 0; i < 8; i++)
        g->gpr_holds[i] = JIT_REF_NONE;
    for (int i = 0; i < 14; i++)
        g->xmm_holds[i] = JIT_REF_NONE;
}

static void cache_forget_call_clobbered(Gen *g)
{
    for (int i = GPR_POOL_SAVED; i < 8; i++)
        g->gpr_holds[i] = JIT_REF_NONE;
    for (int i = 0; i < 14; i++)
        g->xmm_holds[i] = JIT_REF_NONE;
}

static void cache_forget(Gen *g, JitRef ref)
{
    for (int i = 0; i < 8; i++)
        if (g->gpr_holds[i] == ref)
            g->gpr_holds[i] = JIT_REF_NONE;
    for (int i = 0; i < 14; i++)
        if (g->xmm_holds[i] == ref)
            g->xmm_holds[i] = JIT_REF_NONE;
}

static int cache_find(const JitRef *holds, int n, JitRef ref)
{
    for (int i = 0; i < n; i++)
        if (holds[i] == ref)
            return i;
    return -1;
}

/* An empty entry, else the least recently used one. */
static int cache_victim(const JitRef *holds, const uint32_t *used, int n)
{
    int best = 0;
    for (int i = 0; i < n; i++) {
        if (holds[i] == JIT_REF_NONE)
            return i;
        if (used[i] < used[best])
            best = i;
    }
    return best;
}

static void cache_in_gpr(Gen *g, JitRef ref, PvmjReg r)
{
    int i = cache_victim(g->gpr_holds, g->gpr_used, 8);
    pvmJ_mov_rr(g->a, PVMJ_W64, gpr_pool[i], r);
    g->gpr_holds[i] = ref;
    g->gpr_used[i] = ++g->clock;
}

static void cache_in_xmm(Gen *g, JitRef ref, PvmjReg x)
{
    int i = cache_victim(g->xmm_holds, g->xmm_used, 14);
    pvmJ_sse_rr(g->a, PVMJ_MOVSD, xmm_pool[i], x);
    g->xmm_holds[i] = ref;
    g->xmm_used[i] = ++g->clock;
}

static void load_gpr(Gen *g, PvmjReg r, JitRef ref)
{
    if (pvmJ_ref_is_const(ref)) {
        pvmJ_mov_ri(g->a, r, (int64_t)const_bits(g->ir, ref));
        return;
    }
    int i = cache_find(g->gpr_holds, 8, ref);
    if (i >= 0) {
        pvmJ_mov_rr(g->a, PVMJ_W64, r, gpr_pool[i]);
        g->gpr_used[i] = ++g->clock;
        return;
    }
    i = cache_find(g->xmm_holds, 14, ref);
    if (i >= 0) {
        pvmJ_movq_from_xmm(g->a, r, xmm_pool[i]);
        g->xmm_used[i] = ++g->clock;
        return;
    }
    pvmJ_mov_load(g->a, PVMJ_W64, r, val_mem(ref));
    cache_in_gpr(g, ref, r);
}

static void load_xmm(Gen *g, PvmjReg x, JitRef ref)
{
    if (pvmJ_ref_is_const(ref)) {
        pvmJ_mov_ri(g->a, PVMJ_R11, (int64_t)const_bits(g->ir, ref));
        pvmJ_movq_to_xmm(g->a, x, PVMJ_R11);
        return;
    }
    int i = cache_find(g->xmm_holds, 14, ref);
    if (i >= 0) {
        pvmJ_sse_rr(g->a, PVMJ_MOVSD, x, xmm_pool[i]);
        g->xmm_used[i] = ++g->clock;
        return;
    }
    i = cache_find(g->gpr_holds, 8, ref);
    if (i >= 0) {
        pvmJ_movq_to_xmm(g->a, x, gpr_pool[i]);
        g->gpr_used[i] = ++g->clock;
        return;
    }
    pvmJ_sse_rm(g->a, PVMJ_MOVSD, x, val_mem(ref));
    cache_in_xmm(g, ref, x);
}

static void store_gpr(Gen *g, JitRef ref, PvmjReg r)
{
    pvmJ_mov_store(g->a, PVMJ_W64, val_mem(ref), r);
    cache_forget(g, ref);
    cache_in_gpr(g, ref, r);
}

static void store_xmm(Gen *g, JitRef ref, PvmjReg x)
{
    pvmJ_movsd_store(g->a, val_mem(ref), x);
    cache_forget(g, ref);
    cache_in_xmm(g, ref, x);
}

static void exit_if(Gen *g, PvmjCond cc)
{
    pvmJ_jcc(g->a, cc, g->exits[g->snap]);
}

/* --- Loads, stores and the budget ---------------------------------------- */


/* The Value at [rcx], its type guarded: the payload becomes [ref]. */
static void gen_load_value_at_rcx(Gen *g, const JitIns *in, JitRef ref)
{
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RCX, 0));
    pvmJ_alu_ri(g->a, PVMJ_CMP, PVMJ_W64, PVMJ_RAX, (int32_t)pvmJ_value_type(in->type));
    exit_if(g, PVMJ_CC_NE);
    if (in->type == JIT_T_BOOL)
        pvmJ_movzx8_load(g->a, PVMJ_RAX, pvmj_mem(PVMJ_RCX, 8));
    else
        pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RCX, 8));
    store_gpr(g, ref, PVMJ_RAX);
}

static void gen_sload(Gen *g, const JitIns *in, JitRef ref)
{
    pvmJ_lea(g->a, PVMJ_RCX, slot_tag(in->a));
    gen_load_value_at_rcx(g, in, ref);
}

static void gen_gload(Gen *g, const JitIns *in, JitRef ref)
{
    pvmJ_mov_ri(g->a, PVMJ_RCX, (int64_t)const_bits(g->ir, in->a));
    gen_load_value_at_rcx(g, in, ref);
}

static JitType type_of_ref(const Gen *g, JitRef ref)
{
    return (JitType)pvmJ_ir_at(g->ir, ref)->type;
}

/* A Value written where the interpreter will read it: tag, then payload. */
static void store_value(Gen *g, PvmjMem tag, PvmjMem payload, JitRef ref)
{
    pvmJ_mov_store_imm(g->a, PVMJ_W64, tag, (int32_t)pvmJ_value_type(type_of_ref(g, ref)));
    load_gpr(g, PVMJ_RAX, ref);
    pvmJ_mov_store(g->a, PVMJ_W64, payload, PVMJ_RAX);
}

static void gen_gstore(Gen *g, const JitIns *in)
{
    pvmJ_mov_ri(g->a, PVMJ_RCX, (int64_t)const_bits(g->ir, in->a));
    store_value(g, pvmj_mem(PVMJ_RCX, 0), pvmj_mem(PVMJ_RCX, 8), in->b);
}

/* fuel -= trip, unless that leaves it negative or an interrupt is pending:
 * then exit before the jmp, which charges and raises in the interpreter. */
static void gen_charge(Gen *g, const JitIns *in)
{
    pvmJ_mov_ri(g->a, PVMJ_RCX, (int64_t)(uintptr_t)&g->vm->fuel);
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RCX, 0));
    pvmJ_alu_ri(g->a, PVMJ_SUB, PVMJ_W64, PVMJ_RAX, (int32_t)in->a);
    exit_if(g, PVMJ_CC_L);
    pvmJ_mov_ri(g->a, PVMJ_RDX, (int64_t)(uintptr_t)&g->vm->interrupt);
    pvmJ_mov_load(g->a, PVMJ_W32, PVMJ_RDX, pvmj_mem(PVMJ_RDX, 0));
    pvmJ_test_rr(g->a, PVMJ_W32, PVMJ_RDX, PVMJ_RDX);
    exit_if(g, PVMJ_CC_NE);
    pvmJ_mov_store(g->a, PVMJ_W64, pvmj_mem(PVMJ_RCX, 0), PVMJ_RAX);
}

/* The PHIs at the end of the loop body, as one parallel copy (one PHI's
 * source may be another's destination): every source into scratch, then
 * scratch into the destinations. Then round again. */
static void gen_phis(Gen *g, uint32_t first)
{
    uint32_t n = 0;
    for (uint32_t i = first; i < g->ir->nins; i++, n++) {
        load_gpr(g, PVMJ_RAX, g->ir->ins[i].b);
        pvmJ_mov_store(g->a, PVMJ_W64, pvmj_mem(PVMJ_R12, (int32_t)(8u * (JIT_MAX_INS + n))), PVMJ_RAX);
    }
    n = 0;
    for (uint32_t i = first; i < g->ir->nins; i++, n++) {
        pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_R12, (int32_t)(8u * (JIT_MAX_INS + n))));
        store_gpr(g, g->ir->ins[i].a, PVMJ_RAX);
    }
    pvmJ_jmp(g->a, g->loop);
}

static void gen_count(Gen *g, uint64_t *counter)
{
    pvmJ_mov_ri(g->a, PVMJ_RCX, (int64_t)(uintptr_t)counter);
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RCX, 0));
    pvmJ_alu_ri(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, 1);
    pvmJ_mov_store(g->a, PVMJ_W64, pvmj_mem(PVMJ_RCX, 0), PVMJ_RAX);
}

static void gen_loop_count(Gen *g)
{
    gen_count(g, g->trips);
    gen_count(g, g->all_trips);
}

/* LOOP #1: the copied body starts here (each trip round it counts). LOOP
 * #0: the last snapshot is the frame at the loop header; write it back
 * and start again from the top. */
static void gen_loop(Gen *g, const JitIns *in)
{
    if (in->a == 1) {
        gen_loop_count(g);
        g->loop = pvmJ_label_new(g->a);
        pvmJ_label_bind(g->a, g->loop);
        cache_forget_all(g); /* reached from the pre-roll and from the back edge */
        return;
    }
    const JitSnap *s = &g->snaps->snaps[g->snaps->nsnaps - 1];
    gen_loop_count(g);
    for (uint32_t i = 0; i < s->nentries; i++) {
        const JitSnapEntry *e = &g->snaps->map[s->map_start + i];
        store_value(g, slot_tag(e->slot), slot_payload(e->slot), e->ref);
    }
    pvmJ_jmp(g->a, g->top);
}

/* --- Arrays ------------------------------------------------------------- */

static void gen_alen(Gen *g, const JitIns *in, JitRef ref)
{
    load_gpr(g, PVMJ_RAX, in->a);
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RAX, (int32_t)offsetof(PvArray, len)));
    store_gpr(g, ref, PVMJ_RAX);
}

/* One unsigned compare checks both ends: a negative index is huge. */
static void gen_abc(Gen *g, const JitIns *in)
{
    load_gpr(g, PVMJ_RAX, in->a);
    load_gpr(g, PVMJ_RCX, in->b);
    pvmJ_alu_rr(g->a, PVMJ_CMP, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
    exit_if(g, PVMJ_CC_AE);
}

static void gen_aref(Gen *g, const JitIns *in, JitRef ref)
{
    load_gpr(g, PVMJ_RAX, in->a);
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RAX, (int32_t)offsetof(PvArray, items)));
    load_gpr(g, PVMJ_RCX, in->b);
    pvmJ_shift_ri(g->a, PVMJ_SHL, PVMJ_W64, PVMJ_RCX, 4); /* a Value is 16 bytes */
    pvmJ_alu_rr(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
    store_gpr(g, ref, PVMJ_RAX);
}

static void gen_fload(Gen *g, const JitIns *in, JitRef ref)
{
    load_gpr(g, PVMJ_RAX, in->a);
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RAX, (int32_t)in->b));
    store_gpr(g, ref, PVMJ_RAX);
}

/* The entry still holds the key string the trace was recorded with. */
static void gen_hkey(Gen *g, const JitIns *in)
{
    load_gpr(g, PVMJ_RCX, in->a);
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RCX, 0));
    pvmJ_alu_ri(g->a, PVMJ_CMP, PVMJ_W64, PVMJ_RAX, VT_STRING);
    exit_if(g, PVMJ_CC_NE);
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RCX, 8));
    load_gpr(g, PVMJ_RDX, in->b);
    pvmJ_alu_rr(g->a, PVMJ_CMP, PVMJ_W64, PVMJ_RAX, PVMJ_RDX);
    exit_if(g, PVMJ_CC_NE);
}

static void gen_xload(Gen *g, const JitIns *in, JitRef ref)
{
    load_gpr(g, PVMJ_RCX, in->a);
    gen_load_value_at_rcx(g, in, ref);
}

static void gen_xstore(Gen *g, const JitIns *in)
{
    load_gpr(g, PVMJ_RCX, in->a);
    store_value(g, pvmj_mem(PVMJ_RCX, 0), pvmj_mem(PVMJ_RCX, 8), in->b);
}

/* --- Integer and float arithmetic ---------------------------------------- */

/* x / d and x % d for a constant d >= 2: a multiply by d's magic number
 * (magic.c) instead of idiv. */
static void gen_int_divmod_const(Gen *g, const JitIns *in, JitRef ref, int64_t d)
{
    int64_t m;
    int shift;
    pvmJ_div_magic(d, &m, &shift);
    load_gpr(g, PVMJ_RCX, in->a);
    pvmJ_mov_ri(g->a, PVMJ_RAX, m);
    pvmJ_imul_wide(g->a, PVMJ_W64, PVMJ_RCX);          /* rdx = hi(m * x) */
    if (m < 0)
        pvmJ_alu_rr(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RDX, PVMJ_RCX);
    if (shift > 0)
        pvmJ_shift_ri(g->a, PVMJ_SAR, PVMJ_W64, PVMJ_RDX, (uint8_t)shift);
    pvmJ_mov_rr(g->a, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
    pvmJ_shift_ri(g->a, PVMJ_SHR, PVMJ_W64, PVMJ_RAX, 63);
    pvmJ_alu_rr(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RDX, PVMJ_RAX); /* q, truncated toward zero */
    if (in->op == JIT_IR_DIV) {
        store_gpr(g, ref, PVMJ_RDX);
        return;
    }
    pvmJ_mov_ri(g->a, PVMJ_RAX, d);
    pvmJ_imul_rr(g->a, PVMJ_W64, PVMJ_RDX, PVMJ_RAX);
    pvmJ_alu_rr(g->a, PVMJ_SUB, PVMJ_W64, PVMJ_RCX, PVMJ_RDX);   /* x - q * d */
    store_gpr(g, ref, PVMJ_RCX);
}

/* x / y and x % y with y != 0 (guarded): -1 is done apart, as idiv traps
 * on INT64_MIN / -1 where PV wraps (pvmV_int_div, pvmV_int_mod). */
static void gen_int_divmod(Gen *g, const JitIns *in, JitRef ref)
{
    if (pvmJ_ref_is_const(in->b) && pvmJ_ir_at(g->ir, in->b)->op == JIT_IR_KINT &&
        pvmJ_k_int_value(g->ir, in->b) >= 2) {
        gen_int_divmod_const(g, in, ref, pvmJ_k_int_value(g->ir, in->b));
        return;
    }
    PvmjLabel plain = pvmJ_label_new(g->a), done = pvmJ_label_new(g->a);
    load_gpr(g, PVMJ_RAX, in->a);
    load_gpr(g, PVMJ_RCX, in->b);
    pvmJ_alu_ri(g->a, PVMJ_CMP, PVMJ_W64, PVMJ_RCX, -1);
    pvmJ_jcc(g->a, PVMJ_CC_NE, plain);
    if (in->op == JIT_IR_DIV)
        pvmJ_neg(g->a, PVMJ_W64, PVMJ_RAX);
    else
        pvmJ_alu_rr(g->a, PVMJ_XOR, PVMJ_W32, PVMJ_RAX, PVMJ_RAX);
    pvmJ_jmp(g->a, done);
    pvmJ_label_bind(g->a, plain);
    pvmJ_cqo(g->a, PVMJ_W64);
    pvmJ_idiv(g->a, PVMJ_W64, PVMJ_RCX);
    if (in->op == JIT_IR_MOD)
        pvmJ_mov_rr(g->a, PVMJ_W64, PVMJ_RAX, PVMJ_RDX);
    pvmJ_label_bind(g->a, done);
    store_gpr(g, ref, PVMJ_RAX);
}

static void gen_int_binary(Gen *g, const JitIns *in, JitRef ref)
{
    load_gpr(g, PVMJ_RAX, in->a);
    load_gpr(g, PVMJ_RCX, in->b);
    switch (in->op) {
    case JIT_IR_ADD: pvmJ_alu_rr(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, PVMJ_RCX); break;
    case JIT_IR_SUB: pvmJ_alu_rr(g->a, PVMJ_SUB, PVMJ_W64, PVMJ_RAX, PVMJ_RCX); break;
    case JIT_IR_MUL: pvmJ_imul_rr(g->a, PVMJ_W64, PVMJ_RAX, PVMJ_RCX); break;
    case JIT_IR_BAND: pvmJ_alu_rr(g->a, PVMJ_AND, PVMJ_W64, PVMJ_RAX, PVMJ_RCX); break;
    case JIT_IR_BOR: pvmJ_alu_rr(g->a, PVMJ_OR, PVMJ_W64, PVMJ_RAX, PVMJ_RCX); break;
    case JIT_IR_BXOR: pvmJ_alu_rr(g->a, PVMJ_XOR, PVMJ_W64, PVMJ_RAX, PVMJ_RCX); break;
    /* the hardware masks a 64-bit shift count to six bits, as PV does */
    case JIT_IR_SHL: pvmJ_shift_cl(g->a, PVMJ_SHL, PVMJ_W64, PVMJ_RAX); break;
    default: pvmJ_shift_cl(g->a, PVMJ_SAR, PVMJ_W64, PVMJ_RAX); break;
    }
    store_gpr(g, ref, PVMJ_RAX);
}

static void gen_int_unary(Gen *g, const JitIns *in, JitRef ref)
{
    load_gpr(g, PVMJ_RAX, in->a);
    if (in->op == JIT_IR_NEG)
        pvmJ_neg(g->a, PVMJ_W64, PVMJ_RAX);
    else
        pvmJ_not(g->a, PVMJ_W64, PVMJ_RAX);
    store_gpr(g, ref, PVMJ_RAX);
}

/* A C function of doubles (fmod, floor): the stack is 16-byte aligned
 * inside a trace (three pushes after the call), rbx and r12 survive. */
static void gen_float_call(Gen *g, const JitIns *in, JitRef ref, const void *fn)
{
    load_xmm(g, PVMJ_XMM0, in->a);
    if (pvmJ_ir_ops[in->op].o2 == JIT_O_REF)
        load_xmm(g, PVMJ_XMM1, in->b);
    pvmJ_mov_ri(g->a, PVMJ_RAX, (int64_t)(uintptr_t)fn);
    pvmJ_call_r(g->a, PVMJ_RAX);
    cache_forget_call_clobbered(g);
    store_xmm(g, ref, PVMJ_XMM0);
}

static void gen_float(Gen *g, const JitIns *in, JitRef ref)
{
    static const PvmjSse sse[] = {
        [JIT_IR_ADD] = PVMJ_ADDSD, [JIT_IR_SUB] = PVMJ_SUBSD,
        [JIT_IR_MUL] = PVMJ_MULSD, [JIT_IR_DIV] = PVMJ_DIVSD,
    };
    switch (in->op) {
    case JIT_IR_MOD: gen_float_call(g, in, ref, (const void *)fmod); return;
    case JIT_IR_FLOOR: gen_float_call(g, in, ref, (const void *)floor); return;
    case JIT_IR_TOFLT:
        load_gpr(g, PVMJ_RAX, in->a);
        pvmJ_cvtsi2sd(g->a, PVMJ_XMM0, PVMJ_RAX);
        break;
    case JIT_IR_NEG: /* flip the sign bit: -0.0 and NaN as the C negation */
        load_gpr(g, PVMJ_RAX, in->a);
        pvmJ_mov_ri(g->a, PVMJ_RCX, INT64_MIN);
        pvmJ_alu_rr(g->a, PVMJ_XOR, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
        store_gpr(g, ref, PVMJ_RAX);
        return;
    case JIT_IR_SQRT:
        load_xmm(g, PVMJ_XMM0, in->a);
        pvmJ_sse_rr(g->a, PVMJ_SQRTSD, PVMJ_XMM0, PVMJ_XMM0);
        break;
    default:
        load_xmm(g, PVMJ_XMM0, in->a);
        load_xmm(g, PVMJ_XMM1, in->b);
        pvmJ_sse_rr(g->a, sse[in->op], PVMJ_XMM0, PVMJ_XMM1);
    }
    store_xmm(g, ref, PVMJ_XMM0);
}

/* --- Guards -------------------------------------------------------------- */

/* Integer (and bool, pointer) guards: exit on the opposite condition. */
static void gen_int_guard(Gen *g, const JitIns *in)
{
    PvmjCond holds;
    switch (in->op) {
    case JIT_IR_LT: case JIT_IR_ULT: holds = PVMJ_CC_L; break;
    case JIT_IR_GE: case JIT_IR_UGE: holds = PVMJ_CC_GE; break;
    case JIT_IR_LE: case JIT_IR_ULE: holds = PVMJ_CC_LE; break;
    case JIT_IR_GT: case JIT_IR_UGT: holds = PVMJ_CC_G; break;
    case JIT_IR_EQ: holds = PVMJ_CC_E; break;
    default: holds = PVMJ_CC_NE; break;
    }
    load_gpr(g, PVMJ_RAX, in->a);
    load_gpr(g, PVMJ_RCX, in->b);
    pvmJ_alu_rr(g->a, PVMJ_CMP, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
    exit_if(g, PVMJ_CC_NOT(holds));
}

/* ucomisd sets CF for below, ZF for equal, and all of ZF, PF, CF when
 * unordered. Each guard compares in the order that makes its condition
 * one flag test: "a < b" is "b above a" (false when unordered), its
 * negation UGE is "b below-or-equal a" (true when unordered). */
static void gen_float_guard(Gen *g, const JitIns *in)
{
    bool swap;
    PvmjCond holds;
    switch (in->op) {
    case JIT_IR_LT: swap = true; holds = PVMJ_CC_A; break;
    case JIT_IR_LE: swap = true; holds = PVMJ_CC_AE; break;
    case JIT_IR_GT: swap = false; holds = PVMJ_CC_A; break;
    case JIT_IR_GE: swap = false; holds = PVMJ_CC_AE; break;
    case JIT_IR_ULT: swap = false; holds = PVMJ_CC_B; break;
    case JIT_IR_ULE: swap = false; holds = PVMJ_CC_BE; break;
    case JIT_IR_UGT: swap = true; holds = PVMJ_CC_B; break;
    case JIT_IR_UGE: swap = true; holds = PVMJ_CC_BE; break;
    default: swap = false; holds = PVMJ_CC_E; break; /* EQ, NE: below */
    }
    load_xmm(g, PVMJ_XMM0, swap ? in->b : in->a);
    load_xmm(g, PVMJ_XMM1, swap ? in->a : in->b);
    pvmJ_sse_rr(g->a, PVMJ_UCOMISD, PVMJ_XMM0, PVMJ_XMM1);
    if (in->op == JIT_IR_EQ) { /* equal and ordered */
        exit_if(g, PVMJ_CC_P);
        exit_if(g, PVMJ_CC_NE);
    } else if (in->op == JIT_IR_NE) { /* unequal or unordered */
        PvmjLabel ok = pvmJ_label_new(g->a);
        pvmJ_jcc(g->a, PVMJ_CC_P, ok);
        exit_if(g, PVMJ_CC_E);
        pvmJ_label_bind(g->a, ok);
    } else {
        exit_if(g, PVMJ_CC_NOT(holds));
    }
}

static bool is_guard_compare(JitOp op)
{
    return op >= JIT_IR_LT && op <= JIT_IR_UGT;
}

static bool gen_ins(Gen *g, JitRef ref)
{
    const JitIns *in = pvmJ_ir_at(g->ir, ref);
    JitOp op = (JitOp)in->op;
    switch (op) {
    case JIT_IR_SLOAD: gen_sload(g, in, ref); return true;
    case JIT_IR_GLOAD: gen_gload(g, in, ref); return true;
    case JIT_IR_GSTORE: gen_gstore(g, in); return true;
    case JIT_IR_CHARGE: gen_charge(g, in); return true;
    case JIT_IR_LOOP: gen_loop(g, in); return true;
    case JIT_IR_EXIT: pvmJ_jmp(g->a, g->exits[g->snap]); return true;
    case JIT_IR_ALEN: gen_alen(g, in, ref); return true;
    case JIT_IR_ABC: gen_abc(g, in); return true;
    case JIT_IR_AREF: gen_aref(g, in, ref); return true;
    case JIT_IR_XLOAD: gen_xload(g, in, ref); return true;
    case JIT_IR_XSTORE: gen_xstore(g, in); return true;
    case JIT_IR_FLOAD: gen_fload(g, in, ref); return true;
    case JIT_IR_HKEY: gen_hkey(g, in); return true;
    default: break;
    }
    if (is_guard_compare(op)) {
        JitType t = type_of_ref(g, in->a);
        if (t == JIT_T_FLT)
            gen_float_guard(g, in);
        else
            gen_int_guard(g, in);
        return true;
    }
    if (in->type == JIT_T_FLT) {
        gen_float(g, in, ref);
        return true;
    }
    if (in->type == JIT_T_PTR && op == JIT_IR_ADD) { /* an address plus a byte offset */
        gen_int_binary(g, in, ref);
        return true;
    }
    if (in->type != JIT_T_INT)
        return false;
    switch (op) {
    case JIT_IR_DIV: case JIT_IR_MOD: gen_int_divmod(g, in, ref); return true;
    case JIT_IR_NEG: case JIT_IR_BNOT: gen_int_unary(g, in, ref); return true;
    case JIT_IR_ADD: case JIT_IR_SUB: case JIT_IR_MUL: case JIT_IR_BAND:
    case JIT_IR_BOR: case JIT_IR_BXOR: case JIT_IR_SHL: case JIT_IR_SHR:
        gen_int_binary(g, in, ref);
        return true;
    default:
        return false;
    }
}

/* The snapshot whose state a guard at [ref] restores: the newest one
 * taken before it. */
static void advance_snapshot(Gen *g, JitRef ref)
{
    while (g->snap + 1 < g->snaps->nsnaps && g->snaps->snaps[g->snap + 1].ref <= ref)
        g->snap++;
}

static void gen_exit_stubs(Gen *g, PvmjLabel leave)
{
    for (uint32_t s = 0; s < g->snaps->nsnaps; s++) {
        pvmJ_label_bind(g->a, g->exits[s]);
        pvmJ_mov_ri(g->a, PVMJ_RAX, s);
        pvmJ_jmp(g->a, leave);
    }
    pvmJ_label_bind(g->a, leave);
    pvmJ_pop(g->a, PVMJ_R15);
    pvmJ_pop(g->a, PVMJ_R14);
    pvmJ_pop(g->a, PVMJ_R13);
    pvmJ_pop(g->a, PVMJ_R12);
    pvmJ_pop(g->a, PVMJ_RBX);
    pvmJ_ret(g->a);
}

bool pvmJ_assemble(PvmjAsm *a, VM *vm, const JitIR *ir, const JitSnapList *snaps, uint64_t *trips,
                   uint64_t *all_trips)
{
    Gen g = { .a = a, .ir = ir, .snaps = snaps, .vm = vm, .trips = trips, .all_trips = all_trips };
    cache_forget_all(&g);
    if (snaps->nsnaps == 0)
        return false;
    g.exits = malloc(snaps->nsnaps * sizeof *g.exits);
    if (!g.exits)
        return false;
    for (uint32_t s = 0; s < snaps->nsnaps; s++)
        g.exits[s] = pvmJ_label_new(a);
    PvmjLabel leave = pvmJ_label_new(a);
    pvmJ_push(a, PVMJ_RBX); /* five pushes after the call: rsp stays 16-aligned for C calls */
    pvmJ_push(a, PVMJ_R12);
    pvmJ_push(a, PVMJ_R13);
    pvmJ_push(a, PVMJ_R14);
    pvmJ_push(a, PVMJ_R15);
    pvmJ_mov_rr(a, PVMJ_W64, PVMJ_RBX, PVMJ_RDI);
    pvmJ_mov_rr(a, PVMJ_W64, PVMJ_R12, PVMJ_RSI);
    g.top = pvmJ_label_new(a);
    pvmJ_label_bind(a, g.top);
    bool ok = true;
    uint32_t i = 0;
    for (; i < ir->nins && ok && ir->ins[i].op != JIT_IR_PHI; i++) {
        JitRef ref = (JitRef)(JIT_REF_BIAS + i);
        advance_snapshot(&g, ref);
        ok = gen_ins(&g, ref);
    }
    if (ok && ir->loop != JIT_REF_NONE)
        gen_phis(&g, i);
    gen_exit_stubs(&g, leave);
    free(g.exits);
    return ok && a->error == PVMJ_OK;
}

#endif
