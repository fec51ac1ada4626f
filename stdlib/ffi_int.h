/* Internal interface shared by the ffi's files:
 *   ffi.c           the module map, the per-VM state, the disabled switch
 *   ffi_types.c     the C type table and checked PV <-> C conversions
 *   ffi_call.c      ffi.open, ffi.fn and calling C functions
 *   ffi_callback.c  ffi.callback: C calling back into PV
 *   ffi_direct.c    precompiled callback entries that need no libffi closure
 *   ffi_memory.c    pointer values, ffi.alloc/read/write/string and friends
 *   ffi_cdef.c      ffi.cdef: the C declaration parser and the declarations
 *   ffi_struct.c    C types beyond scalars: layout, aggregates by value,
 *                   ffi.new/get/set/offsetof/alignof
 *
 * Functions shared between these files carry the prefix pvmF_ (libffi owns
 * ffi_); types are Ffi*. */
#ifndef PVM_STDLIB_FFI_INT_H
#define PVM_STDLIB_FFI_INT_H

#include <ffi.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "stdlib/ffi.h"

/* The C types PV code may name, in the order of the type table. */
typedef enum {
    FK_VOID,
    FK_INT8,
    FK_INT16,
    FK_INT32,
    FK_INT64,
    FK_UINT8,
    FK_UINT16,
    FK_UINT32,
    FK_UINT64,
    FK_INT,
    FK_LONG,
    FK_UINT,
    FK_ULONG,
    FK_SIZE_T,
    FK_FLOAT,
    FK_DOUBLE,
    FK_POINTER,
    FK_STRING,
    FK_BUFFER, /* parameters only: a writable ffi.alloc block */
    FK_BOOL,   /* C's _Bool: PV bools */
    FK_AGGREGATE, /* a struct, union or array: the FfiCType says which */
    FK_CSTRING,   /* a declared `const char *`: a string, a pointer or nil in; a string out */
    FK__COUNT
} FfiKind;

typedef struct {
    const char *name;
    ffi_type *type;
    size_t size;
    bool is_int, is_signed;
    int64_t min, max; /* accepted PV ints, for the integer types */
} FfiTypeInfo;

extern const FfiTypeInfo pvmF_types[FK__COUNT];

/* A C type from a declaration (ffi_cdef.c): every scalar of the table has
 * one, and pointers, arrays, structs, unions and function types are built
 * from them. Collector memory; never changed once complete, except that an
 * incomplete struct or union (`struct s;`) is completed in place. */
typedef enum { CT_SCALAR, CT_POINTER, CT_ARRAY, CT_STRUCT, CT_UNION, CT_FUNC } FfiCTag;

typedef struct FfiCType FfiCType;

typedef struct {
    const char *name; /* NULL for an anonymous struct or union member */
    size_t offset;
    const FfiCType *type;
} FfiField;

struct FfiCType {
    uint8_t tag;        /* FfiCTag */
    uint8_t kind;       /* scalars: their FfiKind; pointers FK_POINTER; else FK_AGGREGATE */
    bool complete;      /* false for void and for `struct s;` until defined */
    bool pointee_const; /* pointers: to a const type (`const char *` is a string in prototypes) */
    bool is_char;       /* the scalar `char` itself */
    bool anonymous;     /* a struct or union without a tag */
    bool unsupported;   /* long double: only pointers to it are usable */
    uint8_t nesting;    /* levels of pointers, arrays, functions and structs in it */
    size_t size, align; /* align as a struct member on this host */
    const char *name;   /* how messages spell it: "struct point", "int[4]" */
    const FfiCType *elem; /* arrays: the element; pointers: the pointee */
    size_t count;         /* arrays */
    int nfields;          /* structs and unions */
    FfiField *fields;
    const FfiCType *ret;  /* functions */
    int nparams;
    const FfiCType **params;
    bool variadic;
    ffi_type *ffi;        /* aggregates by value: libffi's view, built on first use */
};

/* A declared name (ffi_cdef.c). Tags (struct, union, enum) and ordinary
 * names (typedefs, functions, constants) are separate namespaces. */
typedef enum { FD_STRUCT, FD_UNION, FD_ENUM, FD_TYPEDEF, FD_FUNC, FD_CONST } FfiDeclKind;

typedef struct FfiDecl {
    struct FfiDecl *next; /* older declarations */
    uint8_t kind;         /* FfiDeclKind */
    const char *name;
    const FfiCType *type; /* all but constants */
    int64_t value;        /* constants */
} FfiDecl;

