/* The backend's entry point: a recorded trace to machine code in a buffer
 * (jit/assemble.c describes the code it makes). */
#ifndef PVM_JIT_ASSEMBLE_H
#define PVM_JIT_ASSEMBLE_H

#include "jit/snap.h"
#include "jit/x86.h"
#include "vm/runtime/vm.h"

/* The machine code's signature: returns the number of the snapshot whose
 * guard failed. [vals] has PVMJ_VALS words: one per IR instruction, then
 * scratch for the PHIs' parallel copy. */
#define PVMJ_VALS (2u * JIT_MAX_INS)
typedef uint32_t (*JitEntry)(Value *base, uint64_t *vals);

/* Appends the trace to [a]; false for an IR instruction the backend has no
 * code for, or an encoder error. Each trip round the loop adds one to
 * [*trips] and to [*all_trips]. */
bool pvmJ_assemble(PvmjAsm *a, VM *vm, const JitIR *ir, const JitSnapList *snaps, uint64_t *trips,
                   uint64_t *all_trips);

#endif
