/* The x86-64 encoder: registers, condition codes, memory operands, the
 * growable code buffer (PvmjAsm) with its labels and relocations, and one
 * function per instruction form a trace compiler needs.
 *
 * Instructions are appended forwards into [code]. Nothing here ever aborts:
 * a failed allocation, a buffer past its limit or an operand the hardware
 * cannot encode sets [error] and later emits become no-ops, so a backend
 * checks the flag once, after the whole trace. Positions (pvmJ_asm_pos,
 * label targets, rel32 fields) are byte offsets from the start of [code];
 * the bytes only get an address when pvmJ_asm_link copies them to their
 * final place (jit/mcode.c does that for executable memory).
 *
 * The buffer and labels live in jit/asm_buf.c, the instruction forms in
 * jit/emit_x86.c. Everything compiles to nothing off x86-64. */
#ifndef PVM_JIT_X86_H
#define PVM_JIT_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* General registers 0..15 in hardware order, then the SSE registers 16..31,
 * so a register allocator can keep one 32-bit set for both. The encoder
 * uses the low 4 bits; an XMM register passed where a general register is
 * expected (or the reverse) is an operand error. */
typedef enum PvmjReg {
    PVMJ_RAX, PVMJ_RCX, PVMJ_RDX, PVMJ_RBX, PVMJ_RSP, PVMJ_RBP, PVMJ_RSI, PVMJ_RDI,
    PVMJ_R8, PVMJ_R9, PVMJ_R10, PVMJ_R11, PVMJ_R12, PVMJ_R13, PVMJ_R14, PVMJ_R15,
    PVMJ_XMM0, PVMJ_XMM1, PVMJ_XMM2, PVMJ_XMM3, PVMJ_XMM4, PVMJ_XMM5, PVMJ_XMM6, PVMJ_XMM7,
    PVMJ_XMM8, PVMJ_XMM9, PVMJ_XMM10, PVMJ_XMM11, PVMJ_XMM12, PVMJ_XMM13, PVMJ_XMM14, PVMJ_XMM15,
    PVMJ_REG__COUNT,
    PVMJ_NOREG = -1 /* no base or no index in a PvmjMem */
} PvmjReg;

#define PVMJ_IS_GPR(r) ((unsigned)(r) < 16u)
#define PVMJ_IS_XMM(r) ((unsigned)(r) - 16u < 16u)

/* Condition codes in hardware order (the low nibble of Jcc/SETcc/CMOVcc).
 * After ucomisd: B/BE/A/AE are the unsigned-style double compares and P is
 * set for an unordered (NaN) result. */
typedef enum PvmjCond {
    PVMJ_CC_O, PVMJ_CC_NO, PVMJ_CC_B, PVMJ_CC_AE, PVMJ_CC_E, PVMJ_CC_NE, PVMJ_CC_BE, PVMJ_CC_A,
    PVMJ_CC_S, PVMJ_CC_NS, PVMJ_CC_P, PVMJ_CC_NP, PVMJ_CC_L, PVMJ_CC_GE, PVMJ_CC_LE, PVMJ_CC_G
} PvmjCond;

/* The negated condition: flipping the low bit. */
#define PVMJ_CC_NOT(cc) ((PvmjCond)((cc) ^ 1))

/* Operand width of general-register forms: 32-bit forms zero the upper half
 * of a destination register; 64-bit forms carry REX.W. */
typedef enum PvmjWidth { PVMJ_W32 = 0, PVMJ_W64 = 1 } PvmjWidth;

/* A memory operand [base + index*scale + disp]. base may be PVMJ_NOREG for
 * an absolute 32-bit address; index may be PVMJ_NOREG; RSP cannot be an
 * index (the hardware has no encoding for it). scale is 1, 2, 4 or 8. */
typedef struct PvmjMem {
    PvmjReg base, index;
    uint8_t scale;
    int32_t disp;
} PvmjMem;

static inline PvmjMem pvmj_mem(PvmjReg base, int32_t disp)
{
    PvmjMem m = { base, PVMJ_NOREG, 1, disp };
    return m;
}

