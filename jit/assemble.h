/* The backend's entry point: a recorded trace to machine code in a buffer
 * (jit/assemble.c describes the code it makes). */
#ifndef PVM_JIT_ASSEMBLE_H
#define PVM_JIT_ASSEMBLE_H

#include "jit/sink.h"
#include "jit/snap.h"
#include "jit/x86.h"
#include "vm/runtime/vm.h"

/* The machine code's signature. It runs with the frame whose local 0 is
 * [base]; [vals] has PVMJ_VALS words of collector-scanned memory for the
 * values the register allocator spills, and the word before them is the
 * VM's interrupt_mirror, polled at every CHARGE as [vals - 8]. It returns
 * exit_base + s for the snapshot s through which the last trace it ran
 * left (the frame already written back). */
#define PVMJ_VALS JIT_MAX_INS
#define PVMJ_VALS_POLL (-8) /* the interrupt mirror, from vals */
/* After the homes, the sink buffer: JIT_SINK_BUF_VALUES Values an exit
 * stores for the trace runner to make the sunk maps it holds from
 * (sink.h); PVMJ_VALS_ALL words in all. */
#define PVMJ_SINK_BUF PVMJ_VALS
#define PVMJ_VALS_ALL (PVMJ_VALS + 2u * JIT_SINK_BUF_VALUES)
/* Set in the snapshot's part of an exit's return value when the sunk
 * objects it holds are not made yet: the runner makes them, raising what
 * their allocation raises (the exit's code made them itself otherwise). */
#define PVMJ_EXIT_SINK_PENDING 0x8000u
typedef uint32_t (*JitEntry)(Value *base, uint64_t *vals);

typedef struct {
    VM *vm;              /* whose fuel and interrupt flag the trace polls */
    const JitIR *ir;
    const JitSnapList *snaps;
    uint32_t exit_base;  /* added to a snapshot's number in the return value */
    uint64_t *trips;     /* counts trips round the loop, or NULL: no counting */
    uint32_t share_exits; /* exits share code in traces of this many snapshots or more
                           * (0: the default) */
    /* Where the trace will keep its IR and snapshots (JitTrace), which an
     * exit holding a sunk object passes to pvmJ_rt_sink. */
    const JitIR *kept_ir;
    const JitSnapList *kept_snaps;
    /* The value area the trace will run with (r12), or NULL: fixed
     * addresses near it (the VM's fields, globals) are reached from r12. */
    const uint64_t *vals;
} JitAsmIn;

typedef struct {
    uint32_t body;        /* offset of the code past the prologue: where other traces jump in */
    /* When the trace starts with a type-guarded load of a slot: the offset
     * past that guard, where an exit that wrote the slot with that type
     * may jump in instead (0: none), the slot and its type. */
    uint32_t body_typed;
    uint32_t typed_slot;
    uint8_t typed_type;
    /* When the trace starts with a load of a slot (guarded or not) whose
     * payload goes to a register no exit's code writes: the offset past
     * the load (0: none), the slot and the register. An exit leaving that
     * slot's value in that register may jump in there. */
    uint32_t body_loaded;
    uint32_t loaded_slot;
    uint8_t loaded_reg;
    uint32_t *exit_jumps; /* per snapshot, the offset of the rel32 of the jmp that leaves
                           * through it once the frame is written (malloc'ed; the caller frees) */
    /* Per snapshot, JIT_EXIT_REGS slots: for each register no exit's code
     * writes (pvmJ_exit_reg), the frame slot it holds the trace's load of
     * when the exit jumps on, a slot the exit leaves alone; or JIT_NO_SLOT
     * (malloc'ed; the caller frees). */
    uint16_t *exit_regs;
    /* Per IR instruction, the register its value is in (an exit stores
     * its snapshot's values from there), or 0xFF (malloc'ed; the caller
     * frees). */
    uint8_t *where;
} JitAsmOut;
#define JIT_EXIT_REGS 2u
#define JIT_NO_SLOT 0xFFFFu
/* The index among those registers of [reg], or -1. */
int pvmJ_exit_reg(uint8_t reg);

/* Appends the trace to [a]; false for an IR instruction the backend has no
 * code for, or an encoder or allocation error. */
bool pvmJ_assemble(PvmjAsm *a, const JitAsmIn *in, JitAsmOut *out);

#endif
