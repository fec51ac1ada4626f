/* The JIT's life cycle per VM: counting loops at their back edges,
 * recording a hot one, compiling and installing the trace, running it,
 * linking an exit into the trace it leads to, and resuming the interpreter
 * where the last exit left it (the exit code has written the frame back);
 * penalties and blacklisting for loops whose recordings abort; -j v, dump
 * and stats output.
 *
 * A back edge's jmp keeps its loop's state in its VmInsn.cache word, which
 * the interpreter uses for nothing else on a jmp:
 *   UINT32_MAX (as loaded)  not counted yet
 *   tries << 24 | count     iterations counted since the last try, and how
 *                           many recordings of this loop aborted so far
 *   JIT_CACHE_NEVER         blacklisted: never recorded again
 *   JIT_CACHE_TRACE | n     trace n runs from here
 * Keeping the penalty in the word itself means two loops never share one.
 * A function's VmProto.jit_entry is the same kind of word for its calls
 * (function traces: JIT_FUNCTION_ROOT as a trace's loop_end). */
#include <gc.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jit/assemble.h"
#include "jit/jit.h"
#include "jit/loop.h"
#include "jit/mcode.h"
#include "jit/record.h"
#include "vm/interp/interp.h"

#define JIT_CACHE_NEVER PVMJ_CACHE_NEVER
#define JIT_MAX_TRACES 1000u
#define JIT_EXIT_SHIFT 16         /* a trace's code returns trace << 16 | snapshot */
#define JIT_EXIT_MASK 0xFFFFu
#define JIT_MAX_TRIES 4u        /* aborted recordings before a loop is blacklisted */
#define JIT_COUNT_MASK 0xFFFFFFu
#define JIT_TRIES_SHIFT 24
/* Entering a trace from the interpreter costs a round trip through C
 * (the frame written back, the entry's loads): a few interpreted loop
 * trips' worth. A root trace whose runs, after JIT_CHECK_ENTRIES entries,
 * spend less fuel in machine code per entry than JIT_MIN_TRIPS trips of
 * its own loop costs more than it saves: its loop goes back to the
 * interpreter. (Going from one trace to another costs a jmp once the
 * exit is linked, so it is not counted against a trace.) */
#define JIT_CHECK_ENTRIES 256u
#define JIT_MIN_TRIPS 2u
#define JIT_HOT_EXIT 10u       /* exits taken before one grows a side trace */
#define JIT_MAX_SIDE_TRIES 4u  /* aborted side recordings before an exit gives up */
#define JIT_MAX_HOT (JIT_COUNT_MASK >> (2u * JIT_MAX_TRIES + 1u)) /* so every threshold fits */

typedef struct {
    JitEntry entry;
    size_t code_size;
    uint8_t *body;         /* past the prologue: where a linked exit jumps in */
    uint8_t *body_typed;   /* past its first load's type guard, or NULL (JitAsmOut) */
    uint32_t typed_slot;   /* that load's slot and type */
    uint8_t typed_type;
    uint8_t *body_loaded;  /* past its first load (guarded or not), or NULL; */
    uint32_t loaded_slot;  /* the slot it loads and the register it fills */
    uint8_t loaded_reg;
    uint32_t *exit_jumps;  /* per snapshot, the offset of its exit's patchable rel32 */
    uint16_t *exit_regs;   /* per snapshot, the slots the registers kept by exits hold (JitAsmOut) */
    uint8_t *where;        /* per IR instruction, its register (JitAsmOut) */
    JitIR ir;
    JitSnapList snaps;
    const VmProto *proto;
    uint32_t start, loop_end;
    uint64_t entered;
    uint64_t trips;        /* loop iterations run in the trace (counted with -j stats) */
    uint64_t charge;       /* fuel a trip round its loop takes */
    uint64_t run_fuel;     /* for a root: fuel spent in machine code in its runs */
    bool side;             /* a side trace, from exit [exitno] of trace [parent] */
    bool func;             /* a root run from its function's entry, not a loop's */
    bool link_entry;       /* its link goes on at a function's entry (recursion) */
    bool links;            /* ends by going on in the trace at a loop header */
    uint32_t parent, exitno;
    uint32_t link_snap;    /* a side trace's last snapshot: the loop header it reached */
    const VmProto *link_proto; /* the function of that header (a callee's, for a root
                                * that ended inside an inlined call) */
    uint32_t link_jmp;     /* the back edge a side trace ended at, or UINT32_MAX */
    uint32_t inlined;      /* calls it inlined, for -j v */
    uint32_t unrolled;     /* inner-loop back edges it unrolled, for -j v */
} JitTrace;

struct PvmJitState {
    PvmJitOptions opt;
    PvmjMcode *mcode;
    uint64_t *vals;          /* the values traces spill, a home slot each; collector-scanned */
    JitTrace *traces[JIT_MAX_TRACES];
    uint32_t ntraces;
    uint32_t attempts;       /* recordings started, for -j trace=N */
    bool recording;
    JitRecorder rec;
    uint32_t side_parent, side_exit; /* what a side recording will hang from */
    uint64_t aborted, blacklisted, demoted, entries, exits, links;
    uint64_t stitches;       /* stitched calls after which machine code went on */
    uint32_t stitch_trace, stitch_snap; /* the stitch exit vm->stitch_ip is after, */
    size_t stitch_frames;    /* left with this many frames */
    uint64_t aborts_by[JIT_ABORT__COUNT]; /* recordings stopped, by reason */
    uint64_t not_assembled;  /* recordings the backend or the trace limit turned down */
    uint64_t trace_ns;
    uint64_t flushes;        /* times every trace was dropped: a cap was reached */
    uint64_t rebound_seen;   /* vm->globals_rebound when the traces were made */
    uint64_t rebound_flushes; /* times every trace was dropped for it */
    FILE *perf_map;
};

void pvmJ_options_default(PvmJitOptions *o)
{
    memset(o, 0, sizeof *o);
    o->hot = PVM_JIT_HOT_DEFAULT;
}

bool pvmJ_available(void)
{
    return PVM_JIT != 0;
}

static FILE *jit_log(const PvmJitState *j)
{
    return j->opt.log ? j->opt.log : stderr;
}

#if PVM_JIT

