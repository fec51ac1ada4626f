/* The embedding API (include/pvm.h), part 1: creating and freeing VMs,
 * threads, loading and running programs, calls from the host, globals,
 * limits, and the last-error record every function reports through.
 *
 * Nothing the host calls may longjmp through host code: every step that
 * can raise a PV error runs inside pvmV_protect, and the error comes back as
 * a pvm_status with its message kept in the pvm_vm. */
#define _GNU_SOURCE /* fopencookie */
#include <errno.h>
#include <gc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compiler/compiler.h"
#include "jit/jit.h"
#include "stdlib/stdlib.h"
#include "vm/api/api_int.h"
#include "vm/interp/pcall.h"

/* ---- The collector and threads ---- */

/* bdwgc adopts the thread that initialises it as its main thread, and a
 * host may create its first VM on any thread. Initialising before main()
 * makes that the process's real main thread, whatever the host does. */
static void GC_CALLBACK api_gc_warn(char *msg, GC_word arg);

PVM_CONSTRUCTOR static void api_gc_init(void)
{
    pvmV_gc_init();
    GC_set_warn_proc(api_gc_warn);
}

/* Per-thread, not global: how many attaches this thread made, and whether
 * pvm registered it (a thread the collector already knew, such as the
 * main thread, must not be unregistered). */
static _Thread_local unsigned api_thread_refs;
static _Thread_local bool api_thread_registered;
/* api_thread_refs > 0 || api_thread_known, kept in one flag that the
 * inline pvmA_thread_ensure (api_int.h) tests on every API entry. */
_Thread_local bool pvmA_thread_ready;

bool pvm_thread_attach(void)
{
    if (api_thread_refs > 0 || GC_thread_is_registered()) {
        api_thread_refs++;
        pvmA_thread_ready = true;
        return true;
    }
    struct GC_stack_base sb;
    if (GC_get_stack_base(&sb) != GC_SUCCESS)
        return false;
    int r = GC_register_my_thread(&sb);
    if (r != GC_SUCCESS && r != GC_DUPLICATE)
        return false;
    api_thread_registered = r == GC_SUCCESS;
    api_thread_refs++;
    pvmA_thread_ready = true;
    return true;
}

/* Implicit attach: a thread that calls the API without pvm_thread_attach
 * is registered on its first call (bdwgc aborts the process when an
 * unknown thread allocates), and unregistered when it exits, by the
 * destructor of a thread-specific key: a dead thread left registered would
 * be signalled by the next collection. */
static _Thread_local bool api_thread_known; /* registered: by us implicitly, or by the host */
static pthread_key_t api_thread_key;
static pthread_once_t api_thread_once = PTHREAD_ONCE_INIT;

static void api_thread_exit(void *unused)
{
    (void)unused;
    GC_unregister_my_thread();
}

static void api_thread_key_init(void)
{
    pthread_key_create(&api_thread_key, api_thread_exit);
}

bool pvmA_thread_ensure_slow(void)
{
    if (api_thread_refs > 0 || api_thread_known)
        return pvmA_thread_ready = true;
    if (GC_thread_is_registered()) {
        api_thread_known = true;
        return pvmA_thread_ready = true;
    }
    struct GC_stack_base sb;
    pthread_once(&api_thread_once, api_thread_key_init);
    if (GC_get_stack_base(&sb) != GC_SUCCESS || GC_register_my_thread(&sb) != GC_SUCCESS)
        return false;
    pthread_setspecific(api_thread_key, &api_thread_known); /* any non-NULL value */
    api_thread_known = true;
    return pvmA_thread_ready = true;
}

void pvm_thread_detach(void)
{
    if (api_thread_refs == 0 || --api_thread_refs > 0)
        return;
    pvmA_thread_ready = api_thread_known;
    if (api_thread_registered) {
        api_thread_registered = false;
        GC_unregister_my_thread();
    }
}

/* ---- Collector warnings ---- */