static inline PvmjMem pvmj_memx(PvmjReg base, PvmjReg index, uint8_t scale, int32_t disp)
{
    PvmjMem m = { base, index, scale, disp };
    return m;
}

/* The group-1 arithmetic operations, numbered as their ModRM /digit. */
typedef enum PvmjAlu {
    PVMJ_ADD = 0, PVMJ_OR = 1, PVMJ_AND = 4, PVMJ_SUB = 5, PVMJ_XOR = 6, PVMJ_CMP = 7
} PvmjAlu;

/* Shifts, numbered as their ModRM /digit in the C1/D3 group. */
typedef enum PvmjShift { PVMJ_SHL = 4, PVMJ_SHR = 5, PVMJ_SAR = 7 } PvmjShift;

/* SSE2 scalar/packed double operations "op xmm, xmm/m": mandatory prefix in
 * the high byte, the opcode after 0F in the low byte. */
typedef enum PvmjSse {
    PVMJ_MOVSD = 0xF210,   /* load form; the store is pvmJ_movsd_store */
    PVMJ_SQRTSD = 0xF251,
    PVMJ_ADDSD = 0xF258,
    PVMJ_MULSD = 0xF259,
    PVMJ_SUBSD = 0xF25C,
    PVMJ_MINSD = 0xF25D,
    PVMJ_DIVSD = 0xF25E,
    PVMJ_MAXSD = 0xF25F,
    PVMJ_CVTSD2SS = 0xF25A, /* double to float (a C call's float argument) */
    PVMJ_CVTSS2SD = 0xF35A, /* float to double (its float result) */
    PVMJ_UCOMISD = 0x662E,
    PVMJ_ANDPD = 0x6654,   /* a memory operand must be 16-byte aligned */
    PVMJ_XORPD = 0x6657,   /* a memory operand must be 16-byte aligned */
    PVMJ_MOVAPD = 0x6628   /* register moves: the whole register, so no
                            * dependency on the destination's old value */
} PvmjSse;

/* roundsd rounding modes (imm8 bits 0-1; bit 3 suppresses the inexact
 * exception, which these include). */
typedef enum PvmjRound {
    PVMJ_ROUND_NEAREST = 0x8, PVMJ_ROUND_FLOOR = 0x9, PVMJ_ROUND_CEIL = 0xA, PVMJ_ROUND_TRUNC = 0xB
} PvmjRound;

typedef enum PvmjAsmError {
    PVMJ_OK = 0,
    PVMJ_ENOMEM,     /* allocation failed or the buffer limit was reached */
    PVMJ_EOPERAND,   /* an operand the hardware cannot encode */
    PVMJ_ELABEL,     /* unknown label, bound twice, or unbound at link time */
    PVMJ_ERANGE      /* a rel32 target more than 2 GB away */
} PvmjAsmError;

/* A label: an index into the buffer's label table. */
typedef int32_t PvmjLabel;

/* A pending rel32 field to a label not yet bound. */
typedef struct PvmjFixup {
    uint32_t field;   /* offset of the rel32 field */
    PvmjLabel label;
} PvmjFixup;

/* A rel32 field to an absolute address outside the buffer (a C helper, an
 * exit stub, another trace), resolved by pvmJ_asm_link. */
typedef struct PvmjReloc {
    uint32_t field;
    const void *target;
} PvmjReloc;

typedef struct PvmjAsm {
    uint8_t *code;
    size_t len, cap, limit;
    PvmjAsmError error;
    int32_t *labels;          /* bound position, or -1 */
    size_t nlabels, caplabels;
    PvmjFixup *fixups;
    size_t nfixups, capfixups;
    PvmjReloc *relocs;
    size_t nrelocs, caprelocs;
} PvmjAsm;

/* ---- buffer, labels, relocations (jit/asm_buf.c) ---- */

