/* The PV compiler's public entry points: .pv source in, a PbcImage out.
 *
 * This is what pvmc and pvm call. Everything else in compiler/ (lexer,
 * parser, resolver, code generator, module loader) is internal to it.
 * The image produced passes pvmB_verify by construction. */
#ifndef PVM_COMPILER_H
#define PVM_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vm/bytecode/pbc.h"

/* What a failed compile run reports as data beside its messages, so that
 * nobody parses them: where the first error is, and whether the run ended
 * because memory ran out. */
typedef struct {
    char *file;         /* of the first error: malloc'd (the receiver frees it), NULL if none */
    uint32_t line, col; /* 0 where unknown */
    bool out_of_memory;
} CcErrorInfo;

typedef struct {
    /* NULL-terminated list of extra names the embedder defines in the
     * built-in scope (beside print, str, len, ..., math, string, ...). */
    const char *const *extra_builtins;
    /* ':'-separated directories searched for imports after the importing
     * file's own directory; NULL means getenv("PVM_PATH"). */
    const char *module_path;
    /* For the REPL, which compiles each input as a program of its own:
     * NULL-terminated names that module 0 (the program) declares as its
     * global slots 0, 1, ... in this order, before its own declarations.
     * They are visible from the first line on, and the program may
     * declare them again with let, fn or import (reusing the slot), once
     * each. Imported modules do not see them. NULL for none. */
    const char *const *predeclared_globals;
    /* When not NULL, filled in when the run fails (zero it first). */
    CcErrorInfo *error_info;
} CcOptions;

/* Compiles the program in file [path] and every module it imports into
 * [out] (module 0 is the program). [opt] may be NULL for the defaults.
 * Compile errors are written to [errors] as "FILE:LINE:COL: error: MESSAGE",
 * one per line. On failure returns false and leaves [out] empty (it may
 * still be passed to pvmB_free). */
bool pvmC_compile_file(const char *path, const CcOptions *opt, PbcImage *out, FILE *errors);

/* Same for source text in memory ([len] bytes, NULs allowed). [filename]
 * names it in messages and traces; imports are looked up next to it (in
 * the current directory when it has no '/'). */
bool pvmC_compile_source(const char *src, size_t len, const char *filename,
                       const CcOptions *opt, PbcImage *out, FILE *errors);

/* Whether [len] bytes of [src] lex and parse without an error. Names
 * are not resolved and nothing is reported. The REPL uses it to tell an
 * expression from statements. */
bool pvmC_syntax_ok(const char *src, size_t len);

#endif
