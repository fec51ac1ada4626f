/* Direct entries: C entry points for callbacks that libffi's closures are
 * not needed for.
 *
 * A libffi closure reaches its handler through a trampoline that saves
 * every argument register and then classifies each argument of the
 * signature again, on every call: about 300 instructions for a qsort
 * comparator, more than the rest of the entry. On the hosts below, a
 * callback whose arguments (at most six) and result are all integers or
 * pointers receives them in the first integer argument registers and
 * returns its result in the first result register, whatever their
 * widths: so a C function taking six 64-bit integers sees exactly the
 * registers its caller filled, and the low bytes of each are the argument
 * (little-endian). This file holds FFI_DIRECT_SLOTS such functions,
 * compiled ahead of time, each the entry of one callback at a time
 * through its slot of a table; a callback of another signature, or when
 * every slot is taken, gets a libffi closure (ffi_callback.c).
 *
 * The table holds hidden pointers (GC_HIDE_POINTER): it is static data,
 * which the collector scans, and a plain pointer there would keep every
 * callback alive. A slot is given back by the callback's finalizer. */
#include <gc.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "stdlib/ffi_int.h"

#if ((defined(__x86_64__) && !defined(_WIN32)) || (defined(__aarch64__) && !defined(_WIN32))) && \
    defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FFI_HAVE_DIRECT 1
#else
#define FFI_HAVE_DIRECT 0
#endif

#define FFI_DIRECT_SLOTS 64
#define FFI_DIRECT_ARGS 6

#if FFI_HAVE_DIRECT

/* The callback of each slot, hidden; 0 when the slot is free. */
static GC_hidden_pointer direct_owner[FFI_DIRECT_SLOTS];
static pthread_mutex_t direct_lock = PTHREAD_MUTEX_INITIALIZER;

/* A slot called while no callback holds it: C kept the function pointer
 * of a callback that was collected. A libffi closure would be freed
 * memory by then; here the call is refused like the other refusals, with
 * write(2), as this may even run in a signal handler. */
static void report_freed(void)
{
    static const char line[] = "pvm: an ffi callback was called after it was collected; it returned 0 to C\n";
    ssize_t unused = write(STDERR_FILENO, line, sizeof line - 1);
    (void)unused;
}

/* What every entry does: points the argument list at the registers'
 * copies and runs the callback; the result goes back widened to 64 bits,
 * of which C reads its type's part. */
static __attribute__((noinline)) uint64_t direct_run(int slot, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
                                                     uint64_t a4, uint64_t a5)
{
    uint64_t regs[FFI_DIRECT_ARGS] = { a0, a1, a2, a3, a4, a5 };
    void *cargs[FFI_DIRECT_ARGS];
    for (int i = 0; i < FFI_DIRECT_ARGS; i++)
        cargs[i] = &regs[i];
    FfiSlot ret = { .u64 = 0 };
    GC_hidden_pointer owner = __atomic_load_n(&direct_owner[slot], __ATOMIC_ACQUIRE);
    if (!owner) {
        report_freed();
        return 0;
    }
    pvmF_callback_enter(GC_REVEAL_POINTER(owner), &ret, cargs);
    return ret.u64;
}

#define DIRECT_ENTRY(K)                                                                                      \
    static uint64_t direct_##K(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) \
    {                                                                                                        \
        return direct_run(K, a0, a1, a2, a3, a4, a5);                                                        \
    }
#define DIRECT_CODE(K) (void *)direct_##K,

#define DIRECT_SLOT_LIST(X)                                                                                  \
    X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) X(16) X(17) X(18)  \
    X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(31) X(32) X(33) X(34) X(35)   \
    X(36) X(37) X(38) X(39) X(40) X(41) X(42) X(43) X(44) X(45) X(46) X(47) X(48) X(49) X(50) X(51) X(52)   \
    X(53) X(54) X(55) X(56) X(57) X(58) X(59) X(60) X(61) X(62) X(63)

DIRECT_SLOT_LIST(DIRECT_ENTRY)

static void *const direct_code[FFI_DIRECT_SLOTS] = { DIRECT_SLOT_LIST(DIRECT_CODE) };

/* Whether values of [k] travel in an integer register. */
static bool in_int_register(FfiKind k)
{
    return pvmF_types[k].is_int || k == FK_POINTER || k == FK_STRING || k == FK_BUFFER;
}

static bool fits(const FfiSig *sig)
{
    if (sig->variadic || sig->nargs > FFI_DIRECT_ARGS)
        return false;
    if (sig->ret != FK_VOID && !in_int_register(sig->ret))
        return false;
    for (int i = 0; i < sig->nargs; i++)
        if (!in_int_register(sig->kinds[i]))
            return false;
    return true;
}

void *pvmF_direct_claim(const FfiSig *sig, void *cb)
{
    if (!fits(sig))
        return NULL;
    void *code = NULL;
    pthread_mutex_lock(&direct_lock);
    for (int k = 0; k < FFI_DIRECT_SLOTS && !code; k++) {
        if (direct_owner[k])
            continue;
        __atomic_store_n(&direct_owner[k], GC_HIDE_POINTER(cb), __ATOMIC_RELEASE);
        code = direct_code[k];
    }
    pthread_mutex_unlock(&direct_lock);
    return code;
}

void pvmF_direct_release(void *code)
{
    pthread_mutex_lock(&direct_lock);
    for (int k = 0; k < FFI_DIRECT_SLOTS; k++)
        if (direct_code[k] == code)
            __atomic_store_n(&direct_owner[k], 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&direct_lock);
}

#else

void *pvmF_direct_claim(const FfiSig *sig, void *cb)
{
    return NULL;
}

void pvmF_direct_release(void *code)
{
}

#endif
