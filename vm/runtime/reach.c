/* What one VM's data occupies: the collector blocks reachable from its
 * roots (value stack, frames, globals of its loaded programs, built-ins,
 * the error being thrown), each counted once at what it occupies, and,
 * when the process has no other VM, what the running natives hold in C
 * locals.
 *
 * bdwgc has one heap per process, so its live figure is the sum over every
 * VM in the process. The memory limit asks this walk, when the heap as a
 * whole is over a VM's limit, whether that VM's own data is: another VM's
 * data is not reachable from here and is not counted. Blocks the walk
 * cannot see (a host's handles, a native's private data, and a native's
 * C locals when other VMs exist) are not counted either, so the figure
 * errs on the side of the script. The walk's own bookkeeping is a bitmap (0.8 % of the heap it
 * visits) and a stack as deep as the data, since it runs when memory is
 * tight. */
#include <gc.h>
#include <gc/gc_inline.h> /* GC_I_PTRFREE */
#include <gc/gc_mark.h>   /* GC_get_kind_and_size */
#include <stdlib.h>
#include <string.h>

#include "vm/runtime/vm.h"

/* A block to visit: what it is tells the walk which fields hold
 * pointers. */
typedef enum {
    REACH_VALUE_ARRAY, /* [n] Values */
    REACH_MAP_ENTRIES, /* a map's keys and values, [n] of them left */
    REACH_ARRAY, REACH_MAP, REACH_CLOSURE, REACH_NATIVE, REACH_POINTER,
    REACH_UPVAL, REACH_PROTO, REACH_MODULE, REACH_PROGRAM,
    REACH_WORDS,       /* [n] words, any of which may point at a block */
    REACH_OPAQUE       /* counted, not looked into */
} ReachKind;

typedef struct {
    const void *p;
    size_t n;          /* REACH_VALUE_ARRAY, REACH_MAP_ENTRIES, REACH_WORDS: how many are left */
    ReachKind kind;
    uint8_t depth;     /* REACH_WORDS: blocks between it and the C stack */
} ReachItem;

/* Which blocks were seen: one bit per 16-byte granule (every collector
 * block starts on one), in bitmaps of 1 MB of address space found by an
 * open-addressing table of their region numbers. The walk runs when the
 * heap is near the limit, so its own memory counts against the bound on
 * RSS the limit promises: this is 8 KB per megabyte of heap it visits
 * (0.8 %), where a hash set of pointers took 16-32 bytes per block. */
#define REACH_REGION_SHIFT 20
#define REACH_GRANULE_SHIFT 4
#define REACH_REGION_WORDS ((1u << (REACH_REGION_SHIFT - REACH_GRANULE_SHIFT)) / 64)

typedef struct {
    uintptr_t region;  /* address >> REACH_REGION_SHIFT, + 1 so that 0 is empty */
    uint64_t *bits;
} ReachRegion;

typedef struct {
    ReachRegion *regions;
    size_t regions_cap, regions_count;
    ReachRegion *last;  /* the region of the previous lookup: blocks cluster */
    ReachItem *todo;    /* depth first; a Value array is one item with a cursor */
    size_t todo_len, todo_cap;
    size_t bytes;
    uint8_t word_depth; /* of the conservative block being scanned (reach_word) */
    bool failed;        /* out of memory for the walk's own bookkeeping */
} Reach;

static size_t reach_slot(uintptr_t region, size_t cap)
{
    uint64_t h = (uint64_t)region * 0x9e3779b97f4a7c15u;
    return (size_t)(h >> 32) & (cap - 1);
}

static ReachRegion *reach_find_region(ReachRegion *regions, size_t cap, uintptr_t region)
{
    size_t s = reach_slot(region, cap);
    while (regions[s].region && regions[s].region != region)
        s = (s + 1) & (cap - 1);
    return &regions[s];
}

static bool reach_grow_regions(Reach *r)
{
    size_t cap = r->regions_cap ? r->regions_cap * 2 : 64;
    ReachRegion *regions = calloc(cap, sizeof *regions);
    if (!regions)
        return false;
    for (size_t i = 0; i < r->regions_cap; i++)
        if (r->regions[i].region)
            *reach_find_region(regions, cap, r->regions[i].region) = r->regions[i];
    free(r->regions);
    r->regions = regions;
    r->regions_cap = cap;
    r->last = NULL;
    return true;
}

/* The bitmap of [region], made on first use; NULL when out of memory. */
static uint64_t *reach_region_bits(Reach *r, uintptr_t region)
{
    if (r->last && r->last->region == region)
        return r->last->bits;
    if (2 * (r->regions_count + 1) > r->regions_cap && !reach_grow_regions(r))
        return NULL;
    ReachRegion *slot = reach_find_region(r->regions, r->regions_cap, region);
    if (!slot->region) {
        uint64_t *bits = calloc(REACH_REGION_WORDS, sizeof *bits);
        if (!bits)
            return NULL;
        *slot = (ReachRegion){ region, bits };
        r->regions_count++;
    }
    r->last = slot;
    return slot->bits;
}