/* Starts an empty buffer that may grow to [limit] bytes (0: 16 MB). */
void pvmJ_asm_init(PvmjAsm *a, size_t limit);
void pvmJ_asm_free(PvmjAsm *a);
/* Empties the buffer, labels and relocations, keeping the memory. */
void pvmJ_asm_reset(PvmjAsm *a);
size_t pvmJ_asm_pos(const PvmjAsm *a);
void pvmJ_asm_fail(PvmjAsm *a, PvmjAsmError e);
void pvmJ_byte(PvmjAsm *a, uint8_t b);
void pvmJ_u32(PvmjAsm *a, uint32_t v);
void pvmJ_u64(PvmjAsm *a, uint64_t v);
/* Pads with multi-byte NOPs up to a multiple of [align] (a power of two). */
void pvmJ_align(PvmjAsm *a, size_t align);

PvmjLabel pvmJ_label_new(PvmjAsm *a);
/* Binds [l] to the current position and patches the jumps waiting for it. */
void pvmJ_label_bind(PvmjAsm *a, PvmjLabel l);
/* The bound position of [l], or -1. */
int32_t pvmJ_label_pos(const PvmjAsm *a, PvmjLabel l);
/* Writes the rel32 at [field] so that it reaches buffer offset [target]. */
void pvmJ_patch_rel32(PvmjAsm *a, size_t field, size_t target);
/* Emits a zero rel32 that will reach [l]: now if bound, else when bound. */
void pvmJ_rel32_label(PvmjAsm *a, PvmjLabel l);
/* Emits a zero rel32 that pvmJ_asm_link resolves to [target]. */
void pvmJ_rel32_abs(PvmjAsm *a, const void *target);
/* Copies the code to [dest] (at least a->len bytes, writable) and resolves
 * relocations for that address. False, with [error] set, if the buffer has
 * an error, a label is unbound, or a target is out of rel32 range. */
bool pvmJ_asm_link(PvmjAsm *a, uint8_t *dest);
/* Writes, in final memory, the rel32 at [field] to reach [target]; false if
 * out of range. The caller makes the memory writable (pvmJ_mcode_patch). */
bool pvmJ_rel32_write(uint8_t *field, const void *target);

/* ---- instruction forms (jit/emit_x86.c) ---- */

/* Moves and address arithmetic. */
void pvmJ_mov_rr(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjReg src);
/* Picks the shortest: mov r32,imm32 (zero-extends), REX.W C7 imm32
 * (sign-extends) or movabs imm64. */
void pvmJ_mov_ri(PvmjAsm *a, PvmjReg dst, int64_t imm);
void pvmJ_mov_load(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjMem m);
void pvmJ_mov_store(PvmjAsm *a, PvmjWidth w, PvmjMem m, PvmjReg src);
/* Stores a sign-extended imm32 (W64) or an imm32 (W32). */
void pvmJ_mov_store_imm(PvmjAsm *a, PvmjWidth w, PvmjMem m, int32_t imm);
void pvmJ_mov_store8(PvmjAsm *a, PvmjMem m, PvmjReg src);
void pvmJ_movzx8_rr(PvmjAsm *a, PvmjReg dst, PvmjReg src);
void pvmJ_movzx8_load(PvmjAsm *a, PvmjReg dst, PvmjMem m);
void pvmJ_lea(PvmjAsm *a, PvmjReg dst, PvmjMem m);
/* RIP-relative forms reading [rip + label]: for constants emitted into the
 * same buffer (pvmJ_align then pvmJ_u64), which stay position-independent. */
void pvmJ_mov_load_rip(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjLabel l);
void pvmJ_lea_rip(PvmjAsm *a, PvmjReg dst, PvmjLabel l);