/* Room for one C value of any type in the table, and for a widened return. */
typedef union {
    int64_t i64;
    uint64_t u64;
    ffi_arg arg;
    ffi_sarg sarg;
    float f;
    double d;
    void *p;
} FfiSlot;

#define FFI_TYPE_CACHE 8 /* a power of two */
#define FFI_BOX_CACHE 4096 /* a power of two */
#define FFI_SPARE_BOXES 128

/* Per-VM state, the [data] of every ffi native. A callback may only run
 * while an ffi call of this VM is in progress on the thread that made it;
 * an error it throws is kept in [error] until that call returns. */
typedef struct FfiState {
    VM *vm;
    unsigned depth;    /* ffi calls in progress */
    pthread_t thread;  /* the thread making them, when depth > 0 */
    bool has_error;    /* a callback failed during the innermost call */
    VmErrorKind error_kind; /* ...and of which kind (a limit stays uncatchable) */
    Value error;
    /* The signal mask PV code runs with, as last seen: a callback entered
     * with one of its own signals newly blocked runs in that signal's
     * handler (ffi_callback.c). */
    sigset_t pv_mask;
    /* Set by a callback refused inside a signal handler during an ffi call
     * (async-signal-safe: a flag and a pointer), thrown when it returns. */
    volatile sig_atomic_t refused_in_signal;
    const char *volatile refused_name;
    /* Type names seen by ffi.read/ffi.write/ffi.sizeof, by string object,
     * direct-mapped on the string's hash: a hit is one compare instead of
     * a scan of the type table. Holding the strings here keeps them alive,
     * so no other string can reuse a cached address. */
    struct {
        const PvString *name;
        uint8_t kind;
        uint8_t int_size;   /* an integer scalar's size in bytes, else 0 */
        bool int_signed;
        const FfiCType *ctype; /* FK_AGGREGATE: which */
    } type_cache[FFI_TYPE_CACHE];
    /* Pointer boxes for callback arguments, which must be made without
     * raising (ffi_memory.c): recent foreign boxes by address (a box is
     * immutable, so an equal one can be handed out again; a qsort
     * comparator gets one of its two pointers again on most calls), and
     * fresh boxes allocated beforehand where raising was safe. */
    PvPointer **box_cache; /* FFI_BOX_CACHE entries, made with the first callback */
    PvPointer *spare_boxes[FFI_SPARE_BOXES];
    unsigned nspare;
    /* What ffi.cdef declared, newest first. */
    FfiDecl *decls;
    /* Callback entries since the C call a trace is making began: the
     * trace leaves after a call during which PV code may have run. */
    unsigned callbacks_run;
    Value *trace_top;  /* vm->top before that call, which it restores */
} FfiState;

/* How a trace calls a bound C function itself (vm/runtime/object.h):
 * [call] first, so that the JIT's VmCCall pointer is this one. */
typedef struct {
    VmCCall call;
    FfiState *st;
    const char *name;
} FfiTraceCall;

/* A parsed C signature. [kinds] has [nargs] entries; [types] has the
 * matching ffi_type pointers. For variadic functions the first [nfixed] are
 * the named parameters; [open] means further arguments are typed per call. */
typedef struct {
    FfiKind ret;
    int nargs, nfixed;
    bool variadic, open;
    uint8_t *kinds;
    ffi_type **types;
    /* Aggregates passed or returned by value (FK_AGGREGATE): their types,
     * NULL elsewhere ([ctypes] itself NULL when there is none), and the
     * bytes a call needs to hold them. */
    const FfiCType **ctypes;
    const FfiCType *ret_ctype;
    size_t agg_bytes;
    ffi_cif cif;
} FfiSig;

/* Where a conversion happens, for messages: "strlen: argument 2",
 * "ffi.write: argument 4", "qsort callback: return value". */
typedef struct {
    const char *fname;
    int arg; /* 1-based; 0 names the return value; -1: [fname] says it all */
} FfiWhere;

/* Stores the low [size] bytes' worth of [v] as a C integer of that size. */
static inline void pvmF_store_int(void *dst, size_t size, int64_t v)
{
    uint64_t u = (uint64_t)v;
    switch (size) {
    case 1: { uint8_t x = (uint8_t)u; memcpy(dst, &x, 1); return; }
    case 2: { uint16_t x = (uint16_t)u; memcpy(dst, &x, 2); return; }
    case 4: { uint32_t x = (uint32_t)u; memcpy(dst, &x, 4); return; }
    default: memcpy(dst, &u, 8); return;
    }
}

