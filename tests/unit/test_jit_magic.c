/* Division by constants through magic multipliers (jit/magic.c): for many
 * divisors, including powers of two and the largest, and dividends across
 * the whole int64 range (extremes, signs, multiples and their neighbours),
 * the quotient equals C's truncating division, which is PV's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "jit/magic.h"
#include "test_util.h"

static void check(int64_t x, int64_t d)
{
    int64_t m;
    int s;
    assert_true(pvmJ_div_magic(d, &m, &s));
    int64_t want = x / d, got = pvmJ_div_by_magic(x, m, s);
    if (got != want)
        fail_msg("%lld / %lld: %lld, want %lld", (long long)x, (long long)d, (long long)got, (long long)want);
}

static void check_divisor(int64_t d, uint64_t *rng)
{
    const int64_t edges[] = { 0, 1, -1, 2, -2, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1 };
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++)
        check(edges[i], d);
    for (int64_t k = -3; k <= 3; k++) {
        uint64_t dk = (uint64_t)d * (uint64_t)k; /* wraps for large d: still a test value */
        check((int64_t)dk, d);
        check((int64_t)(dk + 1), d);
        check((int64_t)(dk - 1), d);
    }
    for (int i = 0; i < 2000; i++)
        check((int64_t)xorshift64(rng), d);
}

static void test_small_divisors(void **state)
{
    (void)state;
    uint64_t rng = 88172645463325252ull;
    for (int64_t d = 2; d <= 1000; d++)
        check_divisor(d, &rng);
}

static void test_large_and_special_divisors(void **state)
{
    (void)state;
    uint64_t rng = 1234567;
    for (int k = 1; k < 63; k++) {
        check_divisor((int64_t)1 << k, &rng);
        check_divisor(((int64_t)1 << k) + 1, &rng);
        check_divisor(((int64_t)1 << k) - 1 > 1 ? ((int64_t)1 << k) - 1 : 3, &rng);
    }
    check_divisor(INT64_MAX, &rng);
    check_divisor(INT64_MAX - 1, &rng);
    for (int i = 0; i < 200; i++) {
        int64_t d = (int64_t)(xorshift64(&rng) >> 1);
        if (d >= 2)
            check_divisor(d, &rng);
    }
}

static void test_rejects_small(void **state)
{
    (void)state;
    int64_t m;
    int s;
    assert_false(pvmJ_div_magic(1, &m, &s));
    assert_false(pvmJ_div_magic(0, &m, &s));
    assert_false(pvmJ_div_magic(-7, &m, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_divisors),
        cmocka_unit_test(test_large_and_special_divisors),
        cmocka_unit_test(test_rejects_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
