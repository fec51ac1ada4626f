/* Unit tests for the backend (jit/assemble.c) on IR built by hand: an
 * exit writes its snapshot's values into the frame boxed by IR type
 * (ints, doubles by their bits, bools, nil, objects, constants) and leaves
 * other slots alone; the register allocator keeps every value right when
 * there are more live values than registers (spills) and across a C call
 * (fmod), for ints and floats; the fuel a trip charges comes out of the
 * VM's budget, and an exhausted budget exits before charging; RETF moves
 * the base into the caller's frame; an exit inside inlined calls pushes
 * their frames; a loop's PHIs share registers only when that is safe; a
 * C call made directly passes its arguments in the System V registers and
 * keeps every live value across it. */
#include <gc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jit/assemble.h"
#include "jit/mcode.h"

#if PVM_JIT

typedef struct {
    VM *vm;
    JitIR ir;
    JitSnapList snaps;
    PvmjMcode *mc;
    uint64_t *vals;
    Value frame[64];
} Fixture;

static int setup(void **state)
{
    GC_INIT();
    Fixture *f = calloc(1, sizeof *f);
    f->vm = pvmV_new();
    f->mc = pvmJ_mcode_new(0, 0);
    /* the word before the values is the interrupt flag traces poll */
    f->vals = (uint64_t *)GC_MALLOC_UNCOLLECTABLE((PVMJ_VALS + 1) * sizeof *f->vals) + 1;
    pvmJ_ir_init(&f->ir);
    pvmJ_snap_init(&f->snaps);
    for (int k = 0; k < 64; k++)
        f->frame[k] = vm_int(1000 + k);
    *state = f;
    return f->vm && f->mc && f->vals ? 0 : -1;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    pvmJ_ir_free(&f->ir);
    pvmJ_snap_free(&f->snaps);
    pvmJ_mcode_free(f->mc);
    GC_FREE(f->vals - 1);
    pvmV_free(f->vm);
    free(f);
    return 0;
}

/* Assembles the fixture's IR, runs it once on the frame and returns what
 * the code returned (exit_base 7 << 16 plus the snapshot's number). */
static uint32_t run(Fixture *f)
{
    PvmjAsm a;
    pvmJ_asm_init(&a, 0);
    JitAsmIn in = { f->vm, &f->ir, &f->snaps, 7u << 16, NULL };
    JitAsmOut out = { 0 };
    assert_true(pvmJ_assemble(&a, &in, &out));
    void *code = pvmJ_mcode_place(f->mc, &a);
    assert_non_null(code);
    assert_true(out.body > 0 && out.body < a.len);
    pvmJ_asm_free(&a);
    free(out.exit_jumps);
    free(out.exit_regs);
    free(out.where);
    JitEntry entry = (JitEntry)(uintptr_t)code;
    return entry(f->frame, f->vals);
}

static uint32_t index_of_ref(JitRef ref)
{
    return (uint32_t)(ref - JIT_REF_BIAS);
}

static JitRef emit(Fixture *f, JitOp op, JitType t, JitRef a, JitRef b)
{
    return pvmJ_ir_append(&f->ir, op, t, a, b);
}

/* A guard that always fails (slot 63 holds 1063, which is not below
 * -1000000) under a snapshot of [slots]. */
static void fail_with(Fixture *f, uint32_t pc, const JitRef *slots, uint16_t n)
{
    JitRef next = (JitRef)(JIT_REF_BIAS + f->ir.nins);
    assert_true(pvmJ_snap_take(&f->snaps, pc, next, slots, n) >= 0);
    JitRef one = emit(f, JIT_IR_SLOAD, JIT_T_INT, 63, 0);
    emit(f, JIT_IR_LT, JIT_T_VOID, one, pvmJ_k_int(&f->ir, -1000000));
}

