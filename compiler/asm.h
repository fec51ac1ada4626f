/* The textual assembly (.pva): assembler and disassembler.
 *
 * A .pva file is the readable twin of a .pbc file: one directive or one
 * instruction per line, with labels, symbolic function names and inline
 * constants (docs/bytecode.md, "Assembly syntax", is the full grammar).
 * Disassembling any valid image and assembling the text again gives a
 * byte-identical .pbc. The assembler does not verify: pass its output to
 * pvmB_verify before writing or running it. */
#ifndef PVM_ASM_H
#define PVM_ASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vm/bytecode/pbc.h"

/* Assembles [len] bytes of .pva text from [src] into [out], which this
 * function initialises. Every error is written to [errors] as
 * "FILENAME:LINE: error: MESSAGE\n" (several per run where possible).
 * Returns true on success; on failure [out] is left empty (pvmB_free on it
 * is harmless) and false is returned. Never crashes on bad input. */
bool pvmC_assemble(const char *src, size_t len, const char *filename, PbcImage *out,
                  FILE *errors);

/* Is [s] ([n] bytes) an identifier, [A-Za-z_][A-Za-z0-9_.]*? Such names
 * may be written bare; the disassembler quotes every other name. */
bool pvmC_is_identifier(const char *s, size_t n);

/* Writes [img] as .pva text to [out]. Returns false if some code cannot be
 * decoded (an unverified image) or writing failed; the text written is then
 * incomplete. */
bool pvmC_disassemble(const PbcImage *img, FILE *out);

#endif
