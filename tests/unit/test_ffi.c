/* The ffi module, driven from C: every C type's range and round trip
 * (through a callback bound back as a C function), calls into libc, the
 * callback protocol (error propagation, nesting, calls outside an ffi call
 * or from another thread), memory bounds, variadic calls, the disabled
 * switch, and finalizers closing libraries. PV functions are stood in for
 * by natives, so only the VM core and the ffi are needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <gc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "stdlib/ffi.h"
#include "vm/interp/interp.h"
#include "vm_fixture.h"

static VM *new_vm(void)
{
    VM *vm = pvmV_new();
    assert_non_null(vm);
    pvmL_open_ffi(vm);
    return vm;
}

/* ffi.NAME from the built-in scope. */
static Value ffi_get(VM *vm, const char *name)
{
    Value module, v;
    assert_true(pvmV_map_get(vm->builtins, str(vm, "ffi"), &module));
    assert_int_equal(module.type, VT_MAP);
    assert_true(pvmV_map_get(module.as.m, str(vm, name), &v));
    return v;
}

/* Calls [fn] and asserts that it succeeds. */
static Value call_ok(VM *vm, Value fn, int argc, const Value *args)
{
    Value r;
    bool ok = pvmV_pcall(vm, fn, argc, args, &r);
    if (!ok && vm->error.type == VT_STRING)
        fprintf(stderr, "unexpected error: %s\n", vm->error.as.s->chars);
    assert_true(ok);
    return r;
}

/* Calls [fn], asserts that it fails, and returns the message. */
static const char *call_fails(VM *vm, Value fn, int argc, const Value *args)
{
    assert_false(pvmV_pcall(vm, fn, argc, args, NULL));
    assert_int_equal(vm->error.type, VT_STRING);
    return vm->error.as.s->chars;
}

static Value array_of_types(VM *vm, int n, const char *const *types)
{
    PvArray *a = pvmV_array_new(vm, (size_t)n);
    for (int i = 0; i < n; i++)
        pvmV_array_push(vm, a, str(vm, types[i]));
    return vm_obj(VT_ARRAY, a);
}

/* ffi.fn(lib, name, ret, [types...]) */
static Value bind(VM *vm, Value lib, const char *name, const char *ret, int n, const char *const *types)
{
    Value args[4] = { lib, str(vm, name), str(vm, ret), array_of_types(vm, n, types) };
    return call_ok(vm, ffi_get(vm, "fn"), 4, args);
}

static Value libc(VM *vm)
{
    Value nil = VAL_NIL;
    return call_ok(vm, ffi_get(vm, "open"), 1, &nil);
}

static Value native(VM *vm, const char *name, VmNativeFn fn, int nargs, void *data)
{
    return vm_obj(VT_NATIVE, pvmV_native_new(vm, name, fn, nargs, nargs, data));
}

/* ffi.callback(fn, ret, [types...]) */
static Value callback(VM *vm, Value fn, const char *ret, int n, const char *const *types)
{
    Value args[3] = { fn, str(vm, ret), array_of_types(vm, n, types) };
    return call_ok(vm, ffi_get(vm, "callback"), 3, args);
}

static Value identity(VM *vm, int argc, Value *args, void *data)
{
    return args[0];
}

/* ---- Types ---- */

typedef struct {
    const char *type;
    int64_t min, max;
} IntRange;

static const IntRange int_ranges[] = {
    { "int8", INT8_MIN, INT8_MAX },       { "int16", INT16_MIN, INT16_MAX },
    { "int32", INT32_MIN, INT32_MAX },    { "int64", INT64_MIN, INT64_MAX },
    { "uint8", 0, UINT8_MAX },            { "uint16", 0, UINT16_MAX },
    { "uint32", 0, UINT32_MAX },          { "uint64", 0, INT64_MAX },
    { "int", INT32_MIN, INT32_MAX },      { "long", INT64_MIN, INT64_MAX },
    { "size_t", 0, INT64_MAX },           { "uint", 0, UINT32_MAX },
    { "ulong", 0, INT64_MAX },
};