/* bdwgc's warn proc is process-wide and runs with the collector's lock
 * held, where a host callback that called pvm would deadlock. So a
 * warning raised on a thread using the API is kept here and handed to the
 * error callback of the VM whose pvm_run, pvm_call or load on this thread
 * returns next (stderr when that VM has none); on any other thread (the
 * collector's own) it goes to stderr at once, as bdwgc would print it. */
static _Thread_local char api_gc_warning[1024];

static void GC_CALLBACK api_gc_warn(char *msg, GC_word arg)
{
    char text[512];
    int n = snprintf(text, sizeof text, "GC Warning: ");
    snprintf(text + n, sizeof text - (size_t)n, msg, arg);
    if (api_thread_refs == 0 && !api_thread_known) {
        fputs(text, stderr);
        return;
    }
    size_t used = strlen(api_gc_warning);
    snprintf(api_gc_warning + used, sizeof api_gc_warning - used, "%s", text);
}

/* Delivers this thread's pending collector warnings for [P]. */
static void api_flush_gc_warnings(pvm_vm *P)
{
    if (!api_gc_warning[0] || P->depth > 0)
        return;
    if (P->opt.error)
        P->opt.error(P->opt.ud, api_gc_warning, strlen(api_gc_warning));
    else
        fputs(api_gc_warning, stderr);
    api_gc_warning[0] = '\0';
}

/* ---- The last error ---- */

static const char *const api_status_names[] = {
    "PVM_OK", "PVM_ERUNTIME", "PVM_ECOMPILE", "PVM_EBYTECODE", "PVM_EMEMORY",
    "PVM_EBUDGET", "PVM_EINTERRUPT", "PVM_ETYPE", "PVM_ERANGE", "PVM_ENOTFOUND",
    "PVM_EARG", "PVM_EIO", "PVM_ESTATE", "PVM_ENOMEM",
};

const char *pvm_status_name(pvm_status status)
{
    size_t n = sizeof api_status_names / sizeof api_status_names[0];
    return (unsigned)status < n ? api_status_names[status] : "PVM_E?";
}

const char *pvm_version(void)
{
    return PVM_VERSION_STRING;
}

static void api_clear_error(pvm_vm *P)
{
    free(P->message);
    free(P->trace);
    free(P->file);
    P->message = P->trace = P->file = NULL;
    P->line = P->column = 0;
    P->error_value = VAL_NIL;
    P->has_error_value = false;
}

pvm_status pvmA_fail(pvm_vm *P, pvm_status st, const char *fmt, ...)
{
    api_clear_error(P);
    P->status = st;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&P->message, fmt, ap) < 0)
        P->message = NULL;
    va_end(ap);
    return st;
}

/* The status of each kind of VM error (vm->error_kind). */
static pvm_status api_kind_status(VmErrorKind kind)
{
    switch (kind) {
    case VM_ERR_OUT_OF_MEMORY: return PVM_ENOMEM; /* catchable by scripts */
    case VM_ERR_MEMORY_LIMIT: return PVM_EMEMORY; /* the VM's limit: not */
    case VM_ERR_BUDGET: return PVM_EBUDGET;
    case VM_ERR_INTERRUPT: return PVM_EINTERRUPT;
    default: return PVM_ERUNTIME;
    }
}

/* The innermost position, recorded by the VM with the trace. */
static void api_where_from_vm(pvm_vm *P, const VM *vm)
{
    if (!vm->error_file)
        return;
    P->file = strdup(vm->error_file->chars);
    P->line = (int)vm->error_line;
}

/* The message of the error in vm->error; NULL when memory ran out. */
static char *api_vm_message(const VM *vm)
{
    VmBuf b;
    pvmV_buf_init(&b);
    pvmV_display(&b, vm->error);
    if (!b.failed)
        return b.data; /* handed over: freed with the error */
    pvmV_buf_free(&b);
    return NULL;
}

