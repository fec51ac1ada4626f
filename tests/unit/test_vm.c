/* The VM core: loading verified images, calls from C, natives, errors and
 * their unwinding across native frames, limits on depth. Programs are
 * written in assembly and built with the assembler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "compiler/asm.h"
#include "vm/interp/ops.h"
#include "vm/interp/super.h"
#include "vm/interp/interp.h"

static VM *load(const char *src)
{
    PbcImage img;
    assert_true(pvmC_assemble(src, strlen(src), "t.pva", &img, stderr));
    VM *vm = pvmV_new();
    assert_non_null(vm);
    char err[256];
    bool ok = pvmV_load_verified(vm, &img, err, sizeof err);
    if (!ok)
        fprintf(stderr, "load: %s\n", err);
    assert_true(ok);
    pvmB_free(&img);
    return vm;
}

static Value global(VM *vm, uint32_t g)
{
    return vm->program->modules[0]->globals[g];
}

static const char *error_text(VM *vm)
{
    assert_int_equal(vm->error.type, VT_STRING);
    return vm->error.as.s->chars;
}

static void test_runs_main_and_sets_globals(void **state)
{
    (void)state;
    VM *vm = load(".module m \"t.pv\" main=main\n.global x\n"
                  ".func main params=0 locals=0\n int 20\n int 22\n add\n setglobal x\n nil\n ret\n.end\n");
    assert_true(pvmV_run_program(vm));
    assert_int_equal(global(vm, 0).type, VT_INT);
    assert_int_equal(global(vm, 0).as.i, 42);
    pvmV_free(vm);
}

/* Which globals load.c marks bound once (VmModule.global_once, which the
 * JIT takes as constants): those one instruction of the program writes,
 * in top-level code outside every loop, of a main that runs once. */
static void test_globals_bound_once(void **state)
{
    (void)state;
    VM *vm = load(".module m \"t.pv\" main=main\n.global once\n.global twice\n.global looped\n"
                  ".global inner\n.global never\n"
                  ".func main params=0 locals=1\n closure f\n setglobal once\n"
                  " closure f\n setglobal twice\n closure f\n setglobal twice\n"
                  " int 0\n setlocal 0\n"
                  "top:\n getlocal 0\n int 3\n lt\n jmpf out\n closure f\n setglobal looped\n"
                  " getlocal 0\n int 1\n add\n setlocal 0\n jmp top\n"
                  "out:\n closure g\n setglobal inner\n nil\n ret\n.end\n"
                  ".func f params=0 locals=0\n nil\n ret\n.end\n"
                  ".func g params=0 locals=0\n closure f\n setglobal inner\n nil\n ret\n.end\n");
    const uint8_t *once = vm->program->modules[0]->global_once;
    assert_non_null(once);
    assert_int_equal(once[0], 1); /* once */
    assert_int_equal(once[1], 0); /* twice */
    assert_int_equal(once[2], 0); /* looped: in a loop of main */
    assert_int_equal(once[3], 0); /* inner: main writes it, and so does g */
    assert_int_equal(once[4], 0); /* never written */
    pvmV_free(vm);

    /* a main that is also a closure may run again: nothing is marked */
    vm = load(".module m \"t.pv\" main=main\n.global once\n.global again\n"
              ".func main params=0 locals=0\n closure f\n setglobal once\n"
              " closure main\n setglobal again\n nil\n ret\n.end\n"
              ".func f params=0 locals=0\n nil\n ret\n.end\n");
    assert_int_equal(vm->program->modules[0]->global_once[0], 0);
    assert_int_equal(vm->program->modules[0]->global_once[1], 0);
    pvmV_free(vm);
}

static const char *two_funcs =
    ".module m \"t.pv\" main=main\n.global add\n.global boom\n"
    ".func main params=0 locals=0\n closure f_add\n setglobal add\n closure f_boom\n setglobal boom\n nil\n ret\n.end\n"
    ".func f_add \"add\" params=2 locals=2\n getlocal 0\n getlocal 1\n add\n ret\n.end\n"
    ".func f_boom \"boom\" params=0 locals=0\n.line 7\n const \"bad\"\n int 1\n sub\n ret\n.end\n";