static void test_exit_boxes_by_type(void **state)
{
    Fixture *f = *state;
    int obj;
    JitIR *ir = &f->ir;
    f->frame[1] = vm_float(-0.0);
    f->frame[2] = vm_bool(true);
    f->frame[0] = vm_int(-5);
    JitRef i = emit(f, JIT_IR_SLOAD, JIT_T_INT, 0, 0);
    JitRef d = emit(f, JIT_IR_SLOAD, JIT_T_FLT, 1, 0);
    JitRef b = emit(f, JIT_IR_SLOAD, JIT_T_BOOL, 2, 0);
    JitRef slots[9] = {
        d, i, b,
        pvmJ_k_float(ir, NAN),
        pvmJ_k_pri(ir, JIT_T_NIL, false),
        pvmJ_k_pri(ir, JIT_T_BOOL, false),
        pvmJ_k_gc(ir, JIT_T_STR, &obj),
        JIT_REF_NONE,
        pvmJ_k_int(ir, INT64_MIN),
    };
    fail_with(f, 42, slots, 9);
    assert_int_equal(run(f), 7u << 16 | 0u);
    assert_int_equal(f->frame[0].type, VT_FLOAT);
    assert_true(f->frame[0].as.f == 0.0 && signbit(f->frame[0].as.f));
    assert_int_equal(f->frame[1].type, VT_INT);
    assert_int_equal(f->frame[1].as.i, -5);
    assert_int_equal(f->frame[2].type, VT_BOOL);
    assert_int_equal(f->frame[2].as.i, 1);
    assert_int_equal(f->frame[3].type, VT_FLOAT);
    assert_true(isnan(f->frame[3].as.f));
    assert_int_equal(f->frame[4].type, VT_NIL);
    assert_int_equal(f->frame[5].type, VT_BOOL);
    assert_int_equal(f->frame[5].as.i, 0);
    assert_int_equal(f->frame[6].type, VT_STRING);
    assert_ptr_equal(f->frame[6].as.p, &obj);
    /* a slot the trace never wrote keeps what the interpreter left there */
    assert_int_equal(f->frame[7].type, VT_INT);
    assert_int_equal(f->frame[7].as.i, 1007);
    assert_int_equal(f->frame[8].type, VT_INT);
    assert_int_equal(f->frame[8].as.i, INT64_MIN);
}

/* Two guards under snapshots that write the same frame share one exit's
 * code, which returns the first one's number; a snapshot that writes
 * something else keeps its own. */
static void test_twin_exits_share_code(void **state)
{
    Fixture *f = *state;
    f->frame[0] = vm_int(-5);
    JitRef i = emit(f, JIT_IR_SLOAD, JIT_T_INT, 0, 0);
    JitRef twice = emit(f, JIT_IR_ADD, JIT_T_INT, i, i);
    JitRef slots[2] = { twice, i };
    JitRef k = emit(f, JIT_IR_SLOAD, JIT_T_INT, 63, 0);
    JitRef next = (JitRef)(JIT_REF_BIAS + f->ir.nins);
    assert_int_equal(pvmJ_snap_take(&f->snaps, 9, next, slots, 2), 0);
    emit(f, JIT_IR_LT, JIT_T_VOID, k, pvmJ_k_int(&f->ir, 2000)); /* holds */
    next = (JitRef)(JIT_REF_BIAS + f->ir.nins);
    assert_int_equal(pvmJ_snap_take(&f->snaps, 9, next, slots, 2), 1);
    emit(f, JIT_IR_GT, JIT_T_VOID, k, pvmJ_k_int(&f->ir, 2000)); /* fails: the twin */
    fail_with(f, 10, slots, 2);
    assert_int_equal(run(f), 7u << 16 | 0u);
    assert_int_equal(f->frame[0].type, VT_INT);
    assert_int_equal(f->frame[0].as.i, -10);
    assert_int_equal(f->frame[1].as.i, -5);

    /* the same trace with the second guard holding: the third exit is its own */
    f->frame[0] = vm_int(-5);
    f->ir.ins[index_of_ref(next)].op = JIT_IR_LT;
    assert_int_equal(run(f), 7u << 16 | 2u);
    assert_int_equal(f->frame[0].as.i, -10);
}

/* 40 ints made from 40 slots, all live at the exit: more than the
 * registers, so most are spilled; each must come back as slot + k * 3. */
