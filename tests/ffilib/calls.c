/* C functions for the tests of C calls made from traces
 * (tests/programs/jit_ffi_callback.pv): scalar functions, which a trace
 * calls itself, that call back into PV through a hook set earlier. Built
 * into libpvmffitest.so with structs.c. */
#include <stdint.h>

static int (*hook)(int);

/* Takes a pointer: an ffi call, never one a trace makes itself. */
void calls_set_hook(int (*f)(int)) { hook = f; }

/* Calls the hook with x when x is a multiple of [every] (every > 0), so a
 * loop calling it runs in its trace between callbacks. */
int calls_hook_every(int x, int every)
{
    if (hook && every > 0 && x % every == 0)
        return hook(x);
    return 2 * x;
}

/* An unsigned 64-bit result beyond INT64_MAX for most arguments. */
uint64_t calls_u64(uint64_t x) { return x * 3u + UINT64_C(0x8000000000000000); }

/* Six integer parameters of mixed widths, and the doubles interleaved. */
int64_t calls_six(int8_t a, uint8_t b, int16_t c, uint16_t d, int32_t e, int64_t f)
{
    return a + 10 * b + 100 * c + 1000 * (int64_t)d + 10000 * (int64_t)e + f;
}

double calls_mixed(int a, double x, int b, float y, long c, double z)
{
    return a + x * 2 + b * 3 + y * 4 + c * 5 + z * 6;
}
