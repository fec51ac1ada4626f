/* The backend: a recorded trace's IR to x86-64 machine code.
 *
 * Registers are allocated first, for the whole trace, by linear scan over
 * the IR: each value lives in one place from its definition to its last
 * use (an operand, or a snapshot that may need it at an exit), either a
 * register of its class (general for ints, bools and pointers, SSE for
 * floats) or, when the registers run out, its own 8-byte home slot in the
 * value area (r12 points at it; the collector scans it, so a spilled
 * pointer stays visible to bdwgc). A value defined before the LOOP and
 * used after it stays where it is for every trip, so the loop body reads
 * invariants and loop-carried values from registers, and the PHIs at the
 * end become one parallel move (a new value that can take the old one's
 * register needs no move at all). One place per value keeps exits simple:
 * every guard of a snapshot sees the snapshot's values in the same
 * registers. Addresses a constant away from another are folded into the
 * memory operands that use them instead of getting a register.
 *
 *   entry(base, vals):  push rbx, rbp, r12-r15; rbx = base; r12 = vals;
 *                       r15 = the VM's fuel
 *   body:               the instructions, each guard a jcc to its exit
 *                       LOOP #1: the loop body starts; its end is the PHIs'
 *                       move and a jmp back. LOOP #0: write the frame back
 *                       and jmp to body
 *   out of line:        a CHARGE that fails gives the trip's fuel back
 *                       (a stretch's CHARGEs are one, taken by the first)
 *   exit s:             give back fuel charged early for the rest of the
 *                       trip; box and store each of snapshot s's values into its
 *                       frame slot (inside inlined calls: push their
 *                       frames, rbx = the innermost's base), then jmp
 *                       (patchable) to
 *                       "eax = exit_base + s; leave"
 *   leave:              store r15 to the fuel; pop; ret
 *
 * A C call (CALLC) saves the live caller-saved registers to their home
 * slots, passes its arguments in the System V registers and writes the
 * fuel back for the call's duration (gen_callc).
 *
 * The fuel stays in r15 while traces run, so charging a trip costs no
 * memory traffic. Since every exit writes its frame back first, a trace's
 * exit jmp can be patched to go straight on into another trace's body
 * (jit.c links an exit to its side trace, and a side trace's end to the
 * root trace at the loop header it reached): all traces share this
 * prologue's registers and stack. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jit/alloc.h"
#include "jit/assemble.h"
#include "jit/magic.h"
#include "vm/runtime/object.h"

#if PVM_JIT

/* Registers the allocator hands out; rax, rcx, rdx, r11, xmm0 and xmm1
 * are the code generator's scratch, rbx, r12, r14 and r15 are fixed. The
 * first GPR_SAVED survive a C call; no SSE register does. */
#define GPR_N 7
#define GPR_SAVED 2
#define XMM_N 14
static const PvmjReg gpr_pool[GPR_N] = { PVMJ_R13, PVMJ_RBP, PVMJ_RSI,
                                          PVMJ_RDI, PVMJ_R8, PVMJ_R9, PVMJ_R10 };
static const PvmjReg xmm_pool[XMM_N] = { PVMJ_XMM2, PVMJ_XMM3, PVMJ_XMM4, PVMJ_XMM5, PVMJ_XMM6,
                                          PVMJ_XMM7, PVMJ_XMM8, PVMJ_XMM9, PVMJ_XMM10, PVMJ_XMM11,
                                          PVMJ_XMM12, PVMJ_XMM13, PVMJ_XMM14, PVMJ_XMM15 };
#define FUEL PVMJ_R15
/* vm->nframes, kept in r14 by all machine code: loaded by the prologue,
 * and written with the VM's copy wherever that changes (an exit pushing
 * or popping frames, a RETF that stores the count). A trace reads the
 * count from the register: the count an exit stores and the next trace
 * loads would otherwise go through memory from one call to the next. */
#define NFRAMES PVMJ_R14

/* Where a value lives: a register (PVMJ_RAX.. or PVMJ_XMM0..), else its home slot. */
#define IN_MEMORY ((uint8_t)0xFF)

/* A CHARGE's way out: give the trip's fuel back, then take the exit. */
typedef struct {
    PvmjLabel undo;
    int32_t fuel;
    uint32_t snap;
} ChargeExit;

typedef struct {
    PvmjAsm *a;
    const JitIR *ir;
    const JitSnapList *snaps;
    VM *vm;
    uint64_t *trips;
    uint32_t exit_base;
    uint32_t share_exits; /* exits share code in traces of this many snapshots or more */
    const JitIR *kept_ir;         /* where the trace keeps them (JitAsmIn) */
    const JitSnapList *kept_snaps;
    const uint64_t *vals; /* r12 at run time, or NULL (JitAsmIn) */
    uint32_t loop_at;   /* index of LOOP #1, or UINT32_MAX */
    uint32_t *last;     /* per instruction: index of its last use */
    uint32_t *own_last; /* the same, not counting PHIs and the trips after */
    JitRef *phi_of;     /* per body value: the pre-loop value a PHI joins it to */
    bool *fused;        /* per instruction: an address folded into its users' operands, or a dead load */
    int32_t *charge;    /* per CHARGE: the fuel it takes (a trip's first: the trip's), or 0 */
    int32_t *refund;    /* per snapshot: fuel its exit gives back (charged early) */
    uint32_t *weight;   /* per instruction: its operand uses, the body's weighing more */
    uint8_t *where;     /* per instruction: its register, or IN_MEMORY */
    PvmjLabel *klabel;  /* per constant: its place in the constant pool, or -1 */
    PvmjLabel top;
    PvmjLabel loop;
    PvmjLabel *exits;   /* one per snapshot */
    PvmjLabel leave;    /* the epilogue every exit not linked ends in */
    uint32_t *exit_jumps; /* JitAsmOut's */
    bool last_in_line;  /* the final EXIT's code follows it in line */
    JitAsmOut *out;
    uint32_t *popped;   /* per snapshot: the RETFs before it whose frames the VM still counts */
    bool defer_pops;    /* RETF leaves the VM's frame count to the exits (plan_pops) */
    uint32_t snap;      /* the snapshot of the instruction being compiled */
    ChargeExit *charges;/* one per CHARGE */
    uint32_t ncharges;
} Gen;

static uint32_t index_of(JitRef ref)
{
    return (uint32_t)(ref - JIT_REF_BIAS);
}

static bool is_float(const Gen *g, JitRef ref)
{
    return pvmJ_ir_at(g->ir, ref)->type == JIT_T_FLT;
}

static bool has_value(const JitIns *in)
{
    return in->type != JIT_T_VOID && in->op != JIT_IR_PHI;
}

/* Whether instruction [k] loads vm->nframes where the VM's copy is the
 * one the trace entered with all along (no RETF stores it, plan_pops):
 * then it is r14, and no code. */
static bool is_frame_count(const Gen *g, uint32_t k)
{
    const JitIns *in = &g->ir->ins[k];
    return g->defer_pops && in->op == JIT_IR_FLOAD && pvmJ_ref_is_const(in->a) &&
           pvmJ_ir_at(g->ir, in->a)->op == JIT_IR_KGC && in->b == (JitRef)offsetof(VM, nframes) &&
           g->ir->kval[JIT_REF_BIAS - 1u - in->a] == (uint64_t)(uintptr_t)g->vm;
}

static bool needs_register(const Gen *g, uint32_t k)
{
    return has_value(&g->ir->ins[k]) && !g->fused[k] && !pvmJ_sunk(g->ir, (JitRef)(JIT_REF_BIAS + k)) &&
           !is_frame_count(g, k);
}

/* The bits of constant [ref]: an int, a float's, a pointer or a primitive. */
static uint64_t const_bits(const JitIR *ir, JitRef ref)
{
    const JitIns *k = pvmJ_ir_at(ir, ref);
    if (k->op == JIT_IR_KPRI)
        return k->a;
    return ir->kval[JIT_REF_BIAS - 1u - ref];
}

/* --- Register allocation -------------------------------------------------- */

/* Reads of a value in the loop body weigh this much more than the
 * pre-roll's, which runs once: what a spill costs is mostly there. */
#define BODY_WEIGHT 8u

/* Whether [ref] is an address folded into its users' memory operands
 * (find_fused), not a load or BASE needing no register of its own. */
static bool folded_address(const Gen *g, JitRef ref)
{
    return !pvmJ_ref_is_const(ref) && g->fused[index_of(ref)] && pvmJ_ir_at(g->ir, ref)->op == JIT_IR_ADD;
}

/* A use of a folded address is a use of the value it is based on. */
static JitRef address_base(const Gen *g, JitRef ref)
{
    while (folded_address(g, ref))
        ref = pvmJ_ir_at(g->ir, ref)->a;
    return ref;
}

static void use_at(Gen *g, JitRef ref, uint32_t pos, uint32_t weight)
{
    ref = address_base(g, ref); /* a folded address may sit on a constant */
    if (pvmJ_ref_is_const(ref))
        return;
    uint32_t i = index_of(ref);
    if (pos > g->last[i])
        g->last[i] = pos;
    g->weight[i] += weight;
}

static uint32_t weight_at(const Gen *g, uint32_t pos)
{
    return g->loop_at != UINT32_MAX && pos > g->loop_at ? BODY_WEIGHT : 1u;
}

/* An address a constant away from another (a map entry, its value) */
static bool is_offset_address(const Gen *g, const JitIns *in)
{
    if (in->op != JIT_IR_ADD || in->type != JIT_T_PTR || !pvmJ_ref_is_const(in->b))
        return false;
    int64_t d = (int64_t)const_bits(g->ir, in->b);
    return d > -(1 << 24) && d < (1 << 24);
}

/* Marks in [held] every instruction a snapshot holds: its values, and
 * the values of the sunk objects it holds. */
static void mark_snapshot_refs(const Gen *g, bool *held)
{
    const JitIR *ir = g->ir;
    for (uint32_t s = 0; s < g->snaps->nsnaps; s++) {
        const JitSnap *sn = &g->snaps->snaps[s];
        for (uint32_t e = 0; e < sn->nentries; e++) {
            JitRef vals[JIT_SINK_MAX_VALUES], r = g->snaps->map[sn->map_start + e].ref;
            uint32_t nv = pvmJ_sunk(ir, r) ? pvmJ_sink_values(ir, r, vals, JIT_SINK_MAX_VALUES) : 0;
            for (uint32_t i = 0; i < nv; i++)
                if (!pvmJ_ref_is_const(vals[i]))
                    held[index_of(vals[i])] = true;
            if (r != JIT_REF_NONE && !pvmJ_ref_is_const(r))
                held[index_of(r)] = true;
        }
    }
}

/* Which offset addresses are folded into the memory operands of their
 * users instead of computed into a register: those whose every use is
 * the address of HKEY, XLOAD, XSTORE, BLOAD or FLOAD, or of another folded one (never a
 * snapshot's or a PHI's value). Users come after their operands, so one
 * pass from the end sees all of an instruction's uses before it. */
static void find_fused(Gen *g)
{
    const JitIR *ir = g->ir;
    uint32_t n = ir->nins;
    bool *bad = calloc(n + 1, sizeof *bad);
    if (!bad)
        return; /* nothing fused: correct, only slower */
    mark_snapshot_refs(g, bad);
    for (uint32_t k = n; k-- > 0;) {
        const JitIns *in = &ir->ins[k];
        g->fused[k] = is_offset_address(g, in) && !bad[k];
        bool address_use = in->op == JIT_IR_HKEY || in->op == JIT_IR_XLOAD || in->op == JIT_IR_XSTORE ||
                           in->op == JIT_IR_BLOAD || in->op == JIT_IR_FLOAD ||
                           g->fused[k];
        if (pvmJ_ir_ops[in->op].o1 == JIT_O_REF && !pvmJ_ref_is_const(in->a) && !address_use)
            bad[index_of(in->a)] = true;
        if (pvmJ_ir_ops[in->op].o2 == JIT_O_REF && !pvmJ_ref_is_const(in->b))
            bad[index_of(in->b)] = true;
    }
    free(bad);
}

static bool is_guard_compare(JitOp op)
{
    return op >= JIT_IR_LT && op <= JIT_IR_UGT;
}

/* Whether [op] reads or writes nothing but registers and loads nothing
 * a store could change: what may lie between a load folded into a guard
 * and the guard. */
static bool leaves_memory_alone(JitOp op)
{
    switch (op) {
    case JIT_IR_ADD: case JIT_IR_SUB: case JIT_IR_MUL: case JIT_IR_BAND: case JIT_IR_BOR:
    case JIT_IR_BXOR: case JIT_IR_BASE: case JIT_IR_FLOAD: case JIT_IR_SLOAD:
        return true;
    default:
        return is_guard_compare(op);
    }
}

/* Whether [in] is a load that checks nothing: one no instruction and no
 * snapshot reads need not be emitted at all. A side trace's load of a
 * slot whose compare its parent's failed guard implies (rec_implied) is
 * one: the compare went, the load stayed. */
static bool is_dead_load(const JitIns *in)
{
    return (in->op == JIT_IR_SLOAD && in->b == JIT_SLOAD_TYPED) || in->op == JIT_IR_FLOAD;
}

/* Whether BASE at [k] is still rbx wherever it is used: no RETF moves
 * rbx before its last use, and neither a snapshot nor a PHI holds it. */
static bool base_stays_rbx(const Gen *g, uint32_t k, const uint32_t *uses, const bool *held)
{
    const JitIR *ir = g->ir;
    if (held[k])
        return false;
    uint32_t seen = 0;
    for (uint32_t i = k + 1; i < ir->nins && seen < uses[k]; i++) {
        const JitIns *in = &ir->ins[i];
        bool a = pvmJ_ir_ops[in->op].o1 == JIT_O_REF && in->a == (JitRef)(JIT_REF_BIAS + k);
        bool b = pvmJ_ir_ops[in->op].o2 == JIT_O_REF && in->b == (JitRef)(JIT_REF_BIAS + k);
        if ((a || b) && in->op == JIT_IR_PHI)
            return false;
        seen += (uint32_t)a + (uint32_t)b;
        if (seen < uses[k] && in->op == JIT_IR_RETF)
            return false;
    }
    return true;
}

