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

/* Marks in [in_loop] the instructions of [p] that lie inside a loop:
 * between a backward jump and its target. */
static void vm_find_loops(const VmProto *p, bool *in_loop)
{
    uint32_t open = 0; /* loops whose target is behind and jump ahead */
    int32_t *starts = calloc(p->ncode + 1u, sizeof *starts);
    if (!starts) { /* every instruction may repeat, for all we know */
        memset(in_loop, 1, p->ncode);
        return;
    }
    for (uint32_t j = 0; j < p->ncode; j++)
        if (pvmB_opcode_info[p->code[j].orig].operand == OPND_TARGET && (uint32_t)p->code[j].arg <= j) {
            starts[p->code[j].arg]++;
            starts[j + 1]--;
        }
    for (uint32_t k = 0; k < p->ncode; k++) {
        open += (uint32_t)starts[k];
        in_loop[k] = open > 0;
    }
    free(starts);
}

/* The writes of [p] to its module's globals, counted in the module's
 * global_once (1: one write that runs at most once, 2: any more). Its
 * writes run at most once when [p] is top-level code that does
 * ([runs_once]) and they lie outside every loop. */
static void vm_count_global_writes(const VmProto *p, bool runs_once)
{
    bool *in_loop = runs_once ? calloc(p->ncode + 1u, sizeof *in_loop) : NULL;
    if (in_loop)
        vm_find_loops(p, in_loop);
    for (uint32_t k = 0; k < p->ncode; k++) {
        if (p->code[k].orig != OP_SETGLOBAL)
            continue;
        uint8_t *count = &p->module->global_once[p->code[k].arg];
        unsigned w = in_loop && !in_loop[k] ? 1u : 2u; /* without the loops: may repeat */
        *count = (uint8_t)(*count + w > 2u ? 2u : *count + w);
    }
    free(in_loop);
}

/* Marks the globals (VmModule.global_once) that one instruction of the
 * whole program writes, in its module's top-level code outside every
 * loop, where that code runs at most once: it is its module's main, no
 * other module's, and no closure is made of it. Once that instruction has
 * run, the global keeps its value for good, unless the host sets it
 * (pvm_set_global clears the mark). The JIT takes a function in such a
 * global as a constant (docs/jit.md, "Globals bound once"). */
static void vm_mark_all_once_globals(VM *vm, VmProgram *prog, const PbcImage *img)
{
    for (uint32_t m = 0; m < prog->nmodules; m++) /* may raise: before the calloc */
        prog->modules[m]->global_once = pvmV_alloc(vm, pvmV_checked_size(vm, prog->modules[m]->nglobals, 1, 0));
    uint32_t *uses = calloc(prog->nprotos, sizeof *uses); /* as a main or a closure */
    if (!uses)
        return; /* none marked: only slower traces */
    for (uint32_t m = 0; m < prog->nmodules; m++)
        uses[img->modules[m].main]++;
    for (uint32_t f = 0; f < prog->nprotos; f++)
        for (uint32_t k = 0; k < prog->protos[f]->ncode; k++)
            if (prog->protos[f]->code[k].orig == OP_CLOSURE)
                uses[prog->protos[f]->code[k].arg]++;
    for (uint32_t f = 0; f < prog->nprotos; f++) {
        const VmProto *p = prog->protos[f];
        vm_count_global_writes(p, p->module->main == p && uses[f] == 1);
    }
    free(uses);
    for (uint32_t m = 0; m < prog->nmodules; m++)
        for (uint32_t g = 0; g < prog->modules[m]->nglobals; g++)
            prog->modules[m]->global_once[g] = prog->modules[m]->global_once[g] == 1;
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
    vm_mark_all_once_globals(vm, prog, img);
    return prog;
}
