/* The LOOP pass: loop-invariant code motion by copying the body.
 *
 * The recorded iteration (the pre-roll) runs once; after a LOOP marker the
 * pass emits a second copy of it through the fold engine, with every
 * operand substituted: a frame slot or global loaded in the pre-roll
 * becomes the value the pre-roll left in it, so the copy loads nothing the
 * trace itself holds, and an instruction whose operands are all invariant
 * folds (CSE) into its pre-roll original, i.e. it is hoisted, guards
 * included. What does change between iterations is carried by PHIs at the
 * end: "PHI a b" sets a's location to b's value before the copy runs
 * again. Each guard of the copy gets a snapshot: the frame at the loop
 * header (the loop-carried values) overlaid with the substituted entries
 * of the pre-roll guard's snapshot, and the same inlined frames.
 *
 * The copy may reuse a pre-roll instruction only if it is invariant (CSE
 * is told which are not), since a pre-roll value that depends on a
 * loop-carried one is the first iteration's, not the current one's. A
 * boxed load is invariant when its address is and no store of the loop may
 * write there (classify_addr: stores to fields of other names, or to array
 * elements, cannot). A loop that adds fields to maps or pushes onto
 * arrays (CALLR of map_set, push) reloads every boxed value, every word of
 * a map and every array's length and kind each trip.
 *
 * When the types a loop carries are not stable (a slot that enters the
 * loop as an int and leaves it as a float), or a guard of the copy could
 * never hold, the pass leaves the trace as it was. */
#include <stdlib.h>
#include <string.h>

#include "jit/loop.h"

typedef struct {
    JitIR *ir;
    JitSnapList *snaps;
    uint32_t nloop;         /* instructions in the pre-roll */
    const JitSnap *header;  /* the frame at the loop header */
    JitRef *subst;          /* pre-roll instruction -> its value in the copy */
    uint8_t *variant;       /* pre-roll instruction differs between iterations */
    int32_t *snap_of;       /* pre-roll instruction -> the snapshot of its guard */
    JitRef *header_slots;   /* slot -> value carried into the loop, or NONE */
    JitRef *scratch;        /* a dense slot array for pvmJ_snap_take */
    uint32_t nslots;
    bool inserts;           /* the loop adds fields to maps or pushes (CALLR) */
} Loop;

static JitRef subst(const Loop *l, JitRef ref)
{
    if (pvmJ_ref_is_const(ref) || ref == JIT_REF_NONE)
        return ref;
    return l->subst[ref - JIT_REF_BIAS];
}

static bool is_variant_ref(const Loop *l, JitRef ref)
{
    return !pvmJ_ref_is_const(ref) && ref != JIT_REF_NONE && l->variant[ref - JIT_REF_BIAS];
}

/* The global's value at the end of the pre-roll, if it stored one. */
static JitRef stored_global(const Loop *l, JitRef addr)
{
    JitRef last = JIT_REF_NONE;
    for (uint32_t i = 0; i < l->nloop; i++) {
        const JitIns *in = &l->ir->ins[i];
        if (in->op == JIT_IR_GSTORE && in->a == addr)
            last = in->b;
    }
    return last;
}

static JitRef carried(const Loop *l, const JitIns *in)
{
    if (in->op == JIT_IR_SLOAD)
        return in->a < l->nslots ? l->header_slots[in->a] : JIT_REF_NONE;
    return stored_global(l, in->a);
}

static JitType type_of(const JitIR *ir, JitRef ref)
{
    return (JitType)pvmJ_ir_at(ir, ref)->type;
}

/* What a Value address points into, as far as the IR tells: a map entry
 * whose key a HKEY guard checked (an entry's key changes only in a
 * mutating call, remove or a rebuild, after which fields are found anew
 * and, in a loop, every trip: entries checked with different keys are
 * different entries),
 * a boxed array's element (another allocation than any map's), or not
 * known. */
typedef struct {
    enum { ADDR_UNKNOWN, ADDR_FIELD, ADDR_ELEMENT } kind;
    JitRef key;
} AddrClass;