/* Operands that need no register: loads of a fixed address (a VM field:
 * the frame count's limit, the stack's end) whose one use is the second
 * operand of an integer guard a few pure instructions later, where the
 * guard compares with memory ("cmp rbp, [r12 + d]"); and BASE, read
 * from rbx itself while that still holds it. */
static void find_free_operands(Gen *g)
{
    const JitIR *ir = g->ir;
    uint32_t n = ir->nins;
    uint32_t *uses = calloc(n + 1, sizeof *uses);
    bool *held = calloc(n + 1, sizeof *held); /* by a snapshot */
    if (!uses || !held) {
        free(uses);
        free(held);
        return;
    }
    mark_snapshot_refs(g, held);
    for (uint32_t k = 0; k < n; k++) {
        const JitIns *in = &ir->ins[k];
        if (pvmJ_ir_ops[in->op].o1 == JIT_O_REF && !pvmJ_ref_is_const(in->a))
            uses[index_of(in->a)]++;
        if (pvmJ_ir_ops[in->op].o2 == JIT_O_REF && !pvmJ_ref_is_const(in->b))
            uses[index_of(in->b)]++;
    }
    for (uint32_t j = 0; j < n; j++) {
        const JitIns *guard = &ir->ins[j];
        if (!is_guard_compare((JitOp)guard->op) || is_float(g, guard->a) ||
            pvmJ_ref_is_const(guard->b) || guard->a == guard->b)
            continue;
        uint32_t k = index_of(guard->b);
        const JitIns *load = &ir->ins[k];
        if (k >= j || load->op != JIT_IR_FLOAD || !pvmJ_ref_is_const(load->a) || uses[k] != 1 || held[k] ||
            is_frame_count(g, k))
            continue;
        bool pure = true;
        for (uint32_t i = k + 1; i < j && pure; i++)
            pure = leaves_memory_alone((JitOp)ir->ins[i].op);
        g->fused[k] = pure;
    }
    for (uint32_t k = 0; k < n; k++)
        if (ir->ins[k].op == JIT_IR_BASE && !g->fused[k])
            g->fused[k] = base_stays_rbx(g, k, uses, held);
    for (uint32_t k = 0; k < n; k++)
        if (uses[k] == 0 && !held[k] && is_dead_load(&ir->ins[k]))
            g->fused[k] = true;
    free(uses);
    free(held);
}

/* The last instruction that may exit through snapshot [n] (its guards
 * are the instructions from its start to the next snapshot's), or
 * UINT32_MAX when none does. A trace that does not loop leaves through its
 * last snapshot at its end (EXIT, LOOP #0), so that one counts to [end]. */
static uint32_t last_exit_of(const Gen *g, uint32_t n, uint32_t end)
{
    bool last = n + 1 >= g->snaps->nsnaps;
    if (last && g->ir->loop == JIT_REF_NONE)
        return end;
    uint32_t from = index_of(g->snaps->snaps[n].ref);
    uint32_t until = last ? end : index_of(g->snaps->snaps[n + 1].ref);
    uint32_t at = UINT32_MAX;
    for (uint32_t k = from; k < until && k < end; k++)
        if (pvmJ_ir_ops[g->ir->ins[k].op].flags & JIT_F_GUARD)
            at = k;
    return at;
}

/* A snapshot's value, read by exits up to [until]: a sunk map's are the
 * values the exit stores for it. */
static void use_snapshot_value(Gen *g, JitRef ref, uint32_t until)
{
    if (!pvmJ_sunk(g->ir, ref)) {
        use_at(g, ref, until, 0);
        return;
    }
    JitRef vals[JIT_SINK_MAX_VALUES];
    uint32_t n = pvmJ_sink_values(g->ir, ref, vals, JIT_SINK_MAX_VALUES);
    for (uint32_t i = 0; i < n; i++)
        use_at(g, vals[i], until, 0);
}

/* Last uses: operands, and snapshots (whose values an exit stores, so
 * needed until the last guard that exits through them); the PHIs read at
 * the end of the body. A value made before the LOOP and used after it is
 * live for every trip, so to the end. Each value's weight counts its
 * operand uses, a snapshot's costing nothing on the way round the loop.
 * own_last keeps each value's last use before those two extensions, for
 * PHI coalescing (allocate_class). */
static void find_last_uses(Gen *g)
{
    const JitIR *ir = g->ir;
    uint32_t end = ir->nins;
    for (uint32_t k = 0; k < ir->nins; k++)
        if (ir->ins[k].op == JIT_IR_LOOP && ir->ins[k].a == 1)
            g->loop_at = k;
    for (uint32_t k = 0; k < ir->nins; k++) {
        const JitIns *in = &ir->ins[k];
        g->last[k] = k;
        if (in->op == JIT_IR_PHI || pvmJ_sunk(ir, (JitRef)(JIT_REF_BIAS + k)))
            continue;
        if (pvmJ_ir_ops[in->op].o1 == JIT_O_REF)
            use_at(g, in->a, k, weight_at(g, k));
        if (pvmJ_ir_ops[in->op].o2 == JIT_O_REF)
            use_at(g, in->b, k, weight_at(g, k));
        if (in->op == JIT_IR_CALLC || in->op == JIT_IR_CALLR) /* its arguments are read by the call */
            for (JitRef c = in->a; c != JIT_REF_NONE; c = pvmJ_ir_at(ir, c)->b)
                use_at(g, pvmJ_ir_at(ir, c)->a, k, weight_at(g, k));
    }
    for (uint32_t n = 0; n < g->snaps->nsnaps; n++) {
        const JitSnap *s = &g->snaps->snaps[n];
        uint32_t until = last_exit_of(g, n, end);
        if (until == UINT32_MAX)
            continue;
        /* a C call leaves after it has made its result: what its exit
         * writes must not give its register to that result, and lives
         * through the call (saved around it) */
        if (until < end && (ir->ins[until].op == JIT_IR_CALLC || ir->ins[until].op == JIT_IR_CALLR))
            until++;
        for (uint32_t e = 0; e < s->nentries; e++)
            use_snapshot_value(g, g->snaps->map[s->map_start + e].ref, until);
    }
    memcpy(g->own_last, g->last, ir->nins * sizeof *g->last);
    for (uint32_t k = 0; k < ir->nins; k++) {
        const JitIns *in = &ir->ins[k];
        if (in->op != JIT_IR_PHI)
            continue;
        use_at(g, in->a, end, BODY_WEIGHT);
        use_at(g, in->b, end, BODY_WEIGHT);
        if (pvmJ_ref_is_const(in->b))
            continue;
        /* a PHI's source is read at the end of the trip: a pre-loop value
         * that one PHI reads (a chain, x <- a <- b) cannot give its
         * register to the body value another PHI carries into it */
        g->own_last[index_of(in->b)] = end;
        if (!pvmJ_ref_is_const(in->a) && index_of(in->b) > g->loop_at)
            g->phi_of[index_of(in->b)] = in->a;
    }
    if (g->loop_at == UINT32_MAX)
        return;
    for (uint32_t k = 0; k < g->loop_at; k++)
        if (g->last[k] > g->loop_at)
            g->last[k] = end;
}

/* Which of two values to keep in memory: the one whose uses are fewest
 * for the length of its life (a value read rarely over a long stretch
 * frees a register for long at little cost), the longer-lived on a tie. */
static bool better_spill(const Gen *g, uint32_t x, uint32_t y)
{
    uint64_t px = (uint64_t)g->weight[x] * (g->last[y] - y + 1);
    uint64_t py = (uint64_t)g->weight[y] * (g->last[x] - x + 1);
    return px != py ? px < py : g->last[x] > g->last[y];
}

/* PHI coalescing: the body value [k] that a PHI carries into the
 * pre-loop value's place takes that value's register when the pre-loop
 * value is dead by then (its last read in the trip is at or before k, and
 * no exit of k itself needs it), so the PHI needs no move: the next trip
 * reads the new value where it reads the old one. */
static int coalesced_reg(const Gen *g, const int32_t *holder, int n, uint32_t k)
{
    JitRef a = g->phi_of[k];
    if (a == JIT_REF_NONE)
        return -1;
    uint32_t i = index_of(a);
    bool guard = (pvmJ_ir_ops[g->ir->ins[k].op].flags & JIT_F_GUARD) != 0;
    if (g->own_last[i] > k || (g->own_last[i] == k && guard))
        return -1;
    for (int r = 0; r < n; r++)
        if (holder[r] == (int32_t)i)
            return r;
    return -1;
}

/* Linear scan: registers are taken in definition order and freed after
 * their value's last use (a value may share its register with an operand
 * used for the last time by the same instruction: the code reads operands
 * before it writes). Out of registers, one of the live values (or the new
 * one) goes to memory for all of its life: better_spill picks it. */
static void allocate_class(Gen *g, bool floats)
{
    const PvmjReg *pool = floats ? xmm_pool : gpr_pool;
    int n = floats ? XMM_N : GPR_N;
    int32_t holder[XMM_N];
    for (int r = 0; r < n; r++)
        holder[r] = -1;
    for (uint32_t k = 0; k < g->ir->nins; k++) {
        const JitIns *in = &g->ir->ins[k];
        if (!needs_register(g, k) || (in->type == JIT_T_FLT) != floats)
            continue;
        int shared = coalesced_reg(g, holder, n, k);
        if (shared >= 0) {
            holder[shared] = (int32_t)k;
            g->where[k] = (uint8_t)pool[shared];
            continue;
        }
        int free_reg = -1, victim = -1;
        for (int r = 0; r < n; r++) {
            if (holder[r] >= 0 && g->last[holder[r]] <= k && (uint32_t)holder[r] != k)
                holder[r] = -1;
            if (holder[r] < 0 && free_reg < 0)
                free_reg = r;
            if (holder[r] >= 0 && (victim < 0 || better_spill(g, (uint32_t)holder[r], (uint32_t)holder[victim])))
                victim = r;
        }
        if (free_reg < 0) {
            if (better_spill(g, k, (uint32_t)holder[victim])) {
                g->where[k] = IN_MEMORY;
                continue;
            }
            g->where[holder[victim]] = IN_MEMORY;
            free_reg = victim;
        }
        holder[free_reg] = (int32_t)k;
        g->where[k] = (uint8_t)pool[free_reg];
    }
}

static bool allocate(Gen *g)
{
    uint32_t n = g->ir->nins;
    g->loop_at = UINT32_MAX;
    g->last = malloc((n + 1) * sizeof *g->last);
    g->own_last = malloc((n + 1) * sizeof *g->own_last);
    g->phi_of = malloc((n + 1) * sizeof *g->phi_of);
    g->weight = calloc(n + 1, sizeof *g->weight);
    g->where = malloc(n + 1);
    g->fused = calloc(n + 1, sizeof *g->fused);
    if (!g->last || !g->own_last || !g->phi_of || !g->weight || !g->where || !g->fused)
        return false;
    for (uint32_t k = 0; k <= n; k++)
        g->phi_of[k] = JIT_REF_NONE;
    memset(g->where, IN_MEMORY, n + 1);
    for (uint32_t k = 0; k < n; k++)
        if (is_frame_count(g, k))
            g->where[k] = NFRAMES;
    find_fused(g);
    find_free_operands(g);
    find_last_uses(g);
    allocate_class(g, false);
    allocate_class(g, true);
    return true;
}

/* --- Operands ----------------------------------------------------------- */

static PvmjMem home(uint32_t index)
{
    return pvmj_mem(PVMJ_R12, (int32_t)(8u * index));
}

static PvmjMem slot_tag(uint32_t slot)
{
    return pvmj_mem(PVMJ_RBX, (int32_t)(16u * slot));
}

static PvmjMem slot_payload(uint32_t slot)
{
    return pvmj_mem(PVMJ_RBX, (int32_t)(16u * slot + 8u));
}


static bool fits_i32(uint64_t bits)
{
    return (int64_t)bits == (int64_t)(int32_t)bits;
}

/* The memory operand for the fixed address [addr]. The VM, its globals
 * and the value area all come from the collector's heap, so most fixed
 * addresses are a 32-bit displacement from r12: one instruction where a
 * 64-bit address needs a movabs first. Otherwise through [scratch]. The
 * margin leaves room for the offsets callers add (a Value's payload). */
static PvmjMem absolute(Gen *g, uintptr_t addr, PvmjReg scratch)
{
    if (g->vals) {
        int64_t d = (int64_t)(addr - (uintptr_t)g->vals);
        if (d > INT32_MIN + 4096 && d < INT32_MAX - 4096)
            return pvmj_mem(PVMJ_R12, (int32_t)d);
    }
    pvmJ_mov_ri(g->a, scratch, (int64_t)addr);
    return pvmj_mem(scratch, 0);
}

static PvmjMem displaced(PvmjMem m, int32_t by)
{
    m.disp += by;
    return m;
}

/* r = addr: a lea from r12 where absolute() reaches it. */
static void load_address(Gen *g, PvmjReg r, uintptr_t addr)
{
    PvmjMem m = absolute(g, addr, r);
    if (m.base == PVMJ_R12)
        pvmJ_lea(g->a, r, m);
}

/* The memory operand [addr + disp] for an address the IR computes or a
 * constant one. */
static PvmjMem operand_at(Gen *g, JitRef addr, int32_t disp, PvmjReg scratch);

/* A constant's place in the pool after the code, for SSE operands. */
static PvmjLabel const_label(Gen *g, JitRef ref)
{
    uint32_t k = JIT_REF_BIAS - 1u - ref;
    if (g->klabel[k] < 0)
        g->klabel[k] = pvmJ_label_new(g->a);
    return g->klabel[k];
}

/* The register [ref] lives in, or PVMJ_NOREG (a constant, or in memory). */
static PvmjReg reg_of(const Gen *g, JitRef ref)
{
    if (pvmJ_ref_is_const(ref))
        return PVMJ_NOREG;
    if (g->fused[index_of(ref)] && pvmJ_ir_at(g->ir, ref)->op == JIT_IR_BASE)
        return PVMJ_RBX; /* find_free_operands */
    if (g->where[index_of(ref)] == IN_MEMORY)
        return PVMJ_NOREG;
    return (PvmjReg)g->where[index_of(ref)];
}

