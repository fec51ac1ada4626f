/* Allocation sinking (sink.h): a temporary object a loop makes, such as
 * `Point(i, 1)` whose field is read and which is then dropped, costs
 * nothing in machine code; LuaJIT's sinking, for the maps a trace makes.
 *
 * A map a trace makes is a chain of CALLRs: its literal (rt_map, the
 * pairs) and then the setfields on it (rt_setfield_fresh: the previous
 * step and a value, the key a constant), each step's result the same map
 * under a new ref (the recorder renames it, so only the newest step is
 * in the model). While no instruction uses a step but the next step, no
 * other object can reach the map: its fields are the values it was made
 * of (pvmJ_sink_field, for the recorder), and nothing can change it
 * behind the trace's back. If that holds for the whole trace, its copy
 * made by the LOOP pass included (a map carried round the loop is a
 * PHI's operand: a use), the map is sunk: the calls are not emitted, and
 * an exit whose snapshot holds it stores its values in the sink buffer
 * for the trace runner to make it (pvmJ_sink_restore) with the
 * interpreter's own functions, the same map bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "jit/alloc.h"
#include "jit/sink.h"
#include "vm/runtime/array.h"
#include "vm/runtime/object.h"

/* The runtime function a CALLR calls, or JIT_RT__COUNT for any other ref. */
static JitRuntimeFn rt_fn_of(const JitIR *ir, JitRef ref)
{
    if (pvmJ_ref_is_const(ref) || ref == JIT_REF_NONE)
        return JIT_RT__COUNT;
    const JitIns *in = pvmJ_ir_at(ir, ref);
    if (in->op != JIT_IR_CALLR)
        return JIT_RT__COUNT;
    return pvmJ_rt_fn(ir->kval[JIT_REF_BIAS - 1u - in->b]);
}

/* The CARGs of CALLR [call], first to last; returns how many ([max] at most). */
static uint32_t call_args(const JitIR *ir, JitRef call, JitRef *cargs, uint32_t max)
{
    uint32_t n = 0;
    for (JitRef c = pvmJ_ir_at(ir, call)->a; c != JIT_REF_NONE; c = pvmJ_ir_at(ir, c)->b)
        n++;
    if (n > max)
        return 0;
    uint32_t i = n;
    for (JitRef c = pvmJ_ir_at(ir, call)->a; c != JIT_REF_NONE; c = pvmJ_ir_at(ir, c)->b)
        cargs[--i] = c;
    return n;
}

static JitRef arg_value(const JitIR *ir, JitRef carg)
{
    return pvmJ_ir_at(ir, carg)->a;
}

/* The call that makes an object: an array or a map literal. */
static bool is_literal(JitRuntimeFn fn)
{
    return fn == JIT_RT_MAP || fn == JIT_RT_ARRAY;
}

/* A step of an object the trace makes: its literal, or rt_setfield_fresh
 * on a map's step. */
static bool is_step(const JitIR *ir, JitRef ref)
{
    JitRuntimeFn fn = rt_fn_of(ir, ref);
    return is_literal(fn) || fn == JIT_RT_SETFIELD_FRESH;
}

/* The step a setfield step adds to (its first CARG's value), or NONE. */
static JitRef step_prev(const JitIR *ir, JitRef step)
{
    JitRef cargs[3];
    if (rt_fn_of(ir, step) != JIT_RT_SETFIELD_FRESH || call_args(ir, step, cargs, 3) != 3)
        return JIT_REF_NONE;
    return arg_value(ir, cargs[0]);
}

/* The steps from [m] back to its literal, newest first; 0 when [m] is
 * not a map the trace made (or the chain is longer than [max]). */
static uint32_t chain_of(const JitIR *ir, JitRef m, JitRef *steps, uint32_t max)
{
    uint32_t n = 0;
    for (JitRef s = m; n < max && is_step(ir, s);) {
        steps[n++] = s;
        if (is_literal(rt_fn_of(ir, s)))
            return n;
        s = step_prev(ir, s);
    }
    return 0;
}

static bool in_list(const JitRef *list, uint32_t n, JitRef ref)
{
    for (uint32_t i = 0; i < n; i++)
        if (list[i] == ref)
            return true;
    return false;
}

/* Whether an instruction after [steps]' literal, up to [end], uses any
 * of the steps other than as the map the next step adds to. */
