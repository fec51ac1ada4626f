/* Unit tests for the x86-64 encoder (jit/x86.h): every instruction form is
 * disassembled with capstone and compared, as text, with what was meant,
 * across all 16 registers of each class and the addressing modes with
 * special encodings; the lengths check that the shortest form was chosen,
 * and a few byte sequences are pinned exactly. Also the buffer's labels,
 * relocations, alignment and error flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#if defined(__x86_64__)

#include <capstone/capstone.h>

#include "jit/x86.h"

static const char *const R64[16] = {
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"
};
static const char *const R32[16] = {
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
    "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"
};
static const char *const R8[16] = {
    "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
    "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"
};
static const char *const CC[16] = {
    "o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"
};

static csh cs;
static PvmjAsm as;

static int setup(void **state)
{
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
        return -1;
    pvmJ_asm_init(&as, 0);
    return 0;
}

static int teardown(void **state)
{
    pvmJ_asm_free(&as);
    cs_close(&cs);
    return 0;
}

static PvmjReg gp(int i)
{
    return (PvmjReg)(PVMJ_RAX + i);
}

static PvmjReg xm(int i)
{
    return (PvmjReg)(PVMJ_XMM0 + i);
}

static const char *xname(int i)
{
    static const char *const X[16] = {
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
        "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
    };
    return X[i];
}

/* Capstone's way of writing a number: decimal up to 9, hex above, with a
 * leading minus for negatives. */
static void fmt_num(char *out, size_t n, int64_t v)
{
    uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    const char *sign = v < 0 ? "-" : "";
    if (mag > 9)
        snprintf(out, n, "%s0x%llx", sign, (unsigned long long)mag);
    else
        snprintf(out, n, "%s%llu", sign, (unsigned long long)mag);
}

/* The text of [m], with an optional size such as "qword" in front. */
static void fmt_mem(char *out, size_t n, const char *size, PvmjMem m)
{
    char inner[96] = "";
    size_t k = 0;
    if (m.base != PVMJ_NOREG)
        k += (size_t)snprintf(inner + k, sizeof inner - k, "%s", R64[m.base]);
    if (m.index != PVMJ_NOREG) {
        k += (size_t)snprintf(inner + k, sizeof inner - k, "%s%s", k ? " + " : "", R64[m.index]);
        if (m.scale != 1)
            k += (size_t)snprintf(inner + k, sizeof inner - k, "*%d", m.scale);
    }
    char num[32];
    if (k == 0) {
        snprintf(num, sizeof num, "0x%llx", (unsigned long long)(int64_t)m.disp);
        if (m.disp >= 0 && m.disp <= 9)
            snprintf(num, sizeof num, "%d", m.disp);
        k += (size_t)snprintf(inner + k, sizeof inner - k, "%s", num);
    } else if (m.disp != 0) {
        fmt_num(num, sizeof num, m.disp < 0 ? -(int64_t)m.disp : m.disp);
        k += (size_t)snprintf(inner + k, sizeof inner - k, " %s %s", m.disp < 0 ? "-" : "+", num);
    }
    if (size)
        snprintf(out, n, "%s ptr [%s]", size, inner);
    else
        snprintf(out, n, "[%s]", inner);
}

/* Disassembles the buffer as code at [addr] and checks it is exactly one
 * instruction reading [text], and (when [len] > 0) [len] bytes long; then
 * empties the buffer. */
static void check_at(uint64_t addr, const char *text, size_t len)
{
    assert_int_equal(as.error, PVMJ_OK);
    cs_insn *insn;
    size_t n = cs_disasm(cs, as.code, as.len, addr, 0, &insn);
    char got[256] = "(nothing)";
    if (n >= 1)
        snprintf(got, sizeof got, "%s%s%s", insn[0].mnemonic, insn[0].op_str[0] ? " " : "",
                 insn[0].op_str);
    bool ok = n == 1 && insn[0].size == as.len && strcmp(got, text) == 0 && (len == 0 || as.len == len);
    if (!ok) {
        fprintf(stderr, "want '%s' (%zu bytes), got '%s' n=%zu bytes:", text, len, got, n);
        for (size_t i = 0; i < as.len; i++)
            fprintf(stderr, " %02x", as.code[i]);
        fprintf(stderr, "\n");
    }
    if (n > 0)
        cs_free(insn, n);
    pvmJ_asm_reset(&as);
    assert_true(ok);
}

static void check(const char *text, size_t len)
{
    check_at(0, text, len);
}

static void check_bytes(const uint8_t *want, size_t n)
{
    assert_int_equal(as.error, PVMJ_OK);
    assert_int_equal(as.len, n);
    assert_memory_equal(as.code, want, n);
    pvmJ_asm_reset(&as);
}

static int rex_for(int reg, int rm, bool w)
{
    return (w || reg >= 8 || rm >= 8) ? 1 : 0;
}

/* ---- moves ---- */

static void test_mov_rr_all(void **state)
{
    char want[64];
    for (int d = 0; d < 16; d++) {
        for (int s = 0; s < 16; s++) {
            pvmJ_mov_rr(&as, PVMJ_W64, gp(d), gp(s));
            snprintf(want, sizeof want, "mov %s, %s", R64[d], R64[s]);
            check(want, 3);
            pvmJ_mov_rr(&as, PVMJ_W32, gp(d), gp(s));
            snprintf(want, sizeof want, "mov %s, %s", R32[d], R32[s]);
            check(want, 2 + (size_t)rex_for(s, d, false));
        }
    }
}

