/* Load-time fusion of instruction sequences into superinstructions (see
 * super.h for the contract). Per function: mark the jump targets, pick the
 * tiling of the code by patterns with the fewest dispatches (a pattern may
 * not swallow a jump target), rewrite, then fuse loop back edges. */
#include <stdlib.h>
#include <string.h>

#include "vm/interp/super.h"
#include "vm/interp/interp.h"

#define FUSE_MAX_LEN 7

typedef struct {
    uint16_t super;
    uint8_t len;
    uint16_t ops[FUSE_MAX_LEN];
} FusePattern;

static const FusePattern fuse_patterns[] = {
#define X(name, ...) { SOP_##name, sizeof((uint16_t[]){ __VA_ARGS__ }) / sizeof(uint16_t), { __VA_ARGS__ } },
    VM_SUPER_OPS(X)
#undef X
};

#define FUSE_NPATTERNS (sizeof fuse_patterns / sizeof fuse_patterns[0])
#define FUSE_NPAIRS (OP__COUNT * OP__COUNT)

/* The patterns grouped by their first two opcodes (every pattern has at
 * least two), in table order within a group: those starting with a, b
 * are order[start[a * OP__COUNT + b] .. start[a * OP__COUNT + b + 1]).
 * Each position then tries only the few that can match; trying all of
 * them made fusion 70 % of loading a large program. Built once per VM. */
struct FuseIndex {
    uint16_t start[FUSE_NPAIRS + 1];
    uint8_t order[FUSE_NPATTERNS];
};

static unsigned fuse_pair(uint16_t a, uint16_t b)
{
    return (unsigned)a * OP__COUNT + b;
}

static struct FuseIndex *fuse_index(VM *vm)
{
    _Static_assert(FUSE_NPATTERNS < 256, "FuseIndex holds pattern numbers in bytes");
    if (vm->tools.fuse_index)
        return vm->tools.fuse_index;
    struct FuseIndex *ix = pvmV_alloc_atomic(vm, sizeof *ix);
    /* A counting sort by pair: count, prefix sums, place (which leaves
     * each start at its group's end), shift back. */
    for (size_t f = 0; f < FUSE_NPATTERNS; f++)
        ix->start[fuse_pair(fuse_patterns[f].ops[0], fuse_patterns[f].ops[1]) + 1]++;
    for (unsigned k = 0; k < FUSE_NPAIRS; k++)
        ix->start[k + 1] += ix->start[k];
    for (size_t f = 0; f < FUSE_NPATTERNS; f++)
        ix->order[ix->start[fuse_pair(fuse_patterns[f].ops[0], fuse_patterns[f].ops[1])]++] = (uint8_t)f;
    for (unsigned k = FUSE_NPAIRS; k > 0; k--)
        ix->start[k] = ix->start[k - 1];
    ix->start[0] = 0;
    vm->tools.fuse_index = ix;
    return ix;
}

/* Marks in [target] every instruction index that some jump, try or
 * fornext targets. */
static void fuse_jump_targets(const VmProto *p, uint8_t *target)
{
    memset(target, 0, p->ncode + 1);
    for (uint32_t i = 0; i < p->ncode; i++) {
        if (pvmB_opcode_info[p->code[i].orig].operand == OPND_TARGET)
            target[p->code[i].arg] = 1;
    }
}

static bool fuse_matches(const VmProto *p, const uint8_t *target, uint32_t at, const FusePattern *f)
{
    if (at + f->len > p->ncode)
        return false;
    for (uint32_t k = 0; k < f->len; k++) {
        if (p->code[at + k].orig != f->ops[k])
            return false;
        if (k > 0 && target[at + k])
            return false;
    }
    return true;
}

/* Back edges into a fused fornext become one superinstruction. */
static void fuse_back_edges(VmProto *p)
{
    for (uint32_t i = 0; i < p->ncode; i++) {
        VmInsn *in = &p->code[i];
        if (in->op == OP_JMP && p->code[in->arg].op == SOP_FORNEXT_SL)
            in->op = SOP_JMP_FORNEXT_SL;
    }
}

void pvmV_back_edge_cold(VmInsn *jmp)
{
    if (jmp->op == OP_JMP)
        jmp->op = SOP_JMP_COLD;
    else if (jmp->op == SOP_JMP_FORNEXT_SL)
        jmp->op = SOP_JMP_FORNEXT_SL_COLD;
}

/* Chooses the tiling of the code by patterns that needs the fewest
 * dispatches (a shortest path over instruction positions, computed
 * backwards), then rewrites the first slot of every chosen sequence. */
void pvmV_fuse(VM *vm, VmProto *p)
{
    const struct FuseIndex *ix = fuse_index(vm);
    uint32_t n = p->ncode;
    /* Scratch for this call only. Fusion is an optimisation: without
     * memory for it the code simply runs unfused. */
    uint32_t *cost = malloc((size_t)(n + 1) * sizeof *cost);
    int16_t *choice = malloc((size_t)(n + 1) * sizeof *choice);
    uint8_t *target = malloc((size_t)n + 1);
    if (!cost || !choice || !target) {
        free(cost);
        free(choice);
        free(target);
        return;
    }
    fuse_jump_targets(p, target);
    cost[n] = 0;
    for (uint32_t i = n; i-- > 0;) {
        cost[i] = 1 + cost[i + 1];
        choice[i] = -1;
        if (i + 1 == n)
            continue;
        unsigned pair = fuse_pair(p->code[i].orig, p->code[i + 1].orig);
        for (unsigned k = ix->start[pair]; k < ix->start[pair + 1]; k++) {
            unsigned f = ix->order[k];
            const FusePattern *pat = &fuse_patterns[f];
            if (fuse_matches(p, target, i, pat) && 1 + cost[i + pat->len] < cost[i]) {
                cost[i] = 1 + cost[i + pat->len];
                choice[i] = (int16_t)f;
            }
        }
    }
    for (uint32_t i = 0; i < n;) {
        if (choice[i] < 0) {
            i++;
            continue;
        }
        p->code[i].op = fuse_patterns[choice[i]].super;
        i += fuse_patterns[choice[i]].len;
    }
    free(cost);
    free(choice);
    free(target);
    fuse_back_edges(p);
}
