/* Division by a constant through a multiply (magic.c). */
#ifndef PVM_JIT_MAGIC_H
#define PVM_JIT_MAGIC_H

#include <stdbool.h>
#include <stdint.h>

/* The multiplier and shift for divisor [d]; false unless d >= 2. */
bool pvmJ_div_magic(int64_t d, int64_t *multiplier, int *shift);

/* trunc(x / d) computed the way the generated code does, for tests. */
int64_t pvmJ_div_by_magic(int64_t x, int64_t multiplier, int shift);

#endif
