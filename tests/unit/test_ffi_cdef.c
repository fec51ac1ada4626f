/* ffi.cdef and structs, driven from C: layouts compared with this
 * compiler's for the very same text (each declaration is both compiled
 * here and given to ffi.cdef), libc's div/ldiv by value against C's own
 * results, declarations per VM and undone by a failing text, and declared
 * types surviving collections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stdlib/ffi.h"
#include "vm/interp/interp.h"
#include "vm_fixture.h"

/* Declares [__VA_ARGS__] for this compiler and keeps its text in [name]. */
#define BOTH(name, ...) __VA_ARGS__; static const char name[] = #__VA_ARGS__ ";"

BOTH(decl_rec, struct rec { char c; double d; short s[3]; struct { int i; char tail; } inner; });
BOTH(decl_uni, union uni { char c[5]; int i; long long ll; });
BOTH(decl_mix, struct mix { union uni u[2]; struct rec r; _Bool b; void *p; unsigned char bytes[7]; });

static VM *new_vm(void)
{
    VM *vm = pvmV_new();
    assert_non_null(vm);
    pvmL_open_ffi(vm);
    return vm;
}

static Value ffi_get(VM *vm, const char *name)
{
    Value module, v;
    assert_true(pvmV_map_get(vm->builtins, str(vm, "ffi"), &module));
    assert_true(pvmV_map_get(module.as.m, str(vm, name), &v));
    return v;
}

static Value call(VM *vm, const char *fn, int argc, Value *args)
{
    Value r;
    bool ok = pvmV_pcall(vm, ffi_get(vm, fn), argc, args, &r);
    if (!ok && vm->error.type == VT_STRING)
        fprintf(stderr, "unexpected error: %s\n", vm->error.as.s->chars);
    assert_true(ok);
    return r;
}

static const char *call_fails(VM *vm, const char *fn, int argc, Value *args)
{
    assert_false(pvmV_pcall(vm, ffi_get(vm, fn), argc, args, NULL));
    assert_int_equal(vm->error.type, VT_STRING);
    return vm->error.as.s->chars;
}

static void cdef(VM *vm, const char *text)
{
    Value t = str(vm, text);
    call(vm, "cdef", 1, &t);
}

static int64_t int_of(VM *vm, const char *fn, const char *type, const char *path)
{
    Value args[2] = { str(vm, type), path ? str(vm, path) : VAL_NIL };
    Value r = call(vm, fn, path ? 2 : 1, args);
    assert_int_equal(r.type, VT_INT);
    return r.as.i;
}

