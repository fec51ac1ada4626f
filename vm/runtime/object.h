/* Heap objects: strings, arrays, maps, functions, and their operations.
 *
 * All objects are allocated through the VM's allocation funnel (gc.c) and
 * reclaimed by bdwgc. Operations that can fail on bad input raise a PV
 * runtime error with pvmV_error (which does not return). */
#ifndef PVM_OBJECT_H
#define PVM_OBJECT_H

#include "vm/config.h"
#include "vm/runtime/value.h"
#include "vm/runtime/array.h" /* arrays: their kinds and accessors */

typedef struct VM VM;

/* Immutable byte string, hashed once at creation. chars is NUL-terminated
 * for convenience but may contain NULs; len is authoritative. Allocated
 * pointer-free (GC_MALLOC_ATOMIC). */
typedef struct PvString {
    uint64_t hash;
    size_t len;
    char chars[];
} PvString;

/* Insertion-ordered hash map: [entries] in insertion order, each a value
 * and its key's payload, with the keys' types in a byte array beside them
 * ([key_types], in the same block: 25 bytes an entry instead of two
 * 16-byte Values); a removed entry becomes a tombstone, key type
 * VM_MAP_TOMBSTONE. An open-addressing [index] of 32-bit slots holds an
 * entry position and bits of its hash (vm/runtime/map.c describes the
 * layout). Read keys with pvmV_map_key. */
typedef struct {
    Value value;            /* first: a field's value is at its entry's address (jit/loop.c) */
    union ValuePayload key;
} PvMapEntry;

typedef struct PvMap {
    PvMapEntry *entries;  /* inline_entries, or an array of its own */
    size_t used;          /* entries written, tombstones included */
    size_t count;         /* live entries */
    size_t cap;           /* capacity of entries */
    uint32_t *index;      /* NULL while the map is small (see map.c) */
    uint8_t *key_types;   /* [cap] ValueTypes, right after the entries */
    uint32_t index_cap;   /* power of two (at most 2^31), or 0 */
    uint32_t inline_cap;  /* capacity of inline_entries */
    uint64_t key_bits;    /* a small map's filter of its keys' hashes (map.c) */
    /* Live keys that are not strings: while there are none, a trace's
     * field reads guard this once for the map instead of each key's type. */
    uint64_t nonstring_keys;
    PvMapEntry inline_entries[]; /* a small map's entries, then their key types */
} PvMap;

#define VM_MAP_TOMBSTONE ((uint8_t)VT__COUNT)
/* What an entry costs in its block: the entry and its key's type byte. */
#define VM_MAP_ENTRY_BYTES (sizeof(PvMapEntry) + 1)

/* The key of the entry at [pos] (below used; a tombstone's type is
 * VM_MAP_TOMBSTONE). */
static inline Value pvmV_map_key(const PvMap *m, size_t pos)
{
    Value k;
    k.type = m->key_types[pos];
    k.as = m->entries[pos].key;
    return k;
}

/* Whether the entry at [pos] (below used) holds the very string [s]: its
 * payload is [s], and the key is a string (certainly so in a map with no
 * other keys, which spares the field caches a load). */
static inline bool pvmV_map_key_is(const PvMap *m, size_t pos, const struct PvString *s)
{
    return m->entries[pos].key.s == s && (m->nonstring_keys == 0 || m->key_types[pos] == VT_STRING);
}

/* Strings */
PvString *pvmV_string_new(VM *vm, const char *chars, size_t len);
/* A string built in place, without a copy (a native making a large one):
 * alloc gives [len] bytes to fill, seal computes the hash once they are. */
PvString *pvmV_string_alloc(VM *vm, size_t len);
PvString *pvmV_string_seal(PvString *s);
PvString *pvmV_string_cstr(VM *vm, const char *cstr);
PvString *pvmV_string_concat(VM *vm, const PvString *a, const PvString *b);
bool pvmV_string_equal(const PvString *a, const PvString *b);
int pvmV_string_compare(const PvString *a, const PvString *b); /* bytewise, <0 0 >0 */
uint64_t pvmV_hash_bytes(const char *chars, size_t len);
static inline Value vm_str_value(PvString *s) { return vm_obj(VT_STRING, s); }

/* Maps. Keys are normalised (integral floats become ints). Setting a nil or
 * NaN key raises an error; reading one returns false / nil. */
PvMap *pvmV_map_new(VM *vm, size_t capacity);
bool pvmV_map_get(const PvMap *m, Value key, Value *out);
/* The entry holding [key], or NULL; valid until the map next grows. */
PvMapEntry *pvmV_map_entry(const PvMap *m, Value key);
void pvmV_map_set(VM *vm, PvMap *m, Value key, Value value);
bool pvmV_map_remove(PvMap *m, Value key, Value *removed);
/* The entry position of [key] (a string), or -1: for inline caches, which
 * then check entries[pos] directly on later lookups. */
int64_t pvmV_map_find_string(const PvMap *m, Value key);
/* False when [key] (a string) is certainly not in [m]: a small map's key
 * filter, checked inline before a lookup that would miss. */
static inline bool pvmV_map_may_hold(const PvMap *m, const PvString *key)
{
    return m->index != NULL || ((m->key_bits >> (key->hash & 63)) & 1) != 0;
}
/* Iteration: the first live entry at position >= [pos], or -1. */
int64_t pvmV_map_next(const PvMap *m, size_t pos);
Value pvmV_map_key_normalise(Value key);

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
 * it reports errors with pvmV_error. [data] is the registering host's. */
