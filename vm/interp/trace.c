/* The --trace printer: one line per executed instruction, with its
 * function, offset, line, mnemonic and operand (shown by value or name),
 * then the operand stack of its frame after it ran (docs/vm.md, "Tools"). The loop calls pvmV_trace_step before each
 * instruction; the line it starts is completed (with the stack) at the next
 * step, or by pvmV_trace_flush when the run ends. */
#include <stdio.h>
#include <string.h>

#include "vm/interp/loop.h"

void pvmV_trace_flush(VM *vm)
{
    if (!vm->tools.trace_pending[0])
        return;
    fprintf(vm->tools.trace_out ? vm->tools.trace_out : stderr, "%s\n", vm->tools.trace_pending);
    vm->tools.trace_pending[0] = '\0';
}

static void vm_trace_stack(VM *vm, const VmFrame *f, FILE *out)
{
    const Value *from = f->base + f->closure->proto->nlocals;
    VmBuf b;
    pvmV_buf_init(&b);
    pvmV_buf_addc(&b, '[');
    for (const Value *v = from; v < vm->top; v++) {
        if (v > from)
            pvmV_buf_add(&b, ", ", 2);
        if (b.len > 200) {
            pvmV_buf_add(&b, "...", 3);
            break;
        }
        pvmV_display_element(&b, *v);
    }
    pvmV_buf_addc(&b, ']');
    fprintf(out, "%s  %.*s\n", vm->tools.trace_pending, (int)(b.len > 240 ? 240 : b.len), b.data);
    pvmV_buf_free(&b);
}

/* The operand as the program means it: a constant's value, a global's or
 * function's name, a jump's byte offset, a type set's names; else the number. */
static void vm_trace_operand(const VmProto *p, const VmInsn *ip, char *out, size_t len)
{
    const OpcodeInfo *info = &pvmB_opcode_info[ip->orig];
    uint32_t v = (uint32_t)ip->arg;
    VmBuf b;
    out[0] = '\0';
    switch (info->operand) {
    case OPND_NONE:
        return;
    case OPND_TARGET:
        snprintf(out, len, "%u", p->offsets[v]);
        return;
    case OPND_CONST:
    case OPND_NAME:
    case OPND_FIELD:
        pvmV_buf_init(&b);
        pvmV_display_element(&b, p->consts[v]);
        snprintf(out, len, "%.*s%s", (int)(b.len > 40 ? 40 : b.len), b.data, b.len > 40 ? "..." : "");
        pvmV_buf_free(&b);
        return;
    case OPND_GLOBAL:
        snprintf(out, len, "%s", p->module->global_names[v]->chars);
        return;
    case OPND_FUNC:
        snprintf(out, len, "%s", pvmV_proto_name(p->program->protos[v]));
        return;
    case OPND_TYPES: {
        static const char *const names[] = {
#define X(name, text) text,
            PBC_TYPE_NAMES(X)
#undef X
        };
        size_t n = 0;
        for (int t = 0; t < PBC_TYPE__COUNT && n + 1 < len; t++)
            if (v & (1u << t))
                n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "|" : "", names[t]);
        return;
    }
    default:
        snprintf(out, len, "%d", ip->arg);
    }
}

/* --trace=NAME: only the instructions of functions whose display name is NAME. */
static bool vm_trace_wanted(const VM *vm, const VmProto *p)
{
    return !vm->tools.trace_only || !strcmp(vm->tools.trace_only, pvmV_proto_name(p));
}

void pvmV_trace_step(VM *vm, const VmFrame *f, const VmInsn *ip)
{
    FILE *out = vm->tools.trace_out ? vm->tools.trace_out : stderr;
    fflush(vm->out); /* keep the program's output in step with the trace */
    if (vm->tools.trace_pending[0])
        vm_trace_stack(vm, f, out);
    vm->tools.trace_pending[0] = '\0';
    const VmProto *p = f->closure->proto;
    if (!vm_trace_wanted(vm, p))
        return;
    /* orig, not op: fused slots trace as the instructions they stand for
     * (op may be a superinstruction, which has no entry in the table). */
    const OpcodeInfo *info = &pvmB_opcode_info[ip->orig];
    char operand[64];
    vm_trace_operand(p, ip, operand, sizeof operand);
    snprintf(vm->tools.trace_pending, sizeof vm->tools.trace_pending, "%s@%u line %u: %-9s %-6s |",
             pvmV_proto_name(p), p->offsets[ip - p->code], pvmV_proto_line(p, ip), info->mnemonic, operand);
}