#define ASSERT_OFFSET(vm, T, F) assert_int_equal(int_of(vm, "offsetof", #T, #F), offsetof(T, F))
#define ASSERT_SIZE(vm, T)                                                  \
    do {                                                                    \
        assert_int_equal(int_of(vm, "sizeof", #T, NULL), sizeof(T));        \
        assert_int_equal(int_of(vm, "alignof", #T, NULL), _Alignof(T));     \
    } while (0)

static void test_layout_matches_compiler(void **state)
{
    VM *vm = new_vm();
    cdef(vm, decl_rec);
    cdef(vm, decl_uni);
    cdef(vm, decl_mix);
    ASSERT_SIZE(vm, struct rec);
    ASSERT_OFFSET(vm, struct rec, d);
    ASSERT_OFFSET(vm, struct rec, s[2]);
    ASSERT_OFFSET(vm, struct rec, inner.tail);
    ASSERT_SIZE(vm, union uni);
    ASSERT_SIZE(vm, struct mix);
    ASSERT_OFFSET(vm, struct mix, u[1].c[4]);
    ASSERT_OFFSET(vm, struct mix, r.inner.i);
    ASSERT_OFFSET(vm, struct mix, b);
    ASSERT_OFFSET(vm, struct mix, p);
    ASSERT_OFFSET(vm, struct mix, bytes[6]);
    pvmV_free(vm);
}

static Value field(VM *vm, Value map, const char *name)
{
    Value v;
    assert_int_equal(map.type, VT_MAP);
    assert_true(pvmV_map_get(map.as.m, str(vm, name), &v));
    return v;
}

/* div and ldiv return structs by value; C's own calls say what to expect. */
static void test_div_by_value_against_c(void **state)
{
    VM *vm = new_vm();
    cdef(vm, "typedef struct { int quot, rem; } div_t; div_t div(int, int);"
             "typedef struct { long quot, rem; } ldiv_t; ldiv_t ldiv(long, long);");
    Value nil = VAL_NIL;
    Value lib = call(vm, "open", 1, &nil);
    Value fargs[2] = { lib, str(vm, "div") };
    Value div_fn = call(vm, "fn", 2, fargs);
    fargs[1] = str(vm, "ldiv");
    Value ldiv_fn = call(vm, "fn", 2, fargs);
    srand(7);
    for (int k = 0; k < 200; k++) {
        int a = rand() - RAND_MAX / 2, b = rand() % 1000 + 1;
        long la = (long)a * 1000003L, lb = -(long)b;
        Value args[2] = { vm_int(a), vm_int(b) }, r;
        assert_true(pvmV_pcall(vm, div_fn, 2, args, &r));
        div_t want = div(a, b);
        assert_int_equal(field(vm, r, "quot").as.i, want.quot);
        assert_int_equal(field(vm, r, "rem").as.i, want.rem);
        Value largs[2] = { vm_int(la), vm_int(lb) };
        assert_true(pvmV_pcall(vm, ldiv_fn, 2, largs, &r));
        ldiv_t lwant = ldiv(la, lb);
        assert_int_equal(field(vm, r, "quot").as.i, lwant.quot);
        assert_int_equal(field(vm, r, "rem").as.i, lwant.rem);
    }
    pvmV_free(vm);
}

/* Each VM has its own declarations, and a text that fails adds none. */
static void test_declarations_per_vm_and_atomic(void **state)
{
    VM *a = new_vm(), *b = new_vm();
    cdef(a, "enum { ONLY_A = 3 };");
    Value name = str(a, "ONLY_A");
    assert_int_equal(call(a, "const", 1, &name).as.i, 3);
    name = str(b, "ONLY_A");
    assert_string_equal(call_fails(b, "const", 1, &name),
                        "ffi.const: 'ONLY_A' is not declared (declare it with ffi.cdef)");
    Value bad = str(a, "enum { FIRST = 1 }; struct t { int x; }; oops");
    assert_string_equal(call_fails(a, "cdef", 1, &bad),
                        "ffi.cdef: 1:42: unknown type name 'oops'");
    name = str(a, "FIRST");
    assert_string_equal(call_fails(a, "const", 1, &name),
                        "ffi.const: 'FIRST' is not declared (declare it with ffi.cdef)");
    Value t = str(a, "struct t");
    assert_string_equal(call_fails(a, "sizeof", 1, &t), "ffi.sizeof: struct t has no definition (an incomplete type)");
    pvmV_free(a);
    pvmV_free(b);
}

/* Declared types, bound signatures and blocks live in collector memory:
 * they must survive collections while reachable only from the VM. */
static void test_types_survive_collections(void **state)
{
    VM *vm = new_vm();
    char text[200];
    for (int i = 0; i < 50; i++) {
        snprintf(text, sizeof text, "struct s%d { int a[%d]; struct s%d *self; double d; };", i, i + 1, i);
        cdef(vm, text);
    }
    Value type = str(vm, "struct s49");
    Value init = vm_obj(VT_MAP, pvmV_map_new(vm, 2));
    pvmV_map_set(vm, init.as.m, str(vm, "d"), vm_float(2.5));
    Value args[2] = { type, init };
    Value block = call(vm, "new", 2, args);
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 2000; j++)
            pvmV_string_cstr(vm, "garbage that the collector may reuse for anything");
        GC_gcollect();
    }
    assert_int_equal(int_of(vm, "sizeof", "struct s49", NULL), sizeof(struct { int a[50]; void *self; double d; }));
    Value gargs[3] = { block, str(vm, "struct s49"), str(vm, "d") };
    Value d = call(vm, "get", 3, gargs);
    assert_int_equal(d.type, VT_FLOAT);
    assert_true(d.as.f == 2.5);
    pvmV_free(vm);
}

/* The disabled switch covers the new functions as every other. */
static void test_disabled(void **state)
{
    VM *vm = new_vm();
    vm->ffi_disabled = true;
    const char *names[] = { "cdef", "const", "new", "get", "set", "offsetof", "alignof" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        Value args[4] = { str(vm, "int"), str(vm, "x"), str(vm, "x"), VAL_NIL };
        assert_string_equal(call_fails(vm, names[i], i == 4 ? 4 : (i == 3 || i == 5) ? 2 : 1, args),
                            "ffi is disabled");
    }
    pvmV_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_matches_compiler),
        cmocka_unit_test(test_div_by_value_against_c),
        cmocka_unit_test(test_declarations_per_vm_and_atomic),
        cmocka_unit_test(test_types_survive_collections),
        cmocka_unit_test(test_disabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
