/* The x86-64 instruction forms: each public function checks its operands
 * and builds one instruction from the same few parts, in hardware order:
 *
 *   [mandatory prefix 66/F2/F3] [REX 0100WRXB] opcode (1-3 bytes)
 *   ModRM (mod, reg, rm) [SIB (scale, index, base)] [disp8/disp32] [imm]
 *
 * emit_head writes prefix, REX and opcode; emit_rr finishes a
 * register-register form (mod 11), emit_rm a memory form (emit_modrm_mem
 * chooses mod, SIB and displacement size), emit_rip a [rip + label] form. REX is emitted only when a bit in
 * it is set, or when a byte register SPL/BPL/SIL/DIL is used (without REX
 * those numbers mean AH/CH/DH/BH). The buffer itself is jit/asm_buf.c. */
#if defined(__x86_64__)

#include <cpuid.h>

#include "jit/x86.h"

/* Prefix, opcode bytes and their count. */
typedef struct Op {
    uint8_t prefix;
    uint8_t len;
    uint8_t b[3];
} Op;

#define OP1(x) ((Op){ 0, 1, { (x) } })
#define OP2(x, y) ((Op){ 0, 2, { (x), (y) } })
#define OPP2(p, x, y) ((Op){ (p), 2, { (x), (y) } })
#define OPP3(p, x, y, z) ((Op){ (p), 3, { (x), (y), (z) } })

#define NO_BYTE_REG (-1)

static int num(PvmjReg r)
{
    return (int)r & 15;
}

static bool fits8(int64_t v)
{
    return v >= -128 && v <= 127;
}

static bool fits32(int64_t v)
{
    return v >= INT32_MIN && v <= INT32_MAX;
}

/* ---- operand checks ---- */

static bool bad(PvmjAsm *a)
{
    pvmJ_asm_fail(a, PVMJ_EOPERAND);
    return false;
}

static bool gpr(PvmjAsm *a, PvmjReg r)
{
    return PVMJ_IS_GPR(r) || bad(a);
}

static bool xmm(PvmjAsm *a, PvmjReg r)
{
    return PVMJ_IS_XMM(r) || bad(a);
}

static bool mem_ok(PvmjAsm *a, PvmjMem m)
{
    bool base_ok = m.base == PVMJ_NOREG || PVMJ_IS_GPR(m.base);
    bool index_ok = m.index == PVMJ_NOREG || (PVMJ_IS_GPR(m.index) && m.index != PVMJ_RSP);
    bool scale_ok = m.scale == 1 || m.scale == 2 || m.scale == 4 || m.scale == 8;
    return (base_ok && index_ok && scale_ok) || bad(a);
}

/* ---- the parts of an instruction ---- */

static bool needs_byte_rex(int byte_reg)
{
    return byte_reg >= 4 && byte_reg <= 7;
}

/* Prefix, REX (from the 4-bit numbers of the reg, index and base/rm
 * fields) and opcode. */
static void emit_head(PvmjAsm *a, Op op, int w, int r, int x, int b, int byte_reg)
{
    if (op.prefix)
        pvmJ_byte(a, op.prefix);
    uint8_t rex = (uint8_t)(0x40 | w << 3 | (r >> 3 & 1) << 2 | (x >> 3 & 1) << 1 | (b >> 3 & 1));
    if (rex != 0x40 || needs_byte_rex(byte_reg))
        pvmJ_byte(a, rex);
    for (int i = 0; i < op.len; i++)
        pvmJ_byte(a, op.b[i]);
}

static void emit_modrm(PvmjAsm *a, int mod, int reg, int rm)
{
    pvmJ_byte(a, (uint8_t)(mod << 6 | (reg & 7) << 3 | (rm & 7)));
}

static int scale_bits(uint8_t scale)
{
    return scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0;
}

/* No base: mod 00 with SIB base 101 means [index*scale + disp32], and SIB
 * index 100 means no index. */
