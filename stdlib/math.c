/* The math module: constants, rounding to ints, min/max that return their
 * winning argument unchanged, the C library's float functions, and the
 * seeded random generator (random.c). */
#include <math.h>
#include <time.h>

#include "stdlib/lib.h"

static Value m_abs(VM *vm, int argc, Value *args, void *fname)
{
    if (args[0].type == VT_INT) /* wraps at the minimum, like unary minus */
        return args[0].as.i < 0 ? vm_int((int64_t)(0 - (uint64_t)args[0].as.i)) : args[0];
    return vm_float(fabs(pvmL_arg_number(vm, fname, args, 0)));
}

static bool is_nan(Value v)
{
    return v.type == VT_FLOAT && isnan(v.as.f);
}

/* The argument that wins when [sign] is -1 (min) or 1 (max): the first NaN
 * if there is one, else the first of the extreme ones. */
static Value pick_extreme(VM *vm, int argc, const Value *args, const char *fname, int sign)
{
    for (int i = 0; i < argc; i++)
        pvmL_arg_number(vm, fname, args, i);
    Value best = args[0];
    for (int i = 0; i < argc; i++) {
        if (is_nan(args[i]))
            return args[i];
        if (pvmL_compare_numbers(args[i], best) == sign)
            best = args[i];
    }
    return best;
}

static Value m_min(VM *vm, int argc, Value *args, void *fname)
{
    return pick_extreme(vm, argc, args, fname, -1);
}

static Value m_max(VM *vm, int argc, Value *args, void *fname)
{
    return pick_extreme(vm, argc, args, fname, 1);
}

/* floor and ceil return ints: an int argument is already integral. */
static Value round_to_int(VM *vm, Value *args, const char *fname, double (*round)(double))
{
    if (args[0].type == VT_INT)
        return args[0];
    double x = pvmL_arg_number(vm, fname, args, 0);
    return vm_int(pvmL_float_to_int(vm, fname, x, round(x)));
}

static Value m_floor(VM *vm, int argc, Value *args, void *fname)
{
    return round_to_int(vm, args, fname, floor);
}

static Value m_ceil(VM *vm, int argc, Value *args, void *fname)
{
    return round_to_int(vm, args, fname, ceil);
}

/* One-argument float functions share one native body: the C function is
 * chosen by name. */
#define MATH_UNARY(NAME)                                                           \
    static Value m_##NAME(VM *vm, int argc, Value *args, void *fname)              \
    {                                                                              \
        return vm_float(NAME(pvmL_arg_number(vm, fname, args, 0)));                 \
    }

MATH_UNARY(sqrt)
MATH_UNARY(sin)
MATH_UNARY(cos)
MATH_UNARY(tan)
MATH_UNARY(asin)
MATH_UNARY(acos)
MATH_UNARY(atan)
MATH_UNARY(exp)

static Value m_atan2(VM *vm, int argc, Value *args, void *fname)
{
    return vm_float(atan2(pvmL_arg_number(vm, fname, args, 0), pvmL_arg_number(vm, fname, args, 1)));
}

static Value m_pow(VM *vm, int argc, Value *args, void *fname)
{
    return vm_float(pow(pvmL_arg_number(vm, fname, args, 0), pvmL_arg_number(vm, fname, args, 1)));
}

/* log(x) is the natural logarithm; bases 2 and 10 use log2 and log10 so
 * that exact powers give exact results (log(1000, 10) is 3.0). */
static Value m_log(VM *vm, int argc, Value *args, void *fname)
{
    double x = pvmL_arg_number(vm, fname, args, 0);
    if (argc < 2)
        return vm_float(log(x));
    double base = pvmL_arg_number(vm, fname, args, 1);
    if (base == 2)
        return vm_float(log2(x));
    if (base == 10)
        return vm_float(log10(x));
    return vm_float(log(x) / log(base));
}

