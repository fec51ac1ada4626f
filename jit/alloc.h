/* The runtime functions traces call (CALLR, docs/jit.md "Allocation in
 * traces"): each is the interpreter's own constructor behind a check that
 * it cannot raise, taking its operands as Values the trace stored in the
 * frame slots where the interpreter has them, and returning the new
 * object, or NULL when the interpreter must run the instruction instead
 * (the trace then leaves at its snapshot before the instruction, and the
 * interpreter raises whatever the instruction raises). */
#ifndef PVM_JIT_ALLOC_H
#define PVM_JIT_ALLOC_H

#include <stddef.h>

#include "jit/sink.h"
#include "vm/runtime/vm.h"

typedef enum {
    JIT_RT_ARRAY, /* array n: [n] values */
    JIT_RT_MAP,   /* map n: n key/value pairs, 2n values */
    JIT_RT_SETFIELD, /* setfield of a key the map may not have: the map
                      * and the value, the key string as [extra] */
    JIT_RT_SETFIELD_FRESH, /* setfield on a map no other object can reach
                            * yet (sink.c): as SETFIELD, any key, growing it */
    JIT_RT_PUSH,     /* push(a, v): the array and the value */
    JIT_RT_GET,      /* m[k] of a key other than a string: the map and the
                      * key; the address of the entry's value, NULL if absent */
    JIT_RT_STR,      /* str(v) of an int or a float: the new string */
    JIT_RT_CLOSURE,  /* closure p in the trace's own frame (no values: the
                      * frame's local 0 is where they are), p as [extra] */
    JIT_RT_CLOSE,    /* close n: the frame's locals from n, whose cells close */
    JIT_RT_CONCAT,   /* a + b of two strings: the new string, NULL when the
                      * interpreter must make it (JIT_RT_CONCAT_MAX) */
    JIT_RT_STRCMP,   /* the order of two strings: 1, 2 or 3 for <, ==, > */
    JIT_RT_HAS,      /* has(m, k): 2 when m holds k, else 1 */
    JIT_RT_REMOVE,   /* remove(m, k) of a string or int key: the map */
    JIT_RT_SETINDEX, /* m[k] = v of an int or string key: the map, the key and the
                      * value; the map, NULL when a rebuild could meet the
                      * memory limit's check */
    JIT_RT_NATIVE,   /* a leaf native's call (VmLeaf): its arguments, the native
                      * as [extra]; the address of its result, the slot below
                      * the arguments where CALL puts it, NULL if it raised */
    JIT_RT_NATIVE_MUT, /* the same, of a native that may change its arguments */
    JIT_RT__COUNT
} JitRuntimeFn;

/* The longest concatenation a trace makes itself: below it the
 * interpreter charges the budget nothing for the bytes (VM_BYTES_PER_UNIT),
 * so the fuel the trace keeps in a register stays right. */
#define JIT_RT_CONCAT_MAX (VM_BYTES_PER_UNIT - 1u)

/* The most values one CALLR passes: a longer literal is not recorded. */
#define JIT_RT_MAX_VALUES 32u
/* The most pairs of a map literal a trace makes: a small map, one block. */
#define JIT_RT_MAX_PAIRS 8u

/* [vals]: the [n] Values in the frame; [extra]: the CARG after them,
 * if any, as its 64 bits (a constant's). */
typedef void *(*JitRuntimeCall)(VM *vm, const Value *vals, size_t n, uint64_t extra);
extern const JitRuntimeCall pvmJ_runtime_calls[JIT_RT__COUNT];

/* CALLR's constant: which function, the frame slot of its first value,
 * and how many values it stores there (a CARG after them is [extra]). */
static inline uint64_t pvmJ_rt_desc(JitRuntimeFn fn, uint32_t slot, uint32_t n)
{
    return (uint64_t)fn << 40 | (uint64_t)slot << 20 | n;
}
static inline JitRuntimeFn pvmJ_rt_fn(uint64_t d) { return (JitRuntimeFn)(d >> 40); }
static inline uint32_t pvmJ_rt_slot(uint64_t d) { return (uint32_t)(d >> 20) & 0xFFFFFu; }
static inline uint32_t pvmJ_rt_n(uint64_t d) { return (uint32_t)d & 0xFFFFFu; }
/* An exit's making of the sunk objects snapshot [s] holds (sink.c,
 * pvmJ_sink_restore) into [slots], from the machine code: 1 once made, 0
 * when they could meet the memory limit's check or an injected failure,
 * or the collector ran out (nothing raised: the runner makes them then). */
uint32_t pvmJ_rt_sink(VM *vm, const JitIR *ir, const JitSnapList *snaps, uint64_t s, Value *slots,
                      const Value *buf);

/* Whether the function changes an object the trace may have read (its
 * length, count, key filter): JitIR.mutated, the LOOP pass. A fresh map's
 * setfield does not: nothing the trace read can be that map. */
static inline bool pvmJ_rt_mutates(JitRuntimeFn fn)
{
    return fn == JIT_RT_SETFIELD || fn == JIT_RT_PUSH || fn == JIT_RT_SETINDEX || fn == JIT_RT_REMOVE ||
           fn == JIT_RT_NATIVE_MUT;
}

/* Whether the function may charge the budget: natives charge for the
 * bytes and items they handle, so the trace hands the VM its fuel, as
 * the interpreter has it during the call, and takes it back after. */
static inline bool pvmJ_rt_charges(JitRuntimeFn fn)
{
    return fn == JIT_RT_NATIVE || fn == JIT_RT_NATIVE_MUT;
}

/* Whether a trace calls leaf natives itself now: not while the memory
 * limit or an injected failure is armed, since what a native allocates
 * cannot be known before it runs, and the interpreter must meet every
 * check of theirs itself. */
static inline bool pvmJ_leaf_calls_allowed(const VM *vm)
{
    return !pvmV_alloc_checked(vm);
}

#endif