static void test_spills_keep_int_values(void **state)
{
    Fixture *f = *state;
    enum { N = 40 };
    JitRef slots[N], loads[N];
    for (int k = 0; k < N; k++)
        loads[k] = emit(f, JIT_IR_SLOAD, JIT_T_INT, (JitRef)k, 0);
    for (int k = 0; k < N; k++) {
        JitRef t = emit(f, JIT_IR_MUL, JIT_T_INT, pvmJ_k_int(&f->ir, k), pvmJ_k_int(&f->ir, 3));
        slots[k] = emit(f, JIT_IR_ADD, JIT_T_INT, loads[k], t);
    }
    fail_with(f, 1, slots, N);
    assert_int_equal(run(f) & 0xFFFF, 0);
    for (int k = 0; k < N; k++) {
        assert_int_equal(f->frame[k].type, VT_INT);
        assert_int_equal(f->frame[k].as.i, 1000 + k + 3 * k);
    }
}

/* 30 floats live across an fmod call, which clobbers every SSE register:
 * slot k gets (1000 + k) * 0.5, and the fmod's own result is right too. */
static void test_floats_survive_a_call(void **state)
{
    Fixture *f = *state;
    enum { N = 30 };
    JitRef slots[N + 1];
    for (int k = 0; k < N; k++) {
        JitRef v = emit(f, JIT_IR_SLOAD, JIT_T_INT, (JitRef)k, 0);
        JitRef x = emit(f, JIT_IR_TOFLT, JIT_T_FLT, v, 0);
        slots[k] = emit(f, JIT_IR_MUL, JIT_T_FLT, x, pvmJ_k_float(&f->ir, 0.5));
    }
    slots[N] = emit(f, JIT_IR_MOD, JIT_T_FLT, slots[N - 1], pvmJ_k_float(&f->ir, 7.0));
    fail_with(f, 1, slots, N + 1);
    assert_int_equal(run(f) & 0xFFFF, 0);
    for (int k = 0; k < N; k++) {
        assert_int_equal(f->frame[k].type, VT_FLOAT);
        assert_true(f->frame[k].as.f == (1000 + k) * 0.5);
    }
    assert_true(f->frame[N].as.f == fmod((1000 + N - 1) * 0.5, 7.0));
}

/* C calls made directly (CALLC): what the fake bookkeeping saw, and the
 * C functions they call. */
static struct {
    VM *vm;
    int entered, left;
    Value *top;
    int64_t fuel;
    bool leave_says;
} seen;

static void fake_enter(const VmCCall *c, Value *top)
{
    seen.entered++;
    seen.top = top;
    seen.fuel = seen.vm->fuel;
    seen.vm->fuel -= 3; /* as a callback would charge */
}

static bool fake_leave(const VmCCall *c)
{
    seen.left++;
    return seen.leave_says;
}

static int64_t c_six(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, int64_t f)
{
    return a + 10 * b + 100 * c + 1000 * (int64_t)d + 10000 * (int64_t)e + f;
}

static float c_mixed(int a, double x, float y, int64_t b, double z)
{
    return (float)(a + x * 2 + y * 4 + (double)b * 5 + z * 6);
}

static void int_param(VmCArg *p, int size, bool is_signed)
{
    *p = (VmCArg){ VM_CARG_INT, (uint8_t)size, is_signed, 0, 0 };
}

/* Six integer arguments of every width in the six registers, 24 ints and
 * 24 floats live across the call (the caller-saved registers clobbered by
 * the call are saved and brought back), the call's own result and all of
 * those in the exit after it; the fuel the call's bookkeeping sees is
 * the VM's, and what it takes stays taken; the stack top given to it is
 * past the arguments (the snapshot's slots plus six). When the
 * bookkeeping says the trace may go on, it does, with the same values. */