/* mov r,imm picks the 32-bit zero-extending form, then the sign-extended
 * imm32, then movabs. */
static void test_mov_ri_forms(void **state)
{
    static const int64_t vals[] = {
        0, 5, 0x7fffffff, 0x80000000LL, 0xffffffffLL, -1, -200, INT32_MIN,
        0x100000000LL, INT64_MIN, INT64_MAX, -0x80000001LL
    };
    char want[96], num[40];
    for (int r = 0; r < 16; r++) {
        for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
            int64_t v = vals[i];
            pvmJ_mov_ri(&as, gp(r), v);
            if (v >= 0 && v <= 0xffffffffLL) {
                fmt_num(num, sizeof num, v);
                snprintf(want, sizeof want, "mov %s, %s", R32[r], num);
                check(want, r >= 8 ? 6 : 5);
            } else if (v >= INT32_MIN && v <= INT32_MAX) {
                fmt_num(num, sizeof num, v);
                snprintf(want, sizeof want, "mov %s, %s", R64[r], num);
                check(want, 7);
            } else {
                snprintf(want, sizeof want, "movabs %s, 0x%llx", R64[r], (unsigned long long)v);
                check(want, 10);
            }
        }
    }
}

static const int32_t DISPS[] = { 0, 1, -1, 9, 10, 127, -128, 128, -129, 0x12345678, INT32_MIN, INT32_MAX };
#define NDISPS (sizeof DISPS / sizeof DISPS[0])

/* The length of REX.W + 1-byte opcode + the memory operand. */
static size_t mem_len(PvmjMem m)
{
    size_t n = 3;   /* REX, opcode, ModRM */
    int base = m.base & 7;
    if (m.base == PVMJ_NOREG)
        return n + 1 + 4;
    if (m.index != PVMJ_NOREG || base == 4)
        n++;
    if (m.disp == 0 && base != 5)
        return n;
    return n + (m.disp >= -128 && m.disp <= 127 ? 1 : 4);
}

static void check_load(PvmjMem m, int dst)
{
    char want[256], mem[128];
    pvmJ_mov_load(&as, PVMJ_W64, gp(dst), m);
    fmt_mem(mem, sizeof mem, "qword", m);
    snprintf(want, sizeof want, "mov %s, %s", R64[dst], mem);
    check(want, mem_len(m));
}

/* Every base, every index (RSP cannot be one), every scale, and
 * displacements at the disp8/disp32 boundaries, including the RSP/R12
 * (needs SIB) and RBP/R13 (needs a disp8 0) bases. */
static void test_mem_addressing_all(void **state)
{
    static const uint8_t scales[] = { 1, 2, 4, 8 };
    int dst = 0;
    for (int b = 0; b < 16; b++) {
        for (size_t d = 0; d < NDISPS; d++) {
            check_load(pvmj_mem(gp(b), DISPS[d]), dst);
            dst = (dst + 1) & 15;
            for (int x = 0; x < 16; x++) {
                if (x == 4)
                    continue;
                for (int s = 0; s < 4; s++) {
                    check_load(pvmj_memx(gp(b), gp(x), scales[s], DISPS[d]), dst);
                    dst = (dst + 1) & 15;
                }
            }
        }
    }
}

static void test_mem_absolute(void **state)
{
    check_load(pvmj_mem(PVMJ_NOREG, 0x1000), 3);
    check_load(pvmj_mem(PVMJ_NOREG, -8), 12);
    check_load(pvmj_memx(PVMJ_NOREG, PVMJ_RCX, 4, 0x1000), 9);
    check_load(pvmj_memx(PVMJ_NOREG, PVMJ_R13, 8, 16), 0);
}

/* The special cases, byte for byte. */
static void test_mem_special_bytes(void **state)
{
    pvmJ_mov_load(&as, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_R12, 8));
    check_bytes((const uint8_t[]){ 0x49, 0x8b, 0x44, 0x24, 0x08 }, 5);
    pvmJ_mov_load(&as, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RSP, 0));
    check_bytes((const uint8_t[]){ 0x48, 0x8b, 0x04, 0x24 }, 4);
    pvmJ_mov_load(&as, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_RBP, 0));
    check_bytes((const uint8_t[]){ 0x48, 0x8b, 0x45, 0x00 }, 4);
    pvmJ_mov_load(&as, PVMJ_W64, PVMJ_RAX, pvmj_mem(PVMJ_R13, 0));
    check_bytes((const uint8_t[]){ 0x49, 0x8b, 0x45, 0x00 }, 4);
    pvmJ_mov_load(&as, PVMJ_W64, PVMJ_R9, pvmj_memx(PVMJ_RBX, PVMJ_R12, 8, 200));
    check_bytes((const uint8_t[]){ 0x4e, 0x8b, 0x8c, 0xe3, 0xc8, 0x00, 0x00, 0x00 }, 8);
    pvmJ_mov_load(&as, PVMJ_W64, PVMJ_RAX, pvmj_memx(PVMJ_R13, PVMJ_RAX, 1, 0));
    check_bytes((const uint8_t[]){ 0x49, 0x8b, 0x44, 0x05, 0x00 }, 5);
}

/* The other memory forms share the operand code; each is checked over all
 * registers with a few tricky operands. */