/* Each integer type survives PV -> C -> PV -> C -> PV at both ends of its
 * range (through a callback that C calls), and one past either end is an
 * error naming the argument and the type. */
static void test_integer_types_round_trip_and_range(void **state)
{
    VM *vm = new_vm();
    for (size_t i = 0; i < sizeof int_ranges / sizeof int_ranges[0]; i++) {
        const IntRange *r = &int_ranges[i];
        Value cb = callback(vm, native(vm, "id", identity, 1, NULL), r->type, 1, &r->type);
        Value f = bind(vm, cb, "id", r->type, 1, &r->type);
        int64_t ends[2] = { r->min, r->max };
        for (int e = 0; e < 2; e++) {
            Value arg = vm_int(ends[e]);
            Value got = call_ok(vm, f, 1, &arg);
            assert_int_equal(got.type, VT_INT);
            assert_true(got.as.i == ends[e]);
        }
        if (r->min > INT64_MIN) {
            Value below = vm_int(r->min - 1);
            char want[128];
            snprintf(want, sizeof want, "id: argument 1: %lld is out of range for %s", (long long)(r->min - 1),
                     r->type);
            assert_non_null(strstr(call_fails(vm, f, 1, &below), want));
        }
        if (r->max < INT64_MAX) {
            Value above = vm_int(r->max + 1);
            assert_non_null(strstr(call_fails(vm, f, 1, &above), "is out of range for"));
        }
    }
    pvmV_free(vm);
}

static void test_float_types_and_type_errors(void **state)
{
    VM *vm = new_vm();
    const char *dbl = "double", *flt = "float";
    Value fd = bind(vm, callback(vm, native(vm, "id", identity, 1, NULL), dbl, 1, &dbl), "d", dbl, 1, &dbl);
    Value ff = bind(vm, callback(vm, native(vm, "id", identity, 1, NULL), flt, 1, &flt), "f", flt, 1, &flt);
    Value x = vm_float(0.1);
    assert_true(call_ok(vm, fd, 1, &x).as.f == 0.1);
    assert_true(call_ok(vm, ff, 1, &x).as.f == (double)0.1f);
    Value i = vm_int(3);
    Value got = call_ok(vm, fd, 1, &i);
    assert_int_equal(got.type, VT_FLOAT);
    assert_true(got.as.f == 3.0);
    Value s = str(vm, "3");
    assert_string_equal(call_fails(vm, fd, 1, &s), "d: argument 1 must be number, got string");
    Value nil = VAL_NIL;
    assert_string_equal(call_fails(vm, ff, 1, &nil), "f: argument 1 must be number, got nil");
    pvmV_free(vm);
}

static void test_unknown_types_are_errors(void **state)
{
    VM *vm = new_vm();
    Value lib = libc(vm);
    Value args[4] = { lib, str(vm, "abs"), str(vm, "int33_t"), VAL_NIL };
    assert_string_equal(call_fails(vm, ffi_get(vm, "fn"), 4, args),
                        "ffi.fn: abs: unknown C type 'int33_t' for the return value");
    const char *bad[] = { "int", "Int" };
    args[2] = str(vm, "int");
    args[3] = array_of_types(vm, 2, bad);
    assert_string_equal(call_fails(vm, ffi_get(vm, "fn"), 4, args),
                        "ffi.fn: abs: unknown C type 'Int' for parameter 2");
    Value four = vm_int(4);
    Value p = call_ok(vm, ffi_get(vm, "alloc"), 1, &four);
    Value r[2] = { p, str(vm, "chr") };
    assert_string_equal(call_fails(vm, ffi_get(vm, "read"), 2, r),
                        "ffi.read: unknown C type 'chr' (argument 2)");
    Value sz = str(vm, "wchar");
    assert_string_equal(call_fails(vm, ffi_get(vm, "sizeof"), 1, &sz),
                        "ffi.sizeof: unknown C type 'wchar' (argument 1)");
    pvmV_free(vm);
}

