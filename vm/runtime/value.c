/* Values: type names, language equality, exact int/float comparison and the
 * hash that map keys use.
 *
 * The one subtle rule is that ints and floats are compared by their exact
 * mathematical value, never by converting the int to a double (which rounds
 * above 2^53). Hashing follows the same rule: an integral float that fits in
 * an int64 hashes as that int, so 1 and 1.0 land in the same map slot. */
#include <math.h>
#include <string.h>

#include "vm/runtime/object.h"

/* 2^63 as a double: the first float above every int64. */
#define TWO_POW_63 9223372036854775808.0

/* Distinguishes the hashes of different kinds of value that share a payload
 * (the bool true, the int 1, a float's bits) so they do not all collide. */
enum {
    SALT_NIL = 0x6e696c,
    SALT_BOOL = 0x626f6f6c,
    SALT_FLOAT = 0x666c6f6174,
    SALT_REF = 0x726566,
};

const char *pvmV_type_name(Value v)
{
    static const char *const names[VT__COUNT] = {
        [VT_NIL] = "nil",         [VT_BOOL] = "bool",          [VT_INT] = "int",
        [VT_FLOAT] = "float",     [VT_STRING] = "string",      [VT_ARRAY] = "array",
        [VT_MAP] = "map",         [VT_CLOSURE] = "function",   [VT_NATIVE] = "function",
        [VT_POINTER] = "pointer",
    };
    if (v.type >= VT__COUNT)
        return "invalid";
    return names[v.type];
}

int pvmV_compare_int_float(int64_t i, double f)
{
    if (isnan(f))
        return 2;
    if (f >= TWO_POW_63)
        return -1;
    if (f < -TWO_POW_63)
        return 1;
    /* Now -2^63 <= f < 2^63, so its integral part converts to int64 exactly. */
    double whole = trunc(f);
    int64_t w = (int64_t)whole;
    if (i != w)
        return i < w ? -1 : 1;
    /* Same integral part: the fraction decides. */
    if (f > whole)
        return -1;
    if (f < whole)
        return 1;
    return 0;
}

bool pvmV_values_equal(Value a, Value b)
{
    if (a.type != b.type) {
        if (a.type == VT_INT && b.type == VT_FLOAT)
            return pvmV_compare_int_float(a.as.i, b.as.f) == 0;
        if (a.type == VT_FLOAT && b.type == VT_INT)
            return pvmV_compare_int_float(b.as.i, a.as.f) == 0;
        return false;
    }
    switch ((ValueType)a.type) {
    case VT_NIL:
        return true;
    case VT_BOOL:
        return a.as.b == b.as.b;
    case VT_INT:
        return a.as.i == b.as.i;
    case VT_FLOAT:
        return a.as.f == b.as.f;
    case VT_STRING:
        return pvmV_string_equal(a.as.s, b.as.s);
    case VT_POINTER:
        return vm_pointer_addr(a) == vm_pointer_addr(b);
    default:
        return a.as.p == b.as.p;
    }
}

/* A 64-bit finaliser: every input bit affects every output bit, so the low
 * bits the map index uses are well spread even for ints like 1024*k. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 31;
    x *= 0x7fb5d329728ea185ull;
    x ^= x >> 27;
    x *= 0x81dadef4bc2dd44dull;
    x ^= x >> 33;
    return x;
}

static uint64_t float_bits(double f)
{
    uint64_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

uint64_t pvmV_value_hash(Value v)
{
    Value k = pvmV_map_key_normalise(v);
    switch ((ValueType)k.type) {
    case VT_NIL:
        return mix64(SALT_NIL);
    case VT_BOOL:
        return mix64(SALT_BOOL + (k.as.b ? 1 : 0));
    case VT_INT:
        return (uint64_t)k.as.i; /* maps probe with all the bits: see map.c */
    case VT_FLOAT:
        return mix64(float_bits(k.as.f) ^ SALT_FLOAT);
    case VT_STRING:
        return k.as.s->hash;
    case VT_POINTER:
        return mix64((uint64_t)(uintptr_t)vm_pointer_addr(k) ^ SALT_REF);
    default:
        return mix64((uint64_t)(uintptr_t)k.as.p ^ SALT_REF);
    }
}