static bool chain_used(const JitIR *ir, const JitRef *steps, uint32_t n, uint32_t end)
{
    JitRef allowed[JIT_SINK_MAX_VALUES];
    uint32_t nallowed = 0;
    for (uint32_t i = 0; i + 1 < n; i++) { /* each setfield step's first CARG */
        JitRef cargs[3];
        if (call_args(ir, steps[i], cargs, 3) != 3)
            return true;
        allowed[nallowed++] = cargs[0];
    }
    for (uint32_t k = steps[n - 1] - JIT_REF_BIAS + 1u; k < end; k++) {
        const JitIns *in = &ir->ins[k];
        const JitOpInfo *info = &pvmJ_ir_ops[in->op];
        JitRef self = (JitRef)(JIT_REF_BIAS + k);
        if (info->o1 == JIT_O_REF && in_list(steps, n, in->a) && !in_list(allowed, nallowed, self))
            return true;
        if (info->o2 == JIT_O_REF && in_list(steps, n, in->b))
            return true;
    }
    return false;
}

bool pvmJ_sink_fresh(const JitIR *ir, JitRef m)
{
    JitRef steps[JIT_SINK_MAX_VALUES];
    uint32_t n = chain_of(ir, m, steps, JIT_SINK_MAX_VALUES);
    return n > 0 && pvmJ_sink_values(ir, m, NULL, JIT_SINK_MAX_VALUES) < JIT_SINK_MAX_VALUES &&
           !chain_used(ir, steps, n, ir->nins);
}

/* Whether constant refs [a] and [b] are equal strings; false for a ref
 * that is no string constant. */
static bool same_string(const JitIR *ir, JitRef a, JitRef b)
{
    if (!pvmJ_ref_is_const(a) || !pvmJ_ref_is_const(b))
        return false;
    if (a == b)
        return true;
    const JitIns *ka = pvmJ_ir_at(ir, a), *kb = pvmJ_ir_at(ir, b);
    if (ka->op != JIT_IR_KGC || kb->op != JIT_IR_KGC || ka->type != JIT_T_STR || kb->type != JIT_T_STR)
        return false;
    const PvString *sa = (const PvString *)(uintptr_t)ir->kval[JIT_REF_BIAS - 1u - a];
    const PvString *sb = (const PvString *)(uintptr_t)ir->kval[JIT_REF_BIAS - 1u - b];
    return sa->len == sb->len && memcmp(sa->chars, sb->chars, sa->len) == 0;
}

JitFieldKnown pvmJ_sink_field(const JitIR *ir, JitRef m, JitRef key, JitRef *value)
{
    JitRef steps[JIT_SINK_MAX_VALUES], cargs[JIT_RT_MAX_VALUES];
    uint32_t n = chain_of(ir, m, steps, JIT_SINK_MAX_VALUES);
    if (n == 0 || rt_fn_of(ir, steps[n - 1]) != JIT_RT_MAP)
        return JIT_FIELD_UNKNOWN;
    for (uint32_t i = 0; i + 1 < n; i++) { /* the newest setfield of the key wins */
        if (call_args(ir, steps[i], cargs, 3) != 3)
            return JIT_FIELD_UNKNOWN;
        if (same_string(ir, arg_value(ir, cargs[2]), key)) {
            *value = arg_value(ir, cargs[1]);
            return JIT_FIELD_FOUND;
        }
    }
    uint32_t nargs = call_args(ir, steps[n - 1], cargs, JIT_RT_MAX_VALUES);
    for (uint32_t p = nargs / 2; p-- > 0;) { /* a repeated key keeps its last value */
        JitRef k = arg_value(ir, cargs[2 * p]);
        if (!pvmJ_ref_is_const(k))
            return JIT_FIELD_UNKNOWN;
        if (same_string(ir, k, key)) {
            *value = arg_value(ir, cargs[2 * p + 1]);
            return JIT_FIELD_FOUND;
        }
    }
    return JIT_FIELD_ABSENT;
}

bool pvmJ_sink_element(const JitIR *ir, JitRef a, int64_t index, JitRef *value, uint32_t *len)
{
    JitRef cargs[JIT_RT_MAX_VALUES];
    if (rt_fn_of(ir, a) != JIT_RT_ARRAY)
        return false;
    uint32_t n = call_args(ir, a, cargs, JIT_RT_MAX_VALUES);
    *len = n;
    if (index >= 0 && (uint64_t)index < n)
        *value = arg_value(ir, cargs[index]);
    return true;
}