/* Reads a C integer of [size] bytes, sign- or zero-extended. */
static inline int64_t pvmF_load_int(const void *src, size_t size, bool is_signed)
{
    switch (size) {
    case 1: { uint8_t x; memcpy(&x, src, 1); return is_signed ? (int8_t)x : (int64_t)x; }
    case 2: { uint16_t x; memcpy(&x, src, 2); return is_signed ? (int16_t)x : (int64_t)x; }
    case 4: { uint32_t x; memcpy(&x, src, 4); return is_signed ? (int32_t)x : (int64_t)x; }
    default: { int64_t x; memcpy(&x, src, 8); return x; }
    }
}

/* ffi.c */
PVM_NORETURN void pvmF_disabled_error(VM *vm);
/* Inline: every ffi function starts with it, ffi.read included. */
static inline void pvmF_check_enabled(VM *vm)
{
    if (vm->ffi_disabled)
        pvmF_disabled_error(vm);
}

/* ffi_types.c */
/* The kind named by [name] (a string), or raises "FNAME: unknown C type
 * 'x' WHAT".
 * Besides the table's names, any C type ffi_cdef.c can parse: [*ctype]
 * is then set for FK_AGGREGATE (a struct, union or array), and [prototype]
 * says whether `const char *` means "string" (in a signature) or
 * "pointer" (in memory). */
FfiKind pvmF_parse_ctype(VM *vm, FfiState *st, Value name, const char *fname, const char *what,
                         bool prototype, const FfiCType **ctype);
/* Parses [ret] and the array [args] (or nil) into [sig]. "..." in the
 * array marks the variadic part when [allow_variadic]. */
void pvmF_parse_sig(VM *vm, FfiState *st, FfiSig *sig, Value ret, Value args, const char *fname,
                    bool allow_variadic);
/* Prepares sig->cif once sig's kinds and types are set. */
void pvmF_prepare_cif(VM *vm, FfiSig *sig, const char *fname);
/* Checked PV -> C: writes the C value of [v] for [k] at [dst] (size of k). */
void pvmF_to_c(VM *vm, FfiKind k, Value v, void *dst, FfiWhere where);
/* C -> PV: reads a [k] at [src] (exactly its size). */
Value pvmF_from_c(VM *vm, FfiKind k, const void *src);
/* libffi widens small integer returns to ffi_arg: these read and write
 * such a return buffer. */
Value pvmF_from_return(VM *vm, FfiKind k, const FfiSlot *ret);
void pvmF_to_return(VM *vm, FfiKind k, Value v, void *ret, FfiWhere where);
PVM_NORETURN void pvmF_type_error(VM *vm, FfiWhere where, const char *expected, Value got);

/* "FNAME: argument N" (or "FNAME: return value", or "FNAME") for messages. */
void pvmF_where_text(char *buf, size_t size, FfiWhere where);

/* ffi_cdef.c */
/* The C type [text] spells ("struct point", "const char *", "int[4]"), or
 * NULL when it does not start like one (no C type word, struct, union,
 * enum or declared type name); a text that starts like one but is wrong
 * raises "FNAME: in C type 'TEXT': 1:COL: ...". */
const FfiCType *pvmF_ctype_parse(VM *vm, FfiState *st, const PvString *text, const char *fname);
/* The declared function [name], or NULL. */
const FfiCType *pvmF_find_function(const FfiState *st, const char *name);
/* How a value of [t] converts: its scalar kind, FK_POINTER, FK_CSTRING (a
 * `const char *` in a prototype: [prototype]), or FK_AGGREGATE. */
FfiKind pvmF_ctype_kind(const FfiCType *t, bool prototype);
Value pvmF_cdef(VM *vm, int argc, Value *args, void *data);
Value pvmF_const(VM *vm, int argc, Value *args, void *data);

/* ffi_struct.c */
/* libffi's type for [t] by value; raises "FNAME: ..." when it has none. */
ffi_type *pvmF_ctype_ffi(VM *vm, const FfiCType *t, const char *fname);
/* Checked PV -> C of an aggregate (a map for structs and unions, an array
 * for arrays) into [dst] (t->size bytes); missing fields are zero. */
void pvmF_agg_to_c(VM *vm, const FfiCType *t, Value v, void *dst, FfiWhere where);
/* C -> PV: a map of every field, an array of every element. */
Value pvmF_agg_from_c(VM *vm, const FfiCType *t, const void *src);
/* Fills [sig] from the declared function type [fn]. */
void pvmF_sig_from_ctype(VM *vm, FfiSig *sig, const FfiCType *fn, const char *fname);
/* The aggregate parts of a signature: the ctypes of FK_AGGREGATE entries,
 * checked to be passable, and the scratch bytes. */