static bool same_class(PvmjReg a, PvmjReg b)
{
    return PVMJ_IS_XMM(a) == PVMJ_IS_XMM(b);
}

/* dst = src, bits unchanged, across classes too. */
static void move_reg(Gen *g, PvmjReg dst, PvmjReg src)
{
    if (dst == src)
        return;
    if (PVMJ_IS_XMM(dst) && PVMJ_IS_XMM(src))
        pvmJ_sse_rr(g->a, PVMJ_MOVAPD, dst, src); /* movsd would merge into dst's old value */
    else if (PVMJ_IS_XMM(dst))
        pvmJ_movq_to_xmm(g->a, dst, src);
    else if (PVMJ_IS_XMM(src))
        pvmJ_movq_from_xmm(g->a, dst, src);
    else
        pvmJ_mov_rr(g->a, PVMJ_W64, dst, src);
}

/* Makes register [r] (general or SSE) hold [ref]'s bits. */
static void load_to(Gen *g, PvmjReg r, JitRef ref)
{
    PvmjReg at = reg_of(g, ref);
    bool sse = PVMJ_IS_XMM(r);
    if (pvmJ_ref_is_const(ref) && sse)
        pvmJ_sse_rip(g->a, PVMJ_MOVSD, r, const_label(g, ref));
    else if (pvmJ_ref_is_const(ref))
        pvmJ_mov_ri(g->a, r, (int64_t)const_bits(g->ir, ref));
    else if (at == PVMJ_NOREG && sse)
        pvmJ_sse_rm(g->a, PVMJ_MOVSD, r, home(index_of(ref)));
    else if (at == PVMJ_NOREG)
        pvmJ_mov_load(g->a, PVMJ_W64, r, home(index_of(ref)));
    else
        move_reg(g, r, at);
}

/* A register of [scratch]'s class holding [ref]: its own, or [scratch]
 * loaded. */
static PvmjReg src_in(Gen *g, JitRef ref, PvmjReg scratch)
{
    PvmjReg at = reg_of(g, ref);
    if (at != PVMJ_NOREG && same_class(at, scratch))
        return at;
    load_to(g, scratch, ref);
    return scratch;
}

/* Where [ref]'s result is computed: its register, else [scratch]. */
static PvmjReg dst_of(const Gen *g, JitRef ref, PvmjReg scratch)
{
    PvmjReg at = reg_of(g, ref);
    return at == PVMJ_NOREG ? scratch : at;
}

/* [r] holds [ref]'s new value: it goes where [ref] lives. */
static void define(Gen *g, JitRef ref, PvmjReg r)
{
    PvmjReg at = reg_of(g, ref);
    if (at != PVMJ_NOREG)
        move_reg(g, at, r);
    else if (PVMJ_IS_XMM(r))
        pvmJ_movsd_store(g->a, home(index_of(ref)), r);
    else
        pvmJ_mov_store(g->a, PVMJ_W64, home(index_of(ref)), r);
}

static PvmjMem address_at(Gen *g, JitRef ref, int32_t disp, PvmjReg scratch);

/* op dst, ref: an immediate, a register, the home slot, or the memory a
 * load folded into its guard reads (find_free_operands). */
static void alu_ref(Gen *g, PvmjAlu op, PvmjReg dst, JitRef ref)
{
    if (!pvmJ_ref_is_const(ref) && g->fused[index_of(ref)] && pvmJ_ir_at(g->ir, ref)->op == JIT_IR_FLOAD) {
        const JitIns *load = pvmJ_ir_at(g->ir, ref);
        pvmJ_alu_rm(g->a, op, PVMJ_W64, dst, address_at(g, load->a, (int32_t)load->b, PVMJ_RCX));
    } else if (pvmJ_ref_is_const(ref) && fits_i32(const_bits(g->ir, ref))) {
        pvmJ_alu_ri(g->a, op, PVMJ_W64, dst, (int32_t)const_bits(g->ir, ref));
    } else if (pvmJ_ref_is_const(ref)) {
        pvmJ_alu_rip(g->a, op, PVMJ_W64, dst, const_label(g, ref)); /* a key string's address */
    } else if (reg_of(g, ref) == PVMJ_NOREG && !pvmJ_ref_is_const(ref)) {
        pvmJ_alu_rm(g->a, op, PVMJ_W64, dst, home(index_of(ref)));
    } else {
        pvmJ_alu_rr(g->a, op, PVMJ_W64, dst, src_in(g, ref, PVMJ_R11));
    }
}

static void imul_ref(Gen *g, PvmjReg dst, JitRef ref)
{
    if (pvmJ_ref_is_const(ref) && fits_i32(const_bits(g->ir, ref)))
        pvmJ_imul_rri(g->a, PVMJ_W64, dst, dst, (int32_t)const_bits(g->ir, ref));
    else if (reg_of(g, ref) == PVMJ_NOREG && !pvmJ_ref_is_const(ref))
        pvmJ_imul_rm(g->a, PVMJ_W64, dst, home(index_of(ref)));
    else
        pvmJ_imul_rr(g->a, PVMJ_W64, dst, src_in(g, ref, PVMJ_R11));
}

/* sse dst, ref: a register, the home slot or the constant pool. */
static void sse_ref(Gen *g, PvmjSse op, PvmjReg dst, JitRef ref)
{
    PvmjReg at = reg_of(g, ref);
    if (pvmJ_ref_is_const(ref))
        pvmJ_sse_rip(g->a, op, dst, const_label(g, ref));
    else if (at == PVMJ_NOREG)
        pvmJ_sse_rm(g->a, op, dst, home(index_of(ref)));
    else
        pvmJ_sse_rr(g->a, op, dst, src_in(g, ref, PVMJ_XMM1));
}

static void exit_if(Gen *g, PvmjCond cc)
{
    pvmJ_jcc(g->a, cc, g->exits[g->snap]);
}

/* --- Loads, stores and the budget ---------------------------------------- */

/* The Value at [at], its type guarded: the payload becomes [ref]. */
/* [ref] = the payload at [at], read as [in]'s type: a double, a bool's
 * one byte, or eight bytes. */
static void load_payload(Gen *g, const JitIns *in, JitRef ref, PvmjMem at)
{
    if (in->type == JIT_T_FLT) {
        PvmjReg d = dst_of(g, ref, PVMJ_XMM0);
        pvmJ_sse_rm(g->a, PVMJ_MOVSD, d, at);
        define(g, ref, d);
        return;
    }
    PvmjReg d = dst_of(g, ref, PVMJ_RAX);
    if (in->type == JIT_T_BOOL)
        pvmJ_movzx8_load(g->a, d, at);
    else
        pvmJ_mov_load(g->a, PVMJ_W64, d, at);
    define(g, ref, d);
}

/* Exits unless the Value at [at] has [in]'s type. */
static void guard_tag(Gen *g, const JitIns *in, PvmjMem at)
{
    pvmJ_alu_mi(g->a, PVMJ_CMP, PVMJ_W64, at, (int32_t)pvmJ_value_type(in->type));
    exit_if(g, PVMJ_CC_NE);
}

static void gen_load_value(Gen *g, const JitIns *in, JitRef ref, PvmjMem at, bool typed)
{
    if (!typed)
        guard_tag(g, in, at);
    load_payload(g, in, ref, displaced(at, 8));
}

/* The allocator's registers that an exit's code never writes (it saves
 * nothing and calls C only with them preserved) are the first GPR_SAVED
 * of its pool: a value there at an exit is still there when the exit
 * jumps on. */
int pvmJ_exit_reg(uint8_t reg)
{
    for (uint32_t i = 0; i < GPR_SAVED; i++)
        if (gpr_pool[i] == reg)
            return (int)i;
    return -1;
}

static bool kept_by_exits(PvmjReg r)
{
    return r != PVMJ_NOREG && pvmJ_exit_reg((uint8_t)r) >= 0;
}

/* The trace's first instruction, loading a slot with its type guarded,
 * marks where the code past the guard starts (JitAsmOut.body_typed) and,
 * when its payload lands in a register kept by exits, where the code past
 * the load does (body_loaded). */
static void gen_sload(Gen *g, const JitIns *in, JitRef ref)
{
    bool first = ref == JIT_REF_BIAS;
    if (in->b != JIT_SLOAD_TYPED) {
        guard_tag(g, in, slot_tag(in->a));
        if (first) {
            g->out->body_typed = (uint32_t)pvmJ_asm_pos(g->a);
            g->out->typed_slot = in->a;
            g->out->typed_type = in->type;
        }
    }
    load_payload(g, in, ref, slot_payload(in->a));
    if (first && in->type != JIT_T_FLT && in->type != JIT_T_BOOL && kept_by_exits(reg_of(g, ref))) {
        g->out->body_loaded = (uint32_t)pvmJ_asm_pos(g->a);
        g->out->loaded_slot = in->a;
        g->out->loaded_reg = (uint8_t)reg_of(g, ref);
    }
}

static void gen_gload(Gen *g, const JitIns *in, JitRef ref)
{
    gen_load_value(g, in, ref, operand_at(g, in->a, 0, PVMJ_RCX), false);
}

/* Only a Value's payload, where the tag is known to be [ref]'s already. */
static void store_payload(Gen *g, PvmjMem payload, JitRef ref)
{
    PvmjReg r = reg_of(g, ref);
    if (pvmJ_ir_at(g->ir, ref)->type == JIT_T_NIL)
        pvmJ_mov_store_imm(g->a, PVMJ_W64, payload, 0);
    else if (r != PVMJ_NOREG && PVMJ_IS_XMM(r))
        pvmJ_movsd_store(g->a, payload, r);
    else if (pvmJ_ref_is_const(ref) && fits_i32(const_bits(g->ir, ref)))
        pvmJ_mov_store_imm(g->a, PVMJ_W64, payload, (int32_t)const_bits(g->ir, ref));
    else
        pvmJ_mov_store(g->a, PVMJ_W64, payload, src_in(g, ref, PVMJ_R11));
}

/* A Value written where the interpreter will read it: tag, then payload. */
static void store_value(Gen *g, PvmjMem tag, PvmjMem payload, JitRef ref)
{
    JitType type = (JitType)pvmJ_ir_at(g->ir, ref)->type;
    pvmJ_mov_store_imm(g->a, PVMJ_W64, tag, (int32_t)pvmJ_value_type(type));
    store_payload(g, payload, ref);
}

/* Whether global cell [in->a] already has the tag of the value [in]
 * stores: an earlier instruction of the trace loaded it with that type or
 * stored a value of that type there, and nothing in the whole trace
 * stores another type there (a global is only ever reached through its
 * constant address, and a trip of the body follows the pre-roll or the
 * trip before, which ran this same store). `sum += x` in a loop at the
 * top level stores its global each trip. */
static bool global_tag_known(const Gen *g, const JitIns *in, uint32_t k)
{
    JitType type = (JitType)pvmJ_ir_at(g->ir, in->b)->type;
    bool seen = false;
    for (uint32_t i = 0; i < g->ir->nins; i++) {
        const JitIns *x = &g->ir->ins[i];
        if (x->a != in->a || (x->op != JIT_IR_GSTORE && x->op != JIT_IR_GLOAD))
            continue;
        JitType t = x->op == JIT_IR_GSTORE ? (JitType)pvmJ_ir_at(g->ir, x->b)->type : (JitType)x->type;
        if (x->op == JIT_IR_GSTORE && t != type)
            return false;
        if (i < k && t == type)
            seen = true;
    }
    return seen;
}

static void gen_gstore(Gen *g, const JitIns *in, JitRef ref)
{
    PvmjMem at = operand_at(g, in->a, 0, PVMJ_RCX);
    if (!global_tag_known(g, in, index_of(ref))) {
        store_value(g, at, displaced(at, 8), in->b);
        return;
    }
    store_payload(g, displaced(at, 8), in->b);
}

/* The CHARGEs of one stretch of the trace (the pre-roll, or the loop
 * body) become one: the first takes the fuel of all of them, and polls the
 * interrupt once a trip. An exit after it gives back what the later ones
 * would have taken by then, so the interpreter, resuming, charges exactly
 * what it would have without the JIT, and the budget runs out at the
 * same instruction. Each CHARGE starts a snapshot of its own (the
 * recorder takes one before it), so every snapshot lies between two of
 * them; where that does not hold, the stretch keeps its CHARGEs. */
static void plan_stretch(Gen *g, uint32_t from, uint32_t to)
{
    const JitIR *ir = g->ir;
    uint32_t first = UINT32_MAX;
    int64_t total = 0;
    for (uint32_t k = from; k < to; k++) {
        if (ir->ins[k].op != JIT_IR_CHARGE)
            continue;
        bool starts_snapshot = false;
        for (uint32_t s = 0; s < g->snaps->nsnaps; s++)
            starts_snapshot |= index_of(g->snaps->snaps[s].ref) == k;
        if (!starts_snapshot)
            return;
        if (first == UINT32_MAX)
            first = k;
        total += ir->ins[k].a;
    }
    if (first == UINT32_MAX || total > INT32_MAX)
        return;
    g->charge[first] = (int32_t)total;
    for (uint32_t k = first + 1; k < to; k++)
        if (ir->ins[k].op == JIT_IR_CHARGE)
            g->charge[k] = 0;
    for (uint32_t s = 0; s < g->snaps->nsnaps; s++) {
        uint32_t at = index_of(g->snaps->snaps[s].ref);
        if (at < first || at >= to)
            continue;
        int64_t later = 0;
        for (uint32_t k = at + 1; k < to; k++)
            if (ir->ins[k].op == JIT_IR_CHARGE)
                later += ir->ins[k].a;
        g->refund[s] = (int32_t)later;
    }
}

