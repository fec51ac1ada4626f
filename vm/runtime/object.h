/* Heap objects: strings, arrays, maps, functions, and their operations.
 *
 * All objects are allocated through the VM's allocation funnel (gc.c) and
 * reclaimed by bdwgc. Operations that can fail on bad input raise a PV
 * runtime error with vm_error (which does not return). */
#ifndef PVM_OBJECT_H
#define PVM_OBJECT_H

#include "vm/runtime/value.h"

typedef struct VM VM;

/* Immutable byte string, hashed once at creation. chars is NUL-terminated
 * for convenience but may contain NULs; len is authoritative. Allocated
 * pointer-free (GC_MALLOC_ATOMIC). */
typedef struct PvString {
    uint64_t hash;
    size_t len;
    char chars[];
} PvString;

typedef struct PvArray {
    Value *items;
    size_t len, cap;
} PvArray;

/* Insertion-ordered hash map: [entries] in insertion order (removed ones
 * become tombstones with key type VT__COUNT), plus an open-addressing
 * [index] of slots holding an entry position and 32 bits of its hash
 * (vm/runtime/map.c describes the layout). */
typedef struct {
    Value key;
    Value value;
} PvMapEntry;

typedef struct PvMap {
    PvMapEntry *entries;
    size_t used;      /* entries written, tombstones included */
    size_t count;     /* live entries */
    size_t cap;       /* capacity of entries */
    uint64_t *index;
    size_t index_cap; /* power of two, or 0 */
} PvMap;

#define VM_MAP_TOMBSTONE ((uint64_t)VT__COUNT)

/* Strings */
PvString *vm_string_new(VM *vm, const char *chars, size_t len);
PvString *vm_string_cstr(VM *vm, const char *cstr);
PvString *vm_string_concat(VM *vm, const PvString *a, const PvString *b);
bool vm_string_equal(const PvString *a, const PvString *b);
int vm_string_compare(const PvString *a, const PvString *b); /* bytewise, <0 0 >0 */
uint64_t vm_hash_bytes(const char *chars, size_t len);
static inline Value vm_str_value(PvString *s) { return vm_obj(VT_STRING, s); }

/* Arrays */
PvArray *vm_array_new(VM *vm, size_t capacity);
void vm_array_push(VM *vm, PvArray *a, Value v);
/* Raises "index I out of range for array of length N" when out of range. */
Value vm_array_get(VM *vm, const PvArray *a, int64_t i);
void vm_array_set(VM *vm, PvArray *a, int64_t i, Value v);

/* Maps. Keys are normalised (integral floats become ints). Setting a nil or
 * NaN key raises an error; reading one returns false / nil. */
PvMap *vm_map_new(VM *vm, size_t capacity);
bool vm_map_get(const PvMap *m, Value key, Value *out);
void vm_map_set(VM *vm, PvMap *m, Value key, Value value);
bool vm_map_remove(PvMap *m, Value key, Value *removed);
/* The entry position of [key] (a string), or -1: for inline caches, which
 * then check entries[pos] directly on later lookups. */
int64_t vm_map_find_string(const PvMap *m, Value key);
/* Iteration: the first live entry at position >= [pos], or -1. */
int64_t vm_map_next(const PvMap *m, size_t pos);
Value vm_map_key_normalise(Value key);

/* Functions */
typedef struct PvUpval {
    Value *v;              /* points into the VM stack while open, at [closed] after */
    Value closed;
    size_t slot;           /* stack index while open */
    struct PvUpval *next;  /* next open upvalue, by decreasing slot */
} PvUpval;

struct VmProto;

typedef struct PvClosure {
    struct VmProto *proto;
    uint32_t nupvals;
    PvUpval *upvals[];
} PvClosure;

/* A native receives its arguments in args[0..argc-1] and returns a value;
 * it reports errors with vm_error. [data] is the registering host's. */
typedef Value (*VmNativeFn)(VM *vm, int argc, Value *args, void *data);

typedef struct PvNative {
    PvString *name;
    VmNativeFn fn;
    void *data;
    int min_args; /* arity checks done by the VM before the call */
    int max_args; /* -1: unbounded */
} PvNative;

PvNative *vm_native_new(VM *vm, const char *name, VmNativeFn fn, int min_args, int max_args, void *data);

/* A host address (VT_POINTER). as.p points to this box, not to the address
 * itself, so that a pointer can keep alive what it refers to (an ffi.alloc
 * block, a callback's closure record) through a plain pointer word the
 * collector sees. Display, equality and hashing use [addr] only; the other
 * fields belong to the ffi (stdlib/ffi.h, docs/ffi.md). A zeroed box with an
 * address is a valid foreign pointer. */
typedef struct PvPointer {
    void *addr;
    void *owner;   /* collector object kept alive with the pointer, or NULL */
    size_t size;   /* bytes from [owner] that ffi.read/ffi.write may touch */
    uint32_t kind; /* PV_PTR_FOREIGN, ... (stdlib/ffi.h) */
} PvPointer;

static inline void *vm_pointer_addr(Value v) { return ((const PvPointer *)v.as.p)->addr; }

/* Display form (display.c): the text str(v) gives, appended to [buf]. */
typedef struct {
    char *data;
    size_t len, cap;
} VmBuf;

void vm_buf_init(VmBuf *b);
void vm_buf_free(VmBuf *b);
void vm_buf_add(VmBuf *b, const char *s, size_t n);
void vm_buf_addc(VmBuf *b, char c);
void vm_buf_addf(VmBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void vm_display(VmBuf *buf, Value v);
/* The form inside a container: strings quoted and escaped. */
void vm_display_element(VmBuf *buf, Value v);
/* Shortest round-tripping float text in Python repr style ("0.1", "1e+16"). */
void vm_format_float(char out[32], double d);
PvString *vm_to_string(VM *vm, Value v);

#endif
