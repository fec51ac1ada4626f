/* Unit tests for executable memory (jit/mcode.h) together with the encoder:
 * small functions are assembled, placed, and called through function
 * pointers (an integer loop, double arithmetic, division, conditional
 * moves, a call into C); a placed jump is retargeted by patching; the
 * pages holding code are never writable and executable at once (read from
 * /proc/self/maps); and failures are clean NULLs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#if defined(__x86_64__)

#include "jit/mcode.h"
#include "jit/x86.h"

typedef int64_t (*IntFn1)(int64_t);
typedef int64_t (*IntFn2)(int64_t, int64_t);
typedef double (*DblFn2)(double, double);
typedef double (*DblFn1)(double);

static PvmjMcode *mc;
static PvmjAsm as;

static int setup(void **state)
{
    mc = pvmJ_mcode_new(0, 0);
    if (mc == NULL)
        return -1;
    pvmJ_asm_init(&as, 0);
    return 0;
}

static int teardown(void **state)
{
    pvmJ_asm_free(&as);
    pvmJ_mcode_free(mc);
    return 0;
}

static int reset_buffer(void **state)
{
    pvmJ_asm_reset(&as);
    return 0;
}

/* Places the buffer and empties it for the next function. */
static void *place(void)
{
    void *code = pvmJ_mcode_place(mc, &as);
    assert_non_null(code);
    pvmJ_asm_reset(&as);
    return code;
}

/* The permissions ("r-xp") of the mapping holding [p], from /proc/self/maps. */
static void perms_of(const void *p, char out[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    strcpy(out, "????");
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && (uintptr_t)p >= lo && (uintptr_t)p < hi) {
            memcpy(out, perms, 5);
            break;
        }
    }
    fclose(f);
}

/* rdi = n; returns 1 + 2 + ... + n with a counted loop: a forward exit
 * label and a backward loop label. */
static void test_loop_sum(void **state)
{
    PvmjLabel loop = pvmJ_label_new(&as), done = pvmJ_label_new(&as);
    pvmJ_alu_rr(&as, PVMJ_XOR, PVMJ_W32, PVMJ_RAX, PVMJ_RAX);
    pvmJ_mov_ri(&as, PVMJ_RCX, 1);
    pvmJ_label_bind(&as, loop);
    pvmJ_alu_rr(&as, PVMJ_CMP, PVMJ_W64, PVMJ_RCX, PVMJ_RDI);
    pvmJ_jcc(&as, PVMJ_CC_G, done);
    pvmJ_alu_rr(&as, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, PVMJ_RCX);
    pvmJ_alu_ri(&as, PVMJ_ADD, PVMJ_W64, PVMJ_RCX, 1);
    pvmJ_jmp(&as, loop);
    pvmJ_label_bind(&as, done);
    pvmJ_ret(&as);
    IntFn1 sum = (IntFn1)place();
    assert_int_equal(sum(0), 0);
    assert_int_equal(sum(1), 1);
    assert_int_equal(sum(100), 5050);
    assert_int_equal(sum(100000), 5000050000LL);
}

/* The same loop through memory: sums n int64 values at [rdi + rsi*8],
 * counting down with an index register and a scaled operand. */
static void test_loop_array(void **state)
{
    PvmjLabel loop = pvmJ_label_new(&as), done = pvmJ_label_new(&as);
    pvmJ_alu_rr(&as, PVMJ_XOR, PVMJ_W32, PVMJ_RAX, PVMJ_RAX);
    pvmJ_label_bind(&as, loop);
    pvmJ_test_rr(&as, PVMJ_W64, PVMJ_RSI, PVMJ_RSI);
    pvmJ_jcc(&as, PVMJ_CC_E, done);
    pvmJ_alu_rm(&as, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, pvmj_memx(PVMJ_RDI, PVMJ_RSI, 8, -8));
    pvmJ_alu_ri(&as, PVMJ_SUB, PVMJ_W64, PVMJ_RSI, 1);
    pvmJ_jmp(&as, loop);
    pvmJ_label_bind(&as, done);
    pvmJ_ret(&as);
    IntFn2 sum = (IntFn2)place();
    int64_t xs[5] = { 1, -20, 300, -4000, 50000 };
    assert_int_equal(sum((int64_t)(intptr_t)xs, 5), 46281);
    assert_int_equal(sum((int64_t)(intptr_t)xs, 0), 0);
}

