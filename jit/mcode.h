/* Executable memory for compiled traces, kept W^X: areas are mapped
 * read-write, code is copied in and linked, then the touched pages are
 * mprotect'ed read-execute. A page is never writable and executable at once;
 * patching live code (linking a side exit) flips just the pages it touches
 * to read-write and back. Areas are placed near the library when the kernel
 * allows, so rel32 calls from traces reach its C helpers. */
#ifndef PVM_JIT_MCODE_H
#define PVM_JIT_MCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jit/x86.h"

typedef struct PvmjArea {
    uint8_t *base;
    size_t size, used;
    struct PvmjArea *next;
} PvmjArea;

typedef struct PvmjMcode {
    PvmjArea *areas;      /* newest first; code is placed in the newest */
    size_t area_size;     /* bytes per area, a multiple of the page size */
    size_t total, limit;  /* bytes mapped, and the cap on that */
} PvmjMcode;

/* A pool whose areas are [area_size] bytes (0: 64 KB; rounded up to pages)
 * and mapped in total at most [limit] bytes (0: 2 MB). NULL if the first
 * area cannot be mapped. */
PvmjMcode *pvmJ_mcode_new(size_t area_size, size_t limit);
/* Unmaps every area. NULL is accepted. */
void pvmJ_mcode_free(PvmjMcode *m);
/* Copies and links [a] into executable memory (16-byte aligned) and returns
 * its address; NULL if the buffer has an error, memory ran out or a
 * relocation is out of reach. Code larger than an area gets its own. */
void *pvmJ_mcode_place(PvmjMcode *m, PvmjAsm *a);
/* Retargets the rel32 at [field] (inside placed code) to [target]. False if
 * the field is not in the pool, out of reach, or mprotect fails. */
bool pvmJ_mcode_patch_rel32(PvmjMcode *m, uint8_t *field, const void *target);
/* Whether [len] more bytes of code, which the pool would take if it were
 * empty, would take it past its limit now. */
bool pvmJ_mcode_full(const PvmjMcode *m, size_t len);
/* Whether [p] lies inside one of the pool's areas. */
bool pvmJ_mcode_owns(const PvmjMcode *m, const void *p);

#endif
