/* Arrays: storage by element kind, growth, and the operations that move
 * elements in bulk (array.h describes the kinds).
 *
 * Capacity doubles when full, so a run of pushes costs amortised O(1).
 * Boxed items hold Values, which may hold pointers, so they come from the
 * scanning allocator; unboxed items hold none and come from the atomic
 * one, which the collector neither scans nor mistakes for references.
 * bdwgc's realloc keeps a block's kind, so growth keeps it too. */
#include <inttypes.h>
#include <string.h>

#include "vm/runtime/vm.h"

#define ARRAY_MIN_CAP 8

/* The kind an array of values like [v] gets. */
static PvArrayKind kind_for(Value v)
{
    switch (v.type) {
    case VT_BOOL: return VM_ARR_BOOL;
    case VT_INT: return VM_ARR_INT;
    case VT_FLOAT: return VM_ARR_FLOAT;
    default: return VM_ARR_BOXED;
    }
}

static size_t elem_size(uint32_t kind)
{
    return kind == VM_ARR_BOXED ? sizeof(Value) : kind == VM_ARR_BOOL ? 1 : sizeof(uint64_t);
}

static void *alloc_items(VM *vm, uint32_t kind, size_t n)
{
    size_t size = pvmV_checked_size(vm, n, elem_size(kind), 0);
    return kind == VM_ARR_BOXED ? pvmV_alloc(vm, size) : pvmV_alloc_atomic(vm, size);
}

PvArray *pvmV_array_new(VM *vm, size_t capacity)
{
    pvmV_checked_size(vm, capacity, sizeof(Value), 0); /* an impossible size fails now */
    PvArray *a = pvmV_alloc(vm, sizeof(PvArray));
    a->items.v = NULL;
    a->len = 0;
    a->kind = VM_ARR_BOXED;
    a->cap = capacity;
    return a;
}

/* An array of [n] elements of [kind], their storage uninitialised. */
static PvArray *array_sized(VM *vm, size_t n, uint32_t kind)
{
    PvArray *a = pvmV_array_new(vm, n);
    if (n > 0)
        a->items.v = alloc_items(vm, kind, n);
    a->kind = kind;
    a->len = n;
    return a;
}

/* The kind [n] values share: unboxed when all have one unboxed type. */
static uint32_t common_kind(const Value *vals, size_t n)
{
    if (n == 0)
        return VM_ARR_BOXED;
    PvArrayKind kind = kind_for(vals[0]);
    for (size_t i = 1; i < n && kind != VM_ARR_BOXED; i++)
        if (vals[i].type != vals[0].type)
            kind = VM_ARR_BOXED;
    return kind;
}

PvArray *pvmV_array_of(VM *vm, const Value *vals, size_t n)
{
    PvArray *a = array_sized(vm, n, common_kind(vals, n));
    for (size_t i = 0; i < n; i++)
        pvmV_array_put(a, i, vals[i]);
    return a;
}

PvArray *pvmV_array_filled(VM *vm, size_t n, Value v)
{
    PvArray *a = array_sized(vm, n, kind_for(v));
    if (a->kind == VM_ARR_BOOL) {
        memset(a->items.b, v.as.b, n);
        return a;
    }
    for (size_t i = 0; i < n; i++)
        pvmV_array_put(a, i, v);
    return a;
}

PvArray *pvmV_array_slice(VM *vm, const PvArray *a, size_t from, size_t to)
{
    size_t n = to > from ? to - from : 0;
    PvArray *r = array_sized(vm, n, a->kind);
    if (n > 0)
        memcpy(r->items.b, a->items.b + from * elem_size(a->kind), n * elem_size(a->kind));
    return r;
}

PvArray *pvmV_array_concat(VM *vm, const PvArray *a, const PvArray *b)
{
    size_t n = pvmV_checked_size(vm, a->len, 1, b->len);
    /* an empty operand has no say in the kind */
    uint32_t kind = a->len == 0 ? b->kind : b->len == 0 || a->kind == b->kind ? a->kind : VM_ARR_BOXED;
    PvArray *r = array_sized(vm, n, kind);
    if (kind == a->kind && kind == b->kind) {
        size_t es = elem_size(kind);
        if (a->len)
            memcpy(r->items.b, a->items.b, a->len * es);
        if (b->len)
            memcpy(r->items.b + a->len * es, b->items.b, b->len * es);
        return r;
    }
    for (size_t i = 0; i < a->len; i++)
        pvmV_array_put(r, i, pvmV_array_load(a, i));
    for (size_t i = 0; i < b->len; i++)
        pvmV_array_put(r, a->len + i, pvmV_array_load(b, i));
    return r;
}

