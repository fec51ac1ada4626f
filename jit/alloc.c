/* The runtime functions traces call (alloc.h). Each runs only when
 * pvmV_alloc_quiet says its allocations can neither meet the memory
 * limit's check nor an injected failure, so the interpreter, re-running
 * the instruction, makes every check exactly as it would without the JIT;
 * and under a protected boundary, so that the collector itself running
 * out (the funnel's "out of memory") returns NULL here instead of
 * unwinding through machine code. */
#include <setjmp.h>

#include "jit/alloc.h"
#include "vm/interp/ops.h"
#include "vm/runtime/object.h"

/* Runs [body], which sets [made], under a boundary of its own: an error
 * it raises leaves [made] NULL and the VM's error as it was (the
 * interpreter, re-running the instruction, raises it itself). The jmp_buf
 * is large and setjmp fills it: not zero-initialised. */
#define RT_PROTECTED(vm, body)                          \
    void *volatile made = NULL;                         \
    do {                                                \
        VmJmp jmp;                                      \
        Value error = (vm)->error;                      \
        VmErrorKind kind = (vm)->error_kind;            \
        jmp.prev = (vm)->jmp;                           \
        (vm)->jmp = &jmp;                               \
        if (setjmp(jmp.buf) == 0) {                     \
            body;                                       \
        } else {                                        \
            made = NULL;                                \
            (vm)->error = error;                        \
            (vm)->error_kind = kind;                    \
        }                                               \
        (vm)->jmp = jmp.prev;                           \
    } while (0)

/* The bytes pvmV_array_of allocates for [n] values, at most. */
static size_t array_bytes(size_t n)
{
    return sizeof(PvArray) + n * sizeof(Value);
}

/* The bytes pvmV_map_new(n) allocates for a small map, at most (it keeps
 * at least 4 entries inline; map_set of n pairs never grows it). */
static size_t map_bytes(size_t n)
{
    return sizeof(PvMap) + (n < 4 ? 4 : n) * VM_MAP_ENTRY_BYTES;
}

static void *rt_array(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    if (!pvmV_alloc_quiet(vm, array_bytes(n)))
        return NULL;
    RT_PROTECTED(vm, made = pvmV_array_of(vm, vals, n));
    return made;
}

/* The interpreter's MAP: a map of [n] pairs, set in order (a repeated key
 * keeps its first position and its last value). The recorder passes keys
 * of types map_set never refuses (not nil, not a float: no NaN). */
static void *rt_map(VM *vm, const Value *vals, size_t nvals, uint64_t extra)
{
    size_t n = nvals / 2;
    if (n > JIT_RT_MAX_PAIRS || !pvmV_alloc_quiet(vm, map_bytes(n)))
        return NULL;
    RT_PROTECTED(vm, {
        PvMap *m = pvmV_map_new(vm, n);
        for (size_t i = 0; i < n; i++)
            pvmV_map_set(vm, m, vals[2 * i], vals[2 * i + 1]);
        made = m;
    });
    return made;
}

/* setfield of key [extra] (a string) on the map vals[0], to vals[1]: the
 * interpreter's pvmV_map_set, when it allocates nothing (the map has room
 * for one more entry: it never grows here, so its entries never move
 * under the trace). A string key never raises. Returns the map. */
static void *rt_setfield(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    PvMap *m = vals[0].as.m;
    if (n != 2 || m->used == m->cap)
        return NULL;
    pvmV_map_set(vm, m, vm_str_value((PvString *)(uintptr_t)extra), vals[1]);
    return m;
}

/* setfield of key [extra] on a map the trace made and no other object
 * can reach yet (the recorder knows it: a fresh map, sink.c), to vals[1]:
 * pvmV_map_set, growing the map if it must while it stays small. Nothing
 * of the trace depends on where such a map's entries are (its fields
 * are known without reading them), so they may move. Returns the map. */
static void *rt_setfield_fresh(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    PvMap *m = vals[0].as.m;
    Value key = vm_str_value((PvString *)(uintptr_t)extra);
    if (n != 2)
        return NULL;
    if (m->used == m->cap && pvmV_map_find_string(m, key) < 0) {
        if (m->count >= JIT_RT_MAX_PAIRS || !pvmV_alloc_quiet(vm, JIT_RT_MAX_PAIRS * VM_MAP_ENTRY_BYTES))
            return NULL;
    }
    RT_PROTECTED(vm, {
        pvmV_map_set(vm, m, key, vals[1]);
        made = m;
    });
    return made;
}

/* push(vals[0], vals[1]) when pvmV_array_push would not change the
 * array's kind: it has elements and the value fits its kind. A full
 * array grows (its items move: the trace reads any array's items, length
 * and element addresses again after the call, JitIR.mutated), unless the
 * new items could meet the memory limit's check. Returns the array. */