static bool plan_charges(Gen *g)
{
    uint32_t n = g->ir->nins;
    g->charge = malloc((n + 1) * sizeof *g->charge);
    g->refund = calloc(g->snaps->nsnaps + 1, sizeof *g->refund);
    if (!g->charge || !g->refund)
        return false;
    for (uint32_t k = 0; k < n; k++)
        g->charge[k] = (int32_t)g->ir->ins[k].a;
    uint32_t split = g->loop_at == UINT32_MAX ? n : g->loop_at;
    plan_stretch(g, 0, split);
    if (split < n)
        plan_stretch(g, split + 1, n);
    for (uint32_t s = 0; s < g->snaps->nsnaps; s++)
        g->refund[s] += g->snaps->snaps[s].charged;
    return true;
}

/* fuel -= trip; when that leaves it negative or an interrupt is pending,
 * the trip is given back (out of line) and the trace exits before the
 * jmp, which charges and raises in the interpreter. A CHARGE folded into
 * an earlier one (plan_stretch) makes no code. */
static void gen_charge(Gen *g, const JitIns *in, JitRef ref)
{
    int32_t fuel = g->charge[index_of(ref)];
    if (fuel == 0)
        return;
    if (g->ncharges == g->snaps->nsnaps) { /* each has a snapshot of its own */
        pvmJ_asm_fail(g->a, PVMJ_ENOMEM);
        return;
    }
    ChargeExit *c = &g->charges[g->ncharges++];
    c->undo = pvmJ_label_new(g->a);
    c->fuel = fuel - g->refund[g->snap]; /* the exit gives back the rest */
    c->snap = g->snap;
    pvmJ_alu_ri(g->a, PVMJ_SUB, PVMJ_W64, FUEL, fuel);
    pvmJ_jcc(g->a, PVMJ_CC_L, c->undo);
    _Static_assert(sizeof(sig_atomic_t) == 4, "the poll compares a dword");
    pvmJ_alu_mi(g->a, PVMJ_CMP, PVMJ_W32, pvmj_mem(PVMJ_R12, PVMJ_VALS_POLL), 0);
    pvmJ_jcc(g->a, PVMJ_CC_NE, c->undo);
}

static void gen_charge_undos(Gen *g)
{
    for (uint32_t i = 0; i < g->ncharges; i++) {
        pvmJ_label_bind(g->a, g->charges[i].undo);
        pvmJ_alu_ri(g->a, PVMJ_ADD, PVMJ_W64, FUEL, g->charges[i].fuel);
        pvmJ_jmp(g->a, g->exits[g->charges[i].snap]);
    }
}

/* The VM's copy of the frame count is r14's again. */
static void store_frame_count(Gen *g)
{
    pvmJ_mov_store(g->a, PVMJ_W64, absolute(g, (uintptr_t)&g->vm->nframes, PVMJ_RCX), NFRAMES);
}

/* The VM's frame count is [NFRAMES] less [by]: both are written. */
static void drop_frames(Gen *g, int32_t by)
{
    pvmJ_alu_ri(g->a, PVMJ_SUB, PVMJ_W64, NFRAMES, by);
    store_frame_count(g);
}

/* Back in the caller: its frame is the top one, its local 0 n slots down. */
static void gen_retf(Gen *g, const JitIns *in)
{
    pvmJ_alu_ri(g->a, PVMJ_SUB, PVMJ_W64, PVMJ_RBX, (int32_t)(in->a * sizeof(Value)));
    if (!g->defer_pops)
        drop_frames(g, 1);
}

/* The VM's frame count is the trace's to keep right only where someone
 * reads it: at the exits, and in the C calls the trace makes. The IR
 * itself counts from the value loaded at the trace's entry (the recorder
 * knows how many frames it popped), so a RETF need not store the count:
 * each exit takes off the frames popped before it, once, and pushing
 * frames folds that into the count it writes anyway. A trace making a C
 * call (or looping) after a RETF stores it at each RETF instead. */
static bool plan_pops(Gen *g)
{
    const JitIR *ir = g->ir;
    uint32_t nsnaps = g->snaps->nsnaps, pops = 0, s = 0;
    g->popped = calloc(nsnaps, sizeof *g->popped);
    if (!g->popped)
        return false;
    g->defer_pops = true;
    for (uint32_t i = 0; i < ir->nins; i++) {
        while (s < nsnaps && index_of(g->snaps->snaps[s].ref) <= i)
            g->popped[s++] = pops;
        JitOp op = (JitOp)ir->ins[i].op;
        if (op == JIT_IR_RETF)
            pops++;
        if (pops > 0 && (op == JIT_IR_CALLC || op == JIT_IR_CALLR || op == JIT_IR_LOOP))
            g->defer_pops = false;
    }
    while (s < nsnaps)
        g->popped[s++] = pops;
    if (!g->defer_pops)
        memset(g->popped, 0, nsnaps * sizeof *g->popped);
    return true;
}

/* Where an exit pushing frames folds the frames popped before it into
 * the count it writes; elsewhere its first instruction takes them off. */
static uint32_t pops_in_push(const Gen *g, const JitSnap *sn)
{
    return sn->nframes > 0 && !sn->sunk ? g->popped[sn - g->snaps->snaps] : 0;
}

static void gen_exit_pops(Gen *g, const JitSnap *sn)
{
    uint32_t p = g->popped[sn - g->snaps->snaps];
    if (p > 0 && pops_in_push(g, sn) == 0)
        drop_frames(g, (int32_t)p);
}

static void gen_count_trip(Gen *g)
{
    if (!g->trips)
        return;
    pvmJ_alu_mi(g->a, PVMJ_ADD, PVMJ_W64, absolute(g, (uintptr_t)g->trips, PVMJ_RCX), 1);
}

/* --- The PHIs: one parallel move ------------------------------------------
 * Each PHI copies its source's bits to where its destination lives. A
 * move waits while another pending move still reads its destination;
 * when all wait (a cycle), one destination is saved in r11 and its
 * readers read r11 instead. */

typedef struct {
    JitRef dst, src;   /* src JIT_REF_NONE: the value saved in r11 */
    bool done;
} PhiMove;

/* The place a move reads or writes: a register, or the home slot as
 * PVMJ_REG__COUNT + index. */
static int place_of(const Gen *g, JitRef ref)
{
    if (ref == JIT_REF_NONE)
        return PVMJ_R11;
    PvmjReg r = reg_of(g, ref);
    return r == PVMJ_NOREG ? PVMJ_REG__COUNT + (int)index_of(ref) : (int)r;
}

static void move_bits(Gen *g, JitRef dst, JitRef src)
{
    if (src == JIT_REF_NONE) {
        define(g, dst, PVMJ_R11);
        return;
    }
    PvmjReg d = reg_of(g, dst), at = reg_of(g, src);
    if (d != PVMJ_NOREG)
        load_to(g, d, src);
    else
        define(g, dst, at != PVMJ_NOREG ? at : src_in(g, src, PVMJ_RAX));
}

static bool read_by_pending(const Gen *g, const PhiMove *m, uint32_t n, uint32_t self)
{
    int dst = place_of(g, m[self].dst);
    for (uint32_t i = 0; i < n; i++)
        if (i != self && !m[i].done && !pvmJ_ref_is_const(m[i].src) && place_of(g, m[i].src) == dst)
            return true;
    return false;
}

static bool gen_phis(Gen *g, uint32_t first)
{
    uint32_t n = g->ir->nins - first, left = 0;
    PhiMove *m = calloc(n + 1, sizeof *m);
    if (!m)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        const JitIns *in = &g->ir->ins[first + i];
        m[i] = (PhiMove){ in->a, in->b, place_of(g, in->a) == place_of(g, in->b) };
        left += !m[i].done;
    }
    while (left > 0) {
        bool progress = false;
        for (uint32_t i = 0; i < n; i++) {
            if (m[i].done || read_by_pending(g, m, n, i))
                continue;
            move_bits(g, m[i].dst, m[i].src);
            m[i].done = true;
            left--;
            progress = true;
        }
        if (progress)
            continue;
        uint32_t c = 0;
        while (m[c].done || m[c].src == JIT_REF_NONE)
            c++;
        int saved = place_of(g, m[c].dst);
        load_to(g, PVMJ_R11, m[c].dst);
        for (uint32_t i = 0; i < n; i++)
            if (!m[i].done && !pvmJ_ref_is_const(m[i].src) && place_of(g, m[i].src) == saved)
                m[i].src = JIT_REF_NONE;
    }
    free(m);
    pvmJ_jmp(g->a, g->loop);
    return true;
}

/* LOOP #1: the copied body starts here (each trip round it counts). LOOP
 * #0: the last snapshot is the frame at the loop header; write it back
 * and start again from the top. */
static void gen_loop(Gen *g, const JitIns *in)
{
    if (in->a == 1) {
        g->loop = pvmJ_label_new(g->a);
        pvmJ_label_bind(g->a, g->loop);
        gen_count_trip(g);
        return;
    }
    const JitSnap *s = &g->snaps->snaps[g->snaps->nsnaps - 1];
    gen_count_trip(g);
    for (uint32_t i = 0; i < s->nentries; i++) {
        const JitSnapEntry *e = &g->snaps->map[s->map_start + i];
        store_value(g, slot_tag(e->slot), slot_payload(e->slot), e->ref);
    }
    pvmJ_jmp(g->a, g->top);
}

/* --- Arrays and maps ------------------------------------------------------ */

static void gen_field_load(Gen *g, JitRef obj, int32_t offset, JitRef ref)
{
    PvmjMem at = address_at(g, obj, offset, PVMJ_RCX);
    PvmjReg d = dst_of(g, ref, PVMJ_RAX);
    pvmJ_mov_load(g->a, PVMJ_W64, d, at);
    define(g, ref, d);
}

/* One unsigned compare checks both ends: a negative index is huge. A
 * constant index k is checked the other way round: length above k. */
static void gen_abc(Gen *g, const JitIns *in)
{
    if (pvmJ_ref_is_const(in->a) && !pvmJ_ref_is_const(in->b) && fits_i32(const_bits(g->ir, in->a)) &&
        (int64_t)const_bits(g->ir, in->a) >= 0) {
        pvmJ_alu_ri(g->a, PVMJ_CMP, PVMJ_W64, src_in(g, in->b, PVMJ_RAX), (int32_t)const_bits(g->ir, in->a));
        exit_if(g, PVMJ_CC_BE);
        return;
    }
    alu_ref(g, PVMJ_CMP, src_in(g, in->a, PVMJ_RAX), in->b);
    exit_if(g, PVMJ_CC_AE);
}

static void gen_aref(Gen *g, const JitIns *in, JitRef ref)
{
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX,
                  pvmj_mem(src_in(g, in->a, PVMJ_RAX), (int32_t)offsetof(PvArray, items)));
    load_to(g, PVMJ_RCX, in->b);
    pvmJ_shift_ri(g->a, PVMJ_SHL, PVMJ_W64, PVMJ_RCX, 4); /* a Value is 16 bytes */
    pvmJ_alu_rr(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
    define(g, ref, PVMJ_RAX);
}

/* The memory operand for the address [ref] plus [disp]: [reg + disp],
 * or, for an address folded into its users (an entry's or its value's
 * place in a map, ADD of a constant), [base + the offsets]. */
static PvmjMem address_at(Gen *g, JitRef ref, int32_t disp, PvmjReg scratch)
{
    while (folded_address(g, ref)) {
        const JitIns *in = pvmJ_ir_at(g->ir, ref);
        disp += (int32_t)const_bits(g->ir, in->b);
        ref = in->a;
    }
    return operand_at(g, ref, disp, scratch);
}

static PvmjMem address_of(Gen *g, JitRef ref, PvmjReg scratch)
{
    return address_at(g, ref, 0, scratch);
}

static PvmjMem operand_at(Gen *g, JitRef addr, int32_t disp, PvmjReg scratch)
{
    if (pvmJ_ref_is_const(addr))
        return absolute(g, (uintptr_t)const_bits(g->ir, addr) + (uintptr_t)(intptr_t)disp, scratch);
    return pvmj_mem(src_in(g, addr, scratch), disp);
}

/* The entry still holds the key string the trace was recorded with (its
 * payload: the recorder guards the key's type with the map's key_types). */
static void gen_hkey(Gen *g, const JitIns *in)
{
    PvmjMem entry = address_of(g, in->a, PVMJ_RCX);
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_RAX, displaced(entry, (int32_t)offsetof(PvMapEntry, key)));
    alu_ref(g, PVMJ_CMP, PVMJ_RAX, in->b);
    exit_if(g, PVMJ_CC_NE);
}

static void gen_xload(Gen *g, const JitIns *in, JitRef ref)
{
    gen_load_value(g, in, ref, address_of(g, in->a, PVMJ_RCX), false);
}

/* Whether the Value at [in]'s address already has the tag of the value
 * it stores: an earlier XLOAD of that address (in the same stretch: the
 * pre-roll, or one trip of the body) checked it, and no store since wrote
 * another type anywhere (a store through another address may be to the
 * same Value: two refs to one map). Then only the payload is written:
 * `p.x += d` loads and stores a float field. */
static bool tag_already_there(const Gen *g, const JitIns *in, uint32_t k)
{
    JitType type = (JitType)pvmJ_ir_at(g->ir, in->b)->type;
    uint32_t from = g->loop_at != UINT32_MAX && k > g->loop_at ? g->loop_at + 1 : 0;
    for (uint32_t i = k; i-- > from;) {
        const JitIns *x = &g->ir->ins[i];
        if (x->op == JIT_IR_XSTORE && pvmJ_ir_at(g->ir, x->b)->type != type)
            return false;
        /* map_set (CALLR), or a callback during a C call, may have
         * written any field with any type */
        if (x->op == JIT_IR_CALLR || x->op == JIT_IR_CALLC)
            return false;
        if (x->op == JIT_IR_XLOAD && x->a == in->a)
            return x->type == type;
    }
    return false;
}

static void gen_xstore(Gen *g, const JitIns *in, JitRef ref)
{
    PvmjMem at = address_of(g, in->a, PVMJ_RCX);
    if (!tag_already_there(g, in, index_of(ref))) {
        store_value(g, at, displaced(at, 8), in->b);
        return;
    }
    store_payload(g, displaced(at, 8), in->b);
}

