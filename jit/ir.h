/* The trace IR: a typed SSA instruction set, defined once as a table.
 *
 * A trace's IR is two arrays growing away from a bias: constants below
 * JIT_REF_BIAS (interned, so equal constants are one ref) and instructions
 * at and above it, each referring only to refs defined before it. Every
 * instruction has a result type; guards are instructions that may leave the
 * trace (their snapshot says how to resume the interpreter), marked by the
 * GUARD flag of their opcode. Instructions are emitted through the fold
 * engine (fold.c), which folds constants, simplifies algebra and reuses an
 * identical earlier instruction (CSE) before anything is appended. */
#ifndef PVM_JIT_IR_H
#define PVM_JIT_IR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Result types. NIL..PTR mirror the interpreter's value types an IR value
 * can be specialised to (FN a PV closure, NATIVE a C function, PTR an ffi
 * pointer); VOID is for instructions without a result. */
#define JIT_IRTYPES(T) \
    T(VOID, "void") \
    T(NIL,  "nil")  \
    T(BOOL, "bool") \
    T(INT,  "int")  \
    T(FLT,  "flt")  \
    T(STR,  "str")  \
    T(ARR,  "arr")  \
    T(MAP,  "map")  \
    T(FN,   "fn")   \
    T(NATIVE, "native") \
    T(PTR,  "ptr")

typedef enum {
#define T(name, text) JIT_T_##name,
    JIT_IRTYPES(T)
#undef T
    JIT_T__COUNT
} JitType;

/* SLOAD's b: the slot's type is known, no guard is needed. */
#define JIT_SLOAD_TYPED 1

/* Operand kinds of an opcode's two operands. */
enum { JIT_O_NONE, JIT_O_REF, JIT_O_LIT };

/* Opcode flags. */
enum {
    JIT_F_CSE = 1,    /* pure: an identical earlier instruction may stand in */
    JIT_F_GUARD = 2,  /* may leave the trace through its snapshot */
    JIT_F_COMM = 4,   /* commutative: operands are put in a canonical order */
    JIT_F_EFFECT = 8, /* writes memory or calls out: never removed */
    JIT_F_CONST = 16, /* lives in the constant half */
    JIT_F_LOAD = 32   /* reads memory a store may change: never reused, not
                         by CSE nor by the LOOP pass's copy */
};

