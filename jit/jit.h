/* The tracing JIT, as the interpreter and the CLI see it: nothing more.
 *
 * The interpreter calls pvmJ_back_edge at every backward jmp of a VM whose
 * JIT is on, and pvmJ_function_entry at every PV function CALL enters.
 * Loops and functions are counted there; a hot one is recorded over its next
 * iteration (the interpreter then shows pvmJ_record_step each instruction
 * before running it), compiled, and from then on run as machine code from
 * that same jmp until a guard exits, after which the interpreter continues
 * where the trace left off. docs/jit.md walks through the pipeline. */
#ifndef PVM_JIT_JIT_H
#define PVM_JIT_JIT_H

#include <stdio.h>

#include "vm/runtime/vm.h"

typedef struct PvmJitState PvmJitState; /* one per VM, in vm->jit */

typedef struct PvmJitOptions {
    uint32_t hot;        /* iterations before a loop is recorded (>= 1) */
    bool verbose;        /* -j v: one line per trace compiled or aborted */
    bool dump;           /* -j dump: IR, snapshots and machine code of each trace */
    bool stats;          /* -j stats: counts at exit */
    int only_trace;      /* -j trace=N: compile only trace N (0: all) */
    bool perf_map;       /* -j perf: write /tmp/perf-PID.map for perf(1) */
    uint32_t max_traces; /* -j maxtrace=N: traces before all are flushed (0: 1000) */
    size_t max_mcode;    /* -j maxmcode=N (KB): machine code before a flush (0: 2 MB) */
    uint32_t share_exits; /* -j shareexits=N: exits share code in traces of N snapshots
                           * or more (0: 128; tests use 1, so small traces take that path) */
    FILE *log;           /* where v, dump and stats write (stderr if NULL) */
    /* Prints [len] bytes of machine code at [addr] readably for -j dump; NULL
     * for hex. The pvm command passes a disassembler when built with one. */
    void (*disassemble)(FILE *out, const uint8_t *code, size_t len);
} PvmJitOptions;

#define PVM_JIT_HOT_DEFAULT 56u

void pvmJ_options_default(PvmJitOptions *o);

/* Whether this build can compile (an x86-64 host with PVM_JIT). */
bool pvmJ_available(void);

/* Turns the JIT on for [vm] (vm->jit); false when unavailable or out of
 * memory, and then the interpreter runs everything. */
bool pvmJ_attach(VM *vm, const PvmJitOptions *o);
void pvmJ_detach(VM *vm);

/* Whether the back edge [jmp] still concerns the JIT: false once its loop
 * is blacklisted (whose back edge then is cold: pvmV_back_edge_cold). */
#define PVMJ_CACHE_NEVER 0x7FFFFFFFu
static inline bool pvmJ_back_edge_live(const VmInsn *jmp)
{
    return jmp->cache != PVMJ_CACHE_NEVER;
}

/* At the backward jmp [jmp] of frame [f], already charged, with ip and top
 * saved. Returns where the interpreter continues: the jmp's target, or
 * after a trace ran, the instruction it exited at (vm->top then set). */
const VmInsn *pvmJ_back_edge(VM *vm, VmFrame *f, const VmInsn *jmp);

/* Whether calls of [p] still concern the JIT: false once the function is
 * blacklisted. */
static inline bool pvmJ_function_live(const VmProto *p)
{
    return p->jit_entry != PVMJ_CACHE_NEVER;
}

/* At the entry of frame [f], a PV function CALL has just entered (charged,
 * ip and top saved). Returns where the interpreter continues: the
 * function's first instruction, or after a trace ran, the instruction it
 * exited at (vm->top then set), perhaps in another frame. */
const VmInsn *pvmJ_function_entry(VM *vm, VmFrame *f);

/* Whether the call that has just returned to [ip] is one a trace ended
 * before (stitching, docs/jit.md): then pvmJ_stitch has its say. */
static inline bool pvmJ_stitch_due(const VM *vm, const VmInsn *ip)
{
    return vm->stitch_ip == ip;
}

/* After the native call a trace stitched returned to [ip] of frame [f]
 * (ip and top saved): goes on in the trace recorded from there, or counts
 * towards recording it. Returns where the interpreter continues, as
 * pvmJ_back_edge does: [ip], or where the traces exited. */
const VmInsn *pvmJ_stitch(VM *vm, VmFrame *f, const VmInsn *ip);

/* Whether a recording is in progress (the interpreter shows it every
 * instruction through pvmJ_record_step). */
bool pvmJ_recording(const VM *vm);

/* Before instruction [ip] of frame [f] runs while recording (ip and top
 * saved). False when the recording has ended (compiled or aborted). */
bool pvmJ_record_step(VM *vm, VmFrame *f, const VmInsn *ip);

/* An error is unwinding: a recording in progress is abandoned. */
void pvmJ_unwind(VM *vm);

/* Counts for tests and tools: traces compiled, recordings aborted, and
 * trace entries (each ends in one exit). */
typedef struct {
    uint32_t traces;
    uint64_t aborted, blacklisted, entries;
} PvmJitCounts;
PvmJitCounts pvmJ_counts(const VM *vm);

/* Writes the -j stats report. */
void pvmJ_report_stats(VM *vm, FILE *out);

#endif
