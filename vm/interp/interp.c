/* The interpreter: the dispatch loop over decoded instructions, plus the
 * protected-call machinery around it (pvmV_call, pvmV_pcall, pvmV_protect).
 *
 * Dispatch is direct threading with computed goto (`goto *labels[op]`) on
 * GCC and Clang; defining PVM_NO_COMPUTED_GOTO selects a portable switch.
 * Registers (ip, top, base, constants, globals) live in C locals and are
 * written back to the frame (SAVE) before anything that can raise an error
 * or call out, so a trace, a catch or a nested call always sees the state. */
#include <math.h>
#include <string.h>

#include "vm/interp/ops.h"
#include "vm/interp/super.h"
#include "vm/interp/interp.h"

#if (defined(__GNUC__) || defined(__clang__)) && !defined(PVM_NO_COMPUTED_GOTO)
#define VM_COMPUTED_GOTO 1
#endif

static void vm_trace_step(VM *vm, const VmFrame *f, const VmInsn *ip);

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
    if (pos < m->used && m->entries[pos].key.type == VT_STRING && m->entries[pos].key.as.s == key.as.s)
        return &m->entries[pos];
    int64_t found = pvmV_map_find_string(m, key);
    if (found < 0)
        return NULL;
    *slot = (uint32_t)found;
    /* Equal strings are interchangeable (immutable), so the entry adopts
     * the program's constant: the next check is one pointer compare even
     * for maps whose keys were made elsewhere (the built-in scope). */
    m->entries[found].key = key;
    return &m->entries[found];
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
__attribute__((noreturn, cold)) static void vm_bad_loop_state(VM *vm)
{
    pvmV_error(vm, "invalid loop state for fornext (not made by range or iter)");
}

/* Pushes a handler for a try block of the innermost frame. */
static void vm_push_handler(VM *vm, Value *top, const VmInsn *catch_ip)
{
    if (vm->nhandlers == vm->handlers_cap) {
        size_t cap = vm->handlers_cap * 2;
        vm->handlers = pvmV_realloc(vm, vm->handlers, cap * sizeof(VmHandler));
        vm->handlers_cap = cap;
    }
    VmHandler *h = &vm->handlers[vm->nhandlers++];
    h->frame = vm->nframes - 1;
    h->top = top;
    h->catch_ip = catch_ip;
}

/* After a throw reached this run: resume at the innermost handler if it
 * belongs to a frame of this run (index >= [stop]). */
static bool vm_catch(VM *vm, size_t stop)
{
    if (vm_error_is_fatal(vm->error_kind) || vm->nhandlers <= vm->pcall_handlers)
        return false;
    VmHandler h = vm->handlers[vm->nhandlers - 1];
    if (h.frame < stop)
        return false;
    vm->nhandlers--;
    pvmV_close_upvals(vm, h.top);
    vm->nframes = h.frame + 1;
    vm->top = h.top;
    *vm->top++ = vm->error;
    vm->frames[h.frame].ip = h.catch_ip;
    return true;
}

/* Runs frames until the frame count falls back to [stop]; the result of the
 * frame at index [stop] is left in its callee slot. */
