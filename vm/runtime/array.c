/* Arrays: growable vectors of Values with bounds-checked access.
 *
 * Capacity doubles when full, so a run of pushes costs amortised O(1). The
 * items buffer holds Values (which may hold pointers), so it is allocated
 * with the scanning allocator. */
#include <inttypes.h>

#include "vm/runtime/vm.h"

#define ARRAY_MIN_CAP 8

PvArray *pvmV_array_new(VM *vm, size_t capacity)
{
    size_t size = pvmV_checked_size(vm, capacity, sizeof(Value), 0);
    PvArray *a = pvmV_alloc(vm, sizeof(PvArray));
    a->items = capacity > 0 ? pvmV_alloc(vm, size) : NULL;
    a->len = 0;
    a->cap = capacity;
    return a;
}

static void array_grow(VM *vm, PvArray *a)
{
    size_t cap = a->cap < ARRAY_MIN_CAP ? ARRAY_MIN_CAP : pvmV_checked_size(vm, a->cap, 2, 0);
    size_t size = pvmV_checked_size(vm, cap, sizeof(Value), 0);
    a->items = a->items ? pvmV_realloc(vm, a->items, size) : pvmV_alloc(vm, size);
    a->cap = cap;
}

void pvmV_array_push(VM *vm, PvArray *a, Value v)
{
    if (a->len == a->cap)
        array_grow(vm, a);
    a->items[a->len++] = v;
}

static void check_index(VM *vm, const PvArray *a, int64_t i)
{
    if (i < 0 || (uint64_t)i >= a->len)
        pvmV_error(vm, "index %" PRId64 " out of range for array of length %zu", i, a->len);
}

Value pvmV_array_get(VM *vm, const PvArray *a, int64_t i)
{
    check_index(vm, a, i);
    return a->items[i];
}

void pvmV_array_set(VM *vm, PvArray *a, int64_t i, Value v)
{
    check_index(vm, a, i);
    a->items[i] = v;
}