/* The kind is one byte (array.h). */
static void gen_akind(Gen *g, const JitIns *in, JitRef ref)
{
    PvmjReg base = src_in(g, in->a, PVMJ_RCX);
    PvmjReg d = dst_of(g, ref, PVMJ_RAX);
    pvmJ_movzx8_load(g->a, d, pvmj_mem(base, (int32_t)VM_ARR_KIND_OFFSET));
    define(g, ref, d);
}

/* Unboxed elements (array.h): UREF is [items + 8 * index] in one lea;
 * ALOAD and ASTORE move the payload itself, 8 bytes or a bool's one. */
static void gen_uref(Gen *g, const JitIns *in, JitRef ref)
{
    PvmjReg items = src_in(g, in->a, PVMJ_RAX);
    PvmjReg d = dst_of(g, ref, PVMJ_RAX);
    if (pvmJ_ref_is_const(in->b) && fits_i32(const_bits(g->ir, in->b) * 8u)) {
        pvmJ_lea(g->a, d, pvmj_mem(items, (int32_t)(const_bits(g->ir, in->b) * 8u)));
    } else {
        PvmjReg idx = src_in(g, in->b, PVMJ_RCX);
        pvmJ_lea(g->a, d, pvmj_memx(items, idx, 8, 0));
    }
    define(g, ref, d);
}

static void gen_aload(Gen *g, const JitIns *in, JitRef ref)
{
    load_payload(g, in, ref, operand_at(g, in->a, 0, PVMJ_RCX));
}

/* A string's byte: its address with any constant offset folded in. */
static void gen_bload(Gen *g, const JitIns *in, JitRef ref)
{
    PvmjMem at = address_of(g, in->a, PVMJ_RCX);
    PvmjReg d = dst_of(g, ref, PVMJ_RAX);
    pvmJ_movzx8_load(g->a, d, at);
    define(g, ref, d);
}

static void gen_astore(Gen *g, const JitIns *in)
{
    PvmjMem at = operand_at(g, in->a, 0, PVMJ_RCX);
    JitType type = (JitType)pvmJ_ir_at(g->ir, in->b)->type;
    if (type == JIT_T_FLT)
        pvmJ_movsd_store(g->a, at, src_in(g, in->b, PVMJ_XMM0));
    else if (type == JIT_T_BOOL)
        pvmJ_mov_store8(g->a, at, src_in(g, in->b, PVMJ_R11));
    else if (pvmJ_ref_is_const(in->b) && fits_i32(const_bits(g->ir, in->b)))
        pvmJ_mov_store_imm(g->a, PVMJ_W64, at, (int32_t)const_bits(g->ir, in->b));
    else
        pvmJ_mov_store(g->a, PVMJ_W64, at, src_in(g, in->b, PVMJ_R11));
}

/* --- Integer and float arithmetic ---------------------------------------- */

/* x / d and x % d for a constant d >= 2: a multiply by d's magic number
 * (magic.c) instead of idiv. */
/* x / 2^k and x % 2^k, truncated toward zero like the interpreter's:
 * a negative x is biased by 2^k - 1 before the arithmetic shift. */