static void *rt_push(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)extra;
    PvArray *a = vals[0].as.a;
    if (n != 2 || a->len == 0 || !pvmV_array_fits(a, vals[1]))
        return NULL;
    if (a->len < a->cap) {
        pvmV_array_put(a, a->len++, vals[1]);
        return a;
    }
    if (a->cap > VM_MAX_ALLOC / 64 || !pvmV_alloc_quiet(vm, (2 * a->cap + 16) * sizeof(Value)))
        return NULL;
    RT_PROTECTED(vm, {
        pvmV_array_push(vm, vals[0].as.a, vals[1]);
        made = vals[0].as.a;
    });
    return made;
}

/* The value of vals[0][vals[1]] in place, found as the interpreter's
 * getindex finds it (the key normalised), or NULL when the map does not
 * hold the key: the interpreter then reads nil. Nothing is allocated. */
static void *rt_get(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)vm;
    (void)extra;
    PvMapEntry *e = n == 2 ? pvmV_map_entry(vals[0].as.m, vals[1]) : NULL;
    return e ? &e->value : NULL;
}

/* The most bytes str of an int or a float allocates: its text is at most
 * 24 bytes (an int's 20 digits and sign, a float's shortest round-trip
 * form), with room to spare for how pvmV_to_string builds it. */
#define RT_STR_BYTES (2 * (sizeof(PvString) + 32))

/* str(vals[0]) of an int or a float, as the builtin makes it. The
 * builtin also charges the text's bytes to the budget, which for these
 * (under VM_BYTES_PER_UNIT) is no unit at all: only a check of the fuel
 * CALL has just checked, and which the trace keeps in a register, so it
 * is left out here. */
static void *rt_str(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)extra;
    if (n != 1 || (vals[0].type != VT_INT && vals[0].type != VT_FLOAT) || !pvmV_alloc_quiet(vm, RT_STR_BYTES))
        return NULL;
    RT_PROTECTED(vm, made = pvmV_to_string(vm, vals[0]));
    return made;
}

/* The interpreter's CLOSURE of the function [extra] in the frame whose
 * local 0 [vals] is (its closure below it): the closure, its cells open on
 * the frame's locals (the trace captures only those: every value of
 * theirs is in the frame whenever anything but the trace may read it,
 * jit/record.c, rec_closure). */
static void *rt_closure(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)n;
    VmProto *p = (VmProto *)(uintptr_t)extra;
    Value *base = (Value *)(uintptr_t)vals;
    if (!pvmV_alloc_quiet(vm, sizeof(PvClosure) + p->nupvals * (sizeof(PvUpval *) + sizeof(PvUpval))))
        return NULL;
    RT_PROTECTED(vm, made = pvmV_closure_new(vm, p, base, base[-1].as.cl));
    return made;
}

/* The interpreter's CLOSE from the local at [vals], whose values (and
 * those after it) the trace has just stored there: each cell open on
 * them keeps the value it has now. Allocates nothing. */
static void *rt_close(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)n;
    (void)extra;
    pvmV_close_upvals(vm, (Value *)(uintptr_t)vals);
    return (void *)(uintptr_t)vals;
}

uint32_t pvmJ_rt_sink(VM *vm, const JitIR *ir, const JitSnapList *snaps, uint64_t s, Value *slots,
                      const Value *buf)
{
    if (!pvmV_alloc_quiet(vm, pvmJ_sink_bytes(ir, snaps, (uint32_t)s)))
        return 0;
    RT_PROTECTED(vm, {
        pvmJ_sink_restore(vm, ir, snaps, (uint32_t)s, slots, buf);
        made = slots;
    });
    return made != NULL;
}

/* a + b of two strings, as the interpreter's ADD makes it, when the
 * result is short enough that ADD would charge no fuel for its bytes
 * (longer: NULL, and the interpreter makes it and charges). */
static void *rt_concat(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)extra;
    if (n != 2 || vals[0].type != VT_STRING || vals[1].type != VT_STRING)
        return NULL;
    const PvString *a = vals[0].as.s, *b = vals[1].as.s;
    if (a->len + b->len > JIT_RT_CONCAT_MAX || !pvmV_alloc_quiet(vm, sizeof(PvString) + a->len + b->len + 1))
        return NULL;
    RT_PROTECTED(vm, made = pvmV_string_concat(vm, a, b));
    return made;
}

/* The order of two strings (pvmV_string_compare) as 1, 2 or 3: never
 * NULL, so the call never exits. Allocates nothing. */