static void test_c_call_in_registers(void **state)
{
    Fixture *f = *state;
    enum { N = 24 };
    VmCCall c = { .code = (void *)c_six, .enter = fake_enter, .leave = fake_leave, .nargs = 6 };
    int_param(&c.args[0], 1, true);
    int_param(&c.args[1], 1, false);
    int_param(&c.args[2], 2, true);
    int_param(&c.args[3], 2, false);
    int_param(&c.args[4], 4, true);
    int_param(&c.args[5], 8, true);
    int_param(&c.ret, 8, true);
    seen = (typeof(seen)){ .vm = f->vm, .leave_says = true };
    static const int64_t in[6] = { -5, 200, -300, 60000, -7, 123456789012 };
    JitRef slots[2 * N + 1], args[6];
    for (int k = 0; k < 6; k++) {
        f->frame[k] = vm_int(in[k]);
        args[k] = emit(f, JIT_IR_SLOAD, JIT_T_INT, (JitRef)k, 0);
    }
    for (int k = 0; k < N; k++) {
        JitRef v = emit(f, JIT_IR_SLOAD, JIT_T_INT, (JitRef)(10 + k), 0);
        slots[k] = emit(f, JIT_IR_ADD, JIT_T_INT, v, pvmJ_k_int(&f->ir, k));
        JitRef x = emit(f, JIT_IR_TOFLT, JIT_T_FLT, v, 0);
        slots[N + k] = emit(f, JIT_IR_MUL, JIT_T_FLT, x, pvmJ_k_float(&f->ir, 0.5));
    }
    JitRef chain = JIT_REF_NONE;
    for (int k = 0; k < 6; k++)
        chain = emit(f, JIT_IR_CARG, JIT_T_VOID, args[k], chain);
    JitRef res = (JitRef)(JIT_REF_BIAS + f->ir.nins);
    slots[2 * N] = res;
    assert_true(pvmJ_snap_take(&f->snaps, 5, res, slots, 2 * N + 1) >= 0);
    assert_int_equal(emit(f, JIT_IR_CALLC, JIT_T_INT, chain, pvmJ_k_gc(&f->ir, JIT_T_PTR, &c)), res);
    fail_with(f, 6, slots, 2 * N + 1);
    f->vm->fuel = 100;
    assert_int_equal(run(f) & 0xFFFF, 0); /* the exit after the call */
    assert_int_equal(seen.entered, 1);
    assert_int_equal(seen.left, 1);
    assert_ptr_equal(seen.top, &f->frame[2 * N + 1 + 6]);
    assert_int_equal(seen.fuel, 100);
    assert_int_equal(f->vm->fuel, 97);
    for (int k = 0; k < N; k++) {
        assert_int_equal(f->frame[k].as.i, 1010 + k + k);
        assert_int_equal(f->frame[N + k].type, VT_FLOAT);
        assert_true(f->frame[N + k].as.f == (1010 + k) * 0.5);
    }
    assert_int_equal(f->frame[2 * N].type, VT_INT);
    assert_int_equal(f->frame[2 * N].as.i, c_six(-5, 200, -300, 60000, -7, 123456789012));

    seen.leave_says = false; /* on to the guard after it, which fails */
    for (int k = 0; k < 6; k++)
        f->frame[k] = vm_int(in[k]);
    for (int k = 0; k < N; k++)
        f->frame[10 + k] = vm_int(1010 + k);
    assert_int_equal(run(f) & 0xFFFF, 1);
    assert_int_equal(f->frame[2 * N].as.i, c_six(-5, 200, -300, 60000, -7, 123456789012));
    assert_true(f->frame[2 * N - 1].as.f == (1010 + N - 1) * 0.5);
}

/* Doubles and a float in xmm0-2 between ints in rdi and rsi (an int
 * widened to the float parameter's class by TOFLT), a float result
 * widened to a double. */
