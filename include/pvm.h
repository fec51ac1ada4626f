/* pvm.h: the public embedding API of pvm (libpvm.a).
 *
 * This header is the only one a host program includes; docs/embedding.md
 * is the guide, with a complete host program. In short:
 *
 *   pvm_vm *vm = pvm_new(NULL);
 *   if (pvm_load_source(vm, src, len, "game.pv") || pvm_run(vm))
 *       fprintf(stderr, "%s\n%s", pvm_error_message(vm), pvm_error_trace(vm));
 *   pvm_free(vm);
 *
 * Rules that hold everywhere:
 * - Every function that can fail returns a pvm_status (PVM_OK is 0) and
 *   leaves the message in pvm_error_message(). Nothing here unwinds through
 *   host code with longjmp, whatever the script does, and the library never
 *   exits the process itself; a script's os.exit() does, as in Lua, unless
 *   the VM denies it (PVM_DENY_PROCESS, part of PVM_SANDBOX). A NULL VM, a
 *   NULL out-pointer or a bad handle is PVM_EARG.
 * - A pvm_value is a handle: a small number naming a PV value that the VM
 *   keeps alive (the collector never frees it) until pvm_release(). The
 *   zero handle, PVM_NIL, is nil and needs no release. A released or
 *   foreign handle is detected (PVM_EARG), not dereferenced.
 * - Inside a native function (pvm_cfunction) every handle it receives or
 *   creates is local to that call and released when it returns; pvm_retain
 *   makes one that outlives the call.
 * - One VM is used by one thread at a time; different VMs may run in
 *   different threads at once. pvm_interrupt() is the exception: any thread
 *   or a signal handler may call it. */
#ifndef PVM_H
#define PVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PVM_VERSION_MAJOR 0
#define PVM_VERSION_MINOR 1
#define PVM_VERSION_PATCH 0
#define PVM_VERSION_STRING "0.1.0"

/* The bytecode format version this library reads and writes. */
#define PVM_BYTECODE_VERSION 1

/* ---- Types ---- */

typedef struct pvm_vm pvm_vm;

/* A handle to a PV value. Copy it freely; release it once. */
typedef struct pvm_value {
    uint64_t id;
} pvm_value;

#ifdef __cplusplus
#define PVM_NIL (pvm_value{ 0 })
#else
#define PVM_NIL ((pvm_value){ 0 })
#endif

typedef enum pvm_status {
    PVM_OK = 0,
    PVM_ERUNTIME,   /* the script (or a native) raised an error nobody caught */
    PVM_ECOMPILE,   /* the source does not compile */
    PVM_EBYTECODE,  /* the .pbc image was rejected by the reader or verifier */
    PVM_EMEMORY,    /* the VM's memory limit was exceeded (uncatchable, like EBUDGET) */
    PVM_EBUDGET,    /* the instruction budget ran out */
    PVM_EINTERRUPT, /* pvm_interrupt() stopped the script */
    PVM_ETYPE,      /* a value of the wrong type (accessor, call of a non-function) */
    PVM_ERANGE,     /* an array index out of range */
    PVM_ENOTFOUND,  /* no such global, map key or program global */
    PVM_EARG,       /* a NULL argument, or an invalid or released handle */
    PVM_EIO,        /* a file could not be read */
    PVM_ESTATE,     /* not possible now (no program loaded, already run, inside a native) */
    PVM_ENOMEM      /* memory really ran out, or a size no allocation can meet: the
                       script's catchable "out of memory" error, uncaught, or the
                       API's own allocation failing (added in 0.1: values above
                       keep their numbers) */
} pvm_status;

typedef enum pvm_type {
    PVM_TINVALID = -1, /* not a live handle of this VM */
    PVM_TNIL,
    PVM_TBOOL,
    PVM_TINT,
    PVM_TFLOAT,
    PVM_TSTRING,
    PVM_TARRAY,
    PVM_TMAP,
    PVM_TFUNCTION,
    PVM_TPOINTER
} pvm_type;

/* Receives [len] bytes of output (not NUL-terminated). */
typedef void (*pvm_write_fn)(void *ud, const char *data, size_t len);

