/* The LOOP pass (loop.c): the recorded iteration becomes a pre-roll
 * followed by a copy of the loop body in which invariant code has folded
 * away, with PHIs for the values the loop carries. */
#ifndef PVM_JIT_LOOP_H
#define PVM_JIT_LOOP_H

#include "jit/snap.h"

/* Runs on a finished recording whose last snapshot is the frame at the
 * loop header. False (and the IR unchanged) when the loop's types are not
 * stable or the copy cannot be made; the trace then writes the frame back
 * and restarts each iteration. */
bool pvmJ_loop_optimize(JitIR *ir, JitSnapList *snaps);

#endif