/* Records [p]; false when it was seen before (or the walk ran out of
 * memory). */
static bool reach_first_visit(Reach *r, const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uint64_t *bits = reach_region_bits(r, (a >> REACH_REGION_SHIFT) + 1);
    if (!bits) {
        r->failed = true;
        return false;
    }
    size_t g = (a & ((1u << REACH_REGION_SHIFT) - 1)) >> REACH_GRANULE_SHIFT;
    uint64_t bit = (uint64_t)1 << (g % 64);
    if (bits[g / 64] & bit)
        return false;
    bits[g / 64] |= bit;
    return true;
}

static void reach_free(Reach *r)
{
    for (size_t i = 0; i < r->regions_cap; i++)
        free(r->regions[i].bits);
    free(r->regions);
    free(r->todo);
}

/* Queues [p] to be looked into as [kind] ([n] Values for a Value array,
 * which is left out when empty). */
static void reach_push(Reach *r, const void *p, ReachKind kind, size_t n)
{
    if (kind == REACH_OPAQUE || ((kind == REACH_VALUE_ARRAY || kind == REACH_MAP_ENTRIES || kind == REACH_WORDS) && n == 0))
        return;
    if (r->todo_len == r->todo_cap) {
        size_t cap = r->todo_cap ? r->todo_cap * 2 : 256;
        ReachItem *todo = realloc(r->todo, cap * sizeof *todo);
        if (!todo) {
            r->failed = true;
            return;
        }
        r->todo = todo;
        r->todo_cap = cap;
    }
    r->todo[r->todo_len++] = (ReachItem){ p, n, kind, r->word_depth };
}

/* bdwgc's heap block (HBLKSIZE on Linux): an object of more than half of
 * one gets blocks of its own, so it occupies a whole number of them. */
#define REACH_HBLK 4096u

/* What the block at [p] occupies: a 9 000-byte string takes three blocks,
 * 12 288 bytes, and a script making such strings would otherwise fill a
 * third more memory than its limit. */
static size_t reach_block_bytes(const void *p)
{
    size_t size = GC_size((void *)p);
    if (size > REACH_HBLK / 2)
        size = (size + REACH_HBLK - 1) / REACH_HBLK * REACH_HBLK;
    return size;
}

/* Counts the block at [p] (a collector block's base, or NULL) and queues
 * it to be looked into as [kind]. */
static void reach_block(Reach *r, const void *p, ReachKind kind, size_t n)
{
    if (!p || r->failed || !reach_first_visit(r, p))
        return;
    r->bytes += reach_block_bytes(p);
    reach_push(r, p, kind, n);
}

static void reach_value(Reach *r, Value v)
{
    switch (v.type) {
    case VT_STRING: reach_block(r, v.as.s, REACH_OPAQUE, 0); break;
    case VT_ARRAY: reach_block(r, v.as.a, REACH_ARRAY, 0); break;
    case VT_MAP: reach_block(r, v.as.m, REACH_MAP, 0); break;
    case VT_CLOSURE: reach_block(r, v.as.cl, REACH_CLOSURE, 0); break;
    case VT_NATIVE: reach_block(r, v.as.p, REACH_NATIVE, 0); break;
    case VT_POINTER: reach_block(r, v.as.p, REACH_POINTER, 0); break;
    default: break;
    }
}

/* Values in a block the walk does not count (the value stack, which is
 * not collector memory, or a small map's entries inside its block). */
static void reach_values(Reach *r, const Value *v, size_t n)
{
    reach_push(r, v, REACH_VALUE_ARRAY, n);
}

/* The next Value of the Value array on top of the stack. The array's item
 * leaves the stack before its last Value is followed, so a chain linked
 * through its last field ([v, next], {v: .., next: ..}) is walked in
 * constant stack space. */
static void reach_next_value(Reach *r)
{
    ReachItem *top = &r->todo[r->todo_len - 1];
    const Value *v = top->p;
    top->p = v + 1;
    if (--top->n == 0)
        r->todo_len--;
    reach_value(r, *v);
}

/* The next key or value of the map on top of the stack, each entry's key
 * first, so that a chain through a map's last field is walked in
 * constant stack space as a Value array's is. */
static void reach_next_entry(Reach *r)
{
    ReachItem *top = &r->todo[r->todo_len - 1];
    const PvMap *m = top->p;
    size_t at = 2 * m->used - top->n;
    if (--top->n == 0)
        r->todo_len--;
    reach_value(r, at % 2 == 0 ? pvmV_map_key(m, at / 2) : m->entries[at / 2].value);
}

