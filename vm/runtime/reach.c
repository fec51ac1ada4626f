/* What one VM's data occupies: the collector blocks reachable from its
 * roots (value stack, frames, globals of its loaded programs, built-ins,
 * the error being thrown), each counted once at its allocated size.
 *
 * bdwgc has one heap per process, so its live figure is the sum over every
 * VM in the process. The memory limit asks this walk, when the heap as a
 * whole is over a VM's limit, whether that VM's own data is: another VM's
 * data is not reachable from here and is not counted. Blocks the walk
 * cannot see (a native's C locals, a host's handles, a native's private
 * data) are not counted either, so the figure errs on the side of the
 * script. */
#include <gc.h>
#include <stdlib.h>
#include <string.h>

#include "vm/runtime/vm.h"

/* A block to visit: what it is tells the walk which fields hold
 * pointers. */
typedef enum {
    REACH_VALUE_ARRAY, /* [n] Values */
    REACH_ARRAY, REACH_MAP, REACH_CLOSURE, REACH_NATIVE, REACH_POINTER,
    REACH_UPVAL, REACH_PROTO, REACH_MODULE, REACH_PROGRAM,
    REACH_OPAQUE       /* counted, not looked into */
} ReachKind;

typedef struct {
    const void *p;
    size_t n;          /* REACH_VALUE_ARRAY: how many Values */
    ReachKind kind;
} ReachItem;

typedef struct {
    const void **seen;  /* open addressing; NULL = empty */
    size_t seen_cap, seen_count;
    ReachItem *todo;
    size_t todo_len, todo_cap;
    size_t bytes;
    bool failed;        /* out of memory for the walk's own bookkeeping */
} Reach;

static size_t reach_slot(const void *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15u;
    return (size_t)(h >> 20) & (cap - 1);
}

static bool reach_grow_seen(Reach *r)
{
    size_t cap = r->seen_cap ? r->seen_cap * 2 : 1024;
    const void **seen = calloc(cap, sizeof *seen);
    if (!seen)
        return false;
    for (size_t i = 0; i < r->seen_cap; i++) {
        if (!r->seen[i])
            continue;
        size_t s = reach_slot(r->seen[i], cap);
        while (seen[s])
            s = (s + 1) & (cap - 1);
        seen[s] = r->seen[i];
    }
    free(r->seen);
    r->seen = seen;
    r->seen_cap = cap;
    return true;
}

/* Records [p]; false when it was seen before (or the walk ran out of
 * memory). */
static bool reach_first_visit(Reach *r, const void *p)
{
    if (2 * (r->seen_count + 1) > r->seen_cap && !reach_grow_seen(r)) {
        r->failed = true;
        return false;
    }
    size_t s = reach_slot(p, r->seen_cap);
    while (r->seen[s]) {
        if (r->seen[s] == p)
            return false;
        s = (s + 1) & (r->seen_cap - 1);
    }
    r->seen[s] = p;
    r->seen_count++;
    return true;
}

/* Counts the block at [p] (a collector block's base, or NULL) and queues
 * it to be looked into as [kind]. */
static void reach_block(Reach *r, const void *p, ReachKind kind, size_t n)
{
    if (!p || r->failed || !reach_first_visit(r, p))
        return;
    r->bytes += GC_size((void *)p);
    if (kind == REACH_OPAQUE)
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
    r->todo[r->todo_len++] = (ReachItem){ p, n, kind };
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
 * not collector memory). */
static void reach_values(Reach *r, const Value *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        reach_value(r, v[i]);
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
    case REACH_VALUE_ARRAY:
        reach_values(r, it.p, it.n);
        break;
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
        if (m->entries == m->inline_entries)
            reach_values(r, &m->entries->key, 2 * m->used);
        else
            reach_block(r, m->entries, REACH_VALUE_ARRAY, 2 * m->used);
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
    case REACH_OPAQUE: break;
    }
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
    reach_block(&r, vm->frames, REACH_OPAQUE, 0);
    for (size_t i = 0; i < vm->nframes; i++)
        reach_block(&r, vm->frames[i].closure, REACH_CLOSURE, 0);
    reach_block(&r, vm->handlers, REACH_OPAQUE, 0);
    while (r.todo_len > 0 && !r.failed)
        reach_item(&r, r.todo[--r.todo_len]);
    free(r.seen);
    free(r.todo);
    /* Without memory to walk, fall back on the whole heap's figure. */
    return r.failed ? GC_get_heap_size() - GC_get_free_bytes() : r.bytes;
}
