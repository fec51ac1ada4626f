/* The JIT's life cycle per VM: counting loops at their back edges,
 * recording a hot one, compiling and installing the trace, running it and
 * resuming the interpreter from the snapshot of the guard that exited;
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
 * Keeping the penalty in the word itself means two loops never share one. */
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

#define JIT_CACHE_NEVER PVMJ_CACHE_NEVER
#define JIT_CACHE_TRACE 0x80000000u
#define JIT_MAX_TRACES 1000u
#define JIT_MAX_TRIES 4u        /* aborted recordings before a loop is blacklisted */
#define JIT_COUNT_MASK 0xFFFFFFu
#define JIT_TRIES_SHIFT 24
/* A trace entered this often that goes round its loop fewer than
 * JIT_MIN_TRIPS times per entry on average costs more in entering and
 * exiting than it saves: its loop goes back to the interpreter. */
#define JIT_CHECK_ENTRIES 1024u
#define JIT_MIN_TRIPS 4u
#define JIT_MAX_HOT (JIT_COUNT_MASK >> (2u * JIT_MAX_TRIES)) /* so every threshold fits */

typedef struct {
    JitEntry entry;
    size_t code_size;
    JitIR ir;
    JitSnapList snaps;
    const VmProto *proto;
    uint32_t start, loop_end;
    uint64_t entered;
    uint64_t trips;        /* loop iterations run in the trace */
} JitTrace;