pvm_status pvmA_fail_vm(pvm_vm *P)
{
    VM *vm = P->vm;
    api_clear_error(P);
    P->status = api_kind_status(vm->error_kind);
    P->message = api_vm_message(vm);
    P->trace = strdup(vm->error_trace ? vm->error_trace : "");
    api_where_from_vm(P, vm);
    P->error_value = vm->error;
    P->has_error_value = true;
    /* Inside a native, a limit must survive whatever the native does with
     * this status: it is raised again when the native returns. */
    if (P->depth > 0 && vm_error_is_fatal(vm->error_kind))
        P->fatal_pending = vm->error_kind;
    return P->status;
}

/* Hands the text of an error the script caused to the error callback. */
static pvm_status api_report(pvm_vm *P, pvm_status st)
{
    if (st == PVM_OK || !P->opt.error || P->depth > 0)
        return st;
    const char *msg = pvm_error_message(P);
    P->opt.error(P->opt.ud, msg, strlen(msg));
    P->opt.error(P->opt.ud, "\n", 1);
    if (P->trace && P->trace[0])
        P->opt.error(P->opt.ud, P->trace, strlen(P->trace));
    return st;
}

pvm_status pvmA_protect(pvm_vm *P, void (*fn)(VM *vm, void *ud), void *ud)
{
    if (!pvmA_thread_ensure())
        return pvmA_fail(P, PVM_ESTATE, "%s", API_THREAD_TEXT);
    return pvmV_protect(P->vm, fn, ud) ? PVM_OK : pvmA_fail_vm(P);
}

const char *pvm_error_message(const pvm_vm *P)
{
    return P && P->message ? P->message : "";
}

const char *pvm_error_trace(const pvm_vm *P)
{
    return P && P->trace ? P->trace : "";
}

const char *pvm_error_where(const pvm_vm *P, int *line, int *column)
{
    if (line)
        *line = P ? P->line : 0;
    if (column)
        *column = P ? P->column : 0;
    return P ? P->file : NULL;
}

pvm_status pvm_error_status(const pvm_vm *P)
{
    return P ? P->status : PVM_EARG;
}

pvm_value pvm_error_value(pvm_vm *P)
{
    if (!P)
        return PVM_NIL;
    if (P->has_error_value) {
        pvm_value h;
        return pvmA_handle(P, P->error_value, &h) ? h : PVM_NIL;
    }
    return P->message ? pvm_cstring(P, P->message) : PVM_NIL;
}

/* ---- Output ---- */

static ssize_t api_write_cookie(void *cookie, const char *data, size_t len)
{
    pvm_vm *P = cookie;
    P->opt.write(P->opt.ud, data, len);
    return (ssize_t)len;
}

/* print and io.write write to vm->out; with a write callback that is a
 * stdio stream whose writes go to the callback, a line at a time. */
static bool api_open_output(pvm_vm *P)
{
    cookie_io_functions_t io = { .write = api_write_cookie };
    P->out = fopencookie(P, "w", io);
    if (!P->out)
        return false;
    setvbuf(P->out, NULL, _IOLBF, BUFSIZ);
    P->vm->out = P->out;
    return true;
}

/* ---- Creating and freeing ---- */

static Value api_denied(VM *vm, int argc, Value *args, void *name)
{
    pvmV_error(vm, "%s is disabled in this VM", (const char *)name);
}

/* Replaces the functions of module [mod], except those named in [keep],
 * by ones that raise. */
