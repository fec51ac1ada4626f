/* Loading: binds a verified .pbc image to a VM.
 *
 * Constants become Values, modules get their global slots, and each
 * function's stack code is decoded into the interpreter's internal form
 * (one VmInsn per instruction, jump targets as instruction indices). The
 * image must have passed pvmB_verify: nothing here re-checks its rules. */
#include <stdlib.h>
#include <string.h>

#include "vm/interp/interp.h"

static Value vm_load_const(VM *vm, const PbcConst *c)
{
    switch (c->kind) {
    case PBC_CONST_INT: return vm_int(c->i);
    case PBC_CONST_FLOAT: return vm_float(c->f);
    default: return vm_str_value(pvmV_string_new(vm, c->str, c->len));
    }
}

static PvString *vm_const_string(VmProgram *prog, uint32_t index)
{
    return index == PBC_NONE ? NULL : prog->consts[index].as.s;
}

static VmModule *vm_load_module(VM *vm, VmProgram *prog, const PbcModule *m)
{
    VmModule *mod = pvmV_alloc(vm, sizeof(VmModule));
    mod->name = vm_const_string(prog, m->name);
    mod->file = vm_const_string(prog, m->file);
    mod->nglobals = m->nglobals;
    mod->globals = pvmV_alloc(vm, pvmV_checked_size(vm, m->nglobals, sizeof(Value), 0));
    mod->global_names = pvmV_alloc(vm, pvmV_checked_size(vm, m->nglobals, sizeof(PvString *), 0));
    for (uint32_t g = 0; g < m->nglobals; g++) {
        mod->globals[g] = VAL_NIL;
        mod->global_names[g] = vm_const_string(prog, m->globals[g]);
    }
    mod->state = VM_MODULE_NEW;
    mod->exports = VAL_NIL;
    return mod;
}

/* Decodes [f]'s code. [index_of] maps each byte offset that starts an
 * instruction to its instruction number. */
static void vm_decode_code(VM *vm, VmProto *p, const PbcFunc *f)
{
    uint32_t *index_of = pvmV_alloc_atomic(vm, pvmV_checked_size(vm, f->codelen, sizeof(uint32_t), 0));
    uint32_t count = 0;
    PbcInsn in;
    for (uint32_t off = 0; off < f->codelen; off += in.size) {
        pvmB_decode(f->code, f->codelen, off, &in);
        index_of[off] = count++;
    }
    p->ncode = count;
    p->code = pvmV_alloc_atomic(vm, pvmV_checked_size(vm, count, sizeof(VmInsn), 0));
    p->offsets = pvmV_alloc_atomic(vm, pvmV_checked_size(vm, count, sizeof(uint32_t), 0));
    uint32_t k = 0;
    for (uint32_t off = 0; off < f->codelen; off += in.size, k++) {
        pvmB_decode(f->code, f->codelen, off, &in);
        int64_t arg = in.operand;
        if (pvmB_opcode_info[in.op].operand == OPND_TARGET)
            arg = index_of[arg];
        p->code[k].op = in.op;
        p->code[k].orig = in.op;
        p->code[k].cache = UINT32_MAX;
        p->code[k].arg = (int32_t)arg;
        p->offsets[k] = off;
    }
}

static VmProto *vm_load_proto(VM *vm, VmProgram *prog, const PbcFunc *f)
{
    VmProto *p = pvmV_alloc(vm, sizeof(VmProto));
    p->name = vm_const_string(prog, f->name);
    p->module = prog->modules[f->module];
    p->nparams = f->nparams;
    p->variadic = (f->flags & PBC_FUNC_VARIADIC) != 0;
    p->nlocals = f->nlocals;
    p->maxstack = f->maxstack;
    p->frame_slots = f->nlocals + f->maxstack + 1;
    p->jit_entry = UINT32_MAX;
    p->nupvals = f->nupvals;
    p->upvals = pvmV_alloc_atomic(vm, pvmV_checked_size(vm, f->nupvals, sizeof(PbcUpval), 0));
    if (f->nupvals)
        memcpy(p->upvals, f->upvals, f->nupvals * sizeof(PbcUpval));
    p->nlines = f->nlines;
    p->lines = pvmV_alloc_atomic(vm, pvmV_checked_size(vm, f->nlines, sizeof(PbcLine), 0));
    if (f->nlines)
        memcpy(p->lines, f->lines, f->nlines * sizeof(PbcLine));
    p->consts = prog->consts;
    p->program = prog;
    vm_decode_code(vm, p, f);
    /* --no-fuse keeps the stack code as loaded: the reference that
     * tests/cli/fusion_differential.sh compares fused runs with. (--trace
     * needs no such thing: it runs each slot's original instruction.) */
    if (!vm->tools.no_fuse)
        pvmV_fuse(vm, p);
    return p;
}

VmProgram *pvmV_load_image(VM *vm, const PbcImage *img)
{
    VmProgram *prog = pvmV_alloc(vm, sizeof(VmProgram));
    prog->nconsts = img->nconsts;
    prog->consts = pvmV_alloc(vm, pvmV_checked_size(vm, img->nconsts, sizeof(Value), 0));
    for (uint32_t i = 0; i < img->nconsts; i++)
        prog->consts[i] = vm_load_const(vm, &img->consts[i]);
    prog->nmodules = img->nmodules;
    prog->modules = pvmV_alloc(vm, pvmV_checked_size(vm, img->nmodules, sizeof(VmModule *), 0));
    for (uint32_t m = 0; m < img->nmodules; m++)
        prog->modules[m] = vm_load_module(vm, prog, &img->modules[m]);
    prog->nprotos = img->nfuncs;
    prog->protos = pvmV_alloc(vm, pvmV_checked_size(vm, img->nfuncs, sizeof(VmProto *), 0));
    for (uint32_t f = 0; f < img->nfuncs; f++)
        prog->protos[f] = vm_load_proto(vm, prog, &img->funcs[f]);
    for (uint32_t m = 0; m < img->nmodules; m++)
        prog->modules[m]->main = prog->protos[img->modules[m].main];
    return prog;
}
