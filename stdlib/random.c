/* The random generator behind math.random: xoshiro256** (Blackman and
 * Vigna), seeded through splitmix64. Both use only 64-bit unsigned
 * arithmetic, so a seed gives the same sequence on every host.
 *
 * Seeding: x = seed; each of s[0..3] in turn takes splitmix64(x), which
 * adds 0x9e3779b97f4a7c15 to x and returns a mix of the new x.
 * Floats: the top 53 bits of one output, times 2^-53.
 * Ints in [lo, hi]: with span = hi - lo + 1 (mod 2^64), outputs below
 * 2^64 mod span are rejected and the first other output r gives
 * lo + r mod span, so every result is equally likely (no modulo bias). */
#include "stdlib/lib.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void pvmL_rng_seed(LibRng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t pvmL_rng_next(LibRng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double pvmL_rng_float(LibRng *r)
{
    return (double)(pvmL_rng_next(r) >> 11) * 0x1.0p-53;
}

int64_t pvmL_rng_range(LibRng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    if (span == 0) /* the whole int64 range */
        return (int64_t)pvmL_rng_next(r);
    uint64_t threshold = (0 - span) % span; /* 2^64 mod span */
    uint64_t x;
    do
        x = pvmL_rng_next(r);
    while (x < threshold);
    return (int64_t)((uint64_t)lo + x % span);
}
