/* Calls across the embedding boundary, on the fast paths the call-cost work
 * (issue 13, bench-calls) gave them: pvm_call of a PV function through the
 * interpreter's single protected boundary (and the slow path it falls back
 * to), and natives' argument handles, which are released from the argument
 * array rather than the locals list. Each test checks that what these
 * paths skip or do differently leaves the same observable state: the VM's
 * stack, frames, handlers and C depth after a failed call, the budget and
 * interrupt at entry, and the handle table around a native. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvm.h"
#include "api_fixture.h"
#include "vm/api/api_int.h"

static const char script[] = "fn ok(x) { return x; }\n"
                             "fn boom(x) { throw x; }\n"
                             "fn caught(x) { try { throw x; } catch e { return e + 1; } }\n"
                             "fn two(x) { return ok(x); }\n"
                             "fn deep(n) { if (n == 0) { return 0; } return deep(n - 1) + 1; }\n"
                             "fn rest(a, ...more) { return len(more); }\n";

static pvm_vm *vm_with_script(void)
{
    pvm_vm *vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF });
    assert_non_null(vm);
    assert_int_equal(run(vm, script), PVM_OK);
    return vm;
}

static pvm_value fn_named(pvm_vm *vm, const char *name)
{
    pvm_value f;
    assert_int_equal(pvm_get_global(vm, name, &f), PVM_OK);
    return f;
}

typedef struct {
    Value *top;
    size_t nframes, nhandlers, pcall_handlers;
    unsigned ccalls;
    VmJmp *jmp;
} VmState;

static VmState vm_state(pvm_vm *P)
{
    VM *vm = P->vm;
    return (VmState){ vm->top, vm->nframes, vm->nhandlers, vm->pcall_handlers, vm->ccalls, vm->jmp };
}

static void assert_same_state(VmState a, VmState b)
{
    assert_ptr_equal(a.top, b.top);
    assert_int_equal(a.nframes, b.nframes);
    assert_int_equal(a.nhandlers, b.nhandlers);
    assert_int_equal(a.pcall_handlers, b.pcall_handlers);
    assert_int_equal(a.ccalls, b.ccalls);
    assert_ptr_equal(a.jmp, b.jmp);
}

/* A throw nobody catches comes back as the call's status, and the VM is
 * exactly as before the call, however often it happens. */
static void test_uncaught_throw_restores_the_vm(void **state)
{
    (void)state;
    pvm_vm *vm = vm_with_script();
    pvm_value boom = fn_named(vm, "boom"), arg = pvm_int(vm, 41), r;
    size_t handles = pvm_handle_count(vm);
    VmState before = vm_state(vm);
    for (int i = 0; i < 1000; i++) {
        r.id = 99;
        assert_int_equal(pvm_call(vm, boom, 1, &arg, &r), PVM_ERUNTIME);
        assert_int_equal(r.id, 0);
        assert_string_equal(pvm_error_message(vm), "41");
        assert_non_null(strstr(pvm_error_trace(vm), "boom"));
        assert_same_state(before, vm_state(vm));
    }
    assert_int_equal(pvm_handle_count(vm), handles);
    assert_int_equal(call_int(vm, "ok", 7), 7);
    assert_int_equal(call_int(vm, "deep", 5000), 5000);
    assert_same_state(before, vm_state(vm));
    pvm_release(vm, arg);
    pvm_release(vm, boom);
    pvm_free(vm);
}

/* A try inside the called function catches in the interpreter's own run:
 * the call succeeds, and leaves no handler behind. */
static void test_try_inside_the_call_catches(void **state)
{
    (void)state;
    pvm_vm *vm = vm_with_script();
    VmState before = vm_state(vm);
    for (int i = 0; i < 100; i++)
        assert_int_equal(call_int(vm, "caught", i), i + 1);
    assert_same_state(before, vm_state(vm));
    pvm_free(vm);
}

/* Calls the clean path does not take (wrong arity, a variadic function, a
 * native) behave as before: an arity error is an error of the call. */
