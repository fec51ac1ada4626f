/* Raising errors: pvmV_throw/pvmV_error, and the stack trace captured when an
 * error may leave PV code uncaught.
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

static const char *vm_frame_name(const VmProto *p)
{
    if (p == p->module->main)
        return "<main>";
    return p->name ? p->name->chars : "<anon>";
}

/* The instruction a frame is executing: the one before its saved ip. */
static void vm_trace_frame(VmBuf *b, const VmFrame *f)
{
    const VmProto *p = f->closure->proto;
    const VmInsn *at = f->ip > p->code ? f->ip - 1 : p->code;
    pvmV_buf_addf(b, "  at %s (%s:%u)\n", vm_frame_name(p), p->module->file->chars,
                pvmV_proto_line(p, at));
}

static void vm_capture_trace(VM *vm)
{
    VmBuf b;
    pvmV_buf_init(&b);
    size_t n = vm->nframes;
    for (size_t k = 0; k < n; k++) {
        /* Elide only when that hides at least two frames. */
        if (n > TRACE_HEAD + TRACE_TAIL + 1 && k == TRACE_HEAD) {
            pvmV_buf_addf(&b, "  ... %zu more frames ...\n", n - TRACE_HEAD - TRACE_TAIL);
            k = n - TRACE_TAIL;
        }
        vm_trace_frame(&b, &vm->frames[n - 1 - k]);
    }
    /* Kept in the collector's heap, like everything the VM points to: a
     * malloc'd block reachable only from GC memory looks leaked to tools. */
    char *trace = GC_MALLOC_ATOMIC(b.len + 1);
    if (trace) {
        memcpy(trace, b.data, b.len);
        trace[b.len] = '\0';
    }
    pvmV_buf_free(&b);
    vm->error_trace = trace;
}

void pvmV_throw(VM *vm, Value v)
{
    vm->error = v;
    /* A PV handler above the innermost pcall will catch it: skip the trace. */
    if (vm->nhandlers <= vm->pcall_handlers)
        vm_capture_trace(vm);
    if (!vm->jmp) {
        fprintf(stderr, "pvm: error outside any protected call\n");
        abort();
    }
    longjmp(vm->jmp->buf, 1);
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
    if ((size_t)n < sizeof small) {
        pvmV_throw(vm, vm_str_value(pvmV_string_new(vm, small, (size_t)n)));
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        pvmV_throw(vm, vm_str_value(pvmV_string_new(vm, small, sizeof small - 1)));
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    PvString *s = pvmV_string_new(vm, big, (size_t)n);
    free(big);
    pvmV_throw(vm, vm_str_value(s));
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

void pvmV_fatal_error(VM *vm, const char *message)
{
    vm->error_fatal = true;
    pvmV_throw(vm, vm_str_value(pvmV_string_cstr(vm, message)));
}

void pvmV_limit_reached(VM *vm)
{
    if (vm->interrupt) {
        vm->interrupt = 0;
        pvmV_fatal_error(vm, "interrupted");
    }
    if (vm->fuel < 0)
        pvmV_fatal_error(vm, "instruction budget exceeded");
}
