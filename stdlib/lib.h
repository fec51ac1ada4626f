/* Internal interface of the standard library: argument checking, module
 * registration, a collector-backed byte buffer, the random generator, and
 * the per-module open functions that pvmL_open calls.
 *
 * Every native the library registers receives its full name ("string.sub",
 * "len") as its [data] pointer, so argument errors can name the function:
 *   string.sub: argument 2 must be int, got string */
#ifndef PVM_STDLIB_LIB_H
#define PVM_STDLIB_LIB_H

#include "vm/interp/interp.h"

/* One native of a module. [name] is the full name, "module.func" (or just
 * "func" for the built-ins); the part after the dot is the map key. */
typedef struct {
    const char *name;
    VmNativeFn fn;
    int min_args, max_args; /* max_args -1: unbounded */
    VmLeaf leaf;            /* whether a trace may call it itself (vm/runtime/object.h) */
} LibFunc;

/* A native value for [f], carrying its name as data. */
Value pvmL_native(VM *vm, const LibFunc *f);
/* A new module map holding the natives of [funcs] (terminated by a NULL name). */
PvMap *pvmL_module(VM *vm, const LibFunc *funcs);
void pvmL_set(VM *vm, PvMap *module, const char *key, Value v);
/* Marks the native at [key] of [m] as one the JIT may inline (object.h). */
void pvmL_mark_intrinsic(VM *vm, PvMap *m, const char *key, VmIntrinsic k);

/* Argument checks. [i] is 0-based; messages count from 1. Each raises
 * "NAME: argument N must be TYPE, got TYPE" on a mismatch. */
PVM_NORETURN void pvmL_arg_error(VM *vm, const char *fname, int i, const char *expected,
                                             Value got);
int64_t pvmL_arg_int(VM *vm, const char *fname, const Value *args, int i);
double pvmL_arg_number(VM *vm, const char *fname, const Value *args, int i); /* int or float */
PvString *pvmL_arg_string(VM *vm, const char *fname, const Value *args, int i);
PvArray *pvmL_arg_array(VM *vm, const char *fname, const Value *args, int i);
PvMap *pvmL_arg_map(VM *vm, const char *fname, const Value *args, int i);
Value pvmL_arg_function(VM *vm, const char *fname, const Value *args, int i);

/* The whitespace int() and float() skip and string.trim removes: space,
 * \t \n \v \f \r (ASCII only). */
static inline bool lib_is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* Narrows [*p, *end) to the text between surrounding whitespace. */
void pvmL_trim_spaces(const char **p, const char **end);

/* Exact comparison of two numbers (ints and floats mixed): -1, 0, 1, or 2
 * when either is NaN. */
int pvmL_compare_numbers(Value a, Value b);
/* [integral] (an integral float computed from [x]) as an int, or the error
 * "NAME: cannot convert X to int" when it is NaN, infinite or out of range. */
int64_t pvmL_float_to_int(VM *vm, const char *fname, double x, double integral);
/* Clamps a PV index to 0..len (string.sub, array.slice). */
size_t pvmL_clamp_index(int64_t i, size_t len);
/* Raises the language's "index I out of range for string of length N". */
PVM_NORETURN void pvmL_string_index_error(VM *vm, int64_t i, size_t len);

/* Long natives poll the interrupt (pvmV_charge(vm, 0)) at least once per
 * this many bytes of work: well under a millisecond of copying. */
#define LIB_POLL_BYTES ((size_t)1 << 20)

/* A growable byte buffer in the collector's heap. Natives raise errors with
 * longjmp, which would leak a malloc'd buffer (VmBuf); this one is simply
 * collected. */
typedef struct {
    VM *vm;
    char *data;
    size_t len, cap;
    size_t uncharged; /* bytes added since the budget was last charged */
} LibBuf;

void pvmL_buf_init(LibBuf *b, VM *vm);
/* Adding charges the budget for the bytes, every few kilobytes and before
 * copying a large piece; _uncharged is for callers that cannot be
 * interrupted where they add (a file open) and charge themselves. */
void pvmL_buf_add(LibBuf *b, const char *s, size_t n);
void pvmL_buf_add_uncharged(LibBuf *b, const char *s, size_t n);
void pvmL_buf_addc(LibBuf *b, char c);
void pvmL_buf_add_value(LibBuf *b, Value v); /* str(v) */
PvString *pvmL_buf_string(const LibBuf *b);

/* xoshiro256** seeded through splitmix64 (random.c; docs/stdlib.md gives
 * the exact algorithm so that any host reproduces a sequence). */
typedef struct {
    uint64_t s[4];
} LibRng;

void pvmL_rng_seed(LibRng *r, uint64_t seed);
uint64_t pvmL_rng_next(LibRng *r);
double pvmL_rng_float(LibRng *r);                  /* [0, 1) */
int64_t pvmL_rng_range(LibRng *r, int64_t lo, int64_t hi); /* [lo, hi], lo <= hi */

/* The string.format native (format.c). */
Value pvmL_string_format(VM *vm, int argc, Value *args, void *data);

/* Registration of each part, called by pvmL_open. */
void pvmL_open_builtins(VM *vm);
void pvmL_open_math(VM *vm);
void pvmL_open_string(VM *vm);
void pvmL_open_array(VM *vm);
void pvmL_open_io(VM *vm);
void pvmL_open_os(VM *vm, int argc, char **argv);

#endif