static const PvmjMem *tricky_mems(size_t *n)
{
    static PvmjMem mems[6];
    mems[0] = pvmj_mem(PVMJ_RSP, 8);
    mems[1] = pvmj_mem(PVMJ_R13, 0);
    mems[2] = pvmj_memx(PVMJ_R12, PVMJ_R15, 4, -300);
    mems[3] = pvmj_memx(PVMJ_RBP, PVMJ_RSI, 2, 0);
    mems[4] = pvmj_mem(PVMJ_RAX, 0);
    mems[5] = pvmj_memx(PVMJ_R8, PVMJ_R9, 8, 127);
    *n = 6;
    return mems;
}

static void test_load_store_forms(void **state)
{
    size_t nm;
    const PvmjMem *mems = tricky_mems(&nm);
    char want[256], q[128], d[128], b[128], p[128], num[32];
    for (size_t i = 0; i < nm; i++) {
        fmt_mem(q, sizeof q, "qword", mems[i]);
        fmt_mem(d, sizeof d, "dword", mems[i]);
        fmt_mem(b, sizeof b, "byte", mems[i]);
        fmt_mem(p, sizeof p, NULL, mems[i]);
        for (int r = 0; r < 16; r++) {
            pvmJ_mov_store(&as, PVMJ_W64, mems[i], gp(r));
            snprintf(want, sizeof want, "mov %s, %s", q, R64[r]);
            check(want, 0);
            pvmJ_mov_store(&as, PVMJ_W32, mems[i], gp(r));
            snprintf(want, sizeof want, "mov %s, %s", d, R32[r]);
            check(want, 0);
            pvmJ_mov_load(&as, PVMJ_W32, gp(r), mems[i]);
            snprintf(want, sizeof want, "mov %s, %s", R32[r], d);
            check(want, 0);
            pvmJ_mov_store8(&as, mems[i], gp(r));
            snprintf(want, sizeof want, "mov %s, %s", b, R8[r]);
            check(want, 0);
            pvmJ_movzx8_load(&as, gp(r), mems[i]);
            snprintf(want, sizeof want, "movzx %s, %s", R32[r], b);
            check(want, 0);
            pvmJ_lea(&as, gp(r), mems[i]);
            snprintf(want, sizeof want, "lea %s, %s", R64[r], p);
            check(want, 0);
        }
        pvmJ_mov_store_imm(&as, PVMJ_W64, mems[i], -5);
        snprintf(want, sizeof want, "mov %s, -5", q);
        check(want, 0);
        pvmJ_mov_store_imm(&as, PVMJ_W32, mems[i], 0x12345678);
        fmt_num(num, sizeof num, 0x12345678);
        snprintf(want, sizeof want, "mov %s, %s", d, num);
        check(want, 0);
    }
}

static void test_movzx8_rr_all(void **state)
{
    char want[64];
    for (int d = 0; d < 16; d++) {
        for (int s = 0; s < 16; s++) {
            pvmJ_movzx8_rr(&as, gp(d), gp(s));
            snprintf(want, sizeof want, "movzx %s, %s", R32[d], R8[s]);
            check(want, (d >= 8 || s >= 4) ? 4 : 3);
        }
    }
}

/* ---- integer arithmetic ---- */

static const struct { PvmjAlu op; const char *name; } ALUS[] = {
    { PVMJ_ADD, "add" }, { PVMJ_OR, "or" }, { PVMJ_AND, "and" },
    { PVMJ_SUB, "sub" }, { PVMJ_XOR, "xor" }, { PVMJ_CMP, "cmp" }
};
#define NALUS (sizeof ALUS / sizeof ALUS[0])

static void test_alu_rr_all(void **state)
{
    char want[64];
    for (size_t o = 0; o < NALUS; o++) {
        for (int d = 0; d < 16; d++) {
            for (int s = 0; s < 16; s++) {
                pvmJ_alu_rr(&as, ALUS[o].op, PVMJ_W64, gp(d), gp(s));
                snprintf(want, sizeof want, "%s %s, %s", ALUS[o].name, R64[d], R64[s]);
                check(want, 3);
                pvmJ_alu_rr(&as, ALUS[o].op, PVMJ_W32, gp(d), gp(s));
                snprintf(want, sizeof want, "%s %s, %s", ALUS[o].name, R32[d], R32[s]);
                check(want, 2 + (size_t)rex_for(s, d, false));
            }
        }
    }
}

/* Capstone prints the immediate of and/or/xor unsigned at the operand
 * width; of add/sub/cmp signed, except a 32-bit form's imm32 (unsigned). */
static void fmt_alu_imm(char *out, size_t n, PvmjAlu op, PvmjWidth w, int32_t v)
{
    bool logical = op == PVMJ_AND || op == PVMJ_OR || op == PVMJ_XOR;
    bool imm8 = v >= -128 && v <= 127;
    if (v >= 0)
        fmt_num(out, n, v);
    else if (logical && w == PVMJ_W64)
        snprintf(out, n, "0x%llx", (unsigned long long)(int64_t)v);
    else if (logical || (w == PVMJ_W32 && !imm8))
        fmt_num(out, n, (int64_t)(uint32_t)v);
    else
        fmt_num(out, n, v);
}