static void emit_absolute(PvmjAsm *a, int reg, PvmjMem m)
{
    int index = m.index == PVMJ_NOREG ? 4 : num(m.index);
    emit_modrm(a, 0, reg, 4);
    emit_modrm(a, scale_bits(m.scale), index, 5);
    pvmJ_u32(a, (uint32_t)m.disp);
}

/* ModRM, SIB and displacement for [m]. rm 100 always means "SIB follows"
 * (so an RSP/R12 base needs a SIB), and mod 00 with base 101 means
 * RIP-relative or no base (so an RBP/R13 base with no displacement takes a
 * zero disp8). */
static void emit_modrm_mem(PvmjAsm *a, int reg, PvmjMem m)
{
    if (m.base == PVMJ_NOREG) {
        emit_absolute(a, reg, m);
        return;
    }
    int base = num(m.base) & 7;
    int mod = (m.disp == 0 && base != 5) ? 0 : fits8(m.disp) ? 1 : 2;
    if (m.index == PVMJ_NOREG && base != 4) {
        emit_modrm(a, mod, reg, base);
    } else {
        int index = m.index == PVMJ_NOREG ? 4 : num(m.index);
        emit_modrm(a, mod, reg, 4);
        emit_modrm(a, scale_bits(m.scale), index, base);
    }
    if (mod == 1)
        pvmJ_byte(a, (uint8_t)m.disp);
    else if (mod == 2)
        pvmJ_u32(a, (uint32_t)m.disp);
}

/* op reg, rm (both registers). [reg] may be a /digit. */
static void emit_rr(PvmjAsm *a, Op op, int w, int reg, int rm, int byte_reg)
{
    emit_head(a, op, w, reg, 0, rm, byte_reg);
    emit_modrm(a, 3, reg, rm);
}

/* op reg, [m]. [reg] may be a /digit. */
static void emit_rm(PvmjAsm *a, Op op, int w, int reg, PvmjMem m, int byte_reg)
{
    int x = m.index == PVMJ_NOREG ? 0 : num(m.index);
    int b = m.base == PVMJ_NOREG ? 0 : num(m.base);
    emit_head(a, op, w, reg, x, b, byte_reg);
    emit_modrm_mem(a, reg, m);
}

/* op reg, [rip + rel32] to a label. The rel32 is the instruction's last
 * field (these forms take no immediate), so the fixup's "relative to the end
 * of the field" is exactly RIP-relative addressing. */
static void emit_rip(PvmjAsm *a, Op op, int w, int reg, PvmjLabel l)
{
    emit_head(a, op, w, reg, 0, 0, NO_BYTE_REG);
    emit_modrm(a, 0, reg, 5);
    pvmJ_rel32_label(a, l);
}

/* ---- moves ---- */

void pvmJ_mov_rr(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjReg src)
{
    if (gpr(a, dst) && gpr(a, src))
        emit_rr(a, OP1(0x89), w, num(src), num(dst), NO_BYTE_REG);
}

void pvmJ_mov_ri(PvmjAsm *a, PvmjReg dst, int64_t imm)
{
    if (!gpr(a, dst))
        return;
    if (imm >= 0 && imm <= (int64_t)UINT32_MAX) {
        emit_head(a, OP1((uint8_t)(0xB8 + (num(dst) & 7))), 0, 0, 0, num(dst), NO_BYTE_REG);
        pvmJ_u32(a, (uint32_t)imm);
    } else if (fits32(imm)) {
        emit_rr(a, OP1(0xC7), 1, 0, num(dst), NO_BYTE_REG);
        pvmJ_u32(a, (uint32_t)imm);
    } else {
        emit_head(a, OP1((uint8_t)(0xB8 + (num(dst) & 7))), 1, 0, 0, num(dst), NO_BYTE_REG);
        pvmJ_u64(a, (uint64_t)imm);
    }
}

void pvmJ_mov_load(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjMem m)
{
    if (gpr(a, dst) && mem_ok(a, m))
        emit_rm(a, OP1(0x8B), w, num(dst), m, NO_BYTE_REG);
}

