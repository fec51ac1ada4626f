/* The trace recorder: while the interpreter runs one iteration of a hot
 * loop, it is shown every instruction before that instruction executes,
 * with the frame fully saved, and turns it into typed IR specialised on the
 * values it sees. Every assumption becomes a guard with a snapshot of the
 * frame as it is before the instruction, so a failing guard resumes the
 * interpreter at that very instruction with the same inputs.
 *
 * A root is a loop's, recorded from its header, or a function's,
 * recorded from its entry (JIT_FUNCTION_ROOT); a call of a function
 * already in progress that has a function trace ends the recording there
 * and goes on in that trace (recursion).
 *
 * A call of a PV function is inlined: the recorder follows the interpreter
 * into the callee, whose slots are the stack's next ones (the model is
 * numbered from the loop's frame, the root), and its return hands the
 * result back to the caller's slot. Snapshots inside list the frames the
 * interpreter has there (snap.h), so a trace can leave inside a callee.
 *
 * A call of an ffi binding of numbers only (vm/runtime/object.h,
 * VmCCall) becomes a C call the trace makes itself (CALLC), after the
 * guards that the binding's checks would pass. A leaf native (VmLeaf)
 * is called by the trace through the runtime (CALLR of rt_native); the
 * trace ends just before a call of any other native, and a side trace
 * goes on after it (stitching, jit.c).
 *
 * What it cannot record ends the recording with a reason from
 * JIT_ABORTS; the interpreter, which ran every instruction anyway, is
 * unaffected. */
#ifndef PVM_JIT_RECORD_H
#define PVM_JIT_RECORD_H

#include "jit/live.h"
#include "jit/snap.h"
#include "vm/runtime/vm.h"

/* X(name, message): why a recording stopped short. */
#define JIT_ABORTS(X) \
    X(NYI_BYTECODE,  "NYI: bytecode") \
    X(NYI_TYPES,     "NYI: operand types") \
    X(NYI_COMPARE,   "NYI: comparison of these types") \
    X(NYI_ITERATION, "NYI: for over a non-range") \
    X(NYI_CALL,      "NYI: call of") \
    X(CALL_DEPTH,    "NYI: call depth") \
    X(CALLEE_LOOP,   "NYI: loop in an inlined call") \
    X(RETURN,        "NYI: return from the loop's function") \
    X(LEAVE_LOOP,    "leaving loop in root trace") \
    X(INNER_LOOP,    "inner loop in root trace") \
    X(FRAME,         "frame out of step with the recording") \
    X(ALWAYS_EXITS,  "guard always fails") \
    X(TOO_LONG,      "trace too long") \
    X(LIMIT,         "IR or snapshot limit reached") \
    X(ERROR,         "instruction raised an error")

typedef enum {
#define X(name, msg) JIT_ABORT_##name,
    JIT_ABORTS(X)
#undef X
    JIT_ABORT__COUNT
} JitAbort;

extern const char *const pvmJ_abort_messages[JIT_ABORT__COUNT];

typedef enum { JIT_REC_GO, JIT_REC_DONE, JIT_REC_ABORTED } JitRecStatus;

#define JIT_MAX_RECORD 2000u  /* bytecode instructions in one trace */
#define JIT_MAX_GLOBALS 64u   /* distinct module globals one trace touches */

typedef struct {
    const Value *addr;  /* the global's slot in its module */
    JitRef ref;         /* the value it holds now, as far as the trace knows */
} JitGlobal;

#define JIT_MAX_DEPTH 4u      /* inlined calls in progress at once */
/* Back edges of inner loops one trace may unroll: as LuaJIT's default.
 * Only `for` loops whose trips left are known when their header or back
 * edge is recorded are unrolled, and only if all of them fit. */
#define JIT_MAX_UNROLL 16u
#define JIT_MAX_IMPLIED 4u    /* slots a parent's failed guard tells of */

/* A back edge's cache word (jit.c keeps a loop's state there, and a
 * function's jit_entry its calls') with this bit set says a trace runs
 * from the loop's header (the function's entry): jit.c's has_trace. */