/* imm8 when it fits (-128..127), imm32 otherwise. */
static void test_alu_ri_all(void **state)
{
    static const int32_t imms[] = { 0, 1, -1, 127, -128, 128, -129, 1000, INT32_MIN, INT32_MAX };
    char want[96], num[40];
    for (size_t o = 0; o < NALUS; o++) {
        for (int r = 0; r < 16; r++) {
            for (size_t i = 0; i < sizeof imms / sizeof imms[0]; i++) {
                int32_t v = imms[i];
                size_t immlen = (v >= -128 && v <= 127) ? 1 : 4;
                pvmJ_alu_ri(&as, ALUS[o].op, PVMJ_W64, gp(r), v);
                fmt_alu_imm(num, sizeof num, ALUS[o].op, PVMJ_W64, v);
                snprintf(want, sizeof want, "%s %s, %s", ALUS[o].name, R64[r], num);
                check(want, 3 + immlen);
                pvmJ_alu_ri(&as, ALUS[o].op, PVMJ_W32, gp(r), v);
                fmt_alu_imm(num, sizeof num, ALUS[o].op, PVMJ_W32, v);
                snprintf(want, sizeof want, "%s %s, %s", ALUS[o].name, R32[r], num);
                check(want, 2 + (r >= 8) + immlen);
            }
        }
    }
}

static void test_alu_rm_forms(void **state)
{
    size_t nm;
    const PvmjMem *mems = tricky_mems(&nm);
    char want[256], q[128], d[128];
    for (size_t i = 0; i < nm; i++) {
        fmt_mem(q, sizeof q, "qword", mems[i]);
        fmt_mem(d, sizeof d, "dword", mems[i]);
        for (int r = 0; r < 16; r++) {
            for (size_t o = 0; o < NALUS; o++) {
                pvmJ_alu_rm(&as, ALUS[o].op, PVMJ_W64, gp(r), mems[i]);
                snprintf(want, sizeof want, "%s %s, %s", ALUS[o].name, R64[r], q);
                check(want, 0);
                pvmJ_alu_rm(&as, ALUS[o].op, PVMJ_W32, gp(r), mems[i]);
                snprintf(want, sizeof want, "%s %s, %s", ALUS[o].name, R32[r], d);
                check(want, 0);
            }
            pvmJ_test_rm(&as, PVMJ_W64, gp(r), mems[i]);
            snprintf(want, sizeof want, "test %s, %s", q, R64[r]);
            check(want, 0);
            pvmJ_imul_rm(&as, PVMJ_W64, gp(r), mems[i]);
            snprintf(want, sizeof want, "imul %s, %s", R64[r], q);
            check(want, 0);
        }
    }
}

/* op qword/dword [mem], imm: imm8 when it fits, else imm32. */
static void test_alu_mi_forms(void **state)
{
    size_t nm;
    const PvmjMem *mems = tricky_mems(&nm);
    static const int32_t imms[] = { 0, 5, -1, 127, -128, 128, -129, 100000, INT32_MIN, INT32_MAX };
    char want[256], q[128], d[128], num[64];
    for (size_t i = 0; i < nm; i++) {
        fmt_mem(q, sizeof q, "qword", mems[i]);
        fmt_mem(d, sizeof d, "dword", mems[i]);
        for (size_t o = 0; o < NALUS; o++) {
            for (size_t v = 0; v < sizeof imms / sizeof imms[0]; v++) {
                pvmJ_alu_mi(&as, ALUS[o].op, PVMJ_W64, mems[i], imms[v]);
                fmt_alu_imm(num, sizeof num, ALUS[o].op, PVMJ_W64, imms[v]);
                snprintf(want, sizeof want, "%s %s, %s", ALUS[o].name, q, num);
                check(want, 0);
                pvmJ_alu_mi(&as, ALUS[o].op, PVMJ_W32, mems[i], imms[v]);
                fmt_alu_imm(num, sizeof num, ALUS[o].op, PVMJ_W32, imms[v]);
                snprintf(want, sizeof want, "%s %s, %s", ALUS[o].name, d, num);
                check(want, 0);
            }
        }
    }
}

static void test_test_imul_all(void **state)
{
    char want[96], num[40];
    for (int d = 0; d < 16; d++) {
        for (int s = 0; s < 16; s++) {
            pvmJ_test_rr(&as, PVMJ_W64, gp(d), gp(s));
            snprintf(want, sizeof want, "test %s, %s", R64[d], R64[s]);
            check(want, 3);
            pvmJ_imul_rr(&as, PVMJ_W64, gp(d), gp(s));
            snprintf(want, sizeof want, "imul %s, %s", R64[d], R64[s]);
            check(want, 4);
            pvmJ_imul_rr(&as, PVMJ_W32, gp(d), gp(s));
            snprintf(want, sizeof want, "imul %s, %s", R32[d], R32[s]);
            check(want, 3 + (size_t)rex_for(d, s, false));
            pvmJ_imul_rri(&as, PVMJ_W64, gp(d), gp(s), -3);
            snprintf(want, sizeof want, "imul %s, %s, -3", R64[d], R64[s]);
            check(want, 4);
            pvmJ_imul_rri(&as, PVMJ_W64, gp(d), gp(s), 1000);
            fmt_num(num, sizeof num, 1000);
            snprintf(want, sizeof want, "imul %s, %s, %s", R64[d], R64[s], num);
            check(want, 7);
        }
        pvmJ_test_ri(&as, PVMJ_W64, gp(d), 0x100);
        snprintf(want, sizeof want, "test %s, 0x100", R64[d]);
        check(want, 7);
        pvmJ_test_ri(&as, PVMJ_W32, gp(d), 1);
        snprintf(want, sizeof want, "test %s, 1", R32[d]);
        check(want, 6 + (d >= 8));
    }
}