bool pvmJ_attach(VM *vm, const PvmJitOptions *o)
{
    PvmJitState *j = calloc(1, sizeof *j);
    if (!j)
        return false;
    j->opt = *o;
    if (j->opt.hot == 0)
        j->opt.hot = 1;
    if (j->opt.hot > JIT_MAX_HOT)
        j->opt.hot = JIT_MAX_HOT;
    if (j->opt.max_traces == 0 || j->opt.max_traces > JIT_MAX_TRACES)
        j->opt.max_traces = JIT_MAX_TRACES;
    if (o->perf_map) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/perf-%ld.map", (long)getpid());
        j->perf_map = fopen(path, "a");
    }
    vm->jit = j;
    return true;
}

static void trace_free(JitTrace *t)
{
    pvmJ_ir_free(&t->ir);
    pvmJ_snap_free(&t->snaps);
    free(t->exit_jumps);
    free(t->exit_regs);
    free(t->where);
    free(t);
}

void pvmJ_detach(VM *vm)
{
    PvmJitState *j = vm->jit;
    if (!j)
        return;
    if (j->recording)
        pvmJ_record_free(&j->rec);
    for (uint32_t i = 0; i < j->ntraces; i++)
        trace_free(j->traces[i]);
    pvmJ_mcode_free(j->mcode);
    if (j->vals) {
        __atomic_store_n(&vm->interrupt_mirror, NULL, __ATOMIC_RELEASE);
        GC_FREE(j->vals - 1);
    }
    if (j->perf_map)
        fclose(j->perf_map);
    free(j);
    vm->jit = NULL;
}

/* "file:line" of instruction [pc] of [p], for -j v. */
static void where(const VmProto *p, uint32_t pc, char *buf, size_t n)
{
    const char *file = p->module && p->module->file ? p->module->file->chars : "?";
    snprintf(buf, n, "%s:%u", file, (unsigned)pvmV_proto_line(p, &p->code[pc]));
}

static uint32_t tries_of(uint32_t cache)
{
    return cache == UINT32_MAX ? 0 : cache >> JIT_TRIES_SHIFT;
}

/* Each abort quadruples the iterations a loop must run before the next try. */
static uint32_t threshold(const PvmJitState *j, uint32_t tries)
{
    return j->opt.hot << (2u * tries);
}

/* The word that keeps the state of the root trace at [loop_end] of [p]:
 * that back edge's cache, or for a function trace the function's own. */
static uint32_t *root_word(const VmProto *p, uint32_t loop_end)
{
    VmProto *q = (VmProto *)p; /* the words are the one part of code that changes */
    return loop_end == JIT_FUNCTION_ROOT ? &q->jit_entry : &q->code[loop_end].cache;
}

/* A loop or function the JIT gives up on: never counted or recorded
 * again, and its back edge (or call) no longer even asks. */
static void blacklist(const VmProto *p, uint32_t loop_end)
{
    *root_word(p, loop_end) = JIT_CACHE_NEVER;
    if (loop_end != JIT_FUNCTION_ROOT)
        pvmV_back_edge_cold(&((VmProto *)p)->code[loop_end]);
}

/* -j v's line for a recording that stopped, or a side trace not tried:
 * where, from which exit (a side trace's), why, and what follows. */
static void log_abort(PvmJitState *j, const VmProto *p, uint32_t pc, int32_t parent, uint32_t exitno,
                      const char *why, const char *detail, const char *tail)
{
    char loc[256], side[64] = "";
    where(p, pc, loc, sizeof loc);
    if (parent >= 0)
        snprintf(side, sizeof side, "side of trace %u exit %u: ", (unsigned)parent + 1u, (unsigned)exitno);
    fprintf(jit_log(j), "[jit] abort  %s: %s%s%s%s%s\n", loc, side, why, detail ? " " : "",
            detail ? detail : "", tail);
}

static void record_failed(PvmJitState *j, const VmProto *p, uint32_t loop_end, const char *why,
                          const char *detail)
{
    uint32_t *word = root_word(p, loop_end);
    uint32_t tries = tries_of(*word) + 1u;
    j->aborted++;
    *word = tries << JIT_TRIES_SHIFT;
    if (tries >= JIT_MAX_TRIES) {
        blacklist(p, loop_end);
        j->blacklisted++;
    }
    if (j->opt.verbose)
        log_abort(j, j->rec.fn, j->rec.pc, -1, 0, why, detail,
                  *word == JIT_CACHE_NEVER ? " (blacklisted)" : "");
}

static void dump_trace(PvmJitState *j, const JitTrace *t, uint32_t n)
{
    FILE *out = jit_log(j);
    fprintf(out, "---- trace %u IR\n", (unsigned)n);
    pvmJ_ir_dump(&t->ir, out);
    fprintf(out, "---- trace %u snapshots\n", (unsigned)n);
    for (uint32_t s = 0; s < t->snaps.nsnaps; s++) {
        const JitSnap *sn = &t->snaps.snaps[s];
        fprintf(out, "#%-3u pc %-5u before %04u:", (unsigned)s, (unsigned)sn->pc, (unsigned)(sn->ref - JIT_REF_BIAS));
        for (uint32_t e = 0; e < sn->nentries; e++) {
            const JitSnapEntry *en = &t->snaps.map[sn->map_start + e];
            fprintf(out, " [%u]=", (unsigned)en->slot);
            if (pvmJ_ref_is_const(en->ref))
                fputs("k", out);
            else
                fprintf(out, "%04u", (unsigned)(en->ref - JIT_REF_BIAS));
        }
        for (uint32_t k = 0; k < sn->nframes; k++) { /* inlined calls: where each frame starts */
            const JitSnapFrame *fr = &t->snaps.frames[sn->frame_start + k];
            fprintf(out, " {base %u ret %u}", (unsigned)fr->base, (unsigned)fr->ret);
        }
        fputc('\n', out);
    }
    fprintf(out, "---- trace %u mcode %zu bytes at %p\n", (unsigned)n, t->code_size, (void *)t->entry);
    const uint8_t *code = (const uint8_t *)(uintptr_t)t->entry;
    if (j->opt.disassemble) {
        j->opt.disassemble(out, code, t->code_size);
        return;
    }
    for (size_t i = 0; i < t->code_size; i++)
        fprintf(out, "%02x%s", code[i], (i % 32 == 31 || i + 1 == t->code_size) ? "\n" : " ");
}