/* X(name, operand 1 kind, operand 2 kind, flags). Comparisons are guards:
 * "a LT b" asserts a < b and exits otherwise; the recorder emits the one
 * matching the direction the interpreter took. LT..GT are false when a
 * float operand is NaN; ULT..UGT ("unordered or ...") are true then, so
 * each is the exact negation of one ordered guard: !(a < b) is a UGE b.
 * On ints the two families agree. SLOAD and GLOAD check their value's type
 * (a frame slot; a module global at a constant address) and exit when it
 * is not the recorded one; an SLOAD whose b is JIT_SLOAD_TYPED does not
 * (a side trace's load of a slot its parent's exit has just written). CHARGE takes a trip round the loop from the
 * instruction budget and exits when it is spent or an interrupt is
 * pending, so the interpreter raises the limit error itself.
 * TOFLT converts an int to a float; TOINT truncates a float to an int,
 * and is only emitted after guards that the float is in the int range.
 * Arrays: ALEN is an array's length, AKIND its element kind (which a
 * trace guards with EQ before it touches an element), ABC the bounds check (exits unless
 * 0 <= index < length, compared unsigned), AREF the address of element
 * [index] of a boxed array, XLOAD a type-guarded load of the Value there
 * and XSTORE a store. An unboxed array (vm/runtime/array.h) is read
 * through its items (FLOAD): UREF is the address of 8-byte element [b]
 * (an int's or a float's payload; a bool's is ADD, one byte each), ALOAD
 * loads the element there as its result type and ASTORE stores [b] there
 * (neither checks a type: the trace guards the array's kind, an FLOAD of
 * it, and a value's IR type is already guarded). No instruction a trace
 * can contain changes an array's kind (a store that would change the
 * kind is not recorded), and only a CALLR of push changes its length or
 * moves its items (growing it), so ALEN, AREF, UREF and those FLOADs are
 * pure within a trace but for that (JitIR.mutated; the LOOP pass reads
 * them again each trip of a loop that pushes).
 * Maps: FLOAD is the word at byte offset #b of an object (a map's entries
 * or used count: also fixed within a trace, but for a CALLR adding or
 * removing a key); HKEY
 * guards that the entry at an address holds exactly the key string seen
 * while recording (a field read through the interpreter's inline-cache
 * position, checked rather than looked up), by its payload: that the key
 * is a string is guarded apart, by the map's count of other keys being 0
 * or by the key's byte in its key_types (record.c, rec_key_is_string). ADD also adds byte offsets to
 * a ptr.
 * Strings: BLOAD is the byte at an address, zero-extended to an int (a
 * string's bytes: strings never change, so it is pure); a one-byte string
 * is then the VM's shared one for that byte, an ALOAD of type str from its
 * table.
 * BASE is the address of the running frame's local 0 (the base register).
 * RETF #n returns from the trace's own frame into its caller, whose local
 * 0 is n slots lower: the base moves down and the VM's frame count drops
 * by one; later slots and snapshots are the caller's. (Only a side or
 * function trace does this, after guards that the interpreter's RET would do nothing
 * else: no upvalue to close, no handler to drop, the caller the recorded
 * one.)
 * CALLC calls a C function directly (an ffi binding the recorder found
 * plain enough: a VmCCall, vm/runtime/object.h, the constant b): its
 * arguments are a chain of CARGs, "CARG v prev", a the last of them (or
 * none), each argument's value already checked and converted to the C
 * parameter's class (an int in range, a float). Its result is the PV value
 * (an int sign- or zero-extended from the C type, a float widened; void
 * calls have type VOID). It is a guard after the fact: its snapshot is
 * the frame after the call, and the trace leaves through it when a
 * callback ran during the call (or failed: jit.c then raises the error).
 * Both are effects: never CSE'd, never hoisted, made again every trip.
 * CALLR calls one of the VM's runtime functions (jit/alloc.h: an array
 * or map literal's constructor, or map_set adding a field) with Values the trace stores, boxed, into
 * the frame slots where the interpreter has the instruction's operands:
 * a is a CARG chain of them, as CALLC's, b an int constant naming the
 * function, the first slot and the count (pvmJ_rt_desc); a CARG after
 * those values (a setfield's key string) is passed as an argument of its
 * own. A setfield's result is the map it added the field to. Its result is
 * the new object (arr, map); it is a guard on that result: NULL (the
 * allocation could meet the memory limit's check, or failed) leaves the
 * trace through the snapshot before the instruction, so the interpreter
 * runs it, with its checks and errors. No enter/leave: the function runs
 * no PV code and charges no fuel.
 * LOOP ends the recorded iteration. With #0 the trace writes the frame
 * back and starts again from the top; with #1 (loop.c) a copy of the body
 * follows, ending in PHIs: "PHI a b" means a takes b's value when the copy
 * goes round again. EXIT ends a side trace: it always leaves through its
 * snapshot (the frame at the loop header the side trace reached). */