/* The transition: every element becomes a Value, in scanned storage.
 * Nothing changes until the new storage exists, so running out of
 * memory leaves the array as it was. */
static void array_box(VM *vm, PvArray *a)
{
    Value *v = a->cap > 0 ? alloc_items(vm, VM_ARR_BOXED, a->cap) : NULL;
    for (size_t i = 0; i < a->len; i++)
        v[i] = pvmV_array_load(a, i);
    a->items.v = v;
    a->kind = VM_ARR_BOXED;
}

void pvmV_array_store(VM *vm, PvArray *a, size_t i, Value v)
{
    if (!pvmV_array_fits(a, v))
        array_box(vm, a);
    pvmV_array_put(a, i, v);
}

/* An empty array takes the kind of its first element: storage of another
 * kind is replaced (with the same capacity), none is made (the capacity
 * asked for at creation). */
static void array_start(VM *vm, PvArray *a, uint32_t kind)
{
    if (a->items.v && a->kind == kind)
        return;
    a->items.v = a->cap > 0 ? alloc_items(vm, kind, a->cap) : NULL;
    a->kind = kind;
}

static void array_grow(VM *vm, PvArray *a)
{
    size_t cap = a->cap < ARRAY_MIN_CAP ? ARRAY_MIN_CAP : pvmV_checked_size(vm, a->cap, 2, 0);
    size_t size = pvmV_checked_size(vm, cap, elem_size(a->kind), 0);
    a->items.v = a->items.v ? pvmV_realloc(vm, a->items.v, size) : alloc_items(vm, a->kind, cap);
    a->cap = cap;
}

void pvmV_array_push(VM *vm, PvArray *a, Value v)
{
    if (a->len == 0)
        array_start(vm, a, kind_for(v));
    else if (!pvmV_array_fits(a, v))
        array_box(vm, a);
    if (a->len == a->cap)
        array_grow(vm, a);
    pvmV_array_put(a, a->len++, v);
}

Value pvmV_array_pop(PvArray *a)
{
    Value v = pvmV_array_load(a, --a->len);
    if (a->kind == VM_ARR_BOXED)
        a->items.v[a->len] = VAL_NIL; /* let the collector reclaim what it held */
    return v;
}

void pvmV_array_insert(VM *vm, PvArray *a, size_t i, Value v)
{
    pvmV_array_push(vm, a, v); /* makes room, and boxes if [v] does not fit */
    size_t es = elem_size(a->kind);
    memmove(a->items.b + (i + 1) * es, a->items.b + i * es, (a->len - 1 - i) * es);
    pvmV_array_put(a, i, v);
}

Value pvmV_array_remove(PvArray *a, size_t i)
{
    Value v = pvmV_array_load(a, i);
    size_t es = elem_size(a->kind);
    memmove(a->items.b + i * es, a->items.b + (i + 1) * es, (a->len - 1 - i) * es);
    pvmV_array_pop(a);
    return v;
}

void pvmV_array_assign(VM *vm, PvArray *a, const Value *vals, size_t n)
{
    *a = *pvmV_array_of(vm, vals, n); /* the new header is left to the collector */
}

static void check_index(VM *vm, const PvArray *a, int64_t i)
{
    if (i < 0 || (uint64_t)i >= a->len)
        pvmV_error(vm, "index %" PRId64 " out of range for array of length %zu", i, a->len);
}

Value pvmV_array_get(VM *vm, const PvArray *a, int64_t i)
{
    check_index(vm, a, i);
    return pvmV_array_load(a, (size_t)i);
}

void pvmV_array_set(VM *vm, PvArray *a, int64_t i, Value v)
{
    check_index(vm, a, i);
    pvmV_array_store(vm, a, (size_t)i, v);
}

_Static_assert(sizeof(PvArray) <= 24, "an array header fits a 32-byte collector block");