static void test_calls_off_the_clean_path(void **state)
{
    (void)state;
    pvm_vm *vm = vm_with_script();
    VmState before = vm_state(vm);
    pvm_value ok = fn_named(vm, "ok"), rest = fn_named(vm, "rest"), r;
    assert_int_equal(pvm_call(vm, ok, 0, NULL, &r), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), "ok expects 1 argument, got 0");
    assert_same_state(before, vm_state(vm));
    pvm_value args[3] = { pvm_int(vm, 1), pvm_int(vm, 2), pvm_int(vm, 3) };
    int64_t n = -1;
    assert_int_equal(pvm_call(vm, rest, 3, args, &r), PVM_OK);
    assert_int_equal(pvm_get_int(vm, r, &n), PVM_OK);
    assert_int_equal(n, 2);
    pvm_release(vm, r);
    pvm_value len;
    assert_int_equal(pvm_get_global(vm, "len", &len), PVM_OK);
    pvm_value s = pvm_cstring(vm, "four");
    assert_int_equal(pvm_call(vm, len, 1, &s, &r), PVM_OK);
    assert_int_equal(pvm_get_int(vm, r, &n), PVM_OK);
    assert_int_equal(n, 4);
    assert_same_state(before, vm_state(vm));
    pvm_free(vm);
}

/* The entry into PV code is charged on the clean path too: with a budget
 * of one instruction a function without calls runs, one with a call does
 * not; each top-level pvm_call starts with the whole budget. */
static void test_budget_charged_at_entry(void **state)
{
    (void)state;
    pvm_vm *vm = vm_with_script();
    pvm_value ok = fn_named(vm, "ok"), two = fn_named(vm, "two"), arg = pvm_int(vm, 3);
    pvm_set_instruction_limit(vm, 1);
    VmState before = vm_state(vm);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(pvm_call(vm, ok, 1, &arg, NULL), PVM_OK);
        assert_int_equal(pvm_call(vm, two, 1, &arg, NULL), PVM_EBUDGET);
        assert_same_state(before, vm_state(vm));
    }
    pvm_set_instruction_limit(vm, 2);
    assert_int_equal(pvm_call(vm, two, 1, &arg, NULL), PVM_OK);
    pvm_free(vm);
}

/* A native that interrupts its own VM, then calls back into PV: the
 * callback stops at its entry, and the script with it. */
static pvm_value interrupt_then_call(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    pvm_status *seen = ud;
    pvm_interrupt(vm);
    *seen = pvm_call(vm, args[0], 1, &args[1], NULL);
    return PVM_NIL;
}

static void test_interrupt_checked_at_callback_entry(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF });
    pvm_status seen = PVM_OK;
    assert_int_equal(pvm_register(vm, "interrupt_then_call", interrupt_then_call, &seen), PVM_OK);
    assert_int_equal(run(vm, "let n = 0;\n"
                             "interrupt_then_call(fn (x) { n = x; }, 5);\n"
                             "n = 9;"),
                     PVM_EINTERRUPT);
    assert_int_equal(seen, PVM_EINTERRUPT);
    pvm_free(vm);
}

/* The output a call leaves unflushed goes to the write callback when the
 * call returns; a callback that makes a call of its own then must not
 * change the first call's result (left above the stack top by the fast
 * path). */
static pvm_vm *writer_vm;
static int writer_calls;

static void call_while_writing(void *ud, const char *data, size_t len)
{
    if (writer_calls++ > 0)
        return;
    pvm_value ok, arg = pvm_int(writer_vm, 99), r;
    assert_int_equal(pvm_get_global(writer_vm, "ok", &ok), PVM_OK);
    assert_int_equal(pvm_call(writer_vm, ok, 1, &arg, &r), PVM_OK);
    pvm_release(writer_vm, r);
    pvm_release(writer_vm, arg);
    pvm_release(writer_vm, ok);
}

static void test_result_survives_the_write_callback(void **state)
{
    (void)state;
    writer_vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF, .write = call_while_writing });
    assert_int_equal(run(writer_vm, "fn ok(x) { return x; }\n"
                                    "fn f(x) { io.write(\"unflushed\"); return x; }"),
                     PVM_OK);
    writer_calls = 0;
    assert_int_equal(call_int(writer_vm, "f", 7), 7);
    assert_true(writer_calls > 0);
    pvm_free(writer_vm);
}