/* The value area, after the word traces poll for an interrupt (the VM's
 * interrupt_mirror, zeroed by the allocator). Published before it is
 * brought up to date, and only ever set to 1 here, so an interrupt raised
 * meanwhile is never lost. */
static uint64_t *make_value_area(VM *vm)
{
    uint64_t *block = GC_MALLOC_UNCOLLECTABLE((PVMJ_VALS_ALL + 1) * sizeof *block);
    if (!block)
        return NULL;
    volatile sig_atomic_t *mirror = (volatile sig_atomic_t *)(block + 1) + PVMJ_VALS_POLL / (int)sizeof(sig_atomic_t);
    __atomic_store_n(&vm->interrupt_mirror, mirror, __ATOMIC_RELEASE);
    if (vm->interrupt)
        *mirror = 1;
    return block + 1;
}

/* The code areas and the value area are made with the first trace: a VM
 * whose loops never compile (or that has none) pays nothing for them, and
 * its collections do not scan a value area it never uses. */
static bool ensure_areas(VM *vm, PvmJitState *j)
{
    if (!j->mcode)
        j->mcode = pvmJ_mcode_new(0, j->opt.max_mcode);
    if (!j->vals)
        j->vals = make_value_area(vm);
    return j->mcode && j->vals;
}

/* The fuel one trip round the trace takes: its first stretch's CHARGEs
 * (the loop's back edge, the calls it inlined and the back edges it
 * unrolled). */
static uint64_t trip_charge(const JitIR *ir)
{
    uint64_t fuel = 0;
    for (uint32_t i = 0; i < ir->nins && ir->ins[i].op != JIT_IR_LOOP; i++)
        if (ir->ins[i].op == JIT_IR_CHARGE)
            fuel += ir->ins[i].a;
    return fuel ? fuel : 1;
}

/* Why a finished recording was not installed. */
typedef enum { JIT_FAIL_BACKEND, JIT_FAIL_FULL, JIT_FAIL_TOO_BIG } JitFail;

static const char *fail_message(JitFail why)
{
    return why == JIT_FAIL_FULL      ? "trace or machine code limit"
           : why == JIT_FAIL_TOO_BIG ? "more machine code than the limit"
                                     : "NYI: backend";
}

/* Assembles the finished recording into a new trace; NULL (nothing
 * installed) when the backend cannot, memory ran out or the caps on traces
 * and machine code stand in the way, and then [*why] says which. */
/* Whether every run of the trace that gets to its end writes its last
 * snapshot: it writes the frame back itself (LOOP #0), or it ends in an
 * EXIT (into another trace, a function trace's recursion). A map sunk
 * there would be made on every such run, by the runner: not sunk. */
static bool ends_writing_frame(const JitIR *ir)
{
    if (ir->nins > 0 && ir->ins[ir->nins - 1].op == JIT_IR_EXIT)
        return true;
    for (uint32_t i = 0; i < ir->nins; i++)
        if (ir->ins[i].op == JIT_IR_LOOP && ir->ins[i].a == 0)
            return true;
    return false;
}

static JitTrace *compile(VM *vm, PvmJitState *j, JitFail *why)
{
    JitRecorder *r = &j->rec;
    *why = j->ntraces == j->opt.max_traces ? JIT_FAIL_FULL : JIT_FAIL_BACKEND;
    /* a global the recording took as a constant may have been set since:
     * the next entry into machine code drops every trace (drop_if_rebound) */
    if (*why == JIT_FAIL_FULL || vm->globals_rebound != j->rebound_seen || !ensure_areas(vm, j))
        return NULL;
    JitTrace *t = calloc(1, sizeof *t);
    PvmjAsm a;
    pvmJ_asm_init(&a, 0);
    void *code = NULL;
    JitAsmOut out = { 0 };
    if (t && !pvmJ_sink_pass(&r->ir, &r->snaps, ends_writing_frame(&r->ir))) {
        free(t);
        t = NULL;
    }
    if (t) {
        JitAsmIn in = { vm, &r->ir, &r->snaps, j->ntraces << JIT_EXIT_SHIFT, j->opt.stats ? &t->trips : NULL,
                        j->opt.share_exits, &t->ir, &t->snaps, j->vals };
        if (pvmJ_assemble(&a, &in, &out)) {
            code = pvmJ_mcode_place(j->mcode, &a);
            if (!code && pvmJ_mcode_full(j->mcode, a.len))
                *why = JIT_FAIL_FULL;
            else if (!code && a.len > j->mcode->limit)
                *why = JIT_FAIL_TOO_BIG;
        }
    }
    if (!code) {
        free(out.exit_jumps);
        free(out.exit_regs);
        free(out.where);
        free(t);
        pvmJ_asm_free(&a);
        return NULL;
    }
    t->entry = (JitEntry)(uintptr_t)code;
    t->body = (uint8_t *)code + out.body;
    t->body_typed = out.body_typed ? (uint8_t *)code + out.body_typed : NULL;
    t->typed_slot = out.typed_slot;
    t->typed_type = out.typed_type;
    t->body_loaded = out.body_loaded ? (uint8_t *)code + out.body_loaded : NULL;
    t->loaded_slot = out.loaded_slot;
    t->loaded_reg = out.loaded_reg;
    t->exit_jumps = out.exit_jumps;
    t->exit_regs = out.exit_regs;
    t->where = out.where;
    t->code_size = a.len;
    pvmJ_asm_free(&a);
    t->ir = r->ir;
    t->snaps = r->snaps;
    pvmJ_ir_init(&r->ir);    /* ownership moved to the trace */
    pvmJ_snap_init(&r->snaps);
    t->charge = trip_charge(&t->ir);
    t->proto = r->proto;
    t->start = r->start;
    t->loop_end = r->loop_end;
    t->side = r->side;
    t->func = r->func;
    t->link_entry = r->link_entry;
    t->links = r->side || r->func || r->links;
    t->link_snap = t->snaps.nsnaps - 1;
    t->link_proto = r->fn;
    t->link_jmp = (r->side || r->func) && !r->links ? r->pc : UINT32_MAX;
    t->inlined = r->inlined;
    t->unrolled = r->unrolled;
    j->traces[j->ntraces++] = t;
    return t;
}

