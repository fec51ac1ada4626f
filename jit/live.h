/* Bytecode liveness of locals (live.c): which locals a snapshot may
 * leave out because the interpreter overwrites them before it reads them. */
#ifndef PVM_JIT_LIVE_H
#define PVM_JIT_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "vm/runtime/vm.h"

typedef struct {
    const VmProto *proto;
    uint64_t *in;    /* per instruction: locals live before it (bit 63: the 63rd on) */
    uint64_t always; /* locals live everywhere: captured ones, all with a try */
} JitLive;

/* Computes [p]'s liveness into [l]. False when out of memory. */
bool pvmJ_live_compute(JitLive *l, const VmProto *p);

/* Whether the interpreter, resuming before instruction [pc], may read
 * [local] before it writes it. */
bool pvmJ_live_local(const JitLive *l, uint32_t pc, uint32_t local);

void pvmJ_live_free(JitLive *l);

#endif