static void test_c_call_floats(void **state)
{
    Fixture *f = *state;
    VmCCall c = { .code = (void *)c_mixed, .enter = fake_enter, .leave = fake_leave, .nargs = 5 };
    int_param(&c.args[0], 4, true);
    c.args[1].kind = VM_CARG_DOUBLE;
    c.args[2].kind = VM_CARG_FLOAT;
    int_param(&c.args[3], 8, true);
    c.args[4].kind = VM_CARG_DOUBLE;
    c.ret.kind = VM_CARG_FLOAT;
    seen = (typeof(seen)){ .vm = f->vm, .leave_says = true };
    f->frame[0] = vm_int(3);
    f->frame[1] = vm_float(0.1);
    f->frame[2] = vm_int(7);
    JitRef a = emit(f, JIT_IR_SLOAD, JIT_T_INT, 0, 0);
    JitRef x = emit(f, JIT_IR_SLOAD, JIT_T_FLT, 1, 0);
    JitRef y = emit(f, JIT_IR_TOFLT, JIT_T_FLT, emit(f, JIT_IR_SLOAD, JIT_T_INT, 2, 0), 0);
    JitRef args[5] = { a, x, y, pvmJ_k_int(&f->ir, -11), pvmJ_k_float(&f->ir, 2.5) };
    JitRef chain = JIT_REF_NONE;
    for (int k = 0; k < 5; k++)
        chain = emit(f, JIT_IR_CARG, JIT_T_VOID, args[k], chain);
    JitRef res = (JitRef)(JIT_REF_BIAS + f->ir.nins);
    assert_true(pvmJ_snap_take(&f->snaps, 5, res, &res, 1) >= 0);
    emit(f, JIT_IR_CALLC, JIT_T_FLT, chain, pvmJ_k_gc(&f->ir, JIT_T_PTR, &c));
    fail_with(f, 6, &res, 1);
    f->vm->fuel = 10;
    assert_int_equal(run(f) & 0xFFFF, 0);
    assert_int_equal(f->frame[0].type, VT_FLOAT);
    assert_true(f->frame[0].as.f == (double)c_mixed(3, 0.1, 7.0f, -11, 2.5));
}

/* CHARGE #5 takes 5 fuel from the VM; with 4 left it exits untouched. */
static void test_charge_takes_fuel(void **state)
{
    Fixture *f = *state;
    JitRef none = JIT_REF_NONE;
    pvmJ_snap_take(&f->snaps, 3, JIT_REF_BIAS, &none, 1);
    emit(f, JIT_IR_CHARGE, JIT_T_VOID, 5, 0);
    fail_with(f, 4, &none, 1);
    f->vm->fuel = 100;
    assert_int_equal(run(f) & 0xFFFF, 1);
    assert_int_equal(f->vm->fuel, 95);
    f->vm->fuel = 4;
    assert_int_equal(run(f) & 0xFFFF, 0);
    assert_int_equal(f->vm->fuel, 4);
}

/* BASE is the frame's address; RETF #2 moves the base two slots down and
 * takes one from the VM's frame count, so a later exit writes the caller's
 * slots. */
static void test_retf_moves_the_base(void **state)
{
    Fixture *f = *state;
    JitRef base = emit(f, JIT_IR_BASE, JIT_T_PTR, 0, 0);
    emit(f, JIT_IR_RETF, JIT_T_VOID, 2, 0);
    JitRef slots[2] = { pvmJ_k_int(&f->ir, 77), base };
    assert_true(pvmJ_snap_take(&f->snaps, 9, (JitRef)(JIT_REF_BIAS + f->ir.nins), slots, 2) >= 0);
    JitRef v = emit(f, JIT_IR_SLOAD, JIT_T_INT, 50, 0); /* the caller's slot 50: frame[52] */
    emit(f, JIT_IR_LT, JIT_T_VOID, v, pvmJ_k_int(&f->ir, 1000)); /* 1052 < 1000 fails */
    size_t frames = f->vm->nframes;
    f->vm->nframes = 5;
    PvmjAsm a;
    pvmJ_asm_init(&a, 0);
    JitAsmIn in = { f->vm, &f->ir, &f->snaps, 0, NULL };
    JitAsmOut out = { 0 };
    assert_true(pvmJ_assemble(&a, &in, &out));
    JitEntry entry = (JitEntry)(uintptr_t)pvmJ_mcode_place(f->mc, &a);
    assert_non_null(entry);
    pvmJ_asm_free(&a);
    free(out.exit_jumps);
    free(out.exit_regs);
    free(out.where);
    assert_int_equal(entry(&f->frame[4], f->vals), 0);
    assert_int_equal(f->vm->nframes, 4);
    f->vm->nframes = frames;
    assert_int_equal(f->frame[2].type, VT_INT);
    assert_int_equal(f->frame[2].as.i, 77);
    assert_int_equal(f->frame[3].type, VT_POINTER);
    assert_ptr_equal(f->frame[3].as.p, &f->frame[4]);
    assert_int_equal(f->frame[4].as.i, 1004); /* the callee's slot 0: untouched */
}

