/* The encoder's code buffer: growth with a limit and a sticky error flag,
 * labels with their pending rel32 fixups, relocations to absolute targets,
 * and linking the finished bytes into their final place. The instruction
 * forms that fill it are in jit/emit_x86.c. */
#if defined(__x86_64__)

#include <stdlib.h>
#include <string.h>

#include "jit/x86.h"

#define DEFAULT_LIMIT ((size_t)16 << 20)

void pvmJ_asm_init(PvmjAsm *a, size_t limit)
{
    memset(a, 0, sizeof *a);
    a->limit = limit ? limit : DEFAULT_LIMIT;
}

void pvmJ_asm_free(PvmjAsm *a)
{
    free(a->code);
    free(a->labels);
    free(a->fixups);
    free(a->relocs);
    memset(a, 0, sizeof *a);
}

void pvmJ_asm_reset(PvmjAsm *a)
{
    a->len = a->nlabels = a->nfixups = a->nrelocs = 0;
    a->error = PVMJ_OK;
}

size_t pvmJ_asm_pos(const PvmjAsm *a)
{
    return a->len;
}

/* Keeps the first error: it is the one that explains the rest. */
void pvmJ_asm_fail(PvmjAsm *a, PvmjAsmError e)
{
    if (a->error == PVMJ_OK)
        a->error = e;
}

/* Grows [*items] (of [size]-byte elements) to hold [need]; false on failure. */
static bool grow_array(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*items, ncap * size);
    if (p == NULL)
        return false;
    *items = p;
    *cap = ncap;
    return true;
}

/* Makes room for [n] more bytes; false (and the error set) if it cannot. */
static bool reserve(PvmjAsm *a, size_t n)
{
    if (a->error != PVMJ_OK)
        return false;
    if (a->len + n > a->limit || a->len + n > UINT32_MAX) {
        pvmJ_asm_fail(a, PVMJ_ENOMEM);
        return false;
    }
    void *code = a->code;
    if (!grow_array(&code, &a->cap, a->len + n, 1)) {
        pvmJ_asm_fail(a, PVMJ_ENOMEM);
        return false;
    }
    a->code = code;
    return true;
}

void pvmJ_byte(PvmjAsm *a, uint8_t b)
{
    if (reserve(a, 1))
        a->code[a->len++] = b;
}

void pvmJ_u32(PvmjAsm *a, uint32_t v)
{
    if (!reserve(a, 4))
        return;
    memcpy(a->code + a->len, &v, 4);   /* x86-64 is little-endian */
    a->len += 4;
}

void pvmJ_u64(PvmjAsm *a, uint64_t v)
{
    pvmJ_u32(a, (uint32_t)v);
    pvmJ_u32(a, (uint32_t)(v >> 32));
}