/* ---- natives' argument handles ---- */

static size_t count_in_native;
static pvm_value kept;

/* Releases its argument, makes a new handle (which takes the freed slot)
 * and returns it: the argument array still names the released handle when
 * the native returns, and releasing that again must not end the result. */
static pvm_value release_then_make(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    int64_t x = -1;
    assert_int_equal(pvm_get_int(vm, args[0], &x), PVM_OK);
    assert_int_equal(pvm_release(vm, args[0]), PVM_OK);
    assert_int_equal(pvm_release(vm, args[0]), PVM_EARG);
    assert_int_equal(pvm_typeof(vm, args[0]), PVM_TINVALID);
    return pvm_int(vm, x * 10);
}

static pvm_value count_handles(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    count_in_native = pvm_handle_count(vm);
    for (int i = 0; i < argc; i++)
        assert_true(args[i].id != 0 || pvm_is_nil(vm, args[i]));
    kept = argc > 0 ? args[0] : PVM_NIL;
    return argc > 1 ? args[argc - 1] : PVM_NIL;
}

static void test_argument_handles_released_at_return(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF });
    assert_int_equal(pvm_register(vm, "release_then_make", release_then_make, NULL), PVM_OK);
    assert_int_equal(pvm_register(vm, "count_handles", count_handles, NULL), PVM_OK);
    assert_int_equal(run(vm, "let a = 0; for i in 0..100 { a += release_then_make(i); }\n"
                             "let b = count_handles(1, nil, nil, \"s\");\n"
                             "let c = count_handles(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);"),
                     PVM_OK);
    assert_int_equal(global_int(vm, "a"), 49500);
    assert_int_equal(global_int(vm, "c"), 12);
    size_t outside = pvm_handle_count(vm);
    /* In the last native: its twelve arguments, nil ones owning none. */
    assert_int_equal(count_in_native, outside + 12);
    assert_int_equal(pvm_typeof(vm, kept), PVM_TINVALID); /* ended at return */
    pvm_value b;
    const char *s = NULL;
    assert_int_equal(pvm_get_global(vm, "b", &b), PVM_OK);
    assert_int_equal(pvm_get_string(vm, b, &s, NULL), PVM_OK);
    assert_string_equal(s, "s");
    pvm_release(vm, b);
    assert_int_equal(pvm_handle_count(vm), outside);
    pvm_free(vm);
}

/* nil arguments are PVM_NIL and own no slot. */
static void test_nil_arguments_own_no_handle(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF });
    assert_int_equal(pvm_register(vm, "count_handles", count_handles, NULL), PVM_OK);
    size_t outside = pvm_handle_count(vm);
    assert_int_equal(run(vm, "count_handles(nil, 1, nil);"), PVM_OK);
    assert_int_equal(count_in_native, outside + 1);
    assert_int_equal(kept.id, 0);
    pvm_free(vm);
}

/* More arguments than a frame of argument handles holds: slot handles,
 * ended at return all the same. */
static void test_many_arguments(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF });
    assert_int_equal(pvm_register(vm, "count_handles", count_handles, NULL), PVM_OK);
    char src[1024] = "let c = count_handles(";
    for (int i = 0; i < 100; i++)
        snprintf(src + strlen(src), sizeof src - strlen(src), "%s%d", i ? ", " : "", i);
    strcat(src, ");");
    size_t outside = pvm_handle_count(vm);
    assert_int_equal(run(vm, src), PVM_OK);
    assert_int_equal(count_in_native, outside + 100); /* 0..99: none is nil */
    assert_int_equal(global_int(vm, "c"), 99);
    assert_int_equal(pvm_typeof(vm, kept), PVM_TINVALID);
    assert_int_equal(pvm_handle_count(vm), outside);
    pvm_free(vm);
}

/* Arguments of natives running one inside the other: the outer one's stay
 * valid while the inner one runs and after it returned; the inner one's
 * end when it returns. */
static pvm_value outer_arg;
static pvm_value inner_arg;