static void api_deny_module(VM *vm, const char *mod, const char *const *keep)
{
    Value v;
    if (!pvmV_map_get(vm->builtins, vm_str_value(pvmV_string_cstr(vm, mod)), &v) || v.type != VT_MAP)
        return;
    PvMap *m = v.as.m;
    for (int64_t pos = pvmV_map_next(m, 0); pos >= 0; pos = pvmV_map_next(m, (size_t)pos + 1)) {
        PvMapEntry *e = &m->entries[pos];
        if (m->key_types[pos] != VT_STRING || e->value.type != VT_NATIVE)
            continue;
        bool kept = false;
        for (size_t i = 0; keep[i]; i++)
            kept = kept || !strcmp(e->key.s->chars, keep[i]);
        if (kept)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%s.%s", mod, e->key.s->chars);
        PvNative *n = pvmV_native_new(vm, name, api_denied, 0, -1, NULL);
        n->data = n->name->chars;
        e->value = vm_obj(VT_NATIVE, n);
    }
}

static void api_open_libs(VM *vm, void *ud)
{
    static const char *const io_kept[] = { "write", NULL };
    static const char *const os_kept[] = { "clock", "time", "args", NULL };
    pvm_vm *P = ud;
    pvmL_open(vm, P->opt.argc, P->opt.argv);
    vm->ffi_disabled = (P->opt.deny & PVM_DENY_FFI) != 0;
    if (P->opt.deny & PVM_DENY_IO)
        api_deny_module(vm, "io", io_kept);
    if (P->opt.deny & PVM_DENY_PROCESS)
        api_deny_module(vm, "os", os_kept);
}

/* The JIT is on unless asked off; where it cannot start (another host
 * architecture, no memory for it) the interpreter runs everything. */
static void api_start_jit(pvm_vm *P)
{
    if (P->opt.jit == PVM_JIT_OFF)
        return;
    PvmJitOptions jo;
    pvmJ_options_default(&jo);
    pvmJ_attach(P->vm, &jo);
}

pvm_vm *pvm_new(const pvm_options *opt)
{
    if (!pvm_thread_attach())
        return NULL;
    pvm_vm *P = GC_MALLOC_UNCOLLECTABLE(sizeof *P);
    if (!P) {
        pvm_thread_detach();
        return NULL;
    }
    memset(P, 0, sizeof *P);
    pvmV_leak_root(P, sizeof *P); /* its messages and handle arrays are malloc'd */
    P->owner = pthread_self();
    if (opt)
        P->opt = *opt;
    P->error_value = P->raise_value = VAL_NIL;
    P->vm = pvmV_new();
    if (opt && opt->module_path)
        P->module_path = strdup(opt->module_path);
    P->opt.module_path = P->module_path;
    pvmA_handles_init(P);
    bool ok = P->vm && (!opt || !opt->module_path || P->module_path) &&
              (!P->opt.write || api_open_output(P)) && pvmV_protect(P->vm, api_open_libs, P);
    if (!ok) {
        pvm_free(P);
        return NULL;
    }
    api_start_jit(P);
    return P;
}

void pvm_free(pvm_vm *P)
{
    if (!P || P->depth > 0 || !pvmA_thread_ensure())
        return;
    if (P->out) {
        fclose(P->out);
        P->vm->out = stdout;
    }
    if (P->vm)
        pvmJ_detach(P->vm);
    pvmV_free(P->vm);
    pvmA_handles_free(P);
    api_clear_error(P);
    free(P->raise_text);
    free(P->raised_text);
    free(P->module_path);
    bool same_thread = pthread_equal(P->owner, pthread_self());
    pvmV_leak_unroot(P, sizeof *P);
    GC_FREE(P);
    if (same_thread)
        pvm_thread_detach();
}

/* ---- Running PV code ---- */

/* Before PV code runs at the host's top level: a fresh instruction budget,
 * and an interrupt raised while nothing ran is dropped. */
static void api_begin(pvm_vm *P)
{
    if (P->depth > 0)
        return;
    VM *vm = P->vm;
    vm->fuel = P->instruction_limit > 0 ? P->instruction_limit : INT64_MAX;
    pvmV_interrupt_clear(vm);
    P->fatal_pending = VM_ERR_NONE;
}

/* Zeroes Values from [from] to [to] (a stack range); whole pages are
 * handed back to the OS instead, which also zeroes them. */