void pvmJ_mov_store(PvmjAsm *a, PvmjWidth w, PvmjMem m, PvmjReg src)
{
    if (gpr(a, src) && mem_ok(a, m))
        emit_rm(a, OP1(0x89), w, num(src), m, NO_BYTE_REG);
}

void pvmJ_mov_store_imm(PvmjAsm *a, PvmjWidth w, PvmjMem m, int32_t imm)
{
    if (!mem_ok(a, m))
        return;
    emit_rm(a, OP1(0xC7), w, 0, m, NO_BYTE_REG);
    pvmJ_u32(a, (uint32_t)imm);
}

void pvmJ_mov_store8(PvmjAsm *a, PvmjMem m, PvmjReg src)
{
    if (gpr(a, src) && mem_ok(a, m))
        emit_rm(a, OP1(0x88), 0, num(src), m, num(src));
}

void pvmJ_movzx8_rr(PvmjAsm *a, PvmjReg dst, PvmjReg src)
{
    if (gpr(a, dst) && gpr(a, src))
        emit_rr(a, OP2(0x0F, 0xB6), 0, num(dst), num(src), num(src));
}

void pvmJ_movzx8_load(PvmjAsm *a, PvmjReg dst, PvmjMem m)
{
    if (gpr(a, dst) && mem_ok(a, m))
        emit_rm(a, OP2(0x0F, 0xB6), 0, num(dst), m, NO_BYTE_REG);
}

void pvmJ_lea(PvmjAsm *a, PvmjReg dst, PvmjMem m)
{
    if (gpr(a, dst) && mem_ok(a, m))
        emit_rm(a, OP1(0x8D), 1, num(dst), m, NO_BYTE_REG);
}

void pvmJ_mov_load_rip(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjLabel l)
{
    if (gpr(a, dst))
        emit_rip(a, OP1(0x8B), w, num(dst), l);
}

void pvmJ_lea_rip(PvmjAsm *a, PvmjReg dst, PvmjLabel l)
{
    if (gpr(a, dst))
        emit_rip(a, OP1(0x8D), 1, num(dst), l);
}

/* ---- integer arithmetic ---- */

void pvmJ_alu_rr(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjReg dst, PvmjReg src)
{
    if (gpr(a, dst) && gpr(a, src))
        emit_rr(a, OP1((uint8_t)(op << 3 | 1)), w, num(src), num(dst), NO_BYTE_REG);
}

void pvmJ_alu_ri(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjReg dst, int32_t imm)
{
    if (!gpr(a, dst))
        return;
    if (fits8(imm)) {
        emit_rr(a, OP1(0x83), w, op, num(dst), NO_BYTE_REG);
        pvmJ_byte(a, (uint8_t)imm);
    } else {
        emit_rr(a, OP1(0x81), w, op, num(dst), NO_BYTE_REG);
        pvmJ_u32(a, (uint32_t)imm);
    }
}

void pvmJ_alu_rm(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjReg dst, PvmjMem m)
{
    if (gpr(a, dst) && mem_ok(a, m))
        emit_rm(a, OP1((uint8_t)(op << 3 | 3)), w, num(dst), m, NO_BYTE_REG);
}

void pvmJ_alu_mi(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjMem m, int32_t imm)
{
    if (!mem_ok(a, m))
        return;
    if (fits8(imm)) {
        emit_rm(a, OP1(0x83), w, op, m, NO_BYTE_REG);
        pvmJ_byte(a, (uint8_t)imm);
    } else {
        emit_rm(a, OP1(0x81), w, op, m, NO_BYTE_REG);
        pvmJ_u32(a, (uint32_t)imm);
    }
}

void pvmJ_alu_rip(PvmjAsm *a, PvmjAlu op, PvmjWidth w, PvmjReg dst, PvmjLabel l)
{
    if (gpr(a, dst))
        emit_rip(a, OP1((uint8_t)(op << 3 | 3)), w, num(dst), l);
}