uint32_t pvmJ_sink_values(const JitIR *ir, JitRef m, JitRef *out, uint32_t max)
{
    JitRef steps[JIT_SINK_MAX_VALUES], cargs[JIT_RT_MAX_VALUES];
    uint32_t n = chain_of(ir, m, steps, JIT_SINK_MAX_VALUES), count = 0;
    if (n == 0)
        return max;
    uint32_t nargs = call_args(ir, steps[n - 1], cargs, JIT_RT_MAX_VALUES);
    for (uint32_t i = 0; i < nargs; i++, count++)
        if (out && count < max)
            out[count] = arg_value(ir, cargs[i]);
    for (uint32_t i = n - 1; i-- > 0; count++) {
        if (call_args(ir, steps[i], cargs, 3) != 3)
            return max;
        if (out && count < max)
            out[count] = arg_value(ir, cargs[1]);
    }
    return count < max ? count : max;
}

/* --- The pass --- */

typedef struct {
    JitIR *ir;
    JitSnapList *snaps;
    JitRef *chain;  /* per instruction: its chain's literal, or NONE */
} Sink;

/* Marks [lit]'s chain (every step whose chain is [lit]) sunk or not. */
static void mark_chain(Sink *s, JitRef lit, uint8_t sunk)
{
    for (uint32_t k = lit - JIT_REF_BIAS; k < s->ir->nins; k++)
        if (s->chain[k] == lit)
            s->ir->sunk[k] = sunk;
}

/* A chain whose literal is [lit] that may be sunk: one step after
 * another, each used only by the next, not too long, and not in a last
 * snapshot that is always written. */
static bool sinkable(Sink *s, JitRef lit, bool last_written)
{
    JitIR *ir = s->ir;
    JitRef steps[JIT_SINK_MAX_VALUES];
    uint32_t n = 0;
    steps[n++] = lit;
    s->chain[lit - JIT_REF_BIAS] = lit;
    for (uint32_t k = lit - JIT_REF_BIAS + 1u; k < ir->nins; k++) {
        JitRef ref = (JitRef)(JIT_REF_BIAS + k), prev = step_prev(ir, ref);
        if (prev == JIT_REF_NONE || !in_list(steps, n, prev))
            continue;
        if (prev != steps[0] || n == JIT_SINK_MAX_VALUES)
            return false; /* two setfields on one step: the map forks */
        memmove(steps + 1, steps, n * sizeof *steps); /* newest first */
        steps[0] = ref;
        n++;
        s->chain[k] = lit;
    }
    if (chain_used(ir, steps, n, ir->nins))
        return false;
    if (pvmJ_sink_values(ir, steps[0], NULL, JIT_SINK_MAX_VALUES) >= JIT_SINK_MAX_VALUES)
        return false;
    if (last_written && s->snaps->nsnaps > 0) {
        const JitSnap *last = &s->snaps->snaps[s->snaps->nsnaps - 1];
        for (uint32_t e = 0; e < last->nentries; e++)
            if (in_list(steps, n, s->snaps->map[last->map_start + e].ref))
                return false;
    }
    return true;
}

/* Whether snapshot [sn] holds two steps of one chain (two states of one
 * map, which an exit would make as two maps) or more values than the sink
 * buffer takes: then the chains it holds are not sunk. */
static bool snapshot_fits(const Sink *s, const JitSnap *sn)
{
    const JitSnapEntry *e = &s->snaps->map[sn->map_start];
    uint32_t values = 0;
    for (uint32_t i = 0; i < sn->nentries; i++) {
        if (!pvmJ_sunk(s->ir, e[i].ref))
            continue;
        bool seen = false;
        for (uint32_t j = 0; j < i; j++) {
            if (e[j].ref == e[i].ref)
                seen = true;
            else if (pvmJ_sunk(s->ir, e[j].ref) &&
                     s->chain[e[j].ref - JIT_REF_BIAS] == s->chain[e[i].ref - JIT_REF_BIAS])
                return false;
        }
        if (!seen)
            values += pvmJ_sink_values(s->ir, e[i].ref, NULL, JIT_SINK_MAX_VALUES);
    }
    return values <= JIT_SINK_BUF_VALUES;
}

static void unsink_snapshot(Sink *s, const JitSnap *sn)
{
    for (uint32_t i = 0; i < sn->nentries; i++) {
        JitRef ref = s->snaps->map[sn->map_start + i].ref;
        if (pvmJ_sunk(s->ir, ref))
            mark_chain(s, s->chain[ref - JIT_REF_BIAS], 0);
    }
}

