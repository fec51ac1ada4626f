/* The interpreter layer's entry points: loading verified code into its
 * internal form, running it, and calling PV functions from C. The stdlib,
 * the embedding API and the CLI drive a VM through these; the runtime below
 * (vm/runtime) never calls up into them. */
#ifndef PVM_INTERP_H
#define PVM_INTERP_H

#include "vm/runtime/vm.h"

/* Superinstructions (fuse.c): rewrites [p]'s decoded code in place. */
void pvmV_fuse(VM *vm, VmProto *p);
/* The back edge [jmp] of a loop the JIT gave up on dispatches from now on
 * to an instruction without its hook, so the loop costs nothing more than
 * in a VM without a JIT. */
void pvmV_back_edge_cold(VmInsn *jmp);

/* Loading: turns a verified image into a program bound to this VM. */
VmProgram *pvmV_load_image(VM *vm, const PbcImage *img);

/* Verifies then loads (program.c): false with a message in [err]
 * ("FUNCTION at offset N: RULE", or the reader's "file at offset N: ..."). */
bool pvmV_load_verified(VM *vm, const PbcImage *img, char *err, size_t errlen);
bool pvmV_load_bytes(VM *vm, const uint8_t *bytes, size_t len, char *err, size_t errlen);

/* Calls. pvmV_call raises on error; pvmV_pcall returns false and leaves the
 * error in vm->error (and the trace in vm->error_trace). */
Value pvmV_call(VM *vm, Value fn, int argc, const Value *args);
bool pvmV_pcall(VM *vm, Value fn, int argc, const Value *args, Value *result);

/* Runs [fn] with a protected boundary: false when it raised (vm->error). */
bool pvmV_protect(VM *vm, void (*fn)(VM *vm, void *ud), void *ud);

/* Prints the pending --trace line, if any. */
void pvmV_trace_flush(VM *vm);

/* Runs module 0 of the loaded program (and, through IMPORT, the others).
 * Returns false with vm->error set on an uncaught error. */
bool pvmV_run_program(VM *vm);

#endif