static void api_zero_values(Value *from, Value *to)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)from, b = (uintptr_t)to;
    uintptr_t lo = (a + page - 1) & ~(page - 1), hi = b & ~(page - 1);
    if (hi <= lo + page) {
        memset(from, 0, b - a);
        return;
    }
    memset(from, 0, lo - a);
    if (madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0)
        memset((void *)lo, 0, hi - lo);
    memset((void *)hi, 0, b - hi);
}

/* After a failed run the stack, frame and handler arrays above their tops
 * still point at the dead script's objects (its big array, its program),
 * and the collector scans them. Clearing them lets a VM stopped by the
 * memory limit get its memory back for the next script. */
static void api_scrub(VM *vm)
{
    api_zero_values(vm->top, vm->stack_rooted);
    memset(vm->frames + vm->nframes, 0, (vm->frames_cap - vm->nframes) * sizeof(VmFrame));
    memset(vm->handlers + vm->nhandlers, 0, (vm->handlers_cap - vm->nhandlers) * sizeof(VmHandler));
}

static pvm_status api_end_slow(pvm_vm *P, bool ok)
{
    if (P->depth > 0)
        return ok ? PVM_OK : pvmA_fail_vm(P);
    if (P->out)
        fflush(P->out);
    api_flush_gc_warnings(P);
    if (ok)
        return PVM_OK;
    pvm_status st = pvmA_fail_vm(P);
    api_scrub(P->vm);
    return api_report(P, st);
}

/* After PV code ran: output flushed, collector warnings delivered, the
 * error recorded and reported. Inline for the common case, a call that
 * returned at the top level with nothing of that to do. */
PVM_ALWAYS_INLINE static inline pvm_status api_end(pvm_vm *P, bool ok)
{
    if (ok && P->depth == 0 && !P->out && !api_gc_warning[0])
        return PVM_OK;
    return api_end_slow(P, ok);
}

pvm_status pvm_run(pvm_vm *P)
{
    if (!P)
        return PVM_EARG;
    if (P->depth > 0)
        return pvmA_fail(P, PVM_ESTATE, "pvm_run: not allowed inside a native function");
    VmProgram *prog = P->vm->program;
    if (!prog)
        return pvmA_fail(P, PVM_ESTATE, "pvm_run: no program loaded");
    if (prog->modules[0]->state != VM_MODULE_NEW)
        return pvmA_fail(P, PVM_ESTATE, "pvm_run: the program has already run; load it again");
    if (!pvmA_thread_ensure())
        return pvmA_fail(P, PVM_ESTATE, "%s", API_THREAD_TEXT);
    api_begin(P);
    return api_end(P, pvmV_run_program(P->vm));
}

/* The arguments straight into the stack slots pvmV_pcall_slots gave,
 * then the call. *[st] is the error of a bad argument handle (nothing
 * ran), else PVM_OK, and the call's success is returned. */
static inline bool api_call_in_place(pvm_vm *P, Value *callee, int argc, const pvm_value *args, pvm_status *st)
{
    for (int i = 0; i < argc; i++) { /* the thread was checked with [fn] */
        if (!pvmA_lookup(P, args[i], &callee[1 + i])) {
            for (int j = 0; j <= i; j++) /* keep nothing alive from above the top */
                callee[j] = VAL_NIL;
            pvmA_value_fail(P, args[i]);
            return *st = P->status, false;
        }
    }
    *st = PVM_OK;
    api_begin(P);
    return pvmV_pcall_run(P->vm, callee, argc, NULL); /* the result stays in *callee */
}