/* A C function that PV code calls. [args] are the [argc] arguments, local
 * handles valid until it returns. Return the result (PVM_NIL for nil), or
 * `return pvm_raise(vm, ...)` to raise an error in the calling script. */
typedef pvm_value (*pvm_cfunction)(pvm_vm *vm, int argc, const pvm_value *args, void *ud);

/* One function of a module; an array of these ends with { NULL, NULL }. */
typedef struct pvm_function_entry {
    const char *name;
    pvm_cfunction fn;
} pvm_function_entry;

/* ---- Creating a VM ---- */

enum { PVM_JIT_DEFAULT, PVM_JIT_ON, PVM_JIT_OFF };

/* What a VM may not do (pvm_options.deny). Each denied function still
 * exists, so scripts compile, but raises an error when called
 * ("io.read_file is disabled in this VM", "ffi is disabled"). */
#define PVM_DENY_FFI 0x1u     /* the ffi module: loading and calling C code */
#define PVM_DENY_IO 0x2u      /* io.* except io.write: files and standard input */
#define PVM_DENY_PROCESS 0x4u /* os.exit and os.getenv */
#define PVM_SANDBOX (PVM_DENY_FFI | PVM_DENY_IO | PVM_DENY_PROCESS)

/* Zero-initialised options (or NULL) give the defaults in brackets. */
typedef struct pvm_options {
    int jit;                 /* PVM_JIT_*: the tracing JIT, on where the host has one [on] */
    unsigned deny;           /* PVM_DENY_* bits [0: the full standard library] */
    const char *module_path; /* ':'-separated import directories [$PVM_PATH] */
    pvm_write_fn write;      /* print and io.write output [stdout] */
    pvm_write_fn error;      /* the text of every error a script causes: compile,
                                load, uncaught runtime error, limit; and the
                                collector's warnings [none; warnings: stderr] */
    void *ud;                /* passed to write and error */
    int argc;                /* os.args [empty] */
    char **argv;
} pvm_options;

/* A new VM with the standard library and [opt] (copied). NULL when memory
 * runs out. Attaches the calling thread (see pvm_thread_attach). */
pvm_vm *pvm_new(const pvm_options *opt);
/* Frees [vm] and everything it holds; every handle of it becomes invalid.
 * NULL is ignored; so is a call from inside one of [vm]'s natives. */
void pvm_free(pvm_vm *vm);

/* Registers the calling thread with the garbage collector (nesting: each
 * attach needs one detach). pvm_new and pvm_free do it for the thread that
 * calls them. A thread that uses a VM it did not create may attach first
 * and detach before it exits; without that, its first call registers it
 * and it is unregistered when it exits. pvm_interrupt needs no attach. */
bool pvm_thread_attach(void);
void pvm_thread_detach(void);

const char *pvm_version(void);
const char *pvm_status_name(pvm_status status); /* "PVM_EBUDGET", ... */
const char *pvm_type_name(pvm_type type);       /* "int", "function", ... */

/* ---- Loading and running ---- */

/* Compiles [len] bytes of PV source (named [name] in messages and traces,
 * NULL: "<source>") and loads the program, replacing the one loaded before.
 * A NULL [src] is PVM_EARG, whatever [len].
 * Imports are looked up next to [name], then in the module path. Host
 * globals (pvm_define, pvm_register) must exist before loading. */
pvm_status pvm_load_source(pvm_vm *vm, const char *src, size_t len, const char *name);
/* Loads a .pbc image (verified first) from memory. */
pvm_status pvm_load_bytecode(pvm_vm *vm, const void *bytes, size_t len);
/* Loads a file: bytecode when it starts with the .pbc magic, else source. */
pvm_status pvm_load_file(pvm_vm *vm, const char *path);
/* Runs the loaded program's top level, once (PVM_ESTATE the second time). */
pvm_status pvm_run(pvm_vm *vm);

/* ---- Errors ---- */

/* The last error: never NULL, "" when there was none. Valid until the next
 * error of this VM. The message of a runtime error is the thrown value as
 * str() shows it; of a compile error, every "FILE:LINE:COL: error: ..." line. */