static pvm_value inner_native(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    inner_arg = args[0];
    int64_t x = -1;
    assert_int_equal(pvm_get_int(vm, outer_arg, &x), PVM_OK); /* the outer native's */
    assert_int_equal(x, 5);
    return args[0];
}

static pvm_value outer_native(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    outer_arg = args[1];
    pvm_value r;
    assert_int_equal(pvm_call(vm, args[0], 1, &args[1], &r), PVM_OK);
    assert_int_equal(pvm_typeof(vm, inner_arg), PVM_TINVALID); /* ended with the inner call */
    int64_t x = -1;
    assert_int_equal(pvm_get_int(vm, r, &x), PVM_OK);
    assert_int_equal(x, 6);
    assert_int_equal(pvm_get_int(vm, args[1], &x), PVM_OK);
    assert_int_equal(x, 5);
    return r;
}

static void test_nested_natives_arguments(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF });
    assert_int_equal(pvm_register(vm, "inner_native", inner_native, NULL), PVM_OK);
    assert_int_equal(pvm_register(vm, "outer_native", outer_native, NULL), PVM_OK);
    size_t outside = pvm_handle_count(vm);
    assert_int_equal(run(vm, "let r = 0; for i in 0..3 { r = outer_native(fn (x) { return inner_native(x + 1); }, 5); }"),
                     PVM_OK);
    assert_int_equal(global_int(vm, "r"), 6);
    assert_int_equal(pvm_typeof(vm, outer_arg), PVM_TINVALID);
    assert_int_equal(pvm_handle_count(vm), outside);
    pvm_free(vm);
}

/* An argument handle of one VM is not one of another's, even while a
 * native of the other runs at the same depth. */
static pvm_vm *other_vm;
static pvm_value foreign_arg;

static pvm_value look_at_foreign(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    if (ud)
        foreign_arg = args[0];
    else
        assert_int_equal(pvm_typeof(vm, foreign_arg), PVM_TINVALID);
    return PVM_NIL;
}

static pvm_value keep_and_run_other(pvm_vm *vm, int argc, const pvm_value *args, void *ud)
{
    foreign_arg = args[0];
    assert_int_equal(run(other_vm, "look_at_foreign(1);"), PVM_OK);
    return PVM_NIL;
}

static void test_foreign_argument_handles(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF });
    other_vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF });
    assert_int_equal(pvm_register(vm, "keep_and_run_other", keep_and_run_other, NULL), PVM_OK);
    assert_int_equal(pvm_register(other_vm, "look_at_foreign", look_at_foreign, NULL), PVM_OK);
    assert_int_equal(run(vm, "keep_and_run_other(42);"), PVM_OK);
    pvm_free(other_vm);
    pvm_free(vm);
}

/* A stdlib native called with the wrong number of arguments still raises
 * its arity error (the interpreter's inline native call declines it). */
static void test_native_arity_error(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(&(pvm_options){ .jit = PVM_JIT_OFF });
    assert_int_equal(run(vm, "let m = nil; try { math.sqrt(); } catch e { m = e; }\n"
                             "let r = math.sqrt(16.0);"),
                     PVM_OK);
    pvm_value m;
    const char *s = NULL;
    assert_int_equal(pvm_get_global(vm, "m", &m), PVM_OK);
    assert_int_equal(pvm_get_string(vm, m, &s, NULL), PVM_OK);
    assert_string_equal(s, "math.sqrt expects 1 argument, got 0");
    pvm_release(vm, m);
    pvm_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uncaught_throw_restores_the_vm),
        cmocka_unit_test(test_try_inside_the_call_catches),
        cmocka_unit_test(test_calls_off_the_clean_path),
        cmocka_unit_test(test_budget_charged_at_entry),
        cmocka_unit_test(test_interrupt_checked_at_callback_entry),
        cmocka_unit_test(test_result_survives_the_write_callback),
        cmocka_unit_test(test_argument_handles_released_at_return),
        cmocka_unit_test(test_nil_arguments_own_no_handle),
        cmocka_unit_test(test_many_arguments),
        cmocka_unit_test(test_nested_natives_arguments),
        cmocka_unit_test(test_foreign_argument_handles),
        cmocka_unit_test(test_native_arity_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
