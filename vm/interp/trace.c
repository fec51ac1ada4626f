/* The --trace printer: one line per executed instruction, with its
 * function, offset, line, mnemonic and operand, then the operand stack of
 * its frame after it ran. The loop calls pvmV_trace_step before each
 * instruction; the line it starts is completed (with the stack) at the next
 * step, or by pvmV_trace_flush when the run ends. */
#include <stdio.h>

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

void pvmV_trace_step(VM *vm, const VmFrame *f, const VmInsn *ip)
{
    FILE *out = vm->tools.trace_out ? vm->tools.trace_out : stderr;
    fflush(vm->out); /* keep the program's output in step with the trace */
    if (vm->tools.trace_pending[0])
        vm_trace_stack(vm, f, out);
    const VmProto *p = f->closure->proto;
    /* orig, not op: fused slots trace as the instructions they stand for
     * (op may be a superinstruction, which has no entry in the table). */
    const OpcodeInfo *info = &pvmB_opcode_info[ip->orig];
    const char *name = pvmV_proto_name(p);
    char operand[32] = "";
    if (info->operand == OPND_TARGET)
        snprintf(operand, sizeof operand, "%u", p->offsets[ip->arg]);
    else if (info->operand != OPND_NONE)
        snprintf(operand, sizeof operand, "%d", ip->arg);
    snprintf(vm->tools.trace_pending, sizeof vm->tools.trace_pending, "%s@%u line %u: %-9s %-6s |", name,
             p->offsets[ip - p->code], pvmV_proto_line(p, ip), info->mnemonic, operand);
}