static void reach_proto(Reach *r, const VmProto *p)
{
    reach_block(r, p->name, REACH_OPAQUE, 0);
    reach_block(r, p->module, REACH_MODULE, 0);
    reach_block(r, p->upvals, REACH_OPAQUE, 0);
    reach_block(r, p->code, REACH_OPAQUE, 0);
    reach_block(r, p->offsets, REACH_OPAQUE, 0);
    reach_block(r, p->lines, REACH_OPAQUE, 0);
    reach_block(r, p->program, REACH_PROGRAM, 0);
}

static void reach_module(Reach *r, const VmModule *m)
{
    reach_block(r, m->name, REACH_OPAQUE, 0);
    reach_block(r, m->file, REACH_OPAQUE, 0);
    reach_block(r, m->main, REACH_PROTO, 0);
    reach_block(r, m->globals, REACH_VALUE_ARRAY, m->nglobals);
    reach_block(r, m->global_names, REACH_OPAQUE, 0);
    for (uint32_t i = 0; m->global_names && i < m->nglobals; i++)
        reach_block(r, m->global_names[i], REACH_OPAQUE, 0);
    reach_value(r, m->exports);
}

static void reach_program(Reach *r, const VmProgram *prog)
{
    reach_block(r, prog->consts, REACH_VALUE_ARRAY, prog->nconsts);
    reach_block(r, prog->protos, REACH_OPAQUE, 0);
    for (uint32_t i = 0; prog->protos && i < prog->nprotos; i++)
        reach_block(r, prog->protos[i], REACH_PROTO, 0);
    reach_block(r, prog->modules, REACH_OPAQUE, 0);
    for (uint32_t i = 0; prog->modules && i < prog->nmodules; i++)
        reach_block(r, prog->modules[i], REACH_MODULE, 0);
}

static void reach_item(Reach *r, ReachItem it)
{
    switch (it.kind) {
    case REACH_ARRAY: {
        const PvArray *a = it.p;
        /* unboxed items hold no references: only their size counts */
        reach_block(r, a->items.v, a->kind == VM_ARR_BOXED ? REACH_VALUE_ARRAY : REACH_OPAQUE, a->len);
        break;
    }
    case REACH_MAP: {
        const PvMap *m = it.p;
        reach_block(r, m->index, REACH_OPAQUE, 0);
        /* Tombstones have type VM_MAP_TOMBSTONE, which no case follows.
         * A small map's inline entries were counted with its block. */
        if (m->entries != m->inline_entries)
            reach_block(r, m->entries, REACH_OPAQUE, 0);
        reach_push(r, m, REACH_MAP_ENTRIES, 2 * m->used);
        break;
    }
    case REACH_CLOSURE: {
        const PvClosure *c = it.p;
        reach_block(r, c->proto, REACH_PROTO, 0);
        for (uint32_t i = 0; i < c->nupvals; i++)
            reach_block(r, c->upvals[i], REACH_UPVAL, 0);
        break;
    }
    case REACH_UPVAL: {
        const PvUpval *u = it.p;
        if (u->v == &u->closed) /* an open one points into the stack, a root */
            reach_value(r, u->closed);
        break;
    }
    case REACH_NATIVE:
        reach_block(r, ((const PvNative *)it.p)->name, REACH_OPAQUE, 0);
        break;
    case REACH_POINTER:
        reach_block(r, ((const PvPointer *)it.p)->owner, REACH_OPAQUE, 0);
        break;
    case REACH_PROTO: reach_proto(r, it.p); break;
    case REACH_MODULE: reach_module(r, it.p); break;
    case REACH_PROGRAM: reach_program(r, it.p); break;
    case REACH_VALUE_ARRAY: /* reach_next_value */
    case REACH_MAP_ENTRIES: /* reach_next_entry */
    case REACH_WORDS:       /* reach_next_word */
    case REACH_OPAQUE: break;
    }
}

/* ---- What natives hold in C locals ----
 *
 * A native building its result (string.split's array, the buffer of
 * string.join or format, a read's buffer) holds it in C locals until it
 * returns, where the typed walk cannot see it; yet it is this VM's memory,
 * and it can be most of it. So the C stack between the check and the
 * VM's outermost protected boundary is scanned as the collector scans it:
 * any word holding an address inside a block counts that block, and a
 * block that may hold pointers is scanned the same way. Blocks the typed
 * walk counted are already seen, so this pays only for the natives' own. */