static void test_unary_shift_div(void **state)
{
    static const struct { PvmjShift op; const char *name; } shifts[] = {
        { PVMJ_SHL, "shl" }, { PVMJ_SHR, "shr" }, { PVMJ_SAR, "sar" }
    };
    char want[64];
    for (int r = 0; r < 16; r++) {
        pvmJ_neg(&as, PVMJ_W64, gp(r));
        snprintf(want, sizeof want, "neg %s", R64[r]);
        check(want, 3);
        pvmJ_not(&as, PVMJ_W32, gp(r));
        snprintf(want, sizeof want, "not %s", R32[r]);
        check(want, 2 + (r >= 8));
        pvmJ_idiv(&as, PVMJ_W64, gp(r));
        snprintf(want, sizeof want, "idiv %s", R64[r]);
        check(want, 3);
        pvmJ_imul_wide(&as, PVMJ_W64, gp(r));
        snprintf(want, sizeof want, "imul %s", R64[r]);
        check(want, 3);
        for (int s = 0; s < 3; s++) {
            pvmJ_shift_ri(&as, shifts[s].op, PVMJ_W64, gp(r), 1);
            snprintf(want, sizeof want, "%s %s, 1", shifts[s].name, R64[r]);
            check(want, 3);
            pvmJ_shift_ri(&as, shifts[s].op, PVMJ_W64, gp(r), 63);
            snprintf(want, sizeof want, "%s %s, 0x3f", shifts[s].name, R64[r]);
            check(want, 4);
            pvmJ_shift_ri(&as, shifts[s].op, PVMJ_W32, gp(r), 3);
            snprintf(want, sizeof want, "%s %s, 3", shifts[s].name, R32[r]);
            check(want, 3 + (r >= 8));
            pvmJ_shift_cl(&as, shifts[s].op, PVMJ_W64, gp(r));
            snprintf(want, sizeof want, "%s %s, cl", shifts[s].name, R64[r]);
            check(want, 3);
        }
    }
    pvmJ_cqo(&as, PVMJ_W64);
    check("cqo", 2);
    pvmJ_cqo(&as, PVMJ_W32);
    check("cdq", 1);
}

/* setcc needs a bare REX for SPL..DIL, which otherwise mean AH..BH. */
static void test_setcc_cmov_all(void **state)
{
    char want[64];
    for (int c = 0; c < 16; c++) {
        for (int r = 0; r < 16; r++) {
            pvmJ_setcc(&as, (PvmjCond)c, gp(r));
            snprintf(want, sizeof want, "set%s %s", CC[c], R8[r]);
            check(want, r >= 4 ? 4 : 3);
            pvmJ_cmov(&as, (PvmjCond)c, PVMJ_W64, gp(r), gp(15 - r));
            snprintf(want, sizeof want, "cmov%s %s, %s", CC[c], R64[r], R64[15 - r]);
            check(want, 4);
        }
    }
    assert_int_equal(PVMJ_CC_NOT(PVMJ_CC_L), PVMJ_CC_GE);
    assert_int_equal(PVMJ_CC_NOT(PVMJ_CC_NE), PVMJ_CC_E);
}

/* ---- control flow ---- */

static void test_push_pop_call_r(void **state)
{
    char want[64];
    for (int r = 0; r < 16; r++) {
        pvmJ_push(&as, gp(r));
        snprintf(want, sizeof want, "push %s", R64[r]);
        check(want, 1 + (r >= 8));
        pvmJ_pop(&as, gp(r));
        snprintf(want, sizeof want, "pop %s", R64[r]);
        check(want, 1 + (r >= 8));
        pvmJ_call_r(&as, gp(r));
        snprintf(want, sizeof want, "call %s", R64[r]);
        check(want, 2 + (r >= 8));
        pvmJ_jmp_r(&as, gp(r));
        snprintf(want, sizeof want, "jmp %s", R64[r]);
        check(want, 2 + (r >= 8));
    }
    pvmJ_ret(&as);
    check("ret", 1);
}

/* Disassembles the instruction starting at [pos] (with the buffer based at
 * [base]) and compares its text. */
static void check_insn_at(size_t pos, uint64_t base, const char *text, size_t len)
{
    cs_insn *insn;
    size_t n = cs_disasm(cs, as.code + pos, as.len - pos, base + pos, 1, &insn);
    assert_int_equal(n, 1);
    char got[256];
    snprintf(got, sizeof got, "%s %s", insn[0].mnemonic, insn[0].op_str);
    if (strcmp(got, text) != 0 || insn[0].size != len)
        fprintf(stderr, "at %zu want '%s' (%zu), got '%s' (%u)\n", pos, text, len, got, insn[0].size);
    assert_string_equal(got, text);
    assert_int_equal(insn[0].size, len);
    cs_free(insn, n);
}

static void pad_nops(size_t n)
{
    for (size_t i = 0; i < n; i++)
        pvmJ_byte(&as, 0x90);
}

/* Backward label jumps are rel8 while they reach, rel32 beyond; forward
 * ones are rel32 and patched when the label is bound. */
