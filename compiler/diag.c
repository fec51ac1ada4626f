/* Diagnostics, the allocation funnel and the arena of the PV front end. */
#include "compiler/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_SIZE (64u * 1024u)

struct CcArenaBlock {
    CcArenaBlock *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

void pvmC_diag_init(CcDiag *d, FILE *out, jmp_buf *oom)
{
    d->out = out;
    d->count = 0;
    d->oom = oom;
    d->info = NULL;
}

/* Records the position of the run's first error, before it is counted. */
static void diag_where(CcDiag *d, const char *file, uint32_t line, uint32_t col)
{
    if (!d->info || d->count > 0)
        return;
    d->info->file = strdup(file);
    d->info->line = line;
    d->info->col = col;
}

/* True when the message should be written; announces the cap once. */
static bool diag_admit(CcDiag *d)
{
    d->count++;
    if (!d->out)
        return false;
    if (d->count == CC_MAX_ERRORS + 1)
        fprintf(d->out, "error: too many errors, giving up\n");
    return d->count <= CC_MAX_ERRORS;
}

void pvmC_error(CcDiag *d, const char *file, CcPos pos, const char *fmt, ...)
{
    diag_where(d, file, pos.line, pos.col);
    if (!diag_admit(d))
        return;
    fprintf(d->out, "%s:%u:%u: error: ", file, (unsigned)pos.line, (unsigned)pos.col);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
}

void pvmC_error_file(CcDiag *d, const char *file, const char *fmt, ...)
{
    diag_where(d, file, 0, 0);
    if (!diag_admit(d))
        return;
    fprintf(d->out, "%s: error: ", file);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(d->out, fmt, ap);
    va_end(ap);
    fputc('\n', d->out);
}

void *pvmC_xrealloc(CcDiag *d, void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        longjmp(*d->oom, 1);
    return q;
}

void pvmC_grow(CcDiag *d, void **buf, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return;
    if (need > UINT32_MAX / 2)
        longjmp(*d->oom, 1);
    uint32_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    *buf = pvmC_xrealloc(d, *buf, (size_t)ncap * elem);
    *cap = ncap;
}

void pvmC_arena_init(CcArena *a, CcDiag *diag)
{
    a->head = NULL;
    a->diag = diag;
}

void pvmC_arena_free(CcArena *a)
{
    CcArenaBlock *b = a->head;
    while (b) {
        CcArenaBlock *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

void *pvmC_alloc(CcArena *a, size_t size)
{
    size = (size + 15u) & ~(size_t)15u;
    CcArenaBlock *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t bsize = size > ARENA_BLOCK_SIZE ? size : ARENA_BLOCK_SIZE;
        b = pvmC_xrealloc(a->diag, NULL, sizeof *b + bsize);
        b->used = 0;
        b->size = bsize;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *pvmC_strndup(CcArena *a, const char *s, size_t len)
{
    char *p = pvmC_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
