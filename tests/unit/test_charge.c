/* Natives charge the budget for their work and notice the interrupt
 * themselves (vm/runtime/vm.h, pvmV_charge): each standard native with a
 * large input is called directly, past the call's own check, with the
 * fuel at zero or an interrupt pending, and must raise the limit rather
 * than do the work. Deterministic, unlike a timing test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stdlib/lib.h"
#include "stdlib/stdlib.h"
#include "vm_fixture.h"

static VM *vm;

static int setup(void **state)
{
    vm = pvmV_new();
    if (!vm)
        return -1;
    pvmL_open(vm, 0, NULL);
    return 0;
}

static int teardown(void **state)
{
    pvmV_free(vm);
    return 0;
}

static PvNative *native(const char *module, const char *name)
{
    Value m, f;
    assert_true(pvmV_map_get(vm->builtins, str(vm, module), &m));
    if (!name)
        f = m;
    else
        assert_true(pvmV_map_get(m.as.m, str(vm, name), &f));
    assert_int_equal(f.type, VT_NATIVE);
    return f.as.nat;
}

static Value big_string(size_t n)
{
    PvString *s = pvmV_string_alloc(vm, n);
    memset(s->chars, 'a', n);
    for (size_t i = 0; i < n; i += 10)
        s->chars[i] = ','; /* separators for split */
    return vm_str_value(pvmV_string_seal(s));
}

static Value big_array(size_t n)
{
    PvArray *a = pvmV_array_new(vm, n);
    for (size_t i = 0; i < n; i++)
        pvmV_array_push(vm, a, vm_int((int64_t)(n - i)));
    return vm_obj(VT_ARRAY, a);
}

typedef struct {
    const char *module, *name; /* name NULL: a global function */
    int argc;
    Value args[3];
} Case;

/* Calls the native's C function directly, so no CALL or pvmV_call check
 * comes first, expecting [msg]. */
static void expect_limit(const Case *c, const char *msg)
{
    PvNative *n = native(c->module, c->name);
    Value args[3];
    memcpy(args, c->args, sizeof args);
    EXPECT_ERROR(vm, n->fn(vm, c->argc, args, n->data), msg);
    assert_true(vm_error_is_fatal(vm->error_kind));
    vm->error_kind = VM_ERR_NONE;
    vm->fuel = INT64_MAX;
    pvmV_interrupt_clear(vm);
}

static void test_natives_charge_and_poll(void **state)
{
    (void)state;
    Value s = big_string(1 << 20), a = big_array(1 << 16), sep = str(vm, ","), x = str(vm, "x");
    Case cases[] = {
        { "string", "repeat", 2, { x, vm_int(1 << 30) } },
        { "string", "split", 2, { s, sep } },
        { "string", "join", 2, { a, sep } },
        { "string", "replace", 3, { s, sep, x } },
        { "string", "upper", 1, { s } },
        { "string", "find", 2, { s, x } },
        { "string", "format", 2, { str(vm, "%999999d"), vm_int(1) } },
        { "array", "sort", 1, { a } },
        { "array", "new", 2, { vm_int(1 << 20), vm_int(0) } },
        { "array", "concat", 2, { a, a } },
        { "array", "slice", 2, { a, vm_int(0) } },
        { "array", "index_of", 2, { a, x } },
        { "array", "reverse", 1, { a } },
        { "str", NULL, 1, { a } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vm->fuel = 0;
        expect_limit(&cases[i], "instruction budget exceeded");
        pvmV_interrupt_set(vm);
        expect_limit(&cases[i], "interrupted");
    }
    /* The array is untouched: sort and reverse stopped before working. */
    assert_int_equal(pvmV_array_load(a.as.a, 0).as.i, 1 << 16);
}

/* Within a budget the same calls work, so the charges are not refusals. */
static void test_natives_within_budget(void **state)
{
    (void)state;
    PvNative *rep = native("string", "repeat");
    Value args[2] = { str(vm, "ab"), vm_int(1000) };
    vm->fuel = 1000;
    Value r = rep->fn(vm, 2, args, rep->data);
    assert_int_equal(r.as.s->len, 2000);
    assert_int_equal(vm->fuel, 1000 - 2000 / VM_BYTES_PER_UNIT);
    vm->fuel = INT64_MAX;
}

/* repeat copies in bounded slices: the pattern must survive slices that
 * are not a power of two, and pieces longer than a slice. */
static void test_repeat_slices_keep_the_pattern(void **state)
{
    (void)state;
    PvNative *rep = native("string", "repeat");
    static const size_t piece_lens[] = { 3, 7, 1000, (1 << 20) + 5 };
    for (size_t k = 0; k < sizeof piece_lens / sizeof piece_lens[0]; k++) {
        size_t len = piece_lens[k], count = (3u << 20) / len + 3;
        PvString *p = pvmV_string_alloc(vm, len);
        for (size_t i = 0; i < len; i++)
            p->chars[i] = (char)('a' + i % 23);
        Value args[2] = { vm_str_value(pvmV_string_seal(p)), vm_int((int64_t)count) };
        Value r = rep->fn(vm, 2, args, rep->data);
        assert_int_equal(r.as.s->len, len * count);
        for (size_t i = 0; i < r.as.s->len; i++)
            if (r.as.s->chars[i] != p->chars[i % len])
                fail_msg("piece of %zu: byte %zu differs", len, i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_natives_charge_and_poll),
        cmocka_unit_test(test_natives_within_budget),
        cmocka_unit_test(test_repeat_slices_keep_the_pattern),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