void pvmJ_test_rr(PvmjAsm *a, PvmjWidth w, PvmjReg r1, PvmjReg r2)
{
    if (gpr(a, r1) && gpr(a, r2))
        emit_rr(a, OP1(0x85), w, num(r2), num(r1), NO_BYTE_REG);
}

void pvmJ_test_ri(PvmjAsm *a, PvmjWidth w, PvmjReg r, int32_t imm)
{
    if (!gpr(a, r))
        return;
    emit_rr(a, OP1(0xF7), w, 0, num(r), NO_BYTE_REG);
    pvmJ_u32(a, (uint32_t)imm);
}

void pvmJ_test_rm(PvmjAsm *a, PvmjWidth w, PvmjReg r, PvmjMem m)
{
    if (gpr(a, r) && mem_ok(a, m))
        emit_rm(a, OP1(0x85), w, num(r), m, NO_BYTE_REG);
}

void pvmJ_imul_rr(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjReg src)
{
    if (gpr(a, dst) && gpr(a, src))
        emit_rr(a, OP2(0x0F, 0xAF), w, num(dst), num(src), NO_BYTE_REG);
}

void pvmJ_imul_rri(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjReg src, int32_t imm)
{
    if (!gpr(a, dst) || !gpr(a, src))
        return;
    if (fits8(imm)) {
        emit_rr(a, OP1(0x6B), w, num(dst), num(src), NO_BYTE_REG);
        pvmJ_byte(a, (uint8_t)imm);
    } else {
        emit_rr(a, OP1(0x69), w, num(dst), num(src), NO_BYTE_REG);
        pvmJ_u32(a, (uint32_t)imm);
    }
}

void pvmJ_imul_rm(PvmjAsm *a, PvmjWidth w, PvmjReg dst, PvmjMem m)
{
    if (gpr(a, dst) && mem_ok(a, m))
        emit_rm(a, OP2(0x0F, 0xAF), w, num(dst), m, NO_BYTE_REG);
}

/* The F7 group: /2 not, /3 neg, /7 idiv. */
static void emit_f7(PvmjAsm *a, int digit, PvmjWidth w, PvmjReg r)
{
    if (gpr(a, r))
        emit_rr(a, OP1(0xF7), w, digit, num(r), NO_BYTE_REG);
}

void pvmJ_neg(PvmjAsm *a, PvmjWidth w, PvmjReg r)
{
    emit_f7(a, 3, w, r);
}

void pvmJ_not(PvmjAsm *a, PvmjWidth w, PvmjReg r)
{
    emit_f7(a, 2, w, r);
}

void pvmJ_idiv(PvmjAsm *a, PvmjWidth w, PvmjReg r)
{
    emit_f7(a, 7, w, r);
}

void pvmJ_imul_wide(PvmjAsm *a, PvmjWidth w, PvmjReg r)
{
    emit_f7(a, 5, w, r);
}

void pvmJ_cqo(PvmjAsm *a, PvmjWidth w)
{
    if (w == PVMJ_W64)
        pvmJ_byte(a, 0x48);
    pvmJ_byte(a, 0x99);
}

/* A count of 1 has its own opcode (D1); others take an imm8 (C1). The
 * hardware masks the count to 5 or 6 bits. */
void pvmJ_shift_ri(PvmjAsm *a, PvmjShift op, PvmjWidth w, PvmjReg r, uint8_t count)
{
    if (!gpr(a, r))
        return;
    if (count == 1) {
        emit_rr(a, OP1(0xD1), w, op, num(r), NO_BYTE_REG);
    } else {
        emit_rr(a, OP1(0xC1), w, op, num(r), NO_BYTE_REG);
        pvmJ_byte(a, count);
    }
}

void pvmJ_shift_cl(PvmjAsm *a, PvmjShift op, PvmjWidth w, PvmjReg r)
{
    if (gpr(a, r))
        emit_rr(a, OP1(0xD3), w, op, num(r), NO_BYTE_REG);
}

