/* The PV parser: tokens to the AST of one module (recursive descent,
 * precedence climbing for binary operators).
 *
 * Syntax errors are reported through CcDiag; after one the parser skips to
 * the next statement boundary (';', '}' or a statement keyword) and goes
 * on, so one run reports several independent errors. The nesting depth is
 * bounded, so no input can exhaust the C stack. */
#ifndef PVM_CC_PARSER_H
#define PVM_CC_PARSER_H

#include "compiler/ast.h"


/* Parses [len] bytes of [src]. Always returns a tree (possibly partial);
 * the caller checks diag->count to know whether errors were reported. */
CcModuleAst *pvmC_parse(const char *src, size_t len, const char *file,
                      CcArena *arena, CcDiag *diag);

#endif