#define JIT_CACHE_TRACE 0x80000000u
/* Functions whose liveness (live.c) one recording keeps: a snapshot in
 * any other leaves its locals in. */
#define JIT_MAX_LIVE_FNS 16u
#define JIT_MAX_POPS 4u       /* frames one side or function trace may return from */
/* The loop_end of a function trace: a root recorded from a function's
 * entry, at a call, rather than from a loop's header. */
#define JIT_FUNCTION_ROOT UINT32_MAX

/* A call the recording is inside. */
typedef struct {
    const VmProto *proto;
    uint32_t base;         /* slot of its local 0 (the closure sits below it) */
    uint32_t ret;          /* the caller's pc to return to: the call's + 1 */
    JitRef fresh;          /* the closure it runs when the trace made it (CALLR), else NONE */
    JitRef closure;        /* the closure it runs when guarded by its function only, else NONE */
    bool cells;            /* the trace made a closure here with cells on its locals */
    int32_t chain;         /* its snapshots' frame chain (JitSnapList.frames) */
} JitRecFrame;

typedef struct JitRecorder {
    VM *vm;
    JitIR ir;
    JitSnapList snaps;
    const VmProto *proto;  /* the loop's function (the root frame's) */
    uint32_t start;        /* loop header: the trace starts and loops back here */
    uint32_t loop_end;     /* the back edge (a jmp to start), or JIT_FUNCTION_ROOT */
    size_t frame_index;    /* the frame the loop runs in */
    Value *base;           /* its local 0: slot 0 */
    JitRef *slots;         /* ref held by each stack slot, or JIT_REF_NONE */
    bool *written;         /* whether the trace changed the slot */
    JitRef *live;          /* scratch for a snapshot's slots */
    uint8_t *known;        /* a side trace: per slot, the type its parent's exit
                            * wrote there (a JitType), or JIT_T__COUNT */
    /* A side trace: slots whose int value on entry satisfies
     * `value implied_op implied_k`, the parent's failed guard negated
     * (pvmJ_record_implied) */
    uint32_t implied_slots[JIT_MAX_IMPLIED];
    uint32_t nimplied;
    uint8_t implied_op;    /* a JitOp */
    int64_t implied_k;
    uint8_t charged_early; /* CALL's unit taken before an intrinsic's calls:
                            * the snapshots until it ends give it back */
    uint32_t nslots;       /* slots the arrays hold: the root's, then callees' */
    uint32_t top;          /* operand stack top, as a slot number */
    uint32_t top0;         /* the top the trace is entered with (vm->top then) */
    JitRecFrame frames[JIT_MAX_DEPTH]; /* inlined calls in progress, innermost last */
    uint32_t depth;
    const VmProto *frame_fn; /* the function of the frame the model is based on: proto, or
                            * a caller's once a side trace returned into it (RETF) */
    const VmProto *fn;     /* the running function: frame_fn or the innermost callee's */
    uint32_t fbase;        /* the running frame's local 0, as a slot */
    uint32_t inlined;      /* calls inlined, for -j v */
    uint32_t popped;       /* frames a side trace returned from (RETF) */
    JitRef nframes_entry;  /* vm->nframes as the trace found it, loaded at its first RETF */
    uint32_t unroll_left;  /* inner-loop back edges it may still unroll */
    uint32_t unrolled;     /* back edges unrolled, for -j v */
    const VmProto *tree_fn;/* a side trace: its tree's root loop, in tree_fn at */
    uint32_t tree_start;   /* tree_start, is closed, never unrolled */
    /* The entry the innermost recorded `for k in m` trip is at: the map's
     * and the key's refs and the entry's address, so m[k] in its body is
     * that entry's value (rec_iter_entry). */
    JitRef iter_map, iter_key, iter_entry;
    /* A leaf native's call just recorded (rec_leaf_call): the address of
     * its result, which the trace loads once the interpreter has made the
     * call and its type is known (at the next instruction), and the slot
     * the result is in meanwhile, in the frame, as the call left it. */
    JitRef leaf_result;
    uint32_t leaf_slot;
    const PvMap *iter_map_now; /* the map it iterates, at recording */
    JitGlobal globals[JIT_MAX_GLOBALS];
    uint32_t nglobals;
    uint32_t recorded;     /* instructions recorded so far */
    bool side;             /* a side trace: from a hot exit to a loop header */
    bool func;             /* a function trace: from proto's entry, ending where a
                            * side trace would or at a call of a function trace */
    bool handlers_changed; /* the trace ran try or endtry (RETF then is not recorded) */
    bool links;            /* ended at another trace's loop header (EXIT) */
    bool link_entry;       /* ... or at a function trace's entry */
    JitRecStatus status;
    JitAbort abort;
    const char *abort_detail; /* e.g. the opcode's mnemonic */
    uint32_t pc;           /* the instruction being recorded, in fn */
    JitRef last_close;     /* the newest close of the trace's frame's cells (CALLR), or NONE */
    JitLive live_fns[JIT_MAX_LIVE_FNS]; /* the liveness of functions snapshots were taken in */
    uint32_t nlive_fns;
} JitRecorder;

