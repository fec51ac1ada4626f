/* Allocation sinking (sink.c): maps a trace makes and no other object
 * ever reaches are not made at all. The recorder reads their fields from
 * the IR that made them (pvmJ_sink_field); the sink pass marks the calls
 * that would make them (JitIR.sunk), which the backend leaves out; an exit
 * that holds one in a slot stores the values it was made of, and the
 * trace runner makes it there (pvmJ_sink_restore), as the interpreter
 * would have made it. docs/jit.md, "Allocation sinking". */
#ifndef PVM_JIT_SINK_H
#define PVM_JIT_SINK_H

#include "jit/ir.h"
#include "jit/snap.h"
#include "vm/runtime/value.h"
#include "vm/runtime/vm.h"

/* The most values one sunk map is made of (pairs, then fields added). */
#define JIT_SINK_MAX_VALUES 32u
/* The Values an exit may store for the maps it makes: the sink buffer
 * after the value area's homes (jit.c, assemble.c). */
#define JIT_SINK_BUF_VALUES 128u

/* A map a trace made, as the recorder sees it: the CALLR of its literal
 * (rt_map) or of a fresh setfield on one (rt_setfield_fresh), when no
 * instruction so far uses any of its refs but the next setfield. */
bool pvmJ_sink_fresh(const JitIR *ir, JitRef m);

typedef enum { JIT_FIELD_UNKNOWN, JIT_FIELD_ABSENT, JIT_FIELD_FOUND } JitFieldKnown;

/* Field [key] (a constant string ref) of the fresh map [m], from the
 * values it was made of: FOUND with the value's ref, ABSENT when none of
 * its keys can be [key], UNKNOWN when a key is not a constant. */
JitFieldKnown pvmJ_sink_field(const JitIR *ir, JitRef m, JitRef key, JitRef *value);

/* Element [index] of the array [a] the trace made: true with its length
 * and, for an index within it, the element's ref; false when [a] is no
 * array literal of the trace (the recorder asks pvmJ_sink_fresh first). */
bool pvmJ_sink_element(const JitIR *ir, JitRef a, int64_t index, JitRef *value, uint32_t *len);

/* The sink pass: marks the objects no instruction uses but as a
 * snapshot's value or the next setfield's map (JitIR.sunk), and the
 * snapshots that hold one (JitSnap.sunk). [last_written] is true for a
 * trace that writes its last snapshot whenever it gets to its end (LOOP
 * #0 writes it back itself, an EXIT leaves through it): what it holds is
 * not sunk. False when out of memory (nothing is sunk then). */
bool pvmJ_sink_pass(JitIR *ir, JitSnapList *snaps, bool last_written);

/* Whether [ref] is a sunk map (or a step of one). */
static inline bool pvmJ_sunk(const JitIR *ir, JitRef ref)
{
    return ir->sunk && !pvmJ_ref_is_const(ref) && ref != JIT_REF_NONE && ir->sunk[ref - JIT_REF_BIAS];
}

/* The refs of the values sunk map [m] is made of, in the order an exit
 * stores them: the literal's keys and values, then each added field's
 * value. Returns how many ([max] at most). */
uint32_t pvmJ_sink_values(const JitIR *ir, JitRef m, JitRef *out, uint32_t max);

/* The most bytes making the sunk objects snapshot [s] holds allocates. */
size_t pvmJ_sink_bytes(const JitIR *ir, const JitSnapList *snaps, uint32_t s);

/* Makes the sunk maps snapshot [s] holds, from the values its exit stored
 * in [buf] (for each distinct sunk ref in entry order, its
 * pvmJ_sink_values), into the slots from [slots]. Allocates through the
 * funnel, so it may raise (the memory limit, out of memory) as the
 * interpreter would, at the exit's instruction. */
void pvmJ_sink_restore(VM *vm, const JitIR *ir, const JitSnapList *snaps, uint32_t s, Value *slots,
                       const Value *buf);

#endif