/* sqrt(x*x + y*y) - max(x, y) + min(x, y) / 2, then negated with xorpd
 * against a sign mask in memory (16-byte aligned). */
static void test_double_arith(void **state)
{
    static const uint64_t sign_mask[2] __attribute__((aligned(16))) = { 0x8000000000000000ULL, 0 };
    pvmJ_sse_rr(&as, PVMJ_MOVSD, PVMJ_XMM2, PVMJ_XMM0);
    pvmJ_sse_rr(&as, PVMJ_MULSD, PVMJ_XMM2, PVMJ_XMM0);
    pvmJ_sse_rr(&as, PVMJ_MOVSD, PVMJ_XMM9, PVMJ_XMM1);
    pvmJ_sse_rr(&as, PVMJ_MULSD, PVMJ_XMM9, PVMJ_XMM1);
    pvmJ_sse_rr(&as, PVMJ_ADDSD, PVMJ_XMM2, PVMJ_XMM9);
    pvmJ_sse_rr(&as, PVMJ_SQRTSD, PVMJ_XMM2, PVMJ_XMM2);
    pvmJ_sse_rr(&as, PVMJ_MOVSD, PVMJ_XMM3, PVMJ_XMM0);
    pvmJ_sse_rr(&as, PVMJ_MAXSD, PVMJ_XMM3, PVMJ_XMM1);
    pvmJ_sse_rr(&as, PVMJ_SUBSD, PVMJ_XMM2, PVMJ_XMM3);
    pvmJ_sse_rr(&as, PVMJ_MINSD, PVMJ_XMM0, PVMJ_XMM1);
    pvmJ_mov_ri(&as, PVMJ_RAX, 2);
    pvmJ_cvtsi2sd(&as, PVMJ_XMM15, PVMJ_RAX);
    pvmJ_sse_rr(&as, PVMJ_DIVSD, PVMJ_XMM0, PVMJ_XMM15);
    pvmJ_sse_rr(&as, PVMJ_ADDSD, PVMJ_XMM0, PVMJ_XMM2);
    pvmJ_mov_ri(&as, PVMJ_R11, (int64_t)(intptr_t)sign_mask);
    pvmJ_sse_rm(&as, PVMJ_XORPD, PVMJ_XMM0, pvmj_mem(PVMJ_R11, 0));
    pvmJ_ret(&as);
    DblFn2 f = (DblFn2)place();
    double want = -(sqrt(3.0 * 3.0 + 4.0 * 4.0) - 4.0 + 3.0 / 2.0);
    assert_true(f(3.0, 4.0) == want);
    want = -(sqrt(2.5 * 2.5 + 1.0) - 2.5 + (-1.0) / 2.0);
    assert_true(f(2.5, -1.0) == want);
}

/* Stores and loads a double through the stack, round-trips it through a
 * general register, and truncates it to an integer. */
static void test_double_moves_convert(void **state)
{
    pvmJ_alu_ri(&as, PVMJ_SUB, PVMJ_W64, PVMJ_RSP, 24);
    pvmJ_movsd_store(&as, pvmj_mem(PVMJ_RSP, 8), PVMJ_XMM0);
    pvmJ_sse_rm(&as, PVMJ_MOVSD, PVMJ_XMM12, pvmj_mem(PVMJ_RSP, 8));
    pvmJ_sse_rr(&as, PVMJ_ADDSD, PVMJ_XMM12, PVMJ_XMM12);
    pvmJ_movq_from_xmm(&as, PVMJ_R10, PVMJ_XMM12);
    pvmJ_movq_to_xmm(&as, PVMJ_XMM5, PVMJ_R10);
    pvmJ_cvttsd2si(&as, PVMJ_RAX, PVMJ_XMM5);
    pvmJ_alu_ri(&as, PVMJ_ADD, PVMJ_W64, PVMJ_RSP, 24);
    pvmJ_ret(&as);
    int64_t (*f)(double) = (int64_t (*)(double))place();
    assert_int_equal(f(10.75), 21);
    assert_int_equal(f(-3.3), -6);
}

/* Quotient and remainder with cqo + idiv, and a branch-free signed max
 * with cmov, and a compare materialised with setcc + movzx. */