const char *pvm_error_message(const pvm_vm *vm);
/* The PV stack of the last runtime error, one "  at NAME (FILE:LINE)\n" per
 * frame, innermost first; "" when there is none. */
const char *pvm_error_trace(const pvm_vm *vm);
/* The file of the last error, or NULL; [line] and [column] (either may be
 * NULL) get its position, 0 where unknown. */
const char *pvm_error_where(const pvm_vm *vm, int *line, int *column);
/* The status of the last error: set by what raised it, never read from its
 * message (a script's throw "interrupted"; is PVM_ERUNTIME). */
pvm_status pvm_error_status(const pvm_vm *vm);
/* The last error as a value: what the script threw (any value), else the
 * message as a string. A new handle. */
pvm_value pvm_error_value(pvm_vm *vm);

/* ---- Limits ---- */

/* Ceiling in bytes on this VM's live data (0: none). Exceeding it stops the
 * script with PVM_EMEMORY. Other VMs' data in the process does not count
 * (docs/embedding.md says how it is measured). */
void pvm_set_memory_limit(pvm_vm *vm, size_t bytes);
/* Instructions each top-level pvm_run or pvm_call may execute (0: no
 * limit); PVM_EBUDGET when exceeded. Counted at calls and loop back edges,
 * at every entry into PV code from C (callbacks of natives, ffi callbacks),
 * and by standard natives for their work (one unit per 64 bytes or 8
 * elements). */
void pvm_set_instruction_limit(pvm_vm *vm, int64_t instructions);
/* Stops the script running in [vm] with PVM_EINTERRUPT at its next call,
 * loop iteration or callback, or inside a long standard native. Async-signal-safe and thread-safe: it only sets a flag.
 * A flag set while nothing runs is dropped by the next pvm_run/pvm_call. */
void pvm_interrupt(pvm_vm *vm);
/* A script cannot catch any of the three with try, and a native cannot
 * swallow them: after any of them the VM runs new code normally. */

/* ---- Values ---- */

pvm_type pvm_typeof(pvm_vm *vm, pvm_value v);
bool pvm_is_nil(pvm_vm *vm, pvm_value v); /* false for an invalid handle */

/* Constructors return a new handle; on failure (memory) PVM_NIL, with the
 * error recorded. */
pvm_value pvm_bool(pvm_vm *vm, bool b);
pvm_value pvm_int(pvm_vm *vm, int64_t i);
pvm_value pvm_float(pvm_vm *vm, double f);
pvm_value pvm_string(pvm_vm *vm, const char *s, size_t len); /* may hold NULs */
pvm_value pvm_cstring(pvm_vm *vm, const char *s);            /* NUL-terminated */
pvm_value pvm_new_array(pvm_vm *vm);
pvm_value pvm_new_map(pvm_vm *vm);
pvm_value pvm_pointer(pvm_vm *vm, void *p);
/* A PV function that calls [fn] with [ud]; [name] shows in traces. */
pvm_value pvm_function(pvm_vm *vm, const char *name, pvm_cfunction fn, void *ud);

/* A new handle to the same value that stays valid until released, also
 * when made inside a native. */
pvm_value pvm_retain(pvm_vm *vm, pvm_value v);
/* Ends a handle. Releasing PVM_NIL does nothing; releasing twice is
 * PVM_EARG, never a crash. */
pvm_status pvm_release(pvm_vm *vm, pvm_value v);
/* The handles of [vm] alive now (PVM_NIL is none), natives' local ones
 * included until they return: a host checks it for leaks. 0 for NULL. */
size_t pvm_handle_count(const pvm_vm *vm);

/* Accessors: PVM_ETYPE (and the out-value untouched) on another type. */
pvm_status pvm_get_bool(pvm_vm *vm, pvm_value v, bool *out);
pvm_status pvm_get_int(pvm_vm *vm, pvm_value v, int64_t *out);
pvm_status pvm_get_float(pvm_vm *vm, pvm_value v, double *out); /* int or float */
/* The bytes stay valid while the handle is held; [len] may be NULL. The
 * text is NUL-terminated but may also contain NULs. */
