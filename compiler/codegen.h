/* Code generation: a resolved module AST to functions of a PbcImage.
 *
 * Conventions the interpreter and verifier rely on (docs/language.md):
 * every function ends in ret or a jump, maxstack is the exact maximum
 * operand-stack depth, every jump join has one stack depth, a line-table
 * entry starts wherever the source line changes, and unreachable code is
 * not emitted at all. */
#ifndef PVM_CC_CODEGEN_H
#define PVM_CC_CODEGEN_H

#include "compiler/resolve.h"

/* Emits the functions of module [m] (already resolved into [scope]) into
 * [img] and fills module [module]'s main and globals (its name and file
 * are the caller's). Returns false, with an error reported, if a limit
 * of the format is exceeded. */
bool pvmC_codegen(const CcModuleAst *m, const CcModuleScope *scope, uint32_t module,
                const char *file, PbcImage *img, CcDiag *diag);

#endif
