/* The PV compiler's public entry points: .pv source in, a PbcImage out.
 *
 * This is what pvmc and pvm call. Everything else in compiler/ (lexer,
 * parser, resolver, code generator, module loader) is internal to it.
 * The image produced passes pbc_verify by construction. */
#ifndef PVM_COMPILER_H
#define PVM_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vm/pbc.h"

typedef struct {
    /* NULL-terminated list of extra names the embedder defines in the
     * built-in scope (beside print, str, len, ..., math, string, ...). */
    const char *const *extra_builtins;
    /* ':'-separated directories searched for imports after the importing
     * file's own directory; NULL means getenv("PVM_PATH"). */
    const char *module_path;
} CcOptions;

/* Compiles the program in file [path] and every module it imports into
 * [out] (module 0 is the program). [opt] may be NULL for the defaults.
 * Compile errors are written to [errors] as "FILE:LINE:COL: error: MESSAGE",
 * one per line. On failure returns false and leaves [out] empty (it may
 * still be passed to pbc_free). */
bool cc_compile_file(const char *path, const CcOptions *opt, PbcImage *out, FILE *errors);

/* Same for source text in memory ([len] bytes, NULs allowed). [filename]
 * names it in messages and traces; imports are looked up next to it (in
 * the current directory when it has no '/'). */
bool cc_compile_source(const char *src, size_t len, const char *filename,
                       const CcOptions *opt, PbcImage *out, FILE *errors);

#endif