static AddrClass classify_addr(const JitIR *ir, JitRef addr)
{
    AddrClass c = { ADDR_UNKNOWN, JIT_REF_NONE };
    if (pvmJ_ref_is_const(addr))
        return c;
    const JitIns *in = pvmJ_ir_at(ir, addr);
    if (in->op == JIT_IR_AREF) {
        c.kind = ADDR_ELEMENT;
        return c;
    }
    /* A field's value is at its entry's address (PvMapEntry.value is first) */
    for (JitRef h = ir->chain[JIT_IR_HKEY]; h != JIT_REF_NONE; h = pvmJ_ir_at(ir, h)->prev) {
        if (pvmJ_ir_at(ir, h)->a == addr) {
            c.kind = ADDR_FIELD;
            c.key = pvmJ_ir_at(ir, h)->b;
            return c;
        }
    }
    return c;
}

static bool may_alias(const JitIR *ir, JitRef load, JitRef store)
{
    if (load == store)
        return true;
    AddrClass a = classify_addr(ir, load), b = classify_addr(ir, store);
    if (a.kind == ADDR_UNKNOWN || b.kind == ADDR_UNKNOWN)
        return true;
    if (a.kind != b.kind)
        return false;
    return a.kind == ADDR_ELEMENT || a.key == b.key;
}

/* A boxed load at [addr] that no store of the loop may change reads the
 * same value on every trip. (ASTORE writes unboxed storage and GSTORE a
 * module's globals, neither of them a Value an XLOAD reads.) */
static bool clobbered(const Loop *l, JitRef addr)
{
    if (l->inserts) /* map_set may write any map's field */
        return true;
    for (uint32_t i = 0; i < l->nloop; i++) {
        const JitIns *in = &l->ir->ins[i];
        if (in->op == JIT_IR_XSTORE && may_alias(l->ir, addr, in->a))
            return true;
    }
    return false;
}

/* Which pre-roll instructions differ between iterations: loads of what the
 * loop changes, memory loads and effects, and whatever uses them. */
static bool mark_variant(Loop *l)
{
    for (uint32_t i = 0; i < l->nloop; i++) {
        const JitIns *in = &l->ir->ins[i];
        if (pvmJ_ir_mutates(l->ir, (JitOp)in->op, in->b))
            l->inserts = true;
    }
    for (uint32_t i = 0; i < l->nloop; i++) {
        const JitIns *in = &l->ir->ins[i];
        const JitOpInfo *info = &pvmJ_ir_ops[in->op];
        bool v = (info->flags & (JIT_F_EFFECT | JIT_F_LOAD)) != 0;
        if (in->op == JIT_IR_XLOAD)
            v = is_variant_ref(l, in->a) || clobbered(l, in->a);
        /* a map's used count, key filter and the rest change when the
         * loop adds fields, and an array's length, items and element
         * addresses when it pushes (which may grow it): read again each
         * trip (within a trip, the recorder renames a map it added to,
         * rec_setfield_new) */
        if (l->inserts && ((in->op == JIT_IR_FLOAD && (type_of(l->ir, in->a) == JIT_T_MAP ||
                                                        type_of(l->ir, in->a) == JIT_T_ARR)) ||
                           in->op == JIT_IR_ALEN || in->op == JIT_IR_AKIND || in->op == JIT_IR_AREF))
            v = true;
        if (in->op == JIT_IR_SLOAD || in->op == JIT_IR_GLOAD) {
            JitRef c = carried(l, in);
            if (c != JIT_REF_NONE && type_of(l->ir, c) != in->type)
                return false; /* the loop changes the value's type */
            v = c != JIT_REF_NONE;
        } else {
            v = v || (info->o1 == JIT_O_REF && is_variant_ref(l, in->a)) ||
                (info->o2 == JIT_O_REF && is_variant_ref(l, in->b));
        }
        l->variant[i] = v;
    }
    return true;
}

