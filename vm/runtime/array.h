/* Arrays: growable vectors whose storage depends on what they hold.
 *
 * An array whose elements all have one of the types bool, int or float
 * stores them unboxed (a byte per bool, the 8-byte payload per int or
 * float) in pointer-free memory the collector does not scan; any other
 * array stores 16-byte Values. Programs cannot tell the difference: every
 * access goes through the functions below, which give and take Values.
 *
 * The element kind is chosen when an empty array receives its first
 * element (from that element) or when it is made from known elements (a
 * literal, array.new(n, v), a slice), and becomes VM_ARR_BOXED the first
 * time an element of another type is stored: an int array receiving a
 * float, a string or nil boxes all its elements (an int is never widened,
 * so it reads back as an int). A boxed array stays boxed while it has
 * elements. docs/vm.md shows the transitions. */
#ifndef PVM_ARRAY_H
#define PVM_ARRAY_H

#include <stddef.h>

#include "vm/runtime/value.h"

typedef struct VM VM;

/* Ints and floats are numbered as their value type, so that storing one
 * checks a single compare (kind == type: no other kind equals a type);
 * bools and boxed Values have numbers no value type has. */
typedef enum {
    VM_ARR_INT = VT_INT,     /* the int64_t, 8 bytes */
    VM_ARR_FLOAT = VT_FLOAT, /* the double's bits, 8 bytes */
    VM_ARR_BOXED = 16,       /* Values, 16 bytes each, scanned */
    VM_ARR_BOOL = 17         /* one byte each, 0 or 1 */
} PvArrayKind;

/* [items] is NULL only while [len] is 0: an empty array gets storage of
 * the right kind with its first element, with the capacity it was made
 * with. Ints and floats are both kept as the payload word (w), never
 * through a double pointer, so the bits round-trip exactly.
 *
 * The kind and the capacity share a word (56 bits of capacity are beyond
 * any allocation VM_MAX_ALLOC allows): three words make a 32-byte
 * collector block, where four would take 48, because bdwgc adds a byte to
 * every object so that a pointer just past its end keeps it alive. The
 * kind is that word's first byte on x86-64, which JIT code reads
 * (VM_ARR_KIND_OFFSET; tests/unit/test_array.c checks it). */
typedef struct PvArray {
    union {
        Value *v;    /* VM_ARR_BOXED */
        uint64_t *w; /* VM_ARR_INT, VM_ARR_FLOAT */
        uint8_t *b;  /* VM_ARR_BOOL */
    } items;
    size_t len;
    uint64_t kind : 8; /* PvArrayKind */
    uint64_t cap : 56;
} PvArray;

#define VM_ARR_KIND_OFFSET (offsetof(PvArray, len) + sizeof(size_t))

/* Whether [v] can be stored in [a] without a change of kind. */
static inline bool pvmV_array_fits(const PvArray *a, Value v)
{
    return a->kind == v.type || a->kind == VM_ARR_BOXED || (a->kind == VM_ARR_BOOL && v.type == VT_BOOL);
}

/* Element [i] (< len) as a Value. Ints and floats come first, with one
 * compare: every hot path here is counted in instructions
 * (bench/RESULTS.md). */
static inline Value pvmV_array_load(const PvArray *a, size_t i)
{
    uint32_t kind = a->kind;
    Value v;
    if (kind < VM_ARR_BOXED) {
        v.type = kind;
        v.as.i = (int64_t)a->items.w[i];
    } else if (kind == VM_ARR_BOOL) {
        v.type = VT_BOOL;
        v.as.i = a->items.b[i];
    } else {
        v = a->items.v[i];
    }
    return v;
}

/* Stores [v] at [i] (< len), which must fit (pvmV_array_fits). */
static inline void pvmV_array_put(PvArray *a, size_t i, Value v)
{
    uint32_t kind = a->kind;
    if (kind < VM_ARR_BOXED)
        a->items.w[i] = (uint64_t)v.as.i;
    else if (kind == VM_ARR_BOOL)
        a->items.b[i] = v.as.b;
    else
        a->items.v[i] = v;
}

/* pvmV_array_put if [v] fits, in one pass over the kind: false if not. */
static inline bool pvmV_array_try_put(PvArray *a, size_t i, Value v)
{
    uint32_t kind = a->kind;
    if (kind == v.type)
        a->items.w[i] = (uint64_t)v.as.i;
    else if (kind == VM_ARR_BOOL) {
        if (v.type != VT_BOOL)
            return false;
        a->items.b[i] = v.as.b;
    } else if (kind == VM_ARR_BOXED)
        a->items.v[i] = v;
    else
        return false;
    return true;
}

/* Stores [v] at [i] (< len), boxing the array first if [v] does not fit. */
void pvmV_array_store(VM *vm, PvArray *a, size_t i, Value v);

/* An empty array whose first push will allocate room for [capacity]. */
PvArray *pvmV_array_new(VM *vm, size_t capacity);
/* An array holding a copy of [n] values, of the kind they share. */
PvArray *pvmV_array_of(VM *vm, const Value *vals, size_t n);
/* array.new(n, v): [n] copies of [v]. */
PvArray *pvmV_array_filled(VM *vm, size_t n, Value v);
PvArray *pvmV_array_slice(VM *vm, const PvArray *a, size_t from, size_t to);
PvArray *pvmV_array_concat(VM *vm, const PvArray *a, const PvArray *b);

void pvmV_array_push(VM *vm, PvArray *a, Value v);
Value pvmV_array_pop(PvArray *a); /* len > 0 */
/* Inserts [v] before element [i] (<= len) / removes element [i] (< len). */
void pvmV_array_insert(VM *vm, PvArray *a, size_t i, Value v);
Value pvmV_array_remove(PvArray *a, size_t i);
/* Replaces the contents of [a] with [n] values (as pvmV_array_of). */
void pvmV_array_assign(VM *vm, PvArray *a, const Value *vals, size_t n);

/* Bounds-checked element access for the language: raises "index I out of
 * range for array of length N" when out of range. */
Value pvmV_array_get(VM *vm, const PvArray *a, int64_t i);
void pvmV_array_set(VM *vm, PvArray *a, int64_t i, Value v);

#endif
