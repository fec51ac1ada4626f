/* Callbacks (ffi.callback) and the protocol around every C call that makes
 * them safe.
 *
 * A PV error must never longjmp through C frames (qsort's, say): C code
 * would be left half-way and its locks or allocations lost. So a callback
 * runs its PV function under a protected call. If that fails, the error is
 * recorded in the VM's FfiState, C receives a zero result, further calls of
 * any callback during the same C call return zero at once without running
 * PV, and when the C function returns the recorded error is thrown to the
 * PV code that called it, unchanged (a caught value is the value thrown).
 *
 * A callback runs PV code only while an ffi call of its VM is in progress
 * on the thread that made that call, and not in a signal handler. Called
 * at any other time (from a thread C started, after the C function
 * returned, from a signal handler) it cannot run PV safely: it writes a
 * message to stderr and returns zero; a refusal in a signal handler during
 * an ffi call is also thrown by that call once it returns.
 *
 * C enters a callback through a direct entry (ffi_direct.c) or a libffi
 * closure, then pvmF_callback_enter. Most entries take the fast path: the
 * arguments converted without anything that can raise (pointer boxes come
 * from a cache and a stock of spares, ffi_memory.c) straight into the
 * stack slots of the call, which runs with the interpreter's boundary as
 * its only one (vm/interp/pcall.h). What cannot (a string argument, a
 * native, a wrong parameter count, no fuel, an interrupt, no spares left)
 * takes the general path under pvmV_protect, which also refills the
 * spares; both charge the budget the same. */
#include <gc.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "stdlib/ffi_int.h"
#include "stdlib/lib.h"
#include "vm/interp/pcall.h"

/* The owner of a PV_PTR_CALLBACK pointer. The closure lives outside the
 * collector's heap, so this record is reachable only through the PV
 * pointer values (and functions bound to it) that own it. */
typedef struct {
    FfiState *st;
    Value fn;
    char name[80];          /* "callback NAME", for messages */
    ffi_closure *closure;   /* writable side, freed by the finalizer; NULL for a direct entry */
    bool direct;            /* [code] is a slot of ffi_direct.c, given back by the finalizer */
    void *code;             /* the executable side: the C function pointer */
    FfiSig sig;
    /* The plan of an entry, made once by ffi.callback: the bytes of the
     * return buffer, how many arguments need a pointer box, and whether
     * every argument converts without raising (all but "string"). */
    size_t ret_size;
    int npointers;
    bool fast_args;
} FfiCallback;

/* The bytes of a return buffer of type [k] that C will read. */
static size_t return_size(FfiKind k)
{
    size_t size = pvmF_types[k].size;
    if (pvmF_types[k].is_int && size < sizeof(ffi_arg))
        return sizeof(ffi_arg);
    return size;
}

/* Throws what went wrong in callbacks during the call that just returned:
 * a PV error (unchanged), a limit (raised again as the same kind, so it
 * stays uncatchable past the C code), or a refusal in a signal handler. */
static void raise_callback_failure(VM *vm, FfiState *st, const char *fname)
{
    if (st->has_error) {
        Value error = st->error;
        st->has_error = false;
        st->error = VAL_NIL;
        st->refused_in_signal = 0;
        if (st->error_kind != VM_ERR_SCRIPT && st->error_kind != VM_ERR_NONE)
            pvmV_raise_kind(vm, st->error_kind);
        pvmV_throw(vm, error);
    }
    st->refused_in_signal = 0;
    pvmV_error(vm, "%s: ffi %s was called from a signal handler during this call; PV code cannot run "
                   "there, so it was not run (C got 0)", fname, st->refused_name);
}

void pvmF_call_c(VM *vm, FfiState *st, const char *fname, ffi_cif *cif, void *code, void *ret, void **args)
{
    if (st->depth == 0)
        st->thread = pthread_self();
    st->depth++;
    ffi_call(cif, FFI_FN(code), ret, args);
    st->depth--;
    if (st->has_error || st->refused_in_signal)
        raise_callback_failure(vm, st, fname);
}

/* A trace calling a bound function itself does what pvmF_call_c does
 * around ffi_call, in two halves, and counts callback entries meanwhile:
 * after one, the trace leaves (the PV code may have changed what the
 * trace holds in registers), and after a failure the error is raised
 * once the trace has written the frame back (jit.c). While the call is in
 * progress the JIT stays out of the callbacks' PV code: a trace entered
 * from there would share the running trace's value area. */