static void *rt_strcmp(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)vm;
    (void)extra;
    if (n != 2)
        return NULL;
    return (void *)(uintptr_t)(2 + pvmV_string_compare(vals[0].as.s, vals[1].as.s));
}

/* The most bytes a rebuild of [m] for one more key allocates: entries
 * and their key types for twice its live count, and an index of two
 * 32-bit slots an entry (map.c). */
static size_t rebuild_bytes(const PvMap *m)
{
    return (2 * m->count + 16) * (VM_MAP_ENTRY_BYTES + 2 * sizeof(uint32_t));
}

/* m[k] = v of an int or string key (vals: the map, the key, the value), the
 * interpreter's pvmV_map_set. A full map is rebuilt (grown or compacted)
 * here too, unless its new blocks could meet the memory limit's check
 * (NULL: the interpreter then sets it): its entries move, which the trace
 * allows for (record.c, rec_map_set). Neither an int nor a string key
 * raises. Returns the map. */
static void *rt_setindex(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)extra;
    if (n != 3 || vals[0].type != VT_MAP || (vals[1].type != VT_INT && vals[1].type != VT_STRING))
        return NULL;
    PvMap *m = vals[0].as.m;
    if (m->used < m->cap || pvmV_map_get(m, vals[1], NULL)) {
        pvmV_map_set(vm, m, vals[1], vals[2]);
        return m;
    }
    if (m->count > VM_MAX_ALLOC / 64 || !pvmV_alloc_quiet(vm, rebuild_bytes(m)))
        return NULL;
    RT_PROTECTED(vm, {
        pvmV_map_set(vm, vals[0].as.m, vals[1], vals[2]);
        made = vals[0].as.m;
    });
    return made;
}

/* has(m, k) as 2 (held) or 1: never NULL. Allocates nothing. */
static void *rt_has(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)vm;
    (void)extra;
    if (n != 2 || vals[0].type != VT_MAP)
        return NULL;
    return (void *)(uintptr_t)(1 + pvmV_map_get(vals[0].as.m, vals[1], NULL));
}

/* remove(m, k) of a string or int key (vals: the map, the key), the
 * builtin's pvmV_map_remove: its entry becomes a tombstone, in place, so
 * nothing moves. Its value the trace loaded before the call. Never
 * raises nor allocates. Returns the map. */
static void *rt_remove(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    (void)vm;
    (void)extra;
    if (n != 2 || vals[0].type != VT_MAP)
        return NULL;
    pvmV_map_remove(vals[0].as.m, vals[1], NULL);
    return vals[0].as.m;
}

/* A leaf native (VmLeaf), called as the interpreter's CALL calls it: the
 * stack top past its arguments, its result where the callee was. If it
 * raises, nothing it did is visible (a leaf raises before it changes
 * anything): the error is dropped, the fuel it charged given back, and
 * the trace leaves before the call, which the interpreter makes again
 * and raises. */
static void *rt_native(VM *vm, const Value *vals, size_t n, uint64_t extra)
{
    /* its arity was checked when the call was recorded (leaf_fits): the
     * trace guards the native, and the call's argument count is fixed */
    const PvNative *nat = (const PvNative *)(uintptr_t)extra;
    if (!pvmJ_leaf_calls_allowed(vm))
        return NULL;
    Value *callee = (Value *)vals - 1;
    Value *top = vm->top;
    int64_t fuel = vm->fuel;
    RT_PROTECTED(vm, {
        vm->top = callee + 1 + n;
        *callee = nat->fn(vm, (int)n, callee + 1, nat->data);
        made = callee;
    });
    vm->top = top;
    if (!made)
        vm->fuel = fuel;
    return made;
}

const JitRuntimeCall pvmJ_runtime_calls[JIT_RT__COUNT] = {
    [JIT_RT_ARRAY] = rt_array,
    [JIT_RT_MAP] = rt_map,
    [JIT_RT_SETFIELD] = rt_setfield,
    [JIT_RT_SETFIELD_FRESH] = rt_setfield_fresh,
    [JIT_RT_PUSH] = rt_push,
    [JIT_RT_GET] = rt_get,
    [JIT_RT_STR] = rt_str,
    [JIT_RT_CLOSURE] = rt_closure,
    [JIT_RT_CLOSE] = rt_close,
    [JIT_RT_CONCAT] = rt_concat,
    [JIT_RT_STRCMP] = rt_strcmp,
    [JIT_RT_HAS] = rt_has,
    [JIT_RT_REMOVE] = rt_remove,
    [JIT_RT_SETINDEX] = rt_setindex,
    [JIT_RT_NATIVE] = rt_native,
    [JIT_RT_NATIVE_MUT] = rt_native,
};