/* The snapshot for the copy of pre-roll instruction [i]'s guard. */
static bool copy_snapshot(Loop *l, uint32_t i)
{
    const JitSnap *s = &l->snaps->snaps[l->snap_of[i]];
    for (uint32_t k = 0; k < s->nslots; k++)
        l->scratch[k] = k < l->nslots ? l->header_slots[k] : JIT_REF_NONE;
    for (uint32_t e = 0; e < s->nentries; e++) {
        const JitSnapEntry *en = &l->snaps->map[s->map_start + e];
        l->scratch[en->slot] = subst(l, en->ref);
    }
    JitRef next = (JitRef)(JIT_REF_BIAS + l->ir->nins);
    uint16_t nframes = s->nframes; /* s moves when the list grows */
    uint32_t frame_start = s->frame_start;
    uint8_t ccall = s->ccall, charged = s->charged;
    int n = pvmJ_snap_take(l->snaps, s->pc, next, l->scratch, s->nslots);
    if (n < 0)
        return false;
    /* inside an inlined call: the same frames (the chain is shared) */
    l->snaps->snaps[n].nframes = nframes;
    l->snaps->snaps[n].frame_start = frame_start;
    l->snaps->snaps[n].ccall = ccall;
    l->snaps->snaps[n].charged = charged;
    return true;
}

static bool copy_ins(Loop *l, uint32_t i)
{
    const JitIns *in = &l->ir->ins[i];
    const JitOpInfo *info = &pvmJ_ir_ops[in->op];
    if (in->op == JIT_IR_SLOAD || in->op == JIT_IR_GLOAD) {
        JitRef c = carried(l, in);
        l->subst[i] = c != JIT_REF_NONE ? c : (JitRef)(JIT_REF_BIAS + i);
        return true;
    }
    /* The base register: a loop trace never moves it (only side and
     * function traces return into a caller, RETF), so its frame's address
     * and what is computed from it are hoisted. */
    if (in->op == JIT_IR_BASE) {
        l->subst[i] = (JitRef)(JIT_REF_BIAS + i);
        return true;
    }
    if (in->op == JIT_IR_XLOAD && !l->variant[i]) { /* hoisted: the pre-roll's value holds */
        l->subst[i] = (JitRef)(JIT_REF_BIAS + i);
        return true;
    }
    JitIns copy = *in;
    if (info->o1 == JIT_O_REF)
        copy.a = subst(l, in->a);
    if (info->o2 == JIT_O_REF)
        copy.b = subst(l, in->b);
    bool guard = (info->flags & JIT_F_GUARD) != 0;
    /* A C call's snapshot is the frame after it, holding its own result:
     * the copy's is the ref the copy is about to get (effects are
     * appended as they are). */
    if (in->op == JIT_IR_CALLC)
        l->subst[i] = (JitRef)(JIT_REF_BIAS + l->ir->nins);
    if (guard && (l->snap_of[i] < 0 || !copy_snapshot(l, i)))
        return false;
    uint32_t before = l->ir->nins;
    JitRef r;
    if (info->flags & (JIT_F_EFFECT | JIT_F_LOAD)) {
        r = pvmJ_ir_append(l->ir, (JitOp)copy.op, (JitType)copy.type, copy.a, copy.b);
    } else {
        bool fails;
        r = pvmJ_fold_emit(l->ir, (JitOp)copy.op, (JitType)copy.type, copy.a, copy.b, &fails);
        if (fails)
            return false;
    }
    if (guard && l->ir->nins == before) { /* folded away: its snapshot is not needed */
        l->snaps->nsnaps--;
        l->snaps->nmap = l->snaps->snaps[l->snaps->nsnaps].map_start;
    }
    l->subst[i] = r;
    return !l->ir->failed && !l->snaps->failed;
}

static bool already_phi(const Loop *l, JitRef a)
{
    for (uint32_t i = l->ir->loop - JIT_REF_BIAS; i < l->ir->nins; i++)
        if (l->ir->ins[i].op == JIT_IR_PHI && l->ir->ins[i].a == a)
            return true;
    return false;
}