static void vm_execute(VM *vm, size_t stop)
{
    VmJmp jmp;
    const unsigned ccalls = vm->ccalls;
    jmp.prev = vm->jmp;
    vm->jmp = &jmp;
    if (setjmp(jmp.buf)) {
        vm->ccalls = ccalls; /* natives between the throw and here are gone */
        if (!vm_catch(vm, stop)) {
            vm->jmp = jmp.prev;
            longjmp(vm->jmp->buf, 1);
        }
    }

#ifdef VM_COMPUTED_GOTO
    static const void *const labels[VM_ALL_OPS_COUNT] = {
#define X(name, mnem, operand, pops, popsarg, pushes, flow, bdelta) [OP_##name] = &&L_##name,
        OPCODES(X)
#undef X
#define X(name, ...) [SOP_##name] = &&L_##name,
        VM_SUPER_OPS(X)
        VM_SUPER_EDGES(X)
#undef X
    };
    static const void *const trace_labels[VM_ALL_OPS_COUNT] = {
#define X(name, mnem, operand, pops, popsarg, pushes, flow, bdelta) [OP_##name] = &&L_trace,
        OPCODES(X)
#undef X
#define X(name, ...) [SOP_##name] = &&L_trace,
        VM_SUPER_OPS(X)
        VM_SUPER_EDGES(X)
#undef X
    };
    const void *const *disp;
#define CASE(name) L_##name:
#define NEXT() goto *disp[ip->op]
/* A superinstruction's fast path does not apply: run the first original
 * instruction of the sequence; the rest follow unfused. */
#define SLOW() goto *labels[ip->orig]
#else
    unsigned op;
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
    disp = vm->trace ? trace_labels : labels;
    NEXT();
L_trace:
    SAVE();
    vm_trace_step(vm, frame, ip);
    goto *labels[ip->orig];
#else
dispatch:
    op = ip->op;
    if (vm->trace) {
        SAVE();
        vm_trace_step(vm, frame, ip);
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
        PvClosure *c = pvmV_alloc(vm, sizeof(PvClosure) + p->nupvals * sizeof(PvUpval *));
        c->proto = p;
        c->nupvals = p->nupvals;
        for (uint32_t u = 0; u < p->nupvals; u++)
            c->upvals[u] = p->upvals[u].from_local ? pvmV_capture_upval(vm, base + p->upvals[u].index)
                                                   : cl->upvals[p->upvals[u].index];
        *top++ = vm_obj(VT_CLOSURE, c);
        NEXT();
    }
    CASE(CLOSE) { pvmV_close_upvals(vm, base + ip->arg); ip++; NEXT(); }

/* Both operands as doubles when both are numbers (int/float mixes). */
#define MIXED_NUMBERS(a, b) (vm_is_number(*(a)) && vm_is_number(*(b)))
#define AS_DOUBLE(v) ((v)->type == VT_INT ? (double)(v)->as.i : (v)->as.f)

#define ARITH(name, expr_int, expr_float, cop)                                   \
    CASE(name) {                                                                 \
        Value *a = top - 2, *b = top - 1;                                        \
        ip++;                                                                    \
        if (a->type == VT_INT && b->type == VT_INT) {                            \
            a->as.i = (int64_t)(expr_int);                                       \
        } else if (a->type == VT_FLOAT && b->type == VT_FLOAT) {                 \
            a->as.f = (expr_float);                                              \
        } else if (MIXED_NUMBERS(a, b)) {                                        \
            *a = vm_float(AS_DOUBLE(a) cop AS_DOUBLE(b));                        \
        } else {                                                                 \
            SAVE();                                                              \
            *a = pvmV_arith(vm, OP_##name, *a, *b);                                \
        }                                                                        \
        top--;                                                                   \
        NEXT();                                                                  \
    }
    ARITH(ADD, (uint64_t)a->as.i + (uint64_t)b->as.i, a->as.f + b->as.f, +)
    ARITH(SUB, (uint64_t)a->as.i - (uint64_t)b->as.i, a->as.f - b->as.f, -)
    ARITH(MUL, (uint64_t)a->as.i * (uint64_t)b->as.i, a->as.f * b->as.f, *)
#undef ARITH

#define SLOW_BINARY(name)                                \
    CASE(name) {                                         \
        ip++;                                            \
        SAVE();                                          \
        top[-2] = pvmV_arith(vm, OP_##name, top[-2], top[-1]); \
        top--;                                           \
        NEXT();                                          \
    }
#define INT_DIVISION(name, cop)                                                  \
    CASE(name) {                                                                 \
        Value *a = top - 2, *b = top - 1;                                        \
        ip++;                                                                    \
        /* 0 and -1 divisors take the slow path: error, or INT_MIN wrap. */      \
        if (a->type == VT_INT && b->type == VT_INT && (uint64_t)b->as.i + 1 > 1) \
            a->as.i = a->as.i cop b->as.i;                                       \
        else if (OP_##name == OP_DIV && MIXED_NUMBERS(a, b) &&                   \
                 (a->type == VT_FLOAT || b->type == VT_FLOAT))                   \
            *a = vm_float(AS_DOUBLE(a) / AS_DOUBLE(b));                          \
        else {                                                                   \
            SAVE();                                                              \
            *a = pvmV_arith(vm, OP_##name, *a, *b);                                \
        }                                                                        \
        top--;                                                                   \
        NEXT();                                                                  \
    }
    INT_DIVISION(DIV, /)
    INT_DIVISION(MOD, %)
#undef INT_DIVISION
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

#define COMPARE(name, cop)                                                       \
    CASE(name) {                                                                 \
        Value *a = top - 2, *b = top - 1;                                        \
        ip++;                                                                    \
        bool r;                                                                  \
        if (a->type == VT_INT && b->type == VT_INT) {                            \
            r = a->as.i cop b->as.i;                                             \
        } else {                                                                 \
            SAVE();                                                              \
            r = pvmV_compare(vm, OP_##name, *a, *b);                               \
        }                                                                        \
        *a = vm_bool(r);                                                         \
        top--;                                                                   \
        NEXT();                                                                  \
    }
    COMPARE(LT, <)
    COMPARE(LE, <=)
    COMPARE(GT, >)
    COMPARE(GE, >=)
#undef COMPARE

    CASE(JMP) {
        CHARGE_JUMP(code + ip->arg);
        ip = code + ip->arg;
        NEXT();
    }
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
    CASE(CALL) {
        int argc = ip->arg;
        Value *callee = top - argc - 1;
        ip++;
        SAVE();
        if (--vm->fuel < 0 || vm->interrupt)
            pvmV_limit_reached(vm);
        if (vm_push_frame_fast(vm, callee, argc)) {
            ENTERED(callee);
        } else if (pvmV_call_value(vm, callee, argc)) {
            LOAD();
        } else {
            REFRAME();
            top = vm->top;
        }
        NEXT();
    }
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
            return;
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
        PvArray *a = pvmV_array_new(vm, (size_t)n);
        for (int i = 0; i < n; i++)
            pvmV_array_push(vm, a, top[i - n]);
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
            *o = o->as.a->items[key->as.i];
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
        if (vm_array_slot_ok(*o, *key)) {
            o->as.a->items[key->as.i] = top[-1];
        } else {
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
                *top++ = a->as.a->items[b->as.i++];
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
                *top++ = a->as.m->entries[pos].key;
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
        vm_push_handler(vm, top, code + ip[-1].arg);
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

    /* ---- superinstructions (super.h) ---- */
#ifdef VM_COMPUTED_GOTO
#define SCASE(name) L_##name:
#endif
#define LOCAL(k) (base[ip[k].arg])
#define GLOBAL(k) (globals[ip[k].arg])
#define IMM(k) (vm_int(ip[k].arg))

/* Pushes an in-range array element x[y]; anything else runs the plain
 * instructions. */
#define SUPER_GETINDEX(name, XV, YV)                                              \
    SCASE(name) {                                                                 \
        Value o = XV, key = YV;                                                   \
        if (!vm_array_slot_ok(o, key))                                            \
            SLOW();                                                               \
        *top++ = o.as.a->items[key.as.i];                                         \
        ip += 3;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_GETINDEX(LL_GETINDEX, LOCAL(0), LOCAL(1))

/* Pushes two variables. */
#define SUPER_PUSH2(name, XV, YV)                                                 \
    SCASE(name) {                                                                 \
        top[0] = XV;                                                              \
        top[1] = YV;                                                              \
        top += 2;                                                                 \
        ip += 2;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_PUSH2(GETLOCAL2, LOCAL(0), LOCAL(1))

/* Pushes x OPR y for two ints (wrapping) or two floats. */
#define SUPER_ARITH_PUSH(name, XV, YV, LEN, OPR)                                  \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        if (x.type == VT_INT && y.type == VT_INT) {                               \
            *top++ = vm_int((int64_t)((uint64_t)x.as.i OPR (uint64_t)y.as.i));    \
        } else if (x.type == VT_FLOAT && y.type == VT_FLOAT) {                    \
            *top++ = vm_float(x.as.f OPR y.as.f);                                 \
        } else {                                                                  \
            SLOW();                                                               \
        }                                                                         \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_ARITH_PUSH(LL_ADD, LOCAL(0), LOCAL(1), 3, +)
    SUPER_ARITH_PUSH(LL_SUB, LOCAL(0), LOCAL(1), 3, -)
    SUPER_ARITH_PUSH(LL_MUL, LOCAL(0), LOCAL(1), 3, *)
    SUPER_ARITH_PUSH(LK_ADD, LOCAL(0), IMM(1), 3, +)
    SUPER_ARITH_PUSH(LK_SUB, LOCAL(0), IMM(1), 3, -)
    SUPER_ARITH_PUSH(LK_MUL, LOCAL(0), IMM(1), 3, *)

/* Stores x OPR y into the local (or, with SUPER_ARITH_SETG, the global)
 * named by slot DST. */
#define SUPER_ARITH_SET(name, XV, YV, LEN, DST, POPN, OPR) \
    SUPER_ARITH_STORE(name, XV, YV, LEN, &base[ip[DST].arg], POPN, OPR)
#define SUPER_ARITH_SETG(name, XV, YV, LEN, DST, POPN, OPR) \
    SUPER_ARITH_STORE(name, XV, YV, LEN, &globals[ip[DST].arg], POPN, OPR)
#define SUPER_ARITH_STORE(name, XV, YV, LEN, DSTP, POPN, OPR)                     \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        Value *dst = DSTP;                                                        \
        if (x.type == VT_INT && y.type == VT_INT) {                               \
            *dst = vm_int((int64_t)((uint64_t)x.as.i OPR (uint64_t)y.as.i));      \
        } else if (x.type == VT_FLOAT && y.type == VT_FLOAT) {                    \
            *dst = vm_float(x.as.f OPR y.as.f);                                   \
        } else {                                                                  \
            SLOW();                                                               \
        }                                                                         \
        top -= POPN;                                                              \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_ARITH_SET(LL_ADD_SL, LOCAL(0), LOCAL(1), 4, 3, 0, +)
    SUPER_ARITH_SET(LK_ADD_SL, LOCAL(0), IMM(1), 4, 3, 0, +)
    SUPER_ARITH_SET(LK_SUB_SL, LOCAL(0), IMM(1), 4, 3, 0, -)
    SUPER_ARITH_SET(ADD_SL, top[-2], top[-1], 2, 1, 2, +)
    SUPER_ARITH_SET(SUB_SL, top[-2], top[-1], 2, 1, 2, -)
    SUPER_ARITH_SET(MUL_SL, top[-2], top[-1], 2, 1, 2, *)

/* Replaces the top with top OPR immediate, for ints. */
#define SUPER_K_ARITH(name, OPR)                                                  \
    SCASE(name) {                                                                 \
        Value *x = top - 1;                                                       \
        if (x->type != VT_INT)                                                    \
            SLOW();                                                               \
        x->as.i = (int64_t)((uint64_t)x->as.i OPR (uint64_t)(int64_t)ip->arg);    \
        ip += 2;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_K_ARITH(K_ADD, +)
    SUPER_K_ARITH(K_SUB, -)
    SUPER_K_ARITH(K_MUL, *)

/* Division by an immediate other than 0 and -1 (those take the slow path). */
#define SUPER_K_DIVISION(name, OPR)                                               \
    SCASE(name) {                                                                 \
        Value *x = top - 1;                                                       \
        if (x->type != VT_INT || (uint64_t)(int64_t)ip->arg + 1 <= 1)             \
            SLOW();                                                               \
        x->as.i = x->as.i OPR (int64_t)ip->arg;                                   \
        ip += 2;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_K_DIVISION(K_MOD, %)
    SUPER_K_DIVISION(K_DIV, /)

/* Orders two ints or two floats into [c]; anything else takes SLOW. */
#define ORDER(x, y, CMP, c)                                                       \
    do {                                                                          \
        if ((x).type == VT_INT && (y).type == VT_INT)                             \
            c = (x).as.i CMP (y).as.i;                                            \
        else if ((x).type == VT_FLOAT && (y).type == VT_FLOAT)                    \
            c = (x).as.f CMP (y).as.f;                                            \
        else                                                                      \
            SLOW();                                                               \
    } while (0)

#define SUPER_CMP_PUSH(name, XV, YV, LEN, CMP)                                    \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        bool c;                                                                   \
        ORDER(x, y, CMP, c);                                                      \
        *top++ = vm_bool(c);                                                      \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_CMP_PUSH(LL_LT, LOCAL(0), LOCAL(1), 3, <)
    SUPER_CMP_PUSH(LL_LE, LOCAL(0), LOCAL(1), 3, <=)
    SUPER_CMP_PUSH(LL_GT, LOCAL(0), LOCAL(1), 3, >)
    SUPER_CMP_PUSH(LL_GE, LOCAL(0), LOCAL(1), 3, >=)
    SUPER_CMP_PUSH(LK_LT, LOCAL(0), IMM(1), 3, <)
    SUPER_CMP_PUSH(LK_LE, LOCAL(0), IMM(1), 3, <=)
    SUPER_CMP_PUSH(LK_GT, LOCAL(0), IMM(1), 3, >)
    SUPER_CMP_PUSH(LK_GE, LOCAL(0), IMM(1), 3, >=)

/* Compare and jump when false: the jmpf is the sequence's last slot. */
#define JUMP_UNLESS(c, LEN)                                                       \
    do {                                                                          \
        if (c) {                                                                  \
            ip += LEN;                                                            \
        } else {                                                                  \
            const VmInsn *target = code + ip[LEN - 1].arg;                        \
            CHARGE_JUMP(target);                                                  \
            ip = target;                                                          \
        }                                                                         \
        NEXT();                                                                   \
    } while (0)

#define SUPER_CMP_JF(name, XV, YV, LEN, POPN, CMP)                                \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        bool c;                                                                   \
        ORDER(x, y, CMP, c);                                                      \
        top -= POPN;                                                              \
        JUMP_UNLESS(c, LEN);                                                      \
    }
    SUPER_CMP_JF(LL_LT_JF, LOCAL(0), LOCAL(1), 4, 0, <)
    SUPER_CMP_JF(LL_LE_JF, LOCAL(0), LOCAL(1), 4, 0, <=)
    SUPER_CMP_JF(LL_GT_JF, LOCAL(0), LOCAL(1), 4, 0, >)
    SUPER_CMP_JF(LL_GE_JF, LOCAL(0), LOCAL(1), 4, 0, >=)
    SUPER_CMP_JF(LK_LT_JF, LOCAL(0), IMM(1), 4, 0, <)
    SUPER_CMP_JF(LK_LE_JF, LOCAL(0), IMM(1), 4, 0, <=)
    SUPER_CMP_JF(LK_GT_JF, LOCAL(0), IMM(1), 4, 0, >)
    SUPER_CMP_JF(LK_GE_JF, LOCAL(0), IMM(1), 4, 0, >=)
    SUPER_CMP_JF(LT_JF, top[-2], top[-1], 2, 2, <)
    SUPER_CMP_JF(LE_JF, top[-2], top[-1], 2, 2, <=)
    SUPER_CMP_JF(GT_JF, top[-2], top[-1], 2, 2, >)
    SUPER_CMP_JF(GE_JF, top[-2], top[-1], 2, 2, >=)

/* Equality never fails, so these have no slow path. */
#define SUPER_EQ_JF(name, XV, YV, LEN, POPN, WANT)                                \
    SCASE(name) {                                                                 \
        Value x = XV, y = YV;                                                     \
        bool c = pvmV_values_equal(x, y) == WANT;                                   \
        top -= POPN;                                                              \
        JUMP_UNLESS(c, LEN);                                                      \
    }
    SUPER_EQ_JF(LL_EQ_JF, LOCAL(0), LOCAL(1), 4, 0, true)
    SUPER_EQ_JF(LL_NE_JF, LOCAL(0), LOCAL(1), 4, 0, false)
    SUPER_EQ_JF(LK_EQ_JF, LOCAL(0), IMM(1), 4, 0, true)
    SUPER_EQ_JF(LK_NE_JF, LOCAL(0), IMM(1), 4, 0, false)
    SUPER_EQ_JF(EQ_JF, top[-2], top[-1], 2, 2, true)
    SUPER_EQ_JF(NE_JF, top[-2], top[-1], 2, 2, false)

/* top = top OPR y, in place: ints (wrapping) or floats. */
#define SUPER_TOP_ARITH(name, YV, LEN, OPR)                                       \
    SCASE(name) {                                                                 \
        Value *x = top - 1, y = YV;                                               \
        if (x->type == VT_INT && y.type == VT_INT) {                              \
            x->as.i = (int64_t)((uint64_t)x->as.i OPR (uint64_t)y.as.i);          \
        } else if (x->type == VT_FLOAT && y.type == VT_FLOAT) {                   \
            x->as.f = x->as.f OPR y.as.f;                                         \
        } else {                                                                  \
            SLOW();                                                               \
        }                                                                         \
        ip += LEN;                                                                \
        NEXT();                                                                   \
    }
    SUPER_TOP_ARITH(L_ADD, LOCAL(0), 2, +)
    SUPER_TOP_ARITH(L_SUB, LOCAL(0), 2, -)
    SUPER_TOP_ARITH(L_MUL, LOCAL(0), 2, *)
    SUPER_TOP_ARITH(C_ADD, k[ip->arg], 2, +)
    SUPER_TOP_ARITH(C_SUB, k[ip->arg], 2, -)
    SUPER_TOP_ARITH(C_MUL, k[ip->arg], 2, *)
    SUPER_ARITH_SET(L_ADD_SL, top[-1], LOCAL(0), 3, 2, 1, +)
    SUPER_ARITH_SET(L_SUB_SL, top[-1], LOCAL(0), 3, 2, 1, -)
    SUPER_ARITH_SET(L_MUL_SL, top[-1], LOCAL(0), 3, 2, 1, *)

/* Float division in place; int division keeps its checks in the slow path. */
#define SUPER_TOP_FDIV(name, YV)                                                  \
    SCASE(name) {                                                                 \
        Value *x = top - 1, y = YV;                                               \
        if (x->type != VT_FLOAT || y.type != VT_FLOAT)                            \
            SLOW();                                                               \
        x->as.f /= y.as.f;                                                        \
        ip += 2;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_TOP_FDIV(L_DIV, LOCAL(0))
    SUPER_TOP_FDIV(C_DIV, k[ip->arg])

    SUPER_CMP_JF(C_LT_JF, top[-1], k[ip->arg], 3, 1, <)
    SUPER_CMP_JF(C_LE_JF, top[-1], k[ip->arg], 3, 1, <=)
    SUPER_CMP_JF(C_GT_JF, top[-1], k[ip->arg], 3, 1, >)
    SUPER_CMP_JF(C_GE_JF, top[-1], k[ip->arg], 3, 1, >=)

    SUPER_CMP_JF(GG_LT_JF, GLOBAL(0), GLOBAL(1), 4, 0, <)
    SUPER_CMP_JF(GG_LE_JF, GLOBAL(0), GLOBAL(1), 4, 0, <=)
    SUPER_CMP_JF(GG_GT_JF, GLOBAL(0), GLOBAL(1), 4, 0, >)
    SUPER_CMP_JF(GG_GE_JF, GLOBAL(0), GLOBAL(1), 4, 0, >=)
    SUPER_CMP_JF(GK_LT_JF, GLOBAL(0), IMM(1), 4, 0, <)
    SUPER_CMP_JF(GK_LE_JF, GLOBAL(0), IMM(1), 4, 0, <=)
    SUPER_CMP_JF(GK_GT_JF, GLOBAL(0), IMM(1), 4, 0, >)
    SUPER_CMP_JF(GK_GE_JF, GLOBAL(0), IMM(1), 4, 0, >=)
    SUPER_ARITH_SETG(GG_ADD_SG, GLOBAL(0), GLOBAL(1), 4, 3, 0, +)
    SUPER_ARITH_SETG(GK_ADD_SG, GLOBAL(0), IMM(1), 4, 3, 0, +)
    SUPER_ARITH_SETG(GK_SUB_SG, GLOBAL(0), IMM(1), 4, 3, 0, -)
    SUPER_ARITH_SETG(ADD_SG, top[-2], top[-1], 2, 1, 2, +)
    SUPER_ARITH_PUSH(GG_ADD, GLOBAL(0), GLOBAL(1), 3, +)
    SUPER_ARITH_PUSH(GG_SUB, GLOBAL(0), GLOBAL(1), 3, -)
    SUPER_ARITH_PUSH(GG_MUL, GLOBAL(0), GLOBAL(1), 3, *)
    SUPER_PUSH2(GETGLOBAL2, GLOBAL(0), GLOBAL(1))
    SUPER_GETINDEX(GG_GETINDEX, GLOBAL(0), GLOBAL(1))

    /* a * b + c * d (or -) over four locals: squared distances, complex
     * products. Four ints (wrapping at each step, as unfused) or four
     * floats; anything else runs the seven instructions. */
#define SUPER_MUL2(name, OPR)                                                      \
    SCASE(name) {                                                                 \
        Value a = LOCAL(0), b = LOCAL(1), c = LOCAL(3), d = LOCAL(4);             \
        if (a.type == VT_FLOAT && b.type == VT_FLOAT && c.type == VT_FLOAT &&    \
            d.type == VT_FLOAT) {                                                 \
            *top++ = vm_float(a.as.f * b.as.f OPR c.as.f * d.as.f);               \
        } else if (a.type == VT_INT && b.type == VT_INT && c.type == VT_INT &&   \
                   d.type == VT_INT) {                                            \
            uint64_t ab = (uint64_t)a.as.i * (uint64_t)b.as.i;                    \
            uint64_t cd = (uint64_t)c.as.i * (uint64_t)d.as.i;                    \
            *top++ = vm_int((int64_t)(ab OPR cd));                                \
        } else {                                                                  \
            SLOW();                                                               \
        }                                                                         \
        ip += 7;                                                                  \
        NEXT();                                                                   \
    }
    SUPER_MUL2(LLLL_MUL_ADD, +)
    SUPER_MUL2(LLLL_MUL_SUB, -)
#undef SUPER_MUL2

    /* Block locals mixed with module globals: top-level scripts. */
    SUPER_CMP_JF(LG_LT_JF, LOCAL(0), GLOBAL(1), 4, 0, <)
    SUPER_CMP_JF(LG_LE_JF, LOCAL(0), GLOBAL(1), 4, 0, <=)
    SUPER_CMP_JF(LG_GT_JF, LOCAL(0), GLOBAL(1), 4, 0, >)
    SUPER_CMP_JF(LG_GE_JF, LOCAL(0), GLOBAL(1), 4, 0, >=)
    SUPER_ARITH_SET(LG_ADD_SL, LOCAL(0), GLOBAL(1), 4, 3, 0, +)
    SUPER_ARITH_PUSH(LG_ADD, LOCAL(0), GLOBAL(1), 3, +)
    SUPER_ARITH_PUSH(LG_SUB, LOCAL(0), GLOBAL(1), 3, -)
    SUPER_ARITH_PUSH(LG_MUL, LOCAL(0), GLOBAL(1), 3, *)
    SUPER_GETINDEX(GL_GETINDEX, GLOBAL(0), LOCAL(1))
    SUPER_PUSH2(GETGLOBAL_GETLOCAL, GLOBAL(0), LOCAL(1))
    SUPER_PUSH2(GETLOCAL_GETGLOBAL, LOCAL(0), GLOBAL(1))

    SCASE(MOVE) {
        base[ip[1].arg] = LOCAL(0);
        ip += 2;
        NEXT();
    }
    SCASE(CONST_SL) {
        base[ip[1].arg] = k[ip->arg];
        ip += 2;
        NEXT();
    }
    SCASE(INT_SL) {
        base[ip[1].arg] = vm_int(ip->arg);
        ip += 2;
        NEXT();
    }
    SCASE(GETLOCAL_GETFIELD) {
        Value o = LOCAL(0);
        if (o.type != VT_MAP)
            SLOW();
        PvMapEntry *e = vm_cached_entry(o.as.m, ip + 1, k[ip[1].arg]);
        *top++ = e ? e->value : VAL_NIL;
        ip += 2;
        NEXT();
    }
    /* module.function: both lookups cached (math.sqrt) */
    SCASE(GETNAME_GETFIELD) {
        PvMapEntry *e = vm_cached_entry(vm->builtins, ip, k[ip->arg]);
        if (!e || e->value.type != VT_MAP)
            SLOW();
        PvMapEntry *f = vm_cached_entry(e->value.as.m, ip + 1, k[ip[1].arg]);
        *top++ = f ? f->value : VAL_NIL;
        ip += 2;
        NEXT();
    }
    SCASE(GETLOCAL_RET) {
        *top++ = LOCAL(0);
        ip++;
        goto do_ret;
    }
    /* fornext whose value goes straight into a local: ranges and arrays
     * inline, everything else through the plain instruction. */
    SCASE(JMP_FORNEXT_SL) {
        const VmInsn *target = code + ip->arg;
        CHARGE_JUMP(target);
        ip = target;
        goto fornext_sl;
    }
    SCASE(FORNEXT_SL) {
    fornext_sl:;
        Value *a = top - 2, *b = top - 1;
        Value *dst = &base[ip[1].arg];
        if (b->type != VT_INT)
            SLOW();
        if (a->type == VT_INT) {
            if (a->as.i < b->as.i) {
                *dst = *a;
                a->as.i++;
                ip += 2;
                NEXT();
            }
        } else if (a->type == VT_ARRAY) {
            if ((uint64_t)b->as.i < a->as.a->len) {
                *dst = a->as.a->items[b->as.i++];
                ip += 2;
                NEXT();
            }
        } else {
            SLOW();
        }
        top -= 2;
        ip = code + ip->arg;
        NEXT();
    }
#undef LOCAL
#undef GLOBAL
#undef IMM
#ifndef VM_COMPUTED_GOTO
    }
#endif
#undef CASE
#undef SCASE
#undef NEXT
#undef SAVE
#undef LOAD
}

static void vm_enter(VM *vm)
{
    if (vm->ccalls >= VM_MAX_CCALLS)
        pvmV_error(vm, "stack overflow");
    vm->ccalls++;
}

Value pvmV_call(VM *vm, Value fn, int argc, const Value *args)
{
    Value *callee = vm->top;
    if (!pvmV_stack_ensure(vm, callee + argc + 1))
        pvmV_error(vm, "stack overflow");
    callee[0] = fn;
    for (int i = 0; i < argc; i++)
        callee[1 + i] = args[i];
    vm->top = callee + 1 + argc;
    vm_enter(vm);
    size_t stop = vm->nframes;
    if (pvmV_call_value(vm, callee, argc))
        vm_execute(vm, stop);
    vm->ccalls--;
    Value r = *callee;
    vm->top = callee;
    return r;
}

bool pvmV_protect(VM *vm, void (*fn)(VM *vm, void *ud), void *ud)
{
    VmJmp jmp; /* not zero-initialised: the jmp_buf is large and setjmp fills it */
    jmp.prev = vm->jmp;
    size_t nframes = vm->nframes, pcall_handlers = vm->pcall_handlers;
    size_t nhandlers = vm->nhandlers;
    unsigned ccalls = vm->ccalls;
    Value *top = vm->top;
    vm->pcall_handlers = nhandlers;
    vm->jmp = &jmp;
    vm->error_kind = VM_ERR_NONE;
    volatile bool ok = true;
    if (setjmp(jmp.buf) == 0) {
        fn(vm, ud);
    } else {
        ok = false;
        pvmV_close_upvals(vm, top);
        vm->nframes = nframes;
        vm->nhandlers = nhandlers;
        vm->ccalls = ccalls;
        vm->top = top;
    }
    vm->jmp = jmp.prev;
    vm->pcall_handlers = pcall_handlers;
    return ok;
}

typedef struct {
    Value fn;
    int argc;
    const Value *args;
    Value result;
} VmCallArgs;

static void vm_pcall_body(VM *vm, void *ud)
{
    VmCallArgs *c = ud;
    c->result = pvmV_call(vm, c->fn, c->argc, c->args);
}

bool pvmV_pcall(VM *vm, Value fn, int argc, const Value *args, Value *result)
{
    VmCallArgs c = { fn, argc, args, VAL_NIL };
    bool ok = pvmV_protect(vm, vm_pcall_body, &c);
    if (result)
        *result = ok ? c.result : vm->error;
    return ok;
}

static void vm_run_main(VM *vm, void *ud)
{
    (void)ud;
    pvmV_import(vm, vm->program->modules[0]);
}

bool pvmV_run_program(VM *vm)
{
    bool ok = pvmV_protect(vm, vm_run_main, NULL);
    pvmV_trace_flush(vm);
    return ok;
}

/* --trace: each line shows one executed instruction and the operand stack
 * of its frame after it ran; the line is completed at the next dispatch. */
void pvmV_trace_flush(VM *vm)
{
    if (!vm->trace_pending[0])
        return;
    fprintf(vm->trace_out ? vm->trace_out : stderr, "%s\n", vm->trace_pending);
    vm->trace_pending[0] = '\0';
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
    fprintf(out, "%s  %.*s\n", vm->trace_pending, (int)(b.len > 240 ? 240 : b.len), b.data);
    pvmV_buf_free(&b);
}

static void vm_trace_step(VM *vm, const VmFrame *f, const VmInsn *ip)
{
    FILE *out = vm->trace_out ? vm->trace_out : stderr;
    fflush(vm->out); /* keep the program's output in step with the trace */
    if (vm->trace_pending[0])
        vm_trace_stack(vm, f, out);
    const VmProto *p = f->closure->proto;
    const OpcodeInfo *info = &pvmV_opcode_info[ip->op];
    const char *name = p == p->module->main ? "<main>" : p->name ? p->name->chars : "<anon>";
    char operand[32] = "";
    if (info->operand == OPND_TARGET)
        snprintf(operand, sizeof operand, "%u", p->offsets[ip->arg]);
    else if (info->operand != OPND_NONE)
        snprintf(operand, sizeof operand, "%d", ip->arg);
    snprintf(vm->trace_pending, sizeof vm->trace_pending, "%s@%u line %u: %-9s %-6s |", name,
             p->offsets[ip - p->code], pvmV_proto_line(p, ip), info->mnemonic, operand);
}
