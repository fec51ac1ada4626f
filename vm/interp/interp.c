/* The dispatch loop: pvmV_execute runs decoded instructions, the plain
 * opcodes here and the superinstructions from super_ops.h, which is
 * included inside the loop because their bodies jump between labels.
 *
 * Dispatch is direct threading with computed goto (`goto *labels[op]`) on
 * GCC and Clang; defining PVM_NO_COMPUTED_GOTO selects a portable switch.
 * The Makefile compiles this file a second time that way and links it ahead
 * of libpvm.a, so this file defines nothing but pvmV_execute: what it needs
 * from protect.c and trace.c is declared in loop.h.
 *
 * Registers (ip, top, base, constants, globals) live in C locals and are
 * written back to the frame (SAVE) before anything that can raise an error
 * or call out, so a trace, a catch or a nested call always sees the state. */
#include "vm/interp/arith.h"
#include "vm/interp/ops.h"
#include "vm/interp/super.h"
#include "vm/interp/loop.h"
#include "jit/jit.h"

#if PVM_COMPUTED_GOTO /* vm/config.h */
#define VM_COMPUTED_GOTO 1
#endif

/* Inline cache for string-keyed map lookups (getname, getfield, setfield):
 * each instruction remembers the entry position where it last found its
 * key, and checks that position first. Maps built the same way (objects
 * from one constructor, the built-in scope) hit every time; a miss costs a
 * normal lookup. Returns NULL when the key is absent. */
static inline PvMapEntry *vm_cached_entry(PvMap *m, const VmInsn *ip, Value key)
{
    /* The cache word is the one part of loaded code that changes. */
    uint32_t *slot = &((VmInsn *)ip)->cache;
    uint32_t pos = *slot;
    if (pos < m->used && pvmV_map_key_is(m, pos, key.as.s))
        return &m->entries[pos];
    if (!pvmV_map_may_hold(m, key.as.s))
        return NULL;
    int64_t found = pvmV_map_find_string(m, key);
    if (found < 0)
        return NULL;
    *slot = (uint32_t)found;
    /* Equal strings are interchangeable (immutable), so the entry adopts
     * the program's constant: the next check is one pointer compare even
     * for maps whose keys were made elsewhere (the built-in scope). */
    m->entries[found].key.s = key.as.s;
    return &m->entries[found];
}

/* The class of an instance: its "__class" field, adopting the VM's key
 * string so that later checks are one pointer compare. */
static PvMapEntry *vm_class_entry(VM *vm, PvMap *m)
{
    if (m->used > 0 && pvmV_map_key_is(m, 0, vm->class_key))
        return &m->entries[0];
    Value key = vm_str_value(vm->class_key);
    int64_t pos = pvmV_map_find_string(m, key);
    if (pos < 0)
        return NULL;
    m->entries[pos].key.s = key.as.s;
    return &m->entries[pos];
}

/* getmethod's lookup: [key] in the map [m] itself, else in its class
 * (m.__class), that class's class, and so on; NULL when none has it.
 * The instruction's cache word keeps the method's position in the class
 * that held it: the instance misses (its key filter answers), the class
 * hits. */
static PvMapEntry *vm_find_method(VM *vm, PvMap *m, const VmInsn *ip, Value key)
{
    int64_t own = pvmV_map_may_hold(m, key.as.s) ? pvmV_map_find_string(m, key) : -1;
    if (own >= 0)
        return &m->entries[own];
    for (int depth = 0; depth < VM_MAX_CLASS_DEPTH; depth++) {
        PvMapEntry *c = vm_class_entry(vm, m);
        if (!c || c->value.type != VT_MAP)
            return NULL;
        m = c->value.as.m;
        PvMapEntry *e = vm_cached_entry(m, ip, key);
        if (e)
            return e;
    }
    return NULL;
}

/* The common call, inline: a PV function with its exact argument count and
 * room already rooted on the stack and in the frame array. Everything else
 * (natives, variadics, arity errors, growth, overflow) goes through
 * pvmV_call_value. */
static inline bool vm_push_frame_fast(VM *vm, Value *callee, int argc)
{
    if (callee->type != VT_CLOSURE)
        return false;
    PvClosure *c = callee->as.cl;
    const VmProto *p = c->proto;
    Value *base = callee + 1;
    /* frames_cap never exceeds VM_MAX_FRAMES (vm_grow_frames). */
    if ((uint32_t)argc != p->nparams || p->variadic || vm->nframes >= vm->frames_cap ||
        base + p->frame_slots > vm->stack_rooted)
        return false;
    vm_enter_frame(vm, c, base, (uint32_t)argc);
    return true;
}

