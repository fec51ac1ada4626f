/* Load-time fusion of instruction sequences into superinstructions (see
 * super.h for the contract). Per function: mark the jump targets, pick the
 * tiling of the code by patterns with the fewest dispatches (a pattern may
 * not swallow a jump target), rewrite, then fuse loop back edges. */
#include <string.h>

#include "super.h"
#include "vm.h"

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

/* Marks every instruction index that some jump, try or fornext targets. */
static uint8_t *fuse_jump_targets(VM *vm, const VmProto *p)
{
    uint8_t *target = vm_alloc_atomic(vm, p->ncode + 1);
    for (uint32_t i = 0; i < p->ncode; i++) {
        if (vm_opcode_info[p->code[i].orig].operand == OPND_TARGET)
            target[p->code[i].arg] = 1;
    }
    return target;
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

/* Chooses the tiling of the code by patterns that needs the fewest
 * dispatches (a shortest path over instruction positions, computed
 * backwards), then rewrites the first slot of every chosen sequence. */
void vm_fuse(VM *vm, VmProto *p)
{
    const uint8_t *target = fuse_jump_targets(vm, p);
    size_t npatterns = sizeof fuse_patterns / sizeof fuse_patterns[0];
    uint32_t n = p->ncode;
    uint32_t *cost = vm_alloc_atomic(vm, vm_checked_size(vm, n + 1, sizeof(uint32_t), 0));
    int16_t *choice = vm_alloc_atomic(vm, vm_checked_size(vm, n + 1, sizeof(int16_t), 0));
    cost[n] = 0;
    for (uint32_t i = n; i-- > 0;) {
        cost[i] = 1 + cost[i + 1];
        choice[i] = -1;
        for (size_t f = 0; f < npatterns; f++) {
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
    fuse_back_edges(p);
}