void pvmJ_setcc(PvmjAsm *a, PvmjCond cc, PvmjReg r)
{
    if (gpr(a, r))
        emit_rr(a, OP2(0x0F, (uint8_t)(0x90 | cc)), 0, 0, num(r), num(r));
}

void pvmJ_cmov(PvmjAsm *a, PvmjCond cc, PvmjWidth w, PvmjReg dst, PvmjReg src)
{
    if (gpr(a, dst) && gpr(a, src))
        emit_rr(a, OP2(0x0F, (uint8_t)(0x40 | cc)), w, num(dst), num(src), NO_BYTE_REG);
}

/* ---- control flow ---- */

/* A bound label within rel8 reach of an instruction of [short_len] bytes
 * ending at the current position plus short_len. */
static bool short_reach(PvmjAsm *a, PvmjLabel l, int short_len)
{
    int32_t pos = pvmJ_label_pos(a, l);
    return pos >= 0 && fits8((int64_t)pos - (int64_t)(a->len + (size_t)short_len));
}

static void emit_rel8(PvmjAsm *a, PvmjLabel l)
{
    int64_t rel = (int64_t)pvmJ_label_pos(a, l) - (int64_t)(a->len + 1);
    pvmJ_byte(a, (uint8_t)rel);
}

void pvmJ_jmp(PvmjAsm *a, PvmjLabel l)
{
    if (short_reach(a, l, 2)) {
        pvmJ_byte(a, 0xEB);
        emit_rel8(a, l);
    } else {
        pvmJ_byte(a, 0xE9);
        pvmJ_rel32_label(a, l);
    }
}

void pvmJ_call(PvmjAsm *a, PvmjLabel l)
{
    pvmJ_byte(a, 0xE8);
    pvmJ_rel32_label(a, l);
}

void pvmJ_jcc(PvmjAsm *a, PvmjCond cc, PvmjLabel l)
{
    if (short_reach(a, l, 2)) {
        pvmJ_byte(a, (uint8_t)(0x70 | cc));
        emit_rel8(a, l);
    } else {
        pvmJ_byte(a, 0x0F);
        pvmJ_byte(a, (uint8_t)(0x80 | cc));
        pvmJ_rel32_label(a, l);
    }
}

size_t pvmJ_jmp_rel32(PvmjAsm *a)
{
    pvmJ_byte(a, 0xE9);
    size_t field = a->len;
    pvmJ_u32(a, 0);
    return field;
}

size_t pvmJ_jcc_rel32(PvmjAsm *a, PvmjCond cc)
{
    pvmJ_byte(a, 0x0F);
    pvmJ_byte(a, (uint8_t)(0x80 | cc));
    size_t field = a->len;
    pvmJ_u32(a, 0);
    return field;
}

void pvmJ_jmp_abs(PvmjAsm *a, const void *target)
{
    pvmJ_byte(a, 0xE9);
    pvmJ_rel32_abs(a, target);
}

void pvmJ_jcc_abs(PvmjAsm *a, PvmjCond cc, const void *target)
{
    pvmJ_byte(a, 0x0F);
    pvmJ_byte(a, (uint8_t)(0x80 | cc));
    pvmJ_rel32_abs(a, target);
}

void pvmJ_call_abs(PvmjAsm *a, const void *target)
{
    pvmJ_byte(a, 0xE8);
    pvmJ_rel32_abs(a, target);
}

void pvmJ_call_r(PvmjAsm *a, PvmjReg r)
{
    if (gpr(a, r))
        emit_rr(a, OP1(0xFF), 0, 2, num(r), NO_BYTE_REG);
}

void pvmJ_jmp_r(PvmjAsm *a, PvmjReg r)
{
    if (gpr(a, r))
        emit_rr(a, OP1(0xFF), 0, 4, num(r), NO_BYTE_REG);
}

