/* Internals of the embedding API (include/pvm.h), shared by its three
 * files: api.c (VMs, loading, running, errors, limits, threads),
 * api_values.c (handles and values) and api_native.c (native functions).
 *
 * A pvm_vm wraps one VM. It is allocated uncollectable, so the collector
 * scans it: the Values it holds (the last error, a pending raise) stay
 * alive. Handles live in chunks that are also uncollectable roots. */
#ifndef PVM_API_INT_H
#define PVM_API_INT_H

#include <pthread.h>

#include "pvm.h"
#include "vm/interp/interp.h"

/* One handle slot. A live slot's [gen] is the generation its handle ids
 * carry; releasing bumps it, so stale ids no longer match. */
typedef struct {
    Value v;
    uint32_t gen;
    uint32_t next_free; /* free list link while free */
} ApiSlot;

#define API_CHUNK_SLOTS 1024u
#define API_NO_SLOT UINT32_MAX

typedef struct {
    ApiSlot **chunks;   /* malloc'd array of uncollectable chunks */
    uint32_t nchunks;
    uint32_t free_head; /* API_NO_SLOT when empty */
    uint32_t salt;      /* first generation of this VM's slots */
    size_t live;        /* handles held: pvm_handle_count */
    uint64_t *locals;   /* ids made inside natives, released at their return */
    size_t nlocals, locals_cap;
} ApiHandles;

/* What a native asked to raise when it returns. */
typedef enum { API_RAISE_NONE, API_RAISE_TEXT, API_RAISE_VALUE, API_RAISE_OUT_OF_MEMORY } ApiRaise;

struct pvm_vm {
    VM *vm;
    pthread_t owner;           /* thread that made it (attached by pvm_new) */
    FILE *out;                 /* the write callback's stream, or NULL */
    pvm_options opt;           /* module_path copied below */
    char *module_path;
    ApiHandles handles;
    unsigned depth;            /* natives running (0: at the host's top level) */
    int64_t instruction_limit; /* 0: none */
    /* The last error. */
    pvm_status status;
    char *message, *trace, *file; /* malloc'd; "" when none */
    int line, column;
    Value error_value;         /* what was thrown; nil for API misuse */
    bool has_error_value;
    /* Set by pvm_raise* inside a native, raised when it returns. */
    ApiRaise raise;
    char *raise_text;
    Value raise_value;
    char *raised_text;         /* the text being thrown, freed at the next */
    /* A limit stopped a pvm_call made inside a native: raised again when
     * the native returns, so a native cannot swallow it. */
    VmErrorKind fatal_pending; /* VM_ERR_NONE when none */
};

/* Errors (api.c). pvmA_fail records an error of the API itself (misuse);
 * pvmA_fail_vm one raised in the VM (vm->error). Both return the status. */
pvm_status pvmA_fail(pvm_vm *P, pvm_status st, const char *fmt, ...) PVM_PRINTF(3, 4);
pvm_status pvmA_fail_vm(pvm_vm *P);
/* Runs [fn] inside a protected boundary: PVM_OK, or the VM's error. */
pvm_status pvmA_protect(pvm_vm *P, void (*fn)(VM *vm, void *ud), void *ud);

/* Registers the calling thread with the collector if nothing did (api.c);
 * every entry point that may touch collected memory calls it first. False
 * (the caller fails with PVM_ESTATE, API_THREAD_TEXT) when bdwgc refuses. */
bool pvmA_thread_ensure(void);
#define API_THREAD_TEXT "this thread cannot be registered with the collector"

/* Handles (api_values.c). */
void pvmA_handles_init(pvm_vm *P);
void pvmA_handles_free(pvm_vm *P);
/* The value of [h]; false (and a recorded PVM_EARG) for a bad handle. */
bool pvmA_value(pvm_vm *P, pvm_value h, Value *out);
/* A new handle for [v] (PVM_NIL for nil); false when memory runs out. */
bool pvmA_handle(pvm_vm *P, Value v, pvm_value *out);
/* Releases the handles made inside the native that started at [mark]. */
void pvmA_locals_unwind(pvm_vm *P, size_t mark);

/* Natives (api_native.c): a PV function value calling [fn]. */
PvNative *pvmA_native_new(pvm_vm *P, const char *name, pvm_cfunction fn, void *ud);

#endif