/* Whether o[k] is an in-range array element: the fast path of every
 * indexing instruction; everything else goes to pvmV_index_get/set. */
static inline bool vm_array_slot_ok(Value o, Value k)
{
    return o.type == VT_ARRAY && k.type == VT_INT && (uint64_t)k.as.i < o.as.a->len;
}

/* fornext found a loop state that range/iter did not make. */
PVM_NORETURN PVM_COLD static void vm_bad_loop_state(VM *vm)
{
    pvmV_error(vm, "invalid loop state for fornext (not made by range or iter)");
}

/* After traces ran: whether they left the interpreter in another frame
 * than the one it entered them from (they returned into a caller, went on
 * in a callee, or both, perhaps ending at the same depth). A frame at
 * another depth may have the same base and closure (recursion through
 * call sites at different stack heights: fib's two calls put a callee
 * two and three slots up), so the frame's place counts too. */
static inline bool frame_moved(const VM *vm, const VmFrame *frame, const Value *base, const PvClosure *cl)
{
    const VmFrame *top = &vm->frames[vm->nframes - 1];
    return top != frame || top->base != base || top->closure != cl;
}

/* Runs frames until the frame count falls back to [stop]; the result of the
 * frame at index [stop] is left in its callee slot. With [boundary] an
 * uncaught throw returns false (loop.h). */