struct PvmJitState {
    PvmJitOptions opt;
    PvmjMcode *mcode;
    uint64_t *vals;          /* each IR value while a trace runs; collector-scanned */
    JitTrace *traces[JIT_MAX_TRACES];
    uint32_t ntraces;
    uint32_t attempts;       /* recordings started, for -j trace=N */
    bool recording;
    JitRecorder rec;
    uint64_t aborted, blacklisted, demoted, entries, exits;
    uint64_t trace_ns;
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
    j->mcode = pvmJ_mcode_new(0, 0);
    j->vals = GC_MALLOC_UNCOLLECTABLE(PVMJ_VALS * sizeof *j->vals);
    if (!j->mcode || !j->vals) {
        pvmJ_mcode_free(j->mcode);
        GC_FREE(j->vals);
        free(j);
        return false;
    }
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
    GC_FREE(j->vals);
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

static void record_failed(PvmJitState *j, VmInsn *jmp, const char *why, const char *detail)
{
    uint32_t tries = tries_of(jmp->cache) + 1u;
    j->aborted++;
    jmp->cache = tries << JIT_TRIES_SHIFT;
    if (tries >= JIT_MAX_TRIES) {
        jmp->cache = JIT_CACHE_NEVER;
        j->blacklisted++;
    }
    if (j->opt.verbose) {
        char loc[256];
        where(j->rec.proto, j->rec.pc, loc, sizeof loc);
        fprintf(jit_log(j), "[jit] abort  %s: %s%s%s%s\n", loc, why, detail ? " " : "", detail ? detail : "",
                jmp->cache == JIT_CACHE_NEVER ? " (blacklisted)" : "");
    }
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

/* Compiles the finished recording into trace [jmp] will run. */
static void record_done(VM *vm, PvmJitState *j, VmInsn *jmp)
{
    JitRecorder *r = &j->rec;
    if (j->ntraces == JIT_MAX_TRACES) {
        record_failed(j, jmp, "too many traces", NULL);
        return;
    }
    if (!pvmJ_loop_optimize(&r->ir, &r->snaps))
        pvmJ_ir_append(&r->ir, JIT_IR_LOOP, JIT_T_VOID, 0, 0);
    JitTrace *t = calloc(1, sizeof *t);
    PvmjAsm a;
    pvmJ_asm_init(&a, 0);
    void *code = NULL;
    if (t && pvmJ_assemble(&a, vm, &r->ir, &r->snaps, &t->trips))
        code = pvmJ_mcode_place(j->mcode, &a);
    if (!code) {
        free(t);
        pvmJ_asm_free(&a);
        record_failed(j, jmp, "NYI: backend", NULL);
        return;
    }
    t->entry = (JitEntry)(uintptr_t)code;
    t->code_size = a.len;
    pvmJ_asm_free(&a);
    t->ir = r->ir;
    t->snaps = r->snaps;
    pvmJ_ir_init(&r->ir);    /* ownership moved to the trace */
    pvmJ_snap_init(&r->snaps);
    t->proto = r->proto;
    t->start = r->start;
    t->loop_end = r->loop_end;
    uint32_t n = j->ntraces;
    j->traces[j->ntraces++] = t;
    jmp->cache = JIT_CACHE_TRACE | n;
    char loc[256];
    where(t->proto, t->start, loc, sizeof loc);
    if (j->opt.verbose)
        fprintf(jit_log(j), "[jit] trace %u %s: loop, %u IR, %u snapshots, %zu bytes\n", (unsigned)(n + 1), loc,
                (unsigned)t->ir.nins, (unsigned)t->snaps.nsnaps, t->code_size);
    if (j->perf_map) {
        fprintf(j->perf_map, "%" PRIxPTR " %zx pvm-trace-%u %s\n", (uintptr_t)code, t->code_size, (unsigned)(n + 1), loc);
        fflush(j->perf_map);
    }
    if (j->opt.dump)
        dump_trace(j, t, n + 1);
}

static void record_end(VM *vm, PvmJitState *j)
{
    JitRecorder *r = &j->rec;
    VmInsn *jmp = &((VmProto *)r->proto)->code[r->loop_end];
    if (r->status == JIT_REC_DONE)
        record_done(vm, j, jmp);
    else
        record_failed(j, jmp, pvmJ_abort_messages[r->abort], r->abort_detail);
    pvmJ_record_free(r);
    j->recording = false;
}

static void record_begin(VM *vm, PvmJitState *j, VmFrame *f, VmInsn *jmp)
{
    j->attempts++;
    if (j->opt.only_trace > 0 && j->attempts != (uint32_t)j->opt.only_trace) {
        jmp->cache = JIT_CACHE_NEVER;
        return;
    }
    if (!pvmJ_record_start(&j->rec, vm, f, jmp)) {
        jmp->cache = tries_of(jmp->cache) << JIT_TRIES_SHIFT;
        return;
    }
    j->recording = true;
}

static uint64_t ref_bits(void *ctx, JitRef ref)
{
    const uint64_t *vals = ctx;
    return vals[ref - JIT_REF_BIAS];
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void demote(PvmJitState *j, JitTrace *t)
{
    ((VmProto *)t->proto)->code[t->loop_end].cache = JIT_CACHE_NEVER;
    j->demoted++;
    if (j->opt.verbose) {
        char loc[256];
        where(t->proto, t->start, loc, sizeof loc);
        fprintf(jit_log(j), "[jit] demote %s: %.1f trips per entry\n", loc, (double)t->trips / (double)t->entered);
    }
}

/* Runs trace [t] in frame [f] and resumes at its exit. */
static const VmInsn *run_trace(VM *vm, PvmJitState *j, JitTrace *t, VmFrame *f)
{
    uint64_t t0 = j->opt.stats ? now_ns() : 0;
    uint32_t s = t->entry(f->base, j->vals);
    if (j->opt.stats)
        j->trace_ns += now_ns() - t0;
    t->entered++;
    j->entries++;
    j->exits++;
    t->snaps.snaps[s].exits++;
    uint32_t pc = pvmJ_snap_restore(&t->ir, &t->snaps, s, ref_bits, j->vals, f->base);
    vm->top = f->base + t->snaps.snaps[s].nslots;
    if (t->entered % JIT_CHECK_ENTRIES == 0 && t->trips < t->entered * JIT_MIN_TRIPS)
        demote(j, t);
    return &t->proto->code[pc];
}

const VmInsn *pvmJ_back_edge(VM *vm, VmFrame *f, const VmInsn *jmp)
{
    PvmJitState *j = vm->jit;
    VmInsn *e = (VmInsn *)jmp; /* the cache word is the one part of code that changes */
    const VmInsn *target = &f->closure->proto->code[jmp->arg];
    if (e->cache != UINT32_MAX && (e->cache & JIT_CACHE_TRACE))
        return run_trace(vm, j, j->traces[e->cache & ~JIT_CACHE_TRACE], f);
    if (e->cache == JIT_CACHE_NEVER || j->recording)
        return target;
    uint32_t tries = tries_of(e->cache);
    uint32_t count = (e->cache == UINT32_MAX ? 0 : e->cache & JIT_COUNT_MASK) + 1u;
    e->cache = tries << JIT_TRIES_SHIFT | count;
    if (count >= threshold(j, tries))
        record_begin(vm, j, f, e);
    return target;
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
    if (pvmJ_record_ins(&j->rec, vm, f, ip) == JIT_REC_GO)
        return true;
    record_end(vm, j);
    return false;
}

void pvmJ_unwind(VM *vm)
{
    PvmJitState *j = vm->jit;
    if (!j || !j->recording)
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
            ", trace entries %" PRIu64 ", exits %" PRIu64 ", time in traces %.3f s\n", (unsigned)j->ntraces,
            j->aborted, j->blacklisted, j->demoted, j->entries, j->exits, (double)j->trace_ns / 1e9);
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
bool pvmJ_recording(const VM *vm) { (void)vm; return false; }
bool pvmJ_record_step(VM *vm, VmFrame *f, const VmInsn *ip) { (void)vm; (void)f; (void)ip; return false; }
void pvmJ_unwind(VM *vm) { (void)vm; }
void pvmJ_report_stats(VM *vm, FILE *out) { (void)vm; (void)out; }
PvmJitCounts pvmJ_counts(const VM *vm) { (void)vm; return (PvmJitCounts){ 0 }; }

#endif