void pvmF_trace_enter(const VmCCall *c, Value *top)
{
    FfiState *st = ((const FfiTraceCall *)c)->st;
    VM *vm = st->vm;
    st->callbacks_run = 0;
    vm->ccalls_in_trace++; /* traces never nest, so one saved top will do */
    st->trace_top = vm->top;
    vm->top = top;
    if (st->depth++ == 0) /* last: nothing else waits on the call */
        st->thread = pthread_self();
}

bool pvmF_trace_leave(const VmCCall *c)
{
    FfiState *st = ((const FfiTraceCall *)c)->st;
    st->depth--;
    st->vm->ccalls_in_trace--;
    st->vm->top = st->trace_top;
    if (st->has_error || st->refused_in_signal) {
        st->vm->ccall_failed = c;
        return true;
    }
    return st->callbacks_run != 0;
}

void pvmF_trace_raise(VM *vm, const VmCCall *c)
{
    const FfiTraceCall *t = (const FfiTraceCall *)c;
    if (t->st->has_error || t->st->refused_in_signal)
        raise_callback_failure(vm, t->st, t->name);
}

/* The thread's signal mask in [set]. Emptied first: the kernel fills only
 * the bytes of its own signal count, and the sets are compared whole. */
static bool current_mask(sigset_t *set)
{
    sigemptyset(set);
    return pthread_sigmask(SIG_BLOCK, NULL, set) == 0;
}

void pvmF_note_signal_mask(FfiState *st)
{
    if (!current_mask(&st->pv_mask))
        sigemptyset(&st->pv_mask);
}

static bool may_run_pv(const FfiState *st)
{
    return st->depth > 0 && pthread_equal(st->thread, pthread_self());
}

/* Whether [cb] (its code at [code]) is the handler of signal [sig]. */
static bool handles_signal(int sig, const void *code)
{
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0)
        return false;
    const void *handler = (sa.sa_flags & SA_SIGINFO) ? (const void *)sa.sa_sigaction
                                                     : (const void *)sa.sa_handler;
    return handler == code;
}

/* Whether this entry of the callback at [code] runs in a signal handler.
 * No portable call tells, but delivering a signal blocks it (unless the
 * handler was installed with SA_NODEFER) for as long as its handler runs:
 * so a signal blocked now but not while PV ran, whose handler is this very
 * callback, is being handled right here. Any other change of the mask was
 * made by C code; it becomes the mask PV runs with. One system call per
 * entry; the signal loop only runs when the mask changed. Every call used
 * here is async-signal-safe.
 * Only asked for callbacks returning void: a signal handler returns void,
 * so one declared with a result (qsort's comparator) is no handler, or its
 * signature is wrong, which the ffi cannot check anyway; that spares the
 * common callbacks the system call. */
static bool in_signal_handler(FfiState *st, const void *code)
{
    sigset_t now;
    if (!current_mask(&now) || !memcmp(&now, &st->pv_mask, sizeof now))
        return false;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sigismember(&now, sig) == 1 && sigismember(&st->pv_mask, sig) != 1 && handles_signal(sig, code))
            return true;
    }
    st->pv_mask = now;
    return false;
}

/* Writes "pvm: ffi NAME was called WHY, where PV cannot run; ..." to
 * stderr with write(2): this may run in a signal handler, where stdio is
 * not safe. */
static void report_refusal(const FfiCallback *cb, const char *why)
{
    const char *parts[] = { "pvm: ffi ", cb->name, " was called ", why,
                            ", where PV cannot run; it returned 0 to C\n" };
    char line[256];
    size_t len = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t n = strlen(parts[i]);
        if (n > sizeof line - len)
            n = sizeof line - len;
        memcpy(line + len, parts[i], n);
        len += n;
    }
    ssize_t unused = write(STDERR_FILENO, line, len);
    (void)unused;
}

typedef struct {
    FfiCallback *cb;
    void *ret;
    void **cargs;
    Value result; /* for convert_result: the PV function's result */
} CallbackRun;

/* Converts C's arguments, calls the PV function and converts its result;
 * runs under pvmV_protect, so any error lands in vm->error. The slow
 * path: what the fast one below cannot do without raising. */
static void run_callback(VM *vm, void *ud)
{
    CallbackRun *run = ud;
    FfiCallback *cb = run->cb;
    pvmF_stock_boxes(vm, cb->st); /* for the fast path's next entries */
    Value argv[FFI_MAX_ARGS];
    for (int i = 0; i < cb->sig.nargs; i++)
        argv[i] = pvmF_from_c(vm, cb->sig.kinds[i], run->cargs[i]);
    Value r = pvmV_call(vm, cb->fn, cb->sig.nargs, argv);
    pvmF_to_return(vm, cb->sig.ret, r, run->ret, (FfiWhere){ cb->name, 0 });
}

