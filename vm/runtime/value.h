/* Values: the 16-byte tagged representation of every PV value.
 *
 * A Value is {type, payload}. Heap objects are stored as plain, unmodified
 * pointers in the payload word so that the conservative Boehm collector sees
 * them (docs/vm.md explains why NaN-boxing is ruled out). The layout is fixed
 * so that JIT code can load the tag and payload with two 8-byte moves. */
#ifndef PVM_VALUE_H
#define PVM_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    VT_NIL,
    VT_BOOL,
    VT_INT,
    VT_FLOAT,
    VT_STRING,
    VT_ARRAY,
    VT_MAP,
    VT_CLOSURE, /* a PV function: both are type "function" to programs */
    VT_NATIVE,  /* a C function */
    VT_POINTER, /* an opaque host address (ffi) */
    VT__COUNT
} ValueType;

struct PvString;
struct PvArray;
struct PvMap;
struct PvClosure;
struct PvNative;

typedef struct Value {
    uint64_t type; /* ValueType; a full word keeps the payload 8-aligned */
    union ValuePayload {
        bool b;
        int64_t i;
        double f;
        void *p;
        struct PvString *s;
        struct PvArray *a;
        struct PvMap *m;
        struct PvClosure *cl;
        struct PvNative *nat;
    } as;
} Value;

#define VAL_NIL ((Value){ .type = VT_NIL, .as.i = 0 })
#define VAL_TRUE ((Value){ .type = VT_BOOL, .as.i = 1 })
#define VAL_FALSE ((Value){ .type = VT_BOOL, .as.i = 0 })

static inline Value vm_bool(bool b) { Value v = { .type = VT_BOOL, .as.i = b ? 1 : 0 }; return v; }
static inline Value vm_int(int64_t i) { Value v = { .type = VT_INT, .as.i = i }; return v; }
static inline Value vm_float(double f) { Value v = { .type = VT_FLOAT, .as.f = f }; return v; }
static inline Value vm_obj(ValueType t, void *p) { Value v = { .type = t, .as.p = p }; return v; }

static inline bool vm_is_truthy(Value v)
{
    return !(v.type == VT_NIL || (v.type == VT_BOOL && !v.as.b));
}
static inline bool vm_is_number(Value v) { return v.type == VT_INT || v.type == VT_FLOAT; }
static inline bool vm_is_function(Value v) { return v.type == VT_CLOSURE || v.type == VT_NATIVE; }

/* The type's name as PV programs see it ("int", "function", ...). */
const char *pvmV_type_name(Value v);

/* Language equality (==): numbers by mathematical value, strings by content,
 * everything else by identity. */
bool pvmV_values_equal(Value a, Value b);

/* Equality of map keys: like pvmV_values_equal except that NaN equals itself
 * never occurs (NaN keys are rejected) and int/float keys are normalised
 * before they reach the map. */
uint64_t pvmV_value_hash(Value v);

/* Exact comparison of an int with a float (no rounding): -1, 0, 1, or 2
 * when [f] is NaN. */
int pvmV_compare_int_float(int64_t i, double f);

#endif