static void test_jumps_labels(void **state)
{
    char want[64];
    for (int c = 0; c < 16; c++) {
        PvmjLabel top = pvmJ_label_new(&as);
        PvmjLabel end = pvmJ_label_new(&as);
        pad_nops(16);
        pvmJ_label_bind(&as, top);
        pad_nops(100);
        size_t j8 = pvmJ_asm_pos(&as);
        pvmJ_jcc(&as, (PvmjCond)c, top);            /* 16 - (116+2) = -102: rel8 */
        pad_nops(40);
        size_t j32 = pvmJ_asm_pos(&as);
        pvmJ_jcc(&as, (PvmjCond)c, top);            /* -142: rel32 */
        size_t fwd = pvmJ_asm_pos(&as);
        pvmJ_jcc(&as, (PvmjCond)c, end);
        size_t jf = pvmJ_asm_pos(&as);
        pvmJ_jmp(&as, end);
        size_t jb = pvmJ_asm_pos(&as);
        pvmJ_jmp(&as, top);
        pad_nops(3);
        pvmJ_label_bind(&as, end);
        assert_int_equal(as.error, PVMJ_OK);
        assert_int_equal(as.nfixups, 0);
        uint64_t base = 0x10000;
        snprintf(want, sizeof want, "j%s 0x%llx", CC[c], (unsigned long long)(base + 16));
        check_insn_at(j8, base, want, 2);
        check_insn_at(j32, base, want, 6);
        snprintf(want, sizeof want, "j%s 0x%llx", CC[c], (unsigned long long)(base + pvmJ_label_pos(&as, end)));
        check_insn_at(fwd, base, want, 6);
        snprintf(want, sizeof want, "jmp 0x%llx", (unsigned long long)(base + pvmJ_label_pos(&as, end)));
        check_insn_at(jf, base, want, 5);
        snprintf(want, sizeof want, "jmp 0x%llx", (unsigned long long)(base + 16));
        check_insn_at(jb, base, want, 5);   /* -(jb+2-16) < -128 */
        pvmJ_asm_reset(&as);
    }
}

static void test_jmp_short_back(void **state)
{
    PvmjLabel l = pvmJ_label_new(&as);
    pvmJ_label_bind(&as, l);
    pvmJ_jmp(&as, l);
    check_bytes((const uint8_t[]){ 0xeb, 0xfe }, 2);
    l = pvmJ_label_new(&as);
    pvmJ_label_bind(&as, l);
    pad_nops(126);
    pvmJ_jcc(&as, PVMJ_CC_NE, l);   /* exactly -128 */
    assert_int_equal(as.len, 128);
    assert_int_equal(as.code[126], 0x75);
    assert_int_equal(as.code[127], 0x80);
    pvmJ_asm_reset(&as);
}

static void test_rel32_raw_patch(void **state)
{
    size_t f1 = pvmJ_jmp_rel32(&as);
    size_t f2 = pvmJ_jcc_rel32(&as, PVMJ_CC_LE);
    pad_nops(7);
    size_t target = pvmJ_asm_pos(&as);
    pvmJ_ret(&as);
    pvmJ_patch_rel32(&as, f1, target);
    pvmJ_patch_rel32(&as, f2, target);
    assert_int_equal(f1, 1);
    assert_int_equal(f2, 7);
    assert_int_equal(target, 18);
    check_insn_at(0, 0x400000, "jmp 0x400012", 5);
    check_insn_at(5, 0x400000, "jle 0x400012", 6);
    pvmJ_asm_reset(&as);
}

/* Relocations are resolved against the final address at link time. */
static void test_abs_relocs_link(void **state)
{
    uint8_t dest[64];
    uintptr_t base = (uintptr_t)dest;
    const void *t1 = (const void *)(base + 0x12345), *t2 = (const void *)(base - 0x1000);
    pvmJ_call_abs(&as, t1);
    pvmJ_jmp_abs(&as, t2);
    pvmJ_jcc_abs(&as, PVMJ_CC_B, t1);
    assert_int_equal(as.nrelocs, 3);
    assert_true(pvmJ_asm_link(&as, dest));
    memcpy(as.code, dest, as.len);
    char want[64];
    snprintf(want, sizeof want, "call 0x%llx", (unsigned long long)(uintptr_t)t1);
    check_insn_at(0, (uint64_t)base, want, 5);
    snprintf(want, sizeof want, "jmp 0x%llx", (unsigned long long)(uintptr_t)t2);
    check_insn_at(5, (uint64_t)base, want, 5);
    snprintf(want, sizeof want, "jb 0x%llx", (unsigned long long)(uintptr_t)t1);
    check_insn_at(10, (uint64_t)base, want, 6);
    pvmJ_asm_reset(&as);
}

static void test_link_out_of_range(void **state)
{
    static uint8_t dest[16];
    pvmJ_call_abs(&as, (const void *)((uintptr_t)dest + ((uintptr_t)1 << 33)));
    assert_false(pvmJ_asm_link(&as, dest));
    assert_int_equal(as.error, PVMJ_ERANGE);
    pvmJ_asm_reset(&as);
}

/* ---- SSE2 ---- */

static void test_sse_rr_all(void **state)
{
    static const struct { PvmjSse op; const char *name; } ops[] = {
        { PVMJ_MOVSD, "movsd" }, { PVMJ_SQRTSD, "sqrtsd" }, { PVMJ_ADDSD, "addsd" },
        { PVMJ_MULSD, "mulsd" }, { PVMJ_SUBSD, "subsd" }, { PVMJ_MINSD, "minsd" },
        { PVMJ_DIVSD, "divsd" }, { PVMJ_MAXSD, "maxsd" }, { PVMJ_UCOMISD, "ucomisd" },
        { PVMJ_ANDPD, "andpd" }, { PVMJ_XORPD, "xorpd" }, { PVMJ_MOVAPD, "movapd" }
    };
    size_t nm;
    const PvmjMem *mems = tricky_mems(&nm);
    char want[256], mem[128];
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        bool packed = ops[o].op == PVMJ_ANDPD || ops[o].op == PVMJ_XORPD || ops[o].op == PVMJ_MOVAPD;
        for (int d = 0; d < 16; d++) {
            for (int s = 0; s < 16; s++) {
                pvmJ_sse_rr(&as, ops[o].op, xm(d), xm(s));
                snprintf(want, sizeof want, "%s %s, %s", ops[o].name, xname(d), xname(s));
                check(want, 4 + (size_t)rex_for(d, s, false));
            }
            for (size_t i = 0; i < nm; i++) {
                pvmJ_sse_rm(&as, ops[o].op, xm(d), mems[i]);
                fmt_mem(mem, sizeof mem, packed ? "xmmword" : "qword", mems[i]);
                snprintf(want, sizeof want, "%s %s, %s", ops[o].name, xname(d), mem);
                check(want, 0);
            }
        }
    }
    for (int s = 0; s < 16; s++) {
        for (size_t i = 0; i < nm; i++) {
            pvmJ_movsd_store(&as, mems[i], xm(s));
            fmt_mem(mem, sizeof mem, "qword", mems[i]);
            snprintf(want, sizeof want, "movsd %s, %s", mem, xname(s));
            check(want, 0);
        }
    }
}

