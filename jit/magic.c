/* Division by a constant without a divide instruction: the "magic number"
 * method (Granlund and Montgomery; Warren, Hacker's Delight, 10-1). For a
 * divisor d >= 2 there is a multiplier M and a shift s such that, for
 * every int64 x, trunc(x / d) is
 *     q = hi64(M * x) (+ x when M is negative as an int64), >> s (arithmetic),
 *         then + 1 when x is negative,
 * which is what C's truncating division gives; the remainder is x - q * d.
 * idiv takes tens of cycles; this takes a few. */
#include "jit/magic.h"

bool pvmJ_div_magic(int64_t d, int64_t *multiplier, int *shift)
{
    if (d < 2)
        return false;
    const uint64_t two63 = (uint64_t)1 << 63;
    uint64_t ad = (uint64_t)d;
    uint64_t anc = two63 - 1 - two63 % ad; /* the largest multiple of d, less one, below 2^63 */
    uint64_t q1 = two63 / anc, r1 = two63 - q1 * anc;
    uint64_t q2 = two63 / ad, r2 = two63 - q2 * ad;
    int p = 63;
    uint64_t delta;
    do {
        p++;
        q1 *= 2;
        r1 *= 2;
        if (r1 >= anc) {
            q1++;
            r1 -= anc;
        }
        q2 *= 2;
        r2 *= 2;
        if (r2 >= ad) {
            q2++;
            r2 -= ad;
        }
        delta = ad - r2;
    } while (q1 < delta || (q1 == delta && r1 == 0));
    *multiplier = (int64_t)(q2 + 1);
    *shift = p - 64;
    return true;
}

int64_t pvmJ_div_by_magic(int64_t x, int64_t multiplier, int shift)
{
    int64_t q = (int64_t)(((__int128)multiplier * x) >> 64);
    if (multiplier < 0)
        q = (int64_t)((uint64_t)q + (uint64_t)x);
    q >>= shift;
    return (int64_t)((uint64_t)q + ((uint64_t)x >> 63));
}