#define JIT_IROPS(X) \
    X(KINT,   LIT,  NONE, JIT_F_CONST) \
    X(KFLT,   LIT,  NONE, JIT_F_CONST) \
    X(KGC,    LIT,  NONE, JIT_F_CONST) \
    X(KPRI,   NONE, NONE, JIT_F_CONST) \
    X(SLOAD,  LIT,  LIT,  JIT_F_GUARD) \
    X(LT,     REF,  REF,  JIT_F_GUARD) \
    X(GE,     REF,  REF,  JIT_F_GUARD) \
    X(LE,     REF,  REF,  JIT_F_GUARD) \
    X(GT,     REF,  REF,  JIT_F_GUARD) \
    X(EQ,     REF,  REF,  JIT_F_GUARD | JIT_F_COMM) \
    X(NE,     REF,  REF,  JIT_F_GUARD | JIT_F_COMM) \
    X(ULT,    REF,  REF,  JIT_F_GUARD) \
    X(UGE,    REF,  REF,  JIT_F_GUARD) \
    X(ULE,    REF,  REF,  JIT_F_GUARD) \
    X(UGT,    REF,  REF,  JIT_F_GUARD) \
    X(ADD,    REF,  REF,  JIT_F_CSE | JIT_F_COMM) \
    X(SUB,    REF,  REF,  JIT_F_CSE) \
    X(MUL,    REF,  REF,  JIT_F_CSE | JIT_F_COMM) \
    X(DIV,    REF,  REF,  JIT_F_CSE) \
    X(MOD,    REF,  REF,  JIT_F_CSE) \
    X(NEG,    REF,  NONE, JIT_F_CSE) \
    X(BAND,   REF,  REF,  JIT_F_CSE | JIT_F_COMM) \
    X(BOR,    REF,  REF,  JIT_F_CSE | JIT_F_COMM) \
    X(BXOR,   REF,  REF,  JIT_F_CSE | JIT_F_COMM) \
    X(SHL,    REF,  REF,  JIT_F_CSE) \
    X(SHR,    REF,  REF,  JIT_F_CSE) \
    X(BNOT,   REF,  NONE, JIT_F_CSE) \
    X(TOFLT,  REF,  NONE, JIT_F_CSE) \
    X(TOINT,  REF,  NONE, JIT_F_CSE) \
    X(SQRT,   REF,  NONE, JIT_F_CSE) \
    X(FLOOR,  REF,  NONE, JIT_F_CSE) \
    X(GLOAD,  REF,  NONE, JIT_F_GUARD) \
    X(ALEN,   REF,  NONE, JIT_F_CSE) \
    X(AKIND,  REF,  NONE, JIT_F_CSE) \
    X(FLOAD,  REF,  LIT,  JIT_F_CSE) \
    X(HKEY,   REF,  REF,  JIT_F_GUARD) \
    X(ABC,    REF,  REF,  JIT_F_GUARD) \
    X(AREF,   REF,  REF,  JIT_F_CSE) \
    X(XLOAD,  REF,  NONE, JIT_F_GUARD | JIT_F_LOAD) \
    X(XSTORE, REF,  REF,  JIT_F_EFFECT) \
    X(UREF,   REF,  REF,  JIT_F_CSE) \
    X(ALOAD,  REF,  NONE, JIT_F_LOAD) \
    X(BLOAD,  REF,  NONE, JIT_F_CSE) \
    X(ASTORE, REF,  REF,  JIT_F_EFFECT) \
    X(GSTORE, REF,  REF,  JIT_F_EFFECT) \
    X(CHARGE, LIT,  NONE, JIT_F_GUARD | JIT_F_EFFECT) \
    X(BASE,   NONE, NONE, 0) \
    X(RETF,   LIT,  NONE, JIT_F_EFFECT) \
    X(CARG,   REF,  REF,  JIT_F_EFFECT) \
    X(CALLC,  REF,  REF,  JIT_F_GUARD | JIT_F_EFFECT) \
    X(CALLR,  REF,  REF,  JIT_F_GUARD | JIT_F_EFFECT) \
    X(LOOP,   LIT,  NONE, JIT_F_EFFECT) \
    X(EXIT,   NONE, NONE, JIT_F_GUARD | JIT_F_EFFECT) \
    X(PHI,    REF,  REF,  JIT_F_EFFECT)

typedef enum {
#define X(name, o1, o2, flags) JIT_IR_##name,
    JIT_IROPS(X)
#undef X
    JIT_IR__COUNT
} JitOp;

typedef uint16_t JitRef;
#define JIT_REF_BIAS 0x8000u
#define JIT_REF_NONE 0u          /* "no operand"; never a valid ref */
#define JIT_MAX_CONSTS 4000u     /* per trace; past this recording aborts */
#define JIT_MAX_INS 4000u

/* KPRI's type says which primitive: NIL, BOOL with lit 0 (false) or 1 (true). */
typedef struct {
    uint8_t op;     /* JitOp */
    uint8_t type;   /* JitType */
    JitRef a, b;    /* operands (refs, or literals for LIT operands) */
    JitRef prev;    /* previous instruction with the same op, for CSE */
} JitIns;