/* The same for any other call: the arguments in an array first. */
static bool api_call_copied(pvm_vm *P, Value f, int argc, const pvm_value *args, Value *r, pvm_status *st)
{
    Value small[8];
    Value *vals = (size_t)argc <= sizeof small / sizeof small[0] ? small : malloc((size_t)argc * sizeof(Value));
    if (!vals) {
        *st = pvmA_fail(P, PVM_ENOMEM, "out of memory");
        return false;
    }
    *st = PVM_OK;
    for (int i = 0; i < argc && *st == PVM_OK; i++) {
        if (!pvmA_lookup(P, args[i], &vals[i]))
            *st = (pvmA_value_fail(P, args[i]), P->status);
    }
    bool ok = false;
    if (*st == PVM_OK) {
        api_begin(P);
        ok = pvmV_pcall(P->vm, f, argc, vals, r);
    }
    if (vals != small)
        free(vals);
    return ok;
}

pvm_status pvm_call(pvm_vm *P, pvm_value fn, int argc, const pvm_value *args, pvm_value *result)
{
    if (!P)
        return PVM_EARG;
    if (result)
        *result = PVM_NIL;
    if (argc < 0 || (argc > 0 && !args))
        return pvmA_fail(P, PVM_EARG, "pvm_call: %d arguments at %p", argc, (const void *)args);
    Value f;
    if (!pvmA_value(P, fn, &f))
        return P->status;
    Value *callee = pvmV_pcall_slots(P->vm, f, argc); /* NULL for what is not a PV function */
    if (!callee && !vm_is_function(f))
        return pvmA_fail(P, PVM_ETYPE, "attempt to call a %s value", pvmV_type_name(f));
    Value copied;
    const Value *r = &copied;
    pvm_status st;
    bool ok;
    /* The fast path's result is read where the call left it, above the
     * stack top (rooted, and untouched until the next call): each copy
     * of a Value just stored is one more store-to-load forward to wait
     * for, on every call. */
    if (callee) {
        ok = api_call_in_place(P, callee, argc, args, &st);
        r = callee;
    } else {
        ok = api_call_copied(P, f, argc, args, &copied, &st);
    }
    if (st != PVM_OK)
        return st; /* an argument handle was bad: nothing ran */
    /* The handle first: api_end may call the host's write and error
     * callbacks, which may make calls of their own over *r. */
    bool made = !ok || !result || pvmA_handle_at(P, r, result);
    st = api_end(P, ok);
    if (st == PVM_OK && !made)
        return pvmA_fail(P, PVM_ENOMEM, "out of memory");
    return st;
}

/* ---- Loading ---- */

/* The names of the built-in scope, NULL-terminated, for the compiler: a
 * program may use every name the host defined. */
static const char **api_builtin_names(VM *vm)
{
    PvMap *m = vm->builtins;
    const char **names = malloc((m->count + 1) * sizeof *names);
    if (!names)
        return NULL;
    size_t n = 0;
    for (int64_t pos = pvmV_map_next(m, 0); pos >= 0; pos = pvmV_map_next(m, (size_t)pos + 1)) {
        if (m->key_types[pos] == VT_STRING)
            names[n++] = m->entries[pos].key.s->chars;
    }
    names[n] = NULL;
    return names;
}

static pvm_status api_compile(pvm_vm *P, const char *src, size_t len, const char *name, PbcImage *img)
{
    char *text = NULL;
    size_t text_len = 0;
    FILE *errors = open_memstream(&text, &text_len);
    const char **names = api_builtin_names(P->vm);
    if (!errors || !names) {
        if (errors)
            fclose(errors);
        free(text);
        free(names);
        return pvmA_fail(P, PVM_ENOMEM, "out of memory");
    }
    CcErrorInfo info = { NULL, 0, 0, false };
    CcOptions o = { .extra_builtins = names, .module_path = P->module_path, .error_info = &info };
    bool ok = pvmC_compile_source(src, len, name, &o, img, errors);
    fclose(errors);
    free(names);
    pvm_status st = PVM_OK;
    if (!ok) {
        while (text_len > 0 && text[text_len - 1] == '\n')
            text[--text_len] = '\0';
        pvm_status kind = info.out_of_memory ? PVM_ENOMEM : PVM_ECOMPILE;
        st = pvmA_fail(P, kind, "%s", text_len ? text : "compile error");
        P->file = info.file; /* the compiler's record of the first error */
        info.file = NULL;
        P->line = (int)info.line;
        P->column = (int)info.col;
    }
    free(info.file);
    free(text);
    return st;
}