/* ---- Calling C ---- */

static void test_calls_libc(void **state)
{
    VM *vm = new_vm();
    Value lib = libc(vm);
    const char *s = "string", *i = "int";
    Value strlen_fn = bind(vm, lib, "strlen", "size_t", 1, &s);
    Value hello = str(vm, "hello, world");
    assert_int_equal(call_ok(vm, strlen_fn, 1, &hello).as.i, 12);
    Value abs_fn = bind(vm, lib, "abs", "int", 1, &i);
    Value neg = vm_int(-42);
    assert_int_equal(call_ok(vm, abs_fn, 1, &neg).as.i, 42);
    Value nil = VAL_NIL;
    assert_string_equal(call_fails(vm, strlen_fn, 1, &nil),
                        "strlen: argument 1: nil (NULL) is not allowed for a string");
    Value with_nul = vm_str_value(pvmV_string_new(vm, "a\0b", 3));
    assert_non_null(strstr(call_fails(vm, strlen_fn, 1, &with_nul), "contains a NUL byte"));
    assert_string_equal(call_fails(vm, strlen_fn, 0, NULL), "strlen expects 1 argument, got 0");
    pvmV_free(vm);
}

static void test_missing_symbol_and_library(void **state)
{
    VM *vm = new_vm();
    Value args[4] = { libc(vm), str(vm, "surely_not_a_libc_function"), str(vm, "int"), VAL_NIL };
    assert_string_equal(call_fails(vm, ffi_get(vm, "fn"), 4, args),
                        "ffi.fn: cannot find symbol 'surely_not_a_libc_function' in the running process");
    Value path = str(vm, "/nonexistent/libnothing.so");
    assert_non_null(strstr(call_fails(vm, ffi_get(vm, "open"), 1, &path),
                           "ffi.open: cannot load '/nonexistent/libnothing.so': "));
    pvmV_free(vm);
}

static void test_variadic_forms(void **state)
{
    VM *vm = new_vm();
    Value lib = libc(vm);
    Value n = vm_int(64);
    Value buf = call_ok(vm, ffi_get(vm, "alloc"), 1, &n);
    const char *fixed[] = { "pointer", "size_t", "string", "...", "int", "double" };
    Value f = bind(vm, lib, "snprintf", "int", 6, fixed);
    Value args[5] = { buf, vm_int(64), str(vm, "%d/%.1f"), vm_int(-5), vm_float(2.25) };
    assert_int_equal(call_ok(vm, f, 5, args).as.i, 6);
    assert_string_equal(call_ok(vm, ffi_get(vm, "string"), 1, &buf).as.s->chars, "-5/2.2");
    const char *open[] = { "pointer", "size_t", "string", "..." };
    Value g = bind(vm, lib, "snprintf", "int", 4, open);
    /* Open form: ints go as 64-bit, floats as double, bools as int. */
    Value more[7] = { buf, vm_int(64), str(vm, "%ld|%s|%g|%d"), vm_int(1LL << 40), str(vm, "x"), vm_float(0.5),
                      VAL_TRUE };
    assert_int_equal(call_ok(vm, g, 7, more).as.i, 21);
    assert_string_equal(call_ok(vm, ffi_get(vm, "string"), 1, &buf).as.s->chars, "1099511627776|x|0.5|1");
    Value bad[4] = { buf, vm_int(64), str(vm, "%p"), vm_obj(VT_ARRAY, pvmV_array_new(vm, 0)) };
    assert_string_equal(call_fails(vm, g, 4, bad), "snprintf: argument 4: cannot pass array values through '...'");
    pvmV_free(vm);
}

/* ---- Callbacks ---- */

static int int_compare_calls;

static Value compare_ints(VM *vm, int argc, Value *args, void *data)
{
    int_compare_calls++;
    Value read = *(Value *)data;
    Value ka[2] = { args[0], str(vm, "int32") }, kb[2] = { args[1], str(vm, "int32") };
    int64_t a = pvmV_call(vm, read, 2, ka).as.i, b = pvmV_call(vm, read, 2, kb).as.i;
    return vm_int(a < b ? -1 : a > b);
}

