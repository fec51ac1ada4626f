/* Snapshots: what a trace's guard needs to hand control back to the
 * interpreter exactly. A snapshot names the instruction to resume at, how
 * many frame slots are live there, and for each slot the trace changed the
 * IR ref whose value belongs in it (slots it did not change are already
 * right in the interpreter's stack, which the trace never moves). A
 * trace's exit code (jit/assemble.c) writes those slots back, boxing each
 * value into its 16-byte Value by the ref's IR type.
 *
 * A snapshot taken inside a call the trace inlined also lists the frames
 * the interpreter would have pushed by then (JitSnapFrame), so that an exit
 * pushes them onto vm->frames (jit/assemble.c) and the interpreter resumes
 * inside the callee, with the stack trace it would have had. Slots are numbered from
 * the trace's own frame: a callee's local 0 is just a higher slot. */
#ifndef PVM_JIT_SNAP_H
#define PVM_JIT_SNAP_H

#include "jit/ir.h"
#include "vm/runtime/value.h"
#include "vm/runtime/vm.h"

#define JIT_MAX_SNAPS 500u

typedef struct {
    uint16_t slot;  /* frame slot: local n is slot n, the operand stack follows */
    JitRef ref;
} JitSnapEntry;

/* A frame an inlined call pushed. Its closure is the value in the slot
 * below its local 0, where the interpreter keeps the callee (and where the
 * trace keeps it, untouched, until the call returns). */
typedef struct {
    uint16_t base;      /* slot of the frame's local 0 */
    uint32_t ret;       /* the caller's resume pc: the call's + 1, as CALL saves it */
    const VmInsn *ret_ip; /* that pc in the caller's code: the saved ip itself */
    const VmInsn *code; /* the callee's code (the closure's identity is guarded) */
} JitSnapFrame;

typedef struct {
    uint32_t map_start; /* its first entry in JitSnapList.map */
    uint16_t nentries;
    uint16_t nslots;    /* live frame slots at the resume point */
    uint32_t pc;        /* instruction index the interpreter resumes at */
    JitRef ref;         /* the first instruction it covers */
    uint32_t exits;     /* times taken: a hot exit grows a side trace */
    uint32_t side;      /* the side trace's number + 1, or 0 */
    uint32_t side_tries;/* side recordings from here that aborted */
    uint16_t nframes;   /* inlined frames live here, innermost last (0: none); pc is the innermost's */
    uint32_t frame_start; /* the first of them in JitSnapList.frames */
    uint8_t charged;    /* fuel the trace took before this snapshot that the
                         * interpreter, resuming, takes again (a call's
                         * unit, when its runtime call turns it down): the
                         * exit gives it back */
    uint8_t ccall;      /* the frame after a C call (CALLC): an exit that may
                         * have an error to raise, so never linked nor shared */
    uint8_t sunk;       /* holds a sunk map (sink.c), which the trace runner
                         * makes: never linked */
    uint8_t stitch;     /* the trace's end, before a call of a native it does
                         * not record: the interpreter makes the call and
                         * its side trace (side) runs from the instruction
                         * after it (jit.c, pvmJ_stitch), so never linked */
} JitSnap;

typedef struct {
    JitSnap *snaps;
    uint32_t nsnaps, snaps_cap;
    JitSnapEntry *map;
    uint32_t nmap, map_cap;
    JitSnapFrame *frames; /* frame chains: snapshots in one call share one */
    uint32_t nframes, frames_cap;
    bool failed;        /* out of memory or over JIT_MAX_SNAPS: abort */
} JitSnapList;

void pvmJ_snap_init(JitSnapList *s);
void pvmJ_snap_free(JitSnapList *s);

/* Takes a snapshot before instruction [ref] is emitted: slots[i] is the ref
 * now held by frame slot i, or JIT_REF_NONE when the trace has not written
 * it. Returns the snapshot's number, or -1 (and sets failed). */
int pvmJ_snap_take(JitSnapList *s, uint32_t pc, JitRef ref, const JitRef *slots, uint16_t nslots);

/* Appends a chain of [n] inlined frames, outermost first, for the
 * snapshots taken until the next call or return. Returns its start, or -1
 * (and sets failed). */
int32_t pvmJ_snap_add_frames(JitSnapList *s, const JitSnapFrame *frames, uint16_t n);

/* The interpreter's tag for values of IR type [type]. */
ValueType pvmJ_value_type(JitType type);


#endif
