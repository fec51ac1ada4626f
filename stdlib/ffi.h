/* The ffi module: calls into host C libraries through libffi and dlopen,
 * C-callable callbacks into PV, and checked access to host memory.
 * docs/ffi.md is the user's manual. */
#ifndef PVM_STDLIB_FFI_H
#define PVM_STDLIB_FFI_H

#include "vm/runtime/vm.h"

/* What a pointer value (PvPointer, vm/runtime/object.h) refers to. The kind decides
 * what ffi.read/ffi.write may do with it and what [owner] holds. */
enum {
    PV_PTR_FOREIGN,  /* memory C gave us: unchecked, owner NULL */
    PV_PTR_BLOCK,    /* inside an ffi.alloc block: owner is the block, size its length */
    PV_PTR_CALLBACK, /* an ffi.callback's code: owner keeps its closure alive */
    PV_PTR_LIBRARY,  /* an ffi.open handle: owner closes the library when collected */
};

/* Registers the `ffi` module map in [vm]'s built-in scope. Every function in
 * it throws "ffi is disabled" while vm->ffi_disabled is set. */
void pvmL_open_ffi(VM *vm);

/* A foreign pointer value for [addr] (NULL gives the null pointer). */
Value pvmF_pointer(VM *vm, void *addr);

#endif