/* random() and random(a, b); [rng] is the VM's generator. */
static Value m_random(VM *vm, int argc, Value *args, void *rng)
{
    if (argc == 0)
        return vm_float(pvmL_rng_float(rng));
    if (argc == 1)
        pvmV_error(vm, "math.random expects 0 or 2 arguments, got 1");
    int64_t lo = pvmL_arg_int(vm, "math.random", args, 0);
    int64_t hi = pvmL_arg_int(vm, "math.random", args, 1);
    if (lo > hi)
        pvmV_error(vm, "math.random: empty range %lld..%lld", (long long)lo, (long long)hi);
    return vm_int(pvmL_rng_range(rng, lo, hi));
}

static Value m_seed(VM *vm, int argc, Value *args, void *rng)
{
    pvmL_rng_seed(rng, (uint64_t)pvmL_arg_int(vm, "math.seed", args, 0));
    return VAL_NIL;
}

/* Numbers in, a number out: a trace calls each itself (VM_LEAF_PURE). */
static const LibFunc math_funcs[] = {
    { "math.abs", m_abs, 1, 1, VM_LEAF_PURE },
    { "math.min", m_min, 1, -1, VM_LEAF_PURE },
    { "math.max", m_max, 1, -1, VM_LEAF_PURE },
    { "math.floor", m_floor, 1, 1, VM_LEAF_PURE },
    { "math.ceil", m_ceil, 1, 1, VM_LEAF_PURE },
    { "math.sqrt", m_sqrt, 1, 1, VM_LEAF_PURE },
    { "math.sin", m_sin, 1, 1, VM_LEAF_PURE },
    { "math.cos", m_cos, 1, 1, VM_LEAF_PURE },
    { "math.tan", m_tan, 1, 1, VM_LEAF_PURE },
    { "math.asin", m_asin, 1, 1, VM_LEAF_PURE },
    { "math.acos", m_acos, 1, 1, VM_LEAF_PURE },
    { "math.atan", m_atan, 1, 1, VM_LEAF_PURE },
    { "math.atan2", m_atan2, 2, 2, VM_LEAF_PURE },
    { "math.exp", m_exp, 1, 1, VM_LEAF_PURE },
    { "math.log", m_log, 1, 2, VM_LEAF_PURE },
    { "math.pow", m_pow, 2, 2, VM_LEAF_PURE },
    { NULL, NULL, 0, 0, VM_LEAF_NO },
};

/* Without math.seed, a generator starts from the clock and its own address,
 * so separate runs (and separate VMs) differ. */
static LibRng *new_rng(VM *vm)
{
    LibRng *rng = pvmV_alloc_atomic(vm, sizeof(LibRng));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)rng;
    pvmL_rng_seed(rng, seed);
    return rng;
}

void pvmL_open_math(VM *vm)
{
    PvMap *m = pvmL_module(vm, math_funcs);
    pvmL_mark_intrinsic(vm, m, "sqrt", VM_INTRINSIC_SQRT);
    pvmL_mark_intrinsic(vm, m, "floor", VM_INTRINSIC_FLOOR);
    pvmL_mark_intrinsic(vm, m, "ceil", VM_INTRINSIC_CEIL);
    pvmL_mark_intrinsic(vm, m, "abs", VM_INTRINSIC_ABS);
    pvmL_mark_intrinsic(vm, m, "min", VM_INTRINSIC_MIN);
    pvmL_mark_intrinsic(vm, m, "max", VM_INTRINSIC_MAX);
    pvmL_set(vm, m, "pi", vm_float(M_PI));
    pvmL_set(vm, m, "inf", vm_float(INFINITY));
    pvmL_set(vm, m, "nan", vm_float(NAN));
    LibRng *rng = new_rng(vm);
    /* random and seed change only the generator, which no trace reads */
    PvNative *random = pvmV_native_new(vm, "math.random", m_random, 0, 2, rng);
    PvNative *seed = pvmV_native_new(vm, "math.seed", m_seed, 1, 1, rng);
    random->leaf = seed->leaf = VM_LEAF_PURE;
    pvmL_set(vm, m, "random", vm_obj(VT_NATIVE, random));
    pvmL_set(vm, m, "seed", vm_obj(VT_NATIVE, seed));
    pvmV_define_builtin(vm, "math", vm_obj(VT_MAP, m));
}