static Value qsort_fn(VM *vm)
{
    const char *types[] = { "pointer", "size_t", "size_t", "pointer" };
    return bind(vm, libc(vm), "qsort", "void", 4, types);
}

static Value int_array(VM *vm, const int32_t *vals, int n)
{
    Value size = vm_int(4 * n);
    Value p = call_ok(vm, ffi_get(vm, "alloc"), 1, &size);
    memcpy(vm_pointer_addr(p), vals, 4 * (size_t)n);
    return p;
}

static void test_qsort_with_callback(void **state)
{
    VM *vm = new_vm();
    static Value read;
    read = ffi_get(vm, "read");
    const char *pp[] = { "pointer", "pointer" };
    Value cmp = callback(vm, native(vm, "cmp", compare_ints, 2, &read), "int", 2, pp);
    int32_t vals[] = { 5, -3, 9, 0, 7, 7, -100, 42 };
    Value arr = int_array(vm, vals, 8);
    int_compare_calls = 0;
    Value args[4] = { arr, vm_int(8), vm_int(4), cmp };
    call_ok(vm, qsort_fn(vm), 4, args);
    const int32_t *sorted = vm_pointer_addr(arr);
    int32_t want[] = { -100, -3, 0, 5, 7, 7, 9, 42 };
    assert_memory_equal(sorted, want, sizeof want);
    assert_true(int_compare_calls >= 7);
    pvmV_free(vm);
}

static int throwing_calls;

static Value throw_value(VM *vm, int argc, Value *args, void *data)
{
    throwing_calls++;
    pvmV_throw(vm, *(Value *)data);
}

/* The value thrown in a callback reaches the caller of the C function
 * unchanged, C sees zeros meanwhile, and later callbacks in the same C call
 * do not run PV. */
static void test_callback_error_propagates(void **state)
{
    VM *vm = new_vm();
    static Value thrown;
    thrown = vm_obj(VT_MAP, pvmV_map_new(vm, 1));
    const char *pp[] = { "pointer", "pointer" };
    Value cmp = callback(vm, native(vm, "cmp", throw_value, 2, &thrown), "int", 2, pp);
    int32_t vals[] = { 3, 2, 1, 0 };
    Value args[4] = { int_array(vm, vals, 4), vm_int(4), vm_int(4), cmp };
    throwing_calls = 0;
    assert_false(pvmV_pcall(vm, qsort_fn(vm), 4, args, NULL));
    assert_int_equal(vm->error.type, VT_MAP);
    assert_ptr_equal(vm->error.as.m, thrown.as.m);
    assert_int_equal(throwing_calls, 1);
    /* The state is clean again: the next call works. */
    static Value read;
    read = ffi_get(vm, "read");
    args[3] = callback(vm, native(vm, "cmp", compare_ints, 2, &read), "int", 2, pp);
    call_ok(vm, qsort_fn(vm), 4, args);
    assert_int_equal(((int32_t *)vm_pointer_addr(args[0]))[0], 0);
    pvmV_free(vm);
}

static Value return_string(VM *vm, int argc, Value *args, void *data)
{
    return str(vm, "not an int");
}

static void test_callback_bad_return_value(void **state)
{
    VM *vm = new_vm();
    const char *i = "int";
    Value cb = callback(vm, native(vm, "liar", return_string, 1, NULL), "int", 1, &i);
    Value f = bind(vm, cb, "f", "int", 1, &i);
    Value one = vm_int(1);
    assert_string_equal(call_fails(vm, f, 1, &one), "callback liar: return value must be int, got string");
    pvmV_free(vm);
}

/* A callback calling C that calls a throwing callback: the error crosses
 * both C calls, one at a time. */
static Value call_inner(VM *vm, int argc, Value *args, void *data)
{
    Value inner = *(Value *)data;
    return pvmV_call(vm, inner, 1, args);
}