static void test_div_cmov_setcc(void **state)
{
    pvmJ_mov_rr(&as, PVMJ_W64, PVMJ_RAX, PVMJ_RDI);
    pvmJ_cqo(&as, PVMJ_W64);
    pvmJ_idiv(&as, PVMJ_W64, PVMJ_RSI);
    pvmJ_imul_rri(&as, PVMJ_W64, PVMJ_RAX, PVMJ_RAX, 1000);
    pvmJ_alu_rr(&as, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, PVMJ_RDX);   /* q*1000 + r */
    pvmJ_ret(&as);
    IntFn2 divmod = (IntFn2)place();
    assert_int_equal(divmod(47, 5), 9 * 1000 + 2);
    assert_int_equal(divmod(-47, 5), -9 * 1000 - 2);

    pvmJ_mov_rr(&as, PVMJ_W64, PVMJ_RAX, PVMJ_RDI);
    pvmJ_alu_rr(&as, PVMJ_CMP, PVMJ_W64, PVMJ_RDI, PVMJ_RSI);
    pvmJ_cmov(&as, PVMJ_CC_L, PVMJ_W64, PVMJ_RAX, PVMJ_RSI);
    pvmJ_ret(&as);
    IntFn2 max = (IntFn2)place();
    assert_int_equal(max(3, 9), 9);
    assert_int_equal(max(-3, -9), -3);

    pvmJ_alu_rr(&as, PVMJ_CMP, PVMJ_W64, PVMJ_RDI, PVMJ_RSI);
    pvmJ_setcc(&as, PVMJ_CC_L, PVMJ_RSI);
    pvmJ_movzx8_rr(&as, PVMJ_RAX, PVMJ_RSI);
    pvmJ_ret(&as);
    IntFn2 less = (IntFn2)place();
    assert_int_equal(less(1, 2), 1);
    assert_int_equal(less(2, 1), 0);
    assert_int_equal(less(-5, 5), 1);
}

/* Shifts by immediate and by CL, neg and not: ((~x << 3) >> cl) - -x. */
static void test_shifts_unary(void **state)
{
    pvmJ_mov_rr(&as, PVMJ_W64, PVMJ_RCX, PVMJ_RSI);
    pvmJ_mov_rr(&as, PVMJ_W64, PVMJ_RAX, PVMJ_RDI);
    pvmJ_not(&as, PVMJ_W64, PVMJ_RAX);
    pvmJ_shift_ri(&as, PVMJ_SHL, PVMJ_W64, PVMJ_RAX, 3);
    pvmJ_shift_cl(&as, PVMJ_SAR, PVMJ_W64, PVMJ_RAX);
    pvmJ_neg(&as, PVMJ_W64, PVMJ_RDI);
    pvmJ_alu_rr(&as, PVMJ_SUB, PVMJ_W64, PVMJ_RAX, PVMJ_RDI);
    pvmJ_ret(&as);
    IntFn2 f = (IntFn2)place();
    for (int64_t x = -5; x <= 5; x++)
        assert_int_equal(f(x, 2), ((~x * 8) >> 2) + x);
}

static int64_t helper_calls;

static int64_t c_helper(int64_t a, int64_t b)
{
    helper_calls++;
    return a * 10 + b;
}

/* A call into C by rel32 (the area sits within 2 GB of the program) and
 * by register, keeping the stack 16-byte aligned with a push. */
static void test_call_c(void **state)
{
    pvmJ_push(&as, PVMJ_RBX);
    pvmJ_mov_rr(&as, PVMJ_W64, PVMJ_RBX, PVMJ_RDI);
    pvmJ_call_abs(&as, (const void *)c_helper);
    pvmJ_mov_rr(&as, PVMJ_W64, PVMJ_RDI, PVMJ_RAX);
    pvmJ_mov_rr(&as, PVMJ_W64, PVMJ_RSI, PVMJ_RBX);
    pvmJ_mov_ri(&as, PVMJ_R11, (int64_t)(intptr_t)c_helper);
    pvmJ_call_r(&as, PVMJ_R11);
    pvmJ_pop(&as, PVMJ_RBX);
    pvmJ_ret(&as);
    IntFn2 f = (IntFn2)place();
    helper_calls = 0;
    assert_int_equal(f(4, 2), (4 * 10 + 2) * 10 + 4);
    assert_int_equal(helper_calls, 2);
}

/* Code that is placed is read-execute, never writable too; the rest of the
 * area is read-write, never executable. */