static void announce(PvmJitState *j, const JitTrace *t, uint32_t n)
{
    char loc[256], calls[96] = "";
    where(t->proto, t->start, loc, sizeof loc);
    int used = 0;
    if (t->inlined)
        used = snprintf(calls, sizeof calls, ", %u call%s inlined", (unsigned)t->inlined,
                        t->inlined == 1 ? "" : "s");
    if (t->unrolled)
        snprintf(calls + used, sizeof calls - (size_t)used, ", %u back edge%s unrolled", (unsigned)t->unrolled,
                 t->unrolled == 1 ? "" : "s");
    if (j->opt.verbose && t->side)
        fprintf(jit_log(j), "[jit] trace %u %s: side of trace %u exit %u, %u IR, %u snapshots, %zu bytes%s\n",
                (unsigned)n, loc, (unsigned)(t->parent + 1), (unsigned)t->exitno, (unsigned)t->ir.nins,
                (unsigned)t->snaps.nsnaps, t->code_size, calls);
    else if (j->opt.verbose)
        fprintf(jit_log(j), "[jit] trace %u %s: %s, %u IR, %u snapshots, %zu bytes%s\n", (unsigned)n, loc,
                t->func ? "function" : "loop", (unsigned)t->ir.nins, (unsigned)t->snaps.nsnaps, t->code_size, calls);
    if (j->perf_map) {
        fprintf(j->perf_map, "%" PRIxPTR " %zx pvm-trace-%u %s\n", (uintptr_t)t->entry, t->code_size,
                (unsigned)n, loc);
        fflush(j->perf_map);
    }
    if (j->opt.dump)
        dump_trace(j, t, n);
}

/* Every trace and its code go, and their loops are counted and recorded
 * afresh (as LuaJIT flushes). No machine code is running: recordings end
 * in the interpreter. */
static void drop_all(VM *vm, PvmJitState *j)
{
    size_t code = 0;
    for (uint32_t i = 0; i < j->ntraces; i++) {
        JitTrace *t = j->traces[i];
        uint32_t *word = t->side ? NULL : root_word(t->proto, t->loop_end);
        if (word && *word == (JIT_CACHE_TRACE | i))
            *word = 0; /* no count, no tries */
        code += t->code_size;
        trace_free(t);
    }
    if (j->opt.verbose)
        fprintf(jit_log(j), "[jit] flush: %u traces, %zu bytes of machine code\n", (unsigned)j->ntraces, code);
    j->ntraces = 0;
    vm->stitch_ip = NULL; /* the stitch exit it was after is gone */
    pvmJ_mcode_free(j->mcode);
    j->mcode = NULL; /* ensure_areas maps a new pool */
}

/* The caps on traces or machine code were reached. */
static void flush(VM *vm, PvmJitState *j)
{
    drop_all(vm, j);
    j->flushes++;
}

/* The host set a global that traces may hold as a constant (load.c,
 * "bound once"; vm/api/api.c, pvm_set_global): every trace goes, as a
 * flush for the caps does. Called where the interpreter is about to
 * enter machine code, so none is running. */
static void drop_if_rebound(VM *vm, PvmJitState *j)
{
    if (vm->globals_rebound == j->rebound_seen)
        return;
    if (j->ntraces > 0) {
        drop_all(vm, j);
        j->rebound_flushes++;
    }
    j->rebound_seen = vm->globals_rebound;
}

/* A root trace: a loop's gets the loop pass and runs from its back edge;
 * a function's, which always ends in an EXIT, runs from its entry. */
static void root_done(VM *vm, PvmJitState *j)
{
    JitRecorder *r = &j->rec;
    if (!r->links && !r->func && !pvmJ_loop_optimize(&r->ir, &r->snaps))
        pvmJ_ir_append(&r->ir, JIT_IR_LOOP, JIT_T_VOID, 0, 0);
    JitFail why;
    JitTrace *t = compile(vm, j, &why);
    if (!t && why == JIT_FAIL_FULL) {
        flush(vm, j);
        t = compile(vm, j, &why);
    }
    if (!t) {
        j->not_assembled++;
        record_failed(j, r->proto, r->loop_end, fail_message(why), NULL);
        return;
    }
    *root_word(r->proto, r->loop_end) = JIT_CACHE_TRACE | (j->ntraces - 1u);
    announce(j, t, j->ntraces);
}

/* A side trace: from now on its parent's exit runs it. */
static void side_end(VM *vm, PvmJitState *j)
{
    JitRecorder *r = &j->rec;
    JitTrace *parent = j->traces[j->side_parent];
    JitSnap *exit = &parent->snaps.snaps[j->side_exit];
    JitFail why = JIT_FAIL_BACKEND;
    JitTrace *t = r->status == JIT_REC_DONE ? compile(vm, j, &why) : NULL;
    if (!t && why == JIT_FAIL_FULL) { /* its parent goes with the rest */
        j->not_assembled++;
        flush(vm, j);
        return;
    }
    if (!t) {
        exit->side_tries++;
        j->aborted++;
        if (r->status == JIT_REC_DONE)
            j->not_assembled++;
        else
            j->aborts_by[r->abort]++;
        if (j->opt.verbose)
            log_abort(j, r->fn, r->pc, (int32_t)j->side_parent, j->side_exit,
                      r->status == JIT_REC_DONE ? fail_message(why) : pvmJ_abort_messages[r->abort],
                      r->abort_detail, "");
        return;
    }
    t->parent = j->side_parent;
    t->exitno = j->side_exit;
    exit->side = j->ntraces;
    announce(j, t, j->ntraces);
}

static void record_end(VM *vm, PvmJitState *j)
{
    JitRecorder *r = &j->rec;
    if (r->side) {
        side_end(vm, j);
    } else {
        if (r->status == JIT_REC_DONE) {
            root_done(vm, j);
        } else {
            j->aborts_by[r->abort]++;
            record_failed(j, r->proto, r->loop_end, pvmJ_abort_messages[r->abort], r->abort_detail);
        }
    }
    pvmJ_record_free(r);
    j->recording = false;
}

/* -j trace=N: only the Nth recording (root or side) is made. */
static bool attempt_allowed(PvmJitState *j)
{
    j->attempts++;
    return j->opt.only_trace <= 0 || j->attempts == (uint32_t)j->opt.only_trace;
}