static void api_load_body(VM *vm, void *img)
{
    vm->program = pvmV_load_image(vm, img);
}

/* Verified first; loading allocates, so it runs protected and running out
 * of memory (or into the limit) comes back with its own status. */
static pvm_status api_load_image(pvm_vm *P, const PbcImage *img)
{
    char err[512];
    if (!pvmB_verify(img, err, sizeof err))
        return pvmA_fail(P, PVM_EBYTECODE, "invalid bytecode: %s", err);
    return pvmA_protect(P, api_load_body, (void *)img);
}

static pvm_status api_check_loading(pvm_vm *P, const void *data, size_t len)
{
    if (!P)
        return PVM_EARG;
    if (!pvmA_thread_ensure())
        return pvmA_fail(P, PVM_ESTATE, "%s", API_THREAD_TEXT);
    if (!data && len)
        return pvmA_fail(P, PVM_EARG, "NULL data of length %zu", len);
    if (P->depth > 0)
        return pvmA_fail(P, PVM_ESTATE, "cannot load a program inside a native function");
    return PVM_OK;
}

static pvm_status api_load_source(pvm_vm *P, const char *src, size_t len, const char *name)
{
    PbcImage img;
    pvm_status st = api_compile(P, src ? src : "", len, name, &img);
    if (st == PVM_OK)
        st = api_load_image(P, &img);
    pvmB_free(&img);
    api_flush_gc_warnings(P);
    return api_report(P, st);
}

pvm_status pvm_load_source(pvm_vm *P, const char *src, size_t len, const char *name)
{
    pvm_status st = api_check_loading(P, src, len);
    if (st != PVM_OK)
        return st;
    /* A NULL text is a host bug, not an empty program to run quietly. */
    if (!src)
        return pvmA_fail(P, PVM_EARG, "pvm_load_source: NULL source");
    return api_load_source(P, src, len, name ? name : "<source>");
}

pvm_status pvm_load_bytecode(pvm_vm *P, const void *bytes, size_t len)
{
    pvm_status st = api_check_loading(P, bytes, len);
    if (st != PVM_OK)
        return st;
    PbcImage img;
    char err[512];
    if (!pvmB_read(bytes ? bytes : "", len, &img, err, sizeof err))
        return api_report(P, pvmA_fail(P, PVM_EBYTECODE, "invalid bytecode: %s", err));
    st = api_load_image(P, &img);
    pvmB_free(&img);
    api_flush_gc_warnings(P);
    return api_report(P, st);
}

pvm_status pvm_load_file(pvm_vm *P, const char *path)
{
    pvm_status st = api_check_loading(P, NULL, 0);
    if (st != PVM_OK)
        return st;
    if (!path)
        return pvmA_fail(P, PVM_EARG, "pvm_load_file: NULL path");
    char *data;
    size_t len;
    if (!pvmB_read_path(path, SIZE_MAX, &data, &len))
        return api_report(P, pvmA_fail(P, PVM_EIO, "cannot read %s: %s", path, strerror(errno)));
    if (len >= 4 && !memcmp(data, PBC_MAGIC, 4))
        st = pvm_load_bytecode(P, data, len);
    else
        st = api_load_source(P, data, len, path);
    free(data);
    return st;
}

/* ---- Globals ---- */

/* The slot of module 0's top-level variable [name], or NULL. */
static Value *api_program_global(VM *vm, const char *name)
{
    if (!vm->program)
        return NULL;
    VmModule *mod = vm->program->modules[0];
    size_t len = strlen(name);
    for (uint32_t g = 0; g < mod->nglobals; g++) {
        PvString *s = mod->global_names[g];
        if (s && s->len == len && !memcmp(s->chars, name, len))
            return &mod->globals[g];
    }
    return NULL;
}