/* Integer arithmetic; the r,imm forms use imm8 when it fits. */
void pvmJ_alu_rr(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjReg dst, PvmjReg src);
void pvmJ_alu_ri(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjReg dst, int32_t imm);
void pvmJ_alu_rm(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjReg dst, PvmjMem m);
void pvmJ_alu_mi(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjMem m, int32_t imm);
void pvmJ_alu_rip(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjReg dst, PvmjLabel l);
void pvmJ_test_rr(PvmjAsm *a, PvmjWidth w, PvmjReg r1, PvmjReg r2);
void pvmJ_test_ri(PvmjAsm *a, PvmjWidth w, PvmjReg r, int32_t imm);
void pvmJ_test_rm(PvmjAsm *a, PvmjWidth w, PvmjReg r, PvmjMem m);
void pvmJ_imul_rr(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjReg src);
void pvmJ_imul_rri(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjReg src, int32_t imm);
void pvmJ_imul_rm(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjMem m);
void pvmJ_neg(PvmjAsm *a, PvmjWidth w, PvmjReg r);
void pvmJ_not(PvmjAsm *a, PvmjWidth w, PvmjReg r);
void pvmJ_shift_ri(PvmjAsm *a, PvmjShift op, PvmjWidth w, PvmjReg r, uint8_t count);
void pvmJ_shift_cl(PvmjAsm *a, PvmjShift op, PvmjWidth w, PvmjReg r);
/* cqo (W64) or cdq (W32): sign-extend rax into rdx before idiv. */
void pvmJ_cqo(PvmjAsm *a, PvmjWidth w);
/* Signed rdx:rax = rax * r (the one-operand form): the high half in rdx. */
void pvmJ_imul_wide(PvmjAsm *a, PvmjWidth w, PvmjReg r);
/* Signed rdx:rax / r: quotient in rax, remainder in rdx. */
void pvmJ_idiv(PvmjAsm *a, PvmjWidth w, PvmjReg r);
/* Sets the low byte of [r]; follow with pvmJ_movzx8_rr for a full value. */
void pvmJ_setcc(PvmjAsm *a, PvmjCond cc, PvmjReg r);
void pvmJ_cmov(PvmjAsm *a, PvmjCond cc, PvmjWidth w, PvmjReg dst, PvmjReg src);

/* Control flow. Label jumps backwards pick rel8 when it reaches; forward
 * label jumps and the *_rel32 forms are always rel32 (patchable). The
 * *_rel32 forms return the offset of their rel32 field. */
void pvmJ_jmp(PvmjAsm *a, PvmjLabel l);
/* call rel32 to a label of the same code. */
void pvmJ_call(PvmjAsm *a, PvmjLabel l);
void pvmJ_jcc(PvmjAsm *a, PvmjCond cc, PvmjLabel l);
size_t pvmJ_jmp_rel32(PvmjAsm *a);
size_t pvmJ_jcc_rel32(PvmjAsm *a, PvmjCond cc);
void pvmJ_jmp_abs(PvmjAsm *a, const void *target);
void pvmJ_jcc_abs(PvmjAsm *a, PvmjCond cc, const void *target);
void pvmJ_call_abs(PvmjAsm *a, const void *target);
void pvmJ_call_r(PvmjAsm *a, PvmjReg r);
void pvmJ_jmp_r(PvmjAsm *a, PvmjReg r);
void pvmJ_ret(PvmjAsm *a);
void pvmJ_push(PvmjAsm *a, PvmjReg r);
void pvmJ_pop(PvmjAsm *a, PvmjReg r);

/* SSE2 scalar double. */
void pvmJ_sse_rr(PvmjAsm *a, PvmjSse op, PvmjReg dst, PvmjReg src);
void pvmJ_sse_rm(PvmjAsm *a, PvmjSse op, PvmjReg dst, PvmjMem m);
void pvmJ_sse_rip(PvmjAsm *a, PvmjSse op, PvmjReg dst, PvmjLabel l);
void pvmJ_movsd_store(PvmjAsm *a, PvmjMem m, PvmjReg src);
void pvmJ_cvtsi2sd(PvmjAsm *a, PvmjReg dst, PvmjReg src);
void pvmJ_cvttsd2si(PvmjAsm *a, PvmjReg dst, PvmjReg src);
void pvmJ_movq_to_xmm(PvmjAsm *a, PvmjReg dst, PvmjReg src);
void pvmJ_movq_from_xmm(PvmjAsm *a, PvmjReg dst, PvmjReg src);
/* SSE4.1: only emit after pvmJ_cpu_has_sse41() returned true. */
void pvmJ_roundsd(PvmjAsm *a, PvmjReg dst, PvmjReg src, PvmjRound mode);
bool pvmJ_cpu_has_sse41(void);

#endif