static void test_call_from_c(void **state)
{
    (void)state;
    VM *vm = load(two_funcs);
    assert_true(pvmV_run_program(vm));
    Value args[2] = { vm_int(40), vm_int(2) };
    Value r;
    assert_true(pvmV_pcall(vm, global(vm, 0), 2, args, &r));
    assert_int_equal(r.as.i, 42);
    assert_false(pvmV_pcall(vm, global(vm, 0), 1, args, &r));
    assert_string_equal(error_text(vm), "add expects 2 arguments, got 1");
    assert_false(pvmV_pcall(vm, vm_int(3), 0, NULL, &r));
    assert_string_equal(error_text(vm), "attempt to call a int value");
    assert_false(pvmV_pcall(vm, global(vm, 1), 0, NULL, &r));
    assert_string_equal(error_text(vm), "cannot apply '-' to string and int");
    assert_non_null(strstr(vm->error_trace, "at boom (t.pv:7)"));
    /* The VM is usable after errors, and its stack is back where it was. */
    assert_ptr_equal(vm->top, vm->stack);
    assert_int_equal(vm->nframes, 0);
    assert_true(pvmV_pcall(vm, global(vm, 0), 2, args, &r));
    pvmV_free(vm);
}

static Value native_twice(VM *vm, int argc, Value *args, void *data)
{
    (void)data;
    Value first = pvmV_call(vm, args[0], argc - 1, args + 1);
    Value second = pvmV_call(vm, args[0], argc - 1, args + 1);
    return vm_int(first.as.i + second.as.i);
}

static Value native_fail(VM *vm, int argc, Value *args, void *data)
{
    (void)argc, (void)args, (void)data;
    pvmV_error(vm, "native failed with %d", 7);
}

static void test_errors_cross_native_frames(void **state)
{
    (void)state;
    /* main: try { twice(boom) } catch e { x = e }; then x2 = twice(add, 1, 2) */
    VM *vm = load(".module m \"t.pv\" main=main\n.global x\n.global y\n.global z\n"
                  ".func main params=0 locals=1\n"
                  " try c\n getname \"twice\"\n closure f_boom\n call 1\n pop\n endtry\n jmp d\n"
                  "c:\n setglobal x\n"
                  "d:\n getname \"twice\"\n closure f_add\n int 1\n int 2\n call 3\n setglobal y\n"
                  " try c2\n getname \"fail\"\n call 0\n pop\n endtry\n jmp d2\n"
                  "c2:\n setglobal z\n"
                  "d2:\n nil\n ret\n.end\n"
                  ".func f_add params=2 locals=2\n getlocal 0\n getlocal 1\n add\n ret\n.end\n"
                  ".func f_boom params=0 locals=0\n const \"thrown\"\n throw\n.end\n");
    pvmV_define_native(vm, "twice", native_twice, 1, -1);
    pvmV_define_native(vm, "fail", native_fail, 0, 0);
    assert_true(pvmV_run_program(vm));
    assert_string_equal(global(vm, 0).as.s->chars, "thrown");
    assert_int_equal(global(vm, 1).as.i, 6);
    assert_string_equal(global(vm, 2).as.s->chars, "native failed with 7");
    assert_int_equal(vm->ccalls, 0);
    assert_int_equal(vm->nhandlers, 0);
    pvmV_free(vm);
}

static Value native_recurse(VM *vm, int argc, Value *args, void *data)
{
    (void)argc, (void)data;
    return pvmV_call(vm, args[0], 1, args);
}

static void test_native_recursion_is_bounded(void **state)
{
    (void)state;
    /* f(f) calls recurse(f), which calls f(f) again, forever */
    VM *vm = load(".module m \"t.pv\" main=main\n.global f\n"
                  ".func main params=0 locals=0\n closure g\n setglobal f\n nil\n ret\n.end\n"
                  ".func g \"g\" params=1 locals=1\n getname \"recurse\"\n getlocal 0\n call 1\n ret\n.end\n");
    pvmV_define_native(vm, "recurse", native_recurse, 1, 1);
    assert_true(pvmV_run_program(vm));
    Value f = global(vm, 0), r;
    assert_false(pvmV_pcall(vm, f, 1, &f, &r));
    assert_string_equal(error_text(vm), "stack overflow");
    assert_int_equal(vm->ccalls, 0);
    pvmV_free(vm);
}