static bool api_builtin(VM *vm, const char *name, Value *out)
{
    PvMap *m = vm->builtins;
    size_t len = strlen(name);
    for (int64_t pos = pvmV_map_next(m, 0); pos >= 0; pos = pvmV_map_next(m, (size_t)pos + 1)) {
        Value k = pvmV_map_key(m, (size_t)pos);
        if (k.type == VT_STRING && k.as.s->len == len && !memcmp(k.as.s->chars, name, len)) {
            *out = m->entries[pos].value;
            return true;
        }
    }
    return false;
}

pvm_status pvm_get_global(pvm_vm *P, const char *name, pvm_value *out)
{
    if (!P)
        return PVM_EARG;
    if (!name || !out)
        return pvmA_fail(P, PVM_EARG, "pvm_get_global: NULL argument");
    *out = PVM_NIL;
    Value *slot = api_program_global(P->vm, name);
    Value v;
    /* Before the top level ran every variable is nil, functions too: a
     * nil there would look like a real value. */
    if (slot && P->vm->program->modules[0]->state == VM_MODULE_NEW)
        return pvmA_fail(P, PVM_ESTATE, "pvm_get_global: '%s' is not set until pvm_run runs the program", name);
    if (slot)
        v = *slot;
    else if (!api_builtin(P->vm, name, &v))
        return pvmA_fail(P, PVM_ENOTFOUND, "no global named '%s'", name);
    return pvmA_handle(P, v, out) ? PVM_OK : pvmA_fail(P, PVM_ENOMEM, "out of memory");
}

pvm_status pvm_set_global(pvm_vm *P, const char *name, pvm_value v)
{
    if (!P)
        return PVM_EARG;
    if (!name)
        return pvmA_fail(P, PVM_EARG, "pvm_set_global: NULL name");
    Value val;
    if (!pvmA_value(P, v, &val))
        return P->status;
    if (!P->vm->program)
        return pvmA_fail(P, PVM_ESTATE, "pvm_set_global: no program loaded");
    Value *slot = api_program_global(P->vm, name);
    if (!slot)
        return pvmA_fail(P, PVM_ENOTFOUND, "the program has no top-level variable '%s'", name);
    *slot = val;
    VmModule *mod = P->vm->program->modules[0];
    uint8_t *once = mod->global_once ? &mod->global_once[slot - mod->globals] : NULL;
    if (once && *once) { /* traces may hold its old value as a constant */
        *once = 0;
        P->vm->globals_rebound++;
    }
    return PVM_OK;
}

typedef struct {
    const char *name;
    Value v;
} ApiDefine;

static void api_define_body(VM *vm, void *ud)
{
    ApiDefine *d = ud;
    pvmV_define_builtin(vm, d->name, d->v);
}

pvm_status pvm_define(pvm_vm *P, const char *name, pvm_value v)
{
    if (!P)
        return PVM_EARG;
    if (!name)
        return pvmA_fail(P, PVM_EARG, "pvm_define: NULL name");
    ApiDefine d = { name, VAL_NIL };
    if (!pvmA_value(P, v, &d.v))
        return P->status;
    return pvmA_protect(P, api_define_body, &d);
}

/* ---- Limits ---- */

void pvm_set_memory_limit(pvm_vm *P, size_t bytes)
{
    if (!P)
        return;
    P->vm->memory_limit = bytes;
    P->vm->bytes_until_check = 0; /* check at the next allocation */
}

void pvm_set_instruction_limit(pvm_vm *P, int64_t instructions)
{
    if (P)
        P->instruction_limit = instructions > 0 ? instructions : 0;
}

void pvm_interrupt(pvm_vm *P)
{
    if (P)
        pvmV_interrupt_set(P->vm);
}