void pvmJ_ret(PvmjAsm *a)
{
    pvmJ_byte(a, 0xC3);
}

void pvmJ_push(PvmjAsm *a, PvmjReg r)
{
    if (gpr(a, r))
        emit_head(a, OP1((uint8_t)(0x50 + (num(r) & 7))), 0, 0, 0, num(r), NO_BYTE_REG);
}

void pvmJ_pop(PvmjAsm *a, PvmjReg r)
{
    if (gpr(a, r))
        emit_head(a, OP1((uint8_t)(0x58 + (num(r) & 7))), 0, 0, 0, num(r), NO_BYTE_REG);
}

/* ---- SSE2 scalar double ---- */

static Op sse_op(PvmjSse op)
{
    return OPP2((uint8_t)(op >> 8), 0x0F, (uint8_t)op);
}

void pvmJ_sse_rr(PvmjAsm *a, PvmjSse op, PvmjReg dst, PvmjReg src)
{
    if (xmm(a, dst) && xmm(a, src))
        emit_rr(a, sse_op(op), 0, num(dst), num(src), NO_BYTE_REG);
}

void pvmJ_sse_rm(PvmjAsm *a, PvmjSse op, PvmjReg dst, PvmjMem m)
{
    if (xmm(a, dst) && mem_ok(a, m))
        emit_rm(a, sse_op(op), 0, num(dst), m, NO_BYTE_REG);
}

void pvmJ_sse_rip(PvmjAsm *a, PvmjSse op, PvmjReg dst, PvmjLabel l)
{
    if (xmm(a, dst))
        emit_rip(a, sse_op(op), 0, num(dst), l);
}

void pvmJ_movsd_store(PvmjAsm *a, PvmjMem m, PvmjReg src)
{
    if (xmm(a, src) && mem_ok(a, m))
        emit_rm(a, OPP2(0xF2, 0x0F, 0x11), 0, num(src), m, NO_BYTE_REG);
}

void pvmJ_cvtsi2sd(PvmjAsm *a, PvmjReg dst, PvmjReg src)
{
    if (xmm(a, dst) && gpr(a, src))
        emit_rr(a, OPP2(0xF2, 0x0F, 0x2A), 1, num(dst), num(src), NO_BYTE_REG);
}

void pvmJ_cvttsd2si(PvmjAsm *a, PvmjReg dst, PvmjReg src)
{
    if (gpr(a, dst) && xmm(a, src))
        emit_rr(a, OPP2(0xF2, 0x0F, 0x2C), 1, num(dst), num(src), NO_BYTE_REG);
}

void pvmJ_movq_to_xmm(PvmjAsm *a, PvmjReg dst, PvmjReg src)
{
    if (xmm(a, dst) && gpr(a, src))
        emit_rr(a, OPP2(0x66, 0x0F, 0x6E), 1, num(dst), num(src), NO_BYTE_REG);
}

void pvmJ_movq_from_xmm(PvmjAsm *a, PvmjReg dst, PvmjReg src)
{
    if (gpr(a, dst) && xmm(a, src))
        emit_rr(a, OPP2(0x66, 0x0F, 0x7E), 1, num(src), num(dst), NO_BYTE_REG);
}

/* SSE4.1 (66 0F 3A 0B /r ib): the backend must check pvmJ_cpu_has_sse41
 * first; without it, floor/ceil go through a C call or a cvt sequence. */
void pvmJ_roundsd(PvmjAsm *a, PvmjReg dst, PvmjReg src, PvmjRound mode)
{
    if (!xmm(a, dst) || !xmm(a, src))
        return;
    emit_rr(a, OPP3(0x66, 0x0F, 0x3A, 0x0B), 0, num(dst), num(src), NO_BYTE_REG);
    pvmJ_byte(a, (uint8_t)mode);
}

bool pvmJ_cpu_has_sse41(void)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return false;
    return (ecx & bit_SSE4_1) != 0;
}

#endif
