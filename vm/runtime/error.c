/* Raising errors: pvmV_throw/pvmV_error for script errors, pvmV_raise_kind
 * for the VM's own (out of memory, the limits), each recording its kind in
 * vm->error_kind; and the stack trace, with the innermost file and line as
 * data, captured when an error may leave PV code uncaught.
 *
 * Errors unwind with longjmp to the innermost protected boundary (a running
 * pvmV_execute or a pvmV_protect); there the handler stack decides where
 * execution resumes. The trace is captured at the throw, before any frame is popped. */
#include <gc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vm/runtime/vm.h"

#define TRACE_HEAD 10 /* frames shown before and after an elision */
#define TRACE_TAIL 10

uint32_t pvmV_proto_line(const VmProto *proto, const VmInsn *ip)
{
    if (proto->nlines == 0 || ip < proto->code)
        return 0;
    uint32_t offset = proto->offsets[ip - proto->code];
    uint32_t lo = 0, hi = proto->nlines; /* last entry with offset <= target */
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (proto->lines[mid].offset <= offset)
            lo = mid;
        else
            hi = mid;
    }
    return proto->lines[lo].offset <= offset ? proto->lines[lo].line : 0;
}

/* The function's stored name; without one, "<main>" for a module's main
 * function and "<anon>" for the others. */
const char *pvmV_proto_name(const VmProto *p)
{
    if (p->name)
        return p->name->chars;
    return p == p->module->main ? "<main>" : "<anon>";
}

/* The line of the instruction a frame is executing: the one before its
 * saved ip, or, for the innermost frame of a raise, the line it names.
 * A frame that traces pushed and still run in has no ip of its own yet
 * (jit/assemble.c), seen only from a callback of a C call they make: it
 * counts as at the function's start. */
static uint32_t vm_frame_line(const VM *vm, const VmFrame *f)
{
    const VmProto *p = f->closure->proto;
    if (vm->raise_line_set && f == &vm->frames[vm->nframes - 1])
        return vm->raise_line;
    uintptr_t ip = (uintptr_t)f->ip, code = (uintptr_t)p->code; /* f->ip may point elsewhere */
    bool inside = ip > code && ip <= code + p->ncode * sizeof *p->code;
    return pvmV_proto_line(p, inside ? f->ip - 1 : p->code);
}

static void vm_trace_frame(VmBuf *b, const VM *vm, const VmFrame *f)
{
    const VmProto *p = f->closure->proto;
    pvmV_buf_addf(b, "  at %s (%s:%u)\n", pvmV_proto_name(p), p->module->file->chars, vm_frame_line(vm, f));
}

/* The innermost frame's position, kept as data beside the trace so that
 * nobody has to parse it back out of the text. */
static void vm_capture_where(VM *vm)
{
    vm->error_file = NULL;
    vm->error_line = 0;
    if (vm->nframes == 0)
        return;
    const VmFrame *f = &vm->frames[vm->nframes - 1];
    vm->error_file = f->closure->proto->module->file;
    vm->error_line = vm_frame_line(vm, f);
}

static void vm_capture_trace(VM *vm)
{
    vm_capture_where(vm);
    VmBuf b;
    pvmV_buf_init(&b);
    size_t n = vm->nframes;
    for (size_t k = 0; k < n; k++) {
        /* Elide only when that hides at least two frames. */
        if (n > TRACE_HEAD + TRACE_TAIL + 1 && k == TRACE_HEAD) {
            pvmV_buf_addf(&b, "  ... %zu more frames ...\n", n - TRACE_HEAD - TRACE_TAIL);
            k = n - TRACE_TAIL;
        }
        vm_trace_frame(&b, vm, &vm->frames[n - 1 - k]);
    }
    /* Kept in the collector's heap, like everything the VM points to: a
     * malloc'd block reachable only from GC memory looks leaked to tools.
     * Out of memory, the error goes without its trace rather than raising
     * again from inside a raise. */
    char *trace = b.failed ? NULL : pvmV_alloc_atomic_noraise(vm, b.len + 1);
    if (trace)
        memcpy(trace, b.data, b.len + 1);
    pvmV_buf_free(&b);
    vm->error_trace = trace;
}

static PVM_NORETURN void vm_raise(VM *vm, VmErrorKind kind, Value v)
{
    vm->error = v;
    vm->error_kind = kind;
    /* A PV handler above the innermost pcall will catch it: skip the trace.
     * A fatal error passes every handler, so it always needs one. */
    if (vm_error_is_fatal(kind) || vm->nhandlers <= vm->pcall_handlers)
        vm_capture_trace(vm);
    vm->raise_line_set = false;
    if (!vm->jmp) {
        fprintf(stderr, "pvm: error outside any protected call\n");
        abort();
    }
    longjmp(vm->jmp->buf, 1);
}

void pvmV_throw(VM *vm, Value v)
{
    vm_raise(vm, VM_ERR_SCRIPT, v);
}

void pvmV_throw_at(VM *vm, Value v, uint32_t line)
{
    vm->raise_line_set = true;
    vm->raise_line = line;
    vm_raise(vm, VM_ERR_SCRIPT, v);
}

void pvmV_error(VM *vm, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof small)
        pvmV_throw(vm, vm_str_value(pvmV_string_new(vm, small, (size_t)n)));
    /* A long message is formatted into collector memory: if making the
     * string raises, nothing is left to free. */
    char *big = pvmV_alloc_atomic(vm, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    pvmV_throw(vm, vm_str_value(pvmV_string_new(vm, big, (size_t)n)));
}

void pvmV_report_error(VM *vm, FILE *out)
{
    fflush(vm->out);
    VmBuf b;
    pvmV_buf_init(&b);
    pvmV_display(&b, vm->error);
    fprintf(out, "error: %.*s\n", (int)b.len, b.data);
    pvmV_buf_free(&b);
    if (vm->error_trace)
        fputs(vm->error_trace, out);
}

/* The message of each kind the VM raises itself. */
static const char *const vm_kind_text[VM_ERR_COUNT] = {
    [VM_ERR_OUT_OF_MEMORY] = "out of memory",
    [VM_ERR_MEMORY_LIMIT] = "memory limit exceeded",
    [VM_ERR_BUDGET] = "instruction budget exceeded",
    [VM_ERR_INTERRUPT] = "interrupted",
};

void pvmV_make_error_texts(VM *vm)
{
    for (int k = 0; k < VM_ERR_COUNT; k++) {
        if (vm_kind_text[k])
            vm->kind_text[k] = pvmV_string_cstr(vm, vm_kind_text[k]);
    }
}

void pvmV_raise_kind(VM *vm, VmErrorKind kind)
{
    /* Only a VM that failed to start lacks the texts; it is never run. */
    PvString *text = vm->kind_text[kind];
    vm_raise(vm, kind, text ? vm_str_value(text) : VAL_NIL);
}

void pvmV_out_of_memory(VM *vm)
{
    pvmV_raise_kind(vm, VM_ERR_OUT_OF_MEMORY);
}

void pvmV_limit_reached(VM *vm)
{
    if (vm->interrupt) {
        pvmV_interrupt_clear(vm);
        pvmV_raise_kind(vm, VM_ERR_INTERRUPT);
    }
    if (vm->fuel < 0)
        pvmV_raise_kind(vm, VM_ERR_BUDGET);
}
