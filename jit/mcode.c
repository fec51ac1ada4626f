/* Executable memory areas for machine code (the policy is in jit/mcode.h):
 * mapping them near the library, placing linked code with W^X page
 * protection, patching placed code, and unmapping everything with the VM. */
#if defined(__x86_64__)

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jit/mcode.h"

#define DEFAULT_AREA ((size_t)64 << 10)
#define DEFAULT_LIMIT ((size_t)2 << 20)
#define HINT_STEP ((uintptr_t)64 << 20)
#define HINT_TRIES 16
#define REACH ((uintptr_t)1 << 31)
#define CODE_ALIGN 16

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* Whether all of [p, p+size) is within rel32 reach of the library code. */
static bool near_library(const void *p, size_t size)
{
    uintptr_t anchor = (uintptr_t)&pvmJ_mcode_new;
    uintptr_t lo = (uintptr_t)p, hi = lo + size;
    uintptr_t far = anchor > lo ? anchor - lo : hi - anchor;
    return far < REACH - ((uintptr_t)16 << 20);
}

static void *map_rw(void *hint, size_t size)
{
    void *p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Tries hints on both sides of the library; the kernel treats them as
 * suggestions. Falls back to anywhere (calls then need mov + call r64). */
static void *map_near(size_t size)
{
    uintptr_t anchor = (uintptr_t)&pvmJ_mcode_new & ~(HINT_STEP - 1);
    for (int i = 1; i <= HINT_TRIES; i++) {
        uintptr_t off = (uintptr_t)((i + 1) / 2) * HINT_STEP;
        uintptr_t hint = (i & 1) ? anchor - off : anchor + off;
        void *p = map_rw((void *)hint, size);
        if (p == NULL)
            return NULL;
        if (near_library(p, size))
            return p;
        munmap(p, size);
    }
    return map_rw(NULL, size);
}

/* The size of the area that [need] bytes of code would get. */
static size_t area_size_for(const PvmjMcode *m, size_t need)
{
    return need > m->area_size ? round_up(need, page_size()) : m->area_size;
}

/* Maps a new area of at least [need] bytes and makes it the newest. */
static PvmjArea *add_area(PvmjMcode *m, size_t need)
{
    size_t size = area_size_for(m, need);
    if (size > m->limit || m->total > m->limit - size)
        return NULL;
    PvmjArea *ar = malloc(sizeof *ar);
    if (ar == NULL)
        return NULL;
    ar->base = map_near(size);
    if (ar->base == NULL) {
        free(ar);
        return NULL;
    }
    memset(ar->base, 0xCC, size);   /* int3 in every gap */
    ar->size = size;
    ar->used = 0;
    ar->next = m->areas;
    m->areas = ar;
    m->total += size;
    return ar;
}

/* Sets the protection of the pages covering [p, p+len). */
static bool protect(void *p, size_t len, int prot)
{
    uintptr_t ps = page_size();
    uintptr_t lo = (uintptr_t)p & ~(ps - 1);
    uintptr_t hi = round_up((uintptr_t)p + (len ? len : 1), ps);
    return mprotect((void *)lo, hi - lo, prot) == 0;
}

static bool make_writable(void *p, size_t len)
{
    return protect(p, len, PROT_READ | PROT_WRITE);
}

static bool make_executable(void *p, size_t len)
{
    return protect(p, len, PROT_READ | PROT_EXEC);
}

PvmjMcode *pvmJ_mcode_new(size_t area_size, size_t limit)
{
    PvmjMcode *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->area_size = round_up(area_size ? area_size : DEFAULT_AREA, page_size());
    m->limit = limit ? limit : DEFAULT_LIMIT;
    if (m->limit < m->area_size)
        m->limit = m->area_size;
    if (add_area(m, 0) == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void pvmJ_mcode_free(PvmjMcode *m)
{
    if (m == NULL)
        return;
    PvmjArea *ar = m->areas;
    while (ar != NULL) {
        PvmjArea *next = ar->next;
        munmap(ar->base, ar->size);
        free(ar);
        ar = next;
    }
    free(m);
}

/* The area with room for [need] more bytes, mapping one if needed; the
 * offset to place at goes to [*start]. */
static PvmjArea *area_for(PvmjMcode *m, size_t need, size_t *start)
{
    PvmjArea *ar = m->areas;
    if (ar != NULL) {
        *start = round_up(ar->used, CODE_ALIGN);
        if (*start <= ar->size && need <= ar->size - *start)
            return ar;
    }
    *start = 0;
    return add_area(m, need);
}

void *pvmJ_mcode_place(PvmjMcode *m, PvmjAsm *a)
{
    if (a->error != PVMJ_OK)
        return NULL;
    size_t start;
    PvmjArea *ar = area_for(m, a->len, &start);
    if (ar == NULL)
        return NULL;
    uint8_t *dest = ar->base + start;
    if (!make_writable(dest, a->len))
        return NULL;
    bool linked = pvmJ_asm_link(a, dest);
    if (!make_executable(dest, a->len) || !linked)
        return NULL;
    ar->used = start + a->len;
    return dest;
}

bool pvmJ_mcode_full(const PvmjMcode *m, size_t len)
{
    const PvmjArea *ar = m->areas;
    if (ar != NULL && round_up(ar->used, CODE_ALIGN) + len <= ar->size)
        return false;
    size_t size = area_size_for(m, len);
    return size <= m->limit && m->total > m->limit - size;
}

bool pvmJ_mcode_owns(const PvmjMcode *m, const void *p)
{
    for (const PvmjArea *ar = m->areas; ar != NULL; ar = ar->next) {
        if ((const uint8_t *)p >= ar->base && (const uint8_t *)p < ar->base + ar->size)
            return true;
    }
    return false;
}

bool pvmJ_mcode_patch_rel32(PvmjMcode *m, uint8_t *field, const void *target)
{
    if (!pvmJ_mcode_owns(m, field) || !pvmJ_mcode_owns(m, field + 3))
        return false;
    if (!make_writable(field, 4))
        return false;
    bool ok = pvmJ_rel32_write(field, target);
    return make_executable(field, 4) && ok;
}

#endif