static void test_nested_callbacks(void **state)
{
    VM *vm = new_vm();
    const char *i = "int";
    static Value thrown, inner_fn;
    thrown = str(vm, "deep");
    Value inner_cb = callback(vm, native(vm, "thrower", throw_value, 1, &thrown), "int", 1, &i);
    inner_fn = bind(vm, inner_cb, "inner", "int", 1, &i);
    Value outer_cb = callback(vm, native(vm, "middle", call_inner, 1, &inner_fn), "int", 1, &i);
    Value outer_fn = bind(vm, outer_cb, "outer", "int", 1, &i);
    Value one = vm_int(1);
    assert_string_equal(call_fails(vm, outer_fn, 1, &one), "deep");
    pvmV_free(vm);
}

static int pv_runs;

static Value count_run(VM *vm, int argc, Value *args, void *data)
{
    pv_runs++;
    return vm_int(7);
}

/* Called from C with no ffi call in progress, or from another thread, a
 * callback returns 0 without running PV. */
static void test_callback_outside_call_and_thread(void **state)
{
    VM *vm = new_vm();
    const char *i = "int";
    Value cb = callback(vm, native(vm, "count", count_run, 1, NULL), "int", 1, &i);
    int (*code)(int) = (int (*)(int))vm_pointer_addr(cb);
    pv_runs = 0;
    assert_int_equal(code(1), 0);
    assert_int_equal(pv_runs, 0);
    Value through_c = bind(vm, cb, "count", "int", 1, &i);
    Value one = vm_int(1);
    assert_int_equal(call_ok(vm, through_c, 1, &one).as.i, 7);
    assert_int_equal(pv_runs, 1);
    pvmV_free(vm);
}

static void *thread_body(void *arg)
{
    int (*fn)(int) = (int (*)(int))arg;
    return (void *)(intptr_t)fn(5);
}

/* A C function that calls [fn] on a new thread and returns its result. */
static int run_on_thread(int (*fn)(int))
{
    pthread_t t;
    void *result;
    if (pthread_create(&t, NULL, thread_body, (void *)fn) != 0)
        return -1;
    pthread_join(t, &result);
    return (int)(intptr_t)result;
}

static void test_callback_from_other_thread(void **state)
{
    VM *vm = new_vm();
    const char *i = "int", *p = "pointer";
    Value cb = callback(vm, native(vm, "count", count_run, 1, NULL), "int", 1, &i);
    Value runner = bind(vm, pvmF_pointer(vm, (void *)run_on_thread), "run_on_thread", "int", 1, &p);
    pv_runs = 0;
    assert_int_equal(call_ok(vm, runner, 1, &cb).as.i, 0);
    assert_int_equal(pv_runs, 0);
    pvmV_free(vm);
}

static void test_callback_signature_errors(void **state)
{
    VM *vm = new_vm();
    Value fn = native(vm, "count", count_run, 1, NULL);
    const char *var[] = { "int", "..." };
    Value args[3] = { fn, str(vm, "int"), array_of_types(vm, 2, var) };
    assert_string_equal(call_fails(vm, ffi_get(vm, "callback"), 3, args),
                        "ffi.callback: a callback cannot be variadic ('...')");
    args[1] = str(vm, "string");
    args[2] = VAL_NIL;
    assert_non_null(strstr(call_fails(vm, ffi_get(vm, "callback"), 3, args), "cannot return a string"));
    args[0] = vm_int(1);
    assert_string_equal(call_fails(vm, ffi_get(vm, "callback"), 2, args),
                        "ffi.callback: argument 1 must be function, got int");
    pvmV_free(vm);
}

/* ---- Memory ---- */