/* An exit inside two inlined calls pushes their frames as CALL leaves
 * them: the caller's ip after its call, each callee's closure from the
 * slot below its base; the base register ends at the innermost frame's.
 * The innermost frame's ip is left for the trace runner to set. */
static void test_exit_pushes_inlined_frames(void **state)
{
    Fixture *f = *state;
    VmInsn code_root[8], code_f[4], code_g[3];
    VmProto p_root = { .code = code_root, .ncode = 8 };
    VmProto p_f = { .code = code_f, .ncode = 4 };
    VmProto p_g = { .code = code_g, .ncode = 3 };
    PvClosure c_root = { .proto = &p_root }, c_f = { .proto = &p_f }, c_g = { .proto = &p_g };
    f->frame[3] = (Value){ .type = VT_CLOSURE, .as.cl = &c_f };
    f->frame[6] = (Value){ .type = VT_CLOSURE, .as.cl = &c_g };
    VmFrame frames[4];
    VmFrame *saved = f->vm->frames;
    size_t saved_n = f->vm->nframes, saved_cap = f->vm->frames_cap;
    f->vm->frames = frames;
    f->vm->frames_cap = 4;
    f->vm->nframes = 1;
    frames[0] = (VmFrame){ .closure = &c_root, .ip = &code_root[7], .base = f->frame };
    frames[2].ip = NULL;

    JitSnapFrame chain[2] = { { .base = 4, .ret = 6, .ret_ip = &code_root[6], .code = code_f },
                              { .base = 7, .ret = 3, .ret_ip = &code_f[3], .code = code_g } };
    int32_t at = pvmJ_snap_add_frames(&f->snaps, chain, 2);
    assert_true(at >= 0);
    JitRef slots[8] = { JIT_REF_NONE, JIT_REF_NONE, JIT_REF_NONE, JIT_REF_NONE,
                        JIT_REF_NONE, JIT_REF_NONE, JIT_REF_NONE, pvmJ_k_int(&f->ir, 5) };
    fail_with(f, 1, slots, 8);
    f->snaps.snaps[0].nframes = 2;
    f->snaps.snaps[0].frame_start = (uint32_t)at;
    uint32_t code = run(f);
    size_t n = f->vm->nframes;
    f->vm->frames = saved;
    f->vm->nframes = saved_n;
    f->vm->frames_cap = saved_cap;
    assert_int_equal(code & 0xFFFF, 0);
    assert_int_equal(n, 3);
    assert_ptr_equal(frames[0].ip, &code_root[6]); /* the call's pc + 1, as CALL saves it */
    assert_ptr_equal(frames[1].closure, &c_f);
    assert_ptr_equal(frames[1].base, &f->frame[4]);
    assert_ptr_equal(frames[1].ip, &code_f[3]);
    assert_ptr_equal(frames[2].closure, &c_g);
    assert_ptr_equal(frames[2].base, &f->frame[7]);
    assert_null(frames[2].ip);                  /* the runner's to set */
    assert_int_equal(f->frame[7].as.i, 5);      /* the slots were written first */
}

/* A snapshot taken before the next IR instruction. */
static void snap_here(Fixture *f, uint32_t pc, const JitRef *slots, uint16_t n)
{
    assert_true(pvmJ_snap_take(&f->snaps, pc, (JitRef)(JIT_REF_BIAS + f->ir.nins), slots, n) >= 0);
}

/* A counting loop as the recorder makes it (the first trip before LOOP,
 * the copy after it, PHIs at the end). The new counter takes the old
 * one's register (PHI coalescing: the old one is dead once the new one is
 * made), and the exit still sees the right value: 10 trips from 0. */