/* Starts recording the loop whose back edge is the jmp at [back_edge] in
 * the running frame [f] (vm->top saved), unrolling up to [unroll] inner
 * back edges. False when out of memory. */
bool pvmJ_record_start(JitRecorder *r, VM *vm, const VmFrame *f, const VmInsn *back_edge, uint32_t unroll);

/* Starts recording a function trace from the entry of the frame [f] a
 * CALL has just entered (ip and top saved). False when out of memory. */
bool pvmJ_record_start_function(JitRecorder *r, VM *vm, const VmFrame *f, uint32_t unroll);

/* Whether the innermost inlined call, at its entry, is of a function whose
 * call is already in progress in the recording: recursion. */
bool pvmJ_record_recursive(const JitRecorder *r);

/* Starts recording a side trace from instruction [pc] of frame [f], where
 * a hot exit of another trace resumes; it ends at the first back edge it
 * does not unroll, and always at that of its tree's root loop (header
 * [tree_start] of [tree_fn]). */
bool pvmJ_record_start_side(JitRecorder *r, VM *vm, const VmFrame *f, uint32_t pc, uint32_t unroll,
                            const VmProto *tree_fn, uint32_t tree_start);

/* Whether the recording, reaching [header], the header of a loop that
 * has a trace, goes on through that loop (it unrolls it) rather than
 * ending there to go on in that trace. */
bool pvmJ_record_unrolls(const JitRecorder *r, const VmInsn *header);

/* Tells a side trace's recorder that its parent's exit writes slot [slot]
 * with type [type] just before the side trace runs (it is entered from
 * nowhere else): its load of that slot needs no type guard. */
void pvmJ_record_known_type(JitRecorder *r, uint32_t slot, JitType type);
/* Every exit through the parent's snapshot writes the same int constant
 * to [slot]: the side trace uses the constant instead of loading it. */
void pvmJ_record_known_int(JitRecorder *r, uint32_t slot);
/* The parent's exit leaves only when its guard failed: the int in [slot]
 * satisfies `slot op k` on entry, so the side trace's own compare of that
 * value with [k] whose outcome is [op] needs no guard. */
void pvmJ_record_implied(JitRecorder *r, uint32_t slot, JitOp op, int64_t k);

/* Shows the recorder instruction [ip] of the running frame before it runs.
 * Returns GO while recording continues, DONE when the loop closed (the IR
 * ends with CHARGE, the last snapshot is the loop header), ABORTED with
 * r->abort set. */
JitRecStatus pvmJ_record_ins(JitRecorder *r, VM *vm, const VmFrame *f, const VmInsn *ip);

/* Ends the recording before [ip], the header of a loop that has a trace
 * or, with [entry], the entry of a function that has one (or is the one
 * being recorded): the trace exits there (EXIT), and the trace runner goes
 * on in that one. */
JitRecStatus pvmJ_record_link(JitRecorder *r, const VmInsn *ip, bool entry);

/* Stops a recording from outside (an error unwound the frame). */
void pvmJ_record_cancel(JitRecorder *r, JitAbort why);

void pvmJ_record_free(JitRecorder *r);

#endif