static void test_undefined_builtin(void **state)
{
    (void)state;
    VM *vm = load(".module m \"t.pv\" main=main\n"
                  ".func main params=0 locals=0\n.line 3\n getname \"nosuch\"\n ret\n.end\n");
    assert_false(pvmV_run_program(vm));
    assert_string_equal(error_text(vm), "undefined variable 'nosuch'");
    assert_string_equal(vm->error_trace, "  at <main> (t.pv:3)\n");
    pvmV_free(vm);
}

static void test_load_rejects_invalid_bytes(void **state)
{
    (void)state;
    VM *vm = pvmV_new();
    char err[256];
    const uint8_t junk[] = { 'P', 'V', 'M', 'X', 1, 0, 0, 0 };
    assert_false(pvmV_load_bytes(vm, junk, sizeof junk, err, sizeof err));
    assert_non_null(strstr(err, "at offset 0"));
    assert_false(pvmV_load_bytes(vm, junk, 2, err, sizeof err));
    assert_null(vm->program);
    pvmV_free(vm);
}

static void test_two_vms_are_independent(void **state)
{
    (void)state;
    VM *a = load(two_funcs), *b = load(two_funcs);
    assert_true(pvmV_run_program(a));
    assert_false(pvmV_pcall(a, global(a, 1), 0, NULL, NULL));
    assert_true(pvmV_run_program(b));
    Value args[2] = { vm_int(1), vm_int(2) }, r;
    assert_true(pvmV_pcall(b, global(b, 0), 2, args, &r));
    assert_int_equal(r.as.i, 3);
    pvmV_free(a);
    pvmV_free(b);
}

/* Fusion happens at load (unless tracing) and never across a jump target. */
static void test_superinstructions(void **state)
{
    (void)state;
    const char *src = ".module m \"t.pv\" main=main\n"
                      ".func main params=0 locals=1\n int 0\n setlocal 0\n"
                      "top:\n getlocal 0\n int 10\n lt\n jmpf out\n"
                      " getlocal 0\n int 1\n add\n setlocal 0\n jmp top\n"
                      "out:\n getlocal 0\n ret\n.end\n";
    VM *vm = load(src);
    VmProto *p = vm->program->modules[0]->main;
    assert_int_equal(p->code[2].orig, OP_GETLOCAL);
    assert_int_equal(p->code[2].op, SOP_LK_LT_JF);
    assert_int_equal(p->code[6].op, SOP_LK_ADD_SL);
    assert_int_equal(p->code[11].op, SOP_GETLOCAL_RET);
    for (uint32_t i = 0; i < p->ncode; i++)
        assert_true(p->code[i].op < OP__COUNT || p->code[i].op != p->code[i].orig);
    assert_true(pvmV_run_program(vm));
    pvmV_free(vm);
    /* A jump into the middle of a sequence prevents its fusion. */
    VM *plain = load(".module m \"t.pv\" main=main\n"
                     ".func main params=0 locals=1\n int 5\n int 1\n jmpt mid\n pop\n getlocal 0\n"
                     "mid:\n int 1\n add\n ret\n.end\n");
    VmProto *q = plain->program->modules[0]->main;
    assert_int_equal(q->code[4].op, OP_GETLOCAL);
    assert_int_equal(q->code[5].op, SOP_K_ADD);
    pvmV_free(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_main_and_sets_globals),
        cmocka_unit_test(test_globals_bound_once),
        cmocka_unit_test(test_call_from_c),
        cmocka_unit_test(test_errors_cross_native_frames),
        cmocka_unit_test(test_native_recursion_is_bounded),
        cmocka_unit_test(test_undefined_builtin),
        cmocka_unit_test(test_load_rejects_invalid_bytes),
        cmocka_unit_test(test_two_vms_are_independent),
        cmocka_unit_test(test_superinstructions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