static void emit_phis(Loop *l)
{
    for (uint32_t k = 0; k < l->nslots; k++) {
        JitRef a = l->header_slots[k];
        if (a != JIT_REF_NONE && !pvmJ_ref_is_const(a) && subst(l, a) != a && !already_phi(l, a))
            pvmJ_ir_append(l->ir, JIT_IR_PHI, (JitType)type_of(l->ir, a), a, subst(l, a));
    }
    for (uint32_t i = 0; i < l->nloop; i++) {
        const JitIns *in = &l->ir->ins[i];
        JitRef a = in->b;
        if (in->op != JIT_IR_GSTORE || stored_global(l, in->a) != a || pvmJ_ref_is_const(a))
            continue;
        if (subst(l, a) != a && !already_phi(l, a))
            pvmJ_ir_append(l->ir, JIT_IR_PHI, (JitType)type_of(l->ir, a), a, subst(l, a));
    }
}

static bool loop_alloc(Loop *l)
{
    uint32_t widest = 0;
    for (uint32_t s = 0; s < l->snaps->nsnaps; s++)
        if (l->snaps->snaps[s].nslots > widest)
            widest = l->snaps->snaps[s].nslots;
    l->subst = calloc(l->nloop + 1u, sizeof *l->subst);
    l->variant = calloc(l->nloop + 1u, 1);
    l->snap_of = malloc((l->nloop + 1u) * sizeof *l->snap_of);
    l->header_slots = calloc(l->nslots + 1u, sizeof *l->header_slots);
    l->scratch = calloc(widest + 1u, sizeof *l->scratch);
    return l->subst && l->variant && l->snap_of && l->header_slots && l->scratch;
}

static void loop_free(Loop *l)
{
    free(l->subst);
    free(l->variant);
    free(l->snap_of);
    free(l->header_slots);
    free(l->scratch);
}

/* What the frame holds at the loop header, and which snapshot each
 * pre-roll guard has. */
static void loop_index(Loop *l)
{
    const JitSnap *h = &l->snaps->snaps[l->snaps->nsnaps - 1];
    for (uint32_t e = 0; e < h->nentries; e++) {
        const JitSnapEntry *en = &l->snaps->map[h->map_start + e];
        l->header_slots[en->slot] = en->ref;
    }
    for (uint32_t i = 0; i < l->nloop; i++)
        l->snap_of[i] = -1;
    for (uint32_t s = 0; s + 1 < l->snaps->nsnaps; s++) {
        uint32_t at = l->snaps->snaps[s].ref - JIT_REF_BIAS;
        if (at < l->nloop)
            l->snap_of[at] = (int32_t)s;
    }
}

static bool loop_copy(Loop *l)
{
    if (!mark_variant(l))
        return false;
    l->ir->variant = l->variant;
    l->ir->nvariant = l->nloop;
    l->ir->loop = pvmJ_ir_append(l->ir, JIT_IR_LOOP, JIT_T_VOID, 1, 0);
    bool ok = l->ir->loop != JIT_REF_NONE;
    for (uint32_t i = 0; ok && i < l->nloop; i++)
        ok = copy_ins(l, i);
    if (ok)
        emit_phis(l);
    l->ir->variant = NULL;
    return ok && !l->ir->failed && !l->snaps->failed;
}

bool pvmJ_loop_optimize(JitIR *ir, JitSnapList *snaps)
{
    if (snaps->nsnaps == 0 || ir->nins == 0)
        return false;
    Loop l = { .ir = ir, .snaps = snaps, .nloop = ir->nins };
    l.nslots = snaps->snaps[snaps->nsnaps - 1].nslots;
    uint32_t nins = ir->nins, nsnaps = snaps->nsnaps, nmap = snaps->nmap;
    JitRef mutated = ir->mutated;
    JitRef chain[JIT_IR__COUNT];
    memcpy(chain, ir->chain, sizeof chain);
    bool ok = loop_alloc(&l);
    if (ok) {
        loop_index(&l);
        ok = loop_copy(&l);
    }
    if (!ok) { /* the trace stays as recorded */
        ir->nins = nins;
        memcpy(ir->chain, chain, sizeof chain);
        ir->loop = JIT_REF_NONE;
        ir->mutated = mutated;
        ir->failed = false;
        snaps->nsnaps = nsnaps;
        snaps->nmap = nmap;
        snaps->failed = false;
    }
    loop_free(&l);
    return ok;
}
