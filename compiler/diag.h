/* Compile-time diagnostics and memory for the PV front end.
 *
 * CcDiag collects "FILE:LINE:COL: error: MESSAGE" lines for one compile
 * run (all modules), capping their number so a hopeless input cannot
 * flood the terminal. CcArena owns every AST node and string of one
 * module; allocation failure anywhere in the compiler long-jumps to the
 * entry point (cc_compile_*), which reports "out of memory". */
#ifndef PVM_CC_DIAG_H
#define PVM_CC_DIAG_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "compiler/compiler.h" /* CcErrorInfo */
#include "vm/config.h"

typedef struct {
    FILE *out;          /* where messages go; NULL discards them */
    unsigned count;     /* errors reported, including suppressed ones */
    jmp_buf *oom;       /* allocation failure jumps here */
    CcErrorInfo *info;      /* receives the first error's position (and running out of memory), or NULL */
} CcDiag;

typedef struct {
    uint32_t line, col; /* 1-based; col counts bytes */
} CcPos;

void pvmC_diag_init(CcDiag *d, FILE *out, jmp_buf *oom);

/* Reports an error at [pos] of [file]. After CC_MAX_ERRORS errors one
 * "too many errors" line is written and the rest are only counted. */
PVM_PRINTF(4, 5)
void pvmC_error(CcDiag *d, const char *file, CcPos pos, const char *fmt, ...);

/* An error not tied to a source position ("FILE: error: MESSAGE"). */
PVM_PRINTF(3, 4)
void pvmC_error_file(CcDiag *d, const char *file, const char *fmt, ...);

/* malloc/realloc that never return NULL: they jump to [d->oom]. Memory
 * from pvmC_xrealloc is plain malloc memory (the image takes ownership of
 * code buffers and frees them with free()). */
void *pvmC_xrealloc(CcDiag *d, void *p, size_t size);
/* Grows [*buf] (of [*cap] elements of [elem] bytes) to hold [need]. */
void pvmC_grow(CcDiag *d, void **buf, uint32_t *cap, uint32_t need, size_t elem);

typedef struct CcArenaBlock CcArenaBlock;

typedef struct {
    CcArenaBlock *head;
    CcDiag *diag;
} CcArena;

void pvmC_arena_init(CcArena *a, CcDiag *diag);
void pvmC_arena_free(CcArena *a);
/* Zeroed memory that lives until pvmC_arena_free. */
void *pvmC_alloc(CcArena *a, size_t size);
/* A NUL-terminated arena copy of [len] bytes. */
char *pvmC_strndup(CcArena *a, const char *s, size_t len);

#endif