/* The word at [p], read without ASan's checks: a conservative scan reads
 * whole frames and blocks, redzones and padding included. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((no_sanitize_address))
#endif
static uintptr_t reach_load_word(const uintptr_t *p)
{
    return *(const volatile uintptr_t *)p;
}

/* Only blocks the collector marked count. The scan runs right after the
 * limit check's full collection (gc.c: the C stack is scanned only with
 * one VM in the process, which is when the check collects first), so a
 * block the collection left unmarked is garbage, or free: a stale word on
 * the stack, or in a freed block, pointing at dead data would otherwise
 * lead the scan through any amount of it (a thread whose stack held a
 * pointer into another VM's freed arrays counted 100 MB). Read without
 * the allocation lock: a collection on another thread at that moment can
 * only make the count a little off, never unsafe. */
/* How deep the scan follows words from the C stack: a native's result
 * under construction is at most a few blocks deep (string.split's array,
 * its items, their strings); beyond that a chain is counted, not looked
 * into, so that a word that happens to point into live data of another
 * VM (whose thread still runs) cannot pull all of it in. */
#define REACH_WORD_DEPTH 4

static void reach_word(Reach *r, uintptr_t w, uint8_t depth)
{
    void *base = GC_base((void *)w);
    if (!base || !GC_is_marked(base))
        return;
    size_t size;
    bool pointer_free = GC_get_kind_and_size(base, &size) == GC_I_PTRFREE;
    bool deep = depth >= REACH_WORD_DEPTH;
    r->word_depth = (uint8_t)(depth + 1);
    reach_block(r, base, pointer_free || deep ? REACH_OPAQUE : REACH_WORDS, size / sizeof(uintptr_t));
    r->word_depth = 0;
}

/* The next word of the REACH_WORDS item on top of the stack, as
 * reach_next_value. */
static void reach_next_word(Reach *r)
{
    ReachItem *top = &r->todo[r->todo_len - 1];
    const uintptr_t *w = top->p;
    uint8_t depth = top->depth;
    top->p = w + 1;
    if (--top->n == 0)
        r->todo_len--;
    reach_word(r, reach_load_word(w), depth);
}

static void reach_drain(Reach *r)
{
    while (r->todo_len > 0 && !r->failed) {
        ReachKind kind = r->todo[r->todo_len - 1].kind;
        if (kind == REACH_VALUE_ARRAY)
            reach_next_value(r);
        else if (kind == REACH_MAP_ENTRIES)
            reach_next_entry(r);
        else if (kind == REACH_WORDS)
            reach_next_word(r);
        else
            reach_item(r, r->todo[--r->todo_len]);
    }
}

/* The stack's hot end: callee-saved registers are spilled into this frame
 * first, so that a pointer a native keeps in one is scanned too. */
PVM_NOINLINE static void reach_c_stack(Reach *r, const VmJmp *outermost)
{
#if defined(__GNUC__) || defined(__clang__)
    __builtin_unwind_init();
#endif
    uintptr_t here = 0;
    const uintptr_t *from = (const uintptr_t *)(((uintptr_t)&here) & ~(uintptr_t)(sizeof here - 1));
    const uintptr_t *to = (const uintptr_t *)outermost;
    /* The boundary is a local of a caller, so above this frame; anything
     * else (a sanitizer's fake stack) is not scanned. */
    if (to <= from || (size_t)(to - from) > ((size_t)64 << 20) / sizeof *from)
        return;
    for (const uintptr_t *w = from; w < to && !r->failed; w++) {
        reach_word(r, reach_load_word(w), 0);
        reach_drain(r);
    }
}

static const VmJmp *reach_outermost_boundary(const VM *vm)
{
    const VmJmp *j = vm->jmp;
    while (j && j->prev)
        j = j->prev;
    return j;
}

size_t pvmV_reachable_bytes(VM *vm)
{
    Reach r;
    memset(&r, 0, sizeof r);
    reach_values(&r, vm->stack, (size_t)(vm->top - vm->stack));
    reach_value(&r, vm->error);
    reach_block(&r, vm->builtins, REACH_MAP, 0);
    reach_block(&r, vm->program, REACH_PROGRAM, 0);
    for (size_t i = 0; i < 256; i++)
        reach_block(&r, vm->single_chars[i], REACH_OPAQUE, 0);
    for (size_t i = 0; i < VT__COUNT; i++)
        reach_block(&r, vm->type_names[i], REACH_OPAQUE, 0);
    reach_block(&r, vm->frames, REACH_OPAQUE, 0);
    for (size_t i = 0; i < vm->nframes; i++)
        reach_block(&r, vm->frames[i].closure, REACH_CLOSURE, 0);
    reach_block(&r, vm->handlers, REACH_OPAQUE, 0);
    reach_drain(&r);
    const VmJmp *outermost = reach_outermost_boundary(vm);
    if (outermost && pvmV_vm_count() == 1)
        reach_c_stack(&r, outermost);
    reach_free(&r);
    /* Without memory to walk, fall back on the whole heap's figure. */
    return r.failed ? GC_get_heap_size() - GC_get_free_bytes() : r.bytes;
}