/* pvmF_to_return of the fast path's result, under pvmV_protect. */
static void convert_result(VM *vm, void *ud)
{
    CallbackRun *run = ud;
    pvmF_to_return(vm, run->cb->sig.ret, run->result, run->ret, (FfiWhere){ run->cb->name, 0 });
}

/* C's [k] at [src] as a PV value, without raising: a pointer takes a
 * spare box (the caller made sure there are enough). */
static Value arg_to_pv(FfiState *st, FfiKind k, const void *src)
{
    const FfiTypeInfo *t = &pvmF_types[k];
    if (k == FK_POINTER) { /* first: the commonest (comparators, row callbacks) */
        void *p;
        memcpy(&p, src, sizeof p);
        return pvmF_pointer_spared(st, p);
    }
    if (t->is_int)
        return vm_int(pvmF_load_int(src, t->size, t->is_signed));
    if (k == FK_DOUBLE) {
        double d;
        memcpy(&d, src, sizeof d);
        return vm_float(d);
    }
    if (k == FK_FLOAT) {
        float f;
        memcpy(&f, src, sizeof f);
        return vm_float((double)f);
    }
    return VAL_NIL; /* no other kind takes this path (plan_entry) */
}

/* Stores [v] as the callback's [k] result in [ret] when that cannot fail:
 * an int within range, a number, a pointer or nil. False leaves it to
 * pvmF_to_return and its messages. */
static bool result_to_c(FfiKind k, Value v, void *ret)
{
    const FfiTypeInfo *t = &pvmF_types[k];
    if (k == FK_VOID)
        return true;
    if (t->is_int) {
        if (v.type != VT_INT || v.as.i < t->min || v.as.i > t->max)
            return false;
        if (t->size < sizeof(ffi_arg)) { /* widened, as pvmF_to_return does */
            ffi_sarg w = (ffi_sarg)v.as.i;
            memcpy(ret, &w, sizeof w);
        } else {
            pvmF_store_int(ret, t->size, v.as.i);
        }
        return true;
    }
    if ((k == FK_DOUBLE || k == FK_FLOAT) && vm_is_number(v)) {
        double d = v.type == VT_INT ? (double)v.as.i : v.as.f;
        float f = (float)d;
        if (k == FK_FLOAT)
            memcpy(ret, &f, sizeof f);
        else
            memcpy(ret, &d, sizeof d);
        return true;
    }
    if (k == FK_POINTER && (v.type == VT_POINTER || v.type == VT_NIL)) {
        void *p = v.type == VT_NIL ? NULL : vm_pointer_addr(v);
        memcpy(ret, &p, sizeof p);
        return true;
    }
    return false;
}

/* Records the error of a failed run: C gets zero, and the ffi call
 * throws it once C returns. */
static void record_failure(FfiCallback *cb, void *ret)
{
    FfiState *st = cb->st;
    memset(ret, 0, cb->ret_size);
    st->has_error = true;
    st->error = st->vm->error;
    st->error_kind = st->vm->error_kind;
}

/* The entry without a boundary of its own (pcall.h): when the function is
 * a PV function taking exactly these arguments, with fuel and no
 * interrupt, and every argument converts without raising, the arguments
 * go straight into the stack slots of the call and the interpreter's
 * boundary is the only one. False when it cannot start; nothing ran. */
static bool run_fast(FfiCallback *cb, void *ret, void **cargs)
{
    FfiState *st = cb->st;
    VM *vm = st->vm;
    if (!cb->fast_args || st->nspare < (unsigned)cb->npointers || vm->fuel < 1 || vm->interrupt)
        return false;
    Value *callee = pvmV_pcall_slots(vm, cb->fn, cb->sig.nargs);
    if (!callee)
        return false;
    for (int i = 0; i < cb->sig.nargs; i++)
        callee[1 + i] = arg_to_pv(st, cb->sig.kinds[i], cargs[i]);
    if (!pvmV_pcall_run(vm, callee, cb->sig.nargs, NULL)) {
        record_failure(cb, ret);
        return true;
    }
    Value r = *callee;
    if (result_to_c(cb->sig.ret, r, ret))
        return true;
    CallbackRun run = { cb, ret, cargs, r };
    if (!pvmV_protect(vm, convert_result, &run))
        record_failure(cb, ret);
    return true;
}