pvm_status pvm_get_string(pvm_vm *vm, pvm_value v, const char **s, size_t *len);
pvm_status pvm_get_pointer(pvm_vm *vm, pvm_value v, void **out);
bool pvm_truthy(pvm_vm *vm, pvm_value v);                 /* PV truth: all but nil and false */
bool pvm_equal(pvm_vm *vm, pvm_value a, pvm_value b);     /* PV == */
pvm_status pvm_to_string(pvm_vm *vm, pvm_value v, pvm_value *out); /* str(v) */

/* Bytes of a string, elements of an array, entries of a map. */
pvm_status pvm_len(pvm_vm *vm, pvm_value v, size_t *out);
pvm_status pvm_array_get(pvm_vm *vm, pvm_value array, size_t i, pvm_value *out);
pvm_status pvm_array_set(pvm_vm *vm, pvm_value array, size_t i, pvm_value v);
pvm_status pvm_array_push(pvm_vm *vm, pvm_value array, pvm_value v);
/* PVM_ENOTFOUND (and *out = PVM_NIL) when [key] is absent. */
pvm_status pvm_map_get(pvm_vm *vm, pvm_value map, pvm_value key, pvm_value *out);
pvm_status pvm_map_set(pvm_vm *vm, pvm_value map, pvm_value key, pvm_value v);
pvm_status pvm_map_remove(pvm_vm *vm, pvm_value map, pvm_value key);
/* The same with a string key. */
pvm_status pvm_map_get_field(pvm_vm *vm, pvm_value map, const char *key, pvm_value *out);
pvm_status pvm_map_set_field(pvm_vm *vm, pvm_value map, const char *key, pvm_value v);
/* Iteration in insertion order: start with *iter = 0; each call gives the
 * next entry as two new handles, false at the end (or on a bad argument). */
bool pvm_map_next(pvm_vm *vm, pvm_value map, size_t *iter, pvm_value *key, pvm_value *value);

/* ---- Globals ---- */

/* A top-level variable of the loaded program, else a name of the built-in
 * scope (print, math, what the host defined). A program variable before
 * pvm_run has set it (functions too) is PVM_ESTATE. */
pvm_status pvm_get_global(pvm_vm *vm, const char *name, pvm_value *out);
/* Assigns an existing top-level variable of the loaded program; PVM_ESTATE
 * with no program loaded. */
pvm_status pvm_set_global(pvm_vm *vm, const char *name, pvm_value v);
/* Defines [name] in the built-in scope, visible to programs loaded later
 * (like the standard library's names; a program may shadow it). */
pvm_status pvm_define(pvm_vm *vm, const char *name, pvm_value v);

/* ---- Calls and native functions ---- */

/* Calls [fn] with [argc] arguments. On success *result (if [result] is
 * not NULL) is a new handle to the return value; on error it is PVM_NIL
 * and the message and trace are in pvm_error_message/pvm_error_trace. */
pvm_status pvm_call(pvm_vm *vm, pvm_value fn, int argc, const pvm_value *args, pvm_value *result);

/* Defines a native function [name] in the built-in scope. Like
 * lua_register, it replaces a name already there, standard ones (print)
 * included, for every program of the VM. */
pvm_status pvm_register(pvm_vm *vm, const char *name, pvm_cfunction fn, void *ud);
/* Defines [name] as a map of native functions: scripts call name.fn(...). */
pvm_status pvm_register_module(pvm_vm *vm, const char *name, const pvm_function_entry *funcs, void *ud);

/* For natives: each records an error and returns PVM_NIL; return that from
 * the native and the error is raised in the script when it returns (a
 * script's try can catch it). Outside a native they only record it. */
pvm_value pvm_raise(pvm_vm *vm, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
pvm_value pvm_raise_value(pvm_vm *vm, pvm_value v);
/* Raises the last error again (after a pvm_call or accessor failed). */
pvm_value pvm_rethrow(pvm_vm *vm);

#ifdef __cplusplus
}
#endif

#endif
