/* Internals of the embedding API (include/pvm.h), shared by its three
 * files: api.c (VMs, loading, running, errors, limits, threads),
 * api_values.c (handles and values) and api_native.c (native functions).
 *
 * A pvm_vm wraps one VM. It is allocated uncollectable, so the collector
 * scans it: the Values it holds (the last error, a pending raise) stay
 * alive. Handle slots live in one uncollectable array, also scanned. */
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

#define API_FIRST_SLOTS 1024u
#define API_NO_SLOT UINT32_MAX

/* The arguments of a running native. Their handles name the VM stack
 * slots that hold them (the caller's operands, untouched until the native
 * returns, and scanned by the collector) rather than handle slots, so a
 * native call makes and ends no slot for them. Such an id is
 * (serial << 32) | API_ARG_ID | frame << 8 | argument; slot ids stay
 * below API_ARG_ID. The serial tells this call from earlier ones that ran
 * at the same depth; released arguments are marked in [released]. */
#define API_ARG_ID 0x80000000u
#define API_ARG_MAX 64u /* a native with more gets slot handles */

typedef struct {
    const Value *args;
    uint32_t argc, serial;
    uint64_t released; /* bit i: argument i released by the native */
} ApiArgFrame;

typedef struct {
    /* One array, not chunks: a lookup is one bounds check and one index
     * (every call across the boundary makes several). Growing copies it. */
    ApiSlot *slots;     /* uncollectable, [cap] slots */
    uint32_t cap;
    uint32_t free_head; /* API_NO_SLOT when empty */
    uint32_t salt;      /* first generation of this VM's slots */
    size_t live;        /* slot handles held (pvm_handle_count adds the
                           running natives' arguments: counted there, not
                           at each call) */
    uint64_t *locals;   /* ids made inside natives, released at their return */
    size_t nlocals, locals_cap;
    ApiArgFrame *argf;  /* one per running native, innermost last */
    uint32_t nargf, argf_cap;
    uint32_t serial;    /* of the latest native call */
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
extern _Thread_local bool pvmA_thread_ready; /* known: nothing left to do */
bool pvmA_thread_ensure_slow(void);
static inline bool pvmA_thread_ensure(void)
{
    return pvmA_thread_ready || pvmA_thread_ensure_slow();
}
#define API_THREAD_TEXT "this thread cannot be registered with the collector"

/* Handles (api_values.c). */
void pvmA_handles_init(pvm_vm *P);
void pvmA_handles_free(pvm_vm *P);

#define API_LIVE (UINT32_MAX - 1) /* next_free of a slot in use */

/* The live slot [id] names, or NULL. */
static inline ApiSlot *pvmA_find(const ApiHandles *H, uint64_t id)
{
    uint32_t index = (uint32_t)id - 1; /* id 0 wraps past every array */
    if (index >= H->cap)
        return NULL;
    ApiSlot *s = &H->slots[index];
    return s->next_free == API_LIVE && s->gen == (uint32_t)(id >> 32) ? s : NULL;
}

/* The frame of the native argument [id] names, with the argument's index
 * in *i, or NULL: not an argument id, or of a native that has returned,
 * or released. */
static inline ApiArgFrame *pvmA_find_arg(const ApiHandles *H, uint64_t id, uint32_t *i)
{
    uint32_t low = (uint32_t)id, f = (low & ~API_ARG_ID) >> 8;
    *i = low & 0xFFu;
    if (!(low & API_ARG_ID) || f >= H->nargf)
        return NULL;
    ApiArgFrame *a = &H->argf[f];
    return a->serial == (uint32_t)(id >> 32) && *i < a->argc && !(a->released >> *i & 1) ? a : NULL;
}

/* The value of [h] without the thread check: false for a bad handle. */
static inline bool pvmA_lookup(const pvm_vm *P, pvm_value h, Value *out)
{
    if (h.id == 0) {
        *out = VAL_NIL;
        return true;
    }
    ApiSlot *s = pvmA_find(&P->handles, h.id);
    if (s) {
        *out = s->v;
        return true;
    }
    uint32_t i;
    ApiArgFrame *a = pvmA_find_arg(&P->handles, h.id, &i);
    if (!a)
        return false;
    *out = a->args[i];
    return true;
}

/* Records why pvmA_value failed (the thread, else the handle); false. */
bool pvmA_value_fail(pvm_vm *P, pvm_value h);

/* The value of [h]; false (and a recorded PVM_EARG) for a bad handle.
 * Inline: every entry point looks its handles up before anything else,
 * and so checks the calling thread here. */
static inline bool pvmA_value(pvm_vm *P, pvm_value h, Value *out)
{
    if (pvmA_thread_ensure() && pvmA_lookup(P, h, out))
        return true;
    return pvmA_value_fail(P, h);
}

/* The steps of making and ending handles, inline: a pvm_call makes one
 * for its result, which the host soon releases, and calls between the
 * steps would cost as much as the steps themselves. */
bool pvmA_grow_handles(ApiHandles *H);          /* more slots; false: none */
bool pvmA_locals_grow(ApiHandles *H, size_t n); /* room for n more locals */

static inline bool pvmA_locals_room(ApiHandles *H, size_t n)
{
    return H->locals_cap - H->nlocals >= n || pvmA_locals_grow(H, n);
}

/* Puts [v] (not nil) in a free slot: its id, or 0 when none can be had. */
static inline uint64_t pvmA_take_slot(ApiHandles *H, Value v)
{
    if (H->free_head == API_NO_SLOT && !pvmA_grow_handles(H))
        return 0;
    uint32_t index = H->free_head;
    ApiSlot *s = &H->slots[index];
    H->free_head = s->next_free;
    s->v = v;
    s->next_free = API_LIVE;
    H->live++;
    return (uint64_t)s->gen << 32 | (index + 1);
}

/* An argument's handle ends early: marked, so that it no longer names
 * the argument. */
static inline bool pvmA_release_arg(ApiHandles *H, uint64_t id)
{
    uint32_t i;
    ApiArgFrame *a = pvmA_find_arg(H, id, &i);
    if (!a)
        return false;
    a->released |= (uint64_t)1 << i;
    return true;
}

/* Ends handle [id]: false when it is not live. */
static inline bool pvmA_release_id(ApiHandles *H, uint64_t id)
{
    ApiSlot *s = pvmA_find(H, id);
    if (!s)
        return pvmA_release_arg(H, id);
    s->v = VAL_NIL;
    if (++s->gen == 0)
        s->gen = 1;
    s->next_free = H->free_head;
    H->free_head = (uint32_t)id - 1;
    H->live--;
    return true;
}

/* Argument handles of a native with up to API_ARG_MAX arguments: a frame
 * naming [args] (which stay where they are until pvmA_args_end); false
 * when memory runs out. */
bool pvmA_argf_grow(ApiHandles *H);
static inline bool pvmA_args_begin(pvm_vm *P, int argc, const Value *args, pvm_value *h)
{
    ApiHandles *H = &P->handles;
    if (H->nargf == H->argf_cap && !pvmA_argf_grow(H))
        return false;
    uint32_t f = H->nargf++;
    ApiArgFrame *a = &H->argf[f];
    a->args = args;
    a->argc = (uint32_t)argc;
    a->serial = ++H->serial;
    a->released = 0;
    uint64_t id = (uint64_t)a->serial << 32 | API_ARG_ID | f << 8;
    for (int i = 0; i < argc; i++)
        h[i].id = args[i].type == VT_NIL ? 0 : id | (uint32_t)i;
    return true;
}

/* The innermost native returns: its argument handles end. */
static inline void pvmA_args_end(pvm_vm *P)
{
    P->handles.nargf--;
}

/* Ends the argument handles of a native when it returns: those it did
 * not release itself (pvmA_release_id tells by the generation). */
static inline void pvmA_release_args(pvm_vm *P, int argc, const pvm_value *h)
{
    for (int i = 0; i < argc; i++) {
        if (h[i].id)
            pvmA_release_id(&P->handles, h[i].id);
    }
}

/* A new handle for [v] (PVM_NIL for nil); false when memory runs out.
 * Inline for the common case, a value at the host's top level with a
 * free slot; pvmA_handle_slow does the rest (nil, locals, growth). */
bool pvmA_handle_slow(pvm_vm *P, Value v, pvm_value *out);
static inline bool pvmA_handle(pvm_vm *P, Value v, pvm_value *out)
{
    ApiHandles *H = &P->handles;
    if (v.type != VT_NIL && P->depth == 0 && H->free_head != API_NO_SLOT) {
        out->id = pvmA_take_slot(H, v);
        return true;
    }
    return pvmA_handle_slow(P, v, out);
}

/* The same for the Value at [v] (pvm_call's result, just stored whole):
 * copied as one piece, not passed as two words, each of which would wait
 * for the store. */
static inline bool pvmA_handle_at(pvm_vm *P, const Value *v, pvm_value *out)
{
    ApiHandles *H = &P->handles;
    if (v->type != VT_NIL && P->depth == 0 && H->free_head != API_NO_SLOT) {
        uint32_t index = H->free_head;
        ApiSlot *s = &H->slots[index];
        H->free_head = s->next_free;
        memcpy(&s->v, v, sizeof *v);
        s->next_free = API_LIVE;
        H->live++;
        out->id = (uint64_t)s->gen << 32 | (index + 1);
        return true;
    }
    return pvmA_handle_slow(P, *v, out);
}

/* Slot handles for the [argc] arguments of a native with more than
 * API_ARG_MAX, released by pvmA_release_args (not kept among the locals:
 * the array holds them);
 * false, with none left, when memory runs out. */
static inline bool pvmA_arg_handles(pvm_vm *P, int argc, const Value *args, pvm_value *h)
{
    for (int i = 0; i < argc; i++) {
        h[i].id = args[i].type == VT_NIL ? 0 : pvmA_take_slot(&P->handles, args[i]);
        if (!h[i].id && args[i].type != VT_NIL) {
            pvmA_release_args(P, i, h);
            return false;
        }
    }
    return true;
}

/* Releases the handles made inside the native that started at [mark]. */
static inline void pvmA_locals_unwind(pvm_vm *P, size_t mark)
{
    ApiHandles *H = &P->handles;
    while (H->nlocals > mark)
        pvmA_release_id(H, H->locals[--H->nlocals]); /* false if released early */
}

/* Natives (api_native.c): a PV function value calling [fn]. */
PvNative *pvmA_native_new(pvm_vm *P, const char *name, pvm_cfunction fn, void *ud);

#endif