bool pvmJ_sink_pass(JitIR *ir, JitSnapList *snaps, bool last_written)
{
    if (ir->sunk)
        return true; /* done already (a trace compiled again after a flush) */
    bool any = false;
    for (uint32_t k = 0; k < ir->nins && !any; k++)
        any = is_literal(rt_fn_of(ir, (JitRef)(JIT_REF_BIAS + k)));
    if (!any)
        return true;
    Sink s = { ir, snaps, calloc(ir->nins + 1u, sizeof(JitRef)) };
    ir->sunk = calloc(ir->nins + 1u, 1);
    if (!s.chain || !ir->sunk) {
        free(s.chain);
        free(ir->sunk);
        ir->sunk = NULL;
        return false;
    }
    for (uint32_t k = 0; k < ir->nins; k++) {
        JitRef ref = (JitRef)(JIT_REF_BIAS + k);
        if (is_literal(rt_fn_of(ir, ref)) && sinkable(&s, ref, last_written))
            mark_chain(&s, ref, 1);
    }
    for (uint32_t i = 0; i < snaps->nsnaps; i++)
        if (!snapshot_fits(&s, &snaps->snaps[i]))
            unsink_snapshot(&s, &snaps->snaps[i]);
    for (uint32_t i = 0; i < snaps->nsnaps; i++) {
        JitSnap *sn = &snaps->snaps[i];
        sn->sunk = 0;
        for (uint32_t e = 0; e < sn->nentries; e++)
            if (pvmJ_sunk(ir, snaps->map[sn->map_start + e].ref))
                sn->sunk = 1;
    }
    free(s.chain);
    return true;
}

/* --- Making a sunk map at an exit --- */

/* Makes sunk object [m] from its values [vals]; [*used] is how many it took. */
static Value make_object(VM *vm, const JitIR *ir, JitRef m, const Value *vals, uint32_t *used_out)
{
    JitRef steps[JIT_SINK_MAX_VALUES], cargs[JIT_RT_MAX_VALUES];
    uint32_t n = chain_of(ir, m, steps, JIT_SINK_MAX_VALUES);
    uint32_t nargs = call_args(ir, steps[n - 1], cargs, JIT_RT_MAX_VALUES), used = 0;
    if (rt_fn_of(ir, steps[n - 1]) == JIT_RT_ARRAY) {
        *used_out = nargs;
        return vm_obj(VT_ARRAY, pvmV_array_of(vm, vals, nargs));
    }
    PvMap *map = pvmV_map_new(vm, nargs / 2);
    for (uint32_t p = 0; p < nargs / 2; p++, used += 2)
        pvmV_map_set(vm, map, vals[used], vals[used + 1]);
    for (uint32_t i = n - 1; i-- > 0; used++) {
        call_args(ir, steps[i], cargs, 3);
        const PvString *key = (const PvString *)(uintptr_t)ir->kval[JIT_REF_BIAS - 1u - arg_value(ir, cargs[2])];
        pvmV_map_set(vm, map, vm_str_value((PvString *)(uintptr_t)key), vals[used]);
    }
    *used_out = used;
    return vm_obj(VT_MAP, map);
}

/* An object of at most JIT_SINK_MAX_VALUES values: an array's items,
 * or a map's entries as it grows (doubling: twice as many at most, with
 * an index of 32-bit slots once past a small map), and its header. */
#define SINK_OBJECT_BYTES (sizeof(PvMap) + 2u * JIT_SINK_MAX_VALUES * (VM_MAP_ENTRY_BYTES + 2u * sizeof(uint32_t)))

size_t pvmJ_sink_bytes(const JitIR *ir, const JitSnapList *snaps, uint32_t s)
{
    const JitSnap *sn = &snaps->snaps[s];
    size_t objects = 0;
    for (uint32_t i = 0; i < sn->nentries; i++)
        objects += pvmJ_sunk(ir, snaps->map[sn->map_start + i].ref);
    return objects * SINK_OBJECT_BYTES;
}

void pvmJ_sink_restore(VM *vm, const JitIR *ir, const JitSnapList *snaps, uint32_t s, Value *slots,
                       const Value *buf)
{
    const JitSnap *sn = &snaps->snaps[s];
    const JitSnapEntry *e = &snaps->map[sn->map_start];
    uint32_t used = 0;
    for (uint32_t i = 0; i < sn->nentries; i++) {
        if (!pvmJ_sunk(ir, e[i].ref))
            continue;
        uint32_t j = 0;
        while (j < i && e[j].ref != e[i].ref)
            j++;
        if (j < i) { /* made for an earlier slot: the same map */
            slots[e[i].slot] = slots[e[j].slot];
            continue;
        }
        uint32_t took;
        slots[e[i].slot] = make_object(vm, ir, e[i].ref, buf + used, &took);
        used += took;
    }
}