static void test_sse_gpr_moves_all(void **state)
{
    char want[64];
    for (int x = 0; x < 16; x++) {
        for (int r = 0; r < 16; r++) {
            pvmJ_cvtsi2sd(&as, xm(x), gp(r));
            snprintf(want, sizeof want, "cvtsi2sd %s, %s", xname(x), R64[r]);
            check(want, 5);
            pvmJ_cvttsd2si(&as, gp(r), xm(x));
            snprintf(want, sizeof want, "cvttsd2si %s, %s", R64[r], xname(x));
            check(want, 5);
            pvmJ_movq_to_xmm(&as, xm(x), gp(r));
            snprintf(want, sizeof want, "movq %s, %s", xname(x), R64[r]);
            check(want, 5);
            pvmJ_movq_from_xmm(&as, gp(r), xm(x));
            snprintf(want, sizeof want, "movq %s, %s", R64[r], xname(x));
            check(want, 5);
        }
    }
}

static void test_roundsd(void **state)
{
    char want[64];
    for (int d = 0; d < 16; d++) {
        pvmJ_roundsd(&as, xm(d), xm(15 - d), PVMJ_ROUND_FLOOR);
        snprintf(want, sizeof want, "roundsd %s, %s, 9", xname(d), xname(15 - d));
        check(want, 6 + (size_t)rex_for(d, 15 - d, false));
    }
    pvmJ_roundsd(&as, PVMJ_XMM0, PVMJ_XMM1, PVMJ_ROUND_TRUNC);
    check_bytes((const uint8_t[]){ 0x66, 0x0f, 0x3a, 0x0b, 0xc1, 0x0b }, 6);
    /* the cpuid check agrees with the compiler's own */
    assert_int_equal(pvmJ_cpu_has_sse41(), __builtin_cpu_supports("sse4.1") != 0);
}

/* [rip + label]: the displacement counts from the end of the instruction,
 * for a label bound before or after it. */
static void test_rip_relative(void **state)
{
    char want[96], num[32];
    for (int r = 0; r < 16; r++) {
        PvmjLabel back = pvmJ_label_new(&as), fwd = pvmJ_label_new(&as);
        pvmJ_label_bind(&as, back);
        pad_nops(8);
        size_t p1 = pvmJ_asm_pos(&as);
        pvmJ_mov_load_rip(&as, PVMJ_W64, gp(r), back);
        size_t p2 = pvmJ_asm_pos(&as);
        pvmJ_lea_rip(&as, gp(r), fwd);
        size_t p3 = pvmJ_asm_pos(&as);
        pvmJ_sse_rip(&as, PVMJ_XORPD, xm(r), fwd);
        size_t p4 = pvmJ_asm_pos(&as);
        pvmJ_sse_rip(&as, PVMJ_MOVSD, xm(r), back);
        size_t p5 = pvmJ_asm_pos(&as);
        pvmJ_alu_rip(&as, PVMJ_CMP, PVMJ_W64, gp(r), fwd);
        size_t end = pvmJ_asm_pos(&as);
        pad_nops(5);
        pvmJ_label_bind(&as, fwd);
        assert_int_equal(as.error, PVMJ_OK);
        int64_t to_fwd = (int64_t)pvmJ_label_pos(&as, fwd);
        fmt_num(num, sizeof num, 0 - (int64_t)p2);
        snprintf(want, sizeof want, "mov %s, qword ptr [rip - %s]", R64[r], num + 1);
        check_insn_at(p1, 0, want, 7);
        fmt_num(num, sizeof num, to_fwd - (int64_t)p3);
        snprintf(want, sizeof want, "lea %s, [rip + %s]", R64[r], num);
        check_insn_at(p2, 0, want, 7);
        fmt_num(num, sizeof num, to_fwd - (int64_t)p4);
        snprintf(want, sizeof want, "xorpd %s, xmmword ptr [rip + %s]", xname(r), num);
        check_insn_at(p3, 0, want, r >= 8 ? 9 : 8);
        fmt_num(num, sizeof num, 0 - (int64_t)p5);
        snprintf(want, sizeof want, "movsd %s, qword ptr [rip - %s]", xname(r), num + 1);
        check_insn_at(p4, 0, want, r >= 8 ? 9 : 8);
        fmt_num(num, sizeof num, to_fwd - (int64_t)end);
        snprintf(want, sizeof want, "cmp %s, qword ptr [rip + %s]", R64[r], num);
        check_insn_at(p5, 0, want, 7);
        pvmJ_asm_reset(&as);
    }
}