static void test_memory_read_write_all_types(void **state)
{
    VM *vm = new_vm();
    Value size = vm_int(16);
    Value p = call_ok(vm, ffi_get(vm, "alloc"), 1, &size);
    const char *types[] = { "int8", "uint16", "int32", "uint64", "float", "double", "size_t", "long" };
    Value vals[] = { vm_int(-7), vm_int(65535), vm_int(-123456), vm_int(INT64_MAX), vm_float(1.5),
                     vm_float(-0.1), vm_int(99), vm_int(INT64_MIN) };
    for (int k = 0; k < 8; k++) {
        Value w[4] = { p, str(vm, types[k]), vm_int(8), vals[k] };
        call_ok(vm, ffi_get(vm, "write"), 4, w);
        Value r[3] = { p, str(vm, types[k]), vm_int(8) };
        assert_true(pvmV_values_equal(call_ok(vm, ffi_get(vm, "read"), 3, r), vals[k]));
    }
    /* Pointers: stored and read back; a pointer read from memory is foreign. */
    Value w[4] = { p, str(vm, "pointer"), vm_int(0), p };
    call_ok(vm, ffi_get(vm, "write"), 4, w);
    Value r[3] = { p, str(vm, "pointer"), vm_int(0) };
    Value back = call_ok(vm, ffi_get(vm, "read"), 3, r);
    assert_ptr_equal(vm_pointer_addr(back), vm_pointer_addr(p));
    pvmV_free(vm);
}

static void test_memory_bounds(void **state)
{
    VM *vm = new_vm();
    Value size = vm_int(8);
    Value p = call_ok(vm, ffi_get(vm, "alloc"), 1, &size);
    Value r[3] = { p, str(vm, "int32"), vm_int(5) };
    assert_string_equal(call_fails(vm, ffi_get(vm, "read"), 3, r),
                        "ffi.read: cannot read 4 bytes at offset 5: outside the 8-byte block");
    r[2] = vm_int(INT64_MAX);
    assert_non_null(strstr(call_fails(vm, ffi_get(vm, "read"), 3, r), "outside the 8-byte block"));
    Value off[2] = { p, vm_int(6) };
    Value q = call_ok(vm, ffi_get(vm, "offset"), 2, off);
    Value w[4] = { q, str(vm, "int16"), vm_int(0), vm_int(-2) };
    call_ok(vm, ffi_get(vm, "write"), 4, w);
    w[1] = str(vm, "int32");
    assert_string_equal(call_fails(vm, ffi_get(vm, "write"), 4, w),
                        "ffi.write: cannot write 4 bytes at offset 6: outside the 8-byte block");
    Value back[2] = { q, vm_int(-6) };
    Value p2 = call_ok(vm, ffi_get(vm, "offset"), 2, back);
    assert_ptr_equal(vm_pointer_addr(p2), vm_pointer_addr(p));
    Value nul = ffi_get(vm, "null");
    Value nr[2] = { nul, str(vm, "int") };
    assert_string_equal(call_fails(vm, ffi_get(vm, "read"), 2, nr), "ffi.read: cannot read through a NULL pointer");
    assert_true(call_ok(vm, ffi_get(vm, "is_null"), 1, &nul).as.b);
    assert_false(call_ok(vm, ffi_get(vm, "is_null"), 1, &p).as.b);
    pvmV_free(vm);
}

static void test_strings_in_memory(void **state)
{
    VM *vm = new_vm();
    Value s = vm_str_value(pvmV_string_new(vm, "ab\0cd", 5));
    Value p = call_ok(vm, ffi_get(vm, "alloc"), 1, &s);
    assert_string_equal(call_ok(vm, ffi_get(vm, "string"), 1, &p).as.s->chars, "ab");
    Value n[2] = { p, vm_int(6) };
    Value whole = call_ok(vm, ffi_get(vm, "string"), 2, n);
    assert_int_equal(whole.as.s->len, 6);
    assert_memory_equal(whole.as.s->chars, "ab\0cd\0", 6);
    n[1] = vm_int(7);
    assert_non_null(strstr(call_fails(vm, ffi_get(vm, "string"), 2, n), "outside the 6-byte block"));
    Value four = vm_int(4);
    Value full = call_ok(vm, ffi_get(vm, "alloc"), 1, &four);
    memset(vm_pointer_addr(full), 'x', 4);
    assert_string_equal(call_fails(vm, ffi_get(vm, "string"), 1, &full),
                        "ffi.string: no NUL byte before the end of the 4-byte block");
    pvmV_free(vm);
}

