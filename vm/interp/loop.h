/* What the dispatch loop (interp.c) shares with the files around it: its
 * entry point, and the out-of-line pieces it calls (protect.c, trace.c).
 * The switch build compiles interp.c a second time and links it ahead of
 * libpvm.a, so everything crossing that boundary is extern and pvmV_ named,
 * or static inline in a header. */
#ifndef PVM_LOOP_H
#define PVM_LOOP_H

#include "vm/interp/interp.h"

/* Runs frames until the frame count falls back to [stop]; the result of the
 * frame at index [stop] is left in its callee slot (interp.c). A throw no
 * try of this run catches goes on to the enclosing boundary; with
 * [boundary], pvmV_execute returns false instead (vm->error set, the state
 * as the throw left it, for the caller to restore). True otherwise. */
bool pvmV_execute(VM *vm, size_t stop, bool boundary);

/* Try blocks (protect.c): TRY pushes a handler for the innermost frame;
 * after a throw reached a run, pvmV_catch resumes at the innermost handler
 * if it belongs to a frame of that run (index >= [stop]). */
void pvmV_push_handler(VM *vm, Value *top, const VmInsn *catch_ip);
bool pvmV_catch(VM *vm, size_t stop);

/* --trace (trace.c): starts the line for the instruction at [ip], after
 * finishing the previous one with [f]'s operand stack. */
void pvmV_trace_step(VM *vm, const VmFrame *f, const VmInsn *ip);

#endif
