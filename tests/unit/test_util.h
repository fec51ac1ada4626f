/* Small helpers several unit tests share: a double's bit pattern and back,
 * and the xorshift64 generator the fuzzing tests draw from (each keeps its
 * own state and seed, so its sequence is its own and repeatable). */
#ifndef PVM_TEST_UTIL_H
#define PVM_TEST_UTIL_H

#include <stdint.h>
#include <string.h>

static inline uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static inline double double_of(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline uint64_t xorshift64(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#endif
