/* Which locals of a function are live before each of its instructions:
 * read (getlocal) on some path from there before any write (setlocal).
 * A snapshot leaves a dead local out (record.c), as LuaJIT's snapshots
 * do with the slots its bytecode liveness finds dead: an exit then does
 * not write it, and a value only a dead local holds at a loop's header is
 * not carried round the loop (no PHI), so a temporary object made in the
 * loop and held in a local the next trip overwrites can be sunk
 * (sink.c). The interpreter never reads a dead local, so what the frame
 * holds there does not matter.
 *
 * A local some closure of the function captures is always live (the
 * closure reads it through its cell, not getlocal), and in a function with
 * a try every local is (a throw anywhere in the block reaches the
 * handler, which this analysis does not follow). Locals from the 64th on
 * are always live: one word per instruction. */
#include <stdlib.h>
#include <string.h>

#include "jit/live.h"

/* Locals from the 63rd on share bit 63, which nothing kills. */
static uint64_t local_bit(uint32_t index)
{
    return index < 63 ? UINT64_C(1) << index : UINT64_C(1) << 63;
}

/* Locals always live in [p]: those its closures capture, or all of them
 * when it has a try. */
static uint64_t always_live(const VmProto *p)
{
    uint64_t live = p->nlocals > 63 ? local_bit(63) : 0;
    for (uint32_t pc = 0; pc < p->ncode; pc++) {
        const VmInsn *in = &p->code[pc];
        if (in->orig == OP_TRY)
            return ~UINT64_C(0);
        if (in->orig != OP_CLOSURE)
            continue;
        const VmProto *inner = p->program->protos[in->arg];
        for (uint32_t u = 0; u < inner->nupvals; u++)
            if (inner->upvals[u].from_local)
                live |= local_bit(inner->upvals[u].index);
    }
    return live;
}

/* Live-in of instruction [pc] given its successors' live-ins. */
static uint64_t live_in(const VmProto *p, const uint64_t *in, uint32_t pc)
{
    const VmInsn *ins = &p->code[pc];
    const OpcodeInfo *info = &pvmB_opcode_info[ins->orig];
    uint64_t out = 0;
    if ((info->flow == FLOW_NEXT || info->flow == FLOW_BRANCH) && pc + 1 < p->ncode)
        out |= in[pc + 1];
    if ((info->flow == FLOW_BRANCH || info->flow == FLOW_JUMP) && (uint32_t)ins->arg < p->ncode)
        out |= in[ins->arg];
    if (ins->orig == OP_SETLOCAL && ins->arg < 63)
        out &= ~local_bit((uint32_t)ins->arg);
    if (ins->orig == OP_GETLOCAL)
        out |= local_bit((uint32_t)ins->arg);
    return out;
}

bool pvmJ_live_compute(JitLive *l, const VmProto *p)
{
    l->proto = p;
    l->in = calloc(p->ncode + 1u, sizeof *l->in);
    if (!l->in)
        return false;
    l->always = always_live(p);
    if (l->always == ~UINT64_C(0))
        return true;
    /* backward passes to the fixed point: loops need a few */
    for (bool changed = true; changed;) {
        changed = false;
        for (uint32_t pc = p->ncode; pc-- > 0;) {
            uint64_t v = live_in(p, l->in, pc);
            if (v != l->in[pc]) {
                l->in[pc] = v;
                changed = true;
            }
        }
    }
    return true;
}

bool pvmJ_live_local(const JitLive *l, uint32_t pc, uint32_t local)
{
    uint64_t bit = local_bit(local);
    if (l->always & bit)
        return true;
    return pc < l->proto->ncode && (l->in[pc] & bit) != 0;
}

void pvmJ_live_free(JitLive *l)
{
    free(l->in);
    memset(l, 0, sizeof *l);
}