void pvmF_callback_enter(void *callback, void *ret, void **cargs)
{
    FfiCallback *cb = callback;
    FfiState *st = cb->st;
    if (!may_run_pv(st)) {
        memset(ret, 0, cb->ret_size);
        report_refusal(cb, st->depth ? "from another thread" : "outside any ffi call");
        return;
    }
    st->callbacks_run++; /* on the calling thread: a trace's call counts it */
    if (cb->sig.ret == FK_VOID && in_signal_handler(st, cb->code)) {
        report_refusal(cb, "from a signal handler");
        st->refused_name = cb->name;
        st->refused_in_signal = 1;
        return;
    }
    if (st->has_error) {
        memset(ret, 0, cb->ret_size);
        return;
    }
    if (run_fast(cb, ret, cargs))
        return;
    memset(ret, 0, cb->ret_size);
    CallbackRun run = { cb, ret, cargs, VAL_NIL };
    if (!pvmV_protect(st->vm, run_callback, &run))
        record_failure(cb, ret);
}

/* The handler of the callbacks that have a libffi closure. */
static void callback_entry(ffi_cif *cif, void *ret, void **cargs, void *user)
{
    pvmF_callback_enter(user, ret, cargs);
}

static void free_closure(void *obj, void *unused)
{
    FfiCallback *cb = obj;
    if (cb->direct)
        pvmF_direct_release(cb->code);
    cb->direct = false;
    if (cb->closure)
        ffi_closure_free(cb->closure);
    cb->closure = NULL;
}

static void name_callback(FfiCallback *cb, Value fn)
{
    const PvString *name = NULL;
    if (fn.type == VT_CLOSURE && fn.as.cl->proto)
        name = fn.as.cl->proto->name;
    else if (fn.type == VT_NATIVE)
        name = fn.as.nat->name;
    snprintf(cb->name, sizeof cb->name, "callback %s", name ? name->chars : "<anon>");
}

/* The per-entry plan of [cb] (FfiCallback), from its signature. */
static void plan_entry(FfiCallback *cb)
{
    cb->ret_size = return_size(cb->sig.ret);
    cb->fast_args = true;
    for (int i = 0; i < cb->sig.nargs; i++) {
        if (cb->sig.kinds[i] == FK_POINTER)
            cb->npointers++;
        if (cb->sig.kinds[i] == FK_STRING)
            cb->fast_args = false;
    }
}

/* The pointer value of [cb], whose entry is [code] (a direct entry or a
 * prepared closure). */
static Value finish_callback(VM *vm, FfiCallback *cb, void *code)
{
    cb->code = code;
    GC_register_finalizer_no_order(cb, free_closure, NULL, NULL, NULL);
    /* From here on the finalizer owns the entry; an out-of-memory error in
     * the allocation below only leaves it to be collected. */
    return pvmF_pointer_new(vm, code, cb, 0, PV_PTR_CALLBACK);
}

/* ffi.callback(fn, ret, [types]): a C function pointer that calls [fn].
 * Keep the returned pointer (or a function bound to it) reachable for as
 * long as C may call it: the closure is freed when it is collected. */
Value pvmF_callback(VM *vm, int argc, Value *args, void *data)
{
    pvmF_check_enabled(vm);
    Value fn = pvmL_arg_function(vm, "ffi.callback", args, 0);
    FfiCallback *cb = pvmV_alloc(vm, sizeof *cb);
    cb->st = data;
    cb->fn = fn;
    name_callback(cb, fn);
    pvmF_parse_sig(vm, data, &cb->sig, args[1], argc > 2 ? args[2] : VAL_NIL, "ffi.callback", false);
    if (cb->sig.ret == FK_STRING)
        pvmV_error(vm, "ffi.callback: a callback cannot return a string (return a pointer from ffi.alloc)");
    for (int i = 0; i < cb->sig.nargs; i++)
        if (cb->sig.kinds[i] == FK_BUFFER)
            pvmV_error(vm, "ffi.callback: parameter %d: a callback cannot take a buffer (C's memory has no "
                           "size pvm knows); use \"pointer\"", i + 1);
    plan_entry(cb);
    pvmF_stock_boxes(vm, cb->st);
    void *code = pvmF_direct_claim(&cb->sig, cb);
    if (code) {
        cb->direct = true;
        return finish_callback(vm, cb, code);
    }
    cb->closure = ffi_closure_alloc(sizeof(ffi_closure), &code);
    if (!cb->closure)
        pvmV_error(vm, "ffi.callback: cannot allocate a closure");
    if (ffi_prep_closure_loc(cb->closure, &cb->sig.cif, callback_entry, cb, code) != FFI_OK) {
        ffi_closure_free(cb->closure);
        cb->closure = NULL;
        pvmV_error(vm, "ffi.callback: libffi cannot prepare the closure");
    }
    return finish_callback(vm, cb, code);
}