/* The recommended NOP sequences of 1 to 8 bytes (0F 1F /0 forms). */
static const uint8_t NOPS[8][8] = {
    { 0x90 },
    { 0x66, 0x90 },
    { 0x0F, 0x1F, 0x00 },
    { 0x0F, 0x1F, 0x40, 0x00 },
    { 0x0F, 0x1F, 0x44, 0x00, 0x00 },
    { 0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00 },
    { 0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00 },
    { 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

void pvmJ_align(PvmjAsm *a, size_t align)
{
    size_t pad = (align - (a->len & (align - 1))) & (align - 1);
    while (pad > 0 && a->error == PVMJ_OK) {
        size_t n = pad > 8 ? 8 : pad;
        for (size_t i = 0; i < n; i++)
            pvmJ_byte(a, NOPS[n - 1][i]);
        pad -= n;
    }
}

PvmjLabel pvmJ_label_new(PvmjAsm *a)
{
    void *labels = a->labels;
    if (!grow_array(&labels, &a->caplabels, a->nlabels + 1, sizeof(int32_t))) {
        pvmJ_asm_fail(a, PVMJ_ENOMEM);
        return -1;
    }
    a->labels = labels;
    a->labels[a->nlabels] = -1;
    return (PvmjLabel)a->nlabels++;
}

static bool label_valid(const PvmjAsm *a, PvmjLabel l)
{
    return l >= 0 && (size_t)l < a->nlabels;
}

int32_t pvmJ_label_pos(const PvmjAsm *a, PvmjLabel l)
{
    return label_valid(a, l) ? a->labels[l] : -1;
}

void pvmJ_patch_rel32(PvmjAsm *a, size_t field, size_t target)
{
    if (a->error != PVMJ_OK || field + 4 > a->len)
        return;
    int32_t rel = (int32_t)((int64_t)target - (int64_t)(field + 4));
    memcpy(a->code + field, &rel, 4);
}

/* Patches every pending fixup of [l] and drops it from the list. */
static void resolve_fixups(PvmjAsm *a, PvmjLabel l)
{
    size_t kept = 0;
    for (size_t i = 0; i < a->nfixups; i++) {
        PvmjFixup f = a->fixups[i];
        if (f.label == l)
            pvmJ_patch_rel32(a, f.field, (size_t)a->labels[l]);
        else
            a->fixups[kept++] = f;
    }
    a->nfixups = kept;
}

void pvmJ_label_bind(PvmjAsm *a, PvmjLabel l)
{
    if (!label_valid(a, l) || a->labels[l] >= 0) {
        pvmJ_asm_fail(a, PVMJ_ELABEL);
        return;
    }
    a->labels[l] = (int32_t)a->len;
    resolve_fixups(a, l);
}

void pvmJ_rel32_label(PvmjAsm *a, PvmjLabel l)
{
    if (!label_valid(a, l)) {
        pvmJ_asm_fail(a, PVMJ_ELABEL);
        return;
    }
    size_t field = a->len;
    pvmJ_u32(a, 0);
    if (a->labels[l] >= 0) {
        pvmJ_patch_rel32(a, field, (size_t)a->labels[l]);
        return;
    }
    void *fixups = a->fixups;
    if (!grow_array(&fixups, &a->capfixups, a->nfixups + 1, sizeof(PvmjFixup))) {
        pvmJ_asm_fail(a, PVMJ_ENOMEM);
        return;
    }
    a->fixups = fixups;
    a->fixups[a->nfixups++] = (PvmjFixup){ (uint32_t)field, l };
}

void pvmJ_rel32_abs(PvmjAsm *a, const void *target)
{
    size_t field = a->len;
    pvmJ_u32(a, 0);
    void *relocs = a->relocs;
    if (!grow_array(&relocs, &a->caprelocs, a->nrelocs + 1, sizeof(PvmjReloc))) {
        pvmJ_asm_fail(a, PVMJ_ENOMEM);
        return;
    }
    a->relocs = relocs;
    a->relocs[a->nrelocs++] = (PvmjReloc){ (uint32_t)field, target };
}

bool pvmJ_rel32_write(uint8_t *field, const void *target)
{
    int64_t rel = (int64_t)((intptr_t)target - (intptr_t)(field + 4));
    if (rel < INT32_MIN || rel > INT32_MAX)
        return false;
    int32_t rel32 = (int32_t)rel;
    memcpy(field, &rel32, 4);
    return true;
}

bool pvmJ_asm_link(PvmjAsm *a, uint8_t *dest)
{
    if (a->error == PVMJ_OK && a->nfixups > 0)
        pvmJ_asm_fail(a, PVMJ_ELABEL);
    if (a->error != PVMJ_OK)
        return false;
    memcpy(dest, a->code, a->len);
    for (size_t i = 0; i < a->nrelocs; i++) {
        if (!pvmJ_rel32_write(dest + a->relocs[i].field, a->relocs[i].target)) {
            pvmJ_asm_fail(a, PVMJ_ERANGE);
            return false;
        }
    }
    return true;
}

#endif