static void test_loop_phi_shares_a_register(void **state)
{
    Fixture *f = *state;
    JitIR *ir = &f->ir;
    f->frame[0] = vm_int(0);
    f->frame[1] = vm_int(10);
    JitRef none = JIT_REF_NONE;
    JitRef i = emit(f, JIT_IR_SLOAD, JIT_T_INT, 0, 0);
    JitRef n = emit(f, JIT_IR_SLOAD, JIT_T_INT, 1, 0);
    snap_here(f, 1, &none, 1);
    emit(f, JIT_IR_LT, JIT_T_VOID, i, n);
    JitRef i1 = emit(f, JIT_IR_ADD, JIT_T_INT, i, pvmJ_k_int(ir, 1));
    snap_here(f, 2, &i1, 1);
    f->ir.loop = emit(f, JIT_IR_LOOP, JIT_T_VOID, 1, 0);
    snap_here(f, 3, &i1, 1);
    emit(f, JIT_IR_LT, JIT_T_VOID, i1, n);
    JitRef i2 = emit(f, JIT_IR_ADD, JIT_T_INT, i1, pvmJ_k_int(ir, 1));
    emit(f, JIT_IR_PHI, JIT_T_INT, i1, i2);
    assert_int_equal(run(f) & 0xFFFF, 2);
    assert_int_equal(f->frame[0].type, VT_INT);
    assert_int_equal(f->frame[0].as.i, 10);
}

/* The same loop with an accumulator of i + (i + 1): the old counter is
 * read after the new one is made, so they may not share a register, while
 * the accumulator's new value may take the old one's (its last read is
 * the instruction that makes it). 10 trips sum the odd numbers to 100. */
static void test_loop_phi_keeps_a_value_still_read(void **state)
{
    Fixture *f = *state;
    JitIR *ir = &f->ir;
    f->frame[0] = vm_int(0);
    f->frame[1] = vm_int(10);
    f->frame[2] = vm_int(0);
    JitRef none = JIT_REF_NONE;
    JitRef i = emit(f, JIT_IR_SLOAD, JIT_T_INT, 0, 0);
    JitRef n = emit(f, JIT_IR_SLOAD, JIT_T_INT, 1, 0);
    JitRef acc = emit(f, JIT_IR_SLOAD, JIT_T_INT, 2, 0);
    snap_here(f, 1, &none, 1);
    emit(f, JIT_IR_LT, JIT_T_VOID, i, n);
    JitRef i1 = emit(f, JIT_IR_ADD, JIT_T_INT, i, pvmJ_k_int(ir, 1));
    JitRef t1 = emit(f, JIT_IR_ADD, JIT_T_INT, i1, i);
    JitRef acc1 = emit(f, JIT_IR_ADD, JIT_T_INT, acc, t1);
    JitRef state1[3] = { i1, JIT_REF_NONE, acc1 };
    snap_here(f, 2, state1, 3);
    f->ir.loop = emit(f, JIT_IR_LOOP, JIT_T_VOID, 1, 0);
    snap_here(f, 3, state1, 3);
    emit(f, JIT_IR_LT, JIT_T_VOID, i1, n);
    JitRef i2 = emit(f, JIT_IR_ADD, JIT_T_INT, i1, pvmJ_k_int(ir, 1));
    JitRef t2 = emit(f, JIT_IR_ADD, JIT_T_INT, i2, i1);
    JitRef acc2 = emit(f, JIT_IR_ADD, JIT_T_INT, acc1, t2);
    emit(f, JIT_IR_PHI, JIT_T_INT, i1, i2);
    emit(f, JIT_IR_PHI, JIT_T_INT, acc1, acc2);
    assert_int_equal(run(f) & 0xFFFF, 2);
    assert_int_equal(f->frame[0].as.i, 10);
    assert_int_equal(f->frame[2].type, VT_INT);
    assert_int_equal(f->frame[2].as.i, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exit_boxes_by_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_twin_exits_share_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spills_keep_int_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_floats_survive_a_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_charge_takes_fuel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_c_call_in_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_c_call_floats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retf_moves_the_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_pushes_inlined_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_phi_shares_a_register, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop_phi_keeps_a_value_still_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

int main(void)
{
    return 0;
}

#endif