bool pvmV_execute(VM *vm, size_t stop, bool boundary)
{
    VmJmp jmp;
    const unsigned ccalls = vm->ccalls;
    const size_t outer_stop = vm->exec_stop;
    jmp.prev = vm->jmp;
    vm->jmp = &jmp;
    vm->exec_stop = stop;
    if (setjmp(jmp.buf)) {
        vm->ccalls = ccalls; /* natives between the throw and here are gone */
        vm->exec_stop = stop;
        if (!pvmV_catch(vm, stop)) {
            vm->jmp = jmp.prev;
            vm->exec_stop = outer_stop;
            if (boundary)
                return false;
            longjmp(vm->jmp->buf, 1);
        }
    }

#ifdef VM_COMPUTED_GOTO
    /* Every opcode and superinstruction, each mapped to VM_TARGET(name):
     * the tables below differ only in that target. */
#define VM_OP_ENTRY(name, ...) [OP_##name] = VM_TARGET(name),
#define VM_SOP_ENTRY(name, ...) [SOP_##name] = VM_TARGET(name),
#define VM_ALL_ENTRIES OPCODES(VM_OP_ENTRY) VM_SUPER_OPS(VM_SOP_ENTRY) VM_SUPER_EDGES(VM_SOP_ENTRY)
#define VM_TARGET(name) &&L_##name
    static const void *const labels[VM_ALL_OPS_COUNT] = { VM_ALL_ENTRIES };
    /* With a JIT, the back edges and calls go through its hooks; everything else is
     * the same, so a VM without one pays nothing for it. (These entries
     * are meant to override the table's: silence that warning here.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
    static const void *const jit_labels[VM_ALL_OPS_COUNT] = {
        VM_ALL_ENTRIES
        [OP_JMP] = &&L_JMP_JIT,
        [SOP_JMP_FORNEXT_SL] = &&L_JMP_FORNEXT_SL_JIT,
        [OP_CALL] = &&L_CALL_JIT,
    };
#pragma GCC diagnostic pop
#undef VM_TARGET
#define VM_TARGET(name) &&L_trace
    static const void *const trace_labels[VM_ALL_OPS_COUNT] = { VM_ALL_ENTRIES };
#undef VM_TARGET
#define VM_TARGET(name) &&L_record
    static const void *const record_labels[VM_ALL_OPS_COUNT] = { VM_ALL_ENTRIES };
#undef VM_TARGET
#undef VM_ALL_ENTRIES
#undef VM_SOP_ENTRY
#undef VM_OP_ENTRY
    const void *const *disp;
    const void *const *exec = vm->jit ? jit_labels : labels; /* what runs an instruction */
#define CASE(name) L_##name:
#define NEXT() goto *disp[ip->op]
/* A superinstruction's fast path does not apply: run the first original
 * instruction of the sequence; the rest follow unfused. */
#define SLOW() goto *labels[ip->orig]
#else
    unsigned op;
    bool recording = false;
#define CASE(name) case OP_##name:
#define SCASE(name) case SOP_##name:
#define NEXT() goto dispatch
#define SLOW()          \
    do {                \
        op = ip->orig;  \
        goto redispatch; \
    } while (0)
#endif

    VmFrame *frame;
    const VmInsn *ip, *code;
    Value *base, *top, *globals;
    const Value *k;
    PvClosure *cl;

#define SAVE() (frame->ip = ip, vm->top = top)
/* After a native or an import has run: PV code it ran may have grown, and
 * so moved, the frames array under [frame]. */
#define REFRAME() (frame = &vm->frames[vm->nframes - 1])
/* Charges a jump from the current instruction to [target]: backward jumps
 * (loops) pay for the instructions they repeat, and are where budgets and
 * interrupts are noticed. */
#define CHARGE_JUMP(target)                                                          \
    do {                                                                             \
        if ((target) <= ip && ((vm->fuel -= ip - (target) + 1) < 0 || vm->interrupt)) { \
            ip++;                                                                    \
            SAVE();                                                                  \
            pvmV_limit_reached(vm);                                                    \
            ip--;                                                                    \
        }                                                                            \
    } while (0)
/* At a loop's back edge (jmp to [target], charged): the JIT counts it,
 * may start recording, or runs the loop's trace and continues where the
 * trace exited, which is in a function the trace had inlined when the JIT
 * pushed frames for it: then every register is reloaded from the frame. */
#ifdef VM_COMPUTED_GOTO
#define JIT_RECORD_MODE(on) (disp = (on) ? record_labels : exec)
#else
#define JIT_RECORD_MODE(on) (recording = (on))
#endif
#define JIT_BACK_EDGE(target)                                   \
    do {                                                        \
        if ((target) <= ip && vm->jit && pvmJ_back_edge_live(ip)) { /* backward first: cheapest */ \
            SAVE();                                             \
            const VmInsn *next_ = pvmJ_back_edge(vm, frame, ip); \
            JIT_RESUME(next_, target);                          \
        }                                                       \
    } while (0)
/* At the entry of the PV function CALL has just entered (its frame pushed
 * and the call charged): the JIT counts calls of it, may start recording
 * a function trace, or runs its trace. */
#define JIT_FUNCTION_ENTRY()                                    \
    do {                                                        \
        if (pvmJ_function_live(cl->proto)) {                    \
            SAVE();                                             \
            const VmInsn *next_ = pvmJ_function_entry(vm, frame); \
            JIT_RESUME(next_, code);                            \
        }                                                       \
    } while (0)
/* After a native's call returned to ip: if a trace ended just before
 * that call (stitching), the JIT goes on in machine code after it. */
#define JIT_STITCH()                                            \
    do {                                                        \
        if (pvmJ_stitch_due(vm, ip)) {                          \
            SAVE();                                             \
            const VmInsn *next_ = pvmJ_stitch(vm, frame, ip);   \
            JIT_RESUME(next_, ip);                              \
        }                                                       \
    } while (0)
/* After the JIT had its say at [target] (what the interpreter would run
 * next): it continues at [next_], in the frame the traces left, perhaps
 * recording from now on. */
#define JIT_RESUME(next_, target)                               \
    do {                                                        \
        if (frame_moved(vm, frame, base, cl)) {                 \
            LOAD();                                             \
            JIT_RECORD_MODE(pvmJ_recording(vm));                \
            NEXT();                                             \
        }                                                       \
        top = vm->top;                                          \
        if (pvmJ_recording(vm)) {                               \
            JIT_RECORD_MODE(true);                              \
            ip = (next_);                                       \
            NEXT();                                             \
        }                                                       \
        if ((next_) != (target)) {                              \
            ip = (next_);                                       \
            NEXT();                                             \
        }                                                       \
    } while (0)
/* The registers that follow from the running closure alone. */
#define USE_CLOSURE(c)                                                    \
    (cl = (c), code = cl->proto->code, k = cl->proto->consts,             \
     globals = cl->proto->module->globals)
#define LOAD()                                   \
    do {                                         \
        frame = &vm->frames[vm->nframes - 1];    \
        USE_CLOSURE(frame->closure);             \
        ip = frame->ip;                          \
        base = frame->base;                      \
        top = vm->top;                           \
    } while (0)

/* The registers for the frame vm_push_frame_fast has just pushed for the
 * closure at [callee]: what LOAD would read back from memory. */
#define ENTERED(callee)                                  \
    do {                                                 \
        frame = &vm->frames[vm->nframes - 1];            \
        USE_CLOSURE((callee)->as.cl);                    \
        ip = code;                                       \
        base = (callee) + 1;                             \
        top = base + cl->proto->nlocals;                 \
    } while (0)

    LOAD();
#ifdef VM_COMPUTED_GOTO
    disp = vm->tools.trace ? trace_labels : exec;
    NEXT();
L_trace:
    SAVE();
    pvmV_trace_step(vm, frame, ip);
    goto *labels[ip->orig];
/* While the JIT records, every instruction runs unfused after the recorder
 * has seen it. */
L_record:
    SAVE();
    if (!pvmJ_record_step(vm, frame, ip))
        disp = exec;
    goto *exec[ip->orig];
#else
dispatch:
    op = ip->op;
    if (vm->tools.trace) {
        SAVE();
        pvmV_trace_step(vm, frame, ip);
        op = ip->orig;
    } else if (recording) {
        SAVE();
        recording = pvmJ_record_step(vm, frame, ip);
        op = ip->orig;
    }
redispatch:
    switch (op) {
#endif

    CASE(NOP) { ip++; NEXT(); }
    CASE(CONST) { *top++ = k[ip->arg]; ip++; NEXT(); }
    CASE(INT) { *top++ = vm_int(ip->arg); ip++; NEXT(); }
    CASE(NIL) { *top++ = VAL_NIL; ip++; NEXT(); }
    CASE(TRUE) { *top++ = VAL_TRUE; ip++; NEXT(); }
    CASE(FALSE) { *top++ = VAL_FALSE; ip++; NEXT(); }
    CASE(POP) { top--; ip++; NEXT(); }
    CASE(DUP) { top[0] = top[-1]; top++; ip++; NEXT(); }
    CASE(DUP2) { top[0] = top[-2]; top[1] = top[-1]; top += 2; ip++; NEXT(); }
    CASE(SWAP) { Value t = top[-1]; top[-1] = top[-2]; top[-2] = t; ip++; NEXT(); }
    CASE(GETLOCAL) { *top++ = base[ip->arg]; ip++; NEXT(); }
    CASE(SETLOCAL) { base[ip->arg] = *--top; ip++; NEXT(); }
    CASE(GETUPVAL) { *top++ = *cl->upvals[ip->arg]->v; ip++; NEXT(); }
    CASE(SETUPVAL) { *cl->upvals[ip->arg]->v = *--top; ip++; NEXT(); }
    CASE(GETGLOBAL) { *top++ = globals[ip->arg]; ip++; NEXT(); }
    CASE(SETGLOBAL) { globals[ip->arg] = *--top; ip++; NEXT(); }
    CASE(GETNAME) {
        PvMapEntry *e = vm_cached_entry(vm->builtins, ip, k[ip->arg]);
        ip++;
        if (!e) {
            SAVE();
            pvmV_error(vm, "undefined variable '%s'", k[ip[-1].arg].as.s->chars);
        }
        *top++ = e->value;
        NEXT();
    }
    CASE(CLOSURE) {
        VmProto *p = cl->proto->program->protos[ip->arg];
        ip++;
        SAVE();
        *top++ = vm_obj(VT_CLOSURE, pvmV_closure_new(vm, p, base, cl));
        NEXT();
    }
    CASE(CLOSE) { pvmV_close_upvals(vm, base + ip->arg); ip++; NEXT(); }

/* Arithmetic: the rules are arith.h's; what its fast path leaves (strings,
 * errors, int division by 0 or -1) goes to pvmV_arith. */
#define ARITH(name)                                                   \
    CASE(name) {                                                      \
        Value *a = top - 2;                                           \
        ip++;                                                         \
        if (!pvmV_arith_fast_in_place(OP_##name, a, top - 1)) {       \
            SAVE();                                                   \
            *a = pvmV_arith(vm, OP_##name, *a, top[-1]);              \
        }                                                             \
        top--;                                                        \
        NEXT();                                                       \
    }
    ARITH(ADD)
    ARITH(SUB)
    ARITH(MUL)
    ARITH(DIV)
    ARITH(MOD)
#undef ARITH

#define SLOW_BINARY(name)                                \
    CASE(name) {                                         \
        ip++;                                            \
        SAVE();                                          \
        top[-2] = pvmV_arith(vm, OP_##name, top[-2], top[-1]); \
        top--;                                           \
        NEXT();                                          \
    }
    SLOW_BINARY(BAND)
    SLOW_BINARY(BOR)
    SLOW_BINARY(BXOR)
    SLOW_BINARY(SHL)
    SLOW_BINARY(SHR)
#undef SLOW_BINARY

#define UNARY(name)                                      \
    CASE(name) {                                         \
        ip++;                                            \
        SAVE();                                          \
        top[-1] = pvmV_unary(vm, OP_##name, top[-1]);      \
        NEXT();                                          \
    }
    UNARY(NEG)
    UNARY(NOT)
    UNARY(BNOT)
#undef UNARY

    CASE(EQ) {
        ip++;
        top[-2] = vm_bool(pvmV_values_equal(top[-2], top[-1]));
        top--;
        NEXT();
    }
    CASE(NE) {
        ip++;
        top[-2] = vm_bool(!pvmV_values_equal(top[-2], top[-1]));
        top--;
        NEXT();
    }

#define COMPARE(name)                                                 \
    CASE(name) {                                                      \
        Value *a = top - 2;                                           \
        bool r;                                                       \
        ip++;                                                         \
        if (!pvmV_order_fast(OP_##name, a, top - 1, &r)) {            \
            SAVE();                                                   \
            r = pvmV_compare(vm, OP_##name, *a, top[-1]);             \
        }                                                             \
        *a = vm_bool(r);                                              \
        top--;                                                        \
        NEXT();                                                       \
    }
    COMPARE(LT)
    COMPARE(LE)
    COMPARE(GT)
    COMPARE(GE)
#undef COMPARE

    CASE(JMP) {
        CHARGE_JUMP(code + ip->arg);
#ifndef VM_COMPUTED_GOTO
        JIT_BACK_EDGE(code + ip->arg);
#endif
        ip = code + ip->arg;
        NEXT();
    }
#ifdef VM_COMPUTED_GOTO
    /* jmp in a VM with a JIT (jit_labels): a back edge is its hook */
L_JMP_JIT:
    CHARGE_JUMP(code + ip->arg);
    JIT_BACK_EDGE(code + ip->arg);
    ip = code + ip->arg;
    NEXT();
#endif
    CASE(JMPF) {
        top--;
        if (vm_is_truthy(*top)) {
            ip++;
        } else {
            CHARGE_JUMP(code + ip->arg);
            ip = code + ip->arg;
        }
        NEXT();
    }
    CASE(JMPT) {
        top--;
        if (vm_is_truthy(*top)) {
            CHARGE_JUMP(code + ip->arg);
            ip = code + ip->arg;
        } else {
            ip++;
        }
        NEXT();
    }
    CASE(JMPFK) {
        if (vm_is_truthy(top[-1])) {
            top--;
            ip++;
        } else {
            ip = code + ip->arg;
        }
        NEXT();
    }
    CASE(JMPTK) {
        if (vm_is_truthy(top[-1])) {
            ip = code + ip->arg;
        } else {
            top--;
            ip++;
        }
        NEXT();
    }
/* CALL, with [on_entry] run once a PV function's frame is entered on
 * the fast path and [on_native] once a native has returned: nothing, or
 * the JIT's hooks. */
#define VM_CALL(on_entry, on_native)                                    \
    do {                                                                \
        int argc = ip->arg;                                             \
        Value *callee = top - argc - 1;                                 \
        ip++;                                                           \
        SAVE();                                                         \
        if (--vm->fuel < 0 || vm->interrupt)                            \
            pvmV_limit_reached(vm);                                     \
        if (vm_push_frame_fast(vm, callee, argc)) {                     \
            ENTERED(callee);                                            \
            on_entry;                                                   \
        } else if (callee->type == VT_NATIVE && pvmV_call_native(vm, callee, argc)) { \
            REFRAME();                                                  \
            top = vm->top;                                              \
            on_native;                                                  \
        } else if (pvmV_call_value(vm, callee, argc)) {                 \
            LOAD();                                                     \
        } else {                                                        \
            REFRAME();                                                  \
            top = vm->top;                                              \
        }                                                               \
        NEXT();                                                         \
    } while (0)
#ifdef VM_COMPUTED_GOTO
    CASE(CALL) { VM_CALL((void)0, (void)0); }
L_CALL_JIT: { VM_CALL(JIT_FUNCTION_ENTRY(), JIT_STITCH()); }
#else
    CASE(CALL) { VM_CALL(if (vm->jit) JIT_FUNCTION_ENTRY(), if (vm->jit) JIT_STITCH()); }
#endif
    CASE(RET) {
    do_ret:;
        Value result = top[-1];
        size_t index = vm->nframes - 1;
        if (vm->open_upvals && vm->open_upvals->v >= base)
            pvmV_close_upvals(vm, base);
        while (vm->nhandlers > vm->pcall_handlers && vm->handlers[vm->nhandlers - 1].frame >= index)
            vm->nhandlers--;
        base[-1] = result;
        vm->nframes--;
        if (vm->nframes == stop) {
            vm->top = base;
            vm->jmp = jmp.prev;
            vm->exec_stop = outer_stop;
            return true;
        }
        /* Back in the caller, whose frame is the one below: [frame] points
         * into the current array (LOAD, ENTERED and REFRAME keep it so,
         * whatever moved the array), so this is LOAD minus the reloads. */
        top = base;
        frame--;
        USE_CLOSURE(frame->closure);
        ip = frame->ip;
        base = frame->base;
        NEXT();
    }
    CASE(ARRAY) {
        int n = ip->arg;
        ip++;
        SAVE();
        PvArray *a = pvmV_array_of(vm, top - n, (size_t)n);
        top -= n;
        *top++ = vm_obj(VT_ARRAY, a);
        NEXT();
    }
    CASE(MAP) {
        int n = ip->arg;
        ip++;
        SAVE();
        PvMap *m = pvmV_map_new(vm, (size_t)n);
        for (int i = 0; i < n; i++)
            pvmV_map_set(vm, m, top[2 * (i - n)], top[2 * (i - n) + 1]);
        top -= 2 * n;
        *top++ = vm_obj(VT_MAP, m);
        NEXT();
    }
    CASE(GETINDEX) {
        Value *o = top - 2, *key = top - 1;
        ip++;
        if (vm_array_slot_ok(*o, *key)) {
            *o = pvmV_array_load(o->as.a, (size_t)key->as.i);
        } else {
            SAVE();
            *o = pvmV_index_get(vm, *o, *key);
        }
        top--;
        NEXT();
    }
    CASE(SETINDEX) {
        Value *o = top - 3, *key = top - 2;
        ip++;
        if (!vm_array_slot_ok(*o, *key) || !pvmV_array_try_put(o->as.a, (size_t)key->as.i, top[-1])) {
            SAVE();
            pvmV_index_set(vm, *o, *key, top[-1]);
        }
        top -= 3;
        NEXT();
    }
    CASE(GETFIELD) {
        Value *o = top - 1;
        if (o->type == VT_MAP) {
            PvMapEntry *e = vm_cached_entry(o->as.m, ip, k[ip->arg]);
            *o = e ? e->value : VAL_NIL;
            ip++;
            NEXT();
        }
        ip++;
        SAVE();
        *o = pvmV_index_get(vm, *o, k[ip[-1].arg]);
        NEXT();
    }
    CASE(SETFIELD) {
        Value *o = top - 2;
        PvMapEntry *e;
        if (o->type == VT_MAP && (e = vm_cached_entry(o->as.m, ip, k[ip->arg]))) {
            e->value = top[-1];
            ip++;
        } else {
            ip++;
            SAVE();
            pvmV_index_set(vm, *o, k[ip[-1].arg], top[-1]);
        }
        top -= 2;
        NEXT();
    }
    CASE(RANGE) {
        ip++;
        if (top[-2].type != VT_INT || top[-1].type != VT_INT) {
            SAVE();
            pvmV_check_range(vm, top[-2], top[-1]);
        }
        NEXT();
    }
    CASE(ITER) {
        ip++;
        SAVE();
        pvmV_check_iterable(vm, top[-1]);
        *top++ = vm_int(0);
        NEXT();
    }
    CASE(FORNEXT) {
        Value *a = top - 2, *b = top - 1;
        /* The verifier checks depths, not kinds: hand-written bytecode can
         * reach fornext with any two values, so both are checked here. */
        if (b->type != VT_INT) {
            ip++;
            SAVE();
            vm_bad_loop_state(vm);
        }
        if (a->type == VT_INT) {
            if (a->as.i < b->as.i) {
                *top++ = *a;
                a->as.i++;
                ip++;
                NEXT();
            }
        } else if (a->type == VT_ARRAY) {
            if ((uint64_t)b->as.i < a->as.a->len) {
                *top++ = pvmV_array_load(a->as.a, (size_t)b->as.i++);
                ip++;
                NEXT();
            }
        } else if (a->type == VT_STRING) {
            if ((uint64_t)b->as.i < a->as.s->len) {
                *top++ = vm_str_value(vm->single_chars[(unsigned char)a->as.s->chars[b->as.i++]]);
                ip++;
                NEXT();
            }
        } else if (a->type == VT_MAP) {
            int64_t pos = pvmV_map_next(a->as.m, (size_t)b->as.i);
            if (pos >= 0) {
                *top++ = pvmV_map_key(a->as.m, (size_t)pos);
                b->as.i = pos + 1;
                ip++;
                NEXT();
            }
        } else {
            ip++;
            SAVE();
            vm_bad_loop_state(vm);
        }
        top -= 2;
        ip = code + ip->arg;
        NEXT();
    }
    CASE(TRY) {
        ip++;
        SAVE();
        pvmV_push_handler(vm, top, code + ip[-1].arg);
        NEXT();
    }
    CASE(ENDTRY) { vm->nhandlers--; ip++; NEXT(); }
    CASE(THROW) {
        ip++;
        top--;
        SAVE();
        pvmV_throw(vm, *top);
    }
    CASE(IMPORT) {
        VmModule *mod = cl->proto->program->modules[ip->arg];
        ip++;
        SAVE();
        Value exports = pvmV_import(vm, mod);
        REFRAME();
        top = vm->top;
        *top++ = exports;
        NEXT();
    }

    /* ---- format version 2 ---- */
    CASE(GETOR) {
        Value *o = top - 2, *key = top - 1;
        Value v;
        PvMapEntry *e;
        if (vm_array_slot_ok(*o, *key)) {
            *o = pvmV_array_load(o->as.a, (size_t)key->as.i);
        } else if (o->type == VT_MAP && key->type == VT_STRING) {
            if (!(e = vm_cached_entry(o->as.m, ip, *key)))
                goto getor_absent;
            *o = e->value;
        } else if (pvmV_index_present(vm, *o, *key, &v)) {
            *o = v;
        } else {
        getor_absent:
            top--;
            CHARGE_JUMP(code + ip->arg);
            ip = code + ip->arg;
            NEXT();
        }
        top--;
        ip++;
        NEXT();
    }
    CASE(ISTYPE) {
        top[-1] = vm_bool(pvmV_has_type(top[-1], (uint32_t)ip->arg));
        ip++;
        NEXT();
    }
    CASE(CALLV) {
        int argc = ip->arg;
        ip++;
        SAVE();
        if (--vm->fuel < 0 || vm->interrupt)
            pvmV_limit_reached(vm);
        top = pvmV_spread_args(vm, top, &argc);
        if (pvmV_call_value(vm, top - argc - 1, argc)) {
            LOAD();
        } else {
            REFRAME();
            top = vm->top;
        }
        NEXT();
    }
    CASE(RAISE) {
        ip++;
        top--;
        SAVE();
        pvmV_throw_at(vm, *top, (uint32_t)ip[-1].arg);
    }

    /* ---- format version 3 ---- */
    CASE(GETMETHOD) {
        Value *o = top - 1;
        PvMapEntry *e;
        if (o->type != VT_MAP || !(e = vm_find_method(vm, o->as.m, ip, k[ip->arg]))) {
            ip++;
            SAVE();
            pvmV_method_missing(vm, *o, k[ip[-1].arg]);
        }
        top[0] = *o;
        top[-1] = e->value;
        top++;
        ip++;
        NEXT();
    }

    /* ---- superinstructions (super.h) ---- */
#include "vm/interp/super_ops.h"
#ifndef VM_COMPUTED_GOTO
    }
    return false; /* not reached: every case jumps to the next instruction or returns */
#endif
#undef CASE
#undef SCASE
#undef NEXT
#undef SAVE
#undef LOAD
}
