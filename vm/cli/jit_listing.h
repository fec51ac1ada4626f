/* The machine-code disassembler the pvm command gives the JIT's -j dump
 * (jit_listing.c), or NULL when pvm was built without one. */
#ifndef PVM_CLI_JIT_LISTING_H
#define PVM_CLI_JIT_LISTING_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void (*pvm_cli_disassembler(void))(FILE *out, const uint8_t *code, size_t len);

#endif