static void gen_int_divmod_pow2(Gen *g, const JitIns *in, JitRef ref, int k)
{
    load_to(g, PVMJ_RCX, in->a);
    pvmJ_mov_rr(g->a, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
    if (k > 1)
        pvmJ_shift_ri(g->a, PVMJ_SAR, PVMJ_W64, PVMJ_RAX, 63);
    pvmJ_shift_ri(g->a, PVMJ_SHR, PVMJ_W64, PVMJ_RAX, (uint8_t)(64 - k)); /* the bias */
    pvmJ_alu_rr(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
    pvmJ_shift_ri(g->a, PVMJ_SAR, PVMJ_W64, PVMJ_RAX, (uint8_t)k);       /* q */
    if (in->op == JIT_IR_DIV) {
        define(g, ref, PVMJ_RAX);
        return;
    }
    pvmJ_shift_ri(g->a, PVMJ_SHL, PVMJ_W64, PVMJ_RAX, (uint8_t)k);
    pvmJ_alu_rr(g->a, PVMJ_SUB, PVMJ_W64, PVMJ_RCX, PVMJ_RAX);            /* x - q * 2^k */
    define(g, ref, PVMJ_RCX);
}

static void gen_int_divmod_const(Gen *g, const JitIns *in, JitRef ref, int64_t d)
{
    if ((d & (d - 1)) == 0) {
        gen_int_divmod_pow2(g, in, ref, __builtin_ctzll((unsigned long long)d));
        return;
    }
    int64_t m;
    int shift;
    pvmJ_div_magic(d, &m, &shift);
    load_to(g, PVMJ_RCX, in->a);
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
        define(g, ref, PVMJ_RDX);
        return;
    }
    if (fits_i32((uint64_t)d)) {
        pvmJ_imul_rri(g->a, PVMJ_W64, PVMJ_RDX, PVMJ_RDX, (int32_t)d);
    } else {
        pvmJ_mov_ri(g->a, PVMJ_RAX, d);
        pvmJ_imul_rr(g->a, PVMJ_W64, PVMJ_RDX, PVMJ_RAX);
    }
    pvmJ_alu_rr(g->a, PVMJ_SUB, PVMJ_W64, PVMJ_RCX, PVMJ_RDX);   /* x - q * d */
    define(g, ref, PVMJ_RCX);
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
    load_to(g, PVMJ_RAX, in->a);
    load_to(g, PVMJ_RCX, in->b);
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
    define(g, ref, PVMJ_RAX);
}

static bool commutes(JitOp op)
{
    return (pvmJ_ir_ops[op].flags & JIT_F_COMM) != 0;
}

/* Two-address code: dst = a, then dst op= b. When dst is b's register
 * (b used for the last time here), the operands swap if the operation
 * commutes, and otherwise the result is made in [scratch]. */
static void two_address(const Gen *g, const JitIns *in, JitRef *a, JitRef *b, PvmjReg *d,
                        PvmjReg scratch)
{
    *a = in->a;
    *b = in->b;
    if (reg_of(g, *b) != *d || *a == *b)
        return;
    if (!commutes((JitOp)in->op)) {
        *d = scratch;
        return;
    }
    *a = in->b;
    *b = in->a;
}

/* d = a op k in one instruction, for a in a general register and a
 * constant k: lea for an add or a subtract, imul's three-operand form. */
static bool three_address(Gen *g, JitOp op, JitRef a, JitRef b, PvmjReg d)
{
    PvmjReg ra = reg_of(g, a);
    if (!pvmJ_ref_is_const(b) || ra == PVMJ_NOREG || !PVMJ_IS_GPR(ra))
        return false;
    int64_t k = (int64_t)const_bits(g->ir, b);
    if (op == JIT_IR_SUB && k != INT64_MIN)
        k = -k;
    else if (op != JIT_IR_ADD && op != JIT_IR_MUL)
        return false;
    if (!fits_i32((uint64_t)k))
        return false;
    if (op == JIT_IR_MUL)
        pvmJ_imul_rri(g->a, PVMJ_W64, d, ra, (int32_t)k);
    else
        pvmJ_lea(g->a, d, pvmj_mem(ra, (int32_t)k));
    return true;
}

static void gen_int_binary(Gen *g, const JitIns *in, JitRef ref)
{
    JitRef a, b;
    PvmjReg d = dst_of(g, ref, PVMJ_RAX);
    two_address(g, in, &a, &b, &d, PVMJ_RAX);
    if (in->op == JIT_IR_SHL || in->op == JIT_IR_SHR) {
        /* the hardware masks a 64-bit shift count to six bits, as PV does */
        PvmjShift sh = in->op == JIT_IR_SHL ? PVMJ_SHL : PVMJ_SAR;
        if (pvmJ_ref_is_const(b)) {
            load_to(g, d, a);
            pvmJ_shift_ri(g->a, sh, PVMJ_W64, d, (uint8_t)(const_bits(g->ir, b) & 63u));
        } else {
            load_to(g, PVMJ_RCX, b);
            load_to(g, d, a);
            pvmJ_shift_cl(g->a, sh, PVMJ_W64, d);
        }
        define(g, ref, d);
        return;
    }
    if (three_address(g, in->op, a, b, d)) {
        define(g, ref, d);
        return;
    }
    load_to(g, d, a);
    switch (in->op) {
    case JIT_IR_ADD: alu_ref(g, PVMJ_ADD, d, b); break;
    case JIT_IR_SUB: alu_ref(g, PVMJ_SUB, d, b); break;
    case JIT_IR_MUL: imul_ref(g, d, b); break;
    case JIT_IR_BAND: alu_ref(g, PVMJ_AND, d, b); break;
    case JIT_IR_BOR: alu_ref(g, PVMJ_OR, d, b); break;
    default: alu_ref(g, PVMJ_XOR, d, b); break;
    }
    define(g, ref, d);
}

static void gen_int_unary(Gen *g, const JitIns *in, JitRef ref)
{
    PvmjReg d = dst_of(g, ref, PVMJ_RAX);
    load_to(g, d, in->a);
    if (in->op == JIT_IR_NEG)
        pvmJ_neg(g->a, PVMJ_W64, d);
    else
        pvmJ_not(g->a, PVMJ_W64, d);
    define(g, ref, d);
}

/* The caller-saved registers holding values that outlive instruction
 * [k] go to their home slots around a C call (and [back] brings them).
 * (What a C call's exit writes, after the call, outlives it:
 * find_last_uses.) */
static void save_around_call(Gen *g, uint32_t k, bool back)
{
    for (uint32_t i = 0; i < k; i++) {
        PvmjReg r = g->where[i] == IN_MEMORY ? PVMJ_NOREG : (PvmjReg)g->where[i];
        if (r == PVMJ_NOREG || !has_value(&g->ir->ins[i]) || g->last[i] <= k)
            continue;
        bool saved = false;
        for (int s = 0; s < GPR_SAVED; s++)
            saved |= gpr_pool[s] == r;
        if (saved)
            continue;
        if (PVMJ_IS_XMM(r) && back)
            pvmJ_sse_rm(g->a, PVMJ_MOVSD, r, home(i));
        else if (PVMJ_IS_XMM(r))
            pvmJ_movsd_store(g->a, home(i), r);
        else if (back)
            pvmJ_mov_load(g->a, PVMJ_W64, r, home(i));
        else
            pvmJ_mov_store(g->a, PVMJ_W64, home(i), r);
    }
}

/* rax, C's integer result of [ret]'s size, sign- or zero-extended to the
 * PV int pvmF_from_return makes of it (the bits above the C type are
 * C's garbage). */
static void extend_result(Gen *g, const VmCArg *ret)
{
    if (ret->size == 8)
        return;
    if (ret->size == 4 && !ret->is_signed) {
        pvmJ_mov_rr(g->a, PVMJ_W32, PVMJ_RAX, PVMJ_RAX);
        return;
    }
    uint8_t shift = (uint8_t)(64 - 8 * ret->size);
    pvmJ_shift_ri(g->a, PVMJ_SHL, PVMJ_W64, PVMJ_RAX, shift);
    pvmJ_shift_ri(g->a, ret->is_signed ? PVMJ_SAR : PVMJ_SHR, PVMJ_W64, PVMJ_RAX, shift);
}

/* A C function called directly (CALLC; docs/jit.md, "C calls in traces").
 * The live caller-saved registers go to their home slots, the collector's
 * view; the arguments are pushed (their registers may be the parameter
 * registers, and the bookkeeping call clobbers them), then popped into
 * rdi, rsi, rdx, rcx, r8, r9 and xmm0-5 in System V order. The VM's fuel
 * is written as the interpreter has it during the call (the stretch's
 * later CHARGEs were taken early) and read back after it, since a
 * callback charges it; enter sets the stack top past the arguments, as
 * the interpreter's is, since a trace entered through a linked exit runs
 * with the top its first trace was entered with, which may be below slots
 * it reads from the stack. enter and leave are the ffi's bookkeeping around
 * the call; the result, extended to its PV value, waits in its home slot
 * while leave runs, and leave's answer decides the exit after the call. */
static void gen_callc(Gen *g, const JitIns *in, JitRef ref)
{
    static const PvmjReg int_regs[] = { PVMJ_RDI, PVMJ_RSI, PVMJ_RDX, PVMJ_RCX, PVMJ_R8, PVMJ_R9 };
    uint32_t k = index_of(ref);
    const VmCCall *c = (const VmCCall *)(uintptr_t)const_bits(g->ir, in->b);
    int n = 0;
    save_around_call(g, k, false);
    if (c->nargs & 1)
        pvmJ_alu_ri(g->a, PVMJ_SUB, PVMJ_W64, PVMJ_RSP, 8); /* rsp stays 16-byte aligned */
    for (JitRef a = in->a; a != JIT_REF_NONE && n < VM_CCALL_MAX_ARGS; a = pvmJ_ir_at(g->ir, a)->b, n++) {
        load_to(g, PVMJ_RAX, pvmJ_ir_at(g->ir, a)->a); /* the last argument first */
        pvmJ_push(g->a, PVMJ_RAX);
    }
    if (n != c->nargs) {
        pvmJ_asm_fail(g->a, PVMJ_EOPERAND);
        return;
    }
    int32_t refund = g->refund[g->snap];
    pvmJ_lea(g->a, PVMJ_RAX, pvmj_mem(FUEL, refund));
    pvmJ_mov_store(g->a, PVMJ_W64, absolute(g, (uintptr_t)&g->vm->fuel, PVMJ_RCX), PVMJ_RAX);
    const JitSnap *after = &g->snaps->snaps[g->snap]; /* its slots end with the result's */
    pvmJ_mov_ri(g->a, PVMJ_RDI, (int64_t)(uintptr_t)c);
    pvmJ_lea(g->a, PVMJ_RSI, slot_tag((uint32_t)after->nslots + (uint32_t)c->nargs));
    pvmJ_mov_ri(g->a, PVMJ_RAX, (int64_t)(uintptr_t)c->enter);
    pvmJ_call_r(g->a, PVMJ_RAX);
    int ni = 0, nf = 0;
    for (int i = 0; i < n; i++) {
        if (c->args[i].kind == VM_CARG_INT) {
            pvmJ_pop(g->a, int_regs[ni++]);
            continue;
        }
        PvmjReg x = (PvmjReg)(PVMJ_XMM0 + nf++);
        pvmJ_pop(g->a, PVMJ_RAX);
        pvmJ_movq_to_xmm(g->a, x, PVMJ_RAX);
        if (c->args[i].kind == VM_CARG_FLOAT)
            pvmJ_sse_rr(g->a, PVMJ_CVTSD2SS, x, x);
    }
    if (c->nargs & 1)
        pvmJ_alu_ri(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RSP, 8);
    pvmJ_mov_ri(g->a, PVMJ_RAX, (int64_t)(uintptr_t)c->code);
    pvmJ_call_r(g->a, PVMJ_RAX);
    if (c->ret.kind == VM_CARG_INT) {
        extend_result(g, &c->ret);
        pvmJ_mov_store(g->a, PVMJ_W64, home(k), PVMJ_RAX);
    } else if (c->ret.kind != VM_CARG_VOID) {
        if (c->ret.kind == VM_CARG_FLOAT)
            pvmJ_sse_rr(g->a, PVMJ_CVTSS2SD, PVMJ_XMM0, PVMJ_XMM0);
        pvmJ_movsd_store(g->a, home(k), PVMJ_XMM0);
    }
    pvmJ_mov_ri(g->a, PVMJ_RDI, (int64_t)(uintptr_t)c);
    pvmJ_mov_ri(g->a, PVMJ_RAX, (int64_t)(uintptr_t)c->leave);
    pvmJ_call_r(g->a, PVMJ_RAX);
    pvmJ_movzx8_rr(g->a, PVMJ_RCX, PVMJ_RAX); /* a C bool: al only */
    pvmJ_mov_load(g->a, PVMJ_W64, FUEL, absolute(g, (uintptr_t)&g->vm->fuel, PVMJ_RDX));
    if (refund)
        pvmJ_alu_ri(g->a, PVMJ_SUB, PVMJ_W64, FUEL, refund);
    save_around_call(g, k, true);
    PvmjReg r = reg_of(g, ref);
    if (r != PVMJ_NOREG && PVMJ_IS_XMM(r))
        pvmJ_sse_rm(g->a, PVMJ_MOVSD, r, home(k));
    else if (r != PVMJ_NOREG)
        pvmJ_mov_load(g->a, PVMJ_W64, r, home(k));
    pvmJ_test_rr(g->a, PVMJ_W32, PVMJ_RCX, PVMJ_RCX);
    exit_if(g, PVMJ_CC_NE);
}

/* After a call that charged the budget: the stretch's later CHARGEs were
 * taken before it, on fuel the call has since spent, so if that leaves
 * the fuel negative one of them would have run out in the interpreter.
 * The trace leaves through the snapshot the recorder took right after the
 * call (rec_leaf_call), which gives them back: the interpreter goes on
 * from there and stops where it stops. */
static void exit_if_overspent(Gen *g, JitRef call)
{
    /* the next snapshot (the LOOP pass may have folded away what came
     * right after the call in its copy), holding nothing made after it */
    uint32_t after = g->snap + 1;
    bool ok = after < g->snaps->nsnaps && g->snaps->snaps[after].ref > call;
    for (uint32_t i = 0; ok && i < g->snaps->snaps[after].nentries; i++) {
        JitRef e = g->snaps->map[g->snaps->snaps[after].map_start + i].ref;
        ok = pvmJ_ref_is_const(e) || e < call;
    }
    if (!ok) {
        pvmJ_asm_fail(g->a, PVMJ_EOPERAND);
        return;
    }
    pvmJ_test_rr(g->a, PVMJ_W64, FUEL, FUEL);
    pvmJ_jcc(g->a, PVMJ_CC_S, g->exits[after]);
}

/* A runtime function's call (CALLR; docs/jit.md, "Allocation in
 * traces"): its Values are boxed into the frame slots where the
 * interpreter has the instruction's operands (the trace owns them: an
 * exit writes each slot it holds anyway), the live caller-saved registers
 * go to their home slots, where the collector sees them, and the function
 * gets (vm, the first slot, n, and the CARG after the slots' values,
 * if there is one: a key string, in rcx). Its result stays in rax while the
 * registers come back (nothing allocates then); NULL takes the exit
 * before the instruction. */
static void gen_callr(Gen *g, const JitIns *in, JitRef ref)
{
    uint32_t k = index_of(ref);
    uint64_t desc = const_bits(g->ir, in->b);
    JitRuntimeFn fn = pvmJ_rt_fn(desc);
    uint32_t slot = pvmJ_rt_slot(desc);
    uint32_t nvals = pvmJ_rt_n(desc), nargs = 0;
    for (JitRef a = in->a; a != JIT_REF_NONE; a = pvmJ_ir_at(g->ir, a)->b)
        nargs++;
    if (nargs < nvals || nargs > nvals + 1 || fn >= JIT_RT__COUNT) {
        pvmJ_asm_fail(g->a, PVMJ_EOPERAND);
        return;
    }
    JitRef extra = JIT_REF_NONE;
    uint32_t i = nargs;
    for (JitRef a = in->a; a != JIT_REF_NONE; a = pvmJ_ir_at(g->ir, a)->b) {
        JitRef v = pvmJ_ir_at(g->ir, a)->a;
        if (--i == nvals) /* the chain starts at the last */
            extra = v;
        else
            store_value(g, slot_tag(slot + i), slot_payload(slot + i), v);
    }
    save_around_call(g, k, false);
    /* the fuel as the interpreter has it during the call: the stretch's
     * later CHARGEs were taken early, CALL's own unit is spent by then */
    int32_t during = g->refund[g->snap] - (int32_t)g->snaps->snaps[g->snap].charged;
    if (extra != JIT_REF_NONE)
        load_to(g, PVMJ_RCX, extra); /* before rdi and rsi: it may live there */
    if (pvmJ_rt_charges(fn)) { /* rax and rdx are set below anyway */
        pvmJ_lea(g->a, PVMJ_RAX, pvmj_mem(FUEL, during));
        pvmJ_mov_store(g->a, PVMJ_W64, absolute(g, (uintptr_t)&g->vm->fuel, PVMJ_RDX), PVMJ_RAX);
    }
    pvmJ_mov_ri(g->a, PVMJ_RDI, (int64_t)(uintptr_t)g->vm);
    pvmJ_lea(g->a, PVMJ_RSI, slot_tag(slot));
    pvmJ_mov_ri(g->a, PVMJ_RDX, (int64_t)nvals);
    pvmJ_mov_ri(g->a, PVMJ_RAX, (int64_t)(uintptr_t)pvmJ_runtime_calls[fn]);
    pvmJ_call_r(g->a, PVMJ_RAX);
    if (pvmJ_rt_charges(fn)) { /* rdx is free until the registers come back */
        pvmJ_mov_load(g->a, PVMJ_W64, FUEL, absolute(g, (uintptr_t)&g->vm->fuel, PVMJ_RDX));
        if (during)
            pvmJ_alu_ri(g->a, PVMJ_SUB, PVMJ_W64, FUEL, during);
    }
    save_around_call(g, k, true); /* moves only: rax stays */
    define(g, ref, PVMJ_RAX);
    pvmJ_test_rr(g->a, PVMJ_W64, PVMJ_RAX, PVMJ_RAX);
    exit_if(g, PVMJ_CC_E);
    if (pvmJ_rt_charges(fn))
        exit_if_overspent(g, ref);
}

/* A C function of doubles (fmod, floor): the stack is 16-byte aligned
 * inside a trace, rbx, rbp, r12-r15 survive. */
static void gen_float_call(Gen *g, const JitIns *in, JitRef ref, const void *fn)
{
    uint32_t k = index_of(ref);
    save_around_call(g, k, false);
    load_to(g, PVMJ_XMM0, in->a);
    if (pvmJ_ir_ops[in->op].o2 == JIT_O_REF)
        load_to(g, PVMJ_XMM1, in->b);
    pvmJ_mov_ri(g->a, PVMJ_RAX, (int64_t)(uintptr_t)fn);
    pvmJ_call_r(g->a, PVMJ_RAX);
    save_around_call(g, k, true);
    define(g, ref, PVMJ_XMM0);
}

static void gen_float(Gen *g, const JitIns *in, JitRef ref)
{
    static const PvmjSse sse[] = {
        [JIT_IR_ADD] = PVMJ_ADDSD, [JIT_IR_SUB] = PVMJ_SUBSD,
        [JIT_IR_MUL] = PVMJ_MULSD, [JIT_IR_DIV] = PVMJ_DIVSD,
    };
    PvmjReg d = dst_of(g, ref, PVMJ_XMM0);
    switch (in->op) {
    case JIT_IR_MOD:
        gen_float_call(g, in, ref, (const void *)fmod);
        return;
    case JIT_IR_FLOOR:
        if (!pvmJ_cpu_has_sse41()) {
            gen_float_call(g, in, ref, (const void *)floor);
            return;
        }
        {
            PvmjReg from = src_in(g, in->a, PVMJ_XMM0);
            if (from != d) /* roundsd keeps d's upper half too */
                pvmJ_sse_rr(g->a, PVMJ_XORPD, d, d);
            pvmJ_roundsd(g->a, d, from, PVMJ_ROUND_FLOOR);
        }
        break;
    case JIT_IR_TOFLT: {
        /* cvtsi2sd keeps the upper half of d: clearing d first breaks
         * the dependency on whatever d held (a divide of the last trip) */
        PvmjReg from = src_in(g, in->a, PVMJ_RAX);
        pvmJ_sse_rr(g->a, PVMJ_XORPD, d, d);
        pvmJ_cvtsi2sd(g->a, d, from);
        break;
    }
    case JIT_IR_NEG: /* flip the sign bit: -0.0 and NaN as the C negation */
        load_to(g, PVMJ_RAX, in->a);
        pvmJ_mov_ri(g->a, PVMJ_RCX, INT64_MIN);
        pvmJ_alu_rr(g->a, PVMJ_XOR, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
        pvmJ_movq_to_xmm(g->a, d, PVMJ_RAX);
        break;
    case JIT_IR_SQRT: /* like cvtsi2sd, it keeps d's upper half */
        if (reg_of(g, in->a) == PVMJ_NOREG && !pvmJ_ref_is_const(in->a)) {
            pvmJ_sse_rr(g->a, PVMJ_XORPD, d, d);
            pvmJ_sse_rm(g->a, PVMJ_SQRTSD, d, home(index_of(in->a)));
        } else {
            PvmjReg from = src_in(g, in->a, PVMJ_XMM0);
            if (from != d)
                pvmJ_sse_rr(g->a, PVMJ_XORPD, d, d);
            pvmJ_sse_rr(g->a, PVMJ_SQRTSD, d, from);
        }
        break;
    default: {
        JitRef a, b;
        two_address(g, in, &a, &b, &d, PVMJ_XMM0);
        load_to(g, d, a);
        sse_ref(g, sse[in->op], d, b);
    }
    }
    define(g, ref, d);
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
    alu_ref(g, PVMJ_CMP, src_in(g, in->a, PVMJ_RAX), in->b);
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
    PvmjReg x = src_in(g, swap ? in->b : in->a, PVMJ_XMM0);
    sse_ref(g, PVMJ_UCOMISD, x, swap ? in->a : in->b);
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

static void gen_final_exit(Gen *g);

static bool gen_ins(Gen *g, JitRef ref)
{
    const JitIns *in = pvmJ_ir_at(g->ir, ref);
    JitOp op = (JitOp)in->op;
    if (g->fused[index_of(ref)])
        return true; /* computed inside its users' operands */
    switch (op) {
    case JIT_IR_SLOAD: gen_sload(g, in, ref); return true;
    case JIT_IR_GLOAD: gen_gload(g, in, ref); return true;
    case JIT_IR_GSTORE: gen_gstore(g, in, ref); return true;
    case JIT_IR_CHARGE: gen_charge(g, in, ref); return true;
    case JIT_IR_BASE: define(g, ref, PVMJ_RBX); return true;
    case JIT_IR_RETF: gen_retf(g, in); return true;
    case JIT_IR_LOOP: gen_loop(g, in); return true;
    case JIT_IR_EXIT: gen_final_exit(g); return true;
    case JIT_IR_ALEN: gen_field_load(g, in->a, (int32_t)offsetof(PvArray, len), ref); return true;
    case JIT_IR_AKIND: gen_akind(g, in, ref); return true;
    case JIT_IR_ABC: gen_abc(g, in); return true;
    case JIT_IR_AREF: gen_aref(g, in, ref); return true;
    case JIT_IR_XLOAD: gen_xload(g, in, ref); return true;
    case JIT_IR_XSTORE: gen_xstore(g, in, ref); return true;
    case JIT_IR_UREF: gen_uref(g, in, ref); return true;
    case JIT_IR_ALOAD: gen_aload(g, in, ref); return true;
    case JIT_IR_BLOAD: gen_bload(g, in, ref); return true;
    case JIT_IR_ASTORE: gen_astore(g, in); return true;
    case JIT_IR_FLOAD:
        if (!is_frame_count(g, index_of(ref))) /* else: r14 */
            gen_field_load(g, in->a, (int32_t)in->b, ref);
        return true;
    case JIT_IR_HKEY: gen_hkey(g, in); return true;
    case JIT_IR_CARG: return true; /* read by its CALLC or CALLR */
    case JIT_IR_CALLC: gen_callc(g, in, ref); return true;
    case JIT_IR_CALLR:
        if (!pvmJ_sunk(g->ir, ref)) /* a sunk map is made only by the exits that hold it */
            gen_callr(g, in, ref);
        return true;
    default: break;
    }
    if (is_guard_compare(op)) {
        if (is_float(g, in->a))
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
    case JIT_IR_TOINT: {
        PvmjReg from = src_in(g, in->a, PVMJ_XMM0);
        PvmjReg d = dst_of(g, ref, PVMJ_RAX);
        pvmJ_cvttsd2si(g->a, d, from);
        define(g, ref, d);
        return true;
    }
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

/* The register still holding the value snapshot [sn] writes to [slot]
 * when the exit pushes frames; else PVMJ_NOREG. */
static PvmjReg kept_in(const Gen *g, const JitSnap *sn, uint32_t slot)
{
    for (uint32_t i = 0; i < sn->nentries; i++) {
        const JitSnapEntry *e = &g->snaps->map[sn->map_start + i];
        if (e->slot != slot || pvmJ_sunk(g->ir, e->ref))
            continue;
        /* only a register a C call keeps: making sunk objects calls one */
        PvmjReg r = reg_of(g, e->ref);
        for (int k = 0; k < GPR_SAVED; k++)
            if (gpr_pool[k] == r)
                return r;
        return PVMJ_NOREG;
    }
    return PVMJ_NOREG;
}

/* An exit inside calls the trace inlined pushes their frames as the
 * interpreter's CALL would have (the trace guarded that they fit): each
 * caller's saved ip is its call's + 1 and each callee's closure the value
 * in the slot below its base (written back just before). Each function is
 * known (the trace guarded every closure it called), so the ips are
 * constants. The innermost frame's own ip is not written: nothing reads
 * it while traces run (a return reads its caller's), and the trace runner
 * sets it from the snapshot that finally leaves to the interpreter. The
 * base register then is the innermost frame's, so the exit can go on in a
 * trace of that frame. Once the slots are written no register holds
 * anything the exit needs.
 *
 * This depends only on the frames, which the exits inside one inlined
 * call share: it is a subroutine per set of frames (gen_frames_sub).
 * [in_line]: for one exit, whose registers it may read, not the
 * subroutine several exits share. */
static void gen_frames_body(Gen *g, const JitSnap *sn, bool in_line)
{
    const JitSnapFrame *fr = &g->snaps->frames[sn->frame_start];
    int32_t pops = (int32_t)pops_in_push(g, sn), size = (int32_t)sizeof(VmFrame);
    /* rax = &frames[nframes as the VM has it]; the first new frame is
     * [pops] below that, each caller's the one below its callee's */
    pvmJ_mov_load(g->a, PVMJ_W64, PVMJ_R11, absolute(g, (uintptr_t)&g->vm->frames, PVMJ_R11));
    pvmJ_imul_rri(g->a, PVMJ_W64, PVMJ_RAX, NFRAMES, size);
    pvmJ_alu_rr(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, PVMJ_R11);
    int32_t at = 0;
    for (uint16_t k = 0; k < sn->nframes; k++) {
        at = ((int32_t)k - pops) * size;
        load_address(g, PVMJ_RDI, (uintptr_t)fr[k].ret_ip);
        pvmJ_mov_store(g->a, PVMJ_W64, pvmj_mem(PVMJ_RAX, at - size + (int32_t)offsetof(VmFrame, ip)), PVMJ_RDI);
        PvmjReg closure = in_line ? kept_in(g, sn, (uint32_t)fr[k].base - 1u) : PVMJ_NOREG;
        if (closure == PVMJ_NOREG) {
            closure = PVMJ_RSI;
            pvmJ_mov_load(g->a, PVMJ_W64, closure, slot_payload((uint32_t)fr[k].base - 1u));
        }
        pvmJ_mov_store(g->a, PVMJ_W64, pvmj_mem(PVMJ_RAX, at + (int32_t)offsetof(VmFrame, closure)), closure);
        if (k + 1u < sn->nframes) {
            pvmJ_lea(g->a, PVMJ_RDI, slot_tag(fr[k].base));
            pvmJ_mov_store(g->a, PVMJ_W64, pvmj_mem(PVMJ_RAX, at + (int32_t)offsetof(VmFrame, base)), PVMJ_RDI);
        }
    }
    if ((int32_t)sn->nframes != pops)
        pvmJ_alu_ri(g->a, PVMJ_ADD, PVMJ_W64, NFRAMES, (int32_t)sn->nframes - pops);
    store_frame_count(g);
    pvmJ_lea(g->a, PVMJ_RBX, slot_tag(fr[sn->nframes - 1].base));
    pvmJ_mov_store(g->a, PVMJ_W64, pvmj_mem(PVMJ_RAX, at + (int32_t)offsetof(VmFrame, base)), PVMJ_RBX);
}

static void gen_frames_sub(Gen *g, const JitSnap *sn)
{
    gen_frames_body(g, sn, false);
    pvmJ_ret(g->a);
}

/* Whether snapshots [s] and [c] are inside the same inlined frames. */
static bool same_frames(const Gen *g, uint32_t s, uint32_t c)
{
    const JitSnap *a = &g->snaps->snaps[s], *b = &g->snaps->snaps[c];
    if (a->nframes != b->nframes)
        return false;
    const JitSnapFrame *fa = &g->snaps->frames[a->frame_start], *fb = &g->snaps->frames[b->frame_start];
    for (uint32_t k = 0; k < a->nframes; k++)
        if (fa[k].base != fb[k].base || fa[k].ret_ip != fb[k].ret_ip || fa[k].code != fb[k].code)
            return false;
    return true;
}

/* The exit's part of pushing frames: the shared subroutine, or, with
 * [frames_sub] -1, its code in line. */
static void gen_push_frames(Gen *g, const JitSnap *sn, PvmjLabel frames_sub)
{
    if (frames_sub < 0)
        gen_frames_body(g, sn, true);
    else
        pvmJ_call(g->a, frames_sub);
}

/* Whether exits [s] and [c] write the same frame: the same resume point,
 * slots, values and inlined frames, and the same fuel given back. Every
 * value lives in one place for its whole life, so their code would be the
 * same too. */
static bool same_exit(const Gen *g, uint32_t s, uint32_t c)
{
    const JitSnap *a = &g->snaps->snaps[s], *b = &g->snaps->snaps[c];
    if (a->ccall || b->ccall || a->pc != b->pc || a->nslots != b->nslots || a->nentries != b->nentries ||
        a->nframes != b->nframes || g->refund[s] != g->refund[c] || g->popped[s] != g->popped[c])
        return false;
    const JitSnapEntry *ea = &g->snaps->map[a->map_start], *eb = &g->snaps->map[b->map_start];
    for (uint32_t i = 0; i < a->nentries; i++)
        if (ea[i].slot != eb[i].slot || ea[i].ref != eb[i].ref)
            return false;
    return same_frames(g, s, c);
}

/* How many of the exits written just before an exit are tried as the
 * base whose stores it shares. */
#define EXIT_BASE_TRIES 8u

/* Sharing a base's stores may write a slot twice (the base's value, then
 * this exit's), and each base costs a call: an exit may do this much more
 * than its own entries' [n] stores (a call counted as one), so that exits
 * stay about as quick as they were and a chain of bases stays short. */
static uint32_t exit_store_budget(uint32_t n)
{
    return n + n / 8 + 2;
}

/* For exit [s] on base [p]: UINT32_MAX unless every slot [p] writes is
 * one of [s]'s (a slot [s] leaves alone must keep what the frame holds);
 * else how many of [s]'s entries [p] does not write with the same value
 * (a snapshot's entries are in slot order). */
static uint32_t exit_delta(const Gen *g, uint32_t p, uint32_t s)
{
    const JitSnap *a = &g->snaps->snaps[p], *b = &g->snaps->snaps[s];
    const JitSnapEntry *ea = &g->snaps->map[a->map_start], *eb = &g->snaps->map[b->map_start];
    uint32_t j = 0, same = 0;
    for (uint32_t i = 0; i < a->nentries; i++) {
        while (j < b->nentries && eb[j].slot < ea[i].slot)
            j++;
        if (j == b->nentries || eb[j].slot != ea[i].slot)
            return UINT32_MAX;
        same += eb[j].ref == ea[i].ref;
    }
    return b->nentries - same;
}

/* Of the exits in [recent] (the last few written, [n] of them), the one
 * whose stores leave exit [s] the fewest of its own within its budget;
 * UINT32_MAX if none saves any. [stores_run] is, per exit written, the
 * stores it does in all, its bases' and their calls included. */
static uint32_t exit_base(const Gen *g, const uint32_t *recent, uint32_t n, uint32_t s,
                          const uint32_t *stores_run)
{
    uint32_t own = g->snaps->snaps[s].nentries, best = UINT32_MAX, fewest = own;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = recent[i], d = exit_delta(g, p, s);
        if (d < fewest && stores_run[p] + d + 1 <= exit_store_budget(own)) {
            best = p;
            fewest = d;
        }
    }
    return best;
}

/* The stores of exit [s], called from its exit: its base's stores (if it
 * has a base [b]), then those of its values the base did not write, or
 * wrote with another value. Every value lives in one place for its whole
 * life and a snapshot keeps its values live up to the last guard that
 * exits through it, so the base's stores find the values they share with
 * this exit where they expect them; a value of the base's alone may be
 * dead by now, and what it writes is written over. Consecutive snapshots
 * mostly differ in a few slots: nbody's step loop (437 snapshots of about
 * 28 entries) went from 225 KB of machine code to a third of it. */
static void gen_exit_stores(Gen *g, uint32_t s, uint32_t b, PvmjLabel *stores)
{
    const JitSnap *sn = &g->snaps->snaps[s];
    const JitSnapEntry *e = &g->snaps->map[sn->map_start];
    const JitSnapEntry *be = b == UINT32_MAX ? NULL : &g->snaps->map[g->snaps->snaps[b].map_start];
    uint32_t bn = b == UINT32_MAX ? 0 : g->snaps->snaps[b].nentries, j = 0;
    pvmJ_label_bind(g->a, stores[s]);
    if (b != UINT32_MAX)
        pvmJ_call(g->a, stores[b]);
    for (uint32_t i = 0; i < sn->nentries; i++) {
        while (j < bn && be[j].slot < e[i].slot)
            j++;
        if ((j < bn && be[j].slot == e[i].slot && be[j].ref == e[i].ref) || pvmJ_sunk(g->ir, e[i].ref))
            continue;
        store_value(g, slot_tag(e[i].slot), slot_payload(e[i].slot), e[i].ref);
    }
    pvmJ_ret(g->a);
}

/* The values of the sunk maps snapshot [sn] holds, into the sink buffer
 * in the order pvmJ_sink_restore reads them: each map once, in entry
 * order. Before the frames are pushed, which takes registers that may
 * hold them. */
static void gen_sink_stores(Gen *g, const JitSnap *sn)
{
    if (!sn->sunk)
        return;
    const JitSnapEntry *e = &g->snaps->map[sn->map_start];
    uint32_t pos = 0;
    for (uint32_t i = 0; i < sn->nentries; i++) {
        if (!pvmJ_sunk(g->ir, e[i].ref))
            continue;
        uint32_t j = 0;
        while (j < i && e[j].ref != e[i].ref)
            j++;
        if (j < i)
            continue;
        JitRef vals[JIT_SINK_MAX_VALUES];
        uint32_t n = pvmJ_sink_values(g->ir, e[i].ref, vals, JIT_SINK_MAX_VALUES);
        for (uint32_t v = 0; v < n; v++, pos++) {
            int32_t at = (int32_t)(8u * PVMJ_SINK_BUF + 16u * pos);
            store_value(g, pvmj_mem(PVMJ_R12, at), pvmj_mem(PVMJ_R12, at + 8), vals[v]);
        }
    }
}

/* An exit holding sunk objects makes them after its stores (pvmJ_rt_sink
 * on the values gen_sink_stores put in the buffer; rbx is still the
 * trace's frame): the jcc taken when it could not, to a tail returning
 * the exit with PVMJ_EXIT_SINK_PENDING, which the runner then makes them
 * for. Nothing but memory holds what the exit needs by then, and rsp is
 * the body's, aligned for the call. */
static size_t gen_sink_make(Gen *g, uint32_t s)
{
    pvmJ_mov_ri(g->a, PVMJ_RDI, (int64_t)(uintptr_t)g->vm);
    pvmJ_mov_ri(g->a, PVMJ_RSI, (int64_t)(uintptr_t)g->kept_ir);
    pvmJ_mov_ri(g->a, PVMJ_RDX, (int64_t)(uintptr_t)g->kept_snaps);
    pvmJ_mov_ri(g->a, PVMJ_RCX, (int64_t)s);
    pvmJ_mov_rr(g->a, PVMJ_W64, PVMJ_R8, PVMJ_RBX);
    pvmJ_lea(g->a, PVMJ_R9, pvmj_mem(PVMJ_R12, (int32_t)(8u * PVMJ_SINK_BUF)));
    pvmJ_mov_ri(g->a, PVMJ_RAX, (int64_t)(uintptr_t)pvmJ_rt_sink);
    pvmJ_call_r(g->a, PVMJ_RAX);
    pvmJ_test_rr(g->a, PVMJ_W32, PVMJ_RAX, PVMJ_RAX);
    return pvmJ_jcc_rel32(g->a, PVMJ_CC_E);
}

/* The tail of an exit whose objects are not made: its frames pushed, it
 * returns to the runner, never linked. */
static void gen_sink_pending(Gen *g, uint32_t s, size_t jcc, PvmjLabel frames_sub, PvmjLabel leave)
{
    const JitSnap *sn = &g->snaps->snaps[s];
    pvmJ_patch_rel32(g->a, jcc, pvmJ_asm_pos(g->a));
    if (sn->nframes > 0)
        gen_push_frames(g, sn, frames_sub);
    pvmJ_mov_ri(g->a, PVMJ_RAX, g->exit_base + s + PVMJ_EXIT_SINK_PENDING);
    pvmJ_jmp(g->a, leave);
}

/* Exits share their code only in traces of at least this many
 * snapshots: a call per exit and the few stores done twice made
 * fannkuch, whose traces run on into each other through their exits
 * hundreds of thousands of times, 20 % slower at -j on, while its traces
 * hold 50 snapshots at most and their exit code a few KB. A trace of
 * hundreds of snapshots (nbody's unrolled step loop: 437) is one whose
 * exit code is most of the machine code, and of the process's RSS. */
#define EXIT_SHARE_MIN_SNAPS 128u

static bool shares_exits(const Gen *g)
{
    return g->snaps->nsnaps >= (g->share_exits ? g->share_exits : EXIT_SHARE_MIN_SNAPS);
}

/* An exit of a small trace: its stores and frames in line, as quick as
 * they can be. */
static void gen_exit_in_line(Gen *g, uint32_t s, uint32_t *exit_jumps, PvmjLabel leave)
{
    const JitSnap *sn = &g->snaps->snaps[s];
    for (uint32_t i = 0; i < sn->nentries; i++) {
        const JitSnapEntry *e = &g->snaps->map[sn->map_start + i];
        if (!pvmJ_sunk(g->ir, e->ref))
            store_value(g, slot_tag(e->slot), slot_payload(e->slot), e->ref);
    }
    gen_sink_stores(g, sn);
    size_t unmade = sn->sunk ? gen_sink_make(g, s) : 0;
    if (sn->nframes > 0)
        gen_push_frames(g, sn, -1);
    size_t field = pvmJ_jmp_rel32(g->a);
    exit_jumps[s] = (uint32_t)field;
    pvmJ_patch_rel32(g->a, field, pvmJ_asm_pos(g->a));
    pvmJ_mov_ri(g->a, PVMJ_RAX, g->exit_base + s);
    pvmJ_jmp(g->a, leave);
    if (sn->sunk)
        gen_sink_pending(g, s, unmade, -1, leave);
}

/* EXIT, the end of a trace that does not loop: its exit's code (a jmp
 * another trace is linked to, most often) goes right here, in line, where
 * the trace's exits are not shared. */
static void gen_final_exit(Gen *g)
{
    uint32_t s = g->snap;
    if (shares_exits(g) || s + 1 != g->snaps->nsnaps) {
        pvmJ_jmp(g->a, g->exits[s]);
        return;
    }
    g->last_in_line = true;
    pvmJ_label_bind(g->a, g->exits[s]);
    if (g->refund[s] > 0)
        pvmJ_alu_ri(g->a, PVMJ_ADD, PVMJ_W64, FUEL, g->refund[s]);
    gen_exit_pops(g, &g->snaps->snaps[s]);
    gen_exit_in_line(g, s, g->exit_jumps, g->leave);
}

/* Exit s writes snapshot s's values into the frame (calling its stores,
 * above, which share most of their code with earlier exits'), pushes
 * the frames of inlined calls it is inside, then jumps: at first to its
 * own "return s", later perhaps straight into another trace. An exit that
 * would write what the one before it writes (guards of one instruction,
 * mostly) is a jmp to that one's code instead, and returns its number: the
 * first of such twins is the one whose loads came first, which is what a
 * side trace grown from it may rely on (jit.c, tell_known_types). The
 * calls' return addresses (one per base in the chain, a few) are all an
 * exit puts on the stack: nothing in a trace lives below rsp, and values
 * are spilled relative to r12. */
static bool gen_exits(Gen *g, uint32_t *exit_jumps)
{
    uint32_t nsnaps = g->snaps->nsnaps;
    PvmjLabel *stores = malloc(nsnaps * sizeof *stores);
    uint32_t *stores_run = malloc(nsnaps * sizeof *stores_run);
    if (stores == NULL || stores_run == NULL) {
        free(stores);
        free(stores_run);
        return false;
    }
    for (uint32_t s = 0; s < nsnaps; s++)
        stores[s] = pvmJ_label_new(g->a);
    uint32_t recent[EXIT_BASE_TRIES], written = 0; /* a ring of the last exits written */
    PvmjLabel leave = g->leave;
    uint32_t first = 0; /* the exit whose code the previous one ran */
    uint32_t frames_of = UINT32_MAX; /* the last exit inside inlined calls */
    PvmjLabel frames_sub = -1;       /* the subroutine pushing its frames */
    bool share = shares_exits(g);
    for (uint32_t s = 0; s < nsnaps; s++) {
        const JitSnap *sn = &g->snaps->snaps[s];
        if (s + 1 == nsnaps && g->last_in_line)
            break; /* gen_final_exit wrote it */
        pvmJ_label_bind(g->a, g->exits[s]);
        if (s > 0 && same_exit(g, s, first)) {
            pvmJ_jmp(g->a, g->exits[first]);
            exit_jumps[s] = exit_jumps[first];
            continue;
        }
        first = s;
        if (g->refund[s] > 0)
            pvmJ_alu_ri(g->a, PVMJ_ADD, PVMJ_W64, FUEL, g->refund[s]);
        gen_exit_pops(g, sn);
        if (!share) {
            gen_exit_in_line(g, s, exit_jumps, leave);
            continue;
        }
        if (sn->nentries > 0)
            pvmJ_call(g->a, stores[s]);
        gen_sink_stores(g, sn);
        size_t unmade = sn->sunk ? gen_sink_make(g, s) : 0;
        bool new_frames = false;
        if (sn->nframes > 0) {
            new_frames = frames_of == UINT32_MAX || !same_frames(g, s, frames_of) ||
                         pops_in_push(g, sn) != pops_in_push(g, &g->snaps->snaps[frames_of]);
            if (new_frames) {
                frames_of = s;
                frames_sub = pvmJ_label_new(g->a);
            }
            gen_push_frames(g, sn, frames_sub);
        }
        size_t field = pvmJ_jmp_rel32(g->a);
        exit_jumps[s] = (uint32_t)field;
        pvmJ_patch_rel32(g->a, field, pvmJ_asm_pos(g->a));
        pvmJ_mov_ri(g->a, PVMJ_RAX, g->exit_base + s);
        pvmJ_jmp(g->a, leave);
        if (sn->sunk)
            gen_sink_pending(g, s, unmade, frames_sub, leave);
        if (new_frames) {
            pvmJ_label_bind(g->a, frames_sub);
            gen_frames_sub(g, sn);
        }
        if (sn->nentries == 0)
            continue;
        uint32_t n = written < EXIT_BASE_TRIES ? written : EXIT_BASE_TRIES;
        uint32_t b = exit_base(g, recent, n, s, stores_run);
        stores_run[s] = b == UINT32_MAX ? sn->nentries : stores_run[b] + exit_delta(g, b, s) + 1;
        gen_exit_stores(g, s, b, stores);
        recent[written++ % EXIT_BASE_TRIES] = s;
    }
    free(stores);
    free(stores_run);
    pvmJ_label_bind(g->a, leave);
    pvmJ_mov_store(g->a, PVMJ_W64, absolute(g, (uintptr_t)&g->vm->fuel, PVMJ_RCX), FUEL);
    pvmJ_alu_ri(g->a, PVMJ_ADD, PVMJ_W64, PVMJ_RSP, 8);
    pvmJ_pop(g->a, PVMJ_R15);
    pvmJ_pop(g->a, PVMJ_R14);
    pvmJ_pop(g->a, PVMJ_R13);
    pvmJ_pop(g->a, PVMJ_R12);
    pvmJ_pop(g->a, PVMJ_RBP);
    pvmJ_pop(g->a, PVMJ_RBX);
    pvmJ_ret(g->a);
    return true;
}

static void gen_const_pool(Gen *g)
{
    pvmJ_align(g->a, 8);
    for (uint32_t k = 0; k < g->ir->nk; k++) {
        if (g->klabel[k] < 0)
            continue;
        pvmJ_label_bind(g->a, g->klabel[k]);
        pvmJ_u64(g->a, g->ir->kval[k]);
    }
}

/* Six pushes and eight bytes after the return address: rsp is 16-byte
 * aligned for the C calls a trace makes. */
static void gen_prologue(Gen *g)
{
    pvmJ_push(g->a, PVMJ_RBX);
    pvmJ_push(g->a, PVMJ_RBP);
    pvmJ_push(g->a, PVMJ_R12);
    pvmJ_push(g->a, PVMJ_R13);
    pvmJ_push(g->a, PVMJ_R14);
    pvmJ_push(g->a, PVMJ_R15);
    pvmJ_alu_ri(g->a, PVMJ_SUB, PVMJ_W64, PVMJ_RSP, 8);
    pvmJ_mov_rr(g->a, PVMJ_W64, PVMJ_RBX, PVMJ_RDI);
    pvmJ_mov_rr(g->a, PVMJ_W64, PVMJ_R12, PVMJ_RSI);
    pvmJ_mov_load(g->a, PVMJ_W64, FUEL, absolute(g, (uintptr_t)&g->vm->fuel, PVMJ_RCX));
    pvmJ_mov_load(g->a, PVMJ_W64, NFRAMES, absolute(g, (uintptr_t)&g->vm->nframes, PVMJ_RCX));
}

/* The index of the trace's first RETF, or its length. */
static uint32_t first_retf(const Gen *g)
{
    uint32_t k = 0;
    while (k < g->ir->nins && g->ir->ins[k].op != JIT_IR_RETF)
        k++;
    return k;
}

/* JitAsmOut.exit_regs for snapshot [s]: in a trace with no loop and no
 * RETF before the exit, the load of a slot the exit leaves alone whose
 * register, one kept by exits, still holds it there (its last use is at
 * or after the exit's guard): the frame holds what the trace loaded in
 * every slot it did not write, and a slot it wrote that is live at the
 * exit is one of the exit's stores. (Those the exit stores are found from
 * JitAsmOut.where when a link asks.) */
static void note_exit_regs(const Gen *g, uint32_t s, uint32_t retf, uint16_t *row)
{
    const JitSnap *sn = &g->snaps->snaps[s];
    for (uint32_t i = 0; i < JIT_EXIT_REGS; i++)
        row[i] = JIT_NO_SLOT;
    if (g->loop_at != UINT32_MAX || sn->sunk || sn->ccall || sn->stitch)
        return; /* or never linked */
    uint32_t at = last_exit_of(g, s, g->ir->nins);
    if (at == UINT32_MAX || retf < at)
        return;
    for (uint32_t k = 0; k < index_of(sn->ref) && k < g->ir->nins; k++) {
        const JitIns *in = &g->ir->ins[k];
        PvmjReg reg = in->op == JIT_IR_SLOAD ? reg_of(g, (JitRef)(JIT_REF_BIAS + k)) : PVMJ_NOREG;
        int r = kept_by_exits(reg) ? pvmJ_exit_reg((uint8_t)reg) : -1;
        if (r < 0 || row[r] != JIT_NO_SLOT || g->last[k] < at)
            continue; /* not in a kept register there */
        bool stored = false;
        for (uint32_t e = 0; e < sn->nentries && !stored; e++)
            stored = g->snaps->map[sn->map_start + e].slot == in->a;
        if (!stored)
            row[r] = (uint16_t)in->a;
    }
}

static bool gen_trace(Gen *g, JitAsmOut *out)
{
    const JitIR *ir = g->ir;
    for (uint32_t s = 0; s < g->snaps->nsnaps; s++)
        g->exits[s] = pvmJ_label_new(g->a);
    g->leave = pvmJ_label_new(g->a);
    g->exit_jumps = out->exit_jumps;
    g->out = out;
    out->body_typed = 0;
    out->body_loaded = 0;
    gen_prologue(g);
    out->body = (uint32_t)pvmJ_asm_pos(g->a);
    g->top = pvmJ_label_new(g->a);
    pvmJ_label_bind(g->a, g->top);
    uint32_t i = 0;
    for (; i < ir->nins && ir->ins[i].op != JIT_IR_PHI; i++) {
        JitRef ref = (JitRef)(JIT_REF_BIAS + i);
        advance_snapshot(g, ref);
        if (!gen_ins(g, ref))
            return false;
    }
    if (ir->loop != JIT_REF_NONE && !gen_phis(g, i))
        return false;
    gen_charge_undos(g);
    if (!gen_exits(g, out->exit_jumps))
        return false;
    gen_const_pool(g);
    uint32_t retf = first_retf(g);
    for (uint32_t s = 0; s < g->snaps->nsnaps; s++)
        note_exit_regs(g, s, retf, &out->exit_regs[s * JIT_EXIT_REGS]);
    return g->a->error == PVMJ_OK;
}

bool pvmJ_assemble(PvmjAsm *a, const JitAsmIn *in, JitAsmOut *out)
{
    Gen g = { .a = a, .ir = in->ir, .snaps = in->snaps, .vm = in->vm, .trips = in->trips,
              .exit_base = in->exit_base, .share_exits = in->share_exits,
              .kept_ir = in->kept_ir, .kept_snaps = in->kept_snaps, .vals = in->vals };
    out->exit_jumps = NULL;
    out->exit_regs = NULL;
    out->where = NULL;
    if (in->snaps->nsnaps == 0)
        return false;
    g.exits = malloc(in->snaps->nsnaps * sizeof *g.exits);
    g.klabel = malloc((in->ir->nk + 1) * sizeof *g.klabel);
    g.charges = malloc(in->snaps->nsnaps * sizeof *g.charges);
    out->exit_jumps = malloc(in->snaps->nsnaps * sizeof *out->exit_jumps);
    out->exit_regs = malloc(in->snaps->nsnaps * JIT_EXIT_REGS * sizeof *out->exit_regs);
    bool ok = g.exits && g.klabel && g.charges && out->exit_jumps && out->exit_regs && plan_pops(&g) &&
              allocate(&g) && plan_charges(&g);
    if (ok) {
        for (uint32_t k = 0; k < in->ir->nk; k++)
            g.klabel[k] = -1;
        ok = gen_trace(&g, out);
    }
    free(g.exits);
    free(g.klabel);
    free(g.charges);
    free(g.last);
    free(g.own_last);
    free(g.phi_of);
    free(g.fused);
    free(g.charge);
    free(g.refund);
    free(g.popped);
    free(g.weight);
    out->where = ok ? g.where : NULL;
    if (!ok) {
        free(g.where);
        free(out->exit_jumps);
        free(out->exit_regs);
        out->exit_jumps = NULL;
        out->exit_regs = NULL;
    }
    return ok;
}

#endif