static void test_wx_permissions(void **state)
{
    pvmJ_mov_ri(&as, PVMJ_RAX, 7);
    pvmJ_ret(&as);
    PvmjMcode *m = pvmJ_mcode_new(4 * 4096, 0);
    assert_non_null(m);
    uint8_t *code = pvmJ_mcode_place(m, &as);
    assert_non_null(code);
    assert_true(pvmJ_mcode_owns(m, code));
    assert_false(pvmJ_mcode_owns(m, &as));
    char perms[5];
    perms_of(code, perms);
    assert_string_equal(perms, "r-xp");
    assert_int_equal(((IntFn1)code)(0), 7);
    perms_of(m->areas->base + m->areas->size - 1, perms);
    assert_string_equal(perms, "rw-p");
    pvmJ_mcode_free(m);
}

/* jmp rel32 to block A (returns 1); patching retargets it to B (returns
 * 2) and back, and the page is read-execute again after each patch. */
static void test_patch_jump(void **state)
{
    size_t field = pvmJ_jmp_rel32(&as);
    size_t a_pos = pvmJ_asm_pos(&as);
    pvmJ_mov_ri(&as, PVMJ_RAX, 1);
    pvmJ_ret(&as);
    pvmJ_align(&as, 16);
    size_t b_pos = pvmJ_asm_pos(&as);
    pvmJ_mov_ri(&as, PVMJ_RAX, 2);
    pvmJ_ret(&as);
    pvmJ_patch_rel32(&as, field, a_pos);
    uint8_t *code = place();
    IntFn1 f = (IntFn1)code;
    assert_int_equal(f(0), 1);
    assert_true(pvmJ_mcode_patch_rel32(mc, code + field, code + b_pos));
    assert_int_equal(f(0), 2);
    char perms[5];
    perms_of(code, perms);
    assert_string_equal(perms, "r-xp");
    assert_true(pvmJ_mcode_patch_rel32(mc, code + field, code + a_pos));
    assert_int_equal(f(0), 1);
    /* a field outside the pool is refused */
    uint8_t outside[8];
    assert_false(pvmJ_mcode_patch_rel32(mc, outside, code));
}

/* Functions placed one after another are 16-byte aligned and all work. */
static void test_many_functions(void **state)
{
    IntFn1 fns[200];
    for (int i = 0; i < 200; i++) {
        pvmJ_lea(&as, PVMJ_RAX, pvmj_mem(PVMJ_RDI, i));
        pvmJ_ret(&as);
        fns[i] = (IntFn1)place();
        assert_int_equal((uintptr_t)fns[i] % 16, 0);
    }
    for (int i = 0; i < 200; i++)
        assert_int_equal(fns[i](1000), 1000 + i);
}

/* Code bigger than an area gets an area of its own. */
static void test_big_code(void **state)
{
    PvmjMcode *m = pvmJ_mcode_new(4096, 1 << 20);
    assert_non_null(m);
    pvmJ_alu_rr(&as, PVMJ_XOR, PVMJ_W32, PVMJ_RAX, PVMJ_RAX);
    for (int i = 0; i < 3000; i++)
        pvmJ_alu_ri(&as, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, 3);   /* 4 bytes each */
    pvmJ_ret(&as);
    IntFn1 f = (IntFn1)pvmJ_mcode_place(m, &as);
    assert_non_null(f);
    assert_int_equal(f(0), 9000);
    assert_true(m->total > 4096);
    pvmJ_mcode_free(m);
}

/* Failures are NULLs, not crashes: an impossible mapping, the total cap,
 * a buffer with an error. */
static void test_failures_clean(void **state)
{
    assert_null(pvmJ_mcode_new((size_t)1 << 47, (size_t)1 << 48));
    PvmjMcode *m = pvmJ_mcode_new(4096, 4096);
    assert_non_null(m);
    for (int i = 0; i < 2000; i++)
        pvmJ_mov_ri(&as, PVMJ_RAX, i);   /* 10000 bytes: over the cap */
    pvmJ_ret(&as);
    assert_null(pvmJ_mcode_place(m, &as));
    pvmJ_asm_reset(&as);
    pvmJ_mov_rr(&as, PVMJ_W64, PVMJ_XMM1, PVMJ_RAX);
    assert_null(pvmJ_mcode_place(m, &as));
    pvmJ_asm_reset(&as);
    PvmjLabel never = pvmJ_label_new(&as);
    pvmJ_jmp(&as, never);
    assert_null(pvmJ_mcode_place(m, &as));
    pvmJ_mcode_free(m);
    pvmJ_mcode_free(NULL);
}