/* ---- the buffer ---- */

static void test_align_nops(void **state)
{
    for (size_t n = 0; n < 32; n++) {
        pad_nops(n);
        pvmJ_align(&as, 16);
        assert_int_equal(as.len % 16, 0);
        cs_insn *insn;
        size_t k = cs_disasm(cs, as.code, as.len, 0, 0, &insn);
        size_t bytes = 0;
        for (size_t i = 0; i < k; i++) {
            assert_string_equal(insn[i].mnemonic, "nop");
            bytes += insn[i].size;
        }
        assert_int_equal(bytes, as.len);
        if (k > 0)
            cs_free(insn, k);
        pvmJ_asm_reset(&as);
    }
}

static void test_bad_operands(void **state)
{
    PvmjAsm a;
    pvmJ_asm_init(&a, 0);
    pvmJ_mov_rr(&a, PVMJ_W64, PVMJ_XMM0, PVMJ_RAX);
    assert_int_equal(a.error, PVMJ_EOPERAND);
    assert_int_equal(a.len, 0);
    pvmJ_asm_reset(&a);
    pvmJ_mov_load(&a, PVMJ_W64, PVMJ_RAX, pvmj_memx(PVMJ_RAX, PVMJ_RSP, 1, 0));
    assert_int_equal(a.error, PVMJ_EOPERAND);
    pvmJ_asm_reset(&a);
    pvmJ_mov_load(&a, PVMJ_W64, PVMJ_RAX, pvmj_memx(PVMJ_RAX, PVMJ_RCX, 3, 0));
    assert_int_equal(a.error, PVMJ_EOPERAND);
    pvmJ_asm_reset(&a);
    pvmJ_sse_rr(&a, PVMJ_ADDSD, PVMJ_XMM0, PVMJ_RAX);
    assert_int_equal(a.error, PVMJ_EOPERAND);
    pvmJ_asm_reset(&a);
    pvmJ_cvtsi2sd(&a, PVMJ_RAX, PVMJ_RAX);
    assert_int_equal(a.error, PVMJ_EOPERAND);
    /* the first error sticks and later emits are dropped */
    pvmJ_ret(&a);
    assert_int_equal(a.len, 0);
    assert_false(pvmJ_asm_link(&a, (uint8_t[1]){ 0 }));
    pvmJ_asm_free(&a);
}

static void test_limit_sets_error(void **state)
{
    PvmjAsm a;
    pvmJ_asm_init(&a, 10);
    pvmJ_mov_ri(&a, PVMJ_RAX, INT64_MIN);   /* 10 bytes: fits */
    assert_int_equal(a.error, PVMJ_OK);
    pvmJ_ret(&a);
    assert_int_equal(a.error, PVMJ_ENOMEM);
    assert_int_equal(a.len, 10);
    pvmJ_asm_free(&a);
    /* growth past the first allocation keeps the bytes */
    pvmJ_asm_init(&a, 0);
    for (int i = 0; i < 10000; i++)
        pvmJ_mov_ri(&a, PVMJ_RCX, i);
    assert_int_equal(a.error, PVMJ_OK);
    assert_int_equal(a.len, 50000);
    assert_int_equal(a.code[49995], 0xb9);
    assert_int_equal(a.code[49996], 9999 & 0xff);
    pvmJ_asm_free(&a);
}

static void test_label_errors(void **state)
{
    PvmjAsm a;
    pvmJ_asm_init(&a, 0);
    PvmjLabel l = pvmJ_label_new(&a);
    pvmJ_jmp(&a, l);
    assert_int_equal(pvmJ_label_pos(&a, l), -1);
    uint8_t dest[16];
    assert_false(pvmJ_asm_link(&a, dest));   /* still unbound */
    assert_int_equal(a.error, PVMJ_ELABEL);
    pvmJ_asm_reset(&a);
    l = pvmJ_label_new(&a);
    pvmJ_label_bind(&a, l);
    pvmJ_label_bind(&a, l);
    assert_int_equal(a.error, PVMJ_ELABEL);
    pvmJ_asm_reset(&a);
    pvmJ_jmp(&a, 42);
    assert_int_equal(a.error, PVMJ_ELABEL);
    pvmJ_asm_free(&a);
}

/* Each test starts from an empty buffer, even after one that failed. */
static int reset_buffer(void **state)
{
    pvmJ_asm_reset(&as);
    return 0;
}

#define T(f) cmocka_unit_test_setup(f, reset_buffer)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_mov_rr_all),
        T(test_mov_ri_forms),
        T(test_mem_addressing_all),
        T(test_mem_absolute),
        T(test_mem_special_bytes),
        T(test_load_store_forms),
        T(test_movzx8_rr_all),
        T(test_alu_rr_all),
        T(test_alu_ri_all),
        T(test_alu_rm_forms),
        T(test_alu_mi_forms),
        T(test_test_imul_all),
        T(test_unary_shift_div),
        T(test_setcc_cmov_all),
        T(test_push_pop_call_r),
        T(test_jumps_labels),
        T(test_jmp_short_back),
        T(test_rel32_raw_patch),
        T(test_abs_relocs_link),
        T(test_link_out_of_range),
        T(test_sse_rr_all),
        T(test_rip_relative),
        T(test_sse_gpr_moves_all),
        T(test_roundsd),
        T(test_align_nops),
        T(test_bad_operands),
        T(test_limit_sets_error),
        T(test_label_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

#else

static void test_not_x86_64(void **state)
{
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_not_x86_64) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