void pvmF_sig_note_aggregate(VM *vm, FfiSig *sig, int i, const FfiCType *t, const char *fname);
Value pvmF_new(VM *vm, int argc, Value *args, void *data);
Value pvmF_get(VM *vm, int argc, Value *args, void *data);
Value pvmF_set(VM *vm, int argc, Value *args, void *data);
Value pvmF_offsetof(VM *vm, int argc, Value *args, void *data);
Value pvmF_alignof(VM *vm, int argc, Value *args, void *data);

/* ffi_callback.c */
/* Calls [code] (the C function [fname]) through [cif]; when a callback
 * failed meanwhile, or was refused in a signal handler, throws that once C
 * has returned. */
void pvmF_call_c(VM *vm, FfiState *st, const char *fname, ffi_cif *cif, void *code, void *ret, void **args);
/* The bookkeeping of pvmF_call_c for a C call a trace makes itself
 * (FfiTraceCall): what goes before C runs, what comes after (true: the
 * trace must leave), and the error to raise then, if any. */
void pvmF_trace_enter(const VmCCall *c, Value *top);
bool pvmF_trace_leave(const VmCCall *c);
void pvmF_trace_raise(VM *vm, const VmCCall *c);
/* Records the thread's signal mask as the one PV runs with. */
void pvmF_note_signal_mask(FfiState *st);
/* One call of [callback] (an FfiCallback) from C: [cargs] point to its
 * arguments, [ret] is the result buffer (widened as libffi's). */
void pvmF_callback_enter(void *callback, void *ret, void **cargs);

/* ffi_direct.c */
/* A precompiled entry point for [callback] when its signature [sig] fits
 * one (integers and pointers only, at most six arguments, on hosts whose
 * ABI passes them alike) and a slot is free; else NULL: use a closure. */
void *pvmF_direct_claim(const FfiSig *sig, void *callback);
/* Gives back the slot of the direct entry [code]. */
void pvmF_direct_release(void *code);

/* ffi_memory.c */
Value pvmF_pointer_new(VM *vm, void *addr, void *owner, size_t size, uint32_t kind);
PVM_NORETURN void pvmF_pointer_arg_error(VM *vm, const Value *args, int i, const char *fname);
/* args[i] as a pointer, or "FNAME: argument I+1 must be pointer". */
static inline PvPointer *pvmF_arg_pointer(VM *vm, const Value *args, int i, const char *fname)
{
    if (args[i].type != VT_POINTER)
        pvmF_pointer_arg_error(vm, args, i, fname);
    return args[i].as.p;
}
Value pvmF_null(VM *vm);
/* The foreign pointer value for [addr], made without raising: a cached
 * box, else a spare one. Call only with a spare left (st->nspare > 0). */
Value pvmF_pointer_spared(FfiState *st, void *addr);
/* Makes the box cache if there is none yet and allocates spare boxes up
 * to FFI_SPARE_BOXES; may raise. */
void pvmF_stock_boxes(VM *vm, FfiState *st);
/* The address [offset] bytes past [p] where [n] bytes may be [verb]ed
 * ("read", "write"), or the error ffi.read/ffi.write give. */
char *pvmF_access_at(VM *vm, const PvPointer *p, int64_t offset, size_t n, const char *fname, const char *verb);
/* The C type named by args[i] as ffi.read takes it (through the type-name
 * cache); [*ct] is set for an aggregate. */
FfiKind pvmF_arg_ctype(VM *vm, FfiState *st, const Value *args, int i, const char *fname, const FfiCType **ct);

/* The module's functions, by file. */
Value pvmF_open(VM *vm, int argc, Value *args, void *data);
Value pvmF_fn(VM *vm, int argc, Value *args, void *data);
Value pvmF_callback(VM *vm, int argc, Value *args, void *data);
Value pvmF_alloc(VM *vm, int argc, Value *args, void *data);
Value pvmF_read(VM *vm, int argc, Value *args, void *data);
Value pvmF_write(VM *vm, int argc, Value *args, void *data);
Value pvmF_string(VM *vm, int argc, Value *args, void *data);
Value pvmF_offset(VM *vm, int argc, Value *args, void *data);
Value pvmF_is_null(VM *vm, int argc, Value *args, void *data);
Value pvmF_address(VM *vm, int argc, Value *args, void *data);
Value pvmF_pointer_from_int(VM *vm, int argc, Value *args, void *data);
Value pvmF_size(VM *vm, int argc, Value *args, void *data);
Value pvmF_sizeof(VM *vm, int argc, Value *args, void *data);

#endif
