/* The standard library: the built-in functions (print, str, len, ...) and the
 * modules math, string, array, io and os, registered into a VM's built-in
 * scope. LANGUAGE.md sections 8 to 10 are the contract; docs/stdlib.md
 * documents every function. */
#ifndef PVM_STDLIB_H
#define PVM_STDLIB_H

#include "vm/runtime/vm.h"

/* Registers every built-in function and module in [vm]'s built-in scope.
 * [argv] holds the [argc] program arguments that follow the script name;
 * they become os.args (copied, so the caller may free them). */
void pvmL_open(VM *vm, int argc, char **argv);

#endif
