/* The embedding API's error record: that the status says what raised the
 * error (a script throwing the text of a limit's message is still a script
 * error), and that the innermost file and line are right wherever the
 * error was raised. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pvm.h"
#include "api_fixture.h"

/* ---- the status comes from the kind, not from the text ---- */

static void assert_script_error(pvm_vm *vm, const char *src, const char *message)
{
    assert_int_equal(run(vm, src), PVM_ERUNTIME);
    assert_int_equal(pvm_error_status(vm), PVM_ERUNTIME);
    assert_string_equal(pvm_error_message(vm), message);
}

static void test_thrown_limit_texts_are_script_errors(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_script_error(vm, "throw \"out of memory\";", "out of memory");
    assert_script_error(vm, "throw \"instruction budget exceeded\";", "instruction budget exceeded");
    assert_script_error(vm, "throw \"interrupted\";", "interrupted");
    assert_script_error(vm, "throw \"memory limit exceeded\";", "memory limit exceeded");
    /* Also with the limits armed but not reached. */
    pvm_set_instruction_limit(vm, 1000000);
    pvm_set_memory_limit(vm, 64u << 20);
    assert_script_error(vm, "throw \"instruction budget exceeded\";", "instruction budget exceeded");
    assert_script_error(vm, "throw \"memory limit exceeded\";", "memory limit exceeded");
    /* A thrown text is catchable like any other. */
    assert_int_equal(run(vm, "let r = 0; try { throw \"interrupted\"; } catch e { r = 1; }"), PVM_OK);
    assert_int_equal(global_int(vm, "r"), 1);
    pvm_free(vm);
}

static pvm_value interrupt_me(pvm_vm *vm, int argc, const pvm_value *argv, void *ud)
{
    pvm_interrupt(vm);
    return PVM_NIL;
}

static void test_real_limits_keep_their_status(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    assert_int_equal(pvm_register(vm, "interrupt_me", interrupt_me, NULL), PVM_OK);
    pvm_set_instruction_limit(vm, 100000);
    assert_int_equal(run(vm, "while true {}"), PVM_EBUDGET);
    assert_string_equal(pvm_error_message(vm), "instruction budget exceeded");
    pvm_set_instruction_limit(vm, 0);
    assert_int_equal(run(vm, "interrupt_me(); while true {}"), PVM_EINTERRUPT);
    assert_string_equal(pvm_error_message(vm), "interrupted");
    pvm_set_memory_limit(vm, 4u << 20);
    assert_int_equal(run(vm, "let a = []; while true { push(a, \"xxxxxxxxxxxxxxxxxxxxxxxx\" + str(len(a))); }"),
                     PVM_EMEMORY);
    assert_string_equal(pvm_error_message(vm), "memory limit exceeded");
    /* Inside try, a limit still is not caught, and it still has a trace. */
    pvm_set_memory_limit(vm, 0);
    pvm_set_instruction_limit(vm, 100000);
    assert_int_equal(run(vm, "fn spin() {\n  while true {}\n}\ntry { spin(); } catch e {}"), PVM_EBUDGET);
    assert_string_equal(pvm_error_trace(vm), "  at spin (t.pv:2)\n  at <main> (t.pv:4)\n");
    int line;
    assert_string_equal(pvm_error_where(vm, &line, NULL), "t.pv");
    assert_int_equal(line, 2);
    pvm_free(vm);
}

/* ---- where: the innermost frame, kept as data ---- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_where_in_imported_module(void **state)
{
    (void)state;
    char dir[] = "/tmp/pvm_api_errXXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/deep.pv", dir);
    write_file(path, "fn check(x) {\n  if x > 2 {\n    throw \"too big\";\n  }\n  return x;\n}\n"
                     "fn walk(n) {\n  return check(n);\n}\n");
    pvm_options o = { .module_path = dir };
    pvm_vm *vm = pvm_new(&o);
    assert_int_equal(run(vm, "import deep;\nfn go() {\n  return deep.walk(5);\n}\ngo();\n"), PVM_ERUNTIME);
    int line = -1, col = -1;
    const char *file = pvm_error_where(vm, &line, &col);
    assert_non_null(file);
    assert_non_null(strstr(file, "deep.pv"));
    assert_int_equal(line, 3);
    assert_int_equal(col, 0);
    /* The trace names the same frame first. */
    char first[400];
    snprintf(first, sizeof first, "  at check (%s:3)\n", file);
    assert_memory_equal(pvm_error_trace(vm), first, strlen(first));
    pvm_free(vm);
    unlink(path);
    rmdir(dir);
}

/* A name with the characters a trace line is made of is not misread. */
static void test_where_with_an_awkward_file_name(void **state)
{
    (void)state;
    pvm_vm *vm = pvm_new(NULL);
    const char *src = "fn f() {\n  return 1 / 0;\n}\nf();\n";
    const char *name = "odd (x):7) name.pv";
    assert_int_equal(pvm_load_source(vm, src, strlen(src), name), PVM_OK);
    assert_int_equal(pvm_run(vm), PVM_ERUNTIME);
    int line;
    assert_string_equal(pvm_error_where(vm, &line, NULL), name);
    assert_int_equal(line, 2);
    /* So is a compile error's position. */
    const char *bad = "let a = 1;\nlet b = ;\n";
    int col;
    assert_int_equal(pvm_load_source(vm, bad, strlen(bad), name), PVM_ECOMPILE);
    assert_string_equal(pvm_error_where(vm, &line, &col), name);
    assert_int_equal(line, 2);
    assert_int_equal(col, 9);
    /* An error with no PV frame has no position. */
    assert_int_equal(pvm_set_global(vm, "nope", PVM_NIL), PVM_ENOTFOUND);
    assert_null(pvm_error_where(vm, &line, NULL));
    assert_int_equal(line, 0);
    pvm_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thrown_limit_texts_are_script_errors),
        cmocka_unit_test(test_real_limits_keep_their_status),
        cmocka_unit_test(test_where_in_imported_module),
        cmocka_unit_test(test_where_with_an_awkward_file_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
