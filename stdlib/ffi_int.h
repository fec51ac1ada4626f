/* Internal interface shared by the ffi's files:
 *   ffi.c           the module map, the per-VM state, the disabled switch
 *   ffi_types.c     the C type table and checked PV <-> C conversions
 *   ffi_call.c      ffi.open, ffi.fn and calling C functions
 *   ffi_callback.c  ffi.callback: C calling back into PV
 *   ffi_memory.c    pointer values, ffi.alloc/read/write/string and friends
 *
 * Functions shared between these files carry the prefix pvffi_ (libffi owns
 * ffi_); types are Ffi*. */
#ifndef PVM_STDLIB_FFI_INT_H
#define PVM_STDLIB_FFI_INT_H

#include <ffi.h>
#include <pthread.h>

#include "stdlib/ffi.h"

/* Arguments past this count are refused (the C stack buffers are fixed). */

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
} FfiState;

/* A parsed C signature. [kinds] has [nargs] entries; [types] has the
 * matching ffi_type pointers. For variadic functions the first [nfixed] are
 * the named parameters; [open] means further arguments are typed per call. */
typedef struct {
    FfiKind ret;
    int nargs, nfixed;
    bool variadic, open;
    uint8_t *kinds;
    ffi_type **types;
    ffi_cif cif;
} FfiSig;

/* Where a conversion happens, for messages: "strlen: argument 2",
 * "ffi.write: argument 4", "qsort callback: return value". */
typedef struct {
    const char *fname;
    int arg; /* 1-based; 0 names the return value */
} FfiWhere;

/* ffi.c */
void pvmF_check_enabled(VM *vm);

/* ffi_types.c */
/* The kind named by [name], or raises "FNAME: unknown C type 'x' WHAT". */
FfiKind pvmF_parse_type(VM *vm, Value name, const char *fname, const char *what);
/* Parses [ret] and the array [args] (or nil) into [sig]. "..." in the
 * array marks the variadic part when [allow_variadic]. */
void pvmF_parse_sig(VM *vm, FfiSig *sig, Value ret, Value args, const char *fname, bool allow_variadic);
/* Checked PV -> C: writes the C value of [v] for [k] at [dst] (size of k). */
void pvmF_to_c(VM *vm, FfiKind k, Value v, void *dst, FfiWhere where);
/* C -> PV: reads a [k] at [src] (exactly its size). */
Value pvmF_from_c(VM *vm, FfiKind k, const void *src);
/* libffi widens small integer returns to ffi_arg: these read and write
 * such a return buffer. */
Value pvmF_from_return(VM *vm, FfiKind k, const FfiSlot *ret);
void pvmF_to_return(VM *vm, FfiKind k, Value v, void *ret, FfiWhere where);
PVM_NORETURN void pvmF_type_error(VM *vm, FfiWhere where, const char *expected, Value got);

/* ffi_callback.c */
/* Calls [code] through [cif]; when a callback failed meanwhile, throws its
 * error once C has returned. */
void pvmF_call_c(VM *vm, FfiState *st, ffi_cif *cif, void *code, void *ret, void **args);

/* ffi_memory.c */
Value pvmF_pointer_new(VM *vm, void *addr, void *owner, size_t size, uint32_t kind);
PvPointer *pvmF_arg_pointer(VM *vm, const Value *args, int i, const char *fname);
Value pvmF_null(VM *vm);

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
Value pvmF_sizeof(VM *vm, int argc, Value *args, void *data);

#endif
