/* The interactive prompt of the pvm program (`pvm` on a terminal, `pvm -i`).
 *
 * Part of the pvm program, not of libpvm.a: it needs libedit, which only
 * pvm links (the Makefile keeps vm/repl*.c out of the library). */
#ifndef PVM_REPL_H
#define PVM_REPL_H

#include <stdbool.h>

#include "vm/interp/interp.h"

/* Reads inputs from stdin and runs each in [vm] until end of input.
 * [terminal]: stdin is a terminal, so lines are read with libedit (line
 * editing, history in ~/.pvm_history) after a prompt; otherwise they are
 * read plainly and no prompt is written. Returns the exit status: 0. */
int repl_run(VM *vm, bool terminal);

#endif