/* Starts recording the root at [loop_end] of the function of frame [f]:
 * the loop whose back edge that is, or the function from its entry. */
static void record_begin(VM *vm, PvmJitState *j, VmFrame *f, uint32_t loop_end)
{
    const VmProto *p = f->closure->proto;
    uint32_t *word = root_word(p, loop_end);
    if (!attempt_allowed(j)) {
        blacklist(p, loop_end);
        return;
    }
    /* a recording that aborted may have failed for what it unrolled */
    uint32_t unroll = tries_of(*word) == 0 ? JIT_MAX_UNROLL : 0;
    bool started = loop_end == JIT_FUNCTION_ROOT ? pvmJ_record_start_function(&j->rec, vm, f, unroll)
                                                 : pvmJ_record_start(&j->rec, vm, f, &p->code[loop_end], unroll);
    if (!started) {
        *word = tries_of(*word) << JIT_TRIES_SHIFT;
        return;
    }
    j->recording = true;
}

/* An int comparison guard (the U forms, "not" the opposite order, are
 * plain orders on ints, which have no NaN). */
static bool is_int_order(const JitIns *in)
{
    return in->type == JIT_T_INT && in->op >= JIT_IR_LT && in->op <= JIT_IR_UGT;
}

/* The exit's guard, when it compares an int with a constant: the exit is
 * taken only when it fails, so on entry the value satisfies its negation,
 * in every slot that holds it then. That is a slot the exit writes with
 * it, and the slot it was loaded from if the exit writes no other value
 * there (slots are written at exits only), while the trace is still in
 * the frame it was entered in. */
static void tell_failed_guard(JitRecorder *rec, const JitTrace *t, const JitSnap *exit)
{
    uint32_t at = exit->ref - JIT_REF_BIAS;
    if (at >= t->ir.nins)
        return;
    const JitIns *g = &t->ir.ins[at];
    if (!is_int_order(g) || pvmJ_ref_is_const(g->a) || !pvmJ_ref_is_const(g->b) ||
        pvmJ_ir_at(&t->ir, g->b)->op != JIT_IR_KINT)
        return;
    for (uint32_t k = 0; k < at; k++) /* after a RETF the slots are the caller's */
        if (t->ir.ins[k].op == JIT_IR_RETF)
            return;
    JitOp holds = pvmJ_guard_negation((JitOp)g->op);
    int64_t k = pvmJ_k_int_value(&t->ir, g->b);
    const JitIns *v = pvmJ_ir_at(&t->ir, g->a);
    bool home_kept = v->op == JIT_IR_SLOAD;
    for (uint32_t e = 0; e < exit->nentries; e++) {
        const JitSnapEntry *se = &t->snaps.map[exit->map_start + e];
        if (se->ref == g->a)
            pvmJ_record_implied(rec, se->slot, holds, k);
        else if (home_kept && se->slot == v->a)
            home_kept = false;
    }
    if (home_kept)
        pvmJ_record_implied(rec, v->a, holds, k);
}

/* A side trace runs right after its parent's exit, and only then: the
 * slots the exit wrote have the types of its snapshot, and the slots the
 * parent loaded before the exit's snapshot and left alone still have the
 * types its loads checked (the frame is written at exits only; a load at
 * or after the snapshot may be the very guard that failed; after a RETF
 * the slots are another frame's, so then only the snapshot counts). */
static void tell_known_types(JitRecorder *rec, const JitTrace *t, const JitSnap *exit)
{
    uint32_t before = exit->ref - JIT_REF_BIAS;
    bool returned = false;
    for (uint32_t k = 0; k < t->ir.nins; k++)
        returned |= t->ir.ins[k].op == JIT_IR_RETF;
    for (uint32_t k = 0; k < before && !returned; k++) {
        const JitIns *in = &t->ir.ins[k];
        if (in->op == JIT_IR_SLOAD)
            pvmJ_record_known_type(rec, in->a, (JitType)in->type);
    }
    for (uint32_t e = 0; e < exit->nentries; e++) {
        const JitSnapEntry *se = &t->snaps.map[exit->map_start + e];
        if (se->ref == JIT_REF_NONE)
            continue;
        JitType type = (JitType)pvmJ_ir_at(&t->ir, se->ref)->type;
        pvmJ_record_known_type(rec, se->slot, type);
        if (pvmJ_ref_is_const(se->ref) && type == JIT_T_INT)
            pvmJ_record_known_int(rec, se->slot);
    }
    tell_failed_guard(rec, t, exit);
}

/* The root trace of the tree [t] belongs to. */
static JitTrace *tree_root(const PvmJitState *j, JitTrace *t)
{
    while (t->side)
        t = j->traces[t->parent];
    return t;
}

/* Whether [exit] has been taken often enough to grow a side trace, and
 * may. */
static bool side_wanted(const PvmJitState *j, const JitSnap *exit)
{
    return !j->recording && !exit->side && exit->side_tries < JIT_MAX_SIDE_TRIES && exit->exits >= JIT_HOT_EXIT &&
           !exit->ccall;
}

/* Starts recording the side trace of exit [s] of trace [ti], from
 * instruction [pc] of frame [f]: where the interpreter resumes, or for a
 * stitch exit, after the call it has made. */
static void record_side_begin(VM *vm, PvmJitState *j, uint32_t ti, uint32_t s, VmFrame *f, uint32_t pc)
{
    JitTrace *t = j->traces[ti];
    JitSnap *exit = &t->snaps.snaps[s];
    if (!attempt_allowed(j)) {
        exit->side_tries = JIT_MAX_SIDE_TRIES;
        return;
    }
    const JitTrace *root = tree_root(j, t);
    uint32_t unroll = exit->side_tries == 0 ? JIT_MAX_UNROLL : 0;
    if (!pvmJ_record_start_side(&j->rec, vm, f, pc, unroll, root->proto, root->start)) {
        exit->side_tries++;
        return;
    }
    /* From inside inlined calls the exit has pushed their frames, and the
     * side trace runs in the innermost: its slots are not the snapshot's.
     * After a stitched call, they are whatever the call left. */
    if (exit->nframes == 0 && !exit->stitch)
        tell_known_types(&j->rec, t, exit);
    j->recording = true;
    j->side_parent = ti;
    j->side_exit = s;
}