/* roundsd only when cpuid reports SSE4.1. */
static void test_roundsd_if_sse41(void **state)
{
    if (!pvmJ_cpu_has_sse41())
        skip();
    pvmJ_roundsd(&as, PVMJ_XMM0, PVMJ_XMM0, PVMJ_ROUND_FLOOR);
    pvmJ_ret(&as);
    DblFn1 fl = (DblFn1)place();
    pvmJ_roundsd(&as, PVMJ_XMM1, PVMJ_XMM0, PVMJ_ROUND_CEIL);
    pvmJ_sse_rr(&as, PVMJ_MOVSD, PVMJ_XMM0, PVMJ_XMM1);
    pvmJ_ret(&as);
    DblFn1 ce = (DblFn1)place();
    assert_true(fl(2.5) == 2.0);
    assert_true(fl(-2.5) == -3.0);
    assert_true(ce(2.1) == 3.0);
    assert_true(ce(-2.9) == -2.0);
}

/* ucomisd + jp/jb: returns 1 if x < y, 0 otherwise (NaN included). */
static void test_ucomisd_branch(void **state)
{
    PvmjLabel no = pvmJ_label_new(&as);
    pvmJ_alu_rr(&as, PVMJ_XOR, PVMJ_W32, PVMJ_RAX, PVMJ_RAX);
    pvmJ_sse_rr(&as, PVMJ_UCOMISD, PVMJ_XMM1, PVMJ_XMM0);   /* y vs x */
    pvmJ_jcc(&as, PVMJ_CC_P, no);
    pvmJ_jcc(&as, PVMJ_CC_BE, no);
    pvmJ_mov_ri(&as, PVMJ_RAX, 1);
    pvmJ_label_bind(&as, no);
    pvmJ_ret(&as);
    int64_t (*lt)(double, double) = (int64_t (*)(double, double))place();
    assert_int_equal(lt(1.0, 2.0), 1);
    assert_int_equal(lt(2.0, 1.0), 0);
    assert_int_equal(lt(2.0, 2.0), 0);
    assert_int_equal(lt(NAN, 2.0), 0);
    assert_int_equal(lt(1.0, NAN), 0);
}

/* -|x| with constants kept in the code itself, after the ret, 16-byte
 * aligned and read RIP-relative: andpd with an abs mask, xorpd with a sign
 * mask; and an integer constant loaded the same way. */
static void test_rip_constants(void **state)
{
    PvmjLabel abs_mask = pvmJ_label_new(&as), sign = pvmJ_label_new(&as);
    pvmJ_sse_rip(&as, PVMJ_ANDPD, PVMJ_XMM0, abs_mask);
    pvmJ_sse_rip(&as, PVMJ_XORPD, PVMJ_XMM0, sign);
    pvmJ_ret(&as);
    pvmJ_align(&as, 16);
    pvmJ_label_bind(&as, abs_mask);
    pvmJ_u64(&as, 0x7fffffffffffffffULL);
    pvmJ_u64(&as, 0x7fffffffffffffffULL);
    pvmJ_label_bind(&as, sign);
    pvmJ_u64(&as, 0x8000000000000000ULL);
    pvmJ_u64(&as, 0);
    DblFn1 negabs = (DblFn1)place();
    assert_true(negabs(2.5) == -2.5);
    assert_true(negabs(-7.0) == -7.0);

    PvmjLabel k = pvmJ_label_new(&as);
    pvmJ_mov_load_rip(&as, PVMJ_W64, PVMJ_RAX, k);
    pvmJ_alu_rr(&as, PVMJ_ADD, PVMJ_W64, PVMJ_RAX, PVMJ_RDI);
    pvmJ_ret(&as);
    pvmJ_label_bind(&as, k);
    pvmJ_u64(&as, 0x123456789abcLL);
    IntFn1 addk = (IntFn1)place();
    assert_int_equal(addk(1), 0x123456789abdLL);
}

#define T(f) cmocka_unit_test_setup(f, reset_buffer)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_loop_sum),
        T(test_loop_array),
        T(test_double_arith),
        T(test_double_moves_convert),
        T(test_div_cmov_setcc),
        T(test_shifts_unary),
        T(test_call_c),
        T(test_wx_permissions),
        T(test_patch_jump),
        T(test_many_functions),
        T(test_big_code),
        T(test_failures_clean),
        T(test_roundsd_if_sse41),
        T(test_ucomisd_branch),
        T(test_rip_constants),
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