typedef struct JitIR {
    JitIns *ins;        /* ins[i] is ref JIT_REF_BIAS + i */
    uint32_t nins, ins_cap;
    JitIns *kins;       /* kins[i] is ref JIT_REF_BIAS - 1 - i */
    uint64_t *kval;     /* each constant's 64 bits: int, double bits or pointer */
    uint32_t nk, k_cap;
    JitRef chain[JIT_IR__COUNT]; /* newest instruction of each op */
    bool failed;        /* out of memory or over a limit: the trace aborts */
    /* While the LOOP pass copies the body (loop.c): instructions below
     * [loop] whose value differs between iterations, which CSE must not
     * reuse for the copy. NULL otherwise. */
    const uint8_t *variant;
    uint32_t nvariant;
    JitRef loop;        /* the LOOP instruction once the pass has run, else 0 */
    /* The newest call that changes an existing object (CALLR of map_set, push):
     * what an object's words read before it (FLOAD, ALEN, AKIND, ABC) is
     * not reused after it, whatever ref the object is reached through. */
    JitRef mutated;
    /* The sink pass's verdict (sink.c): per instruction, 1 for a call
     * making a map that is not made (NULL until the pass has run). */
    uint8_t *sunk;
} JitIR;

typedef struct {
    const char *name;
    uint8_t o1, o2;
    uint8_t flags;
} JitOpInfo;

extern const JitOpInfo pvmJ_ir_ops[JIT_IR__COUNT];
extern const char *const pvmJ_ir_type_names[JIT_T__COUNT];

void pvmJ_ir_init(JitIR *ir);
void pvmJ_ir_free(JitIR *ir);

static inline bool pvmJ_ref_is_const(JitRef r) { return r < JIT_REF_BIAS; }

/* The instruction (or constant) a ref names. */
static inline const JitIns *pvmJ_ir_at(const JitIR *ir, JitRef r)
{
    if (pvmJ_ref_is_const(r))
        return &ir->kins[JIT_REF_BIAS - 1u - r];
    return &ir->ins[r - JIT_REF_BIAS];
}

/* Interned constants. Floats are interned by their bits, so 0.0 and -0.0
 * (or two NaNs with different payloads) stay distinct. The GC constant's
 * pointer lives in kval, memory the collector scans (docs/jit.md). */
JitRef pvmJ_k_int(JitIR *ir, int64_t v);
JitRef pvmJ_k_float(JitIR *ir, double v);
JitRef pvmJ_k_gc(JitIR *ir, JitType type, const void *p);
JitRef pvmJ_k_pri(JitIR *ir, JitType type, bool truth);
int64_t pvmJ_k_int_value(const JitIR *ir, JitRef r);
double pvmJ_k_float_value(const JitIR *ir, JitRef r);

/* Whether instruction [op] [b] is a call that changes an existing object
 * (CALLR of map_set or push: JitIR.mutated, the LOOP pass). */
bool pvmJ_ir_mutates(const JitIR *ir, JitOp op, JitRef b);

/* Appends without folding: what the fold engine calls once it has decided
 * an instruction is new. Returns JIT_REF_NONE and sets ir->failed when full. */
JitRef pvmJ_ir_append(JitIR *ir, JitOp op, JitType type, JitRef a, JitRef b);

/* The one way the recorder emits (fold.c): folding, simplification, CSE,
 * then append. A guard that folds to "always holds" returns
 * JIT_REF_NONE without emitting; one that can never hold sets
 * [*always_fails] (the recorder aborts: the trace would always exit). */
JitRef pvmJ_fold_emit(JitIR *ir, JitOp op, JitType type, JitRef a, JitRef b, bool *always_fails);

/* The guard that holds exactly when [op]'s does not (LT <-> UGE, EQ <-> NE). */
JitOp pvmJ_guard_negation(JitOp op);

/* Readable listing for -j dump: one line per constant and instruction. */
void pvmJ_ir_dump(const JitIR *ir, FILE *out);

#endif