typedef Value (*VmNativeFn)(VM *vm, int argc, Value *args, void *data);

/* Natives the JIT may compute inline instead of calling: the standard
 * library marks its own (a host's natives are never marked, whatever
 * their names), and a trace guards the native's identity. */
typedef enum {
    VM_INTRINSIC_NONE,
    VM_INTRINSIC_SQRT,  /* math.sqrt: float(x), then sqrt */
    VM_INTRINSIC_LEN,   /* len: of an array, a string or a map */
    VM_INTRINSIC_FLOOR, /* math.floor and math.ceil: an int, or a float */
    VM_INTRINSIC_CEIL,  /*   rounded to an int (an error out of range) */
    VM_INTRINSIC_ABS,   /* math.abs of an int (wrapping) or a float */
    VM_INTRINSIC_MIN,   /* math.min and math.max of two ints or two floats */
    VM_INTRINSIC_MAX,
    VM_INTRINSIC_HAS,   /* has(m, k) of a map and a string or int key */
    VM_INTRINSIC_TYPE,  /* type(v): the VM's shared name of v's type */
    VM_INTRINSIC_PUSH,  /* push(a, v) onto an array with elements, of v's kind */
    VM_INTRINSIC_STR,   /* str(v) of an int, a float or a string */
    VM_INTRINSIC_REMOVE /* remove(m, k) of a map and a string or int key */
} VmIntrinsic;

/* A native that only converts its arguments and calls one C function
 * whose parameters and result are C scalars (an ffi.fn binding,
 * stdlib/ffi_call.c), described so that the JIT can make that call from a
 * trace itself: the arguments checked and converted as the native does,
 * passed in registers, the result converted back (docs/jit.md, "C calls
 * in traces"). The ffi fills it in (inside a struct of its own, which
 * the three functions below find from it); the JIT only reads it. */
typedef enum {
    VM_CARG_INT,    /* a C integer of [size] bytes, [is_signed] or not */
    VM_CARG_FLOAT,
    VM_CARG_DOUBLE,
    VM_CARG_VOID    /* results only */
} VmCArgKind;

typedef struct {
    uint8_t kind;      /* VmCArgKind */
    uint8_t size;      /* integers: 1, 2, 4 or 8 */
    bool is_signed;
    int64_t min, max;  /* integers: the PV ints the native accepts */
} VmCArg;

#define VM_CCALL_MAX_ARGS 6

typedef struct VmCCall {
    void *code;                    /* the C function */
    /* The bookkeeping the native does around its call, so that callbacks
     * may run during it (stdlib/ffi_callback.c): [enter] before C runs,
     * with the stack top the interpreter has during a native's call (past
     * the arguments: a callback's frame goes there, above every slot the
     * trace may still read from the stack); [leave] after, which puts the
     * top back and is true when the trace must leave at once: a callback
     * ran (PV code may have changed anything the trace holds) or failed,
     * and then [leave] has set vm->ccall_failed to this call, whose
     * [raise] throws what the native would have thrown (jit.c calls it
     * once the trace has written the frame back). */
    void (*enter)(const struct VmCCall *c, Value *top);
    bool (*leave)(const struct VmCCall *c);
    void (*raise)(VM *vm, const struct VmCCall *c);
    int nargs;
    VmCArg args[VM_CCALL_MAX_ARGS];
    VmCArg ret;
} VmCCall;

/* Natives a trace may call itself, as the interpreter would (docs/jit.md,
 * "Natives called from traces"): the standard library marks those that
 * run no PV code, touch no frame, and raise only before they change
 * anything, so that a call that raises can be left to the interpreter to
 * make again. A host's natives are never marked. */
typedef enum {
    VM_LEAF_NO,
    VM_LEAF_PURE,    /* changes no object a trace may have read */
    VM_LEAF_MUTATES, /* may change its arguments (an array's items, a map) */
} VmLeaf;

typedef struct PvNative {
    PvString *name;
    VmNativeFn fn;
    void *data;
    int min_args; /* arity checks done by the VM before the call */
    int max_args; /* -1: unbounded */
    VmIntrinsic intrinsic;
    uint8_t leaf;         /* a VmLeaf */
    const VmCCall *ccall; /* NULL but for a plain C call the JIT may make itself */
} PvNative;

PvNative *pvmV_native_new(VM *vm, const char *name, VmNativeFn fn, int min_args, int max_args, void *data);

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

/* Display form (display.c): the text str(v) gives, appended to [buf].
 * A VmBuf is malloc memory; when it cannot grow it sets [failed], keeps
 * what it has (data stays a valid C string) and ignores further appends:
 * callers that need the whole text check [failed] once at the end. */
typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} VmBuf;

void pvmV_buf_init(VmBuf *b);
void pvmV_buf_free(VmBuf *b);
void pvmV_buf_add(VmBuf *b, const char *s, size_t n);
void pvmV_buf_addc(VmBuf *b, char c);
void pvmV_buf_addf(VmBuf *b, const char *fmt, ...) PVM_PRINTF(2, 3);

void pvmV_display(VmBuf *buf, Value v);
/* The form inside a container: strings quoted and escaped. */
void pvmV_display_element(VmBuf *buf, Value v);
/* Shortest round-tripping float text in Python repr style ("0.1", "1e+16"). */
void pvmV_format_float(char out[32], double d);
PvString *pvmV_to_string(VM *vm, Value v);

#endif