/* An exit taken often enough grows a side trace, recorded from where the
 * interpreter resumes. */
static void maybe_record_side(VM *vm, PvmJitState *j, uint32_t ti, uint32_t s, VmFrame *f, uint32_t pc)
{
    JitTrace *t = j->traces[ti];
    if (side_wanted(j, &t->snaps.snaps[s]) && !(t->links && s == t->link_snap))
        record_side_begin(vm, j, ti, s, f, pc);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void demote(PvmJitState *j, JitTrace *t)
{
    blacklist(t->proto, t->loop_end);
    j->demoted++;
    if (j->opt.verbose) {
        char loc[256];
        where(t->proto, t->start, loc, sizeof loc);
        fprintf(jit_log(j), "[jit] demote %s: %.1f trips per entry\n", loc,
                (double)t->run_fuel / (double)t->charge / (double)t->entered);
    }
}

/* The root trace whose loop starts at [pc] of [p], as an index, or -1. */
static int32_t root_at(const PvmJitState *j, const VmProto *p, uint32_t pc)
{
    for (uint32_t i = 0; i < j->ntraces; i++) {
        const JitTrace *t = j->traces[i];
        if (!t->side && !t->func && t->proto == p && t->start == pc &&
            p->code[t->loop_end].cache == (JIT_CACHE_TRACE | i))
            return (int32_t)i;
    }
    return -1;
}

static bool has_trace(uint32_t cache)
{
    return cache != UINT32_MAX && (cache & JIT_CACHE_TRACE);
}

/* The function trace of [p], as an index, or -1. */
static int32_t function_trace(const VmProto *p)
{
    return has_trace(p->jit_entry) ? (int32_t)(p->jit_entry & ~JIT_CACHE_TRACE) : -1;
}

/* Where trace [ti] goes after leaving through snapshot [s]: its side
 * trace, the root trace at the loop header a side trace reached, or -1
 * for the interpreter. */
static int32_t next_trace(const PvmJitState *j, uint32_t ti, uint32_t s, uint32_t pc)
{
    const JitTrace *t = j->traces[ti];
    const JitSnap *exit = &t->snaps.snaps[s];
    if (exit->stitch) /* the interpreter makes the call first */
        return -1;
    if (exit->side)
        return (int32_t)exit->side - 1;
    if (t->links && s == t->link_snap)
        return t->link_entry ? function_trace(t->link_proto) : root_at(j, t->link_proto, pc);
    return -1;
}

/* One more trip of the loop whose back edge is at [loop_end] in the
 * function of frame [f], or one more call of that function
 * (JIT_FUNCTION_ROOT): a hot one is recorded. */
static void count_trip(VM *vm, PvmJitState *j, VmFrame *f, uint32_t loop_end)
{
    uint32_t *word = root_word(f->closure->proto, loop_end);
    if (*word == JIT_CACHE_NEVER || j->recording || has_trace(*word))
        return;
    uint32_t tries = tries_of(*word);
    uint32_t count = (*word == UINT32_MAX ? 0 : *word & JIT_COUNT_MASK) + 1u;
    *word = tries << JIT_TRIES_SHIFT | count;
    /* As LuaJIT counts calls at half a loop trip's weight: a loop calling
     * a function is hot first, and inlines it. */
    uint32_t hot = threshold(j, tries) * (loop_end == JIT_FUNCTION_ROOT ? 2u : 1u);
    if (count >= hot)
        record_begin(vm, j, f, loop_end);
}

/* Slot [slot] of the frame trace [from]'s exit [s] goes on in (the
 * innermost it pushes, if any), numbered as the exit's snapshot numbers
 * its slots: from the frame below the ones it pushes. */
static uint32_t exit_slot(const JitTrace *from, uint32_t s, uint32_t slot)
{
    const JitSnap *sn = &from->snaps.snaps[s];
    return sn->nframes > 0 ? slot + from->snaps.frames[sn->frame_start + sn->nframes - 1u].base : slot;
}

/* The entry of exit [s]'s snapshot that writes [slot] (exit_slot's
 * numbering), or NULL. */
static const JitSnapEntry *exit_entry(const JitTrace *from, uint32_t s, uint32_t slot)
{
    const JitSnap *sn = &from->snaps.snaps[s];
    for (uint32_t i = 0; i < sn->nentries; i++)
        if (from->snaps.map[sn->map_start + i].slot == slot)
            return &from->snaps.map[sn->map_start + i];
    return NULL;
}

/* Whether exit [s] of [from] leaves the slot [to]'s first load guards
 * holding a value of the type it guards: the exit writes every value of
 * its snapshot, tag and all. Then the link skips that guard. */
static bool exit_types_entry(const JitTrace *from, uint32_t s, const JitTrace *to)
{
    if (!to->body_typed)
        return false;
    const JitSnapEntry *e = exit_entry(from, s, exit_slot(from, s, to->typed_slot));
    return e && e->ref != JIT_REF_NONE && pvmJ_ir_at(&from->ir, e->ref)->type == to->typed_type;
}

/* Whether exit [s] of [from] leaves the value of the slot [to]'s first
 * load reads in the very register that load fills (jit/assemble.h,
 * exit_regs): in fib, n - 1 the call's exit stores for the callee, and n
 * itself where `n < 2` fails. */
static bool exit_passes_load(const JitTrace *from, uint32_t s, const JitTrace *to)
{
    int r = pvmJ_exit_reg(to->loaded_reg);
    if (!to->body_loaded || r < 0)
        return false;
    uint32_t slot = exit_slot(from, s, to->loaded_slot);
    const JitSnapEntry *e = exit_entry(from, s, slot);
    if (e) /* a value the exit stores */
        return e->ref != JIT_REF_NONE && !pvmJ_ref_is_const(e->ref) && !pvmJ_sunk(&from->ir, e->ref) &&
               from->where[e->ref - JIT_REF_BIAS] == to->loaded_reg;
    return from->exit_regs[s * JIT_EXIT_REGS + (uint32_t)r] == slot; /* a load it left */
}

/* Where trace [from]'s exit [s] goes on into trace [to]. A first load
 * with a type guard: past the load when the exit wrote the slot with its
 * type and left it in the load's register, past the guard when it wrote
 * it with its type, else at the body. A first load without one (a side
 * trace, entered from its parent's exit only): past it when the exit
 * leaves its value in its register. */
static uint8_t *link_target(const JitTrace *from, uint32_t s, const JitTrace *to)
{
    bool passes = exit_passes_load(from, s, to);
    if (!to->body_typed)
        return passes ? to->body_loaded : to->body;
    if (!exit_types_entry(from, s, to))
        return to->body;
    return passes ? to->body_loaded : to->body_typed;
}

/* From now on trace [from]'s exit [s] goes straight on into trace [to]:
 * the exit has written the frame (and pushed those of inlined calls it
 * was inside), which [to] starts by reading. */
static void link_exit(PvmJitState *j, JitTrace *from, uint32_t s, const JitTrace *to)
{
    uint8_t *field = (uint8_t *)(uintptr_t)from->entry + from->exit_jumps[s];
    uint8_t *target = link_target(from, s, to);
    if (pvmJ_mcode_patch_rel32(j->mcode, field, target))
        j->links++;
}

/* The error of a C call a trace made itself (VmCCall), raised as the
 * binding would have raised it: the exit after the call has written the
 * frame as the interpreter has it during the call (its ip past the call),
 * so the error and its stack trace are the interpreter's. */
static void ccall_raise(VM *vm, PvmJitState *j, JitTrace *root, int64_t fuel0, uint64_t t0)
{
    const VmCCall *c = vm->ccall_failed;
    vm->ccall_failed = NULL;
    if (j->opt.stats)
        j->trace_ns += now_ns() - t0;
    root->run_fuel += (uint64_t)(fuel0 - vm->fuel);
    c->raise(vm, c);
}

/* The trace left through stitch exit [s] of trace [ti], in frame [f]
 * at the call: when the call returns, the interpreter asks pvmJ_stitch. */
static void stitch_pending(VM *vm, PvmJitState *j, uint32_t ti, uint32_t s, const VmFrame *f)
{
    vm->stitch_ip = f->ip + 1;
    j->stitch_frames = vm->nframes;
    j->stitch_trace = ti;
    j->stitch_snap = s;
}

/* Runs trace [ti] in frame [f], and the traces its exits lead to, until
 * one returns to the interpreter; resumes there. Every trace passes a
 * CHARGE each trip, so the budget and interrupts hold in this loop. [ti]
 * is a root entered at its loop's back edge or function's entry, or, when
 * [stitched], the side trace that goes on after a stitched call; its
 * runs count for its tree's root, but only entries from the root's own
 * hook count towards demoting it (a stitched loop comes back through the
 * interpreter every trip, by design). */
static const VmInsn *run_traces(VM *vm, PvmJitState *j, uint32_t ti, VmFrame *f, bool stitched)
{
    JitTrace *root = tree_root(j, j->traces[ti]);
    uint64_t t0 = j->opt.stats ? now_ns() : 0;
    int64_t fuel0 = vm->fuel;
    if (stitched)
        j->stitches++;
    else
        root->entered++;
    j->entries++;
    for (;;) {
        uint32_t code = j->traces[ti]->entry(f->base, j->vals);
        f = &vm->frames[vm->nframes - 1]; /* traces may have returned (RETF) or called */
        ti = code >> JIT_EXIT_SHIFT;
        uint32_t s = code & JIT_EXIT_MASK & ~PVMJ_EXIT_SINK_PENDING;
        bool unmade = (code & PVMJ_EXIT_SINK_PENDING) != 0;
        JitTrace *t = j->traces[ti];
        JitSnap *exit = &t->snaps.snaps[s];
        j->exits++;
        exit->exits++;
        uint32_t pc = exit->pc;
        /* The exit pushed the frames of the calls it was inside, all but
         * the innermost's ip set; its slots count from the frame below. */
        vm->top = vm->frames[vm->nframes - 1 - exit->nframes].base + exit->nslots;
        f->ip = &f->closure->proto->code[pc];
        if (unmade) /* the objects the trace did not make, made now */
            pvmJ_sink_restore(vm, &t->ir, &t->snaps, s, vm->frames[vm->nframes - 1 - exit->nframes].base,
                              (const Value *)(j->vals + PVMJ_SINK_BUF));
        if (vm->ccall_failed) /* a callback failed in a C call the trace made */
            ccall_raise(vm, j, root, fuel0, t0);
        int32_t next = next_trace(j, ti, s, pc);
        if (next >= 0) {
            link_exit(j, t, s, j->traces[next]);
            ti = (uint32_t)next;
            continue;
        }
        if (j->opt.stats)
            j->trace_ns += now_ns() - t0;
        root->run_fuel += (uint64_t)(fuel0 - vm->fuel);
        if (!stitched && root->entered % JIT_CHECK_ENTRIES == 0 &&
            root->run_fuel < root->entered * JIT_MIN_TRIPS * root->charge)
            demote(j, root);
        if (exit->stitch)
            stitch_pending(vm, j, ti, s, f);
        else
            maybe_record_side(vm, j, ti, s, f, pc);
        /* A side trace went round an outer loop that has no trace yet: that
         * loop's back edge ran in machine code, so it is counted here. */
        if (t->links && s == t->link_snap && t->link_jmp != UINT32_MAX)
            count_trip(vm, j, f, t->link_jmp);
        return f->ip;
    }
}

const VmInsn *pvmJ_back_edge(VM *vm, VmFrame *f, const VmInsn *jmp)
{
    PvmJitState *j = vm->jit;
    const VmProto *p = f->closure->proto;
    const VmInsn *target = &p->code[jmp->arg];
    if (vm->ccalls_in_trace) /* in a callback of a trace's C call: the interpreter's */
        return target;
    if (!j->recording)
        drop_if_rebound(vm, j);
    if (has_trace(jmp->cache) && !j->recording)
        return run_traces(vm, j, jmp->cache & ~JIT_CACHE_TRACE, f, false);
    count_trip(vm, j, f, (uint32_t)(jmp - p->code));
    return target;
}

const VmInsn *pvmJ_function_entry(VM *vm, VmFrame *f)
{
    PvmJitState *j = vm->jit;
    const VmProto *p = f->closure->proto;
    if (vm->ccalls_in_trace || j->recording)
        return p->code;
    drop_if_rebound(vm, j);
    int32_t ti = function_trace(p);
    if (ti >= 0)
        return run_traces(vm, j, (uint32_t)ti, f, false);
    count_trip(vm, j, f, JIT_FUNCTION_ROOT);
    return p->code;
}

const VmInsn *pvmJ_stitch(VM *vm, VmFrame *f, const VmInsn *ip)
{
    PvmJitState *j = vm->jit;
    vm->stitch_ip = NULL;
    if (vm->nframes != j->stitch_frames || vm->ccalls_in_trace || j->recording)
        return ip;
    drop_if_rebound(vm, j);
    if (j->ntraces == 0) /* the trace the stitch was in is gone */
        return ip;
    uint32_t ti = j->stitch_trace, s = j->stitch_snap;
    JitSnap *exit = &j->traces[ti]->snaps.snaps[s];
    if (exit->side)
        return run_traces(vm, j, exit->side - 1, f, true);
    if (side_wanted(j, exit))
        record_side_begin(vm, j, ti, s, f, exit->pc + 1);
    return ip;
}

bool pvmJ_recording(const VM *vm)
{
    return vm->jit && vm->jit->recording;
}

bool pvmJ_record_step(VM *vm, VmFrame *f, const VmInsn *ip)
{
    PvmJitState *j = vm->jit;
    if (!j->recording)
        return false;
    JitRecorder *r = &j->rec;
    /* An inner loop that has a trace, in the loop's frame or in a callee
     * the recording inlined: this one ends by going on in it. */
    bool running = vm->nframes - 1 == r->frame_index + r->depth && f->base == r->base + r->fbase;
    uint32_t pc = running ? (uint32_t)(ip - r->fn->code) : 0;
    bool inner = r->recorded > 0 && running && (r->depth > 0 || (!r->side && pc != r->start)) &&
                 pc < r->fn->ncode && root_at(j, r->fn, pc) >= 0 && !pvmJ_record_unrolls(r, ip);
    /* The entry of a call it inlined, of the function trace's own function
     * or of one already in progress that has a function trace: the
     * recursion goes on in that trace, not in copies of it. */
    bool recursion = r->recorded > 0 && running && r->depth > 0 && pc == 0 &&
                     ((r->func && r->fn == r->proto) || (pvmJ_record_recursive(r) && function_trace(r->fn) >= 0));
    JitRecStatus st = inner || recursion ? pvmJ_record_link(r, ip, recursion) : pvmJ_record_ins(r, vm, f, ip);
    if (st == JIT_REC_GO)
        return true;
    record_end(vm, j);
    return false;
}

void pvmJ_unwind(VM *vm)
{
    PvmJitState *j = vm->jit;
    if (!j)
        return;
    vm->stitch_ip = NULL; /* the call unwound */
    if (!j->recording)
        return;
    pvmJ_record_cancel(&j->rec, JIT_ABORT_ERROR);
    record_end(vm, j);
}

PvmJitCounts pvmJ_counts(const VM *vm)
{
    const PvmJitState *j = vm->jit;
    PvmJitCounts c = { 0 };
    if (j)
        c = (PvmJitCounts){ j->ntraces, j->aborted, j->blacklisted, j->entries };
    return c;
}

void pvmJ_report_stats(VM *vm, FILE *out)
{
    PvmJitState *j = vm->jit;
    if (!j)
        return;
    fprintf(out, "[jit] traces %u, aborted %" PRIu64 ", blacklisted %" PRIu64 ", demoted %" PRIu64
            ", trace entries %" PRIu64 ", exits %" PRIu64 ", linked exits %" PRIu64 ", time in traces %.3f s\n",
            (unsigned)j->ntraces, j->aborted, j->blacklisted, j->demoted, j->entries, j->exits, j->links,
            (double)j->trace_ns / 1e9);
    if (j->flushes)
        fprintf(out, "[jit] flushed %" PRIu64 " times (trace or machine code limit)\n", j->flushes);
    if (j->rebound_flushes)
        fprintf(out, "[jit] flushed %" PRIu64 " times (the host set a global bound once)\n", j->rebound_flushes);
    if (j->stitches)
        fprintf(out, "[jit] stitched calls %" PRIu64 " (machine code went on after a native's call)\n",
                j->stitches);
    /* what stopped recordings, so the NYI list can be watched shrinking */
    for (int a = 0; a < JIT_ABORT__COUNT; a++)
        if (j->aborts_by[a])
            fprintf(out, "[jit] aborted %" PRIu64 " x %s\n", j->aborts_by[a], pvmJ_abort_messages[a]);
    if (j->not_assembled)
        fprintf(out, "[jit] aborted %" PRIu64 " x NYI: backend or trace limit\n", j->not_assembled);
    for (uint32_t i = 0; i < j->ntraces; i++) {
        const JitTrace *t = j->traces[i];
        char loc[256];
        where(t->proto, t->start, loc, sizeof loc);
        fprintf(out, "[jit] trace %u %s: entered %" PRIu64 ", %" PRIu64 " trips\n", (unsigned)(i + 1), loc,
                t->entered, t->trips);
    }
}

#else /* no JIT in this build */

bool pvmJ_attach(VM *vm, const PvmJitOptions *o) { (void)vm; (void)o; return false; }
void pvmJ_detach(VM *vm) { (void)vm; }
const VmInsn *pvmJ_back_edge(VM *vm, VmFrame *f, const VmInsn *jmp)
{
    (void)vm;
    return &f->closure->proto->code[jmp->arg];
}
const VmInsn *pvmJ_function_entry(VM *vm, VmFrame *f)
{
    (void)vm;
    return f->closure->proto->code;
}
const VmInsn *pvmJ_stitch(VM *vm, VmFrame *f, const VmInsn *ip)
{
    (void)f;
    vm->stitch_ip = NULL;
    return ip;
}
bool pvmJ_recording(const VM *vm) { (void)vm; return false; }
bool pvmJ_record_step(VM *vm, VmFrame *f, const VmInsn *ip) { (void)vm; (void)f; (void)ip; return false; }
void pvmJ_unwind(VM *vm) { (void)vm; }
void pvmJ_report_stats(VM *vm, FILE *out) { (void)vm; (void)out; }
PvmJitCounts pvmJ_counts(const VM *vm) { (void)vm; return (PvmJitCounts){ 0 }; }

#endif