/* ---- Switches and lifetime ---- */

static void test_disabled(void **state)
{
    VM *vm = new_vm();
    const char *i = "int";
    Value abs_fn = bind(vm, libc(vm), "abs", "int", 1, &i);
    vm->ffi_disabled = true;
    Value nil = VAL_NIL, one = vm_int(1);
    assert_string_equal(call_fails(vm, ffi_get(vm, "open"), 1, &nil), "ffi is disabled");
    assert_string_equal(call_fails(vm, ffi_get(vm, "alloc"), 1, &one), "ffi is disabled");
    assert_string_equal(call_fails(vm, abs_fn, 1, &one), "ffi is disabled");
    /* The functions with a fast path check the switch too. */
    static const struct { const char *name; int argc; } others[] = {
        { "read", 2 }, { "write", 4 }, { "string", 1 }, { "offset", 2 }, { "is_null", 1 },
        { "address", 1 }, { "pointer", 1 }, { "size", 1 }, { "sizeof", 1 }, { "fn", 3 },
        { "callback", 2 },
    };
    Value four[4] = { one, one, one, one };
    for (size_t k = 0; k < sizeof others / sizeof others[0]; k++)
        assert_string_equal(call_fails(vm, ffi_get(vm, others[k].name), others[k].argc, four),
                            "ffi is disabled");
    vm->ffi_disabled = false;
    assert_int_equal(call_ok(vm, abs_fn, 1, &one).as.i, 1);
    pvmV_free(vm);
}

/* Opens libz (not linked into this program) in a frame of its own so that
 * no stale copy of the handle stays on the C stack. */
static __attribute__((noinline)) void open_and_drop_libz(VM *vm)
{
    Value path = str(vm, "libz.so.1");
    call_ok(vm, ffi_get(vm, "open"), 1, &path);
    /* The result sits in the VM stack's callee slot, which the collector
     * scans even above the top: overwrite it with another call's result. */
    Value type = str(vm, "int");
    call_ok(vm, ffi_get(vm, "sizeof"), 1, &type);
}

static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char junk[4096];
    memset((char *)junk, 0, sizeof junk);
}

/* Whether libz is loaded, without keeping a reference to it. */
static bool libz_loaded(void)
{
    void *h = dlopen("libz.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (h)
        dlclose(h);
    return h != NULL;
}

static void test_finalizer_closes_library(void **state)
{
    if (libz_loaded())
        skip(); /* loaded by someone else: nothing to observe */
    VM *vm = new_vm();
    open_and_drop_libz(vm);
    assert_true(libz_loaded());
    for (int round = 0; round < 10 && libz_loaded(); round++) {
        scrub_stack();
        GC_gcollect();
        GC_invoke_finalizers();
    }
    assert_false(libz_loaded());
    pvmV_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integer_types_round_trip_and_range),
        cmocka_unit_test(test_float_types_and_type_errors),
        cmocka_unit_test(test_unknown_types_are_errors),
        cmocka_unit_test(test_calls_libc),
        cmocka_unit_test(test_missing_symbol_and_library),
        cmocka_unit_test(test_variadic_forms),
        cmocka_unit_test(test_qsort_with_callback),
        cmocka_unit_test(test_callback_error_propagates),
        cmocka_unit_test(test_callback_bad_return_value),
        cmocka_unit_test(test_nested_callbacks),
        cmocka_unit_test(test_callback_outside_call_and_thread),
        cmocka_unit_test(test_callback_from_other_thread),
        cmocka_unit_test(test_callback_signature_errors),
        cmocka_unit_test(test_memory_read_write_all_types),
        cmocka_unit_test(test_memory_bounds),
        cmocka_unit_test(test_strings_in_memory),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_finalizer_closes_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
